// The retrying leader RPC of the client (client_rpc.hpp).
#include "actors/client_rpc.hpp"

#include "actors/client_backoff.hpp"
#include "actors/client_probe.hpp"
#include "actors/endpoint.hpp"
#include "actors/remoting.hpp"

#include <caf/io/all.hpp>
#include <set>
#include <thread>

namespace conflux::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// One attempt never waits longer than this, so that a silent node leaves
/// time to try the others.
constexpr milliseconds max_attempt{1500};

/// True once the connection `s` lived on has closed (its node went away, or
/// either side closed the connection as idle, middleman.idle-timeout): CAF
/// then ends the proxy, and a request to it would vanish until its timeout.
bool connection_gone(const client_session_actor& s) {
  auto* p = caf::actor_cast<caf::abstract_actor*>(s);
  return p == nullptr || p->getf(caf::abstract_actor::is_terminated_flag);
}

/// Asks `dest` and delivers its answer (of the types Rs...), or its error,
/// through the response promise the relay returns.
template <class... Rs>
struct relay_to {
  template <class Dest, class... Ts>
  static caf::response_promise ask(caf::event_based_actor* self, const Dest& dest,
                                   caf::timespan timeout, Ts&&... xs) {
    auto rp = self->make_response_promise();
    self->request(dest, timeout, std::forward<Ts>(xs)...)
        .then([=](Rs&... r) mutable { rp.deliver(std::move(r)...); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
    return rp;
  }
};

// Every remote request of a client goes through this event-based actor, which
// applies the timeout; the blocking facade asks it with caf::infinite. A
// scoped_actor cannot make timed requests itself: in CAF 0.17.6 each one
// leaves its timeout message (and any late answer) in the scoped actor's
// mailbox for good, which grows and slows every later receive.
caf::behavior relay_fun(caf::event_based_actor* self) {
  return {
      [=](caf::connect_atom, const std::string& host, std::uint16_t port,
          caf::timespan timeout) {
        auto mm = connector(self->system());
        return relay_to<caf::node_id, caf::strong_actor_ptr,
                        std::set<std::string>>::ask(self, mm, timeout,
                                                    caf::connect_atom::value, host,
                                                    port);
      },
      [=](const node_endpoint_actor& node, rpc::client_hello& hello,
          caf::timespan timeout) {
        return relay_to<caf::strong_actor_ptr, rpc::hello_status>::ask(
            self, node, timeout, std::move(hello));
      },
      [=](const client_session_actor& session, rpc::client_request& req,
          caf::timespan timeout) {
        return relay_to<rpc::client_reply>::ask(self, session, timeout, std::move(req));
      },
      [=](const client_session_actor& session, status_atom, caf::timespan timeout) {
        return relay_to<rpc::status_reply>::ask(self, session, timeout,
                                                status_atom::value);
      },
  };
}

/// Why each endpoint is a dead end, in the order of `endpoints`; empty
/// unless every endpoint is one.
std::string every_dead_end(const std::vector<std::string>& endpoints,
                           const std::map<std::string, std::string>& dead) {
  std::string out;
  std::set<std::string> named; // an endpoint may be given twice
  for (const auto& ep : endpoints) {
    auto i = dead.find(ep);
    if (i == dead.end())
      return {};
    if (named.insert(ep).second)
      out += (out.empty() ? "" : "; ") + i->second;
  }
  return out;
}

} // namespace

leader_rpc::leader_rpc(caf::actor_system& sys, client_options opts)
    : sys_(sys), opts_(std::move(opts)), self_(sys), relay_(sys.spawn(relay_fun)) {}

leader_rpc::~leader_rpc() {
  end_session(session_);
  for (auto& [addr, s] : status_sessions_)
    end_session(s);
  caf::anon_send_exit(relay_, caf::exit_reason::user_shutdown);
}

milliseconds leader_rpc::remaining() const {
  return std::chrono::duration_cast<milliseconds>(deadline_ - clock_type::now());
}

namespace {

/// Why a TLS connection to `address` failed with `err`, from a plain look at
/// it; `dead_end` is set when retrying soon cannot help.
error explain_tls_failure(const endpoint& ep, const std::string& address, error err,
                          bool& dead_end) {
  auto probe = probe_endpoint(ep, milliseconds(200));
  switch (probe.verdict) {
  case probe_verdict::speaks_basp:
    dead_end = true;
    return error{errc::unavailable,
                 address + " speaks plain text, not TLS (a node started with "
                           "--insecure-plaintext); on loopback, run this client "
                           "with --insecure-plaintext too"};
  case probe_verdict::silent:
    err.message += "; if the node runs, check that its certificate and this "
                   "client's come from the same cluster CA (docs/security.md)";
    return err;
  default:
    dead_end = probe.dead_end();
    return error{errc::unavailable, address + " " + probe.detail};
  }
}

} // namespace

leader_rpc::connect_result leader_rpc::open_at(const std::string& address,
                                               milliseconds timeout) {
  connect_result out;
  auto ep = parse_endpoint(address);
  if (!ep) {
    out.err =
        error{errc::invalid_argument,
              "endpoint '" + address + "' is not HOST:PORT (e.g. 127.0.0.1:7101)"};
    out.dead_end = true;
    return out;
  }
  auto started = clock_type::now();
  timeout = std::max(timeout, milliseconds(1));
  const bool tls = sys_.has_openssl_manager();
  if (!tls && !is_loopback_host(ep->host)) {
    out.err = error{errc::invalid_argument,
                    "will not send plain text to " + address +
                        ", which is not a loopback address; use mutual TLS "
                        "(docs/security.md)"};
    out.dead_end = true;
    return out;
  }
  // CAF reports a refused port late and vaguely, and an IPv6 literal that
  // refuses as "no such host"; a plain connection first says what is there.
  // A TLS node waits for the client to speak, and a bare connection would
  // cost it a failed handshake: with TLS the probe runs only to explain a
  // failed connection.
  if (!tls) {
    auto probe = probe_endpoint(*ep, timeout);
    if (probe.verdict != probe_verdict::speaks_basp) {
      out.err = error{errc::unavailable, address + " " + probe.detail};
      out.dead_end = probe.dead_end();
      return out;
    }
  }
  auto spent = std::chrono::duration_cast<milliseconds>(clock_type::now() - started);
  caf::timespan t{std::max(timeout - spent, milliseconds(1))};
  node_endpoint_actor node;
  self_->request(relay_, caf::infinite, caf::connect_atom::value, ep->host, ep->port, t)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>& ifs) {
            if (!ptr) {
              out.err = error{errc::unavailable, "nothing is published at " + address};
            } else if (ifs != sys_.message_types<node_endpoint_actor>()) {
              out.err = error{
                  errc::unavailable,
                  address +
                      " is not a Conflux node of this version; check --endpoints"};
              out.dead_end = true;
            } else {
              node = caf::actor_cast<node_endpoint_actor>(std::move(ptr));
            }
          },
          [&](caf::error& e) {
            out.err = error{errc::unavailable, "cannot connect to " + address + " (" +
                                                   sys_.render(e) + ")"};
          });
  if (out.err && tls)
    out.err = explain_tls_failure(*ep, address, *out.err, out.dead_end);
  if (out.err)
    return out;
  self_
      ->request(relay_, caf::infinite, node,
                rpc::client_hello{"", opts_.name, opts_.token}, t)
      .receive(
          [&](caf::strong_actor_ptr& ptr, rpc::hello_status& hs) {
            if (ptr && hs.code == 0) {
              out.session = caf::actor_cast<client_session_actor>(std::move(ptr));
              return;
            }
            auto code = static_cast<errc>(hs.code);
            // Another cluster stays so; a full node may have room later. A
            // token one node refuses, every node refuses (the principals
            // are replicated state): no other endpoint is tried.
            out.dead_end = code != errc::resource_exhausted;
            out.fatal = code == errc::unauthenticated;
            out.err = error{hs.code == 0 ? errc::unavailable : code,
                            address + " refused a session: " +
                                (hs.message.empty() ? "no reason given" : hs.message)};
          },
          [&](caf::error& e) {
            out.err = error{errc::unavailable, address + " did not open a session (" +
                                                   sys_.render(e) + ")"};
          });
  return out;
}

