// Black-box tests of storage/state_store over a real LMDB environment in a
// temp dir: every record kind, range scans, transaction atomicity with
// last_applied, reopen, identity refusal and corruption detection.

#include "storage/endian.hpp"
#include "storage/identity.hpp"
#include "storage/lmdb.hpp"
#include "storage/log_store.hpp"
#include "storage/record.hpp"
#include "storage/state_store.hpp"
#include "tests/protocol/state_contract.hpp"
#include "tests/storage/raw_edit.hpp"
#include "tests/storage/temp_dir.hpp"

#include <doctest/doctest.h>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace conflux;
using namespace conflux::storage;
using conflux::storage::test::delete_raw;
using conflux::storage::test::edit_raw;
using conflux::storage::test::temp_dir;

state_store_options opts(std::string cluster = "c1", raft::server_id node = 1) {
  state_store_options o;
  o.identity.cluster_id = std::move(cluster);
  o.identity.node_id = node;
  return o;
}

state_store open_ok(const std::string& dir, const state_store_options& o = opts()) {
  auto s = state_store::open(dir, o);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : to_string(s.err())));
  return std::move(*s);
}

state_write_txn write_ok(state_store& s) {
  auto w = s.begin_write();
  REQUIRE_MESSAGE(w.ok(), (w.ok() ? "" : to_string(w.err())));
  return std::move(*w);
}

state_read_txn read_ok(const state_store& s) {
  auto r = s.begin_read();
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : to_string(r.err())));
  return std::move(*r);
}

config make_config(config_id id, std::string key) {
  config c;
  c.id = id;
  c.key = std::move(key);
  c.format = content_format::json;
  c.schema = std::string{R"({"type":"object"})"};
  c.latest_version = 2;
  c.releases.push_back(release_rule{{{"canary", "true"}}, 2, 10});
  c.releases.push_back(release_rule{{}, 1, 0});
  c.create_revision = 5;
  c.mod_revision = 9;
  c.created_at_ms = 1'700'000'000'000;
  c.updated_at_ms = 1'700'000'000'500;
  return c;
}

version make_version(config_id c, version_id id) {
  version v;
  v.config = c;
  v.id = id;
  v.content = R"({"pool":)" + std::to_string(id) + "}";
  v.content_hash = std::string(64, 'a');
  v.format = content_format::json;
  v.description = "v" + std::to_string(id);
  v.creator = "alice";
  v.created_at_ms = 1'700'000'000'000 + static_cast<std::int64_t>(id);
  v.revision = 100 + id;
  return v;
}

client_session make_session(session_id id) {
  client_session s;
  s.id = id;
  s.timeout_ms = 60'000;
  s.last_active_ms = 1'700'000'000'000;
  s.last_sequence = 7;
  s.last_result.revision = 42;
  s.last_result.config = 3;
  s.last_result.version = 2;
  return s;
}

} // namespace

TEST_CASE("state_store_new_store_is_empty") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto r = read_ok(s);
  auto la = r.last_applied();
  REQUIRE(la.ok());
  CHECK(*la == 0);
  auto ctr = r.get_counter(counter::last_config_id);
  REQUIRE(ctr.ok());
  CHECK(*ctr == 0);
  auto keys = r.list_keys("", 0);
  REQUIRE(keys.ok());
  CHECK(keys->empty());
  auto c = r.find_config(1);
  REQUIRE(c.ok());
  CHECK_FALSE(c->has_value());
}

