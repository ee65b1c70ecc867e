#pragma once
// Authorization for tests that apply commands: every command but
// bootstrap_auth needs a credential whose principal may do it
// (docs/security.md, "Authorization"). These helpers give a state the tables
// a bootstrap makes, so a test can stamp admin_credential() on its envelopes
// the way a node stamps the session's token hash. Shared by tests/protocol,
// tests/storage and tests/actors.

#include "protocol/auth.hpp"
#include "protocol/state.hpp"

#include <string>

namespace conflux::test_auth {

/// A fixed token for tests only (no build of the node knows it).
inline const std::string admin_token =
    "cfx_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What a node stamps on the commands of a session opened with admin_token.
inline std::string admin_credential() {
  return auth::token_hash(admin_token);
}

/// The principal admin_token reaches.
inline const std::string admin_name = "alice";

/// Writes what an applied bootstrap_auth writes (the role "cluster-admin" =
/// every permission on "*", the principal admin_name reached by
/// admin_token, the bootstrapped counter) without using a log index, so the
/// indexes and revisions a test expects stay as they were.
inline status seed_admin(state_writer& st) {
  auth::role admin_role{std::string{auth::bootstrap_role}, {{"*", auth::all_perms}}};
  if (auto s = st.put_role(admin_role); !s.ok())
    return s;
  auth::principal p;
  p.name = admin_name;
  p.token_hash = admin_credential();
  p.roles = {admin_role.name};
  if (auto s = st.put_principal(p); !s.ok())
    return s;
  return st.set_counter(counter::auth_bootstrapped, 1);
}

} // namespace conflux::test_auth
