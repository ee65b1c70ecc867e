// conflux-node's launcher: settings from a config file, flags refused before
// anything starts (with exit code 2 and one line saying what is wrong), and
// the database size limit.

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace conflux::itest {
namespace {

/// One node, not started: a temp dir and a free port for a node run by hand.
cluster_options one_node() {
  cluster_options o;
  o.nodes = 1;
  return o;
}

/// One node started with --insecure-plaintext (no --tls-dir).
cluster_options one_node_plain() {
  cluster_options o;
  o.nodes = 1;
  o.plaintext = true;
  return o;
}

/// Runs conflux-node with `flags` plus a data dir of its own; a node that
/// refuses its flags exits at once, so 20 s is far more than it needs.
cli_result run_node(const cluster& scratch, std::vector<std::string> flags) {
  flags.insert(flags.end(), {"--data", scratch.data_dir(0)});
  // The certificate of node 1 of the default cluster, unless the test chose
  // its transport (or a config file does).
  bool chosen = false;
  for (const auto& f : flags)
    chosen =
        chosen || f == "--tls-dir" || f == "--insecure-plaintext" || f == "--config";
  if (!chosen)
    flags.insert(flags.end(), {"--tls-dir", node_tls_dir("conflux", 1)});
  return run_program(node_binary(), flags, 20s);
}

/// The node refused to start: exit 2 and a stderr line holding `says`.
void check_refused(const cli_result& r, const std::string& says) {
  INFO(r.describe());
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(says) != std::string::npos);
}

} // namespace

// -- transport ------------------------------------------------------------------

TEST_CASE("a_node_without_tls_credentials_refuses_to_start_and_names_the_choices") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  auto r = run_program(node_binary(),
                       {"--listen", listen, "--data", scratch.data_dir(0)}, 20s);
  check_refused(r, "no TLS credentials: give --tls-dir DIR");
  CHECK(r.err.find("--insecure-plaintext") != std::string::npos);
  // Nothing was created: the data dir does not exist.
  CHECK_FALSE(std::filesystem::exists(scratch.data_dir(0)));
}

TEST_CASE("insecure_plaintext_is_refused_for_an_address_that_is_not_loopback") {
  cluster scratch{one_node()};
  const auto port = scratch.endpoint(0).substr(scratch.endpoint(0).rfind(':'));
  check_refused(
      run_node(scratch, {"--insecure-plaintext", "--listen", "0.0.0.0" + port}),
      "--insecure-plaintext: --listen 0.0.0.0" + port + " is not a loopback address");
  const auto listen = scratch.endpoint(0);
  check_refused(run_node(scratch, {"--insecure-plaintext", "--listen", listen,
                                   "--peers", "1=" + listen + ",2=10.1.2.3:7102"}),
                "the address of node 2 10.1.2.3:7102 is not a loopback address");
  check_refused(run_node(scratch, {"--insecure-plaintext", "--listen", listen,
                                   "--tls-dir", node_tls_dir("conflux", 1)}),
                "exclude each other");
}

TEST_CASE("tls_credentials_that_do_not_fit_the_node_are_refused_naming_the_file") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  // Node 2's certificate for node 1.
  auto other = node_tls_dir("conflux", 2);
  auto r = run_node(scratch, {"--listen", listen, "--tls-dir", other});
  check_refused(r, "TLS credentials refused: " + other + "/node.crt");
  // Another cluster's certificate.
  auto foreign = node_tls_dir("another-cluster", 1);
  check_refused(run_node(scratch, {"--listen", listen, "--tls-dir", foreign}),
                "TLS credentials refused: " + foreign +
                    "/ca.crt: is the CA of cluster");
  // This cluster's certificates, a mistyped --cluster-id: the message names it.
  check_refused(
      run_node(scratch, {"--listen", listen, "--tls-dir", node_tls_dir("conflux", 1),
                         "--cluster-id", "conflx"}),
      "--cluster-id (config key cluster_id) 'conflx' is wrong");
  // A key that is missing, and one of another certificate.
  check_refused(
      run_node(scratch, {"--listen", listen, "--tls-dir", node_tls_dir("conflux", 1),
                         "--tls-key", scratch.dir() + "/missing.key"}),
      "cannot read the TLS key " + scratch.dir() + "/missing.key");
  check_refused(
      run_node(scratch, {"--listen", listen, "--tls-dir", node_tls_dir("conflux", 1),
                         "--tls-key", other + "/node.key"}),
      "TLS credentials refused: " + other + "/node.key");
  CHECK_FALSE(std::filesystem::exists(scratch.data_dir(0)));
}

