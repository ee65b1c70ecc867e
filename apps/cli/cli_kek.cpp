// `conflux kek rotate | status`: the key-encryption keys that wrap the data
// keys of secret configs (docs/security.md, "Key rotation"; cluster-admin).
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"

namespace conflux::cli {

namespace {

// Batches one rotation runs at most (each rewraps up to 256 versions): far
// more than any store holds, so the loop only ends early on a bug.
constexpr int max_rotate_batches = 100'000;

std::string counts_text(const actors::client::kek_state& s) {
  if (s.sealed.empty())
    return "no sealed versions\n";
  std::string out;
  for (auto& [id, n] : s.sealed)
    out += "  " + id + ": " + std::to_string(n) + " sealed version" +
           (n == 1 ? "" : "s") + (id == s.current ? " (current key)" : "") + "\n";
  return out;
}

nlohmann::json state_json(const actors::client::kek_state& s) {
  nlohmann::json by_key = nlohmann::json::object();
  for (auto& [id, n] : s.sealed)
    by_key[id] = n;
  return {{"current_key", s.current}, {"sealed_versions", by_key}};
}

int run_kek_status(command_context& c) {
  return c.then(c.api.kek_status(), [&](const actors::client::kek_state& s) {
    c.report(state_json(s), "current key: " + s.current + "\n" + counts_text(s));
  });
}

int run_kek_rotate(command_context& c) {
  std::uint64_t total = 0;
  for (int i = 0;; ++i) {
    if (i == max_rotate_batches)
      return c.fail(
          {errc::unavailable, "the rotation did not finish after " + std::to_string(i) +
                                  " batches; run `conflux kek status` and try again"});
    auto n = c.api.kek_rotate_batch();
    if (!n.ok())
      return c.fail(n.err());
    if (*n == 0)
      break;
    total += *n;
  }
  return c.then(c.api.kek_status(), [&](const actors::client::kek_state& s) {
    auto j = state_json(s);
    j["rewrapped"] = total;
    c.report(j,
             "rewrapped the data keys of " + std::to_string(total) + " sealed version" +
                 (total == 1 ? "" : "s") + " under key " + s.current + "\n" +
                 counts_text(s) +
                 "keys no longer listed here may now leave every node's --kek-file\n");
  });
}

} // namespace

void register_kek_commands(command_registry& r) {
  auto* group = r.group("kek", "rotate the key-encryption keys of secret configs "
                               "(cluster-admin)");
  r.command(group, "rotate",
            "wrap every secret's data key again under the nodes' current key (the "
            "first of their --kek-file); put the new key first in every node's file "
            "and restart them before",
            command_kind::kek_rotate, run_kek_rotate);
  r.command(group, "status", "how many sealed versions each key-encryption key wraps",
            command_kind::kek_status, run_kek_status);
}

} // namespace conflux::cli
