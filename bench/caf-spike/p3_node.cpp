// README §3, §4, §6, §7: remoting between two processes on 127.0.0.1.
//   p3_node --mode=server --port=P [--hb-ms=N --timeout-ms=M] [--lifetime=S]
//   p3_node --mode=client --port=P [--hb-ms=N --timeout-ms=M] [--lifetime=S]
//   p3_node --mode=idle   --port=P [...]   (connects and stays silent)
//   p3_node --mode=bench  --port=P [--n=5000] [--pipelined=20000] [--window=64]
#include "msgs.hpp"

#include <algorithm>
#include <caf/io/all.hpp>
#include <csignal>
#include <cstring>
#include <iostream>
#include <pthread.h>

namespace cfx {
std::string to_string(errc x) {
  switch (x) {
  case errc::not_leader:
    return "not_leader";
  case errc::not_found:
    return "not_found";
  case errc::precondition_failed:
    return "precondition_failed";
  }
  return "errc?";
}
} // namespace cfx

using namespace caf;
using namespace cfx;
using clk = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct config : actor_system_config {
  std::string mode = "server";
  uint16_t port = 7201;
  int hb_ms = 0, timeout_ms = 0, lifetime = 30;
  size_t n = 5000, pipelined = 20000, window = 64;
  config() {
    add_message_types<id_block::conflux>();
    add_error_category(atom("conflux"),
                       [](uint8_t code, atom_value, const message& ctx) {
                         return "conflux::" + to_string(static_cast<errc>(code)) +
                                (ctx.empty() ? "" : to_string(ctx));
                       });
    load<io::middleman>();
    opt_group{custom_options_, "global"}
        .add(mode, "mode", "server|client|bench")
        .add(port, "port", "port")
        .add(hb_ms, "hb-ms", "heartbeat interval ms (0=off)")
        .add(timeout_ms, "timeout-ms", "connection timeout ms")
        .add(lifetime, "lifetime", "seconds before self-termination")
        .add(n, "n", "sequential requests")
        .add(pipelined, "pipelined", "pipelined requests")
        .add(window, "window", "in-flight window");
  }
};

double ms_since(clk::time_point t) {
  return std::chrono::duration<double, std::milli>(clk::now() - t).count();
}

// ---------------------------------------------------------------- server ----
kv_actor::behavior_type kv_server(kv_actor::pointer self) {
  auto rev = std::make_shared<uint64_t>(0);
  auto parked = std::make_shared<std::vector<typed_response_promise<uint64_t>>>();
  self->set_exit_handler(
      [=](const exit_msg& m) { // only called if trapping; shown for shape
        self->quit(m.reason);
      });
  return {
      [=](const put_req& r) -> result<put_resp> {
        if (r.key.empty())
          return make_error(errc::not_found,
                            "empty key"); // remote side gets this error
        return put_resp{++*rev, ""};
      },
      [=](const ping& p) -> result<uint64_t> {
        if (p.seq == 0) { // never answered: parked promise (probe for "pending request
                          // on peer death")
          parked->push_back(self->make_response_promise<uint64_t>());
          return parked->back();
        }
        return p.seq;
      },
  };
}

int run_server(actor_system& sys, const config& cfg) {
  auto kv = sys.spawn(kv_server);
  auto port = sys.middleman().publish(kv, cfg.port, "127.0.0.1", true);
  if (!port) {
    std::cerr << "publish failed: " << sys.render(port.error()) << '\n';
    anon_send_exit(kv, exit_reason::user_shutdown);
    return 1;
  }
  std::cout << "server pid " << getpid() << " published on 127.0.0.1:" << *port
            << std::endl;
  // Signals are blocked in all threads (mask set before actor_system was
  // created); this thread collects them synchronously. No async-signal-safety
  // issues, no self-pipe needed.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  // GOTCHA: sigtimedwait returns -1/EINTR when the process is SIGSTOPped and
  // SIGCONTed -- loop, or a stop/continue shuts the node down.
  auto deadline = clk::now() + std::chrono::seconds(cfg.lifetime);
  int sig = -1;
  while (clk::now() < deadline) {
    timespec ts{0, 200'000'000};
    sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0)
      break; // SIGINT or SIGTERM; EAGAIN = poll timeout, EINTR = stop/cont
  }
  std::cout << "server: " << (sig > 0 ? strsignal(sig) : "lifetime over")
            << ", shutting down" << std::endl;
  auto t0 = clk::now();
  sys.middleman().unpublish(kv, *port); // stop accepting
  anon_send_exit(kv, exit_reason::user_shutdown);
  scoped_actor self{sys};
  self->wait_for(kv); // blocks until kv is gone
  std::cout << "server: actors down after " << ms_since(t0) << " ms" << std::endl;
  return 0; // ~actor_system joins the rest
}

