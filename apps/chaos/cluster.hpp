// The cluster of a chaos run: N conflux-node processes on 127.0.0.1 whose
// node-to-node traffic runs through a fault_proxy (apps/chaos/proxy.hpp).
//
// Node i listens on its own port (--listen). Every --peers list names every
// node at its real port; libconflux-netmap.so (netmap.cpp), preloaded into
// each node, sends node i's connections to node j's real port to the proxy
// port for the pair (i, j). Clients dial the real ports directly.
//
// Process rules: only PIDs this class spawned are ever signalled; children get
// PR_SET_PDEATHSIG(SIGKILL) (the signal follows the forking thread, so drive
// this class from the thread that lives longest: main); every wait is bounded;
// the destructor SIGKILLs and reaps whatever still runs. Forking, reaping and
// port picking are the shared helpers of apps/chaos/process.hpp.
#pragma once

#include "actors/client.hpp"
#include "apps/chaos/proxy.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace conflux::chaos {

using ms = std::chrono::milliseconds;

/// The cluster id of every chaos run (its certificates name it).
inline constexpr const char* chaos_cluster_id = "chaos";

struct cluster_options {
  std::size_t nodes = 3;
  /// Data dirs go to <dir>/data/node<i>, logs to <dir>/logs/node<i>.log.
  std::string dir;
  std::string node_binary;
  std::string cluster_id = chaos_cluster_id;
  std::string log_level = "info";
  /// Every node starts with --bootstrap-token-hash of this (the run's admin
  /// token's hash), so the first leader creates principal "admin".
  std::string bootstrap_token_hash;
  /// The token the cluster's own status clients present.
  std::string token;
  /// Path of libconflux-netmap.so (required): every node runs with it, so
  /// that its connections to node j's real address go to the proxy port of
  /// the pair (it, j).
  std::string netmap_lib;
  /// Path of libconflux-powercut.so: when set, every node runs under the
  /// power-cut shim (journal <dir>/powercut/node<i>.journal, root its data
  /// dir), and power_cut() is available. Empty: plain processes.
  std::string powercut_shim;
  /// --snapshot-entries for every node (0: the node's default).
  std::uint64_t snapshot_entries = 0;
  /// Every node runs with --fault-clock-offset-file <dir>/clock/node<i>.offset
  /// (set_clock_offset moves its wall clock).
  bool clock_faults = false;
  /// Node slots beyond `nodes` for membership faults: ids nodes+1 ..
  /// nodes+spare_slots get ports, certificates (make_pki for nodes +
  /// spare_slots), data dirs and proxy pair ports, but start only when added.
  std::size_t spare_slots = 0;
  /// > 0: every node's --watch-history (changes its watch hub keeps for
  /// resumes); 0: the node's default.
  std::size_t watch_history = 0;
};

/// What one power cut of one node took back.
struct power_cut_result {
  bool ok = false;
  std::string error;
  std::uint64_t undone_data = 0, undone_meta = 0, kept_pages = 0, lost_pages = 0;
};

class chaos_cluster {
public:
  /// Where node `id` of a run in `dir` finds node.crt, node.key and ca.crt.
  static std::string tls_dir(const std::string& dir, node_id id);
  /// Makes a run's certificates under <run_dir>/tls: a CA of chaos_cluster_id,
  /// node-<id>/ for nodes 1..nodes (tls_dir) and client/ for the harness's
  /// clients, whose directory it returns. Every run speaks mutual TLS. Throws
  /// std::runtime_error naming the problem.
  static std::string make_pki(const std::string& run_dir, std::size_t nodes);

  enum class node_state { not_started, running, paused, killed, exited };

  /// Picks ports, builds the proxy and the dirs; starts nothing. Throws
  /// std::runtime_error if a dir or socket cannot be made.
  chaos_cluster(actors::client_runtime& rt, cluster_options opts);
  ~chaos_cluster();
  chaos_cluster(const chaos_cluster&) = delete;
  chaos_cluster& operator=(const chaos_cluster&) = delete;

  std::size_t size() const noexcept { return nodes_.size(); }
  /// Slot ids are 1..size(); ids() are the current members (1..nodes at the
  /// start), the nodes status, leader search, heal and convergence look at.
  /// The runtime of the cluster's clients.
  actors::client_runtime& runtime() const { return rt_; }
  std::vector<node_id> ids() const;
  /// Every slot, member or not.
  std::vector<node_id> slots() const;
  bool is_member(node_id id) const { return members_.count(id) != 0; }
  /// --nodes: the cluster's size at the start.
  std::size_t configured_nodes() const noexcept { return opts_.nodes; }

