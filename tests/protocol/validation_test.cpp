// Tests of protocol/validation: every rejection has its code and the
// actionable part of its message checked, and every format its happy path.

#include "protocol/validation.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <string>
#include <string_view>
#include <vector>

using namespace conflux;

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Checks that `st` failed with `code` and that its message contains each
// fragment (the part that tells a person what to do).
void check_rejected(const status& st, errc code,
                    std::vector<std::string_view> fragments) {
  REQUIRE_FALSE(st.ok());
  INFO("message: " << st.err().message);
  CHECK(st.code() == code);
  for (auto f : fragments) {
    INFO("expected fragment: " << f);
    CHECK(contains(st.err().message, f));
  }
}

void check_ok(const status& st) {
  INFO("message: " << (st.ok() ? std::string{} : st.err().message));
  CHECK(st.ok());
}

const limits defaults{};

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

release_rule rule(labels l, version_id v, std::int32_t priority) {
  return release_rule{std::move(l), v, priority};
}

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
                 {"byte 0xc3 in segment 4"});
  // Control bytes are shown escaped, never raw.
  auto st = validate_key(std::string{"a/b/c/x\x01y"});
  check_rejected(st, errc::invalid_argument, {"\\x01", "byte 0x01"});
  CHECK_FALSE(contains(st.err().message, "\x01"));
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

// --- prefixes ---------------------------------------------------------------

TEST_CASE("empty_prefix_is_accepted") {
  check_ok(validate_key_prefix(""));
}

