#pragma once
// SHA-256 of version content (OpenSSL), as lowercase hex. Computed when a
// version is written and checked on every read (docs/design.md, durability rule 6).

#include <string>
#include <string_view>

namespace conflux {

/// 64 lowercase hex characters.
std::string sha256_hex(std::string_view data);

/// The 32 raw bytes of the digest.
std::string sha256_bytes(std::string_view data);

} // namespace conflux
