// The Raft role actors as node 1 of a 3-node cluster whose other members are
// recording dummies driven by the test: replication on both sides, commit by
// majority, ReadIndex on leader and follower, group commit, and a proposal
// lost to a new leader.

#include "protocol/state_machine.hpp"
#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

TEST_CASE_FIXTURE(
    cluster_fixture,
    "follower_persists_replicated_entries_and_applies_them_once_committed") {
  // Leader 2 of term 1 sends two entries, only the first committed.
  send_from(n, 2,
            raft::append_entries_request{1,
                                         0,
                                         0,
                                         {command_entry(1, 1, create_cmd(key_a)),
                                          command_entry(2, 1, create_cmd(key_b))},
                                         1});
  std::size_t persist_step = 0;
  run_stepwise(n, 10'000, [&](caf::resumable* job) {
    if (persist_step == 0 && is_job_of(job, n.log))
      persist_step = steps + 1;
  });
  REQUIRE(persist_step != 0);
  CHECK(log_state(n.log).store->last_index() == 2u);

  // The success reply left only after the entries were durable.
  auto ok_replies = count_recorded<raft::append_entries_response>(
      rec2,
      [](const raft::append_entries_response& m) { return m.success && m.index == 2; });
  REQUIRE(ok_replies == 1u);
  for (auto& m : rec2.messages) {
    if (!std::holds_alternative<raft::append_entries_response>(m.msg))
      continue;
    CHECK(m.step > persist_step);
    CHECK(m.persists >= 1u);
    CHECK(m.durable.term == 1u);
  }
  CHECK(rec3.messages.empty());

  // Committed 1: applied; entry 2 waits for the leader's commit.
  CHECK(n.ctx->applied.load() == 1u);
  {
    auto txn = read_state(*n.ctx);
    CHECK(get_config(txn, key_a).ok());
    CHECK(get_config(txn, key_b).code() == errc::not_found);
  }
  send_from(n, 2, raft::heartbeat_request{1, 2, 0});
  run();
  CHECK(n.ctx->applied.load() == 2u);
  auto txn = read_state(*n.ctx);
  CHECK(get_config(txn, key_b).ok());
  auto s = status(n);
  CHECK(s.commit == 2u);
  CHECK(s.leader_id == 2u);
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "follower_serves_a_linearizable_read_at_the_leaders_read_index") {
  send_from(n, 2,
            raft::append_entries_request{1,
                                         0,
                                         0,
                                         {command_entry(1, 1, create_cmd(key_a)),
                                          command_entry(2, 1, create_cmd(key_b))},
                                         1});
  run();
  REQUIRE(n.ctx->applied.load() == 1u);
  auto session = spawn_session(n);
  run();

  rpc::client_request req;
  req.op = static_cast<std::uint8_t>(rpc::request_op::get_config);
  req.consistency = 0;
  req.key = key_b;
  auto rh = request<rpc::client_reply>(session, req);
  run();
  CHECK_FALSE(rh->done);

  // The follower asked the leader for a read index.
  auto* ask_leader = last_recorded<raft::read_index_request>(rec2);
  REQUIRE(ask_leader != nullptr);
  CHECK(ask_leader->term == 1u);

  // The leader answers 2; the follower has applied only 1, so it still waits.
  send_from(n, 2, raft::read_index_response{1, ask_leader->context, 2});
  run();
  CHECK_FALSE(rh->done);

  // Entry 2 commits and applies: now the read is served, and sees it.
  send_from(n, 2, raft::heartbeat_request{1, 2, 0});
  run();
  auto r = value_of(rh);
  REQUIRE_MESSAGE(r.code == 0u, r.message);
  CHECK(r.revision >= 2u);
  REQUIRE(r.items.size() == 1u);
  auto c = codec::decode_config(r.items[0]);
  REQUIRE(c.ok());
  CHECK(c->key == key_b);
}

TEST_CASE_FIXTURE(
    cluster_fixture,
    "a_forwarded_read_fails_with_unavailable_when_the_leader_never_answers") {
  send_from(n, 2, raft::heartbeat_request{1, 0, 0});
  run();
  REQUIRE(status(n).leader_id == 2u);

  auto rh = request<raft_reply>(n.raft(), read_atom::value);
  run();
  REQUIRE(last_recorded<raft::read_index_request>(rec2) != nullptr);
  CHECK_FALSE(rh->done);

  // Node 2 is gone: the shell gives up after its read timeout (in ticks).
  const int limit = 6 * n.ctx->opts.election_ticks;
  int ticks = 0;
  for (; ticks < limit && !rh->done; ++ticks)
    tick(n);
  REQUIRE_MESSAGE(rh->done, "the read got no answer within " << limit << " ticks");
  auto r = value_of(rh);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::unavailable);
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "leader_answers_a_proposal_once_a_majority_stored_it") {
  elect_node1();
  auto rh = request<raft_reply>(n.raft(), propose_request{create_cmd(key_a)});
  run();
  CHECK_FALSE(rh->done); // only the leader has it

  // Node 2 (replicating since it acknowledged the no-op) gets the entry at
  // once; node 3 never answered, so the leader only probes it.
  auto* ae = last_recorded<raft::append_entries_request>(rec2);
  REQUIRE(ae != nullptr);
  REQUIRE_FALSE(ae->entries.empty());
  CHECK(ae->entries.back()->index == 2u);
  CHECK(ae->entries.back()->term == 1u);
  CHECK(n.ctx->applied.load() == 1u);
  CHECK(status(n).commit == 1u);

  send_from(n, 2, raft::append_entries_response{1, true, 2, 0, 0});
  run();
  auto r = value_of(rh);
  REQUIRE_MESSAGE(!r.err, to_string(*r.err));
  CHECK(r.index == 2u);
  CHECK(r.result.ok());
  CHECK(r.result.revision == 2u);
  auto txn = read_state(*n.ctx);
  CHECK(get_config(txn, key_a).ok());
}

