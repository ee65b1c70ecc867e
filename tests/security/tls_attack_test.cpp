// Attacks on a real 3-node cluster that speaks mutual TLS (docs/security.md,
// "The security test tier"), by conflux-attack three ways:
//   - without a certificate: refused at the TLS handshake, nothing reaches
//     the node's message layer;
//   - with a valid client certificate of the cluster: the patched BASP
//     refuses the crafted input, and the node drops Raft traffic and
//     snapshot chunks from a client identity;
//   - with node 2's certificate, claiming to be node 3: the node drops Raft
//     traffic and snapshot chunks whose sender is not the member its
//     connection proved to be;
// plus a certificate of a foreign CA, one of another cluster, plain BASP to
// the TLS port and a connect/close storm. Writers write throughout every
// case; each case ends by checking that every node is up, grew its peak
// resident set by at most 64 MiB, and serves every acknowledged write
// exactly once.

#include "actors/tls_certs.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"
#include "tests/security/attacks.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
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
const std::string cluster_name = "security";
const std::string stream_key = "security/tls/prod/stream.txt";
const std::string forged_key = "security/forged/prod/owned.txt";
/// Higher than any term a healthy test cluster reaches.
constexpr std::uint64_t forged_term = 1000;
/// The address the forged peer batches claim their sender listens on.
const std::string forged_address = "127.0.0.1:9";

/// The one line the node logs for every refused TLS handshake.
const std::string tls_refusal = "TLS: refused the connection with 127.0.0.1:";

// The counters of the node's identity checks on the Raft channel.
const std::string client_identity_drops = "raft.dropped.client_identity";
const std::string identity_mismatch_drops = "raft.dropped.identity_mismatch";

// The counters of the client limits and of the ownership checks.
const std::string not_owner_refusals = "session.refused.not_owner";
const std::string not_owner_watch_drops = "watch.dropped.not_owner";
const std::string per_connection_refusals = "session.refused.per_connection";
/// The node's default --max-sessions-per-connection.
constexpr long sessions_per_connection = 64;

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

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

template <class T>
T ok_or_throw(actors::cert_result<T> r) {
  if (!r.ok())
    throw std::runtime_error(actors::to_string(r.err()));
  return std::move(*r);
}

/// A node credential directory (leaf "node") for node 2 of `cluster`,
/// issued by a CA of that cluster that the test cluster does not trust.
std::string foreign_ca_node_dir(const std::string& cluster, const std::string& dir) {
  auto ca_pem =
      ok_or_throw(actors::make_cluster_ca(cluster, actors::valid_for_days(2)));
  auto ca =
      ok_or_throw(actors::parse_cluster_ca(ca_pem, "foreign CA", "foreign CA key"));
  auto pem =
      ok_or_throw(actors::issue_node_certificate(ca, 2, {}, actors::valid_for_days(1)));
  auto w = actors::write_leaf_dir(dir, "node", pem, ca, actors::overwrite::refuse);
  if (!w.ok())
    throw std::runtime_error(actors::to_string(w.err()));
  return dir;
}

/// How the attacker presents itself.
struct credentials {
  std::vector<std::string> args;
  const char* what;
};

credentials no_certificate() {
  return {{"--no-cert"}, "no certificate"};
}
credentials client_certificate() {
  return {{"--tls-dir", client_tls_dir(cluster_name), "--leaf", "client"},
          "a client certificate of the cluster"};
}
/// A client certificate of the cluster with its own identity, not the
/// writers' and victims' (conflux://security/client/mallory). It presents the
/// fixture's admin token, the victims' own: what refuses it here is the
/// certificate identity its session is bound to (authz_cli_test.cpp tests
/// the same with another principal's token).
credentials mallory_certificate() {
  return {{"--tls-dir", client_tls_dir(cluster_name, "mallory"), "--leaf", "client",
           "--cluster", cluster_name, "--client-name", "mallory", "--token",
           admin_token()},
          "another client's certificate (mallory)"};
}
credentials node_2_certificate() {
  return {{"--tls-dir", node_tls_dir(cluster_name, 2), "--leaf", "node"},
          "node 2's certificate"};
}

