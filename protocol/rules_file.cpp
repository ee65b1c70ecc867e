#include "protocol/rules_file.hpp"

#include "protocol/text.hpp"
#include "protocol/validation.hpp"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

namespace conflux {

namespace {

error bad(std::string message) {
  return error{errc::invalid_argument, std::move(message)};
}

} // namespace

status check_label_syntax(const labels& l) {
  for (const auto& kv : l) {
    labels one{kv};
    auto st = validate_labels(one, limits{});
    if (!st.ok() && st.code() != errc::too_large)
      return st;
  }
  return {};
}

status check_rules_syntax(const std::vector<release_rule>& rules) {
  for (const auto& r : rules)
    if (auto st = check_label_syntax(r.labels); !st.ok())
      return st;
  limits unbounded;
  unbounded.max_rules = std::numeric_limits<std::size_t>::max();
  unbounded.max_labels = std::numeric_limits<std::size_t>::max();
  unbounded.max_label_key_chars = std::numeric_limits<std::size_t>::max();
  unbounded.max_label_value_chars = std::numeric_limits<std::size_t>::max();
  return validate_rules(rules, unbounded);
}

std::string format_rules_file(const std::vector<release_rule>& rules) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rules) {
    nlohmann::json l = nlohmann::json::object();
    for (const auto& [k, v] : r.labels)
      l[k] = v;
    out.push_back({{"labels", l}, {"version_id", r.version}, {"priority", r.priority}});
  }
  return out.dump();
}

expected<std::vector<release_rule>> parse_rules_file(std::string_view text) {
  using nlohmann::json;
  // Track the names seen in each open object to refuse duplicates (nlohmann
  // would silently keep the last one).
  std::vector<std::set<std::string>> open;
  std::optional<std::string> duplicate;
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
    case json::parse_event_t::object_start:
      open.emplace_back();
      break;
    case json::parse_event_t::object_end:
      if (!open.empty())
        open.pop_back();
      break;
    case json::parse_event_t::key:
      if (!open.empty() && parsed.is_string() &&
          !open.back().insert(parsed.get<std::string>()).second && !duplicate)
        duplicate = parsed.get<std::string>();
      break;
    default:
      break;
    }
    return true;
  };
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return bad(
        "the rules file is empty; it must be a JSON array such as "
        "[{\"labels\": {\"canary\": \"true\"}, \"version_id\": 3, \"priority\": 10}]");
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {
    return bad(
        std::string{"the rules file is not valid JSON ("} + e.what() +
        "); fix it, e.g. [{\"labels\": {\"canary\": \"true\"}, \"version_id\": 3}]");
  }
  if (duplicate)
    return bad("the rules file names " + quote(*duplicate) +
               " twice in one object; give each field or label once");
  if (!doc.is_array())
    return bad(
        std::string{"the rules file holds a JSON "} + doc.type_name() +
        "; it must be an array of rules, e.g. [{\"labels\": {\"canary\": "
        "\"true\"}, \"version_id\": 3, \"priority\": 10}] (from `conflux release "
        "show KEY --json`, take .rules)");
  std::vector<release_rule> rules;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& item = doc[i];
    const std::string name = "rule " + std::to_string(i + 1) + " of the rules file";
    if (!item.is_object())
      return bad(name + " is a JSON " + item.type_name() +
                 "; each rule is an object {\"labels\": {...}, \"version_id\": N, "
                 "\"priority\": P}");
    release_rule r;
    bool has_version = false;
    for (auto it = item.begin(); it != item.end(); ++it) {
      const auto& k = it.key();
      const auto& v = it.value();
      if (k == "labels") {
        if (v.is_null())
          continue;
        if (!v.is_object())
          return bad(name + " has \"labels\" of type " + v.type_name() +
                     "; labels is an object of strings such as {\"canary\": \"true\"}");
        for (auto l = v.begin(); l != v.end(); ++l) {
          if (!l.value().is_string())
            return bad(name + " has label " + quote(l.key()) + " with a " +
                       l.value().type_name() +
                       " value; label values are strings, e.g. \"true\" in quotes");
          r.labels.emplace(l.key(), l.value().get<std::string>());
        }
      } else if (k == "version_id") {
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() == 0)
          return bad(name + " has \"version_id\": " + v.dump() +
                     "; it must be a version id (a whole number >= 1; see `conflux "
                     "version list KEY`)");
        r.version = v.get<std::uint64_t>();
        has_version = true;
      } else if (k == "priority") {
        std::optional<std::int32_t> p;
        if (v.is_number_unsigned()) {
          if (v.get<std::uint64_t>() <=
              static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
            p = static_cast<std::int32_t>(v.get<std::uint64_t>());
        } else if (v.is_number_integer()) {
          auto n = v.get<std::int64_t>();
          if (n >= std::numeric_limits<std::int32_t>::min() &&
              n <= std::numeric_limits<std::int32_t>::max())
            p = static_cast<std::int32_t>(n);
        }
        if (!p)
          return bad(name + " has \"priority\": " + v.dump() +
                     "; it must be a whole number from -2147483648 to 2147483647");
        r.priority = *p;
      } else {
        return bad(name + " has unknown field " + quote(k) +
                   "; a rule has only \"labels\", \"version_id\" and \"priority\"");
      }
    }
    if (!has_version)
      return bad(name + " has no \"version_id\"; say which version the rule serves, "
                        "e.g. \"version_id\": 3");
    rules.push_back(std::move(r));
  }
  if (auto st = check_rules_syntax(rules); !st.ok())
    return bad("the rules file: " + st.err().message);
  return rules;
}

} // namespace conflux
