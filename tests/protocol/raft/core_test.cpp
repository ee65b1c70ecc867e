// The consensus core driven directly, message by message, and through the
// simulated cluster where a whole exchange is the point.

#include "protocol/raft/core.hpp"
#include "tests/protocol/raft/builders.hpp"
#include "tests/protocol/raft/checked_core.hpp"
#include "tests/sim/cluster.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;
using conflux::sim::envelope;

namespace {

checked_core make_core(server_id id, std::vector<server_id> voters,
                       core_config cfg = {}) {
  cfg.id = id;
  restored_state st;
  st.bootstrap.voters = std::move(voters);
  return checked_core(cfg, std::move(st));
}

template <class T>
std::vector<std::pair<outgoing_message, T>> sent(const ready& r) {
  std::vector<std::pair<outgoing_message, T>> out;
  for (const auto& m : r.messages)
    if (auto* x = std::get_if<T>(&m.msg))
      out.emplace_back(m, *x);
  return out;
}

/// Ticks until the core's role changes or the bound is hit.
ready tick_until_campaign(checked_core& c, int max = 100) {
  ready acc;
  for (int i = 0; i < max && c.current_role() == role::follower; ++i)
    c.tick();
  return c.take_ready();
}

/// Makes a 3-voter core (id 1) the leader of term 1 with its no-op durable.
checked_core make_leader(core_config cfg = {}) {
  auto c = make_core(1, {1, 2, 3}, cfg);
  c.step(1, timeout_now().term(0));
  auto r = c.take_ready();
  c.persisted(r.persist_id);
  c.step(2, vote_response().term(1).granted());
  REQUIRE(c.is_leader());
  r = c.take_ready();
  c.persisted(r.persist_id);
  c.take_ready();
  return c;
}

} // namespace

TEST_CASE("follower_grants_one_vote_per_term_and_only_after_persisting_it") {
  auto f = make_core(2, {1, 2, 3});
  f.step(1, vote_request().term(1));
  auto r = f.take_ready();
  REQUIRE(r.hard);
  CHECK(r.hard->term == 1);
  CHECK(r.hard->vote == 1);
  CHECK(r.persist_id != 0);
  auto votes = sent<request_vote_response>(r);
  REQUIRE(votes.size() == 1);
  CHECK(votes[0].second.granted);
  CHECK(votes[0].first.after_persist); // docs/design.md, durability rule 1
  f.step(3, vote_request().term(1).last_log(5, 1));
  r = f.take_ready();
  votes = sent<request_vote_response>(r);
  REQUIRE(votes.size() == 1);
  CHECK_FALSE(votes[0].second.granted);
}

TEST_CASE("vote_refused_to_a_candidate_with_a_stale_log") {
  auto f = make_core(2, {1, 2, 3});
  // Give the follower an entry of term 2.
  f.step(1, append_request().term(2).entries({entry_at(1).term(2).noop()}));
  f.take_ready();
  f.step(3, vote_request().term(3).last_log(5, 1).leadership_transfer());
  auto votes = sent<request_vote_response>(f.take_ready());
  REQUIRE(votes.size() == 1);
  CHECK_FALSE(votes[0].second.granted); // paper §5.4.1
  CHECK(f.term() == 3);
}

TEST_CASE("pre_vote_campaign_does_not_change_term_or_vote") {
  auto c = make_core(1, {1, 2, 3});
  auto r = tick_until_campaign(c);
  CHECK(c.current_role() == role::pre_candidate);
  CHECK(c.term() == 0);
  CHECK_FALSE(r.hard.has_value());
  auto reqs = sent<request_vote_request>(r);
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].second.pre_vote);
  CHECK(reqs[0].second.term == 1);
  CHECK_FALSE(reqs[0].first.after_persist);
  // One granted pre-vote plus our own is a majority: now a real election.
  c.step(2, vote_response().term(1).pre_vote().granted());
  CHECK(c.current_role() == role::candidate);
  CHECK(c.term() == 1);
  r = c.take_ready();
  REQUIRE(r.hard);
  CHECK(r.hard->vote == 1);
  auto real = sent<request_vote_request>(r);
  REQUIRE(real.size() == 2);
  CHECK_FALSE(real[0].second.pre_vote);
  CHECK(real[0].first.after_persist);
}

TEST_CASE("candidate_counts_its_own_vote_only_once_durable") {
  auto c = make_core(1, {1});
  c.step(1, timeout_now().term(0));
  CHECK(c.current_role() == role::candidate);
  auto r = c.take_ready();
  CHECK_FALSE(c.is_leader());
  c.persisted(r.persist_id);
  CHECK(c.is_leader());
}

