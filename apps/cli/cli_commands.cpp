// parse_command_line and execute: the global options, the command groups
// (cli_<group>.cpp, registered through cli_registry.hpp) and the checks every
// command shares.
#include "apps/cli/cli_commands.hpp"

#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"
#include "apps/cli/cli_token.hpp"

#include <algorithm>
#include <sstream>

namespace conflux::cli {

namespace {

struct global_args {
  std::string endpoints_text;
  std::string tls_dir;
  std::string token_file;
  bool insecure_plaintext = false;
  bool json = false;
  std::int64_t timeout_ms = 5000;
};

void add_global_options(CLI::App& app, global_args& g) {
  app.add_option("--endpoints", g.endpoints_text,
                 "HOST:PORT[,HOST:PORT...] of cluster members to contact (default: "
                 "$CONFLUX_ENDPOINTS, else 127.0.0.1:7101)");
  app.add_option("--tls-dir", g.tls_dir,
                 "directory with client.crt, client.key and ca.crt, as `conflux-cert "
                 "client` makes it (default: $CONFLUX_TLS_DIR)");
  app.add_option("--token-file", g.token_file,
                 "file holding the token this command acts with, readable by its owner "
                 "only (default: $CONFLUX_TOKEN_FILE; `scripts/dev up` prints the "
                 "export line)");
  app.add_flag("--insecure-plaintext", g.insecure_plaintext,
               "speak plain text, without TLS, to nodes started with "
               "--insecure-plaintext; loopback addresses only");
  app.add_flag("--json", g.json,
               "print exactly one JSON object on stdout; errors as one JSON object "
               "{\"error\",\"message\",\"exit_code\"} on stderr");
  app.add_option(
         "--timeout", g.timeout_ms,
         "deadline of each call in milliseconds, retries included (default 5000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));
}

/// "create, list, show, delete": the commands of a group (or of the app).
std::string command_names(const CLI::App& group) {
  std::string out;
  for (const auto* sub : group.get_subcommands([](const CLI::App*) { return true; }))
    out += (out.empty() ? "" : ", ") + sub->get_name();
  return out;
}

/// When `deepest` (the app or a group, at `path`) needs a command and got
/// none that it knows: what was given instead, and which commands there are.
/// CLI11 itself only says "A subcommand is required".
std::optional<std::string> missing_command(const CLI::App& app, const CLI::App& deepest,
                                           const std::string& path) {
  bool is_group =
      !deepest.get_subcommands([](const CLI::App*) { return true; }).empty();
  if (!is_group || !deepest.get_subcommands().empty())
    return std::nullopt;
  std::string word;
  for (const auto& arg : app.remaining(true))
    if (!arg.empty() && arg.front() != '-') {
      word = arg;
      break;
    }
  auto names = command_names(deepest);
  if (!word.empty())
    return "unknown command \"" + printable_text(word) + "\"" +
           (path.empty() ? "" : " for `conflux " + path + "`") + "; the commands are " +
           names;
  if (path.empty())
    return "no command given; the commands are " + names;
  return "`conflux " + path + "` needs one of its commands: " + names;
}

/// Help (exit 0) or a usage error (exit 2) from CLI11.
parse_outcome parse_error_outcome(CLI::App& app, const CLI::ParseError& e, bool json) {
  if (dynamic_cast<const CLI::CallForHelp*>(&e) != nullptr ||
      dynamic_cast<const CLI::CallForAllHelp*>(&e) != nullptr) {
    std::ostringstream out, err;
    parse_outcome o;
    o.exit_code = app.exit(e, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  }
  // The deepest command that was recognised, for the usage hint.
  std::string path;
  const CLI::App* deepest = &app;
  while (!deepest->get_subcommands().empty()) {
    deepest = deepest->get_subcommands().front();
    path += (path.empty() ? "" : " ") + deepest->get_name();
  }
  auto what = missing_command(app, *deepest, path).value_or(e.what());
  return input_error(what + "; " + usage_hint(path), json);
}

/// --endpoints, else CONFLUX_ENDPOINTS, else the default.
std::optional<parse_outcome> resolve_endpoints(const CLI::App& app, global_args& g,
                                               const char* env_endpoints,
                                               invocation& inv) {
  bool flag = app.count("--endpoints") > 0;
  if (!flag && env_endpoints != nullptr && *env_endpoints != '\0')
    g.endpoints_text = env_endpoints;
  if (g.endpoints_text.empty())
    return std::nullopt;
  auto eps = parse_endpoints(g.endpoints_text);
  if (!eps.ok())
    return input_error(
        (flag ? "--endpoints: " : "CONFLUX_ENDPOINTS: ") + eps.err().message, g.json);
  inv.global.endpoints = std::move(*eps);
  inv.global.endpoints_text = g.endpoints_text;
  return std::nullopt;
}

/// --insecure-plaintext, else --tls-dir, else CONFLUX_TLS_DIR. A command that
/// contacts the cluster needs one of them: there is no unauthenticated
/// default.
std::optional<parse_outcome> resolve_transport(const CLI::App& app,
                                               const global_args& g,
                                               const char* env_tls_dir,
                                               invocation& inv) {
  bool flag = app.count("--tls-dir") > 0;
  if (g.insecure_plaintext) {
    if (flag)
      return input_error("--insecure-plaintext and --tls-dir exclude each other; "
                         "give one of them",
                         g.json);
    for (const auto& ep : inv.global.endpoints)
      if (auto st =
              actors::check_plaintext_address("--insecure-plaintext: endpoint", ep);
          !st.ok())
        return input_error(st.err().message, g.json);
    inv.global.transport.insecure_plaintext = true;
    return std::nullopt;
  }
  std::string dir = flag ? g.tls_dir : std::string{env_tls_dir ? env_tls_dir : ""};
  if (dir.empty()) {
    if (!needs_cluster(inv.kind))
      return std::nullopt;
    return input_error(
        "no TLS credentials: set CONFLUX_TLS_DIR to the directory `conflux-cert "
        "client` made (`scripts/dev up` prints the export line) or give --tls-dir DIR; "
        "for nodes on loopback started with --insecure-plaintext, give "
        "--insecure-plaintext",
        g.json);
  }
  inv.global.transport = actors::tls_in_dir(dir, "client");
  inv.global.tls_dir = dir;
  if (auto st = actors::check_transport(inv.global.transport); !st.ok())
    return input_error((flag ? "--tls-dir: " : "CONFLUX_TLS_DIR: ") + st.err().message,
                       g.json);
  return std::nullopt;
}

/// --token-file, else CONFLUX_TOKEN_FILE: the token, read and checked now. A
/// command that contacts the cluster without one is sent anyway, so that the
/// cluster's own refusal (unauthenticated, exit 7) is what the user sees.
std::optional<parse_outcome> resolve_token(const CLI::App& app, const global_args& g,
                                           const char* env_token_file,
                                           invocation& inv) {
  bool flag = app.count("--token-file") > 0;
  std::string path =
      flag ? g.token_file : std::string{env_token_file ? env_token_file : ""};
  if ((!flag && path.empty()) || !needs_cluster(inv.kind))
    return std::nullopt;
  auto token = read_token_file(flag ? "--token-file" : "CONFLUX_TOKEN_FILE", path);
  if (!token.ok())
    return input_error(token.err(), g.json);
  inv.global.token = std::move(*token);
  inv.global.token_file = path;
  return std::nullopt;
}

/// The checks of the options commands share, in a fixed order, before the
/// command's own handler.
std::optional<parse_outcome> check_common(parse_context& ctx) {
  const auto& a = ctx.args;
  auto& inv = ctx.inv;
  inv.description = a.description;
  inv.comment = a.comment;
  inv.read_consistency = a.consistency == "serializable"
                             ? actors::consistency::serializable
                             : actors::consistency::linearizable;
  if (a.has_key) {
    if (auto st = check_key(a.key); !st.ok())
      return ctx.fail(st.err());
    inv.key = a.key;
  }
  if (ctx.given("--if-revision")) {
    auto r = parse_positive_number("--if-revision", a.if_revision);
    if (!r.ok())
      return ctx.fail(r.err());
    inv.if_revision = *r;
  }
  if (ctx.given("--description"))
    if (auto st = check_text("--description", a.description); !st.ok())
      return ctx.fail(st.err());
  if (ctx.given("--comment"))
    if (auto st = check_text("--comment", a.comment); !st.ok())
      return ctx.fail(st.err());
  if (ctx.given("--label")) {
    auto l = parse_labels(a.labels);
    if (!l.ok())
      return ctx.fail(l.err());
    inv.client_labels = std::move(*l);
  }
  return std::nullopt;
}

int run_not_implemented(command_context& c) {
  c.err << error_line("not_implemented",
                      "`" + c.inv.name + "` is not implemented yet in this build",
                      "see `conflux --help`", exit_other, c.json())
        << '\n';
  return exit_other;
}

} // namespace

void register_commands(command_registry& r) {
  register_config_commands(r);
  register_version_commands(r);
  register_release_commands(r);
  register_read_commands(r);
  register_watch_command(r);
  register_cluster_commands(r);
  register_auth_commands(r);
  register_audit_commands(r);
  register_kek_commands(r);
}

parse_outcome parse_command_line(const std::vector<std::string>& args,
                                 const char* env_endpoints, const char* env_tls_dir,
                                 const char* env_token_file) {
  const bool json_hint = std::find(args.begin(), args.end(), "--json") != args.end();

  CLI::App app{"conflux: the command line of a Conflux configuration cluster.\n"
               "Global options (--endpoints, --tls-dir, --token-file, "
               "--insecure-plaintext, --json, --timeout) go before or after "
               "the command.",
               "conflux"};
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 other error, 2 bad input, 3 not found or not published, "
      "4 precondition failed (revision mismatch, version in use, already exists), "
      "5 cluster unavailable (no leader, no quorum, timeout), 6 permission denied, "
      "7 unauthenticated (no valid token). See docs/cli.md.");
  global_args g;
  add_global_options(app, g);

  command_registry registry{app};
  register_commands(registry);

  // CLI11 takes the arguments in reverse order.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return parse_error_outcome(app, e, json_hint);
  }

