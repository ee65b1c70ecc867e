#pragma once
// The commands of the configuration state machine (docs/design.md, Data model), the
// envelope a Raft log entry carries, and the result every applied command produces.

#include "protocol/auth.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace conflux {

/// Sealed content (docs/security.md, "Secret configs"). A client sends the
/// plaintext of a secret; the node that admits the write validates it, seals
/// it with its current key-encryption key (secret::seal, the config key as
/// context) and replaces `content` with the blob, sets `sealed` and puts the
/// keyed hash here. A client never sets it (the node refuses). At apply,
/// sealed content is accepted for secret configs only, and only sealed
/// content for them. Commands before format 5 have none.
struct sealing {
  bool sealed = false;
  /// secret::content_hash of the plaintext (64 hex) when sealed, else "".
  std::string content_hash;

  friend bool operator==(const sealing& a, const sealing& b) {
    return a.sealed == b.sealed && a.content_hash == b.content_hash;
  }
};

/// Creates a config together with its first version (id 1).
struct create_config {
  std::string key;
  content_format format = content_format::text;
  std::optional<std::string> schema;
  std::string content;
  std::string description;
  std::string creator;
  /// A secret config (fixed for its life). false before format 5.
  bool secret = false;
  conflux::sealing sealing{};
};

/// Adds a version. Never changes what clients see (only a release does).
struct create_version {
  std::string key;
  std::string content;
  std::string description;
  std::string creator;
  std::optional<revision_t> expected_revision;
  conflux::sealing sealing{};
};

/// Replaces the release rules. A rollback is this with rules pointing back.
struct update_release_rules {
  std::string key;
  std::vector<release_rule> rules;
  std::string comment;
  std::optional<revision_t> expected_revision;
};

/// Adds a version and replaces the rules in one step. A rule whose version is
/// 0 refers to the version this command creates.
struct publish {
  std::string key;
  std::string content;
  std::string description;
  std::string creator;
  std::vector<release_rule> rules;
  std::optional<revision_t> expected_revision;
  /// Why (kept in the audit trail). "" in commands before format 4.
  std::string comment{};
  conflux::sealing sealing{};
};

/// Deletes a config and all its versions. Its key may be created again later
/// (with a new config id). Refused with version_in_use while a release rule
/// points at one of its versions (clients read and watch it), unless `force`.
struct delete_config {
  std::string key;
  std::optional<revision_t> expected_revision;
  /// Delete even while release rules point at the config's versions. Entries
  /// written before this field existed decode with force = true, the
  /// behaviour they were applied with.
  bool force = false;
};

/// Deletes versions; refused if any is referenced by a release rule.
struct delete_versions {
  std::string key;
  std::vector<version_id> versions;
  std::optional<revision_t> expected_revision;
};

/// Opens an exactly-once client session (docs/design.md, Client sessions). The session
/// expires when no command of it arrives for timeout_ms of leader-stamped time.
/// It belongs to the envelope's `caller` and to the principal of its
/// credential: commands of another caller or principal on it are refused
/// with permission_denied.
struct open_session {
  std::int64_t timeout_ms = 60'000;
  /// The new session's id: 64 random bits that the node receiving the
  /// request draws (the protocol has no randomness of its own), so that no
  /// other client can guess it; the state machine refuses 0 and an id in
  /// use. Empty only in commands of format 1 and 2, written before ids were
  /// random: those take the next sequential id, as they did then. An empty id
  /// is encoded as 0 (refused): a node never proposes one.
  std::optional<session_id> id;
};

struct keep_alive {
  session_id session = 0;
};

struct close_session {
  session_id session = 0;
};

// -- authorization (docs/security.md, "Authorization") ---------------------------
// Every command below but bootstrap_auth needs cluster_admin (put_role and
// delete_role also accept admin on patterns covering every grant involved).

/// Creates the role "cluster-admin" (every permission on "*") and the first
/// principal with that role. Applied once, without a credential: refused
/// already_exists once auth was bootstrapped. Only the leader proposes it
/// (node flag --bootstrap-token-hash); nodes refuse it from clients.
struct bootstrap_auth {
  std::string principal;
  /// auth::token_hash of the operator's token.
  std::string token_hash;
};

/// Makes a principal reached by the token whose hash is given (the CLI draws
/// the token; no raw token enters the log). Refused already_exists while a
/// live (not revoked, not expired) principal has the name, or when another
/// principal holds the hash; not_found for a role that does not exist.
struct create_token {
  std::string principal;
  std::string token_hash;
  std::vector<std::string> roles;
  /// Lifetime from the entry's cluster time; 0 = never expires.
  std::int64_t ttl_ms = 0;
};

/// Disables a principal's token from this entry on (the record stays).
struct revoke_token {
  std::string principal;
};

/// Replaces the roles of a live principal.
struct set_token_roles {
  std::string principal;
  std::vector<std::string> roles;
};

