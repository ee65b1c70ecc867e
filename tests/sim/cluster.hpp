#pragma once
// A whole Raft cluster in one process for simulations and scenario tests:
// consensus cores, a simulated disk per server (writes become durable only
// when the test says so; a crash loses the rest), an in-memory network the
// test controls message by message, a tiny key/value state machine, and the
// invariant checker run after every step. Deterministic: no clock, no threads.

#include "protocol/raft/core.hpp"
#include "protocol/raft/invariants.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace conflux::sim {

using namespace conflux::raft;

/// The replicated state machine: commands are "key=value".
struct kv_state {
  std::map<std::string, std::string> data;
  index_t applied = 0;
};
std::string encode_state(const kv_state& s);
kv_state decode_state(const std::string& bytes);

/// What survives a crash.
struct disk {
  hard_state hard;
  snapshot_meta snap;
  std::string snap_data;
  std::vector<entry_ptr> entries;
};

struct pending_write {
  std::uint64_t persist_id = 0;
  std::optional<hard_state> hard;
  std::optional<snapshot_to_install> snapshot;
  std::vector<entry_ptr> entries;
  /// Messages allowed out only once this write (and all before it) is durable.
  std::vector<outgoing_message> after;
};

struct envelope {
  server_id from = no_server;
  server_id to = no_server;
  message msg;
};

struct client_read {
  server_id node = no_server;
  std::string key;
  /// Highest commit index known anywhere when the read was invoked: a
  /// linearizable read must reflect at least this much.
  index_t min_index = 0;
  bool done = false;
  bool failed = false;
  std::string value;
};

struct sim_node {
  server_id id = no_server;
  bool up = true;
  /// A stalled disk completes no writes (persist_one refuses) until cleared.
  bool disk_stalled = false;
  std::uint64_t incarnation = 0;
  std::unique_ptr<core> raft;
  membership bootstrap;
  disk d;
  std::deque<pending_write> writes;
  kv_state sm;
  /// The newest snapshot this server holds in memory (taken or installed),
  /// sent to followers that need it.
  snapshot_meta snap_meta;
  std::string snap_data;
  /// Released reads waiting for apply: (context, read index).
  std::vector<std::pair<std::uint64_t, index_t>> reads;
};

struct recorded_event {
  server_id server;
  event ev;
};

class cluster {
public:
  cluster(std::vector<server_id> ids, std::uint64_t seed, core_config base = {});

  // -- access ----------------------------------------------------------------
  sim_node& node(server_id id) { return *nodes_.at(id); }
  core& raft(server_id id) { return *nodes_.at(id)->raft; }
  std::vector<server_id> ids() const;
  /// The up server that leads the highest term, or no_server.
  server_id leader() const;
  std::deque<envelope>& network() { return net_; }
  const std::vector<recorded_event>& events() const { return events_; }
  std::size_t count_events(event_kind k, server_id server = no_server) const;
  invariant_checker& checker() { return checker_; }
  const std::optional<std::string>& violation() const { return violation_; }
  const std::map<std::uint64_t, client_read>& reads() const { return reads_; }

  // -- driving ---------------------------------------------------------------
  void tick(server_id id);
  void tick_all();
  /// Delivers net_[i] (drops it if the target is down or the link is cut).
  void deliver(std::size_t i);
  /// Delivers, in FIFO order, every message matching `pred` (bounded).
  std::size_t deliver_if(const std::function<bool(const envelope&)>& pred,
                         int max = 100000);
  std::size_t deliver_all(int max = 100000) {
    return deliver_if([](const envelope&) { return true; }, max);
  }
  /// Drops every in-flight message matching `pred`.
  std::size_t drop_if(const std::function<bool(const envelope&)>& pred);
  /// Makes `id`'s oldest pending write durable. Returns false if none.
  bool persist_one(server_id id);
  void persist_all(server_id id);
  /// Persists everything and delivers everything until quiet (bounded rounds).
  void settle(int rounds = 200);
  /// Ticks every up server, then settles; repeats `n` times.
  void run(int n);
  /// Runs until some server leads (bounded); returns it.
  server_id elect(int max_rounds = 400);

  /// Makes `id` start an election now (as if it received TimeoutNow).
  void campaign(server_id id);
  void crash(server_id id);
  void restart(server_id id);
  /// Cuts both directions between `id` and everyone else.
  void isolate(server_id id);
  void cut(server_id from, server_id to) { cut_.insert({from, to}); }
  void heal() { cut_.clear(); }
  bool is_cut(server_id from, server_id to) const { return cut_.count({from, to}) > 0; }

  request_result propose(server_id id, const std::string& key,
                         const std::string& value);
  /// Starts a linearizable read of `key` at `id`; returns its context (0 if
  /// refused at once).
  std::uint64_t read(server_id id, const std::string& key);
  void take_snapshot(server_id id);
  request_result change_membership(server_id id, membership_change ch);
  request_result transfer(server_id id, server_id target);
  /// Creates a new server that knows no configuration (it joins).
  void add_server(server_id id);

  /// Expected value of `key` after applying the committed log up to `index`.
  std::string expected_value(const std::string& key, index_t index) const;

  /// Called with every ready batch a server takes, before the cluster handles
  /// it (golden traces print them).
  std::function<void(server_id, const ready&)> on_ready;

private:
  void process(sim_node& n);
  void handle_ready(sim_node& n, ready r);
  void apply(sim_node& n, const entry_ptr& e);
  void serve_reads(sim_node& n);
  void post(server_id from, outgoing_message m);
  void fail(std::string what);
  void check(sim_node& n);
  std::unique_ptr<core> make_core(sim_node& n, restored_state st);

  core_config base_;
  std::uint64_t seed_;
  std::map<server_id, std::unique_ptr<sim_node>> nodes_;
  std::deque<envelope> net_;
  std::set<std::pair<server_id, server_id>> cut_;
  invariant_checker checker_;
  std::optional<std::string> violation_;
  std::vector<recorded_event> events_;
  std::map<std::uint64_t, client_read> reads_;
  std::uint64_t next_read_ = 1;
  /// key -> (index -> value) over the committed (applied) history.
  std::map<std::string, std::map<index_t, std::string>> history_;
  std::set<index_t> history_indexes_;
};

} // namespace conflux::sim
