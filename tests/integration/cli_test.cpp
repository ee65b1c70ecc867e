// The `conflux` CLI binary against a running cluster: bad input is refused
// with the documented exit code and one stderr line, and changes nothing
// (docs/cli.md; protocol/PROTOCOL.md, Validation).

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <algorithm>
#include <cctype>
#include <doctest/doctest.h>
#include <map>
#include <string>
#include <vector>

namespace conflux::itest {
namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char ch) { return !std::isspace(ch); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

/// Everything a client can see of the data: every config and every version.
struct data_snapshot {
  std::vector<config> configs;
  std::map<std::string, std::vector<version>> versions;
  friend bool operator==(const data_snapshot& a, const data_snapshot& b) {
    return a.configs == b.configs && a.versions == b.versions;
  }
};

data_snapshot take_snapshot(actors::client& cl) {
  data_snapshot s;
  auto cs = cl.list_configs("", actors::consistency::linearizable);
  REQUIRE_OK(cs);
  s.configs = *cs;
  for (auto& c : s.configs) {
    auto vs = cl.list_versions(c.key, actors::consistency::linearizable);
    INFO(c.key);
    REQUIRE_OK(vs);
    s.versions[c.key] = *vs;
  }
  return s;
}

std::vector<std::string> with_globals(const cluster& c, std::vector<std::string> args) {
  std::vector<std::string> out{"--endpoints", c.endpoints_csv(), "--timeout", "10000"};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

} // namespace

TEST_CASE("bad_cli_input_is_refused_and_changes_nothing" *
          doctest::skip(*cli_binary() == '\0')) {
  started_cluster c;

  const std::string json_key = "itest/cli/prod/app.json";
  const std::string text_key = "itest/cli/prod/notes.txt";
  auto cli = [&](std::vector<std::string> args) {
    return run_cli(with_globals(c, std::move(args)), 30s);
  };

  // Good input first, through the same binary.
  for (auto args : std::vector<std::vector<std::string>>{
           {"config", "create", json_key, "--format", "json", "--content",
            R"({"pool": 1})"},
           {"version", "add", json_key, "--content", R"({"pool": 2})"},
           {"config", "create", text_key, "--format", "text", "--content", "hello"},
       }) {
    auto r = cli(args);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
  }

  auto reader = c.make_client(10s);
  const auto before = take_snapshot(*reader);
  REQUIRE(before.configs.size() == 2);
  auto list_before = cli({"config", "list"});
  INFO("config list: " << list_before.describe());
  REQUIRE(list_before.exit_code == 0);
  auto versions_before = cli({"version", "list", json_key});
  INFO("version list: " << versions_before.describe());
  REQUIRE(versions_before.exit_code == 0);

  const std::string big = c.dir() + "/big.txt";
  write_file(big, std::string(4 * 1024 * 1024 + 1, 'a'));
  const std::string rules_unknown = c.dir() + "/rules-unknown.json";
  write_file(rules_unknown, R"([{"labels": {}, "version_id": 99, "priority": 0}])");
  const std::string rules_garbage = c.dir() + "/rules-garbage.json";
  write_file(rules_garbage, R"([{"labels": {}, "version_id": )");
  const std::string missing = c.dir() + "/does-not-exist.json";

  struct bad_case {
    const char* what;
    std::vector<std::string> args;
    int exit_code;
  };
  const std::vector<bad_case> cases{
      {"malformed key (bad characters)",
       {"config", "create", "itest/cli/prod/bad key!", "--format", "text", "--content",
        "x"},
       2},
      {"malformed key (three segments)",
       {"config", "create", "itest/cli/prod", "--format", "text", "--content", "x"},
       2},
      {"unknown format",
       {"config", "create", "itest/cli/prod/app.xml", "--format", "xml", "--content",
        "<a/>"},
       2},
      {"invalid JSON content for a new json config",
       {"config", "create", "itest/cli/prod/new.json", "--format", "json", "--content",
        "{not json"},
       2},
      {"invalid JSON content for an existing json config",
       {"version", "add", json_key, "--content", R"({"pool": )"},
       2},
      {"--file that does not exist",
       {"version", "add", json_key, "--file", missing},
       2},
      {"neither --file nor --content", {"version", "add", text_key}, 2},
      {"content over 4 MiB", {"version", "add", text_key, "--file", big}, 2},
      {"release rule naming an unknown version",
       {"release", "set", json_key, "--rules-file", rules_unknown},
       3},
      {"rules file that is not JSON",
       {"release", "set", json_key, "--rules-file", rules_garbage},
       2},
      {"version show of an unknown version", {"version", "show", json_key, "99"}, 3},
  };

  for (auto& bc : cases) {
    auto r = cli(bc.args);
    INFO(bc.what << ": " << r.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == bc.exit_code);
    auto line = trim(r.err);
    CHECK_FALSE(line.empty());
    CHECK(line.find('\n') == std::string::npos);
  }

  // Nothing changed: neither what the client library reads nor what the CLI
  // lists.
  const auto after = take_snapshot(*reader);
  CHECK(after == before);
  CHECK(after.configs.size() == 2);
  auto list_after = cli({"config", "list"});
  INFO("config list after: " << list_after.describe());
  CHECK(list_after.exit_code == 0);
  CHECK(list_after.out == list_before.out);
  auto versions_after = cli({"version", "list", json_key});
  INFO("version list after: " << versions_after.describe());
  CHECK(versions_after.exit_code == 0);
  CHECK(versions_after.out == versions_before.out);
  // And the refused keys do not exist.
  for (auto key : {"itest/cli/prod/new.json", "itest/cli/prod/app.xml"}) {
    INFO(key);
    CHECK_ERRC(reader->get_config(key, actors::consistency::linearizable),
               errc::not_found);
  }
}

} // namespace conflux::itest

