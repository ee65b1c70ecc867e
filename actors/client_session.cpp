#include "actors/client_session.hpp"

#include "actors/audit_reads.hpp"
#include "actors/remoting.hpp"
#include "actors/secret_content.hpp"
#include "protocol/auth.hpp"
#include "protocol/auth_state.hpp"
#include "protocol/codec.hpp"
#include "protocol/state_machine.hpp"

#include <caf/all.hpp>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <type_traits>

namespace conflux::actors {
namespace {

using self_ptr = client_session_self;

/// The Raft role that holds the core now (read per request: no relay).
raft_actor raft_of(const node_context& ctx) {
  return caf::actor_cast<raft_actor>(ctx.raft.get());
}

/// Local requests to the Raft role never wait longer than this; the client's
/// own deadline is normally shorter.
constexpr auto raft_timeout = std::chrono::seconds(30);

rpc::client_reply error_reply(const error& e) {
  rpc::client_reply r;
  r.code = static_cast<std::uint8_t>(e.code);
  r.message = e.message;
  return r;
}

rpc::client_reply from_raft(node_context& ctx, const raft_reply& rr) {
  rpc::client_reply r;
  r.node_id = ctx.opts.id;
  r.revision = ctx.applied.load();
  if (rr.err) {
    r = error_reply(*rr.err);
    r.node_id = ctx.opts.id;
    r.leader_id = rr.leader_id;
    r.leader_address = ctx.address_of(rr.leader_id);
    return r;
  }
  r.revision = rr.index;
  r.items.push_back(codec::encode(rr.result));
  return r;
}

/// 64 bits from OpenSSL's CSPRNG (seeded by the kernel's getrandom), never 0.
expected<session_id> draw_session_id() {
  for (int attempt = 0; attempt < 4; ++attempt) {
    session_id id = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1)
      break;
    if (id != 0)
      return id;
  }
  return error{errc::unavailable,
               "this node could not draw a random session id (OpenSSL RAND_bytes "
               "failed); retry, or open the session through another node"};
}

/// Makes the write the client sent into the command this node proposes: the
/// caller is the identity the sender's connection proved, the credential
/// the hash of the token the session was opened with and the origin the
/// client's address (never what the client wrote), and a new session gets
/// an id drawn here. The stamp happens on the node that received the
/// request; clients send writes to the leader (client_rpc follows not_leader
/// redirects, and a non-leader proposes nothing), so it is the leader that
/// stamps, and every replica then applies the same caller, credential and id
/// from the log, and decides the same way. bootstrap_auth is the one command
/// applied without a credential: only a leader proposes it, never a client.
status stamp_write(caf::actor_system& sys, const caf::strong_actor_ptr& sender,
                   const session_identity& who, command_envelope& env) {
  if (std::holds_alternative<bootstrap_auth>(env.cmd))
    return {errc::permission_denied,
            "bootstrap_auth is proposed by a leader from its --bootstrap-token-hash, "
            "never by a client; to add a principal, use `conflux auth token create`"};
  env.caller = sender ? peer_identity_of(sys, sender->node()) : std::string{};
  env.credential = who.credential;
  env.origin = who.origin;
  if (auto* open = std::get_if<open_session>(&env.cmd)) {
    auto id = draw_session_id();
    if (!id.ok())
      return id.err();
    open->id = *id;
  }
  return {};
}

template <class T, class = void>
struct has_key : std::false_type {};
template <class T>
struct has_key<T, std::void_t<decltype(std::declval<const T&>().key)>>
    : std::true_type {};

/// The key a command works on ("" for commands without one: sessions, auth).
std::string key_of(const command& cmd) {
  return std::visit(
      [](const auto& c) -> std::string {
        if constexpr (has_key<std::decay_t<decltype(c)>>::value)
          return c.key;
        else
          return {};
      },
      cmd);
}

/// The counter a refusal with `code` adds to.
void count_refusal(node_context& ctx, errc code) {
  if (code == errc::unauthenticated)
    ctx.counters.add("auth.refused.unauthenticated");
  else if (code == errc::permission_denied)
    ctx.counters.add("auth.refused.permission_denied");
}

/// The session's principal as the state holds it now (cluster time), in the
/// caller's read transaction. Outer error: the state could not be read;
/// inner: unauthenticated (revoked, expired, or its token now reaches
/// another principal), worded without the token or its hash.
expected<expected<auth::access>> principal_now(node_context& ctx, state_reader& txn,
                                               const session_identity& who) {
  auto a = auth::load_access(txn, who.credential, ctx.cluster_now_ms());
  if (!a.ok())
    return a.err();
  if (!a->ok())
    return expected<auth::access>{
        error{errc::unauthenticated,
              "the token of this session no longer works (" + a->err().message +
                  "); open a new session with a valid token (--token-file)"}};
  if ((*a)->who.name != who.principal)
    return expected<auth::access>{
        error{errc::unauthenticated,
              "the token of this session now belongs to another principal; open a "
              "new session"}};
  return *a;
}

/// Spends one request of the (principal, tenant of `key`) bucket: the
/// tenant's rate, else --default-rate. resource_exhausted when it is empty;
/// another error when the tenant could not be read.
status spend_rate(node_context& ctx, state_reader& txn, const std::string& principal,
                  std::string_view key) {
  auto tenant = auth::tenant_of(key);
  std::uint64_t rate = ctx.opts.default_rate;
  if (!tenant.empty()) {
    auto t = txn.find_tenant(std::string{tenant});
    if (!t.ok())
      return t.err();
    if (*t && (*t)->rate > 0)
      rate = (*t)->rate;
  }
  if (ctx.rates.allow(principal, tenant, rate, ctx.clock->steady()))
    return {};
  ctx.counters.add("auth.refused.rate");
  return {errc::resource_exhausted,
          "principal '" + principal + "' sent more than " + std::to_string(rate) +
              " requests per second for tenant '" + std::string{tenant} + "' to node " +
              std::to_string(ctx.opts.id) +
              " (the tenant's rate, else --default-rate); slow down, or ask a "
              "cluster admin to raise it (`conflux auth tenant set " +
              std::string{tenant} + " --rate N`)"};
}

/// Seals the content of a write to a secret config before it is proposed
/// (actors/secret_content.hpp); the state read is this node's, and the state
/// machine refuses the write if the config changed before it applies.
status seal_write(node_context& ctx, const session_identity& who, command& cmd) {
  bool adds_version = std::holds_alternative<create_version>(cmd) ||
                      std::holds_alternative<publish>(cmd);
  auto* create = std::get_if<create_config>(&cmd);
  if (!adds_version && !create && !std::holds_alternative<rewrap_secrets>(cmd))
    return {};
  auto txn = ctx.state->begin_read();
  if (!txn.ok())
    return txn.err();
  auto may_write = [&](const std::string& key) -> status {
    auto a = principal_now(ctx, *txn, who);
    if (!a.ok())
      return a.err();
    if (!a->ok())
      return a->err();
    if (!(*a)->may(auth::write, key))
      return auth::denied(**a, auth::write, "write the secret", key);
    return {};
  };
  return seal_secret_write(ctx.keys.get(), *txn, ctx.opts.limits, cmd, may_write);
}

/// A node whose applier waits for room on its disk would keep a write or a
/// linearizable read waiting for an apply that does not come: it refuses
/// them at once (unavailable: the client tries another node).
std::optional<rpc::client_reply> refuse_while_paused(node_context& ctx) {
  if (!ctx.paused.paused())
    return std::nullopt;
  auto r = error_reply(error{
      errc::unavailable,
      "node " + std::to_string(ctx.opts.id) +
          " cannot apply committed entries until there is room on its disk (" +
          ctx.paused.reason() +
          "); ask another node, or read from this one with serializable consistency"});
  r.node_id = ctx.opts.id;
  r.revision = ctx.applied.load();
  return r;
}

void fail_node_on(node_context& ctx, const error& e) {
  // docs/design.md, durability rule 6: never serve data that cannot be
  // verified, and stop.
  if (e.code == errc::corrupted || e.code == errc::storage_failure) {
    auto msg = "read found damaged state: " + to_string(e) + "; stopping the node";
    spdlog::error("{}", msg);
    ctx.failure.fail(msg);
  }
}

/// A request refused for want of a valid principal or of a permission goes
/// to this node's denied-request log (actors/denied_log.hpp): it never
/// reaches the replicated audit trail. Names only, never a token or content.
void record_denial(node_context& ctx, const error& e, const session_identity* who,
                   std::string_view what, std::uint8_t op, std::string_view key) {
  if (!ctx.denied ||
      (e.code != errc::unauthenticated && e.code != errc::permission_denied))
    return;
  denied_event ev;
  ev.what = std::string{what};
  if (who) {
    ev.principal = who->principal;
    ev.origin = who->origin;
  }
  ev.op = std::to_string(op);
  ev.key = std::string{key};
  ev.code = e.code;
  ev.reason = e.message;
  record_denied(ctx.denied.get(), ctx.counters, ev);
}

/// A refusal for the principal check or the rate, as a reply; the node
/// stops on a state failure (fail_node_on). `who`, `op` and `key` say what
/// was refused, for the denied-request log.
rpc::client_reply refused(node_context& ctx, const error& e, std::uint64_t revision,
                          const session_identity* who = nullptr, std::uint8_t op = 0,
                          std::string_view key = {}) {
  fail_node_on(ctx, e);
  count_refusal(ctx, e.code);
  record_denial(ctx, e, who, "request", op, key);
  auto r = error_reply(e);
  r.node_id = ctx.opts.id;
  r.revision = revision;
  return r;
}

/// What a request that is not a read needs before it goes on: a valid
/// principal now, `cluster` permissions (cluster_admin for membership) and,
/// if it `counts` (all but status, which monitoring polls), a token of its
/// rate bucket for `key`'s tenant. The refusal, or nothing.
std::optional<rpc::client_reply> admit(node_context& ctx, const session_identity& who,
                                       std::string_view key, auth::perm_set cluster,
                                       std::string_view what, bool counts = true) {
  auto txn = ctx.state->begin_read();
  if (!txn.ok())
    return refused(ctx, txn.err(), ctx.applied.load());
  auto revision = ctx.applied.load();
  auto a = principal_now(ctx, *txn, who);
  if (!a.ok())
    return refused(ctx, a.err(), revision);
  if (!a->ok())
    return refused(ctx, a->err(), revision, &who, 0, key);
  if (cluster != 0 && ((*a)->cluster() & cluster) != cluster)
    return refused(ctx, auth::denied(**a, cluster, what, "*"), revision, &who, 0, key);
  if (counts)
    if (auto s = spend_rate(ctx, *txn, who.principal, key); !s.ok())
      return refused(ctx, s.err(), revision);
  return std::nullopt;
}

/// Bytes a reply item costs beyond its own (length prefix, slack).
constexpr std::size_t item_overhead = 16;

/// A page of a list reply: the records not before the cursor, in order, as
/// many as fit in `budget` bytes (at least one, which the content limits keep
/// far below CAF's payload limit). Sets r.extra = 1 when more follow: the
/// client asks again from after the last item (PROTOCOL.md, list paging).
template <class T, class BeforeCursor>
void fill_page(rpc::client_reply& r, const std::vector<T>& records,
               BeforeCursor before_cursor, std::size_t budget) {
  std::size_t bytes = 0;
  for (const auto& rec : records) {
    if (before_cursor(rec))
      continue;
    auto item = codec::encode(rec);
    if (!r.items.empty() && bytes + item.size() + item_overhead > budget) {
      r.extra = 1;
      return;
    }
    bytes += item.size() + item_overhead;
    r.items.push_back(std::move(item));
  }
}

/// One request of a session waiting for its answer: counts in the
/// session's in-flight figure while the handlers that answer it live.
class in_flight_slot {
public:
  explicit in_flight_slot(std::shared_ptr<std::size_t> n) : n_(std::move(n)) { ++*n_; }
  ~in_flight_slot() { --*n_; }
  in_flight_slot(const in_flight_slot&) = delete;
  in_flight_slot& operator=(const in_flight_slot&) = delete;

private:
  std::shared_ptr<std::size_t> n_;
};

/// Idle checks per idle timeout: a silent session closes between one and
/// one and a quarter timeouts after its client last spoke.
constexpr int idle_checks_per_timeout = 4;

/// Sealed versions one kek_rotate request rewraps at most.
constexpr std::size_t rewrap_batch_items = 256;

/// kek_rotate and kek_status (rpc.hpp; docs/security.md, "Key rotation").
caf::result<rpc::client_reply> serve_kek(self_ptr self, const rpc::client_request& req,
                                         std::shared_ptr<in_flight_slot> slot) {
  auto& st = self->state;
  auto& ctx = *st.ctx;
  bool rotate = static_cast<rpc::request_op>(req.op) == rpc::request_op::kek_rotate;
  if (rotate)
    if (auto no = refuse_while_paused(ctx))
      return *no;
  if (auto no = admit(ctx, st.who, "", auth::cluster_admin,
                      rotate ? "rotate key-encryption keys"
                             : "see which keys wrap the secrets"))
    return *no;
  if (!ctx.keys)
    return refused(ctx,
                   error{errc::unavailable,
                         "this node has no key-encryption key file (--kek-file); "
                         "rotate through a node that has one"},
                   ctx.applied.load());
  auto txn = ctx.state->begin_read();
  if (!txn.ok())
    return refused(ctx, txn.err(), ctx.applied.load());
  rpc::client_reply r;
  r.node_id = ctx.opts.id;
  r.revision = ctx.applied.load();
  r.items.push_back(ctx.keys->current().id);
  if (!rotate) {
    auto counts = sealed_versions_by_key(*txn);
    if (!counts.ok())
      return refused(ctx, counts.err(), r.revision);
    for (auto& [id, n] : *counts)
      r.items.push_back(id + "=" + std::to_string(n));
    return r;
  }
  auto batch =
      rewrap_batch(*ctx.keys, *txn, rewrap_batch_items, ctx.opts.max_reply_bytes / 2);
  if (!batch.ok())
    return refused(ctx, batch.err(), r.revision);
  if (batch->empty())
    return r; // extra = 0: nothing left under another key
  auto count = batch->size();
  command_envelope env{0, 0, rewrap_secrets{std::move(*batch)}};
  if (auto s = stamp_write(self->system(), self->current_sender(), st.who, env);
      !s.ok())
    return refused(ctx, s.err(), r.revision);
  auto rp = self->make_response_promise<rpc::client_reply>();
  auto key_id = ctx.keys->current().id;
  self->request(raft_of(ctx), raft_timeout, propose_request{codec::encode(env)})
      .then(
          [=, held = slot](raft_reply& rr) mutable {
            auto reply = from_raft(*self->state.ctx, rr);
            if (!rr.err && rr.result.err) {
              reply = error_reply(*rr.result.err);
              reply.node_id = self->state.ctx->opts.id;
            } else if (reply.code == 0) {
              reply.items = {key_id};
              reply.extra = count;
            }
            rp.deliver(std::move(reply));
          },
          [=, held = slot](caf::error& e) mutable {
            rp.deliver(error_reply(error{
                errc::timeout, "the node did not answer the rotation in time (" +
                                   self->system().render(e) + "); run it again"}));
          });
  return rp;
}

void schedule_idle_check(self_ptr self) {
  auto period = self->state.ctx->opts.session_idle_timeout / idle_checks_per_timeout;
  self->delayed_send(self, std::max(period, std::chrono::milliseconds(1)),
                     tick_atom::value);
}

/// The idle check: the session closes after idle_checks_per_timeout checks in
/// a row found no message from its client, no request open and no watch.
void check_idle(self_ptr self) {
  auto& st = self->state;
  if (st.heard || *st.in_flight > 0 || st.watches > 0) {
    st.heard = false;
    st.idle_checks = 0;
  } else if (++st.idle_checks >= idle_checks_per_timeout) {
    st.ctx->counters.add("session.closed.idle");
    spdlog::debug("client session closed: its client sent nothing for {} ms "
                  "(--session-idle-timeout)",
                  st.ctx->opts.session_idle_timeout.count());
    self->quit();
    return;
  }
  schedule_idle_check(self);
}

} // namespace