TEST_CASE("a_plaintext_node_says_so_in_its_log_and_in_cluster_status") {
  started_cluster c{with_flags({"--insecure-plaintext"}, one_node_plain())};
  auto status = run_cli(
      {"--endpoints", c.endpoint(0), "--insecure-plaintext", "cluster", "status"});
  INFO(status.describe());
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("transport: INSECURE plain text on node(s) " +
                        std::to_string(c.id(0))) != std::string::npos);
  CHECK(tail_lines(c.log_path(0), 200).find("transport: INSECURE plain text") !=
        std::string::npos);
  // A TLS client is not answered in plain text: it fails, naming the reason.
  auto tls =
      run_cli({"--endpoints", c.endpoint(0), "--timeout", "3000", "cluster", "status"});
  CHECK(tls.exit_code == 5);
  CHECK(tls.err.find("speaks plain text, not TLS") != std::string::npos);
}

TEST_CASE("node_id_0_is_refused_instead_of_running_as_node_1") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  check_refused(run_node(scratch, {"--id", "0", "--listen", listen}),
                "node ids are positive integers");
  check_refused(run_node(scratch, {"--id", "-1", "--listen", listen}),
                "node ids are positive integers");
  const auto file = scratch.dir() + "/id0.toml";
  write_file(file, "id = 0\nlisten = '" + listen + "'\n");
  check_refused(run_node(scratch, {"--config", file}),
                "node ids are positive integers");
}

TEST_CASE("listen_host_that_is_not_a_valid_address_or_name_is_refused_before_binding") {
  cluster scratch{one_node()};
  const auto port = scratch.endpoint(0).substr(scratch.endpoint(0).rfind(':'));
  for (auto [host, says] : std::vector<std::pair<std::string, std::string>>{
           {"256.1.1.1", "'256.1.1.1' is not a valid IPv4 address"},
           {"1.2.3", "'1.2.3' is not a valid IPv4 address"},
           {"[::1::2]", "'::1::2' is not a valid IPv6 address"},
           {"no-such-host.invalid", "'no-such-host.invalid' does not resolve"}}) {
    auto listen = host + port;
    auto r = run_node(scratch, {"--listen", listen, "--peers", "1=" + listen});
    check_refused(r, says);
    CHECK(r.err.find("another process") == std::string::npos);
  }
}

TEST_CASE("listen_port_taken_by_another_process_is_reported_as_such") {
  cluster scratch{one_node()};
  // A listening socket of this test on the node's port.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  std::unique_ptr<int, void (*)(int*)> closer{&fd, [](int* f) { ::close(*f); }};
  const auto listen = scratch.endpoint(0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(
      static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1))));
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  check_refused(run_node(scratch, {"--listen", listen}),
                "is another process using the port?");
}

TEST_CASE("max_db_size_and_max_readers_are_checked_at_start") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  check_refused(
      run_node(scratch, {"--listen", listen, "--max-db-size", "10GB"}),
      "'10GB' is not a size: the unit 'GB' is not one of B, KiB, MiB, GiB, TiB");
  check_refused(run_node(scratch, {"--listen", listen, "--max-db-size", "huge"}),
                "'huge' is not a size");
  check_refused(run_node(scratch, {"--listen", listen, "--max-db-size", "512KiB"}),
                "--max-db-size 524288 bytes is too small");
  check_refused(
      run_node(scratch, {"--listen", listen, "--max-db-size", "99999999999TiB"}),
      "is not a size: it is too large");
  check_refused(
      run_node(scratch, {"--listen", listen, "--max-snapshot-bytes", "512KiB"}),
      "--max-snapshot-bytes 524288 bytes is too small");
  check_refused(run_node(scratch, {"--listen", listen, "--max-snapshot-bytes", "4GB"}),
                "--max-snapshot-bytes: '4GB' is not a size");
  check_refused(run_node(scratch, {"--listen", listen, "--max-readers", "3"}),
                "--max-readers must be 16 to 65536");
  const auto file = scratch.dir() + "/sizes.toml";
  write_file(file, "listen = '" + listen + "'\nmax_db_size = '10 GiB'\n");
  check_refused(run_node(scratch, {"--config", file}),
                "max_db_size: '10 GiB' is not a size");
  write_file(file, "listen = '" + listen + "'\nmax_db_size = -1\n");
  check_refused(run_node(scratch, {"--config", file}),
                "max_db_size must not be negative");
}

