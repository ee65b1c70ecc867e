// The refusal counters of the patched CAF (caf/io/basp/drop_counters.hpp),
// in process: an actor published by an actor system of this process, the
// attacks of attacks.hpp against it, and the counters and the reporter read
// directly. Also the settings: middleman.max-payload,
// deserialization.max-nesting-depth, middleman.handshake-timeout and
// middleman.idle-timeout (set short here so that the tests stay fast).

#include "tests/integration/cluster.hpp"
#include "tests/security/attacks.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/basp/drop_counters.hpp>
#include <doctest/doctest.h>
#include <functional>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace conflux::security {

namespace {

using caf::io::basp::drop_counts;
using caf::io::basp::drop_reason;
using caf::io::basp::read_drop_counters;
using itest::eventually;
using namespace std::chrono_literals;

// What the reporter was told; the reporter must be a plain function.
std::mutex g_mtx;
std::vector<std::pair<drop_reason, std::string>> g_reported;

void collect(drop_reason reason, const std::string& what) {
  std::lock_guard<std::mutex> guard{g_mtx};
  g_reported.emplace_back(reason, what);
}

std::vector<std::pair<drop_reason, std::string>> reported() {
  std::lock_guard<std::mutex> guard{g_mtx};
  return g_reported;
}

/// Installs `collect` as the drop reporter for its lifetime.
class collecting_reporter {
public:
  collecting_reporter() {
    {
      std::lock_guard<std::mutex> guard{g_mtx};
      g_reported.clear();
    }
    previous_ = caf::io::basp::set_drop_reporter(collect);
  }
  ~collecting_reporter() { caf::io::basp::set_drop_reporter(previous_); }
  collecting_reporter(const collecting_reporter&) = delete;
  collecting_reporter& operator=(const collecting_reporter&) = delete;

private:
  caf::io::basp::drop_reporter previous_ = nullptr;
};

/// An actor published on a free loopback port by its own actor system. It
/// answers an int with the same int and counts the messages that arrive
/// holding a caf::message.
class published_actor {
public:
  explicit published_actor(std::function<void(caf::actor_system_config&)> tune = {}) {
    cfg_.load<caf::io::middleman>();
    if (tune)
      tune(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    auto received = received_;
    actor_ = sys_->spawn([received]() -> caf::behavior {
      return {
          [](int x) { return x; },
          [received](const caf::message&) { ++*received; },
      };
    });
    auto port = sys_->middleman().publish(actor_, 0, "127.0.0.1");
    REQUIRE_MESSAGE(static_cast<bool>(port),
                    "publish failed: " << sys_->render(port.error()));
    port_ = *port;
  }
  ~published_actor() { caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown); }
  published_actor(const published_actor&) = delete;
  published_actor& operator=(const published_actor&) = delete;

  attack_options options(ms wait = 500ms) const {
    attack_options o;
    o.target.port = port_;
    o.wait = wait;
    return o;
  }

  /// The actor still answers a request.
  bool alive() {
    caf::scoped_actor self{*sys_};
    bool answered = false;
    self->request(actor_, std::chrono::seconds(2), 42)
        .receive([&](int x) { answered = x == 42; }, [](caf::error&) {});
    return answered;
  }

