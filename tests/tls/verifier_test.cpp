// After a peer's certificate chain verified, the application's verifier decides
// whether it may connect and under which identity; every refused handshake is
// reported once, with the peer's address and the reason.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>
#include <mutex>
#include <utility>

namespace conflux::tls_test {

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// What a node's verifier and refusal listener saw.
struct observer {
  std::mutex mtx;
  std::vector<std::pair<std::string, bool>> verified; // URI, accepted
  std::vector<std::string> refusals;                  // "address: reason"

  /// Installs a verifier that refuses peers whose URI contains `banned` and
  /// accepts the others under their URI, and a listener recording refusals.
  void watch(tls_node& node, std::string banned) {
    node.tls().set_peer_verifier(
        [this, banned](const caf::openssl::peer_certificate& peer) {
          auto uri = uri_of(peer.leaf);
          {
            std::lock_guard<std::mutex> guard{mtx};
            verified.emplace_back(uri, peer.accepted);
          }
          if (!banned.empty() && contains(uri, banned))
            return caf::openssl::refuse_peer(uri + " is not welcome here");
          return caf::openssl::accept_peer(uri);
        });
    node.tls().set_refusal_listener(
        [this](const std::string& address, const std::string& reason) {
          std::lock_guard<std::mutex> guard{mtx};
          refusals.push_back(address + ": " + reason);
        });
  }

  size_t refusal_count() {
    std::lock_guard<std::mutex> guard{mtx};
    return refusals.size();
  }
};

} // namespace

TEST_CASE("a_peer_refused_by_the_verifier_cannot_connect_and_others_stay_up") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  auto server_files =
      write_credentials(dir, "server", ca, leaf("n1", "conflux://test/node/1"), ca);
  auto alice_files =
      write_credentials(dir, "alice", ca, leaf("n2", "conflux://test/node/2"), ca);
  auto mallory_files = write_credentials(
      dir, "mallory", ca, leaf("mallory", "conflux://test/client/mallory"), ca);
  // Observers outlive the nodes whose hooks point at them.
  observer at_server;
  observer at_alice;
  tls_node server{server_files};
  at_server.watch(server, "/client/mallory");
  auto port = server.publish_echo();
  REQUIRE(port);
  tls_node alice{alice_files};
  at_alice.watch(alice, "/client/");
  auto echo = alice.dial(*port);
  REQUIRE(echo);
  REQUIRE(alice.echoes(*echo, 1));
  SUBCASE("a node that dials in") {
    tls_node mallory{mallory_files};
    CHECK_FALSE(mallory.dial(*port));
    CHECK(alice.echoes(*echo, 2));
    REQUIRE(eventually([&] { return at_server.refusal_count() >= 1; }));
    CHECK(at_server.refusal_count() == 1);
    CHECK(contains(at_server.refusals.at(0), "127.0.0.1:"));
    CHECK(contains(at_server.refusals.at(0),
                   "conflux://test/client/mallory is not welcome here"));
  }
  SUBCASE("a plain TLS client, whose address we know") {
    raw_tls_client mallory{*port, {mallory_files}};
    mallory.handshake(); // TLS 1.3: the server refuses after the client is done
    CHECK(mallory.closed_by_peer_within(patience));
    CHECK(alice.echoes(*echo, 2));
    REQUIRE(eventually([&] { return at_server.refusal_count() >= 1; }));
    CHECK(at_server.refusal_count() == 1);
    CHECK(at_server.refusals.at(0) ==
          "127.0.0.1:" + std::to_string(mallory.local_port()) +
              ": refused by the peer verifier: conflux://test/client/mallory is not "
              "welcome here");
  }
  SUBCASE("a listener the dialling node refuses") {
    // A listener presenting a client's certificate: alice's verifier refuses it.
    tls_node rogue{mallory_files};
    auto rogue_port = rogue.publish_echo();
    REQUIRE(rogue_port);
    CHECK_FALSE(alice.dial(*rogue_port));
    CHECK(alice.echoes(*echo, 2));
    REQUIRE(eventually([&] { return at_alice.refusal_count() >= 1; }));
    CHECK(at_alice.refusal_count() == 1);
    CHECK(
        contains(at_alice.refusals.at(0), "127.0.0.1:" + std::to_string(*rogue_port)));
    CHECK(contains(at_alice.refusals.at(0), "is not welcome here"));
  }
  // Each verifier saw the other side's certificate, and whether it had
  // accepted or dialled the connection.
  std::lock_guard<std::mutex> guard{at_alice.mtx};
  REQUIRE_FALSE(at_alice.verified.empty());
  CHECK(at_alice.verified.front() ==
        std::make_pair(std::string{"conflux://test/node/1"}, false));
  std::lock_guard<std::mutex> guard2{at_server.mtx};
  REQUIRE_FALSE(at_server.verified.empty());
  CHECK(at_server.verified.front() ==
        std::make_pair(std::string{"conflux://test/node/2"}, true));
}

TEST_CASE("a_certificate_chain_that_fails_is_refused_with_one_line_naming_address_and_"
          "reason") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  test_ca foreign{"foreign CA"};
  auto server_files =
      write_credentials(dir, "server", ca, leaf("n1", "conflux://test/node/1"), ca);
  tls_files peer_files;
  std::string reason;
  SUBCASE("a certificate of another CA") {
    peer_files = write_credentials(dir, "peer", foreign,
                                   leaf("n9", "conflux://test/node/9"), ca);
    reason = "certificate verification failed: unable to get local issuer certificate";
  }
  SUBCASE("an expired certificate") {
    auto expired = leaf("n9", "conflux://test/node/9");
    expired.not_before = -2 * 24 * 3600;
    expired.not_after = -24 * 3600;
    peer_files = write_credentials(dir, "peer", ca, expired, ca);
    reason = "certificate verification failed: certificate has expired";
  }
  observer at_server;
  tls_node server{server_files};
  at_server.watch(server, "");
  auto port = server.publish_echo();
  REQUIRE(port);
  tls_node alice{
      write_credentials(dir, "alice", ca, leaf("n2", "conflux://test/node/2"), ca)};
  auto echo = alice.dial(*port);
  REQUIRE(echo);
  raw_tls_client peer{*port, {peer_files}};
  peer.handshake();
  CHECK(peer.closed_by_peer_within(patience));
  REQUIRE(eventually([&] { return at_server.refusal_count() >= 1; }));
  CHECK(at_server.refusal_count() == 1);
  CHECK(at_server.refusals.at(0) ==
        "127.0.0.1:" + std::to_string(peer.local_port()) + ": " + reason);
  CHECK(alice.echoes(*echo, 1));
}

} // namespace conflux::tls_test
