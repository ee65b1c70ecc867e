#include "apps/chaos/checker.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace conflux::chaos {

namespace {

constexpr std::int64_t infinity = std::numeric_limits<std::int64_t>::max();

std::string show(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("null");
}

// ---------------------------------------------------------------- register --

struct reg_op {
  const operation* src = nullptr;
  bool is_write = false;
  bool info = false;                 // info write: may or may not have taken effect
  std::optional<std::int64_t> value; // written value, or value the read returned
  std::int64_t call = 0;
  std::int64_t ret = 0;
};

// Memo key of Lowe's WGL: (set of linearized ops, register state).
struct cache_key {
  std::vector<std::uint64_t> bits;
  bool has_value = false;
  std::int64_t value = 0;
  bool operator==(const cache_key& o) const {
    return has_value == o.has_value && value == o.value && bits == o.bits;
  }
};

struct cache_key_hash {
  std::size_t operator()(const cache_key& k) const {
    std::uint64_t h =
        k.has_value ? 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(k.value) : 17;
    for (std::uint64_t w : k.bits) {
      h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    return static_cast<std::size_t>(h);
  }
};

} // namespace

register_result check_register(const std::vector<operation>& ops,
                               const check_options& options) {
  std::vector<reg_op> reg;
  for (const operation& op : ops) {
    if (op.f != fn::write && op.f != fn::read)
      continue;
    if (op.outcome == event_type::fail)
      continue; // never took effect
    reg_op r;
    r.src = &op;
    r.is_write = op.f == fn::write;
    r.call = op.invoke_ns;
    if (op.outcome == event_type::info) {
      if (!r.is_write)
        continue; // an info read constrains nothing
      r.info = true;
      r.ret = infinity;
    } else {
      r.ret = op.complete_ns.value_or(infinity);
    }
    r.value =
        r.is_write ? std::optional<std::int64_t>(op.written_id()) : op.read_result();
    reg.push_back(r);
  }
  const std::size_t n = reg.size();
  std::size_t must_place = 0; // ops that must be linearized (all but info writes)
  for (const reg_op& r : reg)
    must_place += r.info ? 0 : 1;

  register_result result;
  if (must_place == 0)
    return result;

  // Entries: node 0 is the list head; node 1 + 2i is op i's call, 2 + 2i its return.
  const std::size_t nodes = 1 + 2 * n;
  constexpr std::size_t nil = std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> order;
  order.reserve(2 * n);
  for (std::size_t i = 0; i < 2 * n; ++i)
    order.push_back(1 + i);
  auto is_call = [](std::size_t node) { return node % 2 == 1; };
  auto op_of = [](std::size_t node) { return (node - 1) / 2; };
  auto time_of = [&](std::size_t node) {
    return is_call(node) ? reg[op_of(node)].call : reg[op_of(node)].ret;
  };
  // Calls before returns at equal times (equal times count as overlapping);
  // returns of must-place ops before returns of info writes.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    auto key = [&](std::size_t x) {
      return std::make_tuple(time_of(x), is_call(x) ? 0 : 1, reg[op_of(x)].info ? 1 : 0,
                             x);
    };
    return key(a) < key(b);
  });
  std::vector<std::size_t> next(nodes, nil), prev(nodes, nil);
  std::size_t last = 0;
  for (std::size_t node : order) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }
  auto lift = [&](std::size_t call) {
    const std::size_t ret = call + 1;
    next[prev[call]] = next[call];
    if (next[call] != nil)
      prev[next[call]] = prev[call];
    next[prev[ret]] = next[ret];
    if (next[ret] != nil)
      prev[next[ret]] = prev[ret];
  };
  auto unlift = [&](std::size_t call) {
    const std::size_t ret = call + 1;
    next[prev[ret]] = ret;
    if (next[ret] != nil)
      prev[next[ret]] = ret;
    next[prev[call]] = call;
    if (next[call] != nil)
      prev[next[call]] = call;
  };

  std::vector<std::uint64_t> linearized((n + 63) / 64, 0);
  auto flip = [&](std::size_t i) {
    linearized[i / 64] ^= (std::uint64_t{1} << (i % 64));
  };
  std::unordered_set<cache_key, cache_key_hash> cache;
  struct frame {
    std::size_t call;
    std::optional<std::int64_t> state_before;
  };
  std::vector<frame> stack;
  std::optional<std::int64_t> state; // register starts null
  std::size_t placed = 0;            // must-place ops on the stack

  // Deepest point reached, for the counterexample.
  std::size_t best_depth = 0;
  bool have_best = false;
  std::size_t best_blocked = 0;
  std::optional<std::int64_t> best_state;

  std::size_t entry = next[0];
  while (true) {
    if (placed == must_place) {
      result.status = register_status::linearizable;
      return result;
    }
    if (++result.steps > options.register_step_budget) {
      result.status = register_status::unknown;
      result.message = "unknown: budget exhausted after " +
                       std::to_string(options.register_step_budget) + " steps (" +
                       std::to_string(n) + " operations)";
      return result;
    }
    if (entry != nil && is_call(entry)) {
      const std::size_t i = op_of(entry);
      const reg_op& op = reg[i];
      bool legal = op.is_write || op.value == state;
      if (legal) {
        std::optional<std::int64_t> new_state = op.is_write ? op.value : state;
        flip(i);
        cache_key key{linearized, new_state.has_value(), new_state.value_or(0)};
        if (cache.insert(std::move(key)).second) {
          stack.push_back(frame{entry, state});
          state = new_state;
          if (!op.info)
            ++placed;
          lift(entry);
          entry = next[0];
          continue;
        }
        flip(i); // already explored from that configuration
      }
      entry = next[entry];
      continue;
    }
    // A return entry (or the end of the list): the op it closes is not yet
    // linearized, so the current prefix cannot be extended. Backtrack.
    if (entry != nil && (!have_best || stack.size() >= best_depth)) {
      have_best = true;
      best_depth = stack.size();
      best_blocked = op_of(entry);
      best_state = state;
    }
    if (stack.empty())
      break;
    frame top = stack.back();
    stack.pop_back();
    const std::size_t i = op_of(top.call);
    state = top.state_before;
    flip(i);
    if (!reg[i].info)
      --placed;
    unlift(top.call);
    entry = next[top.call];
  }

  result.status = register_status::not_linearizable;
  std::ostringstream msg;
  if (have_best) {
    const reg_op& op = reg[best_blocked];
    msg << "not linearizable: could not place " << describe(*op.src)
        << "; at the deepest point (" << best_depth << " of " << n
        << " operations linearized) the register held " << show(best_state);
    if (!op.is_write)
      msg << " but the read returned " << show(op.value);
  } else {
    msg << "not linearizable";
  }
  result.message = msg.str();
  return result;
}

