// The release-rules file format (protocol/rules_file.hpp): what the writer
// produces the reader takes back unchanged; the reader's refusals are in
// tests/apps/cli_support_test.cpp (through the CLI's parse_rules_json).
#include "protocol/rules_file.hpp"

#include <doctest/doctest.h>

using namespace conflux;

TEST_CASE("a_rules_file_written_by_format_rules_file_parses_back_to_the_same_rules") {
  std::vector<release_rule> rules{
      {{{"canary", "true"}, {"region", "eu-west"}}, 3, 10},
      {{{"tier", "gold \xC3\xA9"}}, 2, -2147483647 - 1},
      {{}, 1, 0},
  };
  REQUIRE(check_rules_syntax(rules).ok());
  auto back = parse_rules_file(format_rules_file(rules));
  REQUIRE(back.ok());
  CHECK(*back == rules);
  auto none = parse_rules_file(format_rules_file({}));
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("a_rules_file_with_a_duplicate_rule_is_refused_with_invalid_argument") {
  auto r = parse_rules_file(R"([{"version_id": 1}, {"labels": {}, "version_id": 2}])");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid_argument);
}
