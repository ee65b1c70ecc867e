#include "actors/applier.hpp"

#include "actors/watch_hub.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace conflux::actors {
namespace {

using self_ptr = applier_actor_impl::stateful_pointer<applier_state>;

void stop_node(self_ptr self, const std::string& msg) {
  spdlog::error("{}", msg);
  self->state.ctx->failure.fail(msg);
  self->quit(caf::exit_reason::user_shutdown);
}

void apply_entries(self_ptr self, const std::vector<raft::entry_ptr>& entries) {
  auto& st = self->state;
  // The core may hand out entries again after a restart; those below
  // last_applied are already in the state (PROTOCOL.md §3.4).
  std::size_t first = 0;
  while (first < entries.size() && entries[first]->index <= st.applied)
    ++first;
  if (first == entries.size())
    return;
  auto txn = st.ctx->state->begin_write();
  if (!txn.ok())
    return stop_node(self, "applier cannot begin a state transaction: " +
                               to_string(txn.err()));
  applied_notice notice;
  notice.results.reserve(entries.size() - first);
  watch_notice changes;
  for (auto i = first; i < entries.size(); ++i) {
    auto& e = *entries[i];
    std::optional<watch_probe> probe;
    if (st.watch_hub) {
      auto p = probe_before(*txn, e);
      if (!p.ok())
        return stop_node(self, "applier cannot read entry " + std::to_string(e.index) +
                                   "'s config: " + to_string(p.err()));
      probe = std::move(*p);
    }
    auto res = st.machine.apply(*txn, e);
    if (!res.ok())
      return stop_node(self, "applier stopped at entry " + std::to_string(e.index) +
                                 ": " + to_string(res.err()));
    if (probe) {
      auto ch = change_after(*txn, std::move(*probe), *res, e.index);
      if (!ch.ok())
        return stop_node(self, "applier cannot read entry " + std::to_string(e.index) +
                                   "'s change: " + to_string(ch.err()));
      if (*ch)
        changes.changes.push_back(std::move(**ch));
    }
    notice.results.push_back({e.index, e.term, std::move(*res)});
  }
  if (auto s = txn->commit(); !s.ok())
    return stop_node(self, "applier failed to commit entries " +
                               std::to_string(entries[first]->index) + ".." +
                               std::to_string(entries.back()->index) + ": " +
                               to_string(s.err()));
  st.applied = entries.back()->index;
  st.ctx->applied.store(st.applied);
  notice.applied = st.applied;
  notice.newest_term = entries.back()->term;
  // The raft actor answers the waiters of these entries (and the reads
  // waiting for this index); it owns their promises.
  if (st.listener)
    self->send(st.listener, std::move(notice));
  if (st.watch_hub) {
    changes.applied = st.applied;
    self->send(st.watch_hub, std::move(changes));
  }
}

} // namespace

applier_actor_impl::behavior_type applier_fun(self_ptr self, node_context_ptr ctx,
                                         raft::index_t applied) {
  self->state.ctx = std::move(ctx);
  self->state.applied = applied;
  self->state.machine = conflux::state_machine{self->state.ctx->opts.limits};
  self->state.ctx->applied.store(applied);
  return {
    [=](init_atom, applied_listener_actor& listener) {
      self->state.listener = std::move(listener);
    },
    [=](init_atom, watch_hub_actor& hub) { self->state.watch_hub = std::move(hub); },
    [=](apply_batch& b) {
      auto& st = self->state;
      if (st.queued.empty())
        st.queued = std::move(b.entries);
      else
        st.queued.insert(st.queued.end(), std::make_move_iterator(b.entries.begin()),
                         std::make_move_iterator(b.entries.end()));
      if (!st.flush_pending) {
        st.flush_pending = true;
        self->send(self, flush_atom::value);
      }
    },
    [=](flush_atom) {
      auto& st = self->state;
      st.flush_pending = false;
      auto entries = std::move(st.queued);
      st.queued.clear();
      apply_entries(self, entries);
    },
  };
}

} // namespace conflux::actors
