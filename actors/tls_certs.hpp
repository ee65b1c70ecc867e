#pragma once
// The certificates of a Conflux cluster (docs/security.md, Certificates):
// making a cluster CA and the node and client certificates it issues, reading
// the identity (protocol/identity.hpp) a certificate names, checking a
// certificate/key/CA triple completely before TLS starts, and writing PEM
// files safely. OpenSSL 3 only, no CAF: conflux-cert links it alone. The node
// and the client library are to call load_credentials() before TLS starts
// (and on reload), so that a bad credential is a clean error naming the file,
// and identity_of() on the certificate a peer presented.
//
// Every certificate has an ECDSA P-256 key, a random 128-bit serial and is
// signed with SHA-256. What each carries:
//   CA      CA:TRUE, pathlen 0 (critical); keyCertSign, cRLSign (critical);
//           subject key id; SAN URI conflux://<cluster>/ca
//   node    CA:FALSE (critical); digitalSignature (critical); serverAuth, clientAuth;
//           subject and authority key ids; SAN URI conflux://<cluster>/node/<id>
//           and any DNS names and IP addresses asked for
//   client  as a node but clientAuth only; SAN URI conflux://<cluster>/client/<name>
//
// Every public function leaves the calling thread's OpenSSL error queue empty
// (TLS code on the same thread reads that queue).

#include "protocol/identity.hpp"
#include "protocol/result.hpp"

#include <cstdint>
#include <memory>
#include <openssl/types.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::actors {

/// Why a certificate, key or CA was refused, or a certificate could not be
/// made or written. One value per thing an operator fixes differently.
enum class cert_problem : std::uint8_t {
  /// The file does not exist, is not a regular file or cannot be read.
  missing_file = 1,
  /// The file holds no PEM certificate (or private key) where one is expected,
  /// or the key is encrypted.
  not_pem,
  /// The private key does not belong to the certificate.
  key_mismatch,
  /// The certificate was not issued by the CA given (or its signature is bad).
  not_signed_by_ca,
  /// The certificate (or the CA) is past its not-after time.
  expired,
  /// The certificate (or the CA) is before its not-before time.
  not_yet_valid,
  /// The certificate names no conflux:// identity in its subjectAltName.
  no_identity,
  /// Its conflux:// URI is malformed, or it has more than one.
  bad_identity,
  /// The certificate or CA belongs to another cluster.
  wrong_cluster,
  /// The identity is of the wrong holder: a client where a node is expected,
  /// or another node.
  wrong_holder,
  /// The certificate may not be used for the TLS role asked (keyUsage,
  /// extendedKeyUsage), or is a CA certificate.
  not_for_tls,
  /// The certificate breaks an X.509 rule OpenSSL checks (a duplicate or
  /// malformed extension, say).
  invalid_certificate,
  /// The CA file holds a certificate that is not a CA (CA:TRUE, keyCertSign).
  not_a_ca,
  /// A file to be written exists already with other content.
  already_exists,
  /// A request that cannot be met: bad days, a DNS name or IP address that
  /// does not parse, a validity outside the CA's.
  invalid_argument,
  /// Writing a file or directory failed.
  io_failure,
  /// OpenSSL failed where it should not (out of memory, no randomness).
  crypto_failure,
};

/// Stable lowercase name of a problem ("not_signed_by_ca").
std::string_view to_string(cert_problem problem) noexcept;

/// A problem, the file it is about (empty if none), and a sentence a person
/// can act on (it does not repeat the file name).
struct cert_error {
  cert_problem problem{};
  std::string file;
  std::string message;
};

/// "FILE: message", or the message alone when no file is concerned.
std::string to_string(const cert_error& e);

template <class T>
using cert_result = result<T, cert_error>;

struct x509_free {
  void operator()(X509* x) const noexcept;
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept;
};
/// Owned OpenSSL objects.
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

/// When a certificate is valid, in seconds since the Unix epoch (UTC).
struct validity {
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
};

/// From five minutes ago (for clocks a little behind) to `days` days from now.
validity valid_for_days(std::int64_t days);

/// A certificate and its private key, PEM-encoded (the key as unencrypted
/// PKCS#8, "BEGIN PRIVATE KEY").
struct pem_pair {
  std::string cert;
  std::string key;
};

/// A parsed, checked cluster CA: a CA certificate naming its cluster
/// (conflux://<cluster>/ca), currently valid, with its matching key.
struct cluster_ca {
  x509_ptr cert;
  pkey_ptr key;
  std::string cluster_id;
  /// The certificate alone as PEM, to copy next to the certificates it issues.
  std::string cert_pem;
};

/// DNS names and IP addresses a node certificate also carries, for people and
/// tools that check host names (Conflux itself checks the conflux:// URI).
struct host_names {
  std::vector<std::string> dns;
  std::vector<std::string> ip;
};

/// Makes a self-signed CA for cluster `cluster_id` (checked with
/// check_cluster_id). Subject O=conflux, OU=<cluster>, CN="conflux cluster
/// <cluster> CA" (CN "conflux cluster CA" when that would pass 64 characters).
cert_result<pem_pair> make_cluster_ca(std::string_view cluster_id, const validity& v);

/// Parses and checks a CA from PEM; `cert_source` / `key_source` name the
/// two in errors (file names, or words such as "the CA certificate").
cert_result<cluster_ca> parse_cluster_ca(const pem_pair& pem,
                                         const std::string& cert_source,
                                         const std::string& key_source);

