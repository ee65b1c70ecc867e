// The raft shell, run by the Raft role actors, over a real log store actor and
// applier: elections, the ready-batch contract (PROTOCOL.md §3: after_persist
// messages leave only once the persist is durable), proposals, ReadIndex, restart.

#include "protocol/state_machine.hpp"
#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

std::size_t pre_votes(const peer_recorder& r) {
  return count_recorded<raft::request_vote_request>(
      r, [](const raft::request_vote_request& m) { return m.pre_vote; });
}

std::size_t real_votes(const peer_recorder& r) {
  return count_recorded<raft::request_vote_request>(
      r, [](const raft::request_vote_request& m) { return !m.pre_vote; });
}

} // namespace

TEST_CASE_FIXTURE(fixture, "single_node_raft_elects_itself_and_applies_a_proposal") {
  auto n = start_node(1, {1});
  auto before = status(n);
  CHECK(before.role == "follower");
  CHECK(before.leader_id == raft::no_server);
  CHECK(before.term == 0u);

  elect_single(n);
  auto s = status(n);
  CHECK(s.leader_id == 1u);
  CHECK(s.term >= 1u);
  CHECK(s.cluster_id == cluster);
  REQUIRE(s.members.size() == 1u);
  CHECK(s.members[0].id == 1u);
  CHECK(s.members[0].kind == "voter");

  auto r = propose(n, create_cmd(key_a));
  REQUIRE_MESSAGE(!r.err, to_string(*r.err));
  CHECK(r.result.ok());
  CHECK(r.index >= 2u); // after the leader's no-op
  CHECK(r.result.revision == r.index);
  CHECK(r.result.version == 1u);

  // Durable in the state store, and reported by status.
  auto txn = read_state(*n.ctx);
  auto c = get_config(txn, key_a);
  REQUIRE_MESSAGE(c.ok(), to_string(c.err()));
  CHECK(c->create_revision == r.index);
  auto applied = txn.last_applied();
  REQUIRE(applied.ok());
  CHECK(*applied >= r.index);
  auto after = status(n);
  CHECK(after.commit >= r.index);
  CHECK(after.applied >= r.index);

  // And in the log: the entry, the term and the self-vote.
  auto& log = log_state(n.log);
  CHECK(log.store->last_index() >= r.index);
  CHECK(log.store->hard_state().term == s.term);
  CHECK(log.store->hard_state().vote == 1u);
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(fixture,
                  "single_node_raft_answers_a_read_index_at_or_after_its_commit") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto w = propose(n, create_cmd(key_a));
  REQUIRE(!w.err);
  auto r = ask<raft_reply>(n.raft(), read_atom::value);
  REQUIRE_MESSAGE(!r.err, to_string(*r.err));
  CHECK(r.index >= w.index);
  CHECK(n.ctx->applied.load() >= r.index);
}

TEST_CASE_FIXTURE(fixture, "single_node_raft_restarts_with_its_log_and_state") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto first = propose(n, create_cmd(key_a));
  REQUIRE(!first.err);
  auto term1 = status(n).term;
  stop_node(n);

  n = start_node(1, {1});
  auto restarted = status(n);
  CHECK(restarted.role == "follower");
  CHECK(restarted.term == term1);
  CHECK(restarted.applied >= first.index);
  CHECK_FALSE(n.ctx->failure.failed()); // nothing applied twice

  elect_single(n);
  CHECK(status(n).term > term1);
  auto second = propose(n, create_cmd(key_b));
  REQUIRE_MESSAGE(!second.err, to_string(*second.err));
  CHECK(second.result.ok());
  CHECK(second.index > first.index);

  auto txn = read_state(*n.ctx);
  CHECK(get_config(txn, key_a).ok());
  CHECK(get_config(txn, key_b).ok());
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(fixture, "follower_refuses_a_proposal_with_not_leader") {
  auto n = start_node(1, {1, 2, 3});

  // No leader known yet: unavailable, no redirect.
  auto r = propose(n, create_cmd(key_a));
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::unavailable);
  CHECK(r.leader_id == raft::no_server);

  // Node 2 shows up as leader of term 1 (a heartbeat): now a redirect to it.
  send_from(n, 2, raft::heartbeat_request{1, 0, 0});
  run();
  auto s = status(n);
  CHECK(s.role == "follower");
  CHECK(s.term == 1u);
  CHECK(s.leader_id == 2u);
  CHECK(s.leader_address == "127.0.0.1:7102");

  r = propose(n, create_cmd(key_a));
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::not_leader);
  CHECK(r.leader_id == 2u);
  CHECK(r.err->message.find("127.0.0.1:7102") != std::string::npos);

  // Nothing was appended, and no AppendEntries went anywhere.
  CHECK(log_state(n.log).store->last_index() == 0u);
  for (auto& [id, rec] : n.peers) {
    CHECK(rec->problems.empty());
    CHECK(count_recorded<raft::append_entries_request>(
              *rec, [](const raft::append_entries_request&) { return true; }) == 0u);
  }
}

TEST_CASE_FIXTURE(fixture,
                  "follower_without_a_leader_refuses_a_read_with_unavailable") {
  auto n = start_node(1, {1, 2, 3});
  auto r = ask<raft_reply>(n.raft(), read_atom::value);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::unavailable);
}

