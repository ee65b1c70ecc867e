// The conflux command line end to end, without a cluster: argv is parsed and
// checked by parse_command_line, then run by execute against a fake
// cluster_access that records what reached it.

#include "apps/cli/cli_commands.hpp"
#include "apps/cli/cli_support.hpp"
#include "tests/apps/tls_dir_fixture.hpp"

#include <cstdio>
#include <doctest/doctest.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace conflux;
using namespace conflux::cli;

namespace {

const std::string key = "acme/shop/prod/db.toml";

bool mentions(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

parse_outcome parse(std::vector<std::string> args, const char* env = nullptr) {
  return parse_command_line(args, env, test::parsing_tls_dir());
}

std::string temp_file(const std::string& name, const std::string& content) {
  std::string path = "/tmp/conflux_cli_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream f(path, std::ios::binary);
  f << content;
  return path;
}

/// Records every call; answers from its fields.
class fake_cluster final : public cluster_access {
public:
  std::vector<command> writes;
  std::size_t reads = 0;
  /// Every call fails with this when set.
  std::optional<error> fail;
  apply_result result{std::nullopt, 42, 7, 1, 0};
  config cfg;
  std::vector<version> versions;
  std::size_t rule_index = 0;
  labels last_labels;
  actors::consistency last_consistency = actors::consistency::linearizable;
  std::vector<actors::node_status> nodes;
  std::set<std::string> down;

  fake_cluster() {
    cfg.id = 7;
    cfg.key = key;
    cfg.format = content_format::toml;
    cfg.latest_version = 2;
    cfg.releases = {{{{"canary", "true"}}, 2, 10}, {{}, 1, 0}};
    cfg.create_revision = 3;
    cfg.mod_revision = 40;
    for (version_id id : {1, 2}) {
      version v;
      v.config = 7;
      v.id = id;
      v.content = id == 1 ? "a = 1\n" : "a = 2";
      v.content_hash = std::string(64, id == 1 ? 'a' : 'b');
      v.format = content_format::toml;
      v.description = "v" + std::to_string(id);
      v.revision = 3 + id;
      versions.push_back(v);
    }
  }

  expected<apply_result> write(command cmd) override {
    writes.push_back(std::move(cmd));
    if (fail)
      return *fail;
    return result;
  }
  expected<config> get_config(const std::string&, actors::consistency c,
                              actors::read_meta* meta) override {
    return read(cfg, c, meta);
  }
  expected<std::vector<config>> list_configs(const std::string&, actors::consistency c,
                                             actors::read_meta* meta) override {
    return read(std::vector<config>{cfg}, c, meta);
  }
  expected<std::vector<version>> list_versions(const std::string&,
                                               actors::consistency c,
                                               actors::read_meta* meta) override {
    return read(versions, c, meta);
  }
  expected<version> get_version(const std::string&, version_id id,
                                actors::consistency c,
                                actors::read_meta* meta) override {
    return read(versions.at(id - 1), c, meta);
  }
  expected<actors::resolved> resolve(const std::string&, const labels& l,
                                     actors::consistency c) override {
    last_labels = l;
    actors::resolved r;
    r.cfg = cfg;
    r.rule_index = rule_index;
    r.ver = versions.at(cfg.releases.at(rule_index).version - 1);
    r.meta.revision = 41;
    return read(r, c, nullptr);
  }
  expected<actors::node_status> status_of(const std::string& endpoint) override {
    ++reads;
    if (down.count(endpoint))
      return error{errc::unavailable, "no answer from " + endpoint};
    for (const auto& n : nodes)
      if (n.address == endpoint)
        return n;
    return error{errc::unavailable, "unknown endpoint " + endpoint};
  }
  expected<actors::node_status> status() override {
    ++reads;
    if (fail)
      return *fail;
    for (const auto& n : nodes)
      if (!down.count(n.address))
        return n;
    return error{errc::unavailable, "no endpoint answered"};
  }

  expected<std::uint64_t> add_member(std::uint64_t id, const std::string& address,
                                     bool learner) override {
    admin.push_back("add " + std::to_string(id) + " " + address +
                    (learner ? " learner" : ""));
    if (fail)
      return *fail;
    return std::uint64_t{17};
  }
  expected<std::uint64_t> remove_member(std::uint64_t id) override {
    admin.push_back("remove " + std::to_string(id));
    if (fail)
      return *fail;
    return std::uint64_t{18};
  }
  expected<std::uint64_t> transfer_leader(std::uint64_t id) override {
    admin.push_back("transfer " + std::to_string(id));
    if (fail)
      return *fail;
    return std::uint64_t{6};
  }

  /// Membership calls in order ("add 4 HOST:PORT [learner]", "remove 3", ...).
  std::vector<std::string> admin;

  /// unreachable_reason's answers by address (absent: a node answers there),
  /// and the addresses it was asked about.
  std::map<std::string, std::string> unreachable;
  std::vector<std::string> probed;
  std::optional<std::string> unreachable_reason(const std::string& address,
                                                std::chrono::milliseconds) override {
    probed.push_back(address);
    auto i = unreachable.find(address);
    if (i == unreachable.end())
      return std::nullopt;
    return i->second;
  }

  std::size_t calls() const { return writes.size() + reads + admin.size(); }

private:
  template <class T>
  expected<T> read(T value, actors::consistency c, actors::read_meta* meta) {
    ++reads;
    last_consistency = c;
    if (fail)
      return *fail;
    if (meta) {
      meta->node_id = 1;
      meta->revision = 41;
    }
    return value;
  }
};

struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

/// Parses and, if that succeeded, executes against `fake`.
run_result run(fake_cluster& fake, std::vector<std::string> args,
               const char* env = nullptr) {
  auto p = parse(std::move(args), env);
  if (!p.inv)
    return {p.exit_code, p.out, p.err};
  std::ostringstream out, err;
  int code = execute(*p.inv, fake, out, err);
  return {code, out.str(), err.str()};
}

/// Exactly one JSON object on one line.
nlohmann::json one_json_object(const std::string& out) {
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  CHECK(out.find('\n') == out.size() - 1);
  auto j = nlohmann::json::parse(out);
  CHECK(j.is_object());
  return j;
}

actors::node_status node(std::uint64_t id, std::string role, std::uint64_t leader) {
  actors::node_status n;
  n.id = id;
  n.address = "127.0.0.1:710" + std::to_string(id);
  n.role = std::move(role);
  n.term = 5;
  n.commit = 100;
  n.applied = 99 + id % 2;
  n.leader_id = leader;
  n.leader_address = leader ? "127.0.0.1:710" + std::to_string(leader) : "";
  n.cluster_id = "c-1";
  n.transport = "mutual-tls";
  for (std::uint64_t m = 1; m <= 3; ++m) {
    rpc::member_entry e;
    e.id = m;
    e.address = "127.0.0.1:710" + std::to_string(m);
    e.kind = "voter";
    // Only a leader knows its followers' progress.
    if (n.role == "leader") {
      e.match = 100 - m;
      e.lag = m;
    }
    n.members.push_back(e);
  }
  return n;
}

} // namespace

// -- global options ------------------------------------------------------------------

TEST_CASE("global_options_are_accepted_after_the_subcommand") {
  auto p = parse({"config", "show", key, "--json", "--endpoints", "h1:1,h2:2",
                  "--timeout", "250"});
  REQUIRE(p.inv);
  CHECK(p.inv->kind == command_kind::config_show);
  CHECK(p.inv->global.json);
  CHECK(p.inv->global.endpoints == std::vector<std::string>{"h1:1", "h2:2"});
  CHECK(p.inv->global.timeout == std::chrono::milliseconds{250});
}

TEST_CASE("global_options_are_accepted_before_the_subcommand") {
  auto p = parse({"--json", "--endpoints", "h1:1", "config", "show", key});
  REQUIRE(p.inv);
  CHECK(p.inv->global.json);
  CHECK(p.inv->global.endpoints == std::vector<std::string>{"h1:1"});
}

TEST_CASE("endpoints_default_to_the_environment_then_localhost") {
  auto dflt = parse({"config", "show", key});
  REQUIRE(dflt.inv);
  CHECK(dflt.inv->global.endpoints == std::vector<std::string>{"127.0.0.1:7101"});
  CHECK(dflt.inv->global.timeout == std::chrono::milliseconds{5000});
  auto env = parse({"config", "show", key}, "e1:1,e2:2");
  REQUIRE(env.inv);
  CHECK(env.inv->global.endpoints == std::vector<std::string>{"e1:1", "e2:2"});
  auto flag = parse({"config", "show", key, "--endpoints", "f:1"}, "e1:1");
  REQUIRE(flag.inv);
  CHECK(flag.inv->global.endpoints == std::vector<std::string>{"f:1"});
}

TEST_CASE("malformed_endpoints_exit_2_and_name_their_source") {
  auto flag = parse({"config", "show", key, "--endpoints", "nohost"});
  CHECK_FALSE(flag.inv);
  CHECK(flag.exit_code == 2);
  CHECK(mentions(flag.err, "--endpoints"));
  auto env = parse({"config", "show", key}, "bad");
  CHECK(env.exit_code == 2);
  CHECK(mentions(env.err, "CONFLUX_ENDPOINTS"));
}

TEST_CASE("timeout_must_be_positive") {
  CHECK(parse({"config", "show", key, "--timeout", "0"}).exit_code == 2);
  CHECK(parse({"config", "show", key, "--timeout", "soon"}).exit_code == 2);
}

TEST_CASE("help_prints_usage_and_exits_0") {
  auto p = parse({"--help"});
  CHECK_FALSE(p.inv);
  CHECK(p.exit_code == 0);
  CHECK(mentions(p.out, "release"));
  auto sub = parse({"release", "set", "--help"});
  CHECK(sub.exit_code == 0);
  CHECK(mentions(sub.out, "LABELS:VERSION[:PRIORITY]"));
}

TEST_CASE("usage_errors_exit_2_with_one_line_and_a_help_hint") {
  for (std::vector<std::string> args : {std::vector<std::string>{},
                                        {"config"},
                                        {"nonsense"},
                                        {"config", "show"},
                                        {"config", "show", key, "extra"},
                                        {"config", "show", key, "--bogus"},
                                        {"get", key, "--consistency", "eventual"}}) {
    auto p = parse(args);
    CHECK_FALSE(p.inv);
    CHECK(p.exit_code == 2);
    CHECK(p.err.rfind("conflux: ", 0) == 0);
    CHECK(p.err.find('\n') == p.err.size() - 1);
    CHECK(mentions(p.err, "--help"));
  }
}

TEST_CASE("unknown_command_names_the_word_and_lists_the_commands") {
  auto top = parse({"nonsense"});
  CHECK(top.exit_code == 2);
  CHECK(mentions(top.err, "unknown command \"nonsense\""));
  CHECK(mentions(top.err,
                 "config, version, release, rollback, get, resolve, watch, cluster"));
  CHECK(mentions(top.err, "run `conflux --help` for usage"));
  CHECK_FALSE(mentions(top.err, "A subcommand is required"));
  auto group = parse({"--endpoints", "h:1", "config", "nonsense"});
  CHECK(group.exit_code == 2);
  CHECK(mentions(group.err, "unknown command \"nonsense\" for `conflux config`"));
  CHECK(mentions(group.err, "create, list, show, delete"));
  CHECK(mentions(group.err, "run `conflux config --help` for usage"));
}

TEST_CASE("a_missing_command_lists_the_commands_there_are") {
  auto none = parse({});
  CHECK(mentions(none.err, "no command given; the commands are config, version"));
  auto group = parse({"cluster"});
  CHECK(mentions(group.err,
                 "`conflux cluster` needs one of its commands: status, add, remove, "
                 "transfer-leader"));
  CHECK_FALSE(mentions(group.err, "A subcommand is required"));
}

TEST_CASE("an_unknown_command_with_non_ascii_letters_is_printed_as_written") {
  auto p = parse({"d\xc3\xa9ploy"}); // "déploy"
  CHECK(p.exit_code == 2);
  CHECK(mentions(p.err, "unknown command \"d\xc3\xa9ploy\""));
}

TEST_CASE("usage_error_with_json_is_a_json_object_on_stderr") {
  auto p = parse({"config", "show", "--json"});
  CHECK(p.exit_code == 2);
  CHECK(p.out.empty());
  auto j = nlohmann::json::parse(p.err);
  CHECK(j["error"] == "invalid_argument");
  CHECK(j["exit_code"] == 2);
}

// -- local checks before any contact --------------------------------------------------

TEST_CASE("malformed_key_exits_2_before_contacting_the_cluster") {
  fake_cluster fake;
  auto r = run(fake, {"get", "acme/shop/db.toml"});
  CHECK(r.code == 2);
  CHECK(fake.calls() == 0);
  CHECK(mentions(r.err, "tenant/app/env/name"));
}

TEST_CASE("missing_content_file_exits_2_and_changes_nothing") {
  fake_cluster fake;
  auto r = run(fake, {"version", "add", key, "--file", "/nonexistent/x.toml"});
  CHECK(r.code == 2);
  CHECK(fake.calls() == 0);
  CHECK(mentions(r.err, "/nonexistent/x.toml"));
}

TEST_CASE("content_needs_exactly_one_of_file_and_content") {
  fake_cluster fake;
  CHECK(run(fake, {"version", "add", key}).code == 2);
  CHECK(run(fake, {"version", "add", key, "--content", "a", "--file", "/etc/hostname"})
            .code == 2);
  CHECK(fake.calls() == 0);
}

TEST_CASE("unknown_format_exits_2") {
  fake_cluster fake;
  auto r = run(fake, {"config", "create", key, "--format", "xml", "--content", "<a/>"});
  CHECK(r.code == 2);
  CHECK(mentions(r.err, "xml"));
  CHECK(fake.calls() == 0);
}

TEST_CASE("content_that_does_not_parse_for_its_format_exits_2_before_contact") {
  fake_cluster fake;
  auto r =
      run(fake, {"config", "create", key, "--format", "toml", "--content", "a = = 1"});
  CHECK(r.code == 2);
  CHECK(fake.calls() == 0);
  CHECK(
      run(fake, {"config", "create", key, "--format", "json", "--content", "{"}).code ==
      2);
  CHECK(fake.calls() == 0);
}

TEST_CASE("first_version_breaking_the_schema_exits_2_before_contact") {
  fake_cluster fake;
  auto schema =
      temp_file("schema2.json", R"({"type": "object", "required": ["pool"]})");
  auto bad_schema = temp_file("schema3.json", R"({"type": 7})");
  auto r = run(fake, {"config", "create", "acme/shop/prod/app.json", "--format", "json",
                      "--content", R"({"a": 1})", "--schema", schema});
  auto r2 = run(fake, {"config", "create", "acme/shop/prod/app.json", "--format",
                       "json", "--content", R"({"a": 1})", "--schema", bad_schema});
  std::remove(schema.c_str());
  std::remove(bad_schema.c_str());
  CHECK(r.code == 2);
  CHECK(r2.code == 2);
  CHECK(fake.calls() == 0);
}

TEST_CASE("malformed_label_exits_2") {
  fake_cluster fake;
  auto r = run(fake, {"get", key, "--label", "canary"});
  CHECK(r.code == 2);
  CHECK(mentions(r.err, "KEY=VALUE"));
  CHECK(fake.calls() == 0);
}

TEST_CASE("malformed_rule_exits_2") {
  fake_cluster fake;
  auto r = run(fake, {"release", "set", key, "--rule", "canary=true"});
  CHECK(r.code == 2);
  CHECK(mentions(r.err, "--rule"));
  CHECK(fake.calls() == 0);
}

TEST_CASE("bad_rules_file_exits_2") {
  fake_cluster fake;
  auto path = temp_file("rules.json", R"([{"version_id": 3, "weight": 1}])");
  auto r = run(fake, {"release", "set", key, "--rules-file", path});
  std::remove(path.c_str());
  CHECK(r.code == 2);
  CHECK(mentions(r.err, "weight"));
  CHECK(fake.calls() == 0);
}

TEST_CASE("release_set_needs_rules_from_exactly_one_source") {
  fake_cluster fake;
  CHECK(run(fake, {"release", "set", key}).code == 2);
  CHECK(
      run(fake, {"release", "set", key, "--rule", "*:1", "--rules-file", "/x"}).code ==
      2);
  CHECK(fake.calls() == 0);
}

TEST_CASE("version_id_0_and_if_revision_0_exit_2") {
  fake_cluster fake;
  CHECK(run(fake, {"version", "show", key, "0"}).code == 2);
  CHECK(run(fake, {"rollback", key, "0"}).code == 2);
  CHECK(run(fake, {"version", "delete", key, "1", "0"}).code == 2);
  CHECK(run(fake, {"config", "delete", key, "--if-revision", "0"}).code == 2);
  CHECK(run(fake, {"version", "show", key, "two"}).code == 2);
  CHECK(run(fake, {"version", "show", key, "-1"}).code == 2);
  CHECK(run(fake, {"version", "show", key, "0x10"}).code == 2);
  CHECK(run(fake, {"version", "delete", key, "1", "-2"}).code == 2);
  CHECK(run(fake, {"config", "delete", key, "--if-revision", "-3"}).code == 2);
  CHECK(fake.calls() == 0);
}

TEST_CASE("list_prefix_is_checked_before_contact") {
  fake_cluster fake;
  CHECK(run(fake, {"config", "list", "acme//"}).code == 2);
  CHECK(fake.calls() == 0);
}

TEST_CASE("watch_count_0_says_what_count_needs") {
  fake_cluster fake;
  for (const char* bad : {"0", "-1", "many"}) {
    auto r = run(fake, {"watch", key, "--count", bad});
    INFO(bad << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(mentions(r.err, "is not a number of events"));
    CHECK(mentions(r.err, "whole number from 1 up"));
    CHECK_FALSE(mentions(r.err, "version id"));
  }
  CHECK(fake.calls() == 0);
  auto ok = parse({"watch", key, "--count", "3"});
  REQUIRE(ok.inv);
  CHECK(ok.inv->count == 3);
}

// -- writes
// ----------------------------------------------------------------------------

TEST_CASE("config_create_sends_format_content_description_and_schema") {
  fake_cluster fake;
  auto schema = temp_file("schema.json", R"({"type": "object"})");
  auto r = run(fake, {"config", "create", "acme/shop/prod/app.json", "--format", "json",
                      "--content", R"({"a": 1})", "--description", "first", "--schema",
                      schema});
  std::remove(schema.c_str());
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  auto& cmd = std::get<create_config>(fake.writes[0]);
  CHECK(cmd.key == "acme/shop/prod/app.json");
  CHECK(cmd.format == content_format::json);
  CHECK(cmd.content == R"({"a": 1})");
  CHECK(cmd.description == "first");
  REQUIRE(cmd.schema);
  CHECK(*cmd.schema == R"({"type": "object"})");
  CHECK(mentions(r.out, "version 1"));
  CHECK(mentions(r.out, "revision 42"));
  CHECK(mentions(r.out, "release set"));
}

TEST_CASE("version_add_reads_the_file_byte_for_byte") {
  fake_cluster fake;
  fake.result.version = 3;
  std::string bytes = "a = 1\r\nb = \"x\"";
  auto path = temp_file("v.toml", bytes);
  auto r = run(
      fake, {"version", "add", key, "--file", path, "--if-revision", "40", "--json"});
  std::remove(path.c_str());
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  auto& cmd = std::get<create_version>(fake.writes[0]);
  CHECK(cmd.content == bytes);
  REQUIRE(cmd.expected_revision);
  CHECK(*cmd.expected_revision == 40);
  auto j = one_json_object(r.out);
  CHECK(j["version_id"] == 3);
  CHECK(j["revision"] == 42);
}

TEST_CASE("release_set_sends_rules_in_order_with_comment_and_revision") {
  fake_cluster fake;
  auto r = run(fake, {"release", "set", key, "--rule", "canary=true:2:10", "--rule",
                      "*:1", "--comment", "canary 2", "--if-revision", "40"});
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  auto& cmd = std::get<update_release_rules>(fake.writes[0]);
  CHECK(cmd.rules ==
        std::vector<release_rule>{{{{"canary", "true"}}, 2, 10}, {{}, 1, 0}});
  CHECK(cmd.comment == "canary 2");
  CHECK(*cmd.expected_revision == 40);
  CHECK(mentions(r.out, "canary=true"));
}

TEST_CASE("release_set_reads_a_rules_file") {
  fake_cluster fake;
  auto path =
      temp_file("rules2.json",
                R"([{"labels": {"canary": "true"}, "version_id": 2, "priority": 10},
                            {"version_id": 1}])");
  auto r = run(fake, {"release", "set", key, "--rules-file", path});
  std::remove(path.c_str());
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  CHECK(std::get<update_release_rules>(fake.writes[0]).rules.size() == 2);
}

TEST_CASE("rollback_replaces_every_rule_by_one_default_rule") {
  fake_cluster fake;
  auto r = run(fake, {"rollback", key, "1"});
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  auto& cmd = std::get<update_release_rules>(fake.writes[0]);
  CHECK(cmd.rules == std::vector<release_rule>{{{}, 1, 0}});
  CHECK(cmd.comment == "rollback to 1");
  CHECK(mentions(r.out, "canary rules included"));
}

TEST_CASE("rollback_takes_a_comment_like_every_release_verb") {
  fake_cluster fake;
  auto r = run(fake, {"rollback", key, "1", "--comment", "canary 2 broke checkout"});
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  CHECK(std::get<update_release_rules>(fake.writes[0]).comment ==
        "canary 2 broke checkout");
  auto bad = run(fake, {"rollback", key, "1", "--comment", "a\x01"});
  CHECK(bad.code == 2);
  CHECK(mentions(bad.err, "--comment"));
  CHECK(fake.writes.size() == 1);
}

TEST_CASE("version_delete_sends_every_id") {
  fake_cluster fake;
  auto r = run(fake, {"version", "delete", key, "3", "4", "--json"});
  CHECK(r.code == 0);
  REQUIRE(fake.writes.size() == 1);
  CHECK(std::get<delete_versions>(fake.writes[0]).versions ==
        std::vector<version_id>{3, 4});
  auto j = one_json_object(r.out);
  CHECK(j["deleted_versions"] == nlohmann::json::array({3, 4}));
}

TEST_CASE("config_delete_sends_the_expected_revision") {
  fake_cluster fake;
  CHECK(run(fake, {"config", "delete", key, "--if-revision", "9"}).code == 0);
  REQUIRE(fake.writes.size() == 1);
  CHECK(*std::get<delete_config>(fake.writes[0]).expected_revision == 9);
}

TEST_CASE("config_delete_force_reaches_the_command") {
  fake_cluster fake;
  CHECK(run(fake, {"config", "delete", key}).code == 0);
  CHECK(run(fake, {"config", "delete", key, "--force"}).code == 0);
  REQUIRE(fake.writes.size() == 2);
  CHECK_FALSE(std::get<delete_config>(fake.writes[0]).force);
  CHECK(std::get<delete_config>(fake.writes[1]).force);
}

TEST_CASE("revision_mismatch_exits_4_with_the_server_message") {
  fake_cluster fake;
  fake.fail = error{errc::revision_mismatch, "config moved to revision 41; re-read it"};
  auto r = run(fake, {"version", "add", key, "--content", "x", "--if-revision", "40"});
  CHECK(r.code == 4);
  CHECK(r.out.empty());
  CHECK(r.err == "conflux: config moved to revision 41; re-read it\n");
}

TEST_CASE("version_in_use_exits_4") {
  fake_cluster fake;
  fake.fail =
      error{errc::version_in_use, "version 2 is released by rule 1; change rules"};
  CHECK(run(fake, {"version", "delete", key, "2"}).code == 4);
}

TEST_CASE("already_exists_exits_4") {
  fake_cluster fake;
  fake.fail = error{errc::already_exists, "exists; add a version instead"};
  CHECK(
      run(fake, {"config", "create", key, "--format", "text", "--content", ""}).code ==
      4);
}

TEST_CASE("invalid_content_from_the_cluster_exits_2") {
  fake_cluster fake;
  fake.fail = error{errc::invalid_content, "line 1: bad toml; fix it"};
  CHECK(run(fake, {"version", "add", key, "--content", "= ="}).code == 2);
}

TEST_CASE("refusal_carried_in_apply_result_is_reported") {
  fake_cluster fake;
  fake.result.err = error{errc::not_found, "no such config; create it"};
  auto r = run(fake, {"config", "delete", key});
  CHECK(r.code == 3);
  CHECK(mentions(r.err, "no such config"));
}

TEST_CASE("timeout_on_a_write_says_the_outcome_is_unknown") {
  fake_cluster fake;
  fake.fail = error{errc::timeout, "no answer within 5000 ms"};
  auto r = run(fake, {"version", "add", key, "--content", "x"});
  CHECK(r.code == 5);
  CHECK(mentions(r.err, "may or may not"));
}

TEST_CASE("unavailable_exits_5_with_endpoint_hint") {
  fake_cluster fake;
  fake.fail = error{errc::unavailable, "no node answered"};
  auto r = run(fake, {"config", "show", key, "--endpoints", "h:1"});
  CHECK(r.code == 5);
  CHECK(mentions(r.err, "--endpoints (now h:1)"));
  CHECK(mentions(r.err, "majority"));
}

TEST_CASE("errors_on_a_key_with_non_ascii_letters_print_the_letters") {
  fake_cluster fake;
  const std::string odd = "acme/shop/prod/d\xc3\xa9.toml"; // "dé.toml"
  fake.fail =
      error{errc::not_found, "config \"" + odd + "\" does not exist; create it"};
  auto r = run(fake, {"config", "show", key});
  CHECK(r.code == 3);
  CHECK(r.err == "conflux: config \"" + odd + "\" does not exist; create it\n");
  auto j = run(fake, {"config", "show", key, "--json"});
  CHECK(mentions(j.err, odd));
  CHECK(nlohmann::json::parse(j.err)["message"].get<std::string>().find(odd) !=
        std::string::npos);
}

TEST_CASE("a_key_with_a_non_ascii_letter_is_refused_naming_the_letter_not_its_bytes") {
  fake_cluster fake;
  auto r = run(fake, {"get", "acme/shop/prod/d\xc3\xa9.toml"});
  CHECK(r.code == 2);
  CHECK(mentions(r.err, "key \"acme/shop/prod/d\xc3\xa9.toml\""));
  CHECK(mentions(r.err, "'\xc3\xa9' (U+00E9) in segment 4"));
  CHECK_FALSE(mentions(r.err, "\\xc3"));
  CHECK(fake.reads == 0);
}

TEST_CASE("bytes_that_are_no_character_print_as_escapes_not_raw") {
  fake_cluster fake;
  fake.fail =
      error{errc::not_found, "config \"acme/shop/prod/d\xe9\x1b[2J.toml\" is gone"};
  auto r = run(fake, {"config", "show", key});
  CHECK(r.err == "conflux: config \"acme/shop/prod/d\\xe9\\x1b[2J.toml\" is gone\n");
  auto label = run(fake, {"get", key, "--label", "d\xe9"});
  CHECK(label.code == 2);
  CHECK(mentions(label.err, "label \"d\\xe9\" has no '='"));
}

TEST_CASE("error_with_json_goes_to_stderr_as_one_object_and_stdout_stays_empty") {
  fake_cluster fake;
  fake.fail = error{errc::not_found, "config does not exist; create it"};
  auto r = run(fake, {"config", "show", key, "--json"});
  CHECK(r.code == 3);
  CHECK(r.out.empty());
  auto j = nlohmann::json::parse(r.err);
  CHECK(j["error"] == "not_found");
  CHECK(j["message"] == "config does not exist; create it");
  CHECK(j["exit_code"] == 3);
}

// -- reads
// ------------------------------------------------------------------------------

TEST_CASE("get_prints_exactly_the_content_bytes") {
  fake_cluster fake;
  fake.rule_index = 0; // canary rule -> version 2 "a = 2" (no newline)
  auto r = run(fake, {"get", key, "--label", "canary=true", "--label", "region=eu"});
  CHECK(r.code == 0);
  CHECK(r.out == "a = 2");
  CHECK(fake.last_labels == labels{{"canary", "true"}, {"region", "eu"}});
}

TEST_CASE("label_option_does_not_swallow_the_key") {
  fake_cluster fake;
  auto r = run(fake, {"get", "--label", "canary=true", key});
  CHECK(r.code == 0);
  CHECK(fake.last_labels == labels{{"canary", "true"}});
}

TEST_CASE("get_json_has_key_version_rule_revision_content_and_hash") {
  fake_cluster fake;
  fake.rule_index = 1;
  auto r = run(fake, {"get", key, "--json", "--consistency", "serializable"});
  CHECK(r.code == 0);
  CHECK(fake.last_consistency == actors::consistency::serializable);
  auto j = one_json_object(r.out);
  CHECK(j["key"] == key);
  CHECK(j["version_id"] == 1);
  CHECK(j["rule_index"] == 1);
  CHECK(j["revision"] == 41);
  CHECK(j["content"] == "a = 1\n");
  CHECK(j["content_hash"] == std::string(64, 'a'));
}

TEST_CASE("not_published_exits_3") {
  fake_cluster fake;
  fake.fail = error{errc::not_published, "no rule matches; release a version"};
  CHECK(run(fake, {"get", key}).code == 3);
}

TEST_CASE("resolve_names_the_rule_and_version") {
  fake_cluster fake;
  fake.rule_index = 0;
  auto r = run(fake, {"resolve", key, "--label", "canary=true"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "#1 canary=true, priority 10"));
  CHECK(mentions(r.out, "version:  2"));
  auto j = one_json_object(run(fake, {"resolve", key, "--json"}).out);
  CHECK(j["rule"]["version_id"] == 2);
  CHECK(j["rule_index"] == 0);
}

TEST_CASE("version_show_prints_the_content_and_json_adds_metadata") {
  fake_cluster fake;
  auto r = run(fake, {"version", "show", key, "1"});
  CHECK(r.out == "a = 1\n");
  auto j = one_json_object(run(fake, {"version", "show", key, "2", "--json"}).out);
  CHECK(j["content"] == "a = 2");
  CHECK(j["version_id"] == 2);
  CHECK(j["description"] == "v2");
}

TEST_CASE("version_list_shows_which_rules_release_each_version") {
  fake_cluster fake;
  auto r = run(fake, {"version", "list", key});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "#1(canary=true)"));
  CHECK(mentions(r.out, "#2(*)"));
  CHECK(mentions(r.out, std::string(12, 'b')));
  CHECK_FALSE(mentions(r.out, std::string(13, 'b')));
  auto j = one_json_object(run(fake, {"version", "list", key, "--json"}).out);
  REQUIRE(j["versions"].size() == 2);
  CHECK(j["versions"][0]["rules"] == nlohmann::json::array({1}));
  CHECK_FALSE(j["versions"][0].contains("content"));
}

