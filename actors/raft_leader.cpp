// The leader's behaviour: accepts proposals and serves ReadIndex rounds itself
// (thesis §6.4: after a heartbeat round confirms it still leads).
#include "actors/raft_actor.hpp"

#include <caf/all.hpp>

namespace conflux::actors {

raft_actor_impl::behavior_type leader_behavior(raft_self self) {
  return {
    [=](rpc::peer_batch& b) { self->state.on_peer_batch(b); },
    [=](propose_request& req) -> caf::result<raft_reply> {
      return self->state.propose(req);
    },
    [=](read_atom) -> caf::result<raft_reply> { return self->state.read_index(); },
    [=](membership_request& req) -> caf::result<raft_reply> {
      return self->state.change_membership(req);
    },
    [=](transfer_request& req) -> caf::result<raft_reply> {
      return self->state.transfer(req);
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
