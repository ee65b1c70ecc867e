#pragma once
// How a Conflux process talks to the cluster: mutual TLS 1.3 from the
// certificates conflux-cert makes, or plain text on loopback only
// (docs/security.md). No CAF here: the client header includes it.

#include "protocol/error.hpp"

#include <chrono>
#include <string>

namespace conflux::actors {

/// How a process talks to the cluster (docs/security.md). Mutual TLS 1.3 is
/// the only mode unless `insecure_plaintext` is set, which is allowed only when
/// every address involved is a loopback address and turns off encryption and
/// certificate checks (never anything else).
struct transport_settings {
  /// PEM files: this process's certificate and key, and the cluster CA.
  std::string cert_file, key_file, ca_file;
  bool insecure_plaintext = false;
  /// The cluster every peer's certificate must name; empty: the cluster the
  /// CA file names (what a client knows).
  std::string cluster_id;
  /// A node accepts connections from nodes and clients of its cluster; a
  /// client accepts none. Both dial only nodes: a listener that presents a
  /// client certificate is refused.
  bool is_node = false;

  /// A connection over which no message but heartbeats went either way for
  /// this long is closed (0: never). A quiet watch sends a keep-alive every
  /// watch_keepalive_interval; with a shorter idle timeout it reconnects.
  std::chrono::seconds idle_timeout{600};

  /// A connection that has not finished its handshakes (TLS, then BASP) by
  /// then is closed: a half-open or silent socket holds nothing for longer.
  std::chrono::seconds handshake_timeout{10};

  bool tls() const noexcept { return !insecure_plaintext; }
  /// "mutual TLS" or "INSECURE plain text (loopback only)", for logs and status.
  std::string describe() const;
};

/// How often a watch sends its node a keep-alive (a repeated
/// acknowledgement), so that a watch on a quiet key keeps its connection.
constexpr std::chrono::seconds watch_keepalive_interval{60};

/// The credential files in a directory made by `conflux-cert`: DIR/<leaf>.crt,
/// DIR/<leaf>.key and DIR/ca.crt, with leaf "node" or "client".
transport_settings tls_in_dir(const std::string& dir, const std::string& leaf);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

/// Refuses plain text for an address that is not loopback (`what` names the
/// setting in the message, e.g. "--listen").
status check_plaintext_address(const std::string& what, const std::string& address);

/// Refuses settings that cannot work: TLS without all three files readable.
/// The message names the file and says what to do.
status check_transport(const transport_settings& t);

} // namespace conflux::actors
