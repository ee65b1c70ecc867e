// The watch stream of the client (client.hpp): a watcher actor holds one
// watch on one node at a time and queues its events for the consumer thread;
// when the node goes away or cuts the watch off, it reconnects to the next
// endpoint after a back-off and resumes after the last revision it queued.
// While a watch is open it repeats its acknowledgement every keepalive, so
// that a quiet watch keeps its connection past the node's idle timeout.
#include "actors/client.hpp"
#include "actors/client_backoff.hpp"
#include "actors/client_probe.hpp"
#include "actors/client_rpc.hpp"
#include "actors/endpoint.hpp"
#include "actors/remoting.hpp"

#include <atomic>
#include <caf/io/all.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace conflux::actors {

using wconnect_atom = caf::atom_constant<caf::atom("wconnect")>;
using wtimeout_atom = caf::atom_constant<caf::atom("wtimeout")>;
using wconsumed_atom = caf::atom_constant<caf::atom("wconsumed")>;
using wflush_atom = caf::atom_constant<caf::atom("wflush")>;
using wkeepalive_atom = caf::atom_constant<caf::atom("wkeepalive")>;

/// Shared by the watch_stream (consumer thread) and its watcher actor.
struct watch_stream::impl {
  std::mutex mtx;
  std::condition_variable cv;
  /// Events with the watch id they came with (acked under that id).
  std::deque<std::pair<std::uint64_t, watch_notification>> queue;
  std::optional<error> fatal;
  std::string last_reason;
  std::atomic<std::uint64_t> last_revision{0};
  std::atomic<std::uint64_t> resumes{0};
  caf::actor watcher;
};

namespace {

struct watcher_state {
  static inline const char* name = "watcher";
  std::shared_ptr<watch_stream::impl> shared;
  client_options opts;
  watch_options wopts;
  /// The first revision still wanted (0: from now on).
  std::uint64_t next_from = 0;
  std::size_t next_endpoint = 0;
  /// Counts connection attempts; timers and answers of older ones are dropped.
  std::uint64_t epoch = 0;
  client_session_actor session;
  /// 0 until the node accepted the watch.
  std::uint64_t watch_id = 0;
  std::uint64_t node_id = 0;
  bool waiting_reply = false;
  /// Events of the current watch handed out or skipped (cumulative ack).
  std::uint64_t processed = 0;
  bool flush_pending = false;
  /// The first reconnect goes at once, then 50 ms doubling up to 1 s.
  retry_backoff backoff{std::chrono::milliseconds(50), std::chrono::milliseconds(1000),
                        true};
  bool stopped = false;
};

using watcher_ptr = caf::stateful_actor<watcher_state>*;

bool from_current_node(watcher_ptr self) {
  auto& st = self->state;
  auto sender = self->current_sender();
  return st.session && sender && sender->node() == st.session->node();
}

void end_watch(watcher_ptr self) {
  auto& st = self->state;
  if (st.session) {
    if (st.watch_id != 0)
      self->send(st.session, rpc::watch_cancel{st.watch_id});
    self->demonitor(st.session.address());
    caf::anon_send(st.session, caf::close_atom::value);
  }
  st.session = nullptr;
  st.watch_id = 0;
  st.processed = 0;
  st.waiting_reply = false;
}

/// Drops the current node and tries the next endpoint after the back-off.
void reconnect(watcher_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.stopped)
    return;
  end_watch(self);
  {
    std::lock_guard<std::mutex> guard{st.shared->mtx};
    st.shared->last_reason = why;
  }
  st.shared->resumes.fetch_add(1);
  auto e = ++st.epoch;
  auto pause = st.backoff.next();
  if (pause.count() == 0)
    self->send(self, wconnect_atom::value, e);
  else
    self->delayed_send(self, pause, wconnect_atom::value, e);
}

void fail_for_good(watcher_ptr self, error e) {
  auto& st = self->state;
  st.stopped = true;
  end_watch(self);
  {
    std::lock_guard<std::mutex> guard{st.shared->mtx};
    st.shared->fatal = std::move(e);
  }
  st.shared->cv.notify_all();
}

/// Why CAF could not connect to `address`, as a person needs it: CAF says
/// "no such host" for an IPv6 literal that refuses and cannot tell a closed
/// port from a foreign server, so a plain look (client_probe.hpp) names
/// what is there. Bounded to a moment: it runs in the watcher actor, after
/// the connection has already failed (a refused port answers at once).
std::string why_no_connection(const endpoint& ep, const std::string& address,
                              const std::string& caf_reason) {
  auto probe = probe_endpoint(ep, std::chrono::milliseconds(100));
  if (probe.dead_end() || probe.verdict == probe_verdict::closed)
    return address + " " + probe.detail;
  return "cannot connect to " + address + " (" + caf_reason + ")";
}

