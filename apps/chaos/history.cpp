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
  if (auto it = j.find("revision"); it != j.end()) {
    if (!is_int(*it) || it->get<std::int64_t>() < 1)
      throw history_error(line, "field \"revision\" must be a positive integer");
    if (ev.type != event_type::ok || (ev.f != fn::add_version && ev.f != fn::write))
      throw history_error(line, "field \"revision\" belongs on ok add-version and "
                                "ok write only");
    ev.revision = it->get<std::int64_t>();
  }
  return ev;
}

std::optional<watch_event_type> parse_watch_type(const std::string& s) {
  if (s == "start")
    return watch_event_type::start;
  if (s == "change")
    return watch_event_type::change;
  if (s == "resync")
    return watch_event_type::resync;
  if (s == "resume")
    return watch_event_type::resume;
  if (s == "stop")
    return watch_event_type::stop;
  return std::nullopt;
}

// A line with "type": "watch".
watch_record parse_watch_line(const json& j, std::size_t line) {
  auto field = [&](const char* name) -> const json& {
    auto it = j.find(name);
    if (it == j.end())
      throw history_error(line,
                          std::string("watch record: missing field \"") + name + "\"");
    return *it;
  };
  auto integer = [&](const char* name, std::int64_t min) {
    const json& v = field(name);
    if (!is_int(v) || v.get<std::int64_t>() < min)
      throw history_error(line, std::string("watch record: field \"") + name +
                                    "\" must be an integer >= " + std::to_string(min));
    return v.get<std::int64_t>();
  };
  auto text = [&](const json& v, const char* name) {
    if (!v.is_string())
      throw history_error(line, std::string("watch record: field \"") + name +
                                    "\" must be a string");
    return v.get<std::string>();
  };
  watch_record r;
  r.line = line;
  r.watcher = integer("watcher", 0);
  r.time_ns = integer("time_ns", 0);
  auto type = parse_watch_type(text(field("event"), "event"));
  if (!type)
    throw history_error(line, "watch record: field \"event\" is " +
                                  field("event").dump() +
                                  "; expected start, change, resync, resume or stop");
  r.type = *type;
  switch (r.type) {
  case watch_event_type::start:
    r.node = integer("node", 0);
    r.prefix = text(field("prefix"), "prefix");
    r.revision = integer("from_revision", 1);
    break;
  case watch_event_type::change: {
    r.node = integer("node", 0);
    r.revision = integer("revision", 1);
    r.key = text(field("key"), "key");
    r.kind = text(field("kind"), "kind");
    const json& vs = field("versions");
    if (!vs.is_array())
      throw history_error(line,
                          "watch record: \"versions\" must be a list of integers");
    for (const auto& v : vs) {
      if (!is_int(v))
        throw history_error(line,
                            "watch record: \"versions\" must be a list of integers");
      r.versions.push_back(v.get<std::int64_t>());
    }
    if (auto it = j.find("hash"); it != j.end())
      r.hash = text(*it, "hash");
    break;
  }
  case watch_event_type::resync: {
    r.node = integer("node", 0);
    r.revision = integer("revision", 1);
    const json& st = field("state");
    auto bad = [&] {
      throw history_error(line, "watch record: \"state\" must be a list of "
                                "{key, mod_revision, latest_version, hash}");
    };
    if (!st.is_array())
      bad();
    for (const auto& e : st) {
      if (!e.is_object())
        bad();
      auto key = e.find("key");
      auto mod = e.find("mod_revision");
      auto latest = e.find("latest_version");
      auto hash = e.find("hash");
      if (key == e.end() || !key->is_string() || mod == e.end() || !is_int(*mod) ||
          latest == e.end() || !is_int(*latest) ||
          (hash != e.end() && !hash->is_string()))
        bad();
      watch_state_entry entry;
      entry.key = key->get<std::string>();
      entry.mod_revision = mod->get<std::int64_t>();
      entry.latest_version = latest->get<std::int64_t>();
      if (hash != e.end())
        entry.hash = hash->get<std::string>();
      r.state.push_back(std::move(entry));
    }
    break;
  }
  case watch_event_type::resume:
    r.resumes = integer("resumes", 1);
    if (auto it = j.find("reason"); it != j.end())
      r.reason = text(*it, "reason");
    break;
  case watch_event_type::stop:
    r.revision = integer("last_revision", 0);
    if (j.contains("target"))
      r.target = integer("target", 0);
    if (auto it = j.find("error"); it != j.end())
      r.error = text(*it, "error");
    break;
  }
  return r;
}

