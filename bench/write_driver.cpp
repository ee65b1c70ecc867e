// conflux-write-driver: the small write-latency / throughput driver of issue 4,
// on the CAF-native client (the full conflux-bench is issue 6).
//
//   conflux-write-driver --endpoints 127.0.0.1:7101,... --clients N --ops M
//                        [--value-size B] [--warmup W] [--key-prefix P]
//
// Each client thread owns one client (one exactly-once session) and adds
// versions of its own config with B-byte text content, one write at a time.
// The first W writes of each client are excluded. Prints one JSON line:
// {"clients","ops","seconds","ops_per_sec","p50_us","p99_us","max_us","errors"}.
#include "actors/client.hpp"
#include "actors/endpoint.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

using namespace conflux;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string endpoints = "127.0.0.1:7101", prefix = "bench/driver/run";
  int clients = 1, ops = 1000, value_size = 256, warmup = 20;
  CLI::App app{"conflux-write-driver: sequential and concurrent write figures"};
  app.add_option("--endpoints", endpoints, "HOST:PORT,...");
  app.add_option("--clients", clients, "concurrent clients (threads)");
  app.add_option("--ops", ops, "measured writes per client");
  app.add_option("--value-size", value_size, "content bytes per version");
  app.add_option("--warmup", warmup, "unmeasured writes per client first");
  app.add_option("--key-prefix", prefix, "tenant/app/env of the keys used");
  CLI11_PARSE(app, argc, argv);
  auto parsed = actors::parse_endpoint_list(endpoints);
  if (!parsed) {
    std::cerr << "conflux-write-driver: --endpoints must be HOST:PORT,...\n";
    return 2;
  }
  std::vector<std::string> eps;
  for (auto& e : *parsed)
    eps.push_back(e.to_string());

  actors::client_runtime rt;
  std::vector<std::vector<std::int64_t>> lat(static_cast<std::size_t>(clients));
  std::atomic<int> errors{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  clock_type::time_point start, end;
  std::vector<clock_type::time_point> ends(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  auto run_id = std::to_string(
    std::chrono::system_clock::now().time_since_epoch().count() % 1000000000);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      actors::client_options o;
      o.endpoints = eps;
      o.timeout = std::chrono::milliseconds(10000);
      o.name = "write-driver";
      actors::client cl{rt, o};
      auto key = prefix + "/c" + std::to_string(c) + "-" + run_id + ".txt";
      std::string content(static_cast<std::size_t>(value_size), 'x');
      auto r = cl.write(create_config{key, content_format::text, std::nullopt, content,
                                      "", ""});
      if (!r.ok()) {
        std::cerr << "create " << key << ": " << to_string(r.err()) << "\n";
        ++errors;
      }
      for (int i = 0; i < warmup; ++i)
        (void) cl.write(create_version{key, content, "warm-up", "", std::nullopt});
      ++ready;
      while (!go.load())
        std::this_thread::yield();
      auto& mine = lat[static_cast<std::size_t>(c)];
      mine.reserve(static_cast<std::size_t>(ops));
      for (int i = 0; i < ops; ++i) {
        content[0] = static_cast<char>('a' + i % 26);
        auto t0 = clock_type::now();
        auto w = cl.write(create_version{key, content, "", "", std::nullopt});
        auto t1 = clock_type::now();
        if (!w.ok()) {
          ++errors;
          continue;
        }
        mine.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
      }
      ends[static_cast<std::size_t>(c)] = clock_type::now();
    });
  }
  while (ready.load() < clients)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  start = clock_type::now();
  go = true;
  for (auto& t : threads)
    t.join();
  end = *std::max_element(ends.begin(), ends.end());
  std::vector<std::int64_t> all;
  for (auto& v : lat)
    all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) -> std::int64_t {
    if (all.empty())
      return 0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(all.size() - 1));
    return all[i];
  };
  double secs = std::chrono::duration<double>(end - start).count();
  std::printf("{\"clients\":%d,\"ops\":%zu,\"seconds\":%.3f,\"ops_per_sec\":%.1f,"
              "\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld,\"errors\":%d}\n",
              clients, all.size(), secs, static_cast<double>(all.size()) / secs,
              static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)),
              static_cast<long long>(all.empty() ? 0 : all.back()), errors.load());
  return errors.load() == 0 ? 0 : 1;
}
