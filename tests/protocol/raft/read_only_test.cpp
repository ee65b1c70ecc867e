#include "protocol/raft/read_only.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

TEST_CASE("read_index_released_only_after_majority_acks_a_later_round") {
  read_only r;
  auto s1 = r.add(100, 1, 7);
  r.ack(2, s1 - 1); // an ack of an older round proves nothing
  CHECK(r.release({1, 2, 3}, 1).empty());
  auto s2 = r.add(101, 1, 8);
  r.ack(2, s1);
  auto out = r.release({1, 2, 3}, 1);
  REQUIRE(out.size() == 1);
  CHECK(out[0].context == 100);
  CHECK(out[0].index == 7);
  r.ack(3, s2);
  out = r.release({1, 2, 3}, 1);
  REQUIRE(out.size() == 1);
  CHECK(out[0].context == 101);
  CHECK(r.empty());
}
