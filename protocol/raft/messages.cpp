#include "protocol/raft/messages.hpp"

namespace conflux::raft {

term_t term_of(const message& m) {
  return std::visit([](const auto& x) { return x.term; }, m);
}

const char* message_name(const message& m) {
  static constexpr const char* names[] = {
      "request_vote_request",     "request_vote_response", "append_entries_request",
      "append_entries_response",  "heartbeat_request",     "heartbeat_response",
      "install_snapshot_request", "timeout_now_request",   "read_index_request",
      "read_index_response"};
  static_assert(std::variant_size_v<message> == std::size(names));
  return names[m.index()];
}

} // namespace conflux::raft
