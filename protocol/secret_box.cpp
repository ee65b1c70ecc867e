#include "protocol/secret_box.hpp"

#include <memory>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace conflux::secret {

namespace {

constexpr std::string_view magic = "CFXS";
constexpr std::size_t wrapped_size = key_size + tag_size;
/// Labels of derived keys (from a KEK or a data key); a key never serves two
/// purposes.
constexpr std::string_view hash_label = "conflux secret content hash v1";
constexpr std::string_view check_label = "conflux key-encryption key check v1";

using data_key = std::array<unsigned char, key_size>;

/// Wipes a data key when it goes out of scope.
struct wiped_key {
  data_key bytes{};
  ~wiped_key() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

/// AES-256-GCM: ciphertext followed by the tag.
expected<std::string> gcm_encrypt(const unsigned char* key, std::string_view nonce,
                                  std::string_view aad, std::string_view plain) {
  cipher_ctx ctx{EVP_CIPHER_CTX_new()};
  std::string out(plain.size() + tag_size, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  int total = 0;
  bool ok = ctx &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                               nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                                static_cast<int>(nonce.size()), nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key, bytes(nonce)) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), o, &len, bytes(plain),
                              static_cast<int>(plain.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), o + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG,
                                 static_cast<int>(tag_size), o + total) == 1;
  if (!ok || static_cast<std::size_t>(total) != plain.size())
    return error{errc::storage_failure, "AES-256-GCM encryption failed in OpenSSL"};
  return out;
}

/// Opens ciphertext followed by its tag; nullopt-like failure when the tag
/// does not verify.
expected<std::string> gcm_decrypt(const unsigned char* key, std::string_view nonce,
                                  std::string_view aad, std::string_view sealed) {
  if (sealed.size() < tag_size)
    return error{errc::corrupted, "sealed data is shorter than its tag"};
  auto body = sealed.substr(0, sealed.size() - tag_size);
  std::string tag{sealed.substr(body.size())};
  cipher_ctx ctx{EVP_CIPHER_CTX_new()};
  std::string out(body.size(), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                               nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                                static_cast<int>(nonce.size()), nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key, bytes(nonce)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), o, &len, bytes(body),
                              static_cast<int>(body.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG,
                                static_cast<int>(tag_size), tag.data()) == 1;
  if (!ok)
    return error{errc::storage_failure, "AES-256-GCM decryption failed in OpenSSL"};
  int tail = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), o + len, &tail) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return error{errc::corrupted, "authentication tag does not verify"};
  }
  return out;
}

std::string hmac_hex(const unsigned char* key, std::size_t key_len,
                     std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len), bytes(data), data.size(), mac,
       &mac_len);
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * mac_len);
  for (unsigned i = 0; i < mac_len; ++i) {
    hex.push_back(digits[mac[i] >> 4]);
    hex.push_back(digits[mac[i] & 0xf]);
  }
  return hex;
}

/// A key for one purpose, derived from the KEK: HMAC-SHA256(kek, label).
data_key derive(const kek& k, std::string_view label) {
  data_key out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), k.key.data(), static_cast<int>(k.key.size()), bytes(label),
       label.size(), out.data(), &len);
  return out;
}

/// The parts of a blob, as views into it.
struct parsed_blob {
  std::string_view header; // magic, version, id length, id (the wrap's AAD)
  std::string_view key_id;
  std::string_view wrap_nonce;
  std::string_view wrapped;
  std::string_view content_nonce;
  std::string_view content; // ciphertext + tag
};

expected<parsed_blob> parse(std::string_view blob) {
  auto bad = [](std::string why) {
    return error{errc::corrupted, "sealed secret is malformed: " + why};
  };
  if (blob.size() < 6 || blob.substr(0, 4) != magic)
    return bad("it does not start with the secret blob magic");
  auto version = static_cast<std::uint8_t>(blob[4]);
  if (version != blob_format_version)
    return error{errc::unsupported_version, "sealed secret has format version " +
                                                std::to_string(version) +
                                                "; this build reads version " +
                                                std::to_string(blob_format_version)};
  std::size_t k = static_cast<std::uint8_t>(blob[5]);
  std::size_t fixed = 6 + k + nonce_size + wrapped_size + nonce_size + tag_size;
  if (k == 0 || k > max_key_id_size || blob.size() < fixed)
    return bad("it is shorter than its header");
  parsed_blob p;
  p.header = blob.substr(0, 6 + k);
  p.key_id = blob.substr(6, k);
  if (!valid_key_id(p.key_id))
    return bad("its key id is not valid");
  std::size_t at = 6 + k;
  p.wrap_nonce = blob.substr(at, nonce_size);
  at += nonce_size;
  p.wrapped = blob.substr(at, wrapped_size);
  at += wrapped_size;
  p.content_nonce = blob.substr(at, nonce_size);
  at += nonce_size;
  p.content = blob.substr(at);
  return p;
}

expected<std::string> random_string(const random_source& random, std::size_t n) {
  std::string out(n, '\0');
  if (auto s = random(reinterpret_cast<unsigned char*>(out.data()), n); !s.ok())
    return s.err();
  return out;
}