TEST_CASE("prefixes_of_valid_keys_are_accepted") {
  for (std::string_view p : {"t", "t/", "t/a", "t/a/", "t/a/e", "t/a/e/", "t/a/e/na",
                             "t/a/e/name.toml", "t/a/e/."}) {
    INFO(p);
    check_ok(validate_key_prefix(p));
  }
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

// --- content: size and format ---------------------------------------------

TEST_CASE("unknown_format_is_rejected") {
  check_rejected(validate_content(static_cast<content_format>(42), "x", defaults),
                 errc::invalid_argument,
                 {"unknown content format 42", "json, yaml, toml"});
  check_rejected(validate_against_schema("{}", static_cast<content_format>(0), "x"),
                 errc::invalid_argument, {"unknown content format 0"});
}

TEST_CASE("content_exactly_at_size_limit_is_accepted_and_one_byte_over_is_rejected") {
  std::string content(defaults.max_content_bytes, 'x');
  check_ok(validate_content(content_format::text, content, defaults));
  content.push_back('x');
  check_rejected(validate_content(content_format::text, content, defaults),
                 errc::too_large,
                 {"content is 4194305 bytes", "the limit is 4194304 bytes",
                  "split it into smaller configs"});
}

TEST_CASE("size_limit_is_checked_before_parsing") {
  limits small;
  small.max_content_bytes = 10;
  check_ok(validate_content(content_format::json, "[1,2,3,44]", small));
  check_rejected(validate_content(content_format::json, "[1,2,3,4444", small),
                 errc::too_large, {"the limit is 10 bytes"});
}

TEST_CASE("text_accepts_any_bytes") {
  check_ok(validate_content(content_format::text, "", defaults));
  check_ok(
      validate_content(content_format::text, std::string{"\0\xff\xfe{[", 5}, defaults));
}

// --- JSON -------------------------------------------------------------------

TEST_CASE("valid_json_is_accepted") {
  check_ok(validate_content(content_format::json, R"({"a": [1, 2.5, "x", null, true]})",
                            defaults));
  check_ok(validate_content(content_format::json, "42", defaults));
  check_ok(validate_content(content_format::json, R"({"a": {"x": 1}, "b": {"x": 2}})",
                            defaults));
}

TEST_CASE("json_with_trailing_comma_is_rejected_with_line_and_column") {
  check_rejected(
      validate_content(content_format::json, "{\n  \"a\": 1,\n}\n", defaults),
      errc::invalid_content,
      {"content is not valid JSON: line 3, column 1", "unexpected '}'",
       "fix the document or choose --format text"});
}

TEST_CASE("empty_json_is_rejected") {
  check_rejected(validate_content(content_format::json, "", defaults),
                 errc::invalid_content, {"not valid JSON", "fix the document"});
}

TEST_CASE("json_with_duplicate_name_is_rejected") {
  check_rejected(validate_content(content_format::json,
                                  R"({"db": {"port": 1, "port": 2}})", defaults),
                 errc::invalid_content,
                 {"name \"port\" appears twice", "\"/db\"", "keep only one"});
}

TEST_CASE("json_with_invalid_utf8_is_rejected") {
  auto st = validate_content(content_format::json, "[\"caf\xe9\"]", defaults);
  check_rejected(st, errc::invalid_content, {"not valid JSON"});
  CHECK_FALSE(contains(st.err().message, "\xe9"));
}

TEST_CASE("deeply_nested_json_is_rejected_without_crashing") {
  std::string deep = repeat("[", 100000) + repeat("]", 100000);
  check_rejected(
      validate_content(content_format::json, deep, defaults), errc::too_large,
      {"deeper than 256 levels", "line 1, column 257", "flatten the document"});
  std::string at_limit = repeat("[", 256) + repeat("]", 256);
  check_ok(validate_content(content_format::json, at_limit, defaults));
  // Brackets inside strings do not count.
  check_ok(validate_content(content_format::json, "[\"" + repeat("[", 1000) + "\"]",
                            defaults));
}

// --- YAML -------------------------------------------------------------------

TEST_CASE("valid_yaml_is_accepted") {
  check_ok(validate_content(content_format::yaml, "", defaults));
  check_ok(validate_content(content_format::yaml,
                            "server:\n  host: example.org\n  ports: [80, 443]\n"
                            "defaults: &d {retries: 3}\nservice: *d\n",
                            defaults));
  check_ok(validate_content(content_format::yaml, "a: 1\n---\nb: 2\n", defaults));
}

TEST_CASE("yaml_with_bad_indentation_is_rejected") {
  check_rejected(validate_content(content_format::yaml, "a: 1\n  b: 2\n", defaults),
                 errc::invalid_content,
                 {"content is not valid YAML: line 2, column 4", "illegal map value",
                  "fix the document or choose --format text"});
}

TEST_CASE("yaml_with_tab_indentation_is_rejected") {
  check_rejected(validate_content(content_format::yaml, "a:\n\tb: 1\n", defaults),
                 errc::invalid_content, {"not valid YAML: line 2", "fix the document"});
}

TEST_CASE("yaml_with_unclosed_flow_sequence_is_rejected") {
  check_rejected(validate_content(content_format::yaml, "key: [1, 2\n", defaults),
                 errc::invalid_content,
                 {"not valid YAML", "end of sequence flow not found"});
}

TEST_CASE("yaml_with_duplicate_key_is_rejected") {
  check_rejected(
      validate_content(content_format::yaml, "a: 1\nb: 2\na: 3\n", defaults),
      errc::invalid_content,
      {"not valid YAML: line 3", "mapping key \"a\" appears twice", "keep only one"});
  // The same key in different mappings is fine.
  check_ok(validate_content(content_format::yaml, "x: {a: 1}\ny: {a: 2}\n", defaults));
}

TEST_CASE("yaml_that_stalls_the_parser_is_rejected") {
  // yaml-cpp 0.7 would start empty documents at a stray ',' forever.
  check_rejected(validate_content(content_format::yaml, ",", defaults),
                 errc::invalid_content,
                 {"not valid YAML: line 1, column 1", "cannot get past this point",
                  "remove or quote"});
  check_rejected(validate_content(content_format::yaml, "a: 1\n, 2]\n", defaults),
                 errc::invalid_content, {"not valid YAML"});
  check_rejected(validate_against_schema("{}", content_format::yaml, ", 2]\n"),
                 errc::invalid_content, {"cannot get past this point"});
}

TEST_CASE("yaml_with_unknown_alias_is_rejected") {
  check_rejected(validate_content(content_format::yaml, "a: *nowhere\n", defaults),
                 errc::invalid_content, {"not valid YAML"});
}

TEST_CASE("deeply_nested_yaml_is_rejected_without_crashing") {
  std::string flow = repeat("[", 100000) + repeat("]", 100000);
  check_rejected(validate_content(content_format::yaml, flow, defaults),
                 errc::too_large, {"deeper than 256 levels", "flatten the document"});
  std::string block;
  for (int i = 0; i < 300; ++i)
    block += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  check_rejected(validate_content(content_format::yaml, block, defaults),
                 errc::too_large, {"deeper than 256 levels"});
  check_ok(validate_content(content_format::yaml, repeat("[", 256) + repeat("]", 256),
                            defaults));
}

// --- TOML -------------------------------------------------------------------

TEST_CASE("valid_toml_is_accepted") {
  check_ok(validate_content(content_format::toml, "", defaults));
  check_ok(validate_content(
      content_format::toml,
      "title = \"x\"\n[server]\nhost = \"example.org\"\nports = [80, 443]\n"
      "started = 1979-05-27T07:32:00Z\n[[users]]\nname = \"a\"\n"
      "[[users]]\nname = \"b\"\ninline = { a.b = 1, c = [ { d = 2 } ] }\n",
      defaults));
}

TEST_CASE("toml_with_duplicate_key_is_rejected") {
  check_rejected(validate_content(content_format::toml, "a = 1\na = 2\n", defaults),
                 errc::invalid_content,
                 {"content is not valid TOML: line 2, column 5", "already exists",
                  "fix the document or choose --format text"});
  check_rejected(
      validate_content(content_format::toml, "[t]\nx = 1\n[t]\ny = 2\n", defaults),
      errc::invalid_content, {"not valid TOML: line 3", "already exists"});
}

TEST_CASE("toml_with_invalid_utf8_is_rejected") {
  // toml11 3.7 reads out of bounds on such bytes; they never reach it.
  check_rejected(
      validate_content(content_format::toml, "t = \"x\"\nh = '\x80'\n", defaults),
      errc::invalid_content,
      {"not valid TOML: line 2, column 6", "byte 0x80 is not valid UTF-8",
       "save the file as UTF-8"});
}

TEST_CASE("toml_with_bad_value_is_rejected") {
  check_rejected(validate_content(content_format::toml, "a = [1,\n", defaults),
                 errc::invalid_content, {"not valid TOML", "fix the document"});
}

TEST_CASE("deeply_nested_toml_is_rejected_without_crashing") {
  std::string arrays = "a = " + repeat("[", 100000) + repeat("]", 100000) + "\n";
  check_rejected(validate_content(content_format::toml, arrays, defaults),
                 errc::too_large, {"deeper than 256 levels", "flatten the document"});
  std::string inline_tables =
      "a = " + repeat("{b = ", 100000) + "1" + repeat("}", 100000);
  check_rejected(validate_content(content_format::toml, inline_tables, defaults),
                 errc::too_large, {"deeper than 256 levels"});
  std::string dotted = "a" + repeat(".a", 100000) + " = 1\n";
  check_rejected(validate_content(content_format::toml, dotted, defaults),
                 errc::too_large, {"deeper than 256 levels"});
  std::string header = "[a" + repeat(".a", 100000) + "]\n";
  check_rejected(validate_content(content_format::toml, header, defaults),
                 errc::too_large, {"deeper than 256 levels"});
  // Brackets in strings and comments do not count.
  check_ok(validate_content(content_format::toml,
                            "s = \"" + repeat("[", 1000) + "\"\n# " +
                                repeat("[", 1000) + "\nm = '''" + repeat("{", 1000) +
                                "'''\n",
                            defaults));
  check_ok(validate_content(content_format::toml,
                            "a = " + repeat("[", 200) + repeat("]", 200), defaults));
}

// --- properties -------------------------------------------------------------

TEST_CASE("valid_properties_are_accepted") {
  check_ok(validate_content(content_format::properties, "", defaults));
  check_ok(validate_content(content_format::properties,
                            "# comment with a bad escape \\u12\n"
                            "! another comment\n"
                            "db.url = jdbc:postgresql://h/db\n"
                            "db.user: admin\n"
                            "db.pool 10\n"
                            "name=caf\\u00e9\n"
                            "path=C:\\\\dir\\\\\n"
                            "key\\ with\\=odd\\:chars = v\n"
                            "list = a, \\\n"
                            "       b, \\\n"
                            "       c\r\n"
                            "latin1=caf\xe9\n"
                            "empty=\n",
                            defaults));
}

TEST_CASE("properties_with_bad_unicode_escape_is_rejected_with_line") {
  check_rejected(
      validate_content(content_format::properties, "a=1\nb=\\u12G4\n", defaults),
      errc::invalid_content,
      {"content is not valid properties: line 2", "malformed \\u escape",
       "exactly 4 hex digits", "fix the document or choose --format text"});
}

TEST_CASE("properties_with_short_unicode_escape_at_end_is_rejected") {
  check_rejected(
      validate_content(content_format::properties, "a=1\r\nb=2\r\nc=\\u00", defaults),
      errc::invalid_content, {"line 3", "malformed \\u escape"});
}

TEST_CASE("properties_unicode_escape_split_by_continuation_is_accepted") {
  // Java joins continuation lines before it decodes escapes.
  check_ok(
      validate_content(content_format::properties, "a=\\u00\\\n   e9\n", defaults));
  check_rejected(
      validate_content(content_format::properties, "a=1\nb=\\u0\\\n  0x\n", defaults),
      errc::invalid_content, {"line 2", "malformed \\u escape"});
}

TEST_CASE("properties_escaped_backslash_does_not_start_an_escape") {
  check_ok(validate_content(content_format::properties, "a=\\\\u12\n", defaults));
}

TEST_CASE("properties_with_nul_is_rejected") {
  check_rejected(validate_content(content_format::properties,
                                  std::string{"a=1\nb=\0\n", 8}, defaults),
                 errc::invalid_content, {"line 2, column 3", "NUL byte", "remove it"});
  check_rejected(validate_content(content_format::properties, "a=\\u0000\n", defaults),
                 errc::invalid_content, {"\\u0000", "remove it"});
}

// --- schema documents -------------------------------------------------------

const std::string port_schema = R"({
  "type": "object",
  "properties": {
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "hosts": {"type": "array", "items": {"type": "string"}}
  },
  "required": ["port"]
})";

