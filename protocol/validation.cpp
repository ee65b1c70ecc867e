// Content validation: the size limit, then the validator of the declared
// format (protocol/validation_<format>.cpp), and the schema check of
// protocol/validation_schema.cpp on the documents a format yields. Keys,
// labels, rules and text fields are in protocol/validation_fields.cpp.

#include "protocol/validation.hpp"

#include "protocol/validation_formats.hpp"
#include "protocol/validation_schema.hpp"
#include "protocol/validation_support.hpp"

#include <exception>
#include <vector>

namespace conflux {

using detail::num;

namespace {

bool known_format(content_format f) {
  switch (f) {
  case content_format::json:
  case content_format::yaml:
  case content_format::toml:
  case content_format::properties:
  case content_format::text:
    return true;
  }
  return false;
}

status unknown_format(content_format f) {
  return {errc::invalid_argument,
          "unknown content format " + num(static_cast<std::size_t>(f)) +
              "; use one of json, yaml, toml, properties, text"};
}

// "4 MiB (4194304 bytes)", "1000 bytes".
std::string size_text(std::size_t bytes) {
  constexpr std::size_t kib = 1024;
  constexpr std::size_t mib = 1024 * kib;
  if (bytes >= mib && bytes % mib == 0)
    return num(bytes / mib) + " MiB (" + num(bytes) + " bytes)";
  if (bytes >= kib && bytes % kib == 0)
    return num(bytes / kib) + " KiB (" + num(bytes) + " bytes)";
  return num(bytes) + " bytes";
}

// The documents of `content` as JSON trees, for a schema check.
// REQUIRES: f is json, yaml or toml.
status documents_of(content_format f, std::string_view content, const limits& lim,
                    std::vector<detail::json>& docs) {
  switch (f) {
  case content_format::json:
    return detail::json_documents(content, lim, docs);
  case content_format::yaml:
    return detail::yaml_documents(content, lim, docs);
  case content_format::toml:
    return detail::toml_documents(content, lim, docs);
  case content_format::properties:
  case content_format::text:
    break;
  }
  return unknown_format(f);
}

} // namespace

status validate_content(content_format f, std::string_view content, const limits& lim) {
  if (!known_format(f))
    return unknown_format(f);
  if (content.size() > lim.max_content_bytes) {
    // Every node checks the limit when it applies the command: it is one
    // value for the whole cluster, fixed in the code, not a node setting.
    return {errc::too_large, "content is " + num(content.size()) +
                                 " bytes; the limit is " +
                                 size_text(lim.max_content_bytes) +
                                 ", fixed for every cluster; split it into smaller "
                                 "configs, or keep large files elsewhere and store a "
                                 "reference to them"};
  }
  switch (f) {
  case content_format::json:
    return detail::check_json(content, lim);
  case content_format::yaml:
    return detail::check_yaml(content, lim);
  case content_format::toml:
    return detail::check_toml(content, lim);
  case content_format::properties:
    return detail::check_properties(content);
  case content_format::text:
    // Text is free: Conflux never interprets it, so any bytes are accepted
    // (not even UTF-8 is required); only the size limit applies.
    return {};
  }
  return unknown_format(f);
}

status validate_against_schema(std::string_view schema_json, content_format f,
                               std::string_view content) {
  return validate_against_schema(schema_json, f, content, limits{});
}

status validate_against_schema(std::string_view schema_json, content_format f,
                               std::string_view content, const limits& lim) {
  if (!known_format(f))
    return unknown_format(f);
  if (f == content_format::properties || f == content_format::text) {
    return {errc::invalid_argument,
            std::string{"schemas apply to json, yaml and toml, not to "} +
                detail::format_title(f) +
                " content; drop the schema or store the config as json, yaml or toml"};
  }
  auto schema = detail::json_schema::compile(schema_json, lim);
  if (!schema)
    return schema.err();
  try {
    std::vector<detail::json> docs;
    if (auto st = documents_of(f, content, lim, docs); !st)
      return st;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      std::string label = docs.size() > 1 ? " (YAML document " + num(i + 1) + ")" : "";
      if (auto st = schema->check(docs[i], label, lim); !st)
        return st;
    }
    return {};
  } catch (const std::exception& ex) {
    return {errc::schema_violation,
            "content could not be checked against the schema: " +
                detail::library_reason(ex.what()) +
                "; change the content or the schema"};
  } catch (...) {
    return {errc::schema_violation, "content could not be checked against the schema; "
                                    "change the content or the schema"};
  }
}

} // namespace conflux
