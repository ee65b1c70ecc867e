#pragma once
// What every actor of one node shares: the node's options (fixed after
// start), the state store (read transactions from any actor; the applier
// alone writes), the applied index, the fail-stop flag the launcher watches,
// the address book, the current Raft role (raft_slot) and the node's clock.
// Fields that change after start are atomics or guarded by their own mutex.

#include "actors/denied_log.hpp"
#include "actors/interfaces.hpp"
#include "actors/kek_file.hpp"
#include "actors/node_clock.hpp"
#include "actors/node_counters.hpp"
#include "actors/rate_limiter.hpp"
#include "actors/transport.hpp"
#include "protocol/raft/types.hpp"
#include "protocol/validation.hpp"
#include "storage/state_store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace conflux::actors {

struct node_options {
  raft::server_id id = 1;
  std::string cluster_id = "conflux";
  /// host:port this node listens on (and announces to clients).
  std::string listen = "127.0.0.1:7101";
  std::string data_dir = "./conflux-data";
  /// Every initial member's address, this node included (--peers). With
  /// `join`, only address hints (the configuration comes from the leader).
  std::map<raft::server_id, std::string> peers;
  /// Start without a configuration and wait to be added by a leader
  /// (`conflux cluster add`); --peers is then optional.
  bool join = false;
  /// Raft tick; elections time out after election_ticks..2*election_ticks ticks.
  std::chrono::milliseconds tick{50};
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  conflux::limits limits;
  /// Watch hub (docs/design.md, "Watch"): changes kept for resume (--watch-history),
  /// and the unacknowledged events a watcher may fall behind before it is cut off
  /// (--watch-backlog). At most watch_window events are in flight to one watcher
  /// without an ack.
  std::size_t watch_history = 10'000;
  std::size_t watch_backlog = 10'000;
  std::size_t watch_window = 256;
  /// Client-facing resource limits (docs/operations.md, "Resource limits").
  /// A hello past either session cap, a request past the in-flight cap and a
  /// proposal past the leader's queue are refused with resource_exhausted.
  /// Client sessions opened from one remote process (one CAF node id:
  /// --max-sessions-per-connection) and on this node (--max-sessions).
  std::size_t max_sessions_per_connection = 64;
  std::size_t max_sessions = 4096;
  /// Requests of one session waiting for their answer (--max-requests-in-flight).
  std::size_t max_requests_in_flight = 256;
  /// Proposals a leader holds proposed but not yet applied
  /// (--max-pending-proposals).
  std::size_t max_pending_proposals = 4096;
  /// Bytes of one reply to a client (list pages, watch batches, a resync):
  /// well under CAF's 32 MiB message payload limit (--max-reply-bytes).
  std::size_t max_reply_bytes = 8u << 20;
  /// A session whose client sent nothing for this long, and that has no
  /// watch and no request open, is closed (--session-idle-timeout).
  std::chrono::milliseconds session_idle_timeout{10 * 60 * 1000};
  /// Take a snapshot (and compact the log) once this many entries were
  /// applied since the last one (0: never by count).
  std::uint64_t snapshot_entries = 10000;
  /// ... or once the log holds this many bytes of entries after the last
  /// snapshot (0: never by size).
  std::uint64_t snapshot_bytes = 64u << 20;
  /// Ceiling of each of the node's two LMDB environments (log and state,
  /// --max-db-size); a write past it fails with MDB_MAP_FULL: the log store
  /// stops the node, the applier pauses (apply_pause).
  std::size_t max_db_size = storage::lmdb::default_map_size;
  /// The largest snapshot this node receives from a leader
  /// (--max-snapshot-bytes); see snapshot_size_limit.
  std::uint64_t max_snapshot_bytes = std::uint64_t{4} << 30;
  /// Concurrent read transactions of the state store (--max-readers).
  unsigned max_readers = storage::lmdb::default_max_readers;
  /// Cap of `<data>/audit-denied.log` before it is rotated to .1
  /// (--denied-log-max-bytes; actors/denied_log.hpp).
  std::uint64_t denied_log_max_bytes = denied_log::default_max_bytes;
  /// Lines per second that file takes at most, on average (bursts of as
  /// many); the refusals past it are counted, not written
  /// (--denied-log-rate; actors/denied_log.hpp).
  std::uint64_t denied_log_rate = denied_log::default_rate;
  /// Fault injection only (--fault-clock-offset-file): the node's wall clock
  /// is offset by the milliseconds in this file (offset_file_clock). Empty:
  /// the system's clock.
  std::string fault_clock_offset_file;
  /// Mutual TLS credentials, or plain text on loopback (the launcher checks
  /// them with check_node_transport and loads them into the actor system).
  transport_settings transport;
  /// Authorization bootstrap (docs/security.md, "Bootstrap"): the SHA-256
  /// (hex) of the first admin token (--bootstrap-token-hash), never the
  /// token. A leader of a state that was never bootstrapped proposes
  /// bootstrap_auth with it; empty: this node proposes nothing and says how
  /// to bootstrap.
  std::string bootstrap_token_hash;
  /// The principal the bootstrap creates (--bootstrap-principal).
  std::string bootstrap_principal = "admin";
  /// Requests per second each principal may send per tenant on this node,
  /// for tenants without their own rate (--default-rate).
  std::uint64_t default_rate = 1000;
  /// Token buckets the node keeps at most (--rate-buckets): one per
  /// (principal, tenant) seen recently, the least recently used dropped.
  std::size_t rate_buckets = 65536;
  /// The key-encryption key file (--kek-file, actors/kek_file.hpp); empty:
  /// none, and this node seals and opens no secret.
  std::string kek_file;
};

