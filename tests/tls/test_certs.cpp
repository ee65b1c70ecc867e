#include "tests/tls/test_certs.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdexcept>
#include <vector>

namespace conflux::tls_test {

namespace {

void require(bool ok, const char* what) {
  if (!ok)
    throw std::runtime_error(std::string{"test certificates: "} + what + " failed");
}

pkey_ptr make_key() {
  pkey_ptr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  require(key != nullptr, "EC key generation");
  return key;
}

void add_extension(X509* issuer, X509* subject, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  auto ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  require(ext != nullptr, "making an X.509 extension");
  require(X509_add_ext(subject, ext, -1) == 1, "adding an X.509 extension");
  X509_EXTENSION_free(ext);
}

x509_ptr make_certificate(const std::string& common_name, EVP_PKEY* key,
                          long not_before, long not_after) {
  static std::atomic<long> serial{1};
  x509_ptr cert{X509_new()};
  require(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after);
  require(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
  auto name = X509_get_subject_name(cert.get());
  auto cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, 0) == 1,
          "setting the common name");
  return cert;
}

std::string read_bio(BIO* bio) {
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio, &data);
  std::string result(data, static_cast<size_t>(len));
  BIO_free(bio);
  return result;
}

std::string pem_of(X509* cert) {
  auto bio = BIO_new(BIO_s_mem());
  require(PEM_write_bio_X509(bio, cert) == 1, "writing a certificate");
  return read_bio(bio);
}

std::string pem_of(EVP_PKEY* key, const std::string& passphrase) {
  auto bio = BIO_new(BIO_s_mem());
  int ok = 0;
  if (passphrase.empty()) {
    ok = PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    std::vector<unsigned char> pass(passphrase.begin(), passphrase.end());
    ok = PEM_write_bio_PrivateKey(bio, key, EVP_aes_256_cbc(), pass.data(),
                                  static_cast<int>(pass.size()), nullptr, nullptr);
  }
  require(ok == 1, "writing a private key");
  return read_bio(bio);
}

} // namespace

leaf_spec leaf(std::string common_name, std::string uri) {
  leaf_spec result;
  result.common_name = std::move(common_name);
  result.uri = std::move(uri);
  return result;
}

test_ca::test_ca(const std::string& name) : key_(make_key()) {
  cert_ = make_certificate(name, key_.get(), -3600, 365L * 24 * 3600);
  X509_set_issuer_name(cert_.get(), X509_get_subject_name(cert_.get()));
  add_extension(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert_.get(), cert_.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign");
  add_extension(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
  require(X509_sign(cert_.get(), key_.get(), EVP_sha256()) > 0, "signing the CA");
}

std::string test_ca::certificate_pem() const {
  return pem_of(cert_.get());
}

issued_pem test_ca::issue(const leaf_spec& spec) const {
  auto key = make_key();
  auto cert =
      make_certificate(spec.common_name, key.get(), spec.not_before, spec.not_after);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
  add_extension(cert_.get(), cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert_.get(), cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert_.get(), cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  add_extension(cert_.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!spec.uri.empty())
    add_extension(cert_.get(), cert.get(), NID_subject_alt_name,
                  ("URI:" + spec.uri).c_str());
  require(X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0, "signing a leaf");
  return {pem_of(cert.get()), pem_of(key.get(), spec.passphrase)};
}

temp_dir::temp_dir() {
  auto base = std::filesystem::temp_directory_path() / "conflux-tls-test-XXXXXX";
  std::string buf = base.string();
  require(mkdtemp(buf.data()) != nullptr, "mkdtemp");
  path_ = buf;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string temp_dir::write(const std::string& name, const std::string& content) const {
  auto file = path_ + "/" + name;
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << content;
  out.close();
  require(static_cast<bool>(out), "writing a test file");
  return file;
}

std::string uri_of(X509* cert) {
  std::string result;
  auto names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr)
    return result;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    auto name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_URI) {
      auto str = name->d.uniformResourceIdentifier;
      result.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)),
                    static_cast<size_t>(ASN1_STRING_length(str)));
      break;
    }
  }
  GENERAL_NAMES_free(names);
  return result;
}

} // namespace conflux::tls_test
