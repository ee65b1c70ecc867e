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
#include <vector>

namespace conflux::raft {

/// Everything check_core looks at in one core: taken from a core with
/// view_of, or built by hand (tests build broken states this way, which no
/// core would reach through its inputs).
struct core_view {
  core_view() = default;
  explicit core_view(const core& c);

  server_id id = no_server;
  role current_role = role::follower;
  term_t term = 0;
  server_id vote = no_server;
  server_id leader = no_server;
  /// Not owned; must outlive the view.
  const raft_log* log = nullptr;
  /// The core's snapshot point (core::snapshot()).
  index_t snapshot_index = 0;
  term_t snapshot_term = 0;
  index_t commit = 0;
  index_t applied = 0;
  index_t durable = 0;
  /// The configuration in force (not owned) and the index of the entry it
  /// comes from (core::membership_index()).
  const membership* config = nullptr;
  index_t config_index = 0;
  server_id transfer_target = no_server;
  /// A leader's view of each other member (`tracked` false: no progress).
  struct follower {
    server_id id = no_server;
    bool tracked = false;
    index_t match = 0;
    index_t next = 0;
  };
  std::vector<follower> followers;
};

core_view view_of(const core& c);

/// What one core must satisfy on its own at any moment, whatever happened
/// before (no history needed), so a test fixture can check a single core
/// (LogCabin checks its fixtures in their destructors):
/// - its log is consecutive, starts right after the snapshot point, its terms
///   never decrease and never exceed the core's term;
/// - applied <= commit <= last index, commit >= the snapshot index, the
///   durable index <= last index, and nothing is applied that is neither
///   durable nor covered by the snapshot;
/// - a leader leads itself, voted for itself and its log ends in its own term
///   (its no-op, paper §5.4.2); a candidate voted for itself and, like a
///   pre-candidate, knows no leader; a follower does not name itself leader;
/// - the configuration in force comes from the newest membership entry in
///   the log, or from the snapshot when the log holds none (thesis §4.1);
/// - a leader tracks every other member, and no follower's match index is
///   beyond the leader's log or at or past its next index; a transfer target
///   is a voter other than the leader, and only a leader has one.
/// Returns a description of the first violation.
std::optional<std::string> check_core(const core_view& v);
std::optional<std::string> check_core(const core& c);

class invariant_checker {
public:
  /// Checks one core after it changed: check_core, then election safety, log
  /// matching, leader completeness, commit index monotonic, committed entries
  /// unchanged. Returns a description of the first violation.
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
