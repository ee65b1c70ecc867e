// The release-rules file format: a JSON array of rules, as `conflux release
// set --rules-file` reads it and `conflux release show --json` writes its
// `rules`. Pure: no CAF, no clock, no I/O; fuzzed (tests/fuzz/fuzz_rules_file).
#pragma once

#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace conflux {

/// `[{"labels": {"canary": "true"}, "version_id": 3, "priority": 10}, ...]`.
/// `labels` is optional (absent, null or {} = default rule), `priority`
/// optional (0), `version_id` required (>= 1). Unknown fields, duplicate
/// names, wrong types and trailing garbage are refused with invalid_argument
/// and a message that says what to fix. An empty array is allowed: it
/// unpublishes the config for every client. Size limits are the cluster's.
expected<std::vector<release_rule>> parse_rules_file(std::string_view text);

/// The same format written back: what parse_rules_file reads as `rules`.
/// The rules must have passed check_rules_syntax (labels valid UTF-8).
std::string format_rules_file(const std::vector<release_rule>& rules);

/// The syntax of each label (characters, UTF-8), one label at a time so that
/// every label is checked; too_large is left to the cluster's limits.
status check_label_syntax(const labels& l);

/// validate_rules without its size limits: the labels' syntax, version 0 and
/// duplicate (labels, priority) pairs.
status check_rules_syntax(const std::vector<release_rule>& rules);

} // namespace conflux
