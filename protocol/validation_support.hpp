#pragma once
// What the validators of protocol/validation_*.cpp share: message pieces,
// positions in a document, and the exception our own parser callbacks throw
// to stop a third-party parser. Internal to conflux_protocol; the public API
// is protocol/validation.hpp.

#include "protocol/error.hpp"
#include "protocol/model.hpp"
#include "protocol/text.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace conflux::detail {

inline std::string num(std::size_t n) {
  return std::to_string(n);
}

inline bool is_dec(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_oct(char c) {
  return c >= '0' && c <= '7';
}
inline bool is_hex(char c) {
  return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// "line 3, column 5"
std::string line_col(std::size_t line, std::size_t col);

/// Where a byte offset lies in `s`: (line, column), both 1-based, columns
/// counted in bytes.
std::pair<std::size_t, std::size_t> position_of(std::string_view s, std::size_t offset);

/// "byte offset 17 (line 2, column 5)": offsets count from 0, like a hex dump.
std::string where_in(std::string_view s, std::size_t offset);

/// A third-party library's reason, made printable, without the full stop that
/// would otherwise sit in front of our "; what to do".
std::string library_reason(std::string_view s);

/// "JSON", "YAML", "TOML", "properties", "text".
std::string format_title(content_format f);

/// invalid_content: "content is not valid YAML: <detail>; fix the document or
/// choose --format text".
status not_valid(content_format f, const std::string& detail);

/// Thrown only by our own callbacks inside a third-party parser (yaml-cpp's
/// event handler, the TOML-to-JSON walk), to stop it early; always caught
/// before a validator returns.
struct stop_parsing {
  status why;
};

} // namespace conflux::detail
