#include "actors/tls_certs.hpp"

#include "protocol/text.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <strings.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace conflux::actors {

void x509_free::operator()(X509* x) const noexcept {
  X509_free(x);
}

void pkey_free::operator()(EVP_PKEY* k) const noexcept {
  EVP_PKEY_free(k);
}

namespace {

// -- OpenSSL plumbing ---------------------------------------------------------

struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct bn_free {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct gens_free {
  void operator()(GENERAL_NAMES* g) const noexcept { GENERAL_NAMES_free(g); }
};
struct gen_free {
  void operator()(GENERAL_NAME* g) const noexcept { GENERAL_NAME_free(g); }
};
struct ext_free {
  void operator()(X509_EXTENSION* e) const noexcept { X509_EXTENSION_free(e); }
};
struct store_free {
  void operator()(X509_STORE* s) const noexcept { X509_STORE_free(s); }
};
struct store_ctx_free {
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
struct x509_stack_free {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_free(s); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using bn_ptr = std::unique_ptr<BIGNUM, bn_free>;
using gens_ptr = std::unique_ptr<GENERAL_NAMES, gens_free>;
using gen_ptr = std::unique_ptr<GENERAL_NAME, gen_free>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ext_free>;
using store_ptr = std::unique_ptr<X509_STORE, store_free>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, store_ctx_free>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free>;
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), x509_stack_free>;

/// Empties the calling thread's OpenSSL error queue when a public function
/// returns, whatever path it takes.
struct error_queue_guard {
  error_queue_guard() = default;
  error_queue_guard(const error_queue_guard&) = delete;
  error_queue_guard& operator=(const error_queue_guard&) = delete;
  ~error_queue_guard() { ERR_clear_error(); }
};

/// The queued OpenSSL errors as text (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? std::string{"no detail from OpenSSL"} : out;
}

cert_error fail(cert_problem p, std::string file, std::string message) {
  return cert_error{p, std::move(file), std::move(message)};
}

cert_error crypto_fail(const std::string& what) {
  return fail(cert_problem::crypto_failure, {}, what + " failed: " + openssl_errors());
}

/// Never prompts for a passphrase: an encrypted key is refused instead.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

/// PEM credentials are a few KiB; anything much larger is the wrong file.
constexpr std::size_t max_pem_file_size = 1 << 20;

/// A read-only BIO over `bytes`; null if they are too many to be PEM.
bio_ptr memory_bio(std::string_view bytes) {
  if (bytes.size() > max_pem_file_size)
    return nullptr;
  return bio_ptr{BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()))};
}

/// What a BIO_s_mem holds.
std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string{data, static_cast<std::size_t>(n)} : std::string{};
}

std::string errno_text(int e) {
  return std::generic_category().message(e);
}

// -- time -------------------------------------------------------------------

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::int64_t to_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

/// "2025-03-01 12:00:00 UTC"
std::string utc_text(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) == nullptr)
    return std::to_string(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

/// expired / not_yet_valid for `x` (named `file`), or nothing if valid now.
std::optional<cert_error> check_times(const X509* x, const std::string& file,
                                      const std::string& what, const std::string& fix) {
  const std::int64_t now = now_seconds();
  const std::int64_t nb = to_unix(X509_get0_notBefore(x));
  const std::int64_t na = to_unix(X509_get0_notAfter(x));
  if (now > na)
    return fail(cert_problem::expired, file,
                what + " expired on " + utc_text(na) + "; " + fix);
  if (now < nb)
    return fail(cert_problem::not_yet_valid, file,
                what + " is not valid before " + utc_text(nb) +
                    " (check this machine's clock); " + fix);
  return std::nullopt;
}

// -- files ------------------------------------------------------------------

/// The bytes of a small regular file. `what` says what it should hold
/// ("certificate", "private key", "CA certificate") for the message.
cert_result<std::string> read_small_file(const std::string& path,
                                         const std::string& what) {
  const std::string fix = "check the path (conflux-cert makes the files)";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return fail(cert_problem::missing_file, path,
                "cannot open the " + what + ": " + errno_text(errno) + "; " + fix);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(cert_problem::missing_file, path,
                "is not a regular file; the " + what + " must be a PEM file; " + fix);
  }
  if (static_cast<std::size_t>(st.st_size) > max_pem_file_size) {
    ::close(fd);
    return fail(cert_problem::not_pem, path,
                "is " + std::to_string(st.st_size) + " bytes, far more than a PEM " +
                    what + "; " + fix);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return fail(cert_problem::missing_file, path,
                  "cannot read the " + what + ": " + errno_text(e) + "; " + fix);
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_pem_file_size) {
      ::close(fd);
      return fail(cert_problem::not_pem, path,
                  "is far more than a PEM " + what + "; " + fix);
    }
  }
  ::close(fd);
  return out;
}

