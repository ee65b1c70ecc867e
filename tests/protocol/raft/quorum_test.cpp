#include "protocol/raft/quorum.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

TEST_CASE("quorum_index_is_the_majority_match_point") {
  std::vector<server_id> v{1, 2, 3, 4, 5};
  CHECK(quorum_index(v, {{1, 9}, {2, 7}, {3, 5}, {4, 1}}) == 5);
  CHECK(quorum_index({1, 2, 3}, {{1, 4}}) == 0);
  CHECK(quorum_index({1}, {{1, 4}}) == 4);
  // Non-voters do not count.
  CHECK(quorum_index({1, 2, 3}, {{1, 4}, {9, 9}, {8, 9}}) == 0);
}

TEST_CASE("vote_tally_needs_a_majority_either_way") {
  std::vector<server_id> v{1, 2, 3, 4};
  CHECK(tally(v, {{1, true}, {2, true}}) == vote_result::pending);
  CHECK(tally(v, {{1, true}, {2, true}, {3, true}}) == vote_result::won);
  CHECK(tally(v, {{1, true}, {2, false}, {3, false}}) == vote_result::lost);
  CHECK(tally(v, {{9, true}, {8, true}, {1, true}}) == vote_result::pending);
}
