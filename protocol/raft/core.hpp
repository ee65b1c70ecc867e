#pragma once
// The Raft consensus core: a deterministic state machine in the etcd-raft
// style. Input: tick(), step(from, message), propose(), read_index(),
// membership and transfer requests, persist acknowledgements. Output: ready
// batches (ready.hpp) that the shell executes under the contract in
// PROTOCOL.md. No clock, no disk, no network, no logging; randomness only
// from the seed in the config. Owned by exactly one shell (actors/raft_shell,
// held by one Raft role actor at a time).

#include "protocol/raft/membership.hpp"
#include "protocol/raft/messages.hpp"
#include "protocol/raft/progress.hpp"
#include "protocol/raft/raft_log.hpp"
#include "protocol/raft/read_only.hpp"
#include "protocol/raft/ready.hpp"
#include "protocol/raft/types.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace conflux::raft {

struct core_config {
  server_id id = no_server;
  /// Ticks without hearing from a leader before an election; the actual
  /// timeout is drawn from [election_ticks, 2 * election_ticks) (paper §5.2).
  int election_ticks = 10;
  /// Leader heartbeat period in ticks; must be well below election_ticks.
  int heartbeat_ticks = 1;
  /// Thesis §9.6.
  bool pre_vote = true;
  /// Thesis §6.2 (leader steps down without a majority) and §4.2.3 (servers
  /// that heard from a leader recently ignore vote requests).
  bool check_quorum = true;
  /// AppendEntries batching (paper §10.2 "batching").
  std::size_t max_entries_per_message = 64;
  std::size_t max_bytes_per_message = 1 << 20;
  /// AppendEntries in flight per follower (thesis §10.2.1 pipelining).
  std::size_t max_inflight = 64;
  /// A joining server is promoted once it is within this many entries of the
  /// leader's last index (thesis §4.2.1 catch-up).
  index_t promotion_lag = 64;
  /// Seeds the only random source (election timeouts).
  std::uint64_t seed = 1;
};

/// What the shell reloads from disk to restart a core.
struct restored_state {
  hard_state hard;
  /// index 0 when there is no snapshot.
  snapshot_meta snapshot;
  /// Stored entries after snapshot.index, consecutive.
  std::vector<entry_ptr> entries;
  /// Configuration of a brand-new cluster (static --peers); used only when
  /// neither the snapshot nor the log holds one. Empty for a server that
  /// joins an existing cluster.
  membership bootstrap;
  /// Last index the state machine applied (>= snapshot.index).
  index_t applied = 0;
};

enum class role : std::uint8_t { follower, pre_candidate, candidate, leader };
const char* role_name(role r);

/// Why a request was refused (none = accepted).
enum class refusal : std::uint8_t {
  none,
  not_leader,
  transfer_in_progress,
  /// A membership change is still uncommitted (thesis §4.1: one at a time).
  change_in_progress,
  /// A new leader must commit an entry of its own term first (thesis §4.1,
  /// the single-server change bug fix).
  not_committed_in_term,
  /// The change names no server, or promotes a server that already votes.
  invalid_change,
  no_leader,
  /// Adding a server that is already a member (voter, learner or joining).
  already_member,
  /// Removing, promoting or transferring to a server that is not a member.
  not_member,
  /// Removing the only voter would leave nobody to elect a leader.
  last_voter,
  /// Leadership can only move to a voter.
  not_a_voter,
  /// The leader was asked to remove itself: it started handing leadership to
  /// `leader_hint` (the most caught-up voter) instead, so that the cluster
  /// keeps a leader throughout. The removal is to be sent to the new leader.
  leader_handover,
};

struct request_result {
  refusal reason = refusal::none;
  /// Index of the appended entry (proposals and membership changes).
  index_t index = 0;
  /// Who to ask instead when not the leader (may be no_server).
  server_id leader_hint = no_server;
  bool ok() const { return reason == refusal::none; }
};

class core {
public:
  core(core_config cfg, restored_state st);

  // -- inputs --------------------------------------------------------------
  void tick();
  /// Drops the message unread (event dropped_non_member) unless admits(from).
  void step(server_id from, message m);
  /// Appends a command stamped with `timestamp_ms` (leader's wall clock,
  /// supplied by the shell: the core has none).
  request_result propose(std::string data, std::int64_t timestamp_ms = 0);
  /// Requests a linearizable read; the answer is a read_state with the same
  /// context in a later batch (thesis §6.4).
  request_result read_index(std::uint64_t context);
  /// One server at a time (thesis §4.1). Refuses what cannot apply to the
  /// current configuration (already_member, not_member, last_voter,
  /// invalid_change) before anything else; a leader asked to remove itself
  /// starts a transfer instead (leader_handover).
  request_result change_membership(membership_change change);
  /// Moves leadership to the voter `target` (thesis §3.10); refuses a
  /// stranger (not_member) or a non-voter (not_a_voter).
  request_result transfer_leadership(server_id target);
  /// The shell's wall clock, used to stamp the entries the core creates by
  /// itself (no-ops, membership changes). Optional; the core never reads a
  /// clock (docs/design.md, durability rule 5: time comes from leader-stamped entries).
  void observe_time(std::int64_t timestamp_ms);
  /// The shell made everything of batch `persist_id` durable (and all earlier
  /// batches).
  void persisted(std::uint64_t persist_id);
  /// The shell wrote a snapshot of the state machine at `index` (<= applied);
  /// the core compacts its log up to there.
  void snapshot_taken(index_t index);
  /// The shell finished (ok) or gave up (!ok) sending a snapshot to `to`.
  void report_snapshot(server_id to, bool ok);

  // -- output --------------------------------------------------------------
  bool has_ready() const;
  ready take_ready();

