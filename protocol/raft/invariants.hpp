#pragma once
// Raft's safety properties (paper §5.2 figure 3) checked over a set of
// consensus cores, for simulations and scenario tests. Owned by the test
// harness; it keeps the global history it needs (who led which term, which
// entries were committed and applied) and reports the first violation as text.

#include "protocol/raft/core.hpp"
#include "protocol/raft/types.hpp"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace conflux::raft {

class invariant_checker {
public:
  /// Checks one core after it changed: election safety, log matching, leader
  /// completeness, commit index monotonic, committed entries unchanged.
  /// Returns a description of the first violation.
  std::optional<std::string> check(const core& c);
  /// State-machine safety: `e` was applied by `server` as its next entry.
  std::optional<std::string> on_apply(server_id server, const entry_ptr& e);
  /// `server`'s state machine was replaced by a snapshot ending at `index`.
  void on_snapshot_installed(server_id server, index_t index);
  /// `server` restarted from its persisted state: its commit index and
  /// applied index may legitimately start lower again.
  void on_restart(server_id server, index_t applied);

  /// Highest commit index any server has reported.
  index_t max_commit() const { return max_commit_; }
  /// The committed entry at `index`, or nullptr if none is known.
  entry_ptr committed_at(index_t index) const;

private:
  struct identity {
    term_t prev_term;
    entry_ptr entry;
  };
  struct committed {
    entry_ptr entry;
    /// Lowest term of a server that saw it committed: the entry was committed
    /// by a leader of this term or earlier.
    term_t seen_term;
  };
  std::map<term_t, server_id> leaders_;
  /// (index, term) -> identity, for log matching.
  std::map<std::pair<index_t, term_t>, identity> seen_;
  std::unordered_map<index_t, committed> committed_;
  std::map<server_id, index_t> commit_of_;
  std::map<server_id, index_t> applied_of_;
  std::unordered_map<index_t, entry_ptr> applied_;
  index_t max_commit_ = 0;
};

} // namespace conflux::raft
