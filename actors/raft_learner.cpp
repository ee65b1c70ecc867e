// The learner's behaviour (a non-voting member, or a new server catching up
// before it votes, thesis §4.2.1): like a follower it redirects writes and
// serves linearizable reads through the leader; it never campaigns (the core
// does not let it).
#include "actors/raft_actor.hpp"

#include <caf/all.hpp>

namespace conflux::actors {

raft_actor_impl::behavior_type learner_behavior(raft_self self) {
  return {
    [=](rpc::peer_batch& b) { self->state.on_peer_batch(b); },
    [=](propose_request&) -> caf::result<raft_reply> {
      return self->state.not_leader_reply();
    },
    [=](read_atom) -> caf::result<raft_reply> { return self->state.read_index(); },
    [=](membership_request&) -> caf::result<raft_reply> {
      return self->state.redirect_admin();
    },
    [=](transfer_request&) -> caf::result<raft_reply> {
      return self->state.redirect_admin();
    },
    [=](status_atom) -> rpc::status_reply { return self->state.status(); },
    [=](tick_atom, std::uint64_t epoch) { self->state.on_tick(epoch); },
    [=](applied_notice& n) { self->state.on_applied(n); },
    [=](snapshot_meta_request& r) -> snapshot_meta_reply {
      return self->state.snapshot_meta(r);
    },
    [=](snapshot_report& r) { self->state.on_snapshot_report(r); },
  };
}

} // namespace conflux::actors
