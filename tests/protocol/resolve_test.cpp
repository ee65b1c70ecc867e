// Release resolution (docs/design.md, Data model): table-driven cases for each rule of
// the order, then a property test against an independent reference over
// generated rule sets.

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <tuple>

#include "protocol/resolve.hpp"

using namespace conflux;

namespace {
release_rule rule(labels l, version_id v, std::int32_t prio = 0) {
  return release_rule{std::move(l), v, prio};
}
std::optional<version_id> pick(const std::vector<release_rule>& rules, const labels& client) {
  auto i = resolve_rule(rules, client);
  if (!i)
    return std::nullopt;
  return rules[*i].version;
}
} // namespace

TEST_CASE("rule_matches_when_its_labels_are_a_subset_of_the_client_labels") {
  CHECK(rule_matches(rule({{"canary", "true"}}, 1), {{"canary", "true"}, {"zone", "eu"}}));
  CHECK_FALSE(rule_matches(rule({{"canary", "true"}}, 1), {{"canary", "false"}}));
  CHECK_FALSE(rule_matches(rule({{"canary", "true"}, {"zone", "eu"}}, 1), {{"canary", "true"}}));
  CHECK_FALSE(rule_matches(rule({{"a", "1"}}, 1), {}));
  CHECK(rule_matches(rule({}, 1), {}));
  CHECK(rule_matches(rule({}, 1), {{"x", "y"}}));
  // Values compare exactly, including the empty string.
  CHECK(rule_matches(rule({{"a", ""}}, 1), {{"a", ""}}));
  CHECK_FALSE(rule_matches(rule({{"a", ""}}, 1), {{"b", ""}}));
}

TEST_CASE("no_rules_or_no_match_means_not_published") {
  CHECK_FALSE(pick({}, {{"canary", "true"}}).has_value());
  CHECK_FALSE(pick({rule({{"canary", "true"}}, 2)}, {{"zone", "eu"}}).has_value());
}

TEST_CASE("default_rule_serves_clients_no_other_rule_matches") {
  std::vector<release_rule> rules{rule({{"canary", "true"}}, 2), rule({}, 1)};
  CHECK(pick(rules, {}) == version_id{1});
  CHECK(pick(rules, {{"zone", "eu"}}) == version_id{1});
  CHECK(pick(rules, {{"canary", "true"}}) == version_id{2});
}

TEST_CASE("highest_priority_wins_among_matching_rules") {
  std::vector<release_rule> rules{rule({{"zone", "eu"}, {"canary", "true"}}, 1, 0),
                                  rule({{"zone", "eu"}}, 2, 5), rule({}, 3, 10)};
  CHECK(pick(rules, {{"zone", "eu"}, {"canary", "true"}}) == version_id{3});
  rules[2].priority = -1;
  CHECK(pick(rules, {{"zone", "eu"}, {"canary", "true"}}) == version_id{2});
}

TEST_CASE("equal_priority_prefers_the_rule_with_more_labels") {
  std::vector<release_rule> rules{rule({}, 1), rule({{"zone", "eu"}}, 2),
                                  rule({{"zone", "eu"}, {"canary", "true"}}, 3)};
  CHECK(pick(rules, {{"zone", "eu"}, {"canary", "true"}}) == version_id{3});
  CHECK(pick(rules, {{"zone", "eu"}}) == version_id{2});
  CHECK(pick(rules, {{"zone", "us"}}) == version_id{1});
}

TEST_CASE("full_tie_goes_to_the_earlier_rule") {
  std::vector<release_rule> rules{rule({{"a", "1"}}, 1, 3), rule({{"b", "2"}}, 2, 3)};
  CHECK(pick(rules, {{"a", "1"}, {"b", "2"}}) == version_id{1});
  std::swap(rules[0], rules[1]);
  CHECK(pick(rules, {{"a", "1"}, {"b", "2"}}) == version_id{2});
}

TEST_CASE("resolution_matches_a_reference_on_generated_rule_sets") {
  // Reference: sort the matching rules by (priority desc, labels desc, index
  // asc) and take the first. Different formulation from the linear scan.
  std::mt19937 rng{4242};
  const std::vector<std::string> keys{"canary", "zone", "tier", "host"};
  const std::vector<std::string> vals{"a", "b", ""};
  auto random_labels = [&](int max) {
    labels l;
    int n = static_cast<int>(rng() % static_cast<unsigned>(max + 1));
    for (int i = 0; i < n; ++i)
      l[keys[rng() % keys.size()]] = vals[rng() % vals.size()];
    return l;
  };
  int published = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<release_rule> rules;
    int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i)
      rules.push_back(rule(random_labels(3), static_cast<version_id>(i + 1),
                           static_cast<std::int32_t>(rng() % 3) - 1));
    auto client = random_labels(4);

    std::vector<std::tuple<std::int32_t, std::size_t, std::size_t>> matching;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      bool all = std::all_of(rules[i].labels.begin(), rules[i].labels.end(), [&](auto& kv) {
        auto f = client.find(kv.first);
        return f != client.end() && f->second == kv.second;
      });
      if (all)
        matching.emplace_back(-rules[i].priority, rules.size() - rules[i].labels.size(), i);
    }
    std::sort(matching.begin(), matching.end());
    auto got = resolve_rule(rules, client);
    if (matching.empty()) {
      CHECK_FALSE(got.has_value());
    } else {
      REQUIRE(got.has_value());
      CHECK(*got == std::get<2>(matching.front()));
      ++published;
      // The winner matches the client.
      CHECK(rule_matches(rules[*got], client));
    }
  }
  // The generator must exercise both outcomes.
  CHECK(published > 1000);
  CHECK(published < 5000);
}
