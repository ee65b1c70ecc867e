#pragma once
// The one error vocabulary of Conflux (`errc`) and the small result types that
// carry it through protocol and storage code. No exceptions cross a layer:
// functions that can fail return `status` or `expected<T>`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace conflux {

/// Every failure a client, an operator or another node can see. Values start
/// at 1 so that the enum can double as a CAF error category later.
enum class errc : std::uint8_t {
  /// This node is not the leader; the reply names the leader if known.
  not_leader = 1,
  /// No quorum could be reached (the cluster lost its majority).
  no_quorum,
  /// The request did not complete in time; it may or may not have applied.
  timeout,
  /// No node could serve the request right now (no leader, not connected).
  unavailable,
  /// The config, version or session does not exist.
  not_found,
  /// The config exists but no release rule matches the client's labels.
  not_published,
  /// A config with this key already exists.
  already_exists,
  /// `expected_revision` did not match the config's mod_revision (CAS failed).
  revision_mismatch,
  /// A release rule points at the version, so neither it nor (without force)
  /// its config can be deleted.
  version_in_use,
  /// Malformed input: key syntax, labels, unknown format, bad arguments.
  invalid_argument,
  /// The content does not parse for its declared format.
  invalid_content,
  /// The content parses but violates the config's JSON Schema.
  schema_violation,
  /// Content, labels or a message is over a configured size limit.
  too_large,
  /// The disk or LMDB failed; the node stops.
  storage_failure,
  /// A stored record or message failed its checksum or could not be decoded.
  corrupted,
  /// Data written by a newer or unknown format version.
  unsupported_version,
  /// The client session expired or never existed; open a new one.
  session_expired,
  /// A retried request reused a sequence number older than the last one.
  stale_sequence,
  /// A capacity limit was hit (sessions, requests in flight, the proposal
  /// queue, snapshot size): nothing changed; retry later or raise the limit
  /// the message names.
  resource_exhausted,
  /// The request is not allowed for this caller (another client's session or
  /// watch, a client identity sending node traffic, a principal whose roles
  /// do not grant the permission).
  permission_denied,
  /// No valid token: none given, unknown, revoked (disabled) or expired.
  unauthenticated,
  /// The command is permitted but would leave the cluster in a state it must
  /// not reach (no live principal with cluster-admin); nothing changed, and
  /// the message says what to do first.
  failed_precondition,
};

/// Stable lowercase name of a code, used in messages and JSON output.
std::string_view to_string(errc code) noexcept;

/// A code plus a sentence a person can act on.
struct error {
  errc code{};
  std::string message;

  friend bool operator==(const error& a, const error& b) {
    return a.code == b.code && a.message == b.message;
  }
};

/// Renders "code: message".
std::string to_string(const error& e);

/// Success or an error.
class [[nodiscard]] status {
public:
  status() = default;
  status(error e) : err_(std::move(e)) {}
  status(errc code, std::string message) : err_(error{code, std::move(message)}) {}

  bool ok() const noexcept { return !err_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  // REQUIRES: !ok()
  const error& err() const& { return *err_; }
  error&& err() && { return std::move(*err_); }
  errc code() const noexcept { return err_ ? err_->code : errc{}; }

private:
  std::optional<error> err_;
};

/// A value or an error.
template <class T>
class [[nodiscard]] expected {
public:
  expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  expected(error e) : v_(std::in_place_index<1>, std::move(e)) {}
  expected(errc code, std::string message)
      : v_(std::in_place_index<1>, error{code, std::move(message)}) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // REQUIRES: !ok()
  const error& err() const& { return std::get<1>(v_); }
  error&& err() && { return std::get<1>(std::move(v_)); }
  errc code() const noexcept { return ok() ? errc{} : std::get<1>(v_).code; }
  /// The error as a status (ok if a value is held).
  status to_status() const { return ok() ? status{} : status{err()}; }

private:
  std::variant<T, error> v_;
};

} // namespace conflux