  invocation inv;
  inv.global.json = g.json;
  inv.global.timeout = std::chrono::milliseconds{g.timeout_ms};
  if (auto o = resolve_endpoints(app, g, env_endpoints, inv))
    return *o;
  const auto* leaf = registry.parsed();
  if (leaf == nullptr)
    return input_error("no command given; " + usage_hint(""), g.json);
  inv.name = leaf->app->get_name();
  for (const auto* p = leaf->app->get_parent(); p != nullptr && p != &app;
       p = p->get_parent())
    inv.name = p->get_name() + " " + inv.name;
  inv.kind = leaf->kind;
  if (auto o = resolve_transport(app, g, env_tls_dir, inv))
    return *o;
  if (auto o = resolve_token(app, g, env_token_file, inv))
    return *o;

  // Local checks, all of them before any contact.
  parse_context ctx{inv, *leaf->args, *leaf->app};
  if (auto o = check_common(ctx))
    return *o;
  if (leaf->handler)
    if (auto o = leaf->handler(ctx))
      return *o;
  parse_outcome o;
  o.inv = std::move(inv);
  return o;
}

bool needs_cluster(command_kind k) noexcept {
  return k != command_kind::not_implemented && k != command_kind::auth_bootstrap_token;
}

int execute(const invocation& inv, cluster_access& api, std::ostream& out,
            std::ostream& err) {
  CLI::App app;
  command_registry registry{app};
  register_commands(registry);
  command_context c{inv, api, out, err};
  if (const auto* e = registry.find(inv.kind))
    return e->run(c);
  return run_not_implemented(c);
}

} // namespace conflux::cli