/// A started 3-node TLS cluster under attack, with writers writing to one
/// key from the start to finish(). Remembers each node's peak memory, log
/// length and counters before the attacks.
class cluster_under_attack {
public:
  cluster_under_attack() : c_(options()) {
    for (std::size_t i = 0; i < c_.size(); ++i) {
      auto hwm = peak_rss(c_.pid(i));
      REQUIRE_MESSAGE(hwm.has_value(), "cannot read VmHWM of node " << c_.id(i));
      peak_before_.push_back(*hwm);
      log_before_.push_back(file_size(c_.log_path(i)));
      counters_before_.push_back(counters(i));
    }
    REQUIRE_OK(c_.make_client()->write(make_create_config(stream_key, "initial")));
    std::vector<std::unique_ptr<actors::client>> clients;
    for (std::size_t k = 0; k < 2; ++k)
      clients.push_back(std::make_unique<actors::client>(
          runtime(cluster_name),
          c_.client_options(5s, k, "security-writer-" + std::to_string(k))));
    writers_ = std::make_unique<writer_pool>(std::move(clients), stream_key, "w",
                                             100000, 100s);
    REQUIRE(writers_->wait_acks(5, 10s));
  }

  started_cluster& nodes() { return c_; }
  writer_pool& writers() { return *writers_; }

  /// Runs `conflux-attack NAME --target <node i> ARGS... <credential args>`
  /// and returns its report (the caller checks whether it ran).
  attack_report attack(const std::string& name, std::size_t target,
                       const credentials& cred, std::vector<std::string> args = {}) {
    std::vector<std::string> full{name, "--target", c_.endpoint(target)};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), cred.args.begin(), cred.args.end());
    auto res = run_program(CONFLUX_ATTACK_BIN, full, 60s);
    INFO("conflux-attack " << name << " with " << cred.what << ": " << res.describe());
    REQUIRE((res.exit_code == 0 || res.exit_code == 1));
    // The report is the line starting "ran=" (the Raft attacks' CAF system
    // may log lines of its own before it).
    auto at = res.out.rfind("ran=");
    REQUIRE(at != std::string::npos);
    auto report = attack_report::parse(res.out.substr(at, res.out.find('\n', at) - at));
    REQUIRE(report.has_value());
    return *report;
  }

  /// Node i's counters now (empty if it does not answer).
  std::map<std::string, std::uint64_t> counters(std::size_t i) {
    auto st = c_.status(i);
    return st.ok() ? st->counters : std::map<std::string, std::uint64_t>{};
  }

  /// How much counter `name` of node i grew since the start.
  std::uint64_t counter_growth(std::size_t i, const std::string& name) {
    auto now = counters(i);
    auto at = [&](const std::map<std::string, std::uint64_t>& m) {
      auto it = m.find(name);
      return it == m.end() ? std::uint64_t{0} : it->second;
    };
    auto after = at(now);
    auto before = at(counters_before_[i]);
    return after > before ? after - before : 0;
  }

  /// Polls (bounded) until counter `name` of node i grew by at least `n`.
  bool counter_grows(std::size_t i, const std::string& name, std::uint64_t n) {
    return eventually([&] { return counter_growth(i, name) >= n; }, 5s);
  }

  /// The counters of node i whose names start with `prefix` and grew.
  std::string grown_counters(std::size_t i, const std::string& prefix) {
    std::string out;
    for (const auto& entry : counters(i)) {
      const auto& name = entry.first;
      if (name.rfind(prefix, 0) == 0 && counter_growth(i, name) > 0)
        out += name + "+" + std::to_string(counter_growth(i, name)) + " ";
    }
    return out;
  }

  /// What node i logged since the cluster was started.
  std::string log_since_start(std::size_t i) const {
    return read_from(c_.log_path(i), log_before_[i]);
  }

  /// Polls (bounded) until node i logged `text` at least `n` times.
  bool logs(std::size_t i, const std::string& text, std::size_t n = 1) {
    return eventually([&] { return count_of(log_since_start(i), text) >= n; }, 5s);
  }

  /// No node's term reached the forged one, no node took the forged
  /// address for its leader's and none holds the forged config.
  void check_not_taken_over() {
    for (std::size_t i = 0; i < c_.size(); ++i) {
      INFO("node " << c_.id(i));
      auto st = status_of(c_, i);
      CHECK_MESSAGE(st.term < forged_term, "the node took the forged term " << st.term);
      CHECK(st.leader_address != forged_address);
      auto cfg = c_.make_node_client(i)->get_config(forged_key,
                                                    actors::consistency::serializable);
      CHECK_ERRC(cfg, errc::not_found);
    }
  }

  /// Every node survived: it still runs, the cluster has a leader, each
  /// node's peak memory grew by at most 64 MiB, and every node serves every
  /// acknowledged write exactly once.
  void finish() {
    // Bounded poll: a node that the attacks brought down has exited (or
    // stopped answering) by the time a leader is found, or soon after.
    REQUIRE(c_.wait_for_leader(10s).has_value());
    for (std::size_t i = 0; i < c_.size(); ++i) {
      INFO("node " << c_.id(i));
      CHECK(eventually([&] { return c_.status(i).ok(); }, 5s));
      REQUIRE(c_.node_state(i) == cluster::state::running);
      auto hwm = peak_rss(c_.pid(i));
      REQUIRE(hwm.has_value());
      auto growth = *hwm > peak_before_[i] ? *hwm - peak_before_[i] : 0;
      CHECK_MESSAGE(growth <= max_growth,
                    "peak RSS grew by " << growth / mib << " MiB");
    }
    const auto acks_before_stop = writers_->acks();
    CHECK(writers_->wait_acks(acks_before_stop + 3, 10s));
    writers_->stop();
    MESSAGE(writers_->summary());
    auto leader = c_.wait_for_leader(10s);
    REQUIRE(leader.has_value());
    const auto commit = status_of(c_, *leader).commit;
    auto outcomes = writers_->outcomes();
    for (std::size_t i = 0; i < c_.size(); ++i) {
      INFO("node " << c_.id(i));
      auto served = wait_until_serves(c_, i, stream_key, commit);
      check_applied_once(served.versions, outcomes);
    }
  }