TEST_CASE("release_show_prints_rules_in_order_and_json_feeds_release_set") {
  fake_cluster fake;
  auto r = run(fake, {"release", "show", key});
  auto first = r.out.find("canary=true");
  auto second = r.out.find("*");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  auto j = one_json_object(run(fake, {"release", "show", key, "--json"}).out);
  auto back = parse_rules_json(dump_json(j["rules"]));
  REQUIRE(back.ok());
  CHECK(*back == fake.cfg.releases);
  CHECK(j["mod_revision"] == 40);
}

TEST_CASE("config_show_and_list_render_human_and_json") {
  fake_cluster fake;
  auto show = run(fake, {"config", "show", key});
  CHECK(mentions(show.out, "mod revision:    40"));
  CHECK(mentions(show.out, "#2 * -> version 1, priority 0"));
  auto j = one_json_object(run(fake, {"config", "show", key, "--json"}).out);
  CHECK(j["key"] == key);
  CHECK(j["rules"].size() == 2);
  auto list = run(fake, {"config", "list", "acme/"});
  CHECK(mentions(list.out, "KEY"));
  CHECK(mentions(list.out, key));
  auto lj = one_json_object(run(fake, {"config", "list", "--json"}).out);
  CHECK(lj["configs"].size() == 1);
  CHECK(lj["prefix"] == "");
}

