// Cluster certificates (actors/tls_certs.hpp): what conflux-cert makes, and
// load_credentials() accepting exactly the triples a node or client may start
// with, refusing every other with the problem and the file at fault.

#include "actors/tls_certs.hpp"
#include "tests/storage/temp_dir.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sstream>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace conflux;
using namespace conflux::actors;

namespace {

constexpr std::int64_t day = 86400;

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

using ::conflux::storage::test::temp_dir;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f{path, std::ios::binary | std::ios::trunc};
  f << text;
  if (!f)
    throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

template <class T>
T must(cert_result<T> r) {
  if (!r.ok())
    FAIL("unexpected error: " << to_string(r.err()));
  return std::move(r).value();
}

peer_identity must(identity_result<peer_identity> r) {
  if (!r.ok())
    FAIL("unexpected error: " << r.err().message);
  return std::move(r).value();
}

cluster_ca ca_from(const pem_pair& pem) {
  return must(parse_cluster_ca(pem, "ca.crt", "ca.key"));
}

/// A CA without the time check parse_cluster_ca makes (to issue from an
/// expired CA).
cluster_ca ca_from_unchecked(const pem_pair& pem, const std::string& cluster) {
  return cluster_ca{must(parse_certificate(pem.cert, "ca.crt")),
                    must(parse_private_key(pem.key, "ca.key")), cluster, pem.cert};
}

/// One cluster's CA and the files of node 1 and client "ci" in a temp dir.
struct cluster_files {
  temp_dir dir;
  pem_pair ca_pem;
  cluster_ca ca;

  explicit cluster_files(const std::string& cluster = "prod")
      : ca_pem(must(make_cluster_ca(cluster, {now() - 30 * day, now() + 3650 * day}))),
        ca(ca_from(ca_pem)) {
    write_text(ca_file(), ca_pem.cert);
    put("node", must(issue_node_certificate(ca, 1, {}, valid_for_days(30))));
    put("client", must(issue_client_certificate(ca, "ci", valid_for_days(30))));
  }
  std::string ca_file() const { return dir.sub("ca.crt"); }
  std::string crt(const std::string& name) const { return dir.sub(name + ".crt"); }
  std::string key(const std::string& name) const { return dir.sub(name + ".key"); }
  /// Writes NAME.crt and NAME.key.
  void put(const std::string& name, const pem_pair& p) const {
    write_text(crt(name), p.cert);
    write_text(key(name), p.key);
  }
  cert_result<credentials> load(const std::string& name,
                                const expected_holder& h = expected_holder::anyone(),
                                const std::string& cluster = "prod") const {
    return load_credentials(crt(name), key(name), ca_file(), cluster, h);
  }
};

/// The problem and file of a refusal, as "problem @ file", or "ok".
std::string refusal(const cert_result<credentials>& r) {
  if (r.ok())
    return "ok";
  return std::string{to_string(r.err().problem)} + " @ " + r.err().file;
}

// -- forging certificates the tool would never make ---------------------------

struct forge_spec {
  std::vector<std::string> uris;
  const char* ext_key_usage = "serverAuth,clientAuth";
  bool two_san_extensions = false;
};

/// A leaf signed by `ca` whose subjectAltName holds exactly `spec.uris`.
pem_pair forge_leaf(const cluster_ca& ca, const forge_spec& spec) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  REQUIRE(key != nullptr);
  REQUIRE(x != nullptr);
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<std::time_t>(now() - day));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<std::time_t>(now() + day));
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("forged"), -1, -1,
                             0);
  X509_set_issuer_name(x, X509_get_subject_name(ca.cert.get()));
  X509_set_pubkey(x, key);
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, ca.cert.get(), x, nullptr, nullptr, 0);
  std::vector<std::string> exts = {"critical,CA:FALSE", "critical,digitalSignature",
                                   spec.ext_key_usage, "keyid:always"};
  std::vector<int> nids = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
                           NID_authority_key_identifier};
  for (std::size_t i = 0; i < exts.size(); ++i) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nids[i], exts[i].c_str());
    REQUIRE(e != nullptr);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  auto add_san = [&](const std::vector<std::string>& uris) {
    std::string value;
    for (const auto& u : uris)
      value += (value.empty() ? "URI:" : ",URI:") + u;
    X509_EXTENSION* e =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, value.c_str());
    REQUIRE(e != nullptr);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  };
  if (!spec.uris.empty())
    add_san(spec.uris);
  if (spec.two_san_extensions)
    add_san({"https://example.com/"});
  REQUIRE(X509_sign(x, ca.key.get(), EVP_sha256()) > 0);

  BIO* cb = BIO_new(BIO_s_mem());
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(cb, &data);
  pem_pair out;
  out.cert.assign(data, static_cast<std::size_t>(n));
  n = BIO_get_mem_data(kb, &data);
  out.key.assign(data, static_cast<std::size_t>(n));
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

} // namespace

