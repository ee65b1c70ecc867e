// conflux-chaos: the fault-injection harness (docs/chaos.md).
//
//   conflux-chaos --duration SECONDS --seed N --out DIR [--nodes 3|5]
//                 [--clients N] [--keys N] [--node-binary PATH]
//
// Starts a cluster of conflux-node processes whose node-to-node traffic runs
// through a fault-injecting proxy, runs client threads that record every
// operation (docs/design.md, History format of chaos runs) while faults from a seeded
// schedule hit the cluster, heals everything, and checks the history
// (apps/chaos/checker.hpp) and that every node converged to the same state.
//
// Exit codes: 0 no violation; 1 a violation (verdict.json says which);
// 2 bad arguments; 3 the harness itself failed (e.g. the cluster never
// started), so nothing was checked.
#include "actors/client.hpp"
#include "apps/chaos/checker.hpp"
#include "apps/chaos/cluster.hpp"
#include "apps/chaos/history.hpp"
#include "apps/chaos/schedule.hpp"
#include "protocol/auth.hpp"

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

// A token ("cfx_" + 64 hex) from OpenSSL's CSPRNG, as the CLI makes them.
std::string new_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static const char* hex = "0123456789abcdef";
  std::string t = "cfx_";
  for (auto b : bytes) {
    t += hex[b >> 4];
    t += hex[b & 15];
  }
  return t;
}

using namespace conflux;
using namespace conflux::chaos;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr int exit_ok = 0;
constexpr int exit_violation = 1;
constexpr int exit_usage = 2;
constexpr int exit_harness = 3;

/// Node slots beyond --nodes with --membership (ids nodes+1, nodes+2).
constexpr std::size_t spare_slots = 2;

struct run_options {
  std::int64_t duration_s = 60;
  std::uint64_t seed = 1;
  std::string out;
  std::size_t nodes = 3;
  std::size_t clients = 4;
  std::size_t keys = 3;
  std::int64_t key_period_s = 10;
  std::int64_t op_timeout_ms = 3000;
  std::size_t watchers_per_node = 1;
  std::size_t watch_history = 0; // the nodes' --watch-history; 0: their default
  std::string node_binary;
  std::string log_level = "info";
  /// Run the nodes under the power-cut shim and add the power-cut kinds.
  bool power_cuts = false;
  /// Run the nodes on fault clocks and add clock-jump-leader.
  bool clock_jumps = false;
  /// Add transfer-leader.
  bool transfers = false;
  /// Two spare node slots and the membership kinds.
  bool membership = false;
  std::string powercut_shim;
  /// libconflux-netmap.so (default: ../lib/ next to this binary).
  std::string netmap_lib;
  /// Only these kinds (empty: the default kinds, plus the power cuts with
  /// power_cuts).
  std::vector<std::string> kinds;
  /// At most this many faults (0: as many as fit).
  std::size_t max_faults = 0;
  /// --snapshot-entries of the nodes (0: their default).
  std::uint64_t snapshot_entries = 0;
  /// Fault and gap lengths (ms); 0 keeps the schedule's defaults.
  std::int64_t min_fault_ms = 0, max_fault_ms = 0;
};

std::string replay_command(const run_options& o) {
  return "conflux-chaos --duration " + std::to_string(o.duration_s) + " --seed " +
         std::to_string(o.seed) + " --nodes " + std::to_string(o.nodes) +
         " --clients " + std::to_string(o.clients) + " --keys " +
         std::to_string(o.keys) + " --key-period " + std::to_string(o.key_period_s) +
         " --op-timeout-ms " + std::to_string(o.op_timeout_ms) +
         (o.power_cuts ? " --power-cuts" : "") +
         (o.clock_jumps ? " --clock-jumps" : "") + (o.transfers ? " --transfers" : "") +
         (o.membership ? " --membership" : "") +
         (o.kinds.empty() ? ""
                          : " --kinds " +
                                [&] {
                                  std::string k;
                                  for (const auto& x : o.kinds)
                                    k += (k.empty() ? "" : ",") + x;
                                  return k;
                                }()) +
         (o.max_faults ? " --max-faults " + std::to_string(o.max_faults) : "") +
         (o.snapshot_entries
              ? " --snapshot-entries " + std::to_string(o.snapshot_entries)
              : "") +
         (o.min_fault_ms ? " --fault-ms " + std::to_string(o.min_fault_ms) + "," +
                               std::to_string(o.max_fault_ms)
                         : "") +
         " --watchers-per-node " + std::to_string(o.watchers_per_node) +
         (o.watch_history > 0 ? " --watch-history " + std::to_string(o.watch_history)
                              : std::string()) +
         " --out <new dir>";
}

std::string self_dir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    return ".";
  return p.parent_path().string();
}

// Appends history events (docs/design.md, History format of chaos runs) to
// DIR/history.jsonl as they happen. Times are steady-clock nanoseconds since the
// recorder was made, so they are comparable across threads.
class recorder {
public:
  explicit recorder(const std::string& path)
      : file_(std::fopen(path.c_str(), "w")), start_(clock_type::now()) {
    if (!file_)
      throw std::runtime_error("cannot write " + path);
  }
  ~recorder() {
    if (file_)
      std::fclose(file_);
  }
  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() -
                                                                start_)
        .count();
  }
  std::int64_t new_process() { return next_process_++; }
  // `revision` > 0: the log index an ok add-version / write applied at.
  void event(std::int64_t process, event_type type, fn f, const std::string& key,
             const json& value, std::uint64_t revision = 0) {
    json j{{"process", process},
           {"type", to_string(type)},
           {"f", to_string(f)},
           {"key", key}};
    if (!value.is_null())
      j["value"] = value;
    if (revision > 0)
      j["revision"] = revision;
    std::lock_guard<std::mutex> guard{mtx_};
    if (revision > max_revision_)
      max_revision_ = revision;
    // The time is taken under the lock so that the file is in time order.
    j["time_ns"] = now_ns();
    auto line = j.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }
  // A watch record: `j` plus "type": "watch" and the time.
  void watch(json j) {
    j["type"] = "watch";
    std::lock_guard<std::mutex> guard{mtx_};
    j["time_ns"] = now_ns();
    auto line = j.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }
  // The highest revision an acknowledged write was recorded with.
  std::uint64_t max_revision() {
    std::lock_guard<std::mutex> guard{mtx_};
    return max_revision_;
  }
  // A completion whose value is null in JSON (a read of an unreleased key).
  void event_null(std::int64_t process, event_type type, fn f, const std::string& key) {
    json j{{"process", process},
           {"type", to_string(type)},
           {"f", to_string(f)},
           {"key", key},
           {"value", nullptr}};
    std::lock_guard<std::mutex> guard{mtx_};
    j["time_ns"] = now_ns();
    auto line = j.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

private:
  std::FILE* file_;
  clock_type::time_point start_;
  std::atomic<std::int64_t> next_process_{1};
  std::mutex mtx_;
  std::uint64_t max_revision_ = 0;
};

// The keys in play and the version ids acknowledged per key. `write` picks
// one of those ids, so a write names a version that exists (a refused write
// would test little); `add-version` creates the config (create_config) while
// the key is not known to exist, later versions with create_version.
class key_registry {
public:
  key_registry(std::size_t per_generation, std::int64_t period_ns)
      : per_generation_(per_generation), period_ns_(period_ns) {}

