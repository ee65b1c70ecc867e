#pragma once
// The applier: owns the write side of the state LMDB environment. Applies
// committed entries in log order, one write transaction per batch with
// last_applied in the same transaction (atomic and idempotent across crashes,
// docs/design.md, durability rule 7), then reports every entry it applied,
// with its result, to the Raft role that holds the core (node_context::raft)
// in one applied_notice. That role answers the client sessions waiting for
// those entries and releases linearizable reads; the applier holds no
// response promise. It installs received snapshots (installed_notice). Runs
// detached: its commits fsync.
//
// Group commit: an apply_batch only queues its entries and, if none is
// pending, sends the applier a flush message. The flush lands behind every
// apply_batch already in the mailbox, so all of them go into one transaction
// (one fsync) instead of one each.
//
// Watches: with a watch hub introduced (init message from the node), the
// applier notes each config command's config before and after applying it
// (actors/watch_hub.hpp) and sends the hub one watch_notice per committed
// transaction.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "protocol/state_machine.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <vector>

namespace conflux::actors {

struct applier_state {
  static inline const char* name = "applier";
  node_context_ptr ctx;
  conflux::state_machine machine;
  raft::index_t applied = 0;
  /// Entries received but not yet applied (waiting for the flush).
  std::vector<raft::entry_ptr> queued;
  bool flush_pending = false;
  /// Where watch_notice goes (the node's watch hub; none in some tests).
  watch_hub_actor watch_hub;
  /// CONFLUX_TEST_CRASH=snapshot-install: exit in the middle of the next
  /// snapshot install (integration tests of crash safety only).
  bool crash_in_install = false;
};

applier_actor_impl::behavior_type
applier_fun(applier_actor_impl::stateful_pointer<applier_state> self,
            node_context_ptr ctx, raft::index_t applied);

} // namespace conflux::actors
