// Once a TLS connection has completed its TLS and BASP handshakes, the node
// knows which identity the peer's node id proved; every message from that node
// arrived on such a connection.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>

namespace conflux::tls_test {

namespace {

caf::openssl::peer_verdict accept_by_uri(const caf::openssl::peer_certificate& peer) {
  return caf::openssl::accept_peer(uri_of(peer.leaf));
}

// Answers with the identity of the node that sent the request.
caf::behavior identity_teller(caf::event_based_actor* self,
                              caf::openssl::manager* tls) {
  return {
      [=](caf::get_atom) -> std::string {
        auto identity = tls->peer_identity(self->current_sender()->node());
        return identity ? *identity : std::string{"<unknown>"};
      },
  };
}

std::string ask_identity(tls_node& node, const caf::actor& teller) {
  caf::scoped_actor self{node.sys()};
  std::string result = "<no answer>";
  self->request(teller, caf::timespan{patience}, caf::get_atom::value)
      .receive([&](std::string& x) { result = std::move(x); },
               [&](caf::error& err) { result = node.render(err); });
  return result;
}

} // namespace

TEST_CASE("the_identity_a_peer_proved_is_known_by_its_node_id") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  auto server_files =
      write_credentials(dir, "server", ca, leaf("n1", "conflux://test/node/1"), ca);
  auto alice_files =
      write_credentials(dir, "alice", ca, leaf("n2", "conflux://test/node/2"), ca);
  bool with_verifier = true;
  std::string alice_identity = "conflux://test/node/2";
  std::string server_identity = "conflux://test/node/1";
  SUBCASE("what the verifier accepted the certificate as") {}
  SUBCASE("without a verifier, the certificate's subject") {
    with_verifier = false;
    alice_identity = "CN=n2";
    server_identity = "CN=n1";
  }
  tls_node server{server_files};
  if (with_verifier)
    server.tls().set_peer_verifier(accept_by_uri);
  auto teller = server.spawn(identity_teller, &server.tls());
  auto port = server.publish(teller);
  REQUIRE(port);
  caf::node_id alice_node;
  {
    tls_node alice{alice_files};
    if (with_verifier)
      alice.tls().set_peer_verifier(accept_by_uri);
    alice_node = alice.sys().node();
    auto remote_teller = alice.dial(*port);
    REQUIRE(remote_teller);
    // A message's sender node maps to what its connection proved.
    CHECK(ask_identity(alice, *remote_teller) == alice_identity);
    CHECK(server.tls().peer_identity(alice_node) == alice_identity);
    // Both ways: the dialling node knows whom it reached.
    CHECK(alice.tls().peer_identity(server.sys().node()) == server_identity);
    // No entry for nodes that have no TLS connection here.
    CHECK_FALSE(server.tls().peer_identity(server.sys().node()));
  }
  // Alice's node stopped and its connection closed: the entry goes with it.
  CHECK(eventually([&] { return !server.tls().peer_identity(alice_node); }));
}

} // namespace conflux::tls_test