/// Why `text` did not yield a PEM block labelled `wanted`.
std::string describe_not_pem(std::string_view text, const std::string& wanted,
                             const std::string& what) {
  const std::string begin = "-----BEGIN ";
  auto at = text.find(begin);
  if (at == std::string_view::npos)
    return "holds no PEM data (\"-----BEGIN " + wanted + "-----\" expected); the " +
           what + " must be PEM, not DER or another format";
  auto label_start = at + begin.size();
  auto label_end = text.find("-----", label_start);
  std::string label{text.substr(
      label_start, label_end == std::string_view::npos ? 0 : label_end - label_start)};
  if (label.find("ENCRYPTED") != std::string::npos)
    return "holds an encrypted key; Conflux reads only unencrypted keys (keep the file "
           "mode 0600 instead): decrypt it with `openssl pkey -in FILE -out FILE2`";
  if (label == wanted || (wanted == "PRIVATE KEY" && label.size() > 12 &&
                          label.substr(label.size() - 12) == " PRIVATE KEY"))
    return "holds a PEM " + quote(label) + " block that does not decode (" +
           openssl_errors() + "); the file is damaged";
  return "holds a PEM " + quote(label) + " block, not a " + wanted + "; is this the " +
         what + " file?";
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty())
    return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// -- names and extensions -----------------------------------------------------

bool valid_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253)
    return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    auto label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-')
      return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-'))
        return false;
    if (dot == std::string_view::npos)
      return true;
    start = dot + 1;
  }
}

/// The 4 or 16 bytes of an IPv4 or IPv6 address, or nothing.
std::optional<std::string> ip_bytes(const std::string& text) {
  unsigned char buf[16];
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1)
    return std::string{reinterpret_cast<char*>(buf), 4};
  if (::inet_pton(AF_INET6, text.c_str(), buf) == 1)
    return std::string{reinterpret_cast<char*>(buf), 16};
  return std::nullopt;
}

std::string ip_text(const ASN1_OCTET_STRING* s) {
  const unsigned char* d = ASN1_STRING_get0_data(s);
  int n = ASN1_STRING_length(s);
  char buf[INET6_ADDRSTRLEN] = {0};
  if (n == 4 && ::inet_ntop(AF_INET, d, buf, sizeof buf) != nullptr)
    return buf;
  if (n == 16 && ::inet_ntop(AF_INET6, d, buf, sizeof buf) != nullptr)
    return buf;
  return "(" + std::to_string(n) + "-byte address)";
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string{reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s))};
}

bool push_name(GENERAL_NAMES* gens, int type, const std::string& bytes) {
  gen_ptr g{GENERAL_NAME_new()};
  ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (!g || s == nullptr)
    return ASN1_STRING_free(s), false;
  if (ASN1_STRING_set(s, bytes.data(), static_cast<int>(bytes.size())) != 1)
    return ASN1_STRING_free(s), false;
  GENERAL_NAME_set0_value(g.get(), type, s); // g owns s from here
  if (sk_GENERAL_NAME_push(gens, g.get()) <= 0)
    return false;
  g.release(); // gens owns g from here
  return true;
}

/// A name as one line ("O = conflux, OU = prod, CN = node 1"), safe to print.
std::string name_text(const X509_NAME* n) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  if (!b || X509_NAME_print_ex(b.get(), n, 0, XN_FLAG_ONELINE) < 0)
    return "(unreadable name)";
  return printable(bio_text(b.get()), 512);
}

bool add_conf_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, ctx, nid, value)};
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

/// Every conflux: URI (scheme compared without case, so that a misspelt one is
/// reported rather than ignored) in the certificate's subjectAltName.
cert_result<std::vector<std::string>> conflux_uris_of(const X509* cert) {
  int crit = -1;
  gens_ptr gens{static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr))};
  std::vector<std::string> uris;
  if (!gens) {
    if (crit == -2)
      return fail(
          cert_problem::bad_identity, {},
          "has more than one subjectAltName extension; a Conflux certificate has "
          "one");
    if (crit >= 0)
      return fail(cert_problem::bad_identity, {},
                  "has a subjectAltName that does not decode");
    return uris;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(gens.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens.get(), i);
    if (g->type != GEN_URI)
      continue;
    std::string v = asn1_text(g->d.uniformResourceIdentifier);
    if (v.size() >= 8 && ::strncasecmp(v.data(), "conflux:", 8) == 0)
      uris.push_back(std::move(v));
  }
  return uris;
}

host_names host_names_of(const X509* cert) {
  host_names out;
  gens_ptr gens{static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))};
  if (!gens)
    return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens.get(), i);
    if (g->type == GEN_DNS)
      out.dns.push_back(printable(asn1_text(g->d.dNSName), 253));
    else if (g->type == GEN_IPADD)
      out.ip.push_back(ip_text(g->d.iPAddress));
  }
  return out;
}

bool is_ca_cert(X509* x) {
  std::uint32_t flags = X509_get_extension_flags(x);
  if ((flags & EXFLAG_CA) == 0)
    return false;
  return (flags & EXFLAG_KUSAGE) == 0 ||
         (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) != 0;
}

