// The conflux CLI through the real client (apps/cli/cli_client_access.hpp)
// against what may sit at an endpoint, on loopback with free ports and no
// cluster: nothing at all (the connection is refused), a plain TCP server
// that is no Conflux node, and a fake node: a CAF actor published the way a
// node publishes its endpoint, whose sessions answer as a test needs.

#include "actors/client.hpp"
#include "tests/apps/cli_client_fixture.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace conflux;
using namespace conflux::clitest;
using namespace std::chrono_literals;

namespace {

bool mentions(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size()))
    ++n;
  return n;
}

const std::string key = "acme/shop/prod/db.toml";

/// `config show` asking `endpoints` within `timeout_ms`.
cli_run show_at(const std::string& endpoints, const char* timeout_ms = "20000") {
  return run_cli(
      {"config", "show", key, "--endpoints", endpoints, "--timeout", timeout_ms});
}

} // namespace

// -- nothing listening --------------------------------------------------------

TEST_CASE("refused_endpoints_fail_fast_and_name_every_endpoint_tried") {
  auto a = "127.0.0.1:" + std::to_string(closed_port());
  auto b = "127.0.0.1:" + std::to_string(closed_port());
  auto r = show_at(a + "," + b);
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(r.took < 5s); // not the 20 s --timeout
  CHECK(mentions(r.err, "no endpoint reaches a Conflux node: " + a +
                            " refused the connection (nothing listens on that port); " +
                            b + " refused the connection"));
  CHECK_FALSE(mentions(r.err, "malformed"));
}

TEST_CASE("a_write_to_endpoints_that_all_refuse_says_it_was_not_sent") {
  auto a = "127.0.0.1:" + std::to_string(closed_port());
  auto r = run_cli({"version", "add", key, "--content", "x", "--endpoints", a,
                    "--timeout", "20000"});
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(r.took < 5s);
  CHECK(mentions(r.err, "the write was not sent"));
  CHECK(mentions(r.err, a + " refused the connection"));
  CHECK_FALSE(mentions(r.err, "may or may not"));
}

TEST_CASE("an_ipv6_literal_with_no_listener_says_the_connection_was_refused") {
  auto port = closed_port(ip_family::v6);
  auto ep = "[::1]:" + std::to_string(port);
  auto r = show_at(ep);
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(r.took < 5s);
  CHECK(mentions(r.err, ep + " refused the connection"));
  CHECK_FALSE(mentions(r.err, "no such host"));
}

TEST_CASE(
    "a_watch_on_an_ipv6_literal_with_no_listener_says_the_connection_was_refused") {
  auto ep = "[::1]:" + std::to_string(closed_port(ip_family::v6));
  actors::client_options opts;
  opts.endpoints = {ep};
  actors::watch_options w;
  w.key = key;
  actors::watch_stream stream{client_runtime(), opts, w};
  // It keeps retrying (a watch waits for its cluster); its first
  // interruption says why.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (stream.resumes() == 0 && std::chrono::steady_clock::now() < deadline)
    REQUIRE(stream.next(20ms).ok());
  REQUIRE(stream.resumes() > 0);
  INFO(stream.last_interruption());
  CHECK(mentions(stream.last_interruption(), ep + " refused the connection"));
  CHECK_FALSE(mentions(stream.last_interruption(), "no such host"));
}

// -- something that is no Conflux node ----------------------------------------

TEST_CASE("a_peer_sending_something_else_is_named_as_not_a_conflux_node") {
  plain_server http{"HTTP/1.0 400 Bad Request\r\n\r\n", plain_server::then::close};
  auto r = show_at(http.endpoint());
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(r.took < 5s); // it will not become a Conflux node by retrying
  CHECK(mentions(r.err, http.endpoint() + " is not a Conflux node"));
  CHECK(mentions(r.err, "HTTP/1.0 400"));
  CHECK_FALSE(mentions(r.err, "malformed_basp_message"));
}

TEST_CASE("a_peer_closing_every_connection_is_named_as_sending_no_conflux_handshake") {
  plain_server closer{"", plain_server::then::close};
  auto r = show_at(closer.endpoint(), "500");
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(mentions(r.err, closer.endpoint() + " accepted the connection and closed it"));
  CHECK(mentions(r.err, "without a Conflux handshake"));
}

