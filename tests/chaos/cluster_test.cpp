// Real conflux-node processes behind the fault proxy (label `chaos`):
// partitions made by the proxy really separate the nodes (CAF cannot route a
// cut pair's messages over the other pair connection), and a short chaos run
// with every fault kind ends with a clean verdict.
#include "actors/client.hpp"
#include "apps/chaos/cluster.hpp"
#include "apps/chaos/process.hpp"
#include "apps/chaos/schedule.hpp"
#include "protocol/auth.hpp"
#include "tests/protocol/auth_fixture.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace conflux;
using namespace conflux::chaos;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// A temp dir removed at the end unless CONFLUX_KEEP_TEST_DIRS is set.
struct temp_dir {
  std::string path;
  bool keep = false;
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base && *base ? base : "/tmp") + "/conflux-chaos-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    if (keep || std::getenv("CONFLUX_KEEP_TEST_DIRS"))
      std::cerr << "kept " << path << "\n";
    else
      std::filesystem::remove_all(path);
  }
};

cluster_options options(const temp_dir& dir) {
  cluster_options o;
  o.nodes = 3;
  o.dir = dir.path;
  o.node_binary = CONFLUX_NODE_BIN;
  o.netmap_lib = CONFLUX_NETMAP_LIB;
  // The first leader makes the test admin; the cluster's status clients and
  // the test's writers present its token.
  o.token = test_auth::admin_token;
  o.bootstrap_token_hash = auth::token_hash(o.token);
  return o;
}

// Writes one new config through the majority; returns its revision.
std::uint64_t write_one(chaos_cluster& cl, const std::string& key) {
  actors::client_options co;
  co.endpoints = cl.endpoints();
  co.timeout = 15s;
  co.token = test_auth::admin_token;
  actors::client c(cl.runtime(), co);
  auto r =
      c.write(create_config{key, content_format::text, std::nullopt, "x", "", "test"});
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : to_string(r.err())));
  REQUIRE(r->ok());
  return r->revision;
}

std::uint64_t applied_of(chaos_cluster& cl, node_id id) {
  auto s = cl.status(id);
  REQUIRE_MESSAGE(s.ok(), "node " << id << " did not answer status");
  return s->applied;
}

// Waits until node `id` has applied `revision`; false after `limit`.
bool wait_applied(chaos_cluster& cl, node_id id, std::uint64_t revision, ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int i = 0; i < 1000 && clock_type::now() < deadline; ++i) {
    auto s = cl.status(id);
    if (s.ok() && s->applied >= revision)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// j[k] as a count, 0 when absent.
std::int64_t count_of(const nlohmann::json& j, const std::string& k) {
  if (!j.is_object() || !j.contains(k))
    return 0;
  return j.at(k).get<std::int64_t>();
}

// Runs conflux-chaos with `args`, waits at most `limit` (then SIGKILL).
// True if it exited by itself; `st` is its wait status.
bool run_chaos(const std::vector<std::string>& args, ms limit, int& st) {
  std::vector<std::string> all{CONFLUX_CHAOS_BIN};
  all.insert(all.end(), args.begin(), args.end());
  // Inherits this test's stdout and stderr, so the verdict lands in the log.
  auto pid =
      process::spawn(process::argv_block{std::move(all)}, process::stdio_fds{0, 1, 2},
                     "chaos test: execv of conflux-chaos failed\n");
  if (auto done = process::wait_bounded(pid, limit)) {
    st = *done;
    return true;
  }
  ::kill(pid, SIGKILL);
  st = process::wait_bounded(pid, 10s).value_or(0);
  return false;
}

/// A chaos cluster in its own temp dir, started and with a leader, or the
/// test fails saying why.
struct started_chaos_cluster {
  temp_dir dir;
  // The cluster's certificates and a client runtime that trusts their CA.
  actors::client_runtime rt{
      actors::tls_in_dir(chaos_cluster::make_pki(dir.path, 3), "client")};
  chaos_cluster cl{rt, options(dir)};
  node_id leader = 0;
  started_chaos_cluster() {
    std::string why;
    REQUIRE_MESSAGE(cl.start(30s, why), "the chaos cluster did not start: " << why);
    auto l = cl.wait_for_leader(10s);
    REQUIRE_MESSAGE(l.has_value(), "the chaos cluster started but has no leader");
    leader = *l;
  }
};

node_id other_than(const chaos_cluster& cl, std::initializer_list<node_id> not_these) {
  for (auto id : cl.ids())
    if (std::find(not_these.begin(), not_these.end(), id) == not_these.end())
      return id;
  return 0;
}

} // namespace

