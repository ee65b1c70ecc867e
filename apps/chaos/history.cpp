#include "apps/chaos/history.hpp"

#include <map>
#include <sstream>
#include <utility>

namespace conflux::chaos {

namespace {

using nlohmann::json;

bool is_int(const json& v) {
  return v.is_number_integer();
}

bool is_version_list(const json& v) {
  if (!v.is_array())
    return false;
  for (const auto& e : v) {
    if (!e.is_array() || e.size() != 2 || !is_int(e[0]) || !e[1].is_string())
      return false;
  }
  return true;
}

std::optional<event_type> parse_type(const std::string& s) {
  if (s == "invoke")
    return event_type::invoke;
  if (s == "ok")
    return event_type::ok;
  if (s == "fail")
    return event_type::fail;
  if (s == "info")
    return event_type::info;
  return std::nullopt;
}

std::optional<fn> parse_fn(const std::string& s) {
  if (s == "add-version")
    return fn::add_version;
  if (s == "read-versions")
    return fn::read_versions;
  if (s == "write")
    return fn::write;
  if (s == "read")
    return fn::read;
  return std::nullopt;
}

history_event parse_line(std::string_view text, std::size_t line) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw history_error(line, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object())
    throw history_error(line, "expected a JSON object");
  auto require = [&](const char* field) -> const json& {
    auto it = j.find(field);
    if (it == j.end())
      throw history_error(line, std::string("missing field \"") + field + "\"");
    return *it;
  };
  history_event ev;
  ev.line = line;
  const json& process = require("process");
  if (!is_int(process))
    throw history_error(line, "field \"process\" must be an integer");
  ev.process = process.get<std::int64_t>();
  const json& type = require("type");
  if (!type.is_string())
    throw history_error(line, "field \"type\" must be a string");
  auto t = parse_type(type.get<std::string>());
  if (!t) {
    throw history_error(line, "field \"type\" is \"" + type.get<std::string>() +
                                  "\"; expected invoke, ok, fail or info");
  }
  ev.type = *t;
  const json& f = require("f");
  if (!f.is_string())
    throw history_error(line, "field \"f\" must be a string");
  auto fn = parse_fn(f.get<std::string>());
  if (!fn) {
    throw history_error(line,
                        "field \"f\" is \"" + f.get<std::string>() +
                            "\"; expected add-version, read-versions, write or read");
  }
  ev.f = *fn;
  const json& key = require("key");
  if (!key.is_string())
    throw history_error(line, "field \"key\" must be a string");
  ev.key = key.get<std::string>();
  const json& time = require("time_ns");
  if (!is_int(time))
    throw history_error(line, "field \"time_ns\" must be an integer");
  ev.time_ns = time.get<std::int64_t>();
  if (ev.time_ns < 0)
    throw history_error(line, "field \"time_ns\" must not be negative");
  if (auto it = j.find("value"); it != j.end())
    ev.value = *it;
  return ev;
}

// Checks the value shape an event must carry for its f and type.
void check_value(const history_event& ev) {
  auto bad = [&](const char* expected) {
    throw history_error(ev.line, std::string("value of ") + to_string(ev.type) + " " +
                                     to_string(ev.f) + " must be " + expected +
                                     ", got " + ev.value.dump());
  };
  switch (ev.f) {
  case fn::write:
    if (ev.type == event_type::invoke && !is_int(ev.value))
      bad("an integer version id");
    break;
  case fn::read:
    if (ev.type == event_type::ok && !ev.value.is_null() && !is_int(ev.value)) {
      bad("an integer version id or null");
    }
    break;
  case fn::add_version:
    if (ev.type == event_type::invoke && !ev.value.is_string())
      bad("a content string");
    if (ev.type == event_type::ok && !is_int(ev.value))
      bad("an integer version id");
    break;
  case fn::read_versions:
    if (ev.type == event_type::ok && !is_version_list(ev.value)) {
      bad("a list of [version_id, content]");
    }
    break;
  }
}

} // namespace

const char* to_string(event_type type) {
  switch (type) {
  case event_type::invoke:
    return "invoke";
  case event_type::ok:
    return "ok";
  case event_type::fail:
    return "fail";
  case event_type::info:
    return "info";
  }
  return "?";
}

const char* to_string(fn f) {
  switch (f) {
  case fn::add_version:
    return "add-version";
  case fn::read_versions:
    return "read-versions";
  case fn::write:
    return "write";
  case fn::read:
    return "read";
  }
  return "?";
}

