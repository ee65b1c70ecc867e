#pragma once
// The messages that cross the network between Conflux processes: Raft traffic
// between nodes and requests from the CAF-native client. Plain structs of CAF's
// built-in serializable types (strings, integers, vectors, maps): anything
// richer travels as msgpack bytes made by protocol/codec.hpp or
// protocol/raft/wire.hpp, so the CAF-visible surface stays small and every
// decode is strict. protocol/type_ids.hpp registers these with CAF; PROTOCOL.md
// ("Node RPC") describes sender, receiver and reply of each.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace conflux::rpc {

/// Raft messages from one node to another, in send order. Each element is one
/// raft::message encoded by raft::encode_message. Reply: an ack (uint64_t 0)
/// as soon as the receiving node queued them, or the conflux::errc value it
/// dropped them for (a connection whose identity is not node `from`:
/// docs/security.md); the ack only bounds the sender's in-flight window, it
/// says nothing about Raft.
struct peer_batch {
  std::string cluster_id;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::vector<std::string> messages;
  /// Where the sender listens. The receiver dials it back when it knows no
  /// other address for `from` (a server that joins learns its leader so).
  std::string from_address;
};

/// A client opens a session with a node. Reply: the handle of the client
/// session actor the node spawned for it (caf::strong_actor_ptr, null when
/// refused) and a hello_status saying why it was refused.
struct client_hello {
  /// Empty: any cluster; otherwise the node refuses another cluster's id.
  std::string cluster_id;
  std::string client_name;
  /// The client's token ("cfx_" + 64 hex). The node hashes it and looks the
  /// principal up in its state; a missing, unknown, revoked or expired token
  /// is refused with unauthenticated. The session belongs to that principal
  /// for its whole life (docs/security.md, "Authorization").
  std::string token;
};

/// The second half of the answer to client_hello.
struct hello_status {
  /// 0 = ok (the session handle is set), otherwise a conflux::errc value:
  /// invalid_argument (another cluster), resource_exhausted (a session cap),
  /// unauthenticated (no valid token).
  std::uint8_t code = 0;
  std::string message;
};

enum class request_op : std::uint8_t {
  /// payload = codec::encode(command_envelope); item 0 = codec::encode(apply_result)
  write = 1,
  /// key; item 0 = encoded config
  get_config = 2,
  /// key = prefix; items = encoded configs in key order
  list_configs = 3,
  /// key; items = encoded versions in id order
  list_versions = 4,
  /// key, id; item 0 = encoded version
  get_version = 5,
  /// key, labels; item 0 = config, item 1 = version, extra = rule index
  resolve = 6,
  /// no arguments; the reply is status_reply (see node status below)
  status = 7,
  /// id = server id, payload = its HOST:PORT, labels {"learner": "true"} to
  /// add a permanent learner; answered once the configuration is applied.
  /// extra = the configuration's log index.
  add_member = 8,
  /// id = server id; removing the leader first hands leadership over.
  remove_member = 9,
  /// id = the voter to hand leadership to; answered once it leads.
  transfer_leader = 10,
  /// no arguments; item 0 = codec::encode(auth::principal) of the session's
  /// principal, items 1.. = its roles (codec::encode(auth::role)).
  whoami = 11,
  /// key = name prefix ("" = all); items = encoded auth::principal (token
  /// hashes blanked). cluster-admin.
  list_tokens = 12,
  /// items = encoded auth::role. cluster-admin, or admin on some pattern.
  list_roles = 13,
  /// items = encoded auth::tenant. cluster-admin.
  list_tenants = 14,
  /// key = KEY or PREFIX/ ("" = all), id = first revision, labels
  /// {"principal": P} optional; items = encoded audit records in revision
  /// order, paged like lists (extra = 1: more follow). auditor.
  audit_list = 15,
  /// id = a sequence number of the audit trail (0 = this node's head);
  /// item 0 = the chain state there (PROTOCOL.md, "Audit"). auditor.
  audit_verify = 16,
  /// no arguments. The node wraps again, under its current key-encryption
  /// key, the data keys of up to a batch of sealed versions wrapped under
  /// another, and proposes that (rewrap_secrets). extra = versions rewrapped
  /// (0: none is left under another key); item 0 = the current key's id.
  /// cluster-admin; sent to the leader like a write.
  kek_rotate = 17,
  /// no arguments; item 0 = this node's current key id, items 1.. =
  /// "ID=COUNT": sealed versions in the state by the KEK that wraps them.
  /// cluster-admin.
  kek_status = 18,
};

struct client_request {
  std::uint8_t op = 0;
  /// 0 linearizable, 1 serializable (reads only).
  std::uint8_t consistency = 0;
  std::string key;
  std::uint64_t id = 0;
  std::map<std::string, std::string> labels;
  std::string payload;
};

struct client_reply {
  /// 0 = ok, otherwise a conflux::errc value.
  std::uint8_t code = 0;
  std::string message;
  /// On not_leader: who to ask instead (0 / empty when unknown).
  std::uint64_t leader_id = 0;
  std::string leader_address;
  /// The node that answered and its applied revision when it answered.
  std::uint64_t node_id = 0;
  std::uint64_t revision = 0;
  std::vector<std::string> items;
  std::uint64_t extra = 0;
};

struct member_entry {
  std::uint64_t id = 0;
  std::string address;
  /// "voter", "learner" (permanent non-voter) or "joining" (a new server
  /// catching up; promoted to voter automatically).
  std::string kind;
  /// Leader's view (zero elsewhere): the member's highest replicated index
  /// and how many entries it lags behind the leader's last index.
  std::uint64_t match = 0;
  std::uint64_t lag = 0;
};