/// The size over which an incoming snapshot is refused: --max-snapshot-bytes,
/// or --max-db-size when that is smaller (a snapshot holds the state's records
/// without LMDB's page overhead, so a larger one could not be installed into
/// the state environment anyway).
inline std::uint64_t snapshot_size_limit(const node_options& o) {
  return std::min<std::uint64_t>(o.max_snapshot_bytes, o.max_db_size);
}

/// Set by whichever actor hits an unrecoverable error (storage failure,
/// corruption: docs/design.md, durability rule 6); the launcher polls it and exits
/// non-zero.
class failure_flag {
public:
  void fail(std::string message) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!failed_.load()) {
      message_ = std::move(message);
      failed_.store(true);
    }
  }
  bool failed() const { return failed_.load(); }
  std::string message() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return message_;
  }

private:
  mutable std::mutex mtx_;
  std::atomic<bool> failed_{false};
  std::string message_;
};

/// Set while the applier cannot apply committed entries for want of room
/// (MDB_MAP_FULL, ENOSPC, EDQUOT): it keeps the entries and retries, the node
/// reports itself not ready (status_reply::apply_paused), still serves
/// serializable reads and refuses linearizable reads and writes
/// (docs/design.md, durability rule 6).
class apply_pause {
public:
  void set(std::string reason) {
    std::lock_guard<std::mutex> guard{mtx_};
    reason_ = std::move(reason);
    paused_.store(true);
  }
  void clear() {
    std::lock_guard<std::mutex> guard{mtx_};
    reason_.clear();
    paused_.store(false);
  }
  bool paused() const { return paused_.load(); }
  /// Why, or empty when applying goes on.
  std::string reason() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return reason_;
  }

private:
  mutable std::mutex mtx_;
  std::atomic<bool> paused_{false};
  std::string reason_;
};

/// This node's estimate of cluster time (docs/security.md, "Cluster time"):
/// the leader's timestamp on the last entry the applier applied, advanced by
/// the steady time elapsed since it was applied. Reads and hellos judge token
/// expiry with it; writes use the entry's own timestamp at apply.
class cluster_time_estimate {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// The applier applied an entry stamped `timestamp_ms` at steady time `at`.
  /// Never goes back (an older stamp, e.g. from a replayed entry, is ignored).
  void applied(std::int64_t timestamp_ms, time_point at) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (known_ && timestamp_ms <= stamp_ms_)
      return;
    known_ = true;
    stamp_ms_ = timestamp_ms;
    at_ = at;
  }
  /// The estimate at steady time `now`; `fallback_ms` (the wall clock) while
  /// no stamped entry was applied since the node started.
  std::int64_t now_ms(time_point now, std::int64_t fallback_ms) const {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!known_)
      return fallback_ms;
    auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - at_).count();
    return stamp_ms_ + std::max<std::int64_t>(elapsed, 0);
  }

