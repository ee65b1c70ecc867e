// Peer identities (protocol/identity.hpp): the strict URI grammar that
// certificates carry, every rule of it refused with its own problem, and the
// checks a node makes with an authenticated identity.

#include "protocol/identity.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace conflux;

namespace {

/// The problem parse_identity reports for `uri`, or nothing if it parses.
std::string problem_of(std::string_view uri) {
  auto r = parse_identity(uri);
  return r.ok() ? std::string{"ok"} : std::string{to_string(r.err().problem)};
}

} // namespace

TEST_CASE("a_node_identity_parses_and_formats_back_to_the_same_uri") {
  auto r = parse_identity("conflux://prod-eu1/node/3");
  REQUIRE(r.ok());
  CHECK(r->is_node());
  CHECK_FALSE(r->is_client());
  CHECK(r->kind() == identity_kind::node);
  CHECK(r->cluster_id() == "prod-eu1");
  CHECK(r->node_id() == 3);
  CHECK(r->client_name().empty());
  CHECK(r->uri() == "conflux://prod-eu1/node/3");
  CHECK(format_identity(*r) == "conflux://prod-eu1/node/3");
  CHECK(r->describe() == "node 3 of cluster prod-eu1");
}

TEST_CASE("a_client_identity_parses_and_formats_back_to_the_same_uri") {
  auto r = parse_identity("conflux://prod/client/ci-bot_2.eu");
  REQUIRE(r.ok());
  CHECK(r->is_client());
  CHECK_FALSE(r->is_node());
  CHECK(r->cluster_id() == "prod");
  CHECK(r->client_name() == "ci-bot_2.eu");
  CHECK(r->node_id() == 0);
  CHECK(r->uri() == "conflux://prod/client/ci-bot_2.eu");
  CHECK(r->describe() == "client ci-bot_2.eu of cluster prod");
}

TEST_CASE("identities_at_the_edges_of_the_grammar_are_accepted") {
  const std::string c63(63, 'a');
  const std::string n64(64, 'Z');
  for (const std::string& uri : std::vector<std::string>{
           "conflux://a/node/1",
           "conflux://0/node/1",
           "conflux://a-/node/1", // '-' may end a cluster id
           "conflux://1-2-3/client/x",
           "conflux://" + c63 + "/node/9223372036854775807",
           "conflux://c/client/" + n64,
           "conflux://c/client/-",
           "conflux://c/client/_x",
           "conflux://c/client/a..b",
       }) {
    INFO(uri);
    auto r = parse_identity(uri);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
    CHECK(r->uri() == uri);
  }
  auto big = parse_identity("conflux://c/node/9223372036854775807");
  REQUIRE(big.ok());
  CHECK(big->node_id() == max_identity_node_id);
}

TEST_CASE("a_uri_without_the_conflux_scheme_is_refused") {
  for (std::string_view uri :
       {"", "conflux:", "conflux:/c/node/1", "CONFLUX://c/node/1", "https://c/node/1",
        " conflux://c/node/1", "spiffe://c/node/1", "conflux//c/node/1"}) {
    INFO(uri);
    CHECK(problem_of(uri) == "not_conflux_uri");
  }
}

TEST_CASE("a_query_fragment_or_percent_encoding_is_refused") {
  for (std::string_view uri :
       {"conflux://c/node/1?x=1", "conflux://c/node/1#frag", "conflux://c/client/a%2Fb",
        "conflux://c/client/%61", "conflux://c%2d1/node/1", "conflux://c/node/1?"}) {
    INFO(uri);
    CHECK(problem_of(uri) == "not_plain");
  }
  auto r = parse_identity("conflux://c/node/1?x=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message.find("a query") != std::string::npos);
}

TEST_CASE("a_bad_cluster_id_is_refused") {
  const std::string c64(64, 'a');
  for (const std::string& uri : std::vector<std::string>{
           "conflux:///node/1",            // empty
           "conflux://-c/node/1",          // starts with '-'
           "conflux://Prod/node/1",        // uppercase
           "conflux://prod_eu/node/1",     // '_'
           "conflux://prod.eu/node/1",     // '.'
           "conflux://user@c/node/1",      // userinfo
           "conflux://c:7101/node/1",      // port
           "conflux://" + c64 + "/node/1", // 64 characters
           "conflux://caf\xc3\xa9/node/1", // non-ASCII
           std::string{"conflux://c\0d/node/1", 20},
       }) {
    INFO(uri);
    CHECK(problem_of(uri) == "bad_cluster_id");
  }
  auto r = parse_identity("conflux://Prod/node/1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message ==
        "the cluster id \"Prod\" has 'P' at position 1; a cluster id is 1 to 63 "
        "characters from a-z, 0-9 and '-', starting with a letter or digit (in "
        "\"conflux://Prod/node/1\")");
}

TEST_CASE("a_path_that_is_not_node_or_client_is_refused") {
  for (std::string_view uri :
       {"conflux://c", "conflux://c/", "conflux://c/nodes/1", "conflux://c/Node/1",
        "conflux://c//node/1", "conflux://c/node", "conflux://c/client",
        "conflux://c/admin/x", "conflux://c/ca"}) {
    INFO(uri);
    CHECK(problem_of(uri) == "bad_kind");
  }
  auto ca = parse_identity("conflux://c/ca");
  REQUIRE_FALSE(ca.ok());
  CHECK(ca.err().message.find("names the CA of a cluster") != std::string::npos);
}

TEST_CASE("a_bad_node_id_is_refused") {
  for (std::string_view uri : {
           "conflux://c/node/",                     // empty
           "conflux://c/node/0",                    // zero
           "conflux://c/node/01",                   // leading zero
           "conflux://c/node/+1",                   // sign
           "conflux://c/node/-1",                   // sign
           "conflux://c/node/ 1",                   // blank
           "conflux://c/node/1 ",                   // blank
           "conflux://c/node/0x1",                  // hex
           "conflux://c/node/1e3",                  // exponent
           "conflux://c/node/9223372036854775808",  // 2^63
           "conflux://c/node/18446744073709551616", // 2^64
           "conflux://c/node/99999999999999999999999",
       }) {
    INFO(uri);
    CHECK(problem_of(uri) == "bad_node_id");
  }
  auto zero = parse_identity("conflux://c/node/0");
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.err().message.find("node id 0 is not allowed") != std::string::npos);
  auto lead = parse_identity("conflux://c/node/007");
  REQUIRE_FALSE(lead.ok());
  CHECK(lead.err().message.find("leading zero") != std::string::npos);
}

