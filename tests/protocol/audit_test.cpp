// The audit trail the state machine writes: one hash-chained record per
// config mutation (applied or refused), verification that names the first
// tampered record, retention that keeps verification working, and records
// that never carry secret content.

#include "protocol/audit.hpp"
#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/sha256.hpp"
#include "protocol/state_machine.hpp"
#include "tests/protocol/auth_fixture.hpp"

#include <doctest/doctest.h>

using namespace conflux;

namespace {

const std::string key = "acme/billing/prod/db.json";

struct fixture {
  memory_state st;
  state_machine sm;
  std::uint64_t index = 0;
  std::int64_t now_ms = 1'700'000'000'000;
  std::string caller = "conflux://c1/client/alice";
  /// The admin's token hash, as a node stamps it (tests/protocol/auth_fixture.hpp).
  std::string credential = test_auth::admin_credential();
  std::string origin = "127.0.0.1:40001";

  fixture() { REQUIRE(test_auth::seed_admin(st).ok()); }

  apply_result apply(command cmd, session_id session = 0, std::uint64_t seq = 0) {
    raft::log_entry e;
    e.index = ++index;
    e.term = 1;
    e.timestamp_ms = now_ms;
    command_envelope env{session, seq, std::move(cmd), caller, credential};
    env.origin = origin;
    e.data = codec::encode(env);
    auto r = sm.apply(st, e);
    REQUIRE(r.ok());
    return *r;
  }

  void create(std::string content = R"({"pool": 10})") {
    REQUIRE(apply(create_config{key, content_format::json, std::nullopt,
                                std::move(content), "first", "alice"})
                .ok());
  }

  std::vector<audit::record> records() {
    auto all = st.list_audit(0, 0);
    REQUIRE(all.ok());
    return *all;
  }

  audit::chain_point verify(std::uint64_t seq = 0) {
    auto p = audit::verify(st, seq);
    REQUIRE(p.ok());
    return *p;
  }
};

// Some of every audited command, a few refused, with sessions in between.
void mixed_history(fixture& f) {
  f.create();
  f.apply(create_version{key, R"({"pool": 11})", "bigger pool", "bob", std::nullopt});
  f.apply(
      update_release_rules{key, {release_rule{{}, 2, 0}}, "release 2", std::nullopt});
  f.apply(update_release_rules{key, {release_rule{{}, 9, 0}}, "bad", std::nullopt});
  f.apply(publish{
      key, R"({"pool": 12})", "", "carol", {release_rule{{}, 0, 0}}, std::nullopt});
  f.apply(delete_versions{key, {1}, std::nullopt});
  f.apply(delete_config{key, std::nullopt, false});
  f.apply(delete_config{key, std::nullopt, true});
}

} // namespace

TEST_CASE("every_config_mutation_appends_one_chained_record_and_sessions_none") {
  fixture f;
  f.now_ms = 5000;
  f.create();
  auto s = f.apply(open_session{10'000, 77});
  REQUIRE(s.ok());
  f.apply(create_version{key, R"({"pool": 11})", "bigger pool", "bob", std::nullopt},
          s.session, 1);
  f.apply(keep_alive{s.session}, s.session, 0);
  f.apply(
      update_release_rules{key, {release_rule{{}, 2, 0}}, "release 2", std::nullopt});
  f.apply(close_session{s.session}, s.session, 2);

  auto recs = f.records();
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].seq == 1);
  CHECK(recs[0].op == "create_config");
  CHECK(recs[0].revision == 1);
  CHECK(recs[0].time_ms == 5000);
  CHECK(recs[0].identity == "conflux://c1/client/alice");
  CHECK(recs[0].principal == test_auth::admin_name);
  CHECK(recs[0].origin == "127.0.0.1:40001");
  CHECK(recs[0].key == key);
  CHECK(recs[0].versions == std::vector<version_id>{1});
  CHECK(recs[0].comment == "first");
  CHECK(recs[1].seq == 2);
  CHECK(recs[1].op == "create_version");
  CHECK(recs[1].revision == 3);
  CHECK(recs[1].versions == std::vector<version_id>{2});
  CHECK(recs[2].op == "update_release_rules");
  CHECK(recs[2].revision == 5);
  CHECK(recs[2].rules_before.empty());
  CHECK(recs[2].rules_after == std::vector<release_rule>{release_rule{{}, 2, 0}});
  CHECK(recs[2].comment == "release 2");
  CHECK(recs[2].code == 0);
  // h_i = SHA-256(h_{i-1} || record_i), h_0 = 32 zero bytes.
  CHECK(recs[0].hash ==
        sha256_hex(std::string(32, '\0') + audit::encode_for_hash(recs[0])));
  CHECK(recs[1].hash == audit::chain_hash(recs[0].hash, recs[1]));
  CHECK(recs[2].hash == audit::chain_hash(recs[1].hash, recs[2]));
  auto c = f.st.get_audit_chain().value();
  CHECK(c.head_seq == 3);
  CHECK(c.head_hash == recs[2].hash);
  CHECK(c.base_seq == 0);
}

