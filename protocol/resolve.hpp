#pragma once
// Release resolution (docs/design.md, Data model): which rule, and so which version, a
// client with a given set of labels gets.

#include <cstddef>
#include <optional>
#include <vector>

#include "protocol/model.hpp"

namespace conflux {

/// True if every label of the rule is present in `client` with the same value.
/// A rule with no labels (the default rule) matches every client.
bool rule_matches(const release_rule& rule, const labels& client);

/// The index in `rules` of the rule that serves `client`: among the matching
/// rules the highest priority wins; equal priority goes to the rule with more
/// labels (the more specific one), then to the earlier rule. nullopt if no
/// rule matches: the config is "not published" for this client.
std::optional<std::size_t> resolve_rule(const std::vector<release_rule>& rules,
                                        const labels& client);

} // namespace conflux
