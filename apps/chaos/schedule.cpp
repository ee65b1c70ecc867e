#include "apps/chaos/schedule.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>

namespace conflux::chaos {

namespace {

struct kind_name {
  fault_kind kind;
  const char* name;
};

constexpr kind_name kind_names[] = {
    {fault_kind::kill_node, "kill-node"},
    {fault_kind::kill_leader, "kill-leader"},
    {fault_kind::pause_node, "pause-node"},
    {fault_kind::pause_leader, "pause-leader"},
    {fault_kind::partition_minority, "partition-minority"},
    {fault_kind::partition_leader, "partition-leader"},
    {fault_kind::partition_one_way, "partition-one-way"},
    {fault_kind::power_cut_node, "power-cut-node"},
    {fault_kind::power_cut_majority, "power-cut-majority"},
    {fault_kind::power_cut_cluster, "power-cut-cluster"},
    {fault_kind::clock_jump_leader, "clock-jump-leader"},
    {fault_kind::transfer_leader, "transfer-leader"},
    {fault_kind::add_node, "add-node"},
    {fault_kind::remove_node, "remove-node"},
    {fault_kind::remove_leader, "remove-leader"},
    {fault_kind::replace_node, "replace-node"},
};

// Draws from mt19937_64 without std distributions (their output is
// implementation-defined; the engine's is not).
class draw {
public:
  explicit draw(std::uint64_t seed) : gen_(seed) {}
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo +
           static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i)
      std::swap(v[i - 1], v[below(i)]);
  }

private:
  std::mt19937_64 gen_;
};

} // namespace

const char* to_string(fault_kind kind) {
  for (const auto& k : kind_names)
    if (k.kind == kind)
      return k.name;
  return "unknown";
}

std::optional<fault_kind> parse_fault_kind(const std::string& name) {
  for (const auto& k : kind_names)
    if (name == k.name)
      return k.kind;
  return std::nullopt;
}

std::vector<fault_kind> default_fault_kinds() {
  return {fault_kind::kill_node,          fault_kind::kill_leader,
          fault_kind::pause_node,         fault_kind::pause_leader,
          fault_kind::partition_minority, fault_kind::partition_leader,
          fault_kind::partition_one_way};
}

std::vector<fault_kind> membership_fault_kinds() {
  return {fault_kind::add_node, fault_kind::remove_node, fault_kind::remove_leader,
          fault_kind::replace_node};
}

bool is_membership(fault_kind kind) {
  return kind == fault_kind::add_node || kind == fault_kind::remove_node ||
         kind == fault_kind::remove_leader || kind == fault_kind::replace_node;
}

std::vector<fault_kind> power_cut_fault_kinds() {
  return {fault_kind::power_cut_node, fault_kind::power_cut_majority,
          fault_kind::power_cut_cluster};
}

bool is_power_cut(fault_kind kind) {
  return kind == fault_kind::power_cut_node || kind == fault_kind::power_cut_majority ||
         kind == fault_kind::power_cut_cluster;
}

nlohmann::json to_json(const planned_fault& f) {
  nlohmann::json j{{"index", f.index},
                   {"kind", to_string(f.kind)},
                   {"start_ms", f.start_ms},
                   {"duration_ms", f.duration_ms},
                   {"targets", f.targets}};
  if (f.kind == fault_kind::partition_one_way)
    j["direction"] = f.outbound ? "outbound" : "inbound";
  if (is_power_cut(f.kind)) {
    j["torn"] = f.torn;
    j["cut_seed"] = f.cut_seed;
  }
  if (is_membership(f.kind))
    j["pick"] = f.pick;
  if (f.kind == fault_kind::clock_jump_leader) {
    j["jump_ms"] = f.jump_ms;
    j["forward_first"] = f.forward_first;
  }
  return j;
}

