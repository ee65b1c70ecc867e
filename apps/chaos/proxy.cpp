#include "apps/chaos/proxy.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace conflux::chaos {

namespace {

constexpr std::size_t buffer_cap = 256 * 1024;

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::pair<node_id, node_id> unordered(node_id a, node_id b) {
  return {std::min(a, b), std::max(a, b)};
}

void close_fd(int& fd) {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
}

} // namespace

// One bridged connection of the proxy for (src, dst): `client` is the socket
// src dialled, `upstream` the one the proxy opened to dst.
struct fault_proxy::connection {
  node_id src = 0;
  node_id dst = 0;
  int client = -1;
  int upstream = -1;
  bool upstream_ready = false;
  std::string to_dst; // read from client, not yet written upstream (src -> dst)
  std::string to_src; // read from upstream, not yet written to client (dst -> src)
  bool dead = false;

  void close_both() {
    close_fd(client);
    close_fd(upstream);
    dead = true;
  }
};

fault_proxy::fault_proxy(const std::map<node_id, std::uint16_t>& real_ports)
    : real_ports_(real_ports) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string("fault proxy: pipe failed: ") +
                             std::strerror(errno));
  try {
    for (const auto& [src, src_port] : real_ports_) {
      (void)src_port;
      for (const auto& [dst, dst_port] : real_ports_) {
        (void)dst_port;
        if (src == dst)
          continue;
        listener l;
        l.src = src;
        l.dst = dst;
        l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (l.fd < 0)
          throw std::runtime_error(std::string("fault proxy: socket failed: ") +
                                   std::strerror(errno));
        listeners_.push_back(l);
        auto addr = loopback(0);
        if (::bind(l.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
            ::listen(l.fd, 64) != 0)
          throw std::runtime_error(std::string("fault proxy: cannot listen: ") +
                                   std::strerror(errno));
        socklen_t len = sizeof(addr);
        ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&addr), &len);
        listeners_.back().port = ntohs(addr.sin_port);
      }
    }
  } catch (...) {
    for (auto& l : listeners_)
      close_fd(l.fd);
    close_fd(wake_[0]);
    close_fd(wake_[1]);
    throw;
  }
  thread_ = std::thread([this] { run(); });
}

fault_proxy::~fault_proxy() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  char c = 's';
  (void)!::write(wake_[1], &c, 1);
  if (thread_.joinable())
    thread_.join();
  for (auto& l : listeners_)
    close_fd(l.fd);
  close_fd(wake_[0]);
  close_fd(wake_[1]);
}

std::uint16_t fault_proxy::port_for(node_id src, node_id dst) const {
  for (const auto& l : listeners_)
    if (l.src == src && l.dst == dst)
      return l.port;
  throw std::invalid_argument("fault proxy: no proxy from node " + std::to_string(src) +
                              " to node " + std::to_string(dst));
}

void fault_proxy::sync(std::unique_lock<std::mutex>& lock) {
  auto target = ++epoch_;
  char c = 'w';
  (void)!::write(wake_[1], &c, 1);
  // Bounded: the thread loops at least every 100 ms.
  applied_cv_.wait_for(lock, std::chrono::seconds(5),
                       [&] { return applied_epoch_ >= target || stopping_; });
}

void fault_proxy::cut(node_id a, node_id b) {
  std::unique_lock<std::mutex> lock{mtx_};
  cuts_.insert(unordered(a, b));
  sync(lock);
}

void fault_proxy::block(node_id from, node_id to) {
  std::unique_lock<std::mutex> lock{mtx_};
  blocks_.insert({from, to});
  sync(lock);
}

void fault_proxy::heal_all() {
  std::unique_lock<std::mutex> lock{mtx_};
  cuts_.clear();
  blocks_.clear();
  sync(lock);
}

bool fault_proxy::blocked(node_id from, node_id to) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return cuts_.count(unordered(from, to)) > 0 || blocks_.count({from, to}) > 0;
}

proxy_stats fault_proxy::stats() {
  // One pass of the proxy thread folds in the bytes it has counted so far.
  std::unique_lock<std::mutex> lock{mtx_};
  sync(lock);
  return stats_;
}

