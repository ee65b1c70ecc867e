#pragma once
// The Raft log on disk: entries, the compacted-prefix point ("snapshot index
// and term"), the hard state (term, vote, commit) and the data dir's identity,
// in one LMDB environment of its own (`<data>/log`, storage/FORMAT.md).
//
// Every mutating call is ONE durable LMDB transaction (fsync before it
// returns ok), so the log store actor can report "durable up to N" as soon as
// a call returns (docs/design.md, durability rules 1 and 2). The log store actor
// batches what arrived during the previous fsync into the next append (group commit).
//
// Ownership and threads: owned by the log store actor (its own detached
// thread), never shared. Not thread-safe: one thread at a time. Write calls
// begin and commit their txn within the call, so the LMDB writer lock is never
// held across calls.
//
// Errors: storage_failure (LMDB / disk), corrupted (checksum mismatch, an
// undecodable record, a gap), both fatal for the node (docs/design.md,
// durability rule 6); invalid_argument for a call that breaks a precondition (a caller
// bug); not_found for an index outside [first_index, last_index] (or compacted).

#include "protocol/error.hpp"
#include "protocol/raft/types.hpp"
#include "storage/identity.hpp"
#include "storage/lmdb.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace conflux::storage {

/// Index and term of the last entry a snapshot covers.
struct snapshot_point {
  raft::index_t index = 0;
  raft::term_t term = 0;
};

/// The parts of a consensus ready batch that go to the log (log_store::persist).
struct log_batch {
  std::optional<raft::hard_state> hard;
  std::optional<snapshot_point> snapshot;
  std::vector<raft::entry_ptr> entries;
};

struct log_store_options {
  /// Required; checked against the meta records on every open.
  store_identity identity;
  std::size_t map_size = lmdb::default_map_size;
};

class log_store {
public:
  /// Name of the environment directory below the node's data dir.
  static constexpr const char* subdir = "log";

  /// Opens the log in the environment directory `dir` (normally
  /// `<data>/log`), creating it if missing. Refuses a dir of another cluster,
  /// node or store kind, or of a newer format (see identity.hpp). Verifies the
  /// first and last entries and that the entries are contiguous.
  static expected<log_store> open(const std::string& dir,
                                  const log_store_options& opts);

  /// A moved-from store may only be destroyed or assigned to.
  log_store(log_store&&) noexcept = default;
  log_store& operator=(log_store&&) noexcept = default;

  const std::string& dir() const noexcept { return env_.dir(); }

  /// Bytes a stored entry takes besides its data: the CRC frame (4) and the
  /// entry record header (24), FORMAT.md "Log entry record".
  static constexpr std::size_t entry_overhead_bytes = 4 + 24;
  /// The stored size of `e`, as the byte budget of entries() counts it.
  static std::size_t stored_size(const raft::log_entry& e) noexcept {
    return entry_overhead_bytes + e.data.size();
  }

  // -- positions (cached, no I/O) ----------------------------------------------

  /// The first index still stored: snapshot_index() + 1 (even when empty).
  raft::index_t first_index() const noexcept { return snapshot_index_ + 1; }
  /// The last stored index, or snapshot_index() when no entry follows it.
  raft::index_t last_index() const noexcept { return last_index_; }
  raft::term_t last_term() const noexcept { return last_term_; }
  /// Index and term of the last entry dropped by compaction (0, 0 if none).
  raft::index_t snapshot_index() const noexcept { return snapshot_index_; }
  raft::term_t snapshot_term() const noexcept { return snapshot_term_; }

  // -- reads -------------------------------------------------------------------

  /// Term of entry `i`; `i` may be snapshot_index() (its term is remembered).
  /// not_found when i < snapshot_index() (compacted) or i > last_index().
  expected<raft::term_t> term(raft::index_t i) const;

  /// REQUIRES: first_index() <= i <= last_index(), else not_found.
  expected<raft::log_entry> entry(raft::index_t i) const;

  /// Entries [lo, hi). With max_bytes > 0 stops before the entry that would
  /// take the total stored size (header + data, FORMAT.md) over max_bytes,
  /// but always returns at least one entry when lo < hi.
  /// REQUIRES: lo <= hi <= last_index() + 1 (else invalid_argument) and
  /// lo >= first_index() (else not_found: compacted).
  expected<std::vector<raft::log_entry>> entries(raft::index_t lo, raft::index_t hi,
                                                 std::size_t max_bytes = 0) const;

  // -- writes (each one durable transaction) -----------------------------------

