// Authorization decided at apply (docs/security.md, "Authorization"): who
// sends a command comes from its credential, resolved against the replicated
// tables with the entry's cluster time; what it may do from its roles'
// grants on the command's key. Every refusal changes nothing but
// last_applied.

#include "protocol/auth_state.hpp"
#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/sha256.hpp"
#include "protocol/state_machine.hpp"

#include <doctest/doctest.h>

using namespace conflux;

namespace {

const std::string acme_key = "acme/pay/prod/db";
const std::string beta_key = "beta/pay/prod/db";

std::string why(const apply_result& r) {
  return r.ok() ? std::string{} : to_string(*r.err);
}

// A distinct, valid token per principal name (tests only).
std::string token_of(const std::string& name) {
  return "cfx_" + sha256_hex(name);
}
std::string credential_of(const std::string& name) {
  return auth::token_hash(token_of(name));
}

// A bootstrapped state (principal "root", role cluster-admin) driven through
// real log entries, with helpers to make roles and tokens as root.
struct auth_fixture {
  memory_state st;
  state_machine sm;
  std::uint64_t index = 0;
  std::int64_t now_ms = 1'700'000'000'000;
  std::string caller = "conflux://c1/client/x";
  std::uint64_t next_session = 0x5eed'0000'0000'0001;

  auth_fixture() {
    auto r = apply(bootstrap_auth{"root", credential_of("root")}, "");
    REQUIRE_MESSAGE(r.ok(), why(r));
  }

  apply_result apply(command cmd, const std::string& credential, session_id session = 0,
                     std::uint64_t seq = 0) {
    raft::log_entry e;
    e.index = ++index;
    e.term = 1;
    e.timestamp_ms = now_ms;
    e.data = codec::encode(
        command_envelope{session, seq, std::move(cmd), caller, credential});
    auto r = sm.apply(st, e);
    REQUIRE_MESSAGE(r.ok(), to_string(r.ok() ? error{} : r.err()));
    CHECK(st.last_applied().value() == e.index);
    return *r;
  }

  apply_result as(const std::string& who, command cmd) {
    return apply(std::move(cmd), credential_of(who));
  }

  apply_result as_root(command cmd) {
    auto r = as("root", std::move(cmd));
    REQUIRE_MESSAGE(r.ok(), why(r));
    return r;
  }

  // A command that must be refused with `code` and change nothing but
  // last_applied.
  error refuse(command cmd, const std::string& credential, errc code,
               session_id session = 0, std::uint64_t seq = 0) {
    auto before = st;
    auto r = apply(std::move(cmd), credential, session, seq);
    REQUIRE_MESSAGE(!r.ok(), "command was accepted");
    CHECK_MESSAGE(r.err->code == code, why(r));
    CHECK(!r.err->message.empty());
    before.set_last_applied(index).ok();
    // Nothing but last_applied and the audit trail, which records the refusal.
    CHECK_MESSAGE(st.same_except_audit(before), "a refused command changed the state");
    return *r.err;
  }

  void role(const std::string& name, std::vector<auth::grant> grants) {
    as_root(put_role{auth::role{name, std::move(grants)}, false});
  }

  void token(const std::string& name, std::vector<std::string> roles,
             std::int64_t ttl_ms = 0) {
    as_root(create_token{name, credential_of(name), std::move(roles), ttl_ms});
  }

  void create(const std::string& key, const std::string& content = "x=1") {
    as_root(create_config{key, content_format::text, std::nullopt, content, "", ""});
  }

