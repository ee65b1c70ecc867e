#pragma once
// The raft actor: the CAF shell around the pure consensus core
// (protocol/raft/core.hpp). It feeds the core ticks, peer messages, proposals
// and read requests, and carries out every ready batch under the contract in
// protocol/raft/PROTOCOL.md §3:
//   - persists go to the log store actor, at most one in flight; batches that
//     arrive meanwhile are merged into the next one (group commit);
//   - messages marked after_persist wait until every persist issued so far is
//     durable; the others leave at once, grouped into one peer_batch per peer;
//   - committed entries go to the applier in order. The actor keeps the
//     promises of proposals and of linearizable reads itself (CAF promises
//     are delivered by the actor that made them) and answers them when the
//     applier reports what it applied (applied_notice): a write with its
//     result, or not_leader if another term's entry took its index; a read
//     once applied reaches its read index.
// The role decides how client requests are met; each role's behaviour lives
// in its own file (raft_leader.cpp, raft_follower.cpp, raft_candidate.cpp,
// raft_learner.cpp) and the actor switches with become() when the core's role
// changes. Exactly one raft actor per process holds the term.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "protocol/raft/core.hpp"

#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>

namespace conflux::actors {

struct raft_state;
using raft_self = raft_actor_impl::stateful_pointer<raft_state>;

/// The behaviour a role presents (also what raft_state::role_name reports).
enum class shell_role : std::uint8_t { follower, candidate, leader, learner };

struct raft_state {
  static inline const char* name = "raft";

  raft_self self = nullptr;
  node_context_ptr ctx;
  std::unique_ptr<raft::core> core;
  log_store_actor log;
  applier_actor applier;
  std::map<raft::server_id, peer_link_actor> links;
  /// Absent in some actor tests: then no snapshot is ever taken.
  snapshotter_actor snapshotter;
  /// The address each link of `links` dials (empty for links handed in at
  /// start without one, e.g. by tests).
  std::map<raft::server_id, std::string> link_addresses;
  /// Addresses servers announced in their own batches (peer_batch::from_address).
  std::map<raft::server_id, std::string> learned_addresses;

  std::uint64_t tick_epoch = 1;
  std::uint64_t ticks = 0;
  std::int64_t last_timestamp_ms = 0;

  // -- persist pipeline (group commit) -----------------------------------------
  bool persist_in_flight = false;
  std::optional<storage::log_batch> pending_persist;
  std::uint64_t pending_persist_id = 0;
  /// The newest persist id handed out by the core, and the newest durable one.
  std::uint64_t issued_persist_id = 0;
  std::uint64_t durable_persist_id = 0;
  /// after_persist messages and the persist id they wait for.
  std::deque<std::pair<std::uint64_t, raft::outgoing_message>> held;

  // -- linearizable reads ------------------------------------------------------
  struct pending_read {
    caf::response_promise rp;
    std::uint64_t started_tick = 0;
  };
  std::uint64_t next_read_context = 1;
  std::map<std::uint64_t, pending_read> reads;
  /// Reads whose read index is known, waiting for applied to reach it.
  std::multimap<raft::index_t, caf::response_promise> read_waiters;

  // -- writes waiting for their entry to apply ---------------------------------
  struct pending_write {
    /// The term the entry was proposed in.
    raft::term_t term = 0;
    caf::response_promise rp;
  };
  std::multimap<raft::index_t, pending_write> writes;
  /// The newest index the applier reported applied (applied_notice).
  raft::index_t applied = 0;

  // -- snapshots ---------------------------------------------------------------
  /// The snapshotter is writing one (at most one at a time).
  bool snapshot_taking = false;
  /// Installs the applier has not finished: persists wait for them, so the
  /// log never forgets entries before the state that replaces them is durable.
  std::uint64_t installs_in_flight = 0;
  /// Bytes of log entries (stored size) after the last snapshot.
  std::uint64_t log_bytes = 0;

