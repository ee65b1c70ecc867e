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
/// as soon as the receiving node queued them; the ack only bounds the sender's
/// in-flight window, it says nothing about Raft.
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
/// session actor the node spawned for it (caf::strong_actor_ptr).
struct client_hello {
  /// Empty: any cluster; otherwise the node refuses another cluster's id.
  std::string cluster_id;
  std::string client_name;
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
};

/// One piece of a snapshot file, from the leader's peer link to a follower's
/// node endpoint (PROTOCOL.md "Snapshot transfer"). Chunks of one transfer
/// are sent in order, offset 0 first; the follower writes them to a temporary
/// file and, once `total` bytes arrived, verifies the file and hands it to its
/// raft actor as one InstallSnapshot. Reply: snapshot_chunk_reply.
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
