#include "tests/integration/cluster.hpp"

#include "actors/tls_certs.hpp"
#include "apps/chaos/process.hpp"
#include "protocol/auth.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <doctest/doctest.h>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <openssl/rand.h>
#include <poll.h>
#include <set>
#include <signal.h>
#include <sstream>
#include <stdexcept>
#include <stdlib.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

#ifndef CONFLUX_NODE_BIN
#error "CONFLUX_NODE_BIN must be defined (path of the conflux-node binary)"
#endif
#ifndef CONFLUX_CLI_BIN
#define CONFLUX_CLI_BIN ""
#endif

namespace conflux::itest {

namespace {

namespace fs = std::filesystem;
using process::describe_wait_status;
using process::errno_text;
using process::wait_bounded;

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = (base && *base) ? base : "/tmp";
  tmpl += "/conflux-itest-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed for " + tmpl + ": " + errno_text(errno));
  return tmpl;
}

bool keep_dirs_requested() {
  const char* v = std::getenv("CONFLUX_KEEP_TEST_DIRS");
  return v != nullptr && *v != '\0' && std::string{v} != "0";
}

} // namespace

// -- process-wide pieces -----------------------------------------------------

namespace {

/// The test process's certificates: one CA per cluster id, and node and
/// client certificates made on first use, in directories laid out as
/// conflux-cert makes them; all in one temp dir removed at exit.
class test_pki {
public:
  std::string node_dir(const std::string& cluster, std::uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto dir = root() + "/" + cluster + "/node-" + std::to_string(id);
    if (made_.insert(dir).second) {
      auto& ca = ca_for(cluster);
      auto pem =
          check(actors::issue_node_certificate(ca, id, {}, actors::valid_for_days(1)));
      write(dir, "node", pem, ca);
    }
    return dir;
  }

  std::string client_dir(const std::string& cluster, const std::string& name) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto dir =
        root() + "/" + cluster + (name == "itest" ? "/client" : "/client-" + name);
    if (made_.insert(dir).second) {
      auto& ca = ca_for(cluster);
      auto pem =
          check(actors::issue_client_certificate(ca, name, actors::valid_for_days(1)));
      write(dir, "client", pem, ca);
    }
    return dir;
  }

  /// A 0600 file holding `token` (one per distinct token).
  std::string token_file(const std::string& token) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = token_files_.find(token);
    if (i != token_files_.end())
      return i->second;
    auto path = root() + "/token-" + std::to_string(token_files_.size());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 ||
        ::write(fd, token.data(), token.size()) != static_cast<ssize_t>(token.size()))
      throw std::runtime_error("test PKI: cannot write " + path);
    ::close(fd);
    return token_files_.emplace(token, path).first->second;
  }

  ~test_pki() {
    if (!root_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(root_, ec);
    }
  }

private:
  template <class T>
  static T check(actors::cert_result<T> r) {
    if (!r.ok())
      throw std::runtime_error("test PKI: " + actors::to_string(r.err()));
    return std::move(*r);
  }

  const std::string& root() {
    if (root_.empty())
      root_ = make_temp_dir();
    return root_;
  }

  const actors::cluster_ca& ca_for(const std::string& cluster) {
    auto i = cas_.find(cluster);
    if (i == cas_.end()) {
      auto pem = check(actors::make_cluster_ca(cluster, actors::valid_for_days(2)));
      auto ca = check(actors::parse_cluster_ca(pem, "test CA", "test CA key"));
      i = cas_.emplace(cluster, std::move(ca)).first;
    }
    return i->second;
  }

  static void write(const std::string& dir, const std::string& leaf,
                    const actors::pem_pair& pem, const actors::cluster_ca& ca) {
    auto r = actors::write_leaf_dir(dir, leaf, pem, ca, actors::overwrite::refuse);
    if (!r.ok())
      throw std::runtime_error("test PKI: " + actors::to_string(r.err()));
  }

  std::mutex mtx_;
  std::string root_;
  std::map<std::string, actors::cluster_ca> cas_;
  std::set<std::string> made_;
  std::map<std::string, std::string> token_files_;
};

