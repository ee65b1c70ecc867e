#include "protocol/validation_formats.hpp"
#include "protocol/validation_support.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <toml.hpp>
#include <utility>

namespace conflux::detail {

namespace {

// toml11 recurses per nested array / inline table, and so do the destructor of
// its tables and our JSON conversion per dotted-key or table-header level.
// This scan estimates the deepest nesting (header levels + key levels +
// brackets) outside strings and comments, and finds where it first exceeds
// max_depth. It only has to be right for documents toml11 accepts; for broken
// ones toml11 reports the syntax error anyway.
class toml_depth_scan {
public:
  toml_depth_scan(std::string_view s, std::size_t max_depth) : s_(s), max_(max_depth) {}

  // The byte offset where the nesting first goes deeper than max_depth.
  std::optional<std::size_t> first_too_deep() {
    for (i_ = 0; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (c == '\n') {
        new_line();
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r')
        continue;
      if (c == '#') {
        skip_comment();
        continue;
      }
      if (skip_string()) {
        line_start_ = false;
        continue;
      }
      bool was_line_start = std::exchange(line_start_, false);
      bool deeper = in_header_ ? header_char(c) : body_char(c, was_line_start);
      if (deeper && header_levels_ + key_levels_ + open_.size() > max_)
        return i_;
    }
    return std::nullopt;
  }

private:
  void new_line() {
    line_start_ = true;
    if (open_.empty()) {
      in_key_ = true;
      key_levels_ = 0;
    }
  }

  void skip_comment() {
    while (i_ + 1 < s_.size() && s_[i_ + 1] != '\n')
      ++i_;
  }

  // If a string starts at i_, moves i_ to its last character.
  bool skip_string() {
    std::string_view start = s_.substr(i_, 3);
    if (start == "\"\"\"" || start == "'''") {
      skip_multi_line(start);
      return true;
    }
    if (s_[i_] == '"' || s_[i_] == '\'') {
      skip_single_line(s_[i_]);
      return true;
    }
    return false;
  }

  void skip_multi_line(std::string_view delimiter) {
    char q = delimiter[0];
    std::size_t end = i_ + 3;
    for (; end < s_.size(); ++end) {
      if (q == '"' && s_[end] == '\\') {
        ++end;
        continue;
      }
      if (s_.substr(end, 3) == delimiter)
        break;
    }
    // Up to two more quotes may close the string ("""a""""").
    i_ = std::min(s_.size(), end + 3) - 1;
    while (i_ + 1 < s_.size() && s_[i_ + 1] == q)
      ++i_;
  }

  void skip_single_line(char q) {
    std::size_t end = i_ + 1;
    for (; end < s_.size() && s_[end] != q && s_[end] != '\n'; ++end) {
      if (q == '"' && s_[end] == '\\')
        ++end;
    }
    i_ = end < s_.size() ? end : s_.size() - 1;
  }

  // Inside a [table] or [[array]] header; true when the header ends.
  bool header_char(char c) {
    if (c == '.')
      ++header_levels_;
    if (c != ']')
      return false;
    in_header_ = false;
    if (i_ + 1 < s_.size() && s_[i_ + 1] == ']')
      ++i_;
    return true;
  }

  // Outside headers: keys, values and their brackets. True when the nesting
  // may have grown.
  bool body_char(char c, bool was_line_start) {
    if (was_line_start && open_.empty() && c == '[') {
      in_header_ = true;
      header_levels_ = 1;
      if (i_ + 1 < s_.size() && s_[i_ + 1] == '[')
        ++i_;
      return false;
    }
    if (c == '[' || (c == '{' && !in_key_)) {
      open_.emplace_back(c, key_levels_);
      if (c == '{')
        in_key_ = true;
      return true;
    }
    if ((c == ']' || c == '}') && !open_.empty()) {
      key_levels_ = open_.back().second;
      open_.pop_back();
      in_key_ = false;
    } else if (c == ',' && !open_.empty() && open_.back().first == '{') {
      key_levels_ = open_.back().second;
      in_key_ = true;
    } else if (in_key_ && c == '.') {
      ++key_levels_;
    } else if (in_key_ && c == '=') {
      in_key_ = false;
      ++key_levels_;
      return true;
    }
    return false;
  }

  std::string_view s_;
  std::size_t max_;
  std::size_t i_ = 0;
  std::size_t header_levels_ = 0; // dotted parts of the last [table] header
  std::size_t key_levels_ = 0;    // dotted parts of the keys leading here
  bool line_start_ = true;
  bool in_key_ = true;
  bool in_header_ = false;
  // Each open value bracket with the key levels in force when it opened.
  std::vector<std::pair<char, std::size_t>> open_;
};

// "[error] toml::parse_array: value having invalid format..." (first line) ->
// "value having invalid format..."
std::string toml_reason(std::string_view what) {
  what = what.substr(0, what.find('\n'));
  if (what.substr(0, 8) == "[error] ")
    what.remove_prefix(8);
  if (what.substr(0, 6) == "toml::") {
    if (auto colon = what.find(": "); colon != std::string_view::npos)
      what.remove_prefix(colon + 2);
  }
  return library_reason(what);
}

status parse_toml(std::string_view content, const limits& lim, toml::value* out) {
  if (auto at = toml_depth_scan{content, lim.max_nesting_depth}.first_too_deep()) {
    auto [line, col] = position_of(content, *at);
    return {errc::too_large, "content nests tables and arrays deeper than " +
                                 num(lim.max_nesting_depth) + " levels (" +
                                 line_col(line, col) + "); flatten the document"};
  }
  // TOML documents must be UTF-8 (TOML 1.0 §"Spec"), and toml11 3.7 trips
  // over invalid bytes (an assertion in debug builds, a length_error from a
  // negative size otherwise), so they never reach it.
  if (auto bad = invalid_utf8_at(content)) {
    auto [line, col] = position_of(content, *bad);
    return not_valid(content_format::toml,
                     line_col(line, col) + ": " + describe_char_at(content, *bad) +
                         " is not valid UTF-8, and TOML files must be UTF-8; save the "
                         "file as UTF-8");
  }
  try {
    std::istringstream in{std::string{content}};
    toml::value v = toml::parse(in, "content");
    if (out != nullptr)
      *out = std::move(v);
    return {};
  } catch (const toml::exception& ex) {
    const auto& loc = ex.location();
    return not_valid(content_format::toml, line_col(loc.line(), loc.column()) + ": " +
                                               toml_reason(ex.what()));
  } catch (const std::exception& ex) {
    return not_valid(content_format::toml, toml_reason(ex.what()));
  } catch (...) {
    return not_valid(content_format::toml, "the TOML parser failed");
  }
}

template <class T>
std::string stream_text(const T& v) {
  // The classic locale keeps the text the same on every node whatever the
  // process's global locale is.
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os << v;
  return os.str();
}

// REQUIRES: depth of v within max_depth (checked by toml_depth_scan).
json toml_to_json(const toml::value& v, std::size_t depth, std::size_t max_depth) {
  if (depth > max_depth)
    throw stop_parsing{{errc::too_large, "content nests too deeply"}};
  switch (v.type()) {
  case toml::value_t::boolean:
    return v.as_boolean();
  case toml::value_t::integer:
    return static_cast<std::int64_t>(v.as_integer());
  case toml::value_t::floating:
    return static_cast<double>(v.as_floating());
  case toml::value_t::string:
    return v.as_string().str;
  case toml::value_t::offset_datetime:
    return stream_text(v.as_offset_datetime());
  case toml::value_t::local_datetime:
    return stream_text(v.as_local_datetime());
  case toml::value_t::local_date:
    return stream_text(v.as_local_date());
  case toml::value_t::local_time:
    return stream_text(v.as_local_time());
  case toml::value_t::array: {
    json a = json::array();
    for (const auto& e : v.as_array())
      a.push_back(toml_to_json(e, depth + 1, max_depth));
    return a;
  }
  case toml::value_t::table: {
    // json objects are ordered maps: the unordered toml table comes out in
    // one order on every node.
    json o = json::object();
    for (const auto& [k, e] : v.as_table())
      o[k] = toml_to_json(e, depth + 1, max_depth);
    return o;
  }
  case toml::value_t::empty:
    return nullptr;
  }
  return nullptr;
}

} // namespace

status check_toml(std::string_view content, const limits& lim) {
  return parse_toml(content, lim, nullptr);
}

status toml_documents(std::string_view content, const limits& lim,
                      std::vector<json>& docs) {
  toml::value v;
  if (auto st = parse_toml(content, lim, &v); !st)
    return st;
  try {
    docs.push_back(toml_to_json(v, 0, lim.max_nesting_depth));
    return {};
  } catch (const stop_parsing& stop) {
    return stop.why;
  }
}

} // namespace conflux::detail