TEST_CASE("one_refusing_endpoint_among_several_does_not_fail_the_call") {
  // Only when every endpoint is a dead end does a call give up early: here
  // the first refuses, the second is a node, and the call succeeds.
  fake_node node{write_mode::answer};
  auto refused = "127.0.0.1:" + std::to_string(closed_port());
  auto r = run_cli({"cluster", "status", "--endpoints", refused + "," + node.endpoint(),
                    "--timeout", "20000"});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "* leader"));
}

// -- IPv6 ---------------------------------------------------------------------

TEST_CASE("an_ipv6_literal_endpoint_reaches_a_node_listening_there") {
  fake_node node{write_mode::answer, ip_family::v6};
  REQUIRE(node.endpoint().rfind("[::1]:", 0) == 0);
  auto r = run_cli({"cluster", "status", "--endpoints", node.endpoint()});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(mentions(r.out, node.endpoint()));
  CHECK(mentions(r.out, "* leader"));
}

// -- writes that time out -----------------------------------------------------

/// `version add` through `node`, with a 300 ms deadline.
cli_run add_version_through(const fake_node& node) {
  return run_cli({"version", "add", key, "--content", "x", "--endpoints",
                  node.endpoint(), "--timeout", "300"});
}

TEST_CASE("a_node_refusing_a_session_for_capacity_is_reported_with_its_reason") {
  fake_node full{write_mode::full};
  auto r = show_at(full.endpoint(), "1500");
  INFO(r.describe());
  CHECK(r.code == 5);
  CHECK(mentions(r.err, full.endpoint() + " refused a session: node 1 has 4096 client "
                                          "sessions open"));
  CHECK(mentions(r.err, "--max-sessions"));
}

TEST_CASE("a_write_whose_session_never_opens_says_only_that_it_was_not_sent") {
  fake_node node{write_mode::silent};
  auto r = add_version_through(node);
  INFO(r.describe());
  CHECK(node.writes_seen() >= 1); // the session's opening reached the node
  CHECK(r.code == 5);
  CHECK(mentions(r.err, "the write was not sent: no write session could be opened "
                        "within 300 ms"));
  CHECK_FALSE(mentions(r.err, "may or may not"));
}

TEST_CASE("a_sent_but_unanswered_write_says_its_outcome_is_unknown_once") {
  // The session opens; the write itself reaches the node and is never answered.
  fake_node node{write_mode::open_sessions_only};
  auto r = add_version_through(node);
  INFO(r.describe());
  CHECK(node.writes_seen() >= 2);
  CHECK(r.code == 5);
  CHECK(mentions(r.err, "the write was sent but no answer came within 300 ms"));
  CHECK(count_of(r.err, "may or may not") == 1);
  CHECK_FALSE(mentions(r.err, "not sent"));
}

TEST_CASE(
    "a_write_whose_leader_stepped_down_is_resent_at_once_to_the_leader_it_names") {
  // Node A opens the session, then answers the write the way a leader whose
  // leadership ended does: outcome unknown, node B leads now. B is not in
  // --endpoints: only following the named leader reaches it.
  fake_node b{write_mode::answer};
  fake_node a{write_mode::lost_leadership, ip_family::v4, b.endpoint()};
  auto r = run_cli({"version", "add", key, "--content", "x", "--endpoints",
                    a.endpoint(), "--timeout", "2000"});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(a.writes_seen() == 2); // the session's opening, then the write; no retry
  CHECK(b.writes_seen() >= 1); // the same write resent there (then the session's close)
}

// -- cluster add probes the new member's address ------------------------------

TEST_CASE("cluster_add_warns_when_nothing_listens_at_the_new_address") {
  fake_node node{write_mode::answer};
  auto nowhere = "127.0.0.1:" + std::to_string(closed_port());
  auto r = run_cli({"cluster", "add", "4", nowhere, "--endpoints", node.endpoint()});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "added node 4 (" + nowhere + ")"));
  CHECK(mentions(r.err, "node 4 is not reachable at " + nowhere + " yet"));
  CHECK(mentions(r.err, "refused the connection"));
  CHECK(mentions(r.err, "conflux-node --join --id 4 --listen " + nowhere +
                            " --data DIR --insecure-plaintext`"));
  CHECK(mentions(r.err, "conflux cluster remove 4"));
}

TEST_CASE("cluster_add_says_nothing_more_when_a_node_listens_at_the_new_address") {
  fake_node node{write_mode::answer};
  fake_node joiner{write_mode::answer};
  auto r = run_cli(
      {"cluster", "add", "4", joiner.endpoint(), "--endpoints", node.endpoint()});
  INFO(r.describe());
  CHECK(r.code == 0);
  CHECK(r.err.empty());
}