  // Keys rotate: every `period` the clients move to a fresh set, so that no
  // version list grows without bound (each read-versions records the whole
  // list, and the versions checks are quadratic in reads per key).
  std::string key_at(std::int64_t now_ns, std::uint64_t r) {
    auto gen = now_ns / period_ns_;
    auto key = name(gen, r % per_generation_);
    std::lock_guard<std::mutex> guard{mtx_};
    keys_.insert(key);
    return key;
  }
  static std::string name(std::int64_t gen, std::uint64_t i) {
    return "chaos/g" + std::to_string(gen) + "/test/k" + std::to_string(i);
  }
  void touch(const std::string& key) {
    std::lock_guard<std::mutex> guard{mtx_};
    keys_.insert(key);
  }
  void add(const std::string& key, std::int64_t id) {
    std::lock_guard<std::mutex> guard{mtx_};
    ids_[key].push_back(id);
    exists_.insert(key);
  }
  void mark_exists(const std::string& key) {
    std::lock_guard<std::mutex> guard{mtx_};
    exists_.insert(key);
  }
  bool exists(const std::string& key) {
    std::lock_guard<std::mutex> guard{mtx_};
    return exists_.count(key) > 0;
  }
  std::int64_t pick(const std::string& key, std::uint64_t r) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& v = ids_[key];
    if (v.empty())
      return 1;
    // Favour recent versions so the register value keeps moving.
    auto window = std::min<std::size_t>(v.size(), 8);
    return v[v.size() - 1 - r % window];
  }
  std::vector<std::string> keys() {
    std::lock_guard<std::mutex> guard{mtx_};
    return {keys_.begin(), keys_.end()};
  }

private:
  std::size_t per_generation_;
  std::int64_t period_ns_;
  std::mutex mtx_;
  std::set<std::string> keys_;
  std::set<std::string> exists_;
  std::map<std::string, std::vector<std::int64_t>> ids_;
};

json version_list_json(const std::vector<version>& vs) {
  json out = json::array();
  for (const auto& v : vs)
    out.push_back(json::array({static_cast<std::int64_t>(v.id), v.content}));
  return out;
}

// One client thread: a fresh process id at the start and after every `info`.
// Clients of even index act as the bootstrap principal "admin"
// (cluster-admin), those of odd index as "chaos-writer", whose role grants
// read, write, release and delete on the tenant "chaos" only: the run
// exercises two principals with different roles.
void client_loop(std::size_t index, const run_options& opts, actors::client_runtime& rt,
                 const std::vector<std::string>& endpoints, recorder& rec,
                 key_registry& known, const std::atomic<bool>& stop,
                 const std::string& token) {
  std::mt19937_64 rng(opts.seed * 1'000'003 + index);
  actors::client_options co;
  co.endpoints = endpoints;
  std::rotate(co.endpoints.begin(),
              co.endpoints.begin() + static_cast<long>(index % endpoints.size()),
              co.endpoints.end());
  co.timeout = std::chrono::milliseconds(opts.op_timeout_ms);
  co.name = "chaos-client-" + std::to_string(index);
  co.token = token;
  actors::client c(rt, co);
  auto process = rec.new_process();
  std::uint64_t counter = 0;
  for (std::uint64_t round = 0; !stop.load() && round < 100'000'000; ++round) {
    auto key = known.key_at(rec.now_ns(), rng());
    auto pick = rng() % 100;
    if (pick < 25) { // add-version
      auto content = "c" + std::to_string(index) + "-" + std::to_string(++counter);
      rec.event(process, event_type::invoke, fn::add_version, key, content);
      expected<apply_result> r = error{errc::unavailable, ""};
      if (known.exists(key))
        r = c.write(create_version{key, content, "chaos", "", std::nullopt});
      else
        r = c.write(create_config{key, content_format::text, std::nullopt, content,
                                  "chaos", ""});
      if (r.ok() && r->ok()) {
        rec.event(process, event_type::ok, fn::add_version, key,
                  static_cast<std::int64_t>(r->version), r->revision);
        known.add(key, static_cast<std::int64_t>(r->version));
      } else if (r.ok() || r.err().code != errc::timeout) {
        if (r.ok() && r->err && r->err->code == errc::already_exists)
          known.mark_exists(key);
        // Refused by the state machine, or never sent (client contract:
        // errc::timeout is the only "may have applied" outcome).
        rec.event(process, event_type::fail, fn::add_version, key, nullptr);
      } else {
        rec.event(process, event_type::info, fn::add_version, key, nullptr);
        process = rec.new_process();
      }
    } else if (pick < 50) { // write: the default release rule -> a version
      auto v = known.pick(key, rng());
      rec.event(process, event_type::invoke, fn::write, key, v);
      update_release_rules cmd;
      cmd.key = key;
      cmd.rules.push_back(release_rule{{}, static_cast<version_id>(v), 0});
      cmd.comment = "chaos";
      auto r = c.write(cmd);
      if (r.ok() && r->ok()) {
        rec.event(process, event_type::ok, fn::write, key, v, r->revision);
      } else if (r.ok() || r.err().code != errc::timeout) {
        rec.event(process, event_type::fail, fn::write, key, v);
      } else {
        rec.event(process, event_type::info, fn::write, key, v);
        process = rec.new_process();
      }
    } else if (pick < 80) { // read: linearizable resolve of the default rule
      rec.event(process, event_type::invoke, fn::read, key, nullptr);
      auto r = c.resolve(key, {}, actors::consistency::linearizable);
      if (r.ok())
        rec.event(process, event_type::ok, fn::read, key,
                  static_cast<std::int64_t>(r->ver.id));
      else if (r.err().code == errc::not_published || r.err().code == errc::not_found)
        // Nothing released yet, or the key not created yet: the register's
        // initial null.
        rec.event_null(process, event_type::ok, fn::read, key);
      else
        rec.event(process, event_type::fail, fn::read, key, nullptr);
    } else { // read-versions
      rec.event(process, event_type::invoke, fn::read_versions, key, nullptr);
      auto r = c.list_versions(key, actors::consistency::linearizable);
      if (r.ok())
        rec.event(process, event_type::ok, fn::read_versions, key,
                  version_list_json(*r));
      else if (r.err().code == errc::not_found) // not created yet: no versions
        rec.event(process, event_type::ok, fn::read_versions, key, json::array());
      else
        rec.event(process, event_type::fail, fn::read_versions, key, nullptr);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 20));
  }
}

// The name a watch record gives an rpc::watch_kind.
const char* watch_kind_name(std::uint8_t kind) {
  switch (static_cast<rpc::watch_kind>(kind)) {
  case rpc::watch_kind::config_created:
    return "config-created";
  case rpc::watch_kind::version_added:
    return "version-added";
  case rpc::watch_kind::rules_changed:
    return "rules-changed";
  case rpc::watch_kind::versions_deleted:
    return "versions-deleted";
  case rpc::watch_kind::config_deleted:
    return "config-deleted";
  case rpc::watch_kind::published:
    return "published";
  case rpc::watch_kind::resync:
    return "resync";
  }
  return "unknown";
}

// What the watcher threads share with the harness: each one's last
// revision received, the revision they must reach before the run ends, and
// when to stop.
struct watch_progress {
  explicit watch_progress(std::size_t n) : last(n) {}
  std::vector<std::atomic<std::uint64_t>> last;
  std::atomic<std::uint64_t> target{0};
  std::atomic<bool> stop{false};
};

// The prefix the watchers watch: every key the clients use, of every
// generation.
const char* const watch_prefix = "chaos/";

