// The applier: applies committed entries in order (idempotently across
// restarts), answers waiting writes with their results and releases
// linearizable reads once it has applied their read index.

#include "protocol/state_machine.hpp"
#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

struct applier_fixture : fixture {
  node_context_ptr ctx = open_context(options(1, {1}));
  applier_actor applier = spawn_applier(ctx);
  waiter_actor waiter = spawn_waiter(applier);

  applier_fixture() { run(); }

  void apply(std::vector<raft::entry_ptr> entries) {
    send(applier, apply_batch{std::move(entries)});
    run();
  }

  std::uint64_t last_applied() {
    auto txn = read_state(*ctx);
    auto a = txn.last_applied();
    REQUIRE(a.ok());
    return *a;
  }

  /// The applier answers a write at (index, term) into the returned slot.
  reply_ptr<raft_reply> await_write(raft::index_t index, raft::term_t term) {
    auto slot = request<raft_reply>(waiter, await_atom::value, index, term);
    run();
    return slot;
  }

  reply_ptr<raft_reply> read_barrier_at(raft::index_t index) {
    auto slot = request<raft_reply>(waiter, barrier_atom::value, index);
    run();
    return slot;
  }
};

} // namespace

TEST_CASE_FIXTURE(applier_fixture, "applier_answers_a_waiting_write_with_its_result") {
  auto rh = await_write(1, 1);
  CHECK_FALSE(rh->done); // registered, not yet applied

  apply({command_entry(1, 1, create_cmd(key_a))});
  auto r = value_of(rh);
  CHECK_FALSE(r.err.has_value());
  CHECK(r.index == 1u);
  CHECK(r.result.ok());
  CHECK(r.result.revision == 1u);
  CHECK(r.result.config != 0u);
  CHECK(r.result.version == 1u);

  CHECK(ctx->applied.load() == 1u);
  CHECK(last_applied() == 1u);
  auto txn = read_state(*ctx);
  auto c = get_config(txn, key_a);
  REQUIRE(c.ok());
  CHECK(c->key == key_a);
  CHECK(c->create_revision == 1u);
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(applier_fixture,
                  "applier_answers_a_refused_command_with_its_command_error") {
  apply({command_entry(1, 1, create_cmd(key_a))});
  // The same key again: the state machine refuses it, the entry still applies.
  auto rh = await_write(2, 1);
  apply({command_entry(2, 1, create_cmd(key_a))});
  auto r = value_of(rh);
  CHECK_FALSE(r.err.has_value());
  CHECK(r.index == 2u);
  REQUIRE(r.result.err.has_value());
  CHECK(r.result.err->code == errc::already_exists);
  CHECK(last_applied() == 2u);
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(applier_fixture,
                  "applier_answers_not_leader_when_another_term_applied_at_the_index") {
  // The proposal was made in term 2, but a term-1 entry committed there.
  auto lost = await_write(1, 2);
  apply({command_entry(1, 1, create_cmd(key_a))});
  auto r = value_of(lost);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::not_leader);
  CHECK_FALSE(r.err->message.empty());
  CHECK(last_applied() == 1u); // the entry itself applied
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(applier_fixture, "applier_answers_every_waiter_of_one_batch") {
  auto w1 = await_write(1, 1);
  auto w3 = await_write(3, 1);
  apply({command_entry(1, 1, create_cmd(key_a)), command_entry(2, 1, create_cmd(key_b)),
         command_entry(3, 1, version_cmd(key_a, R"({"pool": 20})"))});
  CHECK(w1->done);
  CHECK(w3->done);
  auto r1 = value_of(w1);
  auto r3 = value_of(w3);
  CHECK(r1.index == 1u);
  CHECK(r1.result.version == 1u);
  CHECK(r3.index == 3u);
  CHECK(r3.result.ok());
  CHECK(r3.result.version == 2u);
  CHECK(last_applied() == 3u);
}

TEST_CASE_FIXTURE(applier_fixture, "applier_skips_entries_it_already_applied") {
  apply({command_entry(1, 1, create_cmd(key_a)),
         command_entry(2, 1, version_cmd(key_a, R"({"pool": 20})"))});
  REQUIRE(last_applied() == 2u);

  // The same entries again (the core re-hands them after a restart): no-op.
  apply({command_entry(1, 1, create_cmd(key_a)),
         command_entry(2, 1, version_cmd(key_a, R"({"pool": 20})"))});
  CHECK_FALSE(ctx->failure.failed());
  CHECK(last_applied() == 2u);

  // Restart: a new applier starts from the state's last_applied and gets a
  // batch that overlaps what is applied.
  caf::anon_send_exit(applier, caf::exit_reason::user_shutdown);
  run();
  applier = spawn_applier(ctx);
  waiter = spawn_waiter(applier);
  run();
  auto rh = await_write(3, 1);
  apply({command_entry(1, 1, create_cmd(key_a)),
         command_entry(2, 1, version_cmd(key_a, R"({"pool": 20})")),
         command_entry(3, 1, version_cmd(key_a, R"({"pool": 30})"))});
  CHECK_FALSE(ctx->failure.failed());
  auto r = value_of(rh);
  CHECK_FALSE(r.err.has_value());
  CHECK(r.result.ok());
  CHECK(r.result.revision == 3u);
  CHECK(r.result.version == 3u);
  CHECK(last_applied() == 3u);

  // Each entry applied exactly once: versions 1..3 at revisions 1..3.
  auto txn = read_state(*ctx);
  auto vs = list_versions(txn, key_a);
  REQUIRE(vs.ok());
  REQUIRE(vs->size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK((*vs)[i].id == i + 1);
    CHECK((*vs)[i].revision == i + 1);
  }
}

TEST_CASE_FIXTURE(applier_fixture,
                  "applier_releases_reads_once_applied_reaches_the_read_index") {
  auto rh = read_barrier_at(2);
  CHECK_FALSE(rh->done);

  apply({command_entry(1, 1, create_cmd(key_a))});
  CHECK_FALSE(rh->done); // applied 1 < read index 2

  apply({command_entry(2, 1, create_cmd(key_b))});
  auto r = value_of(rh);
  CHECK_FALSE(r.err.has_value());
  CHECK(r.index >= 2u);

  // A barrier the applier has already passed is released at once.
  auto now = read_barrier_at(1);
  auto r2 = value_of(now);
  CHECK_FALSE(r2.err.has_value());
  CHECK(r2.index == 2u);
}

TEST_CASE_FIXTURE(applier_fixture, "applier_stops_the_node_on_a_gap_in_the_entries") {
  // Entry 2 without entry 1: the state machine refuses to apply it out of order.
  apply({command_entry(2, 1, create_cmd(key_a))});
  CHECK(ctx->failure.failed());
  CHECK(last_applied() == 0u);
}

TEST_CASE_FIXTURE(
    applier_fixture,
    "applier_answers_waiters_of_a_superseded_term_without_waiting_for_their_index") {
  // A write proposed at index 5 in term 1, and one proposed there in term 2.
  auto superseded = await_write(5, 1);
  auto current = await_write(5, 2);
  CHECK_FALSE(superseded->done);
  CHECK_FALSE(current->done);

  // Entries 1..2 commit, the last one of term 2: log terms never decrease, so
  // index 5 can no longer hold a term-1 entry. The term-1 waiter is answered
  // now, long before the log reaches index 5.
  apply(
      {command_entry(1, 1, create_cmd(key_a)), command_entry(2, 2, create_cmd(key_b))});
  REQUIRE(last_applied() == 2u);
  REQUIRE_MESSAGE(superseded->done,
                  "the term-1 waiter of index 5 was not answered once term 2 applied");
  auto r = value_of(superseded);
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::not_leader);
  CHECK_FALSE(r.err->message.empty());
  CHECK(ctx->applied.load() == 2u); // index 5 was never applied

  // A waiter of the newest term may still commit at its index: it waits.
  CHECK_FALSE(current->done);
  apply({command_entry(3, 2, version_cmd(key_a, R"({"pool": 20})")),
         command_entry(4, 2, version_cmd(key_a, R"({"pool": 30})")),
         command_entry(5, 2, version_cmd(key_b, R"({"pool": 40})"))});
  auto r5 = value_of(current);
  CHECK_FALSE(r5.err.has_value());
  CHECK(r5.index == 5u);
  CHECK(r5.result.ok());
  CHECK(r5.result.revision == 5u);
  CHECK(last_applied() == 5u);
  CHECK_FALSE(ctx->failure.failed());
}
