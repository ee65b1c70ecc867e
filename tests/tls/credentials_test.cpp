// A node loads its certificate, key and CA once, when the openssl module starts
// and on an explicit reload; a file it cannot use is an error that names the
// file and the reason, never an exception, an abort or a hang.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>

namespace conflux::tls_test {

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Both ways of using TLS fail with the same error: returns its text.
std::string tls_refused(tls_node& node, uint16_t some_port) {
  auto port = node.publish_echo();
  REQUIRE_FALSE(port);
  auto text = node.render(port.error());
  auto dialled = node.dial(some_port);
  REQUIRE_FALSE(dialled);
  CHECK(node.render(dialled.error()) == text);
  return text;
}

} // namespace

TEST_CASE("a_missing_key_file_is_an_error_naming_it_not_an_abort") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  tls_node server{write_credentials(dir, "server", ca, leaf("server"), ca)};
  auto port = server.publish_echo();
  REQUIRE(port);
  auto files = write_credentials(dir, "node", ca, leaf("node"), ca);
  files.key = dir.path() + "/missing-key.pem";
  tls_node node{files};
  auto text = tls_refused(node, *port);
  CHECK(contains(text, files.key));
  CHECK(contains(text, "No such file or directory"));
  // The server it failed to reach is untouched.
  tls_node client{write_credentials(dir, "client", ca, leaf("client"), ca)};
  auto echo = client.dial(*port);
  REQUIRE(echo);
  CHECK(client.echoes(*echo, 1));
}

TEST_CASE("every_unusable_credential_file_is_an_error_naming_it") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  tls_node server{write_credentials(dir, "server", ca, leaf("server"), ca)};
  auto port = server.publish_echo();
  REQUIRE(port);
  auto spec = leaf("node");
  spec.passphrase = "right horse";
  auto files = write_credentials(dir, "node", ca, spec, ca);
  auto good = files;
  std::string named;  // the file the error must name
  std::string reason; // and a word of its reason
  SUBCASE("a missing certificate file") {
    files.certificate = dir.path() + "/missing-cert.pem";
    named = files.certificate;
    reason = "No such file or directory";
  }
  SUBCASE("a certificate file without a certificate") {
    files.certificate = dir.write("garbage-cert.pem", "not a certificate\n");
    named = files.certificate;
    reason = "certificate";
  }
  SUBCASE("a key the passphrase does not decrypt") {
    files.passphrase = "wrong horse";
    named = files.key;
    reason = "passphrase";
  }
  SUBCASE("an encrypted key and no passphrase") {
    files.passphrase.clear();
    named = files.key;
    reason = "passphrase";
  }
  SUBCASE("a key that belongs to another certificate") {
    files.key = dir.write("other-key.pem", ca.issue(leaf("other")).key);
    files.passphrase.clear();
    named = files.key;
    reason = "does not belong";
  }
  SUBCASE("a missing CA file") {
    files.cafile = dir.path() + "/missing-ca.pem";
    named = files.cafile;
    reason = "No such file or directory";
  }
  SUBCASE("a CA file without a certificate") {
    files.cafile = dir.write("garbage-ca.pem", "not a CA either\n");
    named = files.cafile;
    reason = "CA";
  }
  SUBCASE("a certificate without a key") {
    files.key.clear();
    files.passphrase.clear();
    named = "openssl.key";
    reason = "not set";
  }
  CAPTURE(named);
  tls_node node{files};
  auto text = tls_refused(node, *port);
  CAPTURE(text);
  CHECK(contains(text, named));
  CHECK(contains(text, reason));
  // The same files, unchanged, are fine (the encrypted key included): the
  // subcase's change is what the node refused.
  tls_node control{good};
  CHECK(control.publish_echo());
}

} // namespace conflux::tls_test
