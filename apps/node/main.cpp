// conflux-node: starts one Conflux node (DESIGN §5).
//
//   conflux-node [--config FILE] [--id N] [--listen HOST:PORT] [--data DIR]
//                [--peers 1=HOST:PORT,2=HOST:PORT,...] [--cluster-id NAME]
//                [--log-level LEVEL] [--watch-history N] [--watch-backlog N] [--join]
//
// --join starts a node with no configuration that waits until a leader adds
// it (`conflux cluster add ID HOST:PORT`); --peers is then optional.
//
// With no arguments: a single-node cluster on 127.0.0.1:7101 with data in
// ./conflux-data. Settings come from the embedded defaults, then the config
// file (TOML), then the flags. SIGINT/SIGTERM stop the node cleanly (exit 0);
// bad flags or a refused data dir exit 2; a storage failure while running
// exits 1; each with one clear line on stderr.
#include "actors/endpoint.hpp"
#include "actors/node.hpp"
#include "actors/remoting.hpp"

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <toml.hpp>

#include <optional>

#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <execinfo.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

namespace {

using conflux::actors::node_options;

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "conflux-node: " << msg << "\n";
  std::exit(2);
}

/// "1=127.0.0.1:7101,2=127.0.0.1:7102" -> map; exits 2 on malformed input.
std::map<std::uint64_t, std::string> parse_peers(const std::string& s) {
  std::map<std::uint64_t, std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto comma = s.find(',', start);
    auto item = s.substr(start, comma == std::string::npos ? std::string::npos
                                                           : comma - start);
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      usage_error("--peers item '" + item + "' is not ID=HOST:PORT");
    std::uint64_t id = 0;
    try {
      std::size_t used = 0;
      id = std::stoull(item.substr(0, eq), &used);
      if (used != eq)
        throw std::invalid_argument("id");
    } catch (const std::exception&) {
      usage_error("--peers item '" + item + "' has a non-numeric id");
    }
    if (!conflux::actors::parse_endpoint(item.substr(eq + 1)))
      usage_error("--peers item '" + item + "' has an address that is not HOST:PORT");
    if (!out.emplace(id, item.substr(eq + 1)).second)
      usage_error("--peers lists node " + std::to_string(id) + " twice");
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

void load_config_file(const std::string& path, node_options& opts, std::string& level,
                      bool& listen_given) {
  try {
    auto t = toml::parse(path);
    if (t.contains("id"))
      opts.id = toml::find<std::uint64_t>(t, "id");
    if (t.contains("cluster_id"))
      opts.cluster_id = toml::find<std::string>(t, "cluster_id");
    if (t.contains("listen")) {
      opts.listen = toml::find<std::string>(t, "listen");
      listen_given = true;
    }
    if (t.contains("data"))
      opts.data_dir = toml::find<std::string>(t, "data");
    if (t.contains("log_level"))
      level = toml::find<std::string>(t, "log_level");
    if (t.contains("tick_ms"))
      opts.tick = std::chrono::milliseconds(toml::find<std::int64_t>(t, "tick_ms"));
    if (t.contains("watch_history"))
      opts.watch_history = toml::find<std::size_t>(t, "watch_history");
    if (t.contains("watch_backlog"))
      opts.watch_backlog = toml::find<std::size_t>(t, "watch_backlog");
    if (t.contains("election_ticks"))
      opts.election_ticks = toml::find<int>(t, "election_ticks");
    if (t.contains("snapshot_entries"))
      opts.snapshot_entries = toml::find<std::uint64_t>(t, "snapshot_entries");
    if (t.contains("snapshot_bytes"))
      opts.snapshot_bytes = toml::find<std::uint64_t>(t, "snapshot_bytes");
    if (t.contains("join"))
      opts.join = toml::find<bool>(t, "join");
    if (t.contains("peers")) {
      for (auto& [k, v] : toml::find<toml::table>(t, "peers")) {
        std::uint64_t id = 0;
        try {
          std::size_t used = 0;
          id = std::stoull(k, &used);
          if (used != k.size())
            throw std::invalid_argument("id");
        } catch (const std::exception&) {
          usage_error(path + ": [peers] key '" + k + "' is not a node id");
        }
        opts.peers[id] = toml::get<std::string>(v);
      }
    }
  } catch (const std::exception& e) {
    usage_error("cannot read config file " + path + ": " + e.what());
  }
}

/// std::terminate (an uncaught exception, a pure virtual call) would abort
/// with one line from the runtime and nothing else; print the stack first so
/// that the node log says where (`addr2line -e conflux-node -f -C OFFSET`).
[[noreturn]] void terminate_with_backtrace() {
  static const char head[] = "conflux-node: terminating; stack:\n";
  auto unused = ::write(2, head, sizeof head - 1);
  (void) unused;
  void* frames[64];
  int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, 2);
  std::abort();
}

} // namespace

