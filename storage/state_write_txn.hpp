#pragma once
// One apply batch against the state environment: an LMDB write txn behind the
// `state_writer` interface. Made by state_store::begin_write(). Reads see the
// txn's own writes. Nothing is visible to readers, nor durable, until
// commit() returns ok; destroying the object without commit() aborts
// everything, so a batch with its set_last_applied is all-or-nothing across
// crashes (docs/design.md, durability rule 7).
//
// Ownership and threads: owned by the applier, used only on the thread that
// began it (LMDB's writer lock belongs to that thread), and committed or
// dropped within the same message handler. The state_store must outlive it.
// After the first failed write the txn is poisoned: LMDB forbids further use,
// so every later call and commit() return that first error.

#include "protocol/state.hpp"
#include "storage/lmdb.hpp"
#include "storage/state_records.hpp"

#include <optional>

namespace conflux::storage {

class state_write_txn final : public state_writer {
public:
  /// REQUIRES: `t` is a live write txn of the state environment.
  state_write_txn(lmdb::txn t, const state_dbis& dbis) noexcept
      : txn_(std::move(t)), dbis_(dbis) {}

  state_write_txn(state_write_txn&&) noexcept = default;
  state_write_txn& operator=(state_write_txn&&) noexcept = default;

  /// Makes every write durable (fsync) and visible. The txn is finished
  /// afterwards whatever the outcome.
  status commit();
  /// Discards every write; also done by the destructor.
  void abort() noexcept;
  /// False after commit(), abort() or a failed write.
  bool live() const noexcept { return txn_.live() && !first_error_; }

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

private:
  // ok if the txn can still be used, else why not.
  status usable() const;
  // Poisons the txn if `st` is a storage error (not for argument errors,
  // which LMDB rejects before touching the txn).
  status track(status st);

  lmdb::txn txn_;
  state_dbis dbis_;
  // Set by the first failed write; the txn is aborted then.
  std::optional<error> first_error_;
};

} // namespace conflux::storage
