// The (pre-)candidate's behaviour: an election is under way and no leader is
// known, so client requests get `unavailable` at once and the client backs
// off and retries; they are never parked here, because the election may not
// end with this node as leader.
#include "actors/raft_actor.hpp"

#include <caf/all.hpp>

namespace conflux::actors {

raft_actor_impl::behavior_type candidate_behavior(raft_self self) {
  return {
    [=](rpc::peer_batch& b) { self->state.on_peer_batch(b); },
    [=](propose_request&) -> caf::result<raft_reply> {
      return self->state.unavailable_reply("an election is under way; retry shortly");
    },
    [=](read_atom) -> caf::result<raft_reply> {
      return self->state.unavailable_reply("an election is under way; retry shortly");
    },
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