// -- making certificates ------------------------------------------------------

cert_result<pkey_ptr> new_p256_key() {
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)};
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1 ||
      EVP_PKEY_generate(ctx.get(), &raw) != 1)
    return crypto_fail("making a P-256 key");
  return pkey_ptr{raw};
}

/// A random positive 128-bit serial number (RFC 5280 4.1.2.2 allows 20 octets).
bool set_random_serial(X509* x) {
  unsigned char bytes[16];
  bn_ptr bn;
  do {
    if (RAND_bytes(bytes, sizeof bytes) != 1)
      return false;
    bn.reset(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn)
      return false;
  } while (BN_is_zero(bn.get()));
  ASN1_INTEGER* serial = X509_get_serialNumber(x);
  return BN_to_ASN1_INTEGER(bn.get(), serial) != nullptr;
}

bool add_subject_field(X509_NAME* name, const char* field, const std::string& value) {
  return X509_NAME_add_entry_by_txt(
             name, field, MBSTRING_UTF8,
             reinterpret_cast<const unsigned char*>(value.data()),
             static_cast<int>(value.size()), -1, 0) == 1;
}

/// What one certificate is made of.
struct cert_spec {
  std::string common_name;
  std::string cluster_id;
  std::string uri;
  const host_names* names = nullptr;
  validity valid;
  bool is_ca = false;
  const char* ext_key_usage = nullptr; // leaves only
};

std::string pem_of(const X509* x) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  if (!b || PEM_write_bio_X509(b.get(), x) != 1)
    return {};
  return bio_text(b.get());
}

std::string pem_of(const EVP_PKEY* k) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  if (!b ||
      PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return {};
  return bio_text(b.get());
}

/// Makes a certificate to `spec` with a new key, signed by `issuer` /
/// `issuer_key`, or self-signed when both are null.
cert_result<pem_pair> build_certificate(const cert_spec& spec, X509* issuer,
                                        EVP_PKEY* issuer_key) {
  auto key = new_p256_key();
  if (!key)
    return std::move(key).err();
  x509_ptr x{X509_new()};
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1)
    return crypto_fail("making a certificate");
  if (!set_random_serial(x.get()))
    return crypto_fail("drawing a random serial number");
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()),
                    static_cast<std::time_t>(spec.valid.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()),
                    static_cast<std::time_t>(spec.valid.not_after)) == nullptr)
    return crypto_fail("setting the validity");

  X509_NAME* subject = X509_get_subject_name(x.get());
  if (!add_subject_field(subject, "O", "conflux") ||
      !add_subject_field(subject, "OU", spec.cluster_id) ||
      !add_subject_field(subject, "CN", spec.common_name))
    return crypto_fail("setting the subject name");
  if (X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : subject) !=
          1 ||
      X509_set_pubkey(x.get(), key->get()) != 1)
    return crypto_fail("setting the issuer and public key");

  X509V3_CTX ctx{};
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  bool ok = true;
  if (spec.is_ca) {
    ok = add_conf_ext(x.get(), &ctx, NID_basic_constraints,
                      "critical,CA:TRUE,pathlen:0") &&
         add_conf_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         add_conf_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  } else {
    ok = add_conf_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
         add_conf_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature") &&
         add_conf_ext(x.get(), &ctx, NID_ext_key_usage, spec.ext_key_usage) &&
         add_conf_ext(x.get(), &ctx, NID_subject_key_identifier, "hash") &&
         add_conf_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  if (!ok)
    return crypto_fail("adding the certificate extensions");

  gens_ptr gens{sk_GENERAL_NAME_new_null()};
  ok = gens && push_name(gens.get(), GEN_URI, spec.uri);
  if (ok && spec.names != nullptr) {
    for (const auto& d : spec.names->dns)
      ok = ok && push_name(gens.get(), GEN_DNS, d);
    for (const auto& ip : spec.names->ip)
      ok = ok && push_name(gens.get(), GEN_IPADD, ip_bytes(ip).value_or(std::string{}));
  }
  if (!ok || X509_add1_ext_i2d(x.get(), NID_subject_alt_name, gens.get(), 0,
                               X509V3_ADD_DEFAULT) != 1)
    return crypto_fail("adding the subjectAltName");

  if (X509_sign(x.get(), issuer_key ? issuer_key : key->get(), EVP_sha256()) <= 0)
    return crypto_fail("signing the certificate");
  pem_pair out{pem_of(x.get()), pem_of(key->get())};
  if (out.cert.empty() || out.key.empty())
    return crypto_fail("encoding the certificate and key as PEM");
  return out;
}

std::optional<cert_error> check_validity_request(const validity& v) {
  if (v.not_before >= v.not_after)
    return fail(cert_problem::invalid_argument, {},
                "the validity ends (" + utc_text(v.not_after) + ") before it starts (" +
                    utc_text(v.not_before) + ")");
  return std::nullopt;
}

