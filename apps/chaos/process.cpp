#include "apps/chaos/process.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace conflux::process {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Closes the fd it holds (if any) when it goes out of scope.
struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
  fd_guard(fd_guard&& other) noexcept : fd(other.fd) { other.fd = -1; }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  fd_guard& operator=(fd_guard&&) = delete;
};

} // namespace

std::string errno_text(int e) {
  return std::error_code{e, std::generic_category()}.message();
}

argv_block::argv_block(std::vector<std::string> a, std::vector<std::string> extra_env)
    : args(std::move(a)) {
  for (auto& s : args)
    ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
  if (extra_env.empty())
    return;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& x : extra_env)
      overridden = overridden || name_of(x) == name_of(kv);
    if (!overridden)
      env.push_back(std::move(kv));
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  for (auto& s : env)
    env_ptrs.push_back(s.data());
  env_ptrs.push_back(nullptr);
}

pid_t spawn(const argv_block& argv, stdio_fds fds, std::string_view exec_failed) {
  if (argv.args.empty())
    throw std::invalid_argument("spawn: argv is empty (args[0] must be the program)");
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed: " + errno_text(errno));
  if (pid > 0)
    return pid;
  // Child: async-signal-safe calls only from here to execv.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(126); // the parent (thread) is already gone
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(fds.in, 0) < 0 || ::dup2(fds.out, 1) < 0 || ::dup2(fds.err, 2) < 0)
    ::_exit(125);
  ::closefrom(3);
  if (argv.env_ptrs.empty())
    ::execv(argv.ptrs[0], argv.ptrs.data());
  else
    ::execve(argv.ptrs[0], argv.ptrs.data(), argv.env_ptrs.data());
  auto unused = ::write(2, exec_failed.data(), exec_failed.size());
  (void)unused;
  ::_exit(127);
}

pid_t spawn_logged(const argv_block& argv, const std::string& log_path,
                   std::string_view banner, std::string_view exec_failed) {
  fd_guard log{
      ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (log.fd < 0)
    throw std::runtime_error("cannot open " + log_path + ": " + errno_text(errno));
  if (!banner.empty()) {
    auto unused = ::write(log.fd, banner.data(), banner.size());
    (void)unused;
  }
  fd_guard null_in{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (null_in.fd < 0)
    throw std::runtime_error("cannot open /dev/null: " + errno_text(errno));
  return spawn(argv, {null_in.fd, log.fd, log.fd}, exec_failed);
}

std::optional<int> try_reap(pid_t pid) {
  int st = 0;
  if (pid > 0 && ::waitpid(pid, &st, WNOHANG) == pid)
    return st;
  return std::nullopt;
}

std::optional<int> wait_bounded(pid_t pid, ms limit) {
  if (pid <= 0)
    return std::nullopt;
  const auto deadline = clock_type::now() + limit;
  const std::int64_t max_rounds = limit / 10ms + 2;
  for (std::int64_t round = 0; round < max_rounds; ++round) {
    int st = 0;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return st;
    if (r < 0 && errno != EINTR)
      return std::nullopt; // not our child (any more): nothing to wait for
    if (clock_type::now() >= deadline)
      break;
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

std::string describe_wait_status(std::optional<int> st) {
  if (!st)
    return "unknown";
  if (WIFEXITED(*st))
    return "exit code " + std::to_string(WEXITSTATUS(*st));
  if (WIFSIGNALED(*st))
    return std::string{"signal "} + ::strsignal(WTERMSIG(*st));
  return "status " + std::to_string(*st);
}

std::vector<std::uint16_t> free_loopback_ports(std::size_t n) {
  // Every probe socket stays bound until all are picked, so the kernel cannot
  // hand out one port twice; closing them frees the ports for the children.
  std::vector<fd_guard> socks;
  socks.reserve(n);
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < n; ++i) {
    socks.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int s = socks.back().fd;
    if (s < 0)
      throw std::runtime_error("socket failed: " + errno_text(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("cannot pick a free port on 127.0.0.1: " +
                               errno_text(errno));
    ports.push_back(ntohs(addr.sin_port));
  }
  return ports;
}

} // namespace conflux::process
