#pragma once
// What the consensus core hands its shell after each call: the ready batch
// (PROTOCOL.md "The ready-batch contract"). Plain data; the shell owns it once
// taken.

#include "protocol/raft/messages.hpp"
#include "protocol/raft/types.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace conflux::raft {

struct outgoing_message {
  server_id to = no_server;
  message msg;
  /// True: may leave only once every persist issued so far (this batch's and
  /// all earlier ones) is durable (docs/design.md, durability rules 1 and 2: term, vote
  /// and entries are durable before a vote or an AppendEntries reply). False: may leave
  /// at once, in parallel with the persist (thesis §10.2.1: the leader writes its
  /// own disk in parallel with replication).
  bool after_persist = false;
};

/// A snapshot the shell must send: fill `request.data` with the snapshot at
/// request.meta.index, send it to `to`, and report the outcome with
/// core::report_snapshot.
struct snapshot_to_send {
  server_id to = no_server;
  install_snapshot_request request;
};

/// A snapshot received from the leader that the shell must install: replace
/// the state machine with `data`, persist `meta` and drop the whole stored log
/// (all within this batch's persist).
struct snapshot_to_install {
  snapshot_meta meta;
  std::string data;
  /// install_snapshot_request::file of the request that brought it.
  std::string file;
};

/// A linearizable read may be served once the state machine applied `index`.
struct read_state {
  std::uint64_t context = 0;
  index_t index = 0;
};

enum class event_kind : std::uint8_t {
  became_follower,
  became_pre_candidate,
  became_candidate,
  became_leader,
  /// Leader stepped down: check-quorum saw no majority in an election timeout.
  lost_quorum,
  /// A new configuration is in force (`index` is its entry; see membership()).
  membership_changed,
  /// A learner was caught up and its promotion proposed.
  promotion_proposed,
  /// This server is no longer a member (its removal committed).
  removed,
  transfer_started,
  transfer_aborted,
  /// The log was compacted up to `index`.
  compacted,
  /// A snapshot up to `index` from `peer` is being installed.
  snapshot_installing,
  /// A snapshot up to `index` is being sent to `peer`.
  snapshot_sending,
  /// A persist acknowledgement arrived that was superseded (truncation).
  stale_persist_ack,
  /// A message from `peer`, which is not a member, was dropped unread
  /// (core::admits).
  dropped_non_member,
};

struct event {
  event_kind kind = event_kind::became_follower;
  term_t term = 0;
  server_id peer = no_server;
  index_t index = 0;
};

struct ready {
  /// Nonzero when this batch has something to persist (hard state, entries,
  /// snapshot). Acknowledge with core::persisted(persist_id) once durable.
  std::uint64_t persist_id = 0;
  /// Persist first, when set.
  std::optional<hard_state> hard;
  /// Install before persisting `entries`; replaces the state and the log.
  std::optional<snapshot_to_install> snapshot;
  /// Drop every stored entry with index >= entries.front()->index, then
  /// append these (consecutive).
  std::vector<entry_ptr> entries;
  std::vector<outgoing_message> messages;
  std::vector<snapshot_to_send> snapshots_to_send;
  /// Apply in order; consecutive, starting after the last applied index.
  std::vector<entry_ptr> committed;
  std::vector<read_state> read_states;
  /// Local reads that will never be released (leadership lost): fail them.
  std::vector<std::uint64_t> reads_dropped;
  std::vector<event> events;

  bool empty() const {
    return persist_id == 0 && messages.empty() && snapshots_to_send.empty() &&
           committed.empty() && read_states.empty() && reads_dropped.empty() &&
           events.empty();
  }
};

} // namespace conflux::raft
