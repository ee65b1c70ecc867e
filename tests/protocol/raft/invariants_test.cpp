#include "protocol/raft/invariants.hpp"
#include "tests/protocol/raft/builders.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

namespace {

core core_with(server_id id, std::vector<entry_ptr> es, index_t commit,
               term_t term = 2) {
  restored_state st;
  st.bootstrap.voters = {1, 2, 3};
  st.entries = std::move(es);
  st.hard.term = term;
  st.hard.commit = commit;
  core_config cfg;
  cfg.id = id;
  return core(cfg, std::move(st));
}

core solo_leader(server_id id, term_t from_term = 0) {
  restored_state st;
  st.bootstrap.voters = {id};
  st.hard.term = from_term;
  core_config cfg;
  cfg.id = id;
  core c(cfg, st);
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
