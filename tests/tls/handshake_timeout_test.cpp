// A connection that has not completed its TLS and BASP handshakes within
// openssl.handshake-timeout is closed, whichever side dialled.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>
#include <mutex>
#include <thread>

namespace conflux::tls_test {

namespace {

settings handshake_timeout(caf::timespan t) {
  return
      [t](caf::actor_system_config& cfg) { cfg.set("openssl.handshake-timeout", t); };
}

clock_type::duration left_until(clock_type::time_point deadline) {
  auto now = clock_type::now();
  return deadline > now ? deadline - now : clock_type::duration::zero();
}

} // namespace

TEST_CASE("an_idle_connection_is_closed_after_the_handshake_timeout") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  std::mutex mtx;
  std::vector<std::string> refusals;
  tls_node server{write_credentials(dir, "server", ca, leaf("server"), ca),
                  handshake_timeout(caf::timespan{1s})};
  server.tls().set_refusal_listener(
      [&](const std::string& address, const std::string& reason) {
        std::lock_guard<std::mutex> guard{mtx};
        refusals.push_back(address + ": " + reason);
      });
  auto port = server.publish_echo();
  REQUIRE(port);
  tls_node alice{write_credentials(dir, "alice", ca, leaf("alice"), ca)};
  auto echo = alice.dial(*port);
  REQUIRE(echo);
  auto start = clock_type::now();
  // Connections that never start TLS...
  std::vector<std::unique_ptr<raw_socket>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<raw_socket>(*port));
    REQUIRE(idle.back()->connected());
  }
  // ...and one that completes TLS and never speaks BASP.
  raw_tls_client mute{*port, {write_credentials(dir, "mute", ca, leaf("mute"), ca)}};
  REQUIRE(mute.handshake());
  auto deadline = start + patience;
  for (auto& s : idle)
    CHECK(s->closed_by_peer_within(left_until(deadline)));
  CHECK(mute.closed_by_peer_within(left_until(deadline)));
  // Not before their time (with some slack for coarse timers).
  CHECK(clock_type::now() - start >= 900ms);
  // The connection that completed its handshakes before stays up.
  CHECK(alice.echoes(*echo, 2));
  // The server reports a refusal after it closed the socket, so the last
  // report may still be on its way when the client saw the close: wait for
  // it (bounded), then require exactly one per connection.
  auto reported = [&] {
    std::lock_guard<std::mutex> guard{mtx};
    return refusals.size();
  };
  while (reported() < 21 && clock_type::now() < deadline)
    std::this_thread::sleep_for(10ms);
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(refusals.size() == 21);
  for (auto& line : refusals)
    CHECK(line.find(": no TLS and BASP handshake within 1s") != std::string::npos);
  server.tls().set_refusal_listener({});
}

TEST_CASE(
    "a_dialled_peer_that_never_answers_fails_the_connect_after_the_handshake_timeout") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  tls_node alice{write_credentials(dir, "alice", ca, leaf("alice"), ca),
                 handshake_timeout(caf::timespan{1s})};
  silent_server silent;
  auto start = clock_type::now();
  auto dialled = alice.dial(silent.port(), caf::timespan{8s});
  REQUIRE_FALSE(dialled);
  CHECK(dialled.error() != caf::sec::request_timeout);
  CHECK(clock_type::now() - start < 8s);
}

TEST_CASE("a_handshake_timeout_that_is_not_positive_is_an_error") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  tls_node node{write_credentials(dir, "node", ca, leaf("node"), ca),
                handshake_timeout(caf::timespan{0})};
  auto port = node.publish_echo();
  REQUIRE_FALSE(port);
  CHECK(port.error().category() == caf::openssl::errc_category);
  CHECK(node.render(port.error()).find("openssl.handshake-timeout") !=
        std::string::npos);
}

} // namespace conflux::tls_test
