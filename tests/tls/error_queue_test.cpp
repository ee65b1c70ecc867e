// OpenSSL keeps errors per thread, and one multiplexer thread serves every
// connection of a node: an error one connection leaves behind must not be read
// as another connection's failure.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>

namespace conflux::tls_test {

TEST_CASE("a_failed_tls_connection_does_not_close_healthy_ones") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  test_ca foreign{"foreign CA"};
  auto server_files = write_credentials(dir, "server", ca, leaf("server"), ca);
  auto client_files = write_credentials(dir, "client", ca, leaf("client"), ca);
  // Trusts our CA but presents a certificate of another one: refused.
  auto stranger_files =
      write_credentials(dir, "stranger", foreign, leaf("stranger"), ca);
  // Presents a certificate of another CA and trusts only that one.
  auto foreign_files =
      write_credentials(dir, "foreign", foreign, leaf("foreign"), foreign);
  tls_node server{server_files};
  auto port = server.publish_echo();
  REQUIRE(port);
  tls_node client{client_files};
  auto echo = client.dial(*port);
  REQUIRE(echo);
  REQUIRE(client.echoes(*echo, 1));
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    // Connections that end before or during the handshake, as port scanners
    // and health checks do...
    for (int i = 0; i < 3; ++i) {
      raw_socket probe{*port};
      REQUIRE(probe.connected());
    }
    // ...and one the server refuses; it has failed once the server closed it.
    raw_tls_client stranger{*port, {stranger_files}};
    stranger.handshake();
    REQUIRE(stranger.closed_by_peer_within(patience));
    CHECK(client.echoes(*echo, 10 + round));
  }
  // The same holds on the dialling side: a connection the client fails to make
  // leaves its open ones alone.
  tls_node foreign_server{foreign_files};
  auto foreign_port = foreign_server.publish_echo();
  REQUIRE(foreign_port);
  CHECK_FALSE(client.dial(*foreign_port));
  CHECK(client.echoes(*echo, 20));
}

} // namespace conflux::tls_test
