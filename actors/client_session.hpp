#pragma once
// The client session actor: one per connected client, spawned by the node
// endpoint on client_hello. Writes go to the Raft role that holds the core
// (node_context::raft, read per request; they come back with
// "not leader" plus the leader's id and address on a non-leader), linearizable
// reads wait for a ReadIndex barrier (on any node: followers ask the leader),
// serializable reads run at once on this node's state and report how far it
// had got (its applied revision). Reads run in an LMDB read transaction on
// this actor's thread. The session ends when its client goes away.
// Authorization (docs/security.md, "Authorization"): a session belongs to the
// principal its client's token reached at hello, for its whole life. Writes
// carry that token's hash as their credential and are decided at apply;
// reads, lists, membership changes and status are checked here, against the
// principal as the state holds it at the time of each request (a revoked
// token stops working at once), reads in the same read transaction as the
// data. Every request also spends a token of the (principal, tenant) rate
// bucket (node_context::rates).
// Watches: the session only forwards watch requests, acks and cancels to the
// node's watch hub, with the requesting actor as the watcher; the hub then
// talks to the watcher directly (actors/watch_hub.hpp).

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <cstddef>
#include <memory>

namespace conflux::actors {

// Limits (docs/operations.md, "Resource limits"): at most
// --max-requests-in-flight requests wait for their answer at once (the next
// is refused with resource_exhausted), and a session whose client sent
// nothing for --session-idle-timeout, with no request open and no watch
// registered, closes itself (a watching client only speaks to ack events).

/// The session's own timer: the idle check, a quarter of the idle timeout
/// apart. Not part of what clients see.
/// Who a session acts for, fixed at hello.
struct session_identity {
  /// auth::token_hash of the client's token: every write's credential.
  std::string credential;
  /// The principal the token reached at hello.
  std::string principal;
  /// The client's network address as this node saw it ("": CAF 0.17 does
  /// not tell a remote actor's address to the actors).
  std::string origin;
};

using client_session_actor_impl =
    client_session_actor::extend<caf::reacts_to<tick_atom>>;

struct client_session_state {
  static inline const char* name = "client-session";
  /// Requests go to the Raft role that holds the core (ctx->raft).
  node_context_ptr ctx;
  /// This node's watch hub (watches are refused without one).
  watch_hub_actor watch_hub;
  /// Requests waiting for an answer; shared with the handlers that answer
  /// them, which drop it when they go (answered or timed out).
  std::shared_ptr<std::size_t> in_flight = std::make_shared<std::size_t>(0);
  /// Who the session acts for.
  session_identity who;
  /// Watches the client registered through this session and did not cancel.
  std::size_t watches = 0;
  /// The client sent something since the last idle check (a session whose
  /// client never speaks closes one idle timeout after it opened).
  bool heard = false;
  /// Idle checks in a row that found nothing going on.
  int idle_checks = 0;
};

using client_session_self =
    client_session_actor_impl::stateful_pointer<client_session_state>;

client_session_actor_impl::behavior_type client_session_fun(client_session_self self,
                                                            node_context_ptr ctx,
                                                            caf::actor_addr client,
                                                            caf::actor_addr endpoint,
                                                            session_identity who);

/// The same session, able to register watches with this node's watch hub.
client_session_actor_impl::behavior_type
client_session_with_watches_fun(client_session_self self, node_context_ptr ctx,
                                caf::actor_addr client, caf::actor_addr endpoint,
                                watch_hub_actor watch_hub, session_identity who);

/// Serves a read request from the local state (no consistency wait), for
/// the principal `who` (checked in the read transaction that reads the data).
rpc::client_reply serve_read(node_context& ctx, const rpc::client_request& req,
                             const session_identity& who);

} // namespace conflux::actors