std::optional<cert_error> check_within_ca(const cluster_ca& ca, const validity& v) {
  if (auto bad = check_validity_request(v))
    return bad;
  const std::int64_t ca_end = to_unix(X509_get0_notAfter(ca.cert.get()));
  if (v.not_after > ca_end) {
    const std::int64_t days_left = (ca_end - now_seconds()) / 86400;
    return fail(cert_problem::invalid_argument, {},
                "the certificate would outlive its CA, which expires on " +
                    utc_text(ca_end) + " (in " + std::to_string(days_left) +
                    " days); ask for at most " + std::to_string(days_left) +
                    " days, or make a new CA");
  }
  return std::nullopt;
}

// -- credentials ------------------------------------------------------------

/// Every certificate in `pem`, in order; `source` names it in errors.
cert_result<std::vector<x509_ptr>> parse_all_certificates(std::string_view pem,
                                                          const std::string& source,
                                                          const std::string& what) {
  std::vector<x509_ptr> out;
  if (pem.size() > max_pem_file_size)
    return fail(cert_problem::not_pem, source,
                "is " + std::to_string(pem.size()) +
                    " bytes, far more than PEM credentials");
  auto bio = memory_bio(pem);
  if (!bio)
    return crypto_fail("reading " + source);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr))
    out.emplace_back(x);
  if (out.empty())
    return fail(cert_problem::not_pem, source,
                describe_not_pem(pem, "CERTIFICATE", what));
  // The read that ended the loop must have found no further PEM block; a
  // block that does not decode is not skipped (TLS would trust a different
  // set of CAs than the one checked here).
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) != ERR_LIB_PEM || ERR_GET_REASON(last) != PEM_R_NO_START_LINE)
    return fail(cert_problem::not_pem, source,
                "holds a damaged certificate after the first " +
                    std::to_string(out.size()) + " (" + openssl_errors() +
                    "); repair or replace the file");
  ERR_clear_error();
  return out;
}

std::string verify_fix(const std::string& ca_file) {
  return "issue it again from the CA in " + ca_file +
         " (conflux-cert node|client --ca DIR), or point at the CA that issued it";
}

/// Verifies `cert` (with `chain` as untrusted intermediates) against `cas`.
std::optional<cert_error> verify_against(X509* cert, const std::vector<x509_ptr>& chain,
                                         const std::vector<x509_ptr>& cas,
                                         const std::string& cert_file,
                                         const std::string& ca_file) {
  store_ptr store{X509_STORE_new()};
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  x509_stack_ptr untrusted{sk_X509_new_null()};
  if (!store || !ctx || !untrusted)
    return crypto_fail("setting up certificate verification");
  for (const auto& ca : cas)
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1)
      return crypto_fail("adding the CA to the trust store");
  for (std::size_t i = 1; i < chain.size(); ++i)
    if (sk_X509_push(untrusted.get(), chain[i].get()) <= 0)
      return crypto_fail("collecting intermediate certificates");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert, untrusted.get()) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1)
    return crypto_fail("setting up certificate verification");
  if (X509_verify_cert(ctx.get()) == 1)
    return std::nullopt;
  const int err = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  ERR_clear_error();
  const std::string reason = X509_verify_cert_error_string(err);
  const std::string& file = depth == 0 ? cert_file : ca_file;
  switch (err) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return fail(cert_problem::expired, file,
                "expired on " +
                    utc_text(to_unix(X509_get0_notAfter(
                        X509_STORE_CTX_get_current_cert(ctx.get())))) +
                    "; issue a new certificate with conflux-cert");
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return fail(cert_problem::not_yet_valid, file,
                "is not valid yet (" + reason +
                    "); check this machine's clock, or issue a new certificate");
  case X509_V_ERR_INVALID_PURPOSE:
    return fail(cert_problem::not_for_tls, file,
                "may not be used by a TLS client (its keyUsage or extendedKeyUsage "
                "forbid it); issue it with conflux-cert");
  case X509_V_ERR_INVALID_CA:
  case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
    return fail(cert_problem::not_a_ca, ca_file,
                "cannot issue certificates (" + reason +
                    "); give the cluster CA's ca.crt");
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
  case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_NO_ISSUER_PUBLIC_KEY:
  case X509_V_ERR_CERT_UNTRUSTED:
  case X509_V_ERR_CERT_REJECTED:
  case X509_V_ERR_SUBJECT_ISSUER_MISMATCH:
  case X509_V_ERR_AKID_SKID_MISMATCH:
  case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
    return fail(cert_problem::not_signed_by_ca, cert_file,
                "was not issued by the CA in " + ca_file + " (" + reason + "); " +
                    verify_fix(ca_file));
  default:
    return fail(cert_problem::invalid_certificate, file,
                "fails verification: " + reason +
                    "; issue a new certificate with conflux-cert");
  }
}

std::string holder_text(const expected_holder& h) {
  if (!h.kind)
    return "a node or client";
  if (*h.kind == identity_kind::client)
    return "a client";
  return h.node_id == 0 ? std::string{"a node"} : "node " + std::to_string(h.node_id);
}

} // namespace