test_pki g_pki;
std::mutex g_runtimes_mtx;
std::map<std::string, std::unique_ptr<actors::client_runtime>> g_runtimes;

} // namespace

std::string node_tls_dir(const std::string& cluster_id, std::uint64_t node_id) {
  return g_pki.node_dir(cluster_id, node_id);
}

std::string client_tls_dir(const std::string& cluster_id) {
  return g_pki.client_dir(cluster_id, "itest");
}

std::string client_tls_dir(const std::string& cluster_id, const std::string& name) {
  return g_pki.client_dir(cluster_id, name);
}

std::string random_token() {
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

const std::string& admin_token() {
  static const std::string token = random_token();
  return token;
}

std::string admin_token_hash() {
  return auth::token_hash(admin_token());
}

std::string admin_token_file() {
  return g_pki.token_file(admin_token());
}

std::string token_file(const std::string& token) {
  return g_pki.token_file(token);
}

actors::client_runtime& runtime(const std::string& cluster_id) {
  std::lock_guard<std::mutex> guard{g_runtimes_mtx};
  auto& rt = g_runtimes[cluster_id];
  if (!rt)
    rt = std::make_unique<actors::client_runtime>(
        actors::tls_in_dir(client_tls_dir(cluster_id), "client"));
  return *rt;
}

actors::client_runtime& client_runtime_of(const cluster_options& o) {
  if (!o.plaintext)
    return runtime(o.cluster_id);
  std::lock_guard<std::mutex> guard{g_runtimes_mtx};
  auto& rt = g_runtimes[" plaintext"]; // no cluster id has a blank
  if (!rt) {
    actors::transport_settings t;
    t.insecure_plaintext = true;
    rt = std::make_unique<actors::client_runtime>(t);
  }
  return *rt;
}

void shutdown_runtime() {
  std::lock_guard<std::mutex> guard{g_runtimes_mtx};
  g_runtimes.clear();
}

const char* node_binary() {
  return CONFLUX_NODE_BIN;
}

const char* cli_binary() {
  return CONFLUX_CLI_BIN;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f{path, std::ios::binary | std::ios::trunc};
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f)
    throw std::runtime_error("cannot write " + path);
}

