// The fault schedule of a chaos run: a pure function of the seed,
// the duration and the node count. Same inputs, same schedule, on any machine
// (the generator is std::mt19937_64, whose output the standard fixes; no
// std::*_distribution, whose output it does not).
//
// Faults run one at a time: a quiet gap, one fault for its duration, heal,
// the next gap. Kinds are drawn in rounds: each round is a seeded shuffle of
// every enabled kind, so a run of a few rounds covers all of them. The last
// `quiet_tail_ms` of the run has no fault.
//
// Which node a "leader" fault hits is only known at run time (the harness
// asks the cluster when the fault starts); every other target is drawn here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace conflux::chaos {

enum class fault_kind {
  kill_node,          // kill -9 a random node, restart it after the duration
  kill_leader,        // kill -9 the leader, restart it after the duration
  pause_node,         // SIGSTOP a random node, SIGCONT after the duration
  pause_leader,       // SIGSTOP the leader, SIGCONT after the duration
  partition_minority, // cut a random minority from the majority (both ways)
  partition_leader,   // cut the leader from every other node (both ways)
  partition_one_way,  // stall the bytes one node sends to all others, or receives
  // Power cuts (nodes under the power-cut shim only): kill -9, then the data
  // dir loses what was not synced; restarted after the duration.
  power_cut_node,     // one random node
  power_cut_majority, // a random majority (2 of 3, 3 of 5)
  power_cut_cluster,  // every node at once
  // The leader's wall clock jumps forward, then back, through the node's
  // fault clock (nodes started with --fault-clock-offset-file only).
  clock_jump_leader,
  // Leadership moves from the leader to another node (the client's
  // transfer_leader, as `conflux cluster transfer-leader` does).
  transfer_leader,
  // Membership (nodes started with spare slots): a spare node joins; a
  // follower, or the leader, is removed; a follower is removed, its disk
  // wiped, and it joins again under its id.
  add_node,
  remove_node,
  remove_leader,
  replace_node,
};

const char* to_string(fault_kind kind);
std::optional<fault_kind> parse_fault_kind(const std::string& name);
/// Every kind make_schedule draws by default (not the power cuts, clock jumps,
/// transfers or membership kinds, which need their switches).
std::vector<fault_kind> default_fault_kinds();
/// The four membership kinds.
std::vector<fault_kind> membership_fault_kinds();
bool is_membership(fault_kind kind);
/// The three power-cut kinds.
std::vector<fault_kind> power_cut_fault_kinds();
bool is_power_cut(fault_kind kind);

struct planned_fault {
  std::size_t index = 0;
  fault_kind kind = fault_kind::kill_node;
  std::int64_t start_ms = 0; // from the start of the workload
  std::int64_t duration_ms = 0;
  /// kill_node / pause_node: the node; partition_minority: the minority;
  /// partition_one_way: the node whose traffic is stalled. Empty for leader
  /// kinds (resolved at run time).
  std::vector<std::uint64_t> targets;
  /// partition_one_way: true = the node's outgoing bytes are stalled (it hears
  /// but is not heard); false = its incoming bytes are.
  bool outbound = false;
  /// Power cuts: whether a seeded half of the unsynced pages survives (torn)
  /// rather than none, and the seed of which pages.
  bool torn = false;
  std::uint64_t cut_seed = 0;
  /// clock_jump_leader: how far the clock jumps (ms), and whether it goes
  /// forward first (then back by as much below the true time) or back first.
  std::int64_t jump_ms = 0;
  bool forward_first = true;
  /// Membership kinds: picks which node (of the candidates at run time).
  std::uint64_t pick = 0;
};

nlohmann::json to_json(const planned_fault& f);

struct schedule_options {
  std::uint64_t seed = 1;
  std::int64_t duration_ms = 60'000;
  std::size_t nodes = 3;
  std::int64_t first_fault_ms = 2'000;
  std::int64_t min_gap_ms = 1'000;
  std::int64_t max_gap_ms = 2'500;
  std::int64_t min_fault_ms = 2'000;
  std::int64_t max_fault_ms = 5'000;
  std::int64_t quiet_tail_ms = 2'000;
  std::vector<fault_kind> kinds = default_fault_kinds();
  /// Allows the membership kinds (the cluster must have spare slots).
  bool membership = false;
  /// Allows the power-cut kinds (the nodes must run under the shim).
  bool power_cuts = false;
  /// Allows clock_jump_leader (the nodes must run with a fault clock).
  bool clock_jumps = false;
  /// Allows transfer_leader.
  bool transfers = false;
};

/// The schedule. Throws std::invalid_argument on bad options (nodes not 3 or
/// 5, min > max, no kinds, a membership kind without `membership`, a power
/// cut without `power_cuts`).
std::vector<planned_fault> make_schedule(const schedule_options& opts);

} // namespace conflux::chaos