TEST_CASE("a_refused_command_is_recorded_with_its_code_and_unchanged_rules") {
  fixture f;
  f.create();
  f.apply(update_release_rules{key, {release_rule{{}, 1, 0}}, "v1", std::nullopt});
  auto r = f.apply(
      update_release_rules{key, {release_rule{{}, 9, 0}}, "oops", std::nullopt});
  REQUIRE(!r.ok());
  auto rec = f.records().back();
  CHECK(rec.op == "update_release_rules");
  CHECK(rec.code == static_cast<std::uint8_t>(errc::not_found));
  CHECK(rec.message == r.err->message);
  CHECK(rec.versions == std::vector<version_id>{9});
  CHECK(rec.rules_before == std::vector<release_rule>{release_rule{{}, 1, 0}});
  CHECK(rec.rules_after == rec.rules_before);
  // A command on a key that does not exist is recorded too.
  auto missing = f.apply(delete_config{"acme/none/prod/x", std::nullopt, false});
  CHECK(missing.err->code == errc::not_found);
  CHECK(f.records().back().op == "delete_config");
  CHECK(f.records().back().key == "acme/none/prod/x");
}

TEST_CASE("verify_recomputes_the_whole_chain_of_an_untouched_trail") {
  fixture f;
  mixed_history(f);
  auto head = f.verify();
  CHECK(head.intact());
  CHECK(head.seq == 8);
  CHECK(head.head_seq == 8);
  CHECK(head.hash == f.st.get_audit_chain()->head_hash);
  CHECK(head.revision == f.records().back().revision);
  auto mid = f.verify(3);
  CHECK(mid.intact());
  CHECK(mid.hash == f.records()[2].hash);
  CHECK(f.verify(0).hash == f.verify(8).hash);
  // Outside the kept range: a clear refusal.
  CHECK(audit::verify(f.st, 9).code() == errc::invalid_argument);
}

TEST_CASE("a_tampered_record_is_named_by_verify_with_its_revision") {
  fixture f;
  mixed_history(f);
  auto honest = f.verify();
  auto* rec = f.st.raw_audit(4);
  REQUIRE(rec != nullptr);
  auto revision = rec->revision;
  rec->principal = "someone-else";
  auto p = f.verify();
  CHECK_FALSE(p.intact());
  CHECK(p.bad_seq == 4);
  CHECK(p.bad_revision == revision);
  CHECK(p.problem.find("revision " + std::to_string(revision)) != std::string::npos);
  // The recomputed hash differs from every honest replica's from there on.
  CHECK(p.hash != honest.hash);
  CHECK(f.verify(3).hash == audit::verify(f.st, 3)->hash);
  CHECK(f.verify(3).intact());
}

TEST_CASE("a_tamperer_who_rehashes_the_chain_is_still_caught_by_a_comparison") {
  fixture f;
  fixture honest;
  mixed_history(f);
  mixed_history(honest);
  // Rewrite record 5 and every later hash and the head, consistently.
  f.st.raw_audit(5)->comment = "nothing to see";
  std::string h = f.st.raw_audit(4)->hash;
  for (std::uint64_t s = 5; s <= 8; ++s) {
    auto* r = f.st.raw_audit(s);
    h = audit::chain_hash(h, *r);
    r->hash = h;
  }
  auto c = f.st.get_audit_chain().value();
  c.head_hash = h;
  REQUIRE(f.st.set_audit_chain(c).ok());
  CHECK(f.verify().intact());
  // Replicas agree up to record 4 and differ from record 5 on.
  CHECK(f.verify(4).hash == honest.verify(4).hash);
  CHECK(f.verify(5).hash != honest.verify(5).hash);
  CHECK(f.verify(5).revision == honest.verify(5).revision);
}

