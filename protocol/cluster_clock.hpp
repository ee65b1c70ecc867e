#pragma once
// Cluster time: the clock a leader stamps log entries with (docs/design.md,
// "Time"). Token and session expiry are decided from these stamps at apply,
// so they must not follow a wall clock that jumps: a stamp never goes below
// an earlier reading or below any stamp observed in the log, it advances with
// the steady (monotonic) clock, and it is pulled towards wall time by at most
// 1% of the steady time elapsed, ahead or behind. A wall clock stepped an
// hour forward moves cluster time by at most 36 s per hour of real time; one
// stepped back slows cluster time to 99% of real time until wall time has
// caught up, and never sends it backwards.
//
// Pure: the caller passes every reading (protocol code reads no clock). Owned
// by the raft shell of one node (actors/raft_shell.hpp), which feeds it the
// stamps of every entry that enters its log, so the node, once it leads,
// never stamps below its predecessor.

#include <cstdint>

namespace conflux {

class cluster_clock {
public:
  /// The largest correction towards wall time: 1% of the steady time elapsed,
  /// expressed as microseconds of correction per millisecond elapsed.
  static constexpr std::int64_t max_slew_us_per_ms = 10;

  /// Raises the floor: no later reading is below `stamp_ms` (the stamp of an
  /// entry in this node's log, or of the last entry the state applied).
  void observe(std::int64_t stamp_ms);

  /// Cluster time in ms since the Unix epoch when the steady clock reads
  /// `steady_ms` (any fixed origin) and the wall clock `wall_ms`. The first
  /// reading starts at the floor or at wall time, whichever is later (a node
  /// that just started has no steady history to judge its wall clock by).
  /// Never smaller than an earlier reading. A steady reading that goes back
  /// counts as no time elapsed.
  std::int64_t now(std::int64_t steady_ms, std::int64_t wall_ms);

  /// The highest stamp observed (0 if none).
  std::int64_t floor_ms() const { return floor_us_ / 1000; }
  /// Whether now() was called yet.
  bool started() const { return started_; }

private:
  bool started_ = false;
  /// Kept in microseconds so that a 1% correction over a short interval (a
  /// 50 ms tick allows 500 us) is not lost to rounding.
  std::int64_t time_us_ = 0;
  std::int64_t floor_us_ = 0;
  std::int64_t steady_ms_ = 0;
};

} // namespace conflux
