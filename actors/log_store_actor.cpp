#include "actors/log_store_actor.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace conflux::actors {
namespace {

using self_ptr = log_store_actor::stateful_pointer<log_store_state>;

/// docs/design.md, durability rule 6: a node whose log cannot be written
/// stops.
void stop_node(self_ptr self, const std::string& msg) {
  spdlog::error("{}", msg);
  self->state.ctx->failure.fail(msg);
  self->quit(caf::exit_reason::user_shutdown);
}

} // namespace

log_store_actor::behavior_type log_store_fun(self_ptr self,
                                             std::unique_ptr<storage::log_store> store,
                                             node_context_ptr ctx) {
  self->state.store = std::move(store);
  self->state.ctx = std::move(ctx);
  return {
      [=](persist_request& req) {
        auto& st = self->state;
        if (auto res = st.store->persist(req.batch); !res.ok())
          return stop_node(self, "log store failed to persist batch " +
                                     std::to_string(req.persist_id) + ": " +
                                     to_string(res.err()));
        ++st.persists;
        // To whichever role holds the core now, not to the one that asked.
        self->send(st.ctx->raft.get(), persisted_notice{req.persist_id});
      },
      [=](compact_request& req) {
        if (auto res = self->state.store->drop_prefix(req.upto); !res.ok())
          return stop_node(self, "log store failed to drop the entries up to " +
                                     std::to_string(req.upto) + ": " +
                                     to_string(res.err()));
        spdlog::info("log store compacted the log up to index {}", req.upto);
      },
  };
}

} // namespace conflux::actors