TEST_CASE("election_timeouts_are_randomised_within_one_to_two_timeouts") {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    core_config cfg;
    cfg.seed = seed;
    auto c = make_core(1, {1, 2, 3}, cfg);
    int ticks = 0;
    while (c.current_role() == role::follower && ticks < 100) {
      c.tick();
      ++ticks;
    }
    CHECK(ticks >= cfg.election_ticks);
    CHECK(ticks < 2 * cfg.election_ticks);
    seen.insert(ticks);
  }
  CHECK(seen.size() > 3);
}

TEST_CASE("follower_with_a_live_leader_ignores_vote_requests") {
  auto f = make_core(2, {1, 2, 3});
  f.step(1, heartbeat().term(1));
  f.take_ready();
  f.step(3, vote_request().term(5).last_log(9, 9));
  auto r = f.take_ready();
  CHECK(sent<request_vote_response>(r).empty()); // thesis §4.2.3
  CHECK(f.term() == 1);
  // A leadership-transfer election is exempt.
  f.step(3, vote_request().term(5).last_log(9, 9).leadership_transfer());
  r = f.take_ready();
  CHECK(sent<request_vote_response>(r).size() == 1);
  CHECK(f.term() == 5);
}

TEST_CASE("leader_appends_a_noop_and_commits_it_only_with_a_durable_majority") {
  auto c = make_core(1, {1, 2, 3});
  c.step(1, timeout_now().term(0));
  auto r = c.take_ready();
  c.persisted(r.persist_id);
  c.step(2, vote_response().term(1).granted());
  REQUIRE(c.is_leader());
  r = c.take_ready();
  REQUIRE(r.entries.size() == 1);
  CHECK(r.entries[0]->kind == entry_kind::noop);
  // Appends may leave before the leader's own persist (thesis §10.2.1).
  auto apps = sent<append_entries_request>(r);
  REQUIRE(apps.size() == 2);
  CHECK_FALSE(apps[0].first.after_persist);
  c.step(2, append_response().term(1).accepted(1));
  CHECK(c.commit_index() == 0); // own copy not durable yet
  c.persisted(r.persist_id);
  CHECK(c.commit_index() == 1);
}

TEST_CASE("leader_batches_entries_by_count_and_bytes") {
  core_config cfg;
  cfg.max_entries_per_message = 3;
  cfg.max_bytes_per_message = 250;
  auto c = make_leader(cfg);
  // Follower 2's probe is unanswered, so proposals queue up for it...
  for (int i = 0; i < 7; ++i)
    REQUIRE(c.propose(std::string(100, 'a')).ok());
  c.take_ready();
  // ...and go out in batches once it answers.
  c.step(2, append_response().term(1).accepted(1));
  auto r = c.take_ready();
  std::size_t max_batch = 0;
  std::size_t total = 0;
  for (auto& [m, a] : sent<append_entries_request>(r)) {
    if (m.to != 2)
      continue;
    max_batch = std::max(max_batch, a.entries.size());
    total += a.entries.size();
  }
  CHECK(max_batch == 2); // bytes bound (3 * 100 > 250) beats the count bound
  CHECK(total == 7);
}

TEST_CASE("pipeline_stops_at_the_inflight_window_until_acks_arrive") {
  core_config cfg;
  cfg.max_entries_per_message = 1;
  cfg.max_inflight = 4;
  auto c = make_leader(cfg);
  c.step(2, append_response().term(1).accepted(1));
  c.take_ready();
  for (int i = 0; i < 10; ++i)
    c.propose("x");
  auto count_to_2 = [](const ready& r) {
    std::size_t n = 0;
    for (auto& [m, a] : sent<append_entries_request>(r))
      if (m.to == 2 && !a.entries.empty())
        ++n;
    return n;
  };
  CHECK(count_to_2(c.take_ready()) == 4);
  CHECK(c.progress_of(2)->is_paused());
  c.step(2, append_response().term(1).accepted(3)); // acks two messages
  CHECK(count_to_2(c.take_ready()) == 2);
}

