#include "actors/node_clock.hpp"

namespace conflux::actors {

std::int64_t node_clock::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::time_point node_clock::steady() const {
  return std::chrono::steady_clock::now();
}

std::shared_ptr<const node_clock> system_node_clock() {
  static const auto clock = std::make_shared<const node_clock>();
  return clock;
}

} // namespace conflux::actors