  // -- membership and leadership transfer ---------------------------------------
  /// Transfers waiting for their target to lead. A handover is the removal
  /// of this leader waiting for leadership to move first; it is answered
  /// not_leader (naming the new leader) once it has, so the client resends.
  struct pending_transfer {
    raft::server_id target = raft::no_server;
    std::uint64_t started_tick = 0;
    bool handover = false;
    caf::response_promise rp;
  };
  std::vector<pending_transfer> transfers;

  // -- what was last logged ----------------------------------------------------
  shell_role current = shell_role::follower;
  raft::server_id known_leader = raft::no_server;
  raft::term_t known_term = 0;

  // -- shared handlers (every role) -------------------------------------------
  void on_peer_batch(rpc::peer_batch& b);
  void on_tick(std::uint64_t epoch);
  rpc::status_reply status() const;

  // -- role-specific pieces ----------------------------------------------------
  /// Proposes on the leader; the promise waits in `writes` for the entry to apply.
  caf::result<raft_reply> propose(propose_request& req);
  /// Starts a ReadIndex round (the core forwards it to the leader on followers).
  caf::result<raft_reply> read_index();
  /// Leader: changes the configuration by one server (a removal of the
  /// leader itself hands leadership over first).
  caf::result<raft_reply> change_membership(membership_request& req);
  /// Leader: moves leadership to `req.target`; answered once it leads.
  caf::result<raft_reply> transfer(transfer_request& req);
  /// Non-leaders: membership and transfer requests go to the leader.
  raft_reply redirect_admin() const;
  /// The one answer for every refusal of the core (`server`: the node a
  /// membership or transfer request named).
  raft_reply reply_for(const raft::request_result& r,
                       raft::server_id server = raft::no_server) const;
  raft_reply not_leader_reply() const;
  raft_reply unavailable_reply(std::string why) const;
  raft_reply lost_write_reply() const;

  // -- what the applier applied ------------------------------------------------
  void on_applied(applied_notice& n);
  void release_reads();

  // -- snapshots ---------------------------------------------------------------
  snapshot_meta_reply snapshot_meta(const snapshot_meta_request& r) const;
  void on_snapshot_report(snapshot_report& r);
  void maybe_snapshot();
  void install_snapshot(raft::snapshot_to_install& snap);
  void on_installed(raft::index_t index);
  void send_snapshot(raft::snapshot_to_send& s);
  void recount_log_bytes();

  // -- addresses and links -----------------------------------------------------
  /// Recomputes the address book (configuration, --peers, announced) and
  /// opens, re-dials or closes peer links to match the configuration.
  void sync_links();
  /// Answers transfer and handover waiters whose outcome is known.
  void settle_transfers();

  // -- ready-batch execution ---------------------------------------------------
  void process_ready();
  void handle(raft::ready& rd);
  void merge_persist(raft::ready& rd);
  void flush_persist();
  void on_persisted(std::uint64_t id);
  void send_messages(std::vector<raft::outgoing_message>& msgs);
  void expire_reads();
  void log_changes(const raft::ready& rd);
  void switch_role();
  shell_role role_of_core() const;
  std::int64_t now_ms();
  /// The address this node announces in its batches (peer_batch::from_address).
  std::string own_address() const;
  void fail(const std::string& msg);
};

const char* role_name(shell_role r);

raft_actor_impl::behavior_type
raft_fun(raft_self self, node_context_ptr ctx, raft::core_config cfg,
         raft::restored_state st, log_store_actor log, applier_actor applier,
         std::map<raft::server_id, peer_link_actor> links,
         snapshotter_actor snapshotter);

// One per role file.
raft_actor_impl::behavior_type follower_behavior(raft_self self);
raft_actor_impl::behavior_type candidate_behavior(raft_self self);
raft_actor_impl::behavior_type leader_behavior(raft_self self);
raft_actor_impl::behavior_type learner_behavior(raft_self self);

} // namespace conflux::actors