// -- public -------------------------------------------------------------------

std::string_view to_string(cert_problem problem) noexcept {
  switch (problem) {
  case cert_problem::missing_file:
    return "missing_file";
  case cert_problem::not_pem:
    return "not_pem";
  case cert_problem::key_mismatch:
    return "key_mismatch";
  case cert_problem::not_signed_by_ca:
    return "not_signed_by_ca";
  case cert_problem::expired:
    return "expired";
  case cert_problem::not_yet_valid:
    return "not_yet_valid";
  case cert_problem::no_identity:
    return "no_identity";
  case cert_problem::bad_identity:
    return "bad_identity";
  case cert_problem::wrong_cluster:
    return "wrong_cluster";
  case cert_problem::wrong_holder:
    return "wrong_holder";
  case cert_problem::not_for_tls:
    return "not_for_tls";
  case cert_problem::not_a_ca:
    return "not_a_ca";
  case cert_problem::invalid_certificate:
    return "invalid_certificate";
  case cert_problem::already_exists:
    return "already_exists";
  case cert_problem::invalid_argument:
    return "invalid_argument";
  case cert_problem::io_failure:
    return "io_failure";
  case cert_problem::crypto_failure:
    return "crypto_failure";
  }
  return "unknown";
}

std::string to_string(const cert_error& e) {
  return e.file.empty() ? e.message : e.file + ": " + e.message;
}

validity valid_for_days(std::int64_t days) {
  const std::int64_t now = now_seconds();
  return validity{now - 300, now + days * 86400};
}

cert_result<pem_pair> make_cluster_ca(std::string_view cluster_id, const validity& v) {
  error_queue_guard guard;
  if (auto ok = check_cluster_id(cluster_id); !ok)
    return fail(cert_problem::invalid_argument, {}, ok.err().message);
  if (auto bad = check_validity_request(v))
    return *bad;
  cert_spec spec;
  spec.cluster_id = std::string{cluster_id};
  spec.common_name = "conflux cluster " + spec.cluster_id + " CA";
  if (spec.common_name.size() > 64) // the X.520 upper bound of a common name
    spec.common_name = "conflux cluster CA";
  spec.uri = ca_uri(cluster_id);
  spec.valid = v;
  spec.is_ca = true;
  return build_certificate(spec, nullptr, nullptr);
}

cert_result<x509_ptr> parse_certificate(std::string_view pem,
                                        const std::string& source) {
  error_queue_guard guard;
  auto all = parse_all_certificates(pem, source, "certificate");
  if (!all)
    return std::move(all).err();
  return std::move(all->front());
}

cert_result<pkey_ptr> parse_private_key(std::string_view pem,
                                        const std::string& source) {
  error_queue_guard guard;
  if (pem.size() > max_pem_file_size)
    return fail(cert_problem::not_pem, source,
                "is " + std::to_string(pem.size()) +
                    " bytes, far more than PEM credentials");
  auto bio = memory_bio(pem);
  if (!bio)
    return crypto_fail("reading " + source);
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (k == nullptr)
    return fail(cert_problem::not_pem, source,
                describe_not_pem(pem, "PRIVATE KEY", "key"));
  return pkey_ptr{k};
}

cert_result<cluster_ca> parse_cluster_ca(const pem_pair& pem,
                                         const std::string& cert_source,
                                         const std::string& key_source) {
  error_queue_guard guard;
  auto cert = parse_certificate(pem.cert, cert_source);
  if (!cert)
    return std::move(cert).err();
  auto key = parse_private_key(pem.key, key_source);
  if (!key)
    return std::move(key).err();
  if (!is_ca_cert(cert->get()))
    return fail(cert_problem::not_a_ca, cert_source,
                "is not a CA certificate (no CA:TRUE or no keyCertSign); give the "
                "directory that conflux-cert ca made");
  auto cluster = ca_cluster_of(cert->get());
  if (!cluster) {
    auto e = std::move(cluster).err();
    e.file = cert_source;
    e.message += "; conflux-cert issues only from a CA that conflux-cert ca made";
    return e;
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert->get()), key->get()) != 1)
    return fail(cert_problem::key_mismatch, key_source,
                "is not the key of the CA certificate " + cert_source +
                    "; use the ca.key written with that ca.crt");
  if (auto bad =
          check_times(cert->get(), cert_source, "the CA",
                      "make a new CA (conflux-cert ca) and issue new certificates"))
    return *bad;
  std::string cert_pem = pem_of(cert->get());
  if (cert_pem.empty())
    return crypto_fail("encoding the CA certificate as PEM");
  return cluster_ca{std::move(*cert), std::move(*key), std::move(*cluster),
                    std::move(cert_pem)};
}

cert_result<cluster_ca> load_cluster_ca(const std::string& cert_file,
                                        const std::string& key_file) {
  error_queue_guard guard;
  auto cert = read_small_file(cert_file, "CA certificate");
  if (!cert)
    return std::move(cert).err();
  auto key = read_small_file(key_file, "CA key");
  if (!key)
    return std::move(key).err();
  return parse_cluster_ca(pem_pair{std::move(*cert), std::move(*key)}, cert_file,
                          key_file);
}

