// Named scenarios for the classic Raft bugs (docs/design.md, Testing tiers), each
// driven step by step over the simulated cluster. Each one fails if the rule it names
// is removed from the core.

#include "tests/protocol/raft/builders.hpp"
#include "tests/protocol/raft/checked_core.hpp"
#include "tests/sim/cluster.hpp"

#include <doctest/doctest.h>
#include <functional>

using namespace conflux::sim;

namespace {

using pred = std::function<bool(const envelope&)>;

bool carries_index(const envelope& e, index_t i) {
  if (auto* a = std::get_if<append_entries_request>(&e.msg))
    for (const auto& x : a->entries)
      if (x->index == i)
        return true;
  return false;
}

/// Persists and delivers one message at a time until quiet, dropping
/// everything `drop` matches first.
void pump(cluster& c, const pred& drop, int max = 5000) {
  for (int k = 0; k < max; ++k) {
    c.drop_if(drop);
    bool busy = false;
    for (auto id : c.ids()) {
      if (c.node(id).up && !c.node(id).disk_stalled && !c.node(id).writes.empty()) {
        c.persist_all(id);
        busy = true;
      }
    }
    c.drop_if(drop);
    if (!c.network().empty()) {
      c.deliver(0);
      busy = true;
    }
    if (!busy)
      return;
  }
}

void pump(cluster& c) {
  pump(c, [](const envelope&) { return false; });
}

/// Elects `id` with the votes of `voters` only (everyone else's traffic is
/// dropped while it happens), retrying a bounded number of times.
void elect_with(
    cluster& c, server_id id, std::vector<server_id> voters,
    const pred& also_drop = [](const envelope&) { return false; }) {
  auto involved = [&](server_id s) {
    return s == id || std::find(voters.begin(), voters.end(), s) != voters.end();
  };
  for (int attempt = 0; attempt < 5 && !c.raft(id).is_leader(); ++attempt) {
    c.campaign(id);
    pump(
        c,
        [&](const envelope& e) {
          return !involved(e.from) || !involved(e.to) || also_drop(e);
        },
        200);
  }
  std::string state;
  for (auto s : c.ids())
    if (c.node(s).up)
      state += " [" + std::to_string(s) + " " + role_name(c.raft(s).current_role()) +
               " t" + std::to_string(c.raft(s).term()) + " vote" +
               std::to_string(c.raft(s).vote()) + " last" +
               std::to_string(c.raft(s).log().last_index()) + "/" +
               std::to_string(c.raft(s).log().last_term()) + " writes" +
               std::to_string(c.node(s).writes.size()) + "]";
  INFO("electing " << id << ":" << state);
  REQUIRE(c.raft(id).is_leader());
}

core_config scenario_config() {
  core_config cfg;
  cfg.election_ticks = 10;
  cfg.heartbeat_ticks = 1;
  return cfg;
}

} // namespace

