#pragma once
// ReadIndex bookkeeping on the leader (Raft thesis §6.4): reads wait for a
// heartbeat round started after they arrived to be acknowledged by a majority,
// which proves no newer leader existed when the read index was taken. Owned by
// the leader's core; cleared when leadership ends.

#include "protocol/raft/types.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

namespace conflux::raft {

struct pending_read {
  std::uint64_t context = 0;
  /// Who asked: the leader itself or a follower (answered by message).
  server_id from = no_server;
  /// The leader's commit index when the read arrived.
  index_t index = 0;
  /// The heartbeat round that must be acknowledged by a majority.
  std::uint64_t seq = 0;
};

class read_only {
public:
  /// Queues a read and returns the round whose majority ack releases it.
  std::uint64_t add(std::uint64_t context, server_id from, index_t index);
  /// The round a heartbeat should carry now (0 when nothing waits).
  std::uint64_t current_seq() const { return pending_.empty() ? 0 : seq_; }
  /// Records that `from` acknowledged every round up to `seq`.
  void ack(server_id from, std::uint64_t seq);
  /// Removes and returns the reads whose round a majority of `voters` (the
  /// leader counting itself) acknowledged.
  std::vector<pending_read> release(const std::vector<server_id>& voters,
                                    server_id self);
  /// Removes and returns everything (leadership lost).
  std::vector<pending_read> drop_all();
  bool empty() const { return pending_.empty(); }

private:
  std::uint64_t seq_ = 0;
  std::deque<pending_read> pending_;
  std::map<server_id, std::uint64_t> acked_;
};

} // namespace conflux::raft
