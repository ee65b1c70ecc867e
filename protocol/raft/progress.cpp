#include "protocol/raft/progress.hpp"

#include <algorithm>

namespace conflux::raft {

void progress::become_probe() {
  // After a snapshot the follower holds at least the snapshot index.
  if (state_ == progress_state::snapshot) {
    next_ = std::max(match_ + 1, pending_snapshot_ + 1);
  } else {
    next_ = match_ + 1;
  }
  state_ = progress_state::probe;
  pending_snapshot_ = 0;
  probe_sent_ = false;
  inflight_.clear();
}

void progress::become_replicate() {
  state_ = progress_state::replicate;
  next_ = match_ + 1;
  pending_snapshot_ = 0;
  probe_sent_ = false;
  inflight_.clear();
}

void progress::become_snapshot(index_t snapshot_index) {
  state_ = progress_state::snapshot;
  pending_snapshot_ = snapshot_index;
  snapshot_ticks = 0;
  probe_sent_ = false;
  inflight_.clear();
}

bool progress::maybe_update(index_t index) {
  bool updated = false;
  if (index > match_) {
    match_ = index;
    updated = true;
    probe_sent_ = false;
  }
  next_ = std::max(next_, index + 1);
  while (!inflight_.empty() && inflight_.front() <= index)
    inflight_.pop_front();
  return updated;
}

void progress::sent_entries(index_t last) {
  if (state_ == progress_state::replicate) {
    next_ = last + 1;
    inflight_.push_back(last);
  } else if (state_ == progress_state::probe) {
    probe_sent_ = true;
  }
}

bool progress::maybe_decrease(index_t rejected, index_t hint_next) {
  if (state_ == progress_state::replicate) {
    // A rejection at or below the match point is a reordered old reply.
    if (rejected <= match_)
      return false;
    next_ = match_ + 1;
    return true;
  }
  // Probing: only the answer to the probe we sent (prev == next - 1) counts.
  if (next_ == 0 || rejected != next_ - 1)
    return false;
  next_ = std::max(std::min(rejected, hint_next), match_ + 1);
  probe_sent_ = false;
  return true;
}

void progress::heartbeat_answered() {
  probe_sent_ = false;
  if (state_ == progress_state::replicate && inflight_.size() >= max_inflight_)
    inflight_.pop_front();
}

bool progress::is_paused() const {
  switch (state_) {
  case progress_state::probe:
    return probe_sent_;
  case progress_state::replicate:
    return inflight_.size() >= max_inflight_;
  case progress_state::snapshot:
    return true;
  }
  return true;
}

} // namespace conflux::raft
