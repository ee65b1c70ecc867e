#pragma once
// Text helpers shared by every protocol message: strict UTF-8 decoding, and
// turning untrusted bytes (keys, label values, a parser's reason) into message
// text that is safe and readable.
//
// Messages reach terminals, logs and JSON output, so they must never carry
// control characters or invalid UTF-8; but a key with an "é" in it should show
// the "é", not "\xc3\xa9". Valid UTF-8 therefore stays as it is, and only the
// bytes of control characters, of bidirectional-text controls (which reorder
// what a terminal shows) and of invalid sequences become \xNN.
//
// Pure functions without locale, like the rest of protocol/.

#include "protocol/model.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace conflux {

/// Decodes the code point that starts at s[i] and advances i past it. Strict
/// (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. On
/// failure returns false and leaves i as it was.
/// REQUIRES: i < s.size()
bool next_code_point(std::string_view s, std::size_t& i, char32_t& cp);

/// The byte offset of the first byte that does not start a valid UTF-8
/// sequence, if any.
std::optional<std::size_t> invalid_utf8_at(std::string_view s);

/// C0 and C1 control characters, DEL, and the characters that change the
/// direction or the lines of text around them (U+061C, U+200E/F,
/// U+2028..U+202E, U+2066..U+2069). printable() escapes these.
bool is_message_control(char32_t cp);

/// How many characters of a user-supplied string a message repeats by
/// default: a 4 MiB key must not become a 4 MiB error message.
inline constexpr std::size_t quote_limit = 64;

/// `s` as message text: valid UTF-8 stays as it is; every byte of an invalid
/// sequence or of a character is_message_control() names becomes \xNN. After
/// `max_chars` characters (an escaped byte counts as one) the rest is cut
/// and "..." follows.
std::string printable(std::string_view s, std::size_t max_chars);

/// printable(s, max_chars) between double quotes.
std::string quote(std::string_view s, std::size_t max_chars = quote_limit);

/// "U+00E9": a code point as the Unicode standard writes it.
std::string describe_code_point(char32_t cp);

/// Names the character that starts at s[i] for a message: 'x' for printable
/// ASCII, 'é' (U+00E9) for any other printable character (the code point
/// tells look-alikes apart), U+0085 for a multi-byte control character, and
/// byte 0xNN for an ASCII control or a byte that does not start valid UTF-8.
/// REQUIRES: i < s.size()
std::string describe_char_at(std::string_view s, std::size_t i);

/// How many bytes describe_char_at(s, i) described: the whole character, or
/// 1 for a byte that is not valid UTF-8.
/// REQUIRES: i < s.size()
std::size_t char_size_at(std::string_view s, std::size_t i);

/// Labels as a message shows them: {canary=true, zone=eu}, or
/// "{} (the default rule)"; long sets are cut with ", ...".
std::string describe_labels(const labels& l);

} // namespace conflux
