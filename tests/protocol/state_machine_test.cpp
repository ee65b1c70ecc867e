// The configuration state machine over the in-memory state: every command,
// every refusal (and that a refusal changes nothing), resolution, integrity,
// CAS, sessions and determinism.

#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/sha256.hpp"
#include "protocol/state_machine.hpp"
#include "tests/protocol/auth_fixture.hpp"
#include "tests/protocol/validation_test_support.hpp"

#include <doctest/doctest.h>

using namespace conflux;

namespace {

const std::string key = "acme/billing/prod/db.json";

// What went wrong, for a REQUIRE_MESSAGE: doctest builds the message even when
// the check passes (with -s), so it must not assume a failure.
template <class T>
std::string why(const expected<T>& r) {
  return r.ok() ? std::string{} : to_string(r.err());
}
std::string why(const apply_result& r) {
  return r.ok() ? std::string{} : to_string(*r.err);
}

// Drives the state machine the way the applier will: each command is encoded
// into a log entry with the next index and a leader timestamp, stamped with
// the credential of a cluster admin (the state starts bootstrapped).
struct fixture {
  fixture() { REQUIRE(test_auth::seed_admin(st).ok()); }

  memory_state st;
  state_machine sm;
  std::uint64_t index = 0;
  std::int64_t now_ms = 1'700'000'000'000;
  /// The identity the node stamps on the commands the fixture applies.
  std::string caller = "conflux://c1/client/alice";
  /// The token hash the node stamps (test_auth::admin_credential() reaches
  /// the principal "alice" with every permission).
  std::string credential = test_auth::admin_credential();
  /// Stands in for the node's random source: any non-zero, non-sequential id.
  std::uint64_t next_id = 0x5eed'0000'0000'0001;

  apply_result apply(command cmd, session_id session = 0, std::uint64_t seq = 0) {
    raft::log_entry e;
    e.index = ++index;
    e.term = 1;
    e.timestamp_ms = now_ms;
    e.data = codec::encode(
        command_envelope{session, seq, std::move(cmd), caller, credential});
    auto r = sm.apply(st, e);
    REQUIRE_MESSAGE(r.ok(), why(r));
    CHECK(st.last_applied().value() == e.index);
    return *r;
  }

  // Applies a command that must be refused with `code`, and checks that only
  // last_applied moved.
  error refuse(command cmd, errc code) {
    auto before = st;
    bool audited = !audit::op_name(cmd).empty();
    auto r = apply(std::move(cmd));
    REQUIRE_MESSAGE(!r.ok(), "command was accepted");
    CHECK_MESSAGE(r.err->code == code, why(r));
    CHECK(!r.err->message.empty());
    before.set_last_applied(index).ok();
    // ... and that the audit trail recorded the refusal of an audited
    // command, as one record.
    if (audited) {
      auto head = st.get_audit_chain().value();
      CHECK(head.head_seq == before.get_audit_chain().value().head_seq + 1);
      auto rec = st.find_audit(head.head_seq).value();
      REQUIRE(rec.has_value());
      CHECK(rec->revision == index);
      CHECK(rec->code == static_cast<std::uint8_t>(code));
      before.put_audit(*rec).ok();
      before.set_audit_chain(head).ok();
    }
    CHECK_MESSAGE(st == before, "a refused command changed the state");
    return *r.err;
  }

  /// Opens a session with a fresh id, the way a node proposes it.
  apply_result open(std::int64_t timeout_ms) {
    next_id = next_id * 6364136223846793005ULL + 1442695040888963407ULL;
    return apply(open_session{timeout_ms, next_id});
  }

  apply_result create(std::string k = key, std::string content = R"({"pool": 10})") {
    auto r = apply(create_config{std::move(k), content_format::json, std::nullopt,
                                 std::move(content), "first", "alice"});
    REQUIRE_MESSAGE(r.ok(), why(r));
    return r;
  }

  apply_result add_version(std::string content, std::optional<revision_t> rev = {}) {
    return apply(create_version{key, std::move(content), "", "bob", rev});
  }

  apply_result release(std::vector<release_rule> rules,
                       std::optional<revision_t> rev = {}) {
    return apply(update_release_rules{key, std::move(rules), "", rev});
  }

  config cfg(const std::string& k = key) {
    auto c = get_config(st, k);
    REQUIRE_MESSAGE(c.ok(), why(c));
    return *c;
  }
};

release_rule rule(labels l, version_id v, std::int32_t prio = 0) {
  return release_rule{std::move(l), v, prio};
}

} // namespace

