#pragma once
// The validator of each content format, one file each
// (protocol/validation_<format>.cpp), behind the dispatcher in
// protocol/validation.cpp. Internal to conflux_protocol; the public API is
// protocol/validation.hpp.
//
// check_<format> is validate_content for one format without the size limit;
// <format>_documents also hands back the documents a schema checks, as JSON
// trees, and fails the same way check_<format> does.

#include "protocol/error.hpp"
#include "protocol/validation.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::detail {

using json = nlohmann::json;

// --- JSON (nlohmann/json) -------------------------------------------------------

/// What is wrong with a JSON text, without naming the subject ("content",
/// "schema"), so that content and schemas share the parser.
struct json_failure {
  errc code; // too_large (nesting) or invalid_content
  std::string detail;
};

/// Checks a JSON text: nesting within lim.max_nesting_depth (checked before
/// any recursive parser sees it), valid JSON, no name twice in one object
/// (RFC 8259 leaves their meaning open). With `out`, also parses it.
std::optional<json_failure> parse_json(std::string_view text, const limits& lim,
                                       json* out);

status check_json(std::string_view content, const limits& lim);
/// The content as the one document it is.
status json_documents(std::string_view content, const limits& lim,
                      std::vector<json>& docs);

/// Escapes one JSON pointer token (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string pointer_escape(std::string_view token);

// --- YAML (yaml-cpp, every document of a stream) ---------------------------------

/// Refuses, in this order: bytes YAML text cannot hold (invalid UTF-8, NUL
/// and the other characters outside YAML 1.2's printable set, named by byte
/// offset), then anything yaml-cpp cannot parse, nesting deeper than
/// lim.max_nesting_depth, duplicate mapping keys, and anchors and aliases
/// that stand for more than lim.max_alias_expansion_nodes nodes.
status check_yaml(std::string_view content, const limits& lim);
/// Every document of the stream as a JSON tree (YAML 1.2 core schema for
/// plain scalars). A stream without documents (empty, or only comments) is
/// one null document, which is what YAML loaders return for it.
status yaml_documents(std::string_view content, const limits& lim,
                      std::vector<json>& docs);

// --- TOML (toml11) ---------------------------------------------------------------

/// Refuses nesting deeper than lim.max_nesting_depth (estimated by a scan
/// before toml11, which recurses per level, sees the text), bytes that are not
/// UTF-8 (TOML 1.0 requires it, and toml11 3.7 misreads them), and anything
/// toml11 cannot parse.
status check_toml(std::string_view content, const limits& lim);
/// The document as one JSON tree; dates and times become their RFC 3339 text.
status toml_documents(std::string_view content, const limits& lim,
                      std::vector<json>& docs);

// --- Java properties -------------------------------------------------------------

/// The java.util.Properties text format (Properties.load(Reader)): natural
/// lines end at \n, \r or \r\n; a line whose first non-blank character is #
/// or ! is a comment; a line ending in an odd number of backslashes continues
/// on the next one (whose leading blanks are dropped); a backslash escapes the
/// next character, \t \n \r \f and \uXXXX have their usual meaning. Java
/// accepts any other text, so the only errors are a \u without four hex
/// digits (Java throws "Malformed \uxxxx encoding") and NUL, raw or as
/// \u0000, which we refuse because C consumers would cut the text at it.
/// Bytes are not required to be UTF-8: ISO 8859-1 files are still common and
/// Java reads both. Properties have no schema, so no documents either.
status check_properties(std::string_view content);

} // namespace conflux::detail