TEST_CASE("chaos cluster: a follower cut from both peers gets nothing until healed") {
  started_chaos_cluster started;
  auto& cl = started.cl;
  const node_id leader = started.leader;
  auto f = other_than(cl, {leader});
  auto base = write_one(cl, "t/a/e/before");
  REQUIRE(wait_applied(cl, f, base, 10s));

  for (auto other : cl.ids())
    if (other != f)
      cl.proxy().cut(f, other);
  auto rev = write_one(cl, "t/a/e/during"); // the other two are a majority
  // For 3 s (several heartbeats and election timeouts) nothing reaches f.
  for (int i = 0; i < 15; ++i) {
    CHECK(applied_of(cl, f) < rev);
    std::this_thread::sleep_for(200ms);
  }
  auto s = cl.status(f);
  REQUIRE(s.ok());
  CHECK(s->role != "leader");

  std::string why;
  REQUIRE_MESSAGE(cl.heal_all(20s, why), why);
  CHECK(wait_applied(cl, f, rev, 20s));
  cl.stop_all(10s);
}

TEST_CASE(
    "chaos cluster: a leader whose outgoing bytes are blocked one way is replaced") {
  started_chaos_cluster started;
  auto& cl = started.cl;
  const node_id old_leader = started.leader;
  auto old_term = cl.status(old_leader)->term;
  // The leader still hears everyone but nobody hears it, over either of the
  // two connections of each pair: the others must elect a new leader.
  for (auto other : cl.ids())
    if (other != old_leader)
      cl.proxy().block(old_leader, other);
  bool replaced = false;
  auto deadline = clock_type::now() + 20s;
  for (int i = 0; i < 200 && clock_type::now() < deadline && !replaced; ++i) {
    for (auto id : cl.ids()) {
      if (id == old_leader)
        continue;
      auto s = cl.status(id);
      if (s.ok() && s->role == "leader" && s->term > old_term)
        replaced = true;
    }
    std::this_thread::sleep_for(100ms);
  }
  CHECK(replaced);
  std::string why;
  REQUIRE_MESSAGE(cl.heal_all(20s, why), why);
  auto rev = write_one(cl, "t/a/e/after");
  for (auto id : cl.ids())
    CHECK(wait_applied(cl, id, rev, 20s));
  cl.stop_all(10s);
}

TEST_CASE("chaos cluster: kill -9 and restart keep the data, pause and resume") {
  started_chaos_cluster started;
  auto& cl = started.cl;
  const node_id leader = started.leader;
  auto rev = write_one(cl, "t/a/e/kept");
  for (auto id : cl.ids())
    REQUIRE(wait_applied(cl, id, rev, 10s));
  cl.kill9(leader);
  CHECK(cl.state(leader) == chaos_cluster::node_state::killed);
  CHECK_FALSE(cl.status(leader).ok());
  auto f = other_than(cl, {leader});
  cl.pause(f);
  CHECK(cl.state(f) == chaos_cluster::node_state::paused);
  cl.resume(f);
  REQUIRE(cl.restart(leader, 20s));
  CHECK(applied_of(cl, leader) >= rev); // recovered from its own disk
  CHECK(cl.unexpected_exits().empty());
  cl.stop_all(10s);
}

