#pragma once
// Thin RAII wrappers over the LMDB C API (env, txn, dbi, cursor). Every call
// returns `status` / `expected<T>` and never throws; every LMDB error becomes
// errc::storage_failure (errc::corrupted for MDB_CORRUPTED / MDB_PAGE_NOTFOUND,
// errc::unavailable for MDB_READERS_FULL, errc::resource_exhausted for
// MDB_MAP_FULL, ENOSPC and EDQUOT) with a message naming the operation, the
// environment directory and mdb_strerror. Used by log_store and state_store only;
// nothing above storage/ sees LMDB.
//
// Threads (decision, see storage/FORMAT.md "Threads"): every environment is
// opened with MDB_NOTLS. A read-only txn is then tied to its `txn` object, not
// to the thread that began it, so
//   * a reader may be begun on one thread and finished on another (CAF
//     actors on the cooperative scheduler hop between worker threads between
//     two messages, and a snapshot's read txn lives across many messages);
//   * one thread may hold several read txns at once, and a read txn next to
//     its own write txn.
// A write txn still belongs to the thread that began it (LMDB's writer mutex):
// begin and commit it inside one synchronous call chain, never across
// messages. At most one write txn per environment at a time; a second
// begin_write on the same thread deadlocks, on another thread it waits.
//
// Ownership: `env` owns the MDB_env and must outlive every txn and cursor made
// from it. A `txn` is used by one thread at a time. A `cursor` must be
// destroyed before its txn commits or aborts. An environment is open at most
// once per process: LMDB's POSIX locks break if two MDB_envs share the files
// (closing one drops the other's locks), so env::open refuses a directory
// that is already open in this process. It also takes an exclusive flock on
// <dir>/conflux.lock so that a second node process started on the same data
// dir is refused instead of writing the same log.

#include "protocol/error.hpp"

#include <cstddef>
#include <lmdb.h>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace conflux::storage::lmdb {

/// 64 GiB of address space on 64-bit hosts (the file grows only as data is
/// written; the map size is a ceiling, not an allocation), 1 GiB otherwise.
constexpr std::size_t default_map_size =
    sizeof(void*) >= 8 ? (std::size_t{64} << 30) : (std::size_t{1} << 30);

/// The smallest map size a node accepts (--max-db-size): room for the meta
/// pages and a few records.
constexpr std::size_t min_map_size = std::size_t{1} << 20;

/// LMDB's own default number of reader slots.
constexpr unsigned default_max_readers = 126;

struct env_options {
  /// Maximum size of the data file; MDB_MAP_FULL when reached. conflux-node
  /// sets it with --max-db-size (config key max_db_size).
  std::size_t map_size = default_map_size;
  /// Named databases (DBIs) the environment may hold.
  unsigned max_dbs = 8;
  /// Concurrent read txns (slots in the lock file); conflux-node sets the
  /// state store's with --max-readers (config key max_readers).
  unsigned max_readers = default_max_readers;
};

/// A named database inside an environment. The handle stays valid for the life
/// of the env once the txn that opened it committed. `name` must point to
/// static storage (a string literal); it is used in error messages.
struct dbi {
  MDB_dbi handle = 0;
  const char* name = "";
};

/// A key/value pair as LMDB returns it. The views point into the memory map:
/// valid until the txn ends or (write txns) the next write to that database.
struct kv {
  std::string_view key;
  std::string_view value;
};

/// Builds the storage_failure / corrupted error for LMDB result code `rc`.
/// `path` is the environment directory.
error make_error(int rc, std::string_view operation, std::string_view path,
                 std::string_view detail = {});

class txn;

/// A cursor over one database of one txn. Move-only.
class cursor {
public:
  cursor(cursor&& other) noexcept;
  cursor& operator=(cursor&& other) noexcept;
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  ~cursor();

  /// Runs a positioning op (MDB_FIRST, MDB_LAST, MDB_NEXT, MDB_PREV,
  /// MDB_GET_CURRENT, MDB_SET_RANGE, MDB_SET_KEY; `key` only for the SET ops).
  /// nullopt when there is no such record (MDB_NOTFOUND).
  expected<std::optional<kv>> get(MDB_cursor_op op, std::string_view key = {});

