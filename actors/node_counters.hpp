#pragma once
// Named monotonic counters of one node: every refused or dropped message and
// every limit that was hit counts here under a dotted name
// ("raft.dropped.identity_mismatch", "session.refused.per_node", ...).
// `cluster status --json` shows them per node (status_reply::counters), with
// the patched BASP layer's drop counters added as "transport.dropped.*"; the
// metrics endpoint of the operations work is meant to export the same names.
//
// Refusals are rare next to the traffic they guard, so a mutex-guarded map is
// cheap enough; nothing on the write path's success branch touches it.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace conflux::actors {

class node_counters {
public:
  /// Adds `n` to counter `name` (a counter starts at 0 on first use).
  void add(std::string_view name, std::uint64_t n = 1);

  /// The value of `name` (0 when it was never added to).
  std::uint64_t get(std::string_view name) const;

  /// Every counter that was added to, by name.
  std::map<std::string, std::uint64_t> snapshot() const;

private:
  mutable std::mutex mtx_;
  std::map<std::string, std::uint64_t, std::less<>> values_;
};

/// The patched CAF's process-wide BASP drop counters, named
/// "transport.dropped.<reason>" (only the non-zero ones).
std::map<std::string, std::uint64_t> transport_drop_counters();

} // namespace conflux::actors
