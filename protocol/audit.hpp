#pragma once
// The audit trail (docs/security.md, "Audit trail"): one record per applied
// config mutation or auth change, refused or not, written by the state
// machine in the apply transaction of its entry, so every replica holds the
// same records with the same hashes.
//
// The records form a hash chain: h_0 is 32 zero bytes and
//   h_i = SHA-256(h_{i-1} || encode_for_hash(record_i))
// where h is the raw 32-byte digest (records and replies show it as 64
// lowercase hex characters). Retention drops the oldest records but keeps the
// sequence number and hash of the last one dropped (the chain's base), so the
// records kept still verify from there. Changing, removing or reordering any
// kept record changes every later hash.
//
// A record never holds secret content or token hashes: it names the
// principal, never the credential, and content never enters it (a version is
// named by its id only).
//
// Pure values and pure functions, like the rest of protocol/.

#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conflux {
class state_reader;
class state_writer;
} // namespace conflux

namespace conflux::audit {

/// The retention a state starts with, and the bounds of set_audit_retention.
constexpr std::uint64_t default_max_records = 1'000'000;
constexpr std::uint64_t min_max_records = 1;
constexpr std::uint64_t max_max_records = 1'000'000'000;

/// h_0: the hash before the first record (64 hex zeros).
std::string genesis_hash();

struct record {
  /// 1, 2, 3, ... with no gap, over the whole life of the trail.
  std::uint64_t seq = 0;
  /// The log index of the entry that carried the command.
  revision_t revision = 0;
  /// The entry's leader-stamped time.
  std::int64_t time_ms = 0;
  /// The principal the command's credential resolved to ("" when none did).
  std::string principal;
  /// The client's network address as the admitting node saw it ("" unknown).
  std::string origin;
  /// The certificate identity of the connection that sent the command.
  std::string identity;
  /// A stable lowercase operation name (op_name).
  std::string op;
  /// The config key, or the auth object (principal, role, tenant) named.
  std::string key;
  /// The versions concerned: created (create_config, create_version,
  /// publish), deleted (delete_versions) or released (the versions the
  /// command's rules point at).
  std::vector<version_id> versions;
  /// The config's release rules before and after the command (equal when it
  /// was refused or does not touch rules; empty when there is no config).
  std::vector<release_rule> rules_before;
  std::vector<release_rule> rules_after;
  /// The release comment, or the description of a new version.
  std::string comment;
  /// 0 when the command succeeded, otherwise the errc it was refused with.
  std::uint8_t code = 0;
  std::string message;
  /// h_seq, 64 lowercase hex characters. Not part of what is hashed.
  std::string hash;

  friend bool operator==(const record& a, const record& b) {
    return a.seq == b.seq && a.revision == b.revision && a.time_ms == b.time_ms &&
           a.principal == b.principal && a.origin == b.origin &&
           a.identity == b.identity && a.op == b.op && a.key == b.key &&
           a.versions == b.versions && a.rules_before == b.rules_before &&
           a.rules_after == b.rules_after && a.comment == b.comment &&
           a.code == b.code && a.message == b.message && a.hash == b.hash;
  }
};

/// Where the kept records begin and end, and the retention setting. One
/// record of the state (FORMAT.md, meta key "audit.chain").
struct chain {
  /// The seq of the last record dropped by retention (0: none dropped) and
  /// the chain hash there (genesis_hash() when none).
  std::uint64_t base_seq = 0;
  std::string base_hash = genesis_hash();
  /// The seq and hash of the newest record (== base when there is none).
  std::uint64_t head_seq = 0;
  std::string head_hash = genesis_hash();
  /// Records kept at most (set_audit_retention).
  std::uint64_t max_records = default_max_records;

  friend bool operator==(const chain& a, const chain& b) {
    return a.base_seq == b.base_seq && a.base_hash == b.base_hash &&
           a.head_seq == b.head_seq && a.head_hash == b.head_hash &&
           a.max_records == b.max_records;
  }
};

/// The stable name of a command for the trail, or "" when the command is not
/// audited (session open, keep-alive and close change neither configs nor
/// auth).
std::string_view op_name(const command& cmd);

/// The bytes hashed for a record: its encoding without `hash`.
std::string encode_for_hash(const record& r);
/// h_i from h_{i-1} (hex) and record i.
std::string chain_hash(std::string_view prev_hex, const record& r);

/// Format version of stored audit records and chain records.
constexpr std::uint8_t record_format_version = 1;
std::string encode(const record& r);
std::string encode(const chain& c);
expected<record> decode_record(std::string_view bytes);
expected<chain> decode_chain(std::string_view bytes);

// -- written by the state machine ---------------------------------------------------

/// What the trail needs from the state before a command runs.
struct before_command {
  bool audited = false;
  std::vector<release_rule> rules;
  /// principal_name() as the state stood before the command (which may
  /// change the auth tables).
  std::string principal;
};

/// The principal a command's credential names, for the record: the seam
/// between the trail and the auth tables. Never the credential itself.
expected<std::string> principal_name(state_reader& st, const command_envelope& env);

/// Reads what the record of env will need, before env is applied.
expected<before_command> observe(state_reader& st, const command_envelope& env);

/// Appends the record of env (applied as entry `index` at `time_ms` with
/// `result`) to the trail and applies retention. Does nothing for commands
/// that are not audited.
status append(state_writer& st, const before_command& before, std::uint64_t index,
              std::int64_t time_ms, const command_envelope& env,
              const apply_result& result);

/// Sets the retention (what set_audit_retention does) and drops what is
/// beyond it.
status set_retention(state_writer& st, std::uint64_t max_records);

// -- verification -------------------------------------------------------------

/// The chain recomputed on one replica up to one seq.
struct chain_point {
  /// The seq asked for (clamped to head) and the revision of its record (0
  /// at the base).
  std::uint64_t seq = 0;
  revision_t revision = 0;
  /// The hash at seq recomputed from the base and the kept records, ignoring
  /// the hashes stored in them: what replicas compare.
  std::string hash;
  /// The replica's kept range: (base_seq, head_seq].
  std::uint64_t base_seq = 0;
  std::uint64_t head_seq = 0;
  /// The first kept record up to seq whose stored hash differs from the
  /// recomputed one, or that is missing or out of place (0: none), its
  /// revision and what is wrong.
  std::uint64_t bad_seq = 0;
  revision_t bad_revision = 0;
  std::string problem;

  bool intact() const noexcept { return bad_seq == 0; }

  friend bool operator==(const chain_point& a, const chain_point& b) {
    return a.seq == b.seq && a.revision == b.revision && a.hash == b.hash &&
           a.base_seq == b.base_seq && a.head_seq == b.head_seq &&
           a.bad_seq == b.bad_seq && a.bad_revision == b.bad_revision &&
           a.problem == b.problem;
  }
};

std::string encode(const chain_point& p);
expected<chain_point> decode_chain_point(std::string_view bytes);

/// Recomputes the chain from the base up to `seq` (0 = the head).
/// invalid_argument when seq is at or below the base (those records were
/// dropped by retention) or above the head.
expected<chain_point> verify(state_reader& st, std::uint64_t seq);

/// What `audit list` asks for: records whose key is `key`, or lies under a
/// `PREFIX/` (whole segments; "" = every record), at revision >= since, of
/// `principal` when not empty, starting at seq >= from_seq.
struct filter {
  std::string key;
  revision_t since = 0;
  std::string principal;
  std::uint64_t from_seq = 0;

  bool matches(const record& r) const;
};

} // namespace conflux::audit
