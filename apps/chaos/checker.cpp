#include "apps/chaos/checker.hpp"

#include <algorithm>
#include <limits>
#include <openssl/evp.h>
#include <optional>
#include <set>
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

// ------------------------------------------------------------- revisions --

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP_Digest(sha256) failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::vector<violation> check_write_revisions(const std::vector<operation>& ops) {
  std::vector<violation> out;
  std::vector<const operation*> acked;
  std::map<std::int64_t, const operation*> by_revision;
  for (const operation& op : ops) {
    if (op.outcome != event_type::ok || !op.revision || !op.complete_ns)
      continue;
    acked.push_back(&op);
    auto [it, fresh] = by_revision.emplace(*op.revision, &op);
    if (!fresh) {
      out.push_back({op.key, "write-revision-reused",
                     describe(op) + " and " + describe(*it->second) +
                         " were both acknowledged at revision " +
                         std::to_string(*op.revision)});
    }
  }
  // By completion time, with the op of the highest revision completed so far.
  std::sort(acked.begin(), acked.end(), [](const operation* a, const operation* b) {
    return *a->complete_ns < *b->complete_ns;
  });
  std::vector<const operation*> best(acked.size());
  for (std::size_t i = 0; i < acked.size(); ++i) {
    best[i] = acked[i];
    if (i > 0 && *best[i - 1]->revision > *acked[i]->revision)
      best[i] = best[i - 1];
  }
  for (const operation* b : acked) {
    // Ops completed strictly before b was invoked.
    auto n = static_cast<std::size_t>(
        std::lower_bound(
            acked.begin(), acked.end(), b->invoke_ns,
            [](const operation* a, std::int64_t t) { return *a->complete_ns < t; }) -
        acked.begin());
    if (n == 0)
      continue;
    const operation* a = best[n - 1];
    if (*a->revision >= *b->revision) {
      out.push_back({b->key, "write-revision-order",
                     describe(*a) + " was acknowledged before " + describe(*b) +
                         " was invoked, but its revision is not lower"});
    }
  }
  return out;
}

// ---------------------------------------------------------------- watches --

namespace {

// Whether a watch of `watched` (a key, or a prefix ending in '/') covers
// `key` (protocol/PROTOCOL.md, Key prefixes).
bool covers(const std::string& watched, const std::string& key) {
  if (watched.empty())
    return true;
  if (watched.back() == '/')
    return key.compare(0, watched.size(), watched) == 0;
  return key == watched ||
         (key.size() > watched.size() && key.compare(0, watched.size(), watched) == 0 &&
          key[watched.size()] == '/');
}

// A change the checker knows happened, at one revision.
struct known_change {
  std::string key;
  std::string kind;
  std::vector<std::int64_t> versions;
  std::string hash;                   // "" when not compared (rules changes)
  std::string where;                  // for messages
  const operation* acked = nullptr;   // the acknowledged write that made it
  const watch_record* seen = nullptr; // else the first event that showed it
};

std::string show_change(const std::string& kind, const std::string& key,
                        const std::vector<std::int64_t>& versions) {
  return kind + " " + key + " " + nlohmann::json(versions).dump();
}

// Caps the violations of one rule per watcher (a watcher that lost its way
// would otherwise report every later change).
class capped_report {
public:
  explicit capped_report(std::vector<violation>& out) : out_(out) {}
  void operator()(std::int64_t watcher, const std::string& key, const char* rule,
                  std::string message) {
    auto& n = counts_[{watcher, rule}];
    if (++n <= cap)
      out_.push_back(violation{key, rule, std::move(message)});
  }
  void finish() {
    for (const auto& [what, n] : counts_) {
      if (n > cap)
        out_.push_back(violation{"", what.second,
                                 "watcher " + std::to_string(what.first) + ": " +
                                     std::to_string(n - cap) + " more like the above"});
    }
  }

private:
  static constexpr std::size_t cap = 10;
  std::vector<violation>& out_;
  std::map<std::pair<std::int64_t, std::string>, std::size_t> counts_;
};

} // namespace

