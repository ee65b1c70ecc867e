#pragma once
// Test-only certificates: a CA and the leaf certificates it signs, made with the
// OpenSSL API in memory and written as PEM files into a temporary directory that
// is removed with the object. Deliberately small: EC P-256 keys, SHA-256
// signatures, a URI in the subject alternative name. The real certificate tool
// lives elsewhere; this one only has to produce what the TLS tests present.

#include <memory>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string>

namespace conflux::tls_test {

struct pkey_deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_deleter {
  void operator()(X509* p) const { X509_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

/// What a leaf certificate says and how long it is valid.
struct leaf_spec {
  std::string common_name;
  /// The subject alternative name, e.g. "conflux://test/node/1"; none if empty.
  std::string uri;
  /// Validity relative to now, in seconds.
  long not_before = -3600;
  long not_after = 30L * 24 * 3600;
  /// Encrypts the private key's PEM with AES-256 if not empty.
  std::string passphrase;
};

/// A leaf valid from an hour ago for 30 days, named `common_name`, with `uri`
/// (if not empty) as its subject alternative name.
leaf_spec leaf(std::string common_name, std::string uri = {});

/// A leaf certificate and its key, PEM-encoded.
struct issued_pem {
  std::string certificate;
  std::string key;
};

/// A self-signed certificate authority that issues leaf certificates.
class test_ca {
public:
  explicit test_ca(const std::string& name);

  /// The CA certificate, PEM-encoded (what a node's trusted CA file holds).
  std::string certificate_pem() const;

  issued_pem issue(const leaf_spec& spec) const;

private:
  pkey_ptr key_;
  x509_ptr cert_;
};

/// A directory under the system's temporary directory, removed with the object.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

  /// Writes `content` to the file `name` in this directory (replacing it) and
  /// returns the file's path.
  std::string write(const std::string& name, const std::string& content) const;

private:
  std::string path_;
};

/// The URI in `cert`'s subject alternative name, or "" if it has none.
std::string uri_of(X509* cert);

} // namespace conflux::tls_test
