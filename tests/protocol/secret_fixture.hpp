#pragma once
// Keys and random bytes for tests of secret content (protocol/secret_box.hpp):
// fixed key-encryption keys and seeded "random" bytes, so runs repeat. Shared
// by tests/protocol and tests/actors.

#include "protocol/secret_box.hpp"

#include <memory>
#include <random>
#include <string>

namespace conflux::test_secret {

/// A KEK named `id` whose bytes are fill, fill+1, ... (tests only).
inline secret::kek make_kek(std::string id, unsigned char fill) {
  secret::kek k;
  k.id = std::move(id);
  for (std::size_t i = 0; i < k.key.size(); ++i)
    k.key[i] = static_cast<unsigned char>(fill + i);
  return k;
}

/// Seeded bytes: tests are repeatable, and two seals still differ.
inline secret::random_source seeded(std::uint32_t seed) {
  auto gen = std::make_shared<std::mt19937>(seed);
  return [gen](unsigned char* out, std::size_t n) -> status {
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<unsigned char>((*gen)() & 0xff);
    return {};
  };
}

} // namespace conflux::test_secret