TEST_CASE("valid_schema_document_is_accepted") {
  check_ok(validate_schema_document(port_schema, defaults));
  check_ok(validate_schema_document("{}", defaults));
  check_ok(validate_schema_document(
      R"({"definitions": {"n": {"type": "integer"}}, "items": {"$ref": "#/definitions/n"}})",
      defaults));
}

TEST_CASE("schema_that_is_not_json_is_rejected") {
  check_rejected(
      validate_schema_document("{type: object}", defaults), errc::invalid_argument,
      {"schema is not valid JSON: line 1, column 3", "fix the schema document"});
}

TEST_CASE("schema_that_is_json_but_not_a_schema_is_rejected") {
  check_rejected(validate_schema_document(R"({"type": 12})", defaults),
                 errc::invalid_argument,
                 {"schema is not a valid JSON Schema", "fix the schema document"});
  check_rejected(
      validate_schema_document("[1, 2]", defaults), errc::invalid_argument,
      {"schema is a JSON array, not a JSON Schema", "{\"type\": \"object\"}"});
}

TEST_CASE("schema_with_remote_ref_is_rejected") {
  check_rejected(
      validate_schema_document(R"({"$ref": "http://example.org/s.json"})", defaults),
      errc::invalid_argument,
      {"only references inside the schema", "copy the referenced schema in"});
}

TEST_CASE("schema_with_dangling_ref_is_rejected") {
  check_rejected(
      validate_schema_document(R"({"$ref": "#/definitions/missing"})", defaults),
      errc::invalid_argument, {"points at nothing", "existing subschema"});
  check_rejected(
      validate_schema_document(R"({"$ref": "#/type", "type": "string"})", defaults),
      errc::invalid_argument, {"rather than a schema"});
}

TEST_CASE("schema_with_nested_id_is_rejected") {
  check_ok(validate_schema_document(R"({"$id": "https://example.org/config.json"})",
                                    defaults));
  check_rejected(validate_schema_document(
                     R"({"properties": {"a": {"$id": "other.json"}}})", defaults),
                 errc::invalid_argument,
                 {"sets \"$id\" at #/properties/a", "only the top level"});
}

TEST_CASE("schema_that_loops_without_descending_is_rejected") {
  // valijson would recurse forever on each of these and crash the node.
  for (
      std::string_view schema :
      {R"({"$ref": "#"})", R"({"allOf": [{"$ref": "#"}]})", R"({"not": {"$ref": "#"}})",
       R"({"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"anyOf": [{"$ref": "#/definitions/a"}]}},
            "$ref": "#/definitions/a"})"}) {
    INFO(schema);
    check_rejected(
        validate_schema_document(schema, defaults), errc::invalid_argument,
        {"loops back to itself", "would never end", "pass through properties, items"});
    check_rejected(validate_against_schema(schema, content_format::json, "1"),
                   errc::invalid_argument, {"loops back to itself"});
  }
}

