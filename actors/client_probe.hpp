#pragma once
// A plain TCP look at an endpoint before the client hands it to CAF: did the
// connection get refused, does anything answer, and does what answers speak
// CAF's BASP protocol (a Conflux node sends the start of its BASP handshake as
// soon as it accepts)? CAF itself cannot tell these apart: a refused port
// and a garbage-sending one both end in a late, vague error (an IPv6 literal
// that refuses even reads as "no such host"), so the retrying leader RPC
// (client_rpc.hpp) and `conflux cluster add` ask this first. No CAF here.

#include "actors/endpoint.hpp"

#include <chrono>
#include <string>

namespace conflux::actors {

/// What one TCP connection to an endpoint found.
enum class probe_verdict {
  /// It accepted and sent the start of a CAF (BASP) server handshake.
  speaks_basp,
  /// Nothing listens there: the host refused the connection.
  refused,
  /// It accepted and sent bytes that are not a CAF handshake: not a Conflux node.
  not_conflux,
  /// It accepted and closed the connection without sending a byte.
  closed,
  /// It accepted and sent nothing within the time given (a stopped process,
  /// or a server that waits for the client to speak first).
  silent,
  /// The connection did not get through: no answer within the time given,
  /// no route to the host, or a host name that does not resolve.
  unreachable,
};

struct probe_result {
  probe_verdict verdict = probe_verdict::unreachable;
  /// What happened, as a clause that follows the endpoint: "refused the
  /// connection (nothing listens on that port)", "is not a Conflux node (it
  /// sent \"HTTP/1.1 400\")".
  std::string detail;

  /// Whether retrying this endpoint soon cannot help: nothing listens there,
  /// or what listens is not a Conflux node.
  bool dead_end() const {
    return verdict == probe_verdict::refused || verdict == probe_verdict::not_conflux;
  }
};

/// Connects to `ep` (every address its host resolves to, in order, until one
/// accepts) and reads up to one BASP header, all within `timeout`. Closes the
/// connection before returning.
probe_result probe_endpoint(const endpoint& ep, std::chrono::milliseconds timeout);

} // namespace conflux::actors