// One watcher thread: a watch_stream over every chaos key from revision 1,
// opened on node `home` first (it moves to the next endpoint on its own when
// that node fails), `delay` after the thread starts. Records each event, each
// resume the stream reports, and its end (docs/design.md, History format of
// chaos runs).
void watcher_loop(std::size_t index, node_id home, std::chrono::milliseconds delay,
                  const run_options& opts, actors::client_runtime& rt,
                  std::vector<std::string> endpoints, recorder& rec,
                  watch_progress& progress, const std::string& token) {
  const auto watcher = static_cast<std::int64_t>(index);
  const auto open_at = clock_type::now() + delay;
  while (clock_type::now() < open_at && !progress.stop.load())
    std::this_thread::sleep_for(
        std::min<clock_type::duration>(open_at - clock_type::now(), 100ms));
  if (progress.stop.load())
    return; // the run ended before this watcher was due
  actors::client_options co;
  co.endpoints = std::move(endpoints);
  co.timeout = std::chrono::milliseconds(opts.op_timeout_ms);
  co.name = "chaos-watch-" + std::to_string(index);
  co.token = token;
  actors::watch_options wo;
  wo.key = watch_prefix;
  wo.from_revision = 1;
  rec.watch({{"watcher", watcher},
             {"event", "start"},
             {"node", home},
             {"prefix", wo.key},
             {"from_revision", wo.from_revision}});
  actors::watch_stream ws(rt, co, wo);
  std::uint64_t resumes = 0;
  std::uint64_t last = 0;
  std::string failure;
  while (!progress.stop.load()) {
    auto n = ws.next(50ms);
    if (!n.ok()) {
      failure = to_string(n.err());
      break;
    }
    if (*n) {
      const auto& ev = (*n)->event;
      json j{{"watcher", watcher}, {"node", (*n)->node_id}, {"revision", ev.revision}};
      if (ev.kind == static_cast<std::uint8_t>(rpc::watch_kind::resync)) {
        j["event"] = "resync";
        json state = json::array();
        for (const auto& e : ev.state)
          state.push_back({{"key", e.key},
                           {"mod_revision", e.mod_revision},
                           {"latest_version", e.latest_version},
                           {"hash", e.content_hash}});
        j["state"] = std::move(state);
      } else {
        j["event"] = "change";
        j["key"] = ev.key;
        j["kind"] = watch_kind_name(ev.kind);
        j["versions"] = ev.versions;
        if (!ev.content_hash.empty())
          j["hash"] = ev.content_hash;
      }
      rec.watch(std::move(j));
      last = ev.revision;
      progress.last[index].store(last);
    }
    auto r = ws.resumes();
    if (r != resumes) {
      resumes = r;
      rec.watch({{"watcher", watcher},
                 {"event", "resume"},
                 {"resumes", r},
                 {"reason", ws.last_interruption()}});
    }
  }
  json end{{"watcher", watcher},
           {"event", "stop"},
           {"last_revision", last},
           {"target", progress.target.load()}};
  if (!failure.empty())
    end["error"] = failure;
  rec.watch(std::move(end));
}

// Sleeps until `until` (in steps of at most 100 ms).
void sleep_until(clock_type::time_point until) {
  while (clock_type::now() < until)
    std::this_thread::sleep_for(
        std::min<clock_type::duration>(until - clock_type::now(), 100ms));
}

struct fault_run {
  json record;
  bool skipped = false;
};

// Applies one planned fault, waits its duration, heals it. Violations that the
// One membership fault: the steps it took, each {"op", "node", then "index"
// or "refused"}. Membership stays between --nodes and --nodes + the spare
// slots: an add without a free slot first removes a follower, a removal at
// --nodes members first adds a spare. A refused step is an answer, not a
// violation (the checker judges the history; the harness reconciles its
// member set with the leader's).
json run_membership_fault(chaos_cluster& cl, const planned_fault& f) {
  json steps = json::array();
  auto members = [&] { return cl.ids(); };
  auto free_slots = [&] {
    std::vector<node_id> out;
    for (auto id : cl.slots())
      if (!cl.is_member(id))
        out.push_back(id);
    return out;
  };
  auto followers = [&] {
    std::vector<node_id> out;
    auto l = cl.leader();
    for (auto id : members())
      if (!l || id != *l)
        out.push_back(id);
    return out;
  };
  auto step = [&](const char* op, node_id id, expected<std::uint64_t> r) {
    json s{{"op", op}, {"node", id}};
    if (r.ok())
      s["index"] = *r;
    else
      s["refused"] = to_string(r.err());
    steps.push_back(s);
    return r.ok();
  };
  auto add_one = [&] {
    auto fs = free_slots();
    if (fs.empty())
      return false;
    auto id = fs[f.pick % fs.size()];
    return step("add", id, cl.add_member(id, 20s));
  };
  auto remove_one = [&](bool leader) {
    std::optional<node_id> target;
    if (leader) {
      target = cl.wait_for_leader(3s);
    } else {
      auto fl = followers();
      if (!fl.empty())
        target = fl[f.pick % fl.size()];
    }
    if (!target)
      return false;
    return step(leader ? "remove-leader" : "remove", *target,
                cl.remove_member(*target, 20s));
  };
  const std::size_t base = cl.configured_nodes();
  switch (f.kind) {
  case fault_kind::add_node:
    if (free_slots().empty())
      remove_one(false);
    add_one();
    break;
  case fault_kind::remove_node:
  case fault_kind::remove_leader:
    if (members().size() <= base)
      add_one();
    remove_one(f.kind == fault_kind::remove_leader);
    break;
  case fault_kind::replace_node: {
    auto fl = followers();
    if (fl.empty())
      break;
    auto id = fl[f.pick % fl.size()];
    if (step("remove", id, cl.remove_member(id, 20s)))
      step("add", id, cl.add_member(id, 20s));
    break;
  }
  default:
    break;
  }
  return steps;
}

