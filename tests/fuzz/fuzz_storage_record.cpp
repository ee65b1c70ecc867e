// libFuzzer target: a value as a node reads it from its LMDB databases at
// open and on every read (storage/record.hpp unframe_value, then the record
// codec). The first byte is the key's length k (mod 32) and picks the record
// kind; the next k bytes are the key, the rest the framed value.
#include "protocol/codec.hpp"
#include "storage/record.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conflux;
  if (size == 0)
    return 0;
  std::size_t k = data[0] % 32;
  if (size < 1 + k)
    return 0;
  std::string_view key{reinterpret_cast<const char*>(data) + 1, k};
  std::string_view value{reinterpret_cast<const char*>(data) + 1 + k, size - 1 - k};
  auto payload = storage::unframe_value(key, value, "fuzz");
  if (!payload.ok())
    return 0;
  switch (data[0] / 32 % 4) {
  case 0:
    (void)codec::decode_config(*payload);
    break;
  case 1:
    (void)codec::decode_version(*payload);
    break;
  case 2:
    (void)codec::decode_session(*payload);
    break;
  default:
    (void)codec::decode_principal(*payload);
    break;
  }
  return 0;
}