/// Asks the node for a session (connection attempt `e`), then for the watch.
void ask_for_session(watcher_ptr self, std::uint64_t e, const std::string& address,
                     const node_endpoint_actor& node, caf::timespan timeout) {
  self->request(node, timeout,
                rpc::client_hello{"", self->state.opts.name, self->state.opts.token})
      .then(
          [=](caf::strong_actor_ptr& sp, rpc::hello_status& hs) {
            auto& st = self->state;
            if (e != st.epoch || st.stopped) {
              if (sp)
                caf::anon_send(caf::actor_cast<client_session_actor>(std::move(sp)),
                               caf::close_atom::value);
              return;
            }
            // A refused token is refused by every node: no resume helps.
            if (static_cast<errc>(hs.code) == errc::unauthenticated)
              return fail_for_good(
                  self, error{errc::unauthenticated,
                              address + " refused a session: " + hs.message});
            if (!sp || hs.code != 0)
              return reconnect(
                  self, address + " refused a session: " +
                            (hs.message.empty() ? "no reason given" : hs.message));
            st.session = caf::actor_cast<client_session_actor>(std::move(sp));
            self->monitor(st.session);
            st.waiting_reply = true;
            self->send(
                st.session,
                rpc::watch_request{st.wopts.key, st.wopts.client_labels, st.next_from});
            self->delayed_send(self, timeout, wtimeout_atom::value, e);
          },
          [=](caf::error& err) {
            if (e == self->state.epoch)
              reconnect(self, address + " did not open a session (" +
                                  self->system().render(err) + ")");
          });
}

/// Connection attempt `e` to the next endpoint in turn.
void connect(watcher_ptr self, std::uint64_t e) {
  auto& cur = self->state;
  if (cur.stopped || e != cur.epoch)
    return;
  auto& eps = cur.opts.endpoints;
  auto address = eps[cur.next_endpoint++ % eps.size()];
  auto ep = parse_endpoint(address);
  if (!ep)
    return fail_for_good(self, error{errc::invalid_argument,
                                     "endpoint '" + address +
                                         "' is not HOST:PORT (e.g. 127.0.0.1:7101)"});
  if (!self->system().has_openssl_manager() && !is_loopback_host(ep->host))
    return fail_for_good(self, error{errc::invalid_argument,
                                     "will not send plain text to " + address +
                                         ", which is not a loopback address; use "
                                         "mutual TLS (docs/security.md)"});
  auto timeout =
      caf::timespan{std::min(cur.opts.timeout, std::chrono::milliseconds(1500))};
  auto mm = connector(self->system());
  self->request(mm, timeout, caf::connect_atom::value, ep->host, ep->port)
      .then(
          [=](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
            auto& st = self->state;
            if (e != st.epoch || st.stopped)
              return;
            if (!ptr || ifs != self->system().message_types<node_endpoint_actor>())
              return reconnect(self,
                               address + " is not a Conflux node of this version");
            ask_for_session(self, e, address,
                            caf::actor_cast<node_endpoint_actor>(std::move(ptr)),
                            timeout);
          },
          [=](caf::error& err) {
            if (e == self->state.epoch)
              reconnect(self,
                        why_no_connection(*ep, address, self->system().render(err)));
          });
}

/// Acks what the consumer took, once for all consumed messages queued now.
void schedule_flush(watcher_ptr self) {
  auto& st = self->state;
  if (st.flush_pending)
    return;
  st.flush_pending = true;
  self->send(self, wflush_atom::value);
}

/// The node's answer to the watch request.
void on_watch_reply(watcher_ptr self, rpc::watch_reply& r) {
  auto& st = self->state;
  if (!st.waiting_reply || !from_current_node(self))
    return;
  st.waiting_reply = false;
  if (r.code != 0) {
    auto code = static_cast<errc>(r.code);
    if (code == errc::invalid_argument || code == errc::too_large ||
        code == errc::permission_denied || code == errc::unauthenticated)
      return fail_for_good(self, error{code, r.message});
    return reconnect(self, r.message);
  }
  st.watch_id = r.watch_id;
  st.node_id = r.node_id;
  st.backoff.reset();
  if (st.wopts.keepalive.count() > 0)
    self->delayed_send(self, st.wopts.keepalive, wkeepalive_atom::value, st.epoch);
  if (st.next_from == 0) {
    st.next_from = r.revision + 1;
    st.shared->last_revision.store(r.revision);
  }
}

