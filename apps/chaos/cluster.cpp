#include "apps/chaos/cluster.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace conflux::chaos {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string errno_text(int e) {
  return std::error_code{e, std::generic_category()}.message();
}

// A port the kernel considers free right now (bind to 0, read it, close).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed: " + errno_text(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port: " + errno_text(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct argv_block {
  std::vector<std::string> args;
  std::vector<char*> ptrs;
  explicit argv_block(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args)
      ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
};

// fork + execv; stdout/stderr to `log_fd`, stdin from /dev/null, every other
// fd closed, default signal dispositions, SIGKILL when the forking thread dies.
pid_t spawn_process(const argv_block& argv, int null_fd, int log_fd) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed: " + errno_text(errno));
  if (pid > 0)
    return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(126);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0)
    ::_exit(125);
  ::closefrom(3);
  ::execv(argv.ptrs[0], argv.ptrs.data());
  static const char msg[] = "conflux-chaos: execv of conflux-node failed\n";
  auto unused = ::write(2, msg, sizeof msg - 1);
  (void)unused;
  ::_exit(127);
}

// Polls waitpid for at most `limit`. The wait status, or nullopt.
std::optional<int> wait_bounded(pid_t pid, ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int round = 0; round < 100'000; ++round) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return st;
    if (r < 0 && errno != EINTR)
      return std::nullopt;
    if (clock_type::now() >= deadline)
      break;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

std::string describe_status(int st) {
  if (WIFEXITED(st))
    return "exit code " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st))
    return std::string("signal ") + ::strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

} // namespace

const char* to_string(chaos_cluster::node_state st) {
  switch (st) {
  case chaos_cluster::node_state::not_started:
    return "not-started";
  case chaos_cluster::node_state::running:
    return "running";
  case chaos_cluster::node_state::paused:
    return "paused";
  case chaos_cluster::node_state::killed:
    return "killed";
  case chaos_cluster::node_state::exited:
    return "exited";
  }
  return "unknown";
}

chaos_cluster::chaos_cluster(actors::client_runtime& rt, cluster_options opts)
    : rt_(rt), opts_(std::move(opts)) {
  if (opts_.nodes != 3 && opts_.nodes != 5)
    throw std::invalid_argument("--nodes must be 3 or 5");
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(opts_.dir) / "data");
  fs::create_directories(fs::path(opts_.dir) / "logs");
  nodes_.resize(opts_.nodes);
  std::map<node_id, std::uint16_t> ports;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    // Distinct ports even if the kernel hands one out twice in a row.
    for (int tries = 0; tries < 20; ++tries) {
      auto p = free_port();
      bool dup = false;
      for (auto& [id, q] : ports)
        dup = dup || q == p;
      if (!dup) {
        nodes_[i].port = p;
        break;
      }
    }
    ports[i + 1] = nodes_[i].port;
  }
  proxy_ = std::make_unique<fault_proxy>(ports);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    actors::client_options co;
    co.endpoints = {endpoint(i + 1)};
    co.timeout = 500ms;
    co.name = "chaos-status";
    nodes_[i].status_client = std::make_unique<actors::client>(rt_, co);
  }
}

chaos_cluster::~chaos_cluster() {
  for (auto& n : nodes_) {
    if (n.pid > 0 && (n.st == node_state::running || n.st == node_state::paused)) {
      ::kill(n.pid, SIGKILL);
      wait_bounded(n.pid, 5s);
      n.st = node_state::killed;
      n.pid = -1;
    }
  }
  for (auto& n : nodes_)
    n.status_client.reset();
}

chaos_cluster::node& chaos_cluster::at(node_id id) {
  if (id < 1 || id > nodes_.size())
    throw std::out_of_range("no node " + std::to_string(id));
  return nodes_[id - 1];
}

const chaos_cluster::node& chaos_cluster::at(node_id id) const {
  if (id < 1 || id > nodes_.size())
    throw std::out_of_range("no node " + std::to_string(id));
  return nodes_[id - 1];
}

std::vector<node_id> chaos_cluster::ids() const {
  std::vector<node_id> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    out.push_back(i + 1);
  return out;
}

std::string chaos_cluster::endpoint(node_id id) const {
  return "127.0.0.1:" + std::to_string(at(id).port);
}

std::vector<std::string> chaos_cluster::endpoints() const {
  std::vector<std::string> out;
  for (auto id : ids())
    out.push_back(endpoint(id));
  return out;
}

std::string chaos_cluster::log_path(node_id id) const {
  return opts_.dir + "/logs/node" + std::to_string(id) + ".log";
}

std::vector<std::string> chaos_cluster::node_args(node_id id) const {
  std::string peers;
  for (auto j : ids()) {
    if (!peers.empty())
      peers += ",";
    auto port = j == id ? at(j).port : proxy_->port_for(id, j);
    peers += std::to_string(j) + "=127.0.0.1:" + std::to_string(port);
  }
  return {opts_.node_binary,
          "--id",
          std::to_string(id),
          "--listen",
          endpoint(id),
          "--data",
          opts_.dir + "/data/node" + std::to_string(id),
          "--peers",
          peers,
          "--cluster-id",
          opts_.cluster_id,
          "--log-level",
          opts_.log_level};
}

pid_t chaos_cluster::pid(node_id id) const {
  return at(id).pid;
}

chaos_cluster::node_state chaos_cluster::state(node_id id) {
  return at(id).st;
}

