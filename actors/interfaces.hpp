#pragma once
// Every typed actor interface of a Conflux node, and the local messages they
// exchange (docs/design.md, "The actors of one node"). One comment line per
// handler says who sends it.
//
// Network messages (rpc::peer_batch, rpc::client_request, ...) are serialized
// and registered in protocol/type_ids.hpp. The local messages below never
// leave the process: they carry shared entry handles and apply results, so
// they are marked as unsafe (not serializable) message types for CAF.
//
// Response promises never leave the actor that made them: the Raft role
// actor that accepted a write or a linearizable read keeps its promise and
// delivers it when the applier reports what it applied (applied_notice), or
// answers it when its role ends. CAF 0.17's response_promise::deliver uses
// its creator's execution unit, so delivering from another actor's thread
// would race with the creator.
//
// Everything addressed to Raft goes to the role actor that holds the core at
// the time (node_context::raft): the workers below report with one-way
// notices rather than answer requests, because a request's answer would go
// back to the role that asked, which may have handed the core on since.

#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/raft/membership.hpp"
#include "protocol/raft/types.hpp"
#include "protocol/rpc.hpp"
#include "protocol/type_ids.hpp"
#include "storage/log_store.hpp"

#include <caf/actor_addr.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conflux::actors {

class raft_shell;

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using init_atom = caf::atom_constant<caf::atom("init")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;

// -- local messages ------------------------------------------------------------

/// raft -> log store: make a (group-committed) ready batch durable.
struct persist_request {
  std::uint64_t persist_id = 0;
  storage::log_batch batch;
};

/// log store -> raft: everything up to persist_request `persist_id` is durable.
struct persisted_notice {
  std::uint64_t persist_id = 0;
};

/// Raft role -> the next role's actor: take the core and the shell around it
/// (the only message that moves it; see actors/raft_role.hpp).
struct take_core {
  std::shared_ptr<raft_shell> shell;
};

/// raft -> applier: committed entries, consecutive, in log order.
struct apply_batch {
  std::vector<raft::entry_ptr> entries;
};

/// What raft answers a client session.
struct raft_reply {
  /// Empty on success.
  std::optional<error> err;
  /// With not_leader: the leader this node knows (0 when none).
  raft::server_id leader_id = raft::no_server;
  /// Writes: the applied command's result.
  apply_result result;
  /// Reads: the applied index the read may be served at (>= the read index).
  raft::index_t index = 0;
};

/// The outcome of one entry the applier applied.
struct applied_result {
  raft::index_t index = 0;
  raft::term_t term = 0;
  /// The state machine's result (commands; empty for no-op and membership).
  apply_result result;
};

/// applier -> raft: one write transaction committed. `results` has every
/// entry it applied, in log order; `applied` and `newest_term` are the index
/// and term of the last one.
struct applied_notice {
  raft::index_t applied = 0;
  raft::term_t newest_term = 0;
  std::vector<applied_result> results;
};

/// client session -> raft: propose this encoded command_envelope.
struct propose_request {
  std::string data;
};

/// One committed change of one config, as the applier saw it in its write
/// transaction: enough for the watch hub to build the event of any watcher,
/// labelled or not, without reading the state again.
struct watch_change {
  /// revision, kind, key, config_id, versions and (for an added version) its
  /// content hash; resolved_version and state stay empty here.
  rpc::watch_event event;
  bool existed_before = false;
  bool exists_after = false;
  std::vector<release_rule> rules_before;
  std::vector<release_rule> rules_after;
  /// Content hash of every version rules_after points at.
  std::map<version_id, std::string> hashes;
};

/// applier -> watch hub: one write transaction committed (sent after every
/// commit, with or without changes, so the hub knows how far the state got).
struct watch_notice {
  raft::index_t applied = 0;
  std::vector<watch_change> changes;
  /// The state was replaced wholesale (a snapshot installed) up to
  /// `applied`: the hub cannot describe what changed, so it drops its
  /// history and cuts every watcher off (their resume gets a resync).
  bool state_replaced = false;
  /// A command that may change who may read what (an auth command) applied:
  /// the hub checks every watcher's principal again.
  bool auth_changed = false;
};

/// client session -> watch hub: register `watcher` (the client's actor, the
/// sender of the watch_request). The hub answers the watcher directly with a
/// watch_reply, then watch_events, so the reply always precedes the events.
struct watch_subscribe {
  caf::strong_actor_ptr watcher;
  rpc::watch_request req;
  /// The session's credential (token hash) and principal: the watch needs
  /// read on its key or prefix, and ends when the principal loses it.
  std::string credential;
  std::string principal;
};

// -- snapshots (local messages) ------------------------------------------------

/// snapshotter -> raft: the term of entry `index` and the configuration in
/// force there, for the header of a snapshot taken at `index`.
struct snapshot_meta_request {
  raft::index_t index = 0;
};

struct snapshot_meta_reply {
  /// False when raft no longer knows `index` (compacted or installed past it).
  bool ok = false;
  raft::term_t term = 0;
  /// raft::encode_membership bytes.
  std::string membership;
};

