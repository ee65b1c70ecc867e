// Snapshot benchmark: build a state of N configs with V versions of
// B bytes each, then time
//   build    writing the snapshot file from a read txn (write_snapshot_file,
//            fsync and rename included),
//   verify   reading the whole file and checking it (what a node does when
//            it starts from a snapshot and what a follower does on receipt),
//   install  replacing a fresh node's state with the file in one txn
//            (install_snapshot_file, verification included),
//   restart  a node on that data dir (snapshot file + empty log + state):
//            start_node until it returns, and until the single-node cluster
//            has a leader that reports the whole state applied.
// Prints one JSON line. Figures and the command: docs/benchmarks.md.
//
// Usage: conflux-snapshot-bench [--configs N] [--versions V] [--size B]
//        [--prepare-pair DIR]
// CONFLUX_BENCH_DIR picks the disk (default: the system temp dir).
// --prepare-pair DIR skips the timings and leaves DIR/node1 holding that state
// and its snapshot for a 2-node cluster {1, 2} (cluster id "bench"), so that
// starting node 1 there and node 2 on an empty dir measures a snapshot
// transfer between processes (docs/benchmarks.md has the commands).

#include "actors/interfaces.hpp"
#include "actors/node.hpp"
#include "actors/remoting.hpp"
#include "bench/bench_dir.hpp"
#include "protocol/raft/membership.hpp"
#include "storage/log_store.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/state_store.hpp"

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

namespace {

using namespace conflux;
using clk = std::chrono::steady_clock;

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

[[noreturn]] void die(const std::string& what, const error& e) {
  std::fprintf(stderr, "snapshot bench: %s: %s\n", what.c_str(), to_string(e).c_str());
  std::exit(1);
}

storage::state_store_options state_opts() {
  storage::state_store_options o;
  o.identity.cluster_id = "bench";
  o.identity.node_id = 1;
  return o;
}

// N configs with V versions of B bytes each, applied "at" index N * (V + 1).
std::uint64_t fill(storage::state_store& s, std::uint64_t configs, std::uint64_t versions,
                   std::size_t size) {
  const std::uint64_t per_txn = 5000;
  std::uint64_t rev = 0;
  for (std::uint64_t c0 = 1; c0 <= configs; c0 += per_txn) {
    auto w = s.begin_write();
    if (!w)
      die("begin_write", w.err());
    for (auto c = c0; c < c0 + per_txn && c <= configs; ++c) {
      config cfg;
      cfg.id = c;
      cfg.key = "bench/app-" + std::to_string(c % 100) + "/prod/config-" +
                std::to_string(c) + ".json";
      cfg.format = content_format::text;
      cfg.latest_version = versions;
      cfg.releases.push_back(release_rule{{}, versions, 0});
      cfg.create_revision = ++rev;
      for (std::uint64_t v = 1; v <= versions; ++v) {
        version ver;
        ver.config = c;
        ver.id = v;
        ver.content = std::string(size, static_cast<char>('a' + (c + v) % 26));
        ver.content_hash = std::string(64, '0');
        ver.format = content_format::text;
        ver.revision = ++rev;
        if (auto st = w->put_version(ver); !st.ok())
          die("put_version", st.err());
      }
      cfg.mod_revision = rev;
      if (auto st = w->put_config(cfg); !st.ok())
        die("put_config", st.err());
      if (auto st = w->put_key(cfg.key, c); !st.ok())
        die("put_key", st.err());
    }
    if (auto st = w->set_counter(counter::last_config_id, std::min(c0 + per_txn - 1, configs));
        !st.ok())
      die("set_counter", st.err());
    if (auto st = w->set_last_applied(rev); !st.ok())
      die("set_last_applied", st.err());
    if (auto st = w->commit(); !st.ok())
      die("commit", st.err());
  }
  return rev;
}

} // namespace

