#include "protocol/raft/progress.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

TEST_CASE("probe_sends_one_message_until_answered") {
  progress p(10, 4);
  CHECK_FALSE(p.is_paused());
  p.sent_entries(12);
  CHECK(p.is_paused());
  CHECK(p.next() == 10);
  p.heartbeat_answered();
  CHECK_FALSE(p.is_paused());
}

TEST_CASE("replicate_pipelines_up_to_the_inflight_window") {
  progress p(1, 3);
  CHECK(p.maybe_update(5));
  p.become_replicate();
  CHECK(p.next() == 6);
  p.sent_entries(7);
  p.sent_entries(9);
  CHECK_FALSE(p.is_paused());
  p.sent_entries(10);
  CHECK(p.is_paused());
  CHECK(p.next() == 11);
  CHECK(p.maybe_update(9)); // frees the first two slots
  CHECK(p.inflight() == 1);
  CHECK_FALSE(p.is_paused());
}

TEST_CASE("stale_rejections_do_not_move_next_back") {
  progress p(1, 3);
  p.maybe_update(5);
  p.become_replicate();
  p.sent_entries(8);
  CHECK_FALSE(p.maybe_decrease(4, 1)); // rejection below match: reordered old reply
  CHECK(p.maybe_decrease(8, 7));
  CHECK(p.next() == 6);
  p.become_probe();
  CHECK_FALSE(p.maybe_decrease(3, 1)); // not the probe we sent (prev 5)
  CHECK(p.maybe_decrease(5, 1));
  CHECK(p.next() == 6); // never below match + 1
}

TEST_CASE("snapshot_state_pauses_until_the_follower_catches_up") {
  progress p(3, 3);
  p.become_snapshot(50);
  CHECK(p.is_paused());
  CHECK(p.pending_snapshot() == 50);
  p.become_probe();
  CHECK(p.next() == 51);
}
