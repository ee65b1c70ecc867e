// The client facade (client.hpp): each call builds its request, sends it
// through the retrying leader RPC (client_rpc.hpp) and decodes the answer.
// Writes go through an exactly-once session opened on first use; what a
// failed call's message says depends on whether the request ever left this
// process (rpc_failure).
#include "actors/client.hpp"

#include "actors/client_rpc.hpp"
#include "actors/remoting.hpp"
#include "protocol/codec.hpp"

#include <stdexcept>

namespace conflux::actors {

std::optional<consistency> parse_consistency(const std::string& s) {
  if (s == "linearizable")
    return consistency::linearizable;
  if (s == "serializable")
    return consistency::serializable;
  return std::nullopt;
}

client_runtime::client_runtime(const transport_settings& transport)
    : impl_(std::make_unique<impl>()) {
  configure_remoting(impl_->cfg, transport);
  impl_->sys = std::make_unique<caf::actor_system>(impl_->cfg);
  if (auto st = start_transport(*impl_->sys, transport); !st.ok())
    throw std::invalid_argument(st.err().message);
}

client_runtime::~client_runtime() = default;

namespace {

using std::chrono::milliseconds;

std::string within(milliseconds t) {
  return "within " + std::to_string(t.count()) + " ms";
}

/// A read, or a status query, that got no answer.
error read_failure(const rpc_failure& f, milliseconds timeout) {
  // A refused token: the node's own words (every node would say the same).
  if (f.last.code == errc::unauthenticated)
    return f.last;
  if (f.dead_ends)
    return {errc::unavailable, "no endpoint reaches a Conflux node: " + f.last.message};
  auto code = f.last.code;
  if (code == errc::timeout || code == errc::not_leader)
    code = errc::unavailable;
  return {code,
          "no node could serve the request " + within(timeout) + ": " + f.last.message};
}

/// A change (`what`: "the write", ...) that got no answer says the one thing
/// that is true: it was sent and its outcome is unknown (timeout), it never
/// left this client, or every node that got it refused it.
error change_failure(const rpc_failure& f, milliseconds timeout,
                     const std::string& what) {
  if (f.unanswered)
    return {errc::timeout, what + " was sent but no answer came " + within(timeout) +
                               " (last: " + f.last.message + ")"};
  auto e = read_failure(f, timeout);
  if (!f.refused)
    e.message = what + " was not sent: " + e.message;
  return e;
}

error reply_error(const rpc::client_reply& r) {
  return error{static_cast<errc>(r.code), r.message};
}

expected<apply_result> apply_result_of(const rpc::client_reply& r) {
  if (r.items.empty())
    return reply_error(r);
  return codec::decode_apply_result(r.items[0]);
}

template <class T, class F>
expected<T> decode_one(const rpc::client_reply& r, std::size_t i, F&& decode) {
  if (r.items.size() <= i)
    return error{errc::corrupted,
                 "the node's reply lacks a record; upgrade the client"};
  return decode(r.items[i]);
}

template <class T, class F>
expected<std::vector<T>> decode_all(const rpc::client_reply& r, F&& decode) {
  std::vector<T> out;
  for (auto& item : r.items) {
    auto one = decode(item);
    if (!one.ok())
      return one.err();
    out.push_back(std::move(*one));
  }
  return out;
}

void fill_meta(read_meta* meta, const rpc::client_reply& r) {
  if (meta) {
    meta->node_id = r.node_id;
    meta->revision = r.revision;
  }
}

} // namespace

struct client::impl {
  impl(caf::actor_system& sys, client_options opts) : rpc(sys, std::move(opts)) {}

  leader_rpc rpc;
  session_id sid = 0;
  std::uint64_t next_sequence = 1;

  milliseconds timeout() const { return rpc.options().timeout; }

  /// One command of session `sess` (0: outside any session, to open one).
  rpc_outcome send(session_id sess, std::uint64_t sequence, const command& cmd) {
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(rpc::request_op::write);
    req.payload = codec::encode(command_envelope{sess, sequence, cmd});
    return rpc.call(req);
  }

