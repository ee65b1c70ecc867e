// `conflux release set | show` and `conflux rollback`.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"

#include <memory>

namespace conflux::cli {

namespace {

const char* const rule_help =
    "a release rule as LABELS:VERSION[:PRIORITY]; repeat for more rules, in order. "
    "LABELS is K=V[,K=V...] (a client matches when it has every one of them) or * "
    "for the default rule that matches every client; VERSION is a version id; "
    "PRIORITY a whole number, default 0, higher wins. Examples: "
    "--rule canary=true:3:10 --rule '*:2'. Label values containing ':' or ',' "
    "need --rules-file";

const char* const rules_file_help =
    "a JSON file (- for stdin) with the complete rule list, in order: "
    "[{\"labels\": {\"canary\": \"true\"}, \"version_id\": 3, \"priority\": 10}, "
    "{\"version_id\": 2}]; labels optional (default rule), priority optional (0), "
    "no other fields";

/// Replaces the rules of inv.key; prints what the rules are now.
int write_rules(command_context& c, std::vector<release_rule> rules,
                std::string comment) {
  const auto& inv = c.inv;
  auto cmd = guarded_command<update_release_rules>(inv);
  cmd.rules = rules;
  cmd.comment = std::move(comment);
  return c.write(std::move(cmd), [&](const apply_result& r) {
    auto at = " at revision " + std::to_string(r.revision);
    std::string text;
    if (inv.kind == command_kind::rollback)
      text = "rolled back " + inv.key + " to version " + std::to_string(inv.version) +
             at + ": one default rule now serves version " +
             std::to_string(inv.version) +
             " to every client (all previous rules, canary rules included, were "
             "replaced)\n";
    else if (rules.empty())
      text = "released " + inv.key + at + " with no rules: no client gets it now\n";
    else
      text = "released " + inv.key + at + ":\n" + rules_table(rules);
    c.report(
        {{"key", inv.key}, {"revision", r.revision}, {"rules", rules_to_json(rules)}},
        text);
  });
}

int run_release_set(command_context& c) {
  return write_rules(c, c.inv.rules, c.inv.comment);
}

int run_rollback(command_context& c) {
  release_rule rule;
  rule.version = c.inv.version;
  auto comment = c.inv.comment.empty() ? "rollback to " + std::to_string(c.inv.version)
                                       : c.inv.comment;
  return write_rules(c, {rule}, std::move(comment));
}

int run_release_show(command_context& c) {
  const auto& key = c.inv.key;
  actors::read_meta meta;
  return c.then(
      c.api.get_config(key, c.inv.read_consistency, &meta), [&](const config& cfg) {
        if (c.json())
          c.emit({{"key", key},
                  {"mod_revision", cfg.mod_revision},
                  {"revision", meta.revision},
                  {"rules", rules_to_json(cfg.releases)}});
        else if (cfg.releases.empty())
          c.out << key << " has no release rules: it is not published to any client\n";
        else
          c.out << "release rules of " << key << " (mod revision " << cfg.mod_revision
                << "; rules are tried by priority, then more labels, then order):\n"
                << rules_table(cfg.releases);
      });
}

struct set_args {
  std::string rules_file;
  std::vector<std::string> rule_specs;
};

void register_set(command_registry& r, CLI::App* group) {
  auto a = std::make_shared<set_args>();
  auto* cmd = r.command(
      group, "set", "replace all release rules of a config (give the complete list)",
      command_kind::release_set, run_release_set,
      [a](parse_context& ctx) -> std::optional<parse_outcome> {
        if (ctx.given("--rules-file")) {
          auto text = read_input_file("--rules-file", a->rules_file);
          if (!text.ok())
            return ctx.fail(text.err());
          auto rules = parse_rules_json(*text);
          if (!rules.ok())
            return ctx.fail("--rules-file " + a->rules_file + ": " +
                            rules.err().message);
          ctx.inv.rules = std::move(*rules);
          return std::nullopt;
        }
        if (ctx.given("--rule")) {
          auto rules = parse_rule_specs(a->rule_specs);
          if (!rules.ok())
            return ctx.fail("--rule: " + rules.err().message);
          ctx.inv.rules = std::move(*rules);
          return std::nullopt;
        }
        return ctx.fail("give the new rules with --rule SPEC ... or --rules-file FILE "
                        "(e.g. --rule canary=true:3:10 --rule '*:2'); " +
                        usage_hint("release set"));
      });
  r.add_key(cmd);
  auto* rf = cmd->add_option("--rules-file", a->rules_file, rules_file_help);
  auto* rs = cmd->add_option("--rule", a->rule_specs, rule_help)
                 ->expected(1)
                 ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  rf->excludes(rs);
  r.add_if_revision(cmd);
  r.add_comment(cmd, "why (kept with the change)");
}

void register_rollback(command_registry& r) {
  auto id = std::make_shared<std::string>();
  auto* cmd = r.command(
      r.top(), "rollback",
      "serve VERSION_ID to every client: replaces ALL release rules (canary rules "
      "included) by one default rule pointing at VERSION_ID",
      command_kind::rollback, run_rollback,
      [id](parse_context& ctx) { return ctx.version_id("VERSION_ID", *id); });
  r.add_key(cmd);
  cmd->add_option("VERSION_ID", *id, "the version to go back to")
      ->type_name("UINT")
      ->required();
  r.add_if_revision(cmd);
  r.add_comment(cmd, "why (kept with the change; default \"rollback to VERSION_ID\")");
}

} // namespace

void register_release_commands(command_registry& r) {
  auto* group = r.group("release", "set or show the release rules");
  register_set(r, group);
  auto* show = r.command(group, "show", "show the release rules in order",
                         command_kind::release_show, run_release_show);
  r.add_key(show);
  r.add_consistency(show);
  register_release_history(r, group);
  register_rollback(r);
}

} // namespace conflux::cli