struct status_reply {
  std::uint64_t id = 0;
  std::string address;
  std::string role;
  std::uint64_t term = 0;
  std::uint64_t commit = 0;
  std::uint64_t applied = 0;
  std::uint64_t leader_id = 0;
  std::string leader_address;
  std::string cluster_id;
  std::vector<member_entry> members;
  /// Client sessions open on this node right now.
  std::uint64_t sessions = 0;
  /// How the node speaks to peers and clients: "mutual-tls", or
  /// "insecure-plaintext" (loopback only).
  std::string transport;
  /// The node's refusal and drop counters by name (only those above 0):
  /// messages dropped for identity or size, limits hit, transport drops.
  std::map<std::string, std::uint64_t> counters;
  /// Not empty while the node cannot apply committed entries for want of
  /// room (a full disk or database): why. The node is not ready then: it
  /// serves serializable reads only, and applies again once the write fits.
  std::string apply_paused;
};

// -- watches (PROTOCOL.md "Watches") -------------------------------------------

/// What changed at one revision of one config (watch_event::kind).
enum class watch_kind : std::uint8_t {
  config_created = 1,
  version_added = 2,
  rules_changed = 3,
  versions_deleted = 4,
  config_deleted = 5,
  /// A version added and the rules replaced in one step (publish).
  published = 6,
  /// Not a change: the current state of every watched key, sent instead of
  /// events the hub no longer holds (watch_event::state has one entry per key).
  resync = 7,
};

/// One watched key's current state, in a resync event.
struct watch_entry {
  std::string key;
  std::uint64_t config_id = 0;
  std::uint64_t mod_revision = 0;
  std::uint64_t latest_version = 0;
  /// Labelled watches: the version resolved for the labels (0 = not
  /// published); otherwise 0.
  std::uint64_t resolved_version = 0;
  /// SHA-256 (hex) of the resolved version (labelled) or the latest one.
  std::string content_hash;
};

struct watch_event {
  /// The revision (log index) of the change; for resync, the applied
  /// revision of the state it shows.
  std::uint64_t revision = 0;
  /// A watch_kind.
  std::uint8_t kind = 0;
  std::string key;
  std::uint64_t config_id = 0;
  /// The versions concerned: created (config_created, version_added,
  /// published), deleted (versions_deleted), or referenced by the new rules
  /// (rules_changed).
  std::vector<std::uint64_t> versions;
  /// SHA-256 (hex): of the version added, or (labelled watches) of the
  /// resolved version. Empty when there is none.
  std::string content_hash;
  /// Labelled watches: the version now resolved for the labels (0 = none:
  /// not published or deleted). 0 for unlabelled watches.
  std::uint64_t resolved_version = 0;
  /// resync only.
  std::vector<watch_entry> state;
};

/// client -> client session (registers the sender as the watcher).
/// Reply: watch_reply. Events then go to the sender as watch_events.
struct watch_request {
  /// A key, or a key prefix ending in '/'.
  std::string key;
  /// Non-empty: notify only when the version resolved for these labels changes.
  std::map<std::string, std::string> labels;
  /// 0: from now on. Otherwise the first revision wanted (last seen + 1).
  std::uint64_t from_revision = 0;
};

struct watch_reply {
  /// 0 = ok, otherwise a conflux::errc value.
  std::uint8_t code = 0;
  std::string message;
  std::uint64_t watch_id = 0;
  /// Every change up to and including this revision is covered (by events
  /// to come, the resync, or from_revision - 1): resume from revision + 1.
  std::uint64_t revision = 0;
  std::uint64_t node_id = 0;
};

/// watch hub -> watcher: events in revision order.
struct watch_events {
  std::uint64_t watch_id = 0;
  std::vector<watch_event> events;
};

/// watcher -> client session: `count` events were processed in total since
/// the watch started (cumulative). Grants the hub credit to send more.
struct watch_ack {
  std::uint64_t watch_id = 0;
  std::uint64_t count = 0;
};

/// watcher -> client session: stop this watch.
struct watch_cancel {
  std::uint64_t watch_id = 0;
};

/// watch hub -> watcher: the watch ended (cut off); no more events follow.
struct watch_closed {
  std::uint64_t watch_id = 0;
  /// A conflux::errc value (unavailable: too slow, or fell behind the
  /// hub's history; resume from the last revision seen + 1).
  std::uint8_t code = 0;
  std::string reason;
};

/// One piece of a snapshot file, from the leader's peer link to a follower's
/// node endpoint (PROTOCOL.md "Node RPC", snapshot_chunk). Chunks of one transfer
/// are sent in order, offset 0 first; the follower writes them to a temporary
/// file and, once `total` bytes arrived, verifies the file and hands it to its
/// Raft role holding the core as one InstallSnapshot. Reply: snapshot_chunk_reply.
struct snapshot_chunk {
  std::string cluster_id;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  /// The leader's current term (the InstallSnapshot term).
  std::uint64_t term = 0;
  /// Which snapshot: its last index and that entry's term.
  std::uint64_t index = 0;
  std::uint64_t snapshot_term = 0;
  /// Where `data` goes in the file, and the file's whole size.
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  std::string data;
};

struct snapshot_chunk_reply {
  /// 0 = ok, otherwise a conflux::errc value (the sender gives up the transfer
  /// and Raft retries it from offset 0 later).
  std::uint8_t code = 0;
  std::string message;
  /// Bytes of this transfer the follower holds now.
  std::uint64_t received = 0;
};

} // namespace conflux::rpc
