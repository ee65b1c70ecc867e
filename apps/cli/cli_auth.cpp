// `conflux auth token | role | tenant | whoami | bootstrap-token`: who may do
// what (docs/security.md, "Authorization"). Tokens are made here and shown
// once; the cluster receives only their SHA-256.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"
#include "apps/cli/cli_token.hpp"

#include <cstdio>
#include <memory>

namespace conflux::cli {

namespace {

// -- rendering ------------------------------------------------------------------

nlohmann::json names_json(const std::vector<std::string>& names) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& n : names)
    arr.push_back(n);
  return arr;
}

std::string join(const std::vector<std::string>& names, const char* none = "-") {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ",") + n;
  return out.empty() ? none : out;
}

nlohmann::json time_json(std::int64_t ms) {
  return ms == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_time(ms));
}

std::string expiry_text(std::int64_t ms) {
  return ms == 0 ? std::string{"never"} : format_time(ms);
}

nlohmann::json grants_json(const std::vector<auth::grant>& grants) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& g : grants)
    arr.push_back({{"pattern", g.pattern},
                   {"permissions", auth::permissions_to_string(g.perms)},
                   {"allow", auth::to_string(g)}});
  return arr;
}

nlohmann::json principal_json(const auth::principal& p) {
  return {{"principal", p.name},
          {"roles", names_json(p.roles)},
          {"expires_at", time_json(p.expires_at_ms)},
          {"expires_at_ms", p.expires_at_ms},
          {"disabled", p.disabled},
          {"created_at", time_json(p.created_at_ms)},
          {"created_revision", p.created_revision},
          {"created_by", p.created_by}};
}

nlohmann::json role_json(const auth::role& r) {
  return {{"role", r.name}, {"grants", grants_json(r.grants)}};
}

nlohmann::json tenant_json(const auth::tenant& t) {
  return {{"tenant", t.name},
          {"max_configs", t.max_configs},
          {"max_versions", t.max_versions},
          {"max_bytes", t.max_bytes},
          {"rate", t.rate},
          {"configs", t.configs},
          {"versions", t.versions},
          {"bytes", t.bytes}};
}

/// "10" or "-" (0 = no quota).
std::string quota(std::uint64_t n) {
  return n == 0 ? std::string{"-"} : std::to_string(n);
}

/// "3/10" (used / quota) or "3/-".
std::string usage(std::uint64_t used, std::uint64_t max) {
  return std::to_string(used) + "/" + quota(max);
}

// -- tokens ---------------------------------------------------------------------

/// Gets the token to its owner: into --out (made before anything is sent, so
/// a path that cannot be written costs nothing), or later on stdout.
int run_token_create(command_context& c) {
  auto token = new_token();
  if (!token.ok())
    return c.fail(token.err());
  const auto& out_file = c.inv.out_file;
  if (!out_file.empty())
    if (auto st = write_token_file(out_file, *token); !st.ok())
      return c.fail(st.err());
  create_token cmd;
  cmd.principal = c.inv.auth_name;
  cmd.token_hash = auth::token_hash(*token);
  cmd.roles = c.inv.roles;
  cmd.ttl_ms = c.inv.ttl_ms;
  auto r = c.api.write(std::move(cmd));
  std::optional<error> failed;
  if (!r.ok())
    failed = r.err();
  else
    failed = r->err;
  if (failed) {
    // The token reaches nobody: remove the file it went to.
    if (!out_file.empty())
      std::remove(out_file.c_str());
    return c.fail(*failed);
  }
  // The cluster stamped the expiry from its own time: read it back.
  std::int64_t expires_at_ms = 0;
  bool expiry_known = c.inv.ttl_ms == 0;
  if (!expiry_known) {
    auto listed = c.api.list_tokens(c.inv.auth_name);
    if (listed.ok())
      for (const auto& p : *listed)
        if (p.name == c.inv.auth_name) {
          expires_at_ms = p.expires_at_ms;
          expiry_known = true;
        }
    if (!expiry_known)
      c.warn("the token was created; its expiry could not be read back (`conflux auth "
             "token list " +
             c.inv.auth_name + "` shows it)");
  }
  const auto revision = r->revision;
  nlohmann::json j;
  j["principal"] = c.inv.auth_name;
  j["roles"] = names_json(c.inv.roles);
  j["expires_at"] = expiry_known ? time_json(expires_at_ms) : nlohmann::json(nullptr);
  j["revision"] = revision;
  std::string text = "created principal " + c.inv.auth_name + " (roles " +
                     join(c.inv.roles) + ", expires " +
                     (expiry_known ? expiry_text(expires_at_ms) : std::string{"?"}) +
                     ") at revision " + std::to_string(revision) + "\n";
  if (!out_file.empty()) {
    j["token_file"] = out_file;
    text += "its token is in " + out_file +
            " (mode 0600); it cannot be shown again: keep that file safe\n";
  } else {
    j["token"] = *token;
    text +=
        *token + "\n" +
        "This token cannot be shown again: store it now in a file only its user "
        "can read (mode 0600) and pass it with --token-file or CONFLUX_TOKEN_FILE\n";
  }
  c.report(j, text);
  return exit_ok;
}