TEST_CASE("schema_that_recurses_through_properties_is_accepted") {
  const std::string tree = R"({"definitions": {"node": {"type": "object",
      "properties": {"name": {"type": "string"},
                     "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}}}},
      "$ref": "#/definitions/node"})";
  check_ok(validate_schema_document(tree, defaults));
  check_ok(validate_against_schema(
      tree, content_format::json,
      R"({"name": "a", "children": [{"name": "b", "children": []}]})"));
  check_rejected(validate_against_schema(tree, content_format::json,
                                         R"({"name": "a", "children": [{"name": 1}]})"),
                 errc::schema_violation, {"at /children/0/name"});
}

TEST_CASE("schema_with_too_long_ref_chain_is_rejected") {
  // Each definition descends into the next one: no loop, but valijson
  // compiles the chain recursively.
  std::string schema = R"({"$ref": "#/definitions/d0", "definitions": {)";
  for (int i = 0; i < 600; ++i) {
    if (i > 0)
      schema += ",";
    schema += "\"d" + std::to_string(i) +
              "\": {\"items\": {\"$ref\": \"#/definitions/d" + std::to_string(i + 1) +
              "\"}}";
  }
  schema += R"(, "d600": {}}})";
  check_rejected(validate_schema_document(schema, defaults), errc::too_large,
                 {"schema chains 1202 subschemas", "the limit is 1024",
                  "shorten its chains of $refs"});
}

