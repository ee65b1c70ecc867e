#include "tests/tls/tls_fixture.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace conflux::tls_test {

namespace {

constexpr char loopback[] = "127.0.0.1";

std::string ssl_errors() {
  std::string result;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!result.empty())
      result += "; ";
    result += buf;
  }
  return result;
}

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Opens a listening socket on a free port of 127.0.0.1.
int listen_on_free_port(uint16_t& port) {
  auto fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  auto addr = loopback_address(0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 16) != 0) {
    ::close(fd);
    throw std::runtime_error("bind/listen on 127.0.0.1 failed");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Waits at most `ms` for `fd` to become readable.
bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

// The time left until `deadline` in whole milliseconds, at least 1.
int milliseconds_until(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                    clock_type::now());
  return static_cast<int>(std::max<long>(left.count(), 1));
}

void set_timeouts(int fd, std::chrono::milliseconds limit) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(limit.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((limit.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

SSL_CTX* make_raw_context(const raw_tls_options& opts, bool server) {
  auto ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr)
    throw std::runtime_error("SSL_CTX_new failed: " + ssl_errors());
  if (opts.max_version != 0)
    SSL_CTX_set_max_proto_version(ctx, opts.max_version);
  auto& f = opts.files;
  if (!f.certificate.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx, f.certificate.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, f.key.c_str(), SSL_FILETYPE_PEM) != 1))
    throw std::runtime_error("raw TLS peer: cannot load its certificate: " +
                             ssl_errors());
  if (!f.cafile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, f.cafile.c_str(), nullptr) != 1)
      throw std::runtime_error("raw TLS peer: cannot load its CA: " + ssl_errors());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

} // namespace

bool eventually(const std::function<bool()>& done, clock_type::duration limit) {
  auto deadline = clock_type::now() + limit;
  for (;;) {
    if (done())
      return true;
    if (clock_type::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
}

tls_files write_credentials(const temp_dir& dir, const std::string& name,
                            const test_ca& issuer, const leaf_spec& spec,
                            const test_ca& trusted) {
  auto pem = issuer.issue(spec);
  tls_files result;
  result.certificate = dir.write(name + "-cert.pem", pem.certificate);
  result.key = dir.write(name + "-key.pem", pem.key);
  result.cafile = dir.write(name + "-ca.pem", trusted.certificate_pem());
  result.passphrase = spec.passphrase;
  return result;
}

// -- tls_node -----------------------------------------------------------------

tls_node::tls_node(const tls_files& files, const settings& extra) {
  cfg_.load<caf::io::middleman>();
  cfg_.load<caf::openssl::manager>();
  cfg_.set("scheduler.max-threads", 2);
  cfg_.set("middleman.workers", 1);
  if (!files.certificate.empty())
    cfg_.set("openssl.certificate", files.certificate);
  if (!files.key.empty())
    cfg_.set("openssl.key", files.key);
  if (!files.cafile.empty())
    cfg_.set("openssl.cafile", files.cafile);
  if (!files.passphrase.empty())
    cfg_.set("openssl.passphrase", files.passphrase);
  if (extra)
    extra(cfg_);
  sys_ = std::make_unique<caf::actor_system>(cfg_);
}

tls_node::~tls_node() {
  // The system waits for its actors before it stops.
  for (auto& x : owned_)
    caf::anon_send_exit(x, caf::exit_reason::kill);
  owned_.clear();
  sys_.reset();
}

caf::expected<uint16_t> tls_node::publish(const caf::actor& whom) {
  return caf::openssl::publish(whom, 0, loopback, true);
}

caf::expected<uint16_t> tls_node::publish_echo() {
  auto echo = spawn([]() -> caf::behavior { return {[](int x) { return x; }}; });
  return publish(echo);
}

caf::expected<caf::actor> tls_node::dial(uint16_t port, caf::timespan limit) {
  // What openssl::remote_actor does, but bounded: it waits forever for a peer
  // that never completes the handshake.
  caf::scoped_actor self{*sys_};
  caf::expected<caf::actor> result{caf::sec::request_timeout};
  self->request(tls().actor_handle(), limit, caf::connect_atom::value,
                std::string{loopback}, port)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            if (ptr)
              result = caf::actor_cast<caf::actor>(std::move(ptr));
            else
              result = caf::sec::no_actor_published_at_port;
          },
          [&](caf::error& err) { result = std::move(err); });
  return result;
}

bool tls_node::echoes(const caf::actor& echo, int x, caf::timespan limit) {
  caf::scoped_actor self{*sys_};
  bool ok = false;
  self->request(echo, limit, x)
      .receive([&](int y) { ok = y == x; }, [&](caf::error&) { ok = false; });
  return ok;
}

