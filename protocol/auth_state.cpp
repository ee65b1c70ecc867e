#include "protocol/auth_state.hpp"

#include <utility>

namespace conflux::auth {

expected<expected<access>> load_access(state_reader& st, std::string_view credential,
                                       std::int64_t now_ms) {
  if (credential.empty())
    return expected<access>{
        error{errc::unauthenticated,
              "no token was presented; pass one with --token-file or "
              "CONFLUX_TOKEN_FILE (a cluster admin makes them with `conflux auth "
              "token create`)"}};
  auto p = st.find_principal_by_token(credential);
  if (!p.ok())
    return std::move(p).err();
  const principal* who = *p ? &**p : nullptr;
  if (auto s = check_principal(who, now_ms); !s.ok())
    return expected<access>{s.err()};
  access a;
  a.who = std::move(**p);
  for (auto& name : a.who.roles) {
    auto r = st.find_role(name);
    if (!r.ok())
      return std::move(r).err();
    if (*r)
      a.roles.push_back(std::move(**r));
  }
  return expected<access>{std::move(a)};
}

} // namespace conflux::auth
