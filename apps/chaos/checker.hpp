// Consistency checker for fault-injection histories (docs/design.md, History format of
// chaos runs). See apps/chaos/README.md for the rules, the algorithm and its bounds.
#pragma once

#include "apps/chaos/history.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::chaos {

struct check_options {
  // Maximum WGL search steps per key (one step = one look at a history entry).
  std::size_t register_step_budget = 10'000'000;
};

enum class register_status { linearizable, not_linearizable, unknown };

struct register_result {
  register_status status = register_status::linearizable;
  std::string message; // counterexample, or "unknown: budget exhausted ..."
  std::size_t steps = 0;
};

// Linearizability of write/read on one key (a register holding a version id,
// initially null). fail ops and info reads are dropped; info writes may or may
// not have taken effect (their return is +infinity). Ops of other f are ignored.
register_result check_register(const std::vector<operation>& ops,
                               const check_options& options = {});

struct violation {
  std::string key;
  std::string
      rule; // e.g. "linearizability", "add-duplicated", "read-real-time-inversion"
  std::string message;
};

// add-version/read-versions rules on one key against its final version list.
// Ops of other f are ignored. Contents are assumed unique per key (the harness
// generates them); a repeated content among the invokes is itself reported.
std::vector<violation> check_versions(const std::vector<operation>& ops,
                                      const std::vector<listed_version>& final_list);

/// One version's id and the cluster-time stamp it was created with.
struct stamped_version {
  std::uint64_t id = 0;
  std::int64_t created_at_ms = 0;
};

// Cluster time as one key's versions (in id order) show it: a stamp before
// the one of the version before it is "cluster-time-backwards"; a stamp more
// than `allowed_ahead_ms` past `true_now_ms` (the checker's own wall clock
// after the run) is "cluster-time-jumped" (the cluster followed a jumped
// wall clock further than docs/design.md, "Time", allows). At most one
// violation per key.
std::vector<violation> check_stamps(const std::string& key,
                                    const std::vector<stamped_version>& versions,
                                    std::int64_t true_now_ms,
                                    std::int64_t allowed_ahead_ms);

struct verdict {
  bool ok = true;
  std::vector<violation> violations;
};

using final_lists = std::map<std::string, std::vector<listed_version>>;

// The revisions of acknowledged writes (ok add-version / write that record
// one): no two share a revision ("write-revision-reused"), and a write
// acknowledged before another was invoked has the lower revision
// ("write-revision-order").
std::vector<violation> check_write_revisions(const std::vector<operation>& ops);

// Every watcher's stream against the writes and the other watchers
// (apps/chaos/README.md, "Watch rules"): revision order, resumes, gaps,
// acknowledged writes delivered, each event explained by a write, resyncs
// that agree with the writes, and watchers that caught up by the end.
std::vector<violation> check_watches(const history& h, const final_lists& finals);

// SHA-256 of `data` as lower-case hex (what watch events carry).
std::string sha256_hex(std::string_view data);

// Groups ops by key and runs both checks. A key with add-version or
// read-versions ops and no final list is a violation ("missing-final-list").
// An exhausted budget is reported as rule "unknown" (and makes ok false).
verdict check(const std::vector<operation>& history, const final_lists& finals,
              const check_options& options = {});
// The above plus check_write_revisions and check_watches.
verdict check(const history& h, const final_lists& finals,
              const check_options& options = {});
// Parses first (watch records too); throws history_error on a malformed history.
verdict check(std::string_view jsonl, const final_lists& finals,
              const check_options& options = {});

} // namespace conflux::chaos
