#include "apps/cli/cli_registry.hpp"

#include "apps/cli/cli_support.hpp"

namespace conflux::cli {

namespace {

const char* const consistency_help =
    "linearizable (default): reflects every write acknowledged before the read; "
    "serializable: the contacted node's state, faster, may be stale";

} // namespace

std::string usage_hint(const std::string& path) {
  return "run `conflux" + (path.empty() ? std::string{} : " " + path) +
         " --help` for usage";
}

parse_outcome input_error(const std::string& message, bool json) {
  parse_outcome o;
  o.exit_code = exit_bad_input;
  o.err =
      error_line(to_string(errc::invalid_argument), message, {}, exit_bad_input, json) +
      "\n";
  return o;
}

parse_outcome input_error(const error& e, bool json) {
  parse_outcome o;
  o.exit_code = exit_code_for(e.code);
  o.err = error_line(to_string(e.code), e.message, {}, o.exit_code, json) + "\n";
  return o;
}

// -- parse_context ------------------------------------------------------------

bool parse_context::given(const char* option) const {
  const auto* opt = cmd_.get_option_no_throw(option);
  return opt != nullptr && opt->count() > 0;
}

parse_outcome parse_context::fail(const std::string& message) const {
  return input_error(message, inv.global.json);
}

parse_outcome parse_context::fail(const error& e) const {
  return input_error(e, inv.global.json);
}

std::optional<parse_outcome> parse_context::read_content() const {
  if (!given("--file") && !given("--content"))
    return fail("give the content with --file PATH (- for stdin) or --content TEXT; " +
                usage_hint(inv.name));
  if (!given("--file")) {
    inv.content = args.content;
    return std::nullopt;
  }
  auto data = read_input_file("--file", args.file);
  if (!data.ok())
    return fail(data.err());
  inv.content = std::move(*data);
  return std::nullopt;
}

std::optional<parse_outcome> parse_context::version_id(const char* what,
                                                       const std::string& text) const {
  auto v = parse_positive_number(what, text);
  if (!v.ok())
    return fail(v.err());
  inv.version = *v;
  return std::nullopt;
}

// -- command_registry ---------------------------------------------------------

CLI::App* command_registry::group(const std::string& name, const std::string& help) {
  return group(&app_, name, help);
}

CLI::App* command_registry::group(CLI::App* parent, const std::string& name,
                                  const std::string& help) {
  auto* g = parent->add_subcommand(name, help);
  g->require_subcommand(1);
  return g;
}

CLI::App* command_registry::command(CLI::App* parent, const std::string& name,
                                    const std::string& help, command_kind kind,
                                    run_function run, command_handler handler) {
  auto* cmd = parent->add_subcommand(name, help);
  entries_.push_back(
      {cmd, kind, run, std::move(handler), std::make_unique<common_args>()});
  return cmd;
}

common_args& command_registry::args(CLI::App* cmd) {
  for (auto& e : entries_)
    if (e.app == cmd)
      return *e.args;
  throw std::logic_error("conflux cli: option added to an unregistered command");
}

void command_registry::add_key(CLI::App* cmd) {
  auto& a = args(cmd);
  a.has_key = true;
  cmd->add_option("KEY", a.key, "config key tenant/app/env/name")->required();
}

void command_registry::add_consistency(CLI::App* cmd) {
  cmd->add_option("--consistency", args(cmd).consistency, consistency_help)
      ->check(CLI::IsMember({"linearizable", "serializable"}));
}

void command_registry::add_if_revision(CLI::App* cmd) {
  cmd->add_option("--if-revision", args(cmd).if_revision,
                  "only if the config's mod revision is still R (see `config show`); "
                  "otherwise fail with exit 4 and change nothing")
      ->type_name("R");
}

void command_registry::add_content(CLI::App* cmd) {
  auto& a = args(cmd);
  auto* f = cmd->add_option("--file", a.file,
                            "read the content from this file (- for stdin)");
  auto* c =
      cmd->add_option("--content", a.content,
                      "the content as text (use --content=TEXT if it starts with -)");
  f->excludes(c);
}

void command_registry::add_labels(CLI::App* cmd) {
  cmd->add_option("--label", args(cmd).labels,
                  "a client label K=V; repeat for more (--label canary=true --label "
                  "region=eu)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void command_registry::add_description(CLI::App* cmd, const std::string& help) {
  cmd->add_option("--description", args(cmd).description, help);
}

void command_registry::add_comment(CLI::App* cmd, const std::string& help) {
  cmd->add_option("--comment", args(cmd).comment, help);
}

const command_registry::entry* command_registry::find(command_kind kind) const {
  for (const auto& e : entries_)
    if (e.kind == kind)
      return &e;
  return nullptr;
}

const command_registry::entry* command_registry::parsed() const {
  const entry* leaf = nullptr;
  for (const auto& e : entries_)
    if (e.app->parsed())
      leaf = &e;
  return leaf;
}

// -- command_context ----------------------------------------------------------

int command_context::fail(const error& e) {
  int code = exit_code_for(e.code);
  auto hint = e.code == errc::unauthenticated
                  ? token_hint(inv.global.token_file)
                  : hint_for(e.code, inv.global.endpoints_text);
  err << error_line(to_string(e.code), e.message, hint, code, json()) << '\n';
  return code;
}

void command_context::emit(const nlohmann::json& j) {
  out << dump_json(j) << '\n';
}

void command_context::warn(const std::string& message) {
  if (json())
    err << dump_json(nlohmann::json{{"warning", message}}) << '\n' << std::flush;
  else
    err << "conflux: " << message << '\n' << std::flush;
}

void command_context::report(const nlohmann::json& j, const std::string& text) {
  if (json())
    emit(j);
  else
    out << text;
}

int command_context::write(command cmd,
                           const std::function<void(const apply_result&)>& on_applied) {
  auto r = api.write(std::move(cmd));
  if (r.ok() && r->err)
    return fail(*r->err);
  return then(std::move(r), on_applied);
}

std::string rule_line(std::size_t i, const release_rule& r) {
  return "#" + std::to_string(i + 1) + " " + format_labels(r.labels) + " -> version " +
         std::to_string(r.version) + ", priority " + std::to_string(r.priority);
}

std::string rules_table(const std::vector<release_rule>& rules) {
  std::vector<std::vector<std::string>> rows{{"#", "LABELS", "VERSION", "PRIORITY"}};
  for (std::size_t i = 0; i < rules.size(); ++i)
    rows.push_back({std::to_string(i + 1), format_labels(rules[i].labels),
                    std::to_string(rules[i].version),
                    std::to_string(rules[i].priority)});
  return render_table(rows);
}

} // namespace conflux::cli