TEST_CASE("create_config_stores_the_config_and_its_first_version") {
  fixture f;
  f.now_ms = 1234;
  auto r = f.create();
  CHECK(r.config == 1);
  CHECK(r.version == 1);
  CHECK(r.revision == 1);
  auto c = f.cfg();
  CHECK(c.id == 1);
  CHECK(c.key == key);
  CHECK(c.format == content_format::json);
  CHECK(c.latest_version == 1);
  CHECK(c.create_revision == 1);
  CHECK(c.mod_revision == 1);
  CHECK(c.created_at_ms == 1234);
  CHECK(c.releases.empty());
  auto v = get_version(f.st, key, 1);
  REQUIRE(v.ok());
  CHECK(v->content == R"({"pool": 10})");
  CHECK(v->content_hash == sha256_hex(R"({"pool": 10})"));
  CHECK(v->creator == "alice");
  CHECK(v->description == "first");
  CHECK(v->revision == 1);
  CHECK(v->created_at_ms == 1234);
  // Creating never publishes.
  CHECK(resolve(f.st, key, {}).code() == errc::not_published);
}

TEST_CASE("config_ids_come_from_the_state_counter") {
  fixture f;
  CHECK(f.create("t/a/e/one").config == 1);
  CHECK(f.create("t/a/e/two").config == 2);
  f.apply(delete_config{"t/a/e/one", std::nullopt});
  // Ids are never reused, even after a delete and a re-create of the same key.
  CHECK(f.create("t/a/e/one").config == 3);
}

TEST_CASE("create_config_refuses_an_existing_key") {
  fixture f;
  f.create();
  auto e =
      f.refuse(create_config{key, content_format::json, std::nullopt, "{}", "", ""},
               errc::already_exists);
  CHECK(e.message.find("add a version") != std::string::npos);
}

TEST_CASE("create_config_refuses_bad_input_and_changes_nothing") {
  fixture f;
  f.refuse(
      create_config{"no-segments", content_format::json, std::nullopt, "{}", "", ""},
      errc::invalid_argument);
  f.refuse(create_config{key, content_format::json, std::nullopt, "{oops", "", ""},
           errc::invalid_content);
  f.refuse(
      create_config{key, content_format::json, std::string{"not json"}, "{}", "", ""},
      errc::invalid_argument);
  f.refuse(create_config{key, content_format::json, std::nullopt,
                         std::string(f.sm.size_limits().max_content_bytes + 1, ' '), "",
                         ""},
           errc::too_large);
  f.refuse(create_config{key, content_format::json, std::nullopt, "{}",
                         std::string(5000, 'd'), ""},
           errc::too_large);
  CHECK(get_config(f.st, key).code() == errc::not_found);
  CHECK(f.st.get_counter(counter::last_config_id).value() == 0);
}

TEST_CASE("create_version_adds_the_next_id_without_changing_what_clients_see") {
  fixture f;
  f.create();
  f.release({rule({}, 1)});
  auto r = f.add_version(R"({"pool": 20})");
  REQUIRE(r.ok());
  CHECK(r.version == 2);
  auto c = f.cfg();
  CHECK(c.latest_version == 2);
  CHECK(c.mod_revision == r.revision);
  CHECK(c.create_revision == 1);
  auto res = resolve(f.st, key, {});
  REQUIRE(res.ok());
  CHECK(res->ver.id == 1);
  auto vs = list_versions(f.st, key);
  REQUIRE(vs.ok());
  REQUIRE(vs->size() == 2);
  CHECK((*vs)[1].content == R"({"pool": 20})");
}

TEST_CASE("create_version_of_a_missing_config_is_not_found") {
  fixture f;
  auto e = f.refuse(create_version{key, "{}", "", "", std::nullopt}, errc::not_found);
  CHECK(e.message.find(key) != std::string::npos);
}

TEST_CASE("create_version_checks_content_against_the_config_format") {
  fixture f;
  f.create();
  f.refuse(create_version{key, "{\"a\":", "", "", std::nullopt}, errc::invalid_content);
  CHECK(f.cfg().latest_version == 1);
}

TEST_CASE("yaml_alias_bomb_is_not_stored_without_a_schema") {
  fixture f;
  f.refuse(create_config{"acme/web/prod/bomb.yaml", content_format::yaml, std::nullopt,
                         validation_test::yaml_alias_bomb(9, 9), "", ""},
           errc::too_large);
  f.apply(create_config{"acme/web/prod/app.yaml", content_format::yaml, std::nullopt,
                        "a: 1\n", "", ""});
  f.refuse(create_version{"acme/web/prod/app.yaml",
                          validation_test::yaml_alias_bomb(9, 9), "", "", std::nullopt},
           errc::too_large);
  CHECK(f.cfg("acme/web/prod/app.yaml").latest_version == 1);
}