TEST_CASE("state_store_put_get_erase_every_record_kind") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  const auto cfg = make_config(3, "acme/shop/prod/db.json");
  const auto v1 = make_version(3, 1);
  const auto sess = make_session(9);
  {
    auto w = write_ok(s);
    CHECK_OK(w.put_config(cfg));
    CHECK_OK(w.put_key(cfg.key, cfg.id));
    CHECK_OK(w.put_version(v1));
    CHECK_OK(w.put_session(sess));
    CHECK_OK(w.set_counter(counter::last_config_id, 3));
    CHECK_OK(w.set_counter(counter::last_session_id, 9));
    CHECK_OK(w.set_counter(counter::session_sweep_ms, 1234));
    CHECK_OK(w.set_last_applied(17));
    CHECK_OK(w.commit());
  }
  {
    auto r = read_ok(s);
    auto c = r.find_config(3);
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    CHECK(**c == cfg);
    auto id = r.find_config_id(cfg.key);
    REQUIRE(id.ok());
    REQUIRE(id->has_value());
    CHECK(**id == 3);
    auto v = r.find_version(3, 1);
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    CHECK(**v == v1);
    auto se = r.find_session(9);
    REQUIRE(se.ok());
    REQUIRE(se->has_value());
    CHECK(**se == sess);
    CHECK(*r.get_counter(counter::last_config_id) == 3);
    CHECK(*r.get_counter(counter::last_session_id) == 9);
    CHECK(*r.get_counter(counter::session_sweep_ms) == 1234);
    CHECK(*r.last_applied() == 17);
    // Absent neighbours.
    CHECK_FALSE(r.find_config(4)->has_value());
    CHECK_FALSE(r.find_version(3, 2)->has_value());
    CHECK_FALSE(r.find_config_id("acme/shop/prod/db.jso")->has_value());
  }
  {
    auto w = write_ok(s);
    CHECK_OK(w.erase_config(3));
    CHECK_OK(w.erase_key(cfg.key));
    CHECK_OK(w.erase_version(3, 1));
    CHECK_OK(w.erase_session(9));
    // Erasing what is not there is not an error (as in memory_state).
    CHECK_OK(w.erase_config(77));
    CHECK_OK(w.erase_key("no/such/key/x"));
    CHECK_OK(w.commit());
  }
  auto r = read_ok(s);
  CHECK_FALSE(r.find_config(3)->has_value());
  CHECK_FALSE(r.find_config_id(cfg.key)->has_value());
  CHECK_FALSE(r.find_version(3, 1)->has_value());
  CHECK_FALSE(r.find_session(9)->has_value());
  CHECK(r.list_sessions()->empty());
}

TEST_CASE("state_store_put_replaces_existing_record") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto cfg = make_config(1, "t/a/e/n");
  {
    auto w = write_ok(s);
    CHECK_OK(w.put_config(cfg));
    CHECK_OK(w.put_key(cfg.key, 1));
    cfg.mod_revision = 99;
    cfg.releases.clear();
    CHECK_OK(w.put_config(cfg));
    CHECK_OK(w.put_key(cfg.key, 2));
    CHECK_OK(w.commit());
  }
  auto r = read_ok(s);
  CHECK(**r.find_config(1) == cfg);
  CHECK(**r.find_config_id(cfg.key) == 2);
}

TEST_CASE("state_store_list_keys_by_prefix_with_limit") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  const std::vector<std::string> keys{"acme/shop/dev/a.json",
                                      "acme/shop/prod/a.json",
                                      "acme/shop/prod/b.json",
                                      "acme/shop/prod/c.json",
                                      "acme/shop/prodx/a.json",
                                      "acme/zoo/prod/a.json",
                                      "beta/x/y/z"};
  {
    auto w = write_ok(s);
    // Insert out of order: the listing order comes from the key bytes.
    for (std::size_t i = keys.size(); i-- > 0;)
      CHECK_OK(w.put_key(keys[i], i + 1));
    CHECK_OK(w.commit());
  }
  auto r = read_ok(s);
  auto prod = r.list_keys("acme/shop/prod/", 0);
  REQUIRE(prod.ok());
  REQUIRE(prod->size() == 3);
  CHECK((*prod)[0] == std::pair<std::string, config_id>{"acme/shop/prod/a.json", 2});
  CHECK((*prod)[1] == std::pair<std::string, config_id>{"acme/shop/prod/b.json", 3});
  CHECK((*prod)[2] == std::pair<std::string, config_id>{"acme/shop/prod/c.json", 4});
  auto limited = r.list_keys("acme/shop/prod", 2);
  REQUIRE(limited.ok());
  REQUIRE(limited->size() == 2);
  CHECK((*limited)[0].first == "acme/shop/prod/a.json");
  CHECK((*limited)[1].first == "acme/shop/prod/b.json");
  auto prodx = r.list_keys("acme/shop/prod", 0);
  REQUIRE(prodx.ok());
  CHECK(prodx->size() == 4); // includes acme/shop/prodx/a.json
  auto all = r.list_keys("", 0);
  REQUIRE(all.ok());
  REQUIRE(all->size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i)
    CHECK((*all)[i].first == keys[i]);
  auto none = r.list_keys("acme/shop/q", 0);
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto after_all = r.list_keys("zzz", 0);
  REQUIRE(after_all.ok());
  CHECK(after_all->empty());
}