TEST_CASE("a_deleted_record_is_named_by_verify") {
  fixture f;
  mixed_history(f);
  REQUIRE(f.st.erase_audit(6).ok());
  auto p = f.verify();
  CHECK(p.bad_seq == 6);
  CHECK(p.problem.find("missing") != std::string::npos);
}

TEST_CASE("retention_drops_the_oldest_records_and_verification_still_holds") {
  fixture f;
  mixed_history(f);
  auto full = f.records();
  REQUIRE(full.size() == 8);
  // Record 9 is the retention change itself; 7, 8 and 9 are kept.
  f.apply(set_audit_retention{3});
  auto recs = f.records();
  REQUIRE(recs.size() == 3);
  CHECK(recs.front().seq == 7);
  auto c = f.st.get_audit_chain().value();
  CHECK(c.base_seq == 6);
  CHECK(c.max_records == 3);
  // The base keeps the hash of the last dropped record, so the kept records
  // verify to the same hashes they had before.
  CHECK(c.base_hash == full[5].hash);
  CHECK(f.verify(6).hash == full[5].hash);
  CHECK(f.verify(8).hash == full[7].hash);
  CHECK(f.verify().intact());
  CHECK(audit::verify(f.st, 5).code() == errc::invalid_argument);
  // Later records push the base forward one by one.
  mixed_history(f);
  c = f.st.get_audit_chain().value();
  CHECK(c.head_seq == 17);
  CHECK(c.base_seq == 14);
  CHECK(f.records().size() == 3);
  CHECK(f.verify().intact());
  // Tampering within the kept records is still found.
  f.st.raw_audit(16)->key = "acme/other/prod/x";
  CHECK(f.verify().bad_seq == 16);
}

TEST_CASE("lowering_the_retention_drops_at_once_and_records_the_change") {
  fixture f;
  mixed_history(f);
  f.apply(set_audit_retention{2});
  auto recs = f.records();
  REQUIRE(recs.size() == 2);
  CHECK(recs.back().op == "set_audit_retention");
  CHECK(recs.back().comment == "max_records=2");
  CHECK(f.verify().intact());
}

TEST_CASE("set_audit_retention_out_of_range_is_refused_and_changes_no_setting") {
  fixture f;
  auto zero = f.apply(set_audit_retention{0});
  REQUIRE(!zero.ok());
  CHECK(zero.err->code == errc::invalid_argument);
  CHECK(zero.err->message.find("1..") != std::string::npos);
  auto huge = f.apply(set_audit_retention{audit::max_max_records + 1});
  CHECK(huge.err->code == errc::invalid_argument);
  CHECK(f.st.get_audit_chain()->max_records == audit::default_max_records);
  CHECK(f.records().size() == 2);
}

TEST_CASE("no_content_enters_the_trail_even_when_a_parse_error_quotes_it") {
  fixture f;
  const std::string secret = "hunter2-very-secret";
  f.create(R"({"password": ")" + secret + R"("})");
  f.apply(create_version{key, R"({"password": ")" + secret + R"(2"})", "", "bob",
                         std::nullopt});
  f.apply(publish{key,
                  R"({"password": ")" + secret + R"(3"})",
                  "",
                  "bob",
                  {release_rule{{}, 0, 0}},
                  std::nullopt});
  // Invalid JSON whose parse error may quote the text around it.
  auto bad = f.apply(
      create_version{key, "{\"password\": " + secret + "}", "", "bob", std::nullopt});
  REQUIRE(!bad.ok());
  CHECK(bad.err->code == errc::invalid_content);
  REQUIRE(f.records().size() == 4);
  CHECK(f.records().back().code == static_cast<std::uint8_t>(errc::invalid_content));
  for (auto& r : f.records())
    CHECK(audit::encode(r).find(secret) == std::string::npos);
}