TEST_CASE("a_negative_idle_timeout_is_refused_and_a_short_one_is_warned_about") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  check_refused(run_node(scratch, {"--listen", listen, "--idle-timeout", "-1"}),
                "--idle-timeout must be 0 (never) or a number of seconds");
  const auto file = scratch.dir() + "/idle.toml";
  write_file(file, "listen = '" + listen +
                       "'\ninsecure_plaintext = true\nidle_timeout = -5\n");
  check_refused(run_node(scratch, {"--config", file}),
                "--idle-timeout must be 0 (never) or a number of seconds");
  started_cluster c{with_flags({"--idle-timeout", "30"}, one_node())};
  auto log = tail_lines(c.log_path(0), 200);
  CHECK(log.find("idle timeout 30000 ms") != std::string::npos);
  CHECK(log.find("handshake timeout 10000 ms") != std::string::npos);
  CHECK(log.find("quiet watches will reconnect") != std::string::npos);
}

TEST_CASE("the_handshake_timeout_is_a_setting_and_each_tls_refusal_is_counted") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  for (const char* bad : {"0", "301"})
    check_refused(run_node(scratch, {"--listen", listen, "--handshake-timeout", bad}),
                  "--handshake-timeout must be 1 to 300 seconds");
  const auto file = scratch.dir() + "/handshake.toml";
  write_file(file, "listen = '" + listen + "'\ninsecure_plaintext = true\n" +
                       "handshake_timeout = 0\n");
  check_refused(run_node(scratch, {"--config", file}),
                "--handshake-timeout must be 1 to 300 seconds");

  started_cluster c{with_flags({"--handshake-timeout", "1"}, one_node())};
  CHECK(tail_lines(c.log_path(0), 200).find("handshake timeout 1000 ms") !=
        std::string::npos);
  // A socket that never starts TLS: closed after the timeout, and counted.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  std::unique_ptr<int, void (*)(int*)> closer{&fd, [](int* f) { ::close(*f); }};
  const auto ep = c.endpoint(0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port =
      htons(static_cast<std::uint16_t>(std::stoi(ep.substr(ep.rfind(':') + 1))));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  auto counted = [&](const std::string& name) -> std::uint64_t {
    auto s = c.status(0);
    if (!s.ok())
      return 0;
    auto i = s->counters.find(name);
    return i == s->counters.end() ? 0 : i->second;
  };
  CHECK(eventually(
      [&] { return counted("transport.refused.tls_handshake_timeout") >= 1; }, 15s));
  CHECK(counted("transport.refused.tls_handshake") >= 1);
  // The node closed the socket: a read sees the end of the stream.
  char byte = 0;
  CHECK(::recv(fd, &byte, 1, 0) <= 0);
}

TEST_CASE("resource_limit_settings_are_checked_at_start") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  check_refused(run_node(scratch, {"--listen", listen, "--max-reply-bytes", "512"}),
                "--max-reply-bytes must be 1024 to 16777216 bytes");
  check_refused(run_node(scratch, {"--listen", listen, "--max-reply-bytes", "64MiB"}),
                "--max-reply-bytes must be 1024 to 16777216 bytes");
  check_refused(run_node(scratch, {"--listen", listen, "--max-sessions", "0"}),
                "--max-sessions-per-connection, --max-sessions, "
                "--max-requests-in-flight and --max-pending-proposals must be "
                "positive integers");
  check_refused(run_node(scratch, {"--listen", listen, "--session-idle-timeout", "0"}),
                "--session-idle-timeout must be a positive number of seconds");
  const auto file = scratch.dir() + "/limits.toml";
  write_file(file, "listen = '" + listen + "'\nmax_reply_bytes = '1 MiB'\n");
  check_refused(run_node(scratch, {"--config", file}),
                "max_reply_bytes: '1 MiB' is not a size");
  write_file(file, "listen = '" + listen + "'\nmax_pending_proposals = 0\n");
  check_refused(run_node(scratch, {"--config", file}), "must be positive integers");
}

TEST_CASE("a_denied_log_rate_of_zero_is_refused_at_start") {
  cluster scratch{one_node()};
  const auto listen = scratch.endpoint(0);
  check_refused(run_node(scratch, {"--listen", listen, "--denied-log-rate", "0"}),
                "--denied-log-rate must be a positive number of lines per second");
  const auto file = scratch.dir() + "/denied.toml";
  write_file(file, "listen = '" + listen + "'\ndenied_log_rate = 0\n");
  check_refused(run_node(scratch, {"--config", file}),
                "--denied-log-rate must be a positive number of lines per second");
}