std::string tail_lines(const std::string& path, std::size_t n) {
  std::ifstream f{path, std::ios::binary};
  if (!f)
    return "";
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(f, line)) {
    lines.push_back(std::move(line));
    if (lines.size() > n)
      lines.pop_front();
  }
  std::string out;
  for (auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

std::string cli_result::describe() const {
  std::ostringstream os;
  os << "exit=" << exit_code << (timed_out ? " (timed out)" : "")
     << "\n--- stdout ---\n"
     << out << "\n--- stderr ---\n"
     << err;
  return os.str();
}

cli_result run_cli(std::vector<std::string> args, ms limit) {
  if (std::string{cli_binary()}.empty()) {
    cli_result res;
    res.err = "CONFLUX_CLI_BIN is not set: the conflux CLI was not built";
    return res;
  }
  bool transport_given = false;
  for (const auto& a : args)
    transport_given =
        transport_given || a == "--tls-dir" || a == "--insecure-plaintext";
  if (!transport_given)
    args.insert(args.end(), {"--tls-dir", client_tls_dir("itest")});
  // The CLI reads its token from CONFLUX_TOKEN_FILE (a child inherits it);
  // a test that runs the CLI as another principal sets it itself.
  if (std::getenv("CONFLUX_TOKEN_FILE") == nullptr)
    ::setenv("CONFLUX_TOKEN_FILE", admin_token_file().c_str(), 1);
  return run_program(cli_binary(), args, limit);
}

cli_result run_program(const std::string& binary, const std::vector<std::string>& args,
                       ms limit) {
  cli_result res;
  std::vector<std::string> full{binary};
  full.insert(full.end(), args.begin(), args.end());
  process::argv_block argv{std::move(full)};
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed: " + errno_text(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("pipe2 failed: " + errno_text(errno));
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = -1;
  try {
    pid = process::spawn(argv, {devnull, out_pipe[1], err_pipe[1]},
                         "itest fixture: execv failed\n");
  } catch (...) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], devnull})
      ::close(fd);
    throw;
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(devnull);

  auto deadline = clock::now() + limit;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&res.out, &res.err};
  bool open[2] = {true, true};
  char buf[65536];
  // Bounded: each round either reads data, sees EOF, or waits at most 100 ms
  // and checks the deadline.
  while ((open[0] || open[1]) && !res.timed_out) {
    auto now = clock::now();
    if (now >= deadline) {
      res.timed_out = true;
      break;
    }
    for (int k = 0; k < 2; ++k)
      fds[k].fd = open[k] ? (k == 0 ? out_pipe[0] : err_pipe[0]) : -1;
    int r = ::poll(fds, 2, 100);
    if (r < 0 && errno != EINTR)
      break;
    for (int k = 0; k < 2; ++k) {
      if (!open[k] || (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
        continue;
      ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n > 0)
        sinks[k]->append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || errno != EINTR)
        open[k] = false;
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (res.timed_out)
    ::kill(pid, SIGKILL);
  auto remaining =
      std::max(ms{1000}, std::chrono::duration_cast<ms>(deadline - clock::now()));
  auto st = wait_bounded(pid, remaining);
  if (!st) {
    res.timed_out = true;
    ::kill(pid, SIGKILL);
    st = wait_bounded(pid, 5s);
  }
  if (st && WIFEXITED(*st) && !res.timed_out)
    res.exit_code = WEXITSTATUS(*st);
  return res;
}

// -- cluster -----------------------------------------------------------------

cluster::cluster(cluster_options opts) : opts_(std::move(opts)) {
  if (opts_.nodes == 0)
    throw std::invalid_argument("a cluster needs at least one node");
  if (const char* lvl = std::getenv("CONFLUX_ITEST_LOG_LEVEL"); lvl && *lvl)
    opts_.log_level = lvl;
  dir_ = make_temp_dir();
  nodes_.resize(opts_.nodes);
  pick_ports();
}

cluster::~cluster() {
  kill_all();
  for (auto& n : nodes_)
    n.status_client.reset();
  const bool failed = current_test_failed() || std::uncaught_exceptions() > 0;
  if (failed) {
    std::cerr << "\n[itest] test failed; node logs of " << dir_ << ":\n";
    dump_logs(std::cerr, 30);
  }
  if (failed || keep_dirs_requested()) {
    std::cerr << "[itest] keeping test dir " << dir_ << "\n";
    return;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::optional<std::size_t> cluster::index_of(std::uint64_t server) const noexcept {
  if (server == 0 || server > nodes_.size())
    return std::nullopt;
  return static_cast<std::size_t>(server - 1);
}

std::string cluster::endpoint(std::size_t i) const {
  return "127.0.0.1:" + std::to_string(nodes_.at(i).port);
}

std::vector<std::string> cluster::endpoints() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    out.push_back(endpoint(i));
  return out;
}

std::string cluster::endpoints_csv() const {
  std::vector<std::size_t> all(nodes_.size());
  for (std::size_t i = 0; i < all.size(); ++i)
    all[i] = i;
  return endpoints_csv(all);
}

std::string cluster::endpoints_csv(const std::vector<std::size_t>& nodes) const {
  std::string out;
  for (auto i : nodes)
    out += (out.empty() ? "" : ",") + endpoint(i);
  return out;
}

std::string cluster::data_dir(std::size_t i) const {
  return dir_ + "/node" + std::to_string(id(i));
}

std::string cluster::log_path(std::size_t i) const {
  return dir_ + "/node" + std::to_string(id(i)) + ".log";
}

std::optional<int> cluster::exit_status(std::size_t i) const {
  return nodes_.at(i).wait_status;
}

cluster::state cluster::node_state(std::size_t i) {
  auto& n = nodes_.at(i);
  if (n.st == state::running || n.st == state::stopped) {
    if (auto st = process::try_reap(n.pid)) {
      n.st = state::exited;
      n.wait_status = st;
      n.status_client.reset();
    }
  }
  return n.st;
}

void cluster::pick_ports() {
  // Distinct within the cluster: every probe is held until all are picked.
  auto ports = process::free_loopback_ports(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    nodes_[i].port = ports[i];
}

std::vector<std::string> cluster::default_node_args(std::size_t i) const {
  std::vector<std::size_t> all(nodes_.size());
  for (std::size_t k = 0; k < all.size(); ++k)
    all[k] = k;
  return node_args_with_peers(i, all);
}

std::vector<std::string>
cluster::node_args_with_peers(std::size_t i,
                              const std::vector<std::size_t>& members) const {
  std::vector<std::string> out{
      "--id",        std::to_string(id(i)), "--listen",     endpoint(i),
      "--data",      data_dir(i),           "--cluster-id", opts_.cluster_id,
      "--log-level", opts_.log_level};
  if (!opts_.plaintext)
    out.insert(out.end(), {"--tls-dir", node_tls_dir(opts_.cluster_id, id(i))});
  if (opts_.bootstrap)
    out.insert(out.end(), {"--bootstrap-token-hash", admin_token_hash()});
  std::string peers;
  for (auto k : members)
    peers += (peers.empty() ? "" : ",") + std::to_string(id(k)) + "=" + endpoint(k);
  if (!peers.empty())
    out.insert(out.end(), {"--peers", peers});
  return out;
}

cluster_options with_flags(std::vector<std::string> flags, cluster_options base) {
  auto inner = std::move(base.node_args);
  base.node_args = [inner, flags](const cluster& c, std::size_t i) {
    auto args = inner ? inner(c, i) : c.default_node_args(i);
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  };
  return base;
}

cluster_options with_joiners(std::size_t nodes, std::size_t initial,
                             std::vector<std::string> flags) {
  cluster_options o;
  o.nodes = nodes;
  o.node_args = [initial](const cluster& c, std::size_t i) {
    if (i >= initial) {
      auto args = c.node_args_with_peers(i, {});
      args.push_back("--join");
      return args;
    }
    std::vector<std::size_t> members(initial);
    for (std::size_t k = 0; k < initial; ++k)
      members[k] = k;
    return c.node_args_with_peers(i, members);
  };
  return flags.empty() ? o : with_flags(std::move(flags), std::move(o));
}

std::vector<std::string> cluster::node_args(std::size_t i) const {
  std::vector<std::string> out{node_binary()};
  auto rest = opts_.node_args ? opts_.node_args(*this, i) : default_node_args(i);
  out.insert(out.end(), std::make_move_iterator(rest.begin()),
             std::make_move_iterator(rest.end()));
  return out;
}

void cluster::spawn(std::size_t i) {
  auto& n = nodes_.at(i);
  if (node_state(i) == state::running || n.st == state::stopped)
    throw std::logic_error("node " + std::to_string(id(i)) + " is already running");
  process::argv_block argv{node_args(i)};
  std::string banner = "=== itest: starting";
  for (auto& a : argv.args)
    banner += " " + a;
  banner += " ===\n";
  pid_t pid =
      process::spawn_logged(argv, log_path(i), banner, "itest fixture: execv failed\n");
  n.pid = pid;
  n.st = state::running;
  n.wait_status.reset();
  n.status_client.reset();
}

actors::client& cluster::status_client(std::size_t i) {
  auto& n = nodes_.at(i);
  if (!n.status_client) {
    actors::client_options o;
    o.endpoints = {endpoint(i)};
    o.timeout = 500ms;
    o.name = "itest-status-" + std::to_string(id(i));
    o.token = admin_token();
    n.status_client =
        std::make_unique<actors::client>(client_runtime_of(opts_), std::move(o));
  }
  return *n.status_client;
}

expected<actors::node_status> cluster::status(std::size_t i) {
  auto st = node_state(i);
  if (st != state::running)
    return error{errc::unavailable,
                 "node " + std::to_string(id(i)) + " is not running"};
  return status_client(i).status_of(endpoint(i));
}

bool cluster::wait_ready(std::size_t i, ms limit) {
  auto deadline = clock::now() + limit;
  const std::int64_t max_rounds = limit / 50ms + 2;
  for (std::int64_t round = 0; round < max_rounds; ++round) {
    if (node_state(i) != state::running)
      return false;
    // A node that refuses the harness's token answered too: a server that
    // waits to --join holds no principal until it is added and catches up.
    if (auto st = status(i); st.ok() || st.code() == errc::unauthenticated)
      return true;
    if (clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool cluster::start() {
  constexpr int attempts = 3;
  auto deadline = clock::now() + opts_.start_timeout;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      kill_all();
      wipe_data();
      pick_ports();
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      spawn(i);
    bool exited = false;
    bool ready = true;
    for (std::size_t i = 0; i < nodes_.size() && ready; ++i) {
      auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
      if (!wait_ready(i, std::max(left, ms{100}))) {
        ready = false;
        exited = node_state(i) == state::exited;
        std::cerr << "[itest] node " << id(i) << " not ready (attempt " << attempt
                  << ", "
                  << (exited ? describe_wait_status(nodes_[i].wait_status)
                             : std::string{"still running"})
                  << ")\n";
      }
    }
    if (ready) {
      auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
      return wait_for_leader(std::max(left, ms{2000})).has_value();
    }
    if (!exited || clock::now() >= deadline)
      break;
  }
  dump_logs(std::cerr, 30);
  return false;
}

void cluster::reap(std::size_t i, ms limit) {
  auto& n = nodes_.at(i);
  if (n.st != state::running && n.st != state::stopped)
    return;
  auto st = wait_bounded(n.pid, limit);
  n.st = state::exited;
  n.wait_status = st;
  n.status_client.reset();
}

void cluster::kill9(std::size_t i) {
  if (node_state(i) == state::running || nodes_[i].st == state::stopped) {
    ::kill(nodes_[i].pid, SIGKILL);
    reap(i, 10s);
  }
}

void cluster::stop(std::size_t i) {
  if (node_state(i) == state::running) {
    ::kill(nodes_[i].pid, SIGSTOP);
    nodes_[i].st = state::stopped;
    // Its connections stay open but will not answer: forget them.
    nodes_[i].status_client.reset();
  }
}

void cluster::cont(std::size_t i) {
  if (node_state(i) == state::stopped) {
    ::kill(nodes_[i].pid, SIGCONT);
    nodes_[i].st = state::running;
  }
}

std::optional<int> cluster::terminate(std::size_t i, ms limit) {
  auto s = node_state(i);
  if (s == state::exited)
    return nodes_[i].wait_status;
  if (s != state::running && s != state::stopped)
    return std::nullopt;
  auto& n = nodes_[i];
  ::kill(n.pid, SIGTERM);
  if (s == state::stopped)
    ::kill(n.pid, SIGCONT);
  auto st = wait_bounded(n.pid, limit);
  if (st) {
    n.st = state::exited;
    n.wait_status = st;
    n.status_client.reset();
    return st;
  }
  std::cerr << "[itest] node " << id(i) << " did not exit within " << limit.count()
            << " ms of SIGTERM; sending SIGKILL\n";
  ::kill(n.pid, SIGKILL);
  reap(i, 10s);
  return std::nullopt;
}

bool cluster::restart(std::size_t i, ms limit) {
  constexpr int attempts = 3;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    spawn(i);
    if (wait_ready(i, limit))
      return true;
    if (node_state(i) != state::exited) {
      std::cerr << "[itest] node " << id(i) << " not ready within " << limit.count()
                << " ms after restart\n";
      break;
    }
    std::cerr << "[itest] node " << id(i) << " exited during restart attempt "
              << attempt << " (" << describe_wait_status(nodes_[i].wait_status)
              << ")\n";
    std::this_thread::sleep_for(500ms);
  }
  dump_logs(std::cerr, 30);
  return false;
}

std::optional<std::size_t> cluster::wait_for_leader(ms limit,
                                                    std::uint64_t above_term) {
  auto deadline = clock::now() + limit;
  const std::int64_t max_rounds = limit / 20ms + 2;
  for (std::int64_t round = 0; round < max_rounds; ++round) {
    std::optional<std::size_t> best;
    std::uint64_t best_term = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      auto st = status(i);
      if (!st.ok() || st->leader_id == 0)
        continue;
      // The node that this node names as leader must say so itself.
      std::optional<actors::node_status> lst;
      if (st->leader_id == id(i)) {
        lst = *st;
      } else if (auto j = index_of(st->leader_id)) {
        if (auto s2 = status(*j); s2.ok())
          lst = *s2;
      }
      if (!lst || lst->role != "leader" || lst->term <= above_term)
        continue;
      auto j = index_of(lst->id);
      if (!j)
        j = index_of(st->leader_id);
      if (j && (!best || lst->term > best_term)) {
        best = j;
        best_term = lst->term;
      }
    }
    if (best)
      return best;
    if (clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(20ms);
  }
  std::cerr << "[itest] no leader (term > " << above_term << ") within "
            << limit.count() << " ms\n";
  dump_logs(std::cerr, 30);
  return std::nullopt;
}

actors::client_options cluster::client_options(ms timeout,
                                               std::optional<std::size_t> first,
                                               std::string name) const {
  actors::client_options o;
  o.endpoints = endpoints();
  if (first && *first < nodes_.size())
    std::rotate(o.endpoints.begin(),
                o.endpoints.begin() + static_cast<std::ptrdiff_t>(*first),
                o.endpoints.end());
  o.timeout = timeout;
  o.name = std::move(name);
  o.token = admin_token();
  return o;
}

std::unique_ptr<actors::client>
cluster::make_client(ms timeout, std::optional<std::size_t> first, std::string name) {
  return std::make_unique<actors::client>(
      client_runtime_of(opts_), client_options(timeout, first, std::move(name)));
}

std::unique_ptr<actors::client> cluster::make_node_client(std::size_t i, ms timeout) {
  return make_nodes_client({i}, timeout, "itest-node-" + std::to_string(id(i)));
}

std::unique_ptr<actors::client>
cluster::make_nodes_client(const std::vector<std::size_t>& nodes, ms timeout,
                           std::string name) {
  actors::client_options o;
  for (auto i : nodes)
    o.endpoints.push_back(endpoint(i));
  o.timeout = timeout;
  o.name = std::move(name);
  o.token = admin_token();
  return std::make_unique<actors::client>(client_runtime_of(opts_), std::move(o));
}

void cluster::dump_logs(std::ostream& os, std::size_t lines) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    os << "----- node " << id(i) << " (" << endpoint(i) << ", pid " << nodes_[i].pid
       << ") last " << lines << " lines of " << log_path(i) << " -----\n"
       << tail_lines(log_path(i), lines);
  }
  os << "----- end of node logs -----\n";
  os.flush();
}

void cluster::kill_all() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto s = node_state(i);
    if (s == state::running || s == state::stopped)
      ::kill(nodes_[i].pid, SIGKILL);
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    reap(i, 10s);
}

void cluster::wipe_data() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    std::error_code ec;
    fs::remove_all(data_dir(i), ec);
  }
}

// -- started_cluster ---------------------------------------------------------

started_cluster::started_cluster(cluster_options opts) : cluster(std::move(opts)) {
  REQUIRE_MESSAGE(start(), "the cluster of " << size()
                                             << " node(s) did not start within "
                                             << options().start_timeout.count()
                                             << " ms: a node exited or never answered "
                                                "status, or no leader was elected");
  auto leader = wait_for_leader();
  REQUIRE_MESSAGE(leader.has_value(), "the cluster started but has no leader any more");
  first_leader_ = *leader;
}

} // namespace conflux::itest