// -- cluster status
// ----------------------------------------------------------------------

TEST_CASE("cluster_status_lists_members_and_marks_the_leader") {
  fake_cluster fake;
  fake.nodes = {node(1, "follower", 2), node(2, "leader", 2), node(3, "follower", 2)};
  auto r = run(fake, {"cluster", "status"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "* leader"));
  CHECK(mentions(r.out, "leader: 2 (127.0.0.1:7102), term 5"));
  auto j = one_json_object(run(fake, {"cluster", "status", "--json"}).out);
  CHECK(j["leader"]["id"] == 2);
  REQUIRE(j["members"].size() == 3);
  CHECK(j["members"][1]["is_leader"] == true);
  CHECK(j["members"][0]["role"] == "follower");
}

TEST_CASE("cluster_status_says_which_nodes_speak_plain_text") {
  fake_cluster fake;
  fake.nodes = {node(1, "leader", 1), node(2, "follower", 1), node(3, "follower", 1)};
  auto tls = run(fake, {"cluster", "status"});
  CHECK(mentions(tls.out, "transport: mutual TLS\n"));
  fake.nodes[0].transport = "insecure-plaintext";
  fake.nodes[2].transport = "insecure-plaintext";
  auto r = run(fake, {"cluster", "status"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "transport: INSECURE plain text on node(s) 1, 3"));
  auto j = one_json_object(run(fake, {"cluster", "status", "--json"}).out);
  CHECK(j["members"][0]["transport"] == "insecure-plaintext");
  CHECK(j["members"][1]["transport"] == "mutual-tls");
  CHECK(mentions(j["transport"].get<std::string>(), "INSECURE plain text"));
}

