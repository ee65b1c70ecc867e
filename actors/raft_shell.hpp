#pragma once
// The raft shell: the consensus core (protocol/raft/core.hpp) and everything
// around it that does not depend on the role. It carries out every ready
// batch under the contract in protocol/raft/PROTOCOL.md §3:
//   - persists go to the log store, at most one in flight; batches that
//     arrive meanwhile are merged into the next one (group commit);
//   - messages marked after_persist wait until every persist issued so far is
//     durable; the others leave at once, grouped into one peer_batch per peer;
//   - committed entries go to the applier in order;
//   - snapshots are taken, sent and installed through the snapshotter, the
//     peer links and the applier.
// It also keeps the address book and opens, re-dials and closes the peer
// links as the configuration changes.
//
// Owned by exactly one Raft role actor at a time (actors/raft_role.hpp): the
// holder attaches it, feeds it what reaches the node, and hands it to the
// next role's actor when the core's role changes (role_of_core()). What a
// role promised a client lives in the role's tenure, never here: the shell
// tells the tenure what the core and the applier report. The shell sends as
// its holder, and makes no request whose answer could reach a role that no
// longer holds it: the workers report with one-way notices to whichever role
// holds the core then (node_context::raft).

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "actors/peer_admission.hpp"
#include "protocol/cluster_clock.hpp"
#include "protocol/raft/core.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conflux::actors {

/// The three role actors of a node. The follower actor also plays the
/// learner (a permanent non-voter) and the joining server: for the shell
/// they differ only in that the core never lets them campaign.
enum class role_kind : std::uint8_t { follower, candidate, leader };
const char* role_kind_name(role_kind k);

/// What a role keeps while it lasts: the promises it made to clients and
/// what it started on their behalf. Created when a role actor takes the
/// core and ended, in one place, when it hands the core on.
class role_tenure {
public:
  virtual ~role_tenure() = default;
  /// The core confirmed linearizable read `context` at `index`.
  virtual void read_confirmed(std::uint64_t context, raft::index_t index);
  /// The core will never confirm read `context` (leadership lost).
  virtual void read_dropped(std::uint64_t context);
  /// The applier applied up to n.applied (after the shell took note).
  virtual void applied(const applied_notice& n);
  /// After every input: answer what is settled (transfers, expired reads).
  virtual void settle();
  /// The role ends: answer every promise still held and close what the role
  /// opened. Called exactly once, by the role actor that made the promises.
  virtual void end() = 0;
};

/// Splits encoded Raft messages, in order, into groups of at most
/// `max_bytes` each; a message larger than that forms a group of its own.
std::vector<std::vector<std::string>> split_by_bytes(std::vector<std::string> messages,
                                                     std::size_t max_bytes);

class raft_shell {
public:
  /// The node's other actors the shell drives, and the three role actors.
  struct wiring {
    log_store_actor log;
    applier_actor applier;
    /// Absent in some actor tests: then no snapshot is ever taken.
    snapshotter_actor snapshotter;
    std::map<role_kind, raft_actor_impl> roles;
    /// Links handed in at start (tests); the shell opens its own otherwise.
    std::map<raft::server_id, peer_link_actor> links;
  };

  raft_shell(node_context_ptr ctx, raft::core_config cfg, raft::restored_state st,
             wiring w);
  /// Closes every peer link the shell opened.
  ~raft_shell();

  raft_shell(const raft_shell&) = delete;
  raft_shell& operator=(const raft_shell&) = delete;

  // -- holding ----------------------------------------------------------------

  /// Binds the shell to the role actor that now holds it, and the tenure
  /// that role keeps; starts a new tick chain (stale ticks are dropped).
  /// Hands out what the core has ready (e.g. entries committed but not
  /// applied before a restart).
  void attach(raft_actor_impl::pointer self, role_tenure* tenure);
  /// Unbinds it before it is handed on.
  void detach();
  /// The actor of role `k` (to hand the shell to).
  const raft_actor_impl& role_actor(role_kind k) const { return wiring_.roles.at(k); }
  /// Which role actor should hold the shell now.
  role_kind role_of_core() const;
  /// The role name status and logs report: follower, learner (also a
  /// joining server), pre_candidate, candidate or leader.
  std::string role_name() const;

  // -- inputs (from the holder's handlers) -----------------------------------

  void on_peer_batch(rpc::peer_batch& b);
  /// Returns false for a tick of an older chain (ignore it, do not rearm).
  bool on_tick(std::uint64_t epoch);
  void on_persisted(std::uint64_t persist_id);
  void on_applied(applied_notice& n);
  void on_installed(raft::index_t index);
  void on_snapshot_sent(const snapshot_sent_notice& n);
  void on_snapshot_report(snapshot_report& r);
  snapshot_meta_reply snapshot_meta(const snapshot_meta_request& r) const;
  rpc::status_reply status() const;

  // -- for the roles ----------------------------------------------------------

