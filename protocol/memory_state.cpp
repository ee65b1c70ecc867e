#include "protocol/memory_state.hpp"

namespace conflux {

namespace {
template <class Map, class Key>
auto find_opt(const Map& m, const Key& k) -> std::optional<typename Map::mapped_type> {
  auto i = m.find(k);
  if (i == m.end())
    return std::nullopt;
  return i->second;
}
} // namespace

expected<std::optional<config>> memory_state::find_config(config_id id) {
  return find_opt(configs_, id);
}

expected<std::optional<config_id>> memory_state::find_config_id(std::string_view key) {
  return find_opt(keys_, key);
}

expected<std::vector<std::pair<std::string, config_id>>>
memory_state::list_keys(std::string_view prefix, std::size_t limit) {
  std::vector<std::pair<std::string, config_id>> out;
  for (auto i = keys_.lower_bound(prefix); i != keys_.end(); ++i) {
    if (i->first.compare(0, prefix.size(), prefix) != 0)
      break;
    if (limit != 0 && out.size() == limit)
      break;
    out.emplace_back(i->first, i->second);
  }
  return out;
}

expected<std::optional<version>> memory_state::find_version(config_id config,
                                                            version_id id) {
  return find_opt(versions_, std::pair{config, id});
}

expected<std::vector<version>> memory_state::list_versions(config_id config) {
  std::vector<version> out;
  for (auto i = versions_.lower_bound({config, 0});
       i != versions_.end() && i->first.first == config; ++i)
    out.push_back(i->second);
  return out;
}

expected<std::optional<client_session>> memory_state::find_session(session_id id) {
  return find_opt(sessions_, id);
}

expected<std::vector<client_session>> memory_state::list_sessions() {
  std::vector<client_session> out;
  for (auto& kv : sessions_)
    out.push_back(kv.second);
  return out;
}

expected<std::uint64_t> memory_state::get_counter(counter c) {
  return find_opt(counters_, c).value_or(0);
}

expected<std::uint64_t> memory_state::last_applied() {
  return last_applied_;
}

expected<std::optional<audit::record>> memory_state::find_audit(std::uint64_t seq) {
  return find_opt(audit_, seq);
}

expected<std::vector<audit::record>> memory_state::list_audit(std::uint64_t from,
                                                              std::size_t limit) {
  std::vector<audit::record> out;
  for (auto i = audit_.lower_bound(from); i != audit_.end(); ++i) {
    if (limit != 0 && out.size() == limit)
      break;
    out.push_back(i->second);
  }
  return out;
}

expected<audit::chain> memory_state::get_audit_chain() {
  return audit_chain_.value_or(audit::chain{});
}

status memory_state::put_config(const config& c) {
  configs_[c.id] = c;
  return {};
}

status memory_state::erase_config(config_id id) {
  configs_.erase(id);
  return {};
}

status memory_state::put_key(std::string_view key, config_id id) {
  keys_.insert_or_assign(std::string{key}, id);
  return {};
}

status memory_state::erase_key(std::string_view key) {
  if (auto i = keys_.find(key); i != keys_.end())
    keys_.erase(i);
  return {};
}

status memory_state::put_version(const version& v) {
  versions_[{v.config, v.id}] = v;
  return {};
}

status memory_state::erase_version(config_id config, version_id id) {
  versions_.erase({config, id});
  return {};
}

status memory_state::put_session(const client_session& s) {
  sessions_[s.id] = s;
  return {};
}

status memory_state::erase_session(session_id id) {
  sessions_.erase(id);
  return {};
}

status memory_state::set_counter(counter c, std::uint64_t value) {
  counters_[c] = value;
  return {};
}

status memory_state::set_last_applied(std::uint64_t index) {
  last_applied_ = index;
  return {};
}

status memory_state::put_audit(const audit::record& r) {
  audit_[r.seq] = r;
  return {};
}

status memory_state::erase_audit(std::uint64_t seq) {
  audit_.erase(seq);
  return {};
}

status memory_state::set_audit_chain(const audit::chain& c) {
  audit_chain_ = c;
  return {};
}

audit::record* memory_state::raw_audit(std::uint64_t seq) {
  auto i = audit_.find(seq);
  return i == audit_.end() ? nullptr : &i->second;
}

expected<std::optional<auth::principal>>
memory_state::find_principal(std::string_view name) {
  return find_opt(principals_, name);
}

expected<std::optional<auth::principal>>
memory_state::find_principal_by_token(std::string_view hash) {
  auto i = tokens_.find(hash);
  if (i == tokens_.end())
    return std::optional<auth::principal>{};
  return find_opt(principals_, i->second);
}

expected<std::vector<auth::principal>> memory_state::list_principals() {
  std::vector<auth::principal> out;
  for (auto& kv : principals_)
    out.push_back(kv.second);
  return out;
}

expected<std::optional<auth::role>> memory_state::find_role(std::string_view name) {
  return find_opt(roles_, name);
}

expected<std::vector<auth::role>> memory_state::list_roles() {
  std::vector<auth::role> out;
  for (auto& kv : roles_)
    out.push_back(kv.second);
  return out;
}

expected<std::optional<auth::tenant>> memory_state::find_tenant(std::string_view name) {
  return find_opt(tenants_, name);
}

expected<std::vector<auth::tenant>> memory_state::list_tenants() {
  std::vector<auth::tenant> out;
  for (auto& kv : tenants_)
    out.push_back(kv.second);
  return out;
}

status memory_state::put_principal(const auth::principal& p) {
  if (auto i = principals_.find(p.name);
      i != principals_.end() && i->second.token_hash != p.token_hash)
    tokens_.erase(i->second.token_hash);
  principals_.insert_or_assign(p.name, p);
  tokens_.insert_or_assign(p.token_hash, p.name);
  return {};
}

status memory_state::put_role(const auth::role& r) {
  roles_.insert_or_assign(r.name, r);
  return {};
}

status memory_state::erase_role(std::string_view name) {
  if (auto i = roles_.find(name); i != roles_.end())
    roles_.erase(i);
  return {};
}

status memory_state::put_tenant(const auth::tenant& t) {
  tenants_.insert_or_assign(t.name, t);
  return {};
}

version* memory_state::raw_version(config_id config, version_id id) {
  auto i = versions_.find({config, id});
  return i == versions_.end() ? nullptr : &i->second;
}

} // namespace conflux
