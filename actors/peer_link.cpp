#include "actors/peer_link.hpp"
#include "actors/remoting.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

namespace conflux::actors {
namespace {

using self_ptr = peer_link_actor_impl::stateful_pointer<peer_link_state>;

constexpr auto request_timeout = std::chrono::seconds(2);
constexpr auto max_backoff = std::chrono::milliseconds(1000);
// A chunk is written (and the last one fsynced and verified) before the
// follower answers; verifying a large snapshot takes a while.
constexpr auto snapshot_chunk_timeout = std::chrono::seconds(30);
// A follower that refused a snapshot for want of room (too large for its
// limit, its disk full) will refuse it again at once: the link holds the
// failed transfer this long before reporting it, so that Raft (which retries
// after its next heartbeat) does not resend and log it 20 times a second.
constexpr auto snapshot_refusal_hold = std::chrono::seconds(10);

void finish_snapshot(self_ptr self, bool ok) {
  auto& t = self->state.snap;
  if (!t.active)
    return;
  if (t.file != nullptr)
    std::fclose(t.file);
  t.file = nullptr;
  t.active = false;
  // To whichever role holds the core now (a leader that asked may have
  // stepped down meanwhile).
  auto& st = self->state;
  self->send(st.ctx->raft.get(), snapshot_sent_notice{st.peer, t.req.index, ok});
}

// Keeps a refused transfer open (a request for the same snapshot joins it)
// without sending, and reports it failed after snapshot_refusal_hold.
void hold_refused_snapshot(self_ptr self) {
  auto& t = self->state.snap;
  if (t.file != nullptr)
    std::fclose(t.file);
  t.file = nullptr;
  t.held = true;
  ++t.id; // answers to chunks still in flight are ignored
  self->delayed_send(self, snapshot_refusal_hold, snapshot_atom::value, t.id);
}

void pump_snapshot(self_ptr self) {
  auto& st = self->state;
  auto& t = st.snap;
  while (t.active && !t.held && st.remote && t.in_flight < st.snapshot_window &&
         t.sent < t.total) {
    rpc::snapshot_chunk c;
    c.cluster_id = t.req.cluster_id;
    c.from = st.self_id;
    c.to = st.peer;
    c.term = t.req.term;
    c.index = t.req.index;
    c.snapshot_term = t.req.snapshot_term;
    c.offset = t.sent;
    c.total = t.total;
    auto n = std::min<std::uint64_t>(st.snapshot_chunk_bytes, t.total - t.sent);
    c.data.resize(n);
    if (std::fread(c.data.data(), 1, n, t.file) != n) {
      spdlog::warn("peer link cannot read snapshot file {}", t.req.path);
      return finish_snapshot(self, false);
    }
    t.sent += n;
    ++t.in_flight;
    auto id = t.id;
    self->request(st.remote, snapshot_chunk_timeout, std::move(c))
        .then(
            [=](rpc::snapshot_chunk_reply& r) {
              auto& tt = self->state.snap;
              if (!tt.active || tt.id != id)
                return;
              --tt.in_flight;
              if (r.code != 0) {
                spdlog::warn("node {} refused a snapshot chunk: {}", self->state.peer,
                             r.message);
                auto code = static_cast<errc>(r.code);
                if (code == errc::resource_exhausted || code == errc::too_large)
                  return hold_refused_snapshot(self);
                return finish_snapshot(self, false);
              }
              tt.acked = std::max(tt.acked, r.received);
              if (tt.acked >= tt.total)
                return finish_snapshot(self, true);
              pump_snapshot(self);
            },
            [=](caf::error& e) {
              auto& tt = self->state.snap;
              if (!tt.active || tt.id != id)
                return;
              spdlog::warn("snapshot chunk to node {} failed: {}", self->state.peer,
                           self->system().render(e));
              finish_snapshot(self, false);
            });
  }
}

void start_snapshot(self_ptr self, send_snapshot_request& req) {
  auto& st = self->state;
  auto& t = st.snap;
  if (t.active && t.req.index == req.index && t.req.snapshot_term == req.snapshot_term)
    return; // already streaming it: its end is reported once
  finish_snapshot(self, false);
  auto refuse = [&] {
    self->send(st.ctx->raft.get(), snapshot_sent_notice{st.peer, req.index, false});
  };
  if (!st.remote)
    return refuse();
  auto* f = std::fopen(req.path.c_str(), "rb");
  if (f == nullptr) {
    spdlog::warn("peer link cannot open snapshot file {}", req.path);
    return refuse();
  }
  std::fseek(f, 0, SEEK_END);
  auto size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size <= 0) {
    std::fclose(f);
    return refuse();
  }
  t.active = true;
  t.held = false;
  ++t.id;
  t.file = f;
  t.req = std::move(req);
  t.total = static_cast<std::uint64_t>(size);
  t.sent = 0;
  t.acked = 0;
  t.in_flight = 0;
  pump_snapshot(self);
}

void schedule_retry(self_ptr self) {
  auto& st = self->state;
  if (st.retry_pending)
    return;
  st.retry_pending = true;
  self->delayed_send(self, st.backoff, retry_atom::value, st.generation);
  st.backoff = std::min(st.backoff * 2, std::chrono::milliseconds(max_backoff));
}

void disconnect(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.remote) {
    self->demonitor(st.remote.address());
    st.remote = nullptr;
    spdlog::warn("peer link to node {} ({}) lost: {}", st.peer, st.address.to_string(),
                 why);
  }
  st.in_flight = 0;
  st.consecutive_timeouts = 0;
  finish_snapshot(self, false);
  ++st.generation;
  st.retry_pending = false; // timers of the old generation are ignored
  schedule_retry(self);
}

