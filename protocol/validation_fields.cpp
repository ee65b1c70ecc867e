// The validators of names and short fields: keys, key prefixes, labels,
// release rules and free-text fields (protocol/validation.hpp).

#include "protocol/validation.hpp"
#include "protocol/validation_support.hpp"

#include <map>
#include <utility>

namespace conflux {

using detail::num;

namespace {

bool is_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

std::string key_rule(const limits& lim) {
  return "a key is tenant/app/env/name (4 segments of 1-" + num(lim.max_segment_chars) +
         " characters from A-Z a-z 0-9 . _ -)";
}

std::vector<std::string_view> split_slash(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// Characters, length and the reserved names of one segment. `what` is "key"
// or "prefix".
status check_segment(std::string_view what, std::string_view whole,
                     std::string_view seg, std::size_t index, const limits& lim) {
  for (std::size_t i = 0; i < seg.size(); ++i) {
    if (!is_key_char(seg[i])) {
      return {errc::invalid_argument,
              std::string{what} + " " + quote(whole) + " has " +
                  describe_char_at(seg, i) + " in segment " + num(index + 1) +
                  "; use only A-Z a-z 0-9 . _ - in a segment; " + key_rule(lim)};
    }
  }
  if (seg.size() > lim.max_segment_chars) {
    return {errc::invalid_argument,
            "segment " + num(index + 1) + " of " + std::string{what} + " " +
                quote(whole) + " is " + num(seg.size()) +
                " characters long; shorten it to at most " +
                num(lim.max_segment_chars) + "; " + key_rule(lim)};
  }
  if (seg == "." || seg == "..") {
    return {errc::invalid_argument,
            std::string{what} + " " + quote(whole) + " has segment " + num(index + 1) +
                " \"" + std::string{seg} +
                "\", which is reserved (it reads as a path step); rename the segment"};
  }
  return {};
}

std::string label_key_rule(const limits& lim) {
  return "label keys are 1-" + num(lim.max_label_key_chars) +
         " characters from A-Z a-z 0-9 . _ - /";
}

status check_label_key(const std::string& k, const limits& lim) {
  if (k.empty())
    return {errc::invalid_argument, "a label key is empty; " + label_key_rule(lim)};
  for (std::size_t i = 0; i < k.size(); ++i) {
    if (!is_key_char(k[i]) && k[i] != '/') {
      return {errc::invalid_argument, "label key " + quote(k) + " has " +
                                          describe_char_at(k, i) + " at position " +
                                          num(i + 1) + "; " + label_key_rule(lim)};
    }
  }
  if (k.size() > lim.max_label_key_chars) {
    return {errc::too_large, "label key " + quote(k) + " is " + num(k.size()) +
                                 " characters long; shorten it to at most " +
                                 num(lim.max_label_key_chars)};
  }
  return {};
}

status check_label_value(const std::string& k, const std::string& v,
                         const limits& lim) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < v.size(); ++chars) {
    std::size_t at = i;
    char32_t cp = 0;
    if (!next_code_point(v, i, cp)) {
      return {errc::invalid_argument,
              "value of label " + quote(k) + " is not valid UTF-8 (at byte " +
                  num(at + 1) + "); send label values as UTF-8 text"};
    }
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      return {errc::invalid_argument,
              "value of label " + quote(k) + " has control character " +
                  describe_code_point(cp) + " at byte " + num(at + 1) +
                  "; label values are printable text, remove it"};
    }
  }
  if (chars > lim.max_label_value_chars) {
    return {errc::too_large, "value of label " + quote(k) + " is " + num(chars) +
                                 " characters long; shorten it to at most " +
                                 num(lim.max_label_value_chars)};
  }
  return {};
}

} // namespace

status validate_key(std::string_view key) {
  return validate_key(key, limits{});
}

status validate_key(std::string_view key, const limits& lim) {
  if (key.empty())
    return {errc::invalid_argument, "key is empty; " + key_rule(lim)};
  if (key.front() == '/') {
    return {errc::invalid_argument, "key " + quote(key) +
                                        " starts with '/'; remove the leading slash; " +
                                        key_rule(lim)};
  }
  if (key.back() == '/') {
    return {errc::invalid_argument, "key " + quote(key) +
                                        " ends with '/'; remove the trailing slash; " +
                                        key_rule(lim)};
  }
  auto parts = split_slash(key);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) {
      return {errc::invalid_argument, "key " + quote(key) + " has an empty segment (" +
                                          num(i + 1) + ", between two '/'); " +
                                          key_rule(lim)};
    }
  }
  if (parts.size() != 4) {
    return {errc::invalid_argument, "key " + quote(key) + " has " + num(parts.size()) +
                                        " segments; " + key_rule(lim)};
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (auto st = check_segment("key", key, parts[i], i, lim); !st)
      return st;
  }
  if (key.size() > lim.max_key_bytes) {
    return {errc::too_large, "key " + quote(key) + " is " + num(key.size()) +
                                 " bytes; a whole key may have at most " +
                                 num(lim.max_key_bytes) + " bytes: shorten a segment"};
  }
  return {};
}

