// The applier: applies committed entries in order (idempotently across
// restarts), one transaction per flush, and reports each transaction to the
// Raft role (here a recording listener) in one applied_notice: every entry
// it applied with its result, the applied index and the newest term. Which
// client waiters those reports answer is the Raft role's job
// (raft_actor_test.cpp, raft_replication_test.cpp). A full disk or database
// pauses applying (nothing skipped, nothing refused, the node keeps running)
// until the write fits; other storage errors stop the node.

#include "actors/client_session.hpp"
#include "protocol/state_machine.hpp"
#include "tests/actors/fixture.hpp"
#include "tests/protocol/auth_fixture.hpp"

#include <filesystem>
#include <memory>

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

struct applier_fixture : fixture {
  node_context_ptr ctx = open_context(options(1, {1}));
  applier_actor applier = spawn_applier(ctx);
  std::shared_ptr<applied_recorder> reports = listen_to(ctx);

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

  /// The newest notice the listener got (REQUIREs one).
  const applied_notice& last_notice() const {
    REQUIRE_FALSE(reports->notices.empty());
    return reports->notices.back();
  }
};

} // namespace

TEST_CASE_FIXTURE(applier_fixture, "applier_reports_an_applied_entry_with_its_result") {
  CHECK(reports->notices.empty()); // nothing applied yet

  apply({command_entry(1, 1, create_cmd(key_a))});
  REQUIRE(reports->notices.size() == 1u);
  auto& n = last_notice();
  CHECK(n.applied == 1u);
  CHECK(n.newest_term == 1u);
  REQUIRE(n.results.size() == 1u);
  auto& r = n.results[0];
  CHECK(r.index == 1u);
  CHECK(r.term == 1u);
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
                  "applier_reports_a_refused_command_with_its_command_error") {
  apply({command_entry(1, 1, create_cmd(key_a))});
  // The same key again: the state machine refuses it, the entry still applies.
  apply({command_entry(2, 1, create_cmd(key_a))});
  REQUIRE(reports->notices.size() == 2u);
  auto& n = last_notice();
  CHECK(n.applied == 2u);
  REQUIRE(n.results.size() == 1u);
  CHECK(n.results[0].index == 2u);
  REQUIRE(n.results[0].result.err.has_value());
  CHECK(n.results[0].result.err->code == errc::already_exists);
  CHECK(last_applied() == 2u);
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(applier_fixture,
                  "applier_reports_the_term_of_the_entry_applied_at_each_index") {
  // The Raft role tells a lost proposal from its own entry by this term.
  apply(
      {command_entry(1, 1, create_cmd(key_a)), command_entry(2, 2, create_cmd(key_b))});
  auto& n = last_notice();
  CHECK(n.applied == 2u);
  CHECK(n.newest_term == 2u);
  REQUIRE(n.results.size() == 2u);
  CHECK(n.results[0].index == 1u);
  CHECK(n.results[0].term == 1u);
  CHECK(n.results[1].index == 2u);
  CHECK(n.results[1].term == 2u);
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(applier_fixture,
                  "applier_reports_every_entry_of_one_flush_in_one_notice") {
  // Two batches in the mailbox before the flush: one transaction, one notice.
  send(applier, apply_batch{{command_entry(1, 1, create_cmd(key_a)),
                             command_entry(2, 1, create_cmd(key_b))}});
  send(applier,
       apply_batch{{command_entry(3, 1, version_cmd(key_a, R"({"pool": 20})"))}});
  run();
  REQUIRE(reports->notices.size() == 1u);
  auto& n = last_notice();
  CHECK(n.applied == 3u);
  CHECK(n.newest_term == 1u);
  REQUIRE(n.results.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(n.results[i].index == i + 1);
    CHECK(n.results[i].result.ok());
  }
  CHECK(n.results[0].result.version == 1u);
  CHECK(n.results[2].result.version == 2u);
  CHECK(last_applied() == 3u);
}

TEST_CASE_FIXTURE(applier_fixture, "applier_skips_entries_it_already_applied") {
  apply({command_entry(1, 1, create_cmd(key_a)),
         command_entry(2, 1, version_cmd(key_a, R"({"pool": 20})"))});
  REQUIRE(last_applied() == 2u);
  REQUIRE(reports->notices.size() == 1u);

  // The same entries again (the core re-hands them after a restart): no-op,
  // and nothing to report.
  apply({command_entry(1, 1, create_cmd(key_a)),
         command_entry(2, 1, version_cmd(key_a, R"({"pool": 20})"))});
  CHECK_FALSE(ctx->failure.failed());
  CHECK(last_applied() == 2u);
  CHECK(reports->notices.size() == 1u);

  // Restart: a new applier starts from the state's last_applied and gets a
  // batch that overlaps what is applied.
  caf::anon_send_exit(applier, caf::exit_reason::user_shutdown);
  run();
  applier = spawn_applier(ctx);
  reports = listen_to(ctx);
  run();
  apply({command_entry(1, 1, create_cmd(key_a)),
         command_entry(2, 1, version_cmd(key_a, R"({"pool": 20})")),
         command_entry(3, 1, version_cmd(key_a, R"({"pool": 30})"))});
  CHECK_FALSE(ctx->failure.failed());
  REQUIRE(reports->notices.size() == 1u);
  auto& n = last_notice();
  CHECK(n.applied == 3u);
  REQUIRE(n.results.size() == 1u); // only the entry it had not applied
  CHECK(n.results[0].index == 3u);
  CHECK(n.results[0].result.ok());
  CHECK(n.results[0].result.revision == 3u);
  CHECK(n.results[0].result.version == 3u);
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

TEST_CASE_FIXTURE(applier_fixture, "applier_stops_the_node_on_a_gap_in_the_entries") {
  // Entry 2 without entry 1: the state machine refuses to apply it out of order.
  apply({command_entry(2, 1, create_cmd(key_a))});
  CHECK(ctx->failure.failed());
  CHECK(last_applied() == 0u);
  CHECK(reports->notices.empty()); // nothing applied, nothing reported
}

namespace {

/// Fails the next `failures` commits with `code`.
struct commit_faults {
  int failures = 0;
  errc code = errc::resource_exhausted;
};

struct faulty_applier_fixture : fixture {
  node_context_ptr ctx = open_context(options(1, {1}));
  std::shared_ptr<commit_faults> faults = std::make_shared<commit_faults>();
  applier_actor applier = track(sys.spawn(
      applier_with_fault_fun, ctx, raft::index_t{0}, [f = faults]() -> conflux::status {
        if (f->failures == 0)
          return {};
        --f->failures;
        return conflux::status{f->code, "injected: No space left on device"};
      }));
  std::shared_ptr<applied_recorder> reports = listen_to(ctx);

  faulty_applier_fixture() { run(); }

  void apply(std::vector<raft::entry_ptr> entries) {
    send(applier, apply_batch{std::move(entries)});
    run();
  }

  /// Lets the paused applier's retry timer fire once.
  void wait_retry() {
    sched.advance_time(apply_retry_interval);
    run();
  }

  std::uint64_t last_applied() {
    auto txn = read_state(*ctx);
    auto a = txn.last_applied();
    REQUIRE(a.ok());
    return *a;
  }
};

rpc::client_request serializable_get(const std::string& key) {
  rpc::client_request r;
  r.op = static_cast<std::uint8_t>(rpc::request_op::get_config);
  r.consistency = 1;
  r.key = key;
  return r;
}

} // namespace

TEST_CASE_FIXTURE(faulty_applier_fixture,
                  "a_full_disk_pauses_applying_and_it_resumes_when_space_returns") {
  faults->failures = 2;
  apply({command_entry(1, 1, create_cmd(key_a))});
  // Not applied, not skipped, not refused, and the node runs on.
  CHECK(reports->notices.empty());
  CHECK(last_applied() == 0u);
  CHECK_FALSE(ctx->failure.failed());
  CHECK(ctx->paused.paused());
  CHECK(ctx->paused.reason().find("No space left on device") != std::string::npos);
  CHECK(ctx->counters.get("apply.paused.disk_full") == 1u);

  // Entries committed meanwhile wait behind the first.
  apply({command_entry(2, 1, create_cmd(key_b))});
  CHECK(reports->notices.empty());

  wait_retry(); // the second failure: still paused, counted once
  CHECK(reports->notices.empty());
  CHECK(ctx->paused.paused());
  CHECK(ctx->counters.get("apply.paused.disk_full") == 1u);

  wait_retry(); // room again: both entries, in order, in one transaction
  REQUIRE(reports->notices.size() == 1u);
  auto& n = reports->notices.back();
  CHECK(n.applied == 2u);
  REQUIRE(n.results.size() == 2u);
  CHECK(n.results[0].index == 1u);
  CHECK(n.results[1].index == 2u);
  CHECK(n.results[1].result.ok());
  CHECK(last_applied() == 2u);
  CHECK_FALSE(ctx->paused.paused());
  CHECK(ctx->paused.reason().empty());
  CHECK_FALSE(ctx->failure.failed());

  // Applying goes on as before.
  apply({command_entry(3, 1, version_cmd(key_a, "{}"))});
  CHECK(reports->notices.size() == 2u);
  CHECK(last_applied() == 3u);
}

TEST_CASE_FIXTURE(faulty_applier_fixture,
                  "a_storage_error_other_than_a_full_disk_still_stops_the_node") {
  faults->failures = 1;
  faults->code = errc::storage_failure;
  apply({command_entry(1, 1, create_cmd(key_a))});
  CHECK(ctx->failure.failed());
  CHECK_FALSE(ctx->paused.paused());
  CHECK(ctx->counters.get("apply.paused.disk_full") == 0u);
  CHECK(reports->notices.empty());
}

TEST_CASE_FIXTURE(fixture,
                  "a_full_database_pauses_applying_and_serializable_reads_go_on") {
  // The smallest map a node takes (1 MiB): three configs of 400 KiB do not
  // fit.
  auto opts = options(1, {1});
  std::filesystem::create_directories(opts.data_dir);
  storage::state_store_options so{{cluster, opts.id}};
  so.map_size = storage::lmdb::min_map_size;
  auto store = storage::state_store::open(opts.data_dir + "/state", so);
  REQUIRE(store.ok());
  {
    auto w = store->begin_write();
    REQUIRE(w.ok());
    REQUIRE(test_auth::seed_admin(*w).ok());
    REQUIRE(w->commit().ok());
  }
  auto ctx = std::make_shared<node_context>();
  ctx->opts = opts;
  ctx->state = std::make_shared<storage::state_store>(std::move(*store));
  seed_admin(*ctx);
  auto applier = track(sys.spawn(applier_fun, ctx, raft::index_t{0}));
  auto reports = listen_to(ctx);
  run();

  send(applier, apply_batch{{command_entry(1, 1, create_cmd(key_a))}});
  run();
  REQUIRE(ctx->applied.load() == 1u);
  // Three new configs of distinct contents (equal ones could share storage).
  auto big = [](char c) { return "\"" + std::string(400 * 1024, c) + "\""; };
  send(applier, apply_batch{{command_entry(2, 1, create_cmd(key_b, big('x'))),
                             command_entry(3, 1, create_cmd(key_a + ".y", big('y'))),
                             command_entry(4, 1, create_cmd(key_a + ".z", big('z')))}});
  run();
  CHECK_FALSE(ctx->failure.failed()); // the node stays up
  CHECK(ctx->paused.paused());
  CHECK(ctx->paused.reason().find("--max-db-size") != std::string::npos);
  CHECK(ctx->counters.get("apply.paused.disk_full") == 1u);
  CHECK(ctx->applied.load() == 1u);
  CHECK(reports->notices.size() == 1u);

  // Retries go on and fail the same way; the node still serves what it has.
  sched.advance_time(apply_retry_interval);
  run();
  CHECK(ctx->paused.paused());
  CHECK_FALSE(ctx->failure.failed());
  auto r = serve_read(*ctx, serializable_get(key_a), admin_identity());
  CHECK_MESSAGE(r.code == 0u, r.message);
  CHECK(r.revision == 1u);
}
