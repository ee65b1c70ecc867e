#pragma once
// Integration-test fixture (docs/design.md, Testing tiers, tier 5): a cluster of real
// `conflux-node` processes on 127.0.0.1, started with fork/execv, plus a helper
// that runs the `conflux` CLI binary and captures its output.
//
// Rules this fixture keeps:
// - It only ever signals the PIDs it started itself (never by name), and it
//   reaps every one of them: the destructor SIGKILLs whatever still runs.
// - Every wait is bounded in time and in iterations.
// - Each cluster lives in its own temp dir (mkdtemp under $TMPDIR or /tmp):
//   node<i>/ is node i's data dir, node<i>.log its stderr+stdout. The dir is
//   removed at the end unless CONFLUX_KEEP_TEST_DIRS is set or the current
//   test failed; then its path (and the tail of every node log) is printed.
//   CONFLUX_ITEST_LOG_LEVEL=debug passes --log-level debug to every node.
// - Children get PR_SET_PDEATHSIG(SIGKILL), so a test binary killed by a
//   CTest timeout does not leave nodes behind. (The signal follows the thread
//   that forked; the fixture is meant to be driven from the test's thread.)
// Forking, reaping and port picking are the shared helpers of
// apps/chaos/process.hpp (also used by conflux-chaos).

#include "actors/client.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace conflux::itest {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

/// The client_runtime (CAF actor system) of the test process for a cluster
/// id, with a client certificate of that cluster; created on first use (so
/// `--list-test-cases` never starts CAF).
actors::client_runtime& runtime(const std::string& cluster_id = "itest");
struct cluster_options;
/// The runtime for a cluster's clients: its cluster id's, or a plain-text one.
actors::client_runtime& client_runtime_of(const cluster_options& o);
/// Destroys the runtimes (main calls it after the tests, before exit).
void shutdown_runtime();

/// Directories with node.crt/node.key/ca.crt (for --tls-dir of conflux-node)
/// and client.crt/client.key/ca.crt (for the CLI), made on first use by the
/// test process's own CA of that cluster id.
std::string node_tls_dir(const std::string& cluster_id, std::uint64_t node_id);
std::string client_tls_dir(const std::string& cluster_id);
/// The same for the client identity `name` (conflux://CLUSTER/client/NAME);
/// client_tls_dir(cluster_id) holds the identity "itest".
std::string client_tls_dir(const std::string& cluster_id, const std::string& name);

/// The test process's admin token ("cfx_" + 64 hex, random, made on first
/// use). Every cluster's nodes start with --bootstrap-token-hash of it
/// (unless cluster_options::bootstrap is off) and every client the fixture
/// makes presents it, so tests that are not about authorization run as the
/// bootstrap principal "admin" (cluster-admin).
const std::string& admin_token();
/// auth::token_hash(admin_token()).
std::string admin_token_hash();
/// A file (mode 0600) holding admin_token(); run_cli passes it to the CLI in
/// CONFLUX_TOKEN_FILE unless the test sets that variable itself.
std::string admin_token_file();
/// A file (mode 0600) holding `token`, in the fixture's temp dir (for a CLI
/// run as another principal).
std::string token_file(const std::string& token);
/// A new random token (not known to any cluster until created).
std::string random_token();

/// True once a doctest assertion failed in the running test case (set by a
/// listener in main.cpp, reset when a test case starts).
bool current_test_failed();

/// Output of one CLI run.
struct cli_result {
  /// The exit code; -1 if it did not exit normally (signal, timeout, spawn
  /// failure).
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
  /// For messages: "exit=N stdout=... stderr=...".
  std::string describe() const;
};

/// Runs CONFLUX_CLI_BIN with `args` (stdin from /dev/null), capturing stdout
/// and stderr. Killed with SIGKILL (and reported as timed_out) after `limit`.
cli_result run_cli(std::vector<std::string> args, ms limit = 30s);
/// The same for any program (the process is killed at `limit`).
cli_result run_program(const std::string& binary, const std::vector<std::string>& args,
                       ms limit = 30s);

/// Path of the CLI binary under test.
const char* cli_binary();
/// Path of the node binary under test.
const char* node_binary();