int main(int argc, char** argv) {
  std::set_terminate(terminate_with_backtrace);
  // Block the stop signals before any CAF thread exists, so all inherit the
  // mask and main collects them with sigtimedwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  node_options opts;
  std::string config_file, listen, data, peers, cluster_id, level = "info";
  std::uint64_t id = 0;
  std::optional<std::uint64_t> snapshot_entries, snapshot_bytes;
  CLI::App app{"conflux-node: one node of a Conflux configuration cluster"};
  app.add_option("--config", config_file, "TOML config file (see config/)");
  app.add_option("--id", id, "this node's Raft id (default 1)");
  app.add_option("--listen", listen, "HOST:PORT to listen on (default 127.0.0.1:7101)");
  app.add_option("--data", data, "data directory (default ./conflux-data)");
  app.add_option("--peers", peers,
                 "every initial member, this one included: 1=HOST:PORT,2=HOST:PORT,...");
  app.add_option("--cluster-id", cluster_id, "cluster name stored in the data dir "
                                              "(default conflux)");
  app.add_option("--log-level", level, "trace|debug|info|warn|error (default info)");
  std::int64_t watch_history = -1, watch_backlog = -1;
  app.add_option("--watch-history", watch_history,
                 "changes the watch hub keeps for resume (default 10000)");
  app.add_option("--watch-backlog", watch_backlog,
                 "unacknowledged events after which a slow watcher is cut off "
                 "(default 10000)");
  app.add_option("--snapshot-entries", snapshot_entries,
                 "take a snapshot and compact the log every N applied entries "
                 "(default 10000, 0 = never by count)");
  app.add_option("--snapshot-bytes", snapshot_bytes,
                 "... or once the log holds B bytes after the last snapshot "
                 "(default 67108864, 0 = never by size)");
  bool join = false;
  app.add_flag("--join", join,
               "start empty and wait to be added to a running cluster by `conflux cluster "
               "add ID HOST:PORT` (--peers optional)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  bool listen_given = !listen.empty();
  if (!config_file.empty())
    load_config_file(config_file, opts, level, listen_given);
  if (id != 0)
    opts.id = id;
  if (!listen.empty())
    opts.listen = listen;
  if (!data.empty())
    opts.data_dir = data;
  if (!cluster_id.empty())
    opts.cluster_id = cluster_id;
  if (snapshot_entries)
    opts.snapshot_entries = *snapshot_entries;
  if (snapshot_bytes)
    opts.snapshot_bytes = *snapshot_bytes;
  if (join)
    opts.join = true;
  if (!peers.empty())
    opts.peers = parse_peers(peers);
  if (watch_history == 0 || watch_history < -1)
    usage_error("--watch-history must be a positive integer");
  if (watch_backlog == 0 || watch_backlog < -1)
    usage_error("--watch-backlog must be a positive integer");
  if (watch_history > 0)
    opts.watch_history = static_cast<std::size_t>(watch_history);
  if (watch_backlog > 0)
    opts.watch_backlog = static_cast<std::size_t>(watch_backlog);
  if (opts.peers.empty() && !opts.join)
    opts.peers[opts.id] = opts.listen;
  else if (!listen_given && opts.peers.count(opts.id))
    // --listen defaults to this node's own --peers entry.
    opts.listen = opts.peers[opts.id];

  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    usage_error("--log-level '" + level + "' is not one of trace|debug|info|warn|error");
  auto logger = spdlog::stderr_color_mt("conflux");
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [node " + std::to_string(opts.id) +
                      "] %v");
  if (auto s = conflux::actors::check_node_options(opts); !s.ok())
    usage_error(s.err().message);
  auto ep = *conflux::actors::parse_endpoint(opts.listen);

  caf::actor_system_config cfg;
  conflux::actors::configure_remoting(cfg);
  auto sys = std::make_unique<caf::actor_system>(cfg);
  conflux::actors::log_remoting_settings(sys->config(), "conflux-node");

  // Stops the node's actors and the actor system. A watchdog bounds it: a node
  // that cannot stop within 10 s (an actor or a connection stuck) exits hard,
  // which is as safe as a crash (nothing unacknowledged is promised).
  auto stop = [&](conflux::actors::node_handles* h, int code) -> int {
    std::mutex mtx;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lock{mtx};
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; })) {
        std::fprintf(stderr, "conflux-node: did not stop within 10 s; exiting now\n");
        std::_Exit(code == 0 ? 1 : code);
      }
    });
    if (h) {
      h->ctx->stopping.store(true);
      caf::anon_send_exit(h->supervisor, caf::exit_reason::user_shutdown);
      {
        caf::scoped_actor self{*sys};
        self->wait_for(h->supervisor);
      }
      // Handles must not outlive the actor system.
      *h = conflux::actors::node_handles{};
    }
    sys.reset();
    {
      std::lock_guard<std::mutex> guard{mtx};
      done = true;
    }
    cv.notify_one();
    watchdog.join();
    return code;
  };

  auto node = conflux::actors::start_node(*sys, opts);
  if (!node.ok()) {
    std::cerr << "conflux-node: " << node.err().message << "\n";
    return stop(nullptr, 2);
  }
  auto port = sys->middleman().publish(node->endpoint, ep.port, ep.host.c_str(), true);
  if (!port) {
    std::cerr << "conflux-node: cannot listen on " << opts.listen << ": "
              << sys->render(port.error()) << " (is another process using the port?)\n";
    return stop(&*node, 2);
  }
  if (opts.join)
    spdlog::info("node {} of cluster '{}' listening on {}, waiting to be added "
                 "(conflux cluster add {} {})",
                 opts.id, opts.cluster_id, opts.listen, opts.id, opts.listen);
  else
    spdlog::info("node {} of cluster '{}' listening on {} with {} member(s)", opts.id,
                 opts.cluster_id, opts.listen, opts.peers.size());

  int exit_code = 0;
  for (;;) {
    timespec wait{0, 100'000'000};
    int sig = sigtimedwait(&stop_signals, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("node {} got {}, shutting down", opts.id, strsignal(sig));
      break;
    }
    // -1 is a timeout or EINTR (SIGSTOP/SIGCONT interrupt the wait): go on.
    if (node->ctx->failure.failed()) {
      std::cerr << "conflux-node: stopping: " << node->ctx->failure.message() << "\n";
      exit_code = 1;
      break;
    }
  }
  sys->middleman().unpublish(node->endpoint, *port);
  auto code = stop(&*node, exit_code);
  spdlog::info("node {} stopped", opts.id);
  return code;
}