/// Reads `cert_file` and `key_file` and parse_cluster_ca()s them.
cert_result<cluster_ca> load_cluster_ca(const std::string& cert_file,
                                        const std::string& key_file);

/// Issues the certificate of node `node_id` of the CA's cluster. `v` must lie
/// within the CA's own validity.
cert_result<pem_pair> issue_node_certificate(const cluster_ca& ca,
                                             std::uint64_t node_id,
                                             const host_names& names,
                                             const validity& v);

/// Issues the certificate of client `name` of the CA's cluster. `v` must lie
/// within the CA's own validity.
cert_result<pem_pair> issue_client_certificate(const cluster_ca& ca,
                                               std::string_view name,
                                               const validity& v);

/// The first certificate in `pem`; `source` names it in errors.
cert_result<x509_ptr> parse_certificate(std::string_view pem,
                                        const std::string& source);

/// The private key in `pem` (never prompts: an encrypted key is refused).
cert_result<pkey_ptr> parse_private_key(std::string_view pem,
                                        const std::string& source);

/// The identity a certificate names: exactly one conflux:// URI in its
/// subjectAltName, a node or client URI (protocol/identity.hpp). Errors carry
/// no file name.
cert_result<peer_identity> identity_of(const X509* cert);

/// The cluster a CA certificate names in its conflux://<cluster>/ca URI;
/// no_identity if it has no conflux:// URI.
cert_result<std::string> ca_cluster_of(const X509* ca);

/// Whom a loaded certificate must name, besides the cluster.
struct expected_holder {
  /// Any node or client (the default).
  static expected_holder anyone() { return {}; }
  /// Node `id` (0: any node); its certificate must also allow serverAuth.
  static expected_holder node(std::uint64_t id) { return {identity_kind::node, id}; }
  /// Any client.
  static expected_holder client() { return {identity_kind::client, 0}; }

  std::optional<identity_kind> kind;
  std::uint64_t node_id = 0;
};

/// A certificate, its key and the cluster CA, loaded and checked together.
struct credentials {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  x509_ptr cert;
  pkey_ptr key;
  /// Every CA certificate in ca_file: usually one; two while a new CA is
  /// rolled out (docs/security.md).
  std::vector<x509_ptr> cas;
  /// The identity the certificate names.
  peer_identity identity;
  /// The certificate's not-after time (seconds since the epoch).
  std::int64_t not_after = 0;
};

/// Loads and checks a credential triple completely, in this order, and
/// returns the first problem, naming the file at fault:
///   each file readable and PEM (missing_file, not_pem);
///   the CA a CA (not_a_ca), of `expected_cluster` if it names a cluster
///   (wrong_cluster, bad_identity), currently valid (expired, not_yet_valid);
///   the key the certificate's (key_mismatch);
///   the certificate not a CA, issued by the CA, currently valid, well formed
///   and allowed for TLS clients (not_for_tls, not_signed_by_ca, expired,
///   not_yet_valid, invalid_certificate);
///   its identity well formed (no_identity, bad_identity), of
///   `expected_cluster` (wrong_cluster) and of `holder` (wrong_holder; a node
///   also needs serverAuth: not_for_tls).
/// A bad `expected_cluster` is invalid_argument. Reads the clock.
cert_result<credentials> load_credentials(const std::string& cert_file,
                                          const std::string& key_file,
                                          const std::string& ca_file,
                                          std::string_view expected_cluster,
                                          const expected_holder& holder = {});

/// What conflux-cert show prints about a certificate.
struct cert_summary {
  /// The node or client identity, if the certificate names one.
  std::optional<peer_identity> identity;
  /// The cluster, if it is a Conflux cluster CA.
  std::optional<std::string> ca_cluster;
  /// Why neither is set (empty if one is).
  std::string identity_problem;
  bool is_ca = false;
  std::string subject;
  std::string issuer;
  /// Hexadecimal, uppercase.
  std::string serial;
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  host_names names;
};

/// Summarizes the first certificate in `file` (missing_file, not_pem).
cert_result<cert_summary> summarize_certificate(const std::string& file);

/// Who may read a written file.
enum class file_access : std::uint8_t {
  /// 0644: certificates.
  world_readable,
  /// 0600: private keys.
  owner_only,
};

struct output_file {
  /// A plain file name inside the target directory.
  std::string name;
  std::string content;
  file_access access = file_access::world_readable;
};

/// Whether writing may replace an existing file.
enum class overwrite : std::uint8_t { refuse, replace };

/// Writes `files` into `dir` (made 0700 if missing). Each file is written to a
/// temporary file in `dir`, synced and given its mode, then moved into place,
/// so a reader sees the old file or the new one, never a torn one. A file that
/// exists with exactly the new content is left as it is. With
/// overwrite::refuse, if any other file exists, nothing is written
/// (already_exists names the first).
cert_result<void> write_files(const std::string& dir,
                              const std::vector<output_file>& files, overwrite mode);

/// Writes a credential directory as the node and the CLI read it:
/// DIR/<leaf>.crt, DIR/<leaf>.key (0600) and DIR/ca.crt, with leaf "node" or
/// "client" (write_files rules).
result<void, cert_error> write_leaf_dir(const std::string& dir, const std::string& leaf,
                                        const pem_pair& pem, const cluster_ca& ca,
                                        overwrite mode);

} // namespace conflux::actors