cert_result<pem_pair> issue_node_certificate(const cluster_ca& ca,
                                             std::uint64_t node_id,
                                             const host_names& names,
                                             const validity& v) {
  error_queue_guard guard;
  auto who = peer_identity::node(ca.cluster_id, node_id);
  if (!who)
    return fail(cert_problem::invalid_argument, {}, who.err().message);
  for (const auto& d : names.dns)
    if (!valid_dns_name(d))
      return fail(cert_problem::invalid_argument, {},
                  "the DNS name " + quote(d) +
                      " is not a host name (dot-separated labels of a-z, 0-9 and '-', "
                      "no wildcards)");
  for (const auto& ip : names.ip)
    if (!ip_bytes(ip))
      return fail(cert_problem::invalid_argument, {},
                  quote(ip) + " is not an IPv4 or IPv6 address");
  if (auto bad = check_within_ca(ca, v))
    return *bad;
  cert_spec spec;
  spec.cluster_id = ca.cluster_id;
  spec.common_name = "node " + std::to_string(node_id);
  spec.uri = who->uri();
  spec.names = &names;
  spec.valid = v;
  spec.ext_key_usage = "serverAuth,clientAuth";
  return build_certificate(spec, ca.cert.get(), ca.key.get());
}

cert_result<pem_pair> issue_client_certificate(const cluster_ca& ca,
                                               std::string_view name,
                                               const validity& v) {
  error_queue_guard guard;
  auto who = peer_identity::client(ca.cluster_id, name);
  if (!who)
    return fail(cert_problem::invalid_argument, {}, who.err().message);
  if (auto bad = check_within_ca(ca, v))
    return *bad;
  cert_spec spec;
  spec.cluster_id = ca.cluster_id;
  spec.common_name = std::string{name};
  spec.uri = who->uri();
  spec.valid = v;
  spec.ext_key_usage = "clientAuth";
  return build_certificate(spec, ca.cert.get(), ca.key.get());
}

cert_result<peer_identity> identity_of(const X509* cert) {
  error_queue_guard guard;
  auto uris = conflux_uris_of(cert);
  if (!uris)
    return std::move(uris).err();
  if (uris->empty())
    return fail(cert_problem::no_identity, {},
                "names no conflux:// identity in its subjectAltName; issue it with "
                "conflux-cert node or conflux-cert client");
  if (uris->size() > 1) {
    std::string list;
    for (const auto& u : *uris)
      list += (list.empty() ? "" : ", ") + quote(u);
    return fail(cert_problem::bad_identity, {},
                "names " + std::to_string(uris->size()) + " conflux:// identities (" +
                    list + "); a certificate names exactly one");
  }
  auto who = parse_identity(uris->front());
  if (!who)
    return fail(cert_problem::bad_identity, {},
                "its identity is malformed: " + who.err().message);
  return std::move(*who);
}

cert_result<std::string> ca_cluster_of(const X509* ca) {
  error_queue_guard guard;
  auto uris = conflux_uris_of(ca);
  if (!uris)
    return std::move(uris).err();
  if (uris->empty())
    return fail(
        cert_problem::no_identity, {},
        "names no cluster (no conflux://<cluster-id>/ca URI in its subjectAltName)");
  if (uris->size() > 1)
    return fail(cert_problem::bad_identity, {},
                "names " + std::to_string(uris->size()) +
                    " conflux:// URIs; a cluster CA names exactly one");
  auto cluster = parse_ca_uri(uris->front());
  if (!cluster)
    return fail(cert_problem::bad_identity, {},
                "its cluster URI is malformed: " + cluster.err().message);
  return std::move(*cluster);
}

