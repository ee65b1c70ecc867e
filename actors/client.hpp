#pragma once
// The CAF-native Conflux client: what the CLI, the bench and the integration
// tests use to talk to a cluster over CAF remoting.
//
// A `client` connects to any endpoint, finds the leader, follows "not leader"
// redirects, retries with back-off on unreachable nodes and timeouts, and gives
// up with `unavailable` once the call's deadline passes instead of hanging.
// Writes go through a replicated client session (docs/design.md, Client sessions): each
// write carries (session, sequence) and a retry reuses the same sequence, so a write
// retried across a leader crash applies exactly once.
//
// Blocking facade: each call waits for its answer. One client is used by one
// thread at a time; run several clients (one per thread) for concurrency. All
// clients of a process share one client_runtime (one CAF actor system). No CAF
// header is needed to use this one.

#include "actors/transport.hpp"
#include "protocol/audit.hpp"
#include "protocol/auth.hpp"
#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"
#include "protocol/rpc.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
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

/// Owns the CAF actor system of a client process: middleman and transport
/// (mutual TLS, or plain text on loopback only) loaded, Conflux message types
/// and error category announced, heartbeat settings equal to the nodes'
/// (actors/remoting.hpp). Create one per process, before any client. Check
/// the settings with check_transport() first; credentials TLS cannot use
/// throw std::invalid_argument naming the file.
class client_runtime {
public:
  explicit client_runtime(const transport_settings& transport);
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
  /// The token ("cfx_" + 64 hex) of the principal this client acts as, sent
  /// in every client_hello (docs/security.md, "Authorization"). A node that
  /// refuses it (unauthenticated) ends the call at once with the node's
  /// message: another node would refuse it too. Never logged.
  std::string token;
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
  expected<std::vector<version>>
  list_versions(const std::string& key, consistency c = consistency::linearizable,
                read_meta* meta = nullptr);
  expected<version> get_version(const std::string& key, version_id id,
                                consistency c = consistency::linearizable,
                                read_meta* meta = nullptr);
  expected<resolved> resolve(const std::string& key, const labels& client_labels,
                             consistency c = consistency::linearizable);

  /// Membership (docs/design.md, Membership; sent to the leader, following
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

  /// The authorization tables as the token's principal may see them
  /// (protocol/rpc.hpp, request ops whoami .. list_tenants; linearizable).
  /// whoami: the principal of this client's token and its roles.
  expected<auth::access> whoami();
  /// Principals whose name starts with `prefix`, token hashes blanked
  /// (cluster-admin).
  expected<std::vector<auth::principal>> list_tokens(const std::string& prefix = {});
  /// Every role (cluster-admin, or admin on some pattern).
  expected<std::vector<auth::role>> list_roles();
  /// Every tenant with its quotas and usage (cluster-admin).
  expected<std::vector<auth::tenant>> list_tenants();
  /// The audit trail (PROTOCOL.md, "Audit"): the records `f` selects, in
  /// revision order (f.from_seq is not used). Needs auditor or cluster-admin.
  expected<std::vector<audit::record>>
  audit_list(const audit::filter& f, consistency c = consistency::linearizable);
  /// The audit chain at `seq` (0 = the head) as the answering node recomputes
  /// it from its own records (serializable: that node's state as it is).
  expected<audit::chain_point> audit_verify(std::uint64_t seq);

  /// Key rotation (docs/security.md, "Key rotation"; cluster-admin). One
  /// batch: the leader wraps again, under its current key-encryption key,
  /// the data keys of up to a batch of sealed versions under another key and
  /// commits that. Answers how many it rewrapped (0: none is left).
  expected<std::uint64_t> kek_rotate_batch();
  /// The answering node's current key id, and the sealed versions of the
  /// state by the id of the KEK that wraps their data key.
  struct kek_state {
    std::string current;
    std::map<std::string, std::uint64_t> sealed;
  };
  expected<kek_state> kek_status();

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

// -- watches -------------------------------------------------------------------

struct watch_options {
  /// A key, or a key prefix ending in '/'.
  std::string key;
  /// Non-empty: events only when the version resolved for these labels
  /// changes (each event then carries the resolved version).
  labels client_labels;
  /// 0: changes from now on. R: every change from revision R on (a resync
  /// event first if the node no longer holds R).
  std::uint64_t from_revision = 0;
  /// How often the open watch tells its node it is still there, whether
  /// events flow or not (0: never): a connection that carries nothing but
  /// heartbeats is closed after the node's idle timeout.
  std::chrono::milliseconds keepalive = watch_keepalive_interval;
};

/// One watch event as this client received it.
struct watch_notification {
  /// revision, key, kind (rpc::watch_kind), versions, content hash, resolved
  /// version (labelled watches), state (resync).
  rpc::watch_event event;
  /// The node that served it.
  std::uint64_t node_id = 0;
  /// When the client's watcher actor received it (before any queueing in
  /// this stream): what a put-to-event latency measurement wants.
  std::chrono::steady_clock::time_point received_at;
};

/// A watch as a message stream that survives node failover: when its node
/// goes away, or cuts it off for falling behind, it reconnects to the next
/// endpoint (round robin, with back-off) and resumes from the last revision
/// it received + 1, so the stream has no gap and no repeat. A resume point
/// the new node no longer holds yields one resync event (the current state).
///
/// Events are acknowledged to the node as next() hands them out, so a
/// consumer that stops calling next() is eventually cut off by the node and
/// resumed; nothing is lost. Any thread may call next() (one at a time).
class watch_stream {
public:
  watch_stream(client_runtime& rt, client_options opts, watch_options wopts);
  /// Ends the watch on the node (best effort) and stops the watcher actor.
  ~watch_stream();
  watch_stream(const watch_stream&) = delete;
  watch_stream& operator=(const watch_stream&) = delete;

  /// The next event, or nullopt when none arrived within `timeout`. An error
  /// only when the watch can never work (invalid_argument: bad key or labels).
  expected<std::optional<watch_notification>> next(std::chrono::milliseconds timeout);

  /// The revision of the last event received (or where the watch started):
  /// a resume continues at this + 1.
  std::uint64_t last_revision() const;
  /// How often the stream lost its node, was cut off, or failed to reach an
  /// endpoint, and went on to the next one (each time resuming after
  /// last_revision()).
  std::uint64_t resumes() const;
  /// Why it last did so ("" if never).
  std::string last_interruption() const;

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace conflux::actors