int run_token_list(command_context& c) {
  return c.then(c.api.list_tokens(c.inv.auth_name),
                [&](const std::vector<auth::principal>& ps) {
                  if (c.json()) {
                    nlohmann::json arr = nlohmann::json::array();
                    for (const auto& p : ps)
                      arr.push_back(principal_json(p));
                    return c.emit({{"tokens", arr}});
                  }
                  if (ps.empty()) {
                    c.out << "no tokens\n";
                    return;
                  }
                  std::vector<std::vector<std::string>> rows{
                      {"PRINCIPAL", "ROLES", "EXPIRES", "STATE", "CREATED", "BY"}};
                  for (const auto& p : ps)
                    rows.push_back({p.name, join(p.roles), expiry_text(p.expires_at_ms),
                                    p.disabled ? "revoked" : "active",
                                    format_time(p.created_at_ms),
                                    p.created_by.empty() ? "-" : p.created_by});
                  c.out << render_table(rows);
                });
}

int run_token_revoke(command_context& c) {
  revoke_token cmd;
  cmd.principal = c.inv.auth_name;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    c.report(
        {{"principal", c.inv.auth_name}, {"revoked", true}, {"revision", r.revision}},
        "revoked the token of " + c.inv.auth_name + " at revision " +
            std::to_string(r.revision) +
            ": every node refuses it from that revision on, its open watches are "
            "closed\n");
  });
}

int run_token_set_roles(command_context& c) {
  set_token_roles cmd;
  cmd.principal = c.inv.auth_name;
  cmd.roles = c.inv.roles;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    c.report({{"principal", c.inv.auth_name},
              {"roles", names_json(c.inv.roles)},
              {"revision", r.revision}},
             "principal " + c.inv.auth_name + " now has roles " + join(c.inv.roles) +
                 " (revision " + std::to_string(r.revision) + ")\n");
  });
}

// -- roles ----------------------------------------------------------------------

int run_role_create(command_context& c) {
  put_role cmd;
  cmd.role.name = c.inv.auth_name;
  cmd.role.grants = c.inv.grants;
  cmd.replace = c.inv.replace;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    std::string text = (c.inv.replace ? "set role " : "created role ") +
                       c.inv.auth_name + " at revision " + std::to_string(r.revision) +
                       ":\n";
    for (const auto& g : c.inv.grants)
      text += "  " + auth::to_string(g) + "\n";
    c.report({{"role", c.inv.auth_name},
              {"grants", grants_json(c.inv.grants)},
              {"revision", r.revision}},
             text);
  });
}

int run_role_list(command_context& c) {
  return c.then(c.api.list_roles(), [&](const std::vector<auth::role>& roles) {
    if (c.json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& r : roles)
        arr.push_back(role_json(r));
      return c.emit({{"roles", arr}});
    }
    if (roles.empty()) {
      c.out << "no roles\n";
      return;
    }
    std::vector<std::vector<std::string>> rows{{"ROLE", "PATTERN", "PERMISSIONS"}};
    for (const auto& r : roles) {
      if (r.grants.empty())
        rows.push_back({r.name, "-", "-"});
      for (std::size_t i = 0; i < r.grants.size(); ++i)
        rows.push_back({i == 0 ? r.name : "", r.grants[i].pattern,
                        auth::permissions_to_string(r.grants[i].perms)});
    }
    c.out << render_table(rows);
  });
}

