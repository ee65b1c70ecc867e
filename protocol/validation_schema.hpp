#pragma once
// JSON Schema documents (draft 7) and checks against them, on valijson.
// Internal to conflux_protocol; the public API is protocol/validation.hpp.

#include "protocol/error.hpp"
#include "protocol/validation.hpp"
#include "protocol/validation_formats.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace conflux::detail {

/// A schema that passed every guard of validate_schema_document and that
/// valijson compiled.
class json_schema {
public:
  /// Parses and compiles `text` (its size is the caller's concern). A schema
  /// that is not usable is invalid_argument, one over a limit too_large.
  static expected<json_schema> compile(std::string_view text, const limits& lim);

  json_schema(json_schema&&) noexcept;
  json_schema& operator=(json_schema&&) noexcept;
  ~json_schema();

  /// Checks one document: schema_violation with the JSON pointer of the
  /// culprit, or too_large when the check could exhaust the stack. `label`
  /// follows "content" in messages (" (YAML document 2)").
  status check(const json& doc, const std::string& label, const limits& lim) const;

private:
  struct compiled;
  explicit json_schema(std::unique_ptr<compiled> c);
  std::unique_ptr<compiled> compiled_;
};

} // namespace conflux::detail
