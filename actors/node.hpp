#pragma once
// The node supervisor: opens a node's two LMDB environments, rebuilds the
// consensus core from them, and spawns and links the node's actors (log store,
// applier, raft, one peer link per other member, the node endpoint). If any of
// them dies the supervisor and with it the whole node goes down; the launcher
// (apps/node) publishes the endpoint, watches the failure flag and signals,
// and exits non-zero with the reason.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace conflux::actors {

struct node_handles {
  /// What the launcher publishes on the listen port.
  node_endpoint_actor endpoint;
  /// Linked to every actor of the node; send it an exit to stop the node.
  caf::actor supervisor;
  node_context_ptr ctx;
};

/// Opens `<data>/log` and `<data>/state` (refusing another cluster's or
/// node's data dir, or a newer format: the error says which and what to do)
/// and starts the node's actors. Bootstraps the static membership from
/// opts.peers when the log holds none.
expected<node_handles> start_node(caf::actor_system& sys, node_options opts);

/// The actor a node publishes: Raft traffic to the role holding the core,
/// snapshot chunks to the snapshotter, and client hellos, each answered with
/// a new client session unless a session cap (--max-sessions,
/// --max-sessions-per-connection) refuses it. start_node spawns it; tests
/// spawn it alone.
node_endpoint_actor spawn_node_endpoint(caf::actor_system& sys, node_context_ptr ctx,
                                        watch_hub_actor hub,
                                        snapshotter_actor snapshotter);

/// Validates options: id in peers, listen address equal to the peers entry,
/// addresses well-formed, tick and election settings sane.
status check_node_options(const node_options& opts);

/// Refuses a transport the node cannot run with: plain text with a listen or
/// peer address that is not loopback, TLS without readable credentials. The
/// launcher calls it; start_node does not (in-process nodes need no network).
status check_node_transport(const node_options& opts);

} // namespace conflux::actors
