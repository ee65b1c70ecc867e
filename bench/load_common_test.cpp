// The parts of the load generators that need no cluster: the histogram, the
// flag checks, the split of operations and the two measuring loops.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "bench/load_common.hpp"

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace conflux::bench;

namespace {

/// What parse_cli wrote to stderr during the last parse().
std::string last_err;

std::optional<int> parse(std::vector<std::string> args, options& o) {
  o = options{};
  args.insert(args.begin(), "conflux-bench");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  program_info info{"conflux-bench", "test", "127.0.0.1:7101",
                    {"put", "get", "get-serializable", "resolve", "watch"}};
  std::ostringstream err;
  auto* old = std::cerr.rdbuf(err.rdbuf());
  auto rc = parse_cli(static_cast<int>(argv.size()), argv.data(), info, o);
  std::cerr.rdbuf(old);
  last_err = err.str();
  return rc;
}

/// parse() exited 2 and said `why`.
bool refused(std::vector<std::string> args, const std::string& why) {
  options o;
  auto rc = parse(std::move(args), o);
  INFO("stderr: " << last_err);
  return rc == std::optional<int>{2} && last_err.find(why) != std::string::npos;
}

} // namespace

TEST_CASE("histogram percentiles stay within one percent of the exact values") {
  histogram h;
  for (std::uint64_t v = 1; v <= 100'000; ++v)
    h.record(v * 1000); // 1 us .. 100 ms
  CHECK(h.count() == 100'000);
  CHECK(h.max() == 100'000'000);
  auto near = [](std::uint64_t got, double want) {
    return static_cast<double>(got) > want * 0.99 && static_cast<double>(got) < want * 1.01;
  };
  CHECK(near(h.percentile(0.50), 50'000'000.0));
  CHECK(near(h.percentile(0.99), 99'000'000.0));
  CHECK(near(h.percentile(0.999), 99'900'000.0));
  CHECK(h.percentile(1.0) == h.max());
  CHECK(near(static_cast<std::uint64_t>(h.mean()), 50'000'500.0));
}

TEST_CASE("histogram is exact below 128 ns, empty gives zero, merge adds counts") {
  histogram empty;
  CHECK(empty.percentile(0.5) == 0);
  histogram a, b;
  for (std::uint64_t v = 0; v < 100; ++v)
    a.record(v);
  CHECK(a.percentile(0.5) == 49);
  b.record(5'000'000);
  a.merge(b);
  CHECK(a.count() == 101);
  CHECK(a.max() == 5'000'000);
  CHECK(a.percentile(1.0) == 5'000'000);
}

TEST_CASE("watch values carry their sequence number and nothing else parses") {
  auto v = watch_value(1234, 256);
  CHECK(v.size() == 256);
  CHECK(parse_watch_value(v) == std::optional<std::int64_t>{1234});
  CHECK(parse_watch_value(watch_value(0, 1)) == std::optional<std::int64_t>{0});
  CHECK_FALSE(parse_watch_value("vvvvvvvv").has_value());
  CHECK_FALSE(parse_watch_value("w;xx").has_value());
  CHECK_FALSE(parse_watch_value("w12a;").has_value());
}

TEST_CASE("the command line: help exits 0, bad input exits 2") {
  options o;
  CHECK(parse({"--help"}, o) == std::optional<int>{0});
  CHECK(refused({}, "--workload is required"));
  CHECK(refused({"--workload", "scan"}, "scan not in"));
  CHECK(refused({"--workload", "put", "--bogus"}, "--bogus"));
  CHECK(refused({"--workload", "put", "--clients", "0"}, "--clients"));
  CHECK(refused({"--workload", "put", "--clients", "8", "--ops", "4"}, "raise --ops"));
  CHECK(refused({"--workload", "put", "--endpoints", "127.0.0.1"}, "not HOST:PORT"));
  CHECK(refused({"--workload", "put", "--endpoints", "127.0.0.1:99999"}, "not HOST:PORT"));
  CHECK(refused({"--workload", "put", "--endpoints", "a:1,,b:2"}, "not HOST:PORT"));
  CHECK(refused({"--workload", "put", "--pids", "abc"}, "is not a process id"));
  CHECK(refused({"--workload", "put", "--key-prefix", "a/b/c"}, "two segments"));
  // PID 0 never names a process; a PID past pid_max cannot exist.
  CHECK(refused({"--workload", "put", "--pids", "0"}, "is not a process id"));
  CHECK(refused({"--workload", "put", "--pids", "2147483647"}, "no process 2147483647"));
}

TEST_CASE("a valid command line fills the options and a fresh key prefix") {
  options o;
  auto me = std::to_string(getpid());
  REQUIRE_FALSE(parse({"--workload", "get", "--clients", "3", "--ops", "10", "--endpoints",
                       "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "--pids", me},
                      o)
                  .has_value());
  CHECK(o.workload == "get");
  CHECK(o.pids == std::vector<pid_t>{getpid()});
  CHECK(o.key_prefix.rfind("bench/r", 0) == 0);
  CHECK(o.ops_of(0) + o.ops_of(1) + o.ops_of(2) == 10);
  CHECK(o.ops_of(0) == 4);
  CHECK(o.endpoints_for(1) ==
        std::vector<std::string>{"127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"});
  options p;
  REQUIRE_FALSE(parse({"--workload", "get"}, p).has_value());
  CHECK(p.key_prefix != o.key_prefix);
}

TEST_CASE("the closed loop times exactly --ops operations and counts failures") {
  options o;
  o.workload = "put";
  o.clients = 4;
  o.ops = 103;
  o.warmup = 3;
  std::atomic<int> warm{0}, measured{0};
  measurement m({getpid()});
  auto r = run_closed_loop(o, m, [&](int, std::string&) -> op_fn {
    return [&](std::int64_t i, bool warmup, std::string& why) {
      (warmup ? warm : measured)++;
      if (!warmup && i == 0) {
        why = "first op fails";
        return false;
      }
      return true;
    };
  });
  CHECK_FALSE(r.fatal.has_value());
  CHECK(warm.load() == 12);
  CHECK(measured.load() == 103);
  CHECK(r.errors == 4);
  CHECK(r.hist.count() == 99);
  CHECK(m.seconds() > 0);
  CHECK(m.server_cpu().has_value());
}

TEST_CASE("the closed loop reports a client that cannot be set up and runs nothing") {
  options o;
  o.clients = 3;
  o.ops = 30;
  std::atomic<int> calls{0};
  measurement m({});
  auto r = run_closed_loop(o, m, [&](int c, std::string& why) -> op_fn {
    if (c == 2) {
      why = "no connection";
      return nullptr;
    }
    return [&](std::int64_t, bool, std::string&) { return ++calls, true; };
  });
  REQUIRE(r.fatal.has_value());
  CHECK(r.fatal->find("no connection") != std::string::npos);
  CHECK(r.hist.count() == 0);
}

namespace {

// An in-process "server" for the watch shape: puts append to a log that every
// watcher reads; watcher `drop` never delivers put `drop_seq`.
constexpr int every_watcher = -2;

struct fake_stream {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::int64_t> log;

  watch_hooks hooks(int drop = -1, std::int64_t drop_seq = -1) {
    watch_hooks h;
    h.make_writer = [this](std::string&) {
      return std::function<bool(std::int64_t, const std::string&, std::string&)>(
        [this](std::int64_t, const std::string& value, std::string&) {
          std::lock_guard<std::mutex> lk(mu);
          log.push_back(*parse_watch_value(value));
          cv.notify_all();
          return true;
        });
    };
    h.run_watcher = [this, drop, drop_seq](int c, const std::function<void()>& ready,
                                            const std::function<void(std::int64_t)>& seen,
                                            const std::atomic<bool>& stop)
      -> std::optional<std::string> {
      ready();
      std::size_t next = 0;
      std::unique_lock<std::mutex> lk(mu);
      while (!stop.load()) {
        cv.wait_for(lk, std::chrono::milliseconds(20));
        while (next < log.size()) {
          auto seq = log[next++];
          if (!((drop == every_watcher || c == drop) && seq == drop_seq))
            seen(seq);
        }
      }
      return std::nullopt;
    };
    return h;
  }
};

} // namespace

TEST_CASE("the watch shape measures every event of every watcher") {
  options o;
  o.workload = "watch";
  o.clients = 3;
  o.ops = 30; // 10 measured puts, each seen by 3 watchers
  o.warmup = 2;
  o.put_rate = 2000;
  o.timeout_ms = 2000;
  fake_stream s;
  measurement m({});
  auto r = run_watch_shape(o, m, s.hooks());
  CHECK_FALSE(r.fatal.has_value());
  CHECK(r.errors == 0);
  CHECK(r.hist.count() == 30);
  CHECK(s.log.size() == 12);
}

TEST_CASE("the watch shape counts an event that never arrives as an error") {
  options o;
  o.workload = "watch";
  o.clients = 2;
  o.ops = 10;
  o.warmup = 1;
  o.put_rate = 2000;
  o.timeout_ms = 300;
  fake_stream s;
  measurement m({});
  auto r = run_watch_shape(o, m, s.hooks(/*drop=*/1, /*drop_seq=*/3));
  CHECK(r.errors == 1);
  CHECK(r.hist.count() == 9);
}

TEST_CASE("the watch shape counts every missing event, one per watcher") {
  options o;
  o.workload = "watch";
  o.clients = 3;
  o.ops = 15;
  o.warmup = 0;
  o.put_rate = 2000;
  o.timeout_ms = 300;
  fake_stream s;
  measurement m({});
  auto r = run_watch_shape(o, m, s.hooks(every_watcher, /*drop_seq=*/2));
  CHECK(r.errors == 3);
  CHECK(r.hist.count() == 12);
}
