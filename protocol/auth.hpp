#pragma once
// Who may do what (docs/security.md, "Authorization"): principals reached by
// a token, roles that grant permissions on key patterns, tenants with quotas.
//
// Pure values and pure functions: the state machine decides every write with
// them inside the apply transaction, against the replicated tables and the
// entry's cluster time, so every replica reaches the same decision at the
// same log index; a node decides reads with them in the read transaction that
// reads the data.

#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::auth {

/// One permission; a perm_set is a bitwise OR of them.
enum perm : std::uint32_t {
  /// get, resolve, list, list versions, watch (secret content needs read_secret).
  read = 1u << 0,
  /// create configs and versions (which no client sees until released).
  write = 1u << 1,
  /// release rules, publish, rollback.
  release = 1u << 2,
  /// delete configs and versions.
  del = 1u << 3,
  /// the plaintext of secret configs.
  read_secret = 1u << 4,
  /// create and delete roles whose grants lie within the pattern.
  admin = 1u << 5,
  /// cluster-wide (pattern "*" only): membership, leadership, tokens, roles,
  /// tenants.
  cluster_admin = 1u << 6,
  /// cluster-wide (pattern "*" only): the audit trail.
  auditor = 1u << 7,
};
using perm_set = std::uint32_t;

/// Permissions that make sense only cluster-wide (granted on pattern "*").
constexpr perm_set cluster_perms = cluster_admin | auditor;
constexpr perm_set all_perms =
    read | write | release | del | read_secret | admin | cluster_admin | auditor;

/// "read,write" -> read|write. Names: read, write, release, delete,
/// read-secret, admin, cluster-admin, auditor. invalid_argument names the
/// unknown word and lists the valid ones.
expected<perm_set> parse_permissions(std::string_view csv);
/// The names of the permissions in set, comma-separated, in the order above.
std::string permissions_to_string(perm_set set);

/// A key pattern: 1..4 '/'-separated segments, each either a literal segment
/// (the key syntax's characters) or "*" (any one segment). A pattern matches a
/// key when every pattern segment matches the key's segment at the same
/// position; a shorter pattern covers the keys below it ("acme/pay" covers
/// acme/pay/prod/db but never acme/payroll/...). Case-sensitive, like keys.
/// "*" alone covers every key. No "..", no empty segment, no "**".
status validate_pattern(std::string_view pattern);
/// REQUIRES: validate_pattern(pattern) is ok.
bool pattern_matches(std::string_view pattern, std::string_view key);
/// Every key `inner` covers is covered by `outer` (used for `admin`).
bool pattern_within(std::string_view inner, std::string_view outer);

struct grant {
  std::string pattern;
  perm_set perms = 0;

  friend bool operator==(const grant& a, const grant& b) {
    return a.pattern == b.pattern && a.perms == b.perms;
  }
};

/// "PATTERN:PERM,PERM" (the CLI's --allow). cluster_admin and auditor only
/// with pattern "*".
expected<grant> parse_grant(std::string_view text);
std::string to_string(const grant& g);

/// Role and principal names: 1..64 of [a-z0-9._-], starting with a letter
/// or digit.
status validate_name(std::string_view what, std::string_view name);

struct role {
  std::string name;
  std::vector<grant> grants;

  friend bool operator==(const role& a, const role& b) {
    return a.name == b.name && a.grants == b.grants;
  }
};

/// The role bootstrap creates: every permission on "*".
inline constexpr std::string_view bootstrap_role = "cluster-admin";

/// A principal and the one token that reaches it. The state keeps only the
/// token's SHA-256 (token_hash); the token itself is shown once, when made.
struct principal {
  std::string name;
  /// token_hash(token text): 64 lowercase hex characters.
  std::string token_hash;
  std::vector<std::string> roles;
  /// Cluster time (ms) from which the token no longer works; 0 = never.
  std::int64_t expires_at_ms = 0;
  /// Revoked: kept so the name is not silently reused and the audit trail
  /// still resolves it.
  bool disabled = false;
  std::int64_t created_at_ms = 0;
  revision_t created_revision = 0;
  /// The principal that made it ("" for the bootstrap principal).
  std::string created_by;

  friend bool operator==(const principal& a, const principal& b) {
    return a.name == b.name && a.token_hash == b.token_hash && a.roles == b.roles &&
           a.expires_at_ms == b.expires_at_ms && a.disabled == b.disabled &&
           a.created_at_ms == b.created_at_ms &&
           a.created_revision == b.created_revision && a.created_by == b.created_by;
  }
};

/// A tenant: the first segment of a key. Quotas 0 = no quota of that kind.
struct tenant {
  std::string name;
  std::uint64_t max_configs = 0;
  std::uint64_t max_versions = 0;
  /// Bytes of version content stored.
  std::uint64_t max_bytes = 0;
  /// Requests per second each principal may send for this tenant's keys, on
  /// each node (0 = the node's --default-rate).
  std::uint64_t rate = 0;
  /// What the tenant holds now (kept at apply for every tenant, with or
  /// without quotas).
  std::uint64_t configs = 0;
  std::uint64_t versions = 0;
  std::uint64_t bytes = 0;

  friend bool operator==(const tenant& a, const tenant& b) {
    return a.name == b.name && a.max_configs == b.max_configs &&
           a.max_versions == b.max_versions && a.max_bytes == b.max_bytes &&
           a.rate == b.rate && a.configs == b.configs && a.versions == b.versions &&
           a.bytes == b.bytes;
  }
};

/// The tenant of a key: its first segment.
std::string_view tenant_of(std::string_view key);

/// Tokens are "cfx_" followed by 64 lowercase hex characters (256 random
/// bits). invalid_argument says what is wrong without echoing the token.
status validate_token_text(std::string_view token);
/// SHA-256 (hex) of the token text: what the state stores and what a
/// command envelope carries as its credential.
std::string token_hash(std::string_view token);
/// A token hash as commands carry it: 64 lowercase hex characters.
status validate_token_hash(std::string_view hash);

/// A principal resolved with its roles, as one decision needs it.
struct access {
  principal who;
  std::vector<role> roles;

  /// The permissions granted on key by any grant of any role.
  perm_set on(std::string_view key) const;
  /// The cluster-wide permissions (cluster_admin, auditor).
  perm_set cluster() const;
  bool may(perm_set need, std::string_view key) const {
    return (on(key) & need) == need;
  }
};

/// unauthenticated when the principal is missing, disabled or expired at
/// now_ms (cluster time). The message never contains the token or its hash.
status check_principal(const principal* p, std::int64_t now_ms);

/// permission_denied naming the principal, what it tried, the key and the
/// permission it lacks, and what to ask for.
error denied(const access& a, perm_set need, std::string_view what,
             std::string_view key);

} // namespace conflux::auth