rpc::client_reply serve_read(node_context& ctx, const rpc::client_request& req,
                             const session_identity& who) {
  auto txn = ctx.state->begin_read();
  if (!txn.ok()) {
    fail_node_on(ctx, txn.err());
    return error_reply(txn.err());
  }
  auto applied = txn->last_applied();
  if (!applied.ok()) {
    fail_node_on(ctx, applied.err());
    return error_reply(applied.err());
  }
  rpc::client_reply r;
  r.node_id = ctx.opts.id;
  r.revision = *applied;
  auto failed = [&](const error& e) {
    return refused(ctx, e, *applied, &who, req.op, req.key);
  };
  // The principal and its roles in this very transaction: the decision and
  // the data it guards are of the same revision.
  auto access = principal_now(ctx, *txn, who);
  if (!access.ok())
    return failed(access.err());
  if (!access->ok())
    return failed(access->err());
  const auto& a = **access;
  auto op = static_cast<rpc::request_op>(req.op);
  if (auto s = spend_rate(ctx, *txn, who.principal, req.key); !s.ok())
    return failed(s.err());
  auto need_read = [&](const char* what) -> std::optional<rpc::client_reply> {
    if (a.may(auth::read, req.key))
      return std::nullopt;
    return failed(auth::denied(a, auth::read, what, req.key));
  };
  // A sealed version's content goes only to principals with read_secret,
  // opened here (actors/secret_content.hpp); the log and state hold only
  // ciphertext.
  auto readable = [&](version v) -> expected<version> {
    if (!v.sealed)
      return v;
    if (!a.may(auth::read_secret, req.key))
      return auth::denied(a, auth::read_secret, "read the secret content of", req.key);
    return open_sealed(ctx.keys.get(), req.key, std::move(v));
  };
  auto blank = [](auth::principal p) {
    p.token_hash.clear();
    return p;
  };
  if (is_audit_op(req.op))
    return *serve_audit_read(ctx, *txn, req, &a, *applied);
  switch (op) {
  case rpc::request_op::get_config: {
    if (auto no = need_read("get"))
      return *no;
    auto c = get_config(*txn, req.key);
    if (!c.ok())
      return failed(c.err());
    r.items.push_back(codec::encode(*c));
    return r;
  }
  case rpc::request_op::list_configs: {
    auto cs = list_configs(*txn, req.key, 0);
    if (!cs.ok())
      return failed(cs.err());
    // Only what the principal may read: a list never tells of other keys.
    std::vector<config> visible;
    visible.reserve(cs->size());
    for (auto& c : *cs)
      if (a.may(auth::read, c.key))
        visible.push_back(std::move(c));
    // payload: the key of the last config of the previous page.
    fill_page(
        r, visible, [&](const config& c) { return c.key <= req.payload; },
        ctx.opts.max_reply_bytes);
    return r;
  }
  case rpc::request_op::list_versions: {
    if (auto no = need_read("list versions of"))
      return *no;
    auto vs = list_versions(*txn, req.key);
    if (!vs.ok())
      return failed(vs.err());
    for (auto& v : *vs) {
      auto opened = readable(v);
      if (!opened.ok())
        return failed(opened.err());
      v = std::move(*opened);
    }
    // id: the first version id wanted (the last of the previous page + 1).
    fill_page(
        r, *vs, [&](const version& v) { return v.id < req.id; },
        ctx.opts.max_reply_bytes);
    return r;
  }
  case rpc::request_op::get_version: {
    if (auto no = need_read("get a version of"))
      return *no;
    auto v = get_version(*txn, req.key, req.id);
    if (!v.ok())
      return failed(v.err());
    auto opened = readable(std::move(*v));
    if (!opened.ok())
      return failed(opened.err());
    r.items.push_back(codec::encode(*opened));
    return r;
  }
  case rpc::request_op::resolve: {
    if (auto no = need_read("resolve"))
      return *no;
    auto res = resolve(*txn, req.key, req.labels);
    if (!res.ok())
      return failed(res.err());
    auto opened = readable(std::move(res->ver));
    if (!opened.ok())
      return failed(opened.err());
    r.items.push_back(codec::encode(res->cfg));
    r.items.push_back(codec::encode(*opened));
    r.extra = res->rule_index;
    return r;
  }
  case rpc::request_op::whoami: {
    r.items.push_back(codec::encode(blank(a.who)));
    for (const auto& role : a.roles)
      r.items.push_back(codec::encode(role));
    return r;
  }
  case rpc::request_op::list_tokens: {
    if ((a.cluster() & auth::cluster_admin) == 0)
      return failed(auth::denied(a, auth::cluster_admin, "list tokens", "*"));
    auto ps = txn->list_principals();
    if (!ps.ok())
      return failed(ps.err());
    std::vector<auth::principal> shown;
    for (auto& p : *ps)
      if (p.name.compare(0, req.key.size(), req.key) == 0)
        shown.push_back(blank(std::move(p)));
    fill_page(
        r, shown, [&](const auth::principal& p) { return p.name <= req.payload; },
        ctx.opts.max_reply_bytes);
    return r;
  }
  case rpc::request_op::list_roles: {
    bool admin_somewhere = (a.cluster() & auth::cluster_admin) != 0;
    for (const auto& role : a.roles)
      for (const auto& g : role.grants)
        admin_somewhere = admin_somewhere || (g.perms & auth::admin) != 0;
    if (!admin_somewhere)
      return failed(auth::denied(a, auth::admin, "list roles", "*"));
    auto rs = txn->list_roles();
    if (!rs.ok())
      return failed(rs.err());
    fill_page(
        r, *rs, [&](const auth::role& x) { return x.name <= req.payload; },
        ctx.opts.max_reply_bytes);
    return r;
  }
  case rpc::request_op::list_tenants: {
    if ((a.cluster() & auth::cluster_admin) == 0)
      return failed(auth::denied(a, auth::cluster_admin, "list tenants", "*"));
    auto ts = txn->list_tenants();
    if (!ts.ok())
      return failed(ts.err());
    fill_page(
        r, *ts, [&](const auth::tenant& x) { return x.name <= req.payload; },
        ctx.opts.max_reply_bytes);
    return r;
  }
  default:
    return failed(error{errc::invalid_argument,
                        "unknown read operation " + std::to_string(req.op) +
                            "; upgrade the client or the node"});
  }
}