TEST_CASE("create_version_checks_content_against_the_config_schema") {
  fixture f;
  auto r = f.apply(create_config{
      key, content_format::json,
      std::string{
          R"({"type":"object","required":["pool"],"properties":{"pool":{"type":"integer"}}})"},
      R"({"pool": 1})", "", ""});
  REQUIRE(r.ok());
  f.refuse(create_version{key, R"({"pool": "many"})", "", "", std::nullopt},
           errc::schema_violation);
  f.refuse(create_version{key, R"({})", "", "", std::nullopt}, errc::schema_violation);
  CHECK(f.add_version(R"({"pool": 2})").ok());
  // The first version is checked too.
  f.refuse(create_config{"acme/billing/prod/other.json", content_format::json,
                         std::string{R"({"type":"array"})"}, R"({})", "", ""},
           errc::schema_violation);
}

TEST_CASE("update_release_rules_sets_the_rules") {
  fixture f;
  f.create();
  f.add_version(R"({"pool": 20})");
  auto r = f.release({rule({{"canary", "true"}}, 2, 10), rule({}, 1)});
  REQUIRE(r.ok());
  auto c = f.cfg();
  REQUIRE(c.releases.size() == 2);
  CHECK(c.releases[0].version == 2);
  CHECK(c.mod_revision == r.revision);
}

TEST_CASE("update_release_rules_of_a_missing_config_is_not_found") {
  fixture f;
  f.refuse(update_release_rules{key, {rule({}, 1)}, "", std::nullopt}, errc::not_found);
}

TEST_CASE("update_release_rules_pointing_at_a_missing_version_is_not_found") {
  fixture f;
  f.create();
  auto e = f.refuse(
      update_release_rules{key, {rule({}, 1), rule({{"a", "b"}}, 7)}, "", std::nullopt},
      errc::not_found);
  CHECK(e.message.find("version 7") != std::string::npos);
  CHECK(f.cfg().releases.empty());
}

TEST_CASE("update_release_rules_refuses_invalid_rules") {
  fixture f;
  f.create();
  f.refuse(update_release_rules{key, {rule({}, 0)}, "", std::nullopt},
           errc::invalid_argument);
  f.refuse(update_release_rules{key, {rule({{"bad key!", "x"}}, 1)}, "", std::nullopt},
           errc::invalid_argument);
  std::vector<release_rule> many(300, rule({}, 1));
  for (std::size_t i = 0; i < many.size(); ++i)
    many[i].priority = static_cast<std::int32_t>(i);
  f.refuse(update_release_rules{key, many, "", std::nullopt}, errc::too_large);
}

TEST_CASE("release_matching_serves_canary_and_default_clients") {
  fixture f;
  f.create();
  f.add_version(R"({"pool": 20})");
  f.add_version(R"({"pool": 30})");
  f.release(
      {rule({{"canary", "true"}}, 3, 10), rule({{"zone", "eu"}}, 2, 5), rule({}, 1)});
  CHECK(resolve(f.st, key, {{"canary", "true"}, {"zone", "eu"}})->ver.id == 3);
  CHECK(resolve(f.st, key, {{"zone", "eu"}})->ver.id == 2);
  CHECK(resolve(f.st, key, {{"zone", "us"}})->ver.id == 1);
  auto res = resolve(f.st, key, {});
  REQUIRE(res.ok());
  CHECK(res->ver.id == 1);
  CHECK(res->rule_index == 2);
  CHECK(res->ver.content == R"({"pool": 10})");
}

TEST_CASE("published_config_lookup_tells_not_found_from_not_published") {
  fixture f;
  CHECK(resolve(f.st, key, {}).code() == errc::not_found);
  f.create();
  CHECK(resolve(f.st, key, {}).code() == errc::not_published);
  f.release({rule({{"canary", "true"}}, 1)});
  auto np = resolve(f.st, key, {{"canary", "false"}});
  REQUIRE(np.code() == errc::not_published);
  CHECK(np.err().message.find("default rule") != std::string::npos);
  CHECK(resolve(f.st, key, {{"canary", "true"}})->ver.id == 1);
}

