#pragma once
// Request rate per principal and tenant on one node (docs/security.md,
// "Request rate"): a token bucket per (principal, tenant), refilled at the
// tenant's rate (requests per second) and holding at most one second's worth,
// so a quiet principal may send a burst of `rate` requests at once. Shared by
// every client session of the node (sessions run on several threads), hence
// the mutex; owned by node_context.
//
// The map of buckets is bounded (--rate-buckets): a bucket unused for a
// second is full again, so dropping it changes nothing, and when the map is
// full the least recently used bucket goes. Local to the node and never
// replicated: a rate refusal is a node's own decision, like a session cap.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace conflux::actors {

class rate_limiter {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// REQUIRES: max_buckets >= 1.
  explicit rate_limiter(std::size_t max_buckets) : max_buckets_(max_buckets) {}

  /// Takes one token from the bucket of (principal, tenant), refilled at
  /// `rate` per second up to `rate` tokens, at steady time `now`. False when
  /// the bucket is empty (the request is refused). rate 0 refuses nothing.
  bool allow(std::string_view principal, std::string_view tenant, std::uint64_t rate,
             time_point now);

  /// Changes the bound (the node sets it from --rate-buckets at start).
  /// REQUIRES: max_buckets >= 1.
  void set_max_buckets(std::size_t max_buckets) {
    std::lock_guard<std::mutex> guard{mtx_};
    max_buckets_ = max_buckets;
  }

  /// Buckets held now (at most max_buckets).
  std::size_t size() const;

private:
  struct bucket {
    double tokens = 0;
    time_point last;
    std::list<std::pair<std::string, std::string>>::iterator lru;
  };
  using key_type = std::pair<std::string, std::string>;

  mutable std::mutex mtx_;
  std::size_t max_buckets_;
  std::map<key_type, bucket, std::less<>> buckets_;
  /// Least recently used first.
  std::list<key_type> lru_;
};

} // namespace conflux::actors