/// snapshotter -> raft: a snapshot file is durable.
struct snapshot_report {
  enum class what : std::uint8_t {
    /// A local snapshot at `index` was written (or nothing was to be done when
    /// index is 0); raft compacts.
    taken,
    /// A snapshot from leader `from` (its `term`) arrived whole and verified
    /// at `path`: raft steps it as one InstallSnapshot.
    received,
  };
  what kind = what::taken;
  raft::server_id from = raft::no_server;
  raft::term_t term = 0;
  raft::index_t index = 0;
  raft::term_t snapshot_term = 0;
  std::string membership;
  std::string path;
  std::uint64_t bytes = 0;
};

/// raft -> applier: replace the state with the verified snapshot file at
/// `path` (moved to its final name first); answered with installed_notice.
struct install_request {
  raft::index_t index = 0;
  raft::term_t term = 0;
  std::string path;
};

/// applier -> raft: the snapshot of install_request `index` is the state now.
/// (When the install fails the applier stops the node instead.)
struct installed_notice {
  raft::index_t index = 0;
};

/// raft -> log store: drop the entries up to `upto` (a snapshot covers them).
struct compact_request {
  raft::index_t upto = 0;
};

/// raft -> peer link: stream this snapshot file to the peer; answered with
/// snapshot_sent_notice once the peer verified the whole file or the
/// transfer failed.
struct send_snapshot_request {
  std::string cluster_id;
  raft::term_t term = 0;
  raft::index_t index = 0;
  raft::term_t snapshot_term = 0;
  std::string path;
};

/// peer link -> raft: the transfer of send_snapshot_request `index` to `to`
/// ended (ok: the peer verified the whole file).
struct snapshot_sent_notice {
  raft::server_id to = raft::no_server;
  raft::index_t index = 0;
  bool ok = false;
};

/// raft (a leader whose leadership ended) -> peer link: abandon the snapshot
/// transfer in progress, if any (it reports snapshot_sent_notice, not ok).
struct cancel_snapshot {};

/// client session -> raft: change the configuration by one server (leader
/// only); answered once the new configuration is applied.
struct membership_request {
  raft::membership_change_kind kind = raft::membership_change_kind::add_voter;
  raft::server_id server = raft::no_server;
  /// HOST:PORT of an added server (empty otherwise).
  std::string address;
};

/// client session -> raft: hand leadership to `target` (leader only);
/// answered once `target` leads.
struct transfer_request {
  raft::server_id target = raft::no_server;
};

// -- interfaces ----------------------------------------------------------------

/// Owns the log LMDB environment; detached (blocking fsyncs).
using log_store_actor = caf::typed_actor<
    /// raft: persist one batch durably; answered with persisted_notice to raft.
    caf::reacts_to<persist_request>,
    /// raft: drop the log prefix a durable snapshot covers.
    caf::reacts_to<compact_request>>;

/// What a watch hub sends to a client's watcher actor (a remote actor of the
/// client library, implemented there as a dynamically typed actor; this
/// handle type only lets the hub send with itself as the sender, so the
/// client can tell which node a message came from).
using watcher_actor = caf::typed_actor<
    /// watch hub: the watch started (or was refused).
    caf::reacts_to<rpc::watch_reply>,
    /// watch hub: events in revision order.
    caf::reacts_to<rpc::watch_events>,
    /// watch hub: the watcher was cut off.
    caf::reacts_to<rpc::watch_closed>>;

/// One per node: serves watches from this node's applier (docs/design.md, Actors of one
/// node).
using watch_hub_actor = caf::typed_actor<
    /// applier: what one committed transaction changed.
    caf::reacts_to<watch_notice>,
    /// client session: register a watcher (answered to the watcher itself).
    caf::reacts_to<watch_subscribe>,
    /// client session: the watcher processed this many events (credit).
    caf::reacts_to<rpc::watch_ack>,
    /// client session: the watcher ends its watch.
    caf::reacts_to<rpc::watch_cancel>>;

/// Owns the state LMDB environment's write side; detached.
using applier_actor = caf::typed_actor<
    /// node (once, before raft exists): where watch_notice goes.
    caf::reacts_to<init_atom, watch_hub_actor>,
    /// raft: apply committed entries (queued; applied by the next flush);
    /// reported with applied_notice to raft.
    caf::reacts_to<apply_batch>,
    /// raft: install a received snapshot (after applying what is queued);
    /// answered with installed_notice to raft.
    caf::reacts_to<install_request>>;

using applier_actor_impl = applier_actor::extend<
    /// self: apply everything queued since the last flush in one transaction.
    caf::reacts_to<flush_atom>,
    /// self: applying is paused (a full disk); try again.
    caf::reacts_to<retry_atom>>;

