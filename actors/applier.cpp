#include "actors/applier.hpp"

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

raft_reply error_reply(errc code, std::string msg) {
  raft_reply r;
  r.err = error{code, std::move(msg)};
  return r;
}

/// The answer to a write whose entry lost to another leader's entry. It names
/// the leader this node knows, so the client redirects at once.
raft_reply lost_write_reply(const applier_state& st) {
  auto r = error_reply(errc::not_leader,
                       "leadership changed before the write committed, so it was not "
                       "applied; retry it with the same session sequence");
  r.leader_id = st.ctx->leader.load();
  return r;
}

void release_reads(self_ptr self) {
  auto& st = self->state;
  auto end = st.reads.upper_bound(st.applied);
  for (auto i = st.reads.begin(); i != end; ++i) {
    raft_reply r;
    r.index = st.applied;
    i->second.deliver(std::move(r));
  }
  st.reads.erase(st.reads.begin(), end);
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
  struct outcome {
    raft::index_t index;
    raft::term_t term;
    apply_result result;
  };
  std::vector<outcome> outcomes;
  outcomes.reserve(entries.size() - first);
  for (auto i = first; i < entries.size(); ++i) {
    auto& e = *entries[i];
    auto res = st.machine.apply(*txn, e);
    if (!res.ok())
      return stop_node(self, "applier stopped at entry " + std::to_string(e.index) +
                                 ": " + to_string(res.err()));
    outcomes.push_back({e.index, e.term, std::move(*res)});
  }
  if (auto s = txn->commit(); !s.ok())
    return stop_node(self, "applier failed to commit entries " +
                               std::to_string(entries[first]->index) + ".." +
                               std::to_string(entries.back()->index) + ": " +
                               to_string(s.err()));
  st.applied = entries.back()->index;
  st.ctx->applied.store(st.applied);
  for (auto& o : outcomes) {
    auto [lo, hi] = st.writes.equal_range(o.index);
    for (auto i = lo; i != hi; ++i) {
      if (i->second.term == o.term) {
        raft_reply r;
        r.result = o.result;
        r.index = o.index;
        i->second.rp.deliver(std::move(r));
      } else {
        i->second.rp.deliver(lost_write_reply(st));
      }
    }
    st.writes.erase(lo, hi);
  }
  // Log terms never decrease, so a waiter whose entry has a term below the
  // newest applied term can never see its entry commit at any index: answer
  // it now instead of when the log happens to reach its index.
  auto newest_term = entries.back()->term;
  for (auto i = st.writes.begin(); i != st.writes.end();) {
    if (i->second.term < newest_term) {
      i->second.rp.deliver(lost_write_reply(st));
      i = st.writes.erase(i);
    } else {
      ++i;
    }
  }
  release_reads(self);
}

} // namespace

applier_actor_impl::behavior_type applier_fun(self_ptr self, node_context_ptr ctx,
                                         raft::index_t applied) {
  self->state.ctx = std::move(ctx);
  self->state.applied = applied;
  self->state.machine = conflux::state_machine{self->state.ctx->opts.limits};
  self->state.ctx->applied.store(applied);
  return {
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
    [=](await_result& w) {
      auto& st = self->state;
      if (w.index <= st.applied) {
        // Cannot happen with the raft actor's ordering (it registers before
        // the entry can commit); answer rather than leave the client hanging.
        w.rp.deliver(error_reply(errc::timeout,
                                 "the write's outcome is no longer known here; retry "
                                 "it with the same session sequence"));
        return;
      }
      st.writes.emplace(w.index, std::move(w));
    },
    [=](read_barrier& r) {
      auto& st = self->state;
      st.reads.emplace(r.index, std::move(r.rp));
      release_reads(self);
    },
  };
}

} // namespace conflux::actors
