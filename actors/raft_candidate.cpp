// The candidate actor (pre-candidate and candidate): an election is under way
// and no leader is known, so client requests get `unavailable` at once and
// the client backs off and retries. They are never parked here, because the
// election may not end with this node as leader; its tenure holds nothing.
#include "actors/raft_role.hpp"

#include <caf/all.hpp>

namespace conflux::actors {
namespace {

class candidate_tenure final : public role_tenure {
public:
  void end() override {}
};

raft_reply election_under_way(raft_role_self s) {
  return s->state.shell->unavailable_reply("an election is under way; retry shortly");
}

} // namespace

raft_actor_impl::behavior_type candidate_actor(raft_role_self self,
                                               node_context_ptr ctx) {
  return init_role(
      self, role_kind::candidate, std::move(ctx),
      [](raft_role_self) -> std::unique_ptr<role_tenure> {
        return std::make_unique<candidate_tenure>();
      },
      [](raft_role_self s) {
        return holding_behavior(
            s,
            [=](propose_request&) -> caf::result<raft_reply> {
              return election_under_way(s);
            },
            [=](read_atom) -> caf::result<raft_reply> { return election_under_way(s); },
            membership_goes_to_the_leader(s), transfer_goes_to_the_leader(s));
      });
}

} // namespace conflux::actors
