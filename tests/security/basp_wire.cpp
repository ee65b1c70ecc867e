#include "tests/security/basp_wire.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <random>
#include <set>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace conflux::security {

// -- header -------------------------------------------------------------------

namespace {

void put_be(bytes& out, std::uint64_t x, int n) {
  for (int i = n - 1; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xFF));
}

std::uint64_t get_be(const bytes& in, std::size_t at, int n) {
  std::uint64_t x = 0;
  for (int i = 0; i < n; ++i)
    x = (x << 8) | static_cast<std::uint8_t>(in[at + static_cast<std::size_t>(i)]);
  return x;
}

// CAF's varint length prefix of sequences and strings.
void put_varint(bytes& out, std::uint32_t x) {
  do {
    auto low7 = static_cast<std::uint8_t>(x & 0x7F);
    x >>= 7;
    if (x != 0)
      low7 |= 0x80;
    out.push_back(static_cast<char>(low7));
  } while (x != 0);
}

// The start of a caf::message on the wire: type number 0, then the type
// names of its elements ("@<>+@message" for one caf::message).
void put_message_start(bytes& out, const std::string& type_names) {
  put_be(out, 0, 2);
  put_varint(out, static_cast<std::uint32_t>(type_names.size()));
  out += type_names;
}

// A direct message's payload starts with its forwarding stages: none.
constexpr char no_stages = '\0';

} // namespace

bytes encode(const basp_header& h) {
  bytes out;
  out.reserve(basp_header_size);
  put_be(out, static_cast<std::uint8_t>(h.op), 1);
  put_be(out, 0, 2);
  put_be(out, h.flags, 1);
  put_be(out, h.payload_len, 4);
  put_be(out, h.operation_data, 8);
  put_be(out, h.source_actor, 8);
  put_be(out, h.dest_actor, 8);
  return out;
}

basp_header decode_header(const bytes& b) {
  basp_header h;
  h.op = static_cast<basp_op>(get_be(b, 0, 1));
  h.flags = static_cast<std::uint8_t>(get_be(b, 3, 1));
  h.payload_len = static_cast<std::uint32_t>(get_be(b, 4, 4));
  h.operation_data = get_be(b, 8, 8);
  h.source_actor = get_be(b, 16, 8);
  h.dest_actor = get_be(b, 24, 8);
  return h;
}

bytes frame(basp_header h, const bytes& payload) {
  h.payload_len = static_cast<std::uint32_t>(payload.size());
  return encode(h) + payload;
}

// -- raw_connection -------------------------------------------------------------

namespace {

int poll_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<ms>(deadline - clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// The reason OpenSSL gives for the last failure on this thread, or `fallback`.
std::string openssl_reason(const std::string& fallback) {
  auto code = ERR_peek_last_error();
  if (code == 0)
    return fallback;
  const char* r = ERR_reason_error_string(code);
  return r != nullptr ? std::string{r} : fallback;
}

} // namespace

struct raw_connection::tls_state {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~tls_state() {
    if (ssl != nullptr)
      SSL_free(ssl);
    if (ctx != nullptr)
      SSL_CTX_free(ctx);
  }
};

std::unique_ptr<raw_connection> raw_connection::open(const std::string& host,
                                                     std::uint16_t port, ms limit,
                                                     const tls_client* tls,
                                                     dial_failure* failure) {
  auto fail = [&](std::string why) -> std::unique_ptr<raw_connection> {
    if (failure != nullptr)
      failure->reason = std::move(why);
    return nullptr;
  };
  auto deadline = clock::now() + limit;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return fail("no socket");
  std::unique_ptr<raw_connection> conn{new raw_connection(fd)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return fail("not an IPv4 address: " + host);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS)
      return fail("cannot connect");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, poll_ms(deadline)) != 1)
      return fail("no connection within " + std::to_string(limit.count()) + " ms");
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
      return fail("cannot connect");
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (tls != nullptr && !conn->tls_handshake(*tls, deadline, failure))
    return nullptr;
  return conn;
}

