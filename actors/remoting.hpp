#pragma once
// Settings every Conflux process that speaks CAF remoting must share: the
// message types, the transport (mutual TLS, or plain text on loopback only),
// the middleman and the heartbeat / connection timeout. The heartbeat
// settings must be identical on every node and every client: a one-sided
// setting declares healthy idle links dead (bench/caf-spike/README.md §4).

#include "actors/transport.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/io/middleman_actor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace caf {
class actor_system;
}

namespace conflux::actors {

/// Middleman heartbeat: lets a node notice a frozen (SIGSTOPped) peer.
constexpr std::chrono::milliseconds heartbeat_interval{250};
constexpr std::chrono::milliseconds connection_timeout{2500};
/// A connection without its handshakes after transport_settings::
/// handshake_timeout is closed: in plain text by BASP (counted:
/// transport.dropped.handshake_timeout), with TLS by the TLS layer
/// (openssl.handshake-timeout; logged and counted as
/// transport.refused.tls_handshake_timeout). Under TLS, BASP's own deadline
/// is a backstop this much later: BASP cannot close a connection still in its
/// TLS handshake, whose unsent BASP bytes would hold the socket open.
constexpr std::chrono::milliseconds tls_handshake_backstop_margin{2000};

/// Handshakes the TLS layer refused in this process, by counter name:
/// "transport.refused.tls_handshake" (every refusal: wrong CA, expired,
/// another cluster, no certificate, ...) and, of those,
/// "transport.refused.tls_handshake_timeout" (no handshake in time). Only
/// the non-zero ones.
std::map<std::string, std::uint64_t> tls_refusal_counters();

/// Loads the middleman (and the TLS module unless plain text), registers
/// Conflux's network message types, sets the credentials, the heartbeat,
/// handshake and idle timeouts (t.idle_timeout) and the scheduler policy ("sharing";
/// the environment variable CONFLUX_SCHEDULER=stealing|sharing overrides it). Call
/// before constructing the actor_system.
void configure_remoting(caf::actor_system_config& cfg, const transport_settings& t);

/// After the actor system exists: with TLS, checks that the credentials
/// loaded and installs the identity checks of every handshake (the peer's
/// certificate must name a node, or for a node's listener also a client, of
/// the cluster) and one log line per refused handshake. An error names the
/// file or the reason.
status start_transport(caf::actor_system& sys, const transport_settings& t);

/// The conflux:// identity that the remote node `nid` proved on its TLS
/// connection, if it has one open ("" in plain text, or when unknown).
std::string peer_identity_of(caf::actor_system& sys, const caf::node_id& nid);

/// The actor that connects and publishes over the configured transport: every
/// connection of a Conflux process goes through it.
caf::io::middleman_actor connector(caf::actor_system& sys);

/// Publishes `whom` with its messaging interface (sys.message_types(handle))
/// on host:port over the configured transport; returns the port (the one
/// chosen when `port` is 0).
caf::expected<std::uint16_t> publish_actor(caf::actor_system& sys, caf::strong_actor_ptr whom,
                                     std::set<std::string> interface, std::uint16_t port,
                                     const std::string& host);

/// Stops listening on `port` for `whom`.
void unpublish_actor(caf::actor_system& sys, const caf::actor_addr& whom, std::uint16_t port);

/// Logs (at INFO) the transport and the heartbeat settings the actor system
/// really uses: a wrongly typed setting is silently ignored by CAF 0.17.6.
void log_remoting_settings(const caf::actor_system_config& cfg, const char* who);

} // namespace conflux::actors
