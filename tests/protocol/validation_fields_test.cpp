// Keys, key prefixes, labels, release rules and free-text fields
// (protocol/validation_fields.cpp).

#include "protocol/text.hpp"
#include "tests/protocol/validation_test_support.hpp"

using namespace conflux;
using namespace conflux::validation_test;

namespace {

constexpr std::string_view key_hint =
    "a key is tenant/app/env/name (4 segments of 1-128";

} // namespace

// --- keys -------------------------------------------------------------------

TEST_CASE("valid_keys_are_accepted") {
  check_ok(validate_key("acme/billing/prod/database.toml"));
  check_ok(validate_key("a/b/c/d"));
  check_ok(validate_key("A-1/b_2/c.3/.env"));
  check_ok(validate_key(repeat("x", 128) + "/b/c/d"));
}

TEST_CASE("empty_key_is_rejected") {
  check_rejected(validate_key(""), errc::invalid_argument, {"key is empty", key_hint});
}

TEST_CASE("key_with_three_segments_is_rejected") {
  check_rejected(validate_key("a/b/c"), errc::invalid_argument,
                 {"key \"a/b/c\" has 3 segments", key_hint});
}

TEST_CASE("key_with_five_segments_is_rejected") {
  check_rejected(validate_key("a/b/c/d/e"), errc::invalid_argument,
                 {"has 5 segments", key_hint});
}

TEST_CASE("key_with_empty_segment_is_rejected") {
  check_rejected(validate_key("a//c/d"), errc::invalid_argument,
                 {"empty segment (2", key_hint});
}

TEST_CASE("key_with_leading_slash_is_rejected") {
  check_rejected(validate_key("/a/b/c/d"), errc::invalid_argument,
                 {"starts with '/'", "remove the leading slash"});
}

TEST_CASE("key_with_trailing_slash_is_rejected") {
  check_rejected(validate_key("a/b/c/d/"), errc::invalid_argument,
                 {"ends with '/'", "remove the trailing slash"});
}

TEST_CASE("key_with_bad_character_is_rejected") {
  check_rejected(validate_key("a/b c/d/e"), errc::invalid_argument,
                 {"' ' in segment 2", "use only A-Z a-z 0-9 . _ -"});
  check_rejected(validate_key("a/b/c/caf\xc3\xa9"), errc::invalid_argument,
                 {"'\xc3\xa9' (U+00E9) in segment 4"});
  // Control bytes are shown escaped, never raw.
  auto st = validate_key(std::string{"a/b/c/x\x01y"});
  check_rejected(st, errc::invalid_argument, {"\\x01", "byte 0x01"});
  CHECK_FALSE(contains(st.err().message, "\x01"));
}

TEST_CASE("key_with_a_non_ascii_character_shows_it_readably") {
  // Keys are ASCII, but the message must show what was typed: "é", not
  // "\xc3\xa9", with its code point to tell look-alikes apart.
  auto st = validate_key("acme/shop/prod/caf\xc3\xa9.yaml");
  check_rejected(st, errc::invalid_argument,
                 {"key \"acme/shop/prod/caf\xc3\xa9.yaml\"",
                  "has '\xc3\xa9' (U+00E9) in segment 4",
                  "use only A-Z a-z 0-9 . _ -"});
  CHECK_FALSE(contains(st.err().message, "\\x"));
  // A Cyrillic "o" that looks like a Latin one.
  check_rejected(validate_key("acme/shop/pr\xd0\xbe"
                              "d/app"),
                 errc::invalid_argument, {"'\xd0\xbe' (U+043E) in segment 3"});
}

TEST_CASE("key_with_an_invalid_byte_shows_it_escaped") {
  auto st = validate_key("acme/shop/prod/caf\xe9");
  check_rejected(st, errc::invalid_argument,
                 {"\"acme/shop/prod/caf\\xe9\"", "has byte 0xe9 in segment 4"});
  CHECK_FALSE(invalid_utf8_at(st.err().message).has_value());
  // Control characters, and the ones that reorder text on a terminal, stay
  // escaped even though they are valid UTF-8.
  auto rlo = validate_key("acme/shop/prod/a\xe2\x80\xae"
                          "b");
  check_rejected(rlo, errc::invalid_argument, {"a\\xe2\\x80\\xaeb", "U+202E"});
  CHECK_FALSE(contains(rlo.err().message, "\xe2\x80\xae"));
}

TEST_CASE("key_with_too_long_segment_is_rejected") {
  check_rejected(validate_key("a/" + repeat("b", 129) + "/c/d"), errc::invalid_argument,
                 {"segment 2", "129 characters long", "at most 128"});
}

TEST_CASE("key_segment_limit_follows_limits") {
  limits small;
  small.max_segment_chars = 4;
  check_ok(validate_key("abcd/b/c/d", small));
  check_rejected(validate_key("abcde/b/c/d", small), errc::invalid_argument,
                 {"at most 4"});
}

TEST_CASE("key_with_dot_segment_is_rejected") {
  check_rejected(validate_key("a/../c/d"), errc::invalid_argument,
                 {"\"..\"", "reserved", "rename the segment"});
  check_rejected(validate_key("a/b/c/."), errc::invalid_argument, {"reserved"});
}

