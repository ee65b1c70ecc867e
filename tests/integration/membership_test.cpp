// Live membership changes (docs/design.md, Membership): a server started with
// --join is added under load and promoted once caught up; the leader is
// removed (after handing leadership over) and the cluster keeps serving;
// leadership moves on request; the cluster shrinks 5 -> 3 and grows back to
// 5 with every acknowledged write kept. All through the `conflux` CLI.

#include "protocol/raft/membership.hpp"
#include "storage/log_store.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>
#include <map>

namespace conflux::itest {
namespace {

/// The configuration as the current leader reports it: id -> kind.
std::map<std::uint64_t, std::string> leader_view(cluster& c) {
  auto l = c.wait_for_leader(10s);
  if (!l)
    return {};
  auto st = c.status(*l);
  if (!st.ok())
    return {};
  std::map<std::uint64_t, std::string> out;
  for (auto& m : st->members)
    out[m.id] = m.kind;
  return out;
}

/// Node i's (serializable) version list of `key` once it has applied what
/// the leader has committed.
std::vector<version> caught_up_versions(cluster& c, std::size_t i,
                                        const std::string& key) {
  auto l = c.wait_for_leader(10s);
  REQUIRE(l);
  return wait_until_serves(c, i, key, status_of(c, *l).commit).versions;
}

/// Creates `key` through the nodes `nodes`, then starts one writer on them.
std::unique_ptr<writer_pool> write_under_load(cluster& c,
                                              const std::vector<std::size_t>& nodes,
                                              const std::string& key) {
  REQUIRE_OK(c.make_nodes_client(nodes)->write(make_create_config(key, "initial")));
  std::vector<std::unique_ptr<actors::client>> clients;
  clients.push_back(c.make_nodes_client(nodes, 5s, "itest-membership"));
  return std::make_unique<writer_pool>(std::move(clients), key, "m", 20000, 90s);
}

} // namespace

TEST_CASE("a_joining_node_catches_up_under_load_and_becomes_a_voter") {
  started_cluster c{with_joiners(4, 3)};
  const std::string key = "itest/member/prod/join.txt";
  auto w = write_under_load(c, {0, 1, 2}, key);
  REQUIRE(w->wait_acks(100, 30s));

  // The joiner is idle until added: its state is empty, so it holds no
  // principal yet and refuses every token, the cluster admin's included
  // (docs/security.md, "Bootstrap").
  auto idle = c.status(3);
  CHECK_ERRC(idle, errc::unauthenticated);

  auto add = run_cli({"--endpoints", c.endpoints_csv({0, 1, 2}), "cluster", "add", "4",
                      c.endpoint(3)});
  INFO(add.describe());
  REQUIRE(add.exit_code == 0);
  CHECK(add.out.find("added node 4") != std::string::npos);

  // Promoted automatically once it caught up, while writes go on.
  CHECK(eventually([&] { return leader_view(c)[4] == "voter"; }, 30s, 100ms));
  CHECK(w->wait_acks(w->acks() + 50, 30s));
  w->stop();

  auto on_joiner = caught_up_versions(c, 3, key);
  check_applied_once(on_joiner, w->outcomes());
  auto on_first = caught_up_versions(c, 0, key);
  CHECK(on_first.size() == on_joiner.size());

  // Status shows the new member with its replication lag, as the leader sees it.
  auto js = run_cli(
      {"--endpoints", c.endpoints_csv({0, 1, 2}), "--json", "cluster", "status"});
  INFO(js.describe());
  CHECK(js.exit_code == 0);
  CHECK(js.out.find("\"id\":4") != std::string::npos);
  CHECK(js.out.find("\"lag\":") != std::string::npos);
}

TEST_CASE("removing_the_leader_hands_leadership_over_and_the_cluster_keeps_serving") {
  started_cluster c;
  const auto leader = c.first_leader();
  const std::string key = "itest/member/prod/remove.txt";
  REQUIRE_OK(c.make_client()->write(make_create_config(key, "initial")));
  status_of(c, leader);

  auto rm = run_cli({"--endpoints", c.endpoints_csv(), "cluster", "remove",
                     std::to_string(c.id(leader))});
  INFO(rm.describe());
  REQUIRE(rm.exit_code == 0);

  // Another node leads, and its configuration no longer has the old leader.
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (i != leader)
      rest.push_back(i);
  auto view = leader_view(c);
  CHECK(view.size() == 2);
  CHECK(view.count(c.id(leader)) == 0);
  auto now_leader = c.wait_for_leader();
  REQUIRE(now_leader);
  CHECK(*now_leader != leader);

  // The removed process can go; the two left keep taking writes.
  c.terminate(leader);
  auto cl = c.make_nodes_client(rest);
  for (int n = 0; n < 20; ++n) {
    INFO("write " << n);
    REQUIRE_OK(cl->write(make_create_version(key, "after-" + std::to_string(n))));
  }
  auto vs = cl->list_versions(key);
  REQUIRE_OK(vs);
  CHECK(vs->size() == 21);
}

TEST_CASE("transfer_leader_moves_leadership_to_the_named_voter") {
  started_cluster c;
  const auto leader = c.first_leader();
  const auto before = status_of(c, leader);
  auto target = (leader + 1) % c.size();

  auto t0 = clock::now();
  auto tr = run_cli({"--endpoints", c.endpoints_csv(), "cluster", "transfer-leader",
                     std::to_string(c.id(target))});
  auto elapsed = std::chrono::duration_cast<ms>(clock::now() - t0);
  INFO(tr.describe());
  REQUIRE(tr.exit_code == 0);
  // The leader aborts a transfer that has not completed within one election
  // timeout (protocol/raft/core.cpp), so success means it moved within one.
  // One term later: the target won the election TimeoutNow started, no
  // other election round was needed.
  auto st = status_of(c, target);
  CHECK(st.role == "leader");
  CHECK(st.term == before.term + 1);
  MESSAGE("transfer-leader returned after " << elapsed.count()
                                            << " ms (CLI process included)");

  // Transferring to a stranger or to the current leader.
  auto bad =
      run_cli({"--endpoints", c.endpoints_csv(), "cluster", "transfer-leader", "9"});
  CHECK(bad.exit_code == 3);
  CHECK(bad.err.find("node 9 is not a member") != std::string::npos);
  auto same = run_cli({"--endpoints", c.endpoints_csv(), "cluster", "transfer-leader",
                       std::to_string(c.id(target))});
  CHECK(same.exit_code == 0);
}

TEST_CASE(
    "the_cluster_shrinks_5_to_3_and_grows_back_keeping_every_acknowledged_write") {
  // Nodes 1-5 bootstrap; 6 and 7 start with --join.
  started_cluster c{with_joiners(7, 5)};
  const std::string key = "itest/member/prod/resize.txt";
  auto w = write_under_load(c, {0, 1, 2}, key);
  REQUIRE(w->wait_acks(30, 30s));
  auto ep_all = c.endpoints_csv({0, 1, 2, 3, 4});

  // Shrink: remove 5 and 4 (either may be the leader), then stop them.
  for (std::uint64_t id : {5, 4}) {
    auto rm = run_cli({"--endpoints", ep_all, "cluster", "remove", std::to_string(id)});
    INFO(rm.describe());
    REQUIRE(rm.exit_code == 0);
  }
  CHECK(leader_view(c) ==
        std::map<std::uint64_t, std::string>{{1, "voter"}, {2, "voter"}, {3, "voter"}});
  c.terminate(3);
  c.terminate(4);
  CHECK(w->wait_acks(w->acks() + 30, 30s));

  // Grow: add 6 and 7; each is promoted once caught up.
  for (std::size_t i : {5, 6}) {
    auto add = run_cli({"--endpoints", c.endpoints_csv({0, 1, 2}), "cluster", "add",
                        std::to_string(c.id(i)), c.endpoint(i)});
    INFO(add.describe());
    REQUIRE(add.exit_code == 0);
    // One change at a time: the next add waits until this one is a voter.
    CHECK(eventually([&] { return leader_view(c)[c.id(i)] == "voter"; }, 30s, 100ms));
  }
  CHECK(leader_view(c) ==
        std::map<std::uint64_t, std::string>{
            {1, "voter"}, {2, "voter"}, {3, "voter"}, {6, "voter"}, {7, "voter"}});
  CHECK(w->wait_acks(w->acks() + 30, 30s));
  w->stop();

  auto outcomes = w->outcomes();
  std::optional<std::vector<version>> reference;
  for (std::size_t i : {0, 1, 2, 5, 6}) {
    INFO("node " << c.id(i));
    auto vs = caught_up_versions(c, i, key);
    check_applied_once(vs, outcomes);
    if (!reference)
      reference = vs;
    else
      CHECK(vs.size() == reference->size());
  }
}

TEST_CASE("join_on_the_data_dir_of_a_member_starts_it_as_that_member_and_says_join_has_"
          "no_effect") {
  // Node 4 joined with --join and became a voter; restarted with the same
  // flags (--join included) it is the member its data dir says it is.
  started_cluster c{with_joiners(4, 3)};
  auto add = run_cli({"--endpoints", c.endpoints_csv({0, 1, 2}), "cluster", "add", "4",
                      c.endpoint(3)});
  INFO(add.describe());
  REQUIRE(add.exit_code == 0);
  REQUIRE(eventually([&] { return leader_view(c)[4] == "voter"; }, 30s, 100ms));
  // Node 4 has stored and applied the configurations that list it.
  REQUIRE(eventually(
      [&] {
        auto s = c.status(3);
        return s.ok() && s->applied >= 3 && s->members.size() == 4;
      },
      30s, 100ms));
  auto st = c.terminate(3);
  REQUIRE(st);
  CHECK(tail_lines(c.log_path(3), 1000).find("--join has no effect") ==
        std::string::npos);

  REQUIRE(c.restart(3));
  CHECK(tail_lines(c.log_path(3), 1000)
            .find("--join has no effect: the data dir already holds a configuration") !=
        std::string::npos);
  CHECK(eventually(
      [&] {
        auto s = c.status(3);
        return s.ok() && s->members.size() == 4 && s->leader_id != 0;
      },
      10s));
  const std::string key = "itest/member/prod/rejoin.txt";
  auto r = c.make_nodes_client({0, 1, 2})->write(make_create_config(key, "after"));
  REQUIRE_OK(r);
  CHECK(wait_until_serves(c, 3, key, r->revision).versions.size() == 1);
}

TEST_CASE(
    "join_on_a_data_dir_whose_configuration_no_longer_lists_the_node_is_refused") {
  // A node whose stored configuration leaves it out was removed; started
  // with --join on that data dir it would wait forever for a leader that no
  // longer replicates to it. (A leader hands leadership over before it is
  // removed, so a removed node rarely holds its own removal: the entry is
  // appended here the way the log store writes it.)
  started_cluster c;
  const std::size_t victim = (c.first_leader() + 1) % c.size();
  REQUIRE(c.terminate(victim));
  {
    storage::log_store_options lo;
    lo.identity = {c.options().cluster_id, c.id(victim)};
    auto log = storage::log_store::open(c.data_dir(victim) + "/log", lo);
    REQUIRE_OK(log);
    raft::membership rest;
    for (std::size_t i = 0; i < c.size(); ++i)
      if (i != victim)
        rest.voters.push_back(c.id(i));
    raft::log_entry e;
    e.term = log->last_term();
    e.index = log->last_index() + 1;
    e.kind = raft::entry_kind::membership;
    e.data = raft::encode_membership(rest);
    REQUIRE_OK(log->append(std::vector<raft::log_entry>{e}));
  }

  auto args = c.default_node_args(victim);
  args.push_back("--join");
  auto r = run_program(node_binary(), args, 30s);
  INFO(r.describe());
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("belongs to node " + std::to_string(c.id(victim)) +
                   ", which was removed from the cluster") != std::string::npos);
  CHECK(
      r.err.find("wipe the data dir (or use an empty one) to join again with --join") !=
      std::string::npos);
}

} // namespace conflux::itest