client_session_actor_impl::behavior_type
client_session_fun(self_ptr self, node_context_ptr ctx, caf::actor_addr client,
                   caf::actor_addr endpoint, session_identity who) {
  return client_session_with_watches_fun(self, std::move(ctx), std::move(client),
                                         std::move(endpoint), {}, std::move(who));
}

client_session_actor_impl::behavior_type
client_session_with_watches_fun(self_ptr self, node_context_ptr ctx,
                                caf::actor_addr client, caf::actor_addr endpoint,
                                watch_hub_actor watch_hub, session_identity who) {
  self->state.ctx = std::move(ctx);
  self->state.who = std::move(who);
  self->state.watch_hub = std::move(watch_hub);
  self->state.ctx->sessions.fetch_add(1);
  self->attach_functor([c = self->state.ctx] { c->sessions.fetch_sub(1); });
  // The session ends with its client (a disconnect is a down message) and
  // with its node endpoint, so that a stopping node has no session left
  // holding the actor system open.
  self->set_down_handler([=](caf::down_msg&) { self->quit(); });
  // Monitor through strong references: CAF 0.17.6's monitor(actor_addr)
  // dereferences the weak address without one, and a remote client's proxy
  // can be destroyed meanwhile (its connection dropped, e.g. when this node
  // resumes after a pause), which aborted a node ("pure virtual method
  // called"). A party already gone ends the session at once.
  for (const auto* party : {&client, &endpoint}) {
    if (!*party)
      continue;
    if (auto alive = caf::actor_cast<caf::strong_actor_ptr>(*party)) {
      self->monitor(alive);
    } else {
      self->quit();
      break;
    }
  }
  schedule_idle_check(self);
  return {
      [=](rpc::client_request& req) -> caf::result<rpc::client_reply> {
        auto& st = self->state;
        st.heard = true;
        const auto max_in_flight = st.ctx->opts.max_requests_in_flight;
        if (*st.in_flight >= max_in_flight) {
          st.ctx->counters.add("session.refused.in_flight");
          auto r = error_reply(
              error{errc::resource_exhausted,
                    "this session has " + std::to_string(*st.in_flight) +
                        " requests waiting for an answer, its limit on node " +
                        std::to_string(st.ctx->opts.id) +
                        " (--max-requests-in-flight); wait for answers before sending "
                        "more, or raise --max-requests-in-flight"});
          r.node_id = st.ctx->opts.id;
          return r;
        }
        // Held by the handlers that answer the request ("held"), dropped with
        // them: when the answer came or timed out.
        auto slot = std::make_shared<in_flight_slot>(st.in_flight);
        auto op = static_cast<rpc::request_op>(req.op);
        if (op == rpc::request_op::write) {
          if (auto refused = refuse_while_paused(*st.ctx))
            return *refused;
          auto env = codec::decode_command(req.payload);
          if (!env.ok())
            return error_reply(
                error{errc::invalid_argument,
                      "the write request is malformed (" + env.err().message +
                          "); use a client of the same version as the node"});
          if (auto s =
                  stamp_write(self->system(), self->current_sender(), st.who, *env);
              !s.ok()) {
            count_refusal(*st.ctx, s.code());
            return error_reply(s.err());
          }
          // The decision is the state machine's, at apply; only the rate
          // is this node's own.
          if (auto refused = admit(*st.ctx, st.who, key_of(env->cmd), 0, "write"))
            return *refused;
          if (auto s = seal_write(*st.ctx, st.who, env->cmd); !s.ok())
            return refused(*st.ctx, s.err(), st.ctx->applied.load(), &st.who, req.op,
                           key_of(env->cmd));
          auto rp = self->make_response_promise<rpc::client_reply>();
          self->request(raft_of(*st.ctx), raft_timeout,
                        propose_request{codec::encode(*env)})
              .then(
                  [=, held = slot](raft_reply& rr) mutable {
                    if (!rr.err && rr.result.err &&
                        rr.result.err->code == errc::permission_denied)
                      self->state.ctx->counters.add("session.refused.not_owner");
                    rp.deliver(from_raft(*self->state.ctx, rr));
                  },
                  [=, held = slot](caf::error& e) mutable {
                    rp.deliver(error_reply(error{
                        errc::timeout, "the node did not answer the write in time (" +
                                           self->system().render(e) + ")"}));
                  });
          return rp;
        }
        if (op == rpc::request_op::add_member || op == rpc::request_op::remove_member ||
            op == rpc::request_op::transfer_leader) {
          // Membership changes are answered once applied; handing leadership
          // away from a paused node is what the operator may want.
          if (op != rpc::request_op::transfer_leader)
            if (auto refused = refuse_while_paused(*st.ctx))
              return *refused;
          // Raft configuration changes, not state machine commands: decided
          // here against this node's applied auth tables (a leader's, as
          // clients send them to the leader).
          if (auto refused = admit(*st.ctx, st.who, "", auth::cluster_admin,
                                   "change the cluster's membership or leader"))
            return *refused;
          auto rp = self->make_response_promise<rpc::client_reply>();
          auto answer = [=, held = slot](raft_reply& rr) mutable {
            auto r = from_raft(*self->state.ctx, rr);
            if (!rr.err) {
              r.items.clear();
              r.extra = rr.index;
              r.revision = self->state.ctx->applied.load();
            }
            rp.deliver(std::move(r));
          };
          auto failed = [=, held = slot](caf::error& e) mutable {
            rp.deliver(error_reply(
                error{errc::timeout,
                      "the node did not answer in time (" + self->system().render(e) +
                          "); check `conflux cluster status` before retrying"}));
          };
          if (op == rpc::request_op::transfer_leader) {
            self->request(raft_of(*st.ctx), raft_timeout, transfer_request{req.id})
                .then(answer, failed);
          } else {
            membership_request m;
            m.server = req.id;
            if (op == rpc::request_op::remove_member) {
              m.kind = raft::membership_change_kind::remove;
            } else {
              auto learner = req.labels.find("learner");
              m.kind = learner != req.labels.end() && learner->second == "true"
                           ? raft::membership_change_kind::add_learner
                           : raft::membership_change_kind::add_voter;
              m.address = req.payload;
            }
            self->request(raft_of(*st.ctx), raft_timeout, std::move(m))
                .then(answer, failed);
          }
          return rp;
        }
        if (op == rpc::request_op::kek_rotate || op == rpc::request_op::kek_status)
          return serve_kek(self, req, slot);
        bool is_read =
            (op >= rpc::request_op::get_config && op <= rpc::request_op::resolve) ||
            (op >= rpc::request_op::whoami && op <= rpc::request_op::list_tenants) ||
            is_audit_op(req.op);
        if (!is_read)
          return error_reply(
              error{errc::invalid_argument,
                    "unknown request operation " + std::to_string(req.op) +
                        "; use a client of the same version as the node"});
        if (req.consistency == 1)
          return serve_read(*st.ctx, req, st.who);
        if (auto refused = refuse_while_paused(*st.ctx))
          return *refused;
        auto rp = self->make_response_promise<rpc::client_reply>();
        self->request(raft_of(*st.ctx), raft_timeout, read_atom::value)
            .then(
                [=, held = slot](raft_reply& rr) mutable {
                  if (rr.err)
                    rp.deliver(from_raft(*self->state.ctx, rr));
                  else
                    rp.deliver(serve_read(*self->state.ctx, req, self->state.who));
                },
                [=, held = slot](caf::error& e) mutable {
                  rp.deliver(error_reply(error{
                      errc::unavailable, "the read was not confirmed in time (" +
                                             self->system().render(e) + "); retry"}));
                });
        return rp;
      },
      [=](status_atom) -> caf::result<rpc::status_reply> {
        auto& st = self->state;
        st.heard = true;
        // Any valid principal; the typed reply has no error field, so a
        // refusal is a CAF error the client reports with its message.
        if (auto refused = admit(*st.ctx, st.who, "", 0, "status", false))
          return caf::make_error(caf::sec::runtime_error, refused->message);
        return self->delegate(raft_of(*st.ctx), status_atom::value);
      },
      [=](rpc::watch_request& req) {
        auto watcher = self->current_sender();
        if (!watcher)
          return;
        auto& st = self->state;
        st.heard = true;
        if (!st.watch_hub) {
          rpc::watch_reply r;
          r.code = static_cast<std::uint8_t>(errc::unavailable);
          r.message = "this node serves no watches; try another endpoint";
          r.node_id = st.ctx->opts.id;
          self->send(caf::actor_cast<watcher_actor>(watcher), std::move(r));
          return;
        }
        // Counted until cancelled (a refused or cut-off watch ends the
        // client's session too: the client library reconnects).
        ++st.watches;
        self->send(st.watch_hub, watch_subscribe{std::move(watcher), std::move(req),
                                                 st.who.credential, st.who.principal});
      },
      // Acks and cancels reach the hub as sent by the watcher itself, so the
      // hub can tell a watch's owner from anyone else (actors/watch_hub.hpp).
      [=](rpc::watch_ack& ack) {
        auto& st = self->state;
        st.heard = true;
        if (st.watch_hub)
          caf::send_as(caf::actor_cast<caf::actor>(self->current_sender()),
                       st.watch_hub, ack);
      },
      [=](rpc::watch_cancel& c) {
        auto& st = self->state;
        st.heard = true;
        if (st.watches > 0)
          --st.watches;
        if (st.watch_hub)
          caf::send_as(caf::actor_cast<caf::actor>(self->current_sender()),
                       st.watch_hub, c);
      },
      [=](caf::close_atom) { self->quit(); },
      [=](tick_atom) { check_idle(self); },
  };
}

} // namespace conflux::actors
