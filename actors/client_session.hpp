#pragma once
// The client session actor: one per connected client, spawned by the node
// endpoint on client_hello. Writes go to the Raft role that holds the core
// (node_context::raft, read per request; they come back with
// "not leader" plus the leader's id and address on a non-leader), linearizable
// reads wait for a ReadIndex barrier (on any node: followers ask the leader),
// serializable reads run at once on this node's state and report how far it
// had got (its applied revision). Reads run in an LMDB read transaction on
// this actor's thread. The session ends when its client goes away.
// Watches: the session only forwards watch requests, acks and cancels to the
// node's watch hub, with the requesting actor as the watcher; the hub then
// talks to the watcher directly (actors/watch_hub.hpp).

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace conflux::actors {

struct client_session_state {
  static inline const char* name = "client-session";
  /// Requests go to the Raft role that holds the core (ctx->raft).
  node_context_ptr ctx;
  /// This node's watch hub (watches are refused without one).
  watch_hub_actor watch_hub;
};

client_session_actor::behavior_type
client_session_fun(client_session_actor::stateful_pointer<client_session_state> self,
                   node_context_ptr ctx, caf::actor_addr client,
                   caf::actor_addr endpoint);

/// The same session, able to register watches with this node's watch hub.
client_session_actor::behavior_type client_session_with_watches_fun(
    client_session_actor::stateful_pointer<client_session_state> self,
    node_context_ptr ctx, caf::actor_addr client, caf::actor_addr endpoint,
    watch_hub_actor watch_hub);

/// Serves a read request from the local state (no consistency wait).
rpc::client_reply serve_read(node_context& ctx, const rpc::client_request& req);

} // namespace conflux::actors
