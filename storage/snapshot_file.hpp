#pragma once
// Snapshot files: the whole state environment at one applied index, as one
// checksummed file (storage/FORMAT.md "Snapshot files"), and the directory
// that holds them (`<data>/snapshots/`).
//
// A snapshot is written from a state read txn (a consistent view while the
// applier keeps writing) and installed into a state store in ONE write txn
// that replaces every record, so a crash during an install leaves the old
// state as it was (LMDB commits atomically). Records are copied byte for
// byte, value frames included; the file has its own CRC32C over everything
// before the checksum, verified on every read before anything is trusted.
//
// The membership is stored as opaque bytes (raft::encode_membership): this
// layer neither decodes nor checks it.
//
// Pure synchronous code, no actors; a function may be called from any thread
// that may use the txn or store it is given.

#include "protocol/error.hpp"
#include "protocol/raft/types.hpp"
#include "storage/durable_fs.hpp"
#include "storage/state_read_txn.hpp"
#include "storage/state_store.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace conflux::storage {

/// Format version of snapshot files (FORMAT.md "Snapshot files"). Version 2
/// added the authorization tables (record tags 6 to 9) and the audit trail
/// (tag 10); version 1 files still install (with empty authorization tables
/// and no audit trail).
constexpr std::uint32_t snapshot_format_version = 2;

/// What a snapshot covers and the configuration in force at its index.
struct snapshot_header {
  raft::index_t index = 0;
  raft::term_t term = 0;
  /// raft::encode_membership bytes (opaque here).
  std::string membership;
};

struct snapshot_info {
  snapshot_header header;
  /// Number of records (all databases).
  std::uint64_t records = 0;
  /// File size in bytes.
  std::uint64_t bytes = 0;
};

/// Writes the state seen by `view` to `path` (created or truncated, mode
/// 0600) with `h`, and fsyncs the file (not the directory: see sync_dir).
/// REQUIRES: h.index equals view's last_applied (the caller checks).
expected<snapshot_info> write_snapshot_file(const std::string& path,
                                            const snapshot_header& h,
                                            const state_read_txn& view);

/// Reads the whole file and checks its structure and checksum. corrupted
/// (naming the file and what is wrong) for a bad magic, a truncated file, an
/// impossible length, bytes after the end, or a checksum mismatch;
/// unsupported_version for a newer format; storage_failure for I/O errors.
expected<snapshot_info> verify_snapshot_file(const std::string& path);

/// Replaces the content of `store` (configs, keys, versions, sessions, the
/// authorization tables, the audit trail and the non-identity meta records) with the
/// file's, and sets last_applied to its index, in one write txn. The file is verified
/// while it is read; on any error nothing is committed. REQUIRES: the caller holds no
/// write txn of `store` on this thread. `on_record` (optional) is called with the
/// number of records put so far, inside the txn: a fault-injection seam for tests that
/// crash the process in the middle of an install.
expected<snapshot_info>
install_snapshot_file(const std::string& path, state_store& store,
                      const std::function<void(std::uint64_t)>& on_record = {});

// -- the snapshot directory ---------------------------------------------------

/// Name of the directory below the node's data dir.
constexpr const char* snapshot_subdir = "snapshots";

/// "snap-<index, 20 digits>-<term, 20 digits>.snap": sorts by index.
std::string snapshot_file_name(raft::index_t index, raft::term_t term);

struct snapshot_file_ref {
  raft::index_t index = 0;
  raft::term_t term = 0;
  std::string path;
};

/// Every file of `dir` named like snapshot_file_name, by increasing index.
/// Other files (temporaries) are skipped. A missing dir is an empty list.
expected<std::vector<snapshot_file_ref>> list_snapshot_files(const std::string& dir);

/// Removes the snapshot files of `dir` with an index below `index`, and
/// temporaries (`*.tmp`) when `temporaries` is set.
status remove_snapshot_files_before(const std::string& dir, raft::index_t index,
                                    bool temporaries = false);

} // namespace conflux::storage
