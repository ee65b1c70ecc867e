#pragma once
// Test fixtures that check Raft's invariants whatever the test asserts
// (LogCabin checks its fixtures in their destructors): a test that ends with
// a core or a cluster in a bad state fails.
//
// checked_core is a consensus core that runs the invariant checker
// (protocol/raft/invariants.hpp: check_core plus the history a single core
// can break, such as a commit index moving back or a committed entry
// changing) after every input and every take_ready, and whose destructor
// reports the first violation. checked_cluster does the same for the
// simulated cluster of tests/sim, which checks every server after every step.
// Both report through a callback that fails the running doctest case by
// default; tests of the fixtures pass their own to see the report.

#include "protocol/raft/core.hpp"
#include "protocol/raft/invariants.hpp"
#include "tests/sim/cluster.hpp"

#include <doctest/doctest.h>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace conflux::raft {

using violation_reporter = std::function<void(const std::string&)>;

/// Fails the running test case (without stopping it).
inline void fail_test_case(const std::string& violation) {
  FAIL_CHECK("invariant violated: " << violation);
}

class checked_core : public core {
public:
  checked_core(core_config cfg, restored_state st,
               violation_reporter report = fail_test_case)
      : core(std::move(cfg), std::move(st)), report_(std::move(report)) {
    checker_.on_restart(id(), applied_index());
    check();
  }
  checked_core(checked_core&& other)
      : core(std::move(other)), checker_(std::move(other.checker_)),
        first_(std::move(other.first_)), report_(std::move(other.report_)) {
    // Only one of the two checks at the end: the moved-from core is hollow.
    other.armed_ = false;
  }
  checked_core& operator=(checked_core&&) = delete;
  ~checked_core() {
    if (!armed_)
      return;
    if (auto v = verdict())
      report_(*v);
  }

  /// The first violation seen after any input, or else the one the core
  /// shows now.
  std::optional<std::string> verdict() {
    check();
    return first_;
  }

  // Every input of core, each followed by a check.
  void tick() {
    core::tick();
    check();
  }
  void step(server_id from, message m) {
    core::step(from, std::move(m));
    check();
  }
  request_result propose(std::string data, std::int64_t timestamp_ms = 0) {
    return checked(core::propose(std::move(data), timestamp_ms));
  }
  request_result read_index(std::uint64_t context) {
    return checked(core::read_index(context));
  }
  request_result change_membership(membership_change change) {
    return checked(core::change_membership(std::move(change)));
  }
  request_result transfer_leadership(server_id target) {
    return checked(core::transfer_leadership(target));
  }
  void persisted(std::uint64_t persist_id) {
    core::persisted(persist_id);
    check();
  }
  void snapshot_taken(index_t index) {
    core::snapshot_taken(index);
    check();
  }
  void report_snapshot(server_id to, bool ok) {
    core::report_snapshot(to, ok);
    check();
  }
  /// Also checks that the entries handed out to apply follow each other.
  ready take_ready() {
    auto r = core::take_ready();
    if (r.snapshot)
      checker_.on_snapshot_installed(id(), r.snapshot->meta.index);
    for (const auto& e : r.committed)
      note(checker_.on_apply(id(), e));
    check();
    return r;
  }

private:
  void note(std::optional<std::string> v) {
    if (v && !first_)
      first_ = std::move(v);
  }
  void check() { note(checker_.check(*this)); }
  request_result checked(request_result r) {
    check();
    return r;
  }

  invariant_checker checker_;
  std::optional<std::string> first_;
  violation_reporter report_;
  bool armed_ = true;
};

/// The simulated cluster, failing the test at its end if any server broke an
/// invariant at any step (the cluster checks each one after every step) or
/// an up server is in a bad state now.
class checked_cluster : public sim::cluster {
public:
  checked_cluster(std::vector<server_id> ids, std::uint64_t seed, core_config base = {},
                  violation_reporter report = fail_test_case)
      : cluster(std::move(ids), seed, base), report_(std::move(report)) {}
  checked_cluster(const checked_cluster&) = delete;
  checked_cluster& operator=(const checked_cluster&) = delete;
  ~checked_cluster() {
    if (auto v = verdict())
      report_(*v);
  }

  std::optional<std::string> verdict() {
    if (violation())
      return violation();
    for (auto id : ids())
      if (node(id).up)
        if (auto v = check_core(raft(id)))
          return v;
    return std::nullopt;
  }

private:
  violation_reporter report_;
};

} // namespace conflux::raft