TEST_CASE("cluster_status_shows_a_node_whose_applying_is_paused") {
  fake_cluster fake;
  fake.nodes = {node(1, "leader", 1), node(2, "follower", 1), node(3, "follower", 1)};
  auto fine = one_json_object(run(fake, {"cluster", "status", "--json"}).out);
  CHECK(fine["members"][1]["apply_paused"].is_null());
  fake.nodes[1].apply_paused = "applier failed to commit entries 7..9: disk full";
  auto r = run(fake, {"cluster", "status"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out,
                 "APPLY PAUSED: applier failed to commit entries 7..9: disk full"));
  auto j = one_json_object(run(fake, {"cluster", "status", "--json"}).out);
  CHECK(j["members"][1]["apply_paused"] ==
        "applier failed to commit entries 7..9: disk full");
  CHECK(j["members"][0]["apply_paused"].is_null());
}

TEST_CASE("cluster_status_shows_an_unreachable_member_with_its_error") {
  fake_cluster fake;
  fake.nodes = {node(1, "leader", 1), node(2, "follower", 1), node(3, "follower", 1)};
  fake.down = {"127.0.0.1:7103"};
  auto r = run(fake, {"cluster", "status"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "unreachable"));
  CHECK(mentions(r.out, "no answer from 127.0.0.1:7103"));
  auto j = one_json_object(run(fake, {"cluster", "status", "--json"}).out);
  CHECK(j["members"][2]["reachable"] == false);
  CHECK(j["members"][2]["error"] == "unavailable");
}