status validate_key_prefix(std::string_view prefix) {
  return validate_key_prefix(prefix, limits{});
}

status validate_key_prefix(std::string_view prefix, const limits& lim) {
  if (prefix.empty())
    return {};
  if (prefix.front() == '/') {
    return {errc::invalid_argument,
            "prefix " + quote(prefix) +
                " starts with '/'; remove the leading slash (a prefix "
                "is the start of tenant/app/env/name)"};
  }
  auto parts = split_slash(prefix);
  bool trailing_slash = prefix.back() == '/';
  if (trailing_slash)
    parts.pop_back();
  if (parts.size() > 4 || (trailing_slash && parts.size() == 4)) {
    return {errc::invalid_argument,
            "prefix " + quote(prefix) +
                " goes past the 4th segment; a prefix is the start of a key, and " +
                key_rule(lim) + "; drop what follows the name"};
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) {
      return {errc::invalid_argument, "prefix " + quote(prefix) +
                                          " has an empty segment (" + num(i + 1) +
                                          ", between two '/'); " + key_rule(lim)};
    }
    if (auto st = check_segment("prefix", prefix, parts[i], i, lim); !st)
      return st;
  }
  return {};
}

status validate_labels(const labels& l, const limits& lim) {
  if (l.size() > lim.max_labels) {
    return {errc::too_large, num(l.size()) + " labels given; the limit is " +
                                 num(lim.max_labels) +
                                 " labels; drop the ones you do not match on"};
  }
  for (const auto& [k, v] : l) {
    if (auto st = check_label_key(k, lim); !st)
      return st;
    if (auto st = check_label_value(k, v, lim); !st)
      return st;
  }
  return {};
}

status validate_rules(const std::vector<release_rule>& rules, const limits& lim) {
  return validate_rules(rules, lim, rule_version_zero::invalid);
}

status validate_rules(const std::vector<release_rule>& rules, const limits& lim,
                      rule_version_zero zero) {
  if (rules.size() > lim.max_rules) {
    return {errc::too_large, num(rules.size()) + " release rules given; the limit is " +
                                 num(lim.max_rules) +
                                 " rules per config; merge rules that share labels"};
  }
  // (priority, labels) -> the first rule (0-based) that has them.
  std::map<std::pair<std::int32_t, labels>, std::size_t> seen;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const release_rule& r = rules[i];
    std::string name = "rule " + num(i + 1) + " " + describe_labels(r.labels);
    if (auto st = validate_labels(r.labels, lim); !st) {
      return {st.code(), name + ": " + st.err().message};
    }
    if (r.version == 0 && zero == rule_version_zero::invalid) {
      return {errc::invalid_argument,
              name +
                  " has version id 0; version ids start at 1, so point the rule at an "
                  "existing version (see `conflux version list KEY`)"};
    }
    auto [it, inserted] = seen.emplace(std::make_pair(r.priority, r.labels), i);
    if (!inserted) {
      return {errc::invalid_argument,
              "rules " + num(it->second + 1) + " and " + num(i + 1) +
                  " both have labels " + describe_labels(r.labels) + " and priority " +
                  std::to_string(r.priority) + ", so rule " + num(i + 1) +
                  " could never apply; remove one or give them different labels or "
                  "priorities"};
    }
  }
  return {};
}

status validate_text_field(std::string_view what, std::string_view value,
                           std::size_t max) {
  std::string field = printable(what, quote_limit);
  if (value.size() > max) {
    return {errc::too_large, field + " is " + num(value.size()) +
                                 " bytes; the limit is " + num(max) +
                                 " bytes; shorten it"};
  }
  for (std::size_t i = 0; i < value.size();) {
    std::size_t at = i;
    char32_t cp = 0;
    if (!next_code_point(value, i, cp)) {
      return {errc::invalid_argument, field + " is not valid UTF-8 (at byte " +
                                          num(at + 1) + "); send it as UTF-8 text"};
    }
    bool allowed_control = cp == '\t' || cp == '\n' || cp == '\r';
    if ((cp < 0x20 && !allowed_control) || (cp >= 0x7f && cp <= 0x9f)) {
      return {errc::invalid_argument,
              field + " has control character " + describe_code_point(cp) +
                  " at byte " + num(at + 1) +
                  "; remove it (tab, line feed and carriage return are allowed)"};
    }
  }
  return {};
}

} // namespace conflux