  int messages_holding_a_message() const { return received_->load(); }

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<std::atomic<int>> received_ = std::make_shared<std::atomic<int>>(0);
  caf::actor actor_;
  std::uint16_t port_ = 0;
};

attack_report run(const char* name, const attack_options& o) {
  auto attack = find_attack(name);
  REQUIRE(attack != nullptr);
  auto r = attack->run(o);
  INFO("attack " << name << ": " << r.to_line());
  REQUIRE(r.ran);
  return r;
}

/// How many of `reason` were counted after `before`.
std::uint64_t counted_since(const drop_counts& before, drop_reason reason) {
  return read_drop_counters()[reason] - before[reason];
}

/// Waits (bounded) until `reason` was counted `n` times after `before`: BASP
/// workers count asynchronously.
bool wait_counted(const drop_counts& before, drop_reason reason, std::uint64_t n) {
  return eventually([&] { return counted_since(before, reason) >= n; }, 2s, 10ms);
}

/// Tunes a published_actor: handshake and idle timeouts, and heartbeats.
std::function<void(caf::actor_system_config&)>
timeouts(caf::timespan handshake, caf::timespan idle, caf::timespan heartbeat = {}) {
  return [=](caf::actor_system_config& cfg) {
    cfg.set("middleman.handshake-timeout", handshake);
    cfg.set("middleman.idle-timeout", idle);
    if (heartbeat.count() > 0)
      cfg.set("middleman.heartbeat-interval", heartbeat);
  };
}

bytes heartbeat_frame() {
  return encode(basp_header{});
}

/// A request (CAF's info request) from the attacker's actor 1 to `dest`,
/// which the node answers.
bytes request_frame(const basp_forge& forge, std::uint64_t dest, std::uint64_t n) {
  basp_header h;
  h.op = basp_op::direct_message;
  h.operation_data = request_message_id(n);
  h.source_actor = 1;
  h.dest_actor = dest;
  return frame(h, forge.info_request());
}

/// Sends `each` every `period` and reads what arrives, until the node closes
/// the connection or `limit` passed. Returns when it closed (since the call).
template <class Each>
std::optional<ms> keep_sending_until_closed(raw_connection& conn, Each each, ms period,
                                            ms limit) {
  auto start = clock::now();
  while (clock::now() - start < limit) {
    if (!conn.send(each()) || conn.wait_closed(period))
      return std::chrono::duration_cast<ms>(clock::now() - start);
  }
  return std::nullopt;
}

/// A TCP listener on a free loopback port that never accepts: the kernel
/// completes connections to it, nothing ever answers them.
class mute_listener {
public:
  mute_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
  }
  ~mute_listener() { ::close(fd_); }
  mute_listener(const mute_listener&) = delete;
  mute_listener& operator=(const mute_listener&) = delete;
  std::uint16_t port() const { return port_; }

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

} // namespace

TEST_CASE("each_refusal_is_counted_once_under_its_reason_and_reported") {
  struct expectation {
    const char* attack;
    drop_reason reason;
  };
  const std::vector<expectation> cases{
      {"oversized-header", drop_reason::oversized_payload},
      {"handshake-without-payload", drop_reason::malformed_header},
      {"message-before-handshake", drop_reason::before_handshake},
      {"routed-message", drop_reason::routed},
      {"down-operation", drop_reason::routed},
      {"remote-exit", drop_reason::remote_system_message},
      {"remote-error", drop_reason::remote_system_message},
      {"remote-link", drop_reason::remote_system_message},
      {"forged-down-msg", drop_reason::remote_system_message},
      {"nested-message", drop_reason::nesting_too_deep},
      {"nested-config-value", drop_reason::nesting_too_deep},
      {"unknown-variant-tag", drop_reason::undeserializable},
      {"huge-byte-buffer", drop_reason::undeserializable},
  };
  collecting_reporter reporter;
  published_actor target;
  for (auto& x : cases) {
    INFO("attack " << x.attack << ", reason " << to_string(x.reason));
    auto before = read_drop_counters();
    auto n_reported = reported().size();
    run(x.attack, target.options(200ms));
    CHECK(wait_counted(before, x.reason, 1));
    // Exactly once, and under no other reason.
    std::this_thread::sleep_for(50ms);
    auto after = read_drop_counters();
    CHECK(after.total() - before.total() == 1);
    CHECK(counted_since(before, x.reason) == 1);
    auto lines = reported();
    REQUIRE(lines.size() == n_reported + 1);
    CHECK(lines.back().first == x.reason);
    CHECK_FALSE(lines.back().second.empty());
  }
  CHECK(target.alive());
}

TEST_CASE("the_payload_limit_is_the_middleman_max_payload_setting") {
  collecting_reporter reporter;
  // About 6 KB of payload: refused as too large under a 4 KiB limit before
  // it is read; under the default limit it is read and refused for its
  // nesting instead.
  attack_options o;
  o.depth = 3000;
  {
    published_actor small{
        [](caf::actor_system_config& cfg) { cfg.set("middleman.max-payload", 4096); }};
    auto before = read_drop_counters();
    auto r = run("nested-config-value", [&] {
      auto x = small.options();
      x.depth = o.depth;
      return x;
    }());
    CHECK(r.closed);
    CHECK(wait_counted(before, drop_reason::oversized_payload, 1));
    CHECK(counted_since(before, drop_reason::nesting_too_deep) == 0);
  }
  {
    published_actor normal;
    auto before = read_drop_counters();
    auto r = run("nested-config-value", [&] {
      auto x = normal.options();
      x.depth = o.depth;
      return x;
    }());
    CHECK(r.closed);
    CHECK(wait_counted(before, drop_reason::nesting_too_deep, 1));
    CHECK(counted_since(before, drop_reason::oversized_payload) == 0);
  }
}