/// Creates a role, or replaces it when `replace` (else already_exists).
struct put_role {
  auth::role role;
  bool replace = false;
};

/// Deletes a role; refused invalid_argument while a live principal has it.
struct delete_role {
  std::string name;
};

/// Sets a tenant's quotas and rate (0 = none / the node default); keeps its
/// usage counters.
struct set_tenant {
  std::string tenant;
  std::uint64_t max_configs = 0;
  std::uint64_t max_versions = 0;
  std::uint64_t max_bytes = 0;
  std::uint64_t rate = 0;
};

/// Bounds the audit trail (protocol/audit.hpp): at most max_records records
/// are kept, the oldest dropped first. Refused with invalid_argument outside
/// audit::min_max_records..audit::max_max_records. Needs cluster_admin.
struct set_audit_retention {
  std::uint64_t max_records = 0;
};

/// One sealed version whose data key a node wrapped again under its current
/// key-encryption key (`conflux kek rotate`).
struct rewrapped_version {
  std::string key;
  version_id version = 0;
  /// The new blob: the stored one's content ciphertext byte for byte
  /// (secret::same_content), its data key wrapped under another KEK.
  std::string blob;

  friend bool operator==(const rewrapped_version& a, const rewrapped_version& b) {
    return a.key == b.key && a.version == b.version && a.blob == b.blob;
  }
};

/// Replaces the wrapped data keys of sealed versions. Needs cluster_admin.
/// A version deleted meanwhile is skipped; a blob whose content is not the
/// stored one's is refused (invalid_argument), and so is the whole command.
/// At most max_rewrap_items items.
struct rewrap_secrets {
  std::vector<rewrapped_version> items;
};
constexpr std::size_t max_rewrap_items = 1024;

// New alternatives go at the end: the wire tag is the variant index + 1.
using command = std::variant<create_config, create_version, update_release_rules,
                             publish, delete_config, delete_versions, open_session,
                             keep_alive, close_session, bootstrap_auth, create_token,
                             revoke_token, set_token_roles, put_role, delete_role,
                             set_tenant, set_audit_retention, rewrap_secrets>;

/// What a log entry of kind `command` carries. (session, sequence) makes a
/// write exactly-once: session 0 means "no session" (applied every time).
struct command_envelope {
  command_envelope() = default;
  command_envelope(session_id s, std::uint64_t seq, conflux::command c,
                   std::string who = {}, std::string cred = {})
      : session(s), sequence(seq), cmd(std::move(c)), caller(std::move(who)),
        credential(std::move(cred)) {}

  session_id session = 0;
  std::uint64_t sequence = 0;
  conflux::command cmd;
  /// The authenticated identity of the connection that sent the command
  /// (`conflux://C/client/NAME`; "" in plain text, from a local actor, and in
  /// commands of format 1 and 2). Stamped by the node that received the
  /// request, overwriting whatever the client put here.
  std::string caller;
  /// auth::token_hash of the token the sending session presented: the state
  /// machine resolves it to a principal at apply. Stamped by the node that
  /// admitted the request, never taken from the client. "" in commands before
  /// format 4 (and in bootstrap_auth): such a command is refused
  /// unauthenticated, bootstrap_auth excepted.
  std::string credential{};
  /// The client's network address as that node saw it ("" if unknown), for
  /// the audit trail.
  std::string origin{};
};

/// The outcome of applying one command, identical on every node. Kept per
/// session so a retried sequence gets the same answer without re-applying.
struct apply_result {
  /// Empty when the command succeeded.
  std::optional<error> err;
  /// The revision (log index) of the entry.
  revision_t revision = 0;
  config_id config = 0;
  /// The version a create_config / create_version / publish made.
  version_id version = 0;
  /// The session open_session made.
  session_id session = 0;

  bool ok() const noexcept { return !err.has_value(); }

  friend bool operator==(const apply_result& a, const apply_result& b) {
    return a.err == b.err && a.revision == b.revision && a.config == b.config &&
           a.version == b.version && a.session == b.session;
  }
};

/// A replicated client session as the state stores it.
struct client_session {
  session_id id = 0;
  /// The caller that opened the session; only it may send commands on it.
  /// "" for sessions stored before owners were recorded (record format 1).
  std::string owner;
  /// The principal that opened it; commands of any other principal on it are
  /// refused permission_denied. "" for sessions stored before record format 3
  /// (no principal's command may use them).
  std::string principal{};
  std::int64_t timeout_ms = 0;
  /// Leader-stamped time of the last command of this session.
  std::int64_t last_active_ms = 0;
  /// The highest sequence applied and its result.
  std::uint64_t last_sequence = 0;
  apply_result last_result;

  friend bool operator==(const client_session& a, const client_session& b) {
    return a.id == b.id && a.owner == b.owner && a.principal == b.principal &&
           a.timeout_ms == b.timeout_ms && a.last_active_ms == b.last_active_ms &&
           a.last_sequence == b.last_sequence && a.last_result == b.last_result;
  }
};

} // namespace conflux