TEST_CASE("conflict_hint_backs_off_a_whole_term_per_round_trip") {
  // The follower holds 50 entries of a stale term 1 the leader does not have.
  checked_cluster c({1, 2, 3}, 5);
  c.campaign(1);
  c.settle();
  REQUIRE(c.raft(1).is_leader());
  c.isolate(2);
  c.isolate(3);
  for (int i = 0; i < 50; ++i)
    c.propose(1, "k", std::to_string(i));
  c.persist_all(1);
  c.crash(1);
  c.heal();
  c.network().clear();
  c.isolate(1);
  c.campaign(2);
  c.settle();
  REQUIRE(c.raft(2).is_leader());
  for (int i = 0; i < 20; ++i)
    c.propose(2, "k", "new" + std::to_string(i));
  c.settle();
  // A fresh leader (S3) starts probing S1 at its own last index + 1.
  c.campaign(3);
  c.settle();
  REQUIRE(c.raft(3).is_leader());
  c.restart(1);
  c.heal();
  std::size_t rejections = 0;
  for (int i = 0; i < 20; ++i) {
    c.tick(3);
    for (int k = 0; k < 1000 && !c.network().empty(); ++k) {
      if (auto* a = std::get_if<append_entries_response>(&c.network().front().msg))
        if (!a->success && c.network().front().from == 1)
          ++rejections;
      c.deliver(0);
      c.persist_all(1);
      c.persist_all(2);
      c.persist_all(3);
    }
  }
  CHECK(c.raft(1).log().last_index() == c.raft(3).log().last_index());
  CHECK(rejections >= 1);
  CHECK(rejections <= 3); // not one per conflicting entry (paper §5.3)
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("leader_without_a_majority_steps_down_after_an_election_timeout") {
  auto c = make_leader();
  for (int i = 0; i < 2 * 10 && c.is_leader(); ++i)
    c.tick();
  CHECK_FALSE(c.is_leader()); // thesis §6.2 check-quorum
  bool lost = false;
  for (const auto& e : c.take_ready().events)
    lost = lost || e.kind == event_kind::lost_quorum;
  CHECK(lost);
}

TEST_CASE("new_leader_serves_reads_only_after_its_noop_commits") {
  auto c = make_core(1, {1, 2, 3});
  c.step(1, timeout_now().term(0));
  auto r = c.take_ready();
  c.persisted(r.persist_id);
  c.step(2, vote_response().term(1).granted());
  REQUIRE(c.is_leader());
  r = c.take_ready();
  REQUIRE(c.read_index(42).ok());
  auto r2 = c.take_ready();
  CHECK(sent<heartbeat_request>(r2).empty()); // thesis §6.4 step 1: wait
  c.persisted(r.persist_id);
  c.step(2, append_response().term(1).accepted(1));
  REQUIRE(c.commit_index() == 1);
  r = c.take_ready();
  auto hbs = sent<heartbeat_request>(r);
  REQUIRE(hbs.size() == 2);
  CHECK(r.read_states.empty());
  c.step(3, heartbeat_ack().term(1).read_seq(hbs[0].second.read_seq));
  r = c.take_ready();
  REQUIRE(r.read_states.size() == 1);
  CHECK(r.read_states[0].context == 42);
  CHECK(r.read_states[0].index == 1);
}

TEST_CASE("follower_read_index_is_answered_by_the_leader") {
  checked_cluster c({1, 2, 3}, 6);
  REQUIRE(c.elect() != conflux::raft::no_server);
  auto l = c.leader();
  server_id f = l == 1 ? 2 : 1;
  REQUIRE(c.propose(l, "k", "v").ok());
  c.settle();
  auto ctx = c.read(f, "k");
  c.settle();
  REQUIRE(c.reads().at(ctx).done);
  CHECK_FALSE(c.reads().at(ctx).failed);
  CHECK(c.reads().at(ctx).value == "v");
}

TEST_CASE("learner_never_campaigns") {
  restored_state st;
  st.bootstrap = membership{{1, 2, 3}, {4}, {}};
  core_config cfg;
  cfg.id = 4;
  checked_core c(cfg, st);
  for (int i = 0; i < 100; ++i)
    c.tick();
  CHECK(c.current_role() == role::follower);
  CHECK(c.term() == 0);
}

TEST_CASE("joining_server_is_promoted_once_caught_up") {
  core_config cfg;
  cfg.promotion_lag = 0;
  checked_cluster c({1, 2, 3}, 7, cfg);
  auto l = c.elect();
  REQUIRE(l != no_server);
  for (int i = 0; i < 20; ++i)
    c.propose(l, "k", std::to_string(i));
  c.settle();
  c.add_server(4);
  REQUIRE(c.change_membership(l, {membership_change_kind::add_voter, 4}).ok());
  c.settle();
  CHECK(c.raft(l).membership().is_joining(4) == false);
  CHECK(c.raft(l).membership().is_voter(4));
  CHECK(c.count_events(event_kind::promotion_proposed, l) == 1);
  CHECK(c.node(4).sm.applied == c.raft(l).commit_index());
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("joining_server_is_not_promoted_before_it_acknowledged_the_log") {
  // The default lag (64) is longer than this log: "within the lag" alone
  // would promote a server that never answered (it may not even run), and
  // a 4th voter that is down lowers the cluster's fault tolerance.
  checked_cluster c({1, 2, 3}, 7);
  auto l = c.elect();
  REQUIRE(l != no_server);
  c.settle();
  c.add_server(4);
  c.isolate(4);
  REQUIRE(c.change_membership(l, {membership_change_kind::add_voter, 4}).ok());
  c.run(50);
  CHECK(c.raft(l).membership().is_joining(4));
  CHECK(c.count_events(event_kind::promotion_proposed, l) == 0);
  // Once it answers, it is caught up at once and promoted.
  c.heal();
  c.run(5);
  CHECK(c.raft(l).membership().is_voter(4));
  CHECK_MESSAGE(!c.violation(), c.violation().value_or(""));
}

TEST_CASE("stale_snapshot_is_ignored_by_the_follower") {
  auto f = make_core(2, {1, 2, 3});
  std::vector<entry_ptr> es;
  for (index_t i = 1; i <= 5; ++i)
    es.push_back(entry_at(i).term(1).command("x"));
  f.step(1, append_request().term(1).entries(es).leader_commit(5));
  auto r = f.take_ready();
  f.persisted(r.persist_id);
  REQUIRE(f.commit_index() == 5);
  f.step(1, snapshot_request()
                .term(1)
                .last_included(3, 1)
                .config(membership{{1, 2, 3}, {}, {}})
                .data("old"));
  r = f.take_ready();
  CHECK_FALSE(r.snapshot.has_value());
  CHECK(f.log().last_index() == 5);
  auto acks = sent<append_entries_response>(r);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].second.index == 5);
}

