// The pure pieces of the conflux CLI (apps/cli/cli_support.hpp): --label,
// --rule, RULES.json and --endpoints parsing, the exit code table, and the
// JSON / text rendering.

#include <doctest/doctest.h>

#include "apps/cli/cli_support.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace conflux;
using namespace conflux::cli;

namespace {
bool mentions(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
} // namespace

// -- exit codes ------------------------------------------------------------------

TEST_CASE("exit_code_for_revision_mismatch_is_4") {
  CHECK(exit_code_for(errc::revision_mismatch) == 4);
}

TEST_CASE("exit_code_for_version_in_use_and_already_exists_is_4") {
  CHECK(exit_code_for(errc::version_in_use) == 4);
  CHECK(exit_code_for(errc::already_exists) == 4);
}

TEST_CASE("exit_code_for_failed_precondition_is_4") {
  CHECK(exit_code_for(errc::failed_precondition) == 4);
}

TEST_CASE("exit_code_for_not_found_and_not_published_is_3") {
  CHECK(exit_code_for(errc::not_found) == 3);
  CHECK(exit_code_for(errc::not_published) == 3);
}

TEST_CASE("exit_code_for_bad_input_codes_is_2") {
  for (auto c : {errc::invalid_argument, errc::invalid_content, errc::schema_violation,
                 errc::too_large})
    CHECK(exit_code_for(c) == 2);
}

TEST_CASE("exit_code_for_cluster_unavailability_is_5") {
  for (auto c : {errc::not_leader, errc::no_quorum, errc::timeout, errc::unavailable,
                 errc::resource_exhausted})
    CHECK(exit_code_for(c) == 5);
}

TEST_CASE("exit_code_for_permission_denied_is_6") {
  CHECK(exit_code_for(errc::permission_denied) == 6);
}

TEST_CASE("exit_code_for_everything_else_is_1") {
  for (auto c : {errc::storage_failure, errc::corrupted, errc::unsupported_version,
                 errc::session_expired, errc::stale_sequence})
    CHECK(exit_code_for(c) == 1);
}

TEST_CASE("unavailable_error_line_names_the_endpoints_and_the_majority") {
  auto line = error_line("unavailable", "no node answered within 5000 ms",
                         hint_for(errc::unavailable, "10.0.0.1:7101"), 5, false);
  CHECK(line.rfind("conflux: no node answered within 5000 ms; ", 0) == 0);
  CHECK(mentions(line, "--endpoints"));
  CHECK(mentions(line, "10.0.0.1:7101"));
  CHECK(mentions(line, "majority"));
  CHECK_FALSE(mentions(line, "\n"));
}

TEST_CASE("server_message_is_used_as_is_when_it_already_says_what_to_do") {
  CHECK(hint_for(errc::not_found, "x:1").empty());
  CHECK(hint_for(errc::revision_mismatch, "x:1").empty());
  CHECK(error_line("not_found", "config \"a/b/c/d\" does not exist; create it", "", 3,
                   false) == "conflux: config \"a/b/c/d\" does not exist; create it");
}

TEST_CASE("error_line_is_one_line_even_if_the_message_has_newlines") {
  auto line = error_line("corrupted", "bad\nthing", "", 1, false);
  CHECK_FALSE(mentions(line, "\n"));
}

TEST_CASE("error_line_keeps_characters_and_escapes_bytes_that_are_none") {
  // "dé" stays; a lone 0xff, an escape sequence and a DEL become \xNN.
  CHECK(error_line("not_found", "d\xc3\xa9 \xff \x1b[31m \x7f\tend", "", 3, false) ==
        "conflux: d\xc3\xa9 \\xff \\x1b[31m \\x7f\tend");
  CHECK(printable_text("gr\xc3\xbc\xc3\x9f \xf0\x9f\x99\x82") ==
        "gr\xc3\xbc\xc3\x9f \xf0\x9f\x99\x82");
  CHECK(printable_text("\xc3") == "\\xc3");          // cut short
  CHECK(printable_text("\xc0\xaf") == "\\xc0\\xaf"); // overlong '/'
}

TEST_CASE("json_error_line_is_one_object_with_code_message_and_exit_code") {
  auto line = error_line("revision_mismatch", "it moved; re-read", "", 4, true);
  auto j = nlohmann::json::parse(line);
  CHECK(j["error"] == "revision_mismatch");
  CHECK(j["message"] == "it moved; re-read");
  CHECK(j["exit_code"] == 4);
  CHECK_FALSE(j.contains("hint"));
  CHECK_FALSE(mentions(line, "\n"));
}

// -- --label -------------------------------------------------------------------------

TEST_CASE("label_parses_into_key_and_value") {
  auto kv = parse_label("canary=true");
  REQUIRE(kv.ok());
  CHECK(kv->first == "canary");
  CHECK(kv->second == "true");
}

TEST_CASE("label_value_may_be_empty_or_contain_equals") {
  auto empty = parse_label("zone=");
  REQUIRE(empty.ok());
  CHECK(empty->second.empty());
  auto eq = parse_label("expr=a=b");
  REQUIRE(eq.ok());
  CHECK(eq->first == "expr");
  CHECK(eq->second == "a=b");
}

TEST_CASE("label_without_equals_is_refused") {
  auto kv = parse_label("canary");
  REQUIRE_FALSE(kv.ok());
  CHECK(kv.code() == errc::invalid_argument);
  CHECK(mentions(kv.err().message, "KEY=VALUE"));
}

TEST_CASE("label_with_empty_key_is_refused") {
  CHECK_FALSE(parse_label("=true").ok());
}

TEST_CASE("labels_collect_into_a_map") {
  auto l = parse_labels({"canary=true", "region=eu"});
  REQUIRE(l.ok());
  CHECK(*l == labels{{"canary", "true"}, {"region", "eu"}});
  auto none = parse_labels({});
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("label_key_given_twice_is_refused") {
  auto l = parse_labels({"canary=true", "canary=false"});
  REQUIRE_FALSE(l.ok());
  CHECK(mentions(l.err().message, "twice"));
}

TEST_CASE("label_key_with_a_bad_character_is_refused") {
  auto l = parse_labels({"can ary=true"});
  REQUIRE_FALSE(l.ok());
  CHECK(l.code() == errc::invalid_argument);
}

TEST_CASE("label_value_with_a_control_character_is_refused") {
  CHECK_FALSE(parse_labels({"a=x\x01y"}).ok());
}

TEST_CASE("label_size_limits_are_left_to_the_cluster") {
  // 300 characters is over the default value limit, but a deployment may
  // have raised it: the cluster decides.
  auto l = parse_labels({"a=" + std::string(300, 'v')});
  CHECK(l.ok());
}

// -- --rule SPEC -----------------------------------------------------------------------

TEST_CASE("rule_spec_with_priority_parses") {
  auto r = parse_rule_spec("canary=true:3:10");
  REQUIRE(r.ok());
  CHECK(r->labels == labels{{"canary", "true"}});
  CHECK(r->version == 3);
  CHECK(r->priority == 10);
}

TEST_CASE("rule_spec_without_priority_has_priority_0") {
  auto r = parse_rule_spec("canary=true:3");
  REQUIRE(r.ok());
  CHECK(r->priority == 0);
}

TEST_CASE("rule_spec_star_is_the_default_rule") {
  auto r = parse_rule_spec("*:2");
  REQUIRE(r.ok());
  CHECK(r->labels.empty());
  CHECK(r->version == 2);
}

TEST_CASE("rule_spec_with_several_labels_parses") {
  auto r = parse_rule_spec("canary=true,region=eu:4:-5");
  REQUIRE(r.ok());
  CHECK(r->labels == labels{{"canary", "true"}, {"region", "eu"}});
  CHECK(r->version == 4);
  CHECK(r->priority == -5);
}

TEST_CASE("rule_spec_without_version_is_refused") {
  auto r = parse_rule_spec("canary=true");
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.err().message, "LABELS:VERSION[:PRIORITY]"));
}