bool raw_connection::tls_handshake(const tls_client& tls, clock::time_point deadline,
                                   dial_failure* failure) {
  auto fail = [&](std::string why, bool refused) {
    if (failure != nullptr) {
      failure->reason = "TLS: " + std::move(why);
      failure->tls_refused = refused;
    }
    return false;
  };
  ERR_clear_error();
  tls_ = std::make_unique<tls_state>();
  tls_->ctx = SSL_CTX_new(TLS_client_method());
  if (tls_->ctx == nullptr ||
      SSL_CTX_set_min_proto_version(tls_->ctx, TLS1_3_VERSION) != 1)
    return fail(openssl_reason("no TLS context"), false);
  SSL_CTX_set_verify(tls_->ctx, SSL_VERIFY_NONE, nullptr);
  if (!tls.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(tls_->ctx, tls.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(tls_->ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) !=
           1))
    return fail("cannot load " + tls.cert_file + " / " + tls.key_file + ": " +
                    openssl_reason("bad file"),
                false);
  tls_->ssl = SSL_new(tls_->ctx);
  if (tls_->ssl == nullptr || SSL_set_fd(tls_->ssl, fd_) != 1)
    return fail(openssl_reason("no TLS session"), false);
  SSL_set_connect_state(tls_->ssl);
  // Bounded by the deadline: every round either finishes or waits for the
  // socket until the deadline.
  for (;;) {
    ERR_clear_error();
    auto r = SSL_connect(tls_->ssl);
    if (r == 1)
      break;
    auto e = SSL_get_error(tls_->ssl, r);
    io what = e == SSL_ERROR_WANT_READ    ? io::want_read
              : e == SSL_ERROR_WANT_WRITE ? io::want_write
                                          : io::closed;
    if (what == io::closed)
      return fail(openssl_reason("the node closed the connection during the handshake"),
                  true);
    if (!wait_for(what, deadline))
      return fail("no handshake within the time limit", false);
  }
  // TLS 1.3 checks the client's certificate after the client is done: a
  // refusal shows as an alert (or a close) instead of the node's first bytes.
  for (;;) {
    char c = 0;
    ERR_clear_error();
    auto r = SSL_peek(tls_->ssl, &c, 1);
    if (r > 0)
      return true;
    auto e = SSL_get_error(tls_->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(e == SSL_ERROR_WANT_READ ? io::want_read : io::want_write,
                    deadline))
        return true; // accepted, only silent; the attack's own reads time out
      continue;
    }
    return fail(openssl_reason("the node closed the connection after the handshake"),
                true);
  }
}

raw_connection::raw_connection(int fd) : fd_(fd) {}

raw_connection::~raw_connection() {
  tls_.reset();
  if (fd_ >= 0)
    ::close(fd_);
}

raw_connection::io raw_connection::send_some(const char* data, std::size_t len,
                                             std::size_t& n) {
  n = 0;
  if (!tls_) {
    auto r = ::send(fd_, data, len, MSG_NOSIGNAL);
    if (r > 0) {
      n = static_cast<std::size_t>(r);
      return io::done;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return io::want_write;
    return io::closed;
  }
  ERR_clear_error();
  auto r =
      SSL_write(tls_->ssl, data, static_cast<int>(std::min<std::size_t>(len, 1 << 20)));
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return io::done;
  }
  auto e = SSL_get_error(tls_->ssl, r);
  return e == SSL_ERROR_WANT_READ    ? io::want_read
         : e == SSL_ERROR_WANT_WRITE ? io::want_write
                                     : io::closed;
}

raw_connection::io raw_connection::recv_some(char* data, std::size_t len,
                                             std::size_t& n) {
  n = 0;
  if (!tls_) {
    auto r = ::recv(fd_, data, len, 0);
    if (r > 0) {
      n = static_cast<std::size_t>(r);
      return io::done;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return io::want_read;
    return io::closed;
  }
  ERR_clear_error();
  auto r =
      SSL_read(tls_->ssl, data, static_cast<int>(std::min<std::size_t>(len, 1 << 20)));
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return io::done;
  }
  auto e = SSL_get_error(tls_->ssl, r);
  return e == SSL_ERROR_WANT_READ    ? io::want_read
         : e == SSL_ERROR_WANT_WRITE ? io::want_write
                                     : io::closed;
}

bool raw_connection::wait_for(io what, clock::time_point deadline) {
  if (what == io::want_read && tls_ && SSL_pending(tls_->ssl) > 0)
    return true;
  for (;;) {
    pollfd p{fd_, static_cast<short>(what == io::want_write ? POLLOUT : POLLIN), 0};
    int r = ::poll(&p, 1, poll_ms(deadline));
    if (r < 0 && errno == EINTR)
      continue;
    return r > 0;
  }
}

