// Credentials are reloaded on request, without a restart: connections made
// afterwards use the new ones, open connections keep theirs, and a reload that
// fails changes nothing.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>

namespace conflux::tls_test {

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("reloaded_credentials_apply_to_new_connections") {
  temp_dir dir;
  test_ca old_ca{"old CA"};
  test_ca new_ca{"new CA"};
  auto server_files = write_credentials(dir, "server", old_ca, leaf("server"), old_ca);
  // The server trusts both CAs during the rotation.
  dir.write("server-ca.pem", old_ca.certificate_pem() + new_ca.certificate_pem());
  tls_node server{server_files};
  auto port = server.publish_echo();
  REQUIRE(port);
  tls_node old_client{write_credentials(dir, "old", old_ca, leaf("old"), old_ca)};
  auto old_echo = old_client.dial(*port);
  REQUIRE(old_echo);
  // A client that trusts only the new CA refuses the server's old certificate.
  tls_node new_client{write_credentials(dir, "new", new_ca, leaf("new"), new_ca)};
  REQUIRE_FALSE(new_client.dial(*port));
  // Rotate: the server's files now hold a certificate of the new CA.
  auto rotated = new_ca.issue(leaf("server"));
  dir.write("server-cert.pem", rotated.certificate);
  dir.write("server-key.pem", rotated.key);
  auto err = server.tls().reload_credentials();
  CHECK_MESSAGE(!err, server.render(err));
  CHECK_FALSE(server.tls().credentials_error());
  auto new_echo = new_client.dial(*port);
  REQUIRE(new_echo);
  CHECK(new_client.echoes(*new_echo, 1));
  // The connection made before the reload keeps working.
  CHECK(old_client.echoes(*old_echo, 2));
  // And a new connection from a client that trusts only the old CA now fails:
  // the server presents the new certificate.
  tls_node late_old_client{
      write_credentials(dir, "late", old_ca, leaf("late"), old_ca)};
  CHECK_FALSE(late_old_client.dial(*port));
}

TEST_CASE("a_failed_reload_keeps_the_old_credentials") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  auto server_files = write_credentials(dir, "server", ca, leaf("server"), ca);
  tls_node server{server_files};
  auto port = server.publish_echo();
  REQUIRE(port);
  dir.write("server-key.pem", "not a key\n");
  auto err = server.tls().reload_credentials();
  REQUIRE(err);
  CHECK(err.category() == caf::openssl::errc_category);
  CHECK(contains(server.render(err), server_files.key));
  CHECK_FALSE(server.tls().credentials_error());
  // New connections still get the old, loaded credentials.
  tls_node client{write_credentials(dir, "client", ca, leaf("client"), ca)};
  auto echo = client.dial(*port);
  REQUIRE(echo);
  CHECK(client.echoes(*echo, 1));
}

} // namespace conflux::tls_test