// fault itself reveals (a node that cannot restart) go to `violations`.
fault_run run_fault(chaos_cluster& cl, const planned_fault& f, recorder& rec,
                    std::vector<violation>& violations) {
  fault_run out;
  out.record = to_json(f);
  std::vector<node_id> targets(f.targets.begin(), f.targets.end());
  bool leader_kind =
      f.kind == fault_kind::kill_leader || f.kind == fault_kind::pause_leader ||
      f.kind == fault_kind::partition_leader || f.kind == fault_kind::clock_jump_leader;
  if (leader_kind) {
    auto l = cl.wait_for_leader(3s);
    if (!l) {
      out.skipped = true;
      out.record["skipped"] = "no node reported itself leader within 3 s";
      return out;
    }
    targets = {*l};
  }
  out.record["resolved_targets"] = targets;
  out.record["actual_start_ns"] = rec.now_ns();
  auto ids = cl.ids();
  switch (f.kind) {
  case fault_kind::kill_node:
  case fault_kind::kill_leader:
    cl.kill9(targets[0]);
    break;
  case fault_kind::pause_node:
  case fault_kind::pause_leader:
    cl.pause(targets[0]);
    break;
  case fault_kind::partition_minority:
  case fault_kind::partition_leader:
    for (auto a : targets)
      for (auto b : ids)
        if (std::find(targets.begin(), targets.end(), b) == targets.end())
          cl.proxy().cut(a, b);
    break;
  case fault_kind::partition_one_way:
    for (auto b : ids)
      if (b != targets[0]) {
        if (f.outbound)
          cl.proxy().block(targets[0], b);
        else
          cl.proxy().block(b, targets[0]);
      }
    break;
  case fault_kind::power_cut_node:
  case fault_kind::power_cut_majority:
  case fault_kind::power_cut_cluster: {
    json cuts = json::array();
    for (auto t : targets) {
      auto r = cl.power_cut(t, f.torn, f.cut_seed + t);
      if (!r.ok)
        throw std::runtime_error("power cut of node " + std::to_string(t) +
                                 " could not roll its data dir back: " + r.error);
      cuts.push_back({{"node", t},
                      {"undone_data", r.undone_data},
                      {"undone_meta", r.undone_meta},
                      {"kept_pages", r.kept_pages},
                      {"lost_pages", r.lost_pages}});
    }
    out.record["cuts"] = cuts;
    break;
  }
  case fault_kind::transfer_leader: {
    // Leadership goes to the drawn node, or the next one if it leads already.
    auto ids_now = cl.ids();
    node_id to = targets[0];
    if (auto l = cl.leader(); l && *l == to)
      to = to % ids_now.size() + 1;
    out.record["resolved_targets"] = std::vector<node_id>{to};
    auto r = cl.transfer_leader(to, 10s);
    // A refusal (the target is behind, down or partitioned) is an answer,
    // not a violation: the transfer is then recorded as refused.
    if (r.ok())
      out.record["new_term"] = *r;
    else
      out.record["refused"] = to_string(r.err());
    sleep_until(clock_type::now() + std::chrono::milliseconds(f.duration_ms));
    out.record["heal_ns"] = rec.now_ns();
    out.record["healed_ns"] = rec.now_ns();
    return out;
  }
  case fault_kind::clock_jump_leader: {
    auto first = f.forward_first ? f.jump_ms : -f.jump_ms;
    cl.set_clock_offset(targets[0], first);
    sleep_until(clock_type::now() + std::chrono::milliseconds(f.duration_ms / 2));
    // ... and then as far to the other side of the true time.
    cl.set_clock_offset(targets[0], -first);
    sleep_until(clock_type::now() + std::chrono::milliseconds(f.duration_ms / 2));
    out.record["heal_ns"] = rec.now_ns();
    cl.set_clock_offset(targets[0], 0);
    out.record["healed_ns"] = rec.now_ns();
    return out;
  }
  case fault_kind::add_node:
  case fault_kind::remove_node:
  case fault_kind::remove_leader:
  case fault_kind::replace_node:
    out.record["steps"] = run_membership_fault(cl, f);
    out.record["members"] = cl.ids();
    sleep_until(clock_type::now() + std::chrono::milliseconds(f.duration_ms));
    out.record["heal_ns"] = rec.now_ns();
    out.record["healed_ns"] = rec.now_ns();
    return out;
  }
  sleep_until(clock_type::now() + std::chrono::milliseconds(f.duration_ms));
  out.record["heal_ns"] = rec.now_ns();
  switch (f.kind) {
  case fault_kind::kill_node:
  case fault_kind::kill_leader:
  case fault_kind::power_cut_node:
  case fault_kind::power_cut_majority:
  case fault_kind::power_cut_cluster:
    // All at once (a whole-cluster restart needs a quorum to answer); each
    // then waits for its own status.
    for (auto t : targets)
      if (cl.is_member(t) && !cl.restart(t, 20s)) {
        violations.push_back({"", "restart-failed",
                              "node " + std::to_string(t) +
                                  " did not answer within 20 s of its restart after " +
                                  to_string(f.kind) + " (fault " +
                                  std::to_string(f.index) + "); see " +
                                  cl.log_path(t)});
        out.record["restart_failed"] = true;
      }
    break;
  case fault_kind::pause_node:
  case fault_kind::pause_leader:
    cl.resume(targets[0]);
    break;
  default:
    cl.proxy().heal_all();
    break;
  }
  out.record["healed_ns"] = rec.now_ns();
  return out;
}

// Reads every key on every node (serializable) once all nodes report the same
// applied index; returns the differences, empty when they agree with `finals`.
std::vector<violation> check_convergence(chaos_cluster& cl, actors::client_runtime& rt,
                                         const std::vector<std::string>& keys,
                                         const final_lists& finals, json& report,
                                         const std::string& token) {
  std::vector<violation> last;
  std::vector<std::unique_ptr<actors::client>> per_node;
  // One client per slot (slot id - 1), so that members added by membership
  // faults (ids beyond --nodes) have theirs too.
  for (auto id : cl.slots()) {
    actors::client_options co;
    co.endpoints = {cl.endpoint(id)};
    co.timeout = 2s;
    co.name = "chaos-converge";
    co.token = token;
    per_node.push_back(std::make_unique<actors::client>(rt, co));
  }
  auto deadline = clock_type::now() + 60s;
  for (int round = 0; round < 600 && clock_type::now() < deadline; ++round) {
    if (round > 0)
      std::this_thread::sleep_for(250ms);
    std::vector<std::uint64_t> applied;
    bool all = true;
    for (auto id : cl.ids()) {
      auto s = cl.status(id);
      if (!s.ok() || s->commit != s->applied) {
        all = false;
        break;
      }
      applied.push_back(s->applied);
    }
    if (!all || std::adjacent_find(applied.begin(), applied.end(),
                                   std::not_equal_to<>()) != applied.end()) {
      last = {{"", "not-converged",
               "the nodes did not all report the same applied index (last poll: " +
                   json(applied).dump() + ")"}};
      continue;
    }
    std::vector<violation> diffs;
    bool stale = false;
    json nodes = json::object();
    for (auto id : cl.ids()) {
      auto& c = *per_node[id - 1];
      json node = json::object();
      for (const auto& key : keys) {
        actors::read_meta meta;
        auto vs = c.list_versions(key, actors::consistency::serializable, &meta);
        auto cfg = c.get_config(key, actors::consistency::serializable);
        auto fit = finals.find(key);
        if (fit != finals.end() && fit->second.empty() && !vs.ok() &&
            vs.err().code == errc::not_found && !cfg.ok() &&
            cfg.err().code == errc::not_found) {
          node[key] = "absent"; // never created, here as on the leader
          continue;
        }
        if (!vs.ok() || !cfg.ok()) {
          stale = true;
          break;
        }
        if (meta.revision != applied[0]) {
          stale = true; // something applied meanwhile: poll again
          break;
        }
        auto list = parse_version_list(version_list_json(*vs));
        auto it = finals.find(key);
        if (it == finals.end() || list != it->second)
          diffs.push_back({key, "divergence",
                           "node " + std::to_string(id) + " lists versions " +
                               version_list_json(*vs).dump() +
                               " but the leader's final list differs"});
        json rules = json::array();
        for (const auto& r : cfg->releases)
          rules.push_back({{"labels", r.labels},
                           {"version", static_cast<std::int64_t>(r.version)},
                           {"priority", r.priority}});
        node[key] = {{"versions", vs->size()},
                     {"releases", rules},
                     {"latest_version", static_cast<std::int64_t>(cfg->latest_version)},
                     {"mod_revision", static_cast<std::int64_t>(cfg->mod_revision)}};
      }
      if (stale)
        break;
      nodes[std::to_string(id)] = node;
    }
    if (stale)
      continue;
    // The configs (release rules, revisions) must agree too.
    for (const auto& key : keys) {
      json first;
      bool have = false;
      for (auto& [id, node] : nodes.items()) {
        if (!have) {
          first = node[key];
          have = true;
        } else if (node[key] != first) {
          diffs.push_back({key, "divergence",
                           "node " + id + " has config " + node[key].dump() +
                               ", another node " + first.dump()});
        }
      }
    }
    report = {{"applied_index", applied[0]},
              {"nodes", cl.ids()},
              {"keys_compared", keys.size()}};
    return diffs;
  }
  return last.empty()
             ? std::vector<violation>{{"", "not-converged",
                                       "convergence could not be checked in 60 s"}}
             : last;
}