TEST_CASE("a_full_database_stops_the_node_naming_max_db_size_and_a_larger_one_lets_it_"
          "go_on") {
  // The smallest size a node takes (1 MiB per database) and a 3 MiB write:
  // the log cannot hold it, the node stops (exit 1) and says which setting
  // to raise; restarted with a larger --max-db-size it takes the write.
  auto size = std::make_shared<std::string>("1MiB");
  auto opts = one_node();
  opts.node_args = [size](const cluster& c, std::size_t i) {
    auto args = c.default_node_args(i);
    args.insert(args.end(), {"--max-db-size", *size});
    return args;
  };
  started_cluster c{opts};
  const std::string key = "itest/full/prod/big.txt";
  const std::string big(3 << 20, 'x');
  auto r = c.make_client(5s)->write(make_create_config(key, big));
  CHECK_FALSE(acked(r));
  REQUIRE(eventually([&] { return c.node_state(0) == cluster::state::exited; }, 20s,
                     100ms));
  auto st = c.exit_status(0);
  REQUIRE(st);
  REQUIRE(WIFEXITED(*st));
  CHECK(WEXITSTATUS(*st) == 1);
  auto log = tail_lines(c.log_path(0), 50);
  INFO(log);
  CHECK(log.find("MDB_MAP_FULL") != std::string::npos);
  CHECK(log.find("conflux-node: stopping:") != std::string::npos);
  CHECK(log.find("restart conflux-node with a larger --max-db-size (config key "
                 "max_db_size)") != std::string::npos);

  *size = "16MiB";
  REQUIRE(c.restart(0));
  REQUIRE(c.wait_for_leader());
  REQUIRE_OK(c.make_client(10s)->write(make_create_config(key, big)));
}

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
                         "tls_dir = '" + node_tls_dir(c.options().cluster_id, c.id(i)) +
                         "'\n" + "bootstrap_token_hash = '" + admin_token_hash() +
                         "'\n" + "\n[peers]\n" + "\"" + std::to_string(c.id(i)) +
                         "\" = '" + c.endpoint(i) + "'\n");
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
  auto other_cluster =
      run_program(node_binary(),
                  {"--id", std::to_string(c.id(0)), "--listen", ep, "--data", data,
                   "--peers", std::to_string(c.id(0)) + "=" + ep, "--cluster-id",
                   "someone-else", "--tls-dir", node_tls_dir("someone-else", c.id(0))},
                  20s);
  INFO("stderr: " << other_cluster.err);
  CHECK_FALSE(other_cluster.timed_out);
  CHECK(other_cluster.exit_code == 2);
  CHECK(other_cluster.err.find("belongs to cluster 'itest-owner'") !=
        std::string::npos);
  // Another node id on the same data dir.
  auto other_node = run_program(node_binary(),
                                {"--id", "7", "--listen", ep, "--data", data, "--peers",
                                 "7=" + ep, "--cluster-id", "itest-owner", "--tls-dir",
                                 node_tls_dir("itest-owner", 7)},
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

// -- secrets ----------------------------------------------------------------------

TEST_CASE("a_wrong_or_exposed_kek_file_stops_the_node_at_start_with_exit_2") {
  // The key file lives outside the data dirs; the cluster's temp dir holds it.
  cluster scratch{one_node()};
  const auto kek = scratch.dir() + "/kek";
  auto write_kek = [&](const std::string& text, mode_t mode) {
    std::ofstream{kek, std::ios::trunc} << text;
    REQUIRE(::chmod(kek.c_str(), mode) == 0);
  };
  const std::string key_a = "k1:" + std::string(64, 'a') + "\n";
  const std::string key_b = "k1:" + std::string(64, 'b') + "\n";

  write_kek(key_a, 0644);
  check_refused(run_node(scratch, {"--kek-file", kek}), "chmod 600 " + kek);
  write_kek("k1:abc\n", 0600);
  check_refused(run_node(scratch, {"--kek-file", kek}), "line 1");
  check_refused(run_node(scratch, {"--kek-file", scratch.dir() + "/none"}),
                "openssl rand -hex 32");

  // The node runs with key a and records its check value ...
  write_kek(key_a, 0600);
  started_cluster c{with_flags({"--kek-file", kek}, one_node())};
  auto st = c.terminate(0, 15s);
  REQUIRE(st);
  REQUIRE(WIFEXITED(*st));
  // ... so another key under the same id is refused on its data dir.
  write_kek(key_b, 0600);
  const auto ep = c.endpoint(0);
  auto r = run_program(node_binary(),
                       {"--id", std::to_string(c.id(0)), "--listen", ep, "--data",
                        c.data_dir(0), "--peers", std::to_string(c.id(0)) + "=" + ep,
                        "--cluster-id", "itest", "--tls-dir",
                        node_tls_dir("itest", c.id(0)), "--kek-file", kek},
                       20s);
  check_refused(r, "key-encryption key 'k1' in " + kek + " is not the key");
  // With the right key it starts again.
  write_kek(key_a, 0600);
  c.spawn(0);
  CHECK(c.wait_for_leader(10s));
}

} // namespace conflux::itest
