#pragma once
// CRC32C (Castagnoli, the iSCSI polynomial), the checksum of every storage
// record (storage/FORMAT.md). Chosen over SHA-256 because it detects the
// errors we care about (torn or flipped bytes) at memory speed and needs no
// library; it is not a defence against a deliberate forger. Uses the SSE4.2
// instruction when the CPU has it, a slicing-by-8 table otherwise; both give
// identical results. Pure functions, safe from any thread.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace conflux::storage {

/// CRC32C of `data` appended to a stream whose CRC so far is `crc`
/// (0 for an empty stream): crc32c_extend(crc32c(a), b) == crc32c(a + b).
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data,
                            std::size_t n) noexcept;

inline std::uint32_t crc32c(std::string_view data) noexcept {
  return crc32c_extend(0, data.data(), data.size());
}

/// The table-driven implementation, exposed so tests can compare it with the
/// hardware path.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data,
                                     std::size_t n) noexcept;

} // namespace conflux::storage