// ---------------------------------------------------------------- client ----
using retry_atom = atom_constant<atom("retry")>;
using tick_atom = atom_constant<atom("tick")>;

struct client_state {
  kv_actor server;
  clk::time_point last_ok = clk::now();
  clk::time_point started = clk::now();
  uint64_t seq = 0;
  uint64_t connects = 0;
  actor_addr prev; // address of the handle from the previous connection
  std::vector<double> lat_us;
  size_t sent = 0, done = 0;
  clk::time_point bench_t0;
};

void connect_to(stateful_actor<client_state>* self, const config& cfg);
void bench_seq(stateful_actor<client_state>* self, const config& cfg);
void bench_pipe(stateful_actor<client_state>* self, const config& cfg);

behavior client(stateful_actor<client_state>* self, const config* cfg) {
  self->set_down_handler([=](down_msg& dm) {
    if (dm.source != self->state.server.address())
      return;
    std::cout << "[" << ms_since(self->state.started)
              << " ms] down_msg: " << self->system().render(dm.reason) << ", "
              << ms_since(self->state.last_ok) << " ms after last good reply"
              << std::endl;
    // probe: what does a request to the dead handle do?
    auto t0 = clk::now();
    self->request(self->state.server, milliseconds(300), ping{1, ""})
        .then([](uint64_t) { std::cout << "dead handle answered?!" << std::endl; },
              [=](error& e) {
                std::cout << "request to dead handle failed after " << ms_since(t0)
                          << " ms: " << self->system().render(e) << std::endl;
              });
    self->state.server = nullptr; // old handle is dead forever: drop it
    self->send(self, retry_atom::value);
  });
  self->send(self, retry_atom::value);
  self->send(self, tick_atom::value);
  return {
      [=](retry_atom) { connect_to(self, *cfg); },
      [=](tick_atom) { // ping every 100 ms with a 500 ms timeout
        self->delayed_send(self, milliseconds(100), tick_atom::value);
        if (!self->state.server || cfg->mode != "client")
          return;
        auto s = ++self->state.seq;
        self->request(self->state.server, milliseconds(500), ping{s, ""})
            .then([=](uint64_t) { self->state.last_ok = clk::now(); },
                  [=](error& e) {
                    std::cout << "[" << ms_since(self->state.started) << " ms] ping "
                              << s << " failed: " << self->system().render(e)
                              << std::endl;
                  });
      },
  };
}

void connect_to(stateful_actor<client_state>* self, const config& cfg) {
  auto mm = self->system().middleman().actor_handle();
  auto t0 = clk::now();
  self->request(mm, std::chrono::seconds(2), connect_atom::value,
                std::string{"127.0.0.1"}, cfg.port)
      .then(
          [=, &cfg](const node_id& nid, strong_actor_ptr& ptr,
                    const std::set<std::string>& ifs) {
            if (!ptr) {
              std::cout << "connect: no actor published on that port" << std::endl;
              self->delayed_send(self, milliseconds(200), retry_atom::value);
              return;
            }
            // interface check is ours to do (remote_actor<T> does it for you)
            auto expected = self->system().message_types<kv_actor>();
            if (ifs != expected) {
              std::cout << "connect: interface mismatch " << deep_to_string(ifs)
                        << std::endl;
              return;
            }
            self->state.server = actor_cast<kv_actor>(std::move(ptr));
            if (self->state.prev)
              std::cout << "new handle == old handle? " << std::boolalpha
                        << (self->state.prev == self->state.server.address())
                        << std::endl;
            self->state.prev = self->state.server.address();
            self->monitor(self->state.server);
            self->state.last_ok = clk::now();
            ++self->state.connects;
            std::cout << "[" << ms_since(self->state.started) << " ms] connected #"
                      << self->state.connects << " to " << to_string(nid) << " in "
                      << ms_since(t0) << " ms; ifs=" << deep_to_string(ifs)
                      << std::endl;
            if (cfg.mode == "bench") {
              bench_seq(self, cfg);
              return;
            }
            if (self->state.connects == 1) {
              // remote error from a handler returning result<T>
              put_req bad;
              self->request(self->state.server, std::chrono::seconds(1), bad)
                  .then([](const put_resp&) {},
                        [=](error& e) {
                          std::cout << "remote put with empty key -> category="
                                    << to_string(e.category())
                                    << " code=" << int(e.code()) << " '"
                                    << self->system().render(e) << "'" << std::endl;
                        });
              auto tp = clk::now();
              self->request(self->state.server, infinite, ping{0, ""})
                  .then(
                      [](uint64_t) {
                        std::cout << "parked ping answered?!" << std::endl;
                      },
                      [=](error& e) {
                        std::cout << "parked ping (infinite timeout) failed after "
                                  << ms_since(tp) << " ms: " << self->system().render(e)
                                  << std::endl;
                      });
              put_req ok;
              ok.key = "a";
              ok.if_revision = 1;
              ok.ref = std::string("x");
              self->request(self->state.server, std::chrono::seconds(1), ok)
                  .then(
                      [](const put_resp& r) {
                        std::cout << "remote put ok -> rev " << r.revision << std::endl;
                      },
                      [=](error& e) {
                        std::cout << self->system().render(e) << std::endl;
                      });
            }
          },
          [=](error& e) {
            std::cout << "[" << ms_since(self->state.started)
                      << " ms] connect failed: " << self->system().render(e)
                      << std::endl;
            self->delayed_send(self, milliseconds(200), retry_atom::value);
          });
}