private:
  static cluster_options options() {
    cluster_options o;
    o.nodes = 3;
    o.cluster_id = cluster_name;
    return o;
  }

  started_cluster c_;
  std::vector<std::uint64_t> peak_before_;
  std::vector<std::size_t> log_before_;
  std::vector<std::map<std::string, std::uint64_t>> counters_before_;
  std::unique_ptr<writer_pool> writers_;
};

/// An attack of the BASP table and the refusal it must meet.
struct basp_attack {
  const char* name;
  /// The transport.dropped.<reason> counter it adds to.
  const char* reason;
  /// The node must close the connection (else: must not answer).
  bool closes;
};

const std::vector<basp_attack>& basp_table() {
  static const std::vector<basp_attack> table{
      {"oversized-header", "oversized_payload", true},
      {"handshake-without-payload", "malformed_header", true},
      {"message-before-handshake", "before_handshake", true},
      {"routed-message", "routed", false},
      {"remote-exit", "remote_system_message", false},
      {"remote-link", "remote_system_message", false},
      {"nested-message", "nesting_too_deep", true},
      {"huge-byte-buffer", "undeserializable", true},
  };
  return table;
}

/// Runs the BASP table against node `target` with `cred`, which passes the
/// TLS handshake: each attack is delivered and refused, and counted by the
/// node under its reason.
void basp_table_is_refused(cluster_under_attack& a, std::size_t target,
                           const credentials& cred) {
  const std::size_t via = (target + 1) % a.nodes().size();
  for (const auto& attack : basp_table()) {
    INFO(attack.name << " with " << cred.what);
    std::vector<std::string> args{"--wait-ms", "1000"};
    if (std::string{attack.name} == "routed-message")
      args.insert(args.end(), {"--via", a.nodes().endpoint(via)});
    const auto watched = std::string{attack.name} == "routed-message" ? via : target;
    const auto counter = std::string{"transport.dropped."} + attack.reason;
    const auto before = a.counter_growth(watched, counter);
    auto r = a.attack(attack.name, target, cred, args);
    REQUIRE_MESSAGE(r.ran, "not delivered: " << r.error);
    if (attack.closes)
      CHECK_MESSAGE(r.closed, "the node kept the connection open");
    else
      CHECK_MESSAGE(!r.answered, "the node answered the attacker");
    CHECK_MESSAGE(a.counter_grows(watched, counter, before + 1),
                  counter << " did not grow; grown: "
                          << a.grown_counters(watched, "transport."));
  }
}

/// Sends node `target` a forged peer batch, a poison entry and a snapshot
/// chunk with `cred` and `args`: each is answered with permission_denied.
void raft_traffic_is_refused(cluster_under_attack& a, std::size_t target,
                             const credentials& cred,
                             const std::vector<std::string>& args) {
  const auto denied = static_cast<long>(errc::permission_denied);
  for (const char* name :
       {"forged-peer-batch", "poison-entry", "forged-snapshot-chunk"}) {
    INFO(name << " with " << cred.what);
    auto r = a.attack(name, target, cred, args);
    REQUIRE_MESSAGE(r.ran, r.error);
    CHECK_MESSAGE(r.reply_code == denied,
                  "answered with code " << r.reply_code << " " << r.error);
  }
}

