// actors/endpoint.hpp: the HOST:PORT parsing every binary shares.
#include "actors/endpoint.hpp"

#include <doctest/doctest.h>

using conflux::actors::parse_endpoint;
using conflux::actors::parse_endpoint_list;

TEST_CASE("endpoint_parses_host_and_port") {
  auto e = parse_endpoint("127.0.0.1:7101");
  REQUIRE(e);
  CHECK(e->host == "127.0.0.1");
  CHECK(e->port == 7101);
  CHECK(e->to_string() == "127.0.0.1:7101");
}

TEST_CASE("endpoint_strips_the_brackets_of_an_ipv6_literal") {
  auto e = parse_endpoint("[::1]:7101");
  REQUIRE(e);
  CHECK(e->host == "::1");
  CHECK(e->port == 7101);
  CHECK(e->to_string() == "[::1]:7101");
}

TEST_CASE("endpoint_refuses_malformed_input") {
  for (const char* bad :
       {"", "7101", ":7101", "host:", "host:0", "host:65536", "host:7x", "::1:7101",
        "[::1:7101", "[]:7101", "a b:1", "a,b:1"}) {
    INFO(bad);
    CHECK_FALSE(parse_endpoint(bad));
  }
}

TEST_CASE("endpoint_list_needs_every_element_well_formed") {
  auto l = parse_endpoint_list("127.0.0.1:1,[::1]:2");
  REQUIRE(l);
  CHECK(l->size() == 2);
  CHECK_FALSE(parse_endpoint_list("127.0.0.1:1,"));
  CHECK_FALSE(parse_endpoint_list(""));
}
