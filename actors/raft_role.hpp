#pragma once
// The Raft role actors (docs/design.md, "Raft roles as actors"). Each node
// runs three: a follower actor (which also plays a learner or a joining
// server), a candidate actor (pre-candidate and candidate) and a leader
// actor, all with the typed interface raft_actor_impl. Exactly one of them
// holds the raft shell, and with it the consensus core, at a time:
//
//   - The holder runs the handlers every role shares (peer traffic, ticks,
//     the workers' notices, status: holding_behavior below, written once)
//     plus its own role's handling of client requests (raft_leader.cpp,
//     raft_follower.cpp, raft_candidate.cpp).
//   - What a role promises clients lives in its tenure (raft_shell.hpp),
//     created when the role takes the core and ended in one place when it
//     hands the core on: a leader's pending writes, reads and transfers are
//     answered then, and its snapshot transfers cancelled.
//   - After every input the holder compares the core's role with its own; on
//     a change it ends its tenure, sends the shell to the next role's actor
//     (take_core), points node_context::raft at that actor, and goes dormant.
//     Because the handover message is sent before the slot changes, nothing
//     that reads the slot can reach the next role before the core does.
//   - A dormant role actor forwards whatever still reaches it (a message sent
//     just before a handover) to the current holder with CAF's delegate,
//     which keeps the original sender and request id, so the answer goes
//     straight back to the client. Its own stale ticks it drops.
//
// Sessions, the node endpoint and the workers read node_context::raft per
// message and talk to the holder directly: no relay on the write path.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "actors/raft_shell.hpp"

#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <functional>
#include <map>
#include <memory>

namespace conflux::actors {

struct raft_role_state;
using raft_role_self = raft_actor_impl::stateful_pointer<raft_role_state>;

struct raft_role_state {
  static inline const char* name = "raft-role";
  role_kind kind = role_kind::follower;
  node_context_ptr ctx;
  /// While this actor holds the core; null while it is dormant.
  std::shared_ptr<raft_shell> shell;
  /// What this role promised while it holds the core.
  std::unique_ptr<role_tenure> tenure;
  /// The role's own parts, set by its actor function.
  std::function<raft_actor_impl::behavior_type(raft_role_self)> holding;
  std::function<std::unique_ptr<role_tenure>(raft_role_self)> new_tenure;
};

/// The three role actors. Each starts dormant; start_node hands the shell to
/// the one raft_shell::role_of_core() names (take_core) and sets the slot.
raft_actor_impl::behavior_type follower_actor(raft_role_self self,
                                              node_context_ptr ctx);
raft_actor_impl::behavior_type candidate_actor(raft_role_self self,
                                               node_context_ptr ctx);
raft_actor_impl::behavior_type leader_actor(raft_role_self self, node_context_ptr ctx);

/// Sets up a role actor of `kind` from its two parts (how it makes its tenure
/// and its holding behaviour) and returns its first, dormant, behaviour.
raft_actor_impl::behavior_type
init_role(raft_role_self self, role_kind kind, node_context_ptr ctx,
          std::function<std::unique_ptr<role_tenure>(raft_role_self)> new_tenure,
          std::function<raft_actor_impl::behavior_type(raft_role_self)> holding);

/// Spawns the three role actors (not running anything yet).
std::map<role_kind, raft_actor_impl> spawn_raft_roles(caf::actor_system& sys,
                                                      const node_context_ptr& ctx);
/// Hands `shell` to the role actor its core's role names and points the
/// node's slot at it.
void start_raft(const node_context_ptr& ctx, std::shared_ptr<raft_shell> shell);

// -- shared by the role files ------------------------------------------------------

/// After every input of a holder: lets the tenure settle, then hands the
/// core on if its role changed.
void settle(raft_role_self self);
/// The handlers every role shares.
void on_tick(raft_role_self self, std::uint64_t epoch);
void on_take_core(raft_role_self self, take_core& t);
/// What a dormant role actor does: forward everything to the holder.
raft_actor_impl::behavior_type dormant_behavior(raft_role_self self);

/// Runs `f(shell)` for the holder, then settle().
template <class F>
auto holding_run(raft_role_self self, F&& f) {
  auto& sh = *self->state.shell;
  if constexpr (std::is_void_v<decltype(f(sh))>) {
    f(sh);
    settle(self);
  } else {
    auto result = f(sh);
    settle(self);
    return result;
  }
}

/// The behaviour of the role actor holding the core: its role's request
/// handlers (propose, read, membership, transfer) followed by the handlers
/// every role shares.
template <class... RoleHandlers>
raft_actor_impl::behavior_type holding_behavior(raft_role_self self,
                                                RoleHandlers... role_handlers) {
  return {
      std::move(role_handlers)...,
      [=](rpc::peer_batch& b) {
        holding_run(self, [&](raft_shell& s) { s.on_peer_batch(b); });
      },
      [=](tick_atom, std::uint64_t epoch) { on_tick(self, epoch); },
      [=](take_core& t) { on_take_core(self, t); },
      [=](persisted_notice& n) {
        holding_run(self, [&](raft_shell& s) { s.on_persisted(n.persist_id); });
      },
      [=](applied_notice& n) {
        holding_run(self, [&](raft_shell& s) { s.on_applied(n); });
      },
      [=](installed_notice& n) {
        holding_run(self, [&](raft_shell& s) { s.on_installed(n.index); });
      },
      [=](snapshot_sent_notice& n) {
        holding_run(self, [&](raft_shell& s) { s.on_snapshot_sent(n); });
      },
      [=](snapshot_meta_request& r) -> snapshot_meta_reply {
        return self->state.shell->snapshot_meta(r);
      },
      [=](snapshot_report& r) {
        holding_run(self, [&](raft_shell& s) { s.on_snapshot_report(r); });
      },
      [=](status_atom) -> rpc::status_reply { return self->state.shell->status(); },
  };
}

/// Membership and transfer requests on a role that does not lead: both are
/// answered with the leader to send them to (raft_shell::redirect_admin).
inline auto membership_goes_to_the_leader(raft_role_self self) {
  return [=](membership_request&) -> caf::result<raft_reply> {
    return self->state.shell->redirect_admin();
  };
}
inline auto transfer_goes_to_the_leader(raft_role_self self) {
  return [=](transfer_request&) -> caf::result<raft_reply> {
    return self->state.shell->redirect_admin();
  };
}

/// Linearizable reads a role accepted (leader: its own ReadIndex rounds;
/// follower: read indexes asked of the leader), first waiting for their read
/// index, then for the applier to reach it. Part of a tenure: whatever is
/// still pending when the role ends is answered then.
class read_queue {
public:
  /// Starts a ReadIndex round; answered once applied reaches the read index.
  caf::result<raft_reply> start(raft_role_self self, raft_shell& sh);
  void confirmed(std::uint64_t context, raft::index_t index, raft::index_t applied);
  void dropped(std::uint64_t context, const raft_reply& answer);
  /// Answers the reads whose read index `applied` reached.
  void release(raft::index_t applied);
  /// Fails reads whose index did not come within `limit` ticks (a read a
  /// follower forwarded gets no answer if the leader fails: PROTOCOL.md §3.2
  /// step 7).
  void expire(std::uint64_t now_tick, std::uint64_t limit, const raft_reply& answer);
  /// Answers everything still pending.
  void end(const raft_reply& answer);

private:
  struct unconfirmed {
    caf::response_promise rp;
    std::uint64_t started_tick = 0;
  };
  std::map<std::uint64_t, unconfirmed> unconfirmed_;
  std::multimap<raft::index_t, caf::response_promise> waiting_;
};

} // namespace conflux::actors