/// Reads `watch` (bounded) until it delivers an event of `key` at
/// `revision` or later.
bool delivers(actors::watch_stream& watch, const std::string& key,
              std::uint64_t revision) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto n = watch.next(500ms);
    if (!n.ok())
      return false;
    if (*n && (*n)->event.key == key && (*n)->event.revision >= revision)
      return true;
  }
  return false;
}

/// Node i serves `key` (a serializable read, bounded poll).
bool serves(started_cluster& c, std::size_t i, const std::string& key) {
  return eventually(
      [&] {
        return c.make_node_client(i)
            ->get_config(key, actors::consistency::serializable)
            .ok();
      },
      5s);
}

} // namespace

TEST_CASE("without_a_certificate_every_attack_is_refused_at_the_tls_handshake") {
  cluster_under_attack a;
  const std::size_t target = a.nodes().first_leader();
  std::size_t attacks = 0;
  for (const auto& attack : basp_table()) {
    INFO(attack.name);
    std::vector<std::string> args{"--wait-ms", "500"};
    if (std::string{attack.name} == "routed-message")
      args.insert(args.end(), {"--via", a.nodes().endpoint((target + 1) % 3)});
    auto r = a.attack(attack.name, target, no_certificate(), args);
    CHECK_FALSE(r.ran);
    CHECK_MESSAGE(r.tls_refused, "not refused at the TLS handshake: " << r.error);
    ++attacks;
  }
  auto r = a.attack("header-first", target, no_certificate());
  CHECK(r.tls_refused);
  ++attacks;
  // One log line per refused handshake, naming the address and the reason;
  // and nothing reached the message layer.
  CHECK(a.logs(target, tls_refusal, attacks));
  INFO("node log since the start:\n" << a.log_since_start(target));
  for (std::size_t i = 0; i < a.nodes().size(); ++i)
    CHECK_MESSAGE(a.grown_counters(i, "transport.dropped.").empty(),
                  "node " << a.nodes().id(i) << ": "
                          << a.grown_counters(i, "transport.dropped."));
  // Each refused handshake is counted by the TLS layer.
  CHECK(a.counter_grows(target, "transport.refused.tls_handshake", attacks));
  a.finish();
}

TEST_CASE("with_a_client_certificate_every_basp_attack_is_refused_and_counted") {
  cluster_under_attack a;
  basp_table_is_refused(a, a.nodes().first_leader(), client_certificate());
  a.finish();
}

TEST_CASE("a_client_certificate_sending_raft_traffic_is_dropped_and_counted") {
  cluster_under_attack a;
  const std::size_t target = a.nodes().first_leader();
  auto st = status_of(a.nodes(), target);
  auto raft_args = [&](std::uint64_t from) {
    return std::vector<std::string>{
        "--cluster",      cluster_name,
        "--from",         std::to_string(from),
        "--to",           std::to_string(a.nodes().id(target)),
        "--term",         std::to_string(forged_term),
        "--prev-index",   std::to_string(st.commit),
        "--prev-term",    std::to_string(st.term),
        "--key",          forged_key,
        "--from-address", forged_address,
        "--wait-ms",      "2000"};
  };
  // It claims to be another member, then a node that does not exist.
  const std::uint64_t member = a.nodes().id((target + 1) % 3);
  for (auto from : {member, std::uint64_t{999}}) {
    INFO("claiming node " << from);
    raft_traffic_is_refused(a, target, client_certificate(), raft_args(from));
  }
  CHECK_MESSAGE(a.counter_grows(target, client_identity_drops, 6),
                "grown: " << a.grown_counters(target, ""));
  a.check_not_taken_over();
  a.finish();
}

TEST_CASE("node_2_claiming_to_be_node_3_on_the_raft_channel_is_dropped_and_counted") {
  cluster_under_attack a;
  // Node 1 is attacked (whatever its role): node 2's certificate is genuine,
  // the claim to be node 3 is not.
  const std::size_t target = 0;
  auto st = status_of(a.nodes(), target);
  const std::vector<std::string> raft_args{
      "--cluster",      cluster_name,
      "--from",         "3",
      "--to",           "1",
      "--term",         std::to_string(forged_term),
      "--prev-index",   std::to_string(st.commit),
      "--prev-term",    std::to_string(st.term),
      "--key",          forged_key,
      "--from-address", forged_address,
      "--wait-ms",      "2000"};
  raft_traffic_is_refused(a, target, node_2_certificate(), raft_args);
  CHECK_MESSAGE(a.counter_grows(target, identity_mismatch_drops, 3),
                "grown: " << a.grown_counters(target, ""));
  a.check_not_taken_over();
  a.finish();
}

