#pragma once
// The log store actor: owns the log LMDB environment (storage::log_store) and
// makes ready batches durable, one LMDB transaction (one fsync) per request,
// and reports each with persisted_notice to the Raft role that holds the core
// then. Group commit happens at the sender: the raft shell keeps at most one
// persist in flight and merges everything that arrives meanwhile into the
// next one (raft_shell::flush_persist). Runs detached: fsync blocks its
// thread only.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "storage/log_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace conflux::actors {

struct log_store_state {
  static inline const char* name = "log-store";
  std::unique_ptr<storage::log_store> store;
  node_context_ptr ctx;
  std::uint64_t persists = 0;
};

log_store_actor::behavior_type
log_store_fun(log_store_actor::stateful_pointer<log_store_state> self,
              std::unique_ptr<storage::log_store> store, node_context_ptr ctx);

} // namespace conflux::actors
