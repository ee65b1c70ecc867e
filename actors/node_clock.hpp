#pragma once
// The one place a node's actors read time from (docs/design.md, "Time"). One
// per node, in node_context::clock; parts of the node that keep their own
// timing (the denied-request log's rate) hold the same clock. Tests and fault
// injection install their own; nothing else in actors/ may read std::chrono's
// clocks.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace conflux::actors {

class node_clock {
public:
  virtual ~node_clock() = default;
  /// Wall time in ms since the Unix epoch. It may jump (NTP, an operator):
  /// the raft shell never lets the stamps it puts on entries go backwards.
  virtual std::int64_t wall_ms() const;
  /// A monotonic reading, for durations (log lines, timeouts).
  virtual std::chrono::steady_clock::time_point steady() const;
};

/// The system's clocks.
std::shared_ptr<const node_clock> system_node_clock();

/// Fault injection only (conflux-node --fault-clock-offset-file, used by
/// conflux-chaos to jump a leader's wall clock): the system's clocks, with
/// the signed number of milliseconds written in `path` added to the wall
/// clock. The file is read again at most every 20 ms of steady time; a
/// missing or unreadable file keeps the last offset (0 at first).
std::shared_ptr<const node_clock> offset_file_clock(std::string path);

} // namespace conflux::actors
