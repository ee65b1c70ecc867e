// libFuzzer target: Raft command entries (protocol/codec.hpp decode_command),
// the bytes every node applies from its log.
#include "protocol/codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conflux;
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  fuzz::round_trip(
      bytes, [](std::string_view b) { return codec::decode_command(b); },
      [](const command_envelope& e) { return codec::encode(e); }, "command round trip");
  return 0;
}
