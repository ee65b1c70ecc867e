// The CLI's tokens without a cluster: --expires durations, token files
// (owner-only, one token, never echoed), new tokens and token files written,
// the global --token-file / CONFLUX_TOKEN_FILE, and what an unauthenticated or
// permission_denied answer prints.

#include "apps/cli/cli_token.hpp"
#include "tests/apps/cli_fake_cluster.hpp"

#include <doctest/doctest.h>
#include <optional>

using namespace conflux;
using namespace conflux::cli;
using namespace conflux::cli::test;

namespace {

const std::string some_token = "cfx_" + std::string(64, 'a');

/// Every call fails with `fail` when set; counts the calls that reached it.
class fake_cluster final : public refusing_cluster {
public:
  std::optional<error> fail;
  std::size_t calls = 0;

protected:
  error refuse() override {
    ++calls;
    return fail.value_or(refusing_cluster::refuse());
  }
};

} // namespace

// -- --expires ------------------------------------------------------------------

TEST_CASE("expires_takes_a_number_and_a_unit_s_m_h_or_d") {
  CHECK(*parse_duration("--expires", "45s") == 45'000);
  CHECK(*parse_duration("--expires", "90m") == 90 * 60'000);
  CHECK(*parse_duration("--expires", "12h") == 12 * 3'600'000);
  CHECK(*parse_duration("--expires", "30d") == std::int64_t{30} * 86'400'000);
  CHECK(*parse_duration("--expires", "3650d") == std::int64_t{3650} * 86'400'000);
}

TEST_CASE("expires_refuses_zero_signs_fractions_missing_units_and_huge_values") {
  for (const char* bad :
       {"", "30", "d", "0d", "0s", "-1d", "+1d", "1.5h", "30D", "30 d", " 30d", "1w",
        "3651d", "87601h", "99999999999999999999999d"}) {
    CAPTURE(bad);
    auto r = parse_duration("--expires", bad);
    REQUIRE(!r.ok());
    CHECK(r.err().code == errc::invalid_argument);
    CHECK(mentions(r.err().message, "--expires"));
    CHECK(mentions(r.err().message, "30d"));
  }
}

// -- token files --------------------------------------------------------------------

TEST_CASE("a_private_token_file_gives_its_token") {
  temp_dir d;
  CHECK(*read_token_file("--token-file", d.file("t", some_token + "\n")) == some_token);
  CHECK(*read_token_file("--token-file", d.file("u", some_token)) == some_token);
  CHECK(*read_token_file("--token-file", d.file("r", some_token + "\n", 0400)) ==
        some_token);
}

TEST_CASE("a_token_file_readable_by_group_or_others_is_refused_without_showing_it") {
  temp_dir d;
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    CAPTURE(mode);
    auto path = d.file("t" + std::to_string(mode), some_token + "\n", mode);
    auto r = read_token_file("CONFLUX_TOKEN_FILE", path);
    REQUIRE(!r.ok());
    CHECK(r.err().code == errc::invalid_argument);
    CHECK(mentions(r.err().message, "CONFLUX_TOKEN_FILE"));
    CHECK(mentions(r.err().message, "chmod 600 " + path));
    CHECK(!mentions(r.err().message, "aaaaaaaa"));
  }
}

TEST_CASE("a_token_file_that_holds_no_token_is_refused_without_echoing_it") {
  temp_dir d;
  const std::string secretish = "cfx_" + std::string(63, 'b') + "Z";
  for (const std::string& content :
       {std::string{}, std::string{"\n"}, secretish, some_token + "\n\n",
        some_token + " \n", "cfx_" + std::string(64, 'B'), some_token + some_token,
        std::string(300, 'c')}) {
    CAPTURE(content.size());
    auto r = read_token_file("--token-file", d.file("t", content));
    REQUIRE(!r.ok());
    CHECK(r.err().code == errc::invalid_argument);
    CHECK(!mentions(r.err().message, "bbbbbbbb"));
    CHECK(!mentions(r.err().message, "BBBBBBBB"));
    CHECK(!mentions(r.err().message, "cccccccc"));
    CHECK(!mentions(r.err().message, "aaaaaaaa"));
  }
}

TEST_CASE("a_missing_token_file_or_a_directory_is_refused_with_its_path") {
  temp_dir d;
  auto missing = read_token_file("--token-file", d.path + "/nope");
  REQUIRE(!missing.ok());
  CHECK(mentions(missing.err().message, d.path + "/nope"));
  REQUIRE(::chmod(d.path.c_str(), 0700) == 0);
  auto dir = read_token_file("--token-file", d.path);
  REQUIRE(!dir.ok());
  CHECK(mentions(dir.err().message, "not a regular file"));
}

TEST_CASE("new_tokens_are_cfx_and_64_lowercase_hex_and_differ") {
  auto a = new_token();
  auto b = new_token();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->size() == 68);
  CHECK(a->rfind("cfx_", 0) == 0);
  CHECK(a->find_first_not_of("0123456789abcdef", 4) == std::string::npos);
  CHECK(*a != *b);
}

