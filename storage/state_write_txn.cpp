#include "storage/state_write_txn.hpp"

namespace conflux::storage {

status state_write_txn::usable() const {
  if (first_error_)
    return status{first_error_->code,
                  "state transaction in " + std::string{txn_.path()} +
                      " was aborted after an earlier error: " + first_error_->message};
  if (!txn_.live())
    return status{errc::invalid_argument,
                  "state transaction used after commit or abort"};
  return {};
}

status state_write_txn::track(status st) {
  // Any failed write poisons the txn: the state machine cannot undo the writes
  // it made before the failure, so committing would half-apply a command.
  if (!st && !first_error_) {
    first_error_ = st.err();
    txn_.abort();
  }
  return st;
}

status state_write_txn::commit() {
  if (auto st = usable(); !st)
    return st;
  return txn_.commit();
}

void state_write_txn::abort() noexcept {
  txn_.abort();
}

namespace {

// Runs a read if the txn is usable. A failing read (I/O error, corruption)
// does not poison the txn by itself; the state machine stops the node on it.
template <class Read>
auto guarded(status usable, Read&& read) -> decltype(read()) {
  if (!usable)
    return std::move(usable).err();
  return read();
}

} // namespace

expected<std::optional<config>> state_write_txn::find_config(config_id id) {
  return guarded(usable(), [&] { return read_config(txn_, dbis_, id); });
}

expected<std::optional<config_id>>
state_write_txn::find_config_id(std::string_view key) {
  return guarded(usable(), [&] { return read_config_id(txn_, dbis_, key); });
}

expected<std::vector<std::pair<std::string, config_id>>>
state_write_txn::list_keys(std::string_view prefix, std::size_t limit) {
  return guarded(usable(), [&] { return read_keys(txn_, dbis_, prefix, limit); });
}

expected<std::optional<version>> state_write_txn::find_version(config_id config,
                                                               version_id id) {
  return guarded(usable(), [&] { return read_version(txn_, dbis_, config, id); });
}

expected<std::vector<version>> state_write_txn::list_versions(config_id config) {
  return guarded(usable(), [&] { return read_versions(txn_, dbis_, config); });
}

expected<std::optional<client_session>> state_write_txn::find_session(session_id id) {
  return guarded(usable(), [&] { return read_session(txn_, dbis_, id); });
}

expected<std::vector<client_session>> state_write_txn::list_sessions() {
  return guarded(usable(), [&] { return read_sessions(txn_, dbis_); });
}

expected<std::uint64_t> state_write_txn::get_counter(counter c) {
  return guarded(usable(), [&] { return read_counter(txn_, dbis_, c); });
}

expected<std::uint64_t> state_write_txn::last_applied() {
  return guarded(usable(), [&] { return read_last_applied(txn_, dbis_); });
}

expected<std::optional<audit::record>> state_write_txn::find_audit(std::uint64_t seq) {
  return guarded(usable(), [&] { return read_audit(txn_, dbis_, seq); });
}

expected<std::vector<audit::record>> state_write_txn::list_audit(std::uint64_t from,
                                                                 std::size_t limit) {
  return guarded(usable(), [&] { return read_audits(txn_, dbis_, from, limit); });
}

expected<audit::chain> state_write_txn::get_audit_chain() {
  return guarded(usable(), [&] { return read_audit_chain(txn_, dbis_); });
}

status state_write_txn::put_config(const config& c) {
  if (auto st = usable(); !st)
    return st;
  return track(write_config(txn_, dbis_, c));
}

status state_write_txn::erase_config(config_id id) {
  if (auto st = usable(); !st)
    return st;
  return track(remove_config(txn_, dbis_, id));
}

status state_write_txn::put_key(std::string_view key, config_id id) {
  if (auto st = usable(); !st)
    return st;
  return track(write_key(txn_, dbis_, key, id));
}

status state_write_txn::erase_key(std::string_view key) {
  if (auto st = usable(); !st)
    return st;
  return track(remove_key(txn_, dbis_, key));
}

status state_write_txn::put_version(const version& v) {
  if (auto st = usable(); !st)
    return st;
  return track(write_version(txn_, dbis_, v));
}

status state_write_txn::erase_version(config_id config, version_id id) {
  if (auto st = usable(); !st)
    return st;
  return track(remove_version(txn_, dbis_, config, id));
}

status state_write_txn::put_session(const client_session& s) {
  if (auto st = usable(); !st)
    return st;
  return track(write_session(txn_, dbis_, s));
}

status state_write_txn::erase_session(session_id id) {
  if (auto st = usable(); !st)
    return st;
  return track(remove_session(txn_, dbis_, id));
}

status state_write_txn::set_counter(counter c, std::uint64_t value) {
  if (auto st = usable(); !st)
    return st;
  return track(write_counter(txn_, dbis_, c, value));
}

status state_write_txn::set_last_applied(std::uint64_t index) {
  if (auto st = usable(); !st)
    return st;
  return track(write_last_applied(txn_, dbis_, index));
}

status state_write_txn::put_audit(const audit::record& r) {
  if (auto st = usable(); !st)
    return st;
  return track(write_audit(txn_, dbis_, r));
}

status state_write_txn::erase_audit(std::uint64_t seq) {
  if (auto st = usable(); !st)
    return st;
  return track(remove_audit(txn_, dbis_, seq));
}

status state_write_txn::set_audit_chain(const audit::chain& c) {
  if (auto st = usable(); !st)
    return st;
  return track(write_audit_chain(txn_, dbis_, c));
}

expected<std::optional<auth::principal>>
state_write_txn::find_principal(std::string_view name) {
  return guarded(usable(), [&] { return read_principal(txn_, dbis_, name); });
}

expected<std::optional<auth::principal>>
state_write_txn::find_principal_by_token(std::string_view hash) {
  return guarded(usable(), [&] { return read_principal_by_token(txn_, dbis_, hash); });
}

expected<std::vector<auth::principal>> state_write_txn::list_principals() {
  return guarded(usable(), [&] { return read_principals(txn_, dbis_); });
}

expected<std::optional<auth::role>> state_write_txn::find_role(std::string_view name) {
  return guarded(usable(), [&] { return read_role(txn_, dbis_, name); });
}

expected<std::vector<auth::role>> state_write_txn::list_roles() {
  return guarded(usable(), [&] { return read_roles(txn_, dbis_); });
}

expected<std::optional<auth::tenant>>
state_write_txn::find_tenant(std::string_view name) {
  return guarded(usable(), [&] { return read_tenant(txn_, dbis_, name); });
}

expected<std::vector<auth::tenant>> state_write_txn::list_tenants() {
  return guarded(usable(), [&] { return read_tenants(txn_, dbis_); });
}

status state_write_txn::put_principal(const auth::principal& p) {
  if (auto st = usable(); !st)
    return st;
  return track(write_principal(txn_, dbis_, p));
}

status state_write_txn::put_role(const auth::role& r) {
  if (auto st = usable(); !st)
    return st;
  return track(write_role(txn_, dbis_, r));
}

status state_write_txn::erase_role(std::string_view name) {
  if (auto st = usable(); !st)
    return st;
  return track(remove_role(txn_, dbis_, name));
}

status state_write_txn::put_tenant(const auth::tenant& t) {
  if (auto st = usable(); !st)
    return st;
  return track(write_tenant(txn_, dbis_, t));
}

} // namespace conflux::storage
