#pragma once
// Input validation for every boundary (protocol/PROTOCOL.md, Validation): key syntax,
// labels, release rules, free-text fields, content per format, and the optional JSON
// Schema of a config.
//
// These functions also run inside the replicated state machine on every node,
// so each one is a pure function of its arguments: no locale, no clock, no
// global state, and the same verdict on every node for the same bytes. None of
// them throws; every failure is a `status` carrying one `errc` and a sentence
// that says what was wrong and what to do about it:
//   invalid_argument  key, prefix, label, rule or field problems, a schema that
//                     is not usable, an unknown format;
//   too_large         any size, count or depth limit;
//   invalid_content   content that does not parse for its declared format;
//   schema_violation  content that parses but breaks the config's schema.
//
// Parsing is defensive against hostile input: nesting deeper than
// `limits::max_nesting_depth` is refused before any recursive code sees it, and
// YAML anchors and aliases may stand for at most
// `limits::max_alias_expansion_nodes` nodes ("billion laughs"), with or without
// a schema.
//
// One file per concern: validation_fields.cpp (keys, prefixes, labels, rules,
// text fields), validation.cpp (content: the dispatcher), validation_json,
// _yaml, _toml, _properties and _schema (valijson).

#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <cstddef>
#include <string_view>
#include <vector>

