#include "protocol/model.hpp"

namespace conflux {

const char* to_string(content_format f) noexcept {
  switch (f) {
    case content_format::json: return "json";
    case content_format::yaml: return "yaml";
    case content_format::toml: return "toml";
    case content_format::properties: return "properties";
    case content_format::text: return "text";
  }
  return "unknown";
}

std::optional<content_format> parse_content_format(const std::string& name) noexcept {
  for (auto f : {content_format::json, content_format::yaml, content_format::toml,
                 content_format::properties, content_format::text})
    if (name == to_string(f))
      return f;
  return std::nullopt;
}

} // namespace conflux