cert_result<credentials> load_credentials(const std::string& cert_file,
                                          const std::string& key_file,
                                          const std::string& ca_file,
                                          std::string_view expected_cluster,
                                          const expected_holder& holder) {
  error_queue_guard guard;
  if (auto ok = check_cluster_id(expected_cluster); !ok)
    return fail(cert_problem::invalid_argument, {},
                "this cluster's id cannot appear in a certificate: " +
                    ok.err().message);
  const std::string cluster{expected_cluster};

  // Each file readable and PEM.
  auto cert_text = read_small_file(cert_file, "certificate");
  if (!cert_text)
    return std::move(cert_text).err();
  auto chain = parse_all_certificates(*cert_text, cert_file, "certificate");
  if (!chain)
    return std::move(chain).err();
  auto key_text = read_small_file(key_file, "private key");
  if (!key_text)
    return std::move(key_text).err();
  auto key = parse_private_key(*key_text, key_file);
  if (!key)
    return std::move(key).err();
  auto ca_text = read_small_file(ca_file, "CA certificate");
  if (!ca_text)
    return std::move(ca_text).err();
  auto cas = parse_all_certificates(*ca_text, ca_file, "CA certificate");
  if (!cas)
    return std::move(cas).err();

  // Every CA in the CA file a CA of this cluster, valid now (a file may hold
  // the old and the new CA while the CA is replaced).
  for (auto& ca : *cas) {
    if (!is_ca_cert(ca.get()))
      return fail(cert_problem::not_a_ca, ca_file,
                  "holds a certificate that is not a CA (no CA:TRUE or no "
                  "keyCertSign): " +
                      name_text(X509_get_subject_name(ca.get())) +
                      "; give the cluster CA's ca.crt");
    auto ca_cluster = ca_cluster_of(ca.get());
    if (ca_cluster && *ca_cluster != cluster)
      return fail(cert_problem::wrong_cluster, ca_file,
                  "is the CA of cluster " + quote(*ca_cluster) + ", not of " +
                      quote(cluster) + "; give this cluster's ca.crt");
    if (!ca_cluster && ca_cluster.err().problem != cert_problem::no_identity)
      return fail(ca_cluster.err().problem, ca_file, ca_cluster.err().message);
    if (auto bad = check_times(ca.get(), ca_file, "the CA",
                               "make a new CA and new certificates (conflux-cert)"))
      return *bad;
  }

  // The key is the certificate's.
  X509* cert = chain->front().get();
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key->get()) != 1)
    return fail(cert_problem::key_mismatch, key_file,
                "is not the private key of the certificate " + cert_file +
                    "; use the key file written together with it");

  // Not the CA itself, issued by the CA, valid now, allowed for TLS clients.
  if (is_ca_cert(cert))
    return fail(cert_problem::not_for_tls, cert_file,
                "is a CA certificate; a node or client presents its own certificate "
                "(node.crt or client.crt), never a CA's");
  // OpenSSL would report an extension it cannot parse as a missing issuer.
  if ((X509_get_extension_flags(cert) & EXFLAG_INVALID) != 0)
    return fail(cert_problem::invalid_certificate, cert_file,
                "has a duplicate or malformed extension; issue a new certificate with "
                "conflux-cert");
  if (auto bad = verify_against(cert, *chain, *cas, cert_file, ca_file))
    return *bad;

  // The identity: well formed, of this cluster, of the expected holder.
  auto who = identity_of(cert);
  if (!who) {
    auto e = std::move(who).err();
    e.file = cert_file;
    return e;
  }
  if (who->cluster_id() != cluster)
    return fail(cert_problem::wrong_cluster, cert_file,
                "names " + who->describe() + ", not a member of cluster " +
                    quote(cluster) + "; use a certificate issued by this cluster's CA");
  if (holder.kind) {
    const bool kind_ok = who->kind() == *holder.kind;
    const bool id_ok =
        !who->is_node() || holder.node_id == 0 || who->node_id() == holder.node_id;
    if (!kind_ok || !id_ok)
      return fail(cert_problem::wrong_holder, cert_file,
                  "names " + who->describe() + ", but " + holder_text(holder) +
                      " is starting; use " + holder_text(holder) + "'s certificate");
    if (who->is_node() && X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0) != 1)
      return fail(cert_problem::not_for_tls, cert_file,
                  "may not be used by a TLS server (its extendedKeyUsage lacks "
                  "serverAuth), which a node is; issue it with conflux-cert node");
  }

  const std::int64_t not_after = to_unix(X509_get0_notAfter(cert));
  x509_ptr leaf = std::move(chain->front());
  return credentials{cert_file,       key_file,        ca_file,         std::move(leaf),
                     std::move(*key), std::move(*cas), std::move(*who), not_after};
}

cert_result<cert_summary> summarize_certificate(const std::string& file) {
  error_queue_guard guard;
  auto text = read_small_file(file, "certificate");
  if (!text)
    return std::move(text).err();
  auto cert = parse_certificate(*text, file);
  if (!cert)
    return std::move(cert).err();
  X509* x = cert->get();
  cert_summary out;
  out.is_ca = is_ca_cert(x);
  if (out.is_ca) {
    auto cluster = ca_cluster_of(x);
    if (cluster)
      out.ca_cluster = std::move(*cluster);
    else
      out.identity_problem = cluster.err().message;
  } else {
    auto who = identity_of(x);
    if (who)
      out.identity = std::move(*who);
    else
      out.identity_problem = who.err().message;
  }
  out.subject = name_text(X509_get_subject_name(x));
  out.issuer = name_text(X509_get_issuer_name(x));
  bn_ptr serial{ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr)};
  if (char* hex = serial ? BN_bn2hex(serial.get()) : nullptr) {
    out.serial = hex;
    OPENSSL_free(hex);
  }
  out.not_before = to_unix(X509_get0_notBefore(x));
  out.not_after = to_unix(X509_get0_notAfter(x));
  out.names = host_names_of(x);
  return out;
}

