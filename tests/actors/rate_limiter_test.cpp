// The per-node request rate (actors/rate_limiter.hpp): a token bucket per
// principal and tenant, bounded in how many buckets it holds.

#include "actors/rate_limiter.hpp"

#include <doctest/doctest.h>

using conflux::actors::rate_limiter;
using namespace std::chrono_literals;

namespace {
const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
}

TEST_CASE("a_principal_over_its_rate_is_refused_until_the_bucket_refills") {
  rate_limiter rl{16};
  for (int i = 0; i < 10; ++i)
    CHECK(rl.allow("alice", "acme", 10, t0));
  CHECK_FALSE(rl.allow("alice", "acme", 10, t0));
  CHECK_FALSE(rl.allow("alice", "acme", 10, t0 + 50ms));
  // 100 ms at 10/s: one request more.
  CHECK(rl.allow("alice", "acme", 10, t0 + 100ms));
  CHECK_FALSE(rl.allow("alice", "acme", 10, t0 + 100ms));
  // A second later the burst is whole again, never more.
  int allowed = 0;
  while (rl.allow("alice", "acme", 10, t0 + 5s))
    ++allowed;
  CHECK(allowed == 10);
}

TEST_CASE("the_rate_is_kept_apart_per_principal_and_per_tenant") {
  rate_limiter rl{16};
  CHECK(rl.allow("alice", "acme", 1, t0));
  CHECK_FALSE(rl.allow("alice", "acme", 1, t0));
  CHECK(rl.allow("bob", "acme", 1, t0));
  CHECK(rl.allow("alice", "globex", 1, t0));
}

TEST_CASE("the_bucket_map_stays_within_its_bound_dropping_the_least_recently_used") {
  rate_limiter rl{3};
  CHECK(rl.allow("a", "t", 1, t0));
  CHECK(rl.allow("b", "t", 1, t0));
  CHECK(rl.allow("c", "t", 1, t0));
  // "a" used again: "b" is now the least recently used.
  CHECK_FALSE(rl.allow("a", "t", 1, t0));
  CHECK(rl.allow("d", "t", 1, t0));
  CHECK(rl.size() == 3);
  // "b" was dropped (a fresh, full bucket); "c" was not.
  CHECK_FALSE(rl.allow("c", "t", 1, t0));
  CHECK(rl.allow("b", "t", 1, t0));
  CHECK(rl.size() == 3);
}

TEST_CASE("a_rate_of_zero_refuses_nothing") {
  rate_limiter rl{1};
  for (int i = 0; i < 1000; ++i)
    CHECK(rl.allow("a", "t", 0, t0));
}