TEST_CASE("a_sequence_answered_from_the_session_cache_is_not_recorded_twice") {
  fixture f;
  f.create();
  auto s = f.apply(open_session{10'000, 99});
  auto first =
      f.apply(create_version{key, "{}", "", "bob", std::nullopt}, s.session, 1);
  REQUIRE(first.ok());
  auto again =
      f.apply(create_version{key, "{}", "", "bob", std::nullopt}, s.session, 1);
  CHECK(again == first);
  CHECK(f.records().size() == 2);
}

TEST_CASE("replicas_applying_the_same_log_hold_the_same_trail") {
  fixture a;
  fixture b;
  mixed_history(a);
  mixed_history(b);
  CHECK(a.records() == b.records());
  CHECK(a.st == b.st);
}

TEST_CASE("audit_records_chains_and_points_round_trip_and_garbage_is_corrupted") {
  fixture f;
  mixed_history(f);
  for (auto& r : f.records()) {
    auto bytes = audit::encode(r);
    CHECK(audit::encode(r) == bytes);
    auto back = audit::decode_record(bytes);
    REQUIRE(back.ok());
    CHECK(*back == r);
  }
  auto c = f.st.get_audit_chain().value();
  CHECK(audit::decode_chain(audit::encode(c)).value() == c);
  auto p = f.verify();
  CHECK(audit::decode_chain_point(audit::encode(p)).value() == p);
  CHECK(audit::decode_record("").code() == errc::corrupted);
  CHECK(audit::decode_record(std::string{"\x01\xc1", 2}).code() == errc::corrupted);
  auto newer = audit::encode(f.records()[0]);
  newer[0] = 9;
  CHECK(audit::decode_record(newer).code() == errc::unsupported_version);
  auto truncated = audit::encode(f.records()[0]);
  truncated.pop_back();
  CHECK(audit::decode_record(truncated).code() == errc::corrupted);
}

TEST_CASE("audit_filter_matches_a_key_a_whole_segment_prefix_a_principal_and_since") {
  audit::record r;
  r.seq = 5;
  r.revision = 50;
  r.key = "acme/pay/prod/db";
  r.principal = "alice";
  audit::filter f;
  CHECK(f.matches(r));
  f.key = "acme/pay/";
  CHECK(f.matches(r));
  f.key = "acme/pa/";
  CHECK_FALSE(f.matches(r));
  f.key = "acme/pay";
  CHECK_FALSE(f.matches(r));
  f.key = "acme/pay/prod/db";
  CHECK(f.matches(r));
  f.principal = "bob";
  CHECK_FALSE(f.matches(r));
  f.principal = "alice";
  f.since = 51;
  CHECK_FALSE(f.matches(r));
  f.since = 50;
  CHECK(f.matches(r));
}

TEST_CASE("auth_changes_are_recorded_by_name_and_no_token_hash_enters_the_trail") {
  fixture f;
  const std::string token =
      "cfx_fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
  const auto hash = auth::token_hash(token);
  f.apply(create_token{"bob", hash, {std::string{auth::bootstrap_role}}, 0});
  f.apply(set_token_roles{"bob", {}});
  f.apply(revoke_token{"bob"});
  f.apply(put_role{auth::role{"readers", {{"acme/*", auth::read}}}, false});
  f.apply(delete_role{"readers"});
  f.apply(set_tenant{"acme", 10, 100, 1000, 5});
  // A command whose credential names nobody is recorded without a principal.
  f.credential = auth::token_hash(
      "cfx_1111111111111111111111111111111111111111111111111111111111111111");
  f.apply(revoke_token{"alice"});
  auto recs = f.records();
  REQUIRE(recs.size() == 7);
  CHECK(recs[0].op == "create_token");
  CHECK(recs[0].key == "bob");
  CHECK(recs[0].principal == test_auth::admin_name);
  CHECK(recs[1].op == "set_token_roles");
  CHECK(recs[2].op == "revoke_token");
  CHECK(recs[3].op == "put_role");
  CHECK(recs[3].key == "readers");
  CHECK(recs[4].op == "delete_role");
  CHECK(recs[5].op == "set_tenant");
  CHECK(recs[5].key == "acme");
  CHECK(recs[6].principal.empty());
  for (auto& r : recs) {
    auto bytes = audit::encode(r);
    CHECK(bytes.find(hash) == std::string::npos);
    CHECK(bytes.find(test_auth::admin_credential()) == std::string::npos);
    CHECK(bytes.find(f.credential) == std::string::npos);
    CHECK(bytes.find(token) == std::string::npos);
  }
  CHECK(f.verify().intact());
}

TEST_CASE("bootstrap_auth_is_recorded_for_the_principal_it_makes") {
  fixture f;
  memory_state fresh;
  f.st = fresh;
  f.credential.clear();
  f.apply(bootstrap_auth{"root", auth::token_hash(test_auth::admin_token)});
  auto recs = f.records();
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].op == "bootstrap_auth");
  CHECK(recs[0].principal == "root");
  CHECK(recs[0].key == "root");
  CHECK(audit::encode(recs[0]).find(test_auth::admin_credential()) ==
        std::string::npos);
}
