#pragma once
// The CAF-native Conflux client: what the CLI, the bench and the integration
// tests use to talk to a cluster over CAF remoting.
//
// A `client` connects to any endpoint, finds the leader, follows "not leader"
// redirects, retries with back-off on unreachable nodes and timeouts, and gives
// up with `unavailable` once the call's deadline passes instead of hanging.
// Writes go through a replicated client session (DESIGN §3): each write
// carries (session, sequence) and a retry reuses the same sequence, so a write
// retried across a leader crash applies exactly once.
//
// Blocking facade: each call waits for its answer. One client is used by one
// thread at a time; run several clients (one per thread) for concurrency. All
// clients of a process share one client_runtime (one CAF actor system). No CAF
// header is needed to use this one.

#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"
#include "protocol/rpc.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace conflux::actors {

enum class consistency : std::uint8_t {
  /// ReadIndex: reflects every write acknowledged before the read started.
  linearizable = 0,
  /// The contacted node's local state; may be stale (see read_meta::revision).
  serializable = 1,
};

/// "linearizable" / "serializable"; nullopt otherwise.
std::optional<consistency> parse_consistency(const std::string& s);

/// Owns the CAF actor system of a client process: middleman loaded, Conflux
/// message types and error category announced, heartbeat settings equal to the
/// nodes' (actors/remoting.hpp). Create one per process, before any client.
class client_runtime {
public:
  client_runtime();
  ~client_runtime();
  client_runtime(const client_runtime&) = delete;
  client_runtime& operator=(const client_runtime&) = delete;

  struct impl;
  impl& get() { return *impl_; }

private:
  std::unique_ptr<impl> impl_;
};

struct client_options {
  /// "host:port" of any cluster members; tried in order, then round robin.
  std::vector<std::string> endpoints{"127.0.0.1:7101"};
  /// Deadline of one call, retries included. Past it: errc::unavailable
  /// (errc::timeout for a write whose outcome is unknown).
  std::chrono::milliseconds timeout{5000};
  /// Recorded as `creator` of the versions this client writes.
  std::string name = "conflux-client";
  /// Session timeout (leader time) of the exactly-once write session.
  std::chrono::milliseconds session_timeout{60'000};
};

/// Which node answered a read and how far its state had got.
struct read_meta {
  std::uint64_t node_id = 0;
  /// The applied revision (log index) of the state that answered.
  std::uint64_t revision = 0;
};

/// One member of the cluster as a node reports it (id, address, kind).
using member_info = rpc::member_entry;

/// One node's own view (cluster status asks each member for this): the
/// status reply itself (protocol/rpc.hpp, plain structs without CAF).
using node_status = rpc::status_reply;

/// Result of resolve(): the config, the version served and the rule that chose it.
struct resolved {
  config cfg;
  version ver;
  std::size_t rule_index = 0;
  read_meta meta;
};

class client {
public:
  client(client_runtime& rt, client_options opts);
  /// Closes the write session (best effort, bounded by the call timeout).
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Submits a write command exactly once (opening the session on first use).
  /// A refused command comes back as its error (not_found, revision_mismatch,
  /// invalid_content, ...); a timed-out one as errc::timeout.
  expected<apply_result> write(command cmd);

  expected<config> get_config(const std::string& key,
                              consistency c = consistency::linearizable,
                              read_meta* meta = nullptr);
  expected<std::vector<config>> list_configs(const std::string& prefix,
                                             consistency c = consistency::linearizable,
                                             read_meta* meta = nullptr);
  expected<std::vector<version>> list_versions(const std::string& key,
                                               consistency c = consistency::linearizable,
                                               read_meta* meta = nullptr);
  expected<version> get_version(const std::string& key, version_id id,
                                consistency c = consistency::linearizable,
                                read_meta* meta = nullptr);
  expected<resolved> resolve(const std::string& key, const labels& client_labels,
                             consistency c = consistency::linearizable);

  /// Membership (DESIGN §3 "Membership"; sent to the leader, following
  /// redirects). add_member: a new server joins as a non-voter and is
  /// promoted once caught up (`learner`: stays a non-voter). Both answer with
  /// the log index of the new configuration once it is applied. A removal of
  /// the leader moves leadership first. Not exactly-once: an add retried after
  /// it applied answers already_exists.
  expected<std::uint64_t> add_member(std::uint64_t id, const std::string& address,
                                     bool learner = false);
  expected<std::uint64_t> remove_member(std::uint64_t id);
  /// Moves leadership to voter `id`; answers the new term once it leads.
  expected<std::uint64_t> transfer_leader(std::uint64_t id);

  /// Status of the node at `endpoint` itself (no redirect).
  expected<node_status> status_of(const std::string& endpoint);
  /// Status of the first reachable configured endpoint.
  expected<node_status> status();

  /// The session this client writes through (0 before the first write).
  session_id session() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace conflux::actors