TEST_CASE("with_node_2s_certificate_every_basp_attack_is_refused_and_counted") {
  cluster_under_attack a;
  basp_table_is_refused(a, 0, node_2_certificate());
  a.finish();
}

TEST_CASE("a_certificate_of_a_foreign_ca_is_refused_at_the_tls_handshake") {
  cluster_under_attack a;
  // Node 2 of this very cluster, says the certificate; its CA is not ours.
  auto dir = foreign_ca_node_dir(cluster_name, a.nodes().dir() + "/foreign-ca");
  credentials foreign{{"--tls-dir", dir, "--leaf", "node"},
                      "a foreign CA's certificate"};
  auto r = a.attack("oversized-header", 0, foreign);
  CHECK_FALSE(r.ran);
  CHECK_MESSAGE(r.tls_refused, r.error);
  CHECK(a.logs(0, tls_refusal));
  CHECK(a.grown_counters(0, "transport.dropped.").empty());
  CHECK(a.counter_grows(0, "transport.refused.tls_handshake", 1));
  a.finish();
}

TEST_CASE("a_certificate_of_another_cluster_is_refused_at_the_tls_handshake") {
  cluster_under_attack a;
  // A genuine node 2, of another cluster (its own CA).
  credentials other{{"--tls-dir", node_tls_dir("other-cluster", 2), "--leaf", "node"},
                    "another cluster's certificate"};
  auto r = a.attack("oversized-header", 0, other);
  CHECK_FALSE(r.ran);
  CHECK_MESSAGE(r.tls_refused, r.error);
  CHECK(a.logs(0, tls_refusal));
  CHECK(a.grown_counters(0, "transport.dropped.").empty());
  CHECK(a.counter_grows(0, "transport.refused.tls_handshake", 1));
  a.finish();
}

TEST_CASE("plain_basp_to_a_tls_port_is_refused_without_allocation") {
  cluster_under_attack a;
  credentials plain{{}, "plain text"};
  // 32 bytes announcing 1 GiB where the node expects a TLS handshake.
  auto r = a.attack("header-first", 0, plain, {"--wait-ms", "2000"});
  REQUIRE_MESSAGE(r.ran, r.error);
  CHECK_MESSAGE(r.closed, "the node kept a plain-text connection open");
  // A plain BASP peer waits for the node's greeting, which never comes.
  r = a.attack("probe-endpoint", 0, plain);
  CHECK_FALSE(r.ran);
  CHECK(a.grown_counters(0, "transport.dropped.").empty());
  a.finish();
}

TEST_CASE("a_connect_close_storm_during_writes_drops_no_healthy_connection") {
  cluster_under_attack a;
  const auto acks_before = a.writers().acks();
  // Every node is stormed in turn with bare connects, TLS handshakes without
  // a certificate and BASP bytes in plain text, each closed at once.
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    auto r = a.attack("connect-storm", i, no_certificate(), {"--count", "300"});
    REQUIRE_MESSAGE(r.ran, r.error);
    CHECK(r.tls_refused);
  }
  // The writers went on meanwhile, and no node lost a peer link.
  CHECK(a.writers().acks() > acks_before);
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    auto log = a.log_since_start(i);
    INFO("node " << a.nodes().id(i) << " log since the start:\n" << log);
    CHECK(log.find(") lost:") == std::string::npos);
  }
  a.finish();
}