TEST_CASE_FIXTURE(
    cluster_fixture,
    "leader_releases_a_read_only_after_a_majority_confirms_its_leadership") {
  elect_node1();
  auto rh = request<raft_reply>(n.raft(), read_atom::value);
  run();
  CHECK_FALSE(rh->done);

  auto* hb = last_recorded<raft::heartbeat_request>(rec2);
  REQUIRE(hb != nullptr);
  REQUIRE(hb->read_seq > 0u);
  send_from(n, 2, raft::heartbeat_response{1, hb->read_seq});
  run();
  auto r = value_of(rh);
  REQUIRE_MESSAGE(!r.err, to_string(*r.err));
  CHECK(r.index >= 1u);
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "a_proposal_lost_to_a_new_leader_is_answered_not_leader") {
  elect_node1();
  auto rh = request<raft_reply>(n.raft(), propose_request{create_cmd(key_a)});
  run();
  CHECK_FALSE(rh->done);
  REQUIRE(log_state(n.log).store->last_index() == 2u);

  // Node 3 won term 2 without entry 2 and commits its own entry there.
  send_from(n, 3,
            raft::append_entries_request{
                2, 1, 1, {command_entry(2, 2, create_cmd(key_b))}, 2});
  run();
  auto r = value_of(rh);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::not_leader);
  // It names the new leader, so the client redirects instead of backing off.
  CHECK(r.leader_id == 3u);

  // The log and the state hold node 3's entry, not the lost one.
  auto e2 = log_state(n.log).store->entry(2);
  REQUIRE(e2.ok());
  CHECK(e2->term == 2u);
  auto txn = read_state(*n.ctx);
  CHECK(get_config(txn, key_a).code() == errc::not_found);
  CHECK(get_config(txn, key_b).ok());
  auto s = status(n);
  CHECK(s.role == "follower");
  CHECK(s.term == 2u);
  CHECK(s.leader_id == 3u);
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(fixture,
                  "proposals_that_arrive_during_a_persist_share_the_next_one") {
  auto n = start_node(1, {1});
  elect_single(n);
  const auto persists_before = log_state(n.log).persists;

  // Three proposals queued at once: the Raft role handles all three before
  // the log store runs, so the first goes out alone and the other two are
  // merged into the next persist (group commit).
  auto h1 = request<raft_reply>(n.raft(), propose_request{create_cmd(key_a)});
  auto h2 = request<raft_reply>(n.raft(), propose_request{create_cmd(key_b)});
  auto h3 = request<raft_reply>(
      n.raft(), propose_request{create_cmd("acme/billing/prod/queue.json")});
  // The askers send their proposals, then the Raft role handles all three.
  for (auto* h : {&h1, &h2, &h3}) {
    REQUIRE(sched.prioritize(caf::actor_cast<caf::actor>((*h)->asker)));
    run_one();
  }
  for (int i = 0; i < 3; ++i) {
    REQUIRE(sched.prioritize(n.raft()));
    run_one();
  }
  auto& sh = shell_of(n);
  CHECK(sh.persist_in_flight());
  REQUIRE(sh.pending_persist().has_value());
  CHECK(sh.pending_persist()->entries.size() == 2u);

  // Entries each persist appends from here on, seen as the growth of the
  // log across each job of the log store (persists that only move the hard
  // state, e.g. the commit index, append nothing).
  std::vector<std::size_t> entries_per_persist;
  for (std::size_t i = 0; i < 10'000 && sched.has_job(); ++i) {
    const bool log_job = is_job_of(sched.jobs.front(), n.log);
    const auto last_before = log_state(n.log).store->last_index();
    const auto persists = log_state(n.log).persists;
    run_one();
    if (log_job && log_state(n.log).persists > persists) {
      auto grown = log_state(n.log).store->last_index() - last_before;
      if (grown > 0)
        entries_per_persist.push_back(grown);
    }
  }
  CHECK_FALSE(sched.has_job());
  CHECK(entries_per_persist == std::vector<std::size_t>{1, 2});
  CHECK(log_state(n.log).persists > persists_before);
  std::vector<raft::index_t> indexes;
  for (auto* h : {&h1, &h2, &h3}) {
    auto r = value_of(*h);
    CHECK_FALSE(r.err.has_value());
    CHECK(r.result.ok());
    indexes.push_back(r.index);
  }
  REQUIRE(indexes.size() == 3u);
  CHECK(indexes[1] == indexes[0] + 1);
  CHECK(indexes[2] == indexes[1] + 1);
  CHECK(log_state(n.log).store->last_index() == indexes[2]);
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "a_leaders_pending_read_is_answered_not_leader_when_it_steps_down") {
  elect_node1();
  auto rh = request<raft_reply>(n.raft(), read_atom::value);
  run();
  CHECK_FALSE(rh->done); // waiting for a heartbeat round

  // Node 3 leads term 2 before anyone confirmed node 1's leadership.
  send_from(n, 3, raft::heartbeat_request{2, 1, 0});
  run();
  auto r = value_of(rh);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::not_leader);
  CHECK(r.leader_id == 3u);
  CHECK(status(n).role == "follower");
}

