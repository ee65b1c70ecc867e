#pragma once
// Who may send a node Raft traffic (rpc::peer_batch) and snapshot chunks
// (rpc::snapshot_chunk): docs/security.md, "Node identity on the Raft
// channel". The node endpoint asks check_node_sender before it hands either
// on. With mutual TLS the identity the connection proved must be exactly
// conflux://<this cluster>/node/<the claimed sender>: a client identity, another
// node's identity or none at all is refused. In plain text (loopback-only
// test mode) there is no identity and only the addressee is checked.
//
// Pure: the proven identity comes in as text (peer_identity_of in
// actors/remoting.hpp reads it), so the rules are tested without TLS. Owned by
// nobody: the endpoint calls it per message.

#include "protocol/error.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace conflux::actors {

// -- sizes of node traffic --------------------------------------------------------
//
// Every CAF message must stay under the transport's payload limit
// (middleman.max-payload, 32 MiB: third_party/caf/README.md); a larger one
// closes the connection and would be resent, and dropped, forever.

/// Bytes of encoded Raft messages in one peer_batch: the raft shell splits
/// larger batches. A single message above it travels alone; it is bounded by
/// max_command_bytes plus one AppendEntries budget
/// (raft::core_config::max_bytes_per_message, 1 MiB).
constexpr std::size_t max_peer_batch_bytes = 8u << 20;
/// The largest command a leader proposes (larger: too_large, never appended).
/// It leaves room for any valid command (a config within
/// protocol/validation.hpp's limits), and a batch of one such entry stays
/// near half the payload limit.
constexpr std::size_t max_command_bytes = 16u << 20;
/// The largest snapshot_chunk::data a node accepts (peer links send 1 MiB).
constexpr std::size_t max_snapshot_chunk_bytes = 4u << 20;

/// Why a node refuses a message that claims to come from another node.
enum class sender_refusal : std::uint8_t {
  none,
  /// The connection proved a client identity: clients never send node traffic.
  client_identity,
  /// The connection proved the identity of another node than the one claimed.
  identity_mismatch,
  /// TLS is on but the connection proved no (usable) identity.
  no_identity,
  /// The message names another cluster or another addressee than this node.
  wrong_addressee,
};

/// The verdict on one message: the refusal and a sentence for the log and
/// the reply.
struct sender_check {
  sender_refusal refusal = sender_refusal::none;
  std::string reason;
  bool ok() const noexcept { return refusal == sender_refusal::none; }
};

/// What a node needs to judge a message's sender.
struct sender_claim {
  /// "conflux://..." as the TLS connection proved it; "" when none.
  std::string_view proven_identity;
  /// What the message says: its cluster, sender and addressee.
  std::string_view cluster_id;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

/// Checks `claim` for node `own_id` of cluster `own_cluster`. `tls`: the node
/// runs mutual TLS (plain text has no identity: only the addressee counts).
sender_check check_node_sender(bool tls, std::string_view own_cluster,
                               std::uint64_t own_id, const sender_claim& claim);

/// The counter a refusal adds to ("raft.dropped.client_identity", ...).
/// REQUIRES: r != sender_refusal::none
const char* refusal_counter(sender_refusal r);

/// The error code a refusal is answered with: permission_denied for an
/// identity that may not send this, invalid_argument for a wrong addressee.
errc refusal_code(sender_refusal r);

/// Lets through at most one log line per `interval`, and counts the lines it
/// held back, so that a peer sending garbage cannot flood the node's log.
/// Not thread-safe: one per actor.
class log_limiter {
public:
  explicit log_limiter(
      std::chrono::steady_clock::duration interval = std::chrono::seconds(1))
      : interval_(interval) {}

  /// True when a line may be written at `now`; then `held_back` is the number
  /// of lines suppressed since the last one written.
  bool allow(std::chrono::steady_clock::time_point now, std::uint64_t& held_back);

private:
  std::chrono::steady_clock::duration interval_;
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t held_back_ = 0;
};

} // namespace conflux::actors
