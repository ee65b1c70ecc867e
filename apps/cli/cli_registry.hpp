#pragma once
// Internal to the `conflux` CLI: how the command groups plug into
// parse_command_line and execute (cli_commands.hpp).
//
// Parsing: each group (cli_config.cpp, cli_version.cpp, cli_release.cpp,
// cli_read.cpp, cli_watch.cpp, cli_cluster.cpp) registers its subcommands with
// a command_registry. A command binds its options to storage the registry owns
// for it and names one handler that turns the parsed values into the
// invocation's fields, with every local check, before anything is contacted.
//
// Running: each command registers one run function taking a command_context
// (the invocation, the cluster and the two output streams); execute finds it
// by the invocation's kind.

#include "apps/cli/cli_commands.hpp"
#include "apps/cli/cli_support.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace conflux::cli {

// -- parsing ------------------------------------------------------------------

/// The option values most commands share; each command gets its own copy, so
/// a handler only ever sees what was given to its command.
struct common_args {
  std::string key;
  std::string if_revision;
  std::string description;
  std::string comment;
  std::string consistency = "linearizable";
  std::vector<std::string> labels;
  std::string file;
  std::string content;
  /// Whether the command has a KEY (checked with check_key).
  bool has_key = false;
};

/// What a command's handler works with once its command was parsed.
class parse_context {
public:
  parse_context(invocation& into, const common_args& given_args, const CLI::App& cmd)
      : inv(into), args(given_args), cmd_(cmd) {}

  invocation& inv;
  const common_args& args;

  /// Whether `option` ("--count") of this command was given.
  bool given(const char* option) const;
  /// A local input error (exit 2, or the code's exit) ending the parse.
  parse_outcome fail(const std::string& message) const;
  parse_outcome fail(const error& e) const;
  /// --file / --content into inv.content; an error if neither is given or the
  /// file cannot be read.
  std::optional<parse_outcome> read_content() const;
  /// A version id argument (`what`: "ID") into inv.version.
  std::optional<parse_outcome> version_id(const char* what,
                                          const std::string& text) const;

private:
  const CLI::App& cmd_;
};

/// A command's handler: fills the invocation, or returns the finished outcome
/// (a local input error).
using command_handler = std::function<std::optional<parse_outcome>(parse_context&)>;

class command_context;
/// A command's run function: its exit code.
using run_function = int (*)(command_context&);

class command_registry {
public:
  explicit command_registry(CLI::App& app) : app_(app) {}

  /// The app itself: the parent of top-level commands such as `get`.
  CLI::App* top() { return &app_; }

  /// A group of commands ("config"); exactly one of them must follow.
  CLI::App* group(const std::string& name, const std::string& help);
  /// A group inside a group ("auth token").
  CLI::App* group(CLI::App* parent, const std::string& name, const std::string& help);
  /// A command under `parent` (the app itself or a group) of `kind`, whose
  /// parsed values `handler` turns into an invocation that `run` executes.
  /// `handler` may be empty when the shared options say everything.
  CLI::App* command(CLI::App* parent, const std::string& name, const std::string& help,
                    command_kind kind, run_function run, command_handler handler = {});

  /// Storage of the shared options of `cmd` (a command of this registry).
  common_args& args(CLI::App* cmd);

  // The shared options, bound to args(cmd) and checked before the handler
  // runs (in this order: KEY, --if-revision, --description, --comment,
  // --label).
  void add_key(CLI::App* cmd);
  void add_consistency(CLI::App* cmd);
  void add_if_revision(CLI::App* cmd);
  /// --file / --content (one of them; the handler calls read_content).
  void add_content(CLI::App* cmd);
  void add_labels(CLI::App* cmd);
  void add_description(CLI::App* cmd, const std::string& help);
  void add_comment(CLI::App* cmd, const std::string& help);

  /// The command that was parsed, after parsing; nullptr if none.
  struct entry {
    CLI::App* app;
    command_kind kind;
    run_function run;
    command_handler handler;
    std::unique_ptr<common_args> args;
  };
  const entry* parsed() const;
  /// The command of `kind`; nullptr if none.
  const entry* find(command_kind kind) const;

private:
  CLI::App& app_;
  std::vector<entry> entries_;
};

/// Every command of the CLI, group by group.
void register_commands(command_registry& r);

/// Each group registers its commands (cli_<group>.cpp).
void register_config_commands(command_registry& r);
void register_version_commands(command_registry& r);
void register_release_commands(command_registry& r);
void register_read_commands(command_registry& r);
void register_watch_command(command_registry& r);
void register_cluster_commands(command_registry& r);
void register_auth_commands(command_registry& r);
/// `audit list | verify` (cli_audit.cpp).
void register_audit_commands(command_registry& r);
/// `kek rotate | status` (cli_kek.cpp).
void register_kek_commands(command_registry& r);
/// `release history`, in the release group (cli_audit.cpp).
void register_release_history(command_registry& r, CLI::App* release_group);

/// "run `conflux[ PATH] --help` for usage".
std::string usage_hint(const std::string& path);

/// A parse outcome ending with one error line (invalid_argument, exit 2).
parse_outcome input_error(const std::string& message, bool json);
/// A parse outcome ending with one error line for `e` (its code's exit).
parse_outcome input_error(const error& e, bool json);

// -- running ------------------------------------------------------------------

/// What a command's run function works with.
class command_context {
public:
  command_context(const invocation& parsed, cluster_access& cluster,
                  std::ostream& out_stream, std::ostream& err_stream)
      : inv(parsed), api(cluster), out(out_stream), err(err_stream) {}

  const invocation& inv;
  cluster_access& api;
  std::ostream& out;
  std::ostream& err;

  bool json() const { return inv.global.json; }
  /// Prints the error line for `e` (with the CLI's hint) and returns its exit code.
  int fail(const error& e);
  /// One JSON object on one line of stdout.
  void emit(const nlohmann::json& j);
  /// `j` as one JSON line with --json, else `text` as it is.
  void report(const nlohmann::json& j, const std::string& text);
  /// One line on stderr that is not an error ("conflux: MESSAGE", or with
  /// --json {"warning": MESSAGE}).
  void warn(const std::string& message);
  /// Reports `r`'s error and returns its exit code, or hands its value to
  /// `on_value` and returns exit_ok.
  template <class T, class F>
  int then(expected<T> r, F&& on_value) {
    if (!r.ok())
      return fail(r.err());
    on_value(*r);
    return exit_ok;
  }
  /// Submits a write; on success hands its result to `on_applied` and
  /// returns exit_ok, otherwise reports the error and returns its exit code.
  int write(command cmd, const std::function<void(const apply_result&)>& on_applied);
};

/// A command on the invocation's key, applied only if the config is still at
/// its --if-revision (when given).
template <class Command>
Command guarded_command(const invocation& inv) {
  Command cmd;
  cmd.key = inv.key;
  cmd.expected_revision = inv.if_revision;
  return cmd;
}

/// A create_config or create_version carrying the invocation's key, content
/// and description.
template <class Command>
Command new_version_command(const invocation& inv) {
  Command cmd;
  cmd.key = inv.key;
  cmd.content = inv.content;
  cmd.description = inv.description;
  return cmd;
}

/// "#1 canary=true -> version 3, priority 10".
std::string rule_line(std::size_t i, const release_rule& r);
/// The rules as a table with a header line.
std::string rules_table(const std::vector<release_rule>& rules);

} // namespace conflux::cli
