// Leader failures under load: kill -9, SIGSTOP/SIGCONT, and client retries
// across a crash (exactly-once through the replicated session).

#include "tests/integration/cluster.hpp"
#include "tests/integration/util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>

namespace conflux::itest {
namespace {

/// Waits (bounded) until `pred` holds, polling every 10 ms.
template <class Pred>
bool wait_until(Pred&& pred, ms limit) {
  return eventually(std::forward<Pred>(pred), limit, 10ms);
}

} // namespace

TEST_CASE("leader_killed_during_writes_is_replaced_and_keeps_acknowledged_writes") {
  cluster c;
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  auto before = c.status(*leader);
  REQUIRE(before.ok());
  const std::uint64_t old_term = before->term;

  const std::string key = "itest/failover/prod/stream.txt";
  {
    auto setup = c.make_client();
    auto r = setup->write(make_create_config(key, "initial"));
    INFO("create_config: " << err_text(r));
    REQUIRE(acked(r));
  }

  auto writer_client = c.make_client(5s, std::nullopt, "itest-stream");
  write_log log;
  std::atomic<bool> stop{false};
  std::thread writer{[&] { write_stream(*writer_client, key, "w", stop, log, 5000, 60s); }};
  join_on_exit join_writer{&stop, writer};

  REQUIRE(wait_until([&] { return log.acks.load() >= 20; }, 10s));
  const auto acks_before_kill = log.acks.load();

  const auto t_kill = clock::now();
  c.kill9(*leader);

  // A node reporting itself leader with a higher term, polled every 20 ms.
  std::optional<std::size_t> new_leader;
  std::uint64_t new_term = 0;
  auto poll_deadline = t_kill + 5s;
  for (int round = 0; round < 500 && clock::now() < poll_deadline && !new_leader; ++round) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (i == *leader)
        continue;
      auto st = c.status(i);
      if (st.ok() && st->role == "leader" && st->term > old_term) {
        new_leader = i;
        new_term = st->term;
        break;
      }
    }
    if (!new_leader)
      std::this_thread::sleep_for(20ms);
  }
  const auto elected_after = std::chrono::duration_cast<ms>(clock::now() - t_kill);
  MESSAGE("new leader after " << elected_after.count() << " ms (term " << old_term << " -> "
                              << new_term << ")");
  REQUIRE(new_leader);
  CHECK(*new_leader != *leader);
  // Behaviour requirement of the issue: a new leader within 2 s.
  CHECK(elected_after < 2000ms);

  // The cluster keeps taking writes from the same client after the failover.
  CHECK(wait_until([&] { return log.acks.load() >= acks_before_kill + 20; }, 20s));
  stop = true;
  writer.join();

  auto outcomes = log.snapshot();
  std::size_t ok_count = 0;
  for (auto& o : outcomes)
    ok_count += o.ok ? 1 : 0;
  MESSAGE(outcomes.size() << " writes, " << ok_count << " acknowledged");

  auto reader = c.make_client(10s, new_leader);
  auto vs = reader->list_versions(key, actors::consistency::linearizable);
  INFO("list_versions: " << err_text(vs));
  REQUIRE(vs.ok());
  check_applied_once(*vs, outcomes);
}