/// Unwraps the data key of a parsed blob with the KEK it names.
status unwrap(const parsed_blob& p, const kek_lookup& keys, wiped_key& out) {
  const kek* k = keys(p.key_id);
  if (k == nullptr)
    return error{errc::not_found,
                 "the secret was sealed with key-encryption key '" +
                     std::string{p.key_id} +
                     "', which the key file does not hold: add that key (id:hex line) "
                     "to the --kek-file"};
  auto dk = gcm_decrypt(k->key.data(), p.wrap_nonce, p.header, p.wrapped);
  if (!dk.ok()) {
    if (dk.err().code != errc::corrupted)
      return dk.err();
    return error{errc::invalid_argument,
                 "key-encryption key '" + std::string{p.key_id} +
                     "' does not open the secret's data key: the key file holds a "
                     "different key under that id (or the sealed data was altered)"};
  }
  std::copy(dk->begin(), dk->end(), out.bytes.begin());
  OPENSSL_cleanse(dk->data(), dk->size());
  return {};
}

/// Builds a blob from its parts, with a fresh wrap of `dk` under `k`.
expected<std::string> assemble(const kek& k, const data_key& dk,
                               std::string_view content_nonce, std::string_view content,
                               const random_source& random) {
  std::string blob;
  blob.reserve(6 + k.id.size() + nonce_size + wrapped_size + nonce_size +
               content.size());
  blob.append(magic);
  blob.push_back(static_cast<char>(blob_format_version));
  blob.push_back(static_cast<char>(k.id.size()));
  blob.append(k.id);
  auto wrap_nonce = random_string(random, nonce_size);
  if (!wrap_nonce.ok())
    return wrap_nonce.err();
  auto wrapped = gcm_encrypt(
      k.key.data(), *wrap_nonce, blob,
      std::string_view{reinterpret_cast<const char*>(dk.data()), dk.size()});
  if (!wrapped.ok())
    return wrapped.err();
  blob.append(*wrap_nonce);
  blob.append(*wrapped);
  blob.append(content_nonce);
  blob.append(content);
  return blob;
}

status check_kek(const kek& k) {
  if (!valid_key_id(k.id))
    return error{errc::invalid_argument,
                 "key-encryption key id '" + k.id +
                     "' is not valid: use 1 to 64 characters of A-Z a-z 0-9 . _ -"};
  return {};
}

} // namespace

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > max_key_id_size)
    return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

expected<std::string> seal(std::string_view plaintext, std::string_view context,
                           const kek& k, const random_source& random) {
  if (auto s = check_kek(k); !s.ok())
    return s.err();
  wiped_key dk;
  if (auto s = random(dk.bytes.data(), dk.bytes.size()); !s.ok())
    return s.err();
  auto nonce = random_string(random, nonce_size);
  if (!nonce.ok())
    return nonce.err();
  auto content = gcm_encrypt(dk.bytes.data(), *nonce, context, plaintext);
  if (!content.ok())
    return content.err();
  return assemble(k, dk.bytes, *nonce, *content, random);
}

expected<std::string> key_id_of(std::string_view blob) {
  auto p = parse(blob);
  if (!p.ok())
    return p.err();
  return std::string{p->key_id};
}

expected<std::string> open(std::string_view blob, std::string_view context,
                           const kek_lookup& keys) {
  auto p = parse(blob);
  if (!p.ok())
    return p.err();
  wiped_key dk;
  if (auto s = unwrap(*p, keys, dk); !s.ok())
    return s.err();
  auto plain = gcm_decrypt(dk.bytes.data(), p->content_nonce, context, p->content);
  if (!plain.ok() && plain.err().code == errc::corrupted)
    return error{
        errc::corrupted,
        "the secret's content does not verify: it was altered, or it belongs to "
        "another config"};
  return plain;
}

expected<std::string> rewrap(std::string_view blob, const kek_lookup& keys,
                             const kek& to, const random_source& random) {
  if (auto s = check_kek(to); !s.ok())
    return s.err();
  auto p = parse(blob);
  if (!p.ok())
    return p.err();
  wiped_key dk;
  if (auto s = unwrap(*p, keys, dk); !s.ok())
    return s.err();
  return assemble(to, dk.bytes, p->content_nonce, p->content, random);
}

expected<std::string> content_hash(std::string_view blob, std::string_view plaintext,
                                   const kek_lookup& keys) {
  auto p = parse(blob);
  if (!p.ok())
    return p.err();
  wiped_key dk;
  if (auto s = unwrap(*p, keys, dk); !s.ok())
    return s.err();
  wiped_key hk;
  unsigned int len = 0;
  HMAC(EVP_sha256(), dk.bytes.data(), static_cast<int>(dk.bytes.size()),
       bytes(hash_label), hash_label.size(), hk.bytes.data(), &len);
  return hmac_hex(hk.bytes.data(), hk.bytes.size(), plaintext);
}

expected<bool> same_content(std::string_view a, std::string_view b) {
  auto pa = parse(a);
  if (!pa.ok())
    return pa.err();
  auto pb = parse(b);
  if (!pb.ok())
    return pb.err();
  return pa->content_nonce == pb->content_nonce && pa->content == pb->content;
}

std::string check_value(const kek& k) {
  auto key = derive(k, check_label);
  auto out = hmac_hex(key.data(), key.size(), check_label);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

} // namespace conflux::secret
