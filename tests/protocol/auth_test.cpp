// The pure rules of protocol/auth.hpp: key patterns, permission names,
// grants, names, tokens and the decisions an access makes.

#include "protocol/auth.hpp"
#include "protocol/sha256.hpp"

#include <doctest/doctest.h>

using namespace conflux;
using namespace conflux::auth;

namespace {

access with_grants(std::vector<grant> grants) {
  access a;
  a.who.name = "bob";
  a.roles.push_back(role{"r", std::move(grants)});
  return a;
}

} // namespace

TEST_CASE("a_pattern_matches_whole_segments_only") {
  CHECK(pattern_matches("acme/pay", "acme/pay/prod/db"));
  CHECK_FALSE(pattern_matches("acme/pay", "acme/payroll/prod/db"));
  CHECK_FALSE(pattern_matches("acme/payroll", "acme/pay/prod/db"));
  CHECK_FALSE(pattern_matches("acme", "acmeco/pay/prod/db"));
  CHECK(pattern_matches("acme/pay/prod/db", "acme/pay/prod/db"));
  CHECK_FALSE(pattern_matches("acme/pay/prod/db", "acme/pay/prod/db2"));
}

TEST_CASE("a_pattern_is_case_sensitive_like_keys") {
  CHECK_FALSE(pattern_matches("acme", "Acme/pay/prod/db"));
  CHECK_FALSE(pattern_matches("Acme", "acme/pay/prod/db"));
  CHECK(pattern_matches("Acme", "Acme/pay/prod/db"));
}

TEST_CASE("a_star_matches_exactly_one_segment_at_any_position") {
  CHECK(pattern_matches("*", "acme/pay/prod/db"));
  CHECK(pattern_matches("*/pay", "beta/pay/dev/x"));
  CHECK_FALSE(pattern_matches("*/pay", "beta/payroll/dev/x"));
  CHECK(pattern_matches("acme/*/prod", "acme/shop/prod/db"));
  CHECK_FALSE(pattern_matches("acme/*/prod", "acme/shop/dev/db"));
  CHECK(pattern_matches("acme/*/prod/*", "acme/pay/prod/db"));
  CHECK(pattern_matches("*/*/*/db", "x/y/z/db"));
  CHECK_FALSE(pattern_matches("*/*/*/db", "x/y/z/dbx"));
  // A star never spans two segments or stands for nothing.
  CHECK_FALSE(pattern_matches("acme/*/db", "acme/pay/prod/db"));
}

TEST_CASE("a_pattern_longer_than_the_key_does_not_match") {
  CHECK_FALSE(pattern_matches("acme/pay/prod/db", "acme/pay"));
  CHECK_FALSE(pattern_matches("acme/*/*/*", "acme/pay/prod"));
}

TEST_CASE("malformed_patterns_are_refused_with_the_reason") {
  for (const char* bad :
       {"", "acme//prod", "/acme", "acme/", "acme/**", "**", "acme/pa*", "*x",
        "acme/../prod", "..", "acme/./x", "a/b/c/d/e", "acme/p y", "acme/pay\n"}) {
    auto s = validate_pattern(bad);
    CHECK_MESSAGE(s.code() == errc::invalid_argument, bad);
  }
  CHECK(validate_pattern("acme/**").err().message.find("**") != std::string::npos);
  CHECK(validate_pattern("acme/../prod").err().message.find("reserved") !=
        std::string::npos);
  CHECK(validate_pattern("a/b/c/d/e").err().message.find("5 segments") !=
        std::string::npos);
  CHECK(validate_pattern(std::string(129, 'a')).code() == errc::invalid_argument);
  for (const char* good :
       {"*", "acme", "acme/pay", "acme/*/prod/*", "*/*/*/*", "a.b_c-d/x"})
    CHECK_MESSAGE(validate_pattern(good).ok(), good);
  CHECK(validate_pattern(std::string(128, 'a')).ok());
}

TEST_CASE("pattern_within_holds_only_when_every_covered_key_is_covered") {
  CHECK(pattern_within("acme/pay", "acme"));
  CHECK(pattern_within("acme/pay/prod", "acme/*"));
  CHECK(pattern_within("acme/pay", "*"));
  CHECK(pattern_within("acme", "acme"));
  CHECK_FALSE(pattern_within("acme", "acme/pay"));
  CHECK_FALSE(pattern_within("acme/*", "acme/pay"));
  CHECK_FALSE(pattern_within("acme/payroll", "acme/pay"));
  CHECK_FALSE(pattern_within("*", "acme"));
  CHECK_FALSE(pattern_within("beta/pay", "acme"));
  // Keys have four segments: "acme/*/*/*" covers exactly what "acme" covers.
  CHECK(pattern_within("acme", "acme/*/*/*"));
  CHECK(pattern_within("acme/*/*/*", "acme"));
}

TEST_CASE("permissions_parse_from_names_and_print_back_in_order") {
  auto all = parse_permissions(
      "auditor,read,write,release,delete,read-secret,admin,cluster-admin");
  REQUIRE(all.ok());
  CHECK(*all == all_perms);
  CHECK(permissions_to_string(all_perms) ==
        "read,write,release,delete,read-secret,admin,cluster-admin,auditor");
  CHECK(parse_permissions("read, release").value() == (read | release));
  CHECK(permissions_to_string(release | read) == "read,release");
  auto bad = parse_permissions("read,Write");
  REQUIRE(bad.code() == errc::invalid_argument);
  CHECK(bad.err().message.find("\"Write\"") != std::string::npos);
  CHECK(bad.err().message.find("read-secret") != std::string::npos);
  CHECK(parse_permissions("").code() == errc::invalid_argument);
  CHECK(parse_permissions("read,,write").code() == errc::invalid_argument);
}

