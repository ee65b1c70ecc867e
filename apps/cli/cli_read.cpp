// `conflux get` and `conflux resolve`: what a client with given labels gets.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"

namespace conflux::cli {

namespace {

/// What a client with the invocation's labels gets.
expected<actors::resolved> resolve(command_context& c) {
  return c.api.resolve(c.inv.key, c.inv.client_labels, c.inv.read_consistency);
}

int run_get(command_context& c) {
  return c.then(resolve(c), [&](const actors::resolved& r) {
    if (!c.json()) {
      c.out.write(r.ver.content.data(),
                  static_cast<std::streamsize>(r.ver.content.size()));
      c.out.flush();
      return;
    }
    nlohmann::json j{{"key", c.inv.key},
                     {"version_id", r.ver.id},
                     {"rule_index", r.rule_index},
                     {"revision", r.meta.revision},
                     {"mod_revision", r.cfg.mod_revision},
                     {"format", to_string(r.ver.format)},
                     {"content_hash", r.ver.content_hash}};
    put_content(j, r.ver.content);
    c.emit(j);
  });
}

void print_resolved(command_context& c, const actors::resolved& r,
                    const std::optional<release_rule>& rule) {
  const auto& labels = c.inv.client_labels;
  if (c.json()) {
    nlohmann::json lbl = nlohmann::json::object();
    for (const auto& [k, v] : labels)
      lbl[k] = v;
    c.emit({{"key", c.inv.key},
            {"labels", lbl},
            {"rule_index", r.rule_index},
            {"rule", rule ? rule_to_json(*rule) : nlohmann::json(nullptr)},
            {"version_id", r.ver.id},
            {"content_hash", r.ver.content_hash},
            {"mod_revision", r.cfg.mod_revision},
            {"revision", r.meta.revision}});
    return;
  }
  c.out << "key:      " << c.inv.key << '\n'
        << "labels:   "
        << (labels.empty() ? std::string{"(none)"} : format_labels(labels)) << '\n'
        << "rule:     #" << (r.rule_index + 1);
  if (rule)
    c.out << " " << format_labels(rule->labels)
          << (rule->labels.empty() ? " (default rule)" : "") << ", priority "
          << rule->priority;
  c.out << '\n'
        << "version:  " << r.ver.id << " (created " << format_time(r.ver.created_at_ms)
        << ", hash " << hash_prefix(r.ver.content_hash) << ")\n"
        << "revision: " << r.meta.revision << '\n';
}

int run_resolve(command_context& c) {
  return c.then(resolve(c), [&](const actors::resolved& r) {
    std::optional<release_rule> rule;
    if (r.rule_index < r.cfg.releases.size())
      rule = r.cfg.releases[r.rule_index];
    print_resolved(c, r, rule);
  });
}

} // namespace

void register_read_commands(command_registry& r) {
  auto* get =
      r.command(r.top(), "get",
                "print the content a client with these labels gets, exactly its bytes",
                command_kind::get, run_get);
  r.add_key(get);
  r.add_labels(get);
  r.add_consistency(get);
  auto* resolve = r.command(
      r.top(), "resolve", "show which rule and version a client with these labels gets",
      command_kind::resolve, run_resolve);
  r.add_key(resolve);
  r.add_labels(resolve);
  r.add_consistency(resolve);
}

} // namespace conflux::cli