TEST_CASE("rule_spec_with_too_many_fields_is_refused") {
  CHECK_FALSE(parse_rule_spec("a=b:1:2:3").ok());
}

TEST_CASE("rule_spec_with_version_0_or_not_a_number_is_refused") {
  CHECK_FALSE(parse_rule_spec("*:0").ok());
  CHECK_FALSE(parse_rule_spec("*:x").ok());
  CHECK_FALSE(parse_rule_spec("*:-1").ok());
  CHECK_FALSE(parse_rule_spec("*:").ok());
  CHECK_FALSE(parse_rule_spec("*:99999999999999999999999").ok());
}

TEST_CASE("rule_spec_with_priority_out_of_int32_range_is_refused") {
  CHECK(parse_rule_spec("*:1:2147483647").ok());
  CHECK(parse_rule_spec("*:1:-2147483648").ok());
  CHECK_FALSE(parse_rule_spec("*:1:2147483648").ok());
  CHECK_FALSE(parse_rule_spec("*:1:-2147483649").ok());
  CHECK_FALSE(parse_rule_spec("*:1:high").ok());
}

TEST_CASE("rule_spec_with_empty_labels_is_refused_and_points_at_star") {
  auto r = parse_rule_spec(":3");
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.err().message, "*"));
}

TEST_CASE("rule_spec_with_malformed_label_is_refused") {
  CHECK_FALSE(parse_rule_spec("canary:3").ok());
  CHECK_FALSE(parse_rule_spec("a=1,,b=2:3").ok());
  CHECK_FALSE(parse_rule_spec("a=1,a=2:3").ok());
  CHECK_FALSE(parse_rule_spec("bad key=1:3").ok());
}

