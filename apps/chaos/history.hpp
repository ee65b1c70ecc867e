// History of a fault-injection run (docs/design.md, History format of chaos runs):
// parsing and pairing.
//
// One JSON object per line:
//   {"process": 3, "type": "invoke"|"ok"|"fail"|"info",
//    "f": "add-version"|"read-versions"|"write"|"read",
//    "key": "t/a/e/n", "value": ..., "revision": 57, "time_ns": 123}
// Events are paired per process into operations: an invoke is completed by the
// next ok/fail/info event of the same process. An invoke that never completes
// is an `info` operation (outcome unknown, no completion time). `revision`
// (optional, ok add-version / write only): the log index the write applied at.
//
// Watch records ("type": "watch") tell what one watcher received:
//   {"type": "watch", "watcher": 1, "event": "start"|"change"|"resync"|"resume"|"stop",
//    ..., "time_ns": 123}
// (fields per event: struct watch_record below).
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
  nlohmann::json value;                 // null when absent
  std::optional<std::int64_t> revision; // ok add-version / write
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
  // ok add-version / write: the revision (log index) it applied at, when
  // the history records it.
  std::optional<std::int64_t> revision;

  // Typed views of the values (valid after parse: the parser checks shapes).
  std::int64_t written_id() const;                   // write
  std::optional<std::int64_t> read_result() const;   // ok read
  std::string added_content() const;                 // add-version
  std::int64_t added_id() const;                     // ok add-version
  std::vector<listed_version> read_versions() const; // ok read-versions
};

// What a watcher recorded. The records of one watcher are in the order it
// received them; its first record is its start.
enum class watch_event_type { start, change, resync, resume, stop };
const char* to_string(watch_event_type type);

// One key of a resync event: its state at the resync's revision.
struct watch_state_entry {
  std::string key;
  std::int64_t mod_revision = 0;
  std::int64_t latest_version = 0;
  std::string hash; // SHA-256 (hex) of the latest version's content
};

struct watch_record {
  std::int64_t watcher = 0;
  watch_event_type type = watch_event_type::start;
  std::int64_t time_ns = 0;
  std::size_t line = 0;
  // start: the node it was opened on first; change/resync: the node that
  // served the event.
  std::int64_t node = 0;
  // start: the key or prefix (ending in '/') watched.
  std::string prefix;
  // start: from_revision (every change from it on is wanted); change/resync:
  // the event's revision; stop: the last revision the watcher received.
  std::int64_t revision = 0;
  // stop: the revision every watcher had to reach (the highest mod revision
  // of the final configs); 0 when unknown.
  std::int64_t target = 0;
  // change: key, kind (config-created, version-added, rules-changed,
  // versions-deleted, config-deleted, published), versions, content hash.
  std::string key;
  std::string kind;
  std::vector<std::int64_t> versions;
  std::string hash;
  // resync: the state it shows.
  std::vector<watch_state_entry> state;
  // resume: how often the stream resumed so far (cumulative), and why it
  // last did.
  std::int64_t resumes = 0;
  std::string reason;
  // stop: why the stream ended for good before it was stopped ("" if it
  // did not).
  std::string error;
};

// "watcher 2 change rules-changed chaos/g0/test/k1 [3] at revision 57 from
// node 1 (line 40)".
std::string describe(const watch_record& r);

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
// Watch records are checked and left out (parse_full_history keeps them).
std::vector<history_event> parse_events(std::string_view jsonl);

// Pairs events per process. Throws history_error for a completion without a
// pending invoke, a second invoke while one is pending, a completion whose f or
// key differs from its invoke, a completion earlier than its invoke, or a value
// of the wrong shape for its f.
std::vector<operation> pair_operations(const std::vector<history_event>& events);

// parse_events + pair_operations. Operations are in invoke order.
std::vector<operation> parse_history(std::string_view jsonl);

// Operations and watch records of one history.
struct history {
  std::vector<operation> ops;
  std::vector<watch_record> watches; // in file order
};

// Both. Also throws history_error for a watch record of a watcher before its
// start record, or a second start.
history parse_full_history(std::string_view jsonl);

// Parses a `[[id, "content"], ...]` list (read-versions value, final lists).
std::vector<listed_version> parse_version_list(const nlohmann::json& value);

} // namespace conflux::chaos
