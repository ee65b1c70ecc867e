// The follower actor, which also plays a learner (a permanent non-voter) and
// a joining server catching up before it votes (thesis §4.2.1): the core
// never lets those campaign, and otherwise they behave alike. It refuses
// writes with the leader's id and address (the client follows the redirect)
// and serves linearizable reads by asking the leader for a read index
// (thesis §6.4, "followers can serve reads"). Its tenure holds those reads.
#include "actors/raft_role.hpp"

#include <caf/all.hpp>

namespace conflux::actors {
namespace {

class follower_tenure final : public role_tenure {
public:
  explicit follower_tenure(raft_role_self self) : self_(self) {}

  caf::result<raft_reply> read() { return reads_.start(self_, sh()); }

  void read_confirmed(std::uint64_t context, raft::index_t index) override {
    reads_.confirmed(context, index, sh().applied());
  }
  void read_dropped(std::uint64_t context) override {
    reads_.dropped(context, sh().not_leader_reply());
  }
  void applied(const applied_notice&) override { reads_.release(sh().applied()); }
  void settle() override {
    auto& s = sh();
    reads_.expire(s.ticks(),
                  static_cast<std::uint64_t>(4 * s.ctx().opts.election_ticks),
                  s.unavailable_reply("the leader did not confirm the read in time "
                                      "(leadership may be moving); retry"));
  }
  void end() override {
    reads_.end(sh().unavailable_reply(
        "an election started before the read was served; retry"));
  }

private:
  raft_shell& sh() { return *self_->state.shell; }

  raft_role_self self_;
  read_queue reads_;
};

} // namespace

raft_actor_impl::behavior_type follower_actor(raft_role_self self,
                                              node_context_ptr ctx) {
  return init_role(
      self, role_kind::follower, std::move(ctx),
      [](raft_role_self s) -> std::unique_ptr<role_tenure> {
        return std::make_unique<follower_tenure>(s);
      },
      [](raft_role_self s) {
        return holding_behavior(
            s,
            [=](propose_request&) -> caf::result<raft_reply> {
              return s->state.shell->not_leader_reply();
            },
            [=](read_atom) -> caf::result<raft_reply> {
              return holding_run(s, [&](raft_shell&) {
                return static_cast<follower_tenure*>(s->state.tenure.get())->read();
              });
            },
            membership_goes_to_the_leader(s), transfer_goes_to_the_leader(s));
      });
}

} // namespace conflux::actors