  /// Membership (through the leader, with the cluster's token). add_member:
  /// wipes slot `id`'s data dir, starts it with --join, waits (<= limit) until
  /// it answers, then adds it at its real address. remove_member: removes it,
  /// then kill -9s its process (a removed node stays idle otherwise). Both
  /// say why not on failure; the member set changes only on success.
  expected<std::uint64_t> add_member(node_id id, ms limit);
  expected<std::uint64_t> remove_member(node_id id, ms limit);
  /// After an answer that may or may not have applied (a timeout): takes the
  /// member set from the leader's status, starts members whose process is
  /// not running and kill -9s running non-members. False if no leader
  /// answered within `limit` (the set is then left as it was).
  bool reconcile_members(ms limit);
  std::string endpoint(node_id id) const;
  std::vector<std::string> endpoints() const;
  std::string log_path(node_id id) const;
  std::vector<std::string> node_args(node_id id) const;
  pid_t pid(node_id id) const;
  node_state state(node_id id);
  fault_proxy& proxy() noexcept { return *proxy_; }

  /// Spawns every node and waits until each answers status and a leader
  /// exists. False (with `why`) if that does not happen within `limit`.
  bool start(ms limit, std::string& why);

  /// kill -9 + reap. Under the power-cut shim the machine "stays up": what
  /// the node wrote stays, and its journal is emptied.
  void kill9(node_id id);
  /// A power cut of one node: kill -9 + reap, then its data dir is rolled back
  /// to what its disk would hold (every unsynced change lost, or with `torn`
  /// a seeded half of the unsynced pages kept). Needs `powercut_shim`.
  power_cut_result power_cut(node_id id, bool torn, std::uint64_t seed);
  bool power_cuts() const noexcept { return !opts_.powercut_shim.empty(); }
  /// Asks the cluster (through its leader) to hand leadership to `to`, as
  /// `conflux cluster transfer-leader` does: the new term, or why not.
  expected<std::uint64_t> transfer_leader(node_id to, ms timeout);
  /// Sets node `id`'s wall-clock offset (needs clock_faults). Throws
  /// std::runtime_error if the file cannot be written.
  void set_clock_offset(node_id id, std::int64_t offset_ms);
  bool clock_faults() const noexcept { return opts_.clock_faults; }
  /// Spawns a killed or exited node again (same port, same data dir) and waits
  /// up to `limit` until it answers status; retries the spawn if it exits
  /// during start-up (e.g. its port still held). False if it never answered.
  bool restart(node_id id, ms limit);
  void pause(node_id id);  // SIGSTOP
  void resume(node_id id); // SIGCONT

  /// Lifts every proxy fault, resumes paused nodes, restarts dead ones.
  /// False (with `why`) if a node could not be restarted.
  bool heal_all(ms restart_limit, std::string& why);

  /// Status of a node asked of that node only (short timeout). Fails fast for
  /// a node that is not running.
  expected<actors::node_status> status(node_id id);
  /// The node that says it leads (highest term among those that say so).
  std::optional<node_id> leader();
  std::optional<node_id> wait_for_leader(ms limit);

  /// Nodes that exited without being killed by this class since the last call,
  /// each as "node N exited with status S". Reaps them.
  std::vector<std::string> unexpected_exits();

  /// SIGTERM (SIGCONT first if paused), waits up to `limit`, then SIGKILL.
  void stop_all(ms limit);

private:
  struct node {
    std::uint16_t port = 0;
    pid_t pid = -1;
    node_state st = node_state::not_started;
    std::unique_ptr<actors::client> status_client;
  };

  node& at(node_id id);
  const node& at(node_id id) const;
  void spawn(node_id id);
  bool wait_ready(node_id id, ms limit);
  std::string data_dir(node_id id) const;
  std::string journal_path(node_id id) const;
  std::string clock_path(node_id id) const;
  /// A client of the current members with the cluster's token.
  std::unique_ptr<actors::client> admin_client(ms timeout, const char* name) const;

  actors::client_runtime& rt_;
  cluster_options opts_;
  std::set<node_id> members_;
  std::set<node_id> joined_; // slots started with --join (added by add_member)
  std::vector<node> nodes_;
  std::unique_ptr<fault_proxy> proxy_;
};

const char* to_string(chaos_cluster::node_state st);

} // namespace conflux::chaos
