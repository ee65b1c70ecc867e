#include "protocol/raft/membership.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

TEST_CASE("membership_encoding_round_trips") {
  membership m{{1, 2, 3}, {7}, {9}};
  auto bytes = encode_membership(m);
  auto back = decode_membership(bytes);
  REQUIRE(back.has_value());
  CHECK(*back == m);
  CHECK(bytes.size() == 1 + 3 * 4 + 5 * 8);
}

TEST_CASE("membership_decoding_rejects_corrupt_bytes") {
  auto bytes = encode_membership(membership{{1, 2}, {}, {}});
  CHECK_FALSE(decode_membership("").has_value());
  CHECK_FALSE(decode_membership(bytes.substr(0, bytes.size() - 1)).has_value());
  CHECK_FALSE(decode_membership(bytes + "x").has_value());
  auto wrong_version = bytes;
  wrong_version[0] = 9;
  CHECK_FALSE(decode_membership(wrong_version).has_value());
  // Duplicate ids and the reserved id 0 are refused.
  CHECK_FALSE(
      decode_membership(encode_membership(membership{{1, 1}, {}, {}})).has_value());
  CHECK_FALSE(
      decode_membership(encode_membership(membership{{0}, {}, {}})).has_value());
  // A huge count cannot make the decoder allocate or read out of bounds.
  std::string huge = bytes.substr(0, 1) + std::string("\xff\xff\xff\xff", 4);
  CHECK_FALSE(decode_membership(huge).has_value());
}

TEST_CASE("membership_changes_are_single_server_and_checked") {
  membership m{{1, 2, 3}, {}, {}};
  auto joined = apply_change(m, {membership_change_kind::add_voter, 4});
  REQUIRE(joined);
  CHECK(joined->is_joining(4));
  CHECK_FALSE(joined->is_voter(4));
  auto promoted = apply_change(*joined, {membership_change_kind::promote, 4});
  REQUIRE(promoted);
  CHECK(promoted->is_voter(4));
  CHECK_FALSE(apply_change(m, {membership_change_kind::add_voter, 3}));
  CHECK_FALSE(apply_change(m, {membership_change_kind::remove, 8}));
  CHECK_FALSE(apply_change(m, {membership_change_kind::promote, 2}));
  CHECK_FALSE(
      apply_change(membership{{1}, {}, {}}, {membership_change_kind::remove, 1}));
  auto learner = apply_change(m, {membership_change_kind::add_learner, 5});
  REQUIRE(learner);
  CHECK(learner->is_learner(5));
  CHECK(learner->all().size() == 4);
}

TEST_CASE("membership_decoding_rejects_a_server_in_two_roles") {
  membership m;
  m.voters = {1, 2};
  m.learners = {3};
  auto bytes = encode_membership(m);
  REQUIRE(decode_membership(bytes).has_value());
  m.learners = {2};
  CHECK_FALSE(decode_membership(encode_membership(m)).has_value());
  m.learners = {};
  m.joining = {1};
  CHECK_FALSE(decode_membership(encode_membership(m)).has_value());
}

TEST_CASE("membership_addresses_round_trip_and_follow_changes") {
  membership m{{1, 2, 3}, {}, {}};
  // A configuration without addresses keeps the original format.
  CHECK(encode_membership(m)[0] == 1);
  membership_change add{membership_change_kind::add_voter, 4};
  add.addresses = {{4, "127.0.0.1:7104"}, {1, "127.0.0.1:7101"}, {8, "10.0.0.8:1"}};
  auto joined = apply_change(m, add);
  REQUIRE(joined);
  // The stranger's address (8) is not recorded.
  CHECK(joined->addresses ==
        std::map<server_id, std::string>{{1, "127.0.0.1:7101"}, {4, "127.0.0.1:7104"}});
  auto bytes = encode_membership(*joined);
  CHECK(bytes[0] == 2);
  auto back = decode_membership(bytes);
  REQUIRE(back);
  CHECK(*back == *joined);
  // Promotion keeps the addresses; removal drops the removed server's.
  auto promoted = apply_change(*joined, {membership_change_kind::promote, 4});
  REQUIRE(promoted);
  CHECK(promoted->addresses == joined->addresses);
  auto removed = apply_change(*promoted, {membership_change_kind::remove, 1});
  REQUIRE(removed);
  CHECK(removed->addresses == std::map<server_id, std::string>{{4, "127.0.0.1:7104"}});
}

TEST_CASE("membership_decoding_rejects_bad_addresses") {
  membership m{{1, 2}, {}, {}};
  m.addresses = {{1, "a:1"}, {2, "b:2"}};
  auto good = encode_membership(m);
  REQUIRE(decode_membership(good));
  CHECK_FALSE(decode_membership(good.substr(0, good.size() - 1)));
  CHECK_FALSE(decode_membership(good + "x"));
  // An address for a server that is not a member.
  membership stranger = m;
  stranger.addresses[5] = "c:3";
  CHECK_FALSE(decode_membership(encode_membership(stranger)));
  // An empty or oversized address.
  membership empty = m;
  empty.addresses[2] = "";
  CHECK_FALSE(decode_membership(encode_membership(empty)));
  membership big = m;
  big.addresses[2] = std::string(max_address_size + 1, 'h');
  CHECK_FALSE(decode_membership(encode_membership(big)));
  // Format 2 with no address at all is not a canonical encoding.
  auto no_addr = encode_membership(membership{{1, 2}, {}, {}});
  no_addr[0] = 2;
  no_addr += std::string(4, '\0');
  CHECK_FALSE(decode_membership(no_addr));
}