namespace conflux::itest {

TEST_CASE("config_list_matches_whole_segments_and_a_released_config_is_deleted_only_"
          "with_force" *
          doctest::skip(*cli_binary() == '\0')) {
  started_cluster c;
  auto cli = [&](std::vector<std::string> args) {
    return run_cli(with_globals(c, std::move(args)), 30s);
  };
  const std::string prod = "itest/shop/prod/db.json";
  const std::string production = "itest/shop/production/db.json";
  for (auto& key : {prod, production}) {
    auto r = cli({"config", "create", key, "--format", "json", "--content", "{}"});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
  }

  // A prefix is whole segments: prod does not match production.
  auto list = cli({"config", "list", "itest/shop/prod"});
  INFO(list.describe());
  CHECK(list.exit_code == 0);
  CHECK(list.out.find(prod) != std::string::npos);
  CHECK(list.out.find(production) == std::string::npos);

  // Released, so clients read and watch it: a plain delete is refused and
  // changes nothing; --force deletes it.
  auto rel = cli({"release", "set", prod, "--rule", "*:1"});
  INFO(rel.describe());
  REQUIRE(rel.exit_code == 0);
  auto refused = cli({"config", "delete", prod});
  INFO(refused.describe());
  CHECK(refused.exit_code == 4);
  CHECK(refused.err.find("--force") != std::string::npos);
  CHECK(cli({"get", prod}).exit_code == 0);
  auto forced = cli({"config", "delete", prod, "--force"});
  INFO(forced.describe());
  CHECK(forced.exit_code == 0);
  CHECK(cli({"config", "show", prod}).exit_code == 3);
  CHECK(cli({"config", "show", production}).exit_code == 0);

  // rollback takes --comment like every release verb.
  auto back = cli({"rollback", production, "1", "--comment", "back to the first"});
  INFO(back.describe());
  CHECK(back.exit_code == 0);
}

} // namespace conflux::itest
