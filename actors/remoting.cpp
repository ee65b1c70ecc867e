#include "actors/remoting.hpp"

#include "actors/tls_certs.hpp"
#include "protocol/type_ids.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>

namespace conflux::actors {

namespace {

// Process-wide, like the BASP drop counters: the TLS layer belongs to the
// actor system, not to one node's actors.
std::atomic<std::uint64_t> tls_refusals_all{0};
std::atomic<std::uint64_t> tls_refusals_timeout{0};

} // namespace

std::map<std::string, std::uint64_t> tls_refusal_counters() {
  std::map<std::string, std::uint64_t> out;
  if (auto n = tls_refusals_all.load(); n > 0)
    out["transport.refused.tls_handshake"] = n;
  if (auto n = tls_refusals_timeout.load(); n > 0)
    out["transport.refused.tls_handshake_timeout"] = n;
  return out;
}

void configure_remoting(caf::actor_system_config& cfg, const transport_settings& t) {
  cfg.load<caf::io::middleman>();
  if (t.tls()) {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = t.cert_file;
    cfg.openssl_key = t.key_file;
    cfg.openssl_cafile = t.ca_file;
  }
  cfg.add_message_types<caf::id_block::conflux>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{heartbeat_interval});
  const auto handshake = std::chrono::duration_cast<caf::timespan>(t.handshake_timeout);
  if (t.tls()) {
    cfg.set("openssl.handshake-timeout", handshake);
    cfg.set("middleman.handshake-timeout",
            handshake + std::chrono::duration_cast<caf::timespan>(
                            tls_handshake_backstop_margin));
  } else {
    cfg.set("middleman.handshake-timeout", handshake);
  }
  cfg.set("middleman.idle-timeout", caf::timespan{t.idle_timeout});
  cfg.set("middleman.connection-timeout", caf::timespan{connection_timeout});
  // CAF's scheduler policy. "sharing" is our default: on the local 3-node
  // cluster (2 cores) it gave 1.96 ms instead of 2.85 ms per sequential write
  // and 4.5k instead of 3.4k writes/s with 64 clients (docs/benchmarks.md),
  // because idle "stealing" workers spin. CONFLUX_SCHEDULER=stealing|sharing
  // overrides it, read from the environment so every binary takes it alike.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  if (const char* p = std::getenv("CONFLUX_SCHEDULER")) {
    std::string policy{p};
    if (policy == "sharing" || policy == "stealing")
      cfg.set("scheduler.policy", caf::atom_from_string(policy));
    else
      spdlog::warn("CONFLUX_SCHEDULER='{}' ignored: use sharing or stealing", policy);
  }
}

status start_transport(caf::actor_system& sys, const transport_settings& t) {
  if (!t.tls())
    return {};
  auto& mgr = sys.openssl_manager();
  if (auto err = mgr.credentials_error())
    return error{errc::invalid_argument, "TLS credentials: " + sys.render(err)};
  std::string cluster = t.cluster_id;
  if (cluster.empty()) {
    auto ca = summarize_certificate(t.ca_file);
    if (!ca.ok())
      return error{errc::invalid_argument, to_string(ca.err())};
    if (!ca->ca_cluster)
      return error{errc::invalid_argument,
                   t.ca_file + ": not a Conflux cluster CA (make one with conflux-cert ca)"};
    cluster = *ca->ca_cluster;
  }
  const bool is_node = t.is_node;
  mgr.set_peer_verifier([cluster, is_node](const caf::openssl::peer_certificate& peer) {
    auto who = identity_of(peer.leaf);
    if (!who.ok())
      return caf::openssl::refuse_peer("its certificate has no usable identity: " +
                                       who.err().message);
    if (who->cluster_id() != cluster)
      return caf::openssl::refuse_peer("it is " + who->describe() +
                                       ", not a member of cluster " + cluster);
    if (!peer.accepted && !who->is_node())
      return caf::openssl::refuse_peer("it listens with the certificate of " +
                                       who->describe() + ", not of a node");
    if (peer.accepted && !is_node)
      return caf::openssl::refuse_peer("a client accepts no connections");
    return caf::openssl::accept_peer(who->uri());
  });
  mgr.set_refusal_listener([](const std::string& address, const std::string& reason) {
    spdlog::warn("TLS: refused the connection with {}: {}", address, reason);
    tls_refusals_all.fetch_add(1);
    // The wording of the handshake timeout (CAF patch 0017).
    if (reason.rfind("no TLS and BASP handshake within", 0) == 0)
      tls_refusals_timeout.fetch_add(1);
  });
  return {};
}

std::string peer_identity_of(caf::actor_system& sys, const caf::node_id& nid) {
  if (!sys.has_openssl_manager())
    return "";
  auto id = sys.openssl_manager().peer_identity(nid);
  return id ? *id : std::string{};
}

caf::io::middleman_actor connector(caf::actor_system& sys) {
  if (sys.has_openssl_manager())
    return sys.openssl_manager().actor_handle();
  return sys.middleman().actor_handle();
}

caf::expected<std::uint16_t> publish_actor(caf::actor_system& sys, caf::strong_actor_ptr whom,
                                     std::set<std::string> interface, std::uint16_t port,
                                     const std::string& host) {
  auto f = caf::make_function_view(connector(sys));
  return f(caf::publish_atom::value, port, std::move(whom), std::move(interface), host,
           true);
}

void unpublish_actor(caf::actor_system& sys, const caf::actor_addr& whom, std::uint16_t port) {
  caf::anon_send(connector(sys), caf::unpublish_atom::value, whom, port);
}

void log_remoting_settings(const caf::actor_system_config& cfg, const char* who) {
  auto hb = caf::get_or(cfg, "middleman.heartbeat-interval", caf::timespan{0});
  auto ct = caf::get_or(cfg, "middleman.connection-timeout", caf::timespan{0});
  auto ms = [](caf::timespan t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  };
  // With TLS, the TLS layer's deadline is the one that acts (remoting.hpp).
  auto ht =
      caf::get_or(cfg, "openssl.handshake-timeout",
                  caf::get_or(cfg, "middleman.handshake-timeout", caf::timespan{0}));
  auto it = caf::get_or(cfg, "middleman.idle-timeout", caf::timespan{0});
  auto policy = caf::get_or(cfg, "scheduler.policy", caf::atom("stealing"));
  spdlog::info("{} uses middleman heartbeat {} ms, connection timeout {} ms, handshake "
               "timeout {} ms, idle timeout {} ms, scheduler {}",
               who, ms(hb), ms(ct), ms(ht), ms(it), caf::to_string(policy));
  if (it.count() > 0 && it < 2 * caf::timespan{watch_keepalive_interval})
    spdlog::warn("{}: idle timeout {} s is below twice the watch keep-alive ({} s): "
                 "quiet watches will reconnect",
                 who, std::chrono::duration_cast<std::chrono::seconds>(it).count(),
                 watch_keepalive_interval.count());
  if (hb.count() == 0 || ct.count() == 0)
    spdlog::warn("{}: middleman heartbeat is off; frozen peers go undetected", who);
}

} // namespace conflux::actors
