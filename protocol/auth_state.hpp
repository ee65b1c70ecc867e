#pragma once
// Resolving a credential against the replicated authorization tables
// (protocol/state.hpp): what the state machine does for every write and a
// node does for every read, in the transaction that reads the data, so both
// decide against the same tables. Kept apart from protocol/auth.hpp, which
// stays free of the state seam.

#include "protocol/auth.hpp"
#include "protocol/error.hpp"
#include "protocol/state.hpp"

#include <cstdint>
#include <string_view>

namespace conflux::auth {

/// The principal reached by `credential` (auth::token_hash of a token) with
/// its roles, as of cluster time now_ms. The outer error is a state failure
/// (storage_failure, corrupted: the node stops); the inner one is
/// unauthenticated: no credential, no principal holds it, or the principal is
/// revoked or expired at now_ms. Roles that no longer exist grant nothing.
expected<expected<access>> load_access(state_reader& st, std::string_view credential,
                                       std::int64_t now_ms);

} // namespace conflux::auth