// Parses every line into op events and watch records.
void parse_lines(std::string_view jsonl, std::vector<history_event>& events,
                 std::vector<watch_record>& watches) {
  std::size_t line = 0;
  std::size_t pos = 0;
  std::map<std::int64_t, bool> started; // watcher -> start seen
  while (pos <= jsonl.size()) {
    std::size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos)
      end = jsonl.size();
    ++line;
    std::string_view text = jsonl.substr(pos, end - pos);
    pos = end + 1;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    // Watch records are told apart by their type before the op fields are
    // required.
    if (text.find("\"watch\"") != std::string_view::npos) {
      json j;
      try {
        j = json::parse(text.begin(), text.end());
      } catch (const json::parse_error& e) {
        throw history_error(line, std::string("not valid JSON: ") + e.what());
      }
      auto type = j.is_object() ? j.find("type") : j.end();
      if (j.is_object() && type != j.end() && *type == "watch") {
        auto r = parse_watch_line(j, line);
        bool& seen = started[r.watcher];
        if (r.type == watch_event_type::start && seen)
          throw history_error(line, "watcher " + std::to_string(r.watcher) +
                                        " starts a second time");
        if (r.type != watch_event_type::start && !seen)
          throw history_error(line, "watch record of watcher " +
                                        std::to_string(r.watcher) +
                                        " before its start record");
        seen = true;
        watches.push_back(std::move(r));
        continue;
      }
    }
    events.push_back(parse_line(text, line));
  }
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
  if (op.revision)
    out << " at revision " << *op.revision;
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
  std::vector<watch_record> watches;
  parse_lines(jsonl, events, watches);
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
    op.revision = ev.revision;
    pending.erase(it);
  }
  return ops;
}

std::vector<operation> parse_history(std::string_view jsonl) {
  return pair_operations(parse_events(jsonl));
}

history parse_full_history(std::string_view jsonl) {
  std::vector<history_event> events;
  history h;
  parse_lines(jsonl, events, h.watches);
  h.ops = pair_operations(events);
  return h;
}

const char* to_string(watch_event_type type) {
  switch (type) {
  case watch_event_type::start:
    return "start";
  case watch_event_type::change:
    return "change";
  case watch_event_type::resync:
    return "resync";
  case watch_event_type::resume:
    return "resume";
  case watch_event_type::stop:
    return "stop";
  }
  return "?";
}

std::string describe(const watch_record& r) {
  std::ostringstream out;
  out << "watcher " << r.watcher << " " << to_string(r.type);
  switch (r.type) {
  case watch_event_type::start:
    out << " of " << nlohmann::json(r.prefix).dump() << " from revision " << r.revision
        << " on node " << r.node;
    break;
  case watch_event_type::change:
    out << " " << r.kind << " " << r.key << " " << nlohmann::json(r.versions).dump()
        << " at revision " << r.revision << " from node " << r.node;
    break;
  case watch_event_type::resync:
    out << " at revision " << r.revision << " from node " << r.node << " ("
        << r.state.size() << " keys)";
    break;
  case watch_event_type::resume:
    out << " #" << r.resumes << " (" << r.reason << ")";
    break;
  case watch_event_type::stop:
    out << " at revision " << r.revision;
    if (r.target != 0)
      out << " (target " << r.target << ")";
    break;
  }
  out << " (line " << r.line << ")";
  return out.str();
}

} // namespace conflux::chaos
