#include "storage/state_read_txn.hpp"

namespace conflux::storage {

expected<std::optional<config>> state_read_txn::find_config(config_id id) {
  return read_config(txn_, dbis_, id);
}

expected<std::optional<config_id>>
state_read_txn::find_config_id(std::string_view key) {
  return read_config_id(txn_, dbis_, key);
}

expected<std::vector<std::pair<std::string, config_id>>>
state_read_txn::list_keys(std::string_view prefix, std::size_t limit) {
  return read_keys(txn_, dbis_, prefix, limit);
}

expected<std::optional<version>> state_read_txn::find_version(config_id config,
                                                              version_id id) {
  return read_version(txn_, dbis_, config, id);
}

expected<std::vector<version>> state_read_txn::list_versions(config_id config) {
  return read_versions(txn_, dbis_, config);
}

expected<std::optional<client_session>> state_read_txn::find_session(session_id id) {
  return read_session(txn_, dbis_, id);
}

expected<std::vector<client_session>> state_read_txn::list_sessions() {
  return read_sessions(txn_, dbis_);
}

expected<std::uint64_t> state_read_txn::get_counter(counter c) {
  return read_counter(txn_, dbis_, c);
}

expected<std::uint64_t> state_read_txn::last_applied() {
  return read_last_applied(txn_, dbis_);
}

expected<std::optional<audit::record>> state_read_txn::find_audit(std::uint64_t seq) {
  return read_audit(txn_, dbis_, seq);
}

expected<std::vector<audit::record>> state_read_txn::list_audit(std::uint64_t from,
                                                                std::size_t limit) {
  return read_audits(txn_, dbis_, from, limit);
}

expected<audit::chain> state_read_txn::get_audit_chain() {
  return read_audit_chain(txn_, dbis_);
}

expected<std::optional<auth::principal>>
state_read_txn::find_principal(std::string_view name) {
  return read_principal(txn_, dbis_, name);
}

expected<std::optional<auth::principal>>
state_read_txn::find_principal_by_token(std::string_view hash) {
  return read_principal_by_token(txn_, dbis_, hash);
}

expected<std::vector<auth::principal>> state_read_txn::list_principals() {
  return read_principals(txn_, dbis_);
}

expected<std::optional<auth::role>> state_read_txn::find_role(std::string_view name) {
  return read_role(txn_, dbis_, name);
}

expected<std::vector<auth::role>> state_read_txn::list_roles() {
  return read_roles(txn_, dbis_);
}

expected<std::optional<auth::tenant>>
state_read_txn::find_tenant(std::string_view name) {
  return read_tenant(txn_, dbis_, name);
}

expected<std::vector<auth::tenant>> state_read_txn::list_tenants() {
  return read_tenants(txn_, dbis_);
}

} // namespace conflux::storage