TEST_CASE("cluster_status_without_a_leader_exits_5_but_still_prints_the_table") {
  fake_cluster fake;
  fake.nodes = {node(1, "candidate", 0), node(2, "follower", 0),
                node(3, "follower", 0)};
  auto r = run(fake, {"cluster", "status", "--json"});
  CHECK(r.code == 5);
  auto j = one_json_object(r.out);
  CHECK(j["leader"].is_null());
  CHECK(mentions(r.err, "no reachable member knows a leader"));
}

TEST_CASE("cluster_status_with_no_reachable_endpoint_exits_5") {
  fake_cluster fake;
  fake.fail = error{errc::unavailable, "no endpoint answered"};
  auto r = run(fake, {"cluster", "status"});
  CHECK(r.code == 5);
  CHECK(r.out.empty());
}

// -- membership
// ---------------------------------------------------------------------------

TEST_CASE("cluster_status_shows_each_members_lag_from_the_leaders_view") {
  fake_cluster fake;
  fake.nodes = {node(1, "follower", 2), node(2, "leader", 2), node(3, "follower", 2)};
  auto r = run(fake, {"cluster", "status"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "LAG"));
  auto j = one_json_object(run(fake, {"cluster", "status", "--json"}).out);
  REQUIRE(j["members"].size() == 3);
  CHECK(j["members"][0]["lag"] == 1);
  CHECK(j["members"][2]["lag"] == 3);
  CHECK(j["members"][2]["match"] == 97);
  // Without a reachable leader nobody knows the lag.
  fake_cluster leaderless;
  leaderless.nodes = {node(1, "candidate", 0), node(2, "follower", 0),
                      node(3, "follower", 0)};
  auto lj = one_json_object(run(leaderless, {"cluster", "status", "--json"}).out);
  CHECK(lj["members"][0]["lag"].is_null());
}