TEST_CASE(
    "a_written_token_file_has_mode_0600_whatever_the_umask_and_is_never_overwritten") {
  temp_dir d;
  auto path = d.path + "/admin.token";
  auto old = ::umask(0);
  auto st = write_token_file(path, some_token);
  ::umask(old);
  REQUIRE(st.ok());
  CHECK(mode_of(path) == 0600);
  CHECK(*read_token_file("--out", path) == some_token);
  auto again = write_token_file(path, "cfx_" + std::string(64, 'f'));
  REQUIRE(!again.ok());
  CHECK(again.err().code == errc::already_exists);
  CHECK(*read_token_file("--out", path) == some_token);
}

// -- --token-file / CONFLUX_TOKEN_FILE ----------------------------------------------

TEST_CASE("token_file_flag_and_environment_give_the_token_the_flag_first") {
  temp_dir d;
  auto from_env = d.file("env", "cfx_" + std::string(64, 'e') + "\n");
  auto from_flag = d.file("flag", some_token + "\n");
  auto env = parse({"config", "list"}, from_env.c_str());
  REQUIRE(env.inv);
  CHECK(env.inv->global.token == "cfx_" + std::string(64, 'e'));
  auto flag = parse({"config", "list", "--token-file", from_flag}, from_env.c_str());
  REQUIRE(flag.inv);
  CHECK(flag.inv->global.token == some_token);
  CHECK(flag.inv->global.token_file == from_flag);
  auto none = parse({"config", "list"});
  REQUIRE(none.inv);
  CHECK(none.inv->global.token.empty());
}

TEST_CASE("a_bad_token_file_stops_the_command_before_any_contact") {
  temp_dir d;
  fake_cluster fake;
  auto open = d.file("open", some_token + "\n", 0644);
  auto r = run(fake, {"--json", "config", "list"}, open.c_str());
  CHECK(r.code == exit_bad_input);
  auto j = one_json(r.err);
  CHECK(j["error"] == "invalid_argument");
  CHECK(mentions(j["message"].get<std::string>(), "CONFLUX_TOKEN_FILE"));
  CHECK(!mentions(r.err, "aaaaaaaa"));
  CHECK(fake.calls == 0);
}

TEST_CASE("unauthenticated_exits_7_and_says_which_token_to_give") {
  temp_dir d;
  fake_cluster fake;
  fake.fail = error{errc::unauthenticated, "no valid token"};
  auto none = run(fake, {"config", "list"});
  CHECK(none.code == exit_unauthenticated);
  CHECK(mentions(none.err, "no token was given"));
  CHECK(mentions(none.err, "CONFLUX_TOKEN_FILE"));
  auto file = d.file("t", some_token + "\n");
  auto given = run(fake, {"config", "list", "--token-file", file});
  CHECK(given.code == exit_unauthenticated);
  CHECK(mentions(given.err, "the token was read from " + file));
  CHECK(!mentions(given.err, "aaaaaaaa"));
}

TEST_CASE("permission_denied_exits_6") {
  fake_cluster fake;
  fake.fail = error{errc::permission_denied, "reader may not release acme/pay/prod/db"};
  auto r = run(fake, {"--json", "rollback", "acme/pay/prod/db", "1"});
  CHECK(r.code == exit_denied);
  CHECK(one_json(r.err)["exit_code"] == 6);
}