void connect(self_ptr self) {
  if (self->state.connecting || self->state.remote)
    return;
  if (!self->system().has_openssl_manager() &&
      !is_loopback_host(self->state.address.host)) {
    auto& st = self->state;
    if (!st.warned_unreachable)
      spdlog::error("peer link: will not send plain text to node {} at {}, which is "
                    "not a loopback address; run the cluster with mutual TLS",
                    st.peer, st.address.to_string());
    st.warned_unreachable = true;
    st.backoff = max_backoff;
    schedule_retry(self);
    return;
  }
  self->state.connecting = true;
  auto gen = self->state.generation;
  auto mm = connector(self->system());
  self->request(mm, request_timeout, caf::connect_atom::value, self->state.address.host,
                self->state.address.port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>& ifs) {
            auto& st = self->state;
            st.connecting = false;
            if (gen != st.generation || st.remote)
              return;
            if (!ptr) {
              schedule_retry(self);
              return;
            }
            if (ifs != self->system().message_types<node_endpoint_actor>()) {
              spdlog::error(
                  "peer link: {} is not a Conflux node of this build (interface "
                  "mismatch); check --peers",
                  st.address.to_string());
              st.backoff = max_backoff;
              schedule_retry(self);
              return;
            }
            st.remote = caf::actor_cast<node_endpoint_actor>(std::move(ptr));
            self->monitor(st.remote);
            st.backoff = std::chrono::milliseconds(50);
            st.in_flight = 0;
            ++st.generation;
            st.retry_pending = false;
            spdlog::info("peer link connected to node {} at {}", st.peer,
                         st.address.to_string());
            st.warned_unreachable = false;
          },
          [=](caf::error& e) {
            auto& st = self->state;
            st.connecting = false;
            if (gen != st.generation)
              return;
            if (!st.warned_unreachable) {
              spdlog::warn("peer link cannot reach node {} at {}: {} (retrying)",
                           st.peer, st.address.to_string(), self->system().render(e));
              st.warned_unreachable = true;
            }
            schedule_retry(self);
          });
}

} // namespace

peer_link_state::~peer_link_state() {
  if (snap.file != nullptr)
    std::fclose(snap.file);
}

peer_link_actor_impl::behavior_type peer_link_fun(self_ptr self, node_context_ptr ctx,
                                                  raft::server_id peer,
                                                  endpoint address) {
  self->state.ctx = std::move(ctx);
  self->state.self_id = self->state.ctx->opts.id;
  self->state.peer = peer;
  self->state.address = std::move(address);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.remote && dm.source == st.remote.address())
      disconnect(self, self->system().render(dm.reason));
  });
  // The shell, not a linked actor, ends a link (user_shutdown). A link that
  // ends any other way (an exception) would silently cut this node off from
  // a member: stop the node instead, as a linked actor's death used to.
  self->attach_functor([ctx = self->state.ctx, peer](const caf::error& reason) {
    if (reason && reason != caf::exit_reason::user_shutdown && !ctx->stopping.load())
      ctx->failure.fail("the peer link to node " + std::to_string(peer) +
                        " failed: " + to_string(reason));
  });
  self->send(self, retry_atom::value, self->state.generation);
  return {
      [=](rpc::peer_batch& b) {
        auto& st = self->state;
        if (!st.remote) {
          ++st.dropped;
          if (!st.retry_pending)
            connect(self);
          return;
        }
        if (st.in_flight >= st.window) {
          ++st.dropped;
          return;
        }
        ++st.in_flight;
        auto gen = st.generation;
        self->request(st.remote, request_timeout, std::move(b))
            .then(
                [=](std::uint64_t) {
                  auto& ls = self->state;
                  if (gen != ls.generation)
                    return;
                  --ls.in_flight;
                  ls.consecutive_timeouts = 0;
                },
                [=](caf::error& e) {
                  auto& ls = self->state;
                  if (gen != ls.generation)
                    return;
                  --ls.in_flight;
                  if (++ls.consecutive_timeouts >= 3)
                    disconnect(self, "3 requests in a row failed: " +
                                         self->system().render(e));
                });
      },
      [=](send_snapshot_request& req) { start_snapshot(self, req); },
      [=](cancel_snapshot) { finish_snapshot(self, false); },
      [=](snapshot_atom, std::uint64_t id) {
        auto& t = self->state.snap;
        if (t.active && t.held && t.id == id)
          finish_snapshot(self, false);
      },
      [=](retry_atom, std::uint64_t gen) {
        if (gen != self->state.generation)
          return;
        self->state.retry_pending = false;
        connect(self);
      },
  };
}

} // namespace conflux::actors
