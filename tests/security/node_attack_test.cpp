// Crafted BASP input against real conflux-node processes (docs/design.md,
// Testing tiers; the patches are listed in third_party/caf/README.md). Each
// case starts its own nodes on loopback, runs one conflux-attack subcommand
// (attacks.hpp) and checks that the attacked node
//   - is still up and serves a write and a read through the normal client,
//   - grew its peak resident set (VmHWM) by at most 64 MiB, and
//   - refused the attack: the connection closed or nothing answered, and its
//     log has CAF's refusal line for the reason, which also counts it.

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"
#include "tests/security/attacks.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#ifndef CONFLUX_ATTACK_BIN
#error "CONFLUX_ATTACK_BIN must be defined (path of the conflux-attack binary)"
#endif

namespace conflux::itest {

namespace {

using security::attack_report;

constexpr std::uint64_t mib = 1024 * 1024;
constexpr std::uint64_t max_growth = 64 * mib;

/// The peak resident set of `pid` (VmHWM in /proc/PID/status), in bytes.
std::optional<std::uint64_t> peak_rss(pid_t pid) {
  std::ifstream f{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream is{line.substr(6)};
      std::uint64_t kib = 0;
      if (is >> kib)
        return kib * 1024;
    }
  }
  return std::nullopt;
}

/// What a file holds from byte `offset` on.
std::string read_from(const std::string& path, std::size_t offset) {
  std::ifstream f{path, std::ios::binary};
  f.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

std::size_t file_size(const std::string& path) {
  std::ifstream f{path, std::ios::binary | std::ios::ate};
  return f ? static_cast<std::size_t>(f.tellg()) : 0;
}

/// A started cluster whose nodes are about to be attacked: remembers each
/// node's peak memory and log length before the attack.
class attacked_cluster {
public:
  explicit attacked_cluster(std::size_t nodes) : c_(one_shot(nodes)) {
    for (std::size_t i = 0; i < c_.size(); ++i) {
      auto hwm = peak_rss(c_.pid(i));
      REQUIRE_MESSAGE(hwm.has_value(), "cannot read VmHWM of node " << c_.id(i));
      peak_before_.push_back(*hwm);
      log_before_.push_back(file_size(c_.log_path(i)));
    }
  }

  cluster& nodes() { return c_; }

  /// Runs `conflux-attack NAME --target <node target> ARGS...`; fails the
  /// test unless the attack was delivered.
  attack_report attack(const std::string& name, std::size_t target,
                       std::vector<std::string> args = {}) {
    std::vector<std::string> full{name, "--target", c_.endpoint(target)};
    full.insert(full.end(), args.begin(), args.end());
    auto res = run_program(CONFLUX_ATTACK_BIN, full, 60s);
    INFO("conflux-attack " << name << ": " << res.describe());
    REQUIRE(res.exit_code == 0);
    auto line = res.out.substr(0, res.out.find('\n'));
    auto report = attack_report::parse(line);
    REQUIRE(report.has_value());
    REQUIRE(report->ran);
    return *report;
  }

  /// What node i logged since the cluster was started.
  std::string log_since_start(std::size_t i) const {
    return read_from(c_.log_path(i), log_before_[i]);
  }

  /// Node i survived the attack that it refuses for `reason`: it still runs,
  /// serves a write and a read, and its peak memory grew by at most 64 MiB.
  void check_survived(std::size_t i, const std::string& reason) {
    // Bounded poll for the attack's outcome: the node logged the refusal, or
    // it is no longer running (an unpatched node falls over).
    eventually(
        [&] {
          return c_.node_state(i) != cluster::state::running || refused(i, reason);
        },
        5s, 20ms);
    INFO("node " << c_.id(i));
    REQUIRE(c_.node_state(i) == cluster::state::running);
    auto hwm = peak_rss(c_.pid(i));
    REQUIRE(hwm.has_value());
    // (VmHWM only grows while a process lives; a dying one may report less.)
    auto growth = *hwm > peak_before_[i] ? *hwm - peak_before_[i] : 0;
    CHECK_MESSAGE(growth <= max_growth, "peak RSS grew by " << growth / mib << " MiB");
    const std::string key = "security/attack/prod/after.txt";
    auto cl = c_.make_client(5s, i);
    REQUIRE_OK(cl->write(make_create_config(key, "written after the attack")));
    auto v = cl->get_version(key, 1);
    REQUIRE_OK(v);
    CHECK(v->content == "written after the attack");
  }

  /// Node i's log says that CAF refused input for `reason` (the refusal
  /// line of the patched CAF's default drop reporter, which counts it too).
  void check_refused(std::size_t i, const std::string& reason) const {
    INFO("node " << c_.id(i) << " log since the start:\n" << log_since_start(i));
    CHECK(refused(i, reason));
  }

  /// Node i logged CAF's refusal line for `reason` since the start.
  bool refused(std::size_t i, const std::string& reason) const {
    return log_since_start(i).find("[caf] BASP refused input (" + reason + ")") !=
           std::string::npos;
  }

private:
  /// The attacks speak raw BASP, so the nodes run in plain text on loopback:
  /// mutual TLS would stop every one of them at the handshake, and these
  /// cases are about what the patched BASP does with what gets through.
  static cluster_options one_shot(std::size_t nodes) {
    cluster_options o;
    o.nodes = nodes;
    o.cluster_id = "security";
    o.plaintext = true;
    return with_flags({"--insecure-plaintext"}, std::move(o));
  }

  started_cluster c_;
  std::vector<std::uint64_t> peak_before_;
  std::vector<std::size_t> log_before_;
};

/// "peer link to node N (...) lost" in a log: the node dropped its link.
bool lost_peer_link(const std::string& log, std::uint64_t peer) {
  auto needle = "peer link to node " + std::to_string(peer) + " (";
  for (auto at = log.find(needle); at != std::string::npos;
       at = log.find(needle, at + 1)) {
    auto eol = log.find('\n', at);
    if (log.substr(at, eol - at).find(") lost:") != std::string::npos)
      return true;
  }
  return false;
}

} // namespace

TEST_CASE("a_basp_header_announcing_1_gib_is_refused_before_allocation") {
  attacked_cluster a{1};
  auto r = a.attack("oversized-header", 0, {"--wait-ms", "1000"});
  CHECK_MESSAGE(r.closed, "the node kept the connection open for the payload");
  a.check_survived(0, "oversized_payload");
  a.check_refused(0, "oversized_payload");
}

TEST_CASE("a_handshake_header_without_payload_is_refused_without_a_crash") {
  attacked_cluster a{1};
  auto r = a.attack("handshake-without-payload", 0, {"--wait-ms", "1000"});
  a.check_survived(0, "malformed_header");
  CHECK(r.closed);
  a.check_refused(0, "malformed_header");
}

TEST_CASE("a_message_before_the_handshake_closes_the_connection") {
  attacked_cluster a{1};
  // The node's own connection timeout (2.5 s) would close it too, later.
  auto r = a.attack("message-before-handshake", 0, {"--wait-ms", "1000"});
  CHECK_MESSAGE(r.closed, "the node served a connection that never introduced itself");
  a.check_survived(0, "before_handshake");
  a.check_refused(0, "before_handshake");
}

TEST_CASE("a_routed_message_is_dropped") {
  attacked_cluster a{2};
  // Through node 1 to node 2's endpoint, asking for a reply: relayed, the
  // reply would come back through node 1.
  auto r = a.attack("routed-message", 1,
                    {"--via", a.nodes().endpoint(0), "--wait-ms", "1500"});
  CHECK_MESSAGE(!r.answered, "node 1 relayed the request and node 2 answered it");
  a.check_survived(0, "routed");
  a.check_refused(0, "routed");
}

TEST_CASE("a_down_operation_naming_another_node_does_not_cut_a_peer_link") {
  attacked_cluster a{2};
  // A BASP down operation sent to node 1 claiming that node 2's endpoint went
  // down: node 1 would end its proxy of it, and its peer link to node 2 with it.
  a.attack("down-operation", 1, {"--via", a.nodes().endpoint(0), "--wait-ms", "500"});
  a.check_survived(0, "routed");
  auto log = a.log_since_start(0);
  INFO("node 1 log since the start:\n" << log);
  CHECK_FALSE(lost_peer_link(log, a.nodes().id(1)));
  a.check_refused(0, "routed");
}

TEST_CASE("a_remote_exit_message_does_not_kill_the_endpoint") {
  attacked_cluster a{1};
  a.attack("remote-exit", 0, {"--wait-ms", "500"});
  a.check_survived(0, "remote_system_message");
  a.check_refused(0, "remote_system_message");
}

TEST_CASE("a_remote_error_message_does_not_kill_the_endpoint") {
  attacked_cluster a{1};
  // An actor without an error handler quits on an error that answers nothing.
  a.attack("remote-error", 0, {"--wait-ms", "500"});
  a.check_survived(0, "remote_system_message");
  a.check_refused(0, "remote_system_message");
}

TEST_CASE("a_remote_link_request_does_not_tie_the_endpoint_to_the_attacker") {
  attacked_cluster a{1};
  // Link, then leave: a linked endpoint would die with the attacker's proxy.
  a.attack("remote-link", 0, {"--wait-ms", "500"});
  a.check_survived(0, "remote_system_message");
  a.check_refused(0, "remote_system_message");
}

TEST_CASE("a_forged_down_msg_does_not_cut_a_peer_link") {
  attacked_cluster a{2};
  // A down_msg naming node 2's endpoint, to every actor of node 1: its peer
  // link to node 2 would take it for the end of node 2.
  a.attack(
      "forged-down-msg", 1,
      {"--via", a.nodes().endpoint(0), "--max-actor-id", "400", "--wait-ms", "500"});
  a.check_survived(0, "remote_system_message");
  auto log = a.log_since_start(0);
  INFO("node 1 log since the start:\n" << log);
  CHECK_FALSE(lost_peer_link(log, a.nodes().id(1)));
  a.check_refused(0, "remote_system_message");
}

TEST_CASE("a_message_nested_35000_deep_is_refused_without_a_crash") {
  attacked_cluster a{1};
  auto r = a.attack("nested-message", 0, {"--depth", "35000", "--wait-ms", "1000"});
  a.check_survived(0, "nesting_too_deep");
  CHECK_MESSAGE(r.closed, "the node kept the connection of a peer that sent it");
  a.check_refused(0, "nesting_too_deep");
}

TEST_CASE("a_config_value_nested_100000_deep_is_refused_without_a_crash") {
  attacked_cluster a{1};
  auto r =
      a.attack("nested-config-value", 0, {"--depth", "100000", "--wait-ms", "1000"});
  a.check_survived(0, "nesting_too_deep");
  CHECK_MESSAGE(r.closed, "the node kept the connection of a peer that sent it");
  a.check_refused(0, "nesting_too_deep");
}

TEST_CASE("a_byte_buffer_announcing_1_gib_is_refused_before_allocation") {
  attacked_cluster a{1};
  auto r = a.attack("huge-byte-buffer", 0, {"--wait-ms", "1000"});
  a.check_survived(0, "undeserializable");
  // It holds 16 bytes: it fails to deserialize, which closes the connection.
  CHECK(r.closed);
  a.check_refused(0, "undeserializable");
}

TEST_CASE("a_variant_with_an_unknown_type_tag_is_refused_without_a_crash") {
  attacked_cluster a{1};
  auto r = a.attack("unknown-variant-tag", 0, {"--wait-ms", "1000"});
  a.check_survived(0, "undeserializable");
  CHECK_MESSAGE(r.closed, "the node kept the connection of a peer that sent it");
  a.check_refused(0, "undeserializable");
}

// The patches drop down messages a peer sends and down operations naming
// another node, but not the ones that tell a node that a peer went away: a
// lost connection still ends every proxy of the lost node.
TEST_CASE("a_peer_link_still_learns_that_its_peer_went_away") {
  attacked_cluster a{2};
  a.nodes().kill9(1);
  bool lost = eventually(
      [&] { return lost_peer_link(a.log_since_start(0), a.nodes().id(1)); }, 5s);
  INFO("node 1 log since the start:\n" << a.log_since_start(0));
  CHECK(lost);
  // (Alone, node 1 has no quorum for a write: only check that it runs.)
  CHECK(a.nodes().node_state(0) == cluster::state::running);
}

} // namespace conflux::itest