TEST_CASE("stopped_leader_is_replaced_and_steps_down_after_continue") {
  cluster c;
  REQUIRE(c.start());
  auto old_leader = c.wait_for_leader();
  REQUIRE(old_leader);
  auto before = c.status(*old_leader);
  REQUIRE(before.ok());
  const std::uint64_t old_term = before->term;

  c.stop(*old_leader);
  auto t_stop = clock::now();
  auto new_leader = c.wait_for_leader(10s, old_term);
  REQUIRE(new_leader);
  REQUIRE(*new_leader != *old_leader);
  MESSAGE("new leader after SIGSTOP: "
          << std::chrono::duration_cast<ms>(clock::now() - t_stop).count() << " ms");
  auto nl = c.status(*new_leader);
  REQUIRE(nl.ok());
  const std::uint64_t new_term = nl->term;
  const std::uint64_t new_id = c.id(*new_leader);
  CHECK(new_term > old_term);

  // A write commits on the two running nodes while the old leader sleeps.
  const std::string key = "itest/stop/prod/app.properties";
  auto cl = c.make_client(10s, new_leader);
  {
    auto r = cl->write(make_create_config(key, "a=1", content_format::properties));
    INFO("create_config: " << err_text(r));
    REQUIRE(acked(r));
  }

  c.cont(*old_leader);

  // The old leader learns the new term and follows.
  expected<actors::node_status> old_now = error{errc::unavailable, "not asked yet"};
  bool stepped_down = eventually(
    [&] {
      old_now = c.status(*old_leader);
      return old_now.ok() && old_now->role != "leader" && old_now->term >= new_term
             && old_now->leader_id == new_id;
    },
    5s, 20ms);
  INFO("old leader status: " << (old_now.ok() ? old_now->role + " term "
                                                  + std::to_string(old_now->term)
                                                  + " leader "
                                                  + std::to_string(old_now->leader_id)
                                              : err_text(old_now)));
  CHECK(stepped_down);
  if (old_now.ok()) {
    CHECK(old_now->role != "leader");
    CHECK(old_now->term == new_term);
  }

  // The new leader keeps its leadership: same leader and term on every node
  // for a while (pre-vote / check-quorum keep the returning node from
  // disrupting it).
  for (int round = 0; round < 15; ++round) {
    std::this_thread::sleep_for(100ms);
    for (std::size_t i = 0; i < c.size(); ++i) {
      auto st = c.status(i);
      INFO("round " << round << " node " << c.id(i) << ": " << err_text(st));
      REQUIRE(st.ok());
      CHECK(st->term == new_term);
      CHECK(st->leader_id == new_id);
      CHECK((st->role == "leader") == (i == *new_leader));
    }
  }

  // Writes still succeed, and the returning node serves them.
  auto r = cl->write(make_create_version(key, "a=2"));
  INFO("create_version: " << err_text(r));
  REQUIRE(acked(r));
  auto oc = c.make_node_client(*old_leader, 5s);
  auto vs = oc->list_versions(key, actors::consistency::linearizable);
  INFO("list_versions via old leader: " << err_text(vs));
  REQUIRE(vs.ok());
  REQUIRE(vs->size() == 2);
  CHECK((*vs)[1].content == "a=2");
  auto st = c.status(*new_leader);
  REQUIRE(st.ok());
  CHECK(st->role == "leader");
  CHECK(st->term == new_term);
}

TEST_CASE("retried_write_across_leader_crash_applies_once") {
  cluster c;
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);

  const std::string key = "itest/retry/prod/once.txt";
  {
    auto setup = c.make_client();
    auto r = setup->write(make_create_config(key, "initial"));
    INFO("create_config: " << err_text(r));
    REQUIRE(acked(r));
  }

  // Several writers, each with its own client (and so its own session) and a
  // long timeout: a write caught by the crash is retried with the same
  // sequence until the new leader answers it.
  constexpr std::size_t writers = 3;
  std::vector<std::unique_ptr<actors::client>> clients;
  for (std::size_t k = 0; k < writers; ++k)
    clients.push_back(
      c.make_client(20s, leader, "itest-retry-" + std::to_string(k)));
  std::vector<std::unique_ptr<write_log>> logs;
  for (std::size_t k = 0; k < writers; ++k)
    logs.push_back(std::make_unique<write_log>());
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  join_on_exit join_all{&stop, threads};
  for (std::size_t k = 0; k < writers; ++k)
    threads.emplace_back([&, k] {
      write_stream(*clients[k], key, "t" + std::to_string(k), stop, *logs[k], 2000, 60s);
    });
  auto total_acks = [&] {
    std::size_t n = 0;
    for (auto& l : logs)
      n += l->acks.load();
    return n;
  };

  REQUIRE(wait_until([&] { return total_acks() >= 30; }, 10s));
  const auto acks_before = total_acks();
  c.kill9(*leader);
  // Every writer gets past the crash (its in-flight write returns) and the
  // cluster keeps acknowledging.
  CHECK(wait_until([&] { return total_acks() >= acks_before + 30; }, 30s));
  stop = true;
  for (auto& t : threads)
    t.join();

  std::vector<write_outcome> outcomes;
  std::size_t oks = 0;
  std::size_t timeouts = 0;
  for (auto& l : logs)
    for (auto& o : l->snapshot()) {
      oks += o.ok ? 1 : 0;
      timeouts += (!o.ok && o.code == errc::timeout) ? 1 : 0;
      outcomes.push_back(std::move(o));
    }
  MESSAGE(outcomes.size() << " writes: " << oks << " ok, " << timeouts << " timed out, "
                          << outcomes.size() - oks - timeouts << " refused");

  auto reader = c.make_client(10s);
  auto vs = reader->list_versions(key, actors::consistency::linearizable);
  INFO("list_versions: " << err_text(vs));
  REQUIRE(vs.ok());
  check_applied_once(*vs, outcomes);
  // Every write is accounted for: the initial version plus at most one per
  // write made.
  CHECK(vs->size() <= outcomes.size() + 1);
  CHECK(vs->size() >= oks + 1);
}