int main(int argc, char** argv) {
  std::uint64_t configs = 100000, versions = 3;
  std::size_t size = 1024;
  CLI::App app{"conflux-snapshot-bench: snapshot build, install and restart times"};
  app.add_option("--configs", configs, "configs (default 100000)");
  app.add_option("--versions", versions, "versions per config (default 3)");
  app.add_option("--size", size, "bytes per version (default 1024)");
  std::string pair_dir;
  app.add_option("--prepare-pair", pair_dir,
                 "leave DIR/node1 ready for a 2-node transfer run instead of timing");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  bench::bench_dir tmp;
  if (tmp.path().empty()) {
    std::fprintf(stderr, "snapshot bench: cannot create a temp dir\n");
    return 1;
  }
  auto src_dir = tmp.path() + "/src";
  auto node_dir = pair_dir.empty() ? tmp.path() + "/node" : pair_dir + "/node1";
  std::filesystem::create_directories(node_dir + "/" + storage::snapshot_subdir);

  // 1. The source state.
  auto t0 = clk::now();
  std::uint64_t index = 0;
  {
    auto src = storage::state_store::open(src_dir + "/state", state_opts());
    if (!src)
      die("open source", src.err());
    index = fill(*src, configs, versions, size);
  }
  double fill_s = seconds_since(t0);

  // 2. Build: the snapshot file from a read txn, fsynced and renamed.
  raft::membership m;
  m.voters = {1};
  if (!pair_dir.empty())
    m.voters = {1, 2};
  storage::snapshot_header h{index, 1, raft::encode_membership(m)};
  auto final_path = node_dir + "/" + storage::snapshot_subdir + "/" +
                    storage::snapshot_file_name(index, 1);
  storage::snapshot_info info;
  double build_s = 0;
  {
    auto src = storage::state_store::open(src_dir + "/state", state_opts());
    if (!src)
      die("open source", src.err());
    auto view = src->begin_read();
    if (!view)
      die("begin_read", view.err());
    t0 = clk::now();
    auto w = storage::write_snapshot_file(final_path + ".tmp", h, *view);
    if (!w)
      die("write_snapshot_file", w.err());
    if (auto st = storage::durable_rename(final_path + ".tmp", final_path); !st.ok())
      die("rename", st.err());
    build_s = seconds_since(t0);
    info = *w;
  }
  std::filesystem::remove_all(src_dir);

  // 3. Verify (the cost a node pays before trusting a file).
  t0 = clk::now();
  if (auto v = storage::verify_snapshot_file(final_path); !v)
    die("verify", v.err());
  double verify_s = seconds_since(t0);

  // 4. Install into the node's fresh state (one txn, verified while read).
  double install_s = 0;
  {
    auto dst = storage::state_store::open(node_dir + "/state", state_opts());
    if (!dst)
      die("open node state", dst.err());
    t0 = clk::now();
    auto r = storage::install_snapshot_file(final_path, *dst);
    if (!r)
      die("install", r.err());
    install_s = seconds_since(t0);
  }
  if (!pair_dir.empty()) {
    std::printf("{\"prepared\":\"%s\",\"index\":%llu,\"snapshot_bytes\":%llu}\n",
                node_dir.c_str(), static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(info.bytes));
    return 0;
  }

  // 5. Restart: a node on snapshot + empty log + installed state.
  double open_s = 0, ready_s = 0;
  {
    caf::actor_system_config cfg;
    actors::transport_settings in_process; // no connection is made
    in_process.insecure_plaintext = true;
    actors::configure_remoting(cfg, in_process);
    caf::actor_system sys{cfg};
    actors::node_options opts;
    opts.id = 1;
    opts.cluster_id = "bench";
    opts.listen = "127.0.0.1:7199";
    opts.data_dir = node_dir;
    opts.peers[1] = opts.listen;
    t0 = clk::now();
    auto node = actors::start_node(sys, opts);
    if (!node)
      die("start_node", node.err());
    open_s = seconds_since(t0);
    caf::scoped_actor self{sys};
    bool ready = false;
    for (int round = 0; round < 2000 && !ready; ++round) {
      self->request(node->ctx->raft.get(), std::chrono::seconds(1), actors::status_atom::value)
        .receive(
          [&](rpc::status_reply& s) { ready = s.role == "leader" && s.applied >= index; },
          [&](caf::error&) {});
      if (!ready)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ready_s = seconds_since(t0);
    if (!ready) {
      std::fprintf(stderr, "snapshot bench: the restarted node never became ready\n");
      return 1;
    }
    node->ctx->stopping.store(true);
    caf::anon_send_exit(node->supervisor, caf::exit_reason::user_shutdown);
    self->wait_for(node->supervisor);
    *node = actors::node_handles{};
  }

  std::printf("{\"configs\":%llu,\"versions\":%llu,\"version_bytes\":%zu,"
              "\"records\":%llu,\"snapshot_bytes\":%llu,\"fill_s\":%.2f,"
              "\"build_s\":%.3f,\"verify_s\":%.3f,\"install_s\":%.3f,"
              "\"restart_open_s\":%.3f,\"restart_ready_s\":%.3f}\n",
              static_cast<unsigned long long>(configs),
              static_cast<unsigned long long>(versions), size,
              static_cast<unsigned long long>(info.records),
              static_cast<unsigned long long>(info.bytes), fill_s, build_s, verify_s,
              install_s, open_s, ready_s);
  return 0;
}
