#pragma once
// Black-box contract of conflux::state_writer, shared by the in-memory twin
// (tests/protocol/memory_state_test.cpp) and the LMDB state store
// (tests/storage/state_store_test.cpp), LogCabin style: both must behave alike.
// Each function takes an empty state and checks one area of the contract.

#include "protocol/state.hpp"

#include <doctest/doctest.h>

namespace conflux::contract {

inline config make_config(config_id id, std::string key) {
  config c;
  c.id = id;
  c.key = std::move(key);
  c.format = content_format::json;
  c.latest_version = 2;
  c.releases = {release_rule{{{"canary", "true"}}, 2, 5}, release_rule{{}, 1, 0}};
  c.create_revision = 3;
  c.mod_revision = 9;
  c.created_at_ms = 100;
  c.updated_at_ms = 200;
  return c;
}

inline version make_version(config_id c, version_id id, std::string content) {
  version v;
  v.config = c;
  v.id = id;
  v.content = std::move(content);
  v.content_hash = std::string(64, '0');
  v.format = content_format::json;
  v.revision = 7;
  return v;
}

inline void configs_and_keys(state_writer& st) {
  CHECK(st.find_config(1)->has_value() == false);
  CHECK(st.find_config_id("t/a/e/n")->has_value() == false);
  auto c = make_config(1, "t/a/e/n");
  REQUIRE(st.put_config(c).ok());
  REQUIRE(st.put_key(c.key, c.id).ok());
  CHECK(st.find_config(1)->value() == c);
  CHECK(st.find_config_id("t/a/e/n")->value() == 1);
  c.mod_revision = 10;
  REQUIRE(st.put_config(c).ok());
  CHECK(st.find_config(1)->value().mod_revision == 10);
  REQUIRE(st.erase_key(c.key).ok());
  REQUIRE(st.erase_config(1).ok());
  CHECK_FALSE(st.find_config(1)->has_value());
  CHECK_FALSE(st.find_config_id("t/a/e/n")->has_value());
  // Erasing what is not there is not an error.
  CHECK(st.erase_config(1).ok());
  CHECK(st.erase_key("t/a/e/n").ok());
}

inline void list_keys_by_prefix(state_writer& st) {
  for (auto [id, key] :
       std::vector<std::pair<config_id, std::string>>{{1, "acme/web/prod/a.json"},
                                                      {2, "acme/web/prod/b.json"},
                                                      {3, "acme/web/dev/a.json"},
                                                      {4, "acme/webx/prod/a.json"},
                                                      {5, "other/web/prod/a.json"}})
    REQUIRE(st.put_key(key, id).ok());
  auto all = st.list_keys("", 0);
  REQUIRE(all.ok());
  CHECK(all->size() == 5);
  CHECK(all->front().first == "acme/web/dev/a.json"); // byte order
  auto web = st.list_keys("acme/web/", 0);
  REQUIRE(web.ok());
  REQUIRE(web->size() == 3);
  CHECK((*web)[0].second == 3);
  CHECK((*web)[1].second == 1);
  CHECK((*web)[2].second == 2);
  auto partial = st.list_keys("acme/web", 0);
  CHECK(partial->size() == 4);
  auto limited = st.list_keys("acme/", 2);
  REQUIRE(limited->size() == 2);
  CHECK((*limited)[1].first == "acme/web/prod/a.json");
  CHECK(st.list_keys("zzz", 0)->empty());
}

inline void versions_in_id_order(state_writer& st) {
  // Insert out of order, across two configs, with ids that differ in byte
  // order from numeric order (256 > 2), to catch little-endian keys.
  REQUIRE(st.put_version(make_version(2, 256, "c")).ok());
  REQUIRE(st.put_version(make_version(2, 2, "b")).ok());
  REQUIRE(st.put_version(make_version(1, 1, "x")).ok());
  REQUIRE(st.put_version(make_version(3, 1, "y")).ok());
  REQUIRE(st.put_version(make_version(2, 1, "a")).ok());
  auto vs = st.list_versions(2);
  REQUIRE(vs.ok());
  REQUIRE(vs->size() == 3);
  CHECK((*vs)[0].id == 1);
  CHECK((*vs)[1].id == 2);
  CHECK((*vs)[2].id == 256);
  CHECK((*vs)[2].content == "c");
  CHECK(st.find_version(2, 256)->value() == make_version(2, 256, "c"));
  CHECK_FALSE(st.find_version(2, 3)->has_value());
  REQUIRE(st.erase_version(2, 2).ok());
  CHECK(st.list_versions(2)->size() == 2);
  CHECK(st.list_versions(4)->empty());
}

inline void sessions_counters_and_last_applied(state_writer& st) {
  CHECK(st.get_counter(counter::last_config_id).value() == 0);
  CHECK(st.last_applied().value() == 0);
  REQUIRE(st.set_counter(counter::last_config_id, 41).ok());
  REQUIRE(st.set_counter(counter::last_session_id, 7).ok());
  CHECK(st.get_counter(counter::last_config_id).value() == 41);
  CHECK(st.get_counter(counter::last_session_id).value() == 7);
  REQUIRE(st.set_last_applied(99).ok());
  CHECK(st.last_applied().value() == 99);

  client_session s;
  s.id = 5;
  s.timeout_ms = 1000;
  s.last_sequence = 3;
  s.last_result.revision = 8;
  s.owner = "conflux://c1/client/alice";
  REQUIRE(st.put_session(s).ok());
  client_session s2 = s;
  s2.id = 2;
  REQUIRE(st.put_session(s2).ok());
  CHECK(st.find_session(5)->value() == s);
  auto all = st.list_sessions();
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].id == 2);
  REQUIRE(st.erase_session(5).ok());
  CHECK_FALSE(st.find_session(5)->has_value());
}