TEST_CASE("key_message_quotes_long_input_shortened") {
  auto st = validate_key(repeat("x", 100000));
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().message.size() < 400);
  CHECK(contains(st.err().message, "...\""));
}

TEST_CASE("key_message_cuts_long_utf8_input_between_characters") {
  auto st = validate_key("a/b/c/" + repeat("\xc3\xa9", 1000));
  REQUIRE_FALSE(st.ok());
  CHECK(contains(st.err().message, "...\""));
  CHECK_FALSE(invalid_utf8_at(st.err().message).has_value());
}

// --- prefixes ---------------------------------------------------------------

TEST_CASE("empty_prefix_is_accepted") {
  check_ok(validate_key_prefix(""));
}

TEST_CASE("prefixes_of_valid_keys_are_accepted") {
  for (std::string_view p :
       {"t", "t/", "t/a", "t/a/", "t/a/e", "t/a/e/", "t/a/e/na", "t/a/e/name.toml"}) {
    INFO(p);
    check_ok(validate_key_prefix(p));
  }
}

TEST_CASE("prefix_segments_are_whole_so_a_dot_segment_is_refused_anywhere") {
  // A prefix matches whole segments (list_configs), so its last segment is a
  // segment like any other, never the start of one.
  check_rejected(validate_key_prefix("t/a/e/."), errc::invalid_argument,
                 {"segment 4 \".\"", "reserved"});
  check_rejected(validate_key_prefix("t/.."), errc::invalid_argument, {"reserved"});
}

TEST_CASE("prefix_past_the_name_is_rejected") {
  check_rejected(validate_key_prefix("t/a/e/n/"), errc::invalid_argument,
                 {"goes past the 4th segment", "drop what follows the name"});
  check_rejected(validate_key_prefix("t/a/e/n/x"), errc::invalid_argument,
                 {"goes past the 4th segment"});
}

TEST_CASE("prefix_with_empty_segment_or_leading_slash_is_rejected") {
  check_rejected(validate_key_prefix("t//a"), errc::invalid_argument,
                 {"empty segment (2"});
  check_rejected(validate_key_prefix("t//"), errc::invalid_argument, {"empty segment"});
  check_rejected(validate_key_prefix("/t"), errc::invalid_argument,
                 {"remove the leading slash"});
}

TEST_CASE("prefix_with_bad_character_or_long_segment_is_rejected") {
  check_rejected(validate_key_prefix("t/a*"), errc::invalid_argument,
                 {"'*' in segment 2", "use only A-Z a-z 0-9 . _ -"});
  check_rejected(validate_key_prefix("t/" + repeat("a", 129)), errc::invalid_argument,
                 {"at most 128"});
  check_rejected(validate_key_prefix("t/../"), errc::invalid_argument, {"reserved"});
}

// --- labels -----------------------------------------------------------------

TEST_CASE("valid_labels_are_accepted") {
  check_ok(validate_labels({}, defaults));
  check_ok(validate_labels({{"canary", "true"},
                            {"team.example/tier", "gold"},
                            {"empty", ""},
                            {"city", "Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac"}},
                           defaults));
}

TEST_CASE("too_many_labels_are_rejected") {
  labels l;
  for (int i = 0; i < 32; ++i)
    l["k" + std::to_string(i)] = "v";
  check_ok(validate_labels(l, defaults));
  l["one-more"] = "v";
  check_rejected(validate_labels(l, defaults), errc::too_large,
                 {"33 labels given", "the limit is 32"});
}

TEST_CASE("empty_label_key_is_rejected") {
  check_rejected(validate_labels({{"", "v"}}, defaults), errc::invalid_argument,
                 {"label key is empty", "label keys are 1-63 characters"});
}

TEST_CASE("label_key_with_bad_character_is_rejected") {
  check_rejected(validate_labels({{"zone name", "eu"}}, defaults),
                 errc::invalid_argument, {"' ' at position 5", "A-Z a-z 0-9 . _ - /"});
  check_rejected(validate_labels({{"a=b", "eu"}}, defaults), errc::invalid_argument,
                 {"'='"});
}

TEST_CASE("too_long_label_key_is_rejected") {
  check_ok(validate_labels({{repeat("k", 63), "v"}}, defaults));
  check_rejected(validate_labels({{repeat("k", 64), "v"}}, defaults), errc::too_large,
                 {"64 characters long", "at most 63"});
}

TEST_CASE("too_long_label_value_is_rejected") {
  // The limit counts characters, not bytes: 255 two-byte characters pass.
  check_ok(validate_labels({{"k", repeat("\xc3\xa9", 255)}}, defaults));
  check_rejected(validate_labels({{"k", repeat("v", 256)}}, defaults), errc::too_large,
                 {"256 characters long", "at most 255"});
}

TEST_CASE("label_value_with_control_character_is_rejected") {
  check_rejected(validate_labels({{"k", "a\nb"}}, defaults), errc::invalid_argument,
                 {"control character U+000A", "remove it"});
  check_rejected(validate_labels({{"k", "a\xc2\x85"}}, defaults),
                 errc::invalid_argument, {"U+0085"});
}