// What the phases of one run share. Declared in the order they must be
// built: the clients' runtime outlives the cluster, whose nodes' clients it
// serves.
struct run_state {
  explicit run_state(const run_options& o)
      : opts(o),
        rt(actors::tls_in_dir(
            chaos_cluster::make_pki(o.out, o.nodes + (o.membership ? spare_slots : 0)),
            "client")) {}

  const run_options& opts;
  schedule_options so;
  std::vector<planned_fault> schedule;
  actors::client_runtime rt;
  std::unique_ptr<chaos_cluster> cl;
  std::unique_ptr<recorder> rec;
  std::unique_ptr<key_registry> known;
  // Findings besides the history checker's (crashes, failed restarts,
  // divergence).
  std::vector<violation> extra;
  std::map<std::string, std::uint64_t> fault_counts;
  std::uint64_t skipped = 0;
  std::vector<std::string> keys;
  final_lists finals;
  json convergence;
  /// The run's two principals: the bootstrap admin and a writer limited to
  /// the keys under "chaos/" (made in setup).
  std::string admin_token = new_token();
  std::string writer_token = new_token();
  /// The watcher threads (started with the load, stopped after the heal).
  std::unique_ptr<watch_progress> watch;
  std::vector<std::thread> watchers;

  ~run_state() { stop_watchers(); }
  void stop_watchers() {
    if (watch)
      watch->stop.store(true);
    for (auto& w : watchers)
      if (w.joinable())
        w.join();
    watchers.clear();
  }
};

// A client of the whole cluster.
std::unique_ptr<actors::client> cluster_client(run_state& st,
                                               std::chrono::milliseconds timeout,
                                               const std::string& name) {
  actors::client_options co;
  co.endpoints = st.cl->endpoints();
  co.timeout = timeout;
  co.name = name;
  co.token = st.admin_token;
  return std::make_unique<actors::client>(st.rt, co);
}

// The writer's role and token, made by the admin through the log.
bool make_writer(run_state& st) {
  auto admin = cluster_client(st, 20s, "chaos-setup-auth");
  put_role role;
  role.role.name = "chaos-writer";
  role.role.grants.push_back(
      auth::grant{"chaos", auth::read | auth::write | auth::release | auth::del});
  role.replace = true;
  create_token tok;
  tok.principal = "chaos-writer";
  tok.token_hash = auth::token_hash(st.writer_token);
  tok.roles = {"chaos-writer"};
  // A lifetime the run cannot outlast on a true clock, so that a cluster
  // clock that followed a jumped wall clock would show as an early expiry.
  tok.ttl_ms = (st.opts.duration_s + 3600) * 1000;
  for (command cmd : {command{role}, command{tok}}) {
    auto r = admin->write(cmd);
    if (!r.ok() || r->err) {
      std::cerr << "conflux-chaos: could not set up principal chaos-writer: "
                << (!r.ok() ? to_string(r.err()) : to_string(*r->err)) << "\n";
      return false;
    }
  }
  return true;
}

