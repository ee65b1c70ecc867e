// Cluster time (protocol/cluster_clock.hpp): stamps follow the steady clock,
// lean towards wall time by at most 1%, and never go back.

#include "protocol/cluster_clock.hpp"

#include <cstdint>
#include <doctest/doctest.h>

using namespace conflux;

namespace {

constexpr std::int64_t hour_ms = 3'600'000;
constexpr std::int64_t tick_ms = 50;
constexpr std::int64_t start_wall = 1'800'000'000'000;

/// Drives a clock tick by tick: `wall_offset` is how far the wall clock sits
/// from real time. Checks, at every tick, that cluster time never went back.
struct driver {
  cluster_clock clock;
  std::int64_t steady = 1'000;
  std::int64_t wall_offset = 0;
  std::int64_t last = 0;

  std::int64_t real_wall() const { return start_wall + steady; }
  std::int64_t read() {
    auto t = clock.now(steady, real_wall() + wall_offset);
    REQUIRE(t >= last);
    last = t;
    return t;
  }
  /// Advances by `ms` of steady time in ticks; returns the last reading.
  std::int64_t run(std::int64_t ms) {
    for (std::int64_t done = 0; done < ms; done += tick_ms) {
      steady += tick_ms;
      read();
    }
    return last;
  }
};

} // namespace

TEST_CASE(
    "a_wall_clock_jumped_an_hour_forward_moves_cluster_time_at_most_1_percent_faster") {
  driver d;
  const auto t0 = d.read();
  CHECK(t0 == start_wall + d.steady);
  d.wall_offset = hour_ms;
  const auto s0 = d.steady;
  // Sampled every minute for an hour: never more than 1.01x the steady time.
  for (int minute = 1; minute <= 60; ++minute) {
    auto t = d.run(60'000);
    auto elapsed = d.steady - s0;
    CHECK(t - t0 <= elapsed + elapsed / 100);
    CHECK(t - t0 >= elapsed);
  }
  // After an hour of real time the stamps are 36 s ahead, not an hour.
  CHECK(d.last - d.real_wall() == 36'000);
}

TEST_CASE("a_wall_clock_jumped_an_hour_back_never_sends_cluster_time_back") {
  driver d;
  d.run(10'000);
  const auto t0 = d.last;
  const auto s0 = d.steady;
  d.wall_offset = -hour_ms;
  // The first reading after the jump is not below the one before it.
  CHECK(d.read() == t0);
  for (int minute = 1; minute <= 60; ++minute) {
    auto t = d.run(60'000);
    auto elapsed = d.steady - s0;
    // At least 0.99x the steady time (read() checks every tick for going back).
    CHECK(t - t0 >= elapsed - elapsed / 100);
    CHECK(t - t0 <= elapsed);
  }
  CHECK(d.real_wall() - d.last == 36'000);
}

TEST_CASE("cluster_time_converges_to_a_wall_clock_that_runs_true") {
  SUBCASE("from ahead") {
    driver d;
    d.read();
    d.wall_offset = 10'000;
    d.run(5'000);
    d.wall_offset = 0; // the wall clock is corrected; cluster time is ~50 ms ahead
    d.run(10'000);
    CHECK(d.last == d.real_wall());
  }
  SUBCASE("from behind") {
    driver d;
    d.read();
    d.wall_offset = 5'000; // 5 s ahead: 500 s to catch up at 1%
    d.run(499'000);
    CHECK(d.last < d.real_wall() + d.wall_offset);
    d.run(2'000);
    CHECK(d.last == d.real_wall() + d.wall_offset);
    // Once there it stays on the wall clock.
    d.run(60'000);
    CHECK(d.last == d.real_wall() + d.wall_offset);
  }
}

TEST_CASE("the_first_reading_starts_at_the_floor_or_the_wall_whichever_is_later") {
  cluster_clock behind;
  behind.observe(start_wall + 5'000);
  CHECK(behind.now(0, start_wall) == start_wall + 5'000);

  cluster_clock ahead;
  ahead.observe(start_wall - 5'000);
  CHECK(ahead.now(0, start_wall) == start_wall);
  CHECK(ahead.floor_ms() == start_wall - 5'000);
}

TEST_CASE("a_stamp_observed_above_the_reading_raises_every_later_reading") {
  cluster_clock c;
  CHECK(c.now(0, start_wall) == start_wall);
  // Another leader stamped 2 s ahead of this node's time (an entry in the log).
  c.observe(start_wall + 2'000);
  CHECK(c.now(10, start_wall + 10) == start_wall + 2'000);
  // From there it advances with the steady clock (leaning back towards wall).
  auto t = c.now(1'010, start_wall + 1'010);
  CHECK(t >= start_wall + 2'000 + 990);
  CHECK(t <= start_wall + 2'000 + 1'000);
}

TEST_CASE("a_steady_clock_reading_that_goes_back_counts_as_no_time") {
  cluster_clock c;
  CHECK(c.now(10'000, start_wall) == start_wall);
  CHECK(c.now(5'000, start_wall + hour_ms) == start_wall);
  // Elapsed time counts from the newest steady reading, not the stale one.
  CHECK(c.now(10'100, start_wall + hour_ms) == start_wall + 101);
}
