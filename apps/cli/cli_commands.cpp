#include "apps/cli/cli_commands.hpp"

#include "apps/cli/cli_support.hpp"
#include "protocol/raft/membership.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <map>
#include <sstream>

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

const char* const consistency_help =
  "linearizable (default): reflects every write acknowledged before the read; "
  "serializable: the contacted node's state, faster, may be stale";

std::string usage_hint(const std::string& path) {
  return "run `conflux" + (path.empty() ? std::string{} : " " + path) +
         " --help` for usage";
}

parse_outcome input_error(const std::string& message, bool json) {
  parse_outcome o;
  o.exit_code = exit_bad_input;
  o.err = error_line(to_string(errc::invalid_argument), message, {}, exit_bad_input, json) +
          "\n";
  return o;
}

parse_outcome input_error(const error& e, bool json) {
  parse_outcome o;
  o.exit_code = exit_code_for(e.code);
  o.err = error_line(to_string(e.code), e.message, {}, o.exit_code, json) + "\n";
  return o;
}

// -- output ----------------------------------------------------------------------

class runner {
public:
  runner(const invocation& inv, cluster_access& api, std::ostream& out, std::ostream& err)
    : inv_(inv), api_(api), out_(out), err_(err) {}

  int run() {
    switch (inv_.kind) {
      case command_kind::config_create: return config_create();
      case command_kind::config_list: return config_list();
      case command_kind::config_show: return config_show();
      case command_kind::config_delete: return config_delete();
      case command_kind::version_add: return version_add();
      case command_kind::version_list: return version_list();
      case command_kind::version_show: return version_show();
      case command_kind::version_delete: return version_delete();
      case command_kind::release_set: return release_set();
      case command_kind::release_show: return release_show();
      case command_kind::rollback: return rollback();
      case command_kind::get: return get();
      case command_kind::resolve: return resolve();
      case command_kind::cluster_status: return cluster_status();
      case command_kind::cluster_add: return cluster_add();
      case command_kind::cluster_remove: return cluster_remove();
      case command_kind::cluster_transfer: return cluster_transfer();
      case command_kind::not_implemented: return not_implemented();
    }
    return not_implemented();
  }

private:
  bool json() const { return inv_.global.json; }

  int fail(const error& e) {
    int code = exit_code_for(e.code);
    err_ << error_line(to_string(e.code), e.message,
                       hint_for(e.code, inv_.global.endpoints_text), code, json())
         << '\n';
    return code;
  }

  void emit(const nlohmann::json& j) { out_ << dump_json(j) << '\n'; }

  /// Submits a write; the apply_result, or the error already reported.
  std::optional<apply_result> submit(command cmd, int& code) {
    auto r = api_.write(std::move(cmd));
    if (!r.ok()) {
      code = fail(r.err());
      return std::nullopt;
    }
    if (r->err) {
      code = fail(*r->err);
      return std::nullopt;
    }
    code = exit_ok;
    return *r;
  }

  std::string rule_line(std::size_t i, const release_rule& r) const {
    return "#" + std::to_string(i + 1) + " " + format_labels(r.labels) + " -> version " +
           std::to_string(r.version) + ", priority " + std::to_string(r.priority);
  }

  std::string rules_table(const std::vector<release_rule>& rules) const {
    std::vector<std::vector<std::string>> rows{{"#", "LABELS", "VERSION", "PRIORITY"}};
    for (std::size_t i = 0; i < rules.size(); ++i)
      rows.push_back({std::to_string(i + 1), format_labels(rules[i].labels),
                      std::to_string(rules[i].version),
                      std::to_string(rules[i].priority)});
    return render_table(rows);
  }

  // -- config ------------------------------------------------------------------

  int config_create() {
    create_config cmd;
    cmd.key = inv_.key;
    cmd.format = inv_.format;
    cmd.schema = inv_.schema;
    cmd.content = inv_.content;
    cmd.description = inv_.description;
    int code = 0;
    auto r = submit(std::move(cmd), code);
    if (!r)
      return code;
    if (json()) {
      emit({{"key", inv_.key},
            {"config_id", r->config},
            {"version_id", r->version ? r->version : 1},
            {"revision", r->revision},
            {"released", false}});
    } else {
      out_ << "created config " << inv_.key << " (id " << r->config << ") with version "
           << (r->version ? r->version : 1) << " at revision " << r->revision << '\n'
           << "not released yet: no client gets it until you run `conflux release set "
           << inv_.key << " --rule '*:" << (r->version ? r->version : 1) << "'`\n";
    }
    return exit_ok;
  }

