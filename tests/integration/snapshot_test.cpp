// Snapshots and log compaction on real nodes: a follower
// that was down for longer than the compaction threshold catches up by a
// snapshot; a node restarts from snapshot + log with its data intact; a crash
// in the middle of a snapshot install leaves the old state intact and the
// node restarts and catches up.
//
// Every cluster here runs with --snapshot-entries 10, so the log is compacted
// after every ten applied entries.

#include "storage/snapshot_file.hpp"
#include "storage/state_store.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace conflux::itest {
namespace {

/// Every node compacts its log after every `every` applied entries.
cluster_options snapshotting(std::uint64_t every = 10) {
  return with_flags({"--snapshot-entries", std::to_string(every)});
}

std::string slurp(const std::string& path) {
  std::ifstream f{path};
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
    ++n;
  return n;
}

/// How often node i's log holds `what`.
std::size_t log_count(const cluster& c, std::size_t i, const std::string& what) {
  return count_of(slurp(c.log_path(i)), what);
}

// Writes versions "v-from".."v-to" of `key` through `cl`; every one must be
// acknowledged.
void write_versions(actors::client& cl, const std::string& key, int from, int to) {
  for (int n = from; n <= to; ++n) {
    INFO("write " << n);
    REQUIRE_OK(cl.write(make_create_version(key, "v-" + std::to_string(n))));
  }
}

// Waits until node i serves (serializable) versions "v-0".."v-last" of `key`
// in order, at an applied revision >= target.
void check_versions_on(cluster& c, std::size_t i, const std::string& key, int last,
                       std::uint64_t target) {
  auto seen = wait_until_serves(c, i, key, target).versions;
  INFO("node " << c.id(i));
  REQUIRE(seen.size() == static_cast<std::size_t>(last) + 1);
  for (int n = 0; n <= last; ++n) {
    CHECK(seen[static_cast<std::size_t>(n)].id == static_cast<version_id>(n + 1));
    CHECK(seen[static_cast<std::size_t>(n)].content == "v-" + std::to_string(n));
  }
}

/// A started cluster whose nodes compact their logs every 10 entries, with
/// `key` created ("v-0") through `cl`, a client that prefers the leader.
struct snapshotting_cluster : started_cluster {
  std::unique_ptr<actors::client> cl;
  explicit snapshotting_cluster(const std::string& key)
      : started_cluster(snapshotting()), cl(make_client(10s, first_leader())) {
    REQUIRE_OK(cl->write(make_create_config(key, "v-0")));
  }
};

} // namespace

TEST_CASE("follower_down_past_compaction_catches_up_by_snapshot") {
  const std::string key = "itest/snap/prod/catchup.txt";
  snapshotting_cluster c{key};
  const auto leader = c.first_leader();
  const std::size_t follower = (leader + 1) % c.size();
  auto before = applied_of(c, follower);
  c.kill9(follower);
  write_versions(*c.cl, key, 1, 45);
  auto target = applied_of(c, leader);
  // The leader compacted past everything the follower holds.
  REQUIRE(eventually(
      [&] { return log_count(c, leader, "log store compacted the log up to") > 0; },
      5s));
  REQUIRE(target > before + 20);

  REQUIRE(c.restart(follower));
  check_versions_on(c, follower, key, 45, target);
  CHECK(log_count(c, follower, "applier installed snapshot") >= 1);
  CHECK(log_count(c, leader,
                  "raft: snapshot to node " + std::to_string(c.id(follower)) +
                      " delivered") >= 1);
  // The follower keeps up by the log afterwards and the data matches.
  write_versions(*c.cl, key, 46, 50);
  check_versions_on(c, follower, key, 50, applied_of(c, leader));
}

