#pragma once
// Every message one consensus core sends another (PROTOCOL.md describes each:
// sender, receiver, reply, and whether it may leave before the persist).
// Plain value types so the actor shell can announce them to CAF later; entries
// travel as shared immutable handles (entry_ptr) so fan-out copies no bytes.

#include "protocol/raft/membership.hpp"
#include "protocol/raft/types.hpp"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace conflux::raft {

/// What a snapshot covers: the log up to and including `index`.
struct snapshot_meta {
  index_t index = 0;
  term_t term = 0;
  /// The configuration in force at `index` (thesis §5.1: the snapshot carries
  /// the latest configuration so the log prefix can be discarded).
  membership config;
};

/// RequestVote (paper §5.2) and PreVote (thesis §9.6) from a (pre-)candidate.
struct request_vote_request {
  /// For a pre-vote: the term the candidate *would* use (its term + 1).
  term_t term = 0;
  index_t last_log_index = 0;
  term_t last_log_term = 0;
  bool pre_vote = false;
  /// Sent because of TimeoutNow: voters ignore their leader lease
  /// (thesis §3.10, §4.2.3).
  bool leadership_transfer = false;
};

struct request_vote_response {
  /// For a granted pre-vote, the term of the request; otherwise the voter's term.
  term_t term = 0;
  bool pre_vote = false;
  bool granted = false;
};

/// AppendEntries (paper §5.3).
struct append_entries_request {
  term_t term = 0;
  index_t prev_log_index = 0;
  term_t prev_log_term = 0;
  std::vector<entry_ptr> entries;
  index_t leader_commit = 0;
};

struct append_entries_response {
  term_t term = 0;
  bool success = false;
  /// On success: the follower's log matches the leader's up to here. On
  /// rejection: the prev_log_index that did not match.
  index_t index = 0;
  /// Rejection only: the follower's largest index <= min(rejected, its last
  /// index) whose term is <= the request's prev_log_term, and that term (a
  /// conflict hint for fast back-off, paper §5.3 last paragraphs).
  index_t hint_index = 0;
  term_t hint_term = 0;
};

/// Leader liveness and commit propagation; `read_seq` tags a ReadIndex
/// confirmation round (thesis §6.4).
struct heartbeat_request {
  term_t term = 0;
  /// min(follower's match index, leader commit): safe for the follower to commit.
  index_t commit = 0;
  std::uint64_t read_seq = 0;
};

struct heartbeat_response {
  term_t term = 0;
  std::uint64_t read_seq = 0;
};

/// InstallSnapshot (paper §7). The core leaves `data` empty in
/// ready::snapshots_to_send; the shell fills it with the snapshot at
/// meta.index (or streams it in chunks and hands the receiving core the whole).
struct install_snapshot_request {
  term_t term = 0;
  snapshot_meta meta;
  std::string data;
  /// Where the shell keeps the snapshot instead of `data` when it does not
  /// travel inside the message (the actor shell streams snapshots as files
  /// and steps the path of the verified file). Local only: not on the wire.
  std::string file;
};

/// TimeoutNow (thesis §3.10): the leader tells a caught-up target to start an
/// election at once.
struct timeout_now_request {
  term_t term = 0;
};

/// A follower asks the leader for a read index (thesis §6.4 "followers can
/// serve reads").
struct read_index_request {
  term_t term = 0;
  std::uint64_t context = 0;
};

struct read_index_response {
  term_t term = 0;
  std::uint64_t context = 0;
  index_t index = 0;
};

using message =
    std::variant<request_vote_request, request_vote_response, append_entries_request,
                 append_entries_response, heartbeat_request, heartbeat_response,
                 install_snapshot_request, timeout_now_request, read_index_request,
                 read_index_response>;

/// The term carried by any message.
term_t term_of(const message& m);

/// Short name for events, traces and test output.
const char* message_name(const message& m);

} // namespace conflux::raft
