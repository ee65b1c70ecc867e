#include "protocol/raft/invariants.hpp"
#include "tests/protocol/raft/builders.hpp"
#include "tests/protocol/raft/checked_core.hpp"

#include <doctest/doctest.h>
#include <functional>
#include <string>
#include <vector>

using namespace conflux::raft;

namespace {

checked_core core_with(server_id id, std::vector<entry_ptr> es, index_t commit,
                       term_t term = 2) {
  restored_state st;
  st.bootstrap.voters = {1, 2, 3};
  st.entries = std::move(es);
  st.hard.term = term;
  st.hard.commit = commit;
  core_config cfg;
  cfg.id = id;
  return checked_core(cfg, std::move(st));
}

checked_core solo_leader(server_id id, term_t from_term = 0) {
  restored_state st;
  st.bootstrap.voters = {id};
  st.hard.term = from_term;
  core_config cfg;
  cfg.id = id;
  checked_core c(cfg, st);
  c.step(id, timeout_now().term(from_term));
  c.persisted(c.take_ready().persist_id);
  return c;
}

} // namespace

TEST_CASE("checker_flags_two_leaders_in_one_term") {
  invariant_checker ch;
  auto a = solo_leader(1);
  auto b = solo_leader(2);
  REQUIRE(a.is_leader());
  REQUIRE(b.is_leader());
  REQUIRE(a.term() == b.term());
  CHECK_FALSE(ch.check(a));
  auto v = ch.check(b);
  REQUIRE(v);
  CHECK(v->find("election safety") != std::string::npos);
}

TEST_CASE("checker_flags_different_entries_with_the_same_index_and_term") {
  invariant_checker ch;
  CHECK_FALSE(ch.check(core_with(1, {entry_at(1).term(1).command("a")}, 0)));
  auto v = ch.check(core_with(2, {entry_at(1).term(1).command("b")}, 0));
  REQUIRE(v);
  CHECK(v->find("log matching") != std::string::npos);
}

TEST_CASE("checker_flags_a_committed_entry_that_changed") {
  invariant_checker ch;
  CHECK_FALSE(ch.check(core_with(1, {entry_at(1).term(1).command("a")}, 1)));
  auto v = ch.check(core_with(2, {entry_at(1).term(2).command("b")}, 1));
  REQUIRE(v);
  CHECK(v->find("committed entry changed") != std::string::npos);
}

TEST_CASE("checker_flags_a_commit_index_moving_back") {
  invariant_checker ch;
  CHECK_FALSE(ch.check(core_with(
      1, {entry_at(1).term(1).command("a"), entry_at(2).term(1).command("b")}, 2)));
  auto v = ch.check(core_with(
      1, {entry_at(1).term(1).command("a"), entry_at(2).term(1).command("b")}, 1));
  REQUIRE(v);
  CHECK(v->find("moved back") != std::string::npos);
  // A restart legitimately starts from the persisted commit again.
  ch.on_restart(1, 0);
  CHECK_FALSE(ch.check(core_with(
      1, {entry_at(1).term(1).command("a"), entry_at(2).term(1).command("b")}, 1)));
}

TEST_CASE("checker_flags_a_leader_missing_a_committed_entry") {
  invariant_checker ch;
  // Entry 1 (term 1) committed as seen by a server in term 1.
  CHECK_FALSE(ch.check(core_with(2, {entry_at(1).term(1).command("a")}, 1, 1)));
  // A later-term leader without it violates leader completeness.
  auto l = solo_leader(3, 1);
  REQUIRE(l.is_leader());
  REQUIRE(l.term() == 2);
  auto v = ch.check(l);
  REQUIRE(v);
  CHECK(v->find("leader completeness") != std::string::npos);
}

TEST_CASE("checker_flags_different_entries_applied_at_one_index") {
  invariant_checker ch;
  CHECK_FALSE(ch.on_apply(1, entry_at(1).term(1).command("a")));
  auto v = ch.on_apply(2, entry_at(1).term(1).command("b"));
  REQUIRE(v);
  CHECK(v->find("state machine safety") != std::string::npos);
  CHECK(ch.on_apply(1, entry_at(3).term(1).command("gap")));
}

// -- single-core checks (check_core) -----------------------------------------
// Each check is shown to fire on a hand-built state that differs from a
// healthy one in the one field the check is about.

namespace {

/// The only voter, leading term 1 with its no-op committed and applied;
/// views of it start healthy.
checked_core healthy_leader() {
  auto c = solo_leader(1);
  c.persisted(c.take_ready().persist_id);
  c.take_ready();
  return c;
}

/// One way to break a healthy view, and the phrase check_core must report.
struct breakage {
  const char* phrase;
  std::function<void(core_view&)> apply;
};

/// Each breakage, applied alone to a fresh view of `healthy`, is flagged.
void each_is_flagged(const core& healthy, const std::vector<breakage>& all) {
  REQUIRE_FALSE(check_core(healthy));
  for (const auto& b : all) {
    auto v = view_of(healthy);
    b.apply(v);
    auto r = check_core(v);
    INFO("expected: " << b.phrase << "; verdict: " << r.value_or("none"));
    CHECK((r && r->find(b.phrase) != std::string::npos));
  }
}

} // namespace