TEST_CASE("rollback_is_a_release_pointing_back") {
  fixture f;
  f.create();
  f.add_version(R"({"pool": 20})");
  f.release({rule({}, 2)});
  CHECK(resolve(f.st, key, {})->ver.id == 2);
  f.release({rule({}, 1)});
  CHECK(resolve(f.st, key, {})->ver.id == 1);
}

TEST_CASE("publish_adds_a_version_and_releases_it_atomically") {
  fixture f;
  f.create();
  auto r = f.apply(publish{key,
                           R"({"pool": 50})",
                           "hot fix",
                           "carol",
                           {rule({{"canary", "true"}}, 0, 1), rule({}, 1)},
                           std::nullopt});
  REQUIRE(r.ok());
  CHECK(r.version == 2);
  CHECK(resolve(f.st, key, {{"canary", "true"}})->ver.id == 2);
  CHECK(resolve(f.st, key, {})->ver.id == 1);
  // Bad content: neither the version nor the rules land.
  f.refuse(publish{key, "{", "", "", {rule({}, 0)}, std::nullopt},
           errc::invalid_content);
  // A rule at a missing version: nothing lands.
  f.refuse(
      publish{key, "{}", "", "", {rule({}, 0), rule({{"a", "b"}}, 9)}, std::nullopt},
      errc::not_found);
  CHECK(f.cfg().latest_version == 2);
}

TEST_CASE("version_integrity_mismatch_is_corrupted_and_never_served") {
  fixture f;
  f.create();
  f.release({rule({}, 1)});
  f.st.raw_version(1, 1)->content = R"({"pool": 99})";
  auto v = get_version(f.st, key, 1);
  REQUIRE(v.code() == errc::corrupted);
  CHECK(v.err().message.find("SHA-256") != std::string::npos);
  CHECK(resolve(f.st, key, {}).code() == errc::corrupted);
  CHECK(list_versions(f.st, key).code() == errc::corrupted);
}

TEST_CASE("expected_revision_makes_writes_compare_and_swap") {
  fixture f;
  f.create();
  auto rev = f.cfg().mod_revision;
  auto r = f.add_version(R"({"pool": 2})", rev);
  REQUIRE(r.ok());
  // The old revision is stale now.
  auto e = f.refuse(create_version{key, "{}", "", "", rev}, errc::revision_mismatch);
  CHECK(e.message.find("read it again") != std::string::npos);
  f.refuse(update_release_rules{key, {rule({}, 1)}, "", rev}, errc::revision_mismatch);
  f.refuse(publish{key, "{}", "", "", {}, rev}, errc::revision_mismatch);
  f.refuse(delete_versions{key, {1}, rev}, errc::revision_mismatch);
  f.refuse(delete_config{key, rev}, errc::revision_mismatch);
  auto now = f.cfg().mod_revision;
  CHECK(f.release({rule({}, 2)}, now).ok());
  CHECK(f.apply(delete_config{key, f.cfg().mod_revision, true}).ok());
}

TEST_CASE("delete_versions_refuses_a_version_a_rule_points_at") {
  fixture f;
  f.create();
  f.add_version("{}");
  f.release({rule({{"canary", "true"}}, 2)});
  auto e = f.refuse(delete_versions{key, {1, 2}, std::nullopt}, errc::version_in_use);
  CHECK(e.message.find("release rules") != std::string::npos);
  f.refuse(delete_versions{key, {1, 5}, std::nullopt}, errc::not_found);
  f.refuse(delete_versions{key, {}, std::nullopt}, errc::invalid_argument);
  REQUIRE(f.apply(delete_versions{key, {1}, std::nullopt}).ok());
  CHECK(get_version(f.st, key, 1).code() == errc::not_found);
  CHECK(get_version(f.st, key, 2).ok());
}

TEST_CASE("version_ids_are_never_reused_after_a_delete") {
  fixture f;
  f.create();
  f.add_version("{}");
  REQUIRE(f.apply(delete_versions{key, {2}, std::nullopt}).ok());
  CHECK(f.add_version("[]").version == 3);
}

TEST_CASE("delete_config_removes_config_key_and_versions") {
  fixture f;
  f.create();
  f.add_version("{}");
  REQUIRE(f.apply(delete_config{key, std::nullopt}).ok());
  CHECK(get_config(f.st, key).code() == errc::not_found);
  CHECK(f.st.list_versions(1)->empty());
  CHECK(f.st.list_keys("", 0)->empty());
  f.refuse(delete_config{key, std::nullopt}, errc::not_found);
}

