// The leader actor: accepts proposals, serves ReadIndex rounds itself (thesis
// §6.4: after a heartbeat round confirms it still leads), and changes the
// membership and the leadership. Its tenure holds the promises of writes,
// reads and transfers; when leadership ends they are all answered at once
// (leader_tenure::end), and the snapshot transfers it started are cancelled.
#include "actors/endpoint.hpp"
#include "actors/peer_admission.hpp"
#include "actors/raft_role.hpp"
#include "protocol/codec.hpp"
#include "protocol/state.hpp"

#include <caf/all.hpp>
#include <map>
#include <optional>
#include <spdlog/spdlog.h>
#include <vector>

namespace conflux::actors {
namespace {

class leader_tenure final : public role_tenure {
public:
  explicit leader_tenure(raft_role_self self) : self_(self) {}

  caf::result<raft_reply> propose(propose_request& req);
  caf::result<raft_reply> read() { return reads_.start(self_, sh()); }
  caf::result<raft_reply> change_membership(membership_request& req);
  caf::result<raft_reply> transfer(transfer_request& req);

  void read_confirmed(std::uint64_t context, raft::index_t index) override {
    reads_.confirmed(context, index, sh().applied());
  }
  void read_dropped(std::uint64_t context) override {
    reads_.dropped(context, sh().not_leader_reply());
  }
  void applied(const applied_notice& n) override;
  void settle() override;
  void end() override;

private:
  /// Valid while the leader actor holds the core (the tenure's lifetime).
  raft_shell& sh() { return *self_->state.shell; }
  raft_reply lost_write_reply();
  raft_reply unknown_outcome_reply(const char* what);
  /// The refusal of a proposal while --max-pending-proposals are pending.
  std::optional<raft_reply> queue_full();
  struct pending_write;
  static const char* what(const pending_write& w) {
    return w.membership ? "the membership change" : "the write";
  }

  /// Once per tenure, after the term's first entry applied: proposes
  /// bootstrap_auth if the state was never bootstrapped.
  void maybe_bootstrap(const applied_notice& n);

