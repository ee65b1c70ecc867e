// Node traffic from whom it may come (actors/peer_admission.hpp, docs/security.md
// "Node identity on the Raft channel"): the identity rules of the node endpoint,
// the raft shell's drops of non-members and of undecodable entries, the addresses
// it learns, the commands a leader proposes, and the byte bound of peer batches.

#include "actors/peer_admission.hpp"
#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

const std::string node2 = "conflux://conflux/node/2";

sender_check judge(bool tls, std::string_view identity, std::uint64_t from,
                   std::string_view cluster_id = cluster, std::uint64_t to = 1) {
  return check_node_sender(tls, cluster, 1,
                           sender_claim{identity, cluster_id, from, to});
}

/// A batch from `from` holding `msg`, announcing `from_address`.
rpc::peer_batch batch_from(raft::server_id from, const raft::message& msg,
                           std::string from_address = {}) {
  rpc::peer_batch b;
  b.cluster_id = cluster;
  b.from = from;
  b.to = 1;
  b.from_address = std::move(from_address);
  b.messages.push_back(raft::encode_message(msg));
  return b;
}

/// A valid command whose format-version byte says a version no node knows.
std::string unknown_version_cmd() {
  auto cmd = create_cmd(key_a);
  cmd[0] = static_cast<char>(0x63);
  return cmd;
}

} // namespace

// -- who may send node traffic ------------------------------------------------------

TEST_CASE("the_node_a_batch_claims_to_come_from_is_admitted_with_its_own_identity") {
  auto v = judge(true, node2, 2);
  CHECK(v.ok());
}

TEST_CASE("a_client_identity_sending_node_traffic_is_refused_as_permission_denied") {
  auto v = judge(true, "conflux://conflux/client/ci-bot", 2);
  CHECK(v.refusal == sender_refusal::client_identity);
  CHECK(std::string{refusal_counter(v.refusal)} == "raft.dropped.client_identity");
  CHECK(refusal_code(v.refusal) == errc::permission_denied);
  CHECK(v.reason.find("client ci-bot") != std::string::npos);
}

TEST_CASE("another_nodes_identity_claiming_to_be_a_node_is_refused_as_a_mismatch") {
  auto v = judge(true, node2, 3);
  CHECK(v.refusal == sender_refusal::identity_mismatch);
  CHECK(std::string{refusal_counter(v.refusal)} == "raft.dropped.identity_mismatch");
  CHECK(refusal_code(v.refusal) == errc::permission_denied);
  CHECK(v.reason.find("node 3") != std::string::npos);
}

TEST_CASE("a_node_of_another_cluster_is_refused_as_a_mismatch") {
  auto v = judge(true, "conflux://other/node/2", 2);
  CHECK(v.refusal == sender_refusal::identity_mismatch);
}

TEST_CASE("node_traffic_without_a_proven_identity_is_refused_under_tls") {
  CHECK(judge(true, "", 2).refusal == sender_refusal::no_identity);
  CHECK(judge(true, "conflux://conflux/node/02", 2).refusal ==
        sender_refusal::no_identity);
  CHECK(std::string{refusal_counter(sender_refusal::no_identity)} ==
        "raft.dropped.no_identity");
}

TEST_CASE("a_batch_for_another_cluster_or_node_is_refused_as_wrong_addressee") {
  auto other_cluster = judge(true, node2, 2, "other", 1);
  CHECK(other_cluster.refusal == sender_refusal::wrong_addressee);
  auto other_node = judge(true, node2, 2, cluster, 3);
  CHECK(other_node.refusal == sender_refusal::wrong_addressee);
  CHECK(std::string{refusal_counter(other_node.refusal)} ==
        "raft.dropped.wrong_addressee");
  CHECK(refusal_code(other_node.refusal) == errc::invalid_argument);
}

TEST_CASE("plain_text_has_no_identity_and_checks_only_the_addressee") {
  CHECK(judge(false, "", 2).ok());
  CHECK(judge(false, "", 2, cluster, 3).refusal == sender_refusal::wrong_addressee);
}

TEST_CASE("the_drop_log_writes_at_most_one_line_a_second_and_counts_the_rest") {
  log_limiter limiter;
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::uint64_t held_back = 99;
  CHECK(limiter.allow(t0, held_back));
  CHECK(held_back == 0u);
  CHECK_FALSE(limiter.allow(t0 + std::chrono::milliseconds(10), held_back));
  CHECK_FALSE(limiter.allow(t0 + std::chrono::milliseconds(999), held_back));
  CHECK(limiter.allow(t0 + std::chrono::seconds(1), held_back));
  CHECK(held_back == 2u);
}

// -- the byte bound of peer batches -------------------------------------------------

TEST_CASE("peer_batches_are_split_in_order_under_the_byte_bound") {
  std::vector<std::string> msgs;
  for (char c = 'a'; c <= 'j'; ++c)
    msgs.push_back(std::string(300, c));
  auto groups = split_by_bytes(msgs, 1000);
  REQUIRE(groups.size() == 4u); // 3 + 3 + 3 + 1 messages of 300 bytes
  std::vector<std::string> joined;
  for (auto& g : groups) {
    std::size_t bytes = 0;
    for (auto& m : g)
      bytes += m.size();
    CHECK(bytes <= 1000u);
    joined.insert(joined.end(), g.begin(), g.end());
  }
  CHECK(joined == msgs);
}