private:
  mutable std::mutex mtx_;
  bool known_ = false;
  std::int64_t stamp_ms_ = 0;
  time_point at_;
};

/// Which role actor holds the Raft core now (docs/design.md, "Raft roles as
/// actors"). The role that hands the core on sets it before anything else
/// can reach the next role; everything that talks to Raft (sessions, the
/// node endpoint, the log store, the applier, the snapshotter, peer links)
/// reads it per message, so no relay actor sits on the write path. A
/// message that reaches a role after it handed the core on is forwarded.
class raft_slot {
public:
  raft_actor_impl get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return current_;
  }
  void set(raft_actor_impl h) {
    std::lock_guard<std::mutex> guard{mtx_};
    current_ = std::move(h);
  }

private:
  mutable std::mutex mtx_;
  raft_actor_impl current_;
};

struct node_context {
  node_options opts;
  /// Read transactions from any actor; writes only from the applier.
  std::shared_ptr<storage::state_store> state;
  /// Last index the applier made durable (status, serializable reads).
  std::atomic<std::uint64_t> applied{0};
  failure_flag failure;
  /// Set while the applier waits for room on the disk.
  apply_pause paused;
  /// Set by the launcher before it stops the actors: errors caused by the
  /// shutdown itself (a peer actor already gone) are not failures.
  std::atomic<bool> stopping{false};
  /// Client session actors alive on this node (status reports it).
  std::atomic<std::uint64_t> sessions{0};
  /// The role actor that holds the Raft core.
  raft_slot raft;
  /// The leader this node follows (0: none known) and its term, as the raft
  /// shell last saw them: the endpoint takes snapshot chunks only from it.
  std::atomic<std::uint64_t> raft_leader{0};
  std::atomic<std::uint64_t> raft_term{0};
  /// Refusals, drops and limits hit (status_reply::counters).
  node_counters counters;
  /// Every reading of time in the node's actors goes through here.
  std::shared_ptr<const node_clock> clock = system_node_clock();
  /// Kept by the applier (cluster_now_ms reads it).
  cluster_time_estimate cluster_time;
  /// Request rate per (principal, tenant) (opts.default_rate, tenant rates).
  rate_limiter rates{65536};

  /// Cluster time now, as this node estimates it (ms since the epoch).
  std::int64_t cluster_now_ms() const {
    return cluster_time.now_ms(clock->steady(), clock->wall_ms());
  }
  /// The key-encryption keys from opts.kek_file, checked against the data
  /// dir at start; null when the node has no key file. Never logged.
  std::shared_ptr<const kek_ring> keys;
  /// Denied hellos and reads (`<data>/audit-denied.log`); null only in tests
  /// that build a context by hand.
  std::shared_ptr<denied_log> denied;

  /// Where member `id` listens: the configuration's address, else --peers,
  /// else the address it announced in its own traffic; empty when unknown.
  std::string address_of(raft::server_id id) const {
    {
      std::lock_guard<std::mutex> guard{addresses_mtx_};
      auto i = addresses_.find(id);
      if (i != addresses_.end())
        return i->second;
    }
    auto i = opts.peers.find(id);
    return i == opts.peers.end() ? std::string{} : i->second;
  }

  /// The raft shell publishes the addresses it dials (configuration first).
  void set_addresses(std::map<raft::server_id, std::string> book) {
    std::lock_guard<std::mutex> guard{addresses_mtx_};
    addresses_ = std::move(book);
  }

private:
  mutable std::mutex addresses_mtx_;
  std::map<raft::server_id, std::string> addresses_;
};

using node_context_ptr = std::shared_ptr<node_context>;

} // namespace conflux::actors
