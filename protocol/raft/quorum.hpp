#pragma once
// Majority arithmetic over a set of voters (paper §5.2, §5.3). Free
// functions, no state: the caller supplies who voted and how far each matched.

#include "protocol/raft/types.hpp"

#include <map>
#include <vector>

namespace conflux::raft {

enum class vote_result : std::uint8_t { pending, won, lost };

/// Majority size for n voters.
std::size_t quorum_size(std::size_t voters);

/// The largest index that a majority of `voters` has reached, given each
/// voter's acknowledged index (missing voters count as 0).
index_t quorum_index(const std::vector<server_id>& voters,
                     const std::map<server_id, index_t>& acked);

/// Tally of granted / rejected votes among `voters` (others are ignored).
vote_result tally(const std::vector<server_id>& voters,
                  const std::map<server_id, bool>& votes);

} // namespace conflux::raft
