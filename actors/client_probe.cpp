#include "actors/client_probe.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace conflux::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// A BASP header is 32 bytes, big-endian: u8 operation, two padding bytes,
/// u8 flags, u32 payload length, u64 operation data, u64 source actor, u64
/// destination actor. A server's first message is its handshake: operation
/// 0, operation data = the BASP version (3 in CAF 0.17).
constexpr std::size_t basp_header_size = 32;
constexpr std::uint8_t basp_server_handshake = 0;
constexpr std::uint64_t basp_version = 3;

class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

int millis_left(clock_type::time_point deadline) {
  auto left =
      std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::string ms_text(milliseconds t) {
  return std::to_string(t.count()) + " ms";
}

/// Up to 24 bytes of what a peer sent, in quotes, non-printable bytes as \xNN.
std::string snippet(const unsigned char* data, std::size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < n && i < 24; ++i) {
    auto c = data[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  out += n > 24 ? "...\"" : "\"";
  return out;
}

std::uint64_t read_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | p[i];
  return v;
}

/// The verdict on the bytes a peer sent before it closed, stalled, or filled
/// a header.
probe_result judge(const unsigned char* data, std::size_t n, bool eof,
                   milliseconds timeout) {
  if (n == 0) {
    if (eof)
      return {probe_verdict::closed,
              "accepted the connection and closed it without a Conflux handshake "
              "(not a Conflux node, or one shutting down)"};
    return {probe_verdict::silent, "accepted the connection but sent nothing within " +
                                       ms_text(timeout) +
                                       " (a stopped process, a node that expects TLS, or not a Conflux node)"};
  }
  if (data[0] != basp_server_handshake)
    return {probe_verdict::not_conflux,
            "is not a Conflux node (it sent " + snippet(data, n) + ")"};
  if (n < basp_header_size) {
    if (eof)
      return {probe_verdict::not_conflux,
              "is not a Conflux node (it sent " + snippet(data, n) + " and closed)"};
    return {probe_verdict::silent, "sent only part of a handshake within " +
                                       ms_text(timeout) +
                                       " (an overloaded or stopped process?)"};
  }
  auto version = read_u64(data + 8);
  if (version != basp_version)
    return {probe_verdict::not_conflux,
            "is not a Conflux node of this version (it speaks CAF's BASP version " +
                std::to_string(version) + ", this client " +
                std::to_string(basp_version) + ")"};
  return {probe_verdict::speaks_basp, "speaks CAF's BASP protocol"};
}

/// Connects `fd` to `addr` by `deadline`; 0 or the errno of the failure
/// (ETIMEDOUT when the deadline passed).
int connect_by(int fd, const addrinfo& addr, clock_type::time_point deadline) {
  if (::connect(fd, addr.ai_addr, addr.ai_addrlen) == 0)
    return 0;
  if (errno != EINPROGRESS)
    return errno;
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, millis_left(deadline));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r == 0 ? ETIMEDOUT : errno;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      return errno;
    return err;
  }
}

/// Reads up to one BASP header from a connected `fd` by `deadline`.
probe_result read_greeting(int fd, clock_type::time_point deadline,
                           milliseconds timeout) {
  unsigned char buf[basp_header_size];
  std::size_t n = 0;
  bool eof = false;
  while (n < sizeof buf) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, millis_left(deadline));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    auto got = ::recv(fd, buf + n, sizeof buf - n, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (got <= 0) {
      eof = true;
      break;
    }
    n += static_cast<std::size_t>(got);
    if (buf[0] != basp_server_handshake)
      break; // enough to know
  }
  return judge(buf, n, eof, timeout);
}

} // namespace

probe_result probe_endpoint(const endpoint& ep, milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return {probe_verdict::unreachable, "cannot be reached: host name \"" + ep.host +
                                            "\" does not resolve (" +
                                            ::gai_strerror(rc) + ")"};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addrs{found, &::freeaddrinfo};
  int first_failure = 0;
  bool all_refused = true;
  for (auto* a = addrs.get(); a != nullptr; a = a->ai_next) {
    fd_guard fd{::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         a->ai_protocol)};
    if (fd.get() < 0) {
      all_refused = false;
      first_failure = first_failure ? first_failure : errno;
      continue;
    }
    int err = connect_by(fd.get(), *a, deadline);
    if (err == 0)
      return read_greeting(fd.get(), deadline, timeout);
    all_refused = all_refused && err == ECONNREFUSED;
    if (first_failure == 0 || first_failure == ECONNREFUSED)
      first_failure = err;
    if (err == ETIMEDOUT)
      break;
  }
  if (all_refused)
    return {probe_verdict::refused,
            "refused the connection (nothing listens on that port)"};
  if (first_failure == ETIMEDOUT)
    return {probe_verdict::unreachable,
            "did not accept the connection within " + ms_text(timeout)};
  return {probe_verdict::unreachable,
          std::string{"cannot be reached ("} + std::strerror(first_failure) + ")"};
}

} // namespace conflux::actors