TEST_CASE("state_store_list_versions_in_id_order_within_one_config") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  {
    auto w = write_ok(s);
    // Ids that sort wrongly as little-endian or text: 1, 2, 255, 256, 65536.
    for (version_id id : {65536u, 2u, 256u, 1u, 255u})
      CHECK_OK(w.put_version(make_version(7, id)));
    // Neighbouring configs must not leak into the listing.
    CHECK_OK(w.put_version(make_version(6, 1)));
    CHECK_OK(w.put_version(make_version(8, 1)));
    CHECK_OK(w.put_version(make_version(7 + 256, 1)));
    CHECK_OK(w.commit());
  }
  auto r = read_ok(s);
  auto vs = r.list_versions(7);
  REQUIRE(vs.ok());
  std::vector<version_id> ids;
  for (const auto& v : *vs) {
    CHECK(v.config == 7);
    ids.push_back(v.id);
  }
  CHECK(ids == std::vector<version_id>{1, 2, 255, 256, 65536});
  CHECK((*vs)[3] == make_version(7, 256));
  auto empty = r.list_versions(5);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto last = r.list_versions(7 + 256);
  REQUIRE(last.ok());
  CHECK(last->size() == 1);
}

TEST_CASE("state_store_list_sessions_in_id_order") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  {
    auto w = write_ok(s);
    for (session_id id : {300u, 4u, 1u})
      CHECK_OK(w.put_session(make_session(id)));
    CHECK_OK(w.commit());
  }
  auto r = read_ok(s);
  auto ss = r.list_sessions();
  REQUIRE(ss.ok());
  REQUIRE(ss->size() == 3);
  CHECK((*ss)[0].id == 1);
  CHECK((*ss)[1].id == 4);
  CHECK((*ss)[2] == make_session(300));
}

TEST_CASE("state_store_write_txn_sees_its_own_writes_before_commit") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  CHECK_OK(w.put_config(make_config(1, "t/a/e/n")));
  CHECK_OK(w.put_key("t/a/e/n", 1));
  CHECK_OK(w.put_version(make_version(1, 1)));
  CHECK_OK(w.set_last_applied(3));
  CHECK(w.find_config(1)->has_value());
  CHECK(w.list_keys("t/", 0)->size() == 1);
  CHECK(w.list_versions(1)->size() == 1);
  CHECK(*w.last_applied() == 3);
  // A reader opened meanwhile sees none of it.
  auto r = read_ok(s);
  CHECK_FALSE(r.find_config(1)->has_value());
  CHECK(*r.last_applied() == 0);
}

TEST_CASE("state_store_write_txn_aborted_on_destruction_leaves_nothing") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  {
    auto w = write_ok(s);
    CHECK_OK(w.put_config(make_config(1, "t/a/e/n")));
    CHECK_OK(w.put_key("t/a/e/n", 1));
    CHECK_OK(w.put_session(make_session(1)));
    CHECK_OK(w.set_counter(counter::last_config_id, 1));
    CHECK_OK(w.set_last_applied(1));
  } // no commit
  auto r = read_ok(s);
  CHECK_FALSE(r.find_config(1)->has_value());
  CHECK_FALSE(r.find_config_id("t/a/e/n")->has_value());
  CHECK(r.list_sessions()->empty());
  CHECK(*r.get_counter(counter::last_config_id) == 0);
  CHECK(*r.last_applied() == 0);
}

TEST_CASE("state_store_explicit_abort_then_use_is_refused") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  CHECK_OK(w.put_config(make_config(1, "t/a/e/n")));
  w.abort();
  CHECK_FALSE(w.live());
  CHECK_FALSE(w.put_config(make_config(2, "t/a/e/m")).ok());
  CHECK_FALSE(w.commit().ok());
  auto r = read_ok(s);
  CHECK_FALSE(r.find_config(1)->has_value());
}

