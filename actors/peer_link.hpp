#pragma once
// A peer link: one per other member, carrying the raft shell's batches to that
// member's node endpoint over CAF remoting.
//
// CAF gives no back-pressure on remote sends and never fails a request to a
// peer that died (bench/caf-spike/README.md §3), so the link:
//   - sends each batch as a request with a timeout, and keeps at most `window`
//     unanswered; beyond that it drops batches (Raft retransmits; the core's
//     own in-flight limit keeps this rare);
//   - connects through the middleman actor (never the blocking remote_actor),
//     takes a fresh handle on every connect, and reconnects with exponential
//     back-off after a down message or repeated timeouts;
//   - forgets the in-flight count of a dead connection at once, so that a
//     restarted peer is not starved until old requests time out.
// It also streams snapshot files (send_snapshot_request): chunks of
// `snapshot_chunk_bytes`, at most `snapshot_window` unanswered, each with its
// own timeout; any refusal, timeout, disconnect or cancel_snapshot ends the
// transfer, reported not ok, and Raft sends it again from the start later. A
// refusal for want of room (resource_exhausted, too_large: the follower's
// size limit or a full disk) is reported only after a hold of some seconds,
// so that the retries do not flood the follower and the logs.
// One transfer at a time; a second request for the same snapshot joins the
// running one. The end is reported once, with snapshot_sent_notice, to the
// Raft role that holds the core then. The
// file is read here (1 MiB reads, mostly from the page cache); the open
// descriptor keeps a file the snapshotter replaces meanwhile readable.

#include "actors/endpoint.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "protocol/raft/types.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

namespace conflux::actors {

struct snapshot_transfer {
  bool active = false;
  /// Tells callbacks of an earlier transfer apart.
  std::uint64_t id = 0;
  std::FILE* file = nullptr;
  send_snapshot_request req;
  std::uint64_t total = 0;
  /// Bytes handed to chunks so far, and bytes the peer confirmed.
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::size_t in_flight = 0;
  /// The peer refused it for want of room: nothing more is sent, and the
  /// failure is reported when the hold ends (peer_link.cpp).
  bool held = false;
};

struct peer_link_state {
  static inline const char* name = "peer-link";
  /// Snapshot reports go to the Raft role that holds the core (ctx->raft).
  node_context_ptr ctx;
  raft::server_id self_id = 0;
  raft::server_id peer = 0;
  endpoint address;
  node_endpoint_actor remote;
  bool connecting = false;
  /// A retry timer is armed; batches arriving meanwhile do not dial again
  /// (the back-off decides when).
  bool retry_pending = false;
  /// Bumped on every (dis)connect; callbacks of older generations are ignored.
  std::uint64_t generation = 0;
  std::chrono::milliseconds backoff{50};
  std::size_t in_flight = 0;
  std::size_t window = 128;
  int consecutive_timeouts = 0;
  std::uint64_t dropped = 0;
  bool warned_unreachable = false;
  snapshot_transfer snap;
  std::size_t snapshot_window = 4;
  std::size_t snapshot_chunk_bytes = 1u << 20;
  ~peer_link_state();
};

peer_link_actor_impl::behavior_type
peer_link_fun(peer_link_actor_impl::stateful_pointer<peer_link_state> self,
              node_context_ptr ctx, raft::server_id peer, endpoint address);

} // namespace conflux::actors