  /// Opens the write session. Whatever goes wrong, the caller's own write
  /// has not been sent yet.
  conflux::status open_session() {
    // No id: the node that receives the request draws a random one, and
    // binds the session to this connection's identity.
    auto out = send(
        0, 0,
        conflux::open_session{rpc.options().session_timeout.count(), std::nullopt});
    if (!out.reply) {
      const auto& f = out.failure;
      if (f.last.code == errc::unauthenticated)
        return error{errc::unauthenticated,
                     "the write was not sent: " + f.last.message};
      if (f.dead_ends)
        return error{errc::unavailable,
                     "the write was not sent: no endpoint reaches a Conflux node: " +
                         f.last.message};
      return error{errc::unavailable,
                   "the write was not sent: no write session could be "
                   "opened " +
                       within(timeout()) + " (last: " + f.last.message + ")"};
    }
    auto r = apply_result_of(*out.reply);
    if (!r.ok())
      return error{errc::unavailable,
                   "the write was not sent: no write session could be opened (" +
                       r.err().message + ")"};
    if (r->err)
      return *r->err;
    sid = r->session;
    next_sequence = 1;
    return {};
  }

  expected<rpc::client_reply> read(rpc::request_op op, const std::string& key,
                                   consistency c, std::uint64_t id = 0,
                                   const labels* l = nullptr,
                                   std::string payload = {}) {
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(op);
    req.consistency = static_cast<std::uint8_t>(c);
    req.key = key;
    req.id = id;
    req.payload = std::move(payload);
    if (l)
      req.labels = *l;
    auto out = rpc.call(req);
    if (!out.reply)
      return read_failure(out.failure, timeout());
    if (out.reply->code != 0)
      return reply_error(*out.reply);
    return std::move(*out.reply);
  }

  /// A membership request (`what` names it in messages): the new
  /// configuration's log index, or the new leader's term.
  expected<std::uint64_t> admin(rpc::request_op op, std::uint64_t id,
                                const std::string& what, std::string payload = {},
                                bool learner = false) {
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(op);
    req.id = id;
    req.payload = std::move(payload);
    if (learner)
      req.labels["learner"] = "true";
    auto out = rpc.call(req);
    if (!out.reply)
      return change_failure(out.failure, timeout(), what);
    if (out.reply->code != 0)
      return reply_error(*out.reply);
    return out.reply->extra;
  }
};

client::client(client_runtime& rt, client_options opts)
    : impl_(std::make_unique<impl>(*rt.get().sys, std::move(opts))) {}

client::~client() {
  if (impl_->sid != 0) {
    // Best effort: an unclosed session expires on its own (session_timeout).
    impl_->rpc.limit_timeout(milliseconds(1000));
    auto seq = impl_->next_sequence++;
    (void)impl_->send(impl_->sid, seq, conflux::close_session{impl_->sid});
  }
}

session_id client::session() const {
  return impl_->sid;
}

expected<apply_result> client::write(command cmd) {
  std::visit(
      [this](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, create_config> ||
                      std::is_same_v<T, create_version> || std::is_same_v<T, publish>) {
          if (c.creator.empty())
            c.creator = impl_->rpc.options().name;
        }
      },
      cmd);
  for (int round = 0; round < 2; ++round) {
    if (impl_->sid == 0)
      if (auto s = impl_->open_session(); !s.ok())
        return s.err();
    auto seq = impl_->next_sequence++;
    auto out = impl_->send(impl_->sid, seq, cmd);
    if (!out.reply)
      return change_failure(out.failure, impl_->timeout(), "the write");
    auto r = apply_result_of(*out.reply);
    if (!r.ok())
      return r;
    if (r->err && r->err->code == errc::session_expired) {
      impl_->sid = 0;
      // An earlier attempt of this sequence may have applied before the
      // session expired: resending it under a new session could apply it
      // twice, so only a write that certainly never reached a leader is
      // retried.
      if (out.failure.unanswered)
        return error{errc::timeout,
                     "the write was sent, got no answer, and its session expired "
                     "before a retry could learn what became of it"};
      if (round == 0)
        continue;
    }
    if (r->err)
      return *r->err;
    return r;
  }
  return error{errc::session_expired, "the write session expired twice; retry"};
}