TEST_CASE("schema_check_too_deep_for_content_is_rejected") {
  // 40 definitions each apply the next one to the same value, and the last
  // recurses into the items: every content level costs 80 steps.
  std::string schema = R"({"$ref": "#/definitions/c0", "definitions": {)";
  for (int i = 0; i < 40; ++i) {
    if (i > 0)
      schema += ",";
    std::string next =
        i + 1 < 40 ? "{\"$ref\": \"#/definitions/c" + std::to_string(i + 1) + "\"}"
                   : "{\"items\": {\"$ref\": \"#\"}}";
    schema += "\"c" + std::to_string(i) + "\": {\"allOf\": [" + next + "]}";
  }
  schema += "}}";
  check_ok(validate_schema_document(schema, defaults));
  check_ok(validate_against_schema(schema, content_format::json,
                                   repeat("[", 10) + repeat("]", 10)));
  check_rejected(validate_against_schema(schema, content_format::json,
                                         repeat("[", 200) + repeat("]", 200)),
                 errc::too_large,
                 {"content nests 200 levels", "flatten the content or the schema"});
}

TEST_CASE("schema_with_pattern_is_rejected") {
  // std::regex inside valijson overflows the stack on long strings and
  // backtracks exponentially on patterns like this one.
  check_rejected(
      validate_schema_document(R"({"properties": {"a": {"pattern": "^(a+)+b$"}}})",
                               defaults),
      errc::invalid_argument,
      {"uses \"pattern\" at #/properties/a", "regular expressions are not accepted",
       "use enum, const, minLength/maxLength or format"});
  check_rejected(
      validate_schema_document(R"({"patternProperties": {"^x-": {}}})", defaults),
      errc::invalid_argument, {"uses \"patternProperties\""});
  // A property that happens to be called "pattern" is fine.
  check_ok(validate_schema_document(
      R"({"properties": {"pattern": {"type": "string"}}})", defaults));
}

