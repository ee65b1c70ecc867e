#pragma once
// The leader's view of one follower's log (Raft thesis §3.5 nextIndex /
// matchIndex, extended with etcd's flow-control states). Owned by the leader's
// core, one per other member; discarded when leadership ends.

#include "protocol/raft/types.hpp"

#include <cstddef>
#include <deque>

namespace conflux::raft {

enum class progress_state : std::uint8_t {
  /// Unknown match point: one AppendEntries at a time until one succeeds.
  probe,
  /// Known match point: pipeline AppendEntries optimistically (thesis §10.2.1)
  /// within a bounded window.
  replicate,
  /// The next entry is compacted: a snapshot is on its way (paper §7).
  snapshot,
};

class progress {
public:
  progress(index_t next, std::size_t max_inflight)
      : next_(next), max_inflight_(max_inflight) {}

  progress_state state() const { return state_; }
  index_t match() const { return match_; }
  index_t next() const { return next_; }
  index_t pending_snapshot() const { return pending_snapshot_; }
  std::size_t inflight() const { return inflight_.size(); }
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool a) { recent_active_ = a; }

  void become_probe();
  void become_replicate();
  void become_snapshot(index_t snapshot_index);

  /// A success ack for `index`; returns whether the match point advanced.
  bool maybe_update(index_t index);
  /// Records that entries up to `last` were sent (replicate: advances next and
  /// takes a window slot; probe: pauses until an answer or a heartbeat).
  void sent_entries(index_t last);
  /// A rejection of prev index `rejected` with back-off target `hint_next`;
  /// returns false if the rejection is stale (already superseded).
  bool maybe_decrease(index_t rejected, index_t hint_next);
  /// A heartbeat answered: lets a paused probe send again and frees one window
  /// slot so a lost ack cannot stall the pipeline forever.
  void heartbeat_answered();
  bool is_paused() const;
  /// Probe only: wait for the next heartbeat answer before sending again.
  void pause_probe() { probe_sent_ = true; }

  int snapshot_ticks = 0;

private:
  progress_state state_ = progress_state::probe;
  index_t match_ = 0;
  index_t next_ = 1;
  index_t pending_snapshot_ = 0;
  bool probe_sent_ = false;
  bool recent_active_ = false;
  std::size_t max_inflight_;
  /// Last index of each AppendEntries in flight, in send order.
  std::deque<index_t> inflight_;
};

} // namespace conflux::raft
