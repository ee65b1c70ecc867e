#include "tests/apps/cli_client_fixture.hpp"

#include "actors/client.hpp"
#include "actors/interfaces.hpp"
#include "actors/remoting.hpp"
#include "apps/cli/cli_client_access.hpp"
#include "protocol/codec.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace conflux::clitest {

namespace {

using actors::client_session_actor;
using actors::node_endpoint_actor;
using actors::status_atom;
using clock_type = std::chrono::steady_clock;

std::unique_ptr<actors::client_runtime> g_runtime;
std::unique_ptr<caf::actor_system_config> g_server_cfg;
std::unique_ptr<caf::actor_system> g_server_sys;

/// The fake nodes and the client speak plain text on loopback: these tests
/// are about the CLI, and the transport has tests of its own.
actors::transport_settings in_process_plaintext() {
  actors::transport_settings t;
  t.insecure_plaintext = true;
  return t;
}

/// The actor system the fake nodes live in (apart from the client's).
caf::actor_system& server_system() {
  if (!g_server_sys) {
    g_server_cfg = std::make_unique<caf::actor_system_config>();
    actors::configure_remoting(*g_server_cfg, in_process_plaintext());
    g_server_sys = std::make_unique<caf::actor_system>(*g_server_cfg);
  }
  return *g_server_sys;
}

std::string loopback(ip_family f) {
  return f == ip_family::v4 ? "127.0.0.1" : "::1";
}

std::string endpoint_text(ip_family f, std::uint16_t port) {
  return (f == ip_family::v4 ? "127.0.0.1:" : "[::1]:") + std::to_string(port);
}

/// A TCP socket bound to loopback on a free port; its fd and port.
std::pair<int, std::uint16_t> bind_loopback(ip_family f) {
  int fd =
      ::socket(f == ip_family::v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket() failed");
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (f == ip_family::v4) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof(sockaddr_in6);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  auto port = f == ip_family::v4 ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                 : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port;
  return {fd, ntohs(port)};
}

// -- the fake node's actors ---------------------------------------------------

struct node_shared {
  write_mode mode = write_mode::answer;
  std::string address;
  /// lost_leadership: the leader the node names.
  std::string leader_elsewhere;
  std::atomic<std::size_t> writes{0};
};

struct fake_session_state {
  static inline const char* name = "fake_session";
  /// Requests deliberately left unanswered (kept so nothing answers them).
  std::vector<caf::typed_response_promise<rpc::client_reply>> held;
};

rpc::client_reply applied(session_id session) {
  apply_result r;
  r.revision = 9;
  r.version = session == 0 ? 2 : 0;
  r.session = session;
  rpc::client_reply reply;
  reply.node_id = 1;
  reply.items.push_back(codec::encode(r));
  return reply;
}

bool opens_a_session(const rpc::client_request& req) {
  auto env = codec::decode_command(req.payload);
  return env.ok() && std::holds_alternative<open_session>(env->cmd);
}

client_session_actor::behavior_type
fake_session(client_session_actor::stateful_pointer<fake_session_state> self,
             std::shared_ptr<node_shared> shared) {
  return {
      [=](rpc::client_request& req) -> caf::result<rpc::client_reply> {
        auto op = static_cast<rpc::request_op>(req.op);
        if (op == rpc::request_op::write) {
          ++shared->writes;
          bool opening = opens_a_session(req);
          if (shared->mode == write_mode::answer ||
              (opening && shared->mode == write_mode::open_sessions_only) ||
              (opening && shared->mode == write_mode::lost_leadership))
            return applied(opening ? 1 : 0);
          if (shared->mode == write_mode::lost_leadership) {
            rpc::client_reply lost;
            lost.code = static_cast<std::uint8_t>(errc::timeout);
            lost.message = "leadership moved before the write was known to commit";
            lost.node_id = 1;
            lost.leader_id = 2;
            lost.leader_address = shared->leader_elsewhere;
            return lost;
          }
          auto rp = self->make_response_promise<rpc::client_reply>();
          self->state.held.push_back(rp);
          return rp;
        }
        rpc::client_reply reply;
        reply.node_id = 1;
        if (op == rpc::request_op::add_member || op == rpc::request_op::remove_member)
          reply.extra = 17;
        else if (op == rpc::request_op::transfer_leader)
          reply.extra = 2;
        else
          reply.code = static_cast<std::uint8_t>(errc::not_found);
        return reply;
      },
      [=](status_atom) {
        rpc::status_reply s;
        s.id = 1;
        s.address = shared->address;
        s.role = "leader";
        s.term = 2;
        s.leader_id = 1;
        s.leader_address = shared->address;
        s.cluster_id = "fake";
        s.members.push_back({1, shared->address, "voter", 0, 0});
        return s;
      },
      [=](rpc::watch_request&) {},
      [=](rpc::watch_ack&) {},
      [=](rpc::watch_cancel&) {},
      [=](caf::close_atom) { self->quit(); },
  };
}

node_endpoint_actor::behavior_type fake_endpoint(node_endpoint_actor::pointer self,
                                                 std::shared_ptr<node_shared> shared) {
  return {
      [=](rpc::peer_batch&) { return std::uint64_t{0}; },
      [=](rpc::snapshot_chunk&) { return rpc::snapshot_chunk_reply{}; },
      [=](rpc::client_hello&) -> caf::result<caf::strong_actor_ptr, rpc::hello_status> {
        if (shared->mode == write_mode::full)
          return {caf::strong_actor_ptr{},
                  rpc::hello_status{
                      static_cast<std::uint8_t>(errc::resource_exhausted),
                      "node 1 has 4096 client sessions open, its limit "
                      "(--max-sessions); retry later, use another node, or raise "
                      "--max-sessions"}};
        // Linked: the sessions end with the endpoint.
        auto s = self->spawn<caf::linked>(fake_session, shared);
        return caf::result<caf::strong_actor_ptr, rpc::hello_status>{
            caf::actor_cast<caf::strong_actor_ptr>(s), rpc::hello_status{}};
      },
  };
}

} // namespace

actors::client_runtime& client_runtime() {
  if (!g_runtime)
    g_runtime = std::make_unique<actors::client_runtime>(in_process_plaintext());
  return *g_runtime;
}

std::uint16_t closed_port(ip_family family) {
  auto [fd, port] = bind_loopback(family);
  ::close(fd);
  return port;
}

// -- plain_server -------------------------------------------------------------

struct plain_server::impl {
  int listener = -1;
  std::uint16_t port = 0;
  ip_family family = ip_family::v4;
  std::atomic<bool> stop{false};
  std::vector<int> held;
  std::thread loop;
};

plain_server::plain_server(std::string greeting, then after, ip_family family)
    : impl_(std::make_unique<impl>()) {
  auto [fd, port] = bind_loopback(family);
  impl_->listener = fd;
  impl_->port = port;
  impl_->family = family;
  if (::listen(fd, 16) != 0)
    throw std::runtime_error("listen() failed");
  impl_->loop = std::thread([s = impl_.get(), greeting = std::move(greeting), after] {
    while (!s->stop.load()) {
      pollfd p{s->listener, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      int c = ::accept4(s->listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      if (!greeting.empty())
        (void)::send(c, greeting.data(), greeting.size(), MSG_NOSIGNAL);
      if (after == then::close)
        ::close(c);
      else
        s->held.push_back(c);
    }
  });
}

plain_server::~plain_server() {
  impl_->stop = true;
  impl_->loop.join();
  for (int c : impl_->held)
    ::close(c);
  ::close(impl_->listener);
}

std::string plain_server::endpoint() const {
  return endpoint_text(impl_->family, impl_->port);
}

// -- fake_node ----------------------------------------------------------------

struct fake_node::impl {
  std::shared_ptr<node_shared> shared = std::make_shared<node_shared>();
  node_endpoint_actor endpoint;
  std::uint16_t port = 0;
  ip_family family = ip_family::v4;
};

fake_node::fake_node(write_mode mode, ip_family family, std::string leader_elsewhere)
    : impl_(std::make_unique<impl>()) {
  auto& sys = server_system();
  impl_->family = family;
  impl_->shared->mode = mode;
  impl_->shared->leader_elsewhere = std::move(leader_elsewhere);
  impl_->endpoint = sys.spawn(fake_endpoint, impl_->shared);
  auto host = loopback(family);
  auto port = sys.middleman().publish(impl_->endpoint, 0, host.c_str(), true);
  if (!port)
    throw std::runtime_error("cannot publish the fake node: " +
                             sys.render(port.error()));
  impl_->port = *port;
  impl_->shared->address = endpoint_text(family, *port);
}

fake_node::~fake_node() {
  auto& sys = server_system();
  (void)sys.middleman().unpublish(impl_->endpoint, impl_->port);
  caf::anon_send_exit(impl_->endpoint, caf::exit_reason::user_shutdown);
}

std::string fake_node::endpoint() const {
  return impl_->shared->address;
}

std::size_t fake_node::writes_seen() const {
  return impl_->shared->writes.load();
}

// -- running the CLI ----------------------------------------------------------

std::string cli_run::describe() const {
  std::ostringstream s;
  s << "exit " << code << " after " << took.count() << " ms; stdout: " << out
    << "; stderr: " << err;
  return s.str();
}

cli_run run_cli(std::vector<std::string> args) {
  args.push_back("--insecure-plaintext");
  auto parsed = cli::parse_command_line(args, nullptr);
  REQUIRE_MESSAGE(parsed.inv, parsed.err);
  auto started = clock_type::now();
  std::ostringstream out, err;
  cli_run r;
  r.code = cli::execute_with_client(*parsed.inv, client_runtime(), out, err);
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() -
                                                                 started);
  r.out = out.str();
  r.err = err.str();
  return r;
}

void shutdown_actor_systems() {
  g_runtime.reset();
  g_server_sys.reset();
  g_server_cfg.reset();
}

} // namespace conflux::clitest