/// A Raft role actor (follower, candidate or leader; actors/raft_role.hpp).
/// The one holding the core owns term, vote, commit index and role; the
/// others forward what reaches them. This is what clients of Raft see.
using raft_actor = caf::typed_actor<
    /// node endpoint: Raft messages from another member.
    caf::reacts_to<rpc::peer_batch>,
    /// client session: replicate a command; answered once applied.
    caf::replies_to<propose_request>::with<raft_reply>,
    /// client session: a linearizable read barrier (ReadIndex).
    caf::replies_to<read_atom>::with<raft_reply>,
    /// client session: add, remove or promote one server.
    caf::replies_to<membership_request>::with<raft_reply>,
    /// client session: move leadership to another voter.
    caf::replies_to<transfer_request>::with<raft_reply>,
    /// client session, CLI: this node's view of the cluster.
    caf::replies_to<status_atom>::with<rpc::status_reply>>;

/// What the snapshotter talks to: the raft role actor, narrowed.
using snapshot_listener_actor = caf::typed_actor<
    /// snapshotter: term and configuration at an index.
    caf::replies_to<snapshot_meta_request>::with<snapshot_meta_reply>,
    /// snapshotter: a snapshot was taken or received.
    caf::reacts_to<snapshot_report>>;

/// A raft role actor's full behaviour: its public interface plus its own
/// timer, the handover of the core, and the workers' reports.
using raft_actor_impl = raft_actor::extend<
    /// self: periodic tick tagged with an epoch (stale epochs are dropped).
    caf::reacts_to<tick_atom, std::uint64_t>,
    /// the previous role's actor (or the node at start): take the core.
    caf::reacts_to<take_core>,
    /// log store: a persist is durable.
    caf::reacts_to<persisted_notice>,
    /// applier: entries applied in one transaction; answer their waiters.
    caf::reacts_to<applied_notice>,
    /// applier: a received snapshot is installed.
    caf::reacts_to<installed_notice>,
    /// peer link: a snapshot transfer ended.
    caf::reacts_to<snapshot_sent_notice>,
    /// snapshotter: term and configuration at an index.
    caf::replies_to<snapshot_meta_request>::with<snapshot_meta_reply>,
    /// snapshotter: a snapshot was taken or received.
    caf::reacts_to<snapshot_report>>;

/// Builds, receives and stores snapshot files (`<data>/snapshots/`); detached.
using snapshotter_actor = caf::typed_actor<
    /// raft: take a snapshot of the state now (the log passed a threshold).
    caf::reacts_to<snapshot_atom>,
    /// node endpoint: a piece of a snapshot the leader sends.
    caf::replies_to<rpc::snapshot_chunk>::with<rpc::snapshot_chunk_reply>>;

/// One per other member: carries Raft batches to it over CAF remoting.
using peer_link_actor = caf::typed_actor<
    /// raft: send these messages (dropped when the window is full or the
    /// peer is unreachable: Raft retransmits).
    caf::reacts_to<rpc::peer_batch>,
    /// raft: stream a snapshot file to the peer (snapshot_sent_notice).
    caf::reacts_to<send_snapshot_request>,
    /// raft: abandon the snapshot transfer in progress.
    caf::reacts_to<cancel_snapshot>>;

using peer_link_actor_impl = peer_link_actor::extend<
    /// self: (re)connect now.
    caf::reacts_to<retry_atom, std::uint64_t>,
    /// self: the hold of refused snapshot transfer `id` is over.
    caf::reacts_to<snapshot_atom, std::uint64_t>>;

/// Per connected client: answers client requests.
using client_session_actor = caf::typed_actor<
    /// client: a write or read request.
    caf::replies_to<rpc::client_request>::with<rpc::client_reply>,
    /// client: this node's status (cluster status asks each member).
    caf::replies_to<status_atom>::with<rpc::status_reply>,
    /// client's watcher actor: start a watch (forwarded to the watch hub,
    /// which answers the watcher with watch_reply and then watch_events).
    caf::reacts_to<rpc::watch_request>,
    /// client's watcher actor: credit for the watch hub.
    caf::reacts_to<rpc::watch_ack>,
    /// client's watcher actor: end a watch.
    caf::reacts_to<rpc::watch_cancel>,
    /// client: the client is done with this session; it ends (a remote exit
    /// message would be dropped by the patched BASP).
    caf::reacts_to<caf::close_atom>>;

/// The actor a node publishes on its listen port.
using node_endpoint_actor = caf::typed_actor<
    /// another member's peer link: Raft traffic; replies with an ack (0).
    caf::replies_to<rpc::peer_batch>::with<std::uint64_t>,
    /// another member's peer link: a piece of a snapshot.
    caf::replies_to<rpc::snapshot_chunk>::with<rpc::snapshot_chunk_reply>,
    /// a client: open a client session; replies with its handle (null when
    /// refused) and why it was refused.
    caf::replies_to<rpc::client_hello>::with<caf::strong_actor_ptr, rpc::hello_status>>;

} // namespace conflux::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::persist_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::persisted_notice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::take_core)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::installed_notice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::snapshot_sent_notice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::cancel_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::apply_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::raft_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::applied_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::applied_notice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::propose_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::watch_change)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::watch_notice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::watch_subscribe)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::snapshot_meta_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::snapshot_meta_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::snapshot_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::install_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::compact_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::send_snapshot_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::membership_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(conflux::actors::transfer_request)