TEST_CASE("format_checked_strings_are_limited_in_length") {
  const std::string schema =
      R"({"properties": {"day": {"type": "string", "format": "date"}}})";
  check_ok(validate_against_schema(schema, content_format::json,
                                   R"({"day": "2026-11-26"})"));
  check_rejected(
      validate_against_schema(schema, content_format::json, R"({"day": "26.11.2026"})"),
      errc::schema_violation, {"at /day"});
  check_rejected(validate_against_schema(schema, content_format::json,
                                         "{\"note\": \"" + repeat("1", 100000) + "\"}"),
                 errc::too_large,
                 {"string of 100000 bytes at /note", "at most 8192 bytes"});
}

TEST_CASE("schema_over_size_limit_is_rejected") {
  limits small;
  small.max_schema_bytes = 8;
  check_rejected(validate_schema_document(R"({"type":"object"})", small),
                 errc::too_large, {"schema is 17 bytes", "the limit is 8 bytes"});
}

TEST_CASE("deeply_nested_schema_is_rejected_without_crashing") {
  std::string deep = repeat(R"({"items":)", 10000) + "{}" + repeat("}", 10000);
  check_rejected(validate_schema_document(deep, defaults), errc::too_large,
                 {"schema nests arrays and objects deeper than 256 levels"});
}

// --- content against a schema ----------------------------------------------

TEST_CASE("json_content_satisfying_schema_is_accepted") {
  check_ok(validate_against_schema(port_schema, content_format::json,
                                   R"({"port": 8080, "hosts": ["a", "b"]})"));
}

TEST_CASE("json_content_violating_schema_is_rejected_with_pointer") {
  check_rejected(validate_against_schema(port_schema, content_format::json,
                                         R"({"port": 8080, "hosts": ["a", 7]})"),
                 errc::schema_violation,
                 {"content breaks the schema at /hosts/1", "change the content"});
  check_rejected(
      validate_against_schema(port_schema, content_format::json, R"({"port": 0})"),
      errc::schema_violation, {"at /port"});
  check_rejected(
      validate_against_schema(port_schema, content_format::json, R"({"hosts": []})"),
      errc::schema_violation, {"breaks the schema", "port"});
}

TEST_CASE("yaml_content_violating_schema_is_rejected") {
  check_ok(validate_against_schema(port_schema, content_format::yaml,
                                   "port: 8080\nhosts:\n  - a\n  - b\n"));
  // Quoted, so a string: the schema wants an integer.
  check_rejected(
      validate_against_schema(port_schema, content_format::yaml, "port: \"8080\"\n"),
      errc::schema_violation, {"content breaks the schema at /port"});
}

TEST_CASE("yaml_scalars_follow_the_core_schema") {
  const std::string schema = R"({"type": "object", "properties": {
      "i": {"type": "integer"}, "h": {"const": 16}, "f": {"type": "number"},
      "b": {"type": "boolean"}, "n": {"type": "null"}, "s": {"type": "string"},
      "y": {"type": "string"}, "big": {"type": "number"}}})";
  check_ok(
      validate_against_schema(schema, content_format::yaml,
                              "i: -12\nh: 0x10\nf: 1.5e3\nb: True\nn: ~\ns: !!str 5\n"
                              "y: yes\nbig: 123456789012345678901234567890\n"));
  check_rejected(validate_against_schema(schema, content_format::yaml, "b: yes\n"),
                 errc::schema_violation, {"at /b"});
}

TEST_CASE("every_yaml_document_is_checked_against_the_schema") {
  check_rejected(validate_against_schema(port_schema, content_format::yaml,
                                         "port: 1\n---\nport: 0\n"),
                 errc::schema_violation, {"(YAML document 2)", "at /port"});
}

TEST_CASE("yaml_aliases_are_expanded_for_the_schema_check") {
  check_ok(validate_against_schema(port_schema, content_format::yaml,
                                   "base: &p 8080\nport: *p\n"));
  check_rejected(validate_against_schema(port_schema, content_format::yaml,
                                         "base: &p [1]\nport: *p\n"),
                 errc::schema_violation, {"at /port"});
}