inline audit::record make_audit(std::uint64_t seq) {
  audit::record r;
  r.seq = seq;
  r.revision = 10 + seq;
  r.time_ms = 1000 + static_cast<std::int64_t>(seq);
  r.principal = "alice";
  r.origin = "127.0.0.1:5000";
  r.identity = "conflux://c1/client/alice";
  r.op = "update_release_rules";
  r.key = "t/a/e/n";
  r.versions = {1, 2};
  r.rules_before = {release_rule{{}, 1, 0}};
  r.rules_after = {release_rule{{{"canary", "true"}}, 2, 5}, release_rule{{}, 1, 0}};
  r.comment = "canary";
  r.code = 0;
  r.hash = std::string(64, 'a');
  return r;
}

inline void audit_records_and_chain(state_writer& st) {
  // A fresh state has an empty chain at the genesis hash, default retention.
  auto fresh = st.get_audit_chain();
  REQUIRE(fresh.ok());
  CHECK(*fresh == audit::chain{});
  CHECK(fresh->head_hash == audit::genesis_hash());
  CHECK(st.list_audit(0, 0)->empty());
  CHECK_FALSE(st.find_audit(1)->has_value());
  // Records come back by seq, in seq order; big-endian keys sort 256 after 255.
  for (std::uint64_t seq : {256u, 2u, 1u, 255u})
    REQUIRE(st.put_audit(make_audit(seq)).ok());
  CHECK(st.find_audit(2)->value() == make_audit(2));
  auto all = st.list_audit(0, 0);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  CHECK((*all)[0].seq == 1);
  CHECK((*all)[2].seq == 255);
  CHECK((*all)[3] == make_audit(256));
  auto from = st.list_audit(3, 1);
  REQUIRE(from->size() == 1);
  CHECK((*from)[0].seq == 255);
  REQUIRE(st.erase_audit(1).ok());
  CHECK_FALSE(st.find_audit(1)->has_value());
  CHECK(st.erase_audit(1).ok());
  audit::chain c;
  c.base_seq = 1;
  c.base_hash = std::string(64, 'b');
  c.head_seq = 256;
  c.head_hash = std::string(64, 'c');
  c.max_records = 300;
  REQUIRE(st.set_audit_chain(c).ok());
  CHECK(st.get_audit_chain().value() == c);
}

