// libFuzzer target: Raft messages between nodes (protocol/raft/wire.hpp), the
// bytes a peer (or anyone who reaches the port with a node's certificate)
// sends in a peer_batch.
#include "protocol/raft/wire.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conflux;
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  fuzz::round_trip(
      bytes, [](std::string_view b) { return raft::decode_message(b); },
      [](const raft::message& m) { return raft::encode_message(m); },
      "raft message round trip");
  return 0;
}
