#include "protocol/validation_support.hpp"

namespace conflux::detail {

std::string line_col(std::size_t line, std::size_t col) {
  return "line " + num(line) + ", column " + num(col);
}

std::pair<std::size_t, std::size_t> position_of(std::string_view s,
                                                std::size_t offset) {
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, offset - line_start + 1};
}

std::string where_in(std::string_view s, std::size_t offset) {
  auto [line, col] = position_of(s, offset);
  return "byte offset " + num(offset) + " (" + line_col(line, col) + ")";
}

std::string library_reason(std::string_view s) {
  std::string out = printable(s, 300);
  while (!out.empty() && (out.back() == '.' || out.back() == ' '))
    out.pop_back();
  return out;
}

std::string format_title(content_format f) {
  std::string name = to_string(f);
  // JSON, YAML and TOML are written in capitals, properties and text are words.
  if (f != content_format::properties && f != content_format::text) {
    for (char& c : name)
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 'a' + 'A');
  }
  return name;
}

status not_valid(content_format f, const std::string& detail) {
  return {errc::invalid_content, std::string{"content is not valid "} +
                                     format_title(f) + ": " + detail +
                                     "; fix the document or choose --format text"};
}

} // namespace conflux::detail