TEST_CASE("delete_config_refuses_a_released_config_without_force") {
  fixture f;
  f.create();
  f.add_version("{}");
  f.release({rule({{"canary", "true"}}, 2, 10), rule({}, 1)});
  auto e = f.refuse(delete_config{key, std::nullopt}, errc::version_in_use);
  INFO(e.message);
  CHECK(e.message.find("\"" + key + "\" is released by 2 release rules") !=
        std::string::npos);
  CHECK(e.message.find("#1 {canary=true} -> version 2") != std::string::npos);
  CHECK(e.message.find("#2 {} (the default rule) -> version 1") != std::string::npos);
  CHECK(e.message.find("clear its release rules") != std::string::npos);
  CHECK(e.message.find("--force") != std::string::npos);
  // Once nothing is released, no force is needed.
  REQUIRE(f.release({}).ok());
  REQUIRE(f.apply(delete_config{key, std::nullopt}).ok());
  CHECK(get_config(f.st, key).code() == errc::not_found);
}

TEST_CASE("delete_config_with_force_removes_a_released_config") {
  fixture f;
  f.create();
  f.release({rule({}, 1)});
  REQUIRE(f.apply(delete_config{key, std::nullopt, true}).ok());
  CHECK(get_config(f.st, key).code() == errc::not_found);
  CHECK(f.st.list_versions(1)->empty());
  // force does not skip the compare-and-swap.
  f.create();
  f.release({rule({}, 1)});
  f.refuse(delete_config{key, revision_t{1}, true}, errc::revision_mismatch);
}

TEST_CASE("an_old_delete_config_entry_without_a_credential_is_refused") {
  // A delete_config written before `force` existed (format version 1)
  // decodes as forced, but it carries no credential: like every command of
  // a format before 4 it is refused unauthenticated, with no exemption for
  // old entries (docs/security.md, "Authorization").
  fixture f;
  f.create("t/a/e/n");
  REQUIRE(
      f.apply(update_release_rules{"t/a/e/n", {rule({}, 1)}, "", std::nullopt}).ok());
  auto before = f.st;
  raft::log_entry e;
  e.index = ++f.index;
  e.term = 1;
  e.timestamp_ms = f.now_ms;
  e.data = std::string{"\x01\x94\x00\x00\x05\x92\xa7t/a/e/n\xc0", 15};
  auto r = f.sm.apply(f.st, e);
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->ok());
  CHECK(r->err->code == errc::unauthenticated);
  CHECK(get_config(f.st, "t/a/e/n").ok());
  before.set_last_applied(f.index).ok();
  // Nothing but last_applied and the audit trail, which records the refusal.
  CHECK(f.st.same_except_audit(before));
}

TEST_CASE("list_configs_returns_configs_under_a_prefix") {
  fixture f;
  f.create("acme/web/prod/a.json");
  f.create("acme/web/prod/b.json");
  f.create("acme/api/prod/a.json");
  auto l = list_configs(f.st, "acme/web/", 0);
  REQUIRE(l.ok());
  REQUIRE(l->size() == 2);
  CHECK((*l)[0].key == "acme/web/prod/a.json");
  CHECK(list_configs(f.st, "", 0)->size() == 3);
  CHECK(list_configs(f.st, "acme/", 1)->size() == 1);
  CHECK(list_configs(f.st, "bad prefix!", 0).code() == errc::invalid_argument);
}

TEST_CASE("list_configs_matches_whole_segments") {
  fixture f;
  for (const char* k : {"acme/shop/prod/a", "acme/shop/production/b",
                        "acme/shop/prod/c", "acme/shopx/prod/d", "acme/shop/prod-eu/e"})
    f.create(k);
  auto keys = [&](std::string_view prefix, std::size_t limit = 0) {
    auto l = list_configs(f.st, prefix, limit);
    REQUIRE_MESSAGE(l.ok(), why(l));
    std::vector<std::string> out;
    for (auto& c : *l)
      out.push_back(c.key);
    return out;
  };
  using v = std::vector<std::string>;
  // Not acme/shop/production/b nor acme/shop/prod-eu/e.
  CHECK(keys("acme/shop/prod") == v{"acme/shop/prod/a", "acme/shop/prod/c"});
  CHECK(keys("acme/shop/prod/") == v{"acme/shop/prod/a", "acme/shop/prod/c"});
  CHECK(keys("acme/shop") == v{"acme/shop/prod-eu/e", "acme/shop/prod/a",
                               "acme/shop/prod/c", "acme/shop/production/b"});
  CHECK(keys("acme/sho").empty());
  // A whole key is a prefix of itself.
  CHECK(keys("acme/shop/prod/a") == v{"acme/shop/prod/a"});
  CHECK(keys("", 0).size() == 5);
  CHECK(keys("acme/shop/prod", 1) == v{"acme/shop/prod/a"});
}