namespace conflux {

/// Size limits of the data model. Every node checks them when it applies a
/// command, so they are one set of values for the whole cluster, fixed in the
/// code; no node setting changes them, because nodes with different values
/// could disagree on what was accepted. Tests construct smaller ones.
struct limits {
  /// A config's content: room for any configuration file, and small enough
  /// that every Raft entry, snapshot chunk and watch event stays cheap.
  std::size_t max_content_bytes = 4 * 1024 * 1024;
  /// Each key segment (docs/design.md, Data model).
  std::size_t max_segment_chars = 128;
  /// A whole key. Keys are LMDB keys of the state store, and Debian's LMDB
  /// accepts at most 511 bytes, less than 4 full segments and 3 slashes.
  std::size_t max_key_bytes = 511;
  /// Labels per client or per rule.
  std::size_t max_labels = 32;
  std::size_t max_label_key_chars = 63;
  /// Counted in Unicode code points, so at most 4x this in bytes.
  std::size_t max_label_value_chars = 255;
  /// Rules per config.
  std::size_t max_rules = 256;
  /// Description, creator, comment.
  std::size_t max_description_bytes = 4096;
  std::size_t max_schema_bytes = 256 * 1024;
  /// Arrays/objects/tables nested deeper than this are refused: the parsers
  /// and valijson recurse per level and must not exhaust the stack.
  std::size_t max_nesting_depth = 256;
  /// How many nodes the anchors and aliases of one YAML stream may stand for
  /// (each alias counts the nodes it repeats, each anchor the nodes it
  /// names). yaml-cpp shares aliased nodes, so parsing stays linear, but
  /// every client that loads the document into plain values expands them: a
  /// few hundred bytes of nested aliases ("billion laughs") expand to
  /// hundreds of millions of nodes. Checked with or without a schema.
  std::size_t max_alias_expansion_nodes = 1'000'000;
  /// valijson compiles a schema recursively, following each $ref as it goes:
  /// the longest chain of subschemas (with $refs followed, loops counted once
  /// per member) may be at most this long.
  std::size_t max_schema_chain = 1024;
  /// valijson checks a document recursively: roughly (document depth + 1) x
  /// (longest chain of subschemas applied to one value + 1) frames. A check
  /// that could need more than this many is refused before it starts.
  std::size_t max_schema_check_steps = 4096;
};

/// Whether a release rule may carry version id 0. Only `publish` allows it,
/// where 0 stands for the version the same command creates (commands.hpp).
enum class rule_version_zero : bool { invalid, means_new_version };

/// tenant/app/env/name: 4 segments of 1..max_segment_chars of [A-Za-z0-9._-].
/// "." and ".." are refused as segments because keys double as path-like
/// names (watch prefixes, files written by the CLI).
status validate_key(std::string_view key);
status validate_key(std::string_view key, const limits& lim);

/// A listing/watch prefix: "" or 1 to 4 whole segments of a valid key, with
/// a '/' allowed after 1 to 3 of them. Prefixes match whole segments (see
/// list_configs in state_machine.hpp), so every segment follows the segment
/// rules, "." and ".." included.
status validate_key_prefix(std::string_view prefix);
status validate_key_prefix(std::string_view prefix, const limits& lim);

/// At most max_labels labels. Keys: 1..max_label_key_chars of
/// [A-Za-z0-9._/-] (room for "team.example/tier"-style names). Values: may
/// be empty (a present-but-empty label is still matched exactly), at most
/// max_label_value_chars code points of valid UTF-8 without control
/// characters.
status validate_labels(const labels& l, const limits& lim);

/// At most max_rules rules; every rule's labels valid; version id not 0
/// (unless `zero` says it means the new version); no two rules with the same
/// label set and the same priority (the later one could never win, docs/design.md, Data
/// model).
status validate_rules(const std::vector<release_rule>& rules, const limits& lim);
status validate_rules(const std::vector<release_rule>& rules, const limits& lim,
                      rule_version_zero zero);

/// Free text such as a description, creator or comment: at most `max` bytes of
/// valid UTF-8; tab, LF and CR are allowed, other control characters are not.
/// `what` names the field in the message ("description").
status validate_text_field(std::string_view what, std::string_view value,
                           std::size_t max);

/// The size limit first (cheap), then the document must parse for `f`:
/// json (nlohmann; duplicate object names refused, RFC 8259 leaves their
/// meaning open), yaml (yaml-cpp, all documents of a stream; only UTF-8 of
/// YAML's printable characters, so no NUL; duplicate mapping keys refused as
/// the YAML spec demands; anchors and aliases bounded by
/// max_alias_expansion_nodes), toml (toml11, UTF-8), properties (a strict parser
/// of the java.util.Properties format, no NUL). text is free: any bytes at
/// all, only the size limit applies, because Conflux never interprets it.
///
/// An empty document is valid exactly when its format's specification says
/// so: empty (or only blanks and comments) YAML, TOML and properties are valid
/// (no documents, an empty table, no properties); empty JSON is not. A schema
/// is how a config requires content (validate_against_schema).
status validate_content(content_format f, std::string_view content, const limits& lim);

/// The schema itself: at most max_schema_bytes, JSON, and a JSON Schema
/// (draft 7) that valijson can compile. Only local "$ref"s ("#" or "#/...")
/// are allowed and "$id" only at the top: the state machine must not fetch
/// anything. A schema whose $refs loop without descending into the document
/// ({"$ref": "#"}, {"allOf": [{"$ref": "#"}]}) is refused, because valijson
/// would recurse forever on it and take the node down. "pattern" and
/// "patternProperties" are refused for now: valijson 1.0 runs them on
/// std::regex, whose backtracking matcher recurses once per character and can
/// take exponential time, so one schema could stop every node on every replay
/// of the log. With a "format" of date, time or date-time (also std::regex),
/// content strings are limited to 8192 bytes.
status validate_schema_document(std::string_view schema_json, const limits& lim);

/// Checks content against a schema. JSON content is checked directly; YAML and
/// TOML are converted to a JSON tree first (YAML: every document of a stream
/// is checked, and a stream without documents is checked as null, which is
/// what YAML loaders return for it; TOML dates and times become their RFC 3339
/// text, and an empty TOML document is an empty table). A schema for
/// properties or text is invalid_argument. A schema or content that does not
/// parse gives the same error as validate_schema_document / validate_content.
/// The content size limit is not applied here: call validate_content first.
status validate_against_schema(std::string_view schema_json, content_format f,
                               std::string_view content);
status validate_against_schema(std::string_view schema_json, content_format f,
                               std::string_view content, const limits& lim);

} // namespace conflux