// Cluster time (docs/design.md, "Time") as the versions of a key show it:
// their stamps never go backwards in id order, and never run ahead of the true
// time by more than the 1% a jumped wall clock may pull them (plus a minute
// for the machine's own clock steps).
void check_cluster_time(run_state& st, const std::string& key,
                        const std::vector<version>& vs) {
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::vector<stamped_version> stamps;
  for (const auto& v : vs)
    stamps.push_back({v.id, v.created_at_ms});
  for (auto& v :
       check_stamps(key, stamps, now_ms, 60'000 + st.opts.duration_s * 1000 / 100))
    st.extra.push_back(std::move(v));
}

// The writer's token lives duration + 1 h of cluster time: it must still be
// accepted after the run (no mass expiry from a jumped clock).
void check_writer_token(run_state& st) {
  actors::client_options co;
  co.endpoints = st.cl->endpoints();
  co.timeout = 10s;
  co.name = "chaos-final-writer";
  co.token = st.writer_token;
  actors::client writer{st.rt, co};
  expected<std::vector<version>> r = error{errc::unavailable, "not asked"};
  for (int attempt = 0; attempt < 3 && !r.ok(); ++attempt) {
    r = writer.list_versions("chaos/g0/test/k0", actors::consistency::linearizable);
    if (!r.ok() && r.err().code == errc::unauthenticated) {
      st.extra.push_back(
          {"", "token-expired-early",
           "the writer's token (lifetime: the run + 1 h) was refused after "
           "the run: " +
               to_string(r.err())});
      return;
    }
  }
}

void note_unexpected_exits(run_state& st) {
  for (auto& msg : st.cl->unexpected_exits())
    st.extra.push_back({"", "node-crashed", msg});
}

// Setup: plans the faults (schedule.json), starts the cluster and creates the
// first generation of keys with version 1 (unreleased), recorded as an
// add-version by process 0. Later generations are created by the clients'
// own add-version operations. False when the harness could not get there.
bool setup(run_state& st) {
  const auto& opts = st.opts;
  std::cout << "conflux-chaos: seed " << opts.seed << ", " << opts.duration_s << " s, "
            << opts.nodes << " nodes, " << opts.clients << " clients, out " << opts.out
            << "\nreplay: " << replay_command(opts) << std::endl;
  st.so.seed = opts.seed;
  st.so.duration_ms = opts.duration_s * 1000;
  st.so.nodes = opts.nodes;
  st.so.power_cuts = opts.power_cuts;
  st.so.clock_jumps = opts.clock_jumps;
  st.so.transfers = opts.transfers;
  st.so.membership = opts.membership;
  if (!opts.kinds.empty()) {
    st.so.kinds.clear();
    for (const auto& k : opts.kinds)
      st.so.kinds.push_back(*parse_fault_kind(k)); // checked in main
  } else {
    if (opts.power_cuts)
      for (auto k : power_cut_fault_kinds())
        st.so.kinds.push_back(k);
    if (opts.clock_jumps)
      st.so.kinds.push_back(fault_kind::clock_jump_leader);
    if (opts.transfers)
      st.so.kinds.push_back(fault_kind::transfer_leader);
    if (opts.membership)
      for (auto k : membership_fault_kinds())
        st.so.kinds.push_back(k);
  }
  if (opts.min_fault_ms != 0) {
    st.so.min_fault_ms = opts.min_fault_ms;
    st.so.max_fault_ms = opts.max_fault_ms;
  }
  st.schedule = make_schedule(st.so);
  if (opts.max_faults != 0 && st.schedule.size() > opts.max_faults)
    st.schedule.resize(opts.max_faults);
  {
    std::ofstream plan(opts.out + "/schedule.json");
    json p = json::array();
    for (const auto& f : st.schedule)
      p.push_back(to_json(f));
    plan << json{{"seed", opts.seed},
                 {"duration_s", opts.duration_s},
                 {"nodes", opts.nodes},
                 {"faults", p}}
                .dump(2)
         << "\n";
  }
  cluster_options co;
  co.nodes = opts.nodes;
  co.dir = opts.out;
  co.node_binary = opts.node_binary;
  co.netmap_lib = opts.netmap_lib;
  if (opts.membership)
    co.spare_slots = spare_slots;
  co.log_level = opts.log_level;
  co.bootstrap_token_hash = auth::token_hash(st.admin_token);
  co.token = st.admin_token;
  if (opts.power_cuts)
    co.powercut_shim = opts.powercut_shim;
  co.snapshot_entries = opts.snapshot_entries;
  co.clock_faults = opts.clock_jumps;
  co.watch_history = opts.watch_history;
  st.cl = std::make_unique<chaos_cluster>(st.rt, co);
  std::string why;
  if (!st.cl->start(30s, why)) {
    std::cerr << "conflux-chaos: the cluster did not start: " << why << "\n";
    st.cl->stop_all(5s);
    return false;
  }
  if (!make_writer(st)) {
    st.cl->stop_all(5s);
    return false;
  }
  st.rec = std::make_unique<recorder>(opts.out + "/history.jsonl");
  st.known =
      std::make_unique<key_registry>(opts.keys, opts.key_period_s * 1'000'000'000LL);
  auto setup_client = cluster_client(st, 20s, "chaos-setup");
  for (std::size_t k = 0; k < opts.keys; ++k) {
    auto key = key_registry::name(0, k);
    auto content = "init-" + key;
    st.rec->event(0, event_type::invoke, fn::add_version, key, content);
    auto r = setup_client->write(create_config{key, content_format::text, std::nullopt,
                                               content, "chaos", "chaos-setup"});
    if (!r.ok() || !r->ok() || r->version != 1) {
      std::cerr << "conflux-chaos: could not create " << key << ": "
                << (!r.ok()  ? to_string(r.err())
                    : r->err ? to_string(*r->err)
                             : "id != 1")
                << "\n";
      st.cl->stop_all(5s);
      return false;
    }
    st.rec->event(0, event_type::ok, fn::add_version, key, 1, r->revision);
    st.known->touch(key);
    st.known->add(key, 1);
  }
  return true;
}

// Runs every planned fault at its time (in this thread: it forks the
// restarted nodes, see cluster.hpp) and writes faults.jsonl.
void run_faults(run_state& st) {
  std::ofstream faults(st.opts.out + "/faults.jsonl");
  auto start = clock_type::now();
  auto last_start =
      start + std::chrono::milliseconds(st.so.duration_ms - st.so.quiet_tail_ms);
  for (const auto& f : st.schedule) {
    auto at = start + std::chrono::milliseconds(f.start_ms);
    // A slow restart can push the schedule late; never run past the run's end.
    if (std::max(at, clock_type::now()) + std::chrono::milliseconds(f.duration_ms) >
        last_start) {
      ++st.skipped;
      faults << json{{"index", f.index},
                     {"kind", to_string(f.kind)},
                     {"skipped", "the schedule ran late; no time left for this fault"}}
                    .dump()
             << "\n";
      continue;
    }
    while (clock_type::now() < at) {
      sleep_until(std::min(at, clock_type::now() + 500ms));
      note_unexpected_exits(st);
    }
    auto r = run_fault(*st.cl, f, *st.rec, st.extra);
    if (r.skipped)
      ++st.skipped;
    else
      ++st.fault_counts[to_string(f.kind)];
    faults << r.record.dump() << "\n" << std::flush;
    std::cout << "fault " << f.index << ": " << r.record.dump() << std::endl;
    note_unexpected_exits(st);
    if (r.record.contains("restart_failed")) {
      // A node that cannot come back is the finding; more faults would only
      // bury it (and a cluster without a quorum runs no workload anyway).
      std::cout << "conflux-chaos: a node could not be restarted; no more faults, "
                   "ending the workload"
                << std::endl;
      return;
    }
  }
  sleep_until(start + std::chrono::seconds(st.opts.duration_s));
}

// Starts the watchers: --watchers-per-node of them opened on each node
// (its endpoint first, then the others in turn) at once, and one more
// opened halfway through the run, also from revision 1: a node that no
// longer holds the early changes (restarted, or past its --watch-history)
// answers it with a resync. Even ones act as admin, odd ones as
// chaos-writer.
void start_watchers(run_state& st) {
  auto ids = st.cl->ids();
  const std::size_t at_once = ids.size() * st.opts.watchers_per_node;
  const std::size_t n = at_once + (at_once > 0 ? 1 : 0);
  st.watch = std::make_unique<watch_progress>(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t home = i % ids.size();
    std::vector<std::string> eps;
    for (std::size_t k = 0; k < ids.size(); ++k)
      eps.push_back(st.cl->endpoint(ids[(home + k) % ids.size()]));
    auto delay = i < at_once ? std::chrono::milliseconds(0)
                             : std::chrono::milliseconds(st.opts.duration_s * 500);
    st.watchers.emplace_back(watcher_loop, i, ids[home], delay, std::cref(st.opts),
                             std::ref(st.rt), std::move(eps), std::ref(*st.rec),
                             std::ref(*st.watch),
                             std::cref(i % 2 == 0 ? st.admin_token : st.writer_token));
  }
}

// Drain: after the heal no write is pending any more, so every watcher must
// reach the highest mod revision of the final configs (and of the
// acknowledged writes). Waits for that (at most 30 s), then stops the
// watchers; each records where it stopped and that target.
void drain_watchers(run_state& st) {
  if (!st.watch)
    return;
  std::uint64_t target = st.rec->max_revision();
  if (!st.finals.empty()) {
    auto c = cluster_client(st, 10s, "chaos-watch-target");
    for (const auto& [key, list] : st.finals) {
      if (list.empty())
        continue;
      auto cfg = c->get_config(key, actors::consistency::linearizable);
      if (cfg.ok())
        target = std::max<std::uint64_t>(target, cfg->mod_revision);
    }
  }
  st.watch->target.store(target);
  auto caught_up = [&] {
    for (const auto& l : st.watch->last)
      if (l.load() < target)
        return false;
    return true;
  };
  auto deadline = clock_type::now() + 30s;
  while (!caught_up() && clock_type::now() < deadline)
    std::this_thread::sleep_for(50ms);
  st.stop_watchers();
}

// Load + faults: the client threads record operations while the faults run,
// until the run's duration is over.
void load_and_faults(run_state& st) {
  start_watchers(st);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  // Joins the workers on every way out of this function (an exception too).
  struct joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& workers;
    ~joiner() {
      stop.store(true);
      for (auto& w : workers)
        if (w.joinable())
          w.join();
    }
  } join_workers{stop, workers};
  auto endpoints = st.cl->endpoints();
  for (std::size_t i = 0; i < st.opts.clients; ++i)
    workers.emplace_back(client_loop, i, std::cref(st.opts), std::ref(st.rt),
                         std::cref(endpoints), std::ref(*st.rec), std::ref(*st.known),
                         std::cref(stop),
                         std::cref(i % 2 == 0 ? st.admin_token : st.writer_token));
  run_faults(st);
}

// Heal: ends every fault, then reads the final version lists through the
// leader (linearizable) and checks that every node converged to them.
void heal(run_state& st) {
  note_unexpected_exits(st);
  std::string why;
  if (!st.cl->heal_all(30s, why))
    st.extra.push_back({"", "restart-failed", why});
  st.keys = st.known->keys();
  if (!st.cl->wait_for_leader(30s)) {
    st.extra.push_back({"", "no-leader-after-heal",
                        "no leader within 30 s after every fault was healed"});
    return;
  }
  auto final_client = cluster_client(st, 10s, "chaos-final");
  for (const auto& key : st.keys) {
    expected<std::vector<version>> vs = error{errc::unavailable, "not asked"};
    for (int attempt = 0; attempt < 3 && !vs.ok(); ++attempt) {
      vs = final_client->list_versions(key, actors::consistency::linearizable);
      if (!vs.ok() && vs.err().code == errc::not_found)
        vs = std::vector<version>{}; // never created: no versions
    }
    if (!vs.ok()) {
      st.extra.push_back(
          {key, "final-read-failed",
           "the final linearizable list of versions failed: " + to_string(vs.err())});
      continue;
    }
    st.finals[key] = parse_version_list(version_list_json(*vs));
    check_cluster_time(st, key, *vs);
  }
  check_writer_token(st);
  if (st.finals.size() == st.keys.size())
    for (auto& v : check_convergence(*st.cl, st.rt, st.keys, st.finals, st.convergence,
                                     st.admin_token))
      st.extra.push_back(v);
}

struct checked_history {
  history h;
  verdict v;
};

// Check: writes final.json (so that --recheck DIR can check the history again
// without a cluster), then checks the history and adds the other findings.
// Nothing when the recorded history does not parse (a harness bug).
std::optional<checked_history> check_history(run_state& st) {
  {
    json fj = json::object();
    for (const auto& [key, list] : st.finals) {
      json l = json::array();
      for (const auto& e : list)
        l.push_back(json::array({e.id, e.content}));
      fj[key] = l;
    }
    std::ofstream fout(st.opts.out + "/final.json");
    fout << fj.dump() << "\n";
  }
  std::ifstream hin(st.opts.out + "/history.jsonl");
  std::stringstream hs;
  hs << hin.rdbuf();
  checked_history out;
  try {
    out.h = parse_full_history(hs.str());
    out.v = check(out.h, st.finals);
  } catch (const history_error& e) {
    std::cerr
        << "conflux-chaos: the recorded history is malformed (a harness bug): line "
        << e.line() << ": " << e.what() << "\n";
    return std::nullopt;
  }
  for (auto& x : st.extra)
    out.v.violations.push_back(x);
  out.v.ok = out.v.violations.empty();
  return out;
}

// Report: verdict.json, then (with the nodes stopped) the summary on stdout;
// returns the exit code.
int report(run_state& st, const checked_history& h) {
  const auto& opts = st.opts;
  const auto& v = h.v;
  std::map<std::string, std::map<std::string, std::uint64_t>> counts;
  for (const auto& op : h.h.ops)
    ++counts[to_string(op.f)][to_string(op.outcome)];
  json op_counts = counts;
  // Per watcher: events of each kind, and where it stopped.
  std::map<std::string, std::map<std::string, std::int64_t>> per_watcher;
  std::map<std::string, std::int64_t> watch_totals;
  for (const auto& w : h.h.watches) {
    auto& c = per_watcher[std::to_string(w.watcher)];
    switch (w.type) {
    case watch_event_type::start:
      c["home_node"] = w.node;
      break;
    case watch_event_type::stop:
      c["last_revision"] = w.revision;
      c["target"] = w.target;
      break;
    default:
      ++c[to_string(w.type)];
      ++watch_totals[to_string(w.type)];
      break;
    }
  }
  json watch_counts{{"watchers", per_watcher.size()},
                    {"events", watch_totals},
                    {"per_watcher", per_watcher}};
  json violations = json::array();
  for (const auto& x : v.violations)
    violations.push_back({{"key", x.key}, {"rule", x.rule}, {"message", x.message}});
  auto ps = st.cl->proxy().stats();
  std::uint64_t proxied_bytes = 0;
  for (auto& [dir, n] : ps.bytes)
    proxied_bytes += n;
  json verdict_json{{"ok", v.ok},
                    {"seed", opts.seed},
                    {"duration_s", opts.duration_s},
                    {"nodes", opts.nodes},
                    {"clients", opts.clients},
                    {"keys", st.keys.size()},
                    {"violations", violations},
                    {"ops", op_counts},
                    {"op_total", h.h.ops.size()},
                    {"watch", watch_counts},
                    {"faults", st.fault_counts},
                    {"faults_skipped", st.skipped},
                    {"faults_planned", st.schedule.size()},
                    {"proxy",
                     {{"bytes", proxied_bytes},
                      {"refused", ps.refused},
                      {"closed_by_cut", ps.closed_by_cut}}},
                    {"convergence", st.convergence},
                    {"replay", replay_command(opts)}};
  {
    std::ofstream vout(opts.out + "/verdict.json");
    vout << verdict_json.dump(2) << "\n";
  }
  st.cl->stop_all(10s);
  st.cl.reset();
  std::cout << "ops: " << op_counts.dump() << "\nwatch: " << json(watch_totals).dump()
            << " (" << per_watcher.size() << " watchers)"
            << "\nfaults: " << json(st.fault_counts).dump() << " (skipped "
            << st.skipped << ")\n";
  if (v.ok) {
    std::cout << "verdict: ok (" << h.h.ops.size() << " operations); " << opts.out
              << "/verdict.json\n";
    return exit_ok;
  }
  std::cout << "verdict: " << v.violations.size() << " violation(s); seed " << opts.seed
            << "; replay: " << replay_command(opts) << "\n";
  for (std::size_t i = 0; i < v.violations.size() && i < 20; ++i)
    std::cout << "  [" << v.violations[i].rule << "] " << v.violations[i].key << ": "
              << v.violations[i].message << "\n";
  return exit_violation;
}

// One run, by phase: setup, load + faults, heal, check, report.
int run(const run_options& opts) {
  run_state st{opts};
  if (!setup(st))
    return exit_harness;
  load_and_faults(st);
  heal(st);
  drain_watchers(st);
  auto checked = check_history(st);
  if (!checked) {
    st.cl->stop_all(10s);
    return exit_harness;
  }
  return report(st, *checked);
}

// --recheck DIR: runs the history checker again on DIR/history.jsonl and
// DIR/final.json (no cluster; convergence and crash findings are not redone).
int recheck(const std::string& dir) {
  std::ifstream hin(dir + "/history.jsonl");
  std::ifstream fin(dir + "/final.json");
  if (!hin.good() || !fin.good()) {
    std::cerr << "conflux-chaos: --recheck needs " << dir << "/history.jsonl and "
              << dir
              << "/final.json (written by a run that got as far as its final reads)\n";
    return exit_usage;
  }
  std::stringstream hs;
  hs << hin.rdbuf();
  final_lists finals;
  try {
    auto fj = json::parse(fin);
    for (auto& [key, list] : fj.items())
      finals[key] = parse_version_list(list);
    auto v = check(hs.str(), finals);
    std::cout << "recheck of " << dir << ": "
              << (v.ok ? "ok" : std::to_string(v.violations.size()) + " violation(s)")
              << "\n";
    for (const auto& x : v.violations)
      std::cout << "  [" << x.rule << "] " << x.key << ": " << x.message << "\n";
    return v.ok ? exit_ok : exit_violation;
  } catch (const history_error& e) {
    std::cerr << "conflux-chaos: " << dir << "/history.jsonl line " << e.line() << ": "
              << e.what() << "\n";
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "conflux-chaos: cannot read " << dir << ": " << e.what() << "\n";
    return exit_usage;
  }
}

} // namespace

int main(int argc, char** argv) {
  run_options opts;
  CLI::App app{"conflux-chaos: fault-injection harness for a Conflux cluster"};
  std::string recheck_dir;
  auto* duration = app.add_option("--duration", opts.duration_s,
                                  "seconds of workload under faults (required)")
                       ->check(CLI::Range(10, 86'400));
  auto* seed = app.add_option("--seed", opts.seed,
                              "seed of the fault schedule and the workload (required)");
  auto* out = app.add_option("--out", opts.out,
                             "output dir, must not exist or be empty "
                             "(required)");
  auto* re = app.add_option("--recheck", recheck_dir,
                            "check DIR/history.jsonl against DIR/final.json again; "
                            "starts no cluster");
  re->excludes(duration)->excludes(seed)->excludes(out);
  app.add_option("--nodes", opts.nodes, "cluster size: 3 or 5")
      ->check(CLI::IsMember({3, 5}));
  app.add_option("--clients", opts.clients, "client threads (default 4)")
      ->check(CLI::Range(1, 64));
  app.add_option("--keys", opts.keys, "keys the clients use (default 3)")
      ->check(CLI::Range(1, 32));
  app.add_option("--key-period", opts.key_period_s,
                 "seconds before the clients move to a fresh set of keys (default 10)")
      ->check(CLI::Range(1, 86'400));
  app.add_option("--op-timeout-ms", opts.op_timeout_ms,
                 "deadline of one client call, retries included (default 3000)")
      ->check(CLI::Range(200, 60'000));
  app.add_option("--watchers-per-node", opts.watchers_per_node,
                 "watchers opened on each node, each over every chaos key (default 1)")
      ->check(CLI::Range(0, 8));
  app.add_option("--watch-history", opts.watch_history,
                 "the nodes' --watch-history: changes each watch hub keeps for "
                 "resumes (default: the node's, 10000)")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--node-binary", opts.node_binary,
                 "conflux-node to run (default: next to this binary)");
  app.add_option("--log-level", opts.log_level, "nodes' log level (default info)");
  app.add_flag(
      "--power-cuts", opts.power_cuts,
      "run the nodes under the power-cut shim and add the power-cut fault kinds");
  app.add_flag(
      "--clock-jumps", opts.clock_jumps,
      "run the nodes on fault clocks and add clock-jump-leader (the leader's wall "
      "clock jumps forward and back)");
  app.add_flag(
      "--transfers", opts.transfers,
      "add transfer-leader (leadership handed from the leader to another node)");
  app.add_flag("--membership", opts.membership,
               "two spare node slots and the membership kinds: add-node, remove-node, "
               "remove-leader, replace-node");
  app.add_option("--netmap-lib", opts.netmap_lib,
                 "libconflux-netmap.so (default: ../lib/ next to this binary)");
  app.add_option("--powercut-shim", opts.powercut_shim,
                 "libconflux-powercut.so (default: ../lib/ next to this binary)");
  app.add_option("--kinds", opts.kinds, "only these fault kinds (comma-separated)")
      ->delimiter(',');
  app.add_option("--max-faults", opts.max_faults,
                 "at most N faults (default: as many as fit)")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--snapshot-entries", opts.snapshot_entries,
                 "the nodes' --snapshot-entries (default: theirs)")
      ->check(CLI::Range(1, 100'000'000));
  std::vector<std::int64_t> fault_ms;
  app.add_option("--fault-ms", fault_ms,
                 "MIN,MAX length of one fault in ms (default 2000,5000)")
      ->delimiter(',')
      ->expected(2);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_usage;
  }
  namespace fs = std::filesystem;
  if (!recheck_dir.empty())
    return recheck(recheck_dir);
  if (duration->count() == 0 || seed->count() == 0 || out->count() == 0) {
    std::cerr
        << "conflux-chaos: --duration, --seed and --out are required (or --recheck "
           "DIR); see --help\n";
    return exit_usage;
  }
  if (opts.node_binary.empty())
    opts.node_binary = self_dir() + "/conflux-node";
  for (const auto& k : opts.kinds) {
    auto kind = parse_fault_kind(k);
    if (!kind) {
      std::cerr << "conflux-chaos: unknown or unsupported fault kind '" << k
                << "' in --kinds; the kinds are listed in docs/chaos.md\n";
      return exit_usage;
    }
    if (is_membership(*kind) && !opts.membership) {
      std::cerr << "conflux-chaos: --kinds " << k << " needs --membership\n";
      return exit_usage;
    }
    if (*kind == fault_kind::transfer_leader && !opts.transfers) {
      std::cerr << "conflux-chaos: --kinds " << k << " needs --transfers\n";
      return exit_usage;
    }
    if (*kind == fault_kind::clock_jump_leader && !opts.clock_jumps) {
      std::cerr << "conflux-chaos: --kinds " << k << " needs --clock-jumps\n";
      return exit_usage;
    }
    if (is_power_cut(*kind) && !opts.power_cuts) {
      std::cerr << "conflux-chaos: --kinds " << k << " needs --power-cuts\n";
      return exit_usage;
    }
  }
  if (!fault_ms.empty()) {
    if (fault_ms[0] < 100 || fault_ms[0] > fault_ms[1]) {
      std::cerr << "conflux-chaos: --fault-ms MIN,MAX needs 100 <= MIN <= MAX\n";
      return exit_usage;
    }
    opts.min_fault_ms = fault_ms[0];
    opts.max_fault_ms = fault_ms[1];
  }
  {
    if (opts.netmap_lib.empty())
      opts.netmap_lib = self_dir() + "/../lib/libconflux-netmap.so";
    std::error_code nec;
    auto lib = fs::canonical(opts.netmap_lib, nec);
    if (nec) {
      std::cerr
          << "conflux-chaos: no libconflux-netmap.so at " << opts.netmap_lib
          << "; build it (scripts/dev build conflux_netmap) or pass --netmap-lib\n";
      return exit_usage;
    }
    opts.netmap_lib = lib.string();
  }
  if (opts.power_cuts) {
    if (opts.powercut_shim.empty())
      opts.powercut_shim = self_dir() + "/../lib/libconflux-powercut.so";
    std::error_code pec;
    auto shim = fs::canonical(opts.powercut_shim, pec);
    if (pec) {
      std::cerr << "conflux-chaos: no power-cut shim at " << opts.powercut_shim
                << "; build it (scripts/dev build conflux_powercut_shim) or pass "
                   "--powercut-shim\n";
      return exit_usage;
    }
    opts.powercut_shim = shim.string();
  }
  if (::access(opts.node_binary.c_str(), X_OK) != 0) {
    std::cerr << "conflux-chaos: no executable conflux-node at " << opts.node_binary
              << "; build it (scripts/dev build conflux-node) or pass --node-binary\n";
    return exit_usage;
  }
  std::error_code ec;
  if (fs::exists(opts.out, ec) && !fs::is_empty(opts.out, ec)) {
    std::cerr << "conflux-chaos: --out " << opts.out
              << " exists and is not empty; choose a new dir or remove it\n";
    return exit_usage;
  }
  fs::create_directories(opts.out, ec);
  if (ec) {
    std::cerr << "conflux-chaos: cannot create --out " << opts.out << ": "
              << ec.message() << "\n";
    return exit_usage;
  }
  opts.out = fs::absolute(opts.out).string();
  try {
    return run(opts);
  } catch (const std::exception& e) {
    std::cerr << "conflux-chaos: harness failure: " << e.what() << "\n";
    return exit_harness;
  }
}
