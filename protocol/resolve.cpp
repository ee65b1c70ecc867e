#include "protocol/resolve.hpp"

namespace conflux {

bool rule_matches(const release_rule& rule, const labels& client) {
  // Both maps are ordered: one merge pass instead of a lookup per label.
  auto c = client.begin();
  for (auto& [k, v] : rule.labels) {
    while (c != client.end() && c->first < k)
      ++c;
    if (c == client.end() || c->first != k || c->second != v)
      return false;
    ++c;
  }
  return true;
}

std::optional<std::size_t> resolve_rule(const std::vector<release_rule>& rules,
                                        const labels& client) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    auto& r = rules[i];
    if (!rule_matches(r, client))
      continue;
    if (!best) {
      best = i;
      continue;
    }
    auto& b = rules[*best];
    // Strictly better only: on a full tie the earlier rule keeps the place.
    if (r.priority > b.priority ||
        (r.priority == b.priority && r.labels.size() > b.labels.size()))
      best = i;
  }
  return best;
}

} // namespace conflux
