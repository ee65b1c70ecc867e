// Snapshots and log compaction on real nodes (issue 5 item 2): a follower
// that was down for longer than the compaction threshold catches up by a
// snapshot; a node restarts from snapshot + log with its data intact; a crash
// in the middle of a snapshot install leaves the old state intact and the
// node restarts and catches up.
//
// Every cluster here runs with --snapshot-entries 10, so the log is compacted
// after every ten applied entries.

#include "tests/integration/cluster.hpp"
#include "tests/integration/util.hpp"

#include "storage/snapshot_file.hpp"
#include "storage/state_store.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <sys/wait.h>

namespace conflux::itest {
namespace {

cluster_options snapshotting(std::uint64_t every = 10) {
  cluster_options o;
  o.node_args = [every](const cluster& c, std::size_t i) {
    auto args = c.default_node_args(i);
    args.push_back("--snapshot-entries");
    args.push_back(std::to_string(every));
    return args;
  };
  return o;
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

// Writes `n` versions of `key` through `cl`; every one must be acknowledged.
void write_versions(actors::client& cl, const std::string& key, int from, int to) {
  for (int n = from; n <= to; ++n) {
    auto r = cl.write(make_create_version(key, "v-" + std::to_string(n)));
    INFO("write " << n << ": " << err_text(r));
    REQUIRE(acked(r));
  }
}

// Waits until node i serves (serializable) exactly `expected` versions of
// `key`, "v-0".."v-N" in order, at an applied revision >= target.
void check_versions_on(cluster& c, std::size_t i, const std::string& key, int last,
                       std::uint64_t target) {
  auto cl = c.make_node_client(i, 2s);
  actors::read_meta meta;
  std::vector<version> seen;
  std::string last_err;
  bool ok = eventually(
    [&] {
      auto vs = cl->list_versions(key, actors::consistency::serializable, &meta);
      if (!vs.ok()) {
        last_err = err_text(vs);
        return false;
      }
      seen = *vs;
      return meta.revision >= target && seen.size() == static_cast<std::size_t>(last) + 1;
    },
    20s, 50ms);
  INFO("node " << c.id(i) << ": revision " << meta.revision << " of " << target << ", "
               << seen.size() << " versions, last error " << last_err);
  REQUIRE(ok);
  for (int n = 0; n <= last; ++n) {
    CHECK(seen[static_cast<std::size_t>(n)].id == static_cast<version_id>(n + 1));
    CHECK(seen[static_cast<std::size_t>(n)].content == "v-" + std::to_string(n));
  }
}

std::uint64_t applied_of(cluster& c, std::size_t i) {
  auto s = c.status(i);
  INFO("status of node " << c.id(i) << ": " << err_text(s));
  REQUIRE(s.ok());
  return s->applied;
}

} // namespace

TEST_CASE("follower_down_past_compaction_catches_up_by_snapshot") {
  cluster c{snapshotting()};
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  const std::size_t follower = (*leader + 1) % c.size();
  const std::string key = "itest/snap/prod/catchup.txt";
  auto cl = c.make_client(10s, leader);
  {
    auto r = cl->write(make_create_config(key, "v-0"));
    INFO("create_config: " << err_text(r));
    REQUIRE(acked(r));
  }
  auto before = applied_of(c, follower);
  c.kill9(follower);
  write_versions(*cl, key, 1, 45);
  auto target = applied_of(c, *leader);
  // The leader compacted past everything the follower holds.
  REQUIRE(eventually([&] { return count_of(slurp(c.log_path(*leader)),
                                           "log store compacted the log up to") > 0; },
                     5s));
  REQUIRE(target > before + 20);

  REQUIRE(c.restart(follower));
  check_versions_on(c, follower, key, 45, target);
  auto flog = slurp(c.log_path(follower));
  CHECK(count_of(flog, "applier installed snapshot") >= 1);
  CHECK(count_of(slurp(c.log_path(*leader)), "raft: snapshot to node " +
                                                 std::to_string(c.id(follower)) +
                                                 " delivered") >= 1);
  // The follower keeps up by the log afterwards and the data matches.
  write_versions(*cl, key, 46, 50);
  check_versions_on(c, follower, key, 50, applied_of(c, *leader));
}

TEST_CASE("node_restarts_from_snapshot_and_log_with_data_intact") {
  cluster c{snapshotting()};
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  const std::string key = "itest/snap/prod/restart.txt";
  {
    auto cl = c.make_client(10s, leader);
    auto r = cl->write(make_create_config(key, "v-0"));
    REQUIRE(acked(r));
    // 25 versions: past two compactions, with entries after the last one.
    write_versions(*cl, key, 1, 25);
  }
  auto target = applied_of(c, *leader);
  for (std::size_t i = 0; i < c.size(); ++i)
    c.kill9(i);
  for (std::size_t i = 0; i < c.size(); ++i) {
    // Each node restarts from a snapshot (the banner of the second start
    // names it), not from an empty log.
    auto files = storage::list_snapshot_files(c.data_dir(i) + "/snapshots");
    REQUIRE(files.ok());
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

TEST_CASE("crash_in_the_middle_of_a_snapshot_install_leaves_the_old_state_and_restarts") {
  cluster c{snapshotting()};
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  const std::size_t follower = (*leader + 1) % c.size();
  const std::string key = "itest/snap/prod/crash.txt";
  auto cl = c.make_client(10s, leader);
  REQUIRE(acked(cl->write(make_create_config(key, "v-0"))));
  write_versions(*cl, key, 1, 3);
  c.kill9(follower);
  write_versions(*cl, key, 4, 45);
  auto target = applied_of(c, *leader);

  // The follower starts with the fault seam armed: it exits (like a kill -9,
  // without cleanup) after putting the second record of the install txn.
  ::setenv("CONFLUX_TEST_CRASH", "snapshot-install", 1);
  c.spawn(follower);
  ::unsetenv("CONFLUX_TEST_CRASH");
  REQUIRE(eventually([&] { return c.node_state(follower) == cluster::state::exited; },
                     30s, 100ms));
  REQUIRE(count_of(slurp(c.log_path(follower)),
                   "exiting in the middle of a snapshot install") == 1);

  // The old state is intact: it opens cleanly and is older than the snapshot
  // that was being installed (which is durable in the snapshot dir).
  auto dir = c.data_dir(follower);
  auto files = storage::list_snapshot_files(dir + "/snapshots");
  REQUIRE(files.ok());
  REQUIRE_FALSE(files->empty());
  auto snap_index = files->back().index;
  {
    storage::state_store_options so;
    so.identity.cluster_id = c.options().cluster_id;
    so.identity.node_id = c.id(follower);
    auto st = storage::state_store::open(dir + "/state", so);
    INFO("open state: " << (st.ok() ? "ok" : to_string(st.err())));
    REQUIRE(st.ok());
    auto r = st->begin_read();
    REQUIRE(r.ok());
    auto applied = r->last_applied();
    REQUIRE(applied.ok());
    CHECK(*applied < snap_index);
    auto vs = r->list_versions(1);
    REQUIRE(vs.ok());
    CHECK(vs->size() <= 4); // what it had before it went down, nothing half-copied
  }

  // Restarted without the seam, it finishes from the stored snapshot and
  // catches up with the rest.
  REQUIRE(c.restart(follower));
  check_versions_on(c, follower, key, 45, target);
  write_versions(*cl, key, 46, 47);
  check_versions_on(c, follower, key, 47, applied_of(c, *leader));
}

TEST_CASE("damaged_snapshot_file_stops_the_node_at_start") {
  cluster c{snapshotting()};
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  const std::size_t victim = (*leader + 1) % c.size();
  const std::string key = "itest/snap/prod/damaged.txt";
  auto cl = c.make_client(10s, leader);
  REQUIRE(acked(cl->write(make_create_config(key, "v-0"))));
  write_versions(*cl, key, 1, 25);
  REQUIRE(eventually([&] { return applied_of(c, victim) >= applied_of(c, *leader); }, 10s));
  c.kill9(victim);

  auto files = storage::list_snapshot_files(c.data_dir(victim) + "/snapshots");
  REQUIRE(files.ok());
  REQUIRE(files->size() == 1);
  auto path = files->back().path;
  auto bytes = slurp(path);
  REQUIRE(bytes.size() > 100);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x40);
  write_file(path, bytes);

  c.spawn(victim);
  REQUIRE(eventually([&] { return c.node_state(victim) == cluster::state::exited; }, 20s,
                     100ms));
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
  cluster_options o;
  o.node_args = [](const cluster& c, std::size_t i) {
    auto args = c.default_node_args(i);
    for (auto a : {"--snapshot-entries", "0", "--snapshot-bytes", "4000"})
      args.push_back(a);
    return args;
  };
  cluster c{o};
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  const std::string key = "itest/snap/prod/bytes.txt";
  auto cl = c.make_client(10s, leader);
  REQUIRE(acked(cl->write(make_create_config(key, std::string(500, 'x')))));
  // Below the threshold: no snapshot yet.
  CHECK(count_of(slurp(c.log_path(*leader)), "snapshotter wrote snapshot") == 0);
  for (int n = 1; n <= 12; ++n) {
    auto r = cl->write(make_create_version(key, std::string(500, static_cast<char>('a' + n))));
    REQUIRE(acked(r));
  }
  // About 6.5 KB of entries went through the log: at least one snapshot, and
  // not one per entry.
  REQUIRE(eventually(
    [&] { return count_of(slurp(c.log_path(*leader)), "log store compacted the log") >= 1; },
    5s));
  CHECK(count_of(slurp(c.log_path(*leader)), "snapshotter wrote snapshot") <= 3);
}

TEST_CASE("node_refuses_to_start_with_both_snapshot_thresholds_off") {
  auto r = run_program(node_binary(), {"--snapshot-entries", "0", "--snapshot-bytes", "0",
                                       "--data", "/nonexistent/never-created"},
                       10s);
  INFO(r.describe());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--snapshot-entries and --snapshot-bytes are both 0") !=
        std::string::npos);
}

TEST_CASE("node_added_to_a_compacted_cluster_catches_up_by_snapshot_and_keeps_it_on_restart") {
  cluster_options o;
  o.nodes = 4;
  o.node_args = [](const cluster& c, std::size_t i) {
    std::vector<std::string> args{"--id",         std::to_string(c.id(i)),
                                  "--listen",     c.endpoint(i),
                                  "--data",       c.data_dir(i),
                                  "--cluster-id", c.options().cluster_id,
                                  "--log-level",  c.options().log_level,
                                  "--snapshot-entries", "10"};
    if (i < 3) {
      std::string peers;
      for (std::size_t k = 0; k < 3; ++k)
        peers += (k ? "," : "") + std::to_string(c.id(k)) + "=" + c.endpoint(k);
      args.insert(args.end(), {"--peers", peers});
    } else {
      args.push_back("--join");
    }
    return args;
  };
  cluster c{o};
  REQUIRE(c.start());
  const std::string key = "itest/snap/prod/join.txt";
  actors::client_options co;
  co.endpoints = {c.endpoint(0), c.endpoint(1), c.endpoint(2)};
  co.timeout = 10s;
  actors::client cl{runtime(), co};
  REQUIRE(acked(cl.write(make_create_config(key, "v-0"))));
  write_versions(cl, key, 1, 30);

  auto eps = c.endpoint(0) + "," + c.endpoint(1) + "," + c.endpoint(2);
  auto add = run_cli({"--endpoints", eps, "cluster", "add", "4", c.endpoint(3)});
  INFO(add.describe());
  REQUIRE(add.exit_code == 0);
  auto leader = c.wait_for_leader(10s);
  REQUIRE(leader);
  check_versions_on(c, 3, key, 30, applied_of(c, *leader));
  CHECK(count_of(slurp(c.log_path(3)), "applier installed snapshot") >= 1);

  // Restarted, the new node comes back from its snapshot, with the
  // configuration (and member addresses) the snapshot carried.
  c.kill9(3);
  write_versions(cl, key, 31, 32);
  REQUIRE(c.restart(3));
  check_versions_on(c, 3, key, 32, applied_of(c, *leader));
  auto st = c.status(3);
  REQUIRE(st.ok());
  CHECK(st->members.size() == 4);
}

} // namespace conflux::itest
