// The state machine over the LMDB state store across crashes: an apply batch
// is all-or-nothing together with last_applied, and a node that restarts
// resumes after last_applied, so nothing is half-applied and nothing is
// applied twice. The in-memory twin applying the same log once is the
// reference.

#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/state_machine.hpp"
#include "storage/state_store.hpp"
#include "tests/protocol/auth_fixture.hpp"
#include "tests/storage/temp_dir.hpp"

#include <doctest/doctest.h>

using namespace conflux;
using namespace conflux::storage;

namespace {

state_store_options opts() {
  state_store_options o;
  o.identity.cluster_id = "recovery";
  o.identity.node_id = 1;
  return o;
}

// The state store in dir, with the tables a bootstrap makes (the log below
// is written by the test cluster admin).
expected<state_store> open_store(const std::string& dir) {
  auto store = state_store::open(dir, opts());
  if (!store.ok())
    return store;
  auto w = store->begin_write();
  REQUIRE(w.ok());
  REQUIRE(test_auth::seed_admin(*w).ok());
  REQUIRE(w->commit().ok());
  return store;
}

// A log of mixed commands, including refusals and a session retry.
std::vector<raft::log_entry> make_log() {
  const std::string k1 = "acme/web/prod/a.json", k2 = "acme/web/prod/b.yaml";
  std::vector<command_envelope> cmds{
      {0, 0,
       create_config{k1, content_format::json, std::nullopt, "{\"v\":1}", "", "ann"}},
      {0, 0, open_session{60'000, 1}},
      {1, 1, create_version{k1, "{\"v\":2}", "", "ann", std::nullopt}},
      {0, 0, create_config{k2, content_format::yaml, std::nullopt, "a: 1\n", "", ""}},
      {1, 1,
       create_version{k1, "{\"v\":2}", "", "ann",
                      std::nullopt}}, // retry: answered once
      {0, 0,
       update_release_rules{
           k1, {{{{"canary", "true"}}, 2, 10}, {{}, 1, 0}}, "", std::nullopt}},
      {0, 0, create_version{k2, "a: [", "", "", std::nullopt}}, // refused: invalid YAML
      {1, 2, publish{k2, "a: 2\n", "", "", {{{}, 0, 0}}, std::nullopt}},
      {0, 0, delete_versions{k1, {1}, std::nullopt}}, // refused: in use
      {0, 0, update_release_rules{k1, {{{}, 2, 0}}, "", std::nullopt}},
      {0, 0, delete_versions{k1, {1}, std::nullopt}},
      {1, 3, create_version{k2, "a: 3\n", "", "", std::nullopt}},
  };
  std::vector<raft::log_entry> log;
  std::uint64_t index = 0;
  for (auto& c : cmds) {
    c.credential = test_auth::admin_credential();
    raft::log_entry e;
    e.index = ++index;
    e.term = 1;
    e.timestamp_ms = 1'000'000 + static_cast<std::int64_t>(index) * 10;
    e.data = codec::encode(c);
    log.push_back(e);
    if (index == 5) { // a no-op from a new leader in the middle
      raft::log_entry n;
      n.index = ++index;
      n.term = 2;
      n.kind = raft::entry_kind::noop;
      log.push_back(n);
    }
  }
  return log;
}

// Every record of the state as one string, for whole-state comparison.
std::string dump(state_reader& st) {
  std::string out;
  auto keys = st.list_keys("", 0);
  REQUIRE(keys.ok());
  for (auto& [key, id] : *keys) {
    out += key + "=" + std::to_string(id) + ";";
    auto c = st.find_config(id);
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    out += codec::encode(**c);
    auto vs = st.list_versions(id);
    REQUIRE(vs.ok());
    for (auto& v : *vs)
      out += codec::encode(v);
  }
  auto ss = st.list_sessions();
  REQUIRE(ss.ok());
  for (auto& s : *ss)
    out += codec::encode(s);
  for (auto c : {counter::last_config_id, counter::last_session_id,
                 counter::session_sweep_ms, counter::auth_bootstrapped})
    out += "c" + std::to_string(st.get_counter(c).value());
  auto principals = st.list_principals();
  auto roles = st.list_roles();
  auto tenants = st.list_tenants();
  REQUIRE(principals.ok());
  REQUIRE(roles.ok());
  REQUIRE(tenants.ok());
  for (auto& p : *principals)
    out += codec::encode(p);
  for (auto& r : *roles)
    out += codec::encode(r);
  for (auto& t : *tenants)
    out += codec::encode(t);
  out += "applied" + std::to_string(st.last_applied().value());
  return out;
}

// Applies log[from, to) in one write txn; commits only if `commit`.
void apply_batch(state_store& store, const std::vector<raft::log_entry>& log,
                 std::size_t from, std::size_t to, bool commit) {
  state_machine sm;
  auto txn = store.begin_write();
  REQUIRE(txn.ok());
  for (auto i = from; i < to; ++i) {
    auto r = sm.apply(*txn, log[i]);
    REQUIRE_MESSAGE(r.ok(), to_string(r.err()));
  }
  if (commit)
    REQUIRE(txn->commit().ok());
}

} // namespace

TEST_CASE("a_crash_between_apply_transactions_loses_the_open_batch_and_nothing_else") {
  auto log = make_log();
  memory_state reference;
  REQUIRE(test_auth::seed_admin(reference).ok());
  state_machine sm;
  for (auto& e : log)
    REQUIRE(sm.apply(reference, e).ok());

  test::temp_dir tmp;
  {
    auto store = open_store(tmp.sub("state"));
    REQUIRE(store.ok());
    apply_batch(*store, log, 0, 4, true);
    // Crash with the second batch applied but not committed.
    apply_batch(*store, log, 4, 9, false);
  }
  auto store = open_store(tmp.sub("state"));
  REQUIRE(store.ok());
  {
    auto r = store->begin_read();
    REQUIRE(r.ok());
    CHECK(r->last_applied().value() == 4);
    // Nothing of the lost batch is visible: version 3 of a.json (entry 5 is
    // the retry, entry 7 the rules) never happened.
    CHECK(r->find_config(1)->value().releases.empty());
  }
  // Restart: resume after last_applied, in batches of a different size.
  std::size_t next = 4;
  while (next < log.size()) {
    auto end = std::min(next + 3, log.size());
    apply_batch(*store, log, next, end, true);
    next = end;
  }
  auto r = store->begin_read();
  REQUIRE(r.ok());
  CHECK(dump(*r) == dump(reference));
  CHECK(r->last_applied().value() == log.size());
}

TEST_CASE("re_applying_an_entry_after_restart_is_refused_and_changes_nothing") {
  auto log = make_log();
  test::temp_dir tmp;
  {
    auto store = open_store(tmp.sub("state"));
    REQUIRE(store.ok());
    apply_batch(*store, log, 0, log.size(), true);
  }
  auto store = open_store(tmp.sub("state"));
  REQUIRE(store.ok());
  std::string before;
  {
    auto r = store->begin_read();
    before = dump(*r);
  }
  state_machine sm;
  {
    auto txn = store->begin_write();
    REQUIRE(txn.ok());
    auto again = sm.apply(*txn, log[2]);
    REQUIRE(!again.ok());
    CHECK(again.code() == errc::invalid_argument);
  }
  auto r = store->begin_read();
  CHECK(dump(*r) == before);
}

TEST_CASE("a_session_retry_after_restart_is_answered_from_the_session") {
  auto log = make_log();
  test::temp_dir tmp;
  apply_result first;
  {
    auto store = open_store(tmp.sub("state"));
    REQUIRE(store.ok());
    apply_batch(*store, log, 0, 3, true); // includes session 1, sequence 1
    auto r = store->begin_read();
    first = r->find_session(1).value()->last_result;
    REQUIRE(first.ok());
    CHECK(first.version == 2);
  }
  auto store = open_store(tmp.sub("state"));
  REQUIRE(store.ok());
  // The client, not knowing whether its write landed, retries it as a new
  // log entry after the restart.
  raft::log_entry retry = log[2];
  retry.index = 4;
  state_machine sm;
  auto txn = store->begin_write();
  REQUIRE(txn.ok());
  auto again = sm.apply(*txn, retry);
  REQUIRE(again.ok());
  CHECK(*again == first);
  CHECK(txn->find_config(1).value()->latest_version == 2);
  REQUIRE(txn->commit().ok());
}
