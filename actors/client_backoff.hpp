#pragma once
// The pause between two attempts of the client's retry loops (the leader RPC
// in client_rpc.cpp, the watch stream's reconnects in client_watch.cpp):
// exponential, capped, restarted once an attempt gets through. No CAF.

#include <algorithm>
#include <chrono>

namespace conflux::actors {

class retry_backoff {
public:
  using duration = std::chrono::milliseconds;

  /// Pauses of `first`, then twice the previous one, never more than `cap`.
  /// With `immediate`, the first retry after a reset goes at once and the one
  /// after it waits `first`.
  constexpr retry_backoff(duration first, duration cap, bool immediate = false) noexcept
      : first_(first), cap_(cap), immediate_(immediate),
        next_(immediate ? duration{0} : first) {}

  /// The pause before the next attempt; the one after it doubles.
  duration next() noexcept {
    auto pause = next_;
    next_ = std::min(std::max(next_ * 2, first_), cap_);
    return pause;
  }

  /// An attempt got through: the next failure starts from the beginning.
  void reset() noexcept { next_ = immediate_ ? duration{0} : first_; }

private:
  duration first_;
  duration cap_;
  bool immediate_;
  duration next_;
};

} // namespace conflux::actors