TEST_CASE("node_restarts_from_snapshot_and_log_with_data_intact") {
  const std::string key = "itest/snap/prod/restart.txt";
  snapshotting_cluster c{key};
  // 25 versions: past two compactions, with entries after the last one.
  write_versions(*c.cl, key, 1, 25);
  c.cl.reset();
  auto target = applied_of(c, c.first_leader());
  // A node prunes its older snapshot just after it wrote a new one: wait
  // until each holds exactly one, so the kill does not land in between.
  REQUIRE(eventually(
      [&] {
        for (std::size_t i = 0; i < c.size(); ++i) {
          auto f = storage::list_snapshot_files(c.data_dir(i) + "/snapshots");
          if (!f.ok() || f->size() != 1)
            return false;
        }
        return true;
      },
      10s));
  for (std::size_t i = 0; i < c.size(); ++i)
    c.kill9(i);
  for (std::size_t i = 0; i < c.size(); ++i) {
    // Each node restarts from a snapshot (the banner of the second start
    // names it), not from an empty log.
    auto files = storage::list_snapshot_files(c.data_dir(i) + "/snapshots");
    REQUIRE_OK(files);
    REQUIRE(files->size() == 1);
    CHECK(files->back().index >= 10);
  }
  for (std::size_t i = 0; i < c.size(); ++i)
    REQUIRE(c.restart(i));
  REQUIRE(c.wait_for_leader(15s));
  for (std::size_t i = 0; i < c.size(); ++i) {
    check_versions_on(c, i, key, 25, target);
    auto text = slurp(c.log_path(i));
    // The second "opened" line reports a snapshot index above 0.
    auto p = text.rfind("opened ");
    REQUIRE(p != std::string::npos);
    auto line = text.substr(p, text.find('\n', p) - p);
    INFO(line);
    CHECK(line.find("snapshot 0,") == std::string::npos);
    CHECK(line.find("snapshot ") != std::string::npos);
  }
  // And it still takes writes.
  auto cl = c.make_client(10s);
  write_versions(*cl, key, 26, 27);
}

TEST_CASE(
    "crash_in_the_middle_of_a_snapshot_install_leaves_the_old_state_and_restarts") {
  const std::string key = "itest/snap/prod/crash.txt";
  snapshotting_cluster c{key};
  const auto leader = c.first_leader();
  const std::size_t follower = (leader + 1) % c.size();
  write_versions(*c.cl, key, 1, 3);
  c.kill9(follower);
  write_versions(*c.cl, key, 4, 45);
  auto target = applied_of(c, leader);

  // The follower starts with the fault seam armed: it exits (like a kill -9,
  // without cleanup) after putting the second record of the install txn.
  ::setenv("CONFLUX_TEST_CRASH", "snapshot-install", 1);
  c.spawn(follower);
  ::unsetenv("CONFLUX_TEST_CRASH");
  REQUIRE(eventually([&] { return c.node_state(follower) == cluster::state::exited; },
                     30s, 100ms));
  REQUIRE(log_count(c, follower, "exiting in the middle of a snapshot install") == 1);

  // The old state is intact: it opens cleanly and is older than the snapshot
  // that was being installed (which is durable in the snapshot dir).
  auto dir = c.data_dir(follower);
  auto files = storage::list_snapshot_files(dir + "/snapshots");
  REQUIRE_OK(files);
  REQUIRE_FALSE(files->empty());
  auto snap_index = files->back().index;
  {
    storage::state_store_options so;
    so.identity.cluster_id = c.options().cluster_id;
    so.identity.node_id = c.id(follower);
    auto st = storage::state_store::open(dir + "/state", so);
    REQUIRE_OK(st);
    auto r = st->begin_read();
    REQUIRE_OK(r);
    auto applied = r->last_applied();
    REQUIRE_OK(applied);
    CHECK(*applied < snap_index);
    auto vs = r->list_versions(1);
    REQUIRE_OK(vs);
    CHECK(vs->size() <= 4); // what it had before it went down, nothing half-copied
  }

  // Restarted without the seam, it finishes from the stored snapshot and
  // catches up with the rest.
  REQUIRE(c.restart(follower));
  check_versions_on(c, follower, key, 45, target);
  write_versions(*c.cl, key, 46, 47);
  check_versions_on(c, follower, key, 47, applied_of(c, leader));
}

