#include "protocol/raft/quorum.hpp"

#include <algorithm>
#include <functional>

namespace conflux::raft {

std::size_t quorum_size(std::size_t voters) {
  return voters / 2 + 1;
}

index_t quorum_index(const std::vector<server_id>& voters,
                     const std::map<server_id, index_t>& acked) {
  if (voters.empty())
    return 0;
  std::vector<index_t> v;
  v.reserve(voters.size());
  for (auto id : voters) {
    auto i = acked.find(id);
    v.push_back(i == acked.end() ? 0 : i->second);
  }
  std::sort(v.begin(), v.end(), std::greater<>());
  return v[quorum_size(voters.size()) - 1];
}

vote_result tally(const std::vector<server_id>& voters,
                  const std::map<server_id, bool>& votes) {
  std::size_t granted = 0;
  std::size_t rejected = 0;
  for (auto id : voters) {
    auto i = votes.find(id);
    if (i == votes.end())
      continue;
    (i->second ? granted : rejected) += 1;
  }
  auto q = quorum_size(voters.size());
  if (granted >= q)
    return vote_result::won;
  if (rejected > voters.size() - q)
    return vote_result::lost;
  return vote_result::pending;
}

} // namespace conflux::raft