  int config_list() {
    actors::read_meta meta;
    auto r = api_.list_configs(inv_.prefix, inv_.read_consistency, &meta);
    if (!r.ok())
      return fail(r.err());
    if (json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : *r)
        arr.push_back(config_to_json(c));
      emit({{"prefix", inv_.prefix}, {"revision", meta.revision}, {"configs", arr}});
      return exit_ok;
    }
    if (r->empty()) {
      out_ << "no configs" << (inv_.prefix.empty() ? "" : " under \"" + inv_.prefix + "\"")
           << '\n';
      return exit_ok;
    }
    std::vector<std::vector<std::string>> rows{
      {"KEY", "FORMAT", "LATEST", "RULES", "MOD_REVISION", "UPDATED"}};
    for (const auto& c : *r)
      rows.push_back({c.key, to_string(c.format), std::to_string(c.latest_version),
                      std::to_string(c.releases.size()), std::to_string(c.mod_revision),
                      format_time(c.updated_at_ms)});
    out_ << render_table(rows);
    return exit_ok;
  }

  int config_show() {
    actors::read_meta meta;
    auto r = api_.get_config(inv_.key, inv_.read_consistency, &meta);
    if (!r.ok())
      return fail(r.err());
    const auto& c = *r;
    if (json()) {
      auto j = config_to_json(c);
      j["read_revision"] = meta.revision;
      emit(j);
      return exit_ok;
    }
    out_ << "key:             " << c.key << '\n'
         << "id:              " << c.id << '\n'
         << "format:          " << to_string(c.format) << '\n'
         << "schema:          "
         << (c.schema ? "yes (" + std::to_string(c.schema->size()) +
                          " bytes; see --json)"
                      : std::string{"none"})
         << '\n'
         << "latest version:  " << c.latest_version << '\n'
         << "mod revision:    " << c.mod_revision << " (use with --if-revision)\n"
         << "create revision: " << c.create_revision << '\n'
         << "created:         " << format_time(c.created_at_ms) << '\n'
         << "updated:         " << format_time(c.updated_at_ms) << '\n';
    if (c.releases.empty()) {
      out_ << "release rules:   none (not published to any client)\n";
    } else {
      out_ << "release rules:\n";
      for (std::size_t i = 0; i < c.releases.size(); ++i)
        out_ << "  " << rule_line(i, c.releases[i]) << '\n';
    }
    return exit_ok;
  }

  int config_delete() {
    delete_config cmd;
    cmd.key = inv_.key;
    cmd.expected_revision = inv_.if_revision;
    int code = 0;
    auto r = submit(std::move(cmd), code);
    if (!r)
      return code;
    if (json())
      emit({{"key", inv_.key}, {"deleted", true}, {"revision", r->revision}});
    else
      out_ << "deleted config " << inv_.key << " and all its versions at revision "
           << r->revision << '\n';
    return exit_ok;
  }

  // -- version ---------------------------------------------------------------------

  int version_add() {
    create_version cmd;
    cmd.key = inv_.key;
    cmd.content = inv_.content;
    cmd.description = inv_.description;
    cmd.expected_revision = inv_.if_revision;
    int code = 0;
    auto r = submit(std::move(cmd), code);
    if (!r)
      return code;
    if (json()) {
      emit({{"key", inv_.key},
            {"version_id", r->version},
            {"revision", r->revision},
            {"released", false}});
    } else {
      out_ << "created version " << r->version << " of " << inv_.key << " at revision "
           << r->revision << '\n'
           << "not released yet: clients get it only after `conflux release set "
           << inv_.key << " --rule ...` points a rule at version " << r->version << '\n';
    }
    return exit_ok;
  }

  int version_list() {
    actors::read_meta meta;
    auto c = api_.get_config(inv_.key, inv_.read_consistency, &meta);
    if (!c.ok())
      return fail(c.err());
    auto r = api_.list_versions(inv_.key, inv_.read_consistency, &meta);
    if (!r.ok())
      return fail(r.err());
    if (json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& v : *r) {
        auto j = version_to_json(inv_.key, v, false);
        j.erase("key");
        j["rules"] = rules_pointing_at(c->releases, v.id);
        arr.push_back(j);
      }
      emit({{"key", inv_.key},
            {"mod_revision", c->mod_revision},
            {"revision", meta.revision},
            {"versions", arr}});
      return exit_ok;
    }
    std::vector<std::vector<std::string>> rows{
      {"ID", "CREATED", "HASH", "SIZE", "RELEASED BY", "DESCRIPTION"}};
    for (const auto& v : *r) {
      std::string by;
      for (auto i : rules_pointing_at(c->releases, v.id)) {
        if (!by.empty())
          by += ' ';
        by += "#" + std::to_string(i + 1) + "(" + format_labels(c->releases[i].labels) + ")";
      }
      std::string desc = v.description;
      std::replace(desc.begin(), desc.end(), '\n', ' ');
      rows.push_back({std::to_string(v.id), format_time(v.created_at_ms),
                      hash_prefix(v.content_hash), std::to_string(v.content.size()),
                      by.empty() ? "-" : by, desc});
    }
    if (r->empty())
      out_ << "no versions of " << inv_.key << '\n';
    else
      out_ << render_table(rows);
    return exit_ok;
  }

  int version_show() {
    actors::read_meta meta;
    auto r = api_.get_version(inv_.key, inv_.version, inv_.read_consistency, &meta);
    if (!r.ok())
      return fail(r.err());
    if (json()) {
      emit(version_to_json(inv_.key, *r, true));
      return exit_ok;
    }
    out_.write(r->content.data(), static_cast<std::streamsize>(r->content.size()));
    out_.flush();
    return exit_ok;
  }

  int version_delete() {
    delete_versions cmd;
    cmd.key = inv_.key;
    cmd.versions = inv_.versions;
    cmd.expected_revision = inv_.if_revision;
    int code = 0;
    auto r = submit(std::move(cmd), code);
    if (!r)
      return code;
    if (json()) {
      emit({{"key", inv_.key}, {"deleted_versions", inv_.versions}, {"revision", r->revision}});
    } else {
      out_ << "deleted version" << (inv_.versions.size() == 1 ? " " : "s ");
      for (std::size_t i = 0; i < inv_.versions.size(); ++i)
        out_ << (i ? ", " : "") << inv_.versions[i];
      out_ << " of " << inv_.key << " at revision " << r->revision << '\n';
    }
    return exit_ok;
  }

  // -- release ---------------------------------------------------------------------

  int write_rules(std::vector<release_rule> rules, std::string comment) {
    update_release_rules cmd;
    cmd.key = inv_.key;
    cmd.rules = rules;
    cmd.comment = std::move(comment);
    cmd.expected_revision = inv_.if_revision;
    int code = 0;
    auto r = submit(std::move(cmd), code);
    if (!r)
      return code;
    if (json()) {
      emit({{"key", inv_.key}, {"revision", r->revision}, {"rules", rules_to_json(rules)}});
      return exit_ok;
    }
    if (inv_.kind == command_kind::rollback) {
      out_ << "rolled back " << inv_.key << " to version " << inv_.version
           << " at revision " << r->revision << ": one default rule now serves version "
           << inv_.version
           << " to every client (all previous rules, canary rules included, were "
              "replaced)\n";
      return exit_ok;
    }
    if (rules.empty()) {
      out_ << "released " << inv_.key << " at revision " << r->revision
           << " with no rules: no client gets it now\n";
      return exit_ok;
    }
    out_ << "released " << inv_.key << " at revision " << r->revision << ":\n"
         << rules_table(rules);
    return exit_ok;
  }

  int release_set() { return write_rules(inv_.rules, inv_.comment); }

  int rollback() {
    release_rule r;
    r.version = inv_.version;
    return write_rules({r}, "rollback to " + std::to_string(inv_.version));
  }

  int release_show() {
    actors::read_meta meta;
    auto r = api_.get_config(inv_.key, inv_.read_consistency, &meta);
    if (!r.ok())
      return fail(r.err());
    if (json()) {
      emit({{"key", inv_.key},
            {"mod_revision", r->mod_revision},
            {"revision", meta.revision},
            {"rules", rules_to_json(r->releases)}});
      return exit_ok;
    }
    if (r->releases.empty()) {
      out_ << inv_.key << " has no release rules: it is not published to any client\n";
      return exit_ok;
    }
    out_ << "release rules of " << inv_.key << " (mod revision " << r->mod_revision
         << "; rules are tried by priority, then more labels, then order):\n"
         << rules_table(r->releases);
    return exit_ok;
  }

  // -- get / resolve ---------------------------------------------------------------

  int get() {
    auto r = api_.resolve(inv_.key, inv_.client_labels, inv_.read_consistency);
    if (!r.ok())
      return fail(r.err());
    if (json()) {
      nlohmann::json j{{"key", inv_.key},
                       {"version_id", r->ver.id},
                       {"rule_index", r->rule_index},
                       {"revision", r->meta.revision},
                       {"mod_revision", r->cfg.mod_revision},
                       {"format", to_string(r->ver.format)},
                       {"content_hash", r->ver.content_hash}};
      put_content(j, r->ver.content);
      emit(j);
      return exit_ok;
    }
    out_.write(r->ver.content.data(), static_cast<std::streamsize>(r->ver.content.size()));
    out_.flush();
    return exit_ok;
  }

  int resolve() {
    auto r = api_.resolve(inv_.key, inv_.client_labels, inv_.read_consistency);
    if (!r.ok())
      return fail(r.err());
    std::optional<release_rule> rule;
    if (r->rule_index < r->cfg.releases.size())
      rule = r->cfg.releases[r->rule_index];
    if (json()) {
      nlohmann::json lbl = nlohmann::json::object();
      for (const auto& [k, v] : inv_.client_labels)
        lbl[k] = v;
      emit({{"key", inv_.key},
            {"labels", lbl},
            {"rule_index", r->rule_index},
            {"rule", rule ? rule_to_json(*rule) : nlohmann::json(nullptr)},
            {"version_id", r->ver.id},
            {"content_hash", r->ver.content_hash},
            {"mod_revision", r->cfg.mod_revision},
            {"revision", r->meta.revision}});
      return exit_ok;
    }
    out_ << "key:      " << inv_.key << '\n'
         << "labels:   "
         << (inv_.client_labels.empty() ? std::string{"(none)"}
                                        : format_labels(inv_.client_labels))
         << '\n'
         << "rule:     #" << (r->rule_index + 1);
    if (rule)
      out_ << " " << format_labels(rule->labels)
           << (rule->labels.empty() ? " (default rule)" : "") << ", priority "
           << rule->priority;
    out_ << '\n'
         << "version:  " << r->ver.id << " (created " << format_time(r->ver.created_at_ms)
         << ", hash " << hash_prefix(r->ver.content_hash) << ")\n"
         << "revision: " << r->meta.revision << '\n';
    return exit_ok;
  }

  // -- cluster ---------------------------------------------------------------------

  int cluster_status() {
    auto first = api_.status();
    if (!first.ok())
      return fail(first.err());
    auto members = first->members;
    if (members.empty())
      members.push_back({first->id, first->address, "voter"});
    struct row {
      actors::member_info m;
      std::optional<actors::node_status> st;
      std::optional<error> err;
    };
    std::vector<row> rows;
    for (const auto& m : members) {
      row rw{m, std::nullopt, std::nullopt};
      if (m.id == first->id && m.id != 0) {
        rw.st = *first;
      } else {
        auto s = api_.status_of(m.address);
        if (s.ok())
          rw.st = std::move(*s);
        else
          rw.err = s.err();
      }
      rows.push_back(std::move(rw));
    }
    // The leader: a reachable node that says it is leader (highest term),
    // else the leader named by the reachable node with the highest term.
    std::uint64_t leader_id = 0, leader_term = 0;
    std::string leader_addr;
    for (const auto& rw : rows)
      if (rw.st && rw.st->role == "leader" && (leader_id == 0 || rw.st->term > leader_term)) {
        leader_id = rw.st->id;
        leader_term = rw.st->term;
        leader_addr = rw.st->address.empty() ? rw.m.address : rw.st->address;
      }
    if (leader_id == 0) {
      for (const auto& rw : rows)
        if (rw.st && rw.st->leader_id != 0 && rw.st->term >= leader_term) {
          leader_id = rw.st->leader_id;
          leader_term = rw.st->term;
          leader_addr = rw.st->leader_address;
        }
    }
    // Replication progress as the leader sees it (only the leader knows).
    std::map<std::uint64_t, rpc::member_entry> progress;
    for (const auto& rw : rows)
      if (rw.st && rw.st->role == "leader" && rw.st->id == leader_id)
        for (const auto& m : rw.st->members)
          progress[m.id] = m;
    auto lag_of = [&](std::uint64_t id) -> std::optional<std::uint64_t> {
      auto i = progress.find(id);
      if (i == progress.end())
        return std::nullopt;
      return i->second.lag;
    };
    if (json()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& rw : rows) {
        nlohmann::json j{{"id", rw.m.id}, {"address", rw.m.address}, {"kind", rw.m.kind}};
        if (auto lag = lag_of(rw.m.id)) {
          j["match"] = progress[rw.m.id].match;
          j["lag"] = *lag;
        } else {
          j["lag"] = nullptr;
        }
        if (rw.st) {
          j["reachable"] = true;
          j["role"] = rw.st->role;
          j["term"] = rw.st->term;
          j["commit"] = rw.st->commit;
          j["applied"] = rw.st->applied;
          j["leader_id"] = rw.st->leader_id;
          j["is_leader"] = leader_id != 0 && rw.m.id == leader_id;
        } else {
          j["reachable"] = false;
          j["error"] = std::string{to_string(rw.err->code)};
          j["message"] = rw.err->message;
        }
        arr.push_back(j);
      }
      nlohmann::json leader = nullptr;
      if (leader_id != 0)
        leader = {{"id", leader_id}, {"address", leader_addr}, {"term", leader_term}};
      emit({{"cluster_id", first->cluster_id}, {"leader", leader}, {"members", arr}});
    } else {
      std::vector<std::vector<std::string>> table{
        {"ID", "ADDRESS", "KIND", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG", "NOTE"}};
      for (const auto& rw : rows) {
        auto lag = lag_of(rw.m.id);
        auto lag_text = lag ? std::to_string(*lag) : std::string{"-"};
        if (rw.st) {
          table.push_back({std::to_string(rw.m.id), rw.m.address, rw.m.kind, rw.st->role,
                           std::to_string(rw.st->term), std::to_string(rw.st->commit),
                           std::to_string(rw.st->applied), lag_text,
                           leader_id != 0 && rw.m.id == leader_id ? "* leader" : ""});
        } else {
          std::string why = rw.err->message.empty() ? std::string{to_string(rw.err->code)}
                                                    : rw.err->message;
          std::replace(why.begin(), why.end(), '\n', ' ');
          table.push_back({std::to_string(rw.m.id), rw.m.address, rw.m.kind, "unreachable",
                           "-", "-", "-", lag_text, why});
        }
      }
      out_ << render_table(table);
      if (leader_id != 0)
        out_ << "leader: " << leader_id << " (" << leader_addr << "), term " << leader_term
             << '\n';
      else
        out_ << "leader: none known\n";
    }
    if (leader_id == 0)
      return fail({errc::unavailable, "no reachable member knows a leader"});
    return exit_ok;
  }

  int cluster_add() {
    auto r = api_.add_member(inv_.node_id, inv_.node_address, inv_.learner);
    if (!r.ok())
      return fail(r.err());
    const char* kind = inv_.learner ? "learner" : "joining";
    if (json()) {
      emit({{"added", inv_.node_id}, {"address", inv_.node_address}, {"kind", kind},
            {"config_index", *r}});
    } else {
      out_ << "added node " << inv_.node_id << " (" << inv_.node_address << ") as "
           << (inv_.learner ? "a learner (it never votes)"
                            : "joining: it becomes a voter once it has caught up")
           << "; configuration at index " << *r << '\n';
    }
    return exit_ok;
  }

  int cluster_remove() {
    auto r = api_.remove_member(inv_.node_id);
    if (!r.ok())
      return fail(r.err());
    if (json())
      emit({{"removed", inv_.node_id}, {"config_index", *r}});
    else
      out_ << "removed node " << inv_.node_id << "; configuration at index " << *r
           << " (its process can be stopped now)\n";
    return exit_ok;
  }

  int cluster_transfer() {
    auto r = api_.transfer_leader(inv_.node_id);
    if (!r.ok())
      return fail(r.err());
    if (json())
      emit({{"leader", inv_.node_id}, {"term", *r}});
    else
      out_ << "node " << inv_.node_id << " is the leader (term " << *r << ")\n";
    return exit_ok;
  }

  int not_implemented() {
    err_ << error_line("not_implemented",
                       "`" + inv_.name + "` is not implemented yet in this build",
                       inv_.name == "watch"
                         ? "poll with `conflux get` for now"
                         : "see `conflux --help`",
                       exit_other, json())
         << '\n';
    return exit_other;
  }

  const invocation& inv_;
  cluster_access& api_;
  std::ostream& out_;
  std::ostream& err_;
};

} // namespace

