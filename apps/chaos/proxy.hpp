// A fault-injecting TCP proxy between the nodes of a chaos cluster.
//
// For every ordered pair (src, dst) of nodes the proxy listens on its own
// loopback port; node src is started with that port as dst's address in its
// --peers, so every connection src opens to dst runs through the proxy.
//
// CAF 0.17 may carry both directions of a node pair over whichever connection
// exists (the one src opened to dst, or the one dst opened to src). The proxy
// therefore reasons about bytes, not connections: on a connection of pair
// (src, dst) the bytes read from the dialling side flow src -> dst and the bytes
// read from the listening side flow dst -> src. A fault names the direction of
// the bytes it affects, and is applied to every connection of both proxies of
// the node pair:
//   - cut(a, b):     every connection between a and b (either proxy) is closed
//                    and new ones are accepted and closed at once (refused),
//                    so a and b cannot talk at all;
//   - block(x, y):   bytes from x to y are stalled (not read, not forwarded) on
//                    every connection between them, old and new; y -> x bytes
//                    still flow (a one-way partition). CAF's heartbeat timeout
//                    may then close the connection from y's side.
//   - heal_all():    lifts every cut and block; stalled bytes flow again.
// cut/block/heal return once the proxy thread has applied them: after cut()
// returns, no byte passes between a and b.
//
// One thread, poll(2), non-blocking sockets. No CAF, no clock beyond poll's
// timeout. Owned by the harness (one per cluster); the destructor stops the
// thread and closes every socket.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace conflux::chaos {

using node_id = std::uint64_t;

struct proxy_stats {
  /// Connections accepted and bridged, per ordered pair (dialler, listener).
  std::map<std::pair<node_id, node_id>, std::uint64_t> accepted;
  /// Connections accepted and closed at once because the pair was cut.
  std::uint64_t refused = 0;
  /// Connections closed because their pair was cut while they were open.
  std::uint64_t closed_by_cut = 0;
  /// Bytes forwarded per direction (from, to).
  std::map<std::pair<node_id, node_id>, std::uint64_t> bytes;
};

class fault_proxy {
public:
  /// `real_ports`: node id -> the port the node listens on (127.0.0.1).
  /// Binds one listening socket per ordered pair. Throws std::runtime_error if
  /// a socket cannot be created or bound.
  explicit fault_proxy(const std::map<node_id, std::uint16_t>& real_ports);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  /// The port node `src` dials to reach node `dst`.
  std::uint16_t port_for(node_id src, node_id dst) const;

  /// Closes and refuses every connection between a and b (both directions).
  void cut(node_id a, node_id b);
  /// Stalls bytes from `from` to `to` (one-way).
  void block(node_id from, node_id to);
  /// Lifts every cut and block.
  void heal_all();

  /// True if bytes from `from` to `to` are currently held back (cut or block).
  bool blocked(node_id from, node_id to) const;

  /// Counters up to now (waits for one pass of the proxy thread).
  proxy_stats stats();

private:
  struct listener {
    node_id src = 0;
    node_id dst = 0;
    int fd = -1;
    std::uint16_t port = 0;
  };
  struct connection;

  void run();
  void apply_faults(std::vector<connection>& conns);
  // Waits until the proxy thread has passed the current fault epoch.
  void sync(std::unique_lock<std::mutex>& lock);

  std::map<node_id, std::uint16_t> real_ports_;
  std::vector<listener> listeners_;
  int wake_[2] = {-1, -1};

  mutable std::mutex mtx_;
  std::condition_variable applied_cv_;
  std::set<std::pair<node_id, node_id>> cuts_;   // unordered pairs as (min, max)
  std::set<std::pair<node_id, node_id>> blocks_; // ordered (from, to)
  std::uint64_t epoch_ = 0;                      // bumped by every change
  std::uint64_t applied_epoch_ = 0;              // last epoch the thread applied
  bool stopping_ = false;
  proxy_stats stats_;

  std::thread thread_;
};

} // namespace conflux::chaos
