#pragma once
// The audit trail's read operations (PROTOCOL.md, "Audit"): audit_list and
// audit_verify, answered from this node's state in the read transaction the
// client session opened, for a principal with `auditor` or `cluster-admin`.
// Kept apart from client_session.cpp, which calls it from serve_read.

#include "actors/node_context.hpp"
#include "protocol/auth.hpp"
#include "protocol/rpc.hpp"
#include "protocol/state.hpp"

#include <cstdint>
#include <optional>

namespace conflux::actors {

/// True for the request ops this unit serves.
bool is_audit_op(std::uint8_t op) noexcept;

/// Serves an audit request from `txn` (this node's state at revision
/// `applied`) for `who`: unauthenticated when `who` is null,
/// permission_denied without auditor or cluster_admin. nullopt when req.op
/// is not an audit op. A state failure stops the node (as for every read).
std::optional<rpc::client_reply> serve_audit_read(node_context& ctx, state_reader& txn,
                                                  const rpc::client_request& req,
                                                  const auth::access* who,
                                                  std::uint64_t applied);

} // namespace conflux::actors
