#include "actors/client_session.hpp"

#include "protocol/codec.hpp"
#include "protocol/state_machine.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

namespace conflux::actors {
namespace {

using self_ptr = client_session_actor::stateful_pointer<client_session_state>;

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

} // namespace

rpc::client_reply serve_read(node_context& ctx, const rpc::client_request& req) {
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
    fail_node_on(ctx, e);
    auto out = error_reply(e);
    out.node_id = ctx.opts.id;
    out.revision = *applied;
    return out;
  };
  switch (static_cast<rpc::request_op>(req.op)) {
  case rpc::request_op::get_config: {
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
    for (auto& c : *cs)
      r.items.push_back(codec::encode(c));
    return r;
  }
  case rpc::request_op::list_versions: {
    auto vs = list_versions(*txn, req.key);
    if (!vs.ok())
      return failed(vs.err());
    for (auto& v : *vs)
      r.items.push_back(codec::encode(v));
    return r;
  }
  case rpc::request_op::get_version: {
    auto v = get_version(*txn, req.key, req.id);
    if (!v.ok())
      return failed(v.err());
    r.items.push_back(codec::encode(*v));
    return r;
  }
  case rpc::request_op::resolve: {
    auto res = resolve(*txn, req.key, req.labels);
    if (!res.ok())
      return failed(res.err());
    r.items.push_back(codec::encode(res->cfg));
    r.items.push_back(codec::encode(res->ver));
    r.extra = res->rule_index;
    return r;
  }
  default:
    return failed(error{errc::invalid_argument,
                        "unknown read operation " + std::to_string(req.op) +
                            "; upgrade the client or the node"});
  }
}

client_session_actor::behavior_type client_session_fun(self_ptr self,
                                                       node_context_ptr ctx,
                                                       caf::actor_addr client,
                                                       caf::actor_addr endpoint) {
  return client_session_with_watches_fun(self, std::move(ctx), std::move(client),
                                         std::move(endpoint), {});
}

client_session_actor::behavior_type
client_session_with_watches_fun(self_ptr self, node_context_ptr ctx,
                                caf::actor_addr client, caf::actor_addr endpoint,
                                watch_hub_actor watch_hub) {
  self->state.ctx = std::move(ctx);
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
  for (const auto* who : {&client, &endpoint}) {
    if (!*who)
      continue;
    if (auto alive = caf::actor_cast<caf::strong_actor_ptr>(*who)) {
      self->monitor(alive);
    } else {
      self->quit();
      break;
    }
  }
  return {
      [=](rpc::client_request& req) -> caf::result<rpc::client_reply> {
        auto& st = self->state;
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
          auto rp = self->make_response_promise<rpc::client_reply>();
          self->request(raft_of(*st.ctx), raft_timeout,
                        propose_request{std::move(req.payload)})
              .then(
                  [=](raft_reply& rr) mutable {
                    rp.deliver(from_raft(*self->state.ctx, rr));
                  },
                  [=](caf::error& e) mutable {
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
          auto rp = self->make_response_promise<rpc::client_reply>();
          auto answer = [=](raft_reply& rr) mutable {
            auto r = from_raft(*self->state.ctx, rr);
            if (!rr.err) {
              r.items.clear();
              r.extra = rr.index;
              r.revision = self->state.ctx->applied.load();
            }
            rp.deliver(std::move(r));
          };
          auto failed = [=](caf::error& e) mutable {
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
        if (op < rpc::request_op::get_config || op > rpc::request_op::resolve)
          return error_reply(
              error{errc::invalid_argument,
                    "unknown request operation " + std::to_string(req.op) +
                        "; use a client of the same version as the node"});
        if (req.consistency == 1)
          return serve_read(*st.ctx, req);
        if (auto refused = refuse_while_paused(*st.ctx))
          return *refused;
        auto rp = self->make_response_promise<rpc::client_reply>();
        self->request(raft_of(*st.ctx), raft_timeout, read_atom::value)
            .then(
                [=](raft_reply& rr) mutable {
                  if (rr.err)
                    rp.deliver(from_raft(*self->state.ctx, rr));
                  else
                    rp.deliver(serve_read(*self->state.ctx, req));
                },
                [=](caf::error& e) mutable {
                  rp.deliver(error_reply(error{
                      errc::unavailable, "the read was not confirmed in time (" +
                                             self->system().render(e) + "); retry"}));
                });
        return rp;
      },
      [=](status_atom) -> caf::result<rpc::status_reply> {
        return self->delegate(raft_of(*self->state.ctx), status_atom::value);
      },
      [=](rpc::watch_request& req) {
        auto watcher = self->current_sender();
        if (!watcher)
          return;
        auto& st = self->state;
        if (!st.watch_hub) {
          rpc::watch_reply r;
          r.code = static_cast<std::uint8_t>(errc::unavailable);
          r.message = "this node serves no watches; try another endpoint";
          r.node_id = st.ctx->opts.id;
          self->send(caf::actor_cast<watcher_actor>(watcher), std::move(r));
          return;
        }
        self->send(st.watch_hub, watch_subscribe{std::move(watcher), std::move(req)});
      },
      [=](rpc::watch_ack& ack) {
        if (self->state.watch_hub)
          self->send(self->state.watch_hub, ack);
      },
      [=](rpc::watch_cancel& c) {
        if (self->state.watch_hub)
          self->send(self->state.watch_hub, c);
      },
      [=](caf::close_atom) { self->quit(); },
  };
}

} // namespace conflux::actors