history_error::history_error(std::size_t line, const std::string& what)
    : std::runtime_error("history line " + std::to_string(line) + ": " + what),
      line_(line) {}

std::int64_t operation::written_id() const {
  return invoke_value.get<std::int64_t>();
}

std::optional<std::int64_t> operation::read_result() const {
  if (result_value.is_null())
    return std::nullopt;
  return result_value.get<std::int64_t>();
}

std::string operation::added_content() const {
  return invoke_value.get<std::string>();
}

std::int64_t operation::added_id() const {
  return result_value.get<std::int64_t>();
}

std::vector<listed_version> operation::read_versions() const {
  return parse_version_list(result_value);
}

std::vector<listed_version> parse_version_list(const nlohmann::json& value) {
  if (!is_version_list(value)) {
    throw std::invalid_argument("expected a list of [version_id, content], got " +
                                value.dump());
  }
  std::vector<listed_version> out;
  out.reserve(value.size());
  for (const auto& e : value)
    out.push_back(listed_version{e[0].get<std::int64_t>(), e[1].get<std::string>()});
  return out;
}

std::string describe(const operation& op) {
  std::ostringstream out;
  out << to_string(op.f);
  switch (op.f) {
  case fn::write:
    out << " " << op.invoke_value.dump();
    break;
  case fn::add_version:
    out << " " << op.invoke_value.dump();
    break;
  default:
    break;
  }
  if (op.outcome == event_type::ok &&
      (op.f == fn::read || op.f == fn::add_version || op.f == fn::read_versions)) {
    out << " -> " << op.result_value.dump();
  }
  out << " by process " << op.process << " (line " << op.invoke_line;
  if (op.complete_line != 0)
    out << "-" << op.complete_line;
  out << ", " << to_string(op.outcome);
  if (op.complete_line == 0)
    out << ", never completed";
  out << ")";
  return out.str();
}

std::vector<history_event> parse_events(std::string_view jsonl) {
  std::vector<history_event> events;
  std::size_t line = 0;
  std::size_t pos = 0;
  while (pos <= jsonl.size()) {
    std::size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos)
      end = jsonl.size();
    ++line;
    std::string_view text = jsonl.substr(pos, end - pos);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos) {
      events.push_back(parse_line(text, line));
    }
    pos = end + 1;
  }
  return events;
}

std::vector<operation> pair_operations(const std::vector<history_event>& events) {
  std::vector<operation> ops;
  std::map<std::int64_t, std::size_t> pending; // process -> index into ops
  for (const history_event& ev : events) {
    check_value(ev);
    auto it = pending.find(ev.process);
    if (ev.type == event_type::invoke) {
      if (it != pending.end()) {
        throw history_error(ev.line, "process " + std::to_string(ev.process) +
                                         " invokes while its operation from line " +
                                         std::to_string(ops[it->second].invoke_line) +
                                         " is still pending");
      }
      operation op;
      op.process = ev.process;
      op.f = ev.f;
      op.key = ev.key;
      op.outcome = event_type::info;
      op.invoke_value = ev.value;
      op.invoke_ns = ev.time_ns;
      op.invoke_line = ev.line;
      pending.emplace(ev.process, ops.size());
      ops.push_back(std::move(op));
      continue;
    }
    if (it == pending.end()) {
      throw history_error(ev.line, std::string(to_string(ev.type)) + " for process " +
                                       std::to_string(ev.process) +
                                       " without a pending invoke");
    }
    operation& op = ops[it->second];
    if (op.f != ev.f) {
      throw history_error(ev.line, std::string("completion f \"") + to_string(ev.f) +
                                       "\" differs from its invoke (line " +
                                       std::to_string(op.invoke_line) + ", \"" +
                                       to_string(op.f) + "\")");
    }
    if (op.key != ev.key) {
      throw history_error(
          ev.line, "completion key \"" + ev.key + "\" differs from its invoke (line " +
                       std::to_string(op.invoke_line) + ", \"" + op.key + "\")");
    }
    if (ev.time_ns < op.invoke_ns) {
      throw history_error(ev.line, "completion time_ns " + std::to_string(ev.time_ns) +
                                       " is earlier than its invoke (line " +
                                       std::to_string(op.invoke_line) + ")");
    }
    op.outcome = ev.type;
    op.result_value = ev.value;
    op.complete_ns = ev.time_ns;
    op.complete_line = ev.line;
    pending.erase(it);
  }
  return ops;
}

std::vector<operation> parse_history(std::string_view jsonl) {
  return pair_operations(parse_events(jsonl));
}

} // namespace conflux::chaos