  raft_role_self self_;
  bool bootstrap_checked_ = false;
  /// Writes (and membership changes) waiting for their entry to apply, by
  /// index, with the term they were proposed in.
  struct pending_write {
    raft::term_t term = 0;
    caf::response_promise rp;
    /// A membership change rather than a client command.
    bool membership = false;
  };
  std::multimap<raft::index_t, pending_write> writes_;
  read_queue reads_;
  /// Transfers waiting for their target to lead. A handover is the removal
  /// of this leader waiting for leadership to move first.
  struct pending_transfer {
    raft::server_id target = raft::no_server;
    std::uint64_t started_tick = 0;
    bool handover = false;
    caf::response_promise rp;
  };
  std::vector<pending_transfer> transfers_;
};

std::optional<raft_reply> check_proposal(raft_shell& s, const std::string& data) {
  auto refuse = [&](const char* counter, errc code, std::string why) {
    s.ctx().counters.add(counter);
    raft_reply r;
    r.err = error{code, std::move(why)};
    r.leader_id = s.core().leader();
    return r;
  };
  if (data.size() > max_command_bytes)
    return refuse("raft.refused.too_large", errc::too_large,
                  "the command is " + std::to_string(data.size()) +
                      " bytes; a node replicates commands of at most " +
                      std::to_string(max_command_bytes) + " bytes");
  if (auto cmd = codec::decode_command(data); !cmd.ok())
    return refuse("raft.refused.undecodable_command", errc::invalid_argument,
                  "the command does not decode, so no node could apply it (" +
                      to_string(cmd.err()) +
                      "); send one this version of Conflux "
                      "encodes");
  return std::nullopt;
}

raft_reply leader_tenure::lost_write_reply() {
  // Known not applied; names the leader this node knows, so the client
  // redirects at once.
  raft_reply r;
  r.err = error{errc::not_leader,
                "leadership changed before the write committed, so it was not "
                "applied; retry it with the same session sequence"};
  r.leader_id = sh().core().leader();
  return r;
}

std::optional<raft_reply> leader_tenure::queue_full() {
  // Bounds what clients can pile onto the leader: every pending proposal
  // holds its entry in the log and unapplied, and a promise here.
  auto& s = sh();
  const auto limit = s.ctx().opts.max_pending_proposals;
  if (writes_.size() < limit)
    return std::nullopt;
  s.ctx().counters.add("raft.refused.proposal_queue");
  raft_reply r;
  r.err = error{errc::resource_exhausted,
                "leader " + std::to_string(s.ctx().opts.id) + " has " +
                    std::to_string(writes_.size()) +
                    " proposals waiting to apply, its limit "
                    "(--max-pending-proposals); the write was not proposed: retry "
                    "later or raise --max-pending-proposals"};
  r.leader_id = s.core().leader();
  return r;
}

raft_reply leader_tenure::unknown_outcome_reply(const char* what) {
  raft_reply r;
  r.err = error{errc::timeout, std::string{"leadership moved before "} + what +
                                   " was known to commit, so it may or may not apply; "
                                   "a write is retried with the same session sequence "
                                   "and applies at most once"};
  r.leader_id = sh().core().leader();
  return r;
}

caf::result<raft_reply> leader_tenure::propose(propose_request& req) {
  auto& s = sh();
  if (auto full = queue_full()) // before the core sees it: nothing changes
    return *full;
  // Nothing is appended that a correct node cannot apply, or that could not
  // travel to the followers in one transport message (peer_admission.hpp).
  if (auto refusal = check_proposal(s, req.data))
    return *refusal;
  auto r = s.core().propose(std::move(req.data), s.now_ms());
  if (!r.ok()) {
    auto reply = s.reply_for(r);
    s.process_ready();
    return reply;
  }
  if (r.index <= s.applied()) {
    // Cannot happen (a new entry lies beyond the commit index); answer rather
    // than leave the client hanging.
    s.process_ready();
    return unknown_outcome_reply("the write");
  }
  auto rp = self_->make_response_promise<raft_reply>();
  // Registered before the entry can commit (which takes at least this
  // process_ready and the applier's report): nothing can answer the entry
  // before its waiter exists.
  writes_.emplace(r.index, pending_write{s.core().term(), rp});
  s.process_ready();
  return rp;
}

caf::result<raft_reply> leader_tenure::change_membership(membership_request& req) {
  using kind = raft::membership_change_kind;
  auto& s = sh();
  const auto id = req.server;
  if ((req.kind == kind::add_voter || req.kind == kind::add_learner) &&
      (req.address.size() > raft::max_address_size || !parse_endpoint(req.address))) {
    raft_reply r;
    r.err = error{errc::invalid_argument,
                  "'" + req.address + "' is not HOST:PORT (e.g. 127.0.0.1:7104)"};
    r.leader_id = s.core().leader();
    return r;
  }
  raft::membership_change change{req.kind, id};
  // Record what this leader knows of the members the configuration has no
  // address for, so that every member (and a server joining later) can reach
  // them without --peers.
  auto& cfg = s.core().membership();
  for (auto m : cfg.all())
    if (!cfg.addresses.count(m))
      if (auto a = s.ctx().address_of(m); !a.empty())
        change.addresses[m] = a;
  if (!req.address.empty())
    change.addresses[id] = req.address;
  auto r = s.core().change_membership(change);
  if (r.reason == raft::refusal::leader_handover) {
    spdlog::info("raft: node {} hands leadership to node {} before its own removal",
                 s.ctx().opts.id, r.leader_hint);
    auto rp = self_->make_response_promise<raft_reply>();
    transfers_.push_back(pending_transfer{r.leader_hint, s.ticks(), true, rp});
    s.process_ready();
    return rp;
  }
  if (!r.ok()) {
    auto reply = s.reply_for(r, id);
    s.process_ready();
    return reply;
  }
  spdlog::info("raft: node {} proposes a membership change at index {}: {} {}",
               s.ctx().opts.id, r.index,
               req.kind == kind::add_voter     ? "add"
               : req.kind == kind::add_learner ? "add learner"
               : req.kind == kind::promote     ? "promote"
                                               : "remove",
               id);
  auto rp = self_->make_response_promise<raft_reply>();
  // Answered by applied() like a write: the entry's term is checked there.
  writes_.emplace(r.index, pending_write{s.core().term(), rp, true});
  s.process_ready();
  return rp;
}

caf::result<raft_reply> leader_tenure::transfer(transfer_request& req) {
  auto& s = sh();
  if (req.target == s.ctx().opts.id) {
    raft_reply r;
    r.index = s.core().term();
    return r;
  }
  auto r = s.core().transfer_leadership(req.target);
  if (!r.ok()) {
    auto reply = s.reply_for(r, req.target);
    s.process_ready();
    return reply;
  }
  auto rp = self_->make_response_promise<raft_reply>();
  transfers_.push_back(pending_transfer{req.target, s.ticks(), false, rp});
  s.process_ready();
  return rp;
}

void leader_tenure::maybe_bootstrap(const applied_notice& n) {
  auto& s = sh();
  // The term's noop applied: the state holds everything earlier leaders
  // committed, so "not bootstrapped" is the replicated truth, not a lag.
  if (bootstrap_checked_ || n.newest_term != s.core().term())
    return;
  bootstrap_checked_ = true;
  auto& ctx = s.ctx();
  auto txn = ctx.state->begin_read();
  if (!txn.ok())
    return;
  auto done = txn->get_counter(counter::auth_bootstrapped);
  if (!done.ok() || *done != 0)
    return;
  const auto& opts = ctx.opts;
  if (opts.bootstrap_token_hash.empty()) {
    spdlog::warn(
        "leader {}: authorization was never bootstrapped, so no client can use the "
        "cluster; run `conflux auth bootstrap-token`, keep the token it prints, and "
        "restart a node with --bootstrap-token-hash HASH (config key "
        "bootstrap_token_hash); the first leader started with it creates principal "
        "'{}' (--bootstrap-principal)",
        opts.id, opts.bootstrap_principal);
    return;
  }
  command_envelope env{
      0, 0, bootstrap_auth{opts.bootstrap_principal, opts.bootstrap_token_hash}};
  auto r = s.core().propose(codec::encode(env), s.now_ms());
  if (!r.ok())
    return; // a later leader tries again
  spdlog::info("leader {} proposed the authorization bootstrap (principal '{}') at "
               "index {}",
               opts.id, opts.bootstrap_principal, r.index);
  s.process_ready();
}

void leader_tenure::applied(const applied_notice& n) {
  maybe_bootstrap(n);
  for (auto& o : n.results) {
    auto [lo, hi] = writes_.equal_range(o.index);
    for (auto i = lo; i != hi; ++i) {
      if (i->second.term == o.term) {
        raft_reply r;
        r.result = o.result;
        r.index = o.index;
        i->second.rp.deliver(std::move(r));
      } else {
        i->second.rp.deliver(lost_write_reply());
      }
    }
    writes_.erase(lo, hi);
  }
  // Log terms never decrease, so a waiter whose entry has a term below the
  // newest applied term can never see its entry commit at any index: answer
  // it now instead of when the log happens to reach its index.
  for (auto i = writes_.begin(); i != writes_.end();) {
    if (i->second.term < n.newest_term) {
      i->second.rp.deliver(lost_write_reply());
      i = writes_.erase(i);
    } else {
      ++i;
    }
  }
  // Applied past a waiter without its result (a snapshot was installed over
  // it): whether it is in the snapshot is not known here.
  auto passed = writes_.upper_bound(n.applied);
  for (auto i = writes_.begin(); i != passed; ++i)
    i->second.rp.deliver(unknown_outcome_reply(what(i->second)));
  writes_.erase(writes_.begin(), passed);
  reads_.release(sh().applied());
}

void leader_tenure::settle() {
  auto& s = sh();
  // A transfer that has not finished in two maximal election timeouts will
  // not (the core aborts its own attempt after one).
  const auto limit = static_cast<std::uint64_t>(4 * s.ctx().opts.election_ticks);
  reads_.expire(s.ticks(), limit,
                s.unavailable_reply("the read was not confirmed in time (leadership "
                                    "may be moving); retry"));
  if (!s.core().is_leader())
    return; // end() answers the rest
  for (auto i = transfers_.begin(); i != transfers_.end();) {
    std::optional<raft_reply> answer;
    if (s.core().transfer_target() != i->target)
      answer = s.unavailable_reply("node " + std::to_string(i->target) +
                                   " did not take over within an election timeout (is "
                                   "it caught up and reachable?); retry");
    else if (s.ticks() - i->started_tick > limit)
      answer = s.unavailable_reply("the leadership transfer did not finish in time; "
                                   "check `conflux cluster status` and retry");
    if (answer) {
      i->rp.deliver(std::move(*answer));
      i = transfers_.erase(i);
    } else {
      ++i;
    }
  }
}

void leader_tenure::end() {
  auto& s = sh();
  // What is known for certain is answered as such; anything else may still
  // commit under the next leader. At or below the commit index a write is
  // lost if another term's entry took its index. Above it, a committed entry
  // of a later term means it is lost too: log terms never decrease, so no
  // entry of an earlier term can commit after it.
  auto& log = s.core().log();
  const auto commit = s.core().commit_index();
  const auto committed_term = log.term_at(commit).value_or(0);
  for (auto& [index, w] : writes_) {
    bool lost = false;
    if (index <= commit) {
      auto t = log.term_at(index);
      lost = t && *t != w.term;
    } else {
      lost = w.term < committed_term;
    }
    w.rp.deliver(lost ? lost_write_reply() : unknown_outcome_reply(what(w)));
  }
  writes_.clear();
  reads_.end(s.not_leader_reply());
  // Transfers and handovers are resent to the node leadership moved to (the
  // client follows the redirect); there a transfer to itself succeeds and a
  // removal proceeds.
  for (auto& t : transfers_) {
    raft_reply r;
    r.leader_id = t.target;
    auto to = "node " + std::to_string(t.target);
    r.err = error{errc::not_leader,
                  t.handover
                      ? "leadership moved to " + to + " before removing node " +
                            std::to_string(s.ctx().opts.id) + "; send the removal there"
                      : "leadership is moving to " + to +
                            "; the transfer is confirmed there"};
    t.rp.deliver(std::move(r));
  }
  transfers_.clear();
  // The replication the leader started ends with it.
  s.cancel_snapshot_transfers();
}

} // namespace

raft_actor_impl::behavior_type leader_actor(raft_role_self self, node_context_ptr ctx) {
  return init_role(
      self, role_kind::leader, std::move(ctx),
      [](raft_role_self s) -> std::unique_ptr<role_tenure> {
        return std::make_unique<leader_tenure>(s);
      },
      [](raft_role_self s) {
        auto tenure = [s] {
          return static_cast<leader_tenure*>(s->state.tenure.get());
        };
        return holding_behavior(
            s,
            [=](propose_request& r) -> caf::result<raft_reply> {
              return holding_run(s, [&](raft_shell&) { return tenure()->propose(r); });
            },
            [=](read_atom) -> caf::result<raft_reply> {
              return holding_run(s, [&](raft_shell&) { return tenure()->read(); });
            },
            [=](membership_request& r) -> caf::result<raft_reply> {
              return holding_run(
                  s, [&](raft_shell&) { return tenure()->change_membership(r); });
            },
            [=](transfer_request& r) -> caf::result<raft_reply> {
              return holding_run(s, [&](raft_shell&) { return tenure()->transfer(r); });
            });
      });
}

} // namespace conflux::actors