inline auth::principal make_principal(std::string name, char hash_digit) {
  auth::principal p;
  p.name = std::move(name);
  p.token_hash = std::string(64, hash_digit);
  p.roles = {"readers", "writers"};
  p.expires_at_ms = 5'000;
  p.created_at_ms = 1'000;
  p.created_revision = 12;
  p.created_by = "admin";
  return p;
}

inline void principals_and_token_index(state_writer& st) {
  CHECK_FALSE(st.find_principal("ci")->has_value());
  CHECK_FALSE(st.find_principal_by_token(std::string(64, 'a'))->has_value());
  auto ci = make_principal("ci", 'a');
  auto bob = make_principal("bob", 'b');
  REQUIRE(st.put_principal(ci).ok());
  REQUIRE(st.put_principal(bob).ok());
  CHECK(st.find_principal("ci")->value() == ci);
  CHECK(st.find_principal_by_token(std::string(64, 'a'))->value() == ci);
  CHECK(st.find_principal_by_token(std::string(64, 'b'))->value() == bob);
  auto all = st.list_principals();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "bob"); // name order
  // A new token for the same name: the old hash no longer finds anybody.
  ci.token_hash = std::string(64, 'c');
  ci.disabled = true;
  REQUIRE(st.put_principal(ci).ok());
  CHECK_FALSE(st.find_principal_by_token(std::string(64, 'a'))->has_value());
  CHECK(st.find_principal_by_token(std::string(64, 'c'))->value() == ci);
  CHECK(st.find_principal("ci")->value().disabled);
  CHECK(st.list_principals()->size() == 2);
}

inline void roles_and_tenants(state_writer& st) {
  CHECK_FALSE(st.find_role("ops")->has_value());
  auth::role ops{"ops",
                 {{"acme/*/prod", auth::read | auth::release}, {"*", auth::auditor}}};
  auth::role dev{"dev", {{"acme", auth::read}}};
  REQUIRE(st.put_role(ops).ok());
  REQUIRE(st.put_role(dev).ok());
  CHECK(st.find_role("ops")->value() == ops);
  auto roles = st.list_roles();
  REQUIRE(roles.ok());
  REQUIRE(roles->size() == 2);
  CHECK((*roles)[0] == dev);
  ops.grants.pop_back();
  REQUIRE(st.put_role(ops).ok());
  CHECK(st.find_role("ops")->value().grants.size() == 1);
  REQUIRE(st.erase_role("ops").ok());
  CHECK_FALSE(st.find_role("ops")->has_value());
  CHECK(st.erase_role("ops").ok()); // erasing what is not there is not an error

  CHECK_FALSE(st.find_tenant("acme")->has_value());
  auth::tenant acme;
  acme.name = "acme";
  acme.max_configs = 10;
  acme.max_bytes = 1 << 20;
  acme.configs = 3;
  acme.versions = 7;
  acme.bytes = 900;
  auth::tenant beta;
  beta.name = "beta";
  beta.rate = 50;
  REQUIRE(st.put_tenant(beta).ok());
  REQUIRE(st.put_tenant(acme).ok());
  CHECK(st.find_tenant("acme")->value() == acme);
  auto tenants = st.list_tenants();
  REQUIRE(tenants.ok());
  REQUIRE(tenants->size() == 2);
  CHECK((*tenants)[0] == acme);
  CHECK((*tenants)[1] == beta);
  CHECK(st.get_counter(counter::auth_bootstrapped).value() == 0);
  REQUIRE(st.set_counter(counter::auth_bootstrapped, 3).ok());
  CHECK(st.get_counter(counter::auth_bootstrapped).value() == 3);
}

} // namespace conflux::contract
