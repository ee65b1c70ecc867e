#include "storage/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define CONFLUX_CRC32C_HW 1
#endif

namespace conflux::storage {

namespace {

// Reflected form of the Castagnoli polynomial 0x1EDC6F41.
constexpr std::uint32_t poly = 0x82F63B78u;

struct crc_tables {
  std::uint32_t t[8][256];
};

constexpr crc_tables make_tables() {
  crc_tables x{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c >> 1) ^ (poly & (0u - (c & 1u)));
    x.t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i)
    for (int s = 1; s < 8; ++s)
      x.t[s][i] = (x.t[s - 1][i] >> 8) ^ x.t[0][x.t[s - 1][i] & 0xffu];
  return x;
}

constexpr crc_tables tables = make_tables();

inline std::uint32_t load_le32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) |
         (static_cast<std::uint32_t>(p[3]) << 24);
}

// Works on the inverted register (the caller inverts before and after).
std::uint32_t raw_portable(std::uint32_t c, const unsigned char* p,
                           std::size_t n) noexcept {
  const auto& t = tables.t;
  while (n >= 8) {
    std::uint32_t lo = load_le32(p) ^ c;
    std::uint32_t hi = load_le32(p + 4);
    c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^
        t[4][lo >> 24] ^ t[3][hi & 0xffu] ^ t[2][(hi >> 8) & 0xffu] ^
        t[1][(hi >> 16) & 0xffu] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0)
    c = t[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
  return c;
}

#ifdef CONFLUX_CRC32C_HW
__attribute__((target("sse4.2"))) std::uint32_t
raw_hw(std::uint32_t c, const unsigned char* p, std::size_t n) noexcept {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8); // x86 is little-endian, as the CRC expects
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c64);
  while (n-- > 0)
    c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool have_hw() noexcept {
  static const bool yes = __builtin_cpu_supports("sse4.2") != 0;
  return yes;
}
#endif

} // namespace

std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data,
                                     std::size_t n) noexcept {
  return ~raw_portable(~crc, static_cast<const unsigned char*>(data), n);
}

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data,
                            std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
#ifdef CONFLUX_CRC32C_HW
  if (have_hw())
    return ~raw_hw(~crc, p, n);
#endif
  return ~raw_portable(~crc, p, n);
}

} // namespace conflux::storage