TEST_CASE("state_store_last_applied_is_committed_atomically_with_the_batch") {
  temp_dir tmp;
  {
    auto s = open_ok(tmp.sub("state"));
    auto w = write_ok(s);
    CHECK_OK(w.put_config(make_config(1, "t/a/e/one")));
    CHECK_OK(w.put_key("t/a/e/one", 1));
    CHECK_OK(w.set_counter(counter::last_config_id, 1));
    CHECK_OK(w.set_last_applied(5));
    CHECK_OK(w.commit());
    // The next batch is interrupted before commit (as by a crash).
    auto w2 = write_ok(s);
    CHECK_OK(w2.put_config(make_config(2, "t/a/e/two")));
    CHECK_OK(w2.put_key("t/a/e/two", 2));
    CHECK_OK(w2.set_counter(counter::last_config_id, 2));
    CHECK_OK(w2.set_last_applied(6));
  } // w2, then the store, destroyed without commit
  auto s = open_ok(tmp.sub("state"));
  auto r = read_ok(s);
  CHECK(*r.last_applied() == 5);
  CHECK(*r.get_counter(counter::last_config_id) == 1);
  CHECK(r.find_config(1)->has_value());
  CHECK_FALSE(r.find_config(2)->has_value());
  CHECK_FALSE(r.find_config_id("t/a/e/two")->has_value());
  CHECK(r.list_keys("", 0)->size() == 1);
}

TEST_CASE("state_store_reopen_keeps_committed_state") {
  temp_dir tmp;
  const auto cfg = make_config(4, "t/a/e/n");
  {
    auto s = open_ok(tmp.sub("state"));
    auto w = write_ok(s);
    CHECK_OK(w.put_config(cfg));
    CHECK_OK(w.put_key(cfg.key, 4));
    for (version_id id = 1; id <= 3; ++id)
      CHECK_OK(w.put_version(make_version(4, id)));
    CHECK_OK(w.put_session(make_session(2)));
    CHECK_OK(w.set_counter(counter::last_session_id, 2));
    CHECK_OK(w.set_last_applied(40));
    CHECK_OK(w.commit());
  }
  auto s = open_ok(tmp.sub("state"));
  auto r = read_ok(s);
  CHECK(**r.find_config(4) == cfg);
  CHECK(**r.find_config_id(cfg.key) == 4);
  CHECK(r.list_versions(4)->size() == 3);
  CHECK(**r.find_session(2) == make_session(2));
  CHECK(*r.get_counter(counter::last_session_id) == 2);
  CHECK(*r.last_applied() == 40);
}

TEST_CASE("state_store_read_txn_keeps_its_snapshot_while_writes_commit") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  {
    auto w = write_ok(s);
    CHECK_OK(w.set_last_applied(1));
    CHECK_OK(w.commit());
  }
  auto before = read_ok(s);
  {
    auto w = write_ok(s);
    CHECK_OK(w.put_config(make_config(1, "t/a/e/n")));
    CHECK_OK(w.set_last_applied(2));
    CHECK_OK(w.commit());
  }
  CHECK(*before.last_applied() == 1);
  CHECK_FALSE(before.find_config(1)->has_value());
  auto after = read_ok(s);
  CHECK(*after.last_applied() == 2);
  CHECK(after.find_config(1)->has_value());
}

TEST_CASE("state_store_detects_corrupted_record_and_names_db_and_key") {
  temp_dir tmp;
  {
    auto s = open_ok(tmp.sub("state"));
    auto w = write_ok(s);
    CHECK_OK(w.put_config(make_config(12, "t/a/e/n")));
    CHECK_OK(w.put_version(make_version(12, 1)));
    CHECK_OK(w.put_version(make_version(12, 2)));
    CHECK_OK(w.commit());
  }
  edit_raw(tmp.sub("state"), "configs", u64_be(12),
           [](std::string& v) { v[v.size() / 2] ^= 0x20; });
  std::string vkey = u64_be(12) + u64_be(2);
  edit_raw(tmp.sub("state"), "versions", vkey,
           [](std::string& v) { v.back() ^= 0x01; });
  auto s = open_ok(tmp.sub("state"));
  auto r = read_ok(s);
  auto c = r.find_config(12);
  REQUIRE_FALSE(c.ok());
  CHECK(c.code() == errc::corrupted);
  CHECK(c.err().message.find("'configs'") != std::string::npos);
  CHECK(c.err().message.find("12") != std::string::npos);
  auto v = r.find_version(12, 2);
  REQUIRE_FALSE(v.ok());
  CHECK(v.code() == errc::corrupted);
  CHECK(v.err().message.find("'versions'") != std::string::npos);
  CHECK(r.list_versions(12).code() == errc::corrupted);
  CHECK(r.find_version(12, 1).ok());
}

