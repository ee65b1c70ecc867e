// Mutual TLS between real processes: a peer with a certificate of another CA
// is refused at the handshake with one log line and the node's other clients
// go on; SIGHUP makes new connections use new credentials, and a bad file
// keeps the old ones.

#include "actors/tls_certs.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <chrono>
#include <csignal>
#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace conflux::itest {
namespace {

template <class T>
T ok_or_throw(actors::cert_result<T> r) {
  if (!r.ok())
    throw std::runtime_error(actors::to_string(r.err()));
  return std::move(*r);
}

/// A second CA of cluster `cluster` (not the test PKI's), in memory.
actors::cluster_ca second_ca(const std::string& cluster) {
  auto pem = ok_or_throw(actors::make_cluster_ca(cluster, actors::valid_for_days(2)));
  return ok_or_throw(actors::parse_cluster_ca(pem, "second CA", "second CA key"));
}

/// A client directory issued by `ca` into `dir`.
std::string client_dir_of(const actors::cluster_ca& ca, const std::string& dir) {
  auto pem = ok_or_throw(
      actors::issue_client_certificate(ca, "second", actors::valid_for_days(1)));
  auto w = actors::write_leaf_dir(dir, "client", pem, ca, actors::overwrite::refuse);
  if (!w.ok())
    throw std::runtime_error(actors::to_string(w.err()));
  return dir;
}

std::string contents_of(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// True once the node's log holds `text`, within `limit`.
bool log_says(const cluster& c, std::size_t i, const std::string& text, ms limit) {
  auto deadline = clock::now() + limit;
  for (int n = 0; n < 200 && clock::now() < deadline; ++n) {
    if (tail_lines(c.log_path(i), 400).find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

cli_result status_with(const cluster& c, const std::string& tls_dir) {
  return run_cli({"--endpoints", c.endpoint(0), "--tls-dir", tls_dir, "--timeout", "3000",
                  "cluster", "status"});
}

cluster_options one_node() {
  cluster_options o;
  o.nodes = 1;
  return o;
}

} // namespace

TEST_CASE("a_client_of_another_ca_is_refused_at_the_handshake_and_others_go_on") {
  started_cluster c{one_node()};
  auto good = c.make_client(5s);
  REQUIRE_OK(good->write(make_create_config("itest/tls/prod/a.txt", "before")));

  auto foreign = client_dir_of(second_ca("itest"), c.dir() + "/foreign-client");
  auto r = status_with(c, foreign);
  INFO(r.describe());
  CHECK(r.exit_code == 5);
  CHECK(log_says(c, 0, "TLS: refused the connection with 127.0.0.1:", 5s));

  // The node's other connection was not touched: the same client writes on.
  CHECK_OK(good->write(make_create_config("itest/tls/prod/b.txt", "after")));
  auto again = status_with(c, client_tls_dir("itest"));
  INFO(again.describe());
  CHECK(again.exit_code == 0);
}

TEST_CASE("sighup_makes_new_connections_use_new_credentials_and_a_bad_file_keeps_the_old") {
  // A cluster id of its own: this test rewrites its node's credentials.
  auto opts = one_node();
  opts.cluster_id = "itest-reload";
  started_cluster c{opts};
  const auto node_dir = node_tls_dir("itest-reload", c.id(0));
  const auto first_client = client_tls_dir("itest-reload");
  // A client that trusts only a second CA of the same cluster: it cannot
  // talk to the node while the node presents its first certificate.
  auto ca2 = second_ca("itest-reload");
  auto second_client = client_dir_of(ca2, c.dir() + "/second-client");
  CHECK(status_with(c, second_client).exit_code == 5);

  // A damaged key: SIGHUP keeps the credentials the node has.
  const std::string key = node_dir + "/node.key";
  const std::string old_key = contents_of(key);
  write_file(key, "not a key\n");
  REQUIRE(::kill(c.pid(0), SIGHUP) == 0);
  CHECK(log_says(c, 0, "SIGHUP: kept the current TLS credentials", 5s));
  CHECK(status_with(c, first_client).exit_code == 0);
  write_file(key, old_key);

  // A certificate from the second CA, with both CAs trusted: after SIGHUP new
  // connections present it, so the second CA's client gets in and the first
  // one's still does (it trusts the first CA only, so it sees a certificate
  // it cannot verify: refused).
  auto pem = ok_or_throw(
      actors::issue_node_certificate(ca2, c.id(0), {}, actors::valid_for_days(1)));
  const std::string bundle = contents_of(node_dir + "/ca.crt") + ca2.cert_pem;
  auto w = actors::write_files(
      node_dir,
      {{"node.crt", pem.cert, actors::file_access::world_readable},
       {"node.key", pem.key, actors::file_access::owner_only},
       {"ca.crt", bundle, actors::file_access::world_readable}},
      actors::overwrite::replace);
  REQUIRE_MESSAGE(w.ok(), (w.ok() ? "" : actors::to_string(w.err())));
  REQUIRE(::kill(c.pid(0), SIGHUP) == 0);
  CHECK(log_says(c, 0, "SIGHUP: reloaded the TLS credentials", 5s));
  auto r = status_with(c, second_client);
  INFO(r.describe());
  CHECK(r.exit_code == 0);
  CHECK(status_with(c, first_client).exit_code == 5);
}

} // namespace conflux::itest