TEST_CASE("a_bad_client_name_is_refused") {
  const std::string n65(65, 'x');
  for (const std::string& uri : std::vector<std::string>{
           "conflux://c/client/",            // empty
           "conflux://c/client/.hidden",     // leading '.'
           "conflux://c/client/..",          // leading '.'
           "conflux://c/client/a b",         // blank
           "conflux://c/client/a+b",         // '+'
           "conflux://c/client/a@b",         // '@'
           "conflux://c/client/caf\xc3\xa9", // non-ASCII
           "conflux://c/client/" + n65,      // 65 characters
           std::string{"conflux://c/client/a\0b", 22},
       }) {
    INFO(uri);
    CHECK(problem_of(uri) == "bad_client_name");
  }
  auto r = parse_identity("conflux://c/client/.hidden");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message.find("starts with '.'") != std::string::npos);
}

TEST_CASE("anything_after_the_node_id_or_client_name_is_refused") {
  for (std::string_view uri :
       {"conflux://c/node/1/", "conflux://c/node/1/x", "conflux://c/client/a/",
        "conflux://c/client/a/b", "conflux://c/node//1"}) {
    INFO(uri);
    CHECK(problem_of(uri) == "trailing_text");
  }
}

TEST_CASE("making_an_identity_checks_the_same_rules_as_parsing") {
  CHECK(peer_identity::node("c", 1).ok());
  CHECK(peer_identity::node("c", 0).err().problem == identity_problem::bad_node_id);
  CHECK(peer_identity::node("c", max_identity_node_id + 1).err().problem ==
        identity_problem::bad_node_id);
  CHECK(peer_identity::node("C", 1).err().problem == identity_problem::bad_cluster_id);
  CHECK(peer_identity::client("c", "ok").ok());
  CHECK(peer_identity::client("c", ".x").err().problem ==
        identity_problem::bad_client_name);
  CHECK(peer_identity::client("", "x").err().problem ==
        identity_problem::bad_cluster_id);
  CHECK(check_cluster_id("a-b").ok());
  CHECK_FALSE(check_cluster_id("a_b").ok());
  CHECK(check_client_name("a.b").ok());
  CHECK_FALSE(check_client_name("a/b").ok());
  CHECK(*parse_node_id("42") == 42);
  CHECK_FALSE(parse_node_id("042").ok());
}

TEST_CASE("identities_are_equal_only_when_every_part_is") {
  auto n3 = *peer_identity::node("c", 3);
  CHECK(n3 == *parse_identity("conflux://c/node/3"));
  CHECK(n3 != *peer_identity::node("c", 4));
  CHECK(n3 != *peer_identity::node("d", 3));
  CHECK(n3 != *peer_identity::client("c", "3"));
  CHECK(*peer_identity::client("c", "a") == *peer_identity::client("c", "a"));
  CHECK(*peer_identity::client("c", "a") != *peer_identity::client("c", "A"));
}

TEST_CASE("is_node_of_holds_only_for_that_node_of_that_cluster") {
  auto n3 = *peer_identity::node("prod", 3);
  CHECK(is_node_of(n3, "prod", 3));
  CHECK_FALSE(is_node_of(n3, "prod", 2));
  CHECK_FALSE(is_node_of(n3, "staging", 3));
  CHECK_FALSE(is_node_of(*peer_identity::client("prod", "3"), "prod", 3));
}

TEST_CASE("a_ca_uri_names_its_cluster_and_nothing_else") {
  CHECK(ca_uri("prod") == "conflux://prod/ca");
  auto c = parse_ca_uri("conflux://prod/ca");
  REQUIRE(c.ok());
  CHECK(*c == "prod");
  CHECK(parse_ca_uri("conflux://prod/node/1").err().problem ==
        identity_problem::bad_kind);
  CHECK(parse_ca_uri("conflux://prod/ca/").err().problem == identity_problem::bad_kind);
  CHECK(parse_ca_uri("conflux://Prod/ca").err().problem ==
        identity_problem::bad_cluster_id);
  CHECK(parse_ca_uri("conflux://prod/ca?x").err().problem ==
        identity_problem::not_plain);
  CHECK(parse_ca_uri("https://prod/ca").err().problem ==
        identity_problem::not_conflux_uri);
}
