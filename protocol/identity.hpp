#pragma once
// The identity a peer proves over mutual TLS, and its text form. A Conflux
// certificate names its holder in one subjectAltName URI:
//
//   conflux://<cluster-id>/node/<id>       a member of the cluster
//   conflux://<cluster-id>/client/<name>   a client (the CLI, an application)
//
// and a cluster CA names its cluster as conflux://<cluster-id>/ca.
// The grammar is deliberately narrower than RFC 3986 so that one identity has
// exactly one spelling and two URIs name the same holder only if they are
// equal byte for byte:
//   cluster id   [a-z0-9][a-z0-9-]{0,62}
//   node id      decimal 1 .. 2^63-1, no sign, no leading zero
//   client name  [A-Za-z0-9._-]{1,64}, not starting with '.'
// and nothing else: no user, port, query, fragment, percent-encoding or
// trailing '/'. Pure functions; the certificate side is actors/tls_certs.hpp.

#include "protocol/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conflux {

/// What kind of holder an identity names.
enum class identity_kind : std::uint8_t {
  /// A member of the cluster (Raft traffic, membership, snapshots).
  node = 1,
  /// A client: the CLI or an application using the client library.
  client,
};

/// "node" or "client".
std::string_view to_string(identity_kind kind) noexcept;

/// Why a text is not a valid identity; one value per rule of the grammar.
enum class identity_problem : std::uint8_t {
  /// It does not start with "conflux://" (the scheme is lowercase).
  not_conflux_uri = 1,
  /// It holds '?', '#' or '%': a query, fragment or percent-encoding.
  not_plain,
  /// The cluster id (the URI's host) breaks [a-z0-9][a-z0-9-]{0,62}.
  bad_cluster_id,
  /// The path does not start with node/ or client/ (conflux://C/ca is a CA).
  bad_kind,
  /// The node id is not a decimal number from 1 to 2^63-1 without sign or
  /// leading zero.
  bad_node_id,
  /// The client name breaks [A-Za-z0-9._-]{1,64} or starts with '.'.
  bad_client_name,
  /// Something ('/' or more) follows the node id or the client name.
  trailing_text,
};

/// Stable lowercase name of a problem ("bad_node_id").
std::string_view to_string(identity_problem problem) noexcept;

/// A problem plus a sentence a person can act on.
struct identity_error {
  identity_problem problem{};
  std::string message;

  friend bool operator==(const identity_error& a, const identity_error& b) {
    return a.problem == b.problem && a.message == b.message;
  }
};

template <class T>
using identity_result = result<T, identity_error>;

/// The largest node id an identity can carry (2^63-1).
inline constexpr std::uint64_t max_identity_node_id = 9223372036854775807ULL;

/// A valid identity; every way to make one checks the grammar, so a value of
/// this type always formats to a URI that parses back to it.
class peer_identity {
public:
  /// Node `id` of cluster `cluster_id`.
  static identity_result<peer_identity> node(std::string_view cluster_id,
                                             std::uint64_t id);
  /// Client `name` of cluster `cluster_id`.
  static identity_result<peer_identity> client(std::string_view cluster_id,
                                               std::string_view name);

  identity_kind kind() const noexcept { return kind_; }
  bool is_node() const noexcept { return kind_ == identity_kind::node; }
  bool is_client() const noexcept { return kind_ == identity_kind::client; }
  const std::string& cluster_id() const noexcept { return cluster_id_; }
  /// REQUIRES: is_node() (0 otherwise)
  std::uint64_t node_id() const noexcept { return node_id_; }
  /// REQUIRES: is_client() (empty otherwise)
  const std::string& client_name() const noexcept { return client_name_; }

  /// The URI form: conflux://<cluster>/node/<id> or conflux://<cluster>/client/<name>.
  std::string uri() const;
  /// For logs and messages: "node 3 of cluster prod" / "client ci-bot of cluster prod".
  std::string describe() const;

  friend bool operator==(const peer_identity& a, const peer_identity& b) {
    return a.kind_ == b.kind_ && a.cluster_id_ == b.cluster_id_ &&
           a.node_id_ == b.node_id_ && a.client_name_ == b.client_name_;
  }
  friend bool operator!=(const peer_identity& a, const peer_identity& b) {
    return !(a == b);
  }

private:
  peer_identity(identity_kind kind, std::string cluster_id, std::uint64_t node_id,
                std::string client_name);

  identity_kind kind_;
  std::string cluster_id_;
  std::uint64_t node_id_ = 0;
  std::string client_name_;
};

/// Parses an identity URI (node or client) under the strict grammar above.
identity_result<peer_identity> parse_identity(std::string_view uri);

/// The URI form of `who` (same as who.uri()).
std::string format_identity(const peer_identity& who);

/// True if `who` is node `node_id` of cluster `cluster_id`: what a node checks
/// before it accepts a Raft message that claims to come from `node_id`.
bool is_node_of(const peer_identity& who, std::string_view cluster_id,
                std::uint64_t node_id) noexcept;

/// Checks a cluster id against [a-z0-9][a-z0-9-]{0,62}.
identity_result<void> check_cluster_id(std::string_view cluster_id);

/// Checks a client name against [A-Za-z0-9._-]{1,64}, not starting with '.'.
identity_result<void> check_client_name(std::string_view name);

/// A node id from its decimal text: digits only, 1 .. 2^63-1, no leading zero.
identity_result<std::uint64_t> parse_node_id(std::string_view text);

/// conflux://<cluster-id>/ca: how a cluster CA certificate names its cluster.
/// REQUIRES: check_cluster_id(cluster_id).ok()
std::string ca_uri(std::string_view cluster_id);

/// The cluster id of a CA URI (conflux://<cluster-id>/ca, nothing more).
identity_result<std::string> parse_ca_uri(std::string_view uri);

} // namespace conflux
