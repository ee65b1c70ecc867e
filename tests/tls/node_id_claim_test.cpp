// A peer names its node id in the BASP handshake. Over TLS that claim is tied
// to the identity the peer proved: a node id already connected under another
// identity is refused, and a connection speaks for one node only. Otherwise a
// peer could announce another node's id and have its messages taken for that
// node's (and receive that node's traffic).

#include "tests/tls/tls_fixture.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp/message_type.hpp>
#include <doctest/doctest.h>
#include <mutex>

namespace conflux::tls_test {

namespace {

namespace basp = caf::io::basp;

caf::openssl::peer_verdict accept_by_uri(const caf::openssl::peer_certificate& peer) {
  return caf::openssl::accept_peer(uri_of(peer.leaf));
}

// A BASP client handshake announcing `nid`, as CAF's BASP writes it.
std::vector<char> client_handshake(caf::actor_system& sys, caf::node_id nid) {
  std::vector<char> payload;
  {
    caf::binary_serializer sink{sys, payload};
    REQUIRE_FALSE(sink(nid));
  }
  basp::header hdr{basp::message_type::client_handshake,
                   0,
                   static_cast<uint32_t>(payload.size()),
                   0,
                   caf::invalid_actor_id,
                   caf::invalid_actor_id};
  std::vector<char> bytes;
  {
    caf::binary_serializer sink{sys, bytes};
    REQUIRE_FALSE(sink(hdr));
  }
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

// A node id no actor system in this process has.
caf::node_id made_up_node(uint8_t n) {
  caf::node_id::default_data::host_id_type host;
  host.fill(0xAB);
  host.back() = n;
  return caf::make_node_id(4242, host);
}

// Reads the server's BASP handshake (header and payload) off `peer`.
bool read_server_handshake(caf::actor_system& sys, raw_tls_client& peer) {
  auto bytes = peer.read_exactly(basp::header_size, patience);
  if (!bytes)
    return false;
  basp::header hdr;
  caf::binary_deserializer source{sys, *bytes};
  if (source(hdr) || hdr.operation != basp::message_type::server_handshake)
    return false;
  return peer.read_exactly(hdr.payload_len, patience).has_value();
}

/// A server, a node connected to it, and a third peer's credentials.
struct claim_fixture {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  std::mutex mtx;
  std::vector<std::string> refusals;
  tls_files server_files =
      write_credentials(dir, "server", ca, leaf("n1", "conflux://test/node/1"), ca);
  tls_files alice_files =
      write_credentials(dir, "alice", ca, leaf("n2", "conflux://test/node/2"), ca);
  tls_files bob_files =
      write_credentials(dir, "bob", ca, leaf("n3", "conflux://test/node/3"), ca);
  tls_node server{server_files};
  tls_node alice{alice_files};
  uint16_t port = 0;
  caf::actor echo;

  claim_fixture() {
    server.tls().set_peer_verifier(accept_by_uri);
    server.tls().set_refusal_listener(
        [this](const std::string& address, const std::string& reason) {
          std::lock_guard<std::mutex> guard{mtx};
          refusals.push_back(address + ": " + reason);
        });
    alice.tls().set_peer_verifier(accept_by_uri);
    auto published = server.publish_echo();
    REQUIRE(published);
    port = *published;
    auto dialled = alice.dial(port);
    REQUIRE(dialled);
    echo = *dialled;
    REQUIRE(alice.echoes(echo, 1));
  }

  ~claim_fixture() {
    // The hooks point into this object.
    server.tls().set_refusal_listener({});
  }

  std::vector<std::string> refusals_now() {
    std::lock_guard<std::mutex> guard{mtx};
    return refusals;
  }
};

} // namespace

TEST_CASE("a_node_id_claimed_by_another_identity_is_refused") {
  claim_fixture f;
  // Bob has a valid certificate of the cluster, and announces alice's node id.
  raw_tls_client bob{f.port, {f.bob_files}};
  REQUIRE(bob.handshake());
  REQUIRE(read_server_handshake(f.server.sys(), bob));
  REQUIRE(bob.write_all(client_handshake(f.server.sys(), f.alice.sys().node())));
  CHECK(bob.closed_by_peer_within(patience));
  REQUIRE(eventually([&] { return !f.refusals_now().empty(); }));
  auto refusals = f.refusals_now();
  CHECK(refusals.size() == 1);
  auto expected_start = "127.0.0.1:" + std::to_string(bob.local_port()) +
                        ": claims node " + caf::to_string(f.alice.sys().node());
  CHECK(refusals.at(0).rfind(expected_start, 0) == 0);
  CHECK(refusals.at(0).find("connected as conflux://test/node/2") != std::string::npos);
  // Alice's own connection is untouched.
  CHECK(f.alice.echoes(f.echo, 2));
}

TEST_CASE("a_second_connection_proving_the_same_identity_may_speak_for_its_node") {
  // Both sides dialling each other, or a reconnect racing the old
  // connection's close, give one node two connections: both prove its
  // identity, so both are kept.
  claim_fixture f;
  raw_tls_client again{f.port, {f.alice_files}};
  REQUIRE(again.handshake());
  REQUIRE(read_server_handshake(f.server.sys(), again));
  REQUIRE(again.write_all(client_handshake(f.server.sys(), f.alice.sys().node())));
  CHECK_FALSE(again.closed_by_peer_within(1s));
  CHECK(f.refusals_now().empty());
  CHECK(f.alice.echoes(f.echo, 2));
}

TEST_CASE("a_connection_cannot_switch_to_another_node_id") {
  claim_fixture f;
  raw_tls_client bob{f.port, {f.bob_files}};
  REQUIRE(bob.handshake());
  REQUIRE(read_server_handshake(f.server.sys(), bob));
  // Bob announces a node id no one uses, then another one on the same
  // connection.
  REQUIRE(bob.write_all(client_handshake(f.server.sys(), made_up_node(1))));
  CHECK_FALSE(bob.closed_by_peer_within(500ms));
  REQUIRE(bob.write_all(client_handshake(f.server.sys(), made_up_node(2))));
  CHECK(bob.closed_by_peer_within(patience));
  REQUIRE(eventually([&] { return !f.refusals_now().empty(); }));
  auto refusals = f.refusals_now();
  CHECK(refusals.size() == 1);
  CHECK(refusals.at(0).find("announces node " + caf::to_string(made_up_node(2))) !=
        std::string::npos);
  CHECK(f.alice.echoes(f.echo, 2));
}

} // namespace conflux::tls_test
