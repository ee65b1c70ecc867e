#pragma once
// Internal to the client (client.cpp, client_watch.cpp): the actor system of a
// client process, and the retrying leader RPC every call of actors::client
// goes through. Owned by one actors::client and used by one thread at a time.
//
// One call is one request sent until some node answers it or the call's
// deadline passes. Where the next attempt goes:
//   not_leader naming a leader          -> that leader, at once;
//   token refused (unauthenticated)     -> give up at once with the node's
//                                          message (every node would refuse it);
//   refused, or not a Conflux node      -> the next endpoint, at once; when
//                                          every endpoint is such a dead end,
//                                          the call gives up before its deadline;
//   unavailable, no quorum, no answer   -> the next endpoint after a back-off;
//   anything else                       -> the answer.
// Every attempt has its own timeout as well (CAF never fails a request to a
// dead node: docs/design.md, "CAF 0.17.6 constraints"), so one silent node
// cannot use up the whole deadline.

#include "actors/client.hpp"
#include "actors/interfaces.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace conflux::actors {

struct client_runtime::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

/// Why a call got no answer. Nothing was sent to any node unless
/// `unanswered` or `refused` is set.
struct rpc_failure {
  /// The last reason, worded for a person ("node at H:P did not answer (...)").
  error last{errc::unavailable, "no endpoint answered within the timeout"};
  /// Some attempt reached a node and got no answer (or lost track of it): a
  /// write may have been proposed and may still apply.
  bool unanswered = false;
  /// Some attempt reached a node that refused to take the request (not the
  /// leader, no quorum).
  bool refused = false;
  /// Every endpoint refused the connection or is not a Conflux node; `last`
  /// names each of them. The call gave up before its deadline.
  bool dead_ends = false;
};

/// A node's answer, or why there was none.
struct rpc_outcome {
  std::optional<rpc::client_reply> reply;
  rpc_failure failure;
};

class leader_rpc {
public:
  leader_rpc(caf::actor_system& sys, client_options opts);
  /// Ends every session this client opened (best effort).
  ~leader_rpc();
  leader_rpc(const leader_rpc&) = delete;
  leader_rpc& operator=(const leader_rpc&) = delete;

  const client_options& options() const { return opts_; }
  /// Shortens the deadline of later calls (the client's destructor does).
  void limit_timeout(std::chrono::milliseconds t) {
    opts_.timeout = std::min(opts_.timeout, t);
  }

  /// Sends `req` until a node answers it (any code but the retried ones
  /// above) or the deadline passes.
  rpc_outcome call(const rpc::client_request& req);

  /// The status of the node at `address` itself (no redirect, one retry on
  /// a fresh session if the cached one broke).
  expected<node_status> status_at(const std::string& address);

private:
  struct connect_result {
    client_session_actor session;
    std::optional<error> err;
    /// Retrying this endpoint soon cannot help (refused, not Conflux).
    bool dead_end = false;
    /// No endpoint can help either (the token was refused): give up.
    bool fatal = false;
  };

  /// What a call does after one step.
  enum class next_step { answered, at_once, after_backoff, give_up };
  /// Endpoints that refused or are no Conflux node, with why, until they open.
  using dead_end_map = std::map<std::string, std::string>;

  /// Opens a session at the next target (the leader hint, else the next
  /// endpoint); records a dead end in `dead` and gives up once every
  /// endpoint is one.
  next_step open_next(rpc_failure& f, dead_end_map& dead);
  /// Sends `req` once on the open session; `reply` holds the answer when
  /// the step is `answered`.
  next_step send_once(const rpc::client_request& req, rpc_failure& f,
                      std::optional<rpc::client_reply>& reply);
  /// Opens a client session at `address` within `timeout`.
  connect_result open_at(const std::string& address, std::chrono::milliseconds timeout);
  /// Asks the node to end a session this client no longer uses (otherwise it
  /// lives as long as this client).
  static void end_session(client_session_actor& s);
  void drop_session();
  /// The leader named by the last redirect, else the next endpoint in turn.
  std::string next_target();
  std::chrono::milliseconds remaining() const;

  caf::actor_system& sys_;
  client_options opts_;
  caf::scoped_actor self_;
  /// Applies every remote request's timeout (client_rpc.cpp says why).
  caf::actor relay_;
  client_session_actor session_;
  std::string connected_to_;
  std::string leader_hint_;
  std::size_t next_endpoint_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  /// Sessions opened by status_at, one per address, reused so that polling
  /// status does not pile up sessions on the nodes.
  std::map<std::string, client_session_actor> status_sessions_;
};

} // namespace conflux::actors