// -- raw_socket ---------------------------------------------------------------

raw_socket::raw_socket(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    return;
  auto addr = loopback_address(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  set_timeouts(fd_, 5000ms);
}

raw_socket::~raw_socket() {
  close();
}

void raw_socket::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool raw_socket::closed_by_peer_within(clock_type::duration limit) {
  auto deadline = clock_type::now() + limit;
  char buf[4096];
  while (clock_type::now() < deadline) {
    if (!readable_within(fd_, milliseconds_until(deadline)))
      continue;
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0)
      return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return true;
  }
  return false;
}

// -- raw_tls_client -----------------------------------------------------------

raw_tls_client::raw_tls_client(uint16_t port, const raw_tls_options& opts)
    : socket_(port) {
  ctx_ = make_raw_context(opts, false);
  ssl_ = SSL_new(ctx_);
  if (socket_.connected())
    SSL_set_fd(ssl_, socket_.fd());
}

raw_tls_client::~raw_tls_client() {
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
}

uint16_t raw_tls_client::local_port() const {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(socket_.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return 0;
  return ntohs(addr.sin_port);
}

bool raw_tls_client::handshake() {
  if (!socket_.connected()) {
    last_error_ = "not connected";
    return false;
  }
  ERR_clear_error();
  if (SSL_connect(ssl_) == 1)
    return true;
  last_error_ = ssl_errors();
  return false;
}

bool raw_tls_client::write_all(const std::vector<char>& bytes) {
  ERR_clear_error();
  return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
         static_cast<int>(bytes.size());
}

std::optional<std::vector<char>>
raw_tls_client::read_exactly(size_t n, clock_type::duration limit) {
  std::vector<char> result(n);
  size_t got = 0;
  auto deadline = clock_type::now() + limit;
  while (got < n) {
    if (clock_type::now() >= deadline)
      return std::nullopt;
    ERR_clear_error();
    auto r = SSL_read(ssl_, result.data() + got, static_cast<int>(n - got));
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    auto err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ) // SO_RCVTIMEO makes a slow read WANT_READ
      return std::nullopt;
  }
  return result;
}

bool raw_tls_client::closed_by_peer_within(clock_type::duration limit) {
  auto deadline = clock_type::now() + limit;
  char buf[4096];
  while (clock_type::now() < deadline) {
    if (SSL_pending(ssl_) == 0 &&
        !readable_within(socket_.fd(), milliseconds_until(deadline)))
      continue;
    ERR_clear_error();
    auto r = SSL_read(ssl_, buf, sizeof(buf));
    if (r > 0)
      continue;
    auto err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ)
      return true;
  }
  return false;
}

// -- raw_tls_server -----------------------------------------------------------

raw_tls_server::raw_tls_server(const raw_tls_options& opts) {
  ctx_ = make_raw_context(opts, true);
  listener_ = listen_on_free_port(port_);
  thread_ = std::thread{[this] {
    int fd = -1;
    while (!stop_ && fd < 0)
      if (readable_within(listener_, 50))
        fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0)
      return;
    set_timeouts(fd, 5000ms);
    auto ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    ERR_clear_error();
    result_ = SSL_accept(ssl) == 1 ? 1 : 0;
    ERR_clear_error();
    while (!stop_)
      std::this_thread::sleep_for(10ms);
    SSL_free(ssl);
    ::close(fd);
  }};
}

raw_tls_server::~raw_tls_server() {
  stop();
  SSL_CTX_free(ctx_);
}

std::optional<bool> raw_tls_server::handshake_result(clock_type::duration limit) {
  eventually([this] { return result_ >= 0; }, limit);
  if (result_ < 0)
    return std::nullopt;
  return result_ == 1;
}

void raw_tls_server::stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
  if (listener_ >= 0)
    ::close(listener_);
  listener_ = -1;
}

// -- silent_server ------------------------------------------------------------

silent_server::silent_server() {
  listener_ = listen_on_free_port(port_);
  thread_ = std::thread{[this] {
    std::vector<int> fds;
    while (!stop_)
      if (readable_within(listener_, 50)) {
        auto fd = ::accept(listener_, nullptr, nullptr);
        if (fd >= 0)
          fds.push_back(fd);
      }
    for (auto fd : fds)
      ::close(fd);
  }};
}

silent_server::~silent_server() {
  stop_ = true;
  thread_.join();
  ::close(listener_);
}

} // namespace conflux::tls_test
