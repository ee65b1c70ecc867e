// The test builders set the field their name says, and nothing else.

#include "tests/protocol/raft/builders.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

TEST_CASE("vote_builders_name_every_field") {
  request_vote_request v = vote_request().term(3).last_log(5, 2).pre_vote();
  CHECK(v.term == 3);
  CHECK(v.last_log_index == 5);
  CHECK(v.last_log_term == 2);
  CHECK(v.pre_vote);
  CHECK_FALSE(v.leadership_transfer);
  CHECK(vote_request().leadership_transfer().build().leadership_transfer);
  request_vote_response r = vote_response().term(4).pre_vote().granted();
  CHECK(r.term == 4);
  CHECK(r.pre_vote);
  CHECK(r.granted);
  CHECK_FALSE(vote_response().granted().refused().build().granted);
}

TEST_CASE("append_builders_name_every_field") {
  append_entries_request a = append_request()
                                 .term(2)
                                 .prev_log(4, 1)
                                 .entries({entry_at(5).term(2).command("k=v")})
                                 .leader_commit(3);
  CHECK(a.term == 2);
  CHECK(a.prev_log_index == 4);
  CHECK(a.prev_log_term == 1);
  REQUIRE(a.entries.size() == 1);
  CHECK(a.entries[0]->index == 5);
  CHECK(a.entries[0]->term == 2);
  CHECK(a.entries[0]->kind == entry_kind::command);
  CHECK(a.entries[0]->data == "k=v");
  CHECK(a.leader_commit == 3);
  append_entries_response ok = append_response().term(2).accepted(7);
  CHECK(ok.success);
  CHECK(ok.index == 7);
  append_entries_response no = append_response().term(2).rejected(9).hint(6, 1);
  CHECK_FALSE(no.success);
  CHECK(no.index == 9);
  CHECK(no.hint_index == 6);
  CHECK(no.hint_term == 1);
}

TEST_CASE("entry_builder_sets_kind_data_and_timestamp") {
  log_entry n = entry_at(8).term(3).timestamp_ms(-5).noop();
  CHECK(n.index == 8);
  CHECK(n.term == 3);
  CHECK(n.kind == entry_kind::noop);
  CHECK(n.timestamp_ms == -5);
  CHECK(n.data.empty());
  log_entry m = entry_at(9).term(3).config(membership{{1, 2}, {3}, {}});
  CHECK(m.kind == entry_kind::membership);
  REQUIRE(decode_membership(m.data));
  CHECK(decode_membership(m.data)->is_learner(3));
}

TEST_CASE("other_builders_name_every_field") {
  heartbeat_request h = heartbeat().term(1).commit(4).read_seq(9);
  CHECK((h.term == 1 && h.commit == 4 && h.read_seq == 9));
  heartbeat_response ha = heartbeat_ack().term(1).read_seq(9);
  CHECK((ha.term == 1 && ha.read_seq == 9));
  install_snapshot_request s = snapshot_request()
                                   .term(2)
                                   .last_included(30, 1)
                                   .config(membership{{1, 2, 3}, {}, {}})
                                   .data("state");
  CHECK((s.term == 2 && s.meta.index == 30 && s.meta.term == 1));
  CHECK(s.meta.config.is_voter(3));
  CHECK(s.data == "state");
  CHECK(timeout_now().term(5).build().term == 5);
  read_index_request rq = read_request().term(2).context(42);
  CHECK((rq.term == 2 && rq.context == 42));
  read_index_response rs = read_response().term(2).context(42).index(7);
  CHECK((rs.term == 2 && rs.context == 42 && rs.index == 7));
  // Builders go straight into the message variant.
  message m = vote_request().term(1);
  CHECK(std::holds_alternative<request_vote_request>(m));
}