void leader_rpc::end_session(client_session_actor& s) {
  if (s)
    caf::anon_send(s, caf::close_atom::value);
  s = nullptr;
}

void leader_rpc::drop_session() {
  end_session(session_);
  connected_to_.clear();
}

std::string leader_rpc::next_target() {
  if (!leader_hint_.empty()) {
    auto t = std::move(leader_hint_);
    leader_hint_.clear();
    return t;
  }
  const auto& eps = opts_.endpoints;
  return eps[next_endpoint_++ % eps.size()];
}

leader_rpc::next_step leader_rpc::open_next(rpc_failure& f, dead_end_map& dead) {
  auto target = next_target();
  auto c = open_at(target, std::min(remaining(), max_attempt));
  if (!c.err) {
    dead.erase(target);
    session_ = std::move(c.session);
    connected_to_ = target;
    return next_step::at_once;
  }
  f.last = std::move(*c.err);
  if (c.fatal) {
    f.dead_ends = true;
    return next_step::give_up;
  }
  if (!c.dead_end)
    return next_step::after_backoff;
  dead[target] = f.last.message;
  auto all = every_dead_end(opts_.endpoints, dead);
  if (all.empty())
    return next_step::at_once; // the next endpoint, without waiting
  f.last = error{errc::unavailable, std::move(all)};
  f.dead_ends = true;
  return next_step::give_up;
}