bool needs_cluster(command_kind k) noexcept {
  return k != command_kind::not_implemented;
}

int execute(const invocation& inv, cluster_access& api, std::ostream& out,
            std::ostream& err) {
  return runner{inv, api, out, err}.run();
}

// -- parsing -----------------------------------------------------------------------

parse_outcome parse_command_line(const std::vector<std::string>& args,
                                 const char* env_endpoints) {
  const bool json_hint = std::find(args.begin(), args.end(), "--json") != args.end();

  CLI::App app{"conflux: the command line of a Conflux configuration cluster.\n"
               "Global options (--endpoints, --json, --timeout) go before or after "
               "the command.",
               "conflux"};
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(
    "Exit codes: 0 ok, 1 other error, 2 bad input, 3 not found or not published, "
    "4 precondition failed (revision mismatch, version in use, already exists), "
    "5 cluster unavailable (no leader, no quorum, timeout). See docs/cli.md.");

  std::string endpoints_text;
  bool json = false;
  std::int64_t timeout_ms = 5000;
  app.add_option("--endpoints", endpoints_text,
                 "HOST:PORT[,HOST:PORT...] of cluster members to contact (default: "
                 "$CONFLUX_ENDPOINTS, else 127.0.0.1:7101)");
  app.add_flag("--json", json,
               "print exactly one JSON object on stdout; errors as one JSON object "
               "{\"error\",\"message\",\"exit_code\"} on stderr");
  app.add_option("--timeout", timeout_ms,
                 "deadline of each call in milliseconds, retries included (default 5000)")
    ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));

  // Values of the one leaf command that gets parsed.
  std::string key, prefix, format_name, file, content, description, schema_file,
    rules_file, comment, consistency = "linearizable", watch_target, node_address;
  std::string if_revision, ver, node_id, from_revision;
  std::vector<std::string> versions;
  std::vector<std::string> label_texts, rule_specs;
  bool learner = false;

  auto add_key = [&](CLI::App* s) {
    s->add_option("KEY", key, "config key tenant/app/env/name")->required();
  };
  auto add_consistency = [&](CLI::App* s) {
    s->add_option("--consistency", consistency, consistency_help)
      ->check(CLI::IsMember({"linearizable", "serializable"}));
  };
  auto add_if_revision = [&](CLI::App* s) {
    s->add_option("--if-revision", if_revision,
                  "only if the config's mod revision is still R (see `config show`); "
                  "otherwise fail with exit 4 and change nothing")
      ->type_name("R");
  };
  auto add_content = [&](CLI::App* s) {
    auto* f = s->add_option("--file", file, "read the content from this file (- for stdin)");
    auto* c = s->add_option("--content", content,
                            "the content as text (use --content=TEXT if it starts with -)");
    f->excludes(c);
  };
  auto add_labels = [&](CLI::App* s) {
    s->add_option("--label", label_texts,
                  "a client label K=V; repeat for more (--label canary=true --label "
                  "region=eu)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  };

  // config
  auto* config_cmd = app.add_subcommand("config", "create, list, show and delete configs");
  config_cmd->require_subcommand(1);
  auto* config_create_cmd = config_cmd->add_subcommand(
    "create", "create a config with its first version (version 1, not released yet)");
  add_key(config_create_cmd);
  config_create_cmd
    ->add_option("--format", format_name, "json, yaml, toml, properties or text")
    ->required();
  add_content(config_create_cmd);
  config_create_cmd->add_option("--description", description,
                                "what version 1 is (kept with the version)");
  config_create_cmd->add_option("--schema", schema_file,
                                "a JSON Schema (draft 7) file every version must satisfy");
  auto* config_list_cmd =
    config_cmd->add_subcommand("list", "list configs whose key starts with PREFIX");
  config_list_cmd->add_option("PREFIX", prefix,
                              "key prefix such as tenant/app/ (default: all configs)");
  add_consistency(config_list_cmd);
  auto* config_show_cmd =
    config_cmd->add_subcommand("show", "show a config: format, revisions, release rules");
  add_key(config_show_cmd);
  add_consistency(config_show_cmd);
  auto* config_delete_cmd =
    config_cmd->add_subcommand("delete", "delete a config and every version of it");
  add_key(config_delete_cmd);
  add_if_revision(config_delete_cmd);

  // version
  auto* version_cmd =
    app.add_subcommand("version", "add, list, show and delete versions of a config");
  version_cmd->require_subcommand(1);
  auto* version_add_cmd = version_cmd->add_subcommand(
    "add", "add a version (clients do not see it until a release points at it)");
  add_key(version_add_cmd);
  add_content(version_add_cmd);
  version_add_cmd->add_option("--description", description, "what this version changes");
  add_if_revision(version_add_cmd);
  auto* version_list_cmd = version_cmd->add_subcommand(
    "list", "list versions: id, created, hash, size, the rules that release it");
  add_key(version_list_cmd);
  add_consistency(version_list_cmd);
  auto* version_show_cmd = version_cmd->add_subcommand(
    "show", "print the content of a version, exactly its bytes (--json: with metadata)");
  add_key(version_show_cmd);
  version_show_cmd->add_option("ID", ver, "version id")->type_name("UINT")->required();
  add_consistency(version_show_cmd);
  auto* version_delete_cmd = version_cmd->add_subcommand(
    "delete", "delete versions (refused for a version a release rule points at)");
  add_key(version_delete_cmd);
  version_delete_cmd->add_option("ID", versions, "version ids")->type_name("UINT ...")->required();
  add_if_revision(version_delete_cmd);

  // release
  auto* release_cmd = app.add_subcommand("release", "set or show the release rules");
  release_cmd->require_subcommand(1);
  auto* release_set_cmd = release_cmd->add_subcommand(
    "set", "replace all release rules of a config (give the complete list)");
  add_key(release_set_cmd);
  auto* rf = release_set_cmd->add_option("--rules-file", rules_file, rules_file_help);
  auto* rs = release_set_cmd->add_option("--rule", rule_specs, rule_help)
               ->expected(1)
               ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  rf->excludes(rs);
  add_if_revision(release_set_cmd);
  release_set_cmd->add_option("--comment", comment, "why (kept with the change)");
  auto* release_show_cmd =
    release_cmd->add_subcommand("show", "show the release rules in order");
  add_key(release_show_cmd);
  add_consistency(release_show_cmd);

  auto* rollback_cmd = app.add_subcommand(
    "rollback",
    "serve VERSION_ID to every client: replaces ALL release rules (canary rules "
    "included) by one default rule pointing at VERSION_ID");
  add_key(rollback_cmd);
  rollback_cmd->add_option("VERSION_ID", ver, "the version to go back to")->type_name("UINT")->required();
  add_if_revision(rollback_cmd);

  auto* get_cmd = app.add_subcommand(
    "get", "print the content a client with these labels gets, exactly its bytes");
  add_key(get_cmd);
  add_labels(get_cmd);
  add_consistency(get_cmd);

  auto* resolve_cmd = app.add_subcommand(
    "resolve", "show which rule and version a client with these labels gets");
  add_key(resolve_cmd);
  add_labels(resolve_cmd);
  add_consistency(resolve_cmd);

  auto* watch_cmd =
    app.add_subcommand("watch", "follow changes (not implemented yet in this build)");
  watch_cmd->add_option("TARGET", watch_target, "KEY or PREFIX/")->required();
  add_labels(watch_cmd);
  watch_cmd->add_option("--from-revision", from_revision, "resume after revision R");

  auto* cluster_cmd = app.add_subcommand("cluster", "cluster membership and health");
  cluster_cmd->require_subcommand(1);
  auto* cluster_status_cmd = cluster_cmd->add_subcommand(
    "status", "every member's role, term, commit and applied index, and the leader");
  auto* cluster_add_cmd =
    cluster_cmd->add_subcommand("add", "add a member: it catches up as a non-voter, then "
                                       "becomes a voter (start it with conflux-node --join)");
  cluster_add_cmd->add_option("ID", node_id, "node id")->required();
  cluster_add_cmd->add_option("ADDRESS", node_address, "HOST:PORT")->required();
  cluster_add_cmd->add_flag("--learner", learner, "add as a non-voting learner");
  auto* cluster_remove_cmd = cluster_cmd->add_subcommand(
    "remove", "remove a member (a leader hands leadership over first)");
  cluster_remove_cmd->add_option("ID", node_id, "node id")->required();
  auto* cluster_transfer_cmd = cluster_cmd->add_subcommand(
    "transfer-leader", "hand leadership to a voter; returns once it leads");
  cluster_transfer_cmd->add_option("ID", node_id, "node id")->required();

  // -- parse -----------------------------------------------------------------------
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    std::ostringstream out, err;
    parse_outcome o;
    o.exit_code = app.exit(e, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  } catch (const CLI::CallForAllHelp& e) {
    std::ostringstream out, err;
    parse_outcome o;
    o.exit_code = app.exit(e, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  } catch (const CLI::ParseError& e) {
    // The deepest command that was recognised, for the usage hint.
    std::string path;
    for (const CLI::App* a = &app;;) {
      auto subs = a->get_subcommands();
      if (subs.empty())
        break;
      a = subs.front();
      path += (path.empty() ? "" : " ") + a->get_name();
    }
    std::string what = e.what();
    return input_error(what + "; " + usage_hint(path), json_hint);
  }

  invocation inv;
  inv.global.json = json;
  inv.global.timeout = std::chrono::milliseconds{timeout_ms};
  if (app.count("--endpoints") == 0 && env_endpoints != nullptr && *env_endpoints != '\0')
    endpoints_text = env_endpoints;
  if (!endpoints_text.empty()) {
    auto eps = parse_endpoints(endpoints_text);
    if (!eps.ok())
      return input_error(
        (app.count("--endpoints") ? "--endpoints: " : "CONFLUX_ENDPOINTS: ") +
          eps.err().message,
        json);
    inv.global.endpoints = std::move(*eps);
    inv.global.endpoints_text = endpoints_text;
  }
  inv.key = key;
  inv.prefix = prefix;
  inv.read_consistency = consistency == "serializable" ? actors::consistency::serializable
                                                       : actors::consistency::linearizable;
  inv.description = description;
  inv.comment = comment;

  auto given = [](const CLI::App* a, const char* name) {
    const auto* opt = a->get_option_no_throw(name);
    return opt != nullptr && opt->count() > 0;
  };
  const CLI::App* leaf = nullptr;
  for (auto* a : {config_create_cmd, config_list_cmd, config_show_cmd, config_delete_cmd,
                  version_add_cmd, version_list_cmd, version_show_cmd, version_delete_cmd,
                  release_set_cmd, release_show_cmd, rollback_cmd, get_cmd, resolve_cmd,
                  watch_cmd, cluster_status_cmd, cluster_add_cmd, cluster_remove_cmd,
                  cluster_transfer_cmd})
    if (a->parsed())
      leaf = a;
  if (leaf == nullptr)
    return input_error("no command given; " + usage_hint(""), json);
  inv.name = leaf->get_parent() != &app ? leaf->get_parent()->get_name() + " " + leaf->get_name()
                                        : leaf->get_name();

  // -- local checks: all of them before any contact --------------------------------
  auto needs_key = leaf != config_list_cmd && leaf != cluster_status_cmd &&
                   leaf != watch_cmd && leaf != cluster_add_cmd &&
                   leaf != cluster_remove_cmd && leaf != cluster_transfer_cmd;
  if (needs_key) {
    if (auto st = check_key(key); !st.ok())
      return input_error(st.err(), json);
  }
  if (given(leaf, "--if-revision")) {
    auto r = parse_positive_number("--if-revision", if_revision);
    if (!r.ok())
      return input_error(r.err(), json);
    inv.if_revision = *r;
  }
  if (given(leaf, "--description")) {
    if (auto st = check_text("--description", description); !st.ok())
      return input_error(st.err(), json);
  }
  if (given(leaf, "--comment")) {
    if (auto st = check_text("--comment", comment); !st.ok())
      return input_error(st.err(), json);
  }
  auto read_content = [&](const CLI::App* s) -> std::optional<parse_outcome> {
    if (s->count("--file") == 0 && s->count("--content") == 0)
      return input_error("give the content with --file PATH (- for stdin) or --content TEXT; " +
                           usage_hint(inv.name),
                         json);
    if (s->count("--file") > 0) {
      auto data = read_input_file("--file", file);
      if (!data.ok())
        return input_error(data.err(), json);
      inv.content = std::move(*data);
    } else {
      inv.content = content;
    }
    return std::nullopt;
  };
  if (given(leaf, "--label")) {
    auto l = parse_labels(label_texts);
    if (!l.ok())
      return input_error(l.err(), json);
    inv.client_labels = std::move(*l);
  }

  if (leaf == config_create_cmd) {
    inv.kind = command_kind::config_create;
    auto f = parse_format(format_name);
    if (!f.ok())
      return input_error(f.err(), json);
    inv.format = *f;
    if (auto o = read_content(leaf))
      return *o;
    if (config_create_cmd->count("--schema") > 0) {
      auto s = read_input_file("--schema", schema_file);
      if (!s.ok())
        return input_error(s.err(), json);
      inv.schema = std::move(*s);
    }
    if (auto st = check_new_config(inv.format, inv.content, inv.schema); !st.ok())
      return input_error(st.err(), json);
  } else if (leaf == config_list_cmd) {
    inv.kind = command_kind::config_list;
    if (auto st = check_prefix(prefix); !st.ok())
      return input_error(st.err(), json);
  } else if (leaf == config_show_cmd) {
    inv.kind = command_kind::config_show;
  } else if (leaf == config_delete_cmd) {
    inv.kind = command_kind::config_delete;
  } else if (leaf == version_add_cmd) {
    inv.kind = command_kind::version_add;
    if (auto o = read_content(leaf))
      return *o;
  } else if (leaf == version_list_cmd) {
    inv.kind = command_kind::version_list;
  } else if (leaf == version_show_cmd) {
    inv.kind = command_kind::version_show;
    auto v = parse_positive_number("ID", ver);
    if (!v.ok())
      return input_error(v.err(), json);
    inv.version = *v;
  } else if (leaf == version_delete_cmd) {
    inv.kind = command_kind::version_delete;
    for (const auto& text : versions) {
      auto v = parse_positive_number("ID", text);
      if (!v.ok())
        return input_error(v.err(), json);
      inv.versions.push_back(*v);
    }
  } else if (leaf == release_set_cmd) {
    inv.kind = command_kind::release_set;
    if (release_set_cmd->count("--rules-file") > 0) {
      auto text = read_input_file("--rules-file", rules_file);
      if (!text.ok())
        return input_error(text.err(), json);
      auto rules = parse_rules_json(*text);
      if (!rules.ok())
        return input_error("--rules-file " + rules_file + ": " + rules.err().message, json);
      inv.rules = std::move(*rules);
    } else if (release_set_cmd->count("--rule") > 0) {
      auto rules = parse_rule_specs(rule_specs);
      if (!rules.ok())
        return input_error("--rule: " + rules.err().message, json);
      inv.rules = std::move(*rules);
    } else {
      return input_error("give the new rules with --rule SPEC ... or --rules-file FILE "
                         "(e.g. --rule canary=true:3:10 --rule '*:2'); " +
                           usage_hint("release set"),
                         json);
    }
  } else if (leaf == release_show_cmd) {
    inv.kind = command_kind::release_show;
  } else if (leaf == rollback_cmd) {
    inv.kind = command_kind::rollback;
    auto v = parse_positive_number("VERSION_ID", ver);
    if (!v.ok())
      return input_error(v.err(), json);
    inv.version = *v;
  } else if (leaf == get_cmd) {
    inv.kind = command_kind::get;
  } else if (leaf == resolve_cmd) {
    inv.kind = command_kind::resolve;
  } else if (leaf == cluster_status_cmd) {
    inv.kind = command_kind::cluster_status;
  } else if (leaf == cluster_add_cmd || leaf == cluster_remove_cmd ||
             leaf == cluster_transfer_cmd) {
    inv.kind = leaf == cluster_add_cmd      ? command_kind::cluster_add
               : leaf == cluster_remove_cmd ? command_kind::cluster_remove
                                            : command_kind::cluster_transfer;
    auto id = parse_node_id(node_id);
    if (!id.ok())
      return input_error(id.err(), json);
    inv.node_id = *id;
    if (leaf == cluster_add_cmd) {
      auto addr = parse_endpoints(node_address);
      if (!addr.ok() || addr->size() != 1 || node_address.size() > raft::max_address_size)
        return input_error(error{errc::invalid_argument,
                                 "ADDRESS '" + node_address +
                                   "' is not one HOST:PORT; give the address the new node "
                                   "listens on (its --listen), e.g. 127.0.0.1:7104"},
                           json);
      inv.node_address = node_address;
      inv.learner = learner;
    }
  } else {
    inv.kind = command_kind::not_implemented;
  }
  parse_outcome o;
  o.inv = std::move(inv);
  return o;
}

} // namespace conflux::cli