// ---------------------------------------------------------------- versions --

namespace {

bool is_prefix(const std::vector<listed_version>& a,
               const std::vector<listed_version>& b) {
  if (a.size() > b.size())
    return false;
  return std::equal(a.begin(), a.end(), b.begin());
}

std::string show(const std::vector<listed_version>& list) {
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i)
      out += ", ";
    out += "[" + std::to_string(list[i].id) + ", " +
           nlohmann::json(list[i].content).dump() + "]";
  }
  return out + "]";
}

} // namespace

std::vector<violation> check_versions(const std::vector<operation>& ops,
                                      const std::vector<listed_version>& final_list) {
  std::vector<violation> out;
  std::string key;
  for (const operation& op : ops) {
    if (op.f == fn::add_version || op.f == fn::read_versions) {
      key = op.key;
      break;
    }
  }
  auto report = [&](const char* rule, std::string message) {
    out.push_back(violation{key, rule, std::move(message)});
  };

  // Ids strictly increasing in list order.
  for (std::size_t i = 1; i < final_list.size(); ++i) {
    if (final_list[i].id <= final_list[i - 1].id) {
      report("ids-out-of-order", "final list position " + std::to_string(i) +
                                     " has id " + std::to_string(final_list[i].id) +
                                     " after id " +
                                     std::to_string(final_list[i - 1].id));
    }
  }

  std::map<std::string, std::vector<std::size_t>>
      positions; // content -> positions in final
  for (std::size_t i = 0; i < final_list.size(); ++i)
    positions[final_list[i].content].push_back(i);
  auto count_of = [&](const std::string& content) {
    auto it = positions.find(content);
    return it == positions.end() ? std::size_t{0} : it->second.size();
  };

  std::vector<const operation*> adds, reads;
  std::map<std::string, std::size_t> invoked; // content -> number of add invokes
  for (const operation& op : ops) {
    if (op.f == fn::add_version) {
      adds.push_back(&op);
      ++invoked[op.added_content()];
    } else if (op.f == fn::read_versions && op.outcome == event_type::ok) {
      reads.push_back(&op);
    }
  }
  for (const auto& [content, times] : invoked) {
    if (times > 1) {
      report("duplicate-add-content", "content " + nlohmann::json(content).dump() +
                                          " is added by " + std::to_string(times) +
                                          " invokes; contents must be unique per key");
    }
  }

  for (const operation* add : adds) {
    const std::string content = add->added_content();
    const std::size_t count = count_of(content);
    switch (add->outcome) {
    case event_type::ok:
      if (count == 0) {
        report("acked-add-missing", describe(*add) + " is not in the final list");
      } else if (count > 1) {
        report("add-duplicated", describe(*add) + " appears " + std::to_string(count) +
                                     " times in the final list");
      } else if (final_list[positions[content].front()].id != add->added_id()) {
        report("acked-add-wrong-id",
               describe(*add) + " is in the final list with id " +
                   std::to_string(final_list[positions[content].front()].id));
      }
      break;
    case event_type::fail:
      if (count > 0)
        report("failed-add-present", describe(*add) + " is in the final list");
      break;
    case event_type::info:
      if (count > 1) {
        report("add-duplicated", describe(*add) + " appears " + std::to_string(count) +
                                     " times in the final list");
      }
      break;
    case event_type::invoke:
      break;
    }
  }
  for (const listed_version& v : final_list) {
    if (invoked.find(v.content) == invoked.end()) {
      report("unknown-version", "final list holds [" + std::to_string(v.id) + ", " +
                                    nlohmann::json(v.content).dump() +
                                    "], which no add-version invoked");
    }
  }

  std::vector<std::vector<listed_version>> lists;
  lists.reserve(reads.size());
  for (const operation* r : reads)
    lists.push_back(r->read_versions());

  for (std::size_t a = 0; a < reads.size(); ++a) {
    if (!is_prefix(lists[a], final_list)) {
      report("read-not-prefix", describe(*reads[a]) +
                                    " is not a prefix of the final list " +
                                    show(final_list));
    }
  }
  // Real time between reads: A completed before B was invoked => A prefix of B.
  for (std::size_t a = 0; a < reads.size(); ++a) {
    for (std::size_t b = 0; b < reads.size(); ++b) {
      if (a == b || *reads[a]->complete_ns >= reads[b]->invoke_ns)
        continue;
      if (!is_prefix(lists[a], lists[b])) {
        report("read-real-time-inversion",
               describe(*reads[a]) + " completed before " + describe(*reads[b]) +
                   " was invoked, but is not a prefix of it");
      }
    }
  }
  // Real time between adds and reads.
  for (const operation* add : adds) {
    const std::string content = add->added_content();
    for (std::size_t r = 0; r < reads.size(); ++r) {
      const bool seen =
          std::any_of(lists[r].begin(), lists[r].end(),
                      [&](const listed_version& v) { return v.content == content; });
      if (add->outcome == event_type::ok && *add->complete_ns < reads[r]->invoke_ns &&
          !seen) {
        report("read-missing-acked-add", describe(*add) + " was acknowledged before " +
                                             describe(*reads[r]) +
                                             " was invoked, but is not in it");
      }
      if (*reads[r]->complete_ns < add->invoke_ns && seen) {
        report("read-sees-future-add", describe(*reads[r]) + " completed before " +
                                           describe(*add) +
                                           " was invoked, but contains it");
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- top level --

verdict check(const std::vector<operation>& history, const final_lists& finals,
              const check_options& options) {
  std::map<std::string, std::vector<operation>> registers, versions;
  for (const operation& op : history) {
    if (op.f == fn::write || op.f == fn::read) {
      registers[op.key].push_back(op);
    } else {
      versions[op.key].push_back(op);
    }
  }
  verdict out;
  for (const auto& [key, ops] : registers) {
    register_result r = check_register(ops, options);
    if (r.status == register_status::not_linearizable) {
      out.violations.push_back(violation{key, "linearizability", r.message});
    } else if (r.status == register_status::unknown) {
      out.violations.push_back(violation{key, "unknown", r.message});
    }
  }
  for (const auto& [key, ops] : versions) {
    auto it = finals.find(key);
    if (it == finals.end()) {
      out.violations.push_back(violation{
          key, "missing-final-list", "no final version list was given for this key"});
      continue;
    }
    auto found = check_versions(ops, it->second);
    out.violations.insert(out.violations.end(), found.begin(), found.end());
  }
  out.ok = out.violations.empty();
  return out;
}

verdict check(std::string_view jsonl, const final_lists& finals,
              const check_options& options) {
  return check(parse_history(jsonl), finals, options);
}

std::vector<violation> check_stamps(const std::string& key,
                                    const std::vector<stamped_version>& versions,
                                    std::int64_t true_now_ms,
                                    std::int64_t allowed_ahead_ms) {
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const auto& v = versions[i];
    if (i > 0 && v.created_at_ms < versions[i - 1].created_at_ms)
      return {{key, "cluster-time-backwards",
               "version " + std::to_string(v.id) + " was stamped " +
                   std::to_string(v.created_at_ms) + ", before version " +
                   std::to_string(versions[i - 1].id) + " (" +
                   std::to_string(versions[i - 1].created_at_ms) + ")"}};
    if (v.created_at_ms > true_now_ms + allowed_ahead_ms)
      return {{key, "cluster-time-jumped",
               "version " + std::to_string(v.id) + " was stamped " +
                   std::to_string(v.created_at_ms - true_now_ms) +
                   " ms ahead of the true time (at most " +
                   std::to_string(allowed_ahead_ms) + " allowed)"}};
  }
  return {};
}

} // namespace conflux::chaos