TEST_CASE("rule_specs_keep_their_order") {
  auto rules = parse_rule_specs({"canary=true:3:10", "*:2"});
  REQUIRE(rules.ok());
  REQUIRE(rules->size() == 2);
  CHECK((*rules)[0].version == 3);
  CHECK((*rules)[1].labels.empty());
}

TEST_CASE("two_rules_with_same_labels_and_priority_are_refused") {
  auto rules = parse_rule_specs({"*:2", "*:3"});
  REQUIRE_FALSE(rules.ok());
  CHECK(rules.code() == errc::invalid_argument);
}

TEST_CASE("rule_spec_round_trips_through_format_rule_spec") {
  for (const char* s : {"canary=true:3:10", "*:2", "a=1,b=2:7:-1"}) {
    auto r = parse_rule_spec(s);
    REQUIRE(r.ok());
    CHECK(format_rule_spec(*r) == s);
  }
}

// -- RULES.json ------------------------------------------------------------------------

TEST_CASE("rules_json_parses_labels_version_and_priority") {
  auto rules = parse_rules_json(
    R"([{"labels": {"canary": "true"}, "version_id": 3, "priority": 10}, {"version_id": 2}])");
  REQUIRE(rules.ok());
  REQUIRE(rules->size() == 2);
  CHECK((*rules)[0] == release_rule{{{"canary", "true"}}, 3, 10});
  CHECK((*rules)[1] == release_rule{{}, 2, 0});
}

TEST_CASE("rules_json_labels_may_be_empty_or_null_for_the_default_rule") {
  auto rules = parse_rules_json(R"([{"labels": {}, "version_id": 1, "priority": -3}])");
  REQUIRE(rules.ok());
  CHECK((*rules)[0].labels.empty());
  CHECK((*rules)[0].priority == -3);
  CHECK(parse_rules_json(R"([{"labels": null, "version_id": 1}])").ok());
}

TEST_CASE("empty_rules_json_array_is_allowed") {
  auto rules = parse_rules_json("[]");
  REQUIRE(rules.ok());
  CHECK(rules->empty());
}

TEST_CASE("unknown_rules_json_field_is_refused") {
  auto rules = parse_rules_json(R"([{"version_id": 3, "prio": 10}])");
  REQUIRE_FALSE(rules.ok());
  CHECK(rules.code() == errc::invalid_argument);
  CHECK(mentions(rules.err().message, "prio"));
}

TEST_CASE("rules_json_without_version_id_is_refused") {
  CHECK_FALSE(parse_rules_json(R"([{"labels": {"a": "b"}}])").ok());
}

TEST_CASE("rules_json_with_wrong_types_is_refused") {
  CHECK_FALSE(parse_rules_json(R"([{"version_id": "3"}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 0}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": -1}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1.5}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1, "priority": 1.5}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1, "priority": 3000000000}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1, "labels": {"canary": true}}])").ok());
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1, "labels": ["a"]}])").ok());
  CHECK_FALSE(parse_rules_json(R"([3])").ok());
}

TEST_CASE("rules_json_that_is_not_an_array_is_refused") {
  auto r = parse_rules_json(R"({"rules": []})");
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.err().message, "array"));
}

TEST_CASE("malformed_or_empty_rules_json_is_refused") {
  CHECK_FALSE(parse_rules_json("").ok());
  CHECK_FALSE(parse_rules_json("  \n").ok());
  CHECK_FALSE(parse_rules_json("[{").ok());
  CHECK_FALSE(parse_rules_json("[] []").ok());
}

TEST_CASE("rules_json_with_duplicate_names_is_refused") {
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1, "version_id": 2}])").ok());
  CHECK_FALSE(
    parse_rules_json(R"([{"version_id": 1, "labels": {"a": "1", "a": "2"}}])").ok());
}

TEST_CASE("rules_json_with_duplicate_rules_is_refused") {
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1}, {"version_id": 2}])").ok());
}

