// `conflux config create | list | show | delete`.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"

#include <memory>

namespace conflux::cli {

namespace {

int run_config_create(command_context& c) {
  auto cmd = new_version_command<create_config>(c.inv);
  cmd.format = c.inv.format;
  cmd.schema = c.inv.schema;
  cmd.secret = c.inv.secret;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    auto version = r.version ? r.version : 1;
    auto v = std::to_string(version);
    c.report({{"key", c.inv.key},
              {"config_id", r.config},
              {"version_id", version},
              {"revision", r.revision},
              {"released", false}},
             "created " + std::string{c.inv.secret ? "secret " : ""} + "config " +
                 c.inv.key + " (id " + std::to_string(r.config) + ") with version " +
                 v + " at revision " + std::to_string(r.revision) +
                 "\nnot released yet: no client gets it until you run `conflux release "
                 "set " +
                 c.inv.key + " --rule '*:" + v + "'`\n");
  });
}

void print_config_table(std::ostream& out, const std::vector<config>& configs) {
  std::vector<std::vector<std::string>> rows{
      {"KEY", "FORMAT", "LATEST", "RULES", "MOD_REVISION", "UPDATED"}};
  for (const auto& cfg : configs)
    rows.push_back({cfg.key, to_string(cfg.format), std::to_string(cfg.latest_version),
                    std::to_string(cfg.releases.size()),
                    std::to_string(cfg.mod_revision), format_time(cfg.updated_at_ms)});
  out << render_table(rows);
}

int run_config_list(command_context& c) {
  const auto& prefix = c.inv.prefix;
  actors::read_meta meta;
  return c.then(
      c.api.list_configs(prefix, c.inv.read_consistency, &meta),
      [&](const std::vector<config>& configs) {
        if (c.json()) {
          nlohmann::json arr = nlohmann::json::array();
          for (const auto& cfg : configs)
            arr.push_back(config_to_json(cfg));
          c.emit({{"prefix", prefix}, {"revision", meta.revision}, {"configs", arr}});
        } else if (configs.empty()) {
          c.out << "no configs" << (prefix.empty() ? "" : " under \"" + prefix + "\"")
                << '\n';
        } else {
          print_config_table(c.out, configs);
        }
      });
}

void print_config(std::ostream& out, const config& cfg) {
  out << "key:             " << cfg.key << '\n'
      << "id:              " << cfg.id << '\n'
      << "format:          " << to_string(cfg.format) << '\n'
      << "secret:          "
      << (cfg.secret ? "yes (content sealed; reading it needs read-secret)" : "no")
      << '\n'
      << "schema:          "
      << (cfg.schema
              ? "yes (" + std::to_string(cfg.schema->size()) + " bytes; see --json)"
              : std::string{"none"})
      << '\n'
      << "latest version:  " << cfg.latest_version << '\n'
      << "mod revision:    " << cfg.mod_revision << " (use with --if-revision)\n"
      << "create revision: " << cfg.create_revision << '\n'
      << "created:         " << format_time(cfg.created_at_ms) << '\n'
      << "updated:         " << format_time(cfg.updated_at_ms) << '\n';
  if (cfg.releases.empty()) {
    out << "release rules:   none (not published to any client)\n";
    return;
  }
  out << "release rules:\n";
  for (std::size_t i = 0; i < cfg.releases.size(); ++i)
    out << "  " << rule_line(i, cfg.releases[i]) << '\n';
}

int run_config_show(command_context& c) {
  actors::read_meta meta;
  return c.then(c.api.get_config(c.inv.key, c.inv.read_consistency, &meta),
                [&](const config& cfg) {
                  if (!c.json())
                    return print_config(c.out, cfg);
                  auto j = config_to_json(cfg);
                  j["read_revision"] = meta.revision;
                  c.emit(j);
                });
}

int run_config_delete(command_context& c) {
  auto cmd = guarded_command<delete_config>(c.inv);
  cmd.force = c.inv.force;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    c.report({{"key", c.inv.key}, {"deleted", true}, {"revision", r.revision}},
             "deleted config " + c.inv.key + " and all its versions at revision " +
                 std::to_string(r.revision) + "\n");
  });
}

struct create_args {
  std::string format_name;
  std::string schema_file;
  bool secret = false;
};

void register_create(command_registry& r, CLI::App* group) {
  auto a = std::make_shared<create_args>();
  auto* cmd = r.command(
      group, "create",
      "create a config with its first version (version 1, not released yet)",
      command_kind::config_create, run_config_create,
      [a](parse_context& ctx) -> std::optional<parse_outcome> {
        auto f = parse_format(a->format_name);
        if (!f.ok())
          return ctx.fail(f.err());
        ctx.inv.format = *f;
        ctx.inv.secret = a->secret;
        if (auto o = ctx.read_content())
          return o;
        if (ctx.given("--schema")) {
          auto s = read_input_file("--schema", a->schema_file);
          if (!s.ok())
            return ctx.fail(s.err());
          ctx.inv.schema = std::move(*s);
        }
        if (auto st = check_new_config(ctx.inv.format, ctx.inv.content, ctx.inv.schema);
            !st.ok())
          return ctx.fail(st.err());
        return std::nullopt;
      });
  r.add_key(cmd);
  cmd->add_option("--format", a->format_name, "json, yaml, toml, properties or text")
      ->required();
  r.add_content(cmd);
  r.add_description(cmd, "what version 1 is (kept with the version)");
  cmd->add_option("--schema", a->schema_file,
                  "a JSON Schema (draft 7) file every version must satisfy");
  cmd->add_flag("--secret", a->secret,
                "a secret config, for good: the nodes store its content encrypted "
                "(they need --kek-file) and give it only to principals with "
                "read-secret");
}

void register_list(command_registry& r, CLI::App* group) {
  auto prefix = std::make_shared<std::string>();
  auto* cmd = r.command(group, "list", "list configs whose key starts with PREFIX",
                        command_kind::config_list, run_config_list,
                        [prefix](parse_context& ctx) -> std::optional<parse_outcome> {
                          if (auto st = check_prefix(*prefix); !st.ok())
                            return ctx.fail(st.err());
                          ctx.inv.prefix = *prefix;
                          return std::nullopt;
                        });
  cmd->add_option("PREFIX", *prefix,
                  "key prefix such as tenant/app/ (default: all configs)");
  r.add_consistency(cmd);
}

void register_delete(command_registry& r, CLI::App* group) {
  auto force = std::make_shared<bool>(false);
  auto* cmd =
      r.command(group, "delete",
                "delete a config and every version of it (refused while a release "
                "rule points at one of its versions, unless --force)",
                command_kind::config_delete, run_config_delete,
                [force](parse_context& ctx) -> std::optional<parse_outcome> {
                  ctx.inv.force = *force;
                  return std::nullopt;
                });
  r.add_key(cmd);
  r.add_if_revision(cmd);
  cmd->add_flag(
      "--force", *force,
      "delete it even while release rules point at its versions (clients reading "
      "or watching it lose it)");
}

} // namespace

void register_config_commands(command_registry& r) {
  auto* group = r.group("config", "create, list, show and delete configs");
  register_create(r, group);
  register_list(r, group);
  auto* show =
      r.command(group, "show", "show a config: format, revisions, release rules",
                command_kind::config_show, run_config_show);
  r.add_key(show);
  r.add_consistency(show);
  register_delete(r, group);
}

} // namespace conflux::cli
