#include "protocol/raft/read_only.hpp"

#include "protocol/raft/quorum.hpp"

#include <limits>

namespace conflux::raft {

std::uint64_t read_only::add(std::uint64_t context, server_id from, index_t index) {
  // Each read gets a fresh round: an ack for an older round may have been sent
  // before this read arrived, so it proves nothing about it (thesis §6.4 step 3).
  ++seq_;
  pending_.push_back(pending_read{context, from, index, seq_});
  return seq_;
}

void read_only::ack(server_id from, std::uint64_t seq) {
  auto& a = acked_[from];
  if (seq > a)
    a = seq;
}

std::vector<pending_read> read_only::release(const std::vector<server_id>& voters,
                                             server_id self) {
  std::vector<pending_read> out;
  if (pending_.empty())
    return out;
  auto acks = acked_;
  acks[self] = std::numeric_limits<std::uint64_t>::max();
  auto confirmed = quorum_index(voters, acks);
  while (!pending_.empty() && pending_.front().seq <= confirmed) {
    out.push_back(pending_.front());
    pending_.pop_front();
  }
  return out;
}

std::vector<pending_read> read_only::drop_all() {
  std::vector<pending_read> out(pending_.begin(), pending_.end());
  pending_.clear();
  acked_.clear();
  return out;
}

} // namespace conflux::raft