expected<std::uint64_t> client::add_member(std::uint64_t id, const std::string& address,
                                           bool learner) {
  return impl_->admin(rpc::request_op::add_member, id, "the membership change", address,
                      learner);
}

expected<std::uint64_t> client::remove_member(std::uint64_t id) {
  return impl_->admin(rpc::request_op::remove_member, id, "the membership change");
}

expected<std::uint64_t> client::transfer_leader(std::uint64_t id) {
  return impl_->admin(rpc::request_op::transfer_leader, id, "the leadership transfer");
}

namespace {

/// Every page of a list whose pages go on after the last item of the page
/// before, named by its `cursor` member (a config's key, a principal's,
/// role's or tenant's name), sent as the request's payload; a reply with
/// extra = 1 has more after its last item. Each page is read on its own, so
/// a long list may mix revisions; `meta` (if any) describes the last page.
template <class T, class Decode>
expected<std::vector<T>>
pages_after(client::impl& im, rpc::request_op op, const std::string& key, consistency c,
            read_meta* meta, Decode decode, std::string T::*cursor) {
  std::vector<T> out;
  std::string after;
  for (;;) {
    auto r = im.read(op, key, c, 0, nullptr, after);
    if (!r.ok())
      return r.err();
    fill_meta(meta, *r);
    auto page = decode_all<T>(*r, decode);
    if (!page.ok())
      return page.err();
    for (auto& x : *page)
      out.push_back(std::move(x));
    if (r->extra == 0 || page->empty())
      return out;
    if (out.back().*cursor <= after)
      return error{errc::corrupted, "the node's list pages do not advance; upgrade "
                                    "the client or the node"};
    after = out.back().*cursor;
  }
}

/// Every page of an auth list (linearizable: a principal just made is listed).
template <class T, class Decode>
expected<std::vector<T>> auth_list(client::impl& im, rpc::request_op op,
                                   const std::string& key, Decode decode) {
  return pages_after<T>(im, op, key, consistency::linearizable, nullptr, decode,
                        &T::name);
}

} // namespace

expected<auth::access> client::whoami() {
  auto r = impl_->read(rpc::request_op::whoami, {}, consistency::linearizable);
  if (!r.ok())
    return r.err();
  if (r->items.empty())
    return error{errc::corrupted, "the node's whoami answer is empty; upgrade the "
                                  "client or the node"};
  auth::access a;
  auto who = codec::decode_principal(r->items.front());
  if (!who.ok())
    return who.err();
  a.who = std::move(*who);
  for (std::size_t i = 1; i < r->items.size(); ++i) {
    auto role = codec::decode_role(r->items[i]);
    if (!role.ok())
      return role.err();
    a.roles.push_back(std::move(*role));
  }
  return a;
}

expected<std::vector<auth::principal>> client::list_tokens(const std::string& prefix) {
  return auth_list<auth::principal>(*impl_, rpc::request_op::list_tokens, prefix,
                                    codec::decode_principal);
}

expected<std::vector<auth::role>> client::list_roles() {
  return auth_list<auth::role>(*impl_, rpc::request_op::list_roles, {},
                               codec::decode_role);
}

expected<std::vector<auth::tenant>> client::list_tenants() {
  return auth_list<auth::tenant>(*impl_, rpc::request_op::list_tenants, {},
                                 codec::decode_tenant);
}

expected<std::uint64_t> client::kek_rotate_batch() {
  return impl_->admin(rpc::request_op::kek_rotate, 0, "the key rotation");
}