TEST_CASE("follower_installs_a_newer_snapshot_and_replaces_its_log") {
  auto f = make_core(2, {1, 2, 3});
  f.step(1, snapshot_request()
                .term(1)
                .last_included(30, 1)
                .config(membership{{1, 2, 3, 4}, {}, {}})
                .data("state"));
  auto r = f.take_ready();
  REQUIRE(r.snapshot.has_value());
  CHECK(r.snapshot->data == "state");
  CHECK(r.persist_id != 0);
  CHECK(f.commit_index() == 30);
  CHECK(f.log().first_index() == 31);
  CHECK(f.membership().is_voter(4));
  auto acks = sent<append_entries_response>(r);
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].second.index == 30);
  CHECK(acks[0].first.after_persist);
}

TEST_CASE("duplicate_persist_acknowledgement_is_harmless") {
  auto c = make_leader();
  c.propose("a");
  auto r = c.take_ready();
  c.persisted(r.persist_id);
  auto d = c.durable_index();
  c.persisted(r.persist_id);
  c.persisted(r.persist_id + 100);
  CHECK(c.durable_index() == d);
}

TEST_CASE("snapshot_taken_compacts_and_lagging_follower_gets_the_snapshot") {
  auto c = make_leader();
  c.step(2, append_response().term(1).accepted(1));
  c.take_ready();
  for (int i = 0; i < 5; ++i)
    c.propose("x");
  auto r = c.take_ready();
  c.persisted(r.persist_id);
  c.step(2, append_response().term(1).accepted(6));
  r = c.take_ready();
  REQUIRE(c.commit_index() == 6);
  c.snapshot_taken(4);
  CHECK(c.log().snapshot_index() == 4);
  CHECK(c.snapshot().index == 4);
  CHECK(c.snapshot().config.is_voter(3));
  // Follower 3 never answered; its next entry (1) is compacted now, so the
  // next attempt, prompted by a heartbeat answer, is a snapshot (paper §7).
  c.step(3, heartbeat_ack().term(1));
  r = c.take_ready();
  REQUIRE(r.snapshots_to_send.size() == 1);
  CHECK(r.snapshots_to_send[0].to == 3);
  CHECK(r.snapshots_to_send[0].request.meta.index == 4);
  CHECK(c.progress_of(3)->state() == progress_state::snapshot);
  // The follower's acknowledgement of the snapshot resumes appends right
  // after it, even if the shell never calls report_snapshot.
  c.step(3, append_response().term(1).accepted(4));
  CHECK(c.progress_of(3)->state() == progress_state::replicate);
  r = c.take_ready();
  auto apps = sent<append_entries_request>(r);
  REQUIRE_FALSE(apps.empty());
  CHECK(apps[0].second.prev_log_index == 4);
  CHECK(r.snapshots_to_send.empty());
}

