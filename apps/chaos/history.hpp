// History of a fault-injection run (docs/design.md, History format of chaos runs):
// parsing and pairing.
//
// One JSON object per line:
//   {"process": 3, "type": "invoke"|"ok"|"fail"|"info",
//    "f": "add-version"|"read-versions"|"write"|"read",
//    "key": "t/a/e/n", "value": ..., "time_ns": 123}
// Events are paired per process into operations: an invoke is completed by the
// next ok/fail/info event of the same process. An invoke that never completes
// is an `info` operation (outcome unknown, no completion time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::chaos {

enum class event_type { invoke, ok, fail, info };
enum class fn { add_version, read_versions, write, read };

const char* to_string(event_type type);
const char* to_string(fn f);

// One entry of a read-versions result or of a final version list.
struct listed_version {
  std::int64_t id = 0;
  std::string content;
  friend bool operator==(const listed_version& a, const listed_version& b) {
    return a.id == b.id && a.content == b.content;
  }
  friend bool operator!=(const listed_version& a, const listed_version& b) {
    return !(a == b);
  }
};

// One line of the history.
struct history_event {
  std::int64_t process = 0;
  event_type type = event_type::invoke;
  fn f = fn::read;
  std::string key;
  nlohmann::json value; // null when absent
  std::int64_t time_ns = 0;
  std::size_t line = 0; // 1-based line number in the input
};

// An invoke paired with its completion.
struct operation {
  std::int64_t process = 0;
  fn f = fn::read;
  std::string key;
  event_type outcome = event_type::info; // ok, fail or info (never invoke)
  nlohmann::json invoke_value;           // write: version id; add-version: content
  nlohmann::json
      result_value; // ok read: id or null; ok add: id; ok read-versions: list
  std::int64_t invoke_ns = 0;
  std::optional<std::int64_t> complete_ns; // none for an invoke that never completed
  std::size_t invoke_line = 0;
  std::size_t complete_line = 0; // 0 when never completed

  // Typed views of the values (valid after parse: the parser checks shapes).
  std::int64_t written_id() const;                   // write
  std::optional<std::int64_t> read_result() const;   // ok read
  std::string added_content() const;                 // add-version
  std::int64_t added_id() const;                     // ok add-version
  std::vector<listed_version> read_versions() const; // ok read-versions
};

// Human-readable one-liner, e.g. "write 3 by process 1 (lines 4-9, ok)".
std::string describe(const operation& op);

class history_error : public std::runtime_error {
public:
  history_error(std::size_t line, const std::string& what);
  std::size_t line() const noexcept { return line_; }

private:
  std::size_t line_;
};

// Parses JSONL; blank lines are skipped. Throws history_error on a malformed line.
std::vector<history_event> parse_events(std::string_view jsonl);

// Pairs events per process. Throws history_error for a completion without a
// pending invoke, a second invoke while one is pending, a completion whose f or
// key differs from its invoke, a completion earlier than its invoke, or a value
// of the wrong shape for its f.
std::vector<operation> pair_operations(const std::vector<history_event>& events);

// parse_events + pair_operations. Operations are in invoke order.
std::vector<operation> parse_history(std::string_view jsonl);

// Parses a `[[id, "content"], ...]` list (read-versions value, final lists).
std::vector<listed_version> parse_version_list(const nlohmann::json& value);

} // namespace conflux::chaos