TEST_CASE("cluster_membership_commands_call_the_cluster_and_report") {
  fake_cluster fake;
  auto add = run(fake, {"cluster", "add", "4", "127.0.0.1:7104"});
  CHECK(add.code == 0);
  CHECK(mentions(add.out, "added node 4 (127.0.0.1:7104) as joining"));
  auto learner =
      run(fake, {"cluster", "add", "5", "[::1]:7105", "--learner", "--json"});
  CHECK(learner.code == 0);
  auto lj = one_json_object(learner.out);
  CHECK(lj["kind"] == "learner");
  CHECK(lj["config_index"] == 17);
  auto rm = one_json_object(run(fake, {"cluster", "remove", "3", "--json"}).out);
  CHECK(rm["removed"] == 3);
  auto tr = run(fake, {"cluster", "transfer-leader", "2"});
  CHECK(tr.code == 0);
  CHECK(mentions(tr.out, "node 2 is the leader (term 6)"));
  CHECK(fake.admin == std::vector<std::string>{"add 4 127.0.0.1:7104",
                                               "add 5 [::1]:7105 learner", "remove 3",
                                               "transfer 2"});
}

TEST_CASE("cluster_add_warns_when_the_new_member_is_not_reachable_yet") {
  fake_cluster fake;
  fake.unreachable["127.0.0.1:7104"] =
      "refused the connection (nothing listens on that port)";
  auto r = run(fake, {"cluster", "add", "4", "127.0.0.1:7104"});
  CHECK(r.code == 0);
  CHECK(mentions(r.out, "added node 4 (127.0.0.1:7104) as joining"));
  CHECK(r.err.find('\n') == r.err.size() - 1);
  CHECK(mentions(r.err,
                 "conflux: warning: node 4 is not reachable at 127.0.0.1:7104 yet: "
                 "127.0.0.1:7104 refused the connection"));
  CHECK(mentions(r.err, "`conflux-node --join --id 4 --listen 127.0.0.1:7104 --data DIR "
                        "--tls-dir DIR2`, DIR2 holding its node certificate from "
                        "`conflux-cert node --ca CA_DIR --id 4 --out DIR2`"));
  CHECK(mentions(r.err, "`conflux cluster remove 4`"));
  CHECK(fake.probed == std::vector<std::string>{"127.0.0.1:7104"});
  auto j = run(fake, {"cluster", "add", "4", "127.0.0.1:7104", "--json"});
  CHECK(j.code == 0);
  CHECK(one_json_object(j.out)["added"] == 4);
  CHECK(mentions(nlohmann::json::parse(j.err)["warning"].get<std::string>(),
                 "node 4 is not reachable at 127.0.0.1:7104 yet"));
}

