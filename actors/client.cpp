// The CAF-native client (client.hpp). Each client owns a blocking scoped actor
// that talks to one node's client session at a time; the retry loop below
// decides where to send the next attempt:
//   not_leader with an address  -> reconnect to that leader at once;
//   unavailable, refused, timed out, unreachable -> back off, next endpoint;
//   anything else               -> the answer.
// Every attempt has a timeout (a request to a dead node is never failed by CAF,
// CAF-NOTES), and the whole call has the client's deadline.
#include "actors/client.hpp"

#include "actors/endpoint.hpp"
#include "actors/interfaces.hpp"
#include "actors/remoting.hpp"
#include "protocol/codec.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <thread>

namespace conflux::actors {

using clock_type = std::chrono::steady_clock;

std::optional<consistency> parse_consistency(const std::string& s) {
  if (s == "linearizable")
    return consistency::linearizable;
  if (s == "serializable")
    return consistency::serializable;
  return std::nullopt;
}

// -- runtime --------------------------------------------------------------------

struct client_runtime::impl {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
};

client_runtime::client_runtime() : impl_(std::make_unique<impl>()) {
  configure_remoting(impl_->cfg);
  impl_->sys = std::make_unique<caf::actor_system>(impl_->cfg);
}

client_runtime::~client_runtime() = default;

// -- relay ----------------------------------------------------------------------

namespace {

// Every remote request of a client goes through this event-based actor, which
// applies the timeout; the blocking facade asks it with caf::infinite. A
// scoped_actor cannot make timed requests itself: in CAF 0.17.6 each one
// leaves its timeout message (and any late answer) in the scoped actor's
// mailbox for good, which grows and slows every later receive.
caf::behavior relay_fun(caf::event_based_actor* self) {
  return {
    [=](caf::connect_atom, const std::string& host, std::uint16_t port,
        caf::timespan timeout) {
      auto rp = self->make_response_promise();
      auto mm = self->system().middleman().actor_handle();
      self->request(mm, timeout, caf::connect_atom::value, host, port)
        .then(
          [=](caf::node_id& nid, caf::strong_actor_ptr& ptr,
              std::set<std::string>& ifs) mutable {
            rp.deliver(std::move(nid), std::move(ptr), std::move(ifs));
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](const node_endpoint_actor& node, rpc::client_hello& hello, caf::timespan timeout) {
      auto rp = self->make_response_promise();
      self->request(node, timeout, std::move(hello))
        .then([=](caf::strong_actor_ptr& ptr) mutable { rp.deliver(std::move(ptr)); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](const client_session_actor& session, rpc::client_request& req,
        caf::timespan timeout) {
      auto rp = self->make_response_promise();
      self->request(session, timeout, std::move(req))
        .then([=](rpc::client_reply& r) mutable { rp.deliver(std::move(r)); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](const client_session_actor& session, status_atom, caf::timespan timeout) {
      auto rp = self->make_response_promise();
      self->request(session, timeout, status_atom::value)
        .then([=](rpc::status_reply& r) mutable { rp.deliver(std::move(r)); },
              [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
  };
}

} // namespace

// -- client ---------------------------------------------------------------------

struct client::impl {
  impl(caf::actor_system& s, client_options o)
    : sys(s), opts(std::move(o)), self(s), relay(s.spawn(relay_fun)) {}

  ~impl() {
    end_session(session);
    for (auto& [addr, s] : status_sessions)
      end_session(s);
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
  }

  caf::actor_system& sys;
  client_options opts;
  caf::scoped_actor self;
  caf::actor relay;
  client_session_actor session;
  std::string connected_to;
  std::string leader_hint;
  std::size_t next_endpoint = 0;
  session_id sid = 0;
  std::uint64_t next_sequence = 1;
  /// Sessions opened by status_of, one per address, reused so that polling
  /// status does not pile up sessions on the nodes.
  std::map<std::string, client_session_actor> status_sessions;

  static constexpr auto max_attempt = std::chrono::milliseconds(1500);

  std::chrono::milliseconds remaining(clock_type::time_point deadline) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 clock_type::now());
  }

  /// Opens a client session at `address`.
  expected<client_session_actor> open_at(const std::string& address,
                                         std::chrono::milliseconds timeout) {
    auto ep = parse_endpoint(address);
    if (!ep)
      return error{errc::invalid_argument,
                   "endpoint '" + address + "' is not HOST:PORT (e.g. 127.0.0.1:7101)"};
    if (timeout.count() <= 0)
      timeout = std::chrono::milliseconds(1);
    std::optional<error> err;
    node_endpoint_actor node;
    caf::timespan t{timeout};
    self->request(relay, caf::infinite, caf::connect_atom::value, ep->host, ep->port, t)
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
            const std::set<std::string>& ifs) {
          if (!ptr)
            err = error{errc::unavailable, "nothing is published at " + address};
          else if (ifs != sys.message_types<node_endpoint_actor>())
            err = error{errc::unavailable, address + " is not a Conflux node of this "
                                                     "version; check --endpoints"};
          else
            node = caf::actor_cast<node_endpoint_actor>(std::move(ptr));
        },
        [&](caf::error& e) {
          err = error{errc::unavailable,
                      "cannot connect to " + address + " (" + sys.render(e) + ")"};
        });
    if (err)
      return *err;
    client_session_actor out;
    self->request(relay, caf::infinite, node, rpc::client_hello{"", opts.name}, t)
      .receive(
        [&](caf::strong_actor_ptr& ptr) {
          if (!ptr)
            err = error{errc::unavailable, address + " belongs to another cluster"};
          else
            out = caf::actor_cast<client_session_actor>(std::move(ptr));
        },
        [&](caf::error& e) {
          err = error{errc::unavailable,
                      address + " did not open a session (" + sys.render(e) + ")"};
        });
    if (err)
      return *err;
    return out;
  }

  /// Asks the node to end a session this client no longer uses (otherwise it
  /// lives as long as this client).
  static void end_session(client_session_actor& s) {
    if (s)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    s = nullptr;
  }

  void drop_session() {
    end_session(session);
    connected_to.clear();
  }

  std::string next_target() {
    if (!leader_hint.empty()) {
      auto t = std::move(leader_hint);
      leader_hint.clear();
      return t;
    }
    auto& eps = opts.endpoints;
    return eps[next_endpoint++ % eps.size()];
  }

  /// One request with redirects and retries until the deadline. For a write,
  /// `maybe_applied` (if given) tells whether some attempt may have reached a
  /// leader that proposed it, even when the call fails.
  expected<rpc::client_reply> call(const rpc::client_request& req, bool is_write,
                                   bool* maybe_applied_out = nullptr) {
    if (opts.endpoints.empty())
      return error{errc::invalid_argument, "no endpoints given; pass --endpoints"};
    auto deadline = clock_type::now() + opts.timeout;
    auto backoff = std::chrono::milliseconds(20);
    error last{errc::unavailable, "no endpoint answered within the timeout"};
    bool maybe_applied = false;
    auto pause = [&] {
      auto left = remaining(deadline);
      if (left.count() <= 0)
        return;
      std::this_thread::sleep_for(std::min(backoff, left));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
    };
    while (remaining(deadline).count() > 0) {
      if (!session) {
        auto target = next_target();
        auto s = open_at(target, std::min(remaining(deadline), max_attempt));
        if (!s.ok()) {
          last = s.err();
          pause();
          continue;
        }
        session = std::move(*s);
        connected_to = target;
      }
      auto attempt = std::min(remaining(deadline), max_attempt);
      if (attempt.count() <= 0)
        break;
      std::optional<rpc::client_reply> reply;
      std::optional<caf::error> failure;
      self->request(relay, caf::infinite, session, req, caf::timespan{attempt})
        .receive([&](rpc::client_reply& r) { reply = std::move(r); },
                 [&](caf::error& e) { failure = std::move(e); });
      if (failure) {
        if (is_write)
          maybe_applied = true;
        last = error{errc::unavailable, "node at " + connected_to + " did not answer (" +
                                          sys.render(*failure) + ")"};
        drop_session();
        pause();
        continue;
      }
      auto code = static_cast<errc>(reply->code);
      if (code == errc::not_leader && !reply->leader_address.empty() &&
          reply->leader_address != connected_to) {
        last = error{code, reply->message};
        leader_hint = reply->leader_address;
        drop_session();
        continue;
      }
      if (code == errc::not_leader || code == errc::unavailable ||
          code == errc::no_quorum) {
        last = error{code == errc::not_leader ? errc::unavailable : code, reply->message};
        drop_session();
        pause();
        continue;
      }
      if (code == errc::timeout) {
        // The node lost track of a proposal (e.g. leadership moved): the
        // same sequence may be retried safely.
        maybe_applied = true;
        last = error{code, reply->message};
        drop_session();
        pause();
        continue;
      }
      if (maybe_applied_out)
        *maybe_applied_out = maybe_applied;
      return std::move(*reply);
    }
    if (maybe_applied_out)
      *maybe_applied_out = maybe_applied;
    if (is_write && maybe_applied)
      return error{errc::timeout,
                   "the write did not complete within " +
                     std::to_string(opts.timeout.count()) +
                     " ms and may or may not have applied (" + last.message + ")"};
    if (last.code == errc::timeout || last.code == errc::not_leader)
      last.code = errc::unavailable;
    last.message = "no node could serve the request within " +
                   std::to_string(opts.timeout.count()) + " ms: " + last.message;
    return last;
  }

  static error reply_error(const rpc::client_reply& r) {
    return error{static_cast<errc>(r.code), r.message};
  }

  expected<apply_result> submit(session_id sess, std::uint64_t sequence,
                                const command& cmd, bool* maybe_applied = nullptr) {
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(rpc::request_op::write);
    req.payload = codec::encode(command_envelope{sess, sequence, cmd});
    auto rep = call(req, true, maybe_applied);
    if (!rep.ok())
      return rep.err();
    if (rep->items.empty())
      return reply_error(*rep);
    auto res = codec::decode_apply_result(rep->items[0]);
    if (!res.ok())
      return res.err();
    return std::move(*res);
  }

  conflux::status open_session() {
    auto r = submit(0, 0, conflux::open_session{opts.session_timeout.count()});
    if (!r.ok())
      // Only the session failed to open: the caller's command was never sent.
      return error{errc::unavailable,
                   "could not open a write session, so the write was not sent: " +
                     r.err().message};
    if (r->err)
      return *r->err;
    sid = r->session;
    next_sequence = 1;
    return {};
  }

  expected<rpc::client_reply> read(rpc::request_op op, const std::string& key,
                                   consistency c, std::uint64_t id = 0,
                                   const labels* l = nullptr) {
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(op);
    req.consistency = static_cast<std::uint8_t>(c);
    req.key = key;
    req.id = id;
    if (l)
      req.labels = *l;
    auto rep = call(req, false);
    if (!rep.ok())
      return rep.err();
    if (rep->code != 0)
      return reply_error(*rep);
    return rep;
  }
};

client::client(client_runtime& rt, client_options opts)
  : impl_(std::make_unique<impl>(*rt.get().sys, std::move(opts))) {}

client::~client() {
  if (impl_->sid != 0) {
    // Best effort: an unclosed session expires on its own (session_timeout).
    impl_->opts.timeout = std::min(impl_->opts.timeout, std::chrono::milliseconds(1000));
    auto seq = impl_->next_sequence++;
    (void) impl_->submit(impl_->sid, seq, conflux::close_session{impl_->sid});
  }
}

session_id client::session() const { return impl_->sid; }

expected<apply_result> client::write(command cmd) {
  std::visit(
    [this](auto& c) {
      using T = std::decay_t<decltype(c)>;
      if constexpr (std::is_same_v<T, create_config> || std::is_same_v<T, create_version> ||
                    std::is_same_v<T, publish>) {
        if (c.creator.empty())
          c.creator = impl_->opts.name;
      }
    },
    cmd);
  for (int round = 0; round < 2; ++round) {
    if (impl_->sid == 0)
      if (auto s = impl_->open_session(); !s.ok())
        return s.err();
    auto seq = impl_->next_sequence++;
    bool maybe_applied = false;
    auto r = impl_->submit(impl_->sid, seq, cmd, &maybe_applied);
    if (!r.ok())
      return r;
    if (r->err && r->err->code == errc::session_expired) {
      impl_->sid = 0;
      // An earlier attempt of this sequence may have applied before the
      // session expired: resending it under a new session could apply it
      // twice, so only a write that certainly never reached a leader is
      // retried.
      if (maybe_applied)
        return error{errc::timeout,
                     "the write session expired while the write was being retried; "
                     "it may or may not have applied: check before writing again"};
      if (round == 0)
        continue;
    }
    if (r->err)
      return *r->err;
    return r;
  }
  return error{errc::session_expired, "the write session expired twice; retry"};
}

namespace {

template <class T, class F>
expected<T> decode_one(const rpc::client_reply& r, std::size_t i, F&& decode) {
  if (r.items.size() <= i)
    return error{errc::corrupted, "the node's reply lacks a record; upgrade the client"};
  return decode(r.items[i]);
}

void fill_meta(read_meta* meta, const rpc::client_reply& r) {
  if (meta) {
    meta->node_id = r.node_id;
    meta->revision = r.revision;
  }
}

} // namespace

namespace {

expected<std::uint64_t> admin_result(const expected<rpc::client_reply>& r) {
  if (!r.ok())
    return r.err();
  if (r->code != 0)
    return error{static_cast<errc>(r->code), r->message};
  return r->extra;
}

} // namespace

expected<std::uint64_t> client::add_member(std::uint64_t id, const std::string& address,
                                           bool learner) {
  rpc::client_request req;
  req.op = static_cast<std::uint8_t>(rpc::request_op::add_member);
  req.id = id;
  req.payload = address;
  if (learner)
    req.labels["learner"] = "true";
  return admin_result(impl_->call(req, true));
}

expected<std::uint64_t> client::remove_member(std::uint64_t id) {
  rpc::client_request req;
  req.op = static_cast<std::uint8_t>(rpc::request_op::remove_member);
  req.id = id;
  return admin_result(impl_->call(req, true));
}

expected<std::uint64_t> client::transfer_leader(std::uint64_t id) {
  rpc::client_request req;
  req.op = static_cast<std::uint8_t>(rpc::request_op::transfer_leader);
  req.id = id;
  return admin_result(impl_->call(req, true));
}

expected<config> client::get_config(const std::string& key, consistency c, read_meta* meta) {
  auto r = impl_->read(rpc::request_op::get_config, key, c);
  if (!r.ok())
    return r.err();
  fill_meta(meta, *r);
  return decode_one<config>(*r, 0, codec::decode_config);
}

expected<std::vector<config>> client::list_configs(const std::string& prefix,
                                                   consistency c, read_meta* meta) {
  auto r = impl_->read(rpc::request_op::list_configs, prefix, c);
  if (!r.ok())
    return r.err();
  fill_meta(meta, *r);
  std::vector<config> out;
  for (auto& item : r->items) {
    auto cfg = codec::decode_config(item);
    if (!cfg.ok())
      return cfg.err();
    out.push_back(std::move(*cfg));
  }
  return out;
}

expected<std::vector<version>> client::list_versions(const std::string& key,
                                                     consistency c, read_meta* meta) {
  auto r = impl_->read(rpc::request_op::list_versions, key, c);
  if (!r.ok())
    return r.err();
  fill_meta(meta, *r);
  std::vector<version> out;
  for (auto& item : r->items) {
    auto v = codec::decode_version(item);
    if (!v.ok())
      return v.err();
    out.push_back(std::move(*v));
  }
  return out;
}

expected<version> client::get_version(const std::string& key, version_id id,
                                      consistency c, read_meta* meta) {
  auto r = impl_->read(rpc::request_op::get_version, key, c, id);
  if (!r.ok())
    return r.err();
  fill_meta(meta, *r);
  return decode_one<version>(*r, 0, codec::decode_version);
}

expected<resolved> client::resolve(const std::string& key, const labels& client_labels,
                                   consistency c) {
  auto r = impl_->read(rpc::request_op::resolve, key, c, 0, &client_labels);
  if (!r.ok())
    return r.err();
  auto cfg = decode_one<config>(*r, 0, codec::decode_config);
  if (!cfg.ok())
    return cfg.err();
  auto ver = decode_one<version>(*r, 1, codec::decode_version);
  if (!ver.ok())
    return ver.err();
  resolved out;
  out.cfg = std::move(*cfg);
  out.ver = std::move(*ver);
  out.rule_index = r->extra;
  fill_meta(&out.meta, *r);
  return out;
}

expected<node_status> client::status_of(const std::string& address) {
  auto& cache = impl_->status_sessions;
  std::optional<error> err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto i = cache.find(address);
    if (i == cache.end()) {
      auto s = impl_->open_at(address, impl_->opts.timeout);
      if (!s.ok())
        return s.err();
      i = cache.emplace(address, std::move(*s)).first;
    }
    err.reset();
    node_status out;
    impl_->self
      ->request(impl_->relay, caf::infinite, i->second, status_atom::value,
                caf::timespan{impl_->opts.timeout})
      .receive(
        [&](rpc::status_reply& r) { out = std::move(r); },
        [&](caf::error& e) {
          err = error{errc::unavailable,
                      address + " did not report its status (" + impl_->sys.render(e) + ")"};
        });
    if (!err)
      return out;
    // The cached session may belong to a node that restarted: open a new one.
    impl::end_session(i->second);
    cache.erase(i);
  }
  return *err;
}

expected<node_status> client::status() {
  error last{errc::unavailable, "no endpoint given"};
  for (auto& ep : impl_->opts.endpoints) {
    auto s = status_of(ep);
    if (s.ok())
      return s;
    last = s.err();
  }
  return last;
}

} // namespace conflux::actors
