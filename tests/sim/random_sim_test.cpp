// Seeded whole-cluster simulation (docs/design.md, Testing tiers, tier 2): random
// faults, random client traffic, invariants after every step. Membership requests
// include ones the core must refuse (each checked for the right refusal) and leaders
// asked to remove themselves (each handover must end within the core's
// limit). CONFLUX_SIM_SEED=S replays one seed; CONFLUX_SIM_SEEDS=N sets how
// many seeds run per cluster size.

#include "protocol/raft/describe.hpp"
#include "tests/sim/cluster.hpp"

#include <algorithm>
#include <cstdlib>
#include <doctest/doctest.h>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

using namespace conflux::sim;

namespace {

struct sim_stats {
  std::size_t proposals_accepted = 0;
  std::size_t reads_served = 0;
  std::size_t commit = 0;
  std::size_t membership_changes = 0;
  std::size_t transfers = 0;
  std::size_t snapshots_sent = 0;
  std::size_t crashes = 0;
  /// Handovers a leader started when asked to remove itself (repeated
  /// requests while one runs count once), and how each ended: the target
  /// campaigned, the leader aborted the transfer at its limit, or something
  /// else ended it first (crash, step-down, another transfer or handover).
  std::size_t handovers = 0;
  std::size_t handovers_moved = 0;
  std::size_t handovers_aborted = 0;
  std::size_t handovers_interrupted = 0;
  /// Membership requests refused for what they asked (by refusal name), and
  /// refused for the moment (a transfer or change in progress, no entry of
  /// the leader's term committed yet).
  std::map<std::string, std::size_t> refused;
  std::size_t refused_busy = 0;
};

/// A membership change the core must refuse whatever else goes on, or the
/// handover a leader starts instead of removing itself: what the core must
/// answer `ch` from leader `l` whose configuration is `conf`. Anything that
/// can apply may also be refused for the moment (transfer or change in
/// progress, no entry of this term committed yet).
std::vector<refusal> acceptable_answers(const membership& conf, server_id l,
                                        const membership_change& ch) {
  const std::vector<refusal> applies = {refusal::none, refusal::transfer_in_progress,
                                        refusal::not_committed_in_term,
                                        refusal::change_in_progress};
  switch (ch.kind) {
  case membership_change_kind::add_voter:
  case membership_change_kind::add_learner:
    return conf.contains(ch.server) ? std::vector<refusal>{refusal::already_member}
                                    : applies;
  case membership_change_kind::promote:
    if (!conf.contains(ch.server))
      return {refusal::not_member};
    return conf.is_voter(ch.server) ? std::vector<refusal>{refusal::invalid_change}
                                    : applies;
  case membership_change_kind::remove:
    if (!conf.contains(ch.server))
      return {refusal::not_member};
    if (conf.is_voter(ch.server) && conf.voters.size() == 1)
      return {refusal::last_voter};
    return ch.server == l ? std::vector<refusal>{refusal::leader_handover} : applies;
  }
  return {};
}

/// A handover in progress: `from` leads `term` and transfers to `to`.
struct handover {
  server_id from = no_server;
  server_id to = no_server;
  term_t term = 0;
  /// Ticks `from` received since; the core aborts at election_ticks.
  int ticks = 0;
  std::size_t aborts_before = 0;
};

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0')
    return fallback;
  return std::strtoull(v, nullptr, 10);
}

constexpr int steps_per_seed = 20000;

