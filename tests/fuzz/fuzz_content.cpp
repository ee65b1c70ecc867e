// libFuzzer target: the content validators (protocol/validation.hpp) a
// client's config content goes through before it is stored: JSON, YAML,
// TOML, properties and text, and a JSON Schema check. The first byte picks
// the format; the rest is the content.
#include "protocol/validation.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

constexpr std::string_view schema =
    R"({"type": "object", "properties": {"pool": {"type": "integer", "minimum": 1},)"
    R"( "name": {"type": "string", "maxLength": 8}}, "required": ["pool"]})";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conflux;
  if (size == 0)
    return 0;
  std::string_view content{reinterpret_cast<const char*>(data) + 1, size - 1};
  limits lim;
  auto f = static_cast<content_format>(1 + data[0] % 5);
  (void)validate_content(f, content, lim);
  if (f != content_format::text && f != content_format::properties)
    (void)validate_against_schema(schema, f, content, lim);
  if (data[0] % 7 == 0)
    (void)validate_schema_document(content, lim);
  return 0;
}