TEST_CASE_FIXTURE(fixture, "vote_requests_wait_for_the_persist") {
  auto n = start_node(1, {1, 2, 3});
  auto& rec2 = *n.peers.at(2);
  auto& rec3 = *n.peers.at(3);

  // Nobody answers: after its election timeout the node starts a pre-vote,
  // which changes nothing durable.
  const int limit = 4 * n.ctx->opts.election_ticks;
  for (int i = 0; i < limit && pre_votes(rec2) == 0; ++i) {
    sched.advance_time(n.ctx->opts.tick);
    run_stepwise(n, 10'000);
  }
  REQUIRE(pre_votes(rec2) >= 1u);
  REQUIRE(pre_votes(rec3) >= 1u);
  CHECK(real_votes(rec2) == 0u);
  CHECK(real_votes(rec3) == 0u);
  CHECK(status(n).role == "pre_candidate");
  const auto persists_before = log_state(n.log).persists;

  // Node 2 grants the pre-vote: with its own that is a majority, so the node
  // becomes a candidate of term 1 and must make its term and self-vote
  // durable before it asks anyone for a vote.
  send_from(n, 2, raft::request_vote_response{1, true, true});
  std::size_t persist_step = 0;
  std::size_t votes_sent_before_persist = 0;
  bool held_while_persisting = false;
  run_stepwise(n, 10'000, [&](caf::resumable* job) {
    if (persist_step != 0 || !is_job_of(job, n.log))
      return;
    persist_step = steps + 1; // the number this job gets
    votes_sent_before_persist = real_votes(rec2) + real_votes(rec3);
    auto& sh = shell_of(n);
    held_while_persisting = sh.persist_in_flight() && sh.held_messages() > 0;
  });
  REQUIRE_MESSAGE(persist_step != 0, "the log store never ran: nothing was persisted");
  CHECK(votes_sent_before_persist == 0u);
  CHECK(held_while_persisting);
  CHECK(log_state(n.log).persists > persists_before);
  CHECK(log_state(n.log).store->hard_state().term == 1u);
  CHECK(log_state(n.log).store->hard_state().vote == 1u);

  for (auto* rec : {&rec2, &rec3}) {
    CAPTURE(rec->id);
    CHECK(rec->problems.empty());
    REQUIRE(real_votes(*rec) == 1u);
    for (auto& m : rec->messages) {
      auto* rv = std::get_if<raft::request_vote_request>(&m.msg);
      if (!rv || rv->pre_vote)
        continue;
      CHECK(m.from == 1u);
      CHECK(rv->term == 1u);
      CHECK(m.step > persist_step);
      // What was durable in the log when the request reached the peer.
      CHECK(m.durable.term == 1u);
      CHECK(m.durable.vote == 1u);
    }
  }

  auto s = status(n);
  CHECK(s.role == "candidate");
  CHECK(s.term == 1u);
  // A candidate turns clients away at once.
  auto r = propose(n, create_cmd(key_a));
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::unavailable);
}

TEST_CASE_FIXTURE(fixture, "granted_votes_wait_for_the_persist") {
  auto n = start_node(1, {1, 2, 3});
  auto& rec2 = *n.peers.at(2);

  // Node 2 asks for a vote in term 1; node 1 grants it, but the grant may
  // leave only once term 1 and the vote for 2 are durable.
  send_from(n, 2, raft::request_vote_request{1, 0, 0, false, false});
  std::size_t persist_step = 0;
  std::size_t answers_before_persist = 0;
  run_stepwise(n, 10'000, [&](caf::resumable* job) {
    if (persist_step != 0 || !is_job_of(job, n.log))
      return;
    persist_step = steps + 1;
    answers_before_persist = rec2.messages.size();
  });
  REQUIRE(persist_step != 0);
  CHECK(answers_before_persist == 0u);

  auto granted = count_recorded<raft::request_vote_response>(
      rec2,
      [](const raft::request_vote_response& m) { return m.granted && !m.pre_vote; });
  REQUIRE(granted == 1u);
  for (auto& m : rec2.messages) {
    if (!std::holds_alternative<raft::request_vote_response>(m.msg))
      continue;
    CHECK(m.step > persist_step);
    CHECK(m.durable.term == 1u);
    CHECK(m.durable.vote == 2u);
  }
  CHECK(n.peers.at(3)->messages.empty());
  auto s = status(n);
  CHECK(s.role == "follower");
  CHECK(s.term == 1u);
}

TEST_CASE("node_counters_add_up_by_name_and_start_at_zero") {
  node_counters c;
  CHECK(c.get("raft.dropped.identity_mismatch") == 0u);
  c.add("raft.dropped.identity_mismatch");
  c.add("raft.dropped.identity_mismatch", 2);
  c.add("session.refused.per_node");
  CHECK(c.get("raft.dropped.identity_mismatch") == 3u);
  auto all = c.snapshot();
  CHECK(all.size() == 2u);
  CHECK(all["session.refused.per_node"] == 1u);
}

TEST_CASE_FIXTURE(fixture, "status_reports_the_nodes_counters") {
  auto n = start_node(1, {1});
  n.ctx->counters.add("test.counted", 4);
  auto s = status(n);
  CHECK(s.counters["test.counted"] == 4u);
}