TEST_CASE("leader_commits_only_entries_of_its_own_term") {
  // Paper §5.4.2, figure 8, with one entry per AppendEntries so the test can
  // choose exactly which entries reach whom.
  auto cfg = scenario_config();
  cfg.max_entries_per_message = 1;
  checked_cluster c({1, 2, 3, 4, 5}, 8, cfg);
  elect_with(c, 1, {2, 3, 4, 5});
  pump(c);
  REQUIRE(c.raft(1).commit_index() == 1);

  // (a) S1 replicates entry 2 (its own term) to S2 only.
  REQUIRE(c.propose(1, "k", "figure-8").ok());
  pump(
      c, [](const envelope& e) { return e.from == 1 && e.to != 2; }, 200);
  REQUIRE(c.raft(2).log().last_index() == 2);
  REQUIRE(c.raft(1).commit_index() == 1);

  // (b) S1 crashes; S5 wins with S3 and S4, appends entry 2 of its term
  // locally only, and crashes.
  c.crash(1);
  c.network().clear();
  elect_with(c, 5, {3, 4}, [](const envelope& e) {
    return std::holds_alternative<append_entries_request>(e.msg);
  });
  c.persist_all(5);
  REQUIRE(c.raft(5).log().last_term() == c.raft(5).term());
  REQUIRE(c.raft(3).log().last_index() == 1);
  c.crash(5);
  c.network().clear();

  // (c) S1 restarts, wins with S2 and S3, and gets its old entry 2 onto S3 but
  // not its new no-op: entry 2 (an earlier term) is now on a majority (S1, S2,
  // S3) while S3, S4 and S5 could still elect S5.
  c.restart(1);
  const index_t noop = 3;
  // Messages carrying the no-op never reach S3 once it holds entry 2 (before
  // that it rejects them anyway, which is how S1 finds S3's gap).
  auto hold_noop = [&](const envelope& e) {
    if (e.to == 4 || e.to == 5)
      return true;
    return e.to == 3 && carries_index(e, noop) && c.raft(3).log().last_index() >= 2;
  };
  elect_with(c, 1, {2, 3}, hold_noop);
  REQUIRE(c.raft(1).log().last_index() == noop);
  for (int i = 0; i < 4; ++i) {
    // Heartbeats resume probes whose message we dropped.
    c.tick(1);
    pump(c, hold_noop);
  }
  REQUIRE(c.raft(3).log().last_index() == 2);
  REQUIRE(c.raft(3).log().term_at(2) == c.raft(1).log().term_at(2));
  REQUIRE(c.raft(1).progress_of(2)->match() == noop);
  REQUIRE(c.raft(1).progress_of(3)->match() == 2);
  // The rule: counting replicas never commits an entry of an earlier term.
  CHECK(c.raft(1).commit_index() < 2);

  // (d) S1 crashes; S5 wins with S3 and S4 and overwrites entry 2. Had S1
  // committed it, the checker reports a committed entry that changed.
  c.crash(1);
  c.network().clear();
  c.restart(5);
  elect_with(c, 5, {3, 4});
  pump(c, [](const envelope& e) { return e.to == 1 || e.to == 2 || e.from == 2; });
  CHECK(c.raft(3).log().term_at(2) == c.raft(5).log().term_at(2));
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("partitioned_leader_does_not_serve_stale_reads") {
  checked_cluster c({1, 2, 3}, 11, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  REQUIRE(c.propose(1, "k", "old").ok());
  pump(c);
  // The leader is cut off but does not know it yet (no ticks happen for it).
  c.isolate(1);
  c.heal();
  for (auto other : {2, 3}) {
    c.cut(1, other);
    c.cut(other, 1);
  }
  for (int i = 0; i < 60 && c.leader() == 1; ++i) {
    c.tick(2);
    c.tick(3);
    c.settle();
  }
  auto l = c.leader();
  REQUIRE((l == 2 || l == 3));
  REQUIRE(c.propose(l, "k", "new").ok());
  c.settle();
  REQUIRE(c.node(l).sm.data["k"] == "new");
  // The old leader still believes it leads; a linearizable read there must
  // wait for a heartbeat round it can never complete (thesis §6.4).
  REQUIRE(c.raft(1).is_leader());
  auto ctx = c.read(1, "k");
  c.settle();
  CHECK_FALSE(c.reads().at(ctx).done);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
  // Once the partition heals the old leader steps down and the read fails.
  c.heal();
  c.run(30);
  CHECK(c.reads().at(ctx).done);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("crash_before_persist_does_not_lose_a_committed_write") {
  checked_cluster c({1, 2, 3}, 12, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  auto r = c.propose(1, "k", "fragile");
  REQUIRE(r.ok());
  // The leader's disk has not written the entry yet; S2 has it durably.
  c.deliver_if([](const envelope& e) { return e.from == 1 && e.to == 2; });
  c.drop_if([](const envelope& e) { return e.from == 1 && e.to == 3; });
  c.persist_all(2);
  c.deliver_if([](const envelope& e) { return e.from == 2 && e.to == 1; });
  // docs/design.md, durability rule 2: one durable copy (S2) plus a non-durable one is
  // no majority.
  CHECK(c.raft(1).commit_index() < r.index);
  // The crash loses the leader's unwritten entry; S3 wins with S1's vote and
  // overwrites S2's copy. Had the entry been reported committed, the checker
  // flags a committed entry that changed.
  c.crash(1);
  c.network().clear();
  c.restart(1);
  elect_with(c, 3, {1});
  REQUIRE(c.propose(3, "k", "other").ok());
  pump(c);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("leader_asked_to_remove_itself_hands_over_and_is_removed_by_the_next") {
  checked_cluster c({1, 2, 3}, 13, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  auto r = c.change_membership(1, {membership_change_kind::remove, 1});
  // The core hands leadership over rather than leave the cluster leaderless
  // after its own removal commits (thesis §4.2.2 allows either).
  REQUIRE(r.reason == refusal::leader_handover);
  REQUIRE((r.leader_hint == 2 || r.leader_hint == 3));
  pump(c);
  c.run(60);
  auto l = c.leader();
  REQUIRE(l == r.leader_hint);
  CHECK_FALSE(c.raft(1).is_leader());
  CHECK(c.raft(1).membership().contains(1)); // nothing was appended
  auto removal = c.change_membership(l, {membership_change_kind::remove, 1});
  REQUIRE(removal.ok());
  c.settle();
  CHECK_FALSE(c.raft(l).membership().contains(1));
  // Server 1 is no longer replicated to, so it does not learn that its
  // removal committed (docs/operations.md: stop a removed node).
  auto w = c.propose(l, "k", "after-removal");
  REQUIRE(w.ok());
  c.settle();
  for (server_id id : {server_id{2}, server_id{3}})
    CHECK(c.raft(id).commit_index() >= w.index);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("new_leader_refuses_membership_change_before_committing_in_its_term") {
  checked_cluster c({1, 2, 3}, 14, scenario_config());
  c.campaign(1);
  // Deliver the election but hold back everything the new leader replicates.
  c.persist_all(1);
  c.deliver_if([](const envelope& e) {
    return std::holds_alternative<request_vote_request>(e.msg) ||
           std::holds_alternative<request_vote_response>(e.msg);
  });
  c.persist_all(2);
  c.persist_all(3);
  c.deliver_if([](const envelope& e) {
    return std::holds_alternative<request_vote_response>(e.msg);
  });
  REQUIRE(c.raft(1).is_leader());
  REQUIRE(c.raft(1).commit_index() == 0);
  // Thesis §4.1 (the 2015 single-server change fix): no change until an entry
  // of this term commits.
  auto early = c.change_membership(1, {membership_change_kind::add_voter, 4});
  CHECK(early.reason == refusal::not_committed_in_term);
  pump(c);
  REQUIRE(c.raft(1).commit_index() == 1);
  c.add_server(4);
  auto later = c.change_membership(1, {membership_change_kind::add_voter, 4});
  CHECK(later.ok());
  // At most one uncommitted change at a time.
  auto second = c.change_membership(1, {membership_change_kind::remove, 3});
  CHECK(second.reason == refusal::change_in_progress);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("far_behind_follower_catches_up_with_a_single_snapshot") {
  auto cfg = scenario_config();
  cfg.max_entries_per_message = 4;
  checked_cluster c({1, 2, 3}, 15, cfg);
  elect_with(c, 1, {2, 3});
  pump(c);
  c.isolate(3);
  for (int i = 0; i < 40; ++i) {
    REQUIRE(c.propose(1, "k" + std::to_string(i % 3), std::to_string(i)).ok());
    c.settle();
  }
  c.take_snapshot(1);
  c.take_snapshot(2);
  REQUIRE(c.raft(1).log().snapshot_index() > c.raft(3).log().last_index());
  c.heal();
  // Traffic continues while the follower catches up, and the leader keeps
  // compacting.
  for (int round = 0; round < 40; ++round) {
    c.tick_all();
    c.propose(1, "k", "during-" + std::to_string(round));
    c.settle();
    if (round == 10)
      c.take_snapshot(1);
  }
  CHECK(c.node(3).sm.applied == c.raft(1).commit_index());
  CHECK(c.node(3).sm.data == c.node(1).sm.data);
  // Paper §7: one snapshot, then ordinary appends; never a snapshot loop.
  CHECK(c.count_events(event_kind::snapshot_sending, 1) == 1);
  CHECK(c.count_events(event_kind::snapshot_installing, 3) == 1);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("rejoining_partitioned_server_does_not_disrupt_a_healthy_leader") {
  checked_cluster c({1, 2, 3}, 16, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  const auto term = c.raft(1).term();
  c.isolate(3);
  // S3 times out again and again while cut off (thesis §9.6 pre-vote keeps
  // its term from climbing).
  for (int i = 0; i < 100; ++i) {
    c.tick_all();
    c.settle();
  }
  c.heal();
  c.run(50);
  CHECK(c.leader() == 1);
  CHECK(c.raft(1).term() == term);
  CHECK(c.raft(3).leader() == 1);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("stale_persist_ack_after_truncation_is_ignored") {
  checked_cluster c({1, 2, 3}, 17, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  // S1 (leader) appends an entry; its disk write is slow.
  c.node(1).disk_stalled = true;
  auto x = c.propose(1, "k", "doomed");
  REQUIRE(x.ok());
  c.network().clear();
  REQUIRE(c.node(1).writes.size() == 1);
  // Meanwhile S2 leads a newer term and commits a different entry there.
  elect_with(c, 2, {3});
  auto y = c.propose(2, "k", "winner");
  REQUIRE(y.ok());
  REQUIRE(y.index >= x.index);
  pump(c, [](const envelope& e) { return e.to == 1 || e.from == 1; });
  // S1 hears from S2: it truncates the doomed entry and appends S2's.
  c.network().clear();
  c.network().push_back(
      envelope{2, 1,
               append_request()
                   .term(c.raft(2).term())
                   .prev_log(x.index - 1, *c.raft(2).log().term_at(x.index - 1))
                   .entries({c.raft(2).log().at(x.index)})});
  c.deliver(0);
  REQUIRE(c.raft(1).log().at(x.index)->term == c.raft(2).term());
  REQUIRE(c.node(1).writes.size() == 2);
  // The old write completes now: it vouches for the truncated entry only.
  c.node(1).disk_stalled = false;
  const auto durable_before = c.raft(1).durable_index();
  c.persist_one(1);
  CHECK(c.raft(1).durable_index() == durable_before);
  CHECK(c.raft(1).durable_index() < x.index);
  CHECK(c.count_events(event_kind::stale_persist_ack, 1) == 1);
  c.persist_all(1);
  CHECK(c.raft(1).durable_index() == x.index);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("leadership_transfer_catches_up_a_lagging_target_first") {
  checked_cluster c({1, 2, 3}, 18, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  c.cut(1, 3);
  index_t last = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = c.propose(1, "k", std::to_string(i));
    REQUIRE(r.ok());
    last = r.index;
    c.settle();
  }
  REQUIRE(c.raft(1).commit_index() == last);
  REQUIRE(c.raft(3).log().last_index() < last);
  c.heal();
  REQUIRE(c.transfer(1, 3).ok());
  // Thesis §3.10: no new proposals while the transfer runs.
  CHECK(c.propose(1, "k", "refused").reason == refusal::transfer_in_progress);
  pump(c);
  CHECK(c.leader() == 3);
  CHECK(c.raft(3).log().last_index() > last);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

// -- traffic from servers outside the configuration (core::admits) -------------

TEST_CASE("a_leader_drops_a_non_members_claim_to_lead_a_later_term") {
  checked_cluster c({1, 2, 3}, 23, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  const auto term = c.raft(1).term();
  // Server 9 is in no configuration. Admitted, a heartbeat of a far later
  // term would depose the leader.
  c.network().push_back(envelope{9, 1, heartbeat_request{term + 1000, 0, 0}});
  c.deliver(c.network().size() - 1);
  c.settle();
  CHECK(c.raft(1).is_leader());
  CHECK(c.raft(1).term() == term);
  CHECK(c.count_events(event_kind::dropped_non_member, 1) == 1);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("a_follower_that_hears_its_leader_drops_a_non_member") {
  checked_cluster c({1, 2, 3}, 24, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  const auto term = c.raft(2).term();
  REQUIRE(c.raft(2).leader() == 1);
  c.network().push_back(envelope{9, 2, heartbeat_request{term + 1000, 0, 0}});
  c.deliver(c.network().size() - 1);
  c.settle();
  CHECK(c.raft(2).leader() == 1);
  CHECK(c.raft(2).term() == term);
  CHECK(c.count_events(event_kind::dropped_non_member, 2) == 1);
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("a_lagging_follower_follows_a_new_leader_its_configuration_does_not_list") {
  checked_cluster c({1, 2, 3}, 25, scenario_config());
  elect_with(c, 1, {2, 3});
  pump(c);
  // Server 3 hears nothing of server 4's addition, promotion and election.
  c.isolate(3);
  c.add_server(4);
  c.cut(3, 4);
  c.cut(4, 3);
  REQUIRE(c.change_membership(1, {membership_change_kind::add_voter, 4}).ok());
  for (int i = 0; i < 100 && !c.raft(1).membership().is_voter(4); ++i)
    c.run(1);
  REQUIRE(c.raft(1).membership().is_voter(4));
  REQUIRE(c.propose(1, "k", "before").ok());
  c.run(5);
  REQUIRE(c.transfer(1, 4).ok());
  for (int i = 0; i < 100 && c.leader() != 4; ++i)
    c.run(1);
  REQUIRE(c.leader() == 4);
  REQUIRE_FALSE(c.raft(3).membership().contains(4));
  REQUIRE(c.propose(4, "k", "after").ok());
  c.heal();
  // Server 4 is not in server 3's configuration, yet only it can send 3 the
  // entries that say so: 3 must admit it once it hears no other leader.
  for (int i = 0; i < 200 && !(c.raft(3).leader() == 4 &&
                               c.raft(3).commit_index() == c.raft(4).commit_index());
       ++i)
    c.run(1);
  CHECK(c.raft(3).leader() == 4);
  CHECK(c.raft(3).membership().is_voter(4));
  CHECK(c.raft(3).commit_index() == c.raft(4).commit_index());
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}
