// describe(): one deterministic line per item of a ready batch, so golden
// traces and logs can show exactly what the core asked for.

#include "protocol/raft/core.hpp"
#include "protocol/raft/describe.hpp"
#include "tests/protocol/raft/builders.hpp"
#include "tests/protocol/raft/checked_core.hpp"

#include <doctest/doctest.h>

using namespace conflux::raft;

TEST_CASE("describe_prints_every_part_of_a_batch_one_line_each_in_handling_order") {
  ready r;
  r.events.push_back(event{event_kind::became_leader, 2, no_server, 0});
  r.events.push_back(event{event_kind::transfer_started, 2, 3, 0});
  r.persist_id = 7;
  hard_state h;
  h.term = 2;
  h.vote = 1;
  h.commit = 4;
  r.hard = h;
  r.entries.push_back(entry_at(5).term(2).noop());
  r.entries.push_back(entry_at(6).term(2).command("k=v"));
  r.entries.push_back(entry_at(7).term(2).config(membership{{1, 2, 3}, {4}, {}}));
  r.messages.push_back(
      outgoing_message{2,
                       append_request().term(2).prev_log(4, 1).leader_commit(4).entries(
                           {entry_at(5).term(2), entry_at(6).term(2)}),
                       false});
  r.messages.push_back(
      outgoing_message{3, vote_response().term(2).pre_vote().granted(), true});
  snapshot_to_send s;
  s.to = 3;
  s.request =
      snapshot_request().term(2).last_included(4, 1).config(membership{{1, 2, 3}});
  r.snapshots_to_send.push_back(s);
  r.committed.push_back(entry_at(3).term(1));
  r.committed.push_back(entry_at(4).term(1));
  r.read_states.push_back(read_state{42, 4});
  r.reads_dropped.push_back(43);
  CHECK(describe(r, 1) ==
        "event became_leader term=2\n"
        "event transfer_started term=2 peer=3\n"
        "persist id=7 hard term=2 vote=1 commit=4\n"
        "entry 5/2 noop\n"
        "entry 6/2 command \"k=v\"\n"
        "entry 7/2 membership voters=1,2,3 learners=4\n"
        "send 1->2 append_entries_request term=2 prev=4/1 commit=4 entries=[5/2 6/2]\n"
        "send 1->3 request_vote_response term=2 granted pre_vote (after persist)\n"
        "send_snapshot 1->3 term=2 last=4/1 voters=1,2,3\n"
        "apply 3..4\n"
        "read_state context=42 index=4\n"
        "read_dropped context=43\n");
  CHECK(describe(ready{}).empty());
}

TEST_CASE("describe_names_the_key_fields_of_every_message") {
  CHECK(describe(
            vote_request().term(3).last_log(5, 2).pre_vote().leadership_transfer()) ==
        "request_vote_request term=3 last=5/2 pre_vote leadership_transfer");
  CHECK(describe(vote_response().term(3).refused()) ==
        "request_vote_response term=3 refused");
  CHECK(describe(append_response().term(3).accepted(9)) ==
        "append_entries_response term=3 accepted index=9");
  CHECK(describe(append_response().term(3).rejected(9).hint(6, 1)) ==
        "append_entries_response term=3 rejected index=9 hint=6/1");
  CHECK(describe(heartbeat().term(3).commit(4).read_seq(2)) ==
        "heartbeat_request term=3 commit=4 read_seq=2");
  CHECK(describe(heartbeat_ack().term(3)) == "heartbeat_response term=3");
  CHECK(describe(snapshot_request().term(3).last_included(30, 2).data("abc")) ==
        "install_snapshot_request term=3 last=30/2 empty data=3B");
  CHECK(describe(timeout_now().term(3)) == "timeout_now_request term=3");
  CHECK(describe(read_request().term(3).context(8)) ==
        "read_index_request term=3 context=8");
  CHECK(describe(read_response().term(3).context(8).index(4)) ==
        "read_index_response term=3 context=8 index=4");
}

TEST_CASE("describe_shortens_long_appends_and_escapes_command_bytes") {
  std::vector<entry_ptr> es;
  for (index_t i = 1; i <= 10; ++i)
    es.push_back(entry_at(i).term(1));
  CHECK(describe(append_request().term(1).entries(es)) ==
        "append_entries_request term=1 prev=0/0 commit=0 "
        "entries=[1/1 2/1 3/1 4/1 5/1 ... 10/1] (10 entries)");
  CHECK(
      describe(entry_at(1).term(1).command(std::string("a\"\\\n\0\xff", 6)).build()) ==
      "1/1 command \"a\\\"\\\\\\x0a\\x00\\xff\"");
  CHECK(describe(entry_at(1).term(1).command(std::string(50, 'x')).build()) ==
        "1/1 command \"" + std::string(40, 'x') + "\"...(50 bytes)");
  CHECK(describe(entry_at(2)
                     .term(1)
                     .timestamp_ms(9)
                     .kind(entry_kind::membership, "?")
                     .build()) == "2/1 membership (undecodable, 1 bytes) ts=9");
  membership m{{1}, {}, {2}};
  m.addresses = {{1, "h1:1"}, {2, "h2:2"}};
  CHECK(describe(m) == "voters=1 joining=2 addresses=1@h1:1,2@h2:2");
}

TEST_CASE("describe_of_a_real_batch_is_the_same_every_time") {
  auto run = [] {
    core_config cfg;
    cfg.id = 1;
    restored_state st;
    st.bootstrap.voters = {1, 2, 3};
    checked_core c(cfg, st);
    c.step(1, timeout_now().term(0));
    return describe(c.take_ready(), 1);
  };
  const auto text = run();
  CHECK(text == run());
  // The bootstrap configuration comes into force at construction.
  CHECK(text == "event membership_changed term=0\n"
                "event became_candidate term=1\n"
                "persist id=1 hard term=1 vote=1 commit=0\n"
                "send 1->2 request_vote_request term=1 last=0/0 leadership_transfer "
                "(after persist)\n"
                "send 1->3 request_vote_request term=1 last=0/0 leadership_transfer "
                "(after persist)\n");
}

TEST_CASE("event_names_follow_the_event_kinds") {
  CHECK(std::string(event_name(event_kind::became_follower)) == "became_follower");
  CHECK(std::string(event_name(event_kind::lost_quorum)) == "lost_quorum");
  CHECK(std::string(event_name(event_kind::transfer_aborted)) == "transfer_aborted");
  CHECK(std::string(event_name(event_kind::stale_persist_ack)) == "stale_persist_ack");
  CHECK(std::string(event_name(static_cast<event_kind>(200))) == "unknown_event");
}

TEST_CASE("describe_names_every_refusal") {
  CHECK(describe(request_result{refusal::none, 7, 1}) == "accepted index=7 hint=1");
  CHECK(describe(request_result{refusal::not_leader, 0, no_server}) ==
        "refused not_leader");
  CHECK(describe(request_result{refusal::leader_handover, 0, 3}) ==
        "refused leader_handover hint=3");
  CHECK(std::string(refusal_name(refusal::transfer_in_progress)) ==
        "transfer_in_progress");
  CHECK(std::string(refusal_name(refusal::already_member)) == "already_member");
  CHECK(std::string(refusal_name(refusal::last_voter)) == "last_voter");
  CHECK(std::string(refusal_name(static_cast<refusal>(99))) == "unknown_refusal");
}
