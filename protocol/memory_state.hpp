#pragma once
// The in-memory twin of storage/state_store: a state_writer over plain maps,
// for tests and simulations. Writes take effect at once (there is no
// transaction); copy the object to keep a consistent picture.

#include "protocol/state.hpp"

#include <map>
#include <string>
#include <utility>

namespace conflux {

class memory_state final : public state_writer {
public:
  expected<std::optional<config>> find_config(config_id id) override;
  expected<std::optional<config_id>> find_config_id(std::string_view key) override;
  expected<std::vector<std::pair<std::string, config_id>>>
  list_keys(std::string_view prefix, std::size_t limit) override;
  expected<std::optional<version>> find_version(config_id config,
                                                version_id id) override;
  expected<std::vector<version>> list_versions(config_id config) override;
  expected<std::optional<client_session>> find_session(session_id id) override;
  expected<std::vector<client_session>> list_sessions() override;
  expected<std::uint64_t> get_counter(counter c) override;
  expected<std::uint64_t> last_applied() override;
  expected<std::optional<audit::record>> find_audit(std::uint64_t seq) override;
  expected<std::vector<audit::record>> list_audit(std::uint64_t from,
                                                  std::size_t limit) override;
  expected<audit::chain> get_audit_chain() override;
  expected<std::optional<auth::principal>>
  find_principal(std::string_view name) override;
  expected<std::optional<auth::principal>>
  find_principal_by_token(std::string_view hash) override;
  expected<std::vector<auth::principal>> list_principals() override;
  expected<std::optional<auth::role>> find_role(std::string_view name) override;
  expected<std::vector<auth::role>> list_roles() override;
  expected<std::optional<auth::tenant>> find_tenant(std::string_view name) override;
  expected<std::vector<auth::tenant>> list_tenants() override;

  status put_config(const config& c) override;
  status erase_config(config_id id) override;
  status put_key(std::string_view key, config_id id) override;
  status erase_key(std::string_view key) override;
  status put_version(const version& v) override;
  status erase_version(config_id config, version_id id) override;
  status put_session(const client_session& s) override;
  status erase_session(session_id id) override;
  status set_counter(counter c, std::uint64_t value) override;
  status set_last_applied(std::uint64_t index) override;
  status put_audit(const audit::record& r) override;
  status erase_audit(std::uint64_t seq) override;
  status set_audit_chain(const audit::chain& c) override;
  status put_principal(const auth::principal& p) override;
  status put_role(const auth::role& r) override;
  status erase_role(std::string_view name) override;
  status put_tenant(const auth::tenant& t) override;

  /// Test hook: the stored version record, to damage it on purpose.
  version* raw_version(config_id config, version_id id);
  /// Test hook: the stored audit record, to tamper with it on purpose.
  audit::record* raw_audit(std::uint64_t seq);

  /// Everything but the audit trail is equal: what a refused command must
  /// leave untouched (it still adds its audit record).
  bool same_except_audit(const memory_state& b) const {
    return configs_ == b.configs_ && keys_ == b.keys_ && versions_ == b.versions_ &&
           sessions_ == b.sessions_ && counters_ == b.counters_ &&
           last_applied_ == b.last_applied_ && principals_ == b.principals_ &&
           tokens_ == b.tokens_ && roles_ == b.roles_ && tenants_ == b.tenants_;
  }

  friend bool operator==(const memory_state& a, const memory_state& b) {
    return a.configs_ == b.configs_ && a.keys_ == b.keys_ &&
           a.versions_ == b.versions_ && a.sessions_ == b.sessions_ &&
           a.counters_ == b.counters_ && a.last_applied_ == b.last_applied_ &&
           a.principals_ == b.principals_ && a.tokens_ == b.tokens_ &&
           a.roles_ == b.roles_ && a.tenants_ == b.tenants_ && a.audit_ == b.audit_ &&
           a.audit_chain_ == b.audit_chain_;
  }

private:
  std::map<config_id, config> configs_;
  std::map<std::string, config_id, std::less<>> keys_;
  std::map<std::pair<config_id, version_id>, version> versions_;
  std::map<session_id, client_session> sessions_;
  std::map<counter, std::uint64_t> counters_;
  std::uint64_t last_applied_ = 0;
  std::map<std::uint64_t, audit::record> audit_;
  std::optional<audit::chain> audit_chain_;
  std::map<std::string, auth::principal, std::less<>> principals_;
  /// token hash -> principal name
  std::map<std::string, std::string, std::less<>> tokens_;
  std::map<std::string, auth::role, std::less<>> roles_;
  std::map<std::string, auth::tenant, std::less<>> tenants_;
};

} // namespace conflux