  raft::core& core() { return *core_; }
  const raft::core& core() const { return *core_; }
  node_context& ctx() { return *ctx_; }
  const node_context& ctx() const { return *ctx_; }
  /// Executes every ready batch the core has.
  void process_ready();
  /// Cluster time, for stamping entries (protocol/cluster_clock.hpp): never
  /// below a stamp in this node's log or state, never going backwards,
  /// advancing with the steady clock and slewed towards wall time by at
  /// most 1%.
  std::int64_t now_ms();
  /// Ticks since start (timeouts of pending requests are counted in ticks).
  std::uint64_t ticks() const { return ticks_; }
  std::uint64_t tick_epoch() const { return tick_epoch_; }
  /// A context for core::read_index, unique for the node's lifetime.
  std::uint64_t next_read_context() { return next_read_context_++; }
  /// The newest index the applier reported applied.
  raft::index_t applied() const { return applied_; }
  /// Ends every snapshot transfer a leader started (its leadership ended).
  void cancel_snapshot_transfers();

  // -- looking inside (status, tests) ------------------------------------------

  /// A persist is at the log store.
  bool persist_in_flight() const { return persist_in_flight_; }
  /// What the next persist will write (batches merged while one is in flight).
  const std::optional<storage::log_batch>& pending_persist() const {
    return pending_persist_;
  }
  /// after_persist messages waiting for their persist.
  std::size_t held_messages() const { return held_.size(); }

  // -- answers ----------------------------------------------------------------

  raft_reply not_leader_reply() const;
  raft_reply unavailable_reply(std::string why) const;
  /// Membership and transfer requests on a node that does not lead.
  raft_reply redirect_admin() const;
  /// The one answer for every refusal of the core (`server`: the node a
  /// membership or transfer request named).
  raft_reply reply_for(const raft::request_result& r,
                       raft::server_id server = raft::no_server) const;

  /// Stops the node: logs, sets the failure flag, ends the holder.
  void fail(const std::string& msg);

private:
  void handle(raft::ready& rd);
  void merge_persist(raft::ready& rd);
  void flush_persist();
  void send_messages(std::vector<raft::outgoing_message>& msgs);
  void send_batches(std::map<raft::server_id, rpc::peer_batch>& out);
  void log_changes(const raft::ready& rd);
  void maybe_snapshot();
  void install_snapshot(raft::snapshot_to_install& snap);
  void send_snapshot(raft::snapshot_to_send& s);
  void recount_log_bytes();
  /// Raises the cluster clock's floor to the state's applied stamp.
  void observe_applied_timestamp();
  /// Recomputes the address book (configuration, --peers, announced) and
  /// opens, re-dials or closes peer links to match the configuration.
  void sync_links();
  void close_link(raft::server_id id);
  /// The address this node announces in its batches (peer_batch::from_address).
  std::string own_address() const;
  /// Whether every command in `m` (an AppendEntries) decodes; counts and logs
  /// the drop when one does not.
  bool commands_decode(raft::server_id from, const raft::message& m);
  /// Takes note of the address `from` announced, if it may announce one
  /// (counted as raft.ignored.address when not, if `count_refusal`).
  void learn_address(raft::server_id from, const std::string& address,
                     bool count_refusal);

  node_context_ptr ctx_;
  std::unique_ptr<raft::core> core_;
  wiring wiring_;
  /// The role actor holding the shell and its tenure (null between holders).
  raft_actor_impl::pointer self_ = nullptr;
  role_tenure* tenure_ = nullptr;

  /// The address each link of wiring_.links dials (empty for links handed in at
  /// start without one, e.g. by tests).
  std::map<raft::server_id, std::string> link_addresses_;
  /// Addresses servers announced in their own batches (peer_batch::from_address).
  std::map<raft::server_id, std::string> learned_addresses_;

  /// The first holder opened the links (attach).
  bool links_synced_ = false;
  std::uint64_t tick_epoch_ = 0;
  std::uint64_t ticks_ = 0;
  /// Fed every stamp that enters the log, and the state's applied stamp at
  /// start and after each install, so a new leader never stamps below its
  /// predecessor.
  cluster_clock clock_;
  std::uint64_t next_read_context_ = 1;

  // -- persist pipeline (group commit) -----------------------------------------
  bool persist_in_flight_ = false;
  std::optional<storage::log_batch> pending_persist_;
  std::uint64_t pending_persist_id_ = 0;
  /// The newest persist id handed out by the core, and the newest durable one.
  std::uint64_t issued_persist_id_ = 0;
  std::uint64_t durable_persist_id_ = 0;
  /// after_persist messages and the persist id they wait for.
  std::deque<std::pair<std::uint64_t, raft::outgoing_message>> held_;

  /// The newest index the applier reported applied (applied_notice).
  raft::index_t applied_ = 0;

  // -- snapshots ---------------------------------------------------------------
  /// The snapshotter is writing one (at most one at a time).
  bool snapshot_taking_ = false;
  /// Installs the applier has not finished: persists wait for them, so the
  /// log never forgets entries before the state that replaces them is durable.
  std::uint64_t installs_in_flight_ = 0;
  /// Bytes of log entries (stored size) after the last snapshot.
  std::uint64_t log_bytes_ = 0;
  /// Peers a snapshot is being sent to.
  std::map<raft::server_id, raft::index_t> snapshots_sending_;

  /// Drops of peer traffic are logged at most once a second.
  log_limiter drop_log_;

  // -- what was last logged ----------------------------------------------------
  raft::server_id known_leader_ = raft::no_server;
  raft::term_t known_term_ = 0;
};

} // namespace conflux::actors
