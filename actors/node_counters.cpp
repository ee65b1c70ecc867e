#include "actors/node_counters.hpp"

#include <caf/io/basp/drop_counters.hpp>

namespace conflux::actors {

void node_counters::add(std::string_view name, std::uint64_t n) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = values_.find(name);
  if (i == values_.end())
    values_.emplace(std::string{name}, n);
  else
    i->second += n;
}

std::uint64_t node_counters::get(std::string_view name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = values_.find(name);
  return i == values_.end() ? 0 : i->second;
}

std::map<std::string, std::uint64_t> node_counters::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {values_.begin(), values_.end()};
}

std::map<std::string, std::uint64_t> transport_drop_counters() {
  namespace basp = caf::io::basp;
  std::map<std::string, std::uint64_t> out;
  auto counts = basp::read_drop_counters();
  for (std::size_t i = 0; i < basp::drop_reason_count; ++i) {
    auto reason = static_cast<basp::drop_reason>(i);
    if (auto n = counts[reason]; n > 0)
      out[std::string{"transport.dropped."} + basp::to_string(reason)] = n;
  }
  return out;
}

} // namespace conflux::actors
