#pragma once
// The seam between the configuration state machine (protocol) and whatever
// persists its state: storage/state_store implements it over one LMDB write
// transaction, protocol/memory_state is the in-memory twin used by tests.
// Both are exercised by the same black-box tests (tests/protocol/state_contract.hpp).
//
// Every call may fail with storage_failure or corrupted; the state machine
// passes such errors up unchanged and the node stops (docs/design.md,
// durability rule 6).

#include "protocol/audit.hpp"
#include "protocol/auth.hpp"
#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conflux {

/// Named counters kept in the state (ids come from here, never from a clock).
enum class counter : std::uint8_t {
  /// Last config id assigned.
  last_config_id = 1,
  /// Last session id assigned.
  last_session_id = 2,
  /// Leader-stamped time of the last session-expiry sweep.
  session_sweep_ms = 3,
  /// The log index of the bootstrap_auth that was applied; 0 = never
  /// bootstrapped (the only state in which bootstrap_auth is accepted).
  auth_bootstrapped = 4,
  /// Leader-stamped time of the last applied entry: the floor of cluster
  /// time for a node whose log was compacted away (protocol/cluster_clock.hpp).
  /// Written by the node's applier in the apply transaction, so it travels in
  /// snapshots. (The numbers only tell counters apart in memory; storage keys
  /// them by name.)
  applied_timestamp_ms = 10,
};

/// A consistent read view.
class state_reader {
public:
  virtual ~state_reader() = default;

  virtual expected<std::optional<config>> find_config(config_id id) = 0;
  virtual expected<std::optional<config_id>> find_config_id(std::string_view key) = 0;
  /// Keys starting with the bytes of prefix, in byte order, at most limit
  /// (0 = no limit). list_configs builds its whole-segment match on it.
  virtual expected<std::vector<std::pair<std::string, config_id>>>
  list_keys(std::string_view prefix, std::size_t limit) = 0;
  /// The stored record as written; the state machine verifies its hash.
  virtual expected<std::optional<version>> find_version(config_id config,
                                                        version_id id) = 0;
  /// Every version of a config, in id order.
  virtual expected<std::vector<version>> list_versions(config_id config) = 0;
  virtual expected<std::optional<client_session>> find_session(session_id id) = 0;
  /// Every session, in id order.
  virtual expected<std::vector<client_session>> list_sessions() = 0;
  /// 0 if never set.
  virtual expected<std::uint64_t> get_counter(counter c) = 0;

  // -- authorization tables (protocol/auth.hpp) --
  virtual expected<std::optional<auth::principal>>
  find_principal(std::string_view name) = 0;
  /// The principal whose token_hash is `hash` (revoked ones too).
  virtual expected<std::optional<auth::principal>>
  find_principal_by_token(std::string_view hash) = 0;
  /// Every principal, in name order.
  virtual expected<std::vector<auth::principal>> list_principals() = 0;
  virtual expected<std::optional<auth::role>> find_role(std::string_view name) = 0;
  /// Every role, in name order.
  virtual expected<std::vector<auth::role>> list_roles() = 0;
  virtual expected<std::optional<auth::tenant>> find_tenant(std::string_view name) = 0;
  /// Every tenant with quotas set or anything stored, in name order.
  virtual expected<std::vector<auth::tenant>> list_tenants() = 0;

  /// Index of the last applied log entry, 0 if none.
  virtual expected<std::uint64_t> last_applied() = 0;

  // -- the audit trail (protocol/audit.hpp) --
  /// The audit record with this seq; nullopt if none (dropped or not yet).
  virtual expected<std::optional<audit::record>> find_audit(std::uint64_t seq) = 0;
  /// Audit records with seq >= from, in seq order, at most limit (0 = no limit).
  virtual expected<std::vector<audit::record>> list_audit(std::uint64_t from,
                                                          std::size_t limit) = 0;
  /// The chain's base, head and retention; a fresh chain if never written.
  virtual expected<audit::chain> get_audit_chain() = 0;
};

/// A read view that can also write; all writes of one apply batch are atomic
/// together with set_last_applied.
class state_writer : public state_reader {
public:
  /// Inserts or replaces the config record (not the key index).
  virtual status put_config(const config& c) = 0;
  virtual status erase_config(config_id id) = 0;
  virtual status put_key(std::string_view key, config_id id) = 0;
  virtual status erase_key(std::string_view key) = 0;
  virtual status put_version(const version& v) = 0;
  virtual status erase_version(config_id config, version_id id) = 0;
  virtual status put_session(const client_session& s) = 0;
  virtual status erase_session(session_id id) = 0;
  virtual status set_counter(counter c, std::uint64_t value) = 0;
  /// Inserts or replaces the principal under its name and keeps the token
  /// index in step (a replaced token hash no longer finds it).
  virtual status put_principal(const auth::principal& p) = 0;
  virtual status put_role(const auth::role& r) = 0;
  virtual status erase_role(std::string_view name) = 0;
  virtual status put_tenant(const auth::tenant& t) = 0;
  virtual status set_last_applied(std::uint64_t index) = 0;

  virtual status put_audit(const audit::record& r) = 0;
  virtual status erase_audit(std::uint64_t seq) = 0;
  virtual status set_audit_chain(const audit::chain& c) = 0;
};

} // namespace conflux
