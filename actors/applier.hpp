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
// A full disk (MDB_MAP_FULL, ENOSPC, EDQUOT: errc::resource_exhausted from
// storage) while applying committed entries or installing a snapshot never
// skips or refuses them: the applier aborts the transaction, keeps every
// entry, marks the node paused (node_context::paused, counter
// `apply.paused.disk_full`) and tries again every apply_retry_interval until
// the write fits; then it clears the mark. Any other storage error stops the
// node (docs/design.md, durability rule 6).
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
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace conflux::actors {

/// How often a paused applier tries again.
constexpr std::chrono::seconds apply_retry_interval{1};

/// Fault injection for tests: asked before each commit of applied entries;
/// an error makes that commit fail with it (the transaction is aborted).
/// Empty in a real node.
using apply_fault = std::function<status()>;

struct applier_state {
  static inline const char* name = "applier";
  node_context_ptr ctx;
  conflux::state_machine machine;
  raft::index_t applied = 0;
  /// Entries received but not yet applied (waiting for the flush, or for
  /// room on the disk).
  std::vector<raft::entry_ptr> queued;
  bool flush_pending = false;
  /// A snapshot to install after `queued` (set only while paused or between
  /// the request and its install); entries raft hands out meanwhile wait in
  /// after_install.
  std::optional<install_request> pending_install;
  std::vector<raft::entry_ptr> after_install;
  /// Applying waits for room on the disk (ctx->paused says why); a retry
  /// message is due when retry_armed.
  bool paused = false;
  bool retry_armed = false;
  std::uint64_t retries = 0;
  std::chrono::steady_clock::time_point paused_since;
  std::chrono::steady_clock::time_point last_retry_log;
  apply_fault fault;
  /// Where watch_notice goes (the node's watch hub; none in some tests).
  watch_hub_actor watch_hub;
  /// CONFLUX_TEST_CRASH=snapshot-install: exit in the middle of the next
  /// snapshot install (integration tests of crash safety only).
  bool crash_in_install = false;
};

applier_actor_impl::behavior_type
applier_fun(applier_actor_impl::stateful_pointer<applier_state> self,
            node_context_ptr ctx, raft::index_t applied);

/// applier_fun with a fault injected before each commit.
applier_actor_impl::behavior_type
applier_with_fault_fun(applier_actor_impl::stateful_pointer<applier_state> self,
                       node_context_ptr ctx, raft::index_t applied, apply_fault fault);

} // namespace conflux::actors
