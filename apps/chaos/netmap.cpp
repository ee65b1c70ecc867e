// libconflux-netmap.so: an LD_PRELOAD library that sends a process's TCP
// connections to chosen IPv4 endpoints elsewhere. conflux-chaos preloads it
// into every node so that node i's connection to node j's real address goes
// to the fault proxy's port for the pair (i, j): every configuration (the
// --peers lists and what membership changes record) can then name the
// nodes' real addresses, and the proxy still knows who dials whom
// (docs/chaos.md, "What it sets up").
//
//   CONFLUX_NETMAP=127.0.0.1:7102>127.0.0.1:40001,127.0.0.1:7103>127.0.0.1:40002
//
// Only connect() to an IPv4 address and port on the list is changed; all
// else passes through. A malformed list stops the process at load with exit
// status 97 and the reason on stderr.
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct mapping {
  std::uint32_t from_addr; // network order
  std::uint16_t from_port; // network order
  std::uint32_t to_addr;
  std::uint16_t to_port;
};

constexpr int max_mappings = 64;
mapping g_map[max_mappings];
int g_count = 0;
decltype(&::connect) real_connect = nullptr;

[[noreturn]] void die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "conflux-netmap: %s: %s\n", what, detail.c_str());
  std::fflush(stderr);
  ::_exit(97);
}

bool parse_endpoint(const std::string& s, std::uint32_t& addr, std::uint16_t& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    return false;
  in_addr a{};
  if (::inet_pton(AF_INET, s.substr(0, colon).c_str(), &a) != 1)
    return false;
  char* end = nullptr;
  auto p = std::strtoul(s.c_str() + colon + 1, &end, 10);
  if (end == s.c_str() + colon + 1 || *end != '\0' || p == 0 || p > 65535)
    return false;
  addr = a.s_addr;
  port = htons(static_cast<std::uint16_t>(p));
  return true;
}

__attribute__((constructor)) void init() {
  real_connect = reinterpret_cast<decltype(&::connect)>(::dlsym(RTLD_NEXT, "connect"));
  if (real_connect == nullptr)
    die("cannot find the real connect", "");
  const char* env = std::getenv("CONFLUX_NETMAP");
  if (env == nullptr)
    die("preloaded without CONFLUX_NETMAP", "");
  std::string all = env;
  for (std::size_t pos = 0; pos < all.size();) {
    auto comma = all.find(',', pos);
    if (comma == std::string::npos)
      comma = all.size();
    std::string item = all.substr(pos, comma - pos);
    auto arrow = item.find('>');
    if (arrow == std::string::npos || g_count == max_mappings)
      die("bad CONFLUX_NETMAP entry (want FROM>TO, at most 64)", item);
    mapping m{};
    if (!parse_endpoint(item.substr(0, arrow), m.from_addr, m.from_port) ||
        !parse_endpoint(item.substr(arrow + 1), m.to_addr, m.to_port))
      die("bad CONFLUX_NETMAP entry (want IPV4:PORT>IPV4:PORT)", item);
    g_map[g_count++] = m;
    pos = comma + 1;
  }
  // The node's children (none today) are not redirected.
  ::unsetenv("CONFLUX_NETMAP");
}

} // namespace

extern "C" int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  if (addr != nullptr && addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, addr, sizeof in);
    for (int i = 0; i < g_count; ++i)
      if (g_map[i].from_addr == in.sin_addr.s_addr &&
          g_map[i].from_port == in.sin_port) {
        in.sin_addr.s_addr = g_map[i].to_addr;
        in.sin_port = g_map[i].to_port;
        return real_connect(fd, reinterpret_cast<const sockaddr*>(&in), sizeof in);
      }
  }
  return real_connect(fd, addr, len);
}
