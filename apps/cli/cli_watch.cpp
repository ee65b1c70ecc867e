// `conflux watch KEY|PREFIX/`: one line per change until stopped.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"

#include <memory>

namespace conflux::cli {

namespace {

struct watch_args {
  std::string target;
  std::string from_revision;
  std::string count;
};

const char* watch_kind_name(std::uint8_t k) {
  // Indexed by rpc::watch_kind (1 config_created ... 7 resync).
  static const char* const names[] = {
      "unknown",          "config_created", "version_added", "rules_changed",
      "versions_deleted", "config_deleted", "published",     "resync"};
  static_assert(static_cast<std::uint8_t>(rpc::watch_kind::resync) == 7);
  return k < std::size(names) ? names[k] : names[0];
}

std::string join_ids(const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (auto id : ids) {
    if (!out.empty())
      out += ',';
    out += std::to_string(id);
  }
  return out;
}

} // namespace

std::atomic<bool>& watch_stop_flag() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}

std::string format_watch_event(const actors::watch_notification& n, bool json) {
  const auto& e = n.event;
  bool resync = e.kind == static_cast<std::uint8_t>(rpc::watch_kind::resync);
  if (json) {
    nlohmann::json j;
    j["revision"] = e.revision;
    j["kind"] = watch_kind_name(e.kind);
    j["key"] = e.key;
    j["node"] = n.node_id;
    if (resync) {
      auto state = nlohmann::json::array();
      for (auto& s : e.state)
        state.push_back({{"key", s.key},
                         {"config_id", s.config_id},
                         {"mod_revision", s.mod_revision},
                         {"latest_version", s.latest_version},
                         {"resolved_version", s.resolved_version},
                         {"content_hash", s.content_hash}});
      j["state"] = std::move(state);
    } else {
      j["config_id"] = e.config_id;
      j["versions"] = e.versions;
      j["content_hash"] = e.content_hash;
      j["resolved_version"] = e.resolved_version;
    }
    return dump_json(j);
  }
  std::string line = "revision=" + std::to_string(e.revision) +
                     " kind=" + watch_kind_name(e.kind) + " key=" + e.key;
  if (resync) {
    line += " keys=" + std::to_string(e.state.size());
    for (auto& s : e.state)
      line += " " + s.key + "@v" +
              std::to_string(s.resolved_version != 0 ? s.resolved_version
                                                     : s.latest_version);
    return line;
  }
  if (!e.versions.empty())
    line += " versions=" + join_ids(e.versions);
  if (e.resolved_version != 0)
    line += " resolved=" + std::to_string(e.resolved_version);
  if (!e.content_hash.empty())
    line += " hash=" + hash_prefix(e.content_hash);
  return line;
}

namespace {

int run_watch(command_context& c) {
  const auto& inv = c.inv;
  actors::watch_options w;
  w.key = inv.key;
  w.client_labels = inv.client_labels;
  w.from_revision = inv.from_revision;
  auto feed = c.api.open_watch(w);
  if (!feed)
    return c.fail({errc::unavailable, "this build cannot open a watch"});
  auto& stop = watch_stop_flag();
  std::uint64_t printed = 0;
  std::uint64_t interruptions = 0;
  // Short waits so that a stop signal is noticed quickly.
  while (!stop.load() && (inv.count == 0 || printed < inv.count)) {
    auto n = feed->next(std::chrono::milliseconds(100));
    if (!n.ok())
      return c.fail(n.err());
    // The watch goes on by itself; say so on stderr, once per interruption,
    // so that an unreachable cluster is not a silent hang.
    if (auto now = feed->interruptions(); now != interruptions) {
      interruptions = now;
      auto rev = feed->last_revision();
      c.warn("watch interrupted (" + feed->last_interruption() + "); " +
             (rev == 0 ? std::string{"retrying"}
                       : "resuming after revision " + std::to_string(rev)));
    }
    if (!*n)
      continue;
    c.out << format_watch_event(**n, c.json()) << '\n' << std::flush;
    ++printed;
  }
  return exit_ok;
}

} // namespace

void register_watch_command(command_registry& r) {
  auto a = std::make_shared<watch_args>();
  auto* cmd =
      r.command(r.top(), "watch",
                "print one line per change of KEY or of every key under PREFIX/ until "
                "SIGINT/SIGTERM (or --count events)",
                command_kind::watch, run_watch,
                [a](parse_context& ctx) -> std::optional<parse_outcome> {
                  bool is_prefix = !a->target.empty() && a->target.back() == '/';
                  auto st = is_prefix ? check_prefix(a->target) : check_key(a->target);
                  if (!st.ok())
                    return ctx.fail(st.err());
                  ctx.inv.key = a->target;
                  if (ctx.given("--from-revision")) {
                    auto rev =
                        parse_positive_number("--from-revision", a->from_revision);
                    if (!rev.ok())
                      return ctx.fail(rev.err());
                    ctx.inv.from_revision = *rev;
                  }
                  if (ctx.given("--count")) {
                    auto n = parse_event_count("--count", a->count);
                    if (!n.ok())
                      return ctx.fail(n.err());
                    ctx.inv.count = *n;
                  }
                  return std::nullopt;
                });
  cmd->add_option("TARGET", a->target, "KEY or PREFIX/")->required();
  r.add_labels(cmd);
  cmd->add_option("--from-revision", a->from_revision,
                  "start at revision R (events from R on; a resync event first if "
                  "the node no longer holds R)");
  cmd->add_option("--count", a->count, "exit 0 after N events");
}

} // namespace conflux::cli
