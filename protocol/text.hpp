#pragma once
// Text helpers shared by every protocol message: strict UTF-8 decoding, and
// turning untrusted bytes (keys, label values, a parser's reason) into message
// text that is safe to print. Messages reach terminals, logs and JSON output,
// so they must never carry control characters or invalid UTF-8.
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

/// How many characters of a user-supplied string a message repeats by
/// default: a 4 MiB key must not become a 4 MiB error message.
inline constexpr std::size_t quote_limit = 64;

/// `s` as message text: printable ASCII stays, every other byte becomes
/// \xNN. After `max_chars` bytes the rest is cut and "..." follows.
std::string printable(std::string_view s, std::size_t max_chars);

/// printable(s, max_chars) between double quotes.
std::string quote(std::string_view s, std::size_t max_chars = quote_limit);

/// "U+00E9": a code point as the Unicode standard writes it.
std::string describe_code_point(char32_t cp);

/// Names the byte s[i] for a message: 'x' for printable ASCII, byte 0xNN
/// otherwise.
/// REQUIRES: i < s.size()
std::string describe_char_at(std::string_view s, std::size_t i);

/// Labels as a message shows them: {canary=true, zone=eu}, or
/// "{} (the default rule)"; long sets are cut with ", ...".
std::string describe_labels(const labels& l);

} // namespace conflux
