#pragma once
// Basic Raft vocabulary shared by the consensus core (protocol/raft), the log
// store (storage/) and later the actor shells. Plain data, no behaviour.

#include <cstdint>
#include <memory>
#include <string>

namespace conflux::raft {

using term_t = std::uint64_t;
using index_t = std::uint64_t;
/// Raft's own server identity. Never a CAF node id (bench/caf-spike/README.md §3: a
/// restarted peer's handle can compare equal to the old one). 0 means "none".
using server_id = std::uint64_t;
constexpr server_id no_server = 0;

/// What a log entry carries.
enum class entry_kind : std::uint8_t {
  /// A client command for the configuration state machine (opaque bytes here).
  command = 0,
  /// The empty entry a new leader appends at the start of its term (§5.4.2).
  noop = 1,
  /// A membership change (one server at a time, thesis §4.1).
  membership = 2,
};

struct log_entry {
  term_t term = 0;
  index_t index = 0;
  entry_kind kind = entry_kind::command;
  /// Leader-stamped wall time in milliseconds since the epoch. The state
  /// machine takes time only from here (docs/design.md, durability rule 5).
  std::int64_t timestamp_ms = 0;
  /// Command bytes (kind == command), encoded membership (kind == membership),
  /// empty for noop.
  std::string data;

  friend bool operator==(const log_entry& a, const log_entry& b) {
    return a.term == b.term && a.index == b.index && a.kind == b.kind &&
           a.timestamp_ms == b.timestamp_ms && a.data == b.data;
  }
  friend bool operator!=(const log_entry& a, const log_entry& b) { return !(a == b); }
};

/// What must be durable before a vote or an AppendEntries reply leaves
/// (docs/design.md, durability rule 1).
struct hard_state {
  term_t term = 0;
  server_id vote = no_server;
  /// Commit index; persisting it is an optimisation (restart applies sooner),
  /// never required for safety.
  index_t commit = 0;

  friend bool operator==(const hard_state& a, const hard_state& b) {
    return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
  }
  friend bool operator!=(const hard_state& a, const hard_state& b) { return !(a == b); }
};

/// Shared, immutable ownership of one entry. The consensus core, its messages
/// and its ready batches pass entries by this handle so that replicating one
/// entry to N followers, persisting it and applying it never copies its bytes.
using entry_ptr = std::shared_ptr<const log_entry>;

} // namespace conflux::raft
