#pragma once
// The configuration state on disk: configs, the key index, versions, client
// sessions, counters and last_applied, in one LMDB environment of its own
// (`<data>/state`, storage/FORMAT.md). Implements the protocol's state seam
// (protocol/state.hpp) through its two txn objects:
//   begin_write() -> state_write_txn: one apply batch, all-or-nothing together
//                    with set_last_applied, durable on commit();
//   begin_read()  -> state_read_txn:  a consistent snapshot view.
//
// Ownership and threads: owned by the applier actor, which alone calls
// begin_write (on its own thread; one write txn at a time). Any thread may
// call begin_read concurrently. The store must outlive every txn it made.

#include "protocol/error.hpp"
#include "storage/identity.hpp"
#include "storage/lmdb.hpp"
#include "storage/state_read_txn.hpp"
#include "storage/state_records.hpp"
#include "storage/state_write_txn.hpp"

#include <cstddef>
#include <string>

namespace conflux::storage {

struct state_store_options {
  /// Required; checked against the meta records on every open.
  store_identity identity;
  std::size_t map_size = lmdb::default_map_size;
  /// Concurrent read txns (client sessions, snapshotter).
  unsigned max_readers = 126;
};

class state_store {
public:
  /// Name of the environment directory below the node's data dir.
  static constexpr const char* subdir = "state";

  /// Opens the state in the environment directory `dir` (normally
  /// `<data>/state`), creating it if missing. Same refusal rules as the log
  /// store (identity.hpp).
  static expected<state_store> open(const std::string& dir,
                                    const state_store_options& opts);

  state_store(state_store&&) noexcept = default;
  state_store& operator=(state_store&&) noexcept = default;

  const std::string& dir() const noexcept { return env_.dir(); }

  /// REQUIRES: no other write txn of this store on the calling thread (LMDB
  /// would deadlock); a write txn on another thread makes this call wait.
  expected<state_write_txn> begin_write();

  /// Thread-safe.
  expected<state_read_txn> begin_read() const;

  /// A bare write txn and the database handles, for storage/snapshot_file
  /// only (installing a snapshot replaces every record in one txn). Same
  /// REQUIRES as begin_write.
  expected<lmdb::txn> begin_raw_write() { return env_.begin_write(); }
  const state_dbis& dbis() const noexcept { return dbis_; }

private:
  state_store(lmdb::env e, const state_dbis& d) noexcept
      : env_(std::move(e)), dbis_(d) {}

  lmdb::env env_;
  state_dbis dbis_;
};

} // namespace conflux::storage
