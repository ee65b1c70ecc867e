// TLS 1.3 only, whichever side dials.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>

namespace conflux::tls_test {

TEST_CASE("tls_1_2_is_refused") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  auto server_files = write_credentials(dir, "server", ca, leaf("server"), ca);
  auto peer_files = write_credentials(dir, "peer", ca, leaf("peer"), ca);
  SUBCASE("from a peer that dials in") {
    tls_node server{server_files};
    auto port = server.publish_echo();
    REQUIRE(port);
    raw_tls_client old_peer{*port, {peer_files, TLS1_2_VERSION}};
    CHECK_FALSE(old_peer.handshake());
    CAPTURE(old_peer.last_error());
    // The same peer speaking TLS 1.3 gets through the TLS handshake.
    raw_tls_client peer{*port, {peer_files, 0}};
    CHECK(peer.handshake());
  }
  SUBCASE("by a node that dials out") {
    tls_node client{peer_files};
    raw_tls_server old_server{{server_files, TLS1_2_VERSION}};
    CHECK_FALSE(client.dial(old_server.port(), caf::timespan{3s}));
    auto completed = old_server.handshake_result(patience);
    REQUIRE(completed.has_value());
    CHECK_FALSE(*completed);
  }
}

} // namespace conflux::tls_test