namespace {

/// A temporary file written next to its target and not yet moved into place;
/// removed unless committed.
struct staged_file {
  std::string path;
  std::string tmp;
  staged_file() = default;
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;
  staged_file(staged_file&& o) noexcept
      : path(std::move(o.path)), tmp(std::move(o.tmp)) {
    o.tmp.clear();
  }
  ~staged_file() {
    if (!tmp.empty())
      ::unlink(tmp.c_str());
  }
};

/// Whether `path` holds exactly `content`; nothing if it does not exist.
cert_result<std::optional<bool>> existing_content_equals(const std::string& path,
                                                         const std::string& content) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return std::optional<bool>{};
    return fail(cert_problem::io_failure, path,
                "cannot inspect it: " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode) || static_cast<std::size_t>(st.st_size) != content.size())
    return std::optional<bool>{false};
  auto bytes = read_small_file(path, "file");
  return std::optional<bool>{bytes.ok() && *bytes == content};
}

cert_result<staged_file> stage(const std::string& dir, const output_file& f) {
  staged_file s;
  s.path = join_path(dir, f.name);
  std::string tmpl = join_path(dir, "." + f.name + ".XXXXXX");
  int fd = ::mkstemp(tmpl.data()); // mode 0600 from the start
  if (fd < 0)
    return fail(cert_problem::io_failure, s.path,
                "cannot create a temporary file in " + dir + ": " + errno_text(errno));
  s.tmp = tmpl;
  const mode_t mode = f.access == file_access::owner_only ? 0600 : 0644;
  std::size_t done = 0;
  int err = ::fchmod(fd, mode) == 0 ? 0 : errno;
  while (err == 0 && done < f.content.size()) {
    ssize_t n = ::write(fd, f.content.data() + done, f.content.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      err = errno;
    else
      done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0)
    err = errno;
  if (::close(fd) != 0 && err == 0)
    err = errno;
  if (err != 0)
    return fail(cert_problem::io_failure, s.path,
                "cannot write it: " + errno_text(err));
  return s;
}

} // namespace

cert_result<void> write_files(const std::string& dir,
                              const std::vector<output_file>& files, overwrite mode) {
  for (const auto& f : files)
    if (f.name.empty() || f.name == "." || f.name == ".." ||
        f.name.find('/') != std::string::npos)
      return fail(cert_problem::invalid_argument, {},
                  quote(f.name) + " is not a plain file name");

  // The directory: made 0700 if missing (it will hold private keys).
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return fail(cert_problem::io_failure, dir,
                  "cannot create the directory: " + ec.message());
    if (::chmod(dir.c_str(), 0700) != 0)
      return fail(cert_problem::io_failure, dir,
                  "cannot make the directory private (mode 0700): " +
                      errno_text(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    return fail(cert_problem::invalid_argument, dir, "exists and is not a directory");
  }

  // Which files to write; with overwrite::refuse, none if any would replace
  // a different file.
  std::vector<const output_file*> todo;
  for (const auto& f : files) {
    const std::string path = join_path(dir, f.name);
    auto same = existing_content_equals(path, f.content);
    if (!same)
      return std::move(same).err();
    if (same->has_value() && **same)
      continue; // already there, byte for byte
    if (same->has_value() && mode == overwrite::refuse)
      return fail(cert_problem::already_exists, path,
                  "exists already; nothing was written");
    todo.push_back(&f);
  }

  // Every file written and synced beside its target before any is moved into
  // place, so a failure here leaves the directory as it was.
  std::vector<staged_file> staged;
  for (const output_file* f : todo) {
    auto s = stage(dir, *f);
    if (!s)
      return std::move(s).err();
    staged.push_back(std::move(*s));
  }
  for (auto& s : staged) {
    if (mode == overwrite::replace) {
      if (::rename(s.tmp.c_str(), s.path.c_str()) != 0)
        return fail(cert_problem::io_failure, s.path,
                    "cannot move it into place: " + errno_text(errno));
    } else {
      // link() fails if the target appeared meanwhile: never replaces.
      if (::link(s.tmp.c_str(), s.path.c_str()) != 0) {
        int e = errno;
        if (e == EEXIST)
          return fail(cert_problem::already_exists, s.path,
                      "appeared while writing; it was left as it is");
        return fail(cert_problem::io_failure, s.path,
                    "cannot move it into place: " + errno_text(e));
      }
      ::unlink(s.tmp.c_str());
    }
    s.tmp.clear();
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    int e = errno;
    if (dfd >= 0)
      ::close(dfd);
    return fail(cert_problem::io_failure, dir,
                "cannot sync the directory: " + errno_text(e));
  }
  ::close(dfd);
  return {};
}

result<void, cert_error> write_leaf_dir(const std::string& dir, const std::string& leaf,
                                        const pem_pair& pem, const cluster_ca& ca,
                                        overwrite mode) {
  return write_files(dir,
                     {{leaf + ".crt", pem.cert, file_access::world_readable},
                      {leaf + ".key", pem.key, file_access::owner_only},
                      {"ca.crt", ca.cert_pem, file_access::world_readable}},
                     mode);
}

} // namespace conflux::actors