TEST_CASE("the_nesting_limit_is_the_deserialization_max_nesting_depth_setting") {
  collecting_reporter reporter;
  // nested-message with depth d sends d + 1 messages, one inside the other.
  published_actor target{[](caf::actor_system_config& cfg) {
    cfg.set("deserialization.max-nesting-depth", 8);
  }};
  auto at_limit = target.options(300ms);
  at_limit.depth = 7;
  auto before = read_drop_counters();
  auto r = run("nested-message", at_limit);
  CHECK_FALSE(r.closed);
  CHECK(eventually([&] { return target.messages_holding_a_message() == 1; }, 2s, 10ms));
  CHECK(read_drop_counters().total() == before.total());

  auto beyond = at_limit;
  beyond.depth = 8;
  r = run("nested-message", beyond);
  CHECK(r.closed);
  CHECK(wait_counted(before, drop_reason::nesting_too_deep, 1));
  CHECK(target.messages_holding_a_message() == 1);
  CHECK(target.alive());
}

TEST_CASE("the_default_nesting_limit_is_64_levels") {
  collecting_reporter reporter;
  published_actor target;
  auto at_limit = target.options(300ms);
  at_limit.depth = 63;
  auto before = read_drop_counters();
  CHECK_FALSE(run("nested-message", at_limit).closed);
  CHECK(eventually([&] { return target.messages_holding_a_message() == 1; }, 2s, 10ms));
  auto beyond = at_limit;
  beyond.depth = 64;
  CHECK(run("nested-message", beyond).closed);
  CHECK(wait_counted(before, drop_reason::nesting_too_deep, 1));
}

TEST_CASE("a_connection_that_sends_nothing_is_closed_after_the_handshake_timeout") {
  collecting_reporter reporter;
  published_actor target{timeouts(300ms, 0s)};
  auto before = read_drop_counters();
  auto conn = raw_connection::open("127.0.0.1", target.options().target.port, 2s);
  REQUIRE(conn != nullptr);
  auto closed = conn->wait_closed(3s);
  REQUIRE(closed.has_value());
  CHECK(closed->count() >= 200);
  CHECK(wait_counted(before, drop_reason::handshake_timeout, 1));
  CHECK(read_drop_counters().total() - before.total() == 1);
  auto lines = reported();
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back().first == drop_reason::handshake_timeout);
  CHECK(lines.back().second.find("middleman.handshake-timeout") != std::string::npos);
  CHECK(target.alive());
}

TEST_CASE(
    "a_connection_that_sent_half_a_header_is_closed_after_the_handshake_timeout") {
  collecting_reporter reporter;
  published_actor target{timeouts(300ms, 0s)};
  auto before = read_drop_counters();
  auto conn = raw_connection::open("127.0.0.1", target.options().target.port, 2s);
  REQUIRE(conn != nullptr);
  basp_header h;
  h.op = basp_op::client_handshake;
  h.payload_len = 100;
  REQUIRE(conn->send(encode(h).substr(0, basp_header_size / 2)));
  auto closed = conn->wait_closed(3s);
  REQUIRE(closed.has_value());
  CHECK(wait_counted(before, drop_reason::handshake_timeout, 1));
  // A whole handshake header whose payload never comes: the same.
  conn = raw_connection::open("127.0.0.1", target.options().target.port, 2s);
  REQUIRE(conn != nullptr);
  REQUIRE(conn->send(encode(h)));
  CHECK(conn->wait_closed(3s).has_value());
  CHECK(wait_counted(before, drop_reason::handshake_timeout, 2));
  CHECK(read_drop_counters().total() - before.total() == 2);
}

