// README §5: deterministic actor tests with doctest + CAF's test_coordinator.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "msgs.hpp"

#include <doctest/doctest.h>

namespace cfx {
std::string to_string(errc x) {
  return "errc" + std::to_string(int(x));
}
} // namespace cfx
using namespace caf;
using namespace std::chrono_literals;

using tick_atom = atom_constant<atom("tick")>;
using get_atom = caf::get_atom; // CAF ships get_atom already

using timer_actor = typed_actor<replies_to<get_atom>::with<uint64_t>>;
using timer_impl = timer_actor::extend<reacts_to<tick_atom, uint64_t>>;

struct timer_state {
  uint64_t epoch = 1;
  uint64_t ticks = 0;
};

timer_impl::behavior_type timer_fun(timer_impl::stateful_pointer<timer_state> self) {
  self->delayed_send(self, 100ms, tick_atom::value, self->state.epoch);
  return {
      [=](get_atom) { return self->state.ticks; },
      [=](tick_atom, uint64_t ep) {
        if (ep != self->state.epoch)
          return;
        ++self->state.ticks;
        self->delayed_send(self, 100ms, tick_atom::value,
                           self->state.epoch); // periodic
      },
  };
}

struct test_config : actor_system_config {
  test_config() {
    set("scheduler.policy", atom("testing"));
    set("logger.verbosity", atom("quiet"));
    add_message_types<id_block::conflux>();
  }
};

struct fixture {
  test_config cfg;
  actor_system sys{cfg};
  scheduler::test_coordinator& sched =
      dynamic_cast<scheduler::test_coordinator&>(sys.scheduler());

  uint64_t ticks_of(const timer_actor& t) {
    scoped_actor s{sys};
    uint64_t result = 0;
    auto h = s->request(t, infinite, get_atom::value);
    sched.run(); // deliver request, produce reply
    h.receive([&](uint64_t x) { result = x; },
              [&](const error& e) { FAIL(sys.render(e)); });
    return result;
  }
};

TEST_CASE_FIXTURE(fixture, "delayed_send ticks fire only under advance_time") {
  timer_actor t = sys.spawn(timer_fun);
  sched.run(); // runs init; does NOT fire the 100ms timer
  CHECK(sched.has_pending_timeout());
  CHECK_EQ(ticks_of(t), 0u);
  CHECK_EQ(sched.advance_time(99ms), 0u); // not yet
  CHECK_EQ(sched.advance_time(1ms), 1u);  // fires exactly one timeout -> enqueues tick
  sched.run();
  CHECK_EQ(ticks_of(t), 1u);
  sched.advance_time(500ms); // only ONE tick: the re-armed timer is relative
  sched.run();               // to the (fake) time when the tick was handled
  CHECK_EQ(ticks_of(t), 2u);
  for (int i = 0; i < 5; ++i) {
    sched.advance_time(100ms);
    sched.run();
  }
  CHECK_EQ(ticks_of(t), 7u);
  CHECK_EQ(sched.trigger_timeouts(), 1u); // fire pending timers regardless of time
  sched.run();
  CHECK_EQ(ticks_of(t), 8u);
  anon_send_exit(t, exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_FIXTURE(fixture, "run_once steps one message; errors reach the requester") {
  auto kv = sys.spawn([](cfx::kv_actor::pointer) -> cfx::kv_actor::behavior_type {
    return {
        [](const cfx::put_req& r) -> result<cfx::put_resp> {
          if (r.key.empty())
            return make_error(cfx::errc::not_found);
          return cfx::put_resp{1, ""};
        },
        [](const cfx::ping& p) { return p.seq; },
    };
  });
  sched.run();
  scoped_actor s{sys};
  auto h = s->request(kv, 1s, cfx::put_req{}); // with a timeout: registers a timer
  CHECK(sched.has_job());
  sched.run_once(); // exactly one job: kv handles the request
  CHECK_FALSE(sched.has_job());
  bool got_error = false;
  h.receive([](const cfx::put_resp&) {},
            [&](const error& e) {
              got_error = true;
              CHECK_EQ(e.category(), atom("conflux"));
              CHECK_EQ(e.code(), uint8_t(cfx::errc::not_found));
            });
  CHECK(got_error);
  // a request nobody answers times out only when fake time advances
  auto h2 = s->request(kv, 1s, cfx::ping{7, ""});
  sched.advance_time(2s); // request timer fires before the job runs
  sched.run();
  std::vector<std::string> seen;
  // first message in the scoped actor's mailbox: the timeout error, then the late reply
  // is dropped
  h2.receive([&](uint64_t) { seen.push_back("reply"); },
             [&](const error& e) { seen.push_back(to_string(e)); });
  INFO(seen.size());
  CHECK_EQ(seen.size(), 1u);
  MESSAGE("after advance_time(2s) the requester saw: ", seen.front());
  anon_send_exit(kv, exit_reason::user_shutdown);
  sched.run();
}