TEST_CASE("damaged_snapshot_file_stops_the_node_at_start") {
  const std::string key = "itest/snap/prod/damaged.txt";
  snapshotting_cluster c{key};
  const auto leader = c.first_leader();
  const std::size_t victim = (leader + 1) % c.size();
  write_versions(*c.cl, key, 1, 25);
  REQUIRE(
      eventually([&] { return applied_of(c, victim) >= applied_of(c, leader); }, 10s));
  c.kill9(victim);

  auto files = storage::list_snapshot_files(c.data_dir(victim) + "/snapshots");
  REQUIRE_OK(files);
  REQUIRE(files->size() == 1);
  auto path = files->back().path;
  auto bytes = slurp(path);
  REQUIRE(bytes.size() > 100);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);
  write_file(path, bytes);

  c.spawn(victim);
  REQUIRE(eventually([&] { return c.node_state(victim) == cluster::state::exited; },
                     20s, 100ms));
  auto st = c.exit_status(victim);
  REQUIRE(st);
  REQUIRE(WIFEXITED(*st));
  CHECK(WEXITSTATUS(*st) == 2);
  auto text = slurp(c.log_path(victim));
  CHECK(count_of(text, "cannot load the snapshot: corrupted") == 1);
  CHECK(count_of(text, path) >= 1);
  // Nothing was changed: the damaged file is still there for the operator.
  CHECK(slurp(path) == bytes);
}

TEST_CASE("log_is_compacted_by_size_with_snapshot_bytes") {
  started_cluster c{
      with_flags({"--snapshot-entries", "0", "--snapshot-bytes", "4000"})};
  const auto leader = c.first_leader();
  const std::string key = "itest/snap/prod/bytes.txt";
  auto cl = c.make_client(10s, leader);
  REQUIRE_OK(cl->write(make_create_config(key, std::string(500, 'x'))));
  // Below the threshold: no snapshot yet.
  CHECK(log_count(c, leader, "snapshotter wrote snapshot") == 0);
  for (int n = 1; n <= 12; ++n)
    REQUIRE_OK(cl->write(
        make_create_version(key, std::string(500, static_cast<char>('a' + n)))));
  // About 6.5 KB of entries went through the log: at least one snapshot, and
  // not one per entry.
  REQUIRE(eventually(
      [&] { return log_count(c, leader, "log store compacted the log") >= 1; }, 5s));
  CHECK(log_count(c, leader, "snapshotter wrote snapshot") <= 3);
}

TEST_CASE("node_refuses_to_start_with_both_snapshot_thresholds_off") {
  auto r = run_program(node_binary(),
                       {"--snapshot-entries", "0", "--snapshot-bytes", "0", "--data",
                        "/nonexistent/never-created"},
                       10s);
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--snapshot-entries and --snapshot-bytes are both 0") !=
        std::string::npos);
}

TEST_CASE("node_added_to_a_compacted_cluster_catches_up_by_snapshot_and_keeps_it_on_"
          "restart") {
  started_cluster c{with_joiners(4, 3, {"--snapshot-entries", "10"})};
  const std::string key = "itest/snap/prod/join.txt";
  auto cl = c.make_nodes_client({0, 1, 2}, 10s);
  REQUIRE_OK(cl->write(make_create_config(key, "v-0")));
  write_versions(*cl, key, 1, 30);

  auto add = run_cli({"--endpoints", c.endpoints_csv({0, 1, 2}), "cluster", "add", "4",
                      c.endpoint(3)});
  INFO(add.describe());
  REQUIRE(add.exit_code == 0);
  auto leader = c.wait_for_leader(10s);
  REQUIRE(leader);
  check_versions_on(c, 3, key, 30, applied_of(c, *leader));
  CHECK(log_count(c, 3, "applier installed snapshot") >= 1);

  // Restarted, the new node comes back from its snapshot, with the
  // configuration (and member addresses) the snapshot carried.
  c.kill9(3);
  write_versions(*cl, key, 31, 32);
  REQUIRE(c.restart(3));
  check_versions_on(c, 3, key, 32, applied_of(c, *leader));
  auto st = c.status(3);
  REQUIRE_OK(st);
  CHECK(st->members.size() == 4);
}

} // namespace conflux::itest