/// Writes `bytes` to `path` (truncating). Throws on failure.
void write_file(const std::string& path, const std::string& bytes);

/// The last `n` lines of a text file ("" if it cannot be read).
std::string tail_lines(const std::string& path, std::size_t n);

class cluster;

struct cluster_options {
  std::size_t nodes = 3;
  std::string cluster_id = "itest";
  /// Nodes start without --tls-dir (give --insecure-plaintext by with_flags);
  /// the fixture's own clients cannot talk to them.
  bool plaintext = false;
  /// The environment variable CONFLUX_ITEST_LOG_LEVEL overrides it.
  std::string log_level = "info";
  /// Nodes start with --bootstrap-token-hash of admin_token() (the default);
  /// off: no bootstrap flag at all (a cluster nobody can use yet).
  bool bootstrap = true;
  /// Bound for start(): every node answers status and a leader exists.
  ms start_timeout = 20s;
  /// The arguments node i is started with (after the binary path). Called at
  /// every spawn, so it sees the ports and dirs of that start (start() may
  /// pick fresh ports and retry). Unset: cluster::default_node_args(i).
  std::function<std::vector<std::string>(const cluster&, std::size_t)> node_args;
};

/// Options whose nodes get `flags` after their usual ones (e.g.
/// {"--snapshot-entries", "10"}).
cluster_options with_flags(std::vector<std::string> flags, cluster_options base = {});
/// Options of `nodes` nodes where the first `initial` bootstrap the cluster
/// (--peers lists only them) and the others start with --join and wait to be
/// added; every node also gets `flags`.
cluster_options with_joiners(std::size_t nodes, std::size_t initial,
                             std::vector<std::string> flags = {});

class cluster {
public:
  enum class state { not_started, running, stopped, exited };

  /// Creates the temp dir and picks ports; starts nothing.
  explicit cluster(cluster_options opts = {});
  /// SIGKILLs and reaps every still-running child, removes the temp dir
  /// (kept and printed when CONFLUX_KEEP_TEST_DIRS is set or the test failed).
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Starts every node and waits until each answers status_of and a leader
  /// exists. If a node exits before it is ready (e.g. its port was taken in
  /// the meantime), all nodes are killed, the data dirs wiped, fresh ports
  /// picked and the whole start retried (at most 3 attempts). Returns false
  /// (after printing the node logs) if it never got there.
  bool start();

  /// The options in effect (CONFLUX_ITEST_LOG_LEVEL applied).
  const cluster_options& options() const noexcept { return opts_; }
  std::size_t size() const noexcept { return nodes_.size(); }
  /// Raft server id of node index i (ids are i + 1).
  std::uint64_t id(std::size_t i) const noexcept { return i + 1; }
  /// Node index of a Raft server id; nullopt if not one of ours.
  std::optional<std::size_t> index_of(std::uint64_t id) const noexcept;
  /// "127.0.0.1:PORT" of node i.
  std::string endpoint(std::size_t i) const;
  std::vector<std::string> endpoints() const;
  /// "127.0.0.1:P1,127.0.0.1:P2,..." (for the CLI's --endpoints).
  std::string endpoints_csv() const;
  const std::string& dir() const noexcept { return dir_; }
  std::string data_dir(std::size_t i) const;
  std::string log_path(std::size_t i) const;
  pid_t pid(std::size_t i) const noexcept { return nodes_[i].pid; }
  /// Refreshes the state of node i (reaps it if it exited) and returns it.
  state node_state(std::size_t i);
  /// The wait status of an exited node (as from waitpid).
  std::optional<int> exit_status(std::size_t i) const;
  /// The flags a node is started with unless cluster_options::node_args says
  /// otherwise: --id, --listen, --data, --peers (every node), --cluster-id,
  /// --log-level, --tls-dir (unless plaintext), --bootstrap-token-hash (unless
  /// bootstrap is off).
  std::vector<std::string> default_node_args(std::size_t i) const;
  /// default_node_args(i) with --peers listing only the nodes `members`
  /// (none: no --peers at all).
  std::vector<std::string>
  node_args_with_peers(std::size_t i, const std::vector<std::size_t>& members) const;

