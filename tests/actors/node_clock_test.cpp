// The fault-injection clock: the system's wall clock plus the offset written
// in a file, which conflux-chaos changes while the node runs.
#include "actors/node_clock.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace conflux::actors;

namespace {

std::int64_t skew(const node_clock& c) {
  return c.wall_ms() - system_node_clock()->wall_ms();
}

/// Polls (bounded: 2 s) until the clock's skew is within 1 s of `want`.
bool skew_becomes(const node_clock& c, std::int64_t want) {
  for (int i = 0; i < 200; ++i) {
    auto d = skew(c) - want;
    if (d > -1000 && d < 1000)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

} // namespace

TEST_CASE("the_fault_clock_follows_the_offset_file_forward_and_back") {
  char tmpl[] = "/tmp/conflux-clock-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl, path = dir + "/offset";
  auto clock = offset_file_clock(path);
  // No file yet: no offset.
  CHECK(skew_becomes(*clock, 0));
  std::ofstream(path) << 7200000;
  CHECK(skew_becomes(*clock, 7200000));
  std::ofstream(path) << -3600000;
  CHECK(skew_becomes(*clock, -3600000));
  // An unreadable value keeps the last offset.
  std::ofstream(path) << "garbage";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(skew_becomes(*clock, -3600000));
  std::filesystem::remove_all(dir);
}