// Returns an empty string on success, otherwise what went wrong.
std::string run_seed(std::uint64_t seed, std::size_t n, sim_stats& stats) {
  std::vector<server_id> ids;
  for (std::size_t i = 1; i <= n; ++i)
    ids.push_back(i);
  core_config cfg;
  cfg.election_ticks = 10;
  cfg.heartbeat_ticks = 2;
  cfg.max_entries_per_message = 8;
  cfg.max_inflight = 4;
  cfg.promotion_lag = 4;
  cluster c(ids, seed, cfg);
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
  };
  auto pick = [&](std::size_t size) {
    return std::uniform_int_distribution<std::size_t>(0, size - 1)(rng);
  };
  server_id next_id = n + 1;
  // Never a member: removing or promoting it must be refused as not_member.
  const server_id stranger = 1'000'000;
  std::uint64_t value = 0;
  auto any_node = [&]() {
    auto all = c.ids();
    return all[pick(all.size())];
  };
  auto fail_text = [&](const std::string& what) {
    std::ostringstream os;
    os << "seed " << seed << " (n=" << n << "): " << what
       << "  -- replay with CONFLUX_SIM_SEED=" << seed;
    return os.str();
  };

  // Each seed draws its own fault profile (FoundationDB-style "buggify"):
  // some seeds are calm, some lose many messages, some crash or partition
  // often, so rare interleavings show up somewhere across the seeds.
  enum action {
    deliver,
    tick,
    persist,
    propose,
    read,
    crash,
    restart,
    partition,
    heal,
    change,
    transfer,
    snapshot,
    action_count
  };
  std::vector<double> weight(action_count);
  weight[deliver] = 450;
  weight[tick] = 200;
  weight[persist] = std::vector<double>{100, 180, 300}[pick(3)];
  weight[propose] = std::vector<double>{30, 50, 120}[pick(3)];
  weight[read] = 30;
  weight[crash] = std::vector<double>{0, 2, 5, 15}[pick(4)];
  weight[restart] = 20;
  weight[partition] = std::vector<double>{0, 4, 15}[pick(3)];
  weight[heal] = std::vector<double>{5, 15}[pick(2)];
  weight[change] = std::vector<double>{0, 7, 20}[pick(3)];
  weight[transfer] = std::vector<double>{0, 6, 20}[pick(3)];
  weight[snapshot] = std::vector<double>{10, 32}[pick(2)];
  // Some seeds let removals shrink the cluster to a single voter, whose
  // removal the core must refuse (last_voter).
  const std::size_t min_voters = std::vector<std::size_t>{1, 2, 2}[pick(3)];
  const double drop_p = std::vector<double>{0.0, 0.05, 0.25}[pick(3)];
  const double dup_p = std::vector<double>{0.0, 0.03, 0.1}[pick(3)];
  std::discrete_distribution<int> choose(weight.begin(), weight.end());

  std::optional<handover> pending;
  // Called after every step: a handover must end (the target campaigns, or
  // the leader aborts) within election_ticks ticks of the leader.
  auto follow_handover = [&](server_id ticked) -> std::string {
    if (!pending)
      return {};
    auto& h = *pending;
    const auto& from = c.node(h.from);
    if (ticked == h.from)
      ++h.ticks;
    if (from.up && c.raft(h.from).is_leader() && c.raft(h.from).term() == h.term &&
        c.raft(h.from).transfer_target() == h.to) {
      if (h.ticks < cfg.election_ticks)
        return {};
      std::ostringstream os;
      os << "server " << h.from << " still hands leadership to " << h.to << " after "
         << h.ticks << " ticks (the core aborts a transfer after " << cfg.election_ticks
         << ")";
      return os.str();
    }
    const auto& to = c.node(h.to);
    if (to.up && c.raft(h.to).term() > h.term &&
        c.raft(h.to).current_role() != role::follower)
      ++stats.handovers_moved;
    else if (c.count_events(event_kind::transfer_aborted, h.from) > h.aborts_before)
      ++stats.handovers_aborted;
    else
      ++stats.handovers_interrupted;
    pending.reset();
    return {};
  };

  for (int step = 0; step < steps_per_seed; ++step) {
    server_id ticked = no_server;
    switch (choose(rng)) {
    case deliver: {
      // Deliver a random in-flight message (reordering), sometimes dropping
      // or duplicating it.
      auto& net = c.network();
      if (net.empty())
        break;
      auto i = pick(net.size());
      if (chance(drop_p)) {
        net.erase(net.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        if (chance(dup_p))
          net.push_back(net[i]);
        c.deliver(i);
      }
      break;
    }
    case tick:
      ticked = any_node();
      c.tick(ticked);
      break;
    case persist:
      c.persist_one(any_node());
      break;
    case propose: {
      // Mostly to some server that believes it leads (stale leaders too, so
      // logs diverge), sometimes to anyone.
      std::vector<server_id> leaders;
      for (auto id : c.ids())
        if (c.node(id).up && c.raft(id).is_leader())
          leaders.push_back(id);
      auto target =
          chance(0.9) && !leaders.empty() ? leaders[pick(leaders.size())] : any_node();
      auto r = c.propose(target, "k" + std::to_string(pick(4)),
                         "v" + std::to_string(++value));
      if (r.ok())
        ++stats.proposals_accepted;
      break;
    }
    case read:
      c.read(any_node(), "k" + std::to_string(pick(4)));
      break;
    case crash: {
      auto id = any_node();
      if (c.node(id).up) {
        c.crash(id);
        ++stats.crashes;
      }
      break;
    }
    case restart:
      c.restart(any_node());
      break;
    case partition:
      if (chance(0.5))
        c.isolate(any_node());
      else
        c.cut(any_node(), any_node()); // one-way
      break;
    case heal:
      c.heal();
      break;
    case change: {
      auto l = c.leader();
      if (l == no_server)
        break;
      // A copy: the request may change the leader's configuration.
      const auto conf = c.raft(l).membership();
      const auto all = conf.all();
      membership_change ch;
      ch.kind = membership_change_kind::remove;
      const auto what = pick(10);
      if (what < 4 && conf.voters.size() + conf.joining.size() < n + 1) {
        // Grow the cluster.
        ch.kind = chance(0.8) ? membership_change_kind::add_voter
                              : membership_change_kind::add_learner;
        ch.server = next_id;
        c.add_server(next_id);
      } else if (what < 8) {
        // Shrink it (the leader itself too: a handover), down to min_voters
        // voters; with one voter left, its removal is refused.
        ch.server = all[pick(all.size())];
        if (conf.is_voter(ch.server) && conf.voters.size() <= min_voters &&
            conf.voters.size() > 1)
          break;
      } else if (what == 8) {
        ch.server = l;
      } else {
        // Requests that never apply: adding a member, removing or promoting
        // a stranger, promoting a voter.
        switch (pick(4)) {
        case 0:
          ch.kind = chance(0.5) ? membership_change_kind::add_voter
                                : membership_change_kind::add_learner;
          ch.server = all[pick(all.size())];
          break;
        case 1:
          ch.server = stranger;
          break;
        case 2:
          ch.kind = membership_change_kind::promote;
          ch.server = stranger;
          break;
        default:
          ch.kind = membership_change_kind::promote;
          ch.server = conf.voters[pick(conf.voters.size())];
          break;
        }
      }
      const auto allowed = acceptable_answers(conf, l, ch);
      const auto r = c.change_membership(l, ch);
      if (std::find(allowed.begin(), allowed.end(), r.reason) == allowed.end()) {
        std::ostringstream os;
        static const char* const kinds[] = {"add_voter", "add_learner", "promote",
                                            "remove"};
        os << "leader " << l << " answered " << refusal_name(r.reason) << " to "
           << kinds[static_cast<int>(ch.kind)] << ' ' << ch.server << " under "
           << describe(conf);
        return fail_text(os.str());
      }
      if (r.ok()) {
        if (ch.server == next_id)
          ++next_id;
        ++stats.membership_changes;
      } else if (r.reason == refusal::leader_handover) {
        // The hint names the voter leadership goes to.
        if (!conf.is_voter(r.leader_hint) || r.leader_hint == l ||
            c.raft(l).transfer_target() != r.leader_hint)
          return fail_text("leader " + std::to_string(l) + " handed over to " +
                           std::to_string(r.leader_hint) +
                           ", not to another voter of " + describe(conf));
        if (!pending || pending->from != l || pending->to != r.leader_hint) {
          if (pending)
            ++stats.handovers_interrupted; // by this one
          ++stats.handovers;
          pending = handover{l, r.leader_hint, c.raft(l).term(), 0,
                             c.count_events(event_kind::transfer_aborted, l)};
        }
      } else if (allowed.size() == 1) {
        ++stats.refused[refusal_name(r.reason)];
      } else {
        ++stats.refused_busy;
      }
      break;
    }
    case transfer: {
      auto l = c.leader();
      if (l == no_server)
        break;
      const auto& v = c.raft(l).membership().voters;
      if (c.transfer(l, v[pick(v.size())]).ok())
        ++stats.transfers;
      break;
    }
    case snapshot:
      c.take_snapshot(any_node());
      break;
    default:
      break;
    }
    if (c.violation())
      return fail_text(*c.violation());
    if (auto err = follow_handover(ticked); !err.empty())
      return fail_text(err);
  }

  // Quiet phase: heal everything, restart everyone, and let the cluster
  // converge; then every member must have applied the same log.
  c.heal();
  for (auto id : c.ids())
    c.restart(id);
  bool converged = false;
  for (int round = 0; round < 600 && !converged; ++round) {
    c.tick_all();
    c.settle();
    if (c.violation())
      return fail_text(*c.violation());
    if (pending)
      if (auto err = follow_handover(pending->from); !err.empty())
        return fail_text(err);
    auto l = c.leader();
    if (l == no_server || round < 5)
      continue;
    const auto& lr = c.raft(l);
    if (lr.log().term_at(lr.commit_index()) != lr.term())
      continue;
    converged = true;
    for (auto id : lr.membership().all()) {
      const auto& sn = c.node(id);
      if (!sn.up || sn.sm.applied != lr.commit_index() ||
          c.raft(id).commit_index() != lr.commit_index())
        converged = false;
    }
  }
  if (!converged) {
    std::ostringstream os;
    os << "cluster did not converge after faults healed;";
    for (auto id : c.ids()) {
      const auto& r = c.raft(id);
      os << " [" << id << " " << role_name(r.current_role()) << " t" << r.term()
         << " lead" << r.leader() << " commit" << r.commit_index() << " applied"
         << c.node(id).sm.applied << " last" << r.log().last_index() << " snap"
         << r.log().snapshot_index() << " voters";
      for (auto v : r.membership().voters)
        os << v << ",";
      os << " joining";
      for (auto v : r.membership().joining)
        os << v << ",";
      os << " learners";
      for (auto v : r.membership().learners)
        os << v << ",";
      if (r.is_leader())
        for (auto v : r.membership().all())
          if (auto* p = r.progress_of(v))
            os << " pr" << v << ":" << static_cast<int>(p->state()) << "/m"
               << p->match() << "/n" << p->next() << "/i" << p->inflight();
      os << "]";
    }
    return fail_text(os.str());
  }
  auto l = c.leader();
  const auto& lsm = c.node(l).sm;
  for (auto id : c.raft(l).membership().all()) {
    const auto& sm = c.node(id).sm;
    if (sm.data != lsm.data || sm.applied != lsm.applied)
      return fail_text("server " + std::to_string(id) + " applied a different state");
  }
  for (const auto& [ctx, r] : c.reads())
    if (r.done && !r.failed)
      ++stats.reads_served;
  stats.commit += c.raft(l).commit_index();
  stats.snapshots_sent += c.count_events(event_kind::snapshot_sending);
  if (c.violation())
    return fail_text(*c.violation());
  return {};
}

