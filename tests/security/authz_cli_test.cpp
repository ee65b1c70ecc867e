// Security tier: who may do what, through the `conflux` CLI against real
// conflux-node processes on 127.0.0.1 (docs/security.md, "Authorization").
// Each case starts its own cluster whose first admin token the CLI made
// (`conflux auth bootstrap-token --out`), makes principals and roles with
// `conflux auth`, and checks what every node answers each of them: no token,
// a wrong, an expired or a revoked one are unauthenticated (exit 7); a
// principal lacking a permission is permission_denied (exit 6); a tenant's
// quota and rate are resource_exhausted (exit 5).

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"
#include "tests/security/attacks.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace conflux::itest {
namespace {

const std::string acme_key = "acme/pay/prod/db.json";
const std::string beta_key = "beta/pay/prod/db.json";

/// A private directory for token files, removed at the end.
class token_dir {
public:
  token_dir() {
    auto base = std::filesystem::temp_directory_path() / "conflux-authz-XXXXXX";
    path_ = base.string();
    if (::mkdtemp(path_.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + path_);
  }
  ~token_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  token_dir(const token_dir&) = delete;
  token_dir& operator=(const token_dir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

/// The first admin token, made by the CLI before any node starts; the hash
/// it prints goes to every node's --bootstrap-token-hash.
struct bootstrap {
  std::string token_file;
  std::string hash;
};

bootstrap make_bootstrap_token(const std::string& path) {
  auto r = run_cli({"auth", "bootstrap-token", "--out", path, "--json"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  return {path, j.at("token_hash").get<std::string>()};
}

/// The fixture's nodes (bootstrapped with the test process's admin token,
/// tests/integration/cluster.hpp), but with --bootstrap-token-hash *hash
/// instead when *hash is set: read at every spawn, so a test can restart
/// them with another one.
cluster_options auth_options(std::size_t nodes, std::shared_ptr<std::string> hash) {
  cluster_options o;
  o.nodes = nodes;
  o.node_args = [hash](const cluster& c, std::size_t i) {
    auto args = c.default_node_args(i);
    if (!hash->empty())
      for (std::size_t k = 0; k + 1 < args.size(); ++k)
        if (args[k] == "--bootstrap-token-hash")
          args[k + 1] = *hash;
    return args;
  };
  return o;
}

/// A started cluster, and the CLI as any principal.
class authz_cluster {
public:
  explicit authz_cluster(std::size_t nodes = 1)
      : hash_(std::make_shared<std::string>()), c_(auth_options(nodes, hash_)) {
    REQUIRE_MESSAGE(eventually(
                        [&] {
                          return admin({"auth", "whoami"}).exit_code == 0;
                        },
                        15s, 100ms),
                    admin({"auth", "whoami"}).describe());
  }

  started_cluster& nodes() { return c_; }
  std::string admin_token() const { return admin_token_file(); }
  /// The hash nodes get at their next spawn.
  void set_bootstrap_hash(const std::string& h) { *hash_ = h; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  /// The CLI with the token in `token_file` ("" = no token at all: an empty
  /// CONFLUX_TOKEN_FILE, which the CLI takes as unset).
  cli_result as(const std::string& token_file, std::vector<std::string> args,
                ms limit = 30s) {
    std::vector<std::string> full{"--endpoints", c_.endpoints_csv(), "--timeout",
                                  "10000"};
    if (!token_file.empty())
      full.insert(full.end(), {"--token-file", token_file});
    full.insert(full.end(), args.begin(), args.end());
    if (!token_file.empty())
      return run_cli(full, limit);
    ::setenv("CONFLUX_TOKEN_FILE", "", 1);
    auto r = run_cli(full, limit);
    ::setenv("CONFLUX_TOKEN_FILE", admin_token_file().c_str(), 1);
    return r;
  }
  cli_result admin(std::vector<std::string> args) {
    return as(admin_token_file(), std::move(args));
  }
  /// admin(args), which must succeed.
  void admin_ok(std::vector<std::string> args) {
    auto r = admin(args);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
  }

  /// A role of one grant per `allow`.
  void role(const std::string& name, std::vector<std::string> allows) {
    std::vector<std::string> args{"auth", "role", "create", name};
    for (const auto& a : allows)
      args.insert(args.end(), {"--allow", a});
    admin_ok(args);
  }
  /// A principal with `roles`; its token file.
  std::string principal(const std::string& name, std::vector<std::string> roles,
                        const std::string& expires = "") {
    auto path = dir_.file(name + ".token");
    std::vector<std::string> args{"auth", "token", "create", name, "--out", path};
    for (const auto& r : roles)
      args.insert(args.end(), {"--role", r});
    if (!expires.empty())
      args.insert(args.end(), {"--expires", expires});
    admin_ok(args);
    return path;
  }

  /// A released config at `key` (version 1 and 2, rule *:1).
  void seed(const std::string& key) {
    admin_ok({"config", "create", key, "--format", "json", "--content", R"({"a": 1})"});
    admin_ok({"version", "add", key, "--content", R"({"a": 2})"});
    admin_ok({"release", "set", key, "--rule", "*:1"});
  }

private:
  token_dir dir_;
  std::shared_ptr<std::string> hash_;
  started_cluster c_;
};

/// Every client RPC the CLI makes, on `key` (a released config with versions
/// 1 and 2) and member `peer`: writes, reads, lists, membership, the auth
/// tables, and a watch (bounded: --count 1 with a short deadline).
std::vector<std::vector<std::string>> every_rpc(const std::string& key,
                                                const std::string& peer) {
  const std::string prefix = key.substr(0, key.rfind('/') + 1);
  return {
      {"config", "create", prefix + "new.json", "--format", "json", "--content", "{}"},
      {"version", "add", key, "--content", R"({"a": 3})"},
      {"release", "set", key, "--rule", "*:2"},
      {"rollback", key, "1"},
      {"version", "delete", key, "2"},
      {"config", "delete", key, "--force"},
      {"config", "show", key},
      {"config", "list", ""},
      {"config", "list", prefix},
      {"version", "list", key},
      {"version", "show", key, "1"},
      {"get", key},
      {"resolve", key, "--label", "canary=true"},
      {"watch", key, "--from-revision", "1", "--count", "1"},
      {"watch", prefix, "--from-revision", "1", "--count", "1"},
      {"cluster", "status"},
      {"cluster", "add", "9", peer},
      {"cluster", "remove", "9"},
      {"cluster", "transfer-leader", "1"},
      {"auth", "whoami"},
      {"auth", "token", "list"},
      {"auth", "role", "list"},
      {"auth", "tenant", "list"},
      {"auth", "token", "revoke", "admin"},
      {"config", "create", prefix + "secret.json", "--format", "json", "--secret",
       "--content", "{}"},
      {"kek", "status"},
      {"kek", "rotate"},
  };
}

std::string joined(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args)
    out += (out.empty() ? "" : " ") + a;
  return out;
}

/// Each of `rpcs` as `token_file` ends with `exit` (and says so on stderr).
void check_every_rpc_exits(authz_cluster& a, const std::string& token_file,
                           const std::vector<std::vector<std::string>>& rpcs,
                           int exit) {
  for (const auto& args : rpcs) {
    auto r = a.as(token_file, args, 20s);
    INFO(joined(args) << ": " << r.describe());
    CHECK(r.exit_code == exit);
    CHECK(r.out.empty());
  }
}

/// The data as the admin sees it (config list --json), for "changed nothing".
std::string everything(authz_cluster& a) {
  auto r = a.admin({"config", "list", "", "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  j.erase("revision");
  return j.dump();
}

std::string read_token(const std::string& path) {
  std::ifstream in{path};
  std::string token;
  std::getline(in, token);
  return token;
}

std::string write_token(const std::string& path, const std::string& token) {
  std::ofstream{path} << token << "\n";
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  return path;
}

} // namespace

TEST_CASE("every_client_rpc_and_a_watch_are_refused_without_a_token") {
  authz_cluster a;
  a.seed(acme_key);
  const auto before = everything(a);
  check_every_rpc_exits(a, "", every_rpc(acme_key, "127.0.0.1:9"), 7);
  CHECK(everything(a) == before);
}

TEST_CASE("every_client_rpc_and_a_watch_are_refused_with_a_wrong_token") {
  authz_cluster a;
  a.seed(acme_key);
  const auto before = everything(a);
  auto wrong = write_token(a.file("wrong.token"), "cfx_" + std::string(64, '7'));
  check_every_rpc_exits(a, wrong, every_rpc(acme_key, "127.0.0.1:9"), 7);
  CHECK(everything(a) == before);
}

TEST_CASE("an_expired_token_is_refused_on_every_node") {
  authz_cluster a{3};
  a.role("reader", {"acme:read"});
  a.seed(acme_key);
  auto brief = a.principal("brief", {"reader"}, "3s");
  auto r = a.as(brief, {"get", acme_key});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  // Cluster time runs with the leader's clock: past 3 s (and the slew) every
  // node refuses it; bounded at 20 s.
  CHECK(eventually(
      [&] {
        return a.as(brief, {"auth", "whoami"}).exit_code == 7;
      },
      20s, 250ms));
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    auto on_node = run_cli({"--endpoints", a.nodes().endpoint(i), "--token-file", brief,
                            "get", acme_key, "--consistency", "serializable"});
    INFO("node " << a.nodes().id(i) << ": " << on_node.describe());
    CHECK(on_node.exit_code == 7);
  }
}

TEST_CASE("a_revoked_token_is_refused_for_reads_writes_and_watches") {
  authz_cluster a;
  a.role("rw", {"acme:read,write"});
  a.seed(acme_key);
  auto bob = a.principal("bob", {"rw"});
  REQUIRE(a.as(bob, {"get", acme_key}).exit_code == 0);
  a.admin_ok({"auth", "token", "revoke", "bob"});
  check_every_rpc_exits(a, bob,
                        {{"get", acme_key},
                         {"version", "add", acme_key, "--content", "{}"},
                         {"watch", acme_key, "--from-revision", "1", "--count", "1"},
                         {"auth", "whoami"}},
                        7);
  // A new token for the name works; the revoked one still does not.
  auto bob2 = a.file("bob2.token");
  a.admin_ok({"auth", "token", "create", "bob", "--role", "rw", "--out", bob2});
  CHECK(a.as(bob2, {"get", acme_key}).exit_code == 0);
  CHECK(a.as(bob, {"get", acme_key}).exit_code == 7);
}

TEST_CASE("a_spoofed_creator_is_ignored_the_version_records_the_principal") {
  authz_cluster a;
  a.role("writer", {"acme:read,write"});
  auto carol = a.principal("carol", {"writer"});
  auto opts = a.nodes().client_options(10s);
  opts.token = read_token(carol);
  actors::client cl{runtime(), opts};
  auto cmd = make_create_config(acme_key, R"({"a": 1})");
  std::get<create_config>(cmd).creator = "admin";
  REQUIRE_OK(cl.write(cmd));
  create_version next;
  next.key = acme_key;
  next.content = R"({"a": 2})";
  next.creator = "mallory";
  REQUIRE_OK(cl.write(next));
  auto vs = a.admin({"version", "list", acme_key, "--json"});
  REQUIRE(vs.exit_code == 0);
  auto j = nlohmann::json::parse(vs.out);
  REQUIRE(j["versions"].size() == 2);
  for (const auto& v : j["versions"])
    CHECK(v["creator"] == "carol");
}

TEST_CASE("tenant_a_token_on_tenant_b_keys_is_refused_for_every_operation") {
  authz_cluster a;
  a.role("acme-all", {"acme:read,write,release,delete"});
  a.seed(acme_key);
  a.seed(beta_key);
  auto alice = a.principal("alice", {"acme-all"});
  const auto before = everything(a);
  check_every_rpc_exits(a, alice,
                        {
                            {"config", "create", "beta/pay/prod/new.json", "--format",
                             "json", "--content", "{}"},
                            {"config", "create", "beta/pay/prod/s.json", "--format",
                             "json", "--secret", "--content", "{}"},
                            {"kek", "status"},
                            {"kek", "rotate"},
                            {"version", "add", beta_key, "--content", "{}"},
                            {"release", "set", beta_key, "--rule", "*:2"},
                            {"rollback", beta_key, "2"},
                            {"version", "delete", beta_key, "2"},
                            {"config", "delete", beta_key, "--force"},
                            {"config", "show", beta_key},
                            {"version", "list", beta_key},
                            {"version", "show", beta_key, "1"},
                            {"get", beta_key},
                            {"resolve", beta_key},
                            {"watch", beta_key, "--from-revision", "1", "--count", "1"},
                            {"watch", "beta/", "--from-revision", "1", "--count", "1"},
                        },
                        6);
  CHECK(everything(a) == before);
  // Lists are filtered: alice sees acme's config and nothing of beta.
  for (const char* prefix : {"", "beta/", "acme/"}) {
    auto l = a.as(alice, {"config", "list", prefix, "--json"});
    INFO(prefix << ": " << l.describe());
    REQUIRE(l.exit_code == 0);
    auto j = nlohmann::json::parse(l.out);
    std::vector<std::string> keys;
    for (const auto& cfg : j["configs"])
      keys.push_back(cfg["key"]);
    CHECK(keys == (std::string{prefix} == "beta/"
                       ? std::vector<std::string>{}
                       : std::vector<std::string>{acme_key}));
  }
  // Her own tenant works, and her own prefix watch shows no beta event.
  CHECK(a.as(alice, {"version", "add", acme_key, "--content", "{}"}).exit_code == 0);
  auto w = a.as(alice, {"watch", "", "--from-revision", "1", "--count", "3", "--json"});
  INFO(w.describe());
  CHECK(w.out.find("beta/") == std::string::npos);
}

TEST_CASE("a_write_role_trying_to_release_or_roll_back_is_denied") {
  authz_cluster a;
  a.role("writer", {"acme:read,write"});
  a.seed(acme_key);
  auto w = a.principal("wendy", {"writer"});
  auto added = a.as(w, {"version", "add", acme_key, "--content", R"({"a": 9})"});
  INFO(added.describe());
  REQUIRE(added.exit_code == 0);
  const auto before = everything(a);
  auto rel = a.as(w, {"release", "set", acme_key, "--rule", "*:3"});
  INFO(rel.describe());
  CHECK(rel.exit_code == 6);
  CHECK(rel.err.find("release") != std::string::npos);
  CHECK(a.as(w, {"rollback", acme_key, "2"}).exit_code == 6);
  CHECK(everything(a) == before);
}

TEST_CASE("patterns_match_whole_segments_and_case_through_the_cli") {
  authz_cluster a;
  a.role("pay", {"acme/pay:read,write"});
  auto p = a.principal("payer", {"pay"});
  auto create = [&](const std::string& key) {
    return a.as(p, {"config", "create", key, "--format", "text", "--content", "x"})
        .exit_code;
  };
  CHECK(create("acme/pay/prod/a.txt") == 0);
  CHECK(create("acme/payroll/prod/a.txt") == 6);
  CHECK(create("acme/pa/prod/a.txt") == 6);
  CHECK(create("Acme/pay/prod/a.txt") == 6);
  CHECK(create("acme/Pay/prod/a.txt") == 6);
  CHECK(create("acmex/pay/prod/a.txt") == 6);
  // A star is one whole segment.
  a.role("prod", {"acme/*/prod:read"});
  auto q = a.principal("prodreader", {"prod"});
  a.admin_ok({"config", "create", "acme/shop/dev/b.txt", "--format", "text",
              "--content", "y"});
  a.admin_ok({"release", "set", "acme/shop/dev/b.txt", "--rule", "*:1"});
  a.admin_ok({"release", "set", "acme/pay/prod/a.txt", "--rule", "*:1"});
  CHECK(a.as(q, {"get", "acme/pay/prod/a.txt"}).exit_code == 0);
  CHECK(a.as(q, {"get", "acme/shop/dev/b.txt"}).exit_code == 6);
  // Patterns with "..", empty segments or "**" never reach the cluster.
  for (const char* bad :
       {"acme/../x:read", "acme//x:read", "acme/**:read", "../x:read"}) {
    auto r = a.admin({"auth", "role", "create", "bad", "--allow", bad});
    INFO(bad << ": " << r.describe());
    CHECK(r.exit_code == 2);
  }
}

TEST_CASE("another_principals_session_is_refused") {
  authz_cluster a;
  a.role("acme-w", {"acme:read,write"});
  auto alice = a.principal("alice", {"acme-w"});
  auto mallory = a.principal("mallory", {"acme-w"});
  // Alice writes through her exactly-once session (opened, then one write:
  // sequence 2 is next). Both connect with the same client certificate, so
  // only the principal tells them apart.
  auto opts = a.nodes().client_options(10s, a.nodes().first_leader());
  opts.token = read_token(alice);
  actors::client cl{runtime(), opts};
  REQUIRE_OK(cl.write(make_create_config(acme_key, "alice's")));
  const auto session = cl.session();
  REQUIRE(session != 0);
  const std::string forged_key = "acme/pay/prod/forged.txt";
  auto res =
      run_program(CONFLUX_ATTACK_BIN,
                  {"foreign-session-write", "--target",
                   a.nodes().endpoint(a.nodes().first_leader()), "--tls-dir",
                   client_tls_dir("itest"), "--leaf", "client", "--cluster", "itest",
                   "--session", std::to_string(session), "--sequence", "2", "--key",
                   forged_key, "--token", read_token(mallory), "--wait-ms", "5000"},
                  60s);
  INFO(res.describe());
  auto at = res.out.rfind("ran=");
  REQUIRE(at != std::string::npos);
  auto report =
      security::attack_report::parse(res.out.substr(at, res.out.find('\n', at) - at));
  REQUIRE(report.has_value());
  REQUIRE_MESSAGE(report->ran, report->error);
  CHECK(report->reply_code == static_cast<long>(errc::permission_denied));
  CHECK(report->granted == 0);
  CHECK(a.admin({"config", "show", forged_key}).exit_code == 3);
  // Alice's own next write on her session still applies.
  REQUIRE_OK(cl.write(make_create_version(acme_key, "alice's second")));
}

TEST_CASE("membership_changes_without_cluster_admin_are_denied") {
  authz_cluster a{3};
  a.role("everything-but-cluster", {"*:read,write,release,delete,read-secret,admin"});
  auto op = a.principal("operator", {"everything-but-cluster"});
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"cluster", "add", "4", "127.0.0.1:9"},
           {"cluster", "remove", "3"},
           {"cluster", "transfer-leader", "2"},
           {"auth", "token", "create", "x", "--role", "everything-but-cluster"},
           {"auth", "tenant", "set", "acme", "--rate", "1"}}) {
    auto r = a.as(op, args);
    INFO(joined(args) << ": " << r.describe());
    CHECK(r.exit_code == 6);
  }
  auto st = a.admin({"cluster", "status", "--json"});
  REQUIRE(st.exit_code == 0);
  CHECK(nlohmann::json::parse(st.out)["members"].size() == 3);
}

TEST_CASE("a_second_bootstrap_is_refused") {
  authz_cluster a{3};
  a.seed(acme_key);
  // Every node restarted with another bootstrap hash: the log was
  // bootstrapped once, so the new token gets nothing and the first one
  // still works.
  auto second = make_bootstrap_token(a.file("second.token"));
  a.set_bootstrap_hash(second.hash);
  auto& c = a.nodes();
  for (std::size_t i = 0; i < c.size(); ++i)
    c.terminate(i);
  for (std::size_t i = 0; i < c.size(); ++i)
    REQUIRE(c.restart(i));
  REQUIRE(c.wait_for_leader(15s).has_value());
  REQUIRE(eventually(
      [&] {
        return a.admin({"get", acme_key}).exit_code == 0;
      },
      15s, 200ms));
  auto r = a.as(second.token_file, {"auth", "whoami"});
  INFO(r.describe());
  CHECK(r.exit_code == 7);
  auto t = a.admin({"auth", "token", "list", "--json"});
  REQUIRE(t.exit_code == 0);
  CHECK(nlohmann::json::parse(t.out)["tokens"].size() == 1);
  // A client sending bootstrap_auth itself is refused: only a leader
  // proposes it.
  auto opts = c.client_options(10s);
  opts.token = read_token(a.admin_token());
  actors::client cl{runtime(), opts};
  bootstrap_auth forged;
  forged.principal = "mallory";
  forged.token_hash = second.hash;
  auto w = cl.write(forged);
  CHECK(code_of(w) != errc{});
  CHECK(a.as(second.token_file, {"auth", "whoami"}).exit_code == 7);
}

TEST_CASE("a_tenant_over_its_quota_is_refused_and_others_are_not") {
  authz_cluster a;
  a.role("acme-rw", {"acme:read,write,release,delete"});
  a.role("beta-rw", {"beta:read,write,release,delete"});
  auto alice = a.principal("alice", {"acme-rw"});
  auto bert = a.principal("bert", {"beta-rw"});
  a.admin_ok(
      {"auth", "tenant", "set", "acme", "--max-configs", "2", "--max-versions", "3"});
  auto create = [&](const std::string& who, const std::string& key) {
    return a.as(who, {"config", "create", key, "--format", "text", "--content", "x"});
  };
  REQUIRE(create(alice, "acme/a/prod/1.txt").exit_code == 0);
  REQUIRE(create(alice, "acme/a/prod/2.txt").exit_code == 0);
  auto over = create(alice, "acme/a/prod/3.txt");
  INFO(over.describe());
  CHECK(over.exit_code == 5);
  CHECK(a.as(alice, {"version", "add", "acme/a/prod/1.txt", "--content", "y"})
            .exit_code == 0);
  CHECK(a.as(alice, {"version", "add", "acme/a/prod/1.txt", "--content", "z"})
            .exit_code == 5);
  for (int i = 0; i < 4; ++i)
    CHECK(create(bert, "beta/a/prod/" + std::to_string(i) + ".txt").exit_code == 0);
  auto l = a.admin({"auth", "tenant", "list", "--json"});
  REQUIRE(l.exit_code == 0);
  INFO("tenant list: " << l.out);
  bool seen = false;
  // Parsed first: a range-for over a member of the temporary would dangle.
  auto listed = nlohmann::json::parse(l.out);
  for (const auto& t : listed["tenants"])
    if (t["tenant"] == "acme") {
      seen = true;
      CHECK(t["configs"] == 2);
      CHECK(t["versions"] == 3);
    }
  CHECK(seen);
}

TEST_CASE("a_principal_over_its_tenants_rate_is_refused_and_others_are_not") {
  authz_cluster a;
  a.role("acme-r", {"acme:read"});
  a.role("beta-r", {"beta:read"});
  a.seed(acme_key);
  a.seed(beta_key);
  auto alice = a.principal("alice", {"acme-r"});
  auto bert = a.principal("bert", {"beta-r"});
  a.admin_ok({"auth", "tenant", "set", "acme", "--rate", "2"});
  auto client_of = [&](const std::string& file) {
    auto opts = a.nodes().client_options(5s);
    opts.token = read_token(file);
    return std::make_unique<actors::client>(runtime(), opts);
  };
  auto alice_client = client_of(alice);
  auto bert_client = client_of(bert);
  std::size_t refused = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = alice_client->get_config(acme_key, actors::consistency::serializable);
    if (!r.ok()) {
      CHECK(r.err().code == errc::resource_exhausted);
      ++refused;
    }
  }
  CHECK(refused > 0);
  for (int i = 0; i < 40; ++i)
    CHECK_OK(bert_client->get_config(beta_key, actors::consistency::serializable));
}

} // namespace conflux::itest
