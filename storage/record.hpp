#pragma once
// The checksummed frame every value in every storage database is stored in
// (storage/FORMAT.md "Value frame"):
//
//   offset 0  u32 LE   CRC32C over (key bytes || payload bytes)
//   offset 4  ...      payload
//
// Covering the key too means a record that ends up under the wrong key (a
// misdirected write, a damaged branch page) fails its check like a flipped
// byte does. Pure functions, safe from any thread.

#include "protocol/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace conflux::storage {

constexpr std::size_t frame_header_size = 4;

/// Writes the frame of `payload` under `key` into `out` (replacing its
/// contents; `out` is reused to avoid an allocation per record).
void frame_value(std::string_view key, std::string_view payload, std::string& out);

inline std::string frame_value(std::string_view key, std::string_view payload) {
  std::string out;
  frame_value(key, payload, out);
  return out;
}

/// The payload of a framed value, or errc::corrupted naming `where` (the
/// database and key, e.g. "log entry 42 in /data/log") when the value is too
/// short or its checksum does not match.
expected<std::string_view> unframe_value(std::string_view key, std::string_view value,
                                         const std::string& where);

} // namespace conflux::storage
