#include "protocol/sha256.hpp"

#include <openssl/evp.h>

#include <cstdlib>

namespace conflux {

std::string sha256_bytes(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure inside OpenSSL; there is no
  // sensible way to continue without a hash, so treat it like running out of memory.
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    std::abort();
  return std::string{reinterpret_cast<const char*>(digest), len};
}

std::string sha256_hex(std::string_view data) {
  auto digest = sha256_bytes(data);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(digest.size() * 2, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    auto b = static_cast<unsigned char>(digest[i]);
    out[2 * i] = hex[b >> 4];
    out[2 * i + 1] = hex[b & 0xf];
  }
  return out;
}

} // namespace conflux