int run_role_delete(command_context& c) {
  delete_role cmd;
  cmd.name = c.inv.auth_name;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    c.report({{"role", c.inv.auth_name}, {"deleted", true}, {"revision", r.revision}},
             "deleted role " + c.inv.auth_name + " at revision " +
                 std::to_string(r.revision) + "\n");
  });
}

// -- tenants --------------------------------------------------------------------

int run_tenant_set(command_context& c) {
  const auto& inv = c.inv;
  set_tenant cmd;
  cmd.tenant = inv.auth_name;
  cmd.max_configs = inv.max_configs;
  cmd.max_versions = inv.max_versions;
  cmd.max_bytes = inv.max_bytes;
  cmd.rate = inv.rate;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    c.report({{"tenant", inv.auth_name},
              {"max_configs", inv.max_configs},
              {"max_versions", inv.max_versions},
              {"max_bytes", inv.max_bytes},
              {"rate", inv.rate},
              {"revision", r.revision}},
             "tenant " + inv.auth_name + ": max configs " + quota(inv.max_configs) +
                 ", max versions " + quota(inv.max_versions) + ", max bytes " +
                 quota(inv.max_bytes) + ", rate " +
                 (inv.rate == 0 ? std::string{"node default"}
                                : std::to_string(inv.rate) + "/s") +
                 " per principal per node (revision " + std::to_string(r.revision) +
                 "; - = no quota)\n");
  });
}

int run_tenant_list(command_context& c) {
  return c.then(c.api.list_tenants(), [&](const std::vector<auth::tenant>& ts) {
    if (c.json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& t : ts)
        arr.push_back(tenant_json(t));
      return c.emit({{"tenants", arr}});
    }
    if (ts.empty()) {
      c.out << "no tenants\n";
      return;
    }
    std::vector<std::vector<std::string>> rows{
        {"TENANT", "CONFIGS", "VERSIONS", "BYTES", "RATE"}};
    for (const auto& t : ts)
      rows.push_back({t.name, usage(t.configs, t.max_configs),
                      usage(t.versions, t.max_versions), usage(t.bytes, t.max_bytes),
                      t.rate == 0 ? "default" : std::to_string(t.rate) + "/s"});
    c.out << render_table(rows) << "(used/quota; - = no quota)\n";
  });
}

// -- who am I ---------------------------------------------------------------------

int run_whoami(command_context& c) {
  return c.then(c.api.whoami(), [&](const auth::access& a) {
    if (c.json()) {
      nlohmann::json roles = nlohmann::json::array();
      for (const auto& r : a.roles)
        roles.push_back(role_json(r));
      auto j = principal_json(a.who);
      j["roles"] = roles;
      return c.emit(j);
    }
    c.out << "principal: " << a.who.name << '\n'
          << "expires:   " << expiry_text(a.who.expires_at_ms) << '\n'
          << "roles:     " << join(a.who.roles) << '\n';
    for (const auto& r : a.roles)
      for (const auto& g : r.grants)
        c.out << "  " << r.name << ": " << auth::to_string(g) << '\n';
  });
}

int run_bootstrap_token(command_context& c) {
  auto token = new_token();
  if (!token.ok())
    return c.fail(token.err());
  auto hash = auth::token_hash(*token);
  const auto& out_file = c.inv.out_file;
  if (!out_file.empty())
    if (auto st = write_token_file(out_file, *token); !st.ok())
      return c.fail(st.err());
  nlohmann::json j{{"token_hash", hash}};
  std::string text;
  if (out_file.empty()) {
    j["token"] = *token;
    text = "token:      " + *token + "\n";
  } else {
    j["token_file"] = out_file;
    text = "token file: " + out_file + " (mode 0600)\n";
  }
  text += "token hash: " + hash + "\n" +
          "Start the first nodes of a new cluster with --bootstrap-token-hash " + hash +
          " (config key bootstrap_token_hash); the first leader makes the principal "
          "admin with role cluster-admin for this token. It is shown only now: keep "
          "it where only you can read it (mode 0600) and use it with --token-file.\n";
  c.report(j, text);
  return exit_ok;
}

// -- parsing ----------------------------------------------------------------------