// -- what the tool makes ------------------------------------------------------

TEST_CASE("a_cluster_ca_is_a_ca_that_names_its_cluster") {
  auto pem = must(make_cluster_ca("prod", valid_for_days(10)));
  auto cert = must(parse_certificate(pem.cert, "ca.crt"));
  CHECK(X509_check_ca(cert.get()) == 1);
  CHECK((X509_get_key_usage(cert.get()) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) ==
        (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(X509_get0_subject_key_id(cert.get()) != nullptr);
  CHECK(must(ca_cluster_of(cert.get())) == "prod");
  auto ca = ca_from(pem);
  CHECK(ca.cluster_id == "prod");
  CHECK(EVP_PKEY_get_bits(ca.key.get()) == 256);
  CHECK(EVP_PKEY_is_a(ca.key.get(), "EC"));
  CHECK(pem.key.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
}

TEST_CASE("node_and_client_certificates_carry_their_identity_and_usages") {
  cluster_files f;
  auto node = must(parse_certificate(read_text(f.crt("node")), "node.crt"));
  auto client = must(parse_certificate(read_text(f.crt("client")), "client.crt"));
  CHECK(must(identity_of(node.get())) == must(peer_identity::node("prod", 1)));
  CHECK(must(identity_of(client.get())) == must(peer_identity::client("prod", "ci")));
  for (X509* x : {node.get(), client.get()}) {
    CHECK(X509_check_ca(x) == 0);
    CHECK(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
    CHECK(X509_get0_authority_key_id(x) != nullptr);
    CHECK(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) == 1);
  }
  CHECK(X509_get_extended_key_usage(node.get()) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
  CHECK(X509_get_extended_key_usage(client.get()) == XKU_SSL_CLIENT);
  CHECK(X509_check_purpose(node.get(), X509_PURPOSE_SSL_SERVER, 0) == 1);
  CHECK(X509_check_purpose(client.get(), X509_PURPOSE_SSL_SERVER, 0) != 1);
  ERR_clear_error();
}

TEST_CASE("serial_numbers_are_random_positive_and_distinct") {
  cluster_files f;
  std::vector<std::string> seen;
  for (int i = 0; i < 8; ++i) {
    auto pem = must(
        issue_client_certificate(f.ca, "c" + std::to_string(i), valid_for_days(1)));
    auto x = must(parse_certificate(pem.cert, "c.crt"));
    const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
    CHECK(ASN1_STRING_type(serial) == V_ASN1_INTEGER); // not V_ASN1_NEG_INTEGER
    CHECK(ASN1_STRING_length(serial) >= 8);
    CHECK(ASN1_STRING_length(serial) <= 16);
    seen.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
                      static_cast<std::size_t>(ASN1_STRING_length(serial)));
  }
  std::sort(seen.begin(), seen.end());
  CHECK(std::unique(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("a_node_certificate_carries_the_dns_names_and_ip_addresses_asked_for") {
  cluster_files f;
  auto pem = must(issue_node_certificate(
      f.ca, 7, {{"node7.example.com"}, {"10.1.2.3", "::1"}}, valid_for_days(1)));
  f.put("node7", pem);
  auto s = must(summarize_certificate(f.crt("node7")));
  REQUIRE(s.identity.has_value());
  CHECK(s.identity->uri() == "conflux://prod/node/7");
  CHECK(s.names.dns == std::vector<std::string>{"node7.example.com"});
  CHECK(s.names.ip == std::vector<std::string>{"10.1.2.3", "::1"});
  CHECK(s.subject == "O = conflux, OU = prod, CN = node 7");
  CHECK(s.issuer == "O = conflux, OU = prod, CN = conflux cluster prod CA");
  CHECK_FALSE(s.is_ca);
}

TEST_CASE("bad_names_and_validities_are_refused_when_issuing") {
  cluster_files f;
  auto v = valid_for_days(1);
  CHECK(issue_node_certificate(f.ca, 0, {}, v).err().problem ==
        cert_problem::invalid_argument);
  CHECK(issue_node_certificate(f.ca, 1, {{"-bad.example"}, {}}, v).err().problem ==
        cert_problem::invalid_argument);
  CHECK(issue_node_certificate(f.ca, 1, {{"*.example.com"}, {}}, v).err().problem ==
        cert_problem::invalid_argument);
  CHECK(issue_node_certificate(f.ca, 1, {{}, {"10.0.0.256"}}, v).err().problem ==
        cert_problem::invalid_argument);
  CHECK(issue_client_certificate(f.ca, ".x", v).err().problem ==
        cert_problem::invalid_argument);
  CHECK(issue_client_certificate(f.ca, "x", {now(), now() - 1}).err().problem ==
        cert_problem::invalid_argument);
  CHECK(make_cluster_ca("Prod", v).err().problem == cert_problem::invalid_argument);
}

TEST_CASE("a_certificate_cannot_outlive_its_ca") {
  auto ca = ca_from(must(make_cluster_ca("prod", valid_for_days(10))));
  auto r = issue_node_certificate(ca, 1, {}, valid_for_days(11));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().problem == cert_problem::invalid_argument);
  CHECK(r.err().message.find("outlive its CA") != std::string::npos);
  CHECK(issue_node_certificate(ca, 1, {}, valid_for_days(9)).ok());
}

TEST_CASE("a_ca_with_a_long_cluster_id_gets_a_short_common_name") {
  const std::string id(63, 'c');
  auto pem = must(make_cluster_ca(id, valid_for_days(1)));
  auto x = must(parse_certificate(pem.cert, "ca.crt"));
  CHECK(must(ca_cluster_of(x.get())) == id);
}

// -- load_credentials accepts ---------------------------------------------------

TEST_CASE("load_credentials_accepts_a_node_certificate_of_its_cluster") {
  cluster_files f;
  auto r = f.load("node", expected_holder::node(1));
  REQUIRE_MESSAGE(r.ok(), refusal(r));
  CHECK(r->identity == must(peer_identity::node("prod", 1)));
  CHECK(r->cert_file == f.crt("node"));
  CHECK(r->cas.size() == 1);
  CHECK(r->not_after > now() + 29 * day);
  CHECK(r->not_after <= now() + 30 * day);
  CHECK(f.load("node", expected_holder::node(0)).ok()); // any node
  CHECK(f.load("node").ok());                           // anyone
}

TEST_CASE("load_credentials_accepts_a_client_certificate_of_its_cluster") {
  cluster_files f;
  auto r = f.load("client", expected_holder::client());
  REQUIRE_MESSAGE(r.ok(), refusal(r));
  CHECK(r->identity == must(peer_identity::client("prod", "ci")));
  CHECK(f.load("client").ok());
}

TEST_CASE("a_ca_file_holding_the_old_and_the_new_ca_accepts_certificates_of_both") {
  cluster_files f;
  auto new_ca = ca_from(must(make_cluster_ca("prod", valid_for_days(3650))));
  f.put("new", must(issue_node_certificate(new_ca, 1, {}, valid_for_days(30))));
  CHECK(refusal(f.load("new")) == "not_signed_by_ca @ " + f.crt("new"));
  write_text(f.ca_file(), f.ca_pem.cert + new_ca.cert_pem);
  CHECK(refusal(f.load("new")) == "ok");
  CHECK(refusal(f.load("node")) == "ok");
  // A damaged second CA is not skipped.
  auto damaged = new_ca.cert_pem;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == '!' ? '?' : '!';
  write_text(f.ca_file(), f.ca_pem.cert + damaged);
  CHECK(refusal(f.load("node")) == "not_pem @ " + f.ca_file());
}

// -- load_credentials refuses ---------------------------------------------------

TEST_CASE("a_certificate_issued_by_another_ca_is_refused") {
  cluster_files f;
  auto other = ca_from(must(make_cluster_ca("prod", valid_for_days(3650))));
  f.put("foreign", must(issue_node_certificate(other, 1, {}, valid_for_days(30))));
  auto r = f.load("foreign");
  CHECK(refusal(r) == "not_signed_by_ca @ " + f.crt("foreign"));
  CHECK(r.err().message.find("was not issued by the CA in " + f.ca_file()) !=
        std::string::npos);
}

TEST_CASE("an_expired_certificate_is_refused") {
  cluster_files f;
  f.put("old",
        must(issue_node_certificate(f.ca, 1, {}, {now() - 20 * day, now() - day})));
  auto r = f.load("old");
  CHECK(refusal(r) == "expired @ " + f.crt("old"));
  CHECK(r.err().message.find("expired on ") != std::string::npos);
}

TEST_CASE("a_certificate_not_valid_yet_is_refused") {
  cluster_files f;
  f.put("early",
        must(issue_node_certificate(f.ca, 1, {}, {now() + day, now() + 20 * day})));
  CHECK(refusal(f.load("early")) == "not_yet_valid @ " + f.crt("early"));
}

TEST_CASE("an_expired_ca_is_refused_naming_the_ca_file") {
  cluster_files f;
  auto old_pem = must(make_cluster_ca("prod", {now() - 30 * day, now() - day}));
  auto old = ca_from_unchecked(old_pem, "prod");
  f.put("n",
        must(issue_node_certificate(old, 1, {}, {now() - 20 * day, now() - 2 * day})));
  write_text(f.ca_file(), old_pem.cert);
  CHECK(refusal(f.load("n")) == "expired @ " + f.ca_file());
  // Nor does the tool issue from it.
  auto r = parse_cluster_ca(old_pem, "ca.crt", "ca.key");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().problem == cert_problem::expired);
  CHECK(r.err().file == "ca.crt");
}

TEST_CASE("a_certificate_from_another_cluster_is_refused") {
  cluster_files f;
  cluster_files other{"staging"};
  // Its own CA and certificate, loaded by a node of cluster prod.
  CHECK(refusal(other.load("node", expected_holder::node(1), "prod")) ==
        "wrong_cluster @ " + other.ca_file());
  // Another cluster's identity signed by this cluster's CA (a CA shared by
  // mistake): the identity decides.
  f.put("stg", forge_leaf(f.ca, {{"conflux://staging/node/1"}}));
  auto r = f.load("stg");
  CHECK(refusal(r) == "wrong_cluster @ " + f.crt("stg"));
  CHECK(r.err().message.find("node 1 of cluster staging") != std::string::npos);
}

TEST_CASE("a_key_of_another_certificate_is_refused") {
  cluster_files f;
  write_text(f.key("node"), read_text(f.key("client")));
  CHECK(refusal(f.load("node")) == "key_mismatch @ " + f.key("node"));
}

TEST_CASE("a_missing_file_is_refused_naming_it") {
  cluster_files f;
  auto none = f.dir.sub("nope");
  CHECK(refusal(load_credentials(none, f.key("node"), f.ca_file(), "prod")) ==
        "missing_file @ " + none);
  CHECK(refusal(load_credentials(f.crt("node"), none, f.ca_file(), "prod")) ==
        "missing_file @ " + none);
  CHECK(refusal(load_credentials(f.crt("node"), f.key("node"), none, "prod")) ==
        "missing_file @ " + none);
  CHECK(refusal(load_credentials(f.dir.path(), f.key("node"), f.ca_file(), "prod")) ==
        "missing_file @ " + f.dir.path());
  auto r = load_credentials(none, f.key("node"), f.ca_file(), "prod");
  CHECK(r.err().message.find("No such file or directory") != std::string::npos);
}

TEST_CASE("a_file_that_is_not_pem_is_refused_naming_it") {
  cluster_files f;
  auto junk = f.dir.sub("junk");
  write_text(junk, "this is not a certificate\n");
  CHECK(refusal(load_credentials(junk, f.key("node"), f.ca_file(), "prod")) ==
        "not_pem @ " + junk);
  CHECK(refusal(load_credentials(f.crt("node"), junk, f.ca_file(), "prod")) ==
        "not_pem @ " + junk);
  CHECK(refusal(load_credentials(f.crt("node"), f.key("node"), junk, "prod")) ==
        "not_pem @ " + junk);
  // Certificate and key swapped.
  auto r = load_credentials(f.key("node"), f.crt("node"), f.ca_file(), "prod");
  CHECK(refusal(r) == "not_pem @ " + f.key("node"));
  CHECK(r.err().message.find("\"PRIVATE KEY\" block, not a CERTIFICATE") !=
        std::string::npos);
  // A damaged certificate.
  auto pem = read_text(f.crt("node"));
  pem[pem.size() / 2] = pem[pem.size() / 2] == 'A' ? 'B' : 'A';
  write_text(junk, pem);
  CHECK(load_credentials(junk, f.key("node"), f.ca_file(), "prod").ok() == false);
}

TEST_CASE("an_encrypted_key_is_refused_without_asking_for_a_passphrase") {
  cluster_files f;
  auto key = must(parse_private_key(read_text(f.key("node")), "node.key"));
  BIO* b = BIO_new(BIO_s_mem());
  const char* pass = "secret";
  REQUIRE(PEM_write_bio_PKCS8PrivateKey(b, key.get(), EVP_aes_256_cbc(), pass, 6,
                                        nullptr, nullptr) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  write_text(f.key("node"), std::string{data, static_cast<std::size_t>(n)});
  BIO_free(b);
  auto r = f.load("node");
  CHECK(refusal(r) == "not_pem @ " + f.key("node"));
  CHECK(r.err().message.find("encrypted") != std::string::npos);
}

TEST_CASE("a_client_certificate_where_a_node_is_expected_is_refused") {
  cluster_files f;
  CHECK(refusal(f.load("client", expected_holder::node(1))) ==
        "wrong_holder @ " + f.crt("client"));
  CHECK(refusal(f.load("client", expected_holder::node(0))) ==
        "wrong_holder @ " + f.crt("client"));
  CHECK(refusal(f.load("node", expected_holder::client())) ==
        "wrong_holder @ " + f.crt("node"));
}

TEST_CASE("another_nodes_certificate_is_refused") {
  cluster_files f;
  auto r = f.load("node", expected_holder::node(2));
  CHECK(refusal(r) == "wrong_holder @ " + f.crt("node"));
  CHECK(r.err().message == "names node 1 of cluster prod, but node 2 is starting; use "
                           "node 2's certificate");
}

TEST_CASE("a_node_certificate_without_server_auth_is_refused_for_a_node") {
  cluster_files f;
  f.put("n", forge_leaf(f.ca, {{"conflux://prod/node/1"}, "clientAuth"}));
  CHECK(refusal(f.load("n")) == "ok");
  CHECK(refusal(f.load("n", expected_holder::node(1))) ==
        "not_for_tls @ " + f.crt("n"));
  f.put("s", forge_leaf(f.ca, {{"conflux://prod/node/1"}, "serverAuth"}));
  CHECK(refusal(f.load("s")) == "not_for_tls @ " + f.crt("s"));
}

TEST_CASE("a_ca_file_that_is_not_a_ca_is_refused") {
  cluster_files f;
  auto r = load_credentials(f.crt("client"), f.key("client"), f.crt("node"), "prod");
  CHECK(refusal(r) == "not_a_ca @ " + f.crt("node"));
  // Nor does the tool issue from a leaf.
  pem_pair leaf{read_text(f.crt("node")), read_text(f.key("node"))};
  CHECK(parse_cluster_ca(leaf, "x.crt", "x.key").err().problem ==
        cert_problem::not_a_ca);
}

TEST_CASE("a_ca_certificate_used_as_a_node_certificate_is_refused") {
  cluster_files f;
  f.put("ca-as-node", f.ca_pem);
  auto r = f.load("ca-as-node");
  CHECK(refusal(r) == "not_for_tls @ " + f.crt("ca-as-node"));
  CHECK(r.err().message.find("is a CA certificate") != std::string::npos);
}

TEST_CASE("a_certificate_without_exactly_one_good_identity_is_refused") {
  cluster_files f;
  f.put("none", forge_leaf(f.ca, {{}}));
  CHECK(refusal(f.load("none")) == "no_identity @ " + f.crt("none"));
  f.put("other", forge_leaf(f.ca, {{"spiffe://prod/node/1"}}));
  CHECK(refusal(f.load("other")) == "no_identity @ " + f.crt("other"));
  f.put("two", forge_leaf(f.ca, {{"conflux://prod/node/1", "conflux://prod/node/2"}}));
  CHECK(refusal(f.load("two")) == "bad_identity @ " + f.crt("two"));
  f.put("bad", forge_leaf(f.ca, {{"conflux://prod/node/01"}}));
  CHECK(refusal(f.load("bad")) == "bad_identity @ " + f.crt("bad"));
  f.put("upper", forge_leaf(f.ca, {{"CONFLUX://prod/node/1"}}));
  CHECK(refusal(f.load("upper")) == "bad_identity @ " + f.crt("upper"));
  f.put("twoext",
        forge_leaf(f.ca, {{"conflux://prod/node/1"}, "serverAuth,clientAuth", true}));
  // OpenSSL's verification refuses a duplicate extension before the identity
  // is read; identity_of() refuses it too (a TLS verify callback calls it).
  CHECK_MESSAGE(refusal(f.load("twoext")) == "invalid_certificate @ " + f.crt("twoext"),
                f.load("twoext").err().message);
  auto twoext = must(parse_certificate(read_text(f.crt("twoext")), "twoext.crt"));
  CHECK(identity_of(twoext.get()).err().problem == cert_problem::bad_identity);
  // Other URIs beside the one conflux:// URI are fine.
  f.put("mixed", forge_leaf(f.ca, {{"https://example.com/", "conflux://prod/node/1"}}));
  CHECK(refusal(f.load("mixed")) == "ok");
}

TEST_CASE("a_bad_expected_cluster_id_is_refused") {
  cluster_files f;
  auto r = f.load("node", expected_holder::anyone(), "Prod");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().problem == cert_problem::invalid_argument);
}

TEST_CASE("cert_functions_leave_the_openssl_error_queue_empty") {
  cluster_files f;
  auto junk = f.dir.sub("junk");
  write_text(junk, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  CHECK_FALSE(load_credentials(junk, f.key("node"), f.ca_file(), "prod").ok());
  CHECK(ERR_peek_error() == 0);
  write_text(junk, "not PEM at all\n");
  CHECK_FALSE(load_credentials(junk, f.key("node"), f.ca_file(), "prod").ok());
  CHECK(ERR_peek_error() == 0);
  CHECK_FALSE(load_credentials(f.crt("node"), junk, f.ca_file(), "prod").ok());
  CHECK(ERR_peek_error() == 0);
  CHECK_FALSE(parse_private_key("not PEM", "k").ok());
  CHECK(ERR_peek_error() == 0);
  auto other = ca_from(must(make_cluster_ca("prod", valid_for_days(3650))));
  f.put("foreign", must(issue_node_certificate(other, 1, {}, valid_for_days(30))));
  CHECK_FALSE(f.load("foreign").ok());
  CHECK(ERR_peek_error() == 0);
  write_text(f.key("node"), read_text(f.key("client")));
  CHECK_FALSE(f.load("node").ok());
  CHECK(ERR_peek_error() == 0);
}

// -- writing files --------------------------------------------------------------

TEST_CASE("written_keys_are_owner_only_and_certificates_world_readable") {
  temp_dir t;
  const auto dir = t.sub("out/tls");
  REQUIRE(write_files(dir,
                      {{"a.crt", "cert\n", file_access::world_readable},
                       {"a.key", "key\n", file_access::owner_only}},
                      overwrite::refuse)
              .ok());
  CHECK(read_text(dir + "/a.crt") == "cert\n");
  CHECK(read_text(dir + "/a.key") == "key\n");
  CHECK(file_mode(dir + "/a.crt") == 0644);
  CHECK(file_mode(dir + "/a.key") == 0600);
  CHECK(file_mode(dir) == 0700);
  // No temporary file is left behind.
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir))
    ++n;
  CHECK(n == 2);
}

TEST_CASE("existing_files_are_replaced_only_when_asked") {
  temp_dir t;
  const auto dir = t.path();
  write_text(dir + "/b.key", "old key\n");
  auto r = write_files(dir,
                       {{"a.crt", "cert\n", file_access::world_readable},
                        {"b.key", "new key\n", file_access::owner_only}},
                       overwrite::refuse);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().problem == cert_problem::already_exists);
  CHECK(r.err().file == dir + "/b.key");
  // Nothing was written, not even the file that did not exist.
  CHECK(read_text(dir + "/b.key") == "old key\n");
  CHECK_FALSE(std::filesystem::exists(dir + "/a.crt"));

  REQUIRE(write_files(dir,
                      {{"a.crt", "cert\n", file_access::world_readable},
                       {"b.key", "new key\n", file_access::owner_only}},
                      overwrite::replace)
              .ok());
  CHECK(read_text(dir + "/b.key") == "new key\n");
  CHECK(file_mode(dir + "/b.key") == 0600);
  CHECK(read_text(dir + "/a.crt") == "cert\n");
}

TEST_CASE("an_identical_existing_file_is_no_conflict") {
  temp_dir t;
  const auto dir = t.path();
  write_text(dir + "/ca.crt", "same\n");
  REQUIRE(write_files(dir,
                      {{"ca.crt", "same\n", file_access::world_readable},
                       {"n.crt", "n\n", file_access::world_readable}},
                      overwrite::refuse)
              .ok());
  CHECK(read_text(dir + "/n.crt") == "n\n");
}

TEST_CASE("a_file_name_with_a_slash_is_refused") {
  temp_dir t;
  auto r = write_files(t.path(), {{"../x", "x", file_access::world_readable}},
                       overwrite::replace);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().problem == cert_problem::invalid_argument);
}