  session_id open(const std::string& who) {
    next_session = next_session * 6364136223846793005ULL + 1442695040888963407ULL;
    auto r = as(who, open_session{60'000, next_session});
    REQUIRE_MESSAGE(r.ok(), why(r));
    return r.session;
  }
};

// One command of every kind that needs a credential, on `key` where it has
// one. Each would succeed for root on a state where `key` exists with
// versions 1 and 2 and no release rules.
std::vector<command> every_command(const std::string& key, session_id session) {
  return {
      create_config{key + "x", content_format::text, std::nullopt, "a", "", ""},
      create_version{key, "b", "", "", std::nullopt},
      update_release_rules{key, {}, "", std::nullopt},
      publish{key, "c", "", "", {}, std::nullopt, ""},
      delete_versions{key, {2}, std::nullopt},
      delete_config{key, std::nullopt, true},
      open_session{60'000, 0x1234},
      keep_alive{session},
      close_session{session},
      create_token{"new-one", credential_of("new-one"), {}, 0},
      revoke_token{"root"},
      set_token_roles{"root", {"cluster-admin"}},
      put_role{auth::role{"readers", {{"acme", auth::read}}}, false},
      delete_role{"spare"},
      set_tenant{"acme", 1, 2, 3, 4},
      rewrap_secrets{},
  };
}

// A state on which every_command(acme_key, ...) succeeds for root (a second
// cluster-admin lets root revoke its own token).
auth_fixture fixture_for_every_command() {
  auth_fixture f;
  f.create(acme_key);
  f.as_root(create_version{acme_key, "v2", "", "", std::nullopt});
  f.role("spare", {{"acme", auth::read}});
  f.token("deputy", {"cluster-admin"});
  return f;
}

// The advice every last-cluster-admin refusal gives.
bool says_create_another_admin(const error& e) {
  return e.message.find("would leave no live principal with cluster-admin") !=
             std::string::npos &&
         e.message.find("create another cluster-admin first") != std::string::npos;
}

} // namespace

TEST_CASE("every_command_of_root_succeeds_on_the_reference_state") {
  // The positive control for the refusals below: the same commands with a
  // valid cluster-admin credential are applied.
  for (std::size_t i = 0; i < every_command(acme_key, 0).size(); ++i) {
    auto f = fixture_for_every_command();
    auto s = f.open("root");
    auto cmd = every_command(acme_key, s)[i];
    bool sessioned = std::holds_alternative<keep_alive>(cmd) ||
                     std::holds_alternative<close_session>(cmd);
    auto r = f.apply(cmd, credential_of("root"), sessioned ? s : 0);
    CHECK_MESSAGE(r.ok(), "command " << i << ": " << why(r));
  }
}

TEST_CASE("every_command_without_a_credential_is_refused_unauthenticated") {
  auto f = fixture_for_every_command();
  auto s = f.open("root");
  for (auto& cmd : every_command(acme_key, s)) {
    auto e = f.refuse(cmd, "", errc::unauthenticated);
    CHECK(e.message.find("no token") != std::string::npos);
  }
  // Inside a session too: the session does not stand in for a credential.
  f.refuse(keep_alive{s}, "", errc::unauthenticated, s, 0);
}

TEST_CASE("every_command_with_an_unknown_token_is_refused_unauthenticated") {
  auto f = fixture_for_every_command();
  auto s = f.open("root");
  for (auto& cmd : every_command(acme_key, s))
    f.refuse(cmd, credential_of("nobody"), errc::unauthenticated);
  // A token's text instead of its hash is unknown as well.
  f.refuse(create_version{acme_key, "b", "", "", std::nullopt}, token_of("root"),
           errc::unauthenticated);
}

TEST_CASE("an_expired_token_is_refused_from_the_entry_timestamp_of_its_expiry") {
  auto f = fixture_for_every_command();
  f.role("acme-all", {{"acme", auth::read | auth::write | auth::release | auth::del}});
  f.token("ci", {"acme-all"}, 10'000); // expires at now + 10 s of cluster time
  auto expires = f.now_ms + 10'000;
  f.now_ms = expires - 1;
  CHECK(f.as("ci", create_version{acme_key, "b", "", "", std::nullopt}).ok());
  f.now_ms = expires;
  auto e = f.refuse(create_version{acme_key, "b", "", "", std::nullopt},
                    credential_of("ci"), errc::unauthenticated);
  CHECK(e.message.find("expired") != std::string::npos);
  CHECK(e.message.find(credential_of("ci")) == std::string::npos);
  for (auto& cmd : every_command(acme_key, 0))
    f.refuse(cmd, credential_of("ci"), errc::unauthenticated);
}

TEST_CASE("a_revoked_token_is_refused_for_every_command") {
  auto f = fixture_for_every_command();
  f.token("ops", {"cluster-admin"});
  f.as_root(revoke_token{"ops"});
  auto p = f.st.find_principal("ops").value();
  REQUIRE(p.has_value());
  CHECK(p->disabled);
  for (auto& cmd : every_command(acme_key, 0)) {
    auto e = f.refuse(cmd, credential_of("ops"), errc::unauthenticated);
    CHECK(e.message.find("revoked") != std::string::npos);
  }
}

TEST_CASE("a_revoke_takes_effect_at_exactly_its_log_index") {
  auth_fixture f;
  f.create(acme_key);
  f.role("writer", {{"acme", auth::write}});
  f.token("ci", {"writer"});
  auto before = f.as("ci", create_version{acme_key, "1", "", "", std::nullopt});
  REQUIRE_MESSAGE(before.ok(), why(before));
  auto revoke_at = f.index + 1;
  f.as_root(revoke_token{"ci"});
  CHECK(f.index == revoke_at);
  // The very next entry, with the same timestamp, is refused.
  f.refuse(create_version{acme_key, "2", "", "", std::nullopt}, credential_of("ci"),
           errc::unauthenticated);
  // Replaying the same log on another replica gives the same answers.
  auth_fixture g;
  g.create(acme_key);
  g.role("writer", {{"acme", auth::write}});
  g.token("ci", {"writer"});
  CHECK(g.as("ci", create_version{acme_key, "1", "", "", std::nullopt}) == before);
  g.as_root(revoke_token{"ci"});
  CHECK(g.as("ci", create_version{acme_key, "2", "", "", std::nullopt}).err->code ==
        errc::unauthenticated);
  CHECK(f.st == g.st);
}

TEST_CASE("a_write_principal_may_not_release_publish_or_delete") {
  auth_fixture f;
  f.create(acme_key);
  f.role("writer", {{"acme", auth::read | auth::write}});
  f.token("dev", {"writer"});
  CHECK(f.as("dev", create_version{acme_key, "2", "", "", std::nullopt}).ok());
  CHECK(f.as("dev", create_config{"acme/pay/prod/other", content_format::text,
                                  std::nullopt, "x", "", ""})
            .ok());
  auto rel = f.refuse(update_release_rules{acme_key, {}, "", std::nullopt},
                      credential_of("dev"), errc::permission_denied);
  CHECK(rel.message.find("lacks release") != std::string::npos);
  CHECK(rel.message.find("\"dev\"") != std::string::npos);
  f.refuse(publish{acme_key, "3", "", "", {}, std::nullopt, ""}, credential_of("dev"),
           errc::permission_denied);
  f.refuse(delete_versions{acme_key, {1}, std::nullopt}, credential_of("dev"),
           errc::permission_denied);
  f.refuse(delete_config{acme_key, std::nullopt, true}, credential_of("dev"),
           errc::permission_denied);
  // release alone is not enough to publish, which also writes a version.
  f.role("releaser", {{"acme", auth::release}});
  f.token("rel", {"releaser"});
  CHECK(f.as("rel", update_release_rules{acme_key, {}, "", std::nullopt}).ok());
  f.refuse(publish{acme_key, "3", "", "", {}, std::nullopt, ""}, credential_of("rel"),
           errc::permission_denied);
  f.as_root(set_token_roles{"rel", {"releaser", "writer"}});
  CHECK(f.as("rel", publish{acme_key, "3", "", "", {}, std::nullopt, ""}).ok());
}

TEST_CASE("tenant_a_token_on_tenant_b_keys_is_refused_for_each_write_command") {
  auth_fixture f;
  f.create(beta_key);
  f.as_root(create_version{beta_key, "2", "", "", std::nullopt});
  f.role("acme-all", {{"acme", auth::all_perms & ~auth::cluster_perms}});
  f.token("acme-ci", {"acme-all"});
  // Everything acme's token may do on its own tenant ...
  f.create(acme_key);
  f.as_root(create_version{acme_key, "2", "", "", std::nullopt});
  for (auto& cmd : every_command(acme_key, 0)) {
    if (cmd.index() >= 6)
      break; // the config commands come first
    auto r = f.as("acme-ci", cmd);
    CHECK_MESSAGE(r.ok(), why(r));
    if (std::holds_alternative<delete_config>(cmd)) {
      f.create(acme_key);
      f.as_root(create_version{acme_key, "2", "", "", std::nullopt});
    }
  }
  // ... it may not do on beta's keys, nor on a tenant that only starts alike.
  for (auto& key : {beta_key, std::string{"acmeco/pay/prod/db"}}) {
    if (key != beta_key) {
      f.create(key);
      f.as_root(create_version{key, "2", "", "", std::nullopt});
    }
    for (auto& cmd : every_command(key, 0)) {
      if (cmd.index() >= 6)
        break;
      f.refuse(cmd, credential_of("acme-ci"), errc::permission_denied);
    }
  }
}

TEST_CASE("a_permission_check_comes_before_existence_so_nothing_leaks") {
  auth_fixture f;
  f.role("acme-read", {{"acme", auth::read}});
  f.token("r", {"acme-read"});
  // beta/... does not exist: a stranger learns permission_denied, not
  // not_found.
  f.refuse(create_version{beta_key, "1", "", "", std::nullopt}, credential_of("r"),
           errc::permission_denied);
  f.refuse(delete_config{beta_key, std::nullopt, true}, credential_of("r"),
           errc::permission_denied);
}

TEST_CASE("bootstrap_creates_the_cluster_admin_role_and_its_principal") {
  auth_fixture f;
  auto role = f.st.find_role("cluster-admin").value();
  REQUIRE(role.has_value());
  CHECK(role->grants == std::vector<auth::grant>{{"*", auth::all_perms}});
  auto root = f.st.find_principal("root").value();
  REQUIRE(root.has_value());
  CHECK(root->roles == std::vector<std::string>{"cluster-admin"});
  CHECK(root->token_hash == credential_of("root"));
  CHECK(root->expires_at_ms == 0);
  CHECK(root->created_by.empty());
  CHECK(root->created_revision == 1);
  CHECK(f.st.get_counter(counter::auth_bootstrapped).value() == 1);
  auto a = auth::load_access(f.st, credential_of("root"), f.now_ms);
  REQUIRE(a.ok());
  REQUIRE(a->ok());
  CHECK(a->value().cluster() == auth::cluster_perms);
}

TEST_CASE("a_second_bootstrap_is_refused_with_or_without_a_credential") {
  auth_fixture f;
  auto e = f.refuse(bootstrap_auth{"mallory", credential_of("mallory")}, "",
                    errc::already_exists);
  CHECK(e.message.find("already bootstrapped") != std::string::npos);
  f.refuse(bootstrap_auth{"mallory", credential_of("mallory")}, credential_of("root"),
           errc::already_exists);
  f.refuse(bootstrap_auth{"root", credential_of("other")}, "", errc::already_exists);
  CHECK_FALSE(f.st.find_principal("mallory")->has_value());
}

TEST_CASE("a_bootstrap_with_a_bad_name_or_hash_is_refused_and_can_be_retried") {
  memory_state st;
  state_machine sm;
  auto apply = [&](std::uint64_t index, bootstrap_auth b) {
    return sm.apply(st, index, 1'000, command_envelope{0, 0, std::move(b)}).value();
  };
  CHECK(apply(1, {"Root", credential_of("root")}).err->code == errc::invalid_argument);
  CHECK(apply(2, {"root", "cfx_not-a-hash"}).err->code == errc::invalid_argument);
  CHECK(st.get_counter(counter::auth_bootstrapped).value() == 0);
  CHECK(apply(3, {"root", credential_of("root")}).ok());
  CHECK(st.get_counter(counter::auth_bootstrapped).value() == 3);
}

TEST_CASE("nothing_is_applied_before_the_bootstrap") {
  memory_state st;
  state_machine sm;
  auto r = sm.apply(st, 1, 1'000,
                    command_envelope{0, 0,
                                     create_config{acme_key, content_format::text,
                                                   std::nullopt, "x", "", ""},
                                     "", credential_of("root")});
  REQUIRE(r.ok());
  CHECK(r->err->code == errc::unauthenticated);
  CHECK(st.list_keys("", 0)->empty());
}

TEST_CASE("a_session_of_another_principal_is_refused") {
  auth_fixture f;
  f.create(acme_key);
  f.role("writer", {{"acme", auth::write}});
  f.token("alice", {"writer"});
  f.token("mallory", {"writer"});
  auto s = f.open("alice");
  CHECK(f.st.find_session(s).value()->principal == "alice");
  // Same connection identity (caller), another principal: refused, and the
  // session's cache does not answer the stranger.
  auto e = f.refuse(create_version{acme_key, "evil", "", "", std::nullopt},
                    credential_of("mallory"), errc::permission_denied, s, 1);
  CHECK(e.message.find("another principal") != std::string::npos);
  f.refuse(keep_alive{s}, credential_of("mallory"), errc::permission_denied, s, 0);
  f.refuse(close_session{s}, credential_of("mallory"), errc::permission_denied, s, 2);
  auto real = f.apply(create_version{acme_key, "real", "", "", std::nullopt},
                      credential_of("alice"), s, 1);
  REQUIRE_MESSAGE(real.ok(), why(real));
  CHECK(real.version == 2);
}

TEST_CASE("a_session_of_a_revoked_principal_is_refused_unauthenticated") {
  auth_fixture f;
  f.create(acme_key);
  f.role("writer", {{"acme", auth::write}});
  f.token("alice", {"writer"});
  auto s = f.open("alice");
  auto first = f.apply(create_version{acme_key, "1", "", "", std::nullopt},
                       credential_of("alice"), s, 1);
  REQUIRE(first.ok());
  f.as_root(revoke_token{"alice"});
  // Not even the cached answer of an applied sequence is given out.
  f.refuse(create_version{acme_key, "1", "", "", std::nullopt}, credential_of("alice"),
           errc::unauthenticated, s, 1);
}

TEST_CASE("the_creator_of_a_version_is_the_principal_never_the_clients_claim") {
  auth_fixture f;
  f.role("writer", {{"acme", auth::write}});
  f.token("ci", {"writer"});
  REQUIRE(f.as("ci", create_config{acme_key, content_format::text, std::nullopt, "x",
                                   "", "somebody-else"})
              .ok());
  REQUIRE(f.as("ci", create_version{acme_key, "y", "", "root", std::nullopt}).ok());
  CHECK(get_version(f.st, acme_key, 1)->creator == "ci");
  CHECK(get_version(f.st, acme_key, 2)->creator == "ci");
}

TEST_CASE("auth_commands_need_cluster_admin") {
  auth_fixture f;
  f.role("acme-admin", {{"acme", auth::all_perms & ~auth::cluster_perms}});
  f.token("lead", {"acme-admin"});
  for (command cmd : std::vector<command>{
           create_token{"x", credential_of("x"), {}, 0}, revoke_token{"root"},
           set_token_roles{"root", {}}, set_tenant{"acme", 1, 1, 1, 1}}) {
    auto e = f.refuse(cmd, credential_of("lead"), errc::permission_denied);
    CHECK(e.message.find("cluster-admin") != std::string::npos);
  }
}

TEST_CASE("create_token_refuses_a_live_name_a_reused_token_and_unknown_roles") {
  auth_fixture f;
  f.role("dev", {{"acme", auth::read}});
  f.token("ci", {"dev"});
  auto root = credential_of("root");
  f.refuse(create_token{"ci", credential_of("ci2"), {"dev"}, 0}, root,
           errc::already_exists);
  f.refuse(create_token{"ci2", credential_of("ci"), {"dev"}, 0}, root,
           errc::already_exists);
  auto e = f.refuse(create_token{"ci2", credential_of("ci2"), {"dev", "ghost"}, 0},
                    root, errc::not_found);
  CHECK(e.message.find("ghost") != std::string::npos);
  f.refuse(create_token{"ci2", credential_of("ci2"), {}, -1}, root,
           errc::invalid_argument);
  f.refuse(create_token{"CI", credential_of("CI"), {}, 0}, root,
           errc::invalid_argument);
  f.refuse(create_token{"ci2", "not-a-hash", {}, 0}, root, errc::invalid_argument);
  // After a revoke the name may get a new token, never the old one back.
  f.as_root(revoke_token{"ci"});
  f.refuse(create_token{"ci", credential_of("ci"), {"dev"}, 0}, root,
           errc::already_exists);
  f.as_root(create_token{"ci", credential_of("ci-rotated"), {"dev"}, 0});
  auto ci = f.st.find_principal("ci").value();
  REQUIRE(ci.has_value());
  CHECK_FALSE(ci->disabled);
  CHECK(ci->created_by == "root");
  CHECK_FALSE(f.st.find_principal_by_token(credential_of("ci"))->has_value());
  CHECK(
      f.apply(create_version{acme_key, "x", "", "", std::nullopt}, credential_of("ci"))
          .err->code == errc::unauthenticated);
}

TEST_CASE("a_token_lifetime_counts_from_the_entry_timestamp") {
  auth_fixture f;
  f.now_ms = 5'000'000;
  f.token("short", {}, 60'000);
  CHECK(f.st.find_principal("short").value()->expires_at_ms == 5'060'000);
  f.token("forever", {}, 0);
  CHECK(f.st.find_principal("forever").value()->expires_at_ms == 0);
}

TEST_CASE("set_token_roles_changes_what_a_principal_may_do_from_its_index_on") {
  auth_fixture f;
  f.create(acme_key);
  f.role("reader", {{"acme", auth::read}});
  f.role("writer", {{"acme", auth::write}});
  f.token("ci", {"reader"});
  f.refuse(create_version{acme_key, "x", "", "", std::nullopt}, credential_of("ci"),
           errc::permission_denied);
  f.as_root(set_token_roles{"ci", {"writer"}});
  CHECK(f.as("ci", create_version{acme_key, "x", "", "", std::nullopt}).ok());
  f.as_root(revoke_token{"ci"});
  f.refuse(set_token_roles{"ci", {"writer"}}, credential_of("root"),
           errc::invalid_argument);
  f.refuse(set_token_roles{"ghost", {"writer"}}, credential_of("root"),
           errc::not_found);
}

TEST_CASE("a_role_held_by_a_live_principal_cannot_be_deleted") {
  auth_fixture f;
  f.role("dev", {{"acme", auth::read}});
  f.token("ci", {"dev"});
  auto e = f.refuse(delete_role{"dev"}, credential_of("root"), errc::invalid_argument);
  CHECK(e.message.find("\"ci\"") != std::string::npos);
  f.as_root(revoke_token{"ci"});
  f.as_root(delete_role{"dev"});
  CHECK_FALSE(f.st.find_role("dev")->has_value());
  f.refuse(delete_role{"dev"}, credential_of("root"), errc::not_found);
}

TEST_CASE("revoking_the_last_cluster_admin_is_refused_until_another_exists") {
  auth_fixture f;
  auto e =
      f.refuse(revoke_token{"root"}, credential_of("root"), errc::failed_precondition);
  CHECK(says_create_another_admin(e));
  CHECK(e.message.find("\"root\"") != std::string::npos);
  f.token("deputy", {"cluster-admin"});
  f.as_root(revoke_token{"root"});
  // Now the deputy is the last one.
  CHECK(says_create_another_admin(f.refuse(
      revoke_token{"deputy"}, credential_of("deputy"), errc::failed_precondition)));
}

TEST_CASE("an_expired_or_revoked_cluster_admin_is_not_another_one") {
  auth_fixture f;
  f.token("brief", {"cluster-admin"}, 60'000);
  f.token("gone", {"cluster-admin"});
  f.as_root(revoke_token{"gone"});
  f.role("no-admin", {{"*", auth::auditor | auth::read}});
  f.token("watcher", {"no-admin"});
  // While "brief" is live root may give cluster-admin up (and brief give it
  // back).
  f.as_root(set_token_roles{"root", {"no-admin"}});
  CHECK(f.as("brief", set_token_roles{"root", {"cluster-admin"}}).ok());
  // Past brief's expiry only root holds it, whatever "gone" and "watcher"
  // hold.
  f.now_ms += 60'000;
  f.refuse(revoke_token{"root"}, credential_of("root"), errc::failed_precondition);
  // A role of one's own that grants cluster-admin on "*" counts.
  f.role("ops", {{"*", auth::cluster_admin}});
  f.token("ops1", {"ops"});
  f.as_root(revoke_token{"root"});
}

TEST_CASE("set_token_roles_may_not_take_cluster_admin_from_its_last_holder") {
  auth_fixture f;
  f.role("reader", {{"acme", auth::read}});
  for (auto roles : {std::vector<std::string>{}, std::vector<std::string>{"reader"}})
    CHECK(says_create_another_admin(f.refuse(set_token_roles{"root", roles},
                                             credential_of("root"),
                                             errc::failed_precondition)));
  f.as_root(set_token_roles{"root", {"cluster-admin", "reader"}});
  f.token("deputy", {"cluster-admin"});
  f.as_root(set_token_roles{"root", {"reader"}});
  CHECK(f.st.find_principal("root").value()->roles ==
        std::vector<std::string>{"reader"});
}

TEST_CASE("replacing_or_deleting_the_role_of_the_last_cluster_admin_is_refused") {
  auth_fixture f;
  f.role("ops", {{"*", auth::cluster_admin | auth::auditor}});
  f.token("ops1", {"ops"});
  f.as_root(revoke_token{"root"});
  auto ops1 = credential_of("ops1");
  CHECK(says_create_another_admin(
      f.refuse(put_role{auth::role{"ops", {{"*", auth::auditor}}}, true}, ops1,
               errc::failed_precondition)));
  // Refused for the last admin before the role is found to be in use, whose
  // advice (change the holder's roles) would be refused in turn.
  CHECK(says_create_another_admin(
      f.refuse(delete_role{"ops"}, ops1, errc::failed_precondition)));
  // A replacement that still grants cluster-admin is no loss.
  CHECK(f.as("ops1", put_role{auth::role{"ops", {{"*", auth::cluster_admin}}}, true})
            .ok());
  // With another cluster-admin the role may lose it.
  CHECK(f.as("ops1",
             create_token{"deputy", credential_of("deputy"), {"cluster-admin"}, 0})
            .ok());
  CHECK(f.as("ops1", put_role{auth::role{"ops", {{"*", auth::auditor}}}, true}).ok());
}

TEST_CASE("without_any_live_cluster_admin_a_change_that_takes_none_away_is_applied") {
  auth_fixture f;
  f.token("brief", {"cluster-admin"}, 60'000);
  f.role("acme-admin", {{"acme", auth::admin | auth::read}});
  f.token("lead", {"acme-admin"});
  f.role("pay-dev", {{"acme/pay", auth::read}});
  CHECK(f.as("brief", revoke_token{"root"}).ok());
  f.now_ms += 60'000;
  // Nobody is a live cluster-admin now; a pattern admin still manages its
  // roles.
  CHECK(f.as("lead", put_role{auth::role{"pay-dev", {{"acme/pay", auth::write}}}, true})
            .ok());
  CHECK(f.as("lead", delete_role{"pay-dev"}).ok());
}

TEST_CASE("the_bootstrap_role_cannot_be_changed_or_deleted") {
  auth_fixture f;
  f.refuse(delete_role{"cluster-admin"}, credential_of("root"), errc::invalid_argument);
  f.refuse(put_role{auth::role{"cluster-admin", {{"acme", auth::read}}}, true},
           credential_of("root"), errc::invalid_argument);
}

TEST_CASE("put_role_refuses_bad_grants_and_an_existing_name_without_replace") {
  auth_fixture f;
  auto root = credential_of("root");
  f.refuse(put_role{auth::role{"r", {}}, false}, root, errc::invalid_argument);
  f.refuse(put_role{auth::role{"r", {{"acme/../x", auth::read}}}, false}, root,
           errc::invalid_argument);
  f.refuse(put_role{auth::role{"r", {{"acme", 0}}}, false}, root,
           errc::invalid_argument);
  f.refuse(put_role{auth::role{"r", {{"acme", auth::cluster_admin}}}, false}, root,
           errc::invalid_argument);
  f.refuse(put_role{auth::role{"R", {{"acme", auth::read}}}, false}, root,
           errc::invalid_argument);
  f.role("r", {{"acme", auth::read}});
  f.refuse(put_role{auth::role{"r", {{"acme", auth::write}}}, false}, root,
           errc::already_exists);
  f.as_root(put_role{auth::role{"r", {{"acme", auth::write}}}, true});
  CHECK(f.st.find_role("r").value()->grants[0].perms == auth::write);
}

TEST_CASE("admin_on_a_pattern_may_manage_roles_within_it_only") {
  auth_fixture f;
  f.role("acme-admin", {{"acme", auth::admin}});
  f.token("lead", {"acme-admin"});
  auto lead = credential_of("lead");
  CHECK(f.as("lead", put_role{auth::role{"pay-dev",
                                         {{"acme/pay", auth::read | auth::write},
                                          {"acme/*/dev", auth::del}}},
                              false})
            .ok());
  // Outside the pattern, wider than it, or cluster-wide: refused.
  f.refuse(put_role{auth::role{"beta-dev", {{"beta", auth::read}}}, false}, lead,
           errc::permission_denied);
  f.refuse(
      put_role{auth::role{"mixed", {{"acme/pay", auth::read}, {"beta", auth::read}}},
               false},
      lead, errc::permission_denied);
  f.refuse(put_role{auth::role{"all", {{"*", auth::read}}}, false}, lead,
           errc::permission_denied);
  f.refuse(put_role{auth::role{"aud", {{"*", auth::auditor}}}, false}, lead,
           errc::permission_denied);
  f.refuse(put_role{auth::role{"any-pay", {{"*/pay", auth::read}}}, false}, lead,
           errc::permission_denied);
  // Nor may it take over a role granting beyond its pattern.
  f.role("beta-ops", {{"beta", auth::release}});
  f.refuse(put_role{auth::role{"beta-ops", {{"acme", auth::read}}}, true}, lead,
           errc::permission_denied);
  f.refuse(delete_role{"beta-ops"}, lead, errc::permission_denied);
  CHECK(f.as("lead", delete_role{"pay-dev"}).ok());
  // admin is not read: it grants nothing on the keys themselves.
  f.create(acme_key);
  f.refuse(create_version{acme_key, "x", "", "", std::nullopt}, lead,
           errc::permission_denied);
}

TEST_CASE("tenant_usage_is_counted_for_every_tenant_at_apply") {
  auth_fixture f;
  f.create(acme_key, "12345");
  f.as_root(create_version{acme_key, "123", "", "", std::nullopt});
  f.as_root(publish{acme_key, "1", "", "", {}, std::nullopt, ""});
  f.create(beta_key, "xy");
  auto acme = f.st.find_tenant("acme").value();
  REQUIRE(acme.has_value());
  CHECK(acme->configs == 1);
  CHECK(acme->versions == 3);
  CHECK(acme->bytes == 9);
  CHECK(acme->max_configs == 0);
  CHECK(f.st.find_tenant("beta").value()->bytes == 2);
  f.as_root(delete_versions{acme_key, {1, 2}, std::nullopt});
  acme = f.st.find_tenant("acme").value();
  CHECK(acme->versions == 1);
  CHECK(acme->bytes == 1);
  f.as_root(delete_config{acme_key, std::nullopt, true});
  acme = f.st.find_tenant("acme").value();
  CHECK(acme->configs == 0);
  CHECK(acme->versions == 0);
  CHECK(acme->bytes == 0);
}

TEST_CASE("a_tenant_over_its_quota_is_refused_resource_exhausted") {
  auth_fixture f;
  f.as_root(set_tenant{"acme", 1, 3, 10, 0});
  f.create(acme_key, "1234");
  auto root = credential_of("root");
  auto e = f.refuse(create_config{"acme/pay/prod/two", content_format::text,
                                  std::nullopt, "x", "", ""},
                    root, errc::resource_exhausted);
  CHECK(e.message.find("--max-configs") != std::string::npos);
  // bytes: 4 stored, 7 more would make 11 > 10.
  f.refuse(create_version{acme_key, "1234567", "", "", std::nullopt}, root,
           errc::resource_exhausted);
  f.as_root(create_version{acme_key, "123456", "", "", std::nullopt});
  f.as_root(publish{acme_key, "", "", "", {}, std::nullopt, ""});
  // versions: 3 stored.
  auto v = f.refuse(publish{acme_key, "", "", "", {}, std::nullopt, ""}, root,
                    errc::resource_exhausted);
  CHECK(v.message.find("--max-versions") != std::string::npos);
  // Other tenants are not limited by acme's quota.
  f.create(beta_key);
  f.create("beta/pay/prod/two");
  // Deleting frees room; raising the quota keeps the usage.
  f.as_root(delete_versions{acme_key, {1}, std::nullopt});
  f.as_root(create_version{acme_key, "", "", "", std::nullopt});
  f.as_root(set_tenant{"acme", 2, 10, 100, 5});
  auto acme = f.st.find_tenant("acme").value();
  CHECK(acme->configs == 1);
  CHECK(acme->versions == 3);
  CHECK(acme->rate == 5);
  f.create("acme/pay/prod/two");
}

TEST_CASE("set_tenant_refuses_a_name_that_is_not_one_key_segment") {
  auth_fixture f;
  for (const char* bad : {"", "*", "acme/pay", "..", "Ac me"})
    f.refuse(set_tenant{bad, 1, 1, 1, 1}, credential_of("root"),
             errc::invalid_argument);
}

TEST_CASE("load_access_resolves_a_credential_at_a_cluster_time") {
  auth_fixture f;
  f.role("dev", {{"acme", auth::read}});
  f.token("ci", {"dev"}, 1'000);
  auto at = [&](const std::string& cred, std::int64_t t) {
    auto a = auth::load_access(f.st, cred, t);
    REQUIRE(a.ok());
    return *a;
  };
  auto ok = at(credential_of("ci"), f.now_ms);
  REQUIRE(ok.ok());
  CHECK(ok->who.name == "ci");
  REQUIRE(ok->roles.size() == 1);
  CHECK(ok->may(auth::read, acme_key));
  CHECK_FALSE(ok->may(auth::read, beta_key));
  CHECK(at(credential_of("ci"), f.now_ms + 1'000).code() == errc::unauthenticated);
  CHECK(at("", f.now_ms).code() == errc::unauthenticated);
  CHECK(at(credential_of("ghost"), f.now_ms).code() == errc::unauthenticated);
}
