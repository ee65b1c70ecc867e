// libFuzzer target: the release-rules file (protocol/rules_file.hpp), which
// `conflux release set --rules-file` reads from the operator's disk. What it
// accepts must write back (format_rules_file) to text that parses to the
// same rules.
#include "protocol/rules_file.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conflux;
  std::string_view text{reinterpret_cast<const char*>(data), size};
  fuzz::round_trip(
      text, [](std::string_view t) { return parse_rules_file(t); },
      [](const std::vector<release_rule>& r) { return format_rules_file(r); },
      "rules file round trip");
  return 0;
}
