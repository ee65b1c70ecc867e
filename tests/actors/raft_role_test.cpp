// The Raft roles as separate actors: the core moves between the follower,
// candidate and leader actors as its role changes, the node's slot always
// names the holder, a dormant role forwards what still reaches it, a role's
// promises are answered when the role ends, ticks keep their pace across
// handovers, and time comes from the node's clock.

#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

raft_role_state& role_state(const raft_actor_impl& h) {
  auto* p = dynamic_cast<raft_role_self>(caf::actor_cast<caf::abstract_actor*>(h));
  REQUIRE(p != nullptr);
  return p->state;
}

/// Which role actors hold a core (exactly one should).
std::vector<role_kind> holders(const test_node& n) {
  std::vector<role_kind> out;
  for (auto& [kind, h] : n.roles)
    if (role_state(h).shell)
      out.push_back(kind);
  return out;
}

/// Node 3 leads term 2: node 1 hears its heartbeat (commit 1) and steps down.
void depose_node1(cluster_fixture& f) {
  f.send_from(f.n, 3, raft::heartbeat_request{2, 1, 0});
  f.run();
}

/// A node clock the test moves: wall time may jump, steady time only
/// advances when the test says so.
class manual_clock final : public node_clock {
public:
  std::int64_t now = 1'800'000'000'000;
  std::chrono::steady_clock::time_point steady_now =
      std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::int64_t wall_ms() const override { return now; }
  std::chrono::steady_clock::time_point steady() const override { return steady_now; }
  /// Real time passes: both clocks move by `ms`.
  void pass(std::int64_t ms) {
    now += ms;
    steady_now += std::chrono::milliseconds(ms);
  }
};

constexpr std::int64_t hour_ms = 3'600'000;

std::int64_t stamp_of(const test_node& n, raft::index_t i) {
  auto e = fixture::log_state(n.log).store->entry(i);
  REQUIRE(e.ok());
  return e->timestamp_ms;
}

} // namespace

TEST_CASE_FIXTURE(cluster_fixture,
                  "the_core_moves_to_the_actor_of_its_role_and_the_slot_follows") {
  CHECK(holders(n) == std::vector<role_kind>{role_kind::follower});
  CHECK(n.raft() == n.roles.at(role_kind::follower));

  elect_node1();
  CHECK(holders(n) == std::vector<role_kind>{role_kind::leader});
  CHECK(n.raft() == n.roles.at(role_kind::leader));
  CHECK(role_state(n.roles.at(role_kind::candidate)).tenure == nullptr);

  depose_node1(*this);
  CHECK(holders(n) == std::vector<role_kind>{role_kind::follower});
  CHECK(n.raft() == n.roles.at(role_kind::follower));
  auto s = status(n);
  CHECK(s.role == "follower");
  CHECK(s.term == 2u);
  CHECK(s.leader_id == 3u);
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(
    cluster_fixture,
    "a_write_pending_when_leadership_ends_is_answered_at_once_as_unknown") {
  elect_node1();
  auto rh = request<raft_reply>(n.raft(), propose_request{create_cmd(key_a)});
  run();
  REQUIRE_FALSE(rh->done); // node 2 has not acknowledged entry 2

  depose_node1(*this);
  // Answered when leadership ended, not when (if ever) index 2 applies. The
  // entry (term 1, above the commit index) may still commit under node 3,
  // so the answer must not claim it was not applied.
  REQUIRE_MESSAGE(rh->done, "the pending write was not answered when leadership ended");
  auto r = value_of(rh);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::timeout);
  CHECK(r.err->message.find("may or may not apply") != std::string::npos);
  CHECK(r.leader_id == 3u);
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "a_read_pending_when_leadership_ends_is_answered_not_leader") {
  elect_node1();
  auto rh = request<raft_reply>(n.raft(), read_atom::value);
  run();
  REQUIRE_FALSE(rh->done); // no heartbeat round confirmed it yet

  depose_node1(*this);
  REQUIRE(rh->done);
  auto r = value_of(rh);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::not_leader);
  CHECK(r.leader_id == 3u);
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "a_request_reaching_a_role_that_handed_the_core_on_is_forwarded") {
  elect_node1();
  // A session read the slot just before the election ended and sent to the
  // follower actor: the follower forwards, the leader answers the session.
  auto rh = request<raft_reply>(n.roles.at(role_kind::follower),
                                propose_request{create_cmd(key_a)});
  run();
  REQUIRE_FALSE(rh->done);
  REQUIRE(log_state(n.log).store->last_index() == 2u);
  send_from(n, 2, raft::append_entries_response{1, true, 2, 0, 0});
  run();
  auto r = value_of(rh);
  CHECK_FALSE(r.err.has_value());
  CHECK(r.index == 2u);

  // Status asked of a dormant role is the holder's.
  auto st =
      ask<rpc::status_reply>(n.roles.at(role_kind::candidate), status_atom::value);
  CHECK(st.role == "leader");
}

TEST_CASE_FIXTURE(cluster_fixture, "ticks_keep_their_pace_across_role_changes") {
  elect_node1();
  depose_node1(*this);
  // The follower actor held the core before and ticked then; its old tick
  // chain and the candidate's and leader's must all be dead now.
  auto before = shell_of(n).ticks();
  for (int i = 0; i < 5; ++i)
    tick(n);
  CHECK(shell_of(n).ticks() == before + 5);
}

