// The conflux-cert binary (apps/cert, docs/security.md): the directories it
// writes are complete and private, `show` prints what a certificate says, and
// it never replaces a file without --force nor writes anything on bad input.

#include "actors/tls_certs.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/storage/temp_dir.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace conflux::itest {
namespace {

const char* cert_binary() {
#ifdef CONFLUX_CERT_BIN
  return CONFLUX_CERT_BIN;
#else
  return "";
#endif
}

using ::conflux::storage::test::temp_dir;

cli_result cert(std::vector<std::string> args) {
  return run_program(cert_binary(), args, 60s);
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
  return st.st_mode & 07777;
}

std::string read_all(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// The number on show's "days left:" line; -1 if there is none.
long days_left(const std::string& out) {
  const std::string tag = "\ndays left:   ";
  auto at = out.find(tag);
  if (at == std::string::npos)
    return -1;
  return std::strtol(out.c_str() + at + tag.size(), nullptr, 10);
}

} // namespace

TEST_CASE("conflux_cert_writes_a_ca_and_ready_node_and_client_directories" *
          doctest::skip(*cert_binary() == '\0')) {
  temp_dir t;
  const auto ca = t.sub("ca");
  const auto n2 = t.sub("node2");
  const auto cl = t.sub("ops");
  auto r = cert({"ca", "--cluster", "itest", "--out", ca});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  r = cert({"node", "--ca", ca, "--id", "2", "--out", n2, "--dns", "node2.local",
            "--ip", "127.0.0.2", "--days", "30"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  r = cert({"client", "--ca", ca, "--name", "ops", "--out", cl});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);

  for (const auto& dir : {ca, n2, cl})
    CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(ca + "/ca.crt") == 0644);
  CHECK(mode_of(ca + "/ca.key") == 0600);
  CHECK(mode_of(n2 + "/node.crt") == 0644);
  CHECK(mode_of(n2 + "/node.key") == 0600);
  CHECK(mode_of(cl + "/client.crt") == 0644);
  CHECK(mode_of(cl + "/client.key") == 0600);
  CHECK(read_all(n2 + "/ca.crt") == read_all(ca + "/ca.crt"));
  CHECK(read_all(cl + "/ca.crt") == read_all(ca + "/ca.crt"));
  CHECK(std::distance(std::filesystem::directory_iterator(n2),
                      std::filesystem::directory_iterator()) == 3);

  // Each directory is a complete credential for its holder.
  using actors::expected_holder;
  auto node =
      actors::load_credentials(n2 + "/node.crt", n2 + "/node.key", n2 + "/ca.crt",
                               "itest", expected_holder::node(2));
  CHECK_MESSAGE(node.ok(), (node.ok() ? "" : actors::to_string(node.err())));
  auto client =
      actors::load_credentials(cl + "/client.crt", cl + "/client.key", cl + "/ca.crt",
                               "itest", expected_holder::client());
  CHECK_MESSAGE(client.ok(), (client.ok() ? "" : actors::to_string(client.err())));

  r = cert({"show", n2 + "/node.crt"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("identity:    conflux://itest/node/2 (node 2 of cluster itest)\n") !=
        std::string::npos);
  CHECK(r.out.find("subject:     O = conflux, OU = itest, CN = node 2\n") !=
        std::string::npos);
  CHECK(r.out.find(
            "issuer:      O = conflux, OU = itest, CN = conflux cluster itest CA\n") !=
        std::string::npos);
  // Whole days, rounded down: 30 in the second of issue, 29 after it.
  CHECK(days_left(r.out) >= 29);
  CHECK(days_left(r.out) <= 30);
  CHECK(r.out.find("dns name:    node2.local\n") != std::string::npos);
  CHECK(r.out.find("ip address:  127.0.0.2\n") != std::string::npos);
  CHECK(r.out.find("serial:      ") != std::string::npos);
  CHECK(r.out.find("not after:   ") != std::string::npos);

  r = cert({"show", ca + "/ca.crt"});
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("identity:    conflux://itest/ca (the CA of cluster itest)\n") !=
        std::string::npos);
  CHECK(days_left(r.out) >= 3649);
  CHECK(days_left(r.out) <= 3650);
}

TEST_CASE("conflux_cert_replaces_existing_files_only_with_force" *
          doctest::skip(*cert_binary() == '\0')) {
  temp_dir t;
  const auto ca = t.sub("ca");
  const auto n1 = t.sub("node1");
  REQUIRE(cert({"ca", "--cluster", "itest", "--out", ca}).exit_code == 0);
  REQUIRE(cert({"node", "--ca", ca, "--id", "1", "--out", n1}).exit_code == 0);
  const auto key = read_all(n1 + "/node.key");
  const auto crt = read_all(n1 + "/node.crt");

  auto r = cert({"node", "--ca", ca, "--id", "1", "--out", n1});
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("exists already") != std::string::npos);
  CHECK(r.err.find("--force") != std::string::npos);
  CHECK(read_all(n1 + "/node.key") == key);
  CHECK(read_all(n1 + "/node.crt") == crt);

  const auto ca_key = read_all(ca + "/ca.key");
  r = cert({"ca", "--cluster", "itest", "--out", ca});
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(read_all(ca + "/ca.key") == ca_key);

  r = cert({"node", "--ca", ca, "--id", "1", "--out", n1, "--force"});
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(read_all(n1 + "/node.key") != key);
  CHECK(mode_of(n1 + "/node.key") == 0600);
}

TEST_CASE("conflux_cert_refuses_bad_input_with_exit_2_and_writes_nothing" *
          doctest::skip(*cert_binary() == '\0')) {
  temp_dir t;
  const auto ca = t.sub("ca");
  const auto out = t.sub("out");
  REQUIRE(cert({"ca", "--cluster", "itest", "--out", ca}).exit_code == 0);
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& b : std::vector<bad>{
           {{"ca", "--cluster", "Bad_Id", "--out", out}, "cluster id"},
           {{"node", "--ca", ca, "--id", "0", "--out", out}, "node id 0"},
           {{"node", "--ca", ca, "--id", "x", "--out", out}, "node id"},
           {{"node", "--ca", ca, "--id", "1", "--out", out, "--ip", "300.1.1.1"},
            "not an IPv4 or IPv6 address"},
           {{"node", "--ca", ca, "--id", "1", "--out", out, "--days", "4000"},
            "outlive its CA"},
           {{"node", "--ca", t.sub("nope"), "--id", "1", "--out", out}, "cannot open"},
           {{"node", "--ca", ca + "/ca.crt", "--id", "1", "--out", out}, "not a file"},
           {{"client", "--ca", ca, "--name", ".x", "--out", out}, "client name"},
           {{"client", "--ca", ca, "--name", "x"}, "--out"},
           {{"show", ca + "/ca.key"}, "not a CERTIFICATE"},
           {{"frobnicate"}, ""},
       }) {
    auto r = cert(b.args);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(b.says) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
}

} // namespace conflux::itest