TEST_CASE("rules_json_with_bad_label_key_is_refused") {
  CHECK_FALSE(parse_rules_json(R"([{"version_id": 1, "labels": {"a b": "1"}}])").ok());
}

TEST_CASE("rules_json_round_trips_through_rules_to_json") {
  std::vector<release_rule> rules{{{{"canary", "true"}}, 3, 10}, {{}, 2, 0}};
  auto back = parse_rules_json(dump_json(rules_to_json(rules)));
  REQUIRE(back.ok());
  CHECK(*back == rules);
}

// -- --endpoints ------------------------------------------------------------------------

TEST_CASE("endpoint_list_parses_and_trims") {
  auto eps = parse_endpoints("10.0.0.1:7101, node2.example:7102 ,[::1]:7103");
  REQUIRE(eps.ok());
  CHECK(*eps == std::vector<std::string>{"10.0.0.1:7101", "node2.example:7102", "[::1]:7103"});
}

TEST_CASE("endpoint_without_port_is_refused") {
  auto eps = parse_endpoints("localhost");
  REQUIRE_FALSE(eps.ok());
  CHECK(mentions(eps.err().message, "HOST:PORT"));
}

TEST_CASE("endpoint_with_bad_port_or_empty_parts_is_refused") {
  CHECK_FALSE(parse_endpoints("a:0").ok());
  CHECK_FALSE(parse_endpoints("a:65536").ok());
  CHECK_FALSE(parse_endpoints("a:port").ok());
  CHECK_FALSE(parse_endpoints(":7101").ok());
  CHECK_FALSE(parse_endpoints("a:1,,b:2").ok());
  CHECK_FALSE(parse_endpoints("").ok());
  CHECK_FALSE(parse_endpoints("::1:7101").ok());
  CHECK_FALSE(parse_endpoints("[::1:7101").ok());
}

// -- keys, text, format, files -------------------------------------------------------

TEST_CASE("malformed_key_is_refused_locally") {
  CHECK(check_key("acme/shop/prod/db.toml").ok());
  CHECK(check_key("acme/shop/prod").code() == errc::invalid_argument);
  CHECK(check_key("acme/shop/prod/a b").code() == errc::invalid_argument);
  CHECK(check_key("/acme/shop/prod/x").code() == errc::invalid_argument);
}

TEST_CASE("list_prefix_is_checked_locally") {
  CHECK(check_prefix("").ok());
  CHECK(check_prefix("acme/").ok());
  CHECK(check_prefix("acme/sh").ok());
  CHECK_FALSE(check_prefix("acme//").ok());
}

TEST_CASE("description_with_control_characters_is_refused") {
  CHECK(check_text("--description", "fix\ttimeouts\n").ok());
  CHECK_FALSE(check_text("--description", "bad\x01").ok());
  CHECK_FALSE(check_text("--description", "\xff").ok());
}

TEST_CASE("unknown_format_name_is_refused_with_the_list") {
  CHECK(*parse_format("toml") == content_format::toml);
  auto f = parse_format("xml");
  REQUIRE_FALSE(f.ok());
  CHECK(mentions(f.err().message, "json, yaml, toml, properties, text"));
}

TEST_CASE("missing_file_is_refused_with_its_path") {
  auto d = read_input_file("--file", "/nonexistent/conflux-cli-test");
  REQUIRE_FALSE(d.ok());
  CHECK(d.code() == errc::invalid_argument);
  CHECK(mentions(d.err().message, "/nonexistent/conflux-cli-test"));
  CHECK(mentions(d.err().message, "--file"));
}

TEST_CASE("directory_is_refused_as_a_file") {
  CHECK_FALSE(read_input_file("--file", "/").ok());
}

TEST_CASE("file_is_read_byte_for_byte") {
  std::string path = "/tmp/conflux_cli_test_" + std::to_string(::getpid());
  std::string bytes("a\0b\r\n\xff", 6);
  {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto d = read_input_file("--file", path);
  std::remove(path.c_str());
  REQUIRE(d.ok());
  CHECK(*d == bytes);
}

// -- rendering --------------------------------------------------------------------------

TEST_CASE("utf8_check_accepts_text_and_refuses_broken_sequences") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("gr\xc3\xbc\xc3\x9f"));
  CHECK(is_valid_utf8("\xf0\x9f\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\xc3"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));     // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80")); // surrogate
}

