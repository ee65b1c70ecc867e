#pragma once
// The pure pieces of the `conflux` CLI (docs/cli.md): parsing of --label,
// --rule, RULES.json and --endpoints, the errc -> exit code table, and the
// JSON / text rendering of configs, versions and rules. Nothing here talks to
// a cluster, so all of it is unit-tested (tests/apps/cli_support_test.cpp).

#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::cli {

// -- exit codes ------------------------------------------------------------------

/// The process exit codes of `conflux` (docs/cli.md, Errors and exit codes).
enum exit_code : int {
  exit_ok = 0,
  /// Anything not covered below (storage failure, corruption, a session
  /// problem, an internal error, a command not implemented in this build).
  exit_other = 1,
  /// Bad input: CLI usage, local checks (file, --label, --rule, RULES.json,
  /// --format, key syntax), invalid_argument, invalid_content,
  /// schema_violation, too_large.
  exit_bad_input = 2,
  /// not_found, not_published.
  exit_not_found = 3,
  /// A precondition failed: revision_mismatch, version_in_use, already_exists.
  exit_precondition = 4,
  /// The cluster could not answer: not_leader, no_quorum, timeout,
  /// unavailable, resource_exhausted (a capacity limit; retry later).
  exit_unavailable = 5,
  /// The caller may not do this: permission_denied.
  exit_denied = 6,
  /// No valid token (none given, unknown, revoked or expired): unauthenticated.
  exit_unauthenticated = 7,
};

/// The exit code `conflux` ends with when a command fails with `code`.
int exit_code_for(errc code) noexcept;

/// What to do about an error of this code, when the server's message cannot
/// know it (the cluster could not be reached, the outcome is unknown). Empty
/// when the message already says it. `endpoints` is the --endpoints value.
std::string hint_for(errc code, std::string_view endpoints);

/// What to add to an unauthenticated answer (whose message says why the
/// token was refused): which token to give when none was (`token_file`
/// empty), else where the refused one came from.
std::string token_hint(std::string_view token_file);

/// The one stderr line of a failed command, without the trailing newline:
/// "conflux: <message>[; <hint>]" (as printable_text shows it; line breaks
/// become spaces), or with `json` a one-line JSON object
/// {"error": "<code name>", "message": "...", "exit_code": N}.
/// `code_name` is to_string(errc) or "not_implemented".
std::string error_line(std::string_view code_name, std::string_view message,
                       std::string_view hint, int exit, bool json);

// -- local input checks ---------------------------------------------------------
// Each returns invalid_argument with a sentence that says what is wrong and
// how to write it instead. They run before the cluster is contacted.

/// `K=V` (split at the first '='; V may be empty; K may not). Only the form is
/// checked here; parse_labels checks the characters.
expected<std::pair<std::string, std::string>> parse_label(std::string_view text);

/// Every `--label K=V`: each well formed, no key given twice, and the label
/// syntax of validate_labels (protocol/PROTOCOL.md, Validation). Size limits are left
/// to the cluster, whose limits a deployment may have raised.
expected<labels> parse_labels(const std::vector<std::string>& texts);

/// A `--rule SPEC`: `LABELS:VERSION[:PRIORITY]`, where LABELS is `*` (the
/// default rule, no labels) or `K=V[,K=V...]`, VERSION a version id >= 1 and
/// PRIORITY a signed 32-bit integer (default 0). Label values cannot contain
/// ':' or ','; use a RULES.json file for those.
expected<release_rule> parse_rule_spec(std::string_view spec);

/// Every `--rule` in order; the whole list must pass validate_rules (no two
/// rules with the same labels and priority; size limits left to the cluster).
expected<std::vector<release_rule>> parse_rule_specs(const std::vector<std::string>& specs);

/// RULES.json: `[{"labels": {"canary": "true"}, "version_id": 3, "priority": 10}, ...]`.
/// `labels` is optional (absent or {} = default rule), `priority` optional
/// (0), `version_id` required (>= 1). Unknown fields, duplicate names, wrong
/// types and trailing garbage are refused. An empty array is allowed: it
/// unpublishes the config for every client.
expected<std::vector<release_rule>> parse_rules_json(std::string_view text);