std::vector<violation> check_watches(const history& h, const final_lists& finals) {
  std::vector<violation> out;
  if (h.watches.empty())
    return out;
  capped_report report(out);

  // Final versions: key -> id -> content.
  std::map<std::string, std::map<std::int64_t, const std::string*>> contents;
  for (const auto& [key, list] : finals)
    for (const auto& v : list)
      contents[key][v.id] = &v.content;
  auto content_of = [&](const std::string& key, std::int64_t id) -> const std::string* {
    auto k = contents.find(key);
    if (k == contents.end())
      return nullptr;
    auto v = k->second.find(id);
    return v == k->second.end() ? nullptr : v->second;
  };
  std::map<std::string, std::string> hashes; // content -> sha256, memoised
  auto hash_of = [&](const std::string& content) -> const std::string& {
    auto it = hashes.find(content);
    if (it == hashes.end())
      it = hashes.emplace(content, sha256_hex(content)).first;
    return it->second;
  };

  // The writes: acknowledged ones by revision, and every add / write that
  // may have applied (ok or info) by what it wrote.
  std::map<std::int64_t, known_change> changes;
  std::map<std::pair<std::string, std::string>, std::vector<const operation*>> adds;
  std::map<std::pair<std::string, std::int64_t>, std::vector<const operation*>> writes;
  std::map<std::string, std::vector<const operation*>> acked_by_key;
  for (const operation& op : h.ops) {
    if (op.outcome == event_type::fail)
      continue;
    if (op.f == fn::add_version)
      adds[{op.key, op.added_content()}].push_back(&op);
    else if (op.f == fn::write)
      writes[{op.key, op.written_id()}].push_back(&op);
    else
      continue;
    if (op.outcome != event_type::ok || !op.revision)
      continue;
    acked_by_key[op.key].push_back(&op);
    known_change c;
    c.key = op.key;
    c.acked = &op;
    c.where = describe(op);
    if (op.f == fn::add_version) {
      c.kind = op.added_id() == 1 ? "config-created" : "version-added";
      c.versions = {op.added_id()};
      c.hash = hash_of(op.added_content());
    } else {
      c.kind = "rules-changed";
      c.versions = {op.written_id()};
    }
    changes.emplace(*op.revision, std::move(c)); // a reuse: check_write_revisions
  }

  // Per watcher: its start, its events (change / resync) and resumes, its stop.
  struct stream {
    const watch_record* start = nullptr;
    const watch_record* stop = nullptr;
    std::vector<const watch_record*> items; // change and resync, as received
  };
  std::map<std::int64_t, stream> streams;

  // Every change event: the same as the known change at its revision, and
  // explained by a write that may have applied.
  for (const watch_record& r : h.watches) {
    auto& s = streams[r.watcher];
    switch (r.type) {
    case watch_event_type::start:
      s.start = &r;
      continue;
    case watch_event_type::stop:
      s.stop = &r;
      continue;
    case watch_event_type::resume:
      continue;
    case watch_event_type::resync:
      s.items.push_back(&r);
      continue;
    case watch_event_type::change:
      s.items.push_back(&r);
      break;
    }
    if (s.start && !covers(s.start->prefix, r.key)) {
      report(r.watcher, r.key, "watch-unknown-change",
             describe(r) + ": the key is outside the watched " +
                 nlohmann::json(s.start->prefix).dump());
    }
    auto it = changes.find(r.revision);
    if (it != changes.end()) {
      const known_change& k = it->second;
      if (k.key != r.key || k.kind != r.kind || k.versions != r.versions ||
          (!k.hash.empty() && k.hash != r.hash)) {
        report(
            r.watcher, r.key, "watch-event-mismatch",
            describe(r) + " differs from " + (k.acked ? "the acknowledged " : "") +
                k.where + " (" + show_change(k.kind, k.key, k.versions) +
                (k.hash.empty() ? "" : ", hash " + k.hash) + ")" +
                (k.hash.empty() || k.hash == r.hash ? "" : "; event hash " + r.hash));
      }
      continue;
    }
    // No acknowledged write at this revision: some add or write that may
    // have applied (ok without a recorded revision, or info), invoked before
    // the event was received, must have made it.
    std::string why;
    if (r.kind == "config-created" || r.kind == "version-added") {
      const std::int64_t id = r.versions.size() == 1 ? r.versions[0] : 0;
      const std::string* content =
          r.versions.size() == 1 ? content_of(r.key, id) : nullptr;
      if (r.versions.size() != 1) {
        why = "a version is added one at a time";
      } else if ((r.kind == "config-created") != (id == 1)) {
        why = "config-created makes version 1, version-added a later one";
      } else if (!content) {
        why = "the final list of the key has no version " + std::to_string(id);
      } else {
        if (hash_of(*content) != r.hash) {
          report(r.watcher, r.key, "watch-event-mismatch",
                 describe(r) + ": hash " + r.hash + ", but version " +
                     std::to_string(id) + " holds " + nlohmann::json(*content).dump() +
                     " (hash " + hash_of(*content) + ")");
        }
        auto a = adds.find({r.key, *content});
        bool made = false;
        std::string acked_at;
        if (a != adds.end()) {
          for (const operation* op : a->second) {
            if (op->revision) {
              acked_at = describe(*op);
              continue; // acknowledged at another revision
            }
            made = made || op->invoke_ns < r.time_ns;
          }
        }
        if (!made)
          why = acked_at.empty()
                    ? "no add of " + nlohmann::json(*content).dump() +
                          " was invoked before it"
                    : "version " + std::to_string(id) + " was made by " + acked_at;
      }
    } else if (r.kind == "rules-changed") {
      if (r.versions.size() != 1) {
        why = "every write sets one rule";
      } else {
        auto w = writes.find({r.key, r.versions[0]});
        bool made = false;
        if (w != writes.end())
          for (const operation* op : w->second)
            made = made || (!op->revision && op->invoke_ns < r.time_ns);
        if (!made)
          why = "no write of " + std::to_string(r.versions[0]) +
                " that may have applied (ok without a revision, or info) was invoked "
                "before it";
      }
    } else {
      why = "no client of the run makes a " + r.kind + " change";
    }
    if (!why.empty()) {
      report(r.watcher, r.key, "watch-unknown-change", describe(r) + ": " + why);
      continue;
    }
    known_change k;
    k.key = r.key;
    k.kind = r.kind;
    k.versions = r.versions;
    k.hash = r.hash;
    k.where = describe(r);
    k.seen = &r;
    changes.emplace(r.revision, std::move(k));
  }

  for (auto& [watcher, s] : streams) {
    const watch_record& start = *s.start;
    const std::int64_t begin = start.revision; // the first revision wanted

    // Strictly increasing revisions; after a resume, above the last before it.
    std::int64_t last = begin - 1;
    std::size_t resumes_seen = 0, resumes_at_last = 0;
    const watch_record* last_item = nullptr;
    for (const watch_record& r : h.watches) {
      if (r.watcher != watcher)
        continue;
      if (r.type == watch_event_type::resume) {
        ++resumes_seen;
        continue;
      }
      if (r.type != watch_event_type::change && r.type != watch_event_type::resync)
        continue;
      if (r.revision <= last) {
        const bool resumed = resumes_seen != resumes_at_last;
        std::string before =
            last_item ? describe(*last_item) : "its start " + describe(start);
        report(
            watcher, r.key, resumed ? "watch-resume-went-back" : "watch-revision-order",
            describe(r) + (resumed ? " is the first event after a resume, and " : " ") +
                (r.revision == last ? "repeats" : "is below") + " the revision of " +
                before);
      }
      resumes_at_last = resumes_seen;
      if (r.revision > last) {
        last = r.revision;
        last_item = &r; // the event with the highest revision so far
      }
    }

    // Gaps: every known change of a watched key after the start and up to
    // the watcher's last event is in the stream, or inside a resync.
    std::vector<const watch_record*> items = s.items;
    std::stable_sort(items.begin(), items.end(),
                     [](const watch_record* a, const watch_record* b) {
                       return a->revision < b->revision;
                     });
    for (const auto& [rev, k] : changes) {
      if (rev < begin || !covers(start.prefix, k.key))
        continue;
      auto it = std::lower_bound(
          items.begin(), items.end(), rev,
          [](const watch_record* a, std::int64_t x) { return a->revision < x; });
      if (it == items.end()) {
        if (k.acked && s.stop && s.stop->error.empty()) {
          report(
              watcher, k.key, "watch-acked-write-missing",
              "watcher " + std::to_string(watcher) + " never delivered the " +
                  "acknowledged " + k.where + " at revision " + std::to_string(rev) +
                  "; it stopped at revision " +
                  std::to_string(items.empty() ? begin - 1 : items.back()->revision) +
                  " (" + describe(*s.stop) + ")");
        }
        continue;
      }
      const watch_record& next = **it;
      if (next.type == watch_event_type::resync)
        continue; // the resync stands for every change up to its revision
      if (next.revision == rev)
        continue; // delivered (compared with the change above)
      std::string prev =
          it == items.begin() ? "its start " + describe(start) : describe(**(it - 1));
      report(watcher, k.key, "watch-gap",
             "watcher " + std::to_string(watcher) + " skipped " +
                 (k.acked ? "the acknowledged " : "") + k.where + " (" +
                 show_change(k.kind, k.key, k.versions) + " at revision " +
                 std::to_string(rev) + ") between " + prev + " and " + describe(next) +
                 " with no resync");
    }

    // Resyncs: the state of each watched key at the resync's revision,
    // as far as the acknowledged writes tell it.
    for (const watch_record* r : s.items) {
      if (r->type != watch_event_type::resync)
        continue;
      std::map<std::string, const watch_state_entry*> shown;
      for (const auto& e : r->state) {
        shown[e.key] = &e;
        auto wrong = [&](const std::string& what) {
          report(watcher, e.key, "watch-resync-wrong",
                 describe(*r) + " shows " + e.key + " " + what);
        };
        if (!covers(start.prefix, e.key))
          wrong("outside the watched prefix");
        if (e.mod_revision > r->revision)
          wrong("at mod revision " + std::to_string(e.mod_revision) +
                ", after the resync's revision");
        const std::string* content = content_of(e.key, e.latest_version);
        if (!content)
          wrong("with latest version " + std::to_string(e.latest_version) +
                ", which the final list does not hold");
        else if (hash_of(*content) != e.hash)
          wrong("with hash " + e.hash + " for version " +
                std::to_string(e.latest_version) + ", which holds " +
                nlohmann::json(*content).dump());
      }
      for (const auto& [key, ops] : acked_by_key) {
        if (!covers(start.prefix, key))
          continue;
        auto e = shown.find(key);
        for (const operation* op : ops) {
          const bool before = *op->revision <= r->revision;
          if (e == shown.end()) {
            if (before && op->f == fn::add_version)
              report(watcher, key, "watch-resync-wrong",
                     describe(*r) + " lacks " + key + ", which the acknowledged " +
                         describe(*op) + " made before it");
            continue;
          }
          const watch_state_entry& st = *e->second;
          std::string wrong;
          if (before && st.mod_revision < *op->revision)
            wrong = "mod revision " + std::to_string(st.mod_revision) +
                    " is older than the acknowledged " + describe(*op);
          else if (!before && st.mod_revision >= *op->revision)
            wrong = "mod revision " + std::to_string(st.mod_revision) +
                    " is not older than the acknowledged " + describe(*op) +
                    ", which came after the resync";
          else if (op->f == fn::add_version && before &&
                   st.latest_version < op->added_id())
            wrong = "latest version " + std::to_string(st.latest_version) +
                    " misses the acknowledged " + describe(*op);
          else if (op->f == fn::add_version && !before &&
                   st.latest_version >= op->added_id())
            wrong = "latest version " + std::to_string(st.latest_version) +
                    " already has the acknowledged " + describe(*op) +
                    ", which came after the resync";
          if (!wrong.empty())
            report(watcher, key, "watch-resync-wrong",
                   describe(*r) + ": " + key + " " + wrong);
        }
      }
    }

    // The end: the watcher reached the final revision, and did not fail.
    if (s.stop) {
      const std::int64_t end = items.empty() ? begin - 1 : items.back()->revision;
      if (!s.stop->error.empty())
        report(watcher, "", "watch-failed",
               describe(*s.stop) + ": the stream ended for good: " + s.stop->error);
      else if (s.stop->target != 0 && end < s.stop->target)
        report(watcher, "", "watch-not-caught-up",
               describe(*s.stop) + ": its last event is at revision " +
                   std::to_string(end) + ", below the final revision " +
                   std::to_string(s.stop->target) + " of the watched keys");
    }
  }
  report.finish();
  return out;
}

// ---------------------------------------------------------------- top level --

verdict check(const std::vector<operation>& ops, const final_lists& finals,
              const check_options& options) {
  history h;
  h.ops = ops;
  return check(h, finals, options);
}

verdict check(const history& h, const final_lists& finals,
              const check_options& options) {
  std::map<std::string, std::vector<operation>> registers, versions;
  for (const operation& op : h.ops) {
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
  for (auto& v : check_write_revisions(h.ops))
    out.violations.push_back(std::move(v));
  for (auto& v : check_watches(h, finals))
    out.violations.push_back(std::move(v));
  out.ok = out.violations.empty();
  return out;
}

verdict check(std::string_view jsonl, const final_lists& finals,
              const check_options& options) {
  return check(parse_full_history(jsonl), finals, options);
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
