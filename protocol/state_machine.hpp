#pragma once
// The configuration state machine: applies committed commands to a
// state_writer and answers read queries from a state_reader.
//
// Deterministic (docs/design.md, durability rule 5): ids come from counters in the
// state, time from the leader-stamped timestamp of the entry, never from this machine's
// clock; validation is a pure function of the command and the state. Every node
// applying the same log therefore holds the same bytes.
//
// Authorized at apply (docs/security.md, "Authorization"): the envelope's
// credential is resolved against the replicated auth tables with the entry's
// timestamp as cluster time, then the command's permission is checked on its
// key, so every replica reaches the same decision at the same index.
//
// A rejected command changes nothing except last_applied and the audit trail
// (which records the refusal): each command is fully checked before its first
// write.

#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"
#include "protocol/raft/types.hpp"
#include "protocol/state.hpp"
#include "protocol/validation.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace conflux {

class state_machine {
public:
  explicit state_machine(limits lim = {}) : limits_(lim) {}

  /// Applies one committed log entry. Command entries are decoded and applied;
  /// noop and membership entries only advance last_applied.
  ///
  /// Returns the command's result, which carries a command error (not_found,
  /// revision_mismatch, ...) when the command was refused. Returns an error
  /// only when the node must stop: the state failed (storage_failure,
  /// corrupted), the entry was written by a newer format (unsupported_version),
  /// or the entry is not the next one to apply (invalid_argument).
  /// REQUIRES: entry.index == st.last_applied() + 1
  expected<apply_result> apply(state_writer& st, const raft::log_entry& entry) const;

  /// Applies an already decoded command as entry `index` stamped `timestamp_ms`.
  expected<apply_result> apply(state_writer& st, std::uint64_t index,
                               std::int64_t timestamp_ms,
                               const command_envelope& env) const;

  const conflux::limits& size_limits() const noexcept { return limits_; }

  /// How often (leader-stamped time) expired sessions are swept.
  static constexpr std::int64_t session_sweep_interval_ms = 5'000;
  /// Bounds on a session's timeout.
  static constexpr std::int64_t min_session_timeout_ms = 1'000;
  static constexpr std::int64_t max_session_timeout_ms = 24 * 3600 * 1000LL;

private:
  // apply() without the audit record.
  expected<apply_result> apply_command(state_writer& st, std::uint64_t index,
                                       std::int64_t timestamp_ms,
                                       const command_envelope& env) const;

  conflux::limits limits_;
};

// -- read queries --------------------------------------------------------------
// Each verifies what it returns: a version whose SHA-256 does not match its
// content is reported as `corrupted`, never returned.

/// The config stored under key, or not_found.
expected<config> get_config(state_reader& st, std::string_view key);

/// Configs under a prefix, in key order, at most limit (0 = all). Prefixes
/// match whole segments, like a watch of PREFIX/: prefix P matches the key P
/// itself and every key that begins with P + "/"; a trailing '/' means the
/// same, and "" matches every config. So "acme/shop/prod" lists
/// acme/shop/prod/... but not acme/shop/production/... .
expected<std::vector<config>> list_configs(state_reader& st, std::string_view prefix,
                                           std::size_t limit);

/// Every version of the config, in id order, each verified.
expected<std::vector<version>> list_versions(state_reader& st, std::string_view key);

/// One version, verified; not_found if the config or the version is missing.
expected<version> get_version(state_reader& st, std::string_view key, version_id id);

/// What a client with `client` labels gets for key.
struct resolution {
  config cfg;
  version ver;
  /// Index into cfg.releases of the rule that matched.
  std::size_t rule_index = 0;
};

/// not_found if the config does not exist, not_published if no rule matches.
expected<resolution> resolve(state_reader& st, std::string_view key,
                             const labels& client);

/// Checks a version's stored hash against its content (a sealed version:
/// only the form of its blob; the node that opens it checks the rest).
status verify_version(const version& v);

/// Everything the content of a new version of c must satisfy (its format
/// and c's schema). The state machine checks it at apply; a node checks it
/// before sealing a secret's content, which the state machine cannot read.
status check_content(const config& c, std::string_view content, const limits& lim);

} // namespace conflux
