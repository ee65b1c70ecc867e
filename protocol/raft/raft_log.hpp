#pragma once
// The consensus core's in-memory view of its log: a snapshot point
// (index, term) followed by every entry not yet compacted. Owned by one core,
// never shared; the shell keeps the durable copy (PROTOCOL.md "The ready-batch
// contract"). Entries are immutable shared handles so slices cost no byte copies.

#include "protocol/raft/types.hpp"

#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

namespace conflux::raft {

class raft_log {
public:
  raft_log() = default;
  /// REQUIRES: entries are consecutive and start at snapshot_index + 1.
  raft_log(index_t snapshot_index, term_t snapshot_term,
           std::vector<entry_ptr> entries);

  index_t snapshot_index() const { return snapshot_index_; }
  term_t snapshot_term() const { return snapshot_term_; }
  index_t first_index() const { return snapshot_index_ + 1; }
  index_t last_index() const { return snapshot_index_ + entries_.size(); }
  term_t last_term() const;

  /// The term at index i, known for i in [snapshot_index, last_index]; index 0
  /// has term 0. Nothing for compacted or missing indexes.
  std::optional<term_t> term_at(index_t i) const;
  bool matches(index_t i, term_t t) const;

  /// REQUIRES: first_index() <= i <= last_index().
  const entry_ptr& at(index_t i) const { return entries_[i - first_index()]; }

  /// Paper §5.4.1: a candidate's log is at least as up-to-date as ours when its
  /// last term is greater, or equal with an index at least as large.
  bool is_up_to_date(index_t last_index, term_t last_term) const;

  /// REQUIRES: e->index == last_index() + 1.
  void append(entry_ptr e);

  /// Appends a leader's entries that follow (prev_index, prev_term), which the
  /// caller has checked match. Entries already present with the same term are
  /// skipped; the first conflicting entry and everything after it are removed
  /// (paper §5.3, AppendEntries receiver rule 3). Returns the index from which
  /// the log changed, or 0 when nothing changed.
  index_t merge(const std::vector<entry_ptr>& entries);

  /// Largest j <= i whose term is <= t (or the snapshot index): the conflict
  /// hint a follower returns and the leader's probe point (etcd's
  /// findConflictByTerm, an implementation of paper §5.3's back-off).
  index_t find_conflict_by_term(index_t i, term_t t) const;

  /// Entries [lo, hi] limited to max_count entries and max_bytes of data, but
  /// always at least one entry when lo <= hi (paper §10.2 batching).
  /// REQUIRES: first_index() <= lo.
  std::vector<entry_ptr> slice(index_t lo, index_t hi, std::size_t max_count,
                               std::size_t max_bytes) const;

  /// Drops every entry <= i (a snapshot now covers them, paper §7).
  /// REQUIRES: snapshot_index() < i <= last_index().
  void compact(index_t i);

  /// Discards the whole log in favour of a snapshot ending at (i, t).
  void reset_to_snapshot(index_t i, term_t t);

private:
  index_t snapshot_index_ = 0;
  term_t snapshot_term_ = 0;
  std::deque<entry_ptr> entries_;
};

} // namespace conflux::raft
