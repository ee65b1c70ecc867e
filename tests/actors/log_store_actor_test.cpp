// The log store actor: one durable persist per request, reported to the Raft
// role holding the core (the node's raft slot) with the request's persist id;
// a failed persist stops the node and is never reported.

#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

using persist_listener_actor = caf::typed_actor<caf::reacts_to<persisted_notice>>;

persist_listener_actor::behavior_type
persist_listener_fun(persist_listener_actor::pointer,
                     std::shared_ptr<std::vector<std::uint64_t>> got) {
  return {
      [=](persisted_notice& n) { got->push_back(n.persist_id); },
  };
}

/// Stands in for the Raft role of `ctx`; returns what it will be told.
std::shared_ptr<std::vector<std::uint64_t>>
listen_for_persists(fixture& f, const node_context_ptr& ctx) {
  auto got = std::make_shared<std::vector<std::uint64_t>>();
  auto l = f.track(f.sys.spawn(persist_listener_fun, got));
  ctx->raft.set(caf::actor_cast<raft_actor_impl>(l));
  return got;
}

} // namespace

TEST_CASE_FIXTURE(
    fixture, "log_store_actor_persists_a_batch_and_reports_its_persist_id_to_raft") {
  auto ctx = open_context(options(1, {1}));
  auto persisted = listen_for_persists(*this, ctx);
  auto log = spawn_log_store(open_log(1), ctx);
  run();

  persist_request first;
  first.persist_id = 7;
  first.batch.hard = raft::hard_state{2, 1, 0};
  first.batch.entries = {command_entry(1, 1, "a"), command_entry(2, 2, "b"),
                         command_entry(3, 2, "c")};
  send(log, std::move(first));
  run();
  CHECK(*persisted == std::vector<std::uint64_t>{7});
  {
    auto& st = log_state(log);
    CHECK(st.persists == 1u);
    CHECK(st.store->last_index() == 3u);
    CHECK(st.store->last_term() == 2u);
    CHECK(st.store->hard_state() == raft::hard_state{2, 1, 0});
  }

  // A later batch replaces the suffix from its first entry and moves the hard
  // state; the report is again its own persist id.
  persist_request second;
  second.persist_id = 9;
  second.batch.hard = raft::hard_state{3, 1, 2};
  second.batch.entries = {command_entry(3, 3, "c3")};
  send(log, std::move(second));
  run();
  CHECK(*persisted == std::vector<std::uint64_t>{7, 9});
  CHECK(log_state(log).persists == 2u);
  CHECK_FALSE(ctx->failure.failed());

  // Durable: after the actor is gone, a fresh open of the directory sees it.
  caf::anon_send_exit(log, caf::exit_reason::user_shutdown);
  run();
  auto reopened = open_log(1);
  CHECK(reopened->last_index() == 3u);
  CHECK(reopened->hard_state() == raft::hard_state{3, 1, 2});
  auto e3 = reopened->entry(3);
  REQUIRE(e3.ok());
  CHECK(e3->term == 3u);
  CHECK(e3->data == "c3");
  auto e2 = reopened->entry(2);
  REQUIRE(e2.ok());
  CHECK(e2->data == "b");
}

TEST_CASE_FIXTURE(fixture, "log_store_actor_stops_the_node_when_a_persist_fails") {
  auto ctx = open_context(options(1, {1}));
  auto persisted = listen_for_persists(*this, ctx);
  auto log = spawn_log_store(open_log(1), ctx);
  run();

  // Entries that leave a gap after the (empty) log: the store refuses them.
  persist_request bad;
  bad.persist_id = 1;
  bad.batch.entries = {command_entry(5, 1, "gap")};
  send(log, std::move(bad));
  run();
  CHECK_MESSAGE(persisted->empty(), "a failed persist was acknowledged");
  CHECK(ctx->failure.failed());
  CHECK(ctx->failure.message().find("persist") != std::string::npos);

  // The actor is gone: nothing acknowledges later persists.
  persist_request next;
  next.persist_id = 2;
  next.batch.hard = raft::hard_state{1, 0, 0};
  send(log, std::move(next));
  run();
  CHECK(persisted->empty());
}
