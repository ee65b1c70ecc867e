// conflux-node's launcher: settings from a config file.

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace conflux::itest {

TEST_CASE("node_takes_its_listen_address_from_its_peers_entry_in_a_config_file") {
  // A single node started with nothing but --config FILE, where FILE names
  // the node's address only in [peers] (no `listen` key): the node must
  // listen there, not on the built-in default 127.0.0.1:7101 (which differs
  // from its [peers] entry and made it refuse to start).
  cluster_options opts;
  opts.nodes = 1;
  opts.cluster_id = "itest-config-file";
  opts.node_args = [](const cluster& c, std::size_t i) -> std::vector<std::string> {
    // Rewritten at every spawn: start() may retry on fresh ports.
    const auto path = c.dir() + "/node" + std::to_string(c.id(i)) + ".toml";
    write_file(path, "id = " + std::to_string(c.id(i)) + "\n" + "cluster_id = '" +
                         c.options().cluster_id + "'\n" + "data = '" + c.data_dir(i) +
                         "'\n" + "log_level = '" + c.options().log_level + "'\n" +
                         "\n[peers]\n" + "\"" + std::to_string(c.id(i)) + "\" = '" +
                         c.endpoint(i) + "'\n");
    return {"--config", path};
  };
  started_cluster c{opts};

  auto st = c.status(0);
  REQUIRE_OK(st);
  CHECK(st->id == c.id(0));
  CHECK(st->address == c.endpoint(0));
  CHECK(st->cluster_id == "itest-config-file");
  CHECK(st->role == "leader");
  REQUIRE(st->members.size() == 1u);
  CHECK(st->members[0].address == c.endpoint(0));

  // It serves clients at that address.
  auto cl = c.make_client(5s);
  CHECK_OK(cl->write(make_create_config("itest/config-file/prod/app.txt", "a")));
  CHECK(tail_lines(c.log_path(0), 200).find("listening on " + c.endpoint(0)) !=
        std::string::npos);
}

TEST_CASE("node_refuses_a_data_dir_of_another_cluster_or_node_and_changes_nothing") {
  cluster_options opts;
  opts.nodes = 1;
  opts.cluster_id = "itest-owner";
  started_cluster c{opts};
  REQUIRE_OK(
      c.make_client(5s)->write(make_create_config("itest/owner/prod/app.txt", "kept")));
  auto st = c.terminate(0, 15s);
  REQUIRE(st);
  REQUIRE(WIFEXITED(*st));

  const auto ep = c.endpoint(0);
  const auto data = c.data_dir(0);
  // Another cluster id on the same data dir.
  auto other_cluster = run_program(
      node_binary(),
      {"--id", std::to_string(c.id(0)), "--listen", ep, "--data", data, "--peers",
       std::to_string(c.id(0)) + "=" + ep, "--cluster-id", "someone-else"},
      20s);
  INFO("stderr: " << other_cluster.err);
  CHECK_FALSE(other_cluster.timed_out);
  CHECK(other_cluster.exit_code == 2);
  CHECK(other_cluster.err.find("belongs to cluster 'itest-owner'") !=
        std::string::npos);
  // Another node id on the same data dir.
  auto other_node = run_program(node_binary(),
                                {"--id", "7", "--listen", ep, "--data", data, "--peers",
                                 "7=" + ep, "--cluster-id", "itest-owner"},
                                20s);
  INFO("stderr: " << other_node.err);
  CHECK_FALSE(other_node.timed_out);
  CHECK(other_node.exit_code == 2);
  CHECK(other_node.err.find("belongs to node " + std::to_string(c.id(0))) !=
        std::string::npos);

  // The owner still starts on it, and nothing was lost.
  c.spawn(0);
  REQUIRE(c.wait_for_leader(10s));
  auto cl = c.make_client(5s);
  auto v = cl->get_version("itest/owner/prod/app.txt", 1);
  REQUIRE_OK(v);
  CHECK(v->content == "kept");
}

} // namespace conflux::itest
