// `conflux version add | list | show | delete`.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"

#include <algorithm>
#include <memory>

namespace conflux::cli {

namespace {

int run_version_add(command_context& c) {
  auto cmd = new_version_command<create_version>(c.inv);
  cmd.expected_revision = c.inv.if_revision;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    auto v = std::to_string(r.version);
    c.report({{"key", c.inv.key},
              {"version_id", r.version},
              {"revision", r.revision},
              {"released", false}},
             "created version " + v + " of " + c.inv.key + " at revision " +
                 std::to_string(r.revision) +
                 "\nnot released yet: clients get it only after `conflux release set " +
                 c.inv.key + " --rule ...` points a rule at version " + v + "\n");
  });
}

/// "#1(canary=true) #3(*)": the rules that release version `id`.
std::string released_by(const config& cfg, version_id id) {
  std::string by;
  for (auto i : rules_pointing_at(cfg.releases, id)) {
    if (!by.empty())
      by += ' ';
    by +=
        "#" + std::to_string(i + 1) + "(" + format_labels(cfg.releases[i].labels) + ")";
  }
  return by.empty() ? "-" : by;
}

void print_versions(command_context& c, const config& cfg,
                    const std::vector<version>& vs, const actors::read_meta& meta) {
  if (c.json()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& v : vs) {
      auto j = version_to_json(c.inv.key, v, false);
      j.erase("key");
      j["rules"] = rules_pointing_at(cfg.releases, v.id);
      arr.push_back(j);
    }
    c.emit({{"key", c.inv.key},
            {"mod_revision", cfg.mod_revision},
            {"revision", meta.revision},
            {"versions", arr}});
    return;
  }
  if (vs.empty()) {
    c.out << "no versions of " << c.inv.key << '\n';
    return;
  }
  std::vector<std::vector<std::string>> rows{
      {"ID", "CREATED", "HASH", "SIZE", "RELEASED BY", "DESCRIPTION"}};
  for (const auto& v : vs) {
    std::string desc = v.description;
    std::replace(desc.begin(), desc.end(), '\n', ' ');
    rows.push_back({std::to_string(v.id), format_time(v.created_at_ms),
                    hash_prefix(v.content_hash), std::to_string(v.content.size()),
                    released_by(cfg, v.id), desc});
  }
  c.out << render_table(rows);
}

int run_version_list(command_context& c) {
  actors::read_meta meta;
  auto cfg = c.api.get_config(c.inv.key, c.inv.read_consistency, &meta);
  if (!cfg.ok())
    return c.fail(cfg.err());
  return c.then(
      c.api.list_versions(c.inv.key, c.inv.read_consistency, &meta),
      [&](const std::vector<version>& vs) { print_versions(c, *cfg, vs, meta); });
}

int run_version_show(command_context& c) {
  actors::read_meta meta;
  return c.then(
      c.api.get_version(c.inv.key, c.inv.version, c.inv.read_consistency, &meta),
      [&](const version& v) {
        if (c.json())
          return c.emit(version_to_json(c.inv.key, v, true));
        c.out.write(v.content.data(), static_cast<std::streamsize>(v.content.size()));
        c.out.flush();
      });
}

int run_version_delete(command_context& c) {
  auto cmd = guarded_command<delete_versions>(c.inv);
  cmd.versions = c.inv.versions;
  return c.write(std::move(cmd), [&](const apply_result& r) {
    std::string ids;
    for (auto id : c.inv.versions)
      ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    c.report({{"key", c.inv.key},
              {"deleted_versions", c.inv.versions},
              {"revision", r.revision}},
             std::string{"deleted version"} +
                 (c.inv.versions.size() == 1 ? " " : "s ") + ids + " of " + c.inv.key +
                 " at revision " + std::to_string(r.revision) + "\n");
  });
}

void register_add(command_registry& r, CLI::App* group) {
  auto* cmd =
      r.command(group, "add",
                "add a version (clients do not see it until a release points at it)",
                command_kind::version_add, run_version_add,
                [](parse_context& ctx) { return ctx.read_content(); });
  r.add_key(cmd);
  r.add_content(cmd);
  r.add_description(cmd, "what this version changes");
  r.add_if_revision(cmd);
}

void register_show(command_registry& r, CLI::App* group) {
  auto id = std::make_shared<std::string>();
  auto* cmd = r.command(
      group, "show",
      "print the content of a version, exactly its bytes (--json: with metadata)",
      command_kind::version_show, run_version_show,
      [id](parse_context& ctx) { return ctx.version_id("ID", *id); });
  r.add_key(cmd);
  cmd->add_option("ID", *id, "version id")->type_name("UINT")->required();
  r.add_consistency(cmd);
}

void register_delete(command_registry& r, CLI::App* group) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto* cmd =
      r.command(group, "delete",
                "delete versions (refused for a version a release rule points at)",
                command_kind::version_delete, run_version_delete,
                [ids](parse_context& ctx) -> std::optional<parse_outcome> {
                  for (const auto& text : *ids) {
                    auto v = parse_positive_number("ID", text);
                    if (!v.ok())
                      return ctx.fail(v.err());
                    ctx.inv.versions.push_back(*v);
                  }
                  return std::nullopt;
                });
  r.add_key(cmd);
  cmd->add_option("ID", *ids, "version ids")->type_name("UINT ...")->required();
  r.add_if_revision(cmd);
}

} // namespace

void register_version_commands(command_registry& r) {
  auto* group = r.group("version", "add, list, show and delete versions of a config");
  register_add(r, group);
  auto* list =
      r.command(group, "list",
                "list versions: id, created, hash, size, the rules that release it",
                command_kind::version_list, run_version_list);
  r.add_key(list);
  r.add_consistency(list);
  register_show(r, group);
  register_delete(r, group);
}

} // namespace conflux::cli