TEST_CASE("another_clients_session_and_watch_are_refused_to_a_client_certificate") {
  cluster_under_attack a;
  const std::size_t target = a.nodes().first_leader();
  const std::string victim_key = "security/victim/prod/config.txt";
  const std::string victim_key_2 = "security/victim/prod/second.txt";
  // The victim (identity "itest") writes through its exactly-once session
  // and watches its key, both on the node attacked.
  actors::client victim{runtime(cluster_name),
                        a.nodes().client_options(5s, target, "victim")};
  auto created = victim.write(make_create_config(victim_key, "v1"));
  REQUIRE_OK(created);
  const auto session = victim.session();
  REQUIRE(session != 0);
  actors::watch_options w;
  w.key = victim_key;
  w.from_revision = created->revision + 1;
  actors::watch_stream watch{runtime(cluster_name),
                             a.nodes().client_options(5s, target, "victim-watch"), w};
  auto v2 = victim.write(make_create_version(victim_key, "v2"));
  REQUIRE_OK(v2);
  REQUIRE(delivers(watch, victim_key, v2->revision));

  // Mallory guesses session ids 1 to 64, then is told the victim's real one,
  // and writes on them with the victim's next sequence number (the session
  // was opened and then wrote twice: 2 is taken, 3 is next).
  auto r = a.attack("foreign-session-write", target, mallory_certificate(),
                    {"--session", std::to_string(session), "--sequence", "3",
                     "--guesses", "64", "--key", forged_key, "--wait-ms", "5000"});
  REQUIRE_MESSAGE(r.ran, r.error);
  CHECK_MESSAGE(r.reply_code == static_cast<long>(errc::permission_denied),
                "answered with code " << r.reply_code << " " << r.error);
  CHECK_MESSAGE(r.granted == 0, r.granted << " forged writes applied");
  CHECK(r.refused == 1);
  CHECK_MESSAGE(a.counter_grows(target, not_owner_refusals, 1),
                "grown: " << a.grown_counters(target, "session."));
  // The victim's own write with that sequence number applies, and reaches
  // every node.
  REQUIRE_OK(victim.write(make_create_config(victim_key_2, "mine")));
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    INFO("node " << a.nodes().id(i));
    CHECK(serves(a.nodes(), i, victim_key_2));
  }

  // Mallory acks and cancels every watch id 1 to 64 through its own session,
  // then reads the victim's key there (answered once all of them were
  // forwarded).
  r = a.attack("foreign-watch-ack", target, mallory_certificate(),
               {"--count", "64", "--key", victim_key, "--wait-ms", "5000"});
  REQUIRE_MESSAGE(r.ran, r.error);
  CHECK_MESSAGE(r.reply_code == 0, r.error);
  // The victim's ack and cancel, each dropped and counted.
  CHECK_MESSAGE(a.counter_grows(target, not_owner_watch_drops, 2),
                "grown: " << a.grown_counters(target, "watch."));
  // The watch still delivers.
  auto v3 = victim.write(make_create_version(victim_key, "v3"));
  REQUIRE_OK(v3);
  CHECK(delivers(watch, victim_key, v3->revision));
  CHECK(watch.resumes() == 0);
  a.check_not_taken_over();
  a.finish();
}

TEST_CASE("a_session_flood_and_idle_sockets_are_bounded_and_the_node_keeps_serving") {
  cluster_under_attack a;
  // 5,000 hellos over one connection: 64 sessions, the rest refused.
  constexpr long hellos = 5000;
  auto r = a.attack("session-flood", 0, mallory_certificate(),
                    {"--count", std::to_string(hellos), "--wait-ms", "5000"});
  REQUIRE_MESSAGE(r.ran, r.error);
  CHECK_MESSAGE(r.granted == sessions_per_connection, r.granted << " sessions granted");
  CHECK_MESSAGE(r.refused == hellos - sessions_per_connection, r.error);
  CHECK_MESSAGE(r.reply_code == static_cast<long>(errc::resource_exhausted), r.error);
  CHECK_MESSAGE(
      a.counter_grows(0, per_connection_refusals, hellos - sessions_per_connection),
      "grown: " << a.grown_counters(0, "session."));
  // A normal client still gets a session there.
  CHECK(serves(a.nodes(), 0, stream_key));

  // 50 connections that never start TLS: the node closes them all within
  // its TLS handshake timeout (10 s), and serves meanwhile.
  const auto acks_before = a.writers().acks();
  r = a.attack("idle-sockets", 1, credentials{{}, "plain text"},
               {"--count", "50", "--wait-ms", "15000"});
  REQUIRE_MESSAGE(r.ran, r.error);
  CHECK(r.granted == 50);
  CHECK_MESSAGE(r.closed, r.refused << " of 50 idle connections closed within 15 s");
  MESSAGE("the last idle connection was closed after " << r.closed_after_ms << " ms");
  // One refusal line each, naming the timeout.
  CHECK(a.logs(1, tls_refusal, 50));
  CHECK(a.logs(1, "no TLS and BASP handshake within", 50));
  CHECK(a.writers().acks() > acks_before);
  CHECK(serves(a.nodes(), 1, stream_key));
  a.finish();
}

} // namespace conflux::itest