  /// Appends `batch` after the last entry, together with `hs` if given.
  /// REQUIRES: batch indexes consecutive, starting at last_index() + 1, and
  /// terms never decreasing (also against last_term()). A gap or an overlap is
  /// invalid_argument: a suffix that conflicts must go through replace_suffix.
  /// An empty batch only writes `hs`.
  status append(const std::vector<raft::log_entry>& batch,
                const std::optional<raft::hard_state>& hs = std::nullopt);
  /// The same for the shared entry handles the consensus core hands out.
  /// REQUIRES: no null pointer in `batch`.
  status append(const std::vector<raft::entry_ptr>& batch,
                const std::optional<raft::hard_state>& hs = std::nullopt);

  /// Deletes every entry >= batch.front().index and appends `batch`, in one
  /// transaction (the follower side of AppendEntries after a conflict, §5.3;
  /// ready::entries of the consensus core). REQUIRES: batch non-empty,
  /// snapshot_index() < batch.front().index <= last_index() + 1, consecutive
  /// indexes, non-decreasing terms (also against the entry before), and no
  /// stored entry at or below hard_state().commit deleted or changed to another
  /// term (committed entries never change; re-sending them is fine).
  status replace_suffix(const std::vector<raft::log_entry>& batch,
                        const std::optional<raft::hard_state>& hs = std::nullopt);
  status replace_suffix(const std::vector<raft::entry_ptr>& batch,
                        const std::optional<raft::hard_state>& hs = std::nullopt);

  /// Everything one ready batch of the consensus core asks the log to persist,
  /// written in ONE durable transaction in this order: (1) `snapshot`: discard
  /// the whole log and remember the snapshot point (reset_to_snapshot rules);
  /// (2) `entries`: replace_suffix rules (empty: nothing); (3) `hard`:
  /// set_hard_state rules. Either everything is durable or nothing changed.
  status persist(const log_batch& batch);

  /// Deletes every entry with index >= from. A no-op when from > last_index().
  /// REQUIRES: from > snapshot_index(); from > hard_state().commit unless
  /// from > last_index().
  status truncate_suffix(raft::index_t from);

  /// Drops entries <= upto after a snapshot covered them, remembering upto's
  /// term as snapshot_term(). A no-op when upto <= snapshot_index().
  /// REQUIRES: upto <= last_index().
  status drop_prefix(raft::index_t upto);

  /// Discards the whole log for an installed snapshot ending at (index, term)
  /// (§7: its last entry is not in the log, or conflicts). Afterwards
  /// first_index() == index + 1 and last_index() == index.
  /// REQUIRES: index >= snapshot_index().
  status reset_to_snapshot(raft::index_t index, raft::term_t term);

  // -- hard state --------------------------------------------------------------

  /// The last durable hard state ({0, 0, 0} on a new log).
  const raft::hard_state& hard_state() const noexcept { return hard_state_; }

  /// Durably replaces the hard state. REQUIRES (else invalid_argument, as
  /// each would be a consensus bug): term never decreases; within one term
  /// a cast vote never changes; commit never decreases.
  status set_hard_state(const raft::hard_state& hs);

private:
  explicit log_store(lmdb::env e) noexcept : env_(std::move(e)) {}

  // Templates over std::vector<log_entry> and std::vector<entry_ptr>,
  // defined and instantiated in log_store.cpp only.
  //
  // The one write path of snapshot reset, entries and hard state (persist()
  // order). strict_append: entries must start at last_index() + 1.
  template <class Batch>
  status write_batch(const Batch& batch, const std::optional<raft::hard_state>& hs,
                     const std::optional<snapshot_point>& snap, bool strict_append);
  template <class Batch>
  status check_batch(const Batch& batch, raft::index_t first,
                     raft::term_t prev_term) const;
  template <class Batch>
  status put_entries(lmdb::txn& t, const Batch& batch);
  status check_hard_state(const raft::hard_state& hs) const;
  status put_hard_state(lmdb::txn& t, const raft::hard_state& hs);
  // Cursor helpers: the cursor is closed before they return, i.e. before the
  // txn commits (an LMDB rule for write txns).
  status delete_from(lmdb::txn& t, raft::index_t from);
  status delete_upto(lmdb::txn& t, raft::index_t upto);
  expected<raft::log_entry> read_entry(const lmdb::txn& t, raft::index_t i) const;
  expected<raft::term_t> term_in(const lmdb::txn& t, raft::index_t i) const;
  status load(lmdb::txn& t);

  lmdb::env env_;
  lmdb::dbi entries_;
  lmdb::dbi meta_;
  raft::index_t snapshot_index_ = 0;
  raft::term_t snapshot_term_ = 0;
  raft::index_t last_index_ = 0;
  raft::term_t last_term_ = 0;
  raft::hard_state hard_state_;
  // Scratch buffer for encoding records, reused across calls.
  std::string buf_;
};

} // namespace conflux::storage
