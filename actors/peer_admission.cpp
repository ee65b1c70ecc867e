#include "actors/peer_admission.hpp"

#include "protocol/identity.hpp"

namespace conflux::actors {

sender_check check_node_sender(bool tls, std::string_view own_cluster,
                               std::uint64_t own_id, const sender_claim& claim) {
  auto claimed = "node " + std::to_string(claim.from);
  if (tls) {
    if (claim.proven_identity.empty())
      return {sender_refusal::no_identity,
              "the connection claiming to be " + claimed + " proved no identity"};
    auto who = parse_identity(claim.proven_identity);
    if (!who.ok())
      return {sender_refusal::no_identity, "the connection claiming to be " + claimed +
                                               " proved an unusable identity '" +
                                               std::string{claim.proven_identity} +
                                               "': " + who.err().message};
    if (who->is_client())
      return {sender_refusal::client_identity,
              who->describe() + " sent node traffic claiming to be " + claimed +
                  "; clients may not send Raft messages or snapshots"};
    if (!is_node_of(*who, own_cluster, claim.from))
      return {sender_refusal::identity_mismatch,
              who->describe() + " sent node traffic claiming to be " + claimed +
                  " of cluster '" + std::string{claim.cluster_id} + "'"};
  }
  if (claim.cluster_id != own_cluster || claim.to != own_id)
    return {sender_refusal::wrong_addressee,
            claimed + " sent traffic for cluster '" + std::string{claim.cluster_id} +
                "' node " + std::to_string(claim.to) + ", but this is cluster '" +
                std::string{own_cluster} + "' node " + std::to_string(own_id) +
                ": check --peers and --cluster-id"};
  return {};
}

const char* refusal_counter(sender_refusal r) {
  switch (r) {
  case sender_refusal::client_identity:
    return "raft.dropped.client_identity";
  case sender_refusal::identity_mismatch:
    return "raft.dropped.identity_mismatch";
  case sender_refusal::no_identity:
    return "raft.dropped.no_identity";
  case sender_refusal::wrong_addressee:
  case sender_refusal::none:
    break;
  }
  return "raft.dropped.wrong_addressee";
}

errc refusal_code(sender_refusal r) {
  return r == sender_refusal::wrong_addressee ? errc::invalid_argument
                                              : errc::permission_denied;
}

bool log_limiter::allow(std::chrono::steady_clock::time_point now,
                        std::uint64_t& held_back) {
  if (logged_ && now - last_ < interval_) {
    ++held_back_;
    return false;
  }
  logged_ = true;
  last_ = now;
  held_back = held_back_;
  held_back_ = 0;
  return true;
}

} // namespace conflux::actors