TEST_CASE("a_grant_parses_and_cluster_permissions_need_the_star_pattern") {
  auto g = parse_grant("acme/*/prod:read,release");
  REQUIRE(g.ok());
  CHECK(g->pattern == "acme/*/prod");
  CHECK(g->perms == (read | release));
  CHECK(to_string(*g) == "acme/*/prod:read,release");
  CHECK(parse_grant("*:cluster-admin,auditor").ok());
  auto cluster_on_pattern = parse_grant("acme:cluster-admin");
  REQUIRE(cluster_on_pattern.code() == errc::invalid_argument);
  CHECK(cluster_on_pattern.err().message.find("*:cluster-admin") != std::string::npos);
  CHECK(parse_grant("acme/../x:read").code() == errc::invalid_argument);
  CHECK(parse_grant("acme").code() == errc::invalid_argument);
  CHECK(parse_grant("acme:").code() == errc::invalid_argument);
}

TEST_CASE("names_of_roles_and_principals_are_checked") {
  for (const char* good : {"ci", "a", "deploy-bot.2", "9lives", "x_y"})
    CHECK_MESSAGE(validate_name("role", good).ok(), good);
  for (const char* bad : {"", "-ci", ".ci", "CI", "c i", "ci/x", "ci\n"})
    CHECK_MESSAGE(validate_name("role", bad).code() == errc::invalid_argument, bad);
  CHECK(validate_name("principal", std::string(64, 'a')).ok());
  CHECK(validate_name("principal", std::string(65, 'a')).code() ==
        errc::invalid_argument);
}

TEST_CASE("the_tenant_of_a_key_is_its_first_segment") {
  CHECK(tenant_of("acme/pay/prod/db") == "acme");
  CHECK(tenant_of("acme") == "acme");
}

TEST_CASE("tokens_are_checked_without_being_echoed_and_hashed_whole") {
  std::string token = "cfx_" + std::string(64, '7');
  CHECK(validate_token_text(token).ok());
  CHECK(token_hash(token) == sha256_hex(token));
  CHECK(token_hash(token).size() == 64);
  for (auto bad : {std::string{"cfx_"} + std::string(63, '7'),
                   std::string{"cfx_"} + std::string(63, '7') + "G",
                   std::string{"cfx_"} + std::string(63, '7') + "A",
                   std::string{"xfc_"} + std::string(64, '7'), std::string{}}) {
    auto s = validate_token_text(bad);
    REQUIRE(s.code() == errc::invalid_argument);
    if (bad.size() > 8)
      CHECK(s.err().message.find(bad.substr(4, 8)) == std::string::npos);
  }
  CHECK(validate_token_hash(std::string(64, 'a')).ok());
  CHECK(validate_token_hash(std::string(63, 'a')).code() == errc::invalid_argument);
  CHECK(validate_token_hash(std::string(64, 'A')).code() == errc::invalid_argument);
}

TEST_CASE("an_access_grants_the_union_of_its_matching_grants") {
  auto a = with_grants({{"acme/pay", read}, {"acme/*/prod", release}, {"beta", write}});
  CHECK(a.on("acme/pay/prod/db") == (read | release));
  CHECK(a.on("acme/pay/dev/db") == read);
  CHECK(a.on("acme/payroll/prod/db") == release);
  CHECK(a.on("beta/x/y/z") == write);
  CHECK(a.may(read | release, "acme/pay/prod/db"));
  CHECK_FALSE(a.may(read | write, "acme/pay/prod/db"));
  CHECK(a.cluster() == 0);
  auto admin = with_grants({{"*", all_perms}});
  CHECK(admin.cluster() == cluster_perms);
  CHECK(admin.may(all_perms, "any/key/at/all"));
}

TEST_CASE("a_missing_disabled_or_expired_principal_is_unauthenticated") {
  CHECK(check_principal(nullptr, 0).code() == errc::unauthenticated);
  principal p;
  p.name = "ci";
  p.token_hash = std::string(64, 'a');
  CHECK(check_principal(&p, 1'000).ok());
  p.expires_at_ms = 2'000;
  CHECK(check_principal(&p, 1'999).ok());
  auto expired = check_principal(&p, 2'000);
  REQUIRE(expired.code() == errc::unauthenticated);
  CHECK(expired.err().message.find("expired") != std::string::npos);
  CHECK(expired.err().message.find(p.token_hash) == std::string::npos);
  p.expires_at_ms = 0;
  p.disabled = true;
  auto revoked = check_principal(&p, 1'000);
  REQUIRE(revoked.code() == errc::unauthenticated);
  CHECK(revoked.err().message.find("revoked") != std::string::npos);
}

TEST_CASE("a_denial_names_the_principal_the_key_and_the_missing_permission") {
  auto a = with_grants({{"acme", read | write}});
  auto e = denied(a, write | release, "publish", "acme/pay/prod/db");
  CHECK(e.code == errc::permission_denied);
  CHECK(e.message.find("\"bob\"") != std::string::npos);
  CHECK(e.message.find("acme/pay/prod/db") != std::string::npos);
  CHECK(e.message.find("lacks release") != std::string::npos);
  auto c = denied(a, cluster_admin, "create tokens", "");
  CHECK(c.message.find("cluster-admin") != std::string::npos);
}