leader_rpc::next_step leader_rpc::send_once(const rpc::client_request& req,
                                            rpc_failure& f,
                                            std::optional<rpc::client_reply>& reply) {
  auto attempt = std::min(remaining(), max_attempt);
  if (attempt.count() <= 0)
    return next_step::give_up;
  std::optional<caf::error> failure;
  self_->request(relay_, caf::infinite, session_, req, caf::timespan{attempt})
      .receive([&](rpc::client_reply& r) { reply = std::move(r); },
               [&](caf::error& e) { failure = std::move(e); });
  if (failure) {
    f.unanswered = true;
    f.last = error{errc::unavailable, "node at " + connected_to_ + " did not answer (" +
                                          sys_.render(*failure) + ")"};
    drop_session();
    return next_step::after_backoff;
  }
  auto code = static_cast<errc>(reply->code);
  bool redirect = code == errc::not_leader && !reply->leader_address.empty() &&
                  reply->leader_address != connected_to_;
  if (code == errc::not_leader || code == errc::unavailable ||
      code == errc::no_quorum) {
    f.refused = true;
    f.last = error{code == errc::not_leader && !redirect ? errc::unavailable : code,
                   reply->message};
    if (redirect)
      leader_hint_ = reply->leader_address;
  } else if (code == errc::timeout) {
    // The node lost track of a proposal (e.g. leadership moved): the same
    // sequence may be retried safely, at once at the leader it names.
    f.unanswered = true;
    f.last = error{code, reply->message};
    redirect = !reply->leader_address.empty() && reply->leader_address != connected_to_;
    if (redirect)
      leader_hint_ = reply->leader_address;
  } else {
    return next_step::answered;
  }
  reply.reset();
  drop_session();
  return redirect ? next_step::at_once : next_step::after_backoff;
}

rpc_outcome leader_rpc::call(const rpc::client_request& req) {
  rpc_outcome out;
  auto& f = out.failure;
  if (opts_.endpoints.empty()) {
    f.last = error{errc::invalid_argument, "no endpoints given; pass --endpoints"};
    return out;
  }
  deadline_ = clock_type::now() + opts_.timeout;
  retry_backoff backoff{milliseconds(20), milliseconds(500)};
  dead_end_map dead;
  while (remaining().count() > 0) {
    if (session_ && connection_gone(session_))
      drop_session();
    auto step = session_ ? send_once(req, f, out.reply) : open_next(f, dead);
    if (step == next_step::answered || step == next_step::give_up)
      return out;
    if (step == next_step::after_backoff && remaining().count() > 0)
      std::this_thread::sleep_for(std::min(backoff.next(), remaining()));
  }
  return out;
}

expected<node_status> leader_rpc::status_at(const std::string& address) {
  std::optional<error> err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto i = status_sessions_.find(address);
    if (i != status_sessions_.end() && connection_gone(i->second)) {
      status_sessions_.erase(i);
      i = status_sessions_.end();
    }
    if (i == status_sessions_.end()) {
      auto c = open_at(address, opts_.timeout);
      if (c.err)
        return std::move(*c.err);
      i = status_sessions_.emplace(address, std::move(c.session)).first;
    }
    err.reset();
    node_status out;
    self_
        ->request(relay_, caf::infinite, i->second, status_atom::value,
                  caf::timespan{opts_.timeout})
        .receive([&](rpc::status_reply& r) { out = std::move(r); },
                 [&](caf::error& e) {
                   err = error{errc::unavailable, address +
                                                      " did not report its status (" +
                                                      sys_.render(e) + ")"};
                 });
    if (!err)
      return out;
    // The cached session may belong to a node that restarted: open a new one.
    end_session(i->second);
    status_sessions_.erase(i);
  }
  return *err;
}

} // namespace conflux::actors