TEST_CASE("state_store_detects_checksummed_but_undecodable_record") {
  temp_dir tmp;
  {
    auto s = open_ok(tmp.sub("state"));
    auto w = write_ok(s);
    CHECK_OK(w.put_session(make_session(5)));
    CHECK_OK(w.commit());
  }
  // A valid frame around bytes the codec cannot decode: the checksum passes,
  // decoding must still refuse it.
  auto key = u64_be(5);
  edit_raw(tmp.sub("state"), "sessions", key, [&](std::string& v) {
    v = frame_value(key, std::string{"\x01\xc1garbage", 9});
  });
  auto s = open_ok(tmp.sub("state"));
  auto r = read_ok(s);
  auto se = r.find_session(5);
  REQUIRE_FALSE(se.ok());
  CHECK(se.code() == errc::corrupted);
  CHECK(se.err().message.find("'sessions'") != std::string::npos);
  CHECK(r.list_sessions().code() == errc::corrupted);
}

TEST_CASE("state_store_detects_corrupted_key_index_and_counter") {
  temp_dir tmp;
  {
    auto s = open_ok(tmp.sub("state"));
    auto w = write_ok(s);
    CHECK_OK(w.put_key("t/a/e/n", 3));
    CHECK_OK(w.set_last_applied(8));
    CHECK_OK(w.commit());
  }
  edit_raw(tmp.sub("state"), "keys", "t/a/e/n", [](std::string& v) { v[11] ^= 0x01; });
  edit_raw(tmp.sub("state"), "meta", "last_applied",
           [](std::string& v) { v[4] ^= 0x01; });
  auto s = open_ok(tmp.sub("state"));
  auto r = read_ok(s);
  CHECK(r.find_config_id("t/a/e/n").code() == errc::corrupted);
  CHECK(r.list_keys("t/", 0).code() == errc::corrupted);
  CHECK(r.last_applied().code() == errc::corrupted);
}

TEST_CASE("state_store_refuses_other_cluster_node_and_newer_format") {
  temp_dir tmp;
  { open_ok(tmp.sub("state"), opts("alpha", 3)); }
  auto other_cluster = state_store::open(tmp.sub("state"), opts("beta", 3));
  CHECK(other_cluster.code() == errc::invalid_argument);
  auto other_node = state_store::open(tmp.sub("state"), opts("alpha", 4));
  CHECK(other_node.code() == errc::invalid_argument);
  std::string key{meta_key::format_version};
  edit_raw(tmp.sub("state"), "meta", key, [&](std::string& v) {
    std::string payload(4, '\0');
    put_u32_le(payload.data(), storage_format_version + 1);
    v = frame_value(key, payload);
  });
  auto newer = state_store::open(tmp.sub("state"), opts("alpha", 3));
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.code() == errc::unsupported_version);
  CHECK(newer.err().message.find(tmp.sub("state")) != std::string::npos);
}

TEST_CASE("state_store_refuses_a_log_environment") {
  temp_dir tmp;
  {
    log_store_options lo;
    lo.identity = opts().identity;
    REQUIRE(log_store::open(tmp.sub("log"), lo).ok());
  }
  auto s = state_store::open(tmp.sub("log"), opts());
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == errc::invalid_argument);
  CHECK(s.err().message.find("'log' store") != std::string::npos);
}

TEST_CASE("state_store_key_longer_than_lmdb_limit_is_too_large") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  std::string longest(511, 'k');
  CHECK_OK(w.put_key(longest, 1));
  CHECK_OK(w.commit());
  {
    auto r = read_ok(s);
    CHECK(**r.find_config_id(longest) == 1);
  }
  // Any failed write poisons the txn (the state machine cannot undo what it
  // wrote before the failure): nothing of it may be committed.
  auto w2 = write_ok(s);
  CHECK_OK(w2.put_key("a/b/c/d", 2));
  std::string too_long(512, 'k');
  CHECK(w2.put_key(too_long, 2).code() == errc::too_large);
  CHECK_FALSE(w2.commit().ok());
  auto r = read_ok(s);
  CHECK_FALSE(r.find_config_id("a/b/c/d")->has_value());
}