void run_many(std::size_t n, std::uint64_t default_seeds) {
  const auto one = env_u64("CONFLUX_SIM_SEED", 0);
  const auto count = env_u64("CONFLUX_SIM_SEEDS", default_seeds);
  std::vector<std::uint64_t> seeds;
  if (one != 0) {
    seeds.push_back(one);
  } else {
    for (std::uint64_t s = 1; s <= count; ++s)
      seeds.push_back(s * 2654435761u % 1000000007u + n);
  }
  sim_stats stats;
  for (auto s : seeds) {
    auto err = run_seed(s, n, stats);
    if (!err.empty()) {
      std::cerr << err << "\n";
      FAIL(err);
    }
  }
  std::ostringstream refused;
  for (const auto& [why, times] : stats.refused)
    refused << ' ' << why << '=' << times;
  MESSAGE("n=" << n << " seeds=" << seeds.size()
               << " accepted=" << stats.proposals_accepted
               << " committed=" << stats.commit << " reads=" << stats.reads_served
               << " membership=" << stats.membership_changes << " transfers="
               << stats.transfers << " snapshots_sent=" << stats.snapshots_sent
               << " crashes=" << stats.crashes << " handovers=" << stats.handovers
               << " (moved=" << stats.handovers_moved
               << " aborted=" << stats.handovers_aborted
               << " interrupted=" << stats.handovers_interrupted
               << ") refused:" << refused.str() << " busy=" << stats.refused_busy);
  // The simulation must exercise the protocol, not idle.
  CHECK(stats.proposals_accepted > seeds.size());
  CHECK(stats.reads_served > 0);
  CHECK(stats.commit > seeds.size());
  // ...including every refusal of a membership change and the handover.
  if (seeds.size() > 100) {
    CHECK(stats.handovers_moved > 0);
    CHECK(stats.handovers_aborted > 0);
    for (const char* why :
         {"already_member", "not_member", "invalid_change", "last_voter"})
      CHECK_MESSAGE(stats.refused[why] > 0, why);
  }
}

} // namespace

TEST_CASE("random_faults_keep_all_invariants_with_3_servers") {
  run_many(3, 4200);
}

TEST_CASE("random_faults_keep_all_invariants_with_5_servers") {
  run_many(5, 3500);
}