TEST_CASE_FIXTURE(fixture,
                  "restart_applies_committed_entries_the_state_had_not_applied") {
  // A log whose entries 1..2 are committed (hard state) but whose state never
  // applied them: a crash between the log's commit and the applier's.
  {
    auto log = open_log(1);
    storage::log_batch b;
    b.hard = raft::hard_state{1, 2, 2};
    b.entries = {command_entry(1, 1, create_cmd(key_a)),
                 command_entry(2, 1, create_cmd(key_b))};
    REQUIRE(log->persist(b).ok());
  }
  auto n = start_node(1, {1, 2, 3}); // runs the first tick
  CHECK(n.ctx->applied.load() == 2u);
  auto txn = read_state(*n.ctx);
  CHECK(get_config(txn, key_a).ok());
  CHECK(get_config(txn, key_b).ok());
  auto s = status(n);
  CHECK(s.commit == 2u);
  CHECK(s.term == 1u);
  CHECK(s.role == "follower");
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(
    cluster_fixture,
    "proposals_of_a_superseded_term_are_answered_without_waiting_for_their_index") {
  elect_node1();
  // Three proposals of term 1 at indexes 2..4; node 2 never acknowledges.
  std::vector<reply_ptr<raft_reply>> waiting;
  for (auto* key : {&key_a, &key_b, &key_a}) {
    waiting.push_back(request<raft_reply>(n.raft(), propose_request{create_cmd(*key)}));
    run();
  }
  for (auto& h : waiting)
    CHECK_FALSE(h->done);
  REQUIRE(log_state(n.log).store->last_index() == 4u);

  // Node 3 won term 2 and commits its own entry at index 2. Log terms never
  // decrease, so indexes 3 and 4 can no longer hold a term-1 entry either:
  // all three are answered now, though the log never reaches 3 or 4 again.
  send_from(n, 3,
            raft::append_entries_request{
                2, 1, 1, {command_entry(2, 2, create_cmd(key_b))}, 2});
  run();
  REQUIRE(n.ctx->applied.load() == 2u);
  CHECK(log_state(n.log).store->last_index() == 2u);
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(waiting[i]->done,
                    "a term-1 proposal was not answered once term 2 applied");
    auto r = value_of(waiting[i]);
    REQUIRE(r.err.has_value());
    CHECK(r.err->code == errc::not_leader);
    CHECK(r.err->message.find("leadership changed before the write committed") !=
          std::string::npos);
    CHECK(r.leader_id == 3u);
  }
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "raft_releases_reads_once_applied_reaches_the_read_index") {
  // Leader 2 of term 1: entries 1..2 stored, only 1 committed (and applied).
  send_from(n, 2,
            raft::append_entries_request{1,
                                         0,
                                         0,
                                         {command_entry(1, 1, create_cmd(key_a)),
                                          command_entry(2, 1, create_cmd(key_b))},
                                         1});
  run();
  REQUIRE(n.ctx->applied.load() == 1u);

  auto rh = request<raft_reply>(n.raft(), read_atom::value);
  run();
  auto* ask_leader = last_recorded<raft::read_index_request>(rec2);
  REQUIRE(ask_leader != nullptr);
  send_from(n, 2, raft::read_index_response{1, ask_leader->context, 2});
  run();
  CHECK_FALSE(rh->done); // applied 1 < read index 2

  send_from(n, 2, raft::heartbeat_request{1, 2, 0});
  run();
  auto r = value_of(rh);
  REQUIRE_MESSAGE(!r.err, to_string(*r.err));
  CHECK(r.index == 2u);

  // A read index the node has already applied is released at once.
  auto now = request<raft_reply>(n.raft(), read_atom::value);
  run();
  ask_leader = last_recorded<raft::read_index_request>(rec2);
  REQUIRE(ask_leader != nullptr);
  send_from(n, 2, raft::read_index_response{1, ask_leader->context, 1});
  run();
  auto r2 = value_of(now);
  REQUIRE_MESSAGE(!r2.err, to_string(*r2.err));
  CHECK(r2.index == 2u);
}