  /// Deletes the record under the cursor. REQUIRES: a write txn, positioned.
  status del();

private:
  friend class txn;
  cursor(MDB_cursor* c, std::string_view path, const char* db_name) noexcept
      : cursor_(c), path_(path), db_name_(db_name) {}

  MDB_cursor* cursor_ = nullptr;
  std::string_view path_; // inside the MDB_env, stable while it is open
  const char* db_name_ = "";
};

/// A read-only or read-write transaction. Aborted on destruction unless
/// committed. Move-only.
class txn {
public:
  txn(txn&& other) noexcept;
  txn& operator=(txn&& other) noexcept;
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;
  ~txn();

  bool read_only() const noexcept { return read_only_; }
  /// False after commit() or abort().
  bool live() const noexcept { return txn_ != nullptr; }
  MDB_txn* get() const noexcept { return txn_; }
  /// The environment directory, for messages.
  std::string_view path() const noexcept { return path_; }

  /// Opens (REQUIRES: a write txn when `create`) a named database.
  expected<dbi> open_db(const char* name, bool create);

  /// The value under `key`, nullopt if absent. The view is valid until the
  /// txn ends or the next write to the database.
  expected<std::optional<std::string_view>> get(dbi db, std::string_view key) const;

  /// REQUIRES: a write txn. `flags`: 0, MDB_APPEND, MDB_NOOVERWRITE...
  status put(dbi db, std::string_view key, std::string_view value, unsigned flags = 0);

  /// REQUIRES: a write txn. True if a record was deleted, false if absent.
  expected<bool> del(dbi db, std::string_view key);

  /// REQUIRES: a write txn. Deletes every record of `db` (keeps the db).
  status clear(dbi db);

  /// Number of records in `db`.
  expected<std::size_t> count(dbi db) const;

  expected<cursor> open_cursor(dbi db) const;

  /// Commits; for a write txn this is durable (fsync) when it returns ok.
  /// The txn is finished afterwards whatever the outcome.
  status commit();

  /// Discards the txn; a no-op when already finished.
  void abort() noexcept;

  /// Error for an operation on this txn, naming its directory.
  error fail(int rc, std::string_view operation, std::string_view detail = {}) const;

private:
  friend class env;
  txn(MDB_txn* t, std::string_view path, bool read_only) noexcept
      : txn_(t), path_(path), read_only_(read_only) {}

  MDB_txn* txn_ = nullptr;
  // Points at the path LMDB keeps inside the MDB_env (stable while it is open).
  std::string_view path_;
  bool read_only_ = true;
};

/// One LMDB environment (a directory holding data.mdb and lock.mdb).
/// Move-only; closes the environment on destruction.
class env {
public:
  /// Opens or creates the environment in `dir`, creating the directory (and
  /// parents) if missing, with MDB_NOTLS and the default durable sync. Clears
  /// reader slots left by dead processes. invalid_argument if the directory
  /// is already open in this process or locked by another one.
  static expected<env> open(const std::string& dir, const env_options& opts);

  env(env&& other) noexcept;
  env& operator=(env&& other) noexcept;
  env(const env&) = delete;
  env& operator=(const env&) = delete;
  ~env();

  MDB_env* get() const noexcept { return env_; }
  const std::string& dir() const noexcept { return dir_; }
  std::size_t map_size() const noexcept { return map_size_; }
  /// Largest key LMDB accepts (511 bytes in Debian's build).
  std::size_t max_key_size() const noexcept;

  /// Thread-safe (any thread may begin a read txn).
  expected<txn> begin_read() const;
  /// REQUIRES: no other write txn of this env on the calling thread.
  expected<txn> begin_write();

private:
  env(MDB_env* e, std::string dir, std::size_t map_size, std::string key) noexcept
      : env_(e), dir_(std::move(dir)), map_size_(map_size), key_(std::move(key)) {}

  // Takes the exclusive flock on <dir>/conflux.lock (another process holding
  // it: invalid_argument).
  status lock_dir();

  // Closes the MDB_env and releases the directory in the process registry.
  void close() noexcept;

  expected<txn> begin(unsigned flags) const;

  MDB_env* env_ = nullptr;
  std::string dir_;
  std::size_t map_size_ = 0;
  // Canonical directory, registered as open in this process ("" if none).
  std::string key_;
  // Descriptor of <dir>/conflux.lock holding an exclusive flock, or -1.
  int lock_fd_ = -1;
};

} // namespace conflux::storage::lmdb