TEST_CASE("a_message_above_the_batch_bound_travels_alone") {
  auto groups = split_by_bytes({"ab", std::string(50, 'x'), "cd"}, 10);
  REQUIRE(groups.size() == 3u);
  CHECK(groups[1].size() == 1u);
  CHECK(groups[1][0].size() == 50u);
  CHECK(split_by_bytes({}, 10).empty());
}

TEST_CASE("the_largest_batch_stays_well_under_the_transport_payload_limit") {
  // A batch is either at most max_peer_batch_bytes, or one message: at most
  // one AppendEntries budget of entries plus one entry of max_command_bytes.
  constexpr std::size_t max_payload = 32u << 20; // middleman.max-payload
  raft::core_config cc;
  CHECK(max_peer_batch_bytes <= max_payload / 2);
  CHECK(cc.max_bytes_per_message + max_command_bytes + (64u << 10) <=
        max_payload * 3 / 4);
  CHECK(max_snapshot_chunk_bytes <= max_payload / 4);
}

// -- what the raft shell drops ------------------------------------------------------

TEST_CASE_FIXTURE(cluster_fixture, "a_leader_drops_a_non_members_batch_and_counts_it") {
  elect_node1();
  auto before = status(n);
  // Node 9 is in no configuration; a heartbeat of a far later term from a
  // member would depose the leader.
  send(n.raft(), batch_from(9, raft::heartbeat_request{before.term + 1000, 0, 0}));
  run();
  auto after = status(n);
  CHECK(after.role == "leader");
  CHECK(after.term == before.term);
  CHECK(n.ctx->counters.get("raft.dropped.non_member") == 1u);
  CHECK(after.counters["raft.dropped.non_member"] == 1u);
}

TEST_CASE_FIXTURE(cluster_fixture,
                  "a_non_members_address_is_never_reported_as_the_leaders_address") {
  // No leader is known yet, so node 1 admits a leader outside its
  // configuration (a lagging server must: docs/design.md, Membership), but
  // never its address.
  send(n.raft(), batch_from(9, raft::heartbeat_request{5, 0, 0}, "127.0.0.1:6666"));
  run();
  auto s = status(n);
  CHECK(s.leader_id == 9u);
  CHECK(s.leader_address.empty());
  CHECK(n.ctx->address_of(9).empty());
  CHECK(n.ctx->counters.get("raft.ignored.address") == 1u);
}

TEST_CASE_FIXTURE(cluster_fixture, "the_followed_leader_and_its_term_are_published") {
  CHECK(n.ctx->raft_leader.load() == 0u);
  send_from(n, 2, raft::heartbeat_request{3, 0, 0});
  run();
  CHECK(n.ctx->raft_leader.load() == 2u);
  CHECK(n.ctx->raft_term.load() == 3u);
}

TEST_CASE_FIXTURE(
    cluster_fixture,
    "a_forged_entry_of_an_unknown_command_version_does_not_stop_the_node") {
  // The poison pill: appended and committed, the entry would stop every node
  // that applies it, and again on every restart.
  raft::append_entries_request forged;
  forged.term = 1;
  forged.entries = {command_entry(1, 1, unknown_version_cmd())};
  forged.leader_commit = 1;
  send_from(n, 2, forged);
  run();
  CHECK(n.ctx->counters.get("raft.dropped.undecodable_entry") == 1u);
  CHECK(log_state(n.log).store->last_index() == 0u);
  CHECK_FALSE(n.ctx->failure.failed());

  // The same index with a command that decodes is taken and applied.
  raft::append_entries_request good;
  good.term = 1;
  good.entries = {command_entry(1, 1, create_cmd(key_a))};
  good.leader_commit = 1;
  send_from(n, 2, good);
  run();
  CHECK(log_state(n.log).store->last_index() == 1u);
  CHECK(n.ctx->applied.load() == 1u);
  CHECK_FALSE(n.ctx->failure.failed());
}

// -- what a leader proposes ---------------------------------------------------------

TEST_CASE_FIXTURE(fixture,
                  "a_leader_refuses_an_undecodable_command_and_appends_nothing") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto last = log_state(n.log).store->last_index();
  for (auto bad : {unknown_version_cmd(), std::string{"garbage"}, std::string{}}) {
    auto r = propose(n, bad);
    REQUIRE(r.err.has_value());
    CHECK(r.err->code == errc::invalid_argument);
  }
  CHECK(n.ctx->counters.get("raft.refused.undecodable_command") == 3u);
  CHECK(log_state(n.log).store->last_index() == last);
  CHECK(status(n).commit == last);
  // A good command still goes through.
  auto ok = propose(n, create_cmd(key_a));
  REQUIRE_MESSAGE(!ok.err, to_string(*ok.err));
  CHECK(ok.index == last + 1);
}

TEST_CASE_FIXTURE(fixture, "a_leader_refuses_a_command_too_large_to_replicate") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto last = log_state(n.log).store->last_index();
  auto r = propose(n, std::string(max_command_bytes + 1, 'x'));
  REQUIRE(r.err.has_value());
  CHECK(r.err->code == errc::too_large);
  CHECK(n.ctx->counters.get("raft.refused.too_large") == 1u);
  CHECK(log_state(n.log).store->last_index() == last);
}
