#include "protocol/validation_formats.hpp"
#include "protocol/validation_support.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace conflux::detail {

namespace {

// Hands out the natural lines of a text one by one, without their line ends.
class natural_lines {
public:
  explicit natural_lines(std::string_view s) : s_(s) {}

  bool next(std::string_view& line) {
    if (i_ >= s_.size())
      return false;
    std::size_t end = i_;
    while (end < s_.size() && s_[end] != '\n' && s_[end] != '\r')
      ++end;
    line = s_.substr(i_, end - i_);
    i_ = end;
    if (i_ < s_.size()) {
      bool crlf = s_[i_] == '\r' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n';
      i_ += crlf ? 2 : 1;
    }
    ++number_;
    return true;
  }

  // 1-based number of the line next() returned last.
  std::size_t number() const { return number_; }

private:
  std::string_view s_;
  std::size_t i_ = 0;
  std::size_t number_ = 0;
};

// A logical line: natural lines joined (Java decodes escapes only after
// joining), remembering the line each part came from for messages.
class logical_line {
public:
  void clear() {
    text_.clear();
    starts_.clear();
  }
  bool empty() const { return starts_.empty(); }
  void append(std::string_view part, std::size_t line) {
    starts_.emplace_back(text_.size(), line);
    text_.append(part);
  }

  // The \u escapes must have 4 hex digits and must not be NUL.
  status check_escapes() const {
    std::string_view t = text_;
    for (std::size_t k = 0; k < t.size(); ++k) {
      if (t[k] != '\\')
        continue;
      if (k + 1 >= t.size() || t[k + 1] != 'u') {
        ++k; // any other escaped character stands for itself
        continue;
      }
      std::string_view hex = t.substr(k + 2, 4);
      if (hex.size() != 4 || !std::all_of(hex.begin(), hex.end(), is_hex)) {
        return not_valid(content_format::properties,
                         "line " + num(line_of(k)) + ": malformed \\u escape " +
                             quote(t.substr(k, 6)) +
                             "; a \\u escape needs exactly 4 hex digits, like \\u00e9");
      }
      if (hex == "0000") {
        return not_valid(content_format::properties,
                         "line " + num(line_of(k)) +
                             ": the escape \\u0000 (NUL) is not allowed; remove it");
      }
      k += 5;
    }
    return {};
  }

private:
  std::size_t line_of(std::size_t offset) const {
    std::size_t line = starts_.front().second;
    for (const auto& [o, l] : starts_)
      if (o <= offset)
        line = l;
    return line;
  }

  std::string text_;
  std::vector<std::pair<std::size_t, std::size_t>> starts_; // (offset, line)
};

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\f';
}

// Removes a continuation backslash; true if there was one (an odd number of
// trailing backslashes: an even number escape each other).
bool take_continuation(std::string_view& line) {
  std::size_t backslashes = 0;
  while (backslashes < line.size() && line[line.size() - 1 - backslashes] == '\\')
    ++backslashes;
  if (backslashes % 2 == 0)
    return false;
  line.remove_suffix(1);
  return true;
}

} // namespace

status check_properties(std::string_view s) {
  if (auto nul = s.find('\0'); nul != std::string_view::npos) {
    auto [line, col] = position_of(s, nul);
    return not_valid(content_format::properties,
                     line_col(line, col) + ": a NUL byte is not allowed; remove it");
  }
  natural_lines lines{s};
  logical_line logical;
  bool continuing = false;
  std::string_view natural;
  while (lines.next(natural)) {
    while (!natural.empty() && is_blank(natural.front()))
      natural.remove_prefix(1);
    if (!continuing) {
      if (natural.empty() || natural[0] == '#' || natural[0] == '!')
        continue;
      logical.clear();
    }
    continuing = take_continuation(natural);
    logical.append(natural, lines.number());
    if (!continuing) {
      if (auto st = logical.check_escapes(); !st)
        return st;
    }
  }
  // A continuation at the very end joins nothing; Java keeps what it read.
  if (continuing && !logical.empty())
    return logical.check_escapes();
  return {};
}

} // namespace conflux::detail