TEST_CASE("writes_under_a_short_session_timeout_are_never_applied_twice_across_a_leader_crash") {
  // With the shortest session timeout the state machine accepts (1 s), a
  // write caught by a leader crash is often retried only after its session
  // expired in leader time: the retry is refused with session_expired. If an
  // earlier attempt had already applied on the crashed leader, resending the
  // write under a new session would apply it a second time; the client must
  // report it as timeout (outcome unknown) instead.
  cluster c;
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);

  const std::string key = "itest/short-session/prod/once.txt";
  {
    auto setup = c.make_client();
    auto r = setup->write(make_create_config(key, "initial"));
    INFO("create_config: " << err_text(r));
    REQUIRE(acked(r));
  }

  constexpr std::size_t writers = 4;
  std::vector<std::unique_ptr<actors::client>> clients;
  for (std::size_t k = 0; k < writers; ++k) {
    actors::client_options o;
    o.endpoints = c.endpoints();
    std::rotate(o.endpoints.begin(),
                o.endpoints.begin() + static_cast<std::ptrdiff_t>(*leader),
                o.endpoints.end());
    o.timeout = 10s;
    o.session_timeout = 1000ms; // state_machine::min_session_timeout_ms
    o.name = "itest-short-session-" + std::to_string(k);
    clients.push_back(std::make_unique<actors::client>(runtime(), std::move(o)));
  }
  std::vector<std::unique_ptr<write_log>> logs;
  for (std::size_t k = 0; k < writers; ++k)
    logs.push_back(std::make_unique<write_log>());
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  join_on_exit join_all{&stop, threads};
  for (std::size_t k = 0; k < writers; ++k)
    threads.emplace_back([&, k] {
      write_stream(*clients[k], key, "s" + std::to_string(k), stop, *logs[k], 3000, 90s);
    });
  auto total_acks = [&] {
    std::size_t n = 0;
    for (auto& l : logs)
      n += l->acks.load();
    return n;
  };

  REQUIRE(wait_until([&] { return total_acks() >= 40; }, 15s));

  // Two crashes of the leader mid-stream; the first victim is restarted
  // (same data dir) before the second, so a majority is always left.
  std::optional<std::size_t> killed;
  for (int crash = 1; crash <= 2; ++crash) {
    if (crash == 2) {
      REQUIRE(c.restart(*killed));
      leader = c.wait_for_leader();
      REQUIRE(leader);
      const auto acks = total_acks();
      REQUIRE(wait_until([&] { return total_acks() >= acks + 20; }, 20s));
    }
    const auto acks_before = total_acks();
    MESSAGE("crash " << crash << ": kill -9 of node " << c.id(*leader) << " after "
                     << acks_before << " acknowledged writes");
    c.kill9(*leader);
    killed = leader;
    // Every writer gets past the crash and the cluster keeps acknowledging.
    CHECK(wait_until([&] { return total_acks() >= acks_before + 40; }, 30s));
  }
  stop = true;
  for (auto& t : threads)
    t.join();
  REQUIRE(c.restart(*killed));

  std::vector<write_outcome> outcomes;
  std::size_t oks = 0;
  std::size_t timeouts = 0;
  for (auto& l : logs)
    for (auto& o : l->snapshot()) {
      oks += o.ok ? 1 : 0;
      timeouts += (!o.ok && o.code == errc::timeout) ? 1 : 0;
      outcomes.push_back(std::move(o));
    }
  MESSAGE(outcomes.size() << " writes: " << oks << " ok, " << timeouts << " timed out, "
                          << outcomes.size() - oks - timeouts << " refused");
  std::size_t shown = 0;
  for (auto& o : outcomes)
    if (!o.ok && shown++ < 10)
      MESSAGE("not acknowledged: " << o.content << ": " << o.error);

  auto reader = c.make_client(10s);
  auto vs = reader->list_versions(key, actors::consistency::linearizable);
  INFO("list_versions: " << err_text(vs));
  REQUIRE(vs.ok());
  {
    // How many timed-out writes did apply (an attempt reached the crashed
    // leader): each of them is one a resend under a new session would double.
    auto counts = content_counts(*vs);
    std::size_t applied_timeouts = 0;
    for (auto& o : outcomes)
      if (!o.ok && o.code == errc::timeout && counts.count(o.content) != 0)
        ++applied_timeouts;
    MESSAGE(applied_timeouts << " of the " << timeouts << " timed-out writes applied");
  }
  // No content twice; every acknowledged write once; a timed-out write at
  // most once; a refused one not at all.
  check_applied_once(*vs, outcomes);
  CHECK(vs->size() <= outcomes.size() + 1);
  CHECK(vs->size() >= oks + 1);
}

} // namespace conflux::itest
