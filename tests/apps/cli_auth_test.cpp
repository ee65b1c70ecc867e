// Each `conflux auth` command parsed and run against a fake cluster that
// records what reached it (the token pieces: cli_token_test.cpp).

#include "apps/cli/cli_token.hpp"
#include "tests/apps/cli_fake_cluster.hpp"

#include <doctest/doctest.h>

using namespace conflux;
using namespace conflux::cli;
using namespace conflux::cli::test;

namespace {

/// Records every call; answers from its fields.
class fake_auth_cluster final : public refusing_cluster {
public:
  std::vector<command> writes;
  std::optional<error> fail;
  apply_result result{std::nullopt, 42, 0, 0, 0};
  std::vector<auth::principal> principals;
  std::vector<auth::role> roles;
  std::vector<auth::tenant> tenants;
  std::vector<std::string> listed_prefixes;

  expected<apply_result> write(command cmd) override {
    writes.push_back(std::move(cmd));
    if (fail)
      return *fail;
    return result;
  }
  expected<auth::access> whoami() override {
    if (fail)
      return *fail;
    auth::access a;
    a.who = principals.at(0);
    a.roles = roles;
    return a;
  }
  expected<std::vector<auth::principal>>
  list_tokens(const std::string& prefix) override {
    listed_prefixes.push_back(prefix);
    if (fail)
      return *fail;
    return principals;
  }
  expected<std::vector<auth::role>> list_roles() override {
    if (fail)
      return *fail;
    return roles;
  }
  expected<std::vector<auth::tenant>> list_tenants() override {
    if (fail)
      return *fail;
    return tenants;
  }
};

template <class T>
const T& only_write(const fake_auth_cluster& fake) {
  REQUIRE(fake.writes.size() == 1);
  const auto* cmd = std::get_if<T>(&fake.writes[0]);
  REQUIRE(cmd != nullptr);
  return *cmd;
}

} // namespace

// -- auth token ---------------------------------------------------------------------

TEST_CASE("token_create_sends_only_the_hash_and_prints_the_token_once") {
  fake_auth_cluster fake;
  auto r = run(fake, {"auth", "token", "create", "ci-bot", "--role", "reader", "--role",
                      "writer"});
  REQUIRE(r.code == exit_ok);
  const auto& cmd = only_write<create_token>(fake);
  CHECK(cmd.principal == "ci-bot");
  CHECK(cmd.roles == std::vector<std::string>{"reader", "writer"});
  CHECK(cmd.ttl_ms == 0);
  CHECK(mentions(r.out, "cannot be shown again"));
  // The token is on its own line; the command carries its hash, not it.
  std::istringstream lines{r.out};
  std::string line, token;
  while (std::getline(lines, line))
    if (line.rfind("cfx_", 0) == 0)
      token = line;
  REQUIRE(auth::validate_token_text(token).ok());
  CHECK(cmd.token_hash == auth::token_hash(token));
  CHECK(cmd.token_hash != token);
}

TEST_CASE("token_create_json_gives_principal_token_and_expires_at") {
  fake_auth_cluster fake;
  auth::principal p;
  p.name = "ci-bot";
  p.expires_at_ms = 1'767'225'600'000; // 2026-01-01T00:00:00Z
  fake.principals = {p};
  auto r = run(fake, {"--json", "auth", "token", "create", "ci-bot", "--role", "reader",
                      "--expires", "12h"});
  REQUIRE(r.code == exit_ok);
  CHECK(only_write<create_token>(fake).ttl_ms == 12 * 3'600'000);
  auto j = one_json(r.out);
  CHECK(j["principal"] == "ci-bot");
  CHECK(j["expires_at"] == "2026-01-01T00:00:00Z");
  REQUIRE(j["token"].is_string());
  CHECK(only_write<create_token>(fake).token_hash ==
        auth::token_hash(j["token"].get<std::string>()));
  CHECK(fake.listed_prefixes == std::vector<std::string>{"ci-bot"});
}

TEST_CASE("token_create_out_writes_a_private_file_and_prints_no_token") {
  temp_dir d;
  fake_auth_cluster fake;
  auto path = d.path + "/bot.token";
  auto r = run(fake, {"auth", "token", "create", "bot", "--role", "r", "--out", path});
  REQUIRE(r.code == exit_ok);
  CHECK(mode_of(path) == 0600);
  auto token = read_token_file("--out", path);
  REQUIRE(token.ok());
  CHECK(only_write<create_token>(fake).token_hash == auth::token_hash(*token));
  CHECK(!mentions(r.out, *token));
  CHECK(mentions(r.out, path));
}