bool raw_connection::send(const bytes& b) {
  std::size_t done = 0;
  // Bounded: every round either writes or waits at most 1 s for room, and
  // gives up after 10 s without progress.
  int idle_rounds = 0;
  while (done < b.size()) {
    std::size_t n = 0;
    auto r = send_some(b.data() + done, b.size() - done, n);
    if (r == io::done) {
      done += n;
      idle_rounds = 0;
      continue;
    }
    if (r == io::closed || ++idle_rounds > 10)
      return false;
    wait_for(r, clock::now() + ms{1000});
  }
  return true;
}

std::optional<bytes> raw_connection::read_exactly(std::size_t n,
                                                  clock::time_point deadline) {
  bytes out;
  out.reserve(std::min<std::size_t>(n, 1 << 20));
  char buf[65536];
  // Bounded by the deadline: every round reads or waits until it.
  while (out.size() < n) {
    if (clock::now() >= deadline)
      return std::nullopt;
    std::size_t got = 0;
    auto r = recv_some(buf, std::min(sizeof(buf), n - out.size()), got);
    if (r == io::closed)
      return std::nullopt;
    if (r != io::done) {
      if (!wait_for(r, deadline))
        return std::nullopt;
      continue;
    }
    out.append(buf, got);
  }
  return out;
}

std::optional<std::pair<basp_header, bytes>>
raw_connection::read_frame(clock::time_point deadline) {
  auto head = read_exactly(basp_header_size, deadline);
  if (!head)
    return std::nullopt;
  auto hdr = decode_header(*head);
  bytes payload;
  if (hdr.payload_len > 0) {
    auto p = read_exactly(hdr.payload_len, deadline);
    if (!p)
      return std::nullopt;
    payload = std::move(*p);
  }
  return std::make_pair(hdr, std::move(payload));
}

std::optional<ms> raw_connection::wait_closed(ms limit) {
  auto start = clock::now();
  auto deadline = start + limit;
  char buf[65536];
  // Bounded by the deadline: every round reads or waits until it.
  for (;;) {
    if (clock::now() >= deadline)
      return std::nullopt;
    std::size_t got = 0;
    auto r = recv_some(buf, sizeof(buf), got);
    if (r == io::closed)
      return std::chrono::duration_cast<ms>(clock::now() - start);
    if (r != io::done && !wait_for(r, deadline))
      return std::nullopt;
  }
}

// -- basp_forge ---------------------------------------------------------------

struct basp_forge::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::mt19937_64 rng{std::random_device{}()};
  caf::node_id node;
  bytes node_bytes;

  // A node id no real process has: a random host id and process id.
  caf::node_id made_up_node() {
    caf::node_id::default_data::host_id_type host;
    for (auto& b : host)
      b = static_cast<std::uint8_t>(rng() & 0xFF);
    host[0] = 0xAA; // never all zero (an invalid host id)
    return caf::make_node_id(static_cast<std::uint32_t>(rng() & 0xFFFFFF), host);
  }

  template <class... Ts>
  bytes serialize(Ts&&... xs) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    if (auto err = sink(std::forward<Ts>(xs)...))
      throw std::runtime_error("cannot serialize: " + sys->render(err));
    return bytes{buf.begin(), buf.end()};
  }
};

basp_forge::basp_forge() : impl_(std::make_unique<impl>()) {
  // One worker thread is plenty: the system only lends its context to the
  // serializer.
  impl_->cfg.set("scheduler.max-threads", 1);
  impl_->sys = std::make_unique<caf::actor_system>(impl_->cfg);
  impl_->node = impl_->made_up_node();
  impl_->node_bytes = impl_->serialize(impl_->node);
}

basp_forge::~basp_forge() = default;

const bytes& basp_forge::own_node() const {
  return impl_->node_bytes;
}

std::optional<node_hello>
basp_forge::parse_server_handshake(const bytes& payload) const {
  caf::binary_deserializer source{*impl_->sys, payload.data(), payload.size()};
  caf::node_id node;
  std::vector<std::string> app_ids;
  caf::actor_id aid = 0;
  std::set<std::string> interface;
  if (source(node, app_ids, aid, interface))
    return std::nullopt;
  node_hello out;
  out.node = impl_->serialize(node);
  out.node_text = caf::to_string(node);
  out.published_actor = aid;
  return out;
}

bytes basp_forge::stranger_node() const {
  return impl_->serialize(impl_->made_up_node());
}

bytes basp_forge::client_handshake() const {
  return impl_->node_bytes;
}

bytes basp_forge::exit_message() const {
  auto msg =
      caf::make_message(caf::exit_msg{caf::actor_addr{}, caf::exit_reason::kill});
  return no_stages + impl_->serialize(msg);
}