TEST_CASE("a_retried_session_write_is_applied_once") {
  fixture f;
  auto s = f.open(10'000);
  REQUIRE(s.ok());
  REQUIRE(s.session == f.next_id);
  f.create();
  auto first = f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1);
  REQUIRE(first.ok());
  CHECK(first.version == 2);
  // The same sequence again (a client retry after a lost reply).
  auto again = f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1);
  CHECK(again == first);
  CHECK(f.cfg().latest_version == 2);
  auto next = f.apply(create_version{key, "[]", "", "", std::nullopt}, s.session, 2);
  CHECK(next.version == 3);
  // An older sequence is refused, not re-applied.
  auto old = f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1);
  REQUIRE(!old.ok());
  CHECK(old.err->code == errc::stale_sequence);
  CHECK(f.cfg().latest_version == 3);
}

TEST_CASE("a_refused_session_write_is_answered_the_same_on_retry") {
  fixture f;
  auto s = f.open(10'000);
  auto r1 = f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1);
  REQUIRE(!r1.ok());
  f.create();
  auto r2 = f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1);
  CHECK(r2 == r1);
  CHECK(f.cfg().latest_version == 1);
}

TEST_CASE("sessions_expire_on_leader_stamped_time") {
  fixture f;
  auto s = f.open(2'000);
  f.create();
  f.now_ms += 1'500;
  CHECK(f.apply(keep_alive{s.session}, s.session, 0).ok());
  f.now_ms += 1'500; // 1.5 s after the keep-alive: still alive
  CHECK(f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1).ok());
  f.now_ms += 2'001;
  auto r = f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 2);
  REQUIRE(!r.ok());
  CHECK(r.err->code == errc::session_expired);
  CHECK_FALSE(f.st.find_session(s.session)->has_value());
  CHECK(f.cfg().latest_version == 2);
}