TEST_CASE("chaos run: a one-minute schedule with every fault kind passes the checker") {
  temp_dir dir;
  auto out = dir.path + "/run";
  int st = 0;
  // A short watch history (1000 changes, about 15 s of this load) makes the
  // nodes answer the watcher opened halfway from revision 1 with a resync.
  bool exited =
      run_chaos({"--duration", "60", "--seed", "11", "--out", out, "--node-binary",
                 CONFLUX_NODE_BIN, "--watch-history", "1000"},
                150s, st);
  if (!exited || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    dir.keep = true;
  REQUIRE(exited);
  std::ifstream vin(out + "/verdict.json");
  REQUIRE_MESSAGE(vin.good(), "no verdict.json in " << out);
  auto v = nlohmann::json::parse(vin);
  INFO("verdict: " << v.dump(2));
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(v["ok"] == true);
  CHECK(v["violations"].empty());
  for (auto k : default_fault_kinds())
    CHECK_MESSAGE(count_of(v["faults"], to_string(k)) >= 1,
                  "fault kind " << to_string(k));
  for (auto f : {"add-version", "read-versions", "write", "read"})
    CHECK_MESSAGE(count_of(v["ops"][f], "ok") >= 10, "op " << f);
  CHECK(v["proxy"]["bytes"].get<std::uint64_t>() > 0);
  // One watcher per node and one opened halfway, each over every chaos key:
  // each received changes and caught up with the final revision, the late
  // one after a resync (the checker verified the streams).
  REQUIRE(v.contains("watch"));
  CHECK(v["watch"]["watchers"] == 4);
  CHECK(count_of(v["watch"]["events"], "change") >= 100);
  CHECK(count_of(v["watch"]["per_watcher"]["3"], "resync") >= 1);
  for (auto& [id, w] : v["watch"]["per_watcher"].items()) {
    INFO("watcher " << id);
    CHECK(count_of(w, "change") >= 30);
    CHECK(w["target"].get<std::int64_t>() > 0);
    CHECK(w["last_revision"] == w["target"]);
  }
  CHECK(std::filesystem::exists(out + "/history.jsonl"));
  CHECK(std::filesystem::exists(out + "/faults.jsonl"));

  // The verdict is wired to the checker: the same history against a final
  // list that lacks version 1 of a key (acknowledged at setup) is refused.
  auto doctored = dir.path + "/doctored";
  std::filesystem::create_directories(doctored);
  std::filesystem::copy_file(out + "/history.jsonl", doctored + "/history.jsonl");
  std::ifstream fin(out + "/final.json");
  auto finals = nlohmann::json::parse(fin);
  REQUIRE(finals.contains("chaos/g0/test/k0"));
  REQUIRE_FALSE(finals["chaos/g0/test/k0"].empty());
  CHECK(finals["chaos/g0/test/k0"][0][0] == 1);
  finals["chaos/g0/test/k0"].erase(0);
  std::ofstream(doctored + "/final.json") << finals.dump();
  int rst = 0;
  REQUIRE(run_chaos({"--recheck", doctored}, 60s, rst));
  CHECK(WIFEXITED(rst));
  CHECK(WEXITSTATUS(rst) == 1);
  int ost = 0;
  REQUIRE(run_chaos({"--recheck", out}, 60s, ost));
  CHECK(WEXITSTATUS(ost) == 0);

  // And to the watch rules: the same history without one change a watcher
  // received (in the middle of its stream) is refused.
  auto gap = dir.path + "/gap";
  std::filesystem::create_directories(gap);
  {
    std::ifstream hin(out + "/history.jsonl");
    std::vector<std::string> lines;
    // Watcher 0's changes that are followed by another change (not by a
    // resync, which would stand for the dropped one).
    std::vector<std::size_t> changes;
    std::optional<std::size_t> last_change;
    for (std::string line; std::getline(hin, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["type"] == "watch" && j["watcher"] == 0) {
        if (j["event"] == "resync")
          last_change.reset();
        if (j["event"] == "change") {
          if (last_change)
            changes.push_back(*last_change);
          last_change = lines.size();
        }
      }
      lines.push_back(line);
    }
    REQUIRE(changes.size() >= 3);
    std::ofstream hout(gap + "/history.jsonl");
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (i != changes[changes.size() / 2])
        hout << lines[i] << "\n";
  }
  std::filesystem::copy_file(out + "/final.json", gap + "/final.json");
  int gst = 0;
  REQUIRE(run_chaos({"--recheck", gap}, 60s, gst));
  CHECK(WIFEXITED(gst));
  CHECK(WEXITSTATUS(gst) == 1);

  // A failed run keeps its output (history, faults, node logs) for replay.
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0 && v["ok"] == true))
    dir.keep = true;
}

