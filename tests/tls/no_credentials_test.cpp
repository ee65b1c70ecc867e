// Without a certificate, a key and a trusted CA a node speaks no TLS at all:
// no anonymous TLS, no TLS that trusts nobody.

#include "tests/tls/tls_fixture.hpp"

#include <doctest/doctest.h>

namespace conflux::tls_test {

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("no_credentials_means_no_tls_not_anonymous_tls") {
  temp_dir dir;
  test_ca ca{"cluster CA"};
  auto files = write_credentials(dir, "node", ca, leaf("node"), ca);
  std::string unset;
  SUBCASE("nothing configured") {
    files = tls_files{};
    unset = "openssl.certificate";
  }
  SUBCASE("no trusted CA") {
    files.cafile.clear();
    unset = "openssl.cafile";
  }
  tls_node node{files};
  auto port = node.publish_echo();
  REQUIRE_FALSE(port);
  auto text = node.render(port.error());
  CAPTURE(text);
  CHECK(port.error().category() == caf::openssl::errc_category);
  CHECK(contains(text, unset));
  // Nor does it dial: not even the TCP connection is made, so the error is
  // the same, at once, rather than a handshake that never ends.
  silent_server silent;
  auto dialled = node.dial(silent.port(), caf::timespan{3s});
  REQUIRE_FALSE(dialled);
  CHECK(node.render(dialled.error()) == text);
}

} // namespace conflux::tls_test
