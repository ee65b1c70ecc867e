#pragma once
// Fixed-width integer encodings used by every storage record. Keys are
// big-endian so that LMDB's byte order (memcmp) is numeric order; values are
// little-endian. Both are spelled out byte by byte so the on-disk format does
// not depend on the host. Header-only, no state.

#include <cstddef>
#include <cstdint>
#include <string>

namespace conflux::storage {

inline void put_u64_be(char* out, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xffu);
    v >>= 8;
  }
}

inline std::uint64_t get_u64_be(const char* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline void put_u64_le(char* out, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(v & 0xffu);
    v >>= 8;
  }
}

inline std::uint64_t get_u64_le(const char* in) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline void put_u32_le(char* out, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<char>(v & 0xffu);
    v >>= 8;
  }
}

inline std::uint32_t get_u32_le(const char* in) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

/// An 8-byte big-endian key.
inline std::string u64_be(std::uint64_t v) {
  std::string s(8, '\0');
  put_u64_be(s.data(), v);
  return s;
}

/// An 8-byte little-endian value.
inline std::string u64_le(std::uint64_t v) {
  std::string s(8, '\0');
  put_u64_le(s.data(), v);
  return s;
}

} // namespace conflux::storage