void bench_seq(stateful_actor<client_state>* self, const config& cfg) {
  auto& st = self->state;
  if (st.lat_us.size() == cfg.n) {
    auto v = st.lat_us;
    std::sort(v.begin(), v.end());
    std::cout << "sequential " << v.size() << " req: median " << v[v.size() / 2]
              << " us, p99 " << v[v.size() * 99 / 100] << " us, max " << v.back()
              << " us" << std::endl;
    st.bench_t0 = clk::now();
    for (size_t i = 0; i < cfg.window; ++i)
      bench_pipe(self, cfg);
    return;
  }
  auto t0 = clk::now();
  self->request(st.server, std::chrono::seconds(5), ping{++st.seq, ""})
      .then(
          [=, &cfg](uint64_t) {
            self->state.lat_us.push_back(
                std::chrono::duration<double, std::micro>(clk::now() - t0).count());
            bench_seq(self, cfg);
          },
          [=](error& e) {
            std::cout << "bench err " << self->system().render(e) << std::endl;
            self->quit();
          });
}

void bench_pipe(stateful_actor<client_state>* self, const config& cfg) {
  auto& st = self->state;
  if (st.sent == cfg.pipelined)
    return;
  ++st.sent;
  self->request(st.server, std::chrono::seconds(5), ping{++st.seq, ""})
      .then(
          [=, &cfg](uint64_t) {
            if (++self->state.done == cfg.pipelined) {
              auto s = std::chrono::duration<double>(clk::now() - self->state.bench_t0)
                           .count();
              std::cout << "pipelined " << cfg.pipelined << " req, window "
                        << cfg.window << ": " << cfg.pipelined / s << " req/s"
                        << std::endl;
              self->quit();
              return;
            }
            bench_pipe(self, cfg);
          },
          [=](error& e) {
            std::cout << "bench err " << self->system().render(e) << std::endl;
            self->quit();
          });
}

int run_client(actor_system& sys, const config& cfg) {
  auto c = sys.spawn(client, &cfg);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  scoped_actor self{sys};
  self->monitor(c);
  // wait for either the client to quit (bench) or lifetime/signal
  bool done = false;
  auto deadline = clk::now() + std::chrono::seconds(cfg.lifetime);
  while (!done && clk::now() < deadline) {
    timespec ts{0, 100'000'000};
    if (sigtimedwait(&set, nullptr, &ts) > 0)
      break;
    self->receive([&](down_msg&) { done = true; },
                  after(std::chrono::seconds(0)) >> [] {});
  }
  anon_send_exit(c, exit_reason::user_shutdown);
  return 0;
}

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM before any CAF thread exists: all threads inherit it.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "bad config: " << to_string(err) << '\n';
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.hb_ms > 0) {
    // both are caf::timespan (std::chrono::nanoseconds); must be set on ALL nodes
    cfg.set("middleman.heartbeat-interval", timespan{milliseconds(cfg.hb_ms)});
    cfg.set("middleman.connection-timeout", timespan{milliseconds(cfg.timeout_ms)});
  }
  actor_system sys{cfg};
  std::cout << "scheduler.policy="
            << to_string(get_or(sys.config(), "scheduler.policy", atom("stealing")))
            << " heartbeat-interval="
            << deep_to_string(
                   get_or(sys.config(), "middleman.heartbeat-interval", timespan{0}))
            << " connection-timeout="
            << deep_to_string(
                   get_or(sys.config(), "middleman.connection-timeout", timespan{0}))
            << std::endl;
  return cfg.mode == "server" ? run_server(sys, cfg) : run_client(sys, cfg);
}