/// NAME of a principal or role (auth::validate_name).
std::optional<parse_outcome> take_name(parse_context& ctx, const char* what,
                                       const std::string& name) {
  if (auto st = auth::validate_name(what, name); !st.ok())
    return ctx.fail(st.err());
  ctx.inv.auth_name = name;
  return std::nullopt;
}

/// Every --role, each a valid role name, none twice.
std::optional<parse_outcome> take_roles(parse_context& ctx,
                                        const std::vector<std::string>& roles) {
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (auto st = auth::validate_name("--role", roles[i]); !st.ok())
      return ctx.fail(st.err());
    for (std::size_t k = 0; k < i; ++k)
      if (roles[k] == roles[i])
        return ctx.fail("--role " + roles[i] + " is given twice; give each role once");
  }
  ctx.inv.roles = roles;
  return std::nullopt;
}

struct auth_args {
  std::string name;
  std::vector<std::string> roles;
  std::string expires;
  std::vector<std::string> allow;
  bool replace = false;
  std::string out;
  std::uint64_t max_configs = 0;
  std::uint64_t max_versions = 0;
  std::uint64_t max_bytes = 0;
  std::uint64_t rate = 0;
};

void add_roles_option(CLI::App* cmd, auth_args& a, const char* help) {
  cmd->add_option("--role", a.roles, help)
      ->required()
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_out_option(CLI::App* cmd, auth_args& a, const char* help) {
  cmd->add_option("--out", a.out, help)->type_name("FILE");
}

void register_token_commands(command_registry& r, CLI::App* auth) {
  auto* group =
      r.group(auth, "token", "create, list, revoke tokens and set their roles");

  auto a = std::make_shared<auth_args>();
  auto* create = r.command(
      group, "create",
      "make a principal and its token (shown once; the cluster stores only its hash)",
      command_kind::auth_token_create, run_token_create,
      [a](parse_context& ctx) -> std::optional<parse_outcome> {
        if (auto o = take_name(ctx, "principal", a->name))
          return o;
        if (auto o = take_roles(ctx, a->roles))
          return o;
        if (ctx.given("--expires")) {
          auto ms = parse_duration("--expires", a->expires);
          if (!ms.ok())
            return ctx.fail(ms.err());
          ctx.inv.ttl_ms = *ms;
        }
        ctx.inv.out_file = a->out;
        return std::nullopt;
      });
  create->add_option("NAME", a->name, "the principal's name ([a-z0-9._-], up to 64)")
      ->required();
  add_roles_option(create, *a, "a role it gets; repeat for more (--role r1 --role r2)");
  create
      ->add_option("--expires", a->expires,
                   "the token stops working after this long (90m, 12h, 30d; "
                   "default: never)")
      ->type_name("DURATION");
  add_out_option(create, *a,
                 "write the token to this new file (mode 0600) instead of printing it");

  auto l = std::make_shared<std::string>();
  auto* list =
      r.command(group, "list", "list principals: roles, expiry, revoked or not",
                command_kind::auth_token_list, run_token_list,
                [l](parse_context& ctx) -> std::optional<parse_outcome> {
                  ctx.inv.auth_name = *l;
                  return std::nullopt;
                });
  list->add_option("PREFIX", *l, "only principals whose name starts with PREFIX");

  auto v = std::make_shared<auth_args>();
  auto* revoke = r.command(
      group, "revoke",
      "revoke a principal's token (a new token may be made for the name later)",
      command_kind::auth_token_revoke, run_token_revoke,
      [v](parse_context& ctx) { return take_name(ctx, "principal", v->name); });
  revoke->add_option("NAME", v->name, "the principal")->required();

  auto s = std::make_shared<auth_args>();
  auto* set = r.command(group, "set-roles", "replace a principal's roles",
                        command_kind::auth_token_set_roles, run_token_set_roles,
                        [s](parse_context& ctx) -> std::optional<parse_outcome> {
                          if (auto o = take_name(ctx, "principal", s->name))
                            return o;
                          return take_roles(ctx, s->roles);
                        });
  set->add_option("NAME", s->name, "the principal")->required();
  add_roles_option(set, *s, "a role it gets; repeat for more");
}

void register_role_commands(command_registry& r, CLI::App* auth) {
  auto* group = r.group(auth, "role", "create, list and delete roles");

  auto a = std::make_shared<auth_args>();
  auto* create = r.command(
      group, "create", "create a role: permissions on key patterns",
      command_kind::auth_role_create, run_role_create,
      [a](parse_context& ctx) -> std::optional<parse_outcome> {
        if (auto o = take_name(ctx, "role", a->name))
          return o;
        for (const auto& text : a->allow) {
          auto g = auth::parse_grant(text);
          if (!g.ok())
            return ctx.fail("--allow " + printable_text(text) + ": " + g.err().message);
          ctx.inv.grants.push_back(std::move(*g));
        }
        ctx.inv.replace = a->replace;
        return std::nullopt;
      });
  create->add_option("NAME", a->name, "the role's name ([a-z0-9._-], up to 64)")
      ->required();
  create
      ->add_option("--allow", a->allow,
                   "PATTERN:PERM[,PERM...]: permissions on the keys a pattern covers; "
                   "repeat for more. Pattern segments match whole key segments, * is "
                   "any one segment (acme/*/prod). Permissions: read, write, release, "
                   "delete, read-secret, admin; on * also cluster-admin, auditor")
      ->required()
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  create->add_flag("--replace", a->replace,
                   "replace the grants of an existing role of that name");

  r.command(group, "list", "list roles and their grants", command_kind::auth_role_list,
            run_role_list);

  auto d = std::make_shared<auth_args>();
  auto* del =
      r.command(group, "delete", "delete a role no principal has",
                command_kind::auth_role_delete, run_role_delete,
                [d](parse_context& ctx) { return take_name(ctx, "role", d->name); });
  del->add_option("NAME", d->name, "the role")->required();
}

void register_tenant_commands(command_registry& r, CLI::App* auth) {
  auto* group = r.group(auth, "tenant", "set and list tenant quotas and rates");

  auto a = std::make_shared<auth_args>();
  auto* set = r.command(
      group, "set",
      "set a tenant's quotas and rate (all four at once: one not given is none)",
      command_kind::auth_tenant_set, run_tenant_set,
      [a](parse_context& ctx) -> std::optional<parse_outcome> {
        const auto& name = a->name;
        if (name == "*" || name.find('/') != std::string::npos ||
            !auth::validate_pattern(name).ok())
          return ctx.fail("TENANT " + printable_text(name) +
                          " is not a tenant: give the first segment of its keys (acme "
                          "for acme/shop/prod/db.json)");
        ctx.inv.auth_name = name;
        ctx.inv.max_configs = a->max_configs;
        ctx.inv.max_versions = a->max_versions;
        ctx.inv.max_bytes = a->max_bytes;
        ctx.inv.rate = a->rate;
        return std::nullopt;
      });
  set->add_option("TENANT", a->name, "the first segment of the tenant's keys")
      ->required();
  set->add_option("--max-configs", a->max_configs, "at most N configs (0: no quota)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("N");
  set->add_option("--max-versions", a->max_versions,
                  "at most N versions over all its configs (0: no quota)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("N");
  set->add_option("--max-bytes", a->max_bytes,
                  "at most N bytes of version content (0: no quota)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("N");
  set->add_option("--rate", a->rate,
                  "requests per second each principal may send for its keys, on each "
                  "node (0: the node's --default-rate)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("R");

  r.command(group, "list", "list tenants: what each holds, its quotas and rate",
            command_kind::auth_tenant_list, run_tenant_list);
}

} // namespace

void register_auth_commands(command_registry& r) {
  auto* auth = r.group("auth", "who may do what: tokens, roles, tenants");
  register_token_commands(r, auth);
  register_role_commands(r, auth);
  register_tenant_commands(r, auth);
  r.command(auth, "whoami", "the principal your token stands for and its roles",
            command_kind::auth_whoami, run_whoami);
  auto a = std::make_shared<auth_args>();
  auto* boot = r.command(
      auth, "bootstrap-token",
      "offline: make the first admin token of a new cluster and print its hash for "
      "conflux-node --bootstrap-token-hash",
      command_kind::auth_bootstrap_token, run_bootstrap_token,
      [a](parse_context& ctx) -> std::optional<parse_outcome> {
        ctx.inv.out_file = a->out;
        return std::nullopt;
      });
  add_out_option(boot, *a,
                 "write the token to this new file (mode 0600) instead of "
                 "printing it");
}

} // namespace conflux::cli