void chaos_cluster::spawn(node_id id) {
  auto& n = at(id);
  argv_block argv(node_args(id));
  int log =
      ::open(log_path(id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0)
    throw std::runtime_error("cannot open " + log_path(id) + ": " + errno_text(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = -1;
  try {
    pid = spawn_process(argv, null_fd, log);
  } catch (...) {
    ::close(log);
    ::close(null_fd);
    throw;
  }
  ::close(log);
  ::close(null_fd);
  n.pid = pid;
  n.st = node_state::running;
}

bool chaos_cluster::wait_ready(node_id id, ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int round = 0; round < 1000 && clock_type::now() < deadline; ++round) {
    auto& n = at(id);
    int st = 0;
    if (::waitpid(n.pid, &st, WNOHANG) == n.pid) {
      n.st = node_state::exited;
      n.pid = -1;
      return false;
    }
    if (status(id).ok())
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

bool chaos_cluster::start(ms limit, std::string& why) {
  auto deadline = clock_type::now() + limit;
  for (auto id : ids())
    spawn(id);
  for (auto id : ids()) {
    auto left = std::chrono::duration_cast<ms>(deadline - clock_type::now());
    if (!wait_ready(id, std::max(left, ms(1)))) {
      why = "node " + std::to_string(id) + " did not answer status (state " +
            to_string(at(id).st) + "); see " + log_path(id);
      return false;
    }
  }
  auto left = std::chrono::duration_cast<ms>(deadline - clock_type::now());
  if (!wait_for_leader(std::max(left, ms(1)))) {
    why = "no leader was elected within the start-up time";
    return false;
  }
  return true;
}

void chaos_cluster::kill9(node_id id) {
  auto& n = at(id);
  if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
    return;
  ::kill(n.pid, SIGKILL);
  wait_bounded(n.pid, 5s);
  n.pid = -1;
  n.st = node_state::killed;
}

bool chaos_cluster::restart(node_id id, ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int attempt = 0; attempt < 5 && clock_type::now() < deadline; ++attempt) {
    auto& n = at(id);
    if (n.st == node_state::running || n.st == node_state::paused)
      return true;
    spawn(id);
    auto left = std::chrono::duration_cast<ms>(deadline - clock_type::now());
    if (wait_ready(id, std::max(left, ms(1))))
      return true;
    if (at(id).st == node_state::running) // alive but silent: give up waiting
      return false;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

void chaos_cluster::pause(node_id id) {
  auto& n = at(id);
  if (n.st != node_state::running)
    return;
  ::kill(n.pid, SIGSTOP);
  n.st = node_state::paused;
}

void chaos_cluster::resume(node_id id) {
  auto& n = at(id);
  if (n.st != node_state::paused)
    return;
  ::kill(n.pid, SIGCONT);
  n.st = node_state::running;
}

bool chaos_cluster::heal_all(ms restart_limit, std::string& why) {
  proxy_->heal_all();
  bool ok = true;
  for (auto id : ids()) {
    auto st = at(id).st;
    if (st == node_state::paused)
      resume(id);
    else if (st == node_state::killed || st == node_state::exited) {
      if (!restart(id, restart_limit)) {
        ok = false;
        why += "node " + std::to_string(id) + " could not be restarted (see " +
               log_path(id) + "); ";
      }
    }
  }
  return ok;
}

expected<actors::node_status> chaos_cluster::status(node_id id) {
  auto& n = at(id);
  if (n.st != node_state::running)
    return error{errc::unavailable, std::string("node is ") + to_string(n.st)};
  return n.status_client->status_of(endpoint(id));
}

std::optional<node_id> chaos_cluster::leader() {
  std::optional<node_id> best;
  std::uint64_t best_term = 0;
  for (auto id : ids()) {
    auto s = status(id);
    if (s.ok() && s->role == "leader" && (!best || s->term > best_term)) {
      best = id;
      best_term = s->term;
    }
  }
  return best;
}

std::optional<node_id> chaos_cluster::wait_for_leader(ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int round = 0; round < 1000 && clock_type::now() < deadline; ++round) {
    if (auto l = leader())
      return l;
    std::this_thread::sleep_for(100ms);
  }
  return std::nullopt;
}

std::vector<std::string> chaos_cluster::unexpected_exits() {
  std::vector<std::string> out;
  for (auto id : ids()) {
    auto& n = at(id);
    if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
      continue;
    int st = 0;
    if (::waitpid(n.pid, &st, WNOHANG) == n.pid) {
      out.push_back("node " + std::to_string(id) + " (pid " + std::to_string(n.pid) +
                    ") exited on its own: " + describe_status(st) + "; see " +
                    log_path(id));
      n.pid = -1;
      n.st = node_state::exited;
    }
  }
  return out;
}

void chaos_cluster::stop_all(ms limit) {
  for (auto id : ids()) {
    auto& n = at(id);
    if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
      continue;
    if (n.st == node_state::paused)
      ::kill(n.pid, SIGCONT);
    ::kill(n.pid, SIGTERM);
  }
  for (auto id : ids()) {
    auto& n = at(id);
    if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
      continue;
    if (!wait_bounded(n.pid, limit)) {
      ::kill(n.pid, SIGKILL);
      wait_bounded(n.pid, 5s);
    }
    n.pid = -1;
    n.st = node_state::exited;
  }
}

} // namespace conflux::chaos