  /// Spawns node i (same port, same data dir as before) without waiting.
  void spawn(std::size_t i);
  /// Waits until node i answers status_of. False if it exited or the time ran
  /// out.
  bool wait_ready(std::size_t i, ms limit = 15s);

  /// SIGKILL + reap.
  void kill9(std::size_t i);
  /// SIGSTOP (the process keeps its sockets but answers nothing).
  void stop(std::size_t i);
  /// SIGCONT.
  void cont(std::size_t i);
  /// SIGTERM (plus SIGCONT if stopped), waits up to `limit` for the exit, then
  /// SIGKILL. Returns the wait status (nullopt if it had to be SIGKILLed).
  std::optional<int> terminate(std::size_t i, ms limit = 10s);
  /// Starts a node that is not running again on the same port and data dir
  /// and waits until it is ready. Retries the spawn (bounded) if the process
  /// exits during startup, e.g. because the port is briefly unavailable.
  bool restart(std::size_t i, ms limit = 15s);

  /// Status of node i, asked of node i only, with a short (500 ms) timeout.
  /// Fails fast for nodes that are not running (a stopped node is never
  /// asked).
  expected<actors::node_status> status(std::size_t i);

  /// Polls the running nodes until one of them reports a leader whose own
  /// status says role "leader" (and, if given, with a term > `above_term`).
  /// Returns the leader's node index; nullopt after `limit` (then every node
  /// log's tail is printed).
  std::optional<std::size_t> wait_for_leader(ms limit = 10s,
                                             std::uint64_t above_term = 0);

  /// Client options for the whole cluster (all endpoints, `first` tried
  /// first if given), presenting admin_token(), for a test that sets more
  /// than these.
  actors::client_options client_options(ms timeout = 5s,
                                        std::optional<std::size_t> first = {},
                                        std::string name = "itest") const;
  /// A client for the whole cluster (client_options(timeout, first, name)).
  std::unique_ptr<actors::client> make_client(ms timeout = 5s,
                                              std::optional<std::size_t> first = {},
                                              std::string name = "itest");
  /// A client that only knows node i (for per-node reads).
  std::unique_ptr<actors::client> make_node_client(std::size_t i, ms timeout = 2s);
  /// A client that knows only the nodes `nodes` (first listed first).
  std::unique_ptr<actors::client>
  make_nodes_client(const std::vector<std::size_t>& nodes, ms timeout = 5s,
                    std::string name = "itest");
  /// "HOST:PORT,..." of the nodes `nodes` (for the CLI's --endpoints).
  std::string endpoints_csv(const std::vector<std::size_t>& nodes) const;

  /// Prints the last `lines` lines of every node log to `os`.
  void dump_logs(std::ostream& os, std::size_t lines = 30) const;

private:
  struct node {
    std::uint16_t port = 0;
    pid_t pid = -1;
    state st = state::not_started;
    std::optional<int> wait_status;
    std::unique_ptr<actors::client> status_client;
  };

  void pick_ports();
  std::vector<std::string> node_args(std::size_t i) const;
  void reap(std::size_t i, ms limit);
  void kill_all();
  void wipe_data();
  actors::client& status_client(std::size_t i);

  cluster_options opts_;
  std::string dir_;
  std::vector<node> nodes_;
};

/// The fixture most tests start with: a cluster that is started and has a
/// leader, or the test fails (REQUIRE) saying which of the two it lacked (the
/// node logs are printed above the failure).
class started_cluster : public cluster {
public:
  explicit started_cluster(cluster_options opts = {});
  /// The node index of the leader found right after the start.
  std::size_t first_leader() const noexcept { return first_leader_; }

private:
  std::size_t first_leader_ = 0;
};

/// Polls `pred` every `period` until it returns true or `limit` passes.
/// Returns the final verdict. Bounded by time and by count.
template <class Pred>
bool eventually(Pred&& pred, ms limit, ms period = 50ms) {
  auto deadline = clock::now() + limit;
  auto max_rounds = limit / period + 2;
  for (decltype(max_rounds) round = 0; round < max_rounds; ++round) {
    if (pred())
      return true;
    if (clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(period);
  }
  return pred();
}

} // namespace conflux::itest