/// `HOST:PORT[,HOST:PORT...]` (spaces around entries ignored). Each entry
/// needs a non-empty host and a port 1-65535; IPv6 hosts go in brackets
/// ("[::1]:7101").
expected<std::vector<std::string>> parse_endpoints(std::string_view text);

/// A version id or revision as given on the command line: decimal digits
/// only, at least 1, fits 64 bits ("-1", "0x10", "1e3", " 7" are refused).
/// `what` names the argument in the message ("ID", "--if-revision").
expected<std::uint64_t> parse_positive_number(std::string_view what, std::string_view text);
/// A number of events (watch --count): decimal digits, at least 1.
expected<std::uint64_t> parse_event_count(std::string_view what, std::string_view text);
/// A Raft server id (cluster add / remove / transfer-leader): 1 up.
expected<std::uint64_t> parse_node_id(std::string_view text);

/// A key, checked with conflux::validate_key (the message says what to fix).
status check_key(std::string_view key);

/// A `config list` prefix, checked with conflux::validate_key_prefix.
status check_prefix(std::string_view prefix);

/// A free-text field (description, comment): valid UTF-8 without control
/// characters other than tab/LF/CR. Sizes are left to the cluster.
status check_text(std::string_view what, std::string_view value);

/// What `config create` can check before sending: the content parses for its
/// format, the schema (if any) is a usable JSON Schema and the content
/// satisfies it. too_large verdicts are left to the cluster, whose limits a
/// deployment may have raised.
status check_new_config(content_format f, std::string_view content,
                        const std::optional<std::string>& schema);

/// A --format name: json, yaml, toml, properties or text.
expected<content_format> parse_format(std::string_view name);

/// The bytes of a file, exactly; "-" reads standard input. `what` names the
/// option in the message ("--file").
expected<std::string> read_input_file(std::string_view what, const std::string& path);

/// Whether `s` is valid UTF-8 (JSON strings must be).
bool is_valid_utf8(std::string_view s) noexcept;

/// The length of the UTF-8 character starting at s[i] (1 to 4), or 0 when
/// the bytes there are not one. REQUIRES: i < s.size().
std::size_t utf8_char_length(std::string_view s, std::size_t i) noexcept;

/// `s` as a terminal should show it: UTF-8 characters as they are ("dé"
/// stays "dé"), every byte that is not part of one and every control
/// character but tab as \xNN.
std::string printable_text(std::string_view s);

/// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);

// -- rendering ---------------------------------------------------------------------

/// Milliseconds since the epoch as UTC ISO 8601: "2024-05-01T12:00:00Z", or
/// with millis "2024-05-01T12:00:00.123Z". 0 renders as "-".
std::string format_time(std::int64_t ms, bool millis = false);

/// "canary=true,region=eu" in key order; "*" for no labels.
std::string format_labels(const labels& l);

/// A rule as its --rule SPEC: "canary=true:3:10", "*:2" (priority 0 omitted).
std::string format_rule_spec(const release_rule& r);

/// The first n characters of a hash.
std::string hash_prefix(std::string_view hash, std::size_t n = 12);

/// Left-aligned columns separated by two spaces, one row per line (each line
/// ends with '\n'; trailing spaces trimmed). The first row is the header.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

/// {"labels": {...}, "version_id": N, "priority": P}: the RULES.json form, so
/// `release show --json | jq .rules` can be fed back to `release set`.
nlohmann::json rule_to_json(const release_rule& r);
nlohmann::json rules_to_json(const std::vector<release_rule>& rules);

/// Every field of a config, the schema as text (or null), the rules as
/// rules_to_json, times as ISO 8601 and as *_ms.
nlohmann::json config_to_json(const config& c);

/// A version's metadata; with_content adds the content: "content" as a string
/// when it is valid UTF-8, otherwise "content_base64".
nlohmann::json version_to_json(const std::string& key, const version& v,
                               bool with_content);

/// Sets "content" or "content_base64" in `obj`.
void put_content(nlohmann::json& obj, const std::string& content);

/// 0-based indices of the rules that point at version `id`.
std::vector<std::size_t> rules_pointing_at(const std::vector<release_rule>& rules,
                                           version_id id);

/// One-line JSON that never throws on bad UTF-8 (it is replaced by U+FFFD).
std::string dump_json(const nlohmann::json& j);

} // namespace conflux::cli