TEST_CASE("cluster_add_that_fails_probes_nothing_and_warns_nothing") {
  fake_cluster fake;
  fake.fail = error{errc::already_exists, "node 4 is already a member"};
  fake.unreachable["127.0.0.1:7104"] = "refused the connection";
  auto r = run(fake, {"cluster", "add", "4", "127.0.0.1:7104"});
  CHECK(r.code == 4);
  CHECK(fake.probed.empty());
  CHECK_FALSE(mentions(r.err, "warning"));
}

TEST_CASE("cluster_membership_commands_refuse_bad_ids_and_addresses_locally") {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"cluster", "add", "0", "127.0.0.1:7104"},
        {"cluster", "add", "x", "127.0.0.1:7104"},
        {"cluster", "add", "4", "127.0.0.1"},
        {"cluster", "add", "4", "127.0.0.1:99999"},
        {"cluster", "remove", "-1"},
        {"cluster", "transfer-leader", "two"}}) {
    fake_cluster fake;
    auto r = run(fake, args);
    INFO(args[1] << " " << args[2]);
    CHECK(r.code == 2);
    CHECK(fake.calls() == 0);
    CHECK(r.err.find('\n') == r.err.size() - 1);
  }
}

TEST_CASE("cluster_membership_errors_map_to_exit_codes") {
  fake_cluster fake;
  fake.fail =
      error{errc::not_found, "node 9 is not a member; see `conflux cluster status`"};
  auto r = run(fake, {"cluster", "remove", "9"});
  CHECK(r.code == 3);
  CHECK(mentions(r.err, "node 9 is not a member"));
  fake.fail = error{errc::already_exists, "node 1 is already a member"};
  CHECK(run(fake, {"cluster", "add", "1", "127.0.0.1:7101"}).code == 4);
  fake.fail =
      error{errc::unavailable, "an earlier membership change is not committed yet"};
  CHECK(run(fake, {"cluster", "transfer-leader", "2"}).code == 5);
}