TEST_CASE("label_value_with_invalid_utf8_is_rejected") {
  check_rejected(validate_labels({{"k", "a\xff"}}, defaults), errc::invalid_argument,
                 {"not valid UTF-8", "as UTF-8"});
  // Overlong encoding of '/'.
  check_rejected(validate_labels({{"k", "\xc0\xaf"}}, defaults), errc::invalid_argument,
                 {"not valid UTF-8"});
}

// --- release rules ----------------------------------------------------------

TEST_CASE("valid_rules_are_accepted") {
  check_ok(validate_rules({}, defaults));
  check_ok(validate_rules({rule({{"canary", "true"}}, 3, 10), rule({}, 2, 0),
                           rule({{"canary", "true"}, {"zone", "eu"}}, 3, 10)},
                          defaults));
}

TEST_CASE("too_many_rules_are_rejected") {
  std::vector<release_rule> rules;
  for (int i = 0; i < 256; ++i)
    rules.push_back(rule({}, 1, i));
  check_ok(validate_rules(rules, defaults));
  rules.push_back(rule({}, 1, 1000));
  check_rejected(validate_rules(rules, defaults), errc::too_large,
                 {"257 release rules", "the limit is 256"});
}

TEST_CASE("rule_with_version_zero_is_rejected") {
  check_rejected(validate_rules({rule({{"canary", "true"}}, 0, 1)}, defaults),
                 errc::invalid_argument,
                 {"rule 1 {canary=true} has version id 0", "conflux version list"});
}

TEST_CASE("rule_with_version_zero_is_accepted_for_publish") {
  check_ok(
      validate_rules({rule({}, 0, 0)}, defaults, rule_version_zero::means_new_version));
}

TEST_CASE("rules_with_same_labels_and_priority_are_ambiguous") {
  check_rejected(validate_rules({rule({{"canary", "true"}}, 3, 10), rule({}, 1, 0),
                                 rule({{"canary", "true"}}, 4, 10)},
                                defaults),
                 errc::invalid_argument,
                 {"rules 1 and 3", "priority 10", "rule 3 could never apply",
                  "different labels or priorities"});
  check_rejected(validate_rules({rule({}, 1, 0), rule({}, 2, 0)}, defaults),
                 errc::invalid_argument, {"the default rule"});
}

TEST_CASE("rules_with_same_labels_and_different_priority_are_accepted") {
  check_ok(validate_rules(
      {rule({{"canary", "true"}}, 3, 10), rule({{"canary", "true"}}, 4, 5)}, defaults));
}

TEST_CASE("rule_with_bad_labels_names_the_rule") {
  check_rejected(
      validate_rules({rule({}, 1, 0), rule({{"bad key", "v"}}, 2, 1)}, defaults),
      errc::invalid_argument, {"rule 2", "label keys are 1-63"});
  labels many;
  for (int i = 0; i < 33; ++i)
    many["k" + std::to_string(i)] = "v";
  check_rejected(validate_rules({rule(many, 1, 0)}, defaults), errc::too_large,
                 {"rule 1", "the limit is 32"});
}

// --- text fields ------------------------------------------------------------

TEST_CASE("text_field_within_limit_is_accepted") {
  check_ok(validate_text_field("description", "", 4096));
  check_ok(
      validate_text_field("description", "line one\n\tline two\r\n\xe2\x9c\x93", 4096));
  check_ok(validate_text_field("comment", repeat("c", 4096), 4096));
}

TEST_CASE("text_field_over_limit_is_rejected") {
  check_rejected(validate_text_field("description", repeat("c", 4097), 4096),
                 errc::too_large,
                 {"description is 4097 bytes", "limit is 4096", "shorten it"});
}

TEST_CASE("text_field_with_control_character_is_rejected") {
  check_rejected(validate_text_field("creator", "bob\x07", 4096),
                 errc::invalid_argument,
                 {"creator has control character U+0007", "remove it"});
  check_rejected(validate_text_field("comment", std::string{"a\0b", 3}, 4096),
                 errc::invalid_argument, {"U+0000"});
}

TEST_CASE("text_field_with_invalid_utf8_is_rejected") {
  check_rejected(validate_text_field("comment", "caf\xe9", 4096),
                 errc::invalid_argument,
                 {"comment is not valid UTF-8 (at byte 4)", "send it as UTF-8"});
  // A UTF-16 surrogate encoded in UTF-8 is not valid UTF-8.
  check_rejected(validate_text_field("comment", "\xed\xa0\x80", 4096),
                 errc::invalid_argument, {"not valid UTF-8"});
}

TEST_CASE("key_longer_than_the_store_key_limit_is_too_large") {
  std::string seg(128, 'a');
  auto full = seg + "/" + seg + "/" + seg + "/" + seg; // 515 bytes
  auto st = validate_key(full);
  REQUIRE(st.code() == errc::too_large);
  CHECK(st.err().message.find("511") != std::string::npos);
  CHECK(validate_key(seg + "/" + seg + "/" + seg + "/" + seg.substr(4)).ok());
}