TEST_CASE("yaml_alias_bomb_is_rejected_within_bounded_time") {
  // Nine levels of ten aliases each: 10^9 nodes if expanded.
  std::string bomb =
      "a: &a "
      "[\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + std::string(1, c) + " [" +
            repeat("*" + prev + ",", 9) + "*" + prev + "]\n";
  }
  auto start = std::chrono::steady_clock::now();
  // Parsing alone is linear: yaml-cpp never expands aliases.
  check_ok(validate_content(content_format::yaml, bomb, defaults));
  check_rejected(
      validate_against_schema(R"({"type": "object"})", content_format::yaml, bomb),
      errc::too_large, {"more than 1000000 nodes", "use fewer aliases"});
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(10));
}

TEST_CASE("yaml_collection_keys_cannot_be_checked_against_a_schema") {
  check_rejected(validate_against_schema("{}", content_format::yaml, "? [a, b]\n: 1\n"),
                 errc::schema_violation, {"use scalar keys"});
}

TEST_CASE("toml_content_violating_schema_is_rejected") {
  check_ok(validate_against_schema(port_schema, content_format::toml,
                                   "port = 8080\nhosts = [\"a\", \"b\"]\n"));
  check_rejected(
      validate_against_schema(port_schema, content_format::toml, "port = 1.5\n"),
      errc::schema_violation, {"content breaks the schema at /port"});
}

TEST_CASE("toml_dates_become_strings_for_the_schema_check") {
  const std::string schema =
      R"({"properties": {"d": {"type": "string", "format": "date-time"},
                                                  "day": {"const": "1979-05-27"}}})";
  check_ok(validate_against_schema(schema, content_format::toml,
                                   "d = 1979-05-27T07:32:00Z\nday = 1979-05-27\n"));
  check_rejected(
      validate_against_schema(schema, content_format::toml, "day = 1979-05-28\n"),
      errc::schema_violation, {"at /day"});
}

TEST_CASE("schema_for_properties_or_text_is_rejected") {
  check_rejected(validate_against_schema("{}", content_format::properties, "a=1"),
                 errc::invalid_argument,
                 {"schemas apply to json, yaml and toml", "drop the schema"});
  check_rejected(validate_against_schema("{}", content_format::text, "x"),
                 errc::invalid_argument, {"schemas apply to json, yaml and toml"});
}

TEST_CASE("schema_check_reports_bad_schema_or_bad_content") {
  check_rejected(validate_against_schema("{", content_format::json, "{}"),
                 errc::invalid_argument, {"schema is not valid JSON"});
  check_rejected(validate_against_schema("{}", content_format::json, "{"),
                 errc::invalid_content, {"content is not valid JSON"});
  check_rejected(validate_against_schema("{}", content_format::yaml, "a: 1\n  b: 2\n"),
                 errc::invalid_content, {"content is not valid YAML"});
  check_rejected(validate_against_schema("{}", content_format::toml, "a = 1\na = 2\n"),
                 errc::invalid_content, {"content is not valid TOML"});
}

TEST_CASE("content_at_nesting_limit_checks_against_recursive_schema") {
  const std::string schema = R"({"type": "array", "items": {"$ref": "#"}})";
  check_ok(validate_against_schema(schema, content_format::json,
                                   repeat("[", 256) + repeat("]", 256)));
  check_rejected(validate_against_schema(schema, content_format::json,
                                         repeat("[", 255) + "1" + repeat("]", 255)),
                 errc::schema_violation, {"breaks the schema"});
}

TEST_CASE("key_longer_than_the_store_key_limit_is_too_large") {
  std::string seg(128, 'a');
  auto full = seg + "/" + seg + "/" + seg + "/" + seg; // 515 bytes
  auto st = validate_key(full);
  REQUIRE(st.code() == errc::too_large);
  CHECK(st.err().message.find("511") != std::string::npos);
  CHECK(validate_key(seg + "/" + seg + "/" + seg + "/" + seg.substr(4)).ok());
}
