// Content validation (protocol/validation.cpp and the validator of each
// format, protocol/validation_<format>.cpp) and JSON Schema
// (protocol/validation_schema.cpp). Keys, labels, rules and text fields are in
// validation_fields_test.cpp.

#include "tests/protocol/validation_test_support.hpp"

#include <chrono>

using namespace conflux;
using namespace conflux::validation_test;

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
                 {"content is 4194305 bytes", "the limit is 4 MiB (4194304 bytes)",
                  "split it into smaller configs"});
}

TEST_CASE("content_over_the_size_limit_advises_what_works") {
  // The limit is checked when every node applies the command, so it is the
  // same on every node and no node setting changes it: the advice must not
  // send anyone looking for one.
  auto st = validate_content(
      content_format::yaml, std::string(defaults.max_content_bytes + 1, '#'), defaults);
  check_rejected(st, errc::too_large,
                 {"the limit is 4 MiB (4194304 bytes)", "split it into smaller configs",
                  "keep large files elsewhere and store a reference"});
  CHECK_FALSE(contains(st.err().message, "max_content_bytes"));
  CHECK_FALSE(contains(st.err().message, "raise"));
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

TEST_CASE("yaml_with_a_nul_byte_is_refused") {
  // JSON and TOML refuse it too; only text holds arbitrary bytes. yaml-cpp
  // took a NUL in a comment, and misread one in a value as an escape.
  std::string in_comment{"a: 1\n# x\0\n", 10};
  check_rejected(validate_content(content_format::yaml, in_comment, defaults),
                 errc::invalid_content,
                 {"content is not valid YAML: byte offset 8 (line 2, column 4)",
                  "NUL byte", "--format text"});
  std::string in_value{"a: 1\nb: x\0y\n", 12};
  check_rejected(validate_content(content_format::yaml, in_value, defaults),
                 errc::invalid_content,
                 {"byte offset 9 (line 2, column 5)", "NUL byte"});
  check_rejected(validate_against_schema("{}", content_format::yaml, in_comment),
                 errc::invalid_content, {"byte offset 8", "NUL byte"});
  // The escape is how YAML writes the character.
  check_ok(validate_content(content_format::yaml, "a: \"x\\0y\"\n", defaults));
}

TEST_CASE("yaml_with_invalid_utf8_is_refused") {
  check_rejected(validate_content(content_format::yaml, "a: caf\xe9\n", defaults),
                 errc::invalid_content,
                 {"not valid YAML: byte offset 6 (line 1, column 7)",
                  "byte 0xe9 is not valid UTF-8", "save the file as UTF-8"});
  // Cut short at the end, overlong, and a UTF-16 surrogate.
  for (std::string bad : {"a: \xc3", "a: \xc0\xaf", "a: \xed\xa0\x80"}) {
    INFO(bad);
    check_rejected(validate_content(content_format::yaml, bad, defaults),
                   errc::invalid_content, {"byte offset 3", "not valid UTF-8"});
  }
}

TEST_CASE("yaml_with_a_raw_control_character_is_refused") {
  // Outside YAML 1.2's printable set; an escape in a double-quoted string is
  // how YAML writes these.
  check_rejected(validate_content(content_format::yaml, "a: x\x01y\n", defaults),
                 errc::invalid_content,
                 {"byte offset 4", "control character U+0001", "escape"});
  check_rejected(validate_content(content_format::yaml, "a: \x7f\n", defaults),
                 errc::invalid_content, {"U+007F"});
  check_ok(validate_content(content_format::yaml, "a: \"x\\x01y\\0\"\n", defaults));
}

TEST_CASE("yaml_in_utf8_beyond_ascii_is_accepted") {
  check_ok(
      validate_content(content_format::yaml,
                       "\xef\xbb\xbf" // byte order mark
                       "name: caf\xc3\xa9\ncup: \xe2\x98\x95\nclef: \xf0\x9d\x84\x9e\n"
                       "tab:\t1\r\n",
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
  std::string bomb = yaml_alias_bomb(9, 10);
  auto start = std::chrono::steady_clock::now();
  check_rejected(
      validate_against_schema(R"({"type": "object"})", content_format::yaml, bomb),
      errc::too_large, {"more than 1000000 nodes", "use fewer aliases"});
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(10));
}

TEST_CASE("yaml_alias_bomb_is_refused_without_a_schema") {
  // 9 levels of 9 aliases: 387 million strings for every client that loads
  // it, although yaml-cpp itself shares aliased nodes and parses it at once.
  auto start = std::chrono::steady_clock::now();
  check_rejected(
      validate_content(content_format::yaml, yaml_alias_bomb(9, 9), defaults),
      errc::too_large,
      {"expands through YAML anchors and aliases to more than 1000000 nodes",
       "use fewer aliases"});
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("yaml_alias_expansion_limit_follows_limits") {
  limits small;
  small.max_alias_expansion_nodes = 20;
  // The anchored list is 4 nodes (the list and 3 items), each alias repeats
  // them: 4 + 4 x 4 = 20 nodes.
  std::string four_aliases = "a: &a [1, 2, 3]\nb: [*a, *a, *a, *a]\n";
  check_ok(validate_content(content_format::yaml, four_aliases, small));
  check_rejected(validate_content(content_format::yaml,
                                  "a: &a [1, 2, 3]\nb: [*a, *a, *a, *a, *a]\n", small),
                 errc::too_large, {"more than 20 nodes", "line 2, column 21"});
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

TEST_CASE("empty_yaml_toml_and_properties_documents_are_valid") {
  // Each format's own specification accepts them (no documents, an empty
  // table, no properties); JSON's does not (empty_json_is_rejected).
  for (auto f : {content_format::yaml, content_format::toml, content_format::properties,
                 content_format::text}) {
    for (std::string empty : {"", " \n\n", "# nothing here\n"}) {
      INFO(to_string(f) << " " << empty);
      check_ok(validate_content(f, empty, defaults));
    }
  }
}

TEST_CASE("empty_yaml_is_checked_as_null_against_a_schema") {
  // YAML loaders hand their callers null for a stream without documents, so
  // a schema that wants an object refuses it instead of checking nothing.
  for (std::string empty : {"", "\n", "# nothing here\n"}) {
    INFO(empty);
    check_rejected(validate_against_schema(port_schema, content_format::yaml, empty),
                   errc::schema_violation,
                   {"breaks the schema at / (the whole document)"});
    check_ok(validate_against_schema(R"({"type": ["object", "null"]})",
                                     content_format::yaml, empty));
  }
}

TEST_CASE("empty_toml_is_an_empty_table_for_the_schema") {
  check_rejected(validate_against_schema(port_schema, content_format::toml, ""),
                 errc::schema_violation, {"breaks the schema", "port"});
  check_ok(validate_against_schema(R"({"type": "object"})", content_format::toml, ""));
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
