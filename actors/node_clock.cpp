#include "actors/node_clock.hpp"

#include <fstream>
#include <mutex>

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

namespace {

class offset_clock final : public node_clock {
public:
  explicit offset_clock(std::string path) : path_(std::move(path)) {}

  std::int64_t wall_ms() const override { return node_clock::wall_ms() + offset(); }

private:
  std::int64_t offset() const {
    std::lock_guard<std::mutex> guard{mu_};
    auto now = std::chrono::steady_clock::now();
    if (read_once_ && now - last_read_ < std::chrono::milliseconds(20))
      return offset_;
    read_once_ = true;
    last_read_ = now;
    std::ifstream in{path_};
    std::int64_t v = 0;
    if (in >> v)
      offset_ = v;
    return offset_;
  }

  std::string path_;
  mutable std::mutex mu_;
  mutable bool read_once_ = false;
  mutable std::chrono::steady_clock::time_point last_read_{};
  mutable std::int64_t offset_ = 0;
};

} // namespace

std::shared_ptr<const node_clock> offset_file_clock(std::string path) {
  return std::make_shared<const offset_clock>(std::move(path));
}

} // namespace conflux::actors