TEST_CASE("a_completed_handshake_is_not_ended_by_the_handshake_timeout") {
  // Guards against closing too much: a peer past its handshake may stay.
  collecting_reporter reporter;
  published_actor target{timeouts(300ms, 0s)};
  auto before = read_drop_counters();
  basp_forge forge;
  auto peer = connect_as_peer(forge, "127.0.0.1", target.options().target.port, 2s);
  REQUIRE(peer.has_value());
  CHECK_FALSE(peer->conn->wait_closed(1200ms).has_value());
  CHECK(read_drop_counters().total() == before.total());
}

TEST_CASE(
    "a_dialled_peer_that_never_answers_fails_the_connect_after_the_handshake_timeout") {
  collecting_reporter reporter;
  mute_listener mute;
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.handshake-timeout", caf::timespan{300ms});
  caf::actor_system sys{cfg};
  auto before = read_drop_counters();
  caf::scoped_actor self{sys};
  auto start = clock::now();
  std::optional<caf::error> failure;
  self->request(sys.middleman().actor_handle(), 5s, caf::connect_atom::value,
                std::string{"127.0.0.1"}, mute.port())
      .receive([](caf::node_id&, caf::strong_actor_ptr&, std::set<std::string>&) {},
               [&](caf::error& e) { failure = e; });
  auto took = std::chrono::duration_cast<ms>(clock::now() - start);
  REQUIRE(failure.has_value());
  CHECK(*failure == caf::sec::connection_timeout);
  CHECK(took < 3s);
  CHECK(wait_counted(before, drop_reason::handshake_timeout, 1));
}

TEST_CASE("a_peer_that_sends_only_heartbeats_is_closed_after_the_idle_timeout") {
  collecting_reporter reporter;
  published_actor target{timeouts(10s, 500ms, 50ms)};
  auto before = read_drop_counters();
  basp_forge forge;
  auto peer = connect_as_peer(forge, "127.0.0.1", target.options().target.port, 2s);
  REQUIRE(peer.has_value());
  auto closed = keep_sending_until_closed(*peer->conn, heartbeat_frame, 50ms, 4s);
  REQUIRE(closed.has_value());
  CHECK(closed->count() >= 350);
  CHECK(wait_counted(before, drop_reason::idle_timeout, 1));
  CHECK(read_drop_counters().total() - before.total() == 1);
  auto lines = reported();
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back().first == drop_reason::idle_timeout);
  CHECK(lines.back().second.find("middleman.idle-timeout") != std::string::npos);
  CHECK(target.alive());
}

TEST_CASE("a_connection_carrying_messages_stays_open_past_the_idle_timeout") {
  collecting_reporter reporter;
  published_actor target{timeouts(10s, 500ms, 50ms)};
  auto before = read_drop_counters();
  basp_forge forge;
  auto peer = connect_as_peer(forge, "127.0.0.1", target.options().target.port, 2s);
  REQUIRE(peer.has_value());
  // Three idle timeouts of requests and answers: the connection stays.
  std::uint64_t n = 0;
  auto request = [&] { return request_frame(forge, peer->hello.published_actor, ++n); };
  CHECK_FALSE(
      keep_sending_until_closed(*peer->conn, request, 100ms, 1500ms).has_value());
  CHECK(counted_since(before, drop_reason::idle_timeout) == 0);
  // Then only heartbeats: it is idle from the last request on.
  auto closed = keep_sending_until_closed(*peer->conn, heartbeat_frame, 50ms, 4s);
  REQUIRE(closed.has_value());
  CHECK(closed->count() >= 350);
  CHECK(wait_counted(before, drop_reason::idle_timeout, 1));
}

TEST_CASE("an_idle_timeout_of_zero_keeps_idle_connections") {
  collecting_reporter reporter;
  published_actor target{timeouts(300ms, 0s, 50ms)};
  auto before = read_drop_counters();
  basp_forge forge;
  auto peer = connect_as_peer(forge, "127.0.0.1", target.options().target.port, 2s);
  REQUIRE(peer.has_value());
  CHECK_FALSE(keep_sending_until_closed(*peer->conn, heartbeat_frame, 50ms, 1200ms)
                  .has_value());
  CHECK(read_drop_counters().total() == before.total());
}

} // namespace conflux::security