  // -- read-only status -----------------------------------------------------
  server_id id() const { return id_; }
  role current_role() const { return role_; }
  bool is_leader() const { return role_ == role::leader; }
  term_t term() const { return term_; }
  server_id vote() const { return vote_; }
  server_id leader() const { return leader_; }
  index_t commit_index() const { return commit_; }
  index_t applied_index() const { return applied_; }
  /// Entries up to here are known durable on this server's disk.
  index_t durable_index() const { return durable_; }
  const raft_log& log() const { return log_; }
  /// The configuration in force: the latest one in the log, committed or not
  /// (thesis §4.1).
  const raft::membership& membership() const { return config_; }
  /// The index of the entry membership() comes from; at or below the
  /// snapshot index when it comes from the snapshot (or the bootstrap
  /// configuration, index 0).
  index_t membership_index() const { return config_index_; }
  const snapshot_meta& snapshot() const { return snapshot_; }
  server_id transfer_target() const { return transfer_target_; }
  /// The configuration in force at index i (the latest membership entry at or
  /// below i, else the snapshot's or the bootstrap one). The shell stores it
  /// with a snapshot it takes at i.
  raft::membership membership_at(index_t i) const;
  /// Whether a message from `from` reaches the protocol (docs/design.md,
  /// "Membership"). Members of the configuration (voters, learners, joining)
  /// and the leader this server follows always do. Anyone else does only
  /// while this server has no live leader: a leader drops them (its
  /// configuration is the newest in the cluster), and so does a server that
  /// heard from its leader within the election timeout. A server that knows
  /// no leader admits them, as the thesis (§4.1) requires: a lagging server
  /// must accept a leader, and grant a vote to a candidate, that its own
  /// configuration does not list yet.
  bool admits(server_id from) const;
  /// REQUIRES: is_leader(); nullptr for unknown peers.
  const progress* progress_of(server_id peer) const;

private:
  // roles
  void become_follower(term_t term, server_id leader);
  void become_pre_candidate();
  void become_candidate(bool transfer);
  void become_leader();
  void campaign(bool pre_vote, bool transfer);
  void reset(term_t term);
  void reset_randomized_timeout();
  bool promotable() const;
  void emit(event_kind kind, server_id peer = no_server, index_t index = 0);

  // message handlers
  void handle_vote_request(server_id from, const request_vote_request& m);
  void handle_vote_response(server_id from, const request_vote_response& m);
  void handle_append(server_id from, const append_entries_request& m);
  void handle_append_response(server_id from, const append_entries_response& m);
  void handle_heartbeat(server_id from, const heartbeat_request& m);
  void handle_heartbeat_response(server_id from, const heartbeat_response& m);
  void handle_snapshot(server_id from, install_snapshot_request m);
  void handle_timeout_now(server_id from);
  void handle_read_request(server_id from, const read_index_request& m);
  void handle_read_response(const read_index_response& m);

  // leader
  void send(server_id to, message m, bool after_persist);
  void send_append(server_id to, bool allow_empty);
  void broadcast_append(bool allow_empty);
  void fill_pipeline(server_id to);
  void broadcast_heartbeat();
  bool maybe_commit();
  void append_own(entry_kind kind, std::string data, std::int64_t ts);
  bool committed_in_current_term() const;
  void release_reads();
  void serve_read(std::uint64_t context, server_id from);
  void maybe_promote();
  void sync_progress();
  void abort_transfer();
  /// The voter other than this leader with the highest match index (lowest
  /// id on a tie); no_server when there is none.
  server_id most_caught_up_voter() const;

  // log / config
  void append_to_log(entry_ptr e);
  void on_truncate(index_t from);
  void refresh_config();
  void tick_election();
  void tick_leader();
  void set_commit(index_t c);
  void apply_commit_effects(index_t old_commit);

  core_config cfg_;
  server_id id_;
  std::mt19937_64 rng_;

  role role_ = role::follower;
  term_t term_ = 0;
  server_id vote_ = no_server;
  server_id leader_ = no_server;
  raft_log log_;
  index_t commit_ = 0;
  index_t applied_ = 0;
  index_t durable_ = 0;

  raft::membership bootstrap_;
  raft::membership config_;
  index_t config_index_ = 0;
  /// Whether we vote in the configuration before config_ (thesis §4.2.2).
  bool previous_config_voter_ = false;
  snapshot_meta snapshot_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;

  std::map<server_id, bool> votes_;
  /// A candidate's own vote counts once its term and vote are durable.
  bool awaiting_self_vote_ = false;
  std::uint64_t self_vote_persist_id_ = 0;
  std::map<server_id, progress> progress_;
  std::map<server_id, index_t> match_scratch_;

  read_only reads_;
  /// Reads that arrived before this leader committed an entry of its term.
  std::vector<std::pair<std::uint64_t, server_id>> early_reads_;

  server_id transfer_target_ = no_server;
  int transfer_elapsed_ = 0;
  /// Index of the newest membership entry a leader appended (thesis §4.1).
  index_t pending_config_index_ = 0;
  /// Leader-stamped time of the newest proposal; reused for no-ops and
  /// membership entries (the core has no clock).
  std::int64_t last_timestamp_ms_ = 0;
  bool removed_reported_ = false;

  // ready bookkeeping
  ready ready_;
  /// Proposals appended since the last take_ready() still to be sent.
  bool append_pending_ = false;
  hard_state last_hard_;
  index_t unstable_from_ = 1;
  std::uint64_t next_persist_id_ = 1;
  std::uint64_t last_persist_id_ = 0;
  struct pending_persist {
    std::uint64_t id;
    index_t last_index;
    bool superseded;
  };
  std::deque<pending_persist> pending_persists_;
  std::optional<snapshot_to_install> pending_install_;
};

} // namespace conflux::raft
