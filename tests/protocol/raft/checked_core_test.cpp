// The checked fixtures report a core or cluster in a bad state when they are
// destroyed, whatever the test asserted (LogCabin style), and stay silent
// about healthy ones.

#include "tests/protocol/raft/builders.hpp"
#include "tests/protocol/raft/checked_core.hpp"

#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <vector>

using namespace conflux::raft;

namespace {

/// A follower restored from a log whose terms decrease: a state no core
/// reaches through its inputs (a corrupted disk could hand it one).
restored_state broken_state() {
  restored_state st;
  st.bootstrap.voters = {1, 2, 3};
  st.hard.term = 2;
  st.entries = {entry_at(1).term(2), entry_at(2).term(1)};
  return st;
}

core_config config_for(server_id id) {
  core_config cfg;
  cfg.id = id;
  return cfg;
}

} // namespace

TEST_CASE("checked_core_reports_a_broken_core_when_it_is_destroyed") {
  std::vector<std::string> reports;
  {
    checked_core c(config_for(1), broken_state(),
                   [&](const std::string& v) { reports.push_back(v); });
    c.tick();
  }
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("log terms decrease") != std::string::npos);
}

TEST_CASE("checked_core_stays_silent_about_a_healthy_core_and_a_moved_one") {
  std::vector<std::string> reports;
  {
    restored_state st;
    st.bootstrap.voters = {1};
    checked_core c(config_for(1), st,
                   [&](const std::string& v) { reports.push_back(v); });
    c.step(1, timeout_now().term(0));
    c.persisted(c.take_ready().persist_id);
    REQUIRE(c.is_leader());
    REQUIRE(c.propose("k=v").ok());
    c.persisted(c.take_ready().persist_id);
    CHECK(c.take_ready().committed.size() == 2);
    checked_core moved(std::move(c));
    CHECK(moved.commit_index() == 2);
  }
  CHECK(reports.empty());
  // The same broken state reported once, by the core that holds it last.
  {
    checked_core c(config_for(1), broken_state(),
                   [&](const std::string& v) { reports.push_back(v); });
    checked_core moved(std::move(c));
  }
  CHECK(reports.size() == 1);
}

TEST_CASE("checked_core_keeps_the_first_violation_even_if_the_state_recovers") {
  std::vector<std::string> reports;
  {
    checked_core c(config_for(1), broken_state(),
                   [&](const std::string& v) { reports.push_back(v); });
    // A leader of term 3 overwrites both entries; the log is healthy again.
    c.step(2, append_request().term(3).entries(
                  {entry_at(1).term(3), entry_at(2).term(3)}));
    c.persisted(c.take_ready().persist_id);
    REQUIRE(c.log().term_at(1) == 3u);
    REQUIRE_FALSE(check_core(c));
    CHECK(c.verdict());
  }
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("log terms decrease") != std::string::npos);
}

TEST_CASE("checked_cluster_reports_a_server_in_a_bad_state_when_destroyed") {
  std::vector<std::string> reports;
  {
    checked_cluster c({1, 2, 3}, 1, {},
                      [&](const std::string& v) { reports.push_back(v); });
    c.run(30);
    REQUIRE_FALSE(c.verdict());
    c.node(2).raft = std::make_unique<core>(config_for(2), broken_state());
  }
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("server 2: log terms decrease") != std::string::npos);
}