TEST_CASE("state_store_read_txn_may_move_to_another_thread_while_a_write_commits") {
  // The MDB_NOTLS decision (storage/lmdb.hpp): a reader begun on one thread is
  // used and ended on another, while this thread commits a write txn.
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  {
    auto w = write_ok(s);
    CHECK_OK(w.set_last_applied(1));
    CHECK_OK(w.commit());
  }
  auto r = read_ok(s);
  auto w = write_ok(s);
  CHECK_OK(w.set_last_applied(2));
  std::uint64_t seen = 0;
  bool ok = false;
  std::thread other([&] {
    auto la = r.last_applied();
    ok = la.ok();
    seen = ok ? *la : 0;
    state_read_txn gone = std::move(r); // ends on this thread
  });
  other.join();
  CHECK(ok);
  CHECK(seen == 1);
  CHECK_OK(w.commit());
  auto r2 = read_ok(s);
  CHECK(*r2.last_applied() == 2);
}

TEST_CASE("state_store_failed_write_poisons_txn_and_commits_nothing") {
  temp_dir tmp;
  auto o = opts();
  o.map_size = 256 * 1024; // tiny on purpose
  auto s = open_ok(tmp.sub("state"), o);
  {
    auto w = write_ok(s);
    CHECK_OK(w.set_last_applied(1));
    CHECK_OK(w.commit());
  }
  auto w = write_ok(s);
  CHECK_OK(w.set_last_applied(2));
  status st;
  for (version_id id = 1; id <= 200 && st.ok(); ++id) {
    auto v = make_version(1, id);
    v.content.assign(8 * 1024, 'x');
    st = w.put_version(v);
  }
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == errc::resource_exhausted); // a limit, not damage
  CHECK(st.err().message.find("a larger --max-db-size") != std::string::npos);
  CHECK_FALSE(w.live());
  // Every later call reports the first error instead of touching LMDB.
  auto again = w.put_config(make_config(1, "t/a/e/n"));
  CHECK(again.code() == errc::resource_exhausted);
  CHECK(again.err().message.find("earlier error") != std::string::npos);
  CHECK(w.find_config(1).code() == errc::resource_exhausted);
  CHECK_FALSE(w.commit().ok());
  auto r = read_ok(s);
  CHECK(*r.last_applied() == 1);
  CHECK(r.list_versions(1)->empty());
}

// The black-box contract shared with protocol/memory_state
// (tests/protocol/state_contract.hpp), run inside one write txn that is then
// committed; the committed result is checked through a fresh reader.

TEST_CASE("state_store_meets_contract_configs_and_keys") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::configs_and_keys(w);
  CHECK_OK(w.commit());
  CHECK(read_ok(s).list_keys("", 0)->empty());
}

TEST_CASE("state_store_meets_contract_list_keys_by_prefix") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::list_keys_by_prefix(w);
  CHECK_OK(w.commit());
  CHECK(read_ok(s).list_keys("acme/web/", 0)->size() == 3);
}

TEST_CASE("state_store_meets_contract_versions_in_id_order") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::versions_in_id_order(w);
  CHECK_OK(w.commit());
  CHECK(read_ok(s).list_versions(2)->size() == 2);
}

TEST_CASE("state_store_meets_contract_sessions_counters_and_last_applied") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::sessions_counters_and_last_applied(w);
  CHECK_OK(w.commit());
  auto r = read_ok(s);
  CHECK(*r.last_applied() == 99);
  CHECK(r.list_sessions()->size() == 1);
}

TEST_CASE("state_store_meets_contract_audit_records_and_chain") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::audit_records_and_chain(w);
  CHECK_OK(w.commit());
  auto r = read_ok(s);
  CHECK(r.list_audit(0, 0)->size() == 3);
  CHECK(r.get_audit_chain()->head_seq == 256);
}

TEST_CASE("state_store_meets_contract_principals_and_token_index") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::principals_and_token_index(w);
  CHECK_OK(w.commit());
  auto r = read_ok(s);
  CHECK(r.list_principals()->size() == 2);
  CHECK(r.find_principal_by_token(std::string(64, 'c'))->value().name == "ci");
  CHECK_FALSE(r.find_principal_by_token(std::string(64, 'a'))->has_value());
}

TEST_CASE("state_store_meets_contract_roles_and_tenants") {
  temp_dir tmp;
  auto s = open_ok(tmp.sub("state"));
  auto w = write_ok(s);
  contract::roles_and_tenants(w);
  CHECK_OK(w.commit());
  auto r = read_ok(s);
  CHECK(r.list_roles()->size() == 1);
  CHECK(r.list_tenants()->size() == 2);
  CHECK(*r.get_counter(counter::auth_bootstrapped) == 3);
}
