#pragma once
// The node's local record of denied requests (docs/security.md, "Audit
// trail"): a refused hello or read never reaches the replicated log, so each
// node keeps its own tamper-evident file, `<data>/audit-denied.log`.
//
// One JSON object per line, hash-chained like the replicated trail:
//   {"seq":N,"time_ms":T,"what":...,"principal":...,"identity":...,
//    "origin":...,"op":...,"key":...,"code":"...","reason":...,
//    "dropped":D,"prev":"<hex>","hash":"<hex>"}
// where hash = SHA-256 (hex) of the line up to and including the "prev"
// field, closed by '}' (that is, the line without its ,"hash":"..." part),
// and prev is the previous line's hash (64 zeros for the first line ever).
// Each line is fsynced before append() returns.
//
// The fsync is what a flood of refusals (unauthenticated hellos need no
// credential to send) would make the node do once per message, so lines go
// through a token bucket (--denied-log-rate lines per second, bursts of as
// many): append() drops the ones it does not let through, the caller counts
// them (audit.denied.dropped), and `dropped` in the next line written says
// how many were dropped since the line before it. The chain stays whole: a
// dropped event never had a line. When a line would take the
// file past --denied-log-max-bytes, the file is renamed to
// `audit-denied.log.1` (replacing the older one) and a new file starts; the
// chain goes on across the rotation (the new file's first prev is the old
// file's last hash).
//
// Never holds a token, a token hash or content: callers pass names only.
//
// Ownership and threads: one per node, in node_context::denied; append() may
// be called from any actor (a mutex serializes the writes).

#include "actors/node_clock.hpp"
#include "actors/node_counters.hpp"
#include "actors/rate_limiter.hpp"
#include "protocol/error.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace conflux::actors {

struct denied_event {
  /// What was refused: "hello", "read", "watch", ...
  std::string what;
  /// The principal the token named ("" when there was none or it was unknown).
  std::string principal;
  /// The certificate identity of the connection.
  std::string identity;
  /// The client's network address ("" when unknown).
  std::string origin;
  /// The request operation ("get_config", ...; "" for a hello).
  std::string op;
  std::string key;
  /// The errc the request was refused with.
  errc code = errc::permission_denied;
  std::string reason;
};

/// What append() did with an event.
enum class denied_outcome {
  /// A line was written and fsynced.
  written,
  /// The rate let no line through: nothing was written (the next line
  /// written counts it in `dropped`).
  dropped,
};

class denied_log {
public:
  /// The file's name below the node's data dir.
  static constexpr const char* file_name = "audit-denied.log";
  static constexpr std::uint64_t default_max_bytes = 64u << 20;
  /// The smallest cap accepted: room for a few lines.
  static constexpr std::uint64_t min_max_bytes = 4096;
  /// Lines written per second at most, on average (--denied-log-rate).
  static constexpr std::uint64_t default_rate = 50;

  /// Opens (or creates, mode 0600) `path` and continues its chain from its
  /// last complete line (or from the rotated file's, when `path` is empty). A
  /// partial last line (a crash during a write) is cut off. `clock` gives
  /// each line its wall time and paces the `rate` (lines per second, bursts
  /// of as many). invalid_argument when max_bytes < min_max_bytes or rate is
  /// 0; storage_failure on I/O errors; corrupted when the last line does not
  /// parse. REQUIRES: clock is not null.
  static expected<std::shared_ptr<denied_log>>
  open(std::string path, std::uint64_t max_bytes, std::uint64_t rate,
       std::shared_ptr<const node_clock> clock);

  /// Appends one line and fsyncs it, or drops the event when the rate lets
  /// no line through now. Thread-safe.
  expected<denied_outcome> append(const denied_event& e);

  const std::string& path() const noexcept { return path_; }

  /// Checks the chain of the file at `path`, starting from `prev` (the
  /// previous file's last hash; 64 zeros for the first file). Returns the
  /// last hash; corrupted names the first line that does not verify.
  static expected<std::string> verify_file(const std::string& path, std::string prev);

  ~denied_log();
  denied_log(const denied_log&) = delete;
  denied_log& operator=(const denied_log&) = delete;

private:
  denied_log() = default;
  status rotate();

  std::mutex mtx_;
  std::string path_;
  std::uint64_t max_bytes_ = default_max_bytes;
  std::uint64_t rate_ = default_rate;
  std::shared_ptr<const node_clock> clock_;
  /// One bucket: the whole file's rate.
  rate_limiter pace_{1};
  /// Events dropped since the last line written.
  std::uint64_t dropped_ = 0;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t seq_ = 0;
  std::string last_hash_;
};

/// What the node endpoint and client sessions do with a refusal: appends `e`
/// to `log` (none in tests that build a node context by hand), adds an
/// event the rate dropped to `counters` as audit.denied.dropped, and logs a
/// warning when the file cannot be written (the refusal stands either way).
void record_denied(denied_log* log, node_counters& counters, const denied_event& e);

} // namespace conflux::actors
