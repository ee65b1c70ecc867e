// The fault proxy on raw loopback sockets: bytes flow both ways, a cut closes
// and refuses every connection of the node pair in both proxies, a one-way
// block stalls exactly one direction on every connection of the pair, and
// heal_all restores traffic (stalled bytes are delivered, not lost).
#include "apps/chaos/proxy.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <doctest/doctest.h>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using conflux::chaos::fault_proxy;
using conflux::chaos::node_id;

// A listening socket standing in for a node.
struct fake_node {
  int fd = -1;
  std::uint16_t port = 0;
  fake_node() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~fake_node() { ::close(fd); }
  // The next accepted connection, or -1 if none arrives within `ms`.
  int accept_within(int ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0)
      return -1;
    return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
};

int dial(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  return fd;
}

void send_all(int fd, const std::string& s) {
  REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(s.size()));
}

// Bytes readable within `ms` ("" if none); nullopt on EOF or error.
std::optional<std::string> recv_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0)
    return std::string{};
  char buf[256];
  auto r = ::recv(fd, buf, sizeof(buf), 0);
  if (r <= 0)
    return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(r));
}

// Reads until `want` bytes arrived, EOF, or `ms` passed.
std::string recv_exactly(int fd, std::size_t want, int ms) {
  std::string got;
  for (int i = 0; i < ms / 10 && got.size() < want; ++i) {
    auto r = recv_within(fd, 10);
    if (!r)
      break;
    got += *r;
  }
  return got;
}

// A bridged connection: `dialler` is the side of node `from`, `accepted` the
// side of node `to` (as the real node would see them).
struct bridged {
  int dialler = -1;
  int accepted = -1;
  ~bridged() {
    if (dialler >= 0)
      ::close(dialler);
    if (accepted >= 0)
      ::close(accepted);
  }
};

void open_link(bridged& l, fault_proxy& p, fake_node& target, node_id from,
               node_id to) {
  l.dialler = dial(p.port_for(from, to));
  l.accepted = target.accept_within(2000);
  REQUIRE(l.accepted >= 0);
}

// True if the connection was closed: EOF/error on read, within `ms`.
bool closed_within(int fd, int ms) {
  for (int i = 0; i < ms / 20; ++i) {
    auto r = recv_within(fd, 20);
    if (!r)
      return true;
  }
  return false;
}

} // namespace

TEST_CASE("proxy: bytes flow both ways between the nodes of a pair") {
  fake_node n1, n2;
  fault_proxy p({{1, n1.port}, {2, n2.port}});
  CHECK(p.port_for(1, 2) != p.port_for(2, 1));
  bridged a;
  open_link(a, p, n2, 1, 2);
  send_all(a.dialler, "ping");
  CHECK(recv_exactly(a.accepted, 4, 2000) == "ping");
  send_all(a.accepted, "pong");
  CHECK(recv_exactly(a.dialler, 4, 2000) == "pong");
  auto st = p.stats();
  CHECK(st.bytes[{1, 2}] == 4);
  CHECK(st.bytes[{2, 1}] == 4);
  CHECK(st.accepted[{1, 2}] == 1);
}

TEST_CASE("proxy: a cut closes both proxies of the pair and refuses new connections; "
          "heal restores them") {
  fake_node n1, n2, n3;
  fault_proxy p({{1, n1.port}, {2, n2.port}, {3, n3.port}});
  bridged a, b, c;
  open_link(a, p, n2, 1, 2); // opened by node 1
  open_link(b, p, n1, 2, 1); // opened by node 2
  open_link(c, p, n3, 1, 3); // another pair
  p.cut(2, 1);
  CHECK(p.blocked(1, 2));
  CHECK(p.blocked(2, 1));
  CHECK_FALSE(p.blocked(1, 3));
  // Both existing connections are closed, at both ends.
  CHECK(closed_within(a.dialler, 2000));
  CHECK(closed_within(a.accepted, 2000));
  CHECK(closed_within(b.dialler, 2000));
  CHECK(closed_within(b.accepted, 2000));
  // New connections through either proxy never reach the node.
  for (auto [from, to] : {std::pair<node_id, node_id>{1, 2}, {2, 1}}) {
    int fd = dial(p.port_for(from, to));
    CHECK(closed_within(fd, 2000));
    CHECK(((to == 2 ? n2 : n1).accept_within(300)) < 0);
    ::close(fd);
  }
  CHECK(p.stats().refused >= 2);
  // The other pair is untouched.
  send_all(c.dialler, "still");
  CHECK(recv_exactly(c.accepted, 5, 2000) == "still");

  p.heal_all();
  CHECK_FALSE(p.blocked(1, 2));
  bridged d;
  open_link(d, p, n2, 1, 2);
  send_all(d.dialler, "again");
  CHECK(recv_exactly(d.accepted, 5, 2000) == "again");
  send_all(d.accepted, "back");
  CHECK(recv_exactly(d.dialler, 4, 2000) == "back");
}

TEST_CASE("proxy: a one-way block stalls one direction on every connection of the pair "
          "and heal delivers what was held") {
  fake_node n1, n2;
  fault_proxy p({{1, n1.port}, {2, n2.port}});
  bridged a, b;
  open_link(a, p, n2, 1, 2); // node 1 dialled node 2
  open_link(b, p, n1, 2, 1); // node 2 dialled node 1
  p.block(1, 2);             // node 1 is not heard by node 2
  CHECK(p.blocked(1, 2));
  CHECK_FALSE(p.blocked(2, 1));
  // 1 -> 2 over the connection node 1 opened (dialler -> listener)...
  send_all(a.dialler, "held-a");
  // ...and over the connection node 2 opened (listener -> dialler).
  send_all(b.accepted, "held-b");
  CHECK(recv_within(a.accepted, 300) == std::optional<std::string>(""));
  CHECK(recv_within(b.dialler, 300) == std::optional<std::string>(""));
  // 2 -> 1 still flows on both.
  send_all(a.accepted, "hear-a");
  CHECK(recv_exactly(a.dialler, 6, 2000) == "hear-a");
  send_all(b.dialler, "hear-b");
  CHECK(recv_exactly(b.accepted, 6, 2000) == "hear-b");
  // A connection opened during the block is stalled the same way.
  bridged c;
  open_link(c, p, n2, 1, 2);
  send_all(c.dialler, "held-c");
  CHECK(recv_within(c.accepted, 300) == std::optional<std::string>(""));

  p.heal_all();
  CHECK(recv_exactly(a.accepted, 6, 2000) == "held-a");
  CHECK(recv_exactly(b.dialler, 6, 2000) == "held-b");
  CHECK(recv_exactly(c.accepted, 6, 2000) == "held-c");
}

TEST_CASE("proxy: a node that is down makes the proxy close the dialler's connection") {
  fake_node n1;
  std::uint16_t dead_port = 0;
  {
    fake_node gone; // bound, then closed: nothing listens there any more
    dead_port = gone.port;
  }
  fault_proxy p({{1, n1.port}, {2, dead_port}});
  int fd = dial(p.port_for(1, 2));
  CHECK(closed_within(fd, 2000));
  ::close(fd);
}

TEST_CASE("proxy: port_for refuses a pair it does not serve") {
  fake_node n1, n2;
  fault_proxy p({{1, n1.port}, {2, n2.port}});
  CHECK_THROWS_AS(p.port_for(1, 1), std::invalid_argument);
  CHECK_THROWS_AS(p.port_for(1, 7), std::invalid_argument);
}