TEST_CASE("check_core_passes_healthy_cores_in_every_role") {
  CHECK_FALSE(check_core(healthy_leader()));
  CHECK_FALSE(check_core(core_with(2, {entry_at(1).term(1).command("a")}, 1)));
  auto candidate = core_with(3, {}, 0, 0);
  candidate.step(3, timeout_now().term(0));
  REQUIRE(candidate.current_role() == role::candidate);
  CHECK_FALSE(check_core(candidate));
}

TEST_CASE("check_core_flags_a_log_that_breaks_its_shape") {
  raft_log decreasing(0, 0, {entry_at(1).term(2), entry_at(2).term(1)});
  each_is_flagged(healthy_leader(), {
                                        {"log does not start at the snapshot point",
                                         [](core_view& v) { v.snapshot_index = 3; }},
                                        {"log terms decrease",
                                         [&](core_view& v) {
                                           v.log = &decreasing;
                                           v.term = 2;
                                         }},
                                        {"log holds a term from the future",
                                         [](core_view& v) { v.term = 0; }},
                                    });
}

TEST_CASE("check_core_flags_indexes_out_of_order") {
  auto c = healthy_leader();
  const auto last = c.log().last_index();
  REQUIRE(c.commit_index() == last);
  raft_log compacted(5, 1, {});
  each_is_flagged(
      c,
      {
          {"commit index beyond the log", [&](core_view& v) { v.commit = last + 1; }},
          {"applied an entry that is not committed",
           [](core_view& v) {
             v.commit = 0;
             v.applied = 1;
           }},
          {"snapshot covers uncommitted entries",
           [&](core_view& v) {
             v.log = &compacted;
             v.snapshot_index = 5;
             v.snapshot_term = 1;
             v.current_role = role::follower;
             v.leader = no_server;
             v.followers.clear();
             v.commit = 4;
             v.applied = 4;
           }},
          {"durable index beyond the log", [&](core_view& v) { v.durable = last + 1; }},
          {"applied an entry that is not durable",
           [](core_view& v) {
             v.durable = 0;
             v.applied = 1;
           }},
      });
}

TEST_CASE("check_core_flags_a_role_that_contradicts_its_state") {
  auto as = [](role r, server_id vote, server_id leader) {
    return [=](core_view& v) {
      v.current_role = r;
      v.vote = vote;
      v.leader = leader;
      if (r != role::leader)
        v.followers.clear();
    };
  };
  each_is_flagged(
      healthy_leader(),
      {
          {"a leader that does not lead itself", as(role::leader, 1, 2)},
          {"a leader that did not vote for itself", as(role::leader, 2, 1)},
          {"a leader whose log does not end in its own term",
           [](core_view& v) { v.term = 2; }},
          {"a candidate that did not vote for itself",
           as(role::candidate, 2, no_server)},
          {"a candidate that knows a leader", as(role::candidate, 1, 2)},
          {"a candidate that knows a leader", as(role::pre_candidate, 1, 2)},
          {"a follower that names itself leader", as(role::follower, 1, 1)},
      });
}

TEST_CASE("check_core_flags_membership_and_progress_that_disagree") {
  auto c = core_with(1, {}, 0, 0);
  c.step(1, timeout_now().term(0));
  c.persisted(c.take_ready().persist_id);
  c.step(2, vote_response().term(1).granted());
  REQUIRE(c.is_leader());
  REQUIRE(view_of(c).followers.size() == 2);
  REQUIRE(c.membership_index() == 0); // the bootstrap configuration
  // A membership entry in the log would have to be the one in force.
  raft_log with_config(
      0, 0,
      {entry_at(1).term(1).config(membership{{1, 2, 3}}), entry_at(2).term(1).noop()});
  const auto last = c.log().last_index();
  each_is_flagged(
      c, {
             {"the configuration in force is not the newest one in the log",
              [&](core_view& v) { v.log = &with_config; }},
             {"the configuration in force is not the newest one in the log",
              [](core_view& v) { v.config_index = 1; }}, // a no-op
             {"is not another voter of a leader",
              [](core_view& v) { v.transfer_target = 1; }},
             {"is not another voter of a leader",
              [](core_view& v) { v.transfer_target = 9; }},
             {"is not another voter of a leader",
              [](core_view& v) {
                v.transfer_target = 2;
                v.current_role = role::follower;
                v.leader = 2;
                v.followers.clear();
              }},
             {"leader does not track member 2",
              [](core_view& v) { v.followers[0].tracked = false; }},
             {"a follower matched beyond the leader's log",
              [&](core_view& v) {
                v.followers[1].match = last + 1;
                v.followers[1].next = last + 2;
              }},
             {"a follower's next index is not past its match",
              [](core_view& v) { v.followers[0].next = v.followers[0].match; }},
         });
  // The healthy counterparts of the first and the last but one breakage.
  auto v = view_of(c);
  v.log = &with_config;
  v.config_index = 1;
  CHECK_FALSE(check_core(v));
  v = view_of(c);
  v.transfer_target = 2;
  CHECK_FALSE(check_core(v));
}
