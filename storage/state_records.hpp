#pragma once
// How the configuration state is laid out in the state environment
// (`<data>/state`): the database names, the key encodings and the record
// reads and writes that state_read_txn and state_write_txn forward to
// (storage/FORMAT.md "State environment"). Free functions over a caller's
// txn; they hold no state and are safe from any thread that may use the txn.
//
// Records are msgpack (protocol/codec.hpp) inside the checksummed value frame
// (storage/record.hpp). A record that fails its checksum, does not decode, or
// whose decoded id disagrees with its key comes back as errc::corrupted naming
// the database and key.

#include "protocol/auth.hpp"
#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"
#include "protocol/state.hpp"
#include "storage/lmdb.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conflux::storage {

/// Database names in the state environment.
namespace state_db {
constexpr const char* configs = "configs";
constexpr const char* keys = "keys";
constexpr const char* versions = "versions";
constexpr const char* sessions = "sessions";
constexpr const char* meta = "meta";
constexpr const char* audit = "audit";
constexpr const char* principals = "principals";
constexpr const char* tokens = "tokens";
constexpr const char* roles = "roles";
constexpr const char* tenants = "tenants";
} // namespace state_db

/// Meta record names of the state environment (besides identity.hpp's).
namespace state_meta_key {
constexpr std::string_view last_applied = "last_applied";
constexpr std::string_view audit_chain = "audit.chain";
} // namespace state_meta_key

/// The meta key of a counter ("counter.last_config_id", ...).
std::string_view counter_key(counter c) noexcept;

/// The open database handles of a state environment plus LMDB's key limit.
/// Plain values, copied into every txn object.
struct state_dbis {
  lmdb::dbi configs;
  lmdb::dbi keys;
  lmdb::dbi versions;
  lmdb::dbi sessions;
  lmdb::dbi meta;
  lmdb::dbi audit;
  lmdb::dbi principals;
  lmdb::dbi tokens;
  lmdb::dbi roles;
  lmdb::dbi tenants;
  std::size_t max_key_size = 511;
};

// -- reads (any txn) ------------------------------------------------------------

expected<std::optional<config>> read_config(const lmdb::txn& t, const state_dbis& d,
                                            config_id id);
expected<std::optional<config_id>>
read_config_id(const lmdb::txn& t, const state_dbis& d, std::string_view key);
expected<std::vector<std::pair<std::string, config_id>>>
read_keys(const lmdb::txn& t, const state_dbis& d, std::string_view prefix,
          std::size_t limit);
expected<std::optional<version>> read_version(const lmdb::txn& t, const state_dbis& d,
                                              config_id config, version_id id);
expected<std::vector<version>> read_versions(const lmdb::txn& t, const state_dbis& d,
                                             config_id config);
expected<std::optional<client_session>>
read_session(const lmdb::txn& t, const state_dbis& d, session_id id);
expected<std::vector<client_session>> read_sessions(const lmdb::txn& t,
                                                    const state_dbis& d);
expected<std::uint64_t> read_counter(const lmdb::txn& t, const state_dbis& d,
                                     counter c);
expected<std::uint64_t> read_last_applied(const lmdb::txn& t, const state_dbis& d);
expected<std::optional<audit::record>> read_audit(const lmdb::txn& t, const state_dbis& d,
                                                  std::uint64_t seq);
expected<std::vector<audit::record>> read_audits(const lmdb::txn& t, const state_dbis& d,
                                                 std::uint64_t from, std::size_t limit);
expected<audit::chain> read_audit_chain(const lmdb::txn& t, const state_dbis& d);
expected<std::optional<auth::principal>>
read_principal(const lmdb::txn& t, const state_dbis& d, std::string_view name);
expected<std::optional<auth::principal>>
read_principal_by_token(const lmdb::txn& t, const state_dbis& d, std::string_view hash);
expected<std::vector<auth::principal>> read_principals(const lmdb::txn& t,
                                                       const state_dbis& d);
expected<std::optional<auth::role>> read_role(const lmdb::txn& t, const state_dbis& d,
                                              std::string_view name);
expected<std::vector<auth::role>> read_roles(const lmdb::txn& t, const state_dbis& d);
expected<std::optional<auth::tenant>>
read_tenant(const lmdb::txn& t, const state_dbis& d, std::string_view name);
expected<std::vector<auth::tenant>> read_tenants(const lmdb::txn& t,
                                                 const state_dbis& d);

// -- writes (REQUIRES: a write txn) --------------------------------------------------

status write_config(lmdb::txn& t, const state_dbis& d, const config& c);
status remove_config(lmdb::txn& t, const state_dbis& d, config_id id);
/// too_large if the key exceeds LMDB's key limit, invalid_argument if empty.
status write_key(lmdb::txn& t, const state_dbis& d, std::string_view key, config_id id);
status remove_key(lmdb::txn& t, const state_dbis& d, std::string_view key);
status write_version(lmdb::txn& t, const state_dbis& d, const version& v);
status remove_version(lmdb::txn& t, const state_dbis& d, config_id config,
                      version_id id);
status write_session(lmdb::txn& t, const state_dbis& d, const client_session& s);
status remove_session(lmdb::txn& t, const state_dbis& d, session_id id);
status write_counter(lmdb::txn& t, const state_dbis& d, counter c, std::uint64_t value);
status write_last_applied(lmdb::txn& t, const state_dbis& d, std::uint64_t index);
status write_audit(lmdb::txn& t, const state_dbis& d, const audit::record& r);
status remove_audit(lmdb::txn& t, const state_dbis& d, std::uint64_t seq);
status write_audit_chain(lmdb::txn& t, const state_dbis& d, const audit::chain& c);
/// Also moves the token index entry when the principal's hash changed.
status write_principal(lmdb::txn& t, const state_dbis& d, const auth::principal& p);
status write_role(lmdb::txn& t, const state_dbis& d, const auth::role& r);
status remove_role(lmdb::txn& t, const state_dbis& d, std::string_view name);
status write_tenant(lmdb::txn& t, const state_dbis& d, const auth::tenant& x);

} // namespace conflux::storage
