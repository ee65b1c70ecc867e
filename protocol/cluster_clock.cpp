#include "protocol/cluster_clock.hpp"

#include <algorithm>

namespace conflux {

void cluster_clock::observe(std::int64_t stamp_ms) {
  floor_us_ = std::max(floor_us_, stamp_ms * 1000);
}

std::int64_t cluster_clock::now(std::int64_t steady_ms, std::int64_t wall_ms) {
  const std::int64_t wall_us = wall_ms * 1000;
  if (!started_) {
    started_ = true;
    steady_ms_ = steady_ms;
    time_us_ = std::max(floor_us_, wall_us);
    return time_us_ / 1000;
  }
  const std::int64_t elapsed_ms = std::max<std::int64_t>(0, steady_ms - steady_ms_);
  steady_ms_ = std::max(steady_ms_, steady_ms);
  // Real time went by: so did cluster time, give or take 1% towards the wall.
  const std::int64_t advanced = time_us_ + elapsed_ms * 1000;
  const std::int64_t slew = elapsed_ms * max_slew_us_per_ms;
  const std::int64_t slewed = std::clamp(wall_us, advanced - slew, advanced + slew);
  time_us_ = std::max({time_us_, slewed, floor_us_});
  return time_us_ / 1000;
}

} // namespace conflux