std::vector<planned_fault> make_schedule(const schedule_options& opts) {
  if (opts.nodes != 3 && opts.nodes != 5)
    throw std::invalid_argument("--nodes must be 3 or 5");
  if (opts.min_gap_ms < 0 || opts.min_gap_ms > opts.max_gap_ms ||
      opts.min_fault_ms <= 0 || opts.min_fault_ms > opts.max_fault_ms ||
      opts.duration_ms <= 0)
    throw std::invalid_argument(
        "schedule: gaps and fault durations need 0 <= min <= max");
  if (opts.kinds.empty())
    throw std::invalid_argument("schedule: no fault kinds enabled");
  for (auto k : opts.kinds)
    if (is_membership(k) && !opts.membership)
      throw std::invalid_argument(
          "schedule: membership faults need spare node slots (--membership)");
  for (auto k : opts.kinds)
    if (k == fault_kind::transfer_leader && !opts.transfers)
      throw std::invalid_argument(
          "schedule: transfer-leader faults are enabled with --transfers");
  for (auto k : opts.kinds)
    if (k == fault_kind::clock_jump_leader && !opts.clock_jumps)
      throw std::invalid_argument("schedule: clock-jump faults need the nodes on a "
                                  "fault clock (--clock-jumps)");
  for (auto k : opts.kinds)
    if (is_power_cut(k) && !opts.power_cuts)
      throw std::invalid_argument("schedule: power-cut faults need the nodes under the "
                                  "power-cut shim (--power-cuts)");

  draw rng(opts.seed);
  std::vector<planned_fault> out;
  std::vector<fault_kind> round;
  std::size_t next_in_round = 0;
  auto n = static_cast<std::uint64_t>(opts.nodes);
  std::int64_t t = opts.first_fault_ms;
  for (;;) {
    if (next_in_round == round.size()) {
      round = opts.kinds;
      rng.shuffle(round);
      next_in_round = 0;
    }
    planned_fault f;
    f.index = out.size();
    f.kind = round[next_in_round++];
    f.start_ms = t;
    f.duration_ms = rng.between(opts.min_fault_ms, opts.max_fault_ms);
    switch (f.kind) {
    case fault_kind::kill_node:
    case fault_kind::pause_node:
      f.targets.push_back(1 + rng.below(n));
      break;
    case fault_kind::partition_minority: {
      std::vector<std::uint64_t> ids;
      for (std::uint64_t i = 1; i <= n; ++i)
        ids.push_back(i);
      rng.shuffle(ids);
      auto minority = 1 + rng.below((n - 1) / 2); // 1 of 3; 1 or 2 of 5
      ids.resize(minority);
      std::sort(ids.begin(), ids.end());
      f.targets = ids;
      break;
    }
    case fault_kind::partition_one_way:
      f.targets.push_back(1 + rng.below(n));
      f.outbound = rng.below(2) == 0;
      break;
    case fault_kind::power_cut_node:
    case fault_kind::power_cut_majority:
    case fault_kind::power_cut_cluster: {
      std::vector<std::uint64_t> ids;
      for (std::uint64_t i = 1; i <= n; ++i)
        ids.push_back(i);
      rng.shuffle(ids);
      ids.resize(f.kind == fault_kind::power_cut_node       ? 1
                 : f.kind == fault_kind::power_cut_majority ? n / 2 + 1
                                                            : n);
      std::sort(ids.begin(), ids.end());
      f.targets = ids;
      f.torn = rng.below(2) == 0;
      f.cut_seed = rng.below(~std::uint64_t{0});
      break;
    }
    case fault_kind::add_node:
    case fault_kind::remove_node:
    case fault_kind::remove_leader:
    case fault_kind::replace_node:
      f.pick = rng.below(~std::uint64_t{0});
      break;
    case fault_kind::transfer_leader:
      // The node to hand over to (another one, if it is the leader itself).
      f.targets.push_back(1 + rng.below(n));
      break;
    case fault_kind::clock_jump_leader:
      // 10 minutes to 2 days: far past any token lifetime or session timeout.
      f.jump_ms = rng.between(600'000, 172'800'000);
      f.forward_first = rng.below(2) == 0;
      break;
    default:
      break;
    }
    if (f.start_ms + f.duration_ms > opts.duration_ms - opts.quiet_tail_ms)
      break;
    t = f.start_ms + f.duration_ms + rng.between(opts.min_gap_ms, opts.max_gap_ms);
    out.push_back(std::move(f));
  }
  return out;
}

} // namespace conflux::chaos
