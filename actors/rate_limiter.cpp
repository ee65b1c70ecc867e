#include "actors/rate_limiter.hpp"

#include <algorithm>

namespace conflux::actors {

bool rate_limiter::allow(std::string_view principal, std::string_view tenant,
                         std::uint64_t rate, time_point now) {
  if (rate == 0)
    return true;
  const auto cap = static_cast<double>(rate);
  std::lock_guard<std::mutex> guard{mtx_};
  key_type key{std::string{principal}, std::string{tenant}};
  auto i = buckets_.find(key);
  if (i == buckets_.end()) {
    while (buckets_.size() >= max_buckets_ && !lru_.empty()) {
      buckets_.erase(lru_.front());
      lru_.pop_front();
    }
    lru_.push_back(key);
    bucket b;
    b.tokens = cap;
    b.last = now;
    b.lru = std::prev(lru_.end());
    i = buckets_.emplace(std::move(key), b).first;
  } else {
    lru_.splice(lru_.end(), lru_, i->second.lru);
  }
  auto& b = i->second;
  if (now > b.last) {
    auto elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(cap, b.tokens + elapsed * cap);
    b.last = now;
  }
  // A rate lowered since the bucket filled takes effect at once.
  b.tokens = std::min(b.tokens, cap);
  if (b.tokens < 1.0)
    return false;
  b.tokens -= 1.0;
  return true;
}

std::size_t rate_limiter::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return buckets_.size();
}

} // namespace conflux::actors