void fault_proxy::run() {
  std::vector<connection> conns;
  std::vector<pollfd> fds;
  // Index into `fds` of each connection's client and upstream entries.
  std::vector<std::pair<std::size_t, std::size_t>> slots;
  std::map<std::pair<node_id, node_id>, std::uint64_t> bytes;
  for (;;) {
    std::set<std::pair<node_id, node_id>> cuts, blocks;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stopping_)
        break;
      cuts = cuts_;
      blocks = blocks_;
      for (auto& c : conns)
        if (!c.dead && cuts.count(unordered(c.src, c.dst))) {
          c.close_both();
          ++stats_.closed_by_cut;
        }
      for (auto& [dir, n] : bytes)
        stats_.bytes[dir] += n;
      bytes.clear();
      applied_epoch_ = epoch_;
    }
    applied_cv_.notify_all();
    conns.erase(std::remove_if(conns.begin(), conns.end(),
                               [](const connection& c) { return c.dead; }),
                conns.end());
    auto held = [&](node_id from, node_id to) {
      return cuts.count(unordered(from, to)) > 0 || blocks.count({from, to}) > 0;
    };

    fds.clear();
    slots.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    for (const auto& l : listeners_)
      fds.push_back({l.fd, POLLIN, 0});
    for (const auto& c : conns) {
      short cev = 0, uev = 0;
      bool fwd_to_dst = !held(c.src, c.dst);
      bool fwd_to_src = !held(c.dst, c.src);
      if (fwd_to_dst && c.upstream_ready && c.to_dst.size() < buffer_cap)
        cev |= POLLIN;
      if (fwd_to_src && !c.to_src.empty())
        cev |= POLLOUT;
      if (!c.upstream_ready) {
        uev |= POLLOUT;
      } else {
        if (fwd_to_src && c.to_src.size() < buffer_cap)
          uev |= POLLIN;
        if (fwd_to_dst && !c.to_dst.empty())
          uev |= POLLOUT;
      }
      slots.emplace_back(fds.size(), fds.size() + 1);
      fds.push_back({c.client, cev, 0});
      fds.push_back({c.upstream, uev, 0});
    }
    int n = ::poll(fds.data(), fds.size(), 100);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_[0], buf, sizeof(buf)) > 0) {
      }
      // Re-read the faults before moving any byte.
      continue;
    }
    // Existing connections first (their slots refer to the current vector).
    for (std::size_t i = 0; i < conns.size(); ++i) {
      auto& c = conns[i];
      auto cre = fds[slots[i].first].revents;
      auto ure = fds[slots[i].second].revents;
      if (!c.upstream_ready && (ure & (POLLOUT | POLLERR | POLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          c.close_both();
          continue;
        }
        c.upstream_ready = true;
        ure &= ~POLLOUT;
      }
      auto pump = [&](int from_fd, int to_fd, std::string& buf, short from_re,
                      short to_re, node_id from, node_id to) -> bool {
        if (from_re & POLLIN) {
          char tmp[16384];
          auto room = std::min(sizeof(tmp), buffer_cap - buf.size());
          auto r = ::read(from_fd, tmp, room);
          if (r == 0)
            return false;
          if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false;
          if (r > 0)
            buf.append(tmp, static_cast<std::size_t>(r));
        } else if (from_re & (POLLHUP | POLLERR)) {
          return false;
        }
        if (!buf.empty() && (to_re & POLLOUT || from_re & POLLIN) && to_fd >= 0) {
          auto w = ::send(to_fd, buf.data(), buf.size(), MSG_NOSIGNAL);
          if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false;
          if (w > 0) {
            buf.erase(0, static_cast<std::size_t>(w));
            bytes[{from, to}] += static_cast<std::uint64_t>(w);
          }
        }
        return true;
      };
      bool alive = true;
      if (!held(c.src, c.dst) && c.upstream_ready)
        alive = pump(c.client, c.upstream, c.to_dst, cre, ure, c.src, c.dst);
      else if (cre & (POLLHUP | POLLERR))
        alive = false;
      if (alive && c.upstream_ready) {
        if (!held(c.dst, c.src))
          alive = pump(c.upstream, c.client, c.to_src, ure, cre, c.dst, c.src);
        else if (ure & (POLLHUP | POLLERR))
          alive = false;
      }
      if (!alive)
        c.close_both();
    }
    // New connections.
    for (std::size_t li = 0; li < listeners_.size(); ++li) {
      if (!(fds[1 + li].revents & POLLIN))
        continue;
      const auto& l = listeners_[li];
      for (int k = 0; k < 16; ++k) {
        int cfd = ::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
          break;
        if (cuts.count(unordered(l.src, l.dst))) {
          ::close(cfd);
          std::lock_guard<std::mutex> guard{mtx_};
          ++stats_.refused;
          continue;
        }
        int ufd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (ufd < 0) {
          ::close(cfd);
          continue;
        }
        set_nodelay(cfd);
        set_nodelay(ufd);
        auto addr = loopback(real_ports_.at(l.dst));
        int rc = ::connect(ufd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        if (rc != 0 && errno != EINPROGRESS) {
          ::close(cfd);
          ::close(ufd);
          continue;
        }
        connection c;
        c.src = l.src;
        c.dst = l.dst;
        c.client = cfd;
        c.upstream = ufd;
        c.upstream_ready = (rc == 0);
        conns.push_back(std::move(c));
        std::lock_guard<std::mutex> guard{mtx_};
        ++stats_.accepted[{l.src, l.dst}];
      }
    }
  }
  for (auto& c : conns)
    c.close_both();
}

} // namespace conflux::chaos