TEST_CASE(
    "chaos run: power cuts, leader clock jumps, leadership transfers and membership "
    "changes pass the checker") {
  temp_dir dir;
  auto out = dir.path + "/run";
  int st = 0;
  bool exited = run_chaos(
      {"--duration", "60", "--seed", "5", "--out", out, "--node-binary",
       CONFLUX_NODE_BIN, "--power-cuts", "--clock-jumps", "--transfers", "--membership",
       "--kinds",
       "power-cut-node,power-cut-majority,power-cut-cluster,clock-jump-leader,"
       "transfer-leader,add-node,remove-node,remove-leader,replace-node",
       "--snapshot-entries", "50", "--fault-ms", "500,1500"},
      200s, st);
  if (!exited || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    dir.keep = true;
  REQUIRE(exited);
  std::ifstream vin(out + "/verdict.json");
  REQUIRE_MESSAGE(vin.good(), "no verdict.json in " << out);
  auto v = nlohmann::json::parse(vin);
  INFO("verdict: " << v.dump(2));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(v["ok"] == true);
  for (auto k : power_cut_fault_kinds())
    CHECK_MESSAGE(count_of(v["faults"], to_string(k)) >= 1,
                  "fault kind " << to_string(k));
  CHECK(count_of(v["faults"], "clock-jump-leader") >= 1);
  CHECK(count_of(v["faults"], "transfer-leader") >= 1);
  for (auto k : membership_fault_kinds())
    CHECK_MESSAGE(count_of(v["faults"], to_string(k)) >= 1,
                  "fault kind " << to_string(k));
  for (auto f : {"add-version", "write"})
    CHECK_MESSAGE(count_of(v["ops"][f], "ok") >= 10, "op " << f);
  // Each cut names what its roll-back took back, node by node.
  std::ifstream fin(out + "/faults.jsonl");
  int cut_nodes = 0;
  for (std::string line; std::getline(fin, line);) {
    auto f = nlohmann::json::parse(line);
    if (f.contains("cuts"))
      cut_nodes += static_cast<int>(f["cuts"].size());
  }
  CHECK(cut_nodes >= 1 + 2 + 3);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0 && v["ok"] == true))
    dir.keep = true;
}

TEST_CASE("chaos run: bad arguments exit 2 and start nothing") {
  temp_dir dir;
  auto fresh = dir.path + "/fresh";
  auto code = [](std::vector<std::string> args) {
    int st = 0;
    REQUIRE(run_chaos(args, 30s, st));
    REQUIRE(WIFEXITED(st));
    return WEXITSTATUS(st);
  };
  CHECK(code({"--seed", "1", "--out", fresh}) == 2); // no --duration
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh, "--nodes", "4"}) == 2);
  CHECK(code({"--duration", "5", "--seed", "1", "--out", fresh}) == 2); // below 10 s
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh, "--kinds",
              "no-such-kind"}) == 2);
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh, "--kinds",
              "clock-jump-leader"}) == 2); // needs --clock-jumps
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh, "--kinds",
              "add-node"}) == 2); // needs --membership
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh, "--kinds",
              "power-cut-node"}) == 2); // needs --power-cuts
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh, "--power-cuts",
              "--powercut-shim", dir.path + "/no-such-shim.so"}) == 2);
  CHECK_FALSE(std::filesystem::exists(fresh));
  // A non-empty --out is refused and left as it was.
  std::filesystem::create_directories(fresh);
  std::ofstream(fresh + "/keep.txt") << "mine";
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh}) == 2);
  CHECK(std::filesystem::exists(fresh + "/keep.txt"));
  CHECK_FALSE(std::filesystem::exists(fresh + "/history.jsonl"));
  CHECK(code({"--recheck", dir.path + "/nothing-here"}) == 2);
  CHECK(code({"--duration", "60", "--seed", "1", "--out", fresh + "2", "--node-binary",
              dir.path + "/no-such-node"}) == 2);
}