TEST_CASE_FIXTURE(cluster_fixture, "membership_requests_get_the_cores_typed_refusals") {
  elect_node1();
  auto add = ask<raft_reply>(
      n.raft(),
      membership_request{raft::membership_change_kind::add_voter, 2, "127.0.0.1:7102"});
  REQUIRE(add.err.has_value());
  CHECK(add.err->code == errc::already_exists);
  auto remove = ask<raft_reply>(
      n.raft(), membership_request{raft::membership_change_kind::remove, 9, ""});
  REQUIRE(remove.err.has_value());
  CHECK(remove.err->code == errc::not_found);
  CHECK(remove.err->message.find("node 9 is not a member") != std::string::npos);
  auto transfer = ask<raft_reply>(n.raft(), transfer_request{9});
  REQUIRE(transfer.err.has_value());
  CHECK(transfer.err->code == errc::not_found);
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "entries_are_stamped_by_the_node_clock_and_never_go_back") {
  auto clock = std::make_shared<manual_clock>();
  n.ctx->clock = clock;
  elect_node1();
  auto first = request<raft_reply>(n.raft(), propose_request{create_cmd(key_a)});
  run();
  auto e2 = log_state(n.log).store->entry(2);
  REQUIRE(e2.ok());
  CHECK(e2->timestamp_ms == clock->now);

  // The wall clock jumps back an hour: the next stamp does not.
  const auto stamped = clock->now;
  clock->now -= 3'600'000;
  auto second = request<raft_reply>(n.raft(), propose_request{create_cmd(key_b)});
  run();
  auto e3 = log_state(n.log).store->entry(3);
  REQUIRE(e3.ok());
  CHECK(e3->timestamp_ms == stamped);
}

TEST_CASE_FIXTURE(
    cluster_fixture,
    "a_leaders_stamps_follow_its_steady_clock_when_its_wall_clock_jumps") {
  auto clock = std::make_shared<manual_clock>();
  n.ctx->clock = clock;
  elect_node1();
  request<raft_reply>(n.raft(), propose_request{create_cmd(key_a)});
  run();
  const auto t2 = stamp_of(n, 2);
  CHECK(t2 == clock->now);

  // The wall clock jumps an hour forward, then 10 s pass: the stamp moves
  // 10 s and at most 1% more, not an hour.
  clock->now += hour_ms;
  clock->pass(10'000);
  request<raft_reply>(n.raft(), propose_request{create_cmd(key_b)});
  run();
  const auto t3 = stamp_of(n, 3);
  CHECK(t3 >= t2 + 10'000);
  CHECK(t3 <= t2 + 10'100);

  // It jumps two hours back, then 10 s pass: the stamp still moves at least
  // 99% of them, never back.
  clock->now -= 2 * hour_ms;
  clock->pass(10'000);
  request<raft_reply>(n.raft(),
                      propose_request{create_cmd("acme/billing/prod/c.json")});
  run();
  const auto t4 = stamp_of(n, 4);
  CHECK(t4 >= t3 + 9'900);
  CHECK(t4 <= t3 + 10'000);
}

TEST_CASE_FIXTURE(fixture,
                  "a_restarted_leader_never_stamps_below_the_stamps_in_its_log") {
  auto clock = std::make_shared<manual_clock>();
  auto n = start_node(1, {1});
  n.ctx->clock = clock;
  clock->now += hour_ms; // the wall clock is an hour ahead while it leads
  elect_single(n);
  auto first = propose(n, create_cmd(key_a));
  REQUIRE(!first.err);
  const auto stamped = stamp_of(n, first.index);
  CHECK(stamped >= clock->now);
  stop_node(n);

  // Restarted with the wall clock put right (an hour back).
  n = start_node(1, {1});
  clock->now -= hour_ms;
  n.ctx->clock = clock;
  elect_single(n);
  auto second = propose(n, create_cmd(key_b));
  REQUIRE(!second.err);
  for (auto i = first.index + 1; i <= second.index; ++i)
    CHECK(stamp_of(n, i) >= stamped);
}

TEST_CASE_FIXTURE(
    fixture, "a_restarted_leader_with_a_compacted_log_starts_from_the_applied_stamp") {
  auto clock = std::make_shared<manual_clock>();
  auto n = start_node(1, {1});
  n.ctx->clock = clock;
  clock->now += hour_ms;
  elect_single(n);
  auto first = propose(n, create_cmd(key_a));
  REQUIRE(!first.err);
  const auto stamped = stamp_of(n, first.index);
  {
    auto txn = read_state(*n.ctx);
    auto ts = txn.get_counter(counter::applied_timestamp_ms);
    REQUIRE(ts.ok());
    CHECK(static_cast<std::int64_t>(*ts) == stamped);
  }
  stop_node(n);
  {
    // Compaction (as after a snapshot) leaves no entry in the log.
    auto log = open_log(1);
    REQUIRE(log->drop_prefix(log->last_index()).ok());
  }

  n = start_node(1, {1});
  clock->now -= hour_ms;
  n.ctx->clock = clock;
  elect_single(n);
  auto second = propose(n, create_cmd(key_b));
  REQUIRE(!second.err);
  for (auto i = first.index + 1; i <= second.index; ++i)
    CHECK(stamp_of(n, i) >= stamped);
}