TEST_CASE("base64_encodes_with_padding") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("binary_content_goes_to_json_as_base64") {
  nlohmann::json j = nlohmann::json::object();
  put_content(j, std::string("\xff\x00", 2));
  CHECK_FALSE(j.contains("content"));
  CHECK(j["content_base64"] == "/wA=");
  nlohmann::json t = nlohmann::json::object();
  put_content(t, "a = 1\n");
  CHECK(t["content"] == "a = 1\n");
}

TEST_CASE("time_renders_as_utc_iso8601") {
  CHECK(format_time(0) == "-");
  CHECK(format_time(1'700'000'000'123) == "2023-11-14T22:13:20Z");
  CHECK(format_time(1'700'000'000'123, true) == "2023-11-14T22:13:20.123Z");
}

TEST_CASE("labels_render_in_key_order_and_star_for_default") {
  CHECK(format_labels({}) == "*");
  CHECK(format_labels({{"region", "eu"}, {"canary", "true"}}) == "canary=true,region=eu");
}

TEST_CASE("table_columns_are_aligned_and_trailing_spaces_trimmed") {
  auto t = render_table({{"ID", "NAME", "X"}, {"10", "a", ""}, {"2", "longer", "y"}});
  CHECK(t == "ID  NAME    X\n10  a\n2   longer  y\n");
}

TEST_CASE("rule_json_uses_the_rules_file_field_names") {
  auto j = rule_to_json({{{"canary", "true"}}, 3, 10});
  CHECK(j == nlohmann::json::parse(
               R"({"labels": {"canary": "true"}, "version_id": 3, "priority": 10})"));
  CHECK(rule_to_json({{}, 2, 0})["labels"].is_object());
}

TEST_CASE("config_json_has_every_field") {
  config c;
  c.id = 7;
  c.key = "a/b/c/d.json";
  c.format = content_format::json;
  c.latest_version = 3;
  c.releases = {{{}, 2, 0}};
  c.create_revision = 5;
  c.mod_revision = 9;
  c.created_at_ms = 1'700'000'000'000;
  c.updated_at_ms = 1'700'000'001'000;
  auto j = config_to_json(c);
  CHECK(j["key"] == "a/b/c/d.json");
  CHECK(j["id"] == 7);
  CHECK(j["format"] == "json");
  CHECK(j["schema"].is_null());
  CHECK(j["latest_version_id"] == 3);
  CHECK(j["rules"].size() == 1);
  CHECK(j["create_revision"] == 5);
  CHECK(j["mod_revision"] == 9);
  CHECK(j["created_at"] == "2023-11-14T22:13:20.000Z");
  CHECK(j["updated_at_ms"] == 1'700'000'001'000);
  c.schema = "{}";
  CHECK(config_to_json(c)["schema"] == "{}");
}

TEST_CASE("version_json_has_metadata_and_content_only_when_asked") {
  version v;
  v.config = 7;
  v.id = 2;
  v.content = "x: 1\n";
  v.content_hash = "abc";
  v.format = content_format::yaml;
  v.description = "d";
  v.creator = "me";
  v.revision = 11;
  auto meta = version_to_json("a/b/c/d", v, false);
  CHECK(meta["version_id"] == 2);
  CHECK(meta["size"] == 5);
  CHECK(meta["format"] == "yaml");
  CHECK(meta["revision"] == 11);
  CHECK_FALSE(meta.contains("content"));
  auto full = version_to_json("a/b/c/d", v, true);
  CHECK(full["content"] == "x: 1\n");
}

TEST_CASE("rules_pointing_at_a_version_are_found_by_index") {
  std::vector<release_rule> rules{{{{"a", "1"}}, 3, 0}, {{}, 2, 0}, {{{"b", "1"}}, 3, 1}};
  CHECK(rules_pointing_at(rules, 3) == std::vector<std::size_t>{0, 2});
  CHECK(rules_pointing_at(rules, 9).empty());
}

TEST_CASE("json_dump_never_throws_on_bad_utf8") {
  nlohmann::json j{{"d", std::string("\xff")}};
  CHECK_NOTHROW(dump_json(j));
}

TEST_CASE("version_id_must_be_plain_decimal_from_1") {
  CHECK(*parse_positive_number("ID", "7") == 7);
  CHECK(*parse_positive_number("ID", "18446744073709551615") == 18446744073709551615ULL);
  for (const char* bad : {"0", "-1", "0x10", "1e3", " 7", "7 ", "", "18446744073709551616"})
    CHECK_FALSE(parse_positive_number("ID", bad).ok());
  CHECK(mentions(parse_positive_number("--if-revision", "x").err().message, "revision"));
}
