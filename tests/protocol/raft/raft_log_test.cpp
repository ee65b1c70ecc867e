#include "protocol/raft/raft_log.hpp"
#include "tests/protocol/raft/builders.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

namespace {

raft_log log_with_terms(std::vector<term_t> terms) {
  std::vector<entry_ptr> es;
  for (std::size_t i = 0; i < terms.size(); ++i)
    es.push_back(entry_at(i + 1).term(terms[i]));
  return raft_log(0, 0, es);
}

} // namespace

TEST_CASE("raft_log_reports_terms_from_snapshot_point_to_last_entry") {
  raft_log l(5, 2, {entry_at(6).term(2), entry_at(7).term(3)});
  CHECK(l.first_index() == 6);
  CHECK(l.last_index() == 7);
  CHECK(l.last_term() == 3);
  CHECK(l.term_at(5) == 2u);
  CHECK(l.term_at(7) == 3u);
  CHECK_FALSE(l.term_at(4).has_value());
  CHECK_FALSE(l.term_at(8).has_value());
  CHECK(raft_log().term_at(0) == 0u);
}

TEST_CASE("raft_log_merge_skips_duplicates_and_truncates_at_first_conflict") {
  auto l = log_with_terms({1, 1, 2, 2});
  // Same entries again: nothing changes.
  CHECK(l.merge({entry_at(2).term(1), entry_at(3).term(2)}) == 0);
  CHECK(l.last_index() == 4);
  // A conflict at 3 replaces 3 and 4.
  CHECK(l.merge({entry_at(3).term(3)}) == 3);
  CHECK(l.last_index() == 3);
  CHECK(l.term_at(3) == 3u);
  // Appending past the end.
  CHECK(l.merge({entry_at(3).term(3), entry_at(4).term(3)}) == 4);
  CHECK(l.last_index() == 4);
}

TEST_CASE("raft_log_up_to_date_compares_last_term_then_length") {
  auto l = log_with_terms({1, 2, 2});
  CHECK(l.is_up_to_date(3, 2));
  CHECK(l.is_up_to_date(1, 3));
  CHECK_FALSE(l.is_up_to_date(2, 2));
  CHECK_FALSE(l.is_up_to_date(9, 1));
}

TEST_CASE("raft_log_conflict_search_finds_last_index_with_term_not_above") {
  auto l = log_with_terms({1, 1, 3, 3, 5});
  CHECK(l.find_conflict_by_term(5, 4) == 4);
  CHECK(l.find_conflict_by_term(5, 2) == 2);
  CHECK(l.find_conflict_by_term(9, 5) == 5);
  CHECK(l.find_conflict_by_term(5, 0) == 0);
}

TEST_CASE("raft_log_slice_limits_count_and_bytes_but_returns_at_least_one") {
  raft_log l(0, 0,
             {entry_at(1).term(1).command(std::string(100, 'a')),
              entry_at(2).term(1).command(std::string(100, 'b')),
              entry_at(3).term(1).command(std::string(100, 'c'))});
  CHECK(l.slice(1, 3, 2, 1000).size() == 2);
  CHECK(l.slice(1, 3, 10, 250).size() == 2);
  CHECK(l.slice(1, 3, 10, 10).size() == 1);
  // Shared, not copied.
  CHECK(l.slice(2, 2, 1, 1).front().get() == l.at(2).get());
}

TEST_CASE("raft_log_compaction_keeps_the_term_of_the_snapshot_point") {
  auto l = log_with_terms({1, 2, 3});
  l.compact(2);
  CHECK(l.snapshot_index() == 2);
  CHECK(l.term_at(2) == 2u);
  CHECK(l.first_index() == 3);
  CHECK_FALSE(l.term_at(1).has_value());
  l.reset_to_snapshot(10, 4);
  CHECK(l.last_index() == 10);
  CHECK(l.last_term() == 4);
}