TEST_CASE("expired_sessions_are_swept_without_being_touched") {
  fixture f;
  auto a = f.open(1'000);
  auto b = f.open(60'000);
  f.now_ms += state_machine::session_sweep_interval_ms + 1;
  f.create(); // no session: no sweep
  CHECK(f.st.find_session(a.session)->has_value());
  auto c = f.open(60'000);
  CHECK_FALSE(f.st.find_session(a.session)->has_value());
  CHECK(f.st.find_session(c.session)->has_value());
  CHECK(f.st.find_session(b.session)->has_value());
}

TEST_CASE("close_session_ends_it_and_unknown_sessions_are_refused") {
  fixture f;
  auto s = f.open(10'000);
  CHECK(f.apply(close_session{s.session}, s.session, 1).ok());
  CHECK_FALSE(f.st.find_session(s.session)->has_value());
  auto r = f.apply(keep_alive{s.session}, s.session, 0);
  CHECK(r.err->code == errc::session_expired);
  CHECK(f.open(5).err->code == errc::invalid_argument);
}

TEST_CASE("apply_is_deterministic_across_replicas") {
  std::vector<command> cmds{
      create_config{key, content_format::json, std::nullopt, "{}", "", ""},
      open_session{5'000, 0x0123'4567'89ab'cdef},
      create_version{key, "[1]", "", "", std::nullopt},
      update_release_rules{
          key, {rule({}, 2), rule({{"c", "1"}}, 1, 3)}, "", std::nullopt},
      create_version{key, "{oops", "", "", std::nullopt},
      delete_versions{key, {1}, std::nullopt},
      publish{key, "[2]", "", "", {rule({}, 0)}, std::nullopt},
  };
  fixture a, b;
  for (auto& c : cmds) {
    a.now_ms += 700;
    b.now_ms += 700;
    CHECK(a.apply(c) == b.apply(c));
  }
  CHECK(a.st == b.st);
  // Time comes from the entry: a replica that applies later (in real time)
  // with the same entries still ends equal, because now_ms is the entry's.
  CHECK(a.cfg().updated_at_ms == b.cfg().updated_at_ms);
}

TEST_CASE("noop_and_membership_entries_only_advance_last_applied") {
  fixture f;
  raft::log_entry e;
  e.index = 1;
  e.kind = raft::entry_kind::noop;
  auto r = f.sm.apply(f.st, e);
  REQUIRE(r.ok());
  CHECK(r->ok());
  e.index = 2;
  e.kind = raft::entry_kind::membership;
  e.data = "whatever the core encodes";
  REQUIRE(f.sm.apply(f.st, e).ok());
  CHECK(f.st.last_applied().value() == 2);
  memory_state empty;
  REQUIRE(test_auth::seed_admin(empty).ok());
  empty.set_last_applied(2).ok();
  CHECK(f.st == empty);
}

TEST_CASE("an_undecodable_command_is_refused_deterministically") {
  fixture f;
  raft::log_entry e;
  e.index = 1;
  e.data = std::string{"\x01garbage"};
  auto r = f.sm.apply(f.st, e);
  REQUIRE(r.ok());
  REQUIRE(!r->ok());
  CHECK(r->err->code == errc::invalid_argument);
  CHECK(f.st.last_applied().value() == 1);
}

TEST_CASE("a_command_of_a_newer_format_stops_the_node") {
  fixture f;
  raft::log_entry e;
  e.index = 1;
  e.data = codec::encode(command_envelope{0, 0, open_session{5'000, std::nullopt}});
  e.data[0] = static_cast<char>(codec::command_format_version + 1);
  auto r = f.sm.apply(f.st, e);
  REQUIRE(!r.ok());
  CHECK(r.code() == errc::unsupported_version);
  CHECK(f.st.last_applied().value() == 0);
}

TEST_CASE("applying_an_entry_twice_is_refused") {
  fixture f;
  f.create();
  raft::log_entry e;
  e.index = 1;
  e.data = codec::encode(command_envelope{0, 0, open_session{5'000, std::nullopt}});
  auto r = f.sm.apply(f.st, e);
  REQUIRE(!r.ok());
  CHECK(r.code() == errc::invalid_argument);
  CHECK(f.st.get_counter(counter::last_session_id).value() == 0);
}

TEST_CASE(
    "keep_alives_with_sequence_zero_keep_a_session_alive_after_sequenced_writes") {
  fixture f;
  auto s = f.open(2'000);
  f.create();
  REQUIRE(f.apply(create_version{key, "[1]", "", "", std::nullopt}, s.session, 1).ok());
  for (int i = 0; i < 4; ++i) {
    f.now_ms += 1'500;
    auto k = f.apply(keep_alive{s.session}, s.session, 0);
    REQUIRE_MESSAGE(k.ok(), why(k));
  }
  auto w = f.apply(create_version{key, "[2]", "", "", std::nullopt}, s.session, 2);
  REQUIRE_MESSAGE(w.ok(), why(w));
  CHECK(w.version == 3);
  // A retry of sequence 2 is still answered from the session.
  CHECK(f.apply(create_version{key, "[2]", "", "", std::nullopt}, s.session, 2) == w);
}

TEST_CASE("keep_alive_outside_its_session_is_refused") {
  fixture f;
  auto s = f.open(2'000);
  f.refuse(keep_alive{s.session}, errc::invalid_argument);
  f.refuse(close_session{s.session}, errc::invalid_argument);
  CHECK(f.st.find_session(s.session)->has_value());
}

TEST_CASE("an_entry_that_skips_indexes_stops_the_node") {
  fixture f;
  f.create();
  raft::log_entry e;
  e.index = 3; // last applied is 1
  e.kind = raft::entry_kind::noop;
  auto r = f.sm.apply(f.st, e);
  REQUIRE(!r.ok());
  CHECK(r.code() == errc::invalid_argument);
  CHECK(r.err().message.find("skipped") != std::string::npos);
  e.kind = raft::entry_kind::command;
  e.data = codec::encode(command_envelope{0, 0, open_session{5'000, std::nullopt}});
  CHECK(f.sm.apply(f.st, e).code() == errc::invalid_argument);
  CHECK(f.st.last_applied().value() == 1);
}

// -- session ids and owners ----------------------------------------------------

TEST_CASE("a_new_session_takes_the_random_id_its_command_carries") {
  fixture f;
  auto a = f.apply(open_session{10'000, 0xdead'beef'0bad'f00d});
  REQUIRE_MESSAGE(a.ok(), why(a));
  CHECK(a.session == 0xdead'beef'0bad'f00d);
  auto b = f.apply(open_session{10'000, 42});
  REQUIRE_MESSAGE(b.ok(), why(b));
  // Not the next number after the first: the id is the one the node drew.
  CHECK(b.session == 42);
  auto stored = f.st.find_session(a.session).value();
  REQUIRE(stored.has_value());
  CHECK(stored->owner == "conflux://c1/client/alice");
  // The sequential counter of older logs is left alone.
  CHECK(f.st.get_counter(counter::last_session_id).value() == 0);
}

TEST_CASE("a_session_id_of_zero_is_refused") {
  fixture f;
  REQUIRE(f.open(10'000).ok()); // sweeps now, so the refusals below change nothing
  auto e = f.refuse(open_session{10'000, 0}, errc::invalid_argument);
  CHECK(e.message.find("random") != std::string::npos);
  // An open_session built without an id is encoded as 0: refused alike.
  f.refuse(open_session{10'000, std::nullopt}, errc::invalid_argument);
}

TEST_CASE("a_session_id_already_in_use_is_refused") {
  fixture f;
  auto a = f.apply(open_session{10'000, 7});
  REQUIRE(a.ok());
  f.caller = "conflux://c1/client/mallory";
  auto e = f.refuse(open_session{60'000, 7}, errc::already_exists);
  CHECK(e.message.find("in use") != std::string::npos);
  CHECK(f.st.find_session(7).value()->owner == "conflux://c1/client/alice");
}

TEST_CASE(
    "a_command_on_another_callers_session_is_refused_and_the_owners_write_applies") {
  fixture f;
  f.create();
  auto s = f.open(10'000);
  REQUIRE(s.ok());
  auto before = f.st;
  // Mallory knows (or guessed) the session id and writes with its next
  // sequence number, to have alice's real write answered from the cache.
  f.caller = "conflux://c1/client/mallory";
  auto forged =
      f.apply(create_version{key, "{\"evil\":1}", "", "", std::nullopt}, s.session, 1);
  REQUIRE(!forged.ok());
  CHECK(forged.err->code == errc::permission_denied);
  CHECK(forged.err->message.find("another client identity") != std::string::npos);
  before.set_last_applied(f.index).ok();
  // Only the audit record of the refusal was added.
  auto head = f.st.get_audit_chain().value();
  CHECK(head.head_seq == before.get_audit_chain().value().head_seq + 1);
  before.put_audit(*f.st.find_audit(head.head_seq).value()).ok();
  before.set_audit_chain(head).ok();
  CHECK_MESSAGE(f.st == before, "a refused stranger's command changed the state");
  // Her retry is refused again, not answered from the session's cache.
  CHECK(f.apply(create_version{key, "{}", "", "", std::nullopt}, s.session, 1)
            .err->code == errc::permission_denied);
  // She can neither keep the session alive nor close it.
  CHECK(f.apply(keep_alive{s.session}, s.session, 0).err->code ==
        errc::permission_denied);
  CHECK(f.apply(close_session{s.session}, s.session, 2).err->code ==
        errc::permission_denied);
  // Alice's write with that sequence number is applied, once.
  f.caller = "conflux://c1/client/alice";
  auto real =
      f.apply(create_version{key, "{\"pool\":11}", "", "", std::nullopt}, s.session, 1);
  REQUIRE_MESSAGE(real.ok(), why(real));
  CHECK(real.version == 2);
  CHECK(f.cfg().latest_version == 2);
  CHECK(f.apply(create_version{key, "{\"pool\":11}", "", "", std::nullopt}, s.session,
                1) == real);
}

TEST_CASE("a_session_opened_in_plain_text_refuses_an_authenticated_caller") {
  fixture f;
  f.caller = "";
  auto s = f.open(10'000);
  REQUIRE(s.ok());
  f.caller = "conflux://c1/client/alice";
  CHECK(f.apply(keep_alive{s.session}, s.session, 0).err->code ==
        errc::permission_denied);
  f.caller = "";
  CHECK(f.apply(keep_alive{s.session}, s.session, 0).ok());
}

TEST_CASE("open_session_entries_of_format_2_are_refused_unauthenticated") {
  // [2][array4][session 0][sequence 0][tag 7][array1][timeout 5000]: written
  // before ids were random, envelopes carried a caller, and commands a
  // credential.
  const std::string old_open{"\x02\x94\x00\x00\x07\x91\xcd\x13\x88", 9};
  fixture f;
  raft::log_entry e;
  e.index = ++f.index;
  e.timestamp_ms = f.now_ms;
  e.data = old_open;
  auto r = f.sm.apply(f.st, e);
  REQUIRE_MESSAGE(r.ok(), why(r));
  REQUIRE_FALSE(r->ok());
  CHECK(r->err->code == errc::unauthenticated);
  CHECK(f.st.list_sessions()->empty());
  CHECK(f.st.get_counter(counter::last_session_id).value() == 0);
}