// -- transport: mutual TLS or, on loopback only, plain text ------------------

TEST_CASE("a_command_without_tls_credentials_is_refused_naming_conflux_tls_dir") {
  auto p = parse_command_line({"config", "list"}, nullptr, nullptr);
  REQUIRE_FALSE(p.inv);
  CHECK(p.exit_code == 2);
  CHECK(mentions(p.err, "no TLS credentials"));
  CHECK(mentions(p.err, "CONFLUX_TLS_DIR"));
  CHECK(mentions(p.err, "--insecure-plaintext"));
}

TEST_CASE("the_tls_dir_comes_from_the_flag_then_conflux_tls_dir") {
  auto env = parse_command_line({"config", "list"}, nullptr, test::parsing_tls_dir());
  REQUIRE(env.inv);
  CHECK(env.inv->global.transport.tls());
  CHECK(env.inv->global.transport.cert_file ==
        std::string{test::parsing_tls_dir()} + "/client.crt");
  CHECK(env.inv->global.transport.key_file ==
        std::string{test::parsing_tls_dir()} + "/client.key");
  CHECK(env.inv->global.transport.ca_file ==
        std::string{test::parsing_tls_dir()} + "/ca.crt");
  auto flag = parse_command_line({"config", "list", "--tls-dir", test::parsing_tls_dir()},
                                 nullptr, "/nonexistent/env-dir");
  REQUIRE_MESSAGE(flag.inv, flag.err);
  CHECK(flag.inv->global.tls_dir == test::parsing_tls_dir());
}

TEST_CASE("a_tls_dir_without_the_client_files_is_refused_naming_the_file") {
  auto p = parse_command_line({"config", "list"}, nullptr, "/nonexistent/tls");
  REQUIRE_FALSE(p.inv);
  CHECK(p.exit_code == 2);
  CHECK(mentions(p.err, "CONFLUX_TLS_DIR"));
  CHECK(mentions(p.err, "/nonexistent/tls/client.crt"));
  auto flag = parse_command_line({"config", "list", "--tls-dir", "/nonexistent/tls"},
                                 nullptr, nullptr);
  REQUIRE_FALSE(flag.inv);
  CHECK(mentions(flag.err, "--tls-dir"));
}

TEST_CASE("insecure_plaintext_is_refused_for_an_endpoint_that_is_not_loopback") {
  auto p = parse_command_line(
      {"config", "list", "--insecure-plaintext", "--endpoints", "127.0.0.1:1,10.1.2.3:7101"},
      nullptr, nullptr);
  REQUIRE_FALSE(p.inv);
  CHECK(p.exit_code == 2);
  CHECK(mentions(p.err, "10.1.2.3:7101"));
  CHECK(mentions(p.err, "loopback"));
  for (const char* ok : {"127.0.0.1:7101", "127.9.9.9:1", "localhost:7101", "[::1]:7101"}) {
    CAPTURE(ok);
    auto q = parse_command_line({"config", "list", "--insecure-plaintext", "--endpoints", ok},
                                nullptr, nullptr);
    REQUIRE_MESSAGE(q.inv, q.err);
    CHECK_FALSE(q.inv->global.transport.tls());
  }
}

TEST_CASE("insecure_plaintext_and_a_tls_dir_flag_exclude_each_other") {
  auto p = parse_command_line({"config", "list", "--insecure-plaintext", "--tls-dir",
                               test::parsing_tls_dir()},
                              nullptr, nullptr);
  REQUIRE_FALSE(p.inv);
  CHECK(p.exit_code == 2);
  CHECK(mentions(p.err, "exclude each other"));
  // The environment is a default, which the flag overrides.
  auto env = parse_command_line({"config", "list", "--insecure-plaintext"}, nullptr,
                                test::parsing_tls_dir());
  REQUIRE_MESSAGE(env.inv, env.err);
  CHECK_FALSE(env.inv->global.transport.tls());
}