TEST_CASE("a_refused_token_create_leaves_no_token_file") {
  temp_dir d;
  fake_auth_cluster fake;
  fake.fail = error{errc::already_exists, "principal bot exists"};
  auto path = d.path + "/bot.token";
  auto r = run(fake, {"auth", "token", "create", "bot", "--role", "r", "--out", path});
  CHECK(r.code == exit_precondition);
  CHECK(!std::filesystem::exists(path));
}

TEST_CASE("token_create_checks_names_roles_and_expires_before_sending") {
  fake_auth_cluster fake;
  CHECK(run(fake, {"auth", "token", "create", "bot"}).code == exit_bad_input);
  CHECK(run(fake, {"auth", "token", "create", "Bad Name", "--role", "r"}).code ==
        exit_bad_input);
  CHECK(run(fake, {"auth", "token", "create", "bot", "--role", "r/x"}).code ==
        exit_bad_input);
  CHECK(run(fake, {"auth", "token", "create", "bot", "--role", "r", "--role", "r"})
            .code == exit_bad_input);
  auto e =
      run(fake, {"auth", "token", "create", "bot", "--role", "r", "--expires", "1y"});
  CHECK(e.code == exit_bad_input);
  CHECK(mentions(e.err, "--expires"));
  CHECK(fake.writes.empty());
}

TEST_CASE("token_list_revoke_and_set_roles_send_what_was_asked") {
  fake_auth_cluster fake;
  auth::principal p;
  p.name = "bob";
  p.roles = {"reader"};
  p.disabled = true;
  fake.principals = {p};
  auto l = run(fake, {"--json", "auth", "token", "list", "b"});
  REQUIRE(l.code == exit_ok);
  CHECK(fake.listed_prefixes == std::vector<std::string>{"b"});
  auto j = one_json(l.out);
  CHECK(j["tokens"][0]["principal"] == "bob");
  CHECK(j["tokens"][0]["disabled"] == true);
  CHECK(j["tokens"][0]["roles"] == nlohmann::json::array({"reader"}));
  CHECK(!j["tokens"][0].contains("token_hash"));
  auto text = run(fake, {"auth", "token", "list"});
  CHECK(mentions(text.out, "revoked"));

  REQUIRE(run(fake, {"auth", "token", "revoke", "bob"}).code == exit_ok);
  CHECK(only_write<revoke_token>(fake).principal == "bob");
  fake.writes.clear();
  REQUIRE(run(fake, {"auth", "token", "set-roles", "bob", "--role", "a", "--role", "b"})
              .code == exit_ok);
  CHECK(only_write<set_token_roles>(fake).roles == std::vector<std::string>{"a", "b"});
}

// -- auth role ----------------------------------------------------------------------

TEST_CASE("role_create_parses_each_allow_into_a_grant") {
  fake_auth_cluster fake;
  auto r = run(fake, {"auth", "role", "create", "pay-reader", "--allow",
                      "acme/pay:read", "--allow", "acme/*/prod:read,release"});
  REQUIRE(r.code == exit_ok);
  const auto& cmd = only_write<put_role>(fake);
  CHECK(cmd.role.name == "pay-reader");
  REQUIRE(cmd.role.grants.size() == 2);
  CHECK(cmd.role.grants[0] == auth::grant{"acme/pay", auth::read});
  CHECK(cmd.role.grants[1] == auth::grant{"acme/*/prod", auth::read | auth::release});
  CHECK(!cmd.replace);
  fake.writes.clear();
  REQUIRE(run(fake, {"auth", "role", "create", "x", "--allow", "a:read", "--replace"})
              .code == exit_ok);
  CHECK(only_write<put_role>(fake).replace);
}

TEST_CASE("role_create_refuses_bad_patterns_and_permissions_before_sending") {
  fake_auth_cluster fake;
  for (const char* bad : {"acme/pay", "acme/../x:read", "acme//x:read", "acme/**:read",
                          "acme:fly", "acme:cluster-admin", ":read"}) {
    CAPTURE(bad);
    auto r = run(fake, {"auth", "role", "create", "r", "--allow", bad});
    CHECK(r.code == exit_bad_input);
    CHECK(mentions(r.err, "--allow"));
  }
  CHECK(run(fake, {"auth", "role", "create", "r"}).code == exit_bad_input);
  CHECK(fake.writes.empty());
}