expected<client::kek_state> client::kek_status() {
  auto r = impl_->read(rpc::request_op::kek_status, {}, consistency::linearizable);
  if (!r.ok())
    return r.err();
  if (r->items.empty())
    return error{errc::corrupted, "the node's kek_status answer is empty; upgrade the "
                                  "client or the node"};
  kek_state out;
  out.current = r->items.front();
  for (std::size_t i = 1; i < r->items.size(); ++i) {
    auto& item = r->items[i];
    auto eq = item.rfind('=');
    std::uint64_t n = 0;
    bool ok = eq != std::string::npos && eq > 0 && eq + 1 < item.size();
    for (std::size_t j = eq + 1; ok && j < item.size(); ++j) {
      ok = item[j] >= '0' && item[j] <= '9' && n < (~std::uint64_t{0}) / 10;
      n = n * 10 + static_cast<std::uint64_t>(item[j] - '0');
    }
    if (!ok)
      return error{errc::corrupted, "the node's kek_status answer is malformed; "
                                    "upgrade the client or the node"};
    out.sealed[item.substr(0, eq)] = n;
  }
  return out;
}

expected<config> client::get_config(const std::string& key, consistency c,
                                    read_meta* meta) {
  auto r = impl_->read(rpc::request_op::get_config, key, c);
  if (!r.ok())
    return r.err();
  fill_meta(meta, *r);
  return decode_one<config>(*r, 0, codec::decode_config);
}

// Lists come in pages of at most the node's --max-reply-bytes: a reply with
// extra = 1 has more after its last item. Each page is read on its own, so a
// long list may mix revisions; meta describes the last page.

expected<std::vector<config>> client::list_configs(const std::string& prefix,
                                                   consistency c, read_meta* meta) {
  return pages_after<config>(*impl_, rpc::request_op::list_configs, prefix, c, meta,
                             codec::decode_config, &config::key);
}

expected<std::vector<version>> client::list_versions(const std::string& key,
                                                     consistency c, read_meta* meta) {
  std::vector<version> out;
  std::uint64_t from = 0;
  for (;;) {
    auto r = impl_->read(rpc::request_op::list_versions, key, c, from);
    if (!r.ok())
      return r.err();
    fill_meta(meta, *r);
    auto page = decode_all<version>(*r, codec::decode_version);
    if (!page.ok())
      return page.err();
    for (auto& x : *page)
      out.push_back(std::move(x));
    if (r->extra == 0 || page->empty())
      return out;
    if (out.back().id < from)
      return error{errc::corrupted, "the node's list pages do not advance; upgrade "
                                    "the client or the node"};
    from = out.back().id + 1;
  }
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

expected<std::vector<audit::record>> client::audit_list(const audit::filter& f,
                                                        consistency c) {
  std::vector<audit::record> out;
  labels l;
  if (!f.principal.empty())
    l["principal"] = f.principal;
  auto since = f.since;
  for (;;) {
    auto r = impl_->read(rpc::request_op::audit_list, f.key, c, since, &l);
    if (!r.ok())
      return r.err();
    auto page = decode_all<audit::record>(*r, audit::decode_record);
    if (!page.ok())
      return page.err();
    for (auto& x : *page)
      out.push_back(std::move(x));
    if (r->extra == 0 || page->empty())
      return out;
    if (out.back().revision < since)
      return error{errc::corrupted, "the node's audit pages do not advance; upgrade "
                                    "the client or the node"};
    since = out.back().revision + 1;
  }
}

expected<audit::chain_point> client::audit_verify(std::uint64_t seq) {
  auto r =
      impl_->read(rpc::request_op::audit_verify, "", consistency::serializable, seq);
  if (!r.ok())
    return r.err();
  return decode_one<audit::chain_point>(*r, 0, audit::decode_chain_point);
}

expected<node_status> client::status_of(const std::string& address) {
  return impl_->rpc.status_at(address);
}

expected<node_status> client::status() {
  error last{errc::unavailable, "no endpoint given"};
  for (const auto& ep : impl_->rpc.options().endpoints) {
    auto s = status_of(ep);
    if (s.ok())
      return s;
    last = s.err();
  }
  return last;
}

} // namespace conflux::actors