bytes basp_forge::error_message() const {
  auto msg = caf::make_message(caf::make_error(caf::sec::runtime_error));
  return no_stages + impl_->serialize(msg);
}

bytes basp_forge::link_request() const {
  // (link_atom, strong_actor_ptr) where the pointer names actor 1 of this
  // attacker's node: a strong_actor_ptr is its actor id, then its node id.
  bytes out(1, no_stages);
  put_message_start(out, "@<>+@atom+@strong_actor_ptr");
  out += impl_->serialize(caf::atom("link"), caf::actor_id{1});
  out += impl_->node_bytes;
  return out;
}

bytes basp_forge::down_msg(const bytes& node, std::uint64_t aid) const {
  // A down_msg is the address of the actor that went down (actor id, node
  // id), then the reason.
  bytes out(1, no_stages);
  put_message_start(out, "@<>+@down");
  out += impl_->serialize(caf::actor_id{aid});
  out += node;
  out += impl_->serialize(caf::error{caf::make_error(caf::exit_reason::kill)});
  return out;
}

bytes basp_forge::info_request() const {
  auto msg = caf::make_message(caf::atom("sys"), caf::atom("get"), std::string{"info"});
  return no_stages + impl_->serialize(msg);
}

bytes basp_forge::nested_message(std::size_t depth) {
  bytes out(1, no_stages);
  out.reserve(depth * 15 + 16);
  for (std::size_t i = 0; i < depth; ++i)
    put_message_start(out, "@<>+@message");
  put_message_start(out, "@<>"); // the innermost message is empty
  return out;
}

bytes basp_forge::nested_config_value(std::size_t depth) {
  // A config_value is a variant: one byte of type index (7 = list), then the
  // value; a list is a varint length, then its elements.
  constexpr char list_index = 7;
  constexpr char integer_index = 0;
  bytes out(1, no_stages);
  put_message_start(out, "@<>+@config_value");
  out.reserve(out.size() + depth * 2 + 9);
  for (std::size_t i = 0; i < depth; ++i) {
    out.push_back(list_index);
    put_varint(out, 1);
  }
  out.push_back(integer_index);
  put_be(out, 42, 8);
  return out;
}

bytes basp_forge::byte_buffer(std::uint32_t announced) {
  bytes out(1, no_stages);
  put_message_start(out, "@<>+@charbuf");
  put_varint(out, announced);
  out.append(16, 'x');
  return out;
}

bytes basp_forge::config_value_with_tag(std::uint8_t tag) {
  bytes out(1, no_stages);
  put_message_start(out, "@<>+@config_value");
  out.push_back(static_cast<char>(tag));
  put_be(out, 42, 8);
  return out;
}

bytes basp_forge::node_pair(const bytes& source_node, const bytes& dest_node) {
  return source_node + dest_node;
}

bytes basp_forge::down_operation(const bytes& source_node,
                                 const bytes& dest_node) const {
  return source_node + dest_node +
         impl_->serialize(caf::error{caf::make_error(caf::exit_reason::kill)});
}

// -- greetings ----------------------------------------------------------------

std::optional<greeted_connection> connect_and_read_hello(const basp_forge& forge,
                                                         const std::string& host,
                                                         std::uint16_t port, ms limit,
                                                         const tls_client* tls,
                                                         dial_failure* failure) {
  auto deadline = clock::now() + limit;
  auto conn = raw_connection::open(host, port, limit, tls, failure);
  if (!conn)
    return std::nullopt;
  auto no_hello = [&](const char* why) {
    if (failure != nullptr)
      failure->reason = why;
    return std::nullopt;
  };
  auto f = conn->read_frame(deadline);
  if (!f || f->first.op != basp_op::server_handshake)
    return no_hello("no BASP server handshake");
  auto hello = forge.parse_server_handshake(f->second);
  if (!hello)
    return no_hello("a server handshake that does not parse");
  return greeted_connection{std::move(conn), std::move(*hello)};
}

std::optional<greeted_connection>
connect_as_peer(const basp_forge& forge, const std::string& host, std::uint16_t port,
                ms limit, const tls_client* tls, dial_failure* failure) {
  auto g = connect_and_read_hello(forge, host, port, limit, tls, failure);
  if (!g)
    return std::nullopt;
  basp_header h;
  h.op = basp_op::client_handshake;
  if (!g->conn->send(frame(h, forge.client_handshake())))
    return std::nullopt;
  return g;
}

} // namespace conflux::security