/// Queues a batch of events for the consumer, skipping what a resume
/// delivered twice.
void on_events(watcher_ptr self, rpc::watch_events& b) {
  auto& st = self->state;
  if (st.watch_id == 0 || b.watch_id != st.watch_id || !from_current_node(self))
    return;
  auto now = std::chrono::steady_clock::now();
  std::size_t queued = 0;
  {
    std::lock_guard<std::mutex> guard{st.shared->mtx};
    for (auto& ev : b.events) {
      auto resync = ev.kind == static_cast<std::uint8_t>(rpc::watch_kind::resync);
      if (!resync && ev.revision < st.next_from) {
        ++st.processed; // seen before (a resume overlapping): skip
        continue;
      }
      st.next_from = ev.revision + 1;
      st.shared->last_revision.store(ev.revision);
      st.shared->queue.emplace_back(st.watch_id,
                                    watch_notification{std::move(ev), st.node_id, now});
      ++queued;
    }
  }
  if (queued > 0)
    st.shared->cv.notify_all();
  if (queued < b.events.size())
    schedule_flush(self);
}

caf::behavior watcher_fun(watcher_ptr self, std::shared_ptr<watch_stream::impl> shared,
                          client_options opts, watch_options wopts) {
  auto& init = self->state;
  init.shared = std::move(shared);
  init.opts = std::move(opts);
  init.wopts = std::move(wopts);
  init.next_from = init.wopts.from_revision;
  if (init.next_from > 0)
    init.shared->last_revision.store(init.next_from - 1);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.session && dm.source == st.session.address())
      reconnect(self, "lost the node (" + self->system().render(dm.reason) + ")");
  });
  self->set_exit_handler([=](caf::exit_msg& em) {
    self->state.stopped = true;
    end_watch(self);
    self->quit(em.reason);
  });
  self->send(self, wconnect_atom::value, init.epoch);
  return {
      [=](wconnect_atom, std::uint64_t e) { connect(self, e); },
      [=](wtimeout_atom, std::uint64_t e) {
        auto& st = self->state;
        if (e == st.epoch && st.waiting_reply)
          reconnect(self, "the node did not answer the watch request in time");
      },
      [=](rpc::watch_reply& r) { on_watch_reply(self, r); },
      [=](rpc::watch_events& b) { on_events(self, b); },
      [=](rpc::watch_closed& c) {
        auto& st = self->state;
        if (c.watch_id != st.watch_id || !from_current_node(self))
          return;
        // The principal lost read on the key (or its token): another node
        // applies the same change, so the stream ends for good.
        auto code = static_cast<errc>(c.code);
        if (code == errc::permission_denied || code == errc::unauthenticated)
          return fail_for_good(self, error{code, "cut off by node " +
                                                     std::to_string(st.node_id) + ": " +
                                                     c.reason});
        reconnect(self,
                  "cut off by node " + std::to_string(st.node_id) + ": " + c.reason);
      },
      [=](wconsumed_atom, std::uint64_t id) {
        auto& st = self->state;
        if (id != st.watch_id || st.watch_id == 0)
          return;
        ++st.processed;
        schedule_flush(self);
      },
      [=](wkeepalive_atom, std::uint64_t e) {
        // The acknowledgement again: the hub takes the highest count, so a
        // repeat changes nothing but keeps the connection in use.
        auto& st = self->state;
        if (e != st.epoch || st.stopped || !st.session || st.watch_id == 0)
          return;
        self->send(st.session, rpc::watch_ack{st.watch_id, st.processed});
        self->delayed_send(self, st.wopts.keepalive, wkeepalive_atom::value, e);
      },
      [=](wflush_atom) {
        // Lands behind the consumed messages already queued: one ack for all.
        auto& st = self->state;
        st.flush_pending = false;
        if (st.session && st.watch_id != 0)
          self->send(st.session, rpc::watch_ack{st.watch_id, st.processed});
      },
  };
}

} // namespace

watch_stream::watch_stream(client_runtime& rt, client_options opts, watch_options wopts)
    : impl_(std::make_shared<impl>()) {
  if (opts.endpoints.empty()) {
    impl_->fatal =
        error{errc::invalid_argument, "no endpoints given; pass --endpoints"};
    return;
  }
  impl_->watcher =
      rt.get().sys->spawn(watcher_fun, impl_, std::move(opts), std::move(wopts));
}

watch_stream::~watch_stream() {
  if (impl_->watcher)
    caf::anon_send_exit(impl_->watcher, caf::exit_reason::user_shutdown);
}

expected<std::optional<watch_notification>>
watch_stream::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{impl_->mtx};
  impl_->cv.wait_for(lock, timeout,
                     [&] { return !impl_->queue.empty() || impl_->fatal.has_value(); });
  if (!impl_->queue.empty()) {
    auto item = std::move(impl_->queue.front());
    impl_->queue.pop_front();
    lock.unlock();
    caf::anon_send(impl_->watcher, wconsumed_atom::value, item.first);
    return std::optional<watch_notification>{std::move(item.second)};
  }
  if (impl_->fatal)
    return *impl_->fatal;
  return std::optional<watch_notification>{};
}

std::uint64_t watch_stream::last_revision() const {
  return impl_->last_revision.load();
}

std::uint64_t watch_stream::resumes() const {
  return impl_->resumes.load();
}

std::string watch_stream::last_interruption() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->last_reason;
}

} // namespace conflux::actors