TEST_CASE("role_list_and_delete") {
  fake_auth_cluster fake;
  fake.roles = {{"pay-reader", {{"acme/pay", auth::read}}}};
  auto l = run(fake, {"--json", "auth", "role", "list"});
  REQUIRE(l.code == exit_ok);
  auto j = one_json(l.out);
  CHECK(j["roles"][0]["role"] == "pay-reader");
  CHECK(j["roles"][0]["grants"][0]["pattern"] == "acme/pay");
  CHECK(j["roles"][0]["grants"][0]["permissions"] == "read");
  REQUIRE(run(fake, {"auth", "role", "delete", "pay-reader"}).code == exit_ok);
  CHECK(only_write<delete_role>(fake).name == "pay-reader");
}

// -- auth tenant / whoami / bootstrap-token -----------------------------------------

TEST_CASE("tenant_set_sends_quotas_and_rate") {
  fake_auth_cluster fake;
  auto r = run(fake, {"--json", "auth", "tenant", "set", "acme", "--max-configs", "10",
                      "--max-versions", "100", "--max-bytes", "65536", "--rate", "50"});
  REQUIRE(r.code == exit_ok);
  const auto& t = only_write<set_tenant>(fake);
  CHECK(t.tenant == "acme");
  CHECK(t.max_configs == 10);
  CHECK(t.max_versions == 100);
  CHECK(t.max_bytes == 65536);
  CHECK(t.rate == 50);
  CHECK(one_json(r.out)["rate"] == 50);
  for (const char* bad : {"acme/pay", "*", "", "a..b/c"}) {
    CAPTURE(bad);
    CHECK(run(fake, {"auth", "tenant", "set", bad, "--rate", "1"}).code ==
          exit_bad_input);
  }
  CHECK(run(fake, {"auth", "tenant", "set", "acme", "--rate", "-1"}).code ==
        exit_bad_input);
  CHECK(fake.writes.size() == 1);
}

TEST_CASE("whoami_json_names_the_principal_and_its_grants") {
  fake_auth_cluster fake;
  auth::principal p;
  p.name = "alice";
  p.roles = {"pay-reader"};
  fake.principals = {p};
  fake.roles = {{"pay-reader", {{"acme/pay", auth::read}}}};
  auto r = run(fake, {"--json", "auth", "whoami"});
  REQUIRE(r.code == exit_ok);
  auto j = one_json(r.out);
  CHECK(j["principal"] == "alice");
  CHECK(j["expires_at"] == nullptr);
  CHECK(j["roles"][0]["grants"][0]["allow"] == "acme/pay:read");
}

TEST_CASE("bootstrap_token_is_offline_and_prints_a_token_and_its_hash") {
  fake_auth_cluster fake;
  auto p = parse({"--json", "auth", "bootstrap-token"});
  REQUIRE(p.inv);
  CHECK(!needs_cluster(p.inv->kind));
  std::ostringstream out, err;
  REQUIRE(execute(*p.inv, fake, out, err) == exit_ok);
  auto j = one_json(out.str());
  auto token = j["token"].get<std::string>();
  CHECK(auth::validate_token_text(token).ok());
  CHECK(j["token_hash"] == auth::token_hash(token));
  CHECK(fake.writes.empty());
}

TEST_CASE("bootstrap_token_out_writes_a_private_file") {
  temp_dir d;
  fake_auth_cluster fake;
  auto path = d.path + "/admin.token";
  auto r = run(fake, {"--json", "auth", "bootstrap-token", "--out", path});
  REQUIRE(r.code == exit_ok);
  CHECK(mode_of(path) == 0600);
  auto token = read_token_file("--out", path);
  REQUIRE(token.ok());
  auto j = one_json(r.out);
  CHECK(j["token_hash"] == auth::token_hash(*token));
  CHECK(!j.contains("token"));
  CHECK(!mentions(r.out, *token));
  auto again = run(fake, {"auth", "bootstrap-token", "--out", path});
  CHECK(again.code == exit_precondition);
  CHECK(*read_token_file("--out", path) == *token);
}
