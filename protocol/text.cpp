#include "protocol/text.hpp"

namespace conflux {

namespace {

std::string hex_byte(unsigned char c) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "\\x";
  out += digits[c >> 4];
  out += digits[c & 0xf];
  return out;
}

// The characters of `s` one by one: `bytes` is the character's encoding, or
// the one byte that does not start a valid sequence (then `valid` is false).
struct character {
  std::string_view bytes;
  char32_t cp = 0;
  bool valid = false;
};

character char_at(std::string_view s, std::size_t i) {
  std::size_t next = i;
  char32_t cp = 0;
  if (next_code_point(s, next, cp))
    return {s.substr(i, next - i), cp, true};
  return {s.substr(i, 1), static_cast<unsigned char>(s[i]), false};
}

} // namespace

bool next_code_point(std::string_view s, std::size_t& i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  }
  std::size_t len = 0;
  char32_t value = 0;
  char32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    value = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    value = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    value = b0 & 0x07;
    min = 0x10000;
  } else {
    return false;
  }
  if (i + len > s.size())
    return false;
  for (std::size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xc0) != 0x80)
      return false;
    value = (value << 6) | (b & 0x3f);
  }
  if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
    return false;
  cp = value;
  i += len;
  return true;
}

std::optional<std::size_t> invalid_utf8_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t at = i;
    char32_t cp = 0;
    if (!next_code_point(s, i, cp))
      return at;
  }
  return std::nullopt;
}

bool is_message_control(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
         cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

std::string printable(std::string_view s, std::size_t max_chars) {
  std::string out;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (shown == max_chars) {
      out += "...";
      break;
    }
    character c = char_at(s, i);
    i += c.bytes.size();
    if (c.valid && !is_message_control(c.cp)) {
      out += c.bytes;
      ++shown;
      continue;
    }
    for (char b : c.bytes) {
      if (shown == max_chars)
        break;
      out += hex_byte(static_cast<unsigned char>(b));
      ++shown;
    }
  }
  return out;
}

std::string quote(std::string_view s, std::size_t max_chars) {
  return "\"" + printable(s, max_chars) + "\"";
}

std::string describe_code_point(char32_t cp) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string hex;
  for (char32_t v = cp; v != 0 || hex.size() < 4; v >>= 4)
    hex.insert(hex.begin(), digits[v & 0xf]);
  return "U+" + hex;
}

std::string describe_char_at(std::string_view s, std::size_t i) {
  character c = char_at(s, i);
  if (!c.valid || c.cp < 0x80) {
    if (c.cp >= 0x20 && c.cp < 0x7f)
      return "'" + std::string{c.bytes} + "'";
    return "byte 0x" + hex_byte(static_cast<unsigned char>(s[i])).substr(2);
  }
  if (is_message_control(c.cp))
    return describe_code_point(c.cp);
  return "'" + std::string{c.bytes} + "' (" + describe_code_point(c.cp) + ")";
}

std::size_t char_size_at(std::string_view s, std::size_t i) {
  return char_at(s, i).bytes.size();
}

std::string describe_labels(const labels& l) {
  if (l.empty())
    return "{} (the default rule)";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first)
      out += ", ";
    first = false;
    out += printable(k, quote_limit);
    out += '=';
    out += printable(v, quote_limit);
    if (out.size() > 200) {
      out += ", ...";
      break;
    }
  }
  out += '}';
  return out;
}

} // namespace conflux