TEST_CASE("timeout_now_from_a_server_that_is_not_the_leader_is_ignored") {
  // Server 2 follows leader 1 in term 1; a TimeoutNow from 3 (stale or
  // duplicated) must not make it campaign past pre-vote and the lease.
  auto f = make_core(2, {1, 2, 3});
  f.step(1, heartbeat().term(1));
  f.take_ready();
  REQUIRE(f.leader() == 1);
  f.step(3, timeout_now().term(1));
  CHECK(f.current_role() == role::follower);
  CHECK(f.term() == 1);
  f.step(1, timeout_now().term(1));
  CHECK(f.current_role() == role::candidate);
  CHECK(f.term() == 2);
}

namespace {

/// make_leader(), then the follower 2 acknowledges the no-op: it commits, so
/// the leader may change the configuration (thesis §4.1).
checked_core make_committed_leader() {
  auto c = make_leader();
  c.step(2, append_response().term(1).accepted(1));
  c.take_ready();
  REQUIRE(c.commit_index() == 1);
  return c;
}

} // namespace

TEST_CASE("membership_change_refuses_adding_a_member_again") {
  auto c = make_committed_leader();
  auto r = c.change_membership({membership_change_kind::add_voter, 2});
  CHECK(r.reason == refusal::already_member);
  r = c.change_membership({membership_change_kind::add_learner, 3});
  CHECK(r.reason == refusal::already_member);
  CHECK(c.log().last_index() == 1);
}

TEST_CASE("membership_change_refuses_removing_or_promoting_a_stranger") {
  auto c = make_committed_leader();
  CHECK(c.change_membership({membership_change_kind::remove, 9}).reason ==
        refusal::not_member);
  CHECK(c.change_membership({membership_change_kind::promote, 9}).reason ==
        refusal::not_member);
  CHECK(c.change_membership({membership_change_kind::promote, 2}).reason ==
        refusal::invalid_change);
  CHECK(c.change_membership({membership_change_kind::add_voter, no_server}).reason ==
        refusal::invalid_change);
  CHECK(c.log().last_index() == 1);
}

TEST_CASE("membership_change_refuses_removing_the_last_voter") {
  auto c = make_core(1, {1});
  c.step(1, timeout_now().term(0));
  auto r = c.take_ready();
  c.persisted(r.persist_id);
  REQUIRE(c.is_leader());
  r = c.take_ready();
  c.persisted(r.persist_id);
  c.take_ready();
  REQUIRE(c.commit_index() == 1);
  REQUIRE(c.change_membership({membership_change_kind::add_learner, 4}).ok());
  CHECK(c.change_membership({membership_change_kind::remove, 1}).reason ==
        refusal::last_voter);
}

TEST_CASE("leader_asked_to_remove_itself_hands_over_to_the_most_caught_up_voter") {
  auto c = make_committed_leader();
  // Server 3 has everything, server 2 only the no-op.
  REQUIRE(c.propose("x").ok());
  c.take_ready();
  c.step(3, append_response().term(1).accepted(2));
  c.take_ready();
  auto r = c.change_membership({membership_change_kind::remove, 1});
  CHECK(r.reason == refusal::leader_handover);
  CHECK(r.leader_hint == 3);
  CHECK(c.transfer_target() == 3);
  auto rd = c.take_ready();
  // The target is caught up, so TimeoutNow goes out at once (thesis §3.10).
  CHECK(sent<timeout_now_request>(rd).size() == 1);
  // Nothing was appended: the new leader removes this server.
  CHECK(c.log().last_index() == 2);
  CHECK(c.membership().contains(1));
}

TEST_CASE("leadership_transfer_refuses_a_target_that_is_not_a_voter") {
  auto c = make_committed_leader();
  REQUIRE(c.change_membership({membership_change_kind::add_learner, 4}).ok());
  CHECK(c.transfer_leadership(4).reason == refusal::not_a_voter);
  CHECK(c.transfer_leadership(9).reason == refusal::not_member);
  CHECK(c.transfer_target() == no_server);
}
