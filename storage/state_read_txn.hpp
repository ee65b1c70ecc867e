#pragma once
// A consistent read view of the state environment: one LMDB read-only txn
// behind the `state_reader` interface. Made by state_store::begin_read().
//
// Ownership and threads: owned by whoever called begin_read (a client
// session, the snapshotter, the applier); used by one thread at a time, but
// thanks to MDB_NOTLS (storage/lmdb.hpp) it may move between threads and live
// across actor messages. Keep it short unless it is a snapshot: an open
// reader stops LMDB from reusing pages freed after it began. The state_store
// must outlive it. The txn ends when the object is destroyed.

#include "protocol/state.hpp"
#include "storage/lmdb.hpp"
#include "storage/state_records.hpp"

namespace conflux::storage {

class state_read_txn final : public state_reader {
public:
  /// REQUIRES: `t` is a live read-only txn of the state environment.
  state_read_txn(lmdb::txn t, const state_dbis& dbis) noexcept
      : txn_(std::move(t)), dbis_(dbis) {}

  state_read_txn(state_read_txn&&) noexcept = default;
  state_read_txn& operator=(state_read_txn&&) noexcept = default;

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

  /// The raw txn and database handles, for storage/snapshot_file only (it
  /// copies stored records byte for byte).
  const lmdb::txn& raw_txn() const noexcept { return txn_; }
  const state_dbis& dbis() const noexcept { return dbis_; }

private:
  lmdb::txn txn_;
  state_dbis dbis_;
};

} // namespace conflux::storage
