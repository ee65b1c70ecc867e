// What the three Raft role actors share: taking the core, handing it on,
// ticking, forwarding while dormant, and the read queue.
#include "actors/raft_role.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace conflux::actors {

namespace {

/// The holder now: where a dormant role forwards to.
raft_actor_impl holder(raft_role_self self) {
  return self->state.ctx->raft.get();
}

void hand_off(raft_role_self self, role_kind next) {
  auto& st = self->state;
  auto& sh = *st.shell;
  spdlog::info("raft: node {} role {} -> {} (term {})", st.ctx->opts.id,
               role_kind_name(st.kind), role_kind_name(next), sh.core().term());
  // The role's promises are answered by the actor that made them, now.
  st.tenure->end();
  st.tenure.reset();
  sh.detach();
  auto& to = sh.role_actor(next);
  // First the core, then the slot: whatever reads the slot from now on
  // reaches `to` after take_core.
  self->send(to, take_core{std::move(st.shell)});
  st.ctx->raft.set(to);
  self->become(dormant_behavior(self));
}

} // namespace

void settle(raft_role_self self) {
  auto& st = self->state;
  if (!st.shell)
    return; // the shell stopped the node (fail) or was handed on already
  st.tenure->settle();
  auto next = st.shell->role_of_core();
  if (next != st.kind)
    hand_off(self, next);
}

void on_tick(raft_role_self self, std::uint64_t epoch) {
  auto& st = self->state;
  if (!st.shell || !st.shell->on_tick(epoch))
    return; // a tick of an earlier holding: its chain ends here
  self->delayed_send(self, st.ctx->opts.tick, tick_atom::value, epoch);
  settle(self);
}

void on_take_core(raft_role_self self, take_core& t) {
  auto& st = self->state;
  if (st.shell) {
    // Two cores in one node would be two voters with one id.
    st.shell->fail("raft: node " + std::to_string(st.ctx->opts.id) + "'s " +
                   role_kind_name(st.kind) +
                   " actor was handed a second consensus core; stopping the node");
    return;
  }
  st.shell = std::move(t.shell);
  st.tenure = st.new_tenure(self);
  self->become(st.holding(self));
  st.shell->attach(self, st.tenure.get());
  settle(self);
}

raft_actor_impl::behavior_type dormant_behavior(raft_role_self self) {
  // The slot is set for the node's whole life (start_raft), so there is
  // always a holder to forward to.
  return {
      [=](propose_request& r) -> caf::result<raft_reply> {
        return self->delegate(holder(self), std::move(r));
      },
      [=](read_atom a) -> caf::result<raft_reply> {
        return self->delegate(holder(self), a);
      },
      [=](membership_request& r) -> caf::result<raft_reply> {
        return self->delegate(holder(self), std::move(r));
      },
      [=](transfer_request& r) -> caf::result<raft_reply> {
        return self->delegate(holder(self), std::move(r));
      },
      [=](rpc::peer_batch& b) { self->delegate(holder(self), std::move(b)); },
      [=](tick_atom, std::uint64_t) {},
      [=](take_core& t) { on_take_core(self, t); },
      [=](persisted_notice& n) { self->delegate(holder(self), n); },
      [=](applied_notice& n) { self->delegate(holder(self), std::move(n)); },
      [=](installed_notice& n) { self->delegate(holder(self), n); },
      [=](snapshot_sent_notice& n) { self->delegate(holder(self), n); },
      [=](snapshot_meta_request& r) -> caf::result<snapshot_meta_reply> {
        return self->delegate(holder(self), r);
      },
      [=](snapshot_report& r) { self->delegate(holder(self), std::move(r)); },
      [=](status_atom a) -> caf::result<rpc::status_reply> {
        return self->delegate(holder(self), a);
      },
  };
}

raft_actor_impl::behavior_type
init_role(raft_role_self self, role_kind kind, node_context_ptr ctx,
          std::function<std::unique_ptr<role_tenure>(raft_role_self)> new_tenure,
          std::function<raft_actor_impl::behavior_type(raft_role_self)> holding) {
  auto& st = self->state;
  st.kind = kind;
  st.ctx = std::move(ctx);
  st.new_tenure = std::move(new_tenure);
  st.holding = std::move(holding);
  return dormant_behavior(self);
}

std::map<role_kind, raft_actor_impl> spawn_raft_roles(caf::actor_system& sys,
                                                      const node_context_ptr& ctx) {
  return {
      {role_kind::follower, sys.spawn(follower_actor, ctx)},
      {role_kind::candidate, sys.spawn(candidate_actor, ctx)},
      {role_kind::leader, sys.spawn(leader_actor, ctx)},
  };
}

void start_raft(const node_context_ptr& ctx, std::shared_ptr<raft_shell> shell) {
  auto first = shell->role_actor(shell->role_of_core());
  caf::anon_send(first, take_core{std::move(shell)});
  ctx->raft.set(first);
}

// -- read queue ---------------------------------------------------------------------

caf::result<raft_reply> read_queue::start(raft_role_self self, raft_shell& sh) {
  auto context = sh.next_read_context();
  auto r = sh.core().read_index(context);
  if (!r.ok()) {
    auto reply = sh.reply_for(r);
    sh.process_ready();
    return reply;
  }
  auto rp = self->make_response_promise<raft_reply>();
  unconfirmed_.emplace(context, unconfirmed{rp, sh.ticks()});
  sh.process_ready();
  return rp;
}

void read_queue::confirmed(std::uint64_t context, raft::index_t index,
                           raft::index_t applied) {
  auto i = unconfirmed_.find(context);
  if (i == unconfirmed_.end())
    return;
  waiting_.emplace(index, std::move(i->second.rp));
  unconfirmed_.erase(i);
  release(applied);
}

void read_queue::dropped(std::uint64_t context, const raft_reply& answer) {
  auto i = unconfirmed_.find(context);
  if (i == unconfirmed_.end())
    return;
  i->second.rp.deliver(answer);
  unconfirmed_.erase(i);
}

void read_queue::release(raft::index_t applied) {
  auto end = waiting_.upper_bound(applied);
  for (auto i = waiting_.begin(); i != end; ++i) {
    raft_reply r;
    r.index = applied;
    i->second.deliver(std::move(r));
  }
  waiting_.erase(waiting_.begin(), end);
}

void read_queue::expire(std::uint64_t now_tick, std::uint64_t limit,
                        const raft_reply& answer) {
  for (auto i = unconfirmed_.begin(); i != unconfirmed_.end();) {
    if (now_tick - i->second.started_tick > limit) {
      i->second.rp.deliver(answer);
      i = unconfirmed_.erase(i);
    } else {
      ++i;
    }
  }
}

void read_queue::end(const raft_reply& answer) {
  for (auto& [context, r] : unconfirmed_)
    r.rp.deliver(answer);
  unconfirmed_.clear();
  for (auto& [index, rp] : waiting_)
    rp.deliver(answer);
  waiting_.clear();
}

} // namespace conflux::actors
