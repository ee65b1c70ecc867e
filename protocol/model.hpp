#pragma once
// The data model (docs/design.md, Data model): configs, immutable versions, release
// rules and the replicated client sessions. Plain values; the state machine
// (protocol/state_machine.hpp) is the only code that changes them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace conflux {

/// The Raft log index of the entry that made a change: the one global clock of
/// the data.
using revision_t = std::uint64_t;
using config_id = std::uint64_t;
using version_id = std::uint64_t;
using session_id = std::uint64_t;
using labels = std::map<std::string, std::string>;

enum class content_format : std::uint8_t {
  json = 1,
  yaml = 2,
  toml = 3,
  properties = 4,
  text = 5,
};

/// "json", "yaml", ...
const char* to_string(content_format f) noexcept;
/// Parses a format name (case-sensitive, lowercase); nullopt if unknown.
std::optional<content_format> parse_content_format(const std::string& name) noexcept;

/// A client with labels L gets the version of the best rule whose labels are a
/// subset of L (docs/design.md, Data model; see resolve.hpp for the order).
struct release_rule {
  conflux::labels labels;
  version_id version = 0;
  std::int32_t priority = 0;

  friend bool operator==(const release_rule& a, const release_rule& b) {
    return a.labels == b.labels && a.version == b.version && a.priority == b.priority;
  }
};

struct config {
  config_id id = 0;
  /// tenant/app/env/name, validated by validate_key().
  std::string key;
  content_format format = content_format::text;
  /// Optional JSON Schema (JSON text) every version's content must satisfy.
  std::optional<std::string> schema;
  /// The highest version id ever assigned; the next version gets this + 1.
  /// Stays put when that version is deleted, so ids are never reused.
  version_id latest_version = 0;
  /// Release rules in order (order breaks ties, see resolve.hpp).
  std::vector<release_rule> releases;
  revision_t create_revision = 0;
  revision_t mod_revision = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  /// A secret config (docs/security.md, "Secret configs"): fixed when it is
  /// created. Its versions hold sealed content only.
  bool secret = false;

  friend bool operator==(const config& a, const config& b) {
    return a.id == b.id && a.key == b.key && a.format == b.format &&
           a.schema == b.schema && a.latest_version == b.latest_version &&
           a.releases == b.releases && a.create_revision == b.create_revision &&
           a.mod_revision == b.mod_revision && a.created_at_ms == b.created_at_ms &&
           a.updated_at_ms == b.updated_at_ms && a.secret == b.secret;
  }
};

/// Immutable once written.
struct version {
  config_id config = 0;
  version_id id = 0;
  /// The content; for a sealed version, the secret::seal blob of it.
  std::string content;
  /// SHA-256 of content, lowercase hex; for a sealed version the keyed hash
  /// of the plaintext (secret::content_hash). Verified on every read (a
  /// sealed one when a node opens it).
  std::string content_hash;
  /// The content is sealed (a version of a secret config, as stored). A
  /// version a node opened for a reader has sealed = false.
  bool sealed = false;
  content_format format = content_format::text;
  std::string description;
  std::string creator;
  std::int64_t created_at_ms = 0;
  revision_t revision = 0;

  friend bool operator==(const version& a, const version& b) {
    return a.config == b.config && a.id == b.id && a.content == b.content &&
           a.content_hash == b.content_hash && a.format == b.format &&
           a.description == b.description && a.creator == b.creator &&
           a.created_at_ms == b.created_at_ms && a.revision == b.revision &&
           a.sealed == b.sealed;
  }
};

} // namespace conflux
