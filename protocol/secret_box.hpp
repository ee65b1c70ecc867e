#pragma once
// Envelope encryption of secret config content (docs/security.md, "Secret
// configs"). Each sealed blob has its own random 256-bit data key; the
// content is encrypted under it with AES-256-GCM, and the data key is itself
// encrypted ("wrapped") under a key-encryption key (KEK) that never leaves
// the node's key file. The blob names the KEK's id, so keys can rotate:
// rewrap() replaces the wrapped data key and leaves the content ciphertext
// untouched.
//
// Pure functions: keys and random bytes come from the caller (the node reads
// its KEK file and draws from OpenSSL's RAND_bytes; tests pass fixed bytes).
//
// Sealed blob, format version 1 (all lengths fixed except the id):
//
//   offset      size    field
//   0           4       magic "CFXS"
//   4           1       format version, 1
//   5           1       KEK id length k (1..64)
//   6           k       KEK id (ASCII, [A-Za-z0-9._-])
//   6+k         12      nonce of the data key wrap
//   18+k        48      wrapped data key: 32 bytes ciphertext + 16 bytes GCM tag
//   66+k        12      nonce of the content
//   78+k        n+16    content ciphertext (n bytes) + 16 bytes GCM tag
//
// The wrap is authenticated with the bytes 0..6+k (magic, version, KEK id)
// as associated data, so a blob relabelled with another key id fails; the
// content is authenticated with the caller's context (e.g. the config key),
// so a blob moved to another config fails too.

#include "protocol/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace conflux::secret {

constexpr std::size_t key_size = 32;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::size_t max_key_id_size = 64;
constexpr std::uint8_t blob_format_version = 1;

/// A key-encryption key: 32 secret bytes and the id blobs name it by.
struct kek {
  std::string id;
  std::array<unsigned char, key_size> key{};
};

/// Fills `out` with `n` cryptographically random bytes, or fails.
using random_source = std::function<status(unsigned char* out, std::size_t n)>;

/// Finds the KEK with `id`, or nullptr.
using kek_lookup = std::function<const kek*(std::string_view id)>;

/// Whether `id` may name a KEK: 1..64 characters of [A-Za-z0-9._-].
bool valid_key_id(std::string_view id);

/// Encrypts `plaintext` under a fresh data key wrapped by `k`; `context`
/// must be given again to open the blob.
expected<std::string> seal(std::string_view plaintext, std::string_view context,
                           const kek& k, const random_source& random);

/// The KEK id a blob names (corrupted when it is no blob of this format).
expected<std::string> key_id_of(std::string_view blob);

/// Decrypts a blob. Errors: `not_found` when `keys` lacks the blob's KEK;
/// `invalid_argument` when the KEK with that id does not open the data key
/// (another key under the same id, or an altered wrapped key); `corrupted`
/// for a malformed blob, or content that fails its tag (altered, or opened
/// with another `context`).
expected<std::string> open(std::string_view blob, std::string_view context,
                           const kek_lookup& keys);

/// The same blob with its data key wrapped by `to` instead (the content
/// ciphertext is kept byte for byte). Errors as for open().
expected<std::string> rewrap(std::string_view blob, const kek_lookup& keys,
                             const kek& to, const random_source& random);

/// The content hash of a sealed secret, as 64 lowercase hex characters:
/// HMAC-SHA256 of the plaintext under a key derived from the blob's own data
/// key. Without a KEK that opens the blob it cannot be computed, so it cannot
/// be used to test guesses of the value; the same plaintext sealed twice gets
/// two unrelated hashes (nothing tells that two secrets are equal); rewrap()
/// keeps it. Errors as for open().
expected<std::string> content_hash(std::string_view blob, std::string_view plaintext,
                                   const kek_lookup& keys);

/// Whether two blobs hold the same content ciphertext (nonce, ciphertext and
/// tag byte for byte), whatever their KEK and wrap: `b` is then a rewrap of
/// `a`. corrupted when either is no blob.
expected<bool> same_content(std::string_view a, std::string_view b);

/// The most a blob is longer than its plaintext (a KEK id of 64 characters).
constexpr std::size_t max_overhead =
    6 + max_key_id_size + nonce_size + key_size + tag_size + nonce_size + tag_size;

/// A check value of a KEK (HMAC-SHA256 of a fixed label under a key derived
/// from it, hex): stored beside the data, it tells at start whether a key
/// file holds the key the data was sealed with, without revealing the key.
std::string check_value(const kek& k);

} // namespace conflux::secret
