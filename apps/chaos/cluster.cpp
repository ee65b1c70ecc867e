#include "apps/chaos/cluster.hpp"

#include "actors/tls_certs.hpp"
#include "apps/chaos/powercut/journal.hpp"
#include "apps/chaos/process.hpp"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

namespace conflux::chaos {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

} // namespace

const char* to_string(chaos_cluster::node_state st) {
  switch (st) {
  case chaos_cluster::node_state::not_started:
    return "not-started";
  case chaos_cluster::node_state::running:
    return "running";
  case chaos_cluster::node_state::paused:
    return "paused";
  case chaos_cluster::node_state::killed:
    return "killed";
  case chaos_cluster::node_state::exited:
    return "exited";
  }
  return "unknown";
}

chaos_cluster::chaos_cluster(actors::client_runtime& rt, cluster_options opts)
    : rt_(rt), opts_(std::move(opts)) {
  if (opts_.nodes != 3 && opts_.nodes != 5)
    throw std::invalid_argument("--nodes must be 3 or 5");
  if (opts_.netmap_lib.empty())
    throw std::invalid_argument(
        "cluster_options::netmap_lib is required (libconflux-netmap.so)");
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(opts_.dir) / "data");
  fs::create_directories(fs::path(opts_.dir) / "logs");
  nodes_.resize(opts_.nodes + opts_.spare_slots);
  for (node_id i = 1; i <= opts_.nodes; ++i)
    members_.insert(i);
  if (opts_.clock_faults) {
    fs::create_directories(fs::path(opts_.dir) / "clock");
    for (auto id : ids())
      set_clock_offset(id, 0);
  }
  if (power_cuts()) {
    // The shim needs its root to exist; the data dirs themselves count as
    // durable (made before any node runs).
    fs::create_directories(fs::path(opts_.dir) / "powercut");
    for (auto id : ids())
      fs::create_directories(data_dir(id));
  }
  // Distinct ports: free_loopback_ports holds each probe until all are picked.
  auto picked = process::free_loopback_ports(nodes_.size());
  std::map<node_id, std::uint16_t> ports;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].port = picked[i];
    ports[i + 1] = picked[i];
  }
  proxy_ = std::make_unique<fault_proxy>(ports);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    actors::client_options co;
    co.endpoints = {endpoint(i + 1)};
    co.timeout = 500ms;
    co.name = "chaos-status";
    co.token = opts_.token;
    nodes_[i].status_client = std::make_unique<actors::client>(rt_, co);
  }
}

chaos_cluster::~chaos_cluster() {
  for (auto& n : nodes_) {
    if (n.pid > 0 && (n.st == node_state::running || n.st == node_state::paused)) {
      ::kill(n.pid, SIGKILL);
      process::wait_bounded(n.pid, 5s);
      n.st = node_state::killed;
      n.pid = -1;
    }
  }
  for (auto& n : nodes_)
    n.status_client.reset();
}

chaos_cluster::node& chaos_cluster::at(node_id id) {
  if (id < 1 || id > nodes_.size())
    throw std::out_of_range("no node " + std::to_string(id));
  return nodes_[id - 1];
}

const chaos_cluster::node& chaos_cluster::at(node_id id) const {
  if (id < 1 || id > nodes_.size())
    throw std::out_of_range("no node " + std::to_string(id));
  return nodes_[id - 1];
}

std::vector<node_id> chaos_cluster::ids() const {
  return {members_.begin(), members_.end()};
}

std::vector<node_id> chaos_cluster::slots() const {
  std::vector<node_id> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    out.push_back(i + 1);
  return out;
}

std::unique_ptr<actors::client> chaos_cluster::admin_client(ms timeout,
                                                            const char* name) const {
  actors::client_options co;
  co.endpoints = endpoints();
  co.timeout = timeout;
  co.name = name;
  co.token = opts_.token;
  return std::make_unique<actors::client>(rt_, co);
}

expected<std::uint64_t> chaos_cluster::add_member(node_id id, ms limit) {
  if (is_member(id))
    return error{errc::already_exists, "node " + std::to_string(id) + " is a member"};
  kill9(id);
  joined_.insert(id);
  std::error_code ec;
  std::filesystem::remove_all(data_dir(id), ec);
  std::filesystem::create_directories(data_dir(id), ec);
  std::string discard_error;
  if (power_cuts() && !powercut::discard(journal_path(id), discard_error))
    throw std::runtime_error(discard_error);
  spawn(id);
  if (!wait_ready(id, limit))
    return error{errc::unavailable,
                 "node " + std::to_string(id) + " did not start to join"};
  auto c = admin_client(limit, "chaos-membership");
  auto r = c->add_member(id, endpoint(id));
  if (r.ok())
    members_.insert(id);
  else if (!reconcile_members(limit) || !is_member(id))
    kill9(id);
  return r;
}

expected<std::uint64_t> chaos_cluster::remove_member(node_id id, ms limit) {
  if (!is_member(id))
    return error{errc::not_found, "node " + std::to_string(id) + " is not a member"};
  auto c = admin_client(limit, "chaos-membership");
  auto r = c->remove_member(id);
  if (r.ok()) {
    members_.erase(id);
    kill9(id);
  } else {
    reconcile_members(limit);
  }
  return r;
}

bool chaos_cluster::reconcile_members(ms limit) {
  auto l = wait_for_leader(limit);
  if (!l)
    return false;
  auto st = status(*l);
  if (!st.ok())
    return false;
  std::set<node_id> now;
  for (const auto& m : st->members)
    if (m.id >= 1 && m.id <= nodes_.size())
      now.insert(m.id);
  if (now.empty())
    return false;
  members_ = now;
  for (auto id : slots()) {
    auto s = at(id).st;
    bool alive = s == node_state::running || s == node_state::paused;
    if (is_member(id) && !alive)
      restart(id, limit);
    else if (!is_member(id) && alive)
      kill9(id);
  }
  return true;
}

std::string chaos_cluster::endpoint(node_id id) const {
  return "127.0.0.1:" + std::to_string(at(id).port);
}

std::vector<std::string> chaos_cluster::endpoints() const {
  std::vector<std::string> out;
  for (auto id : ids())
    out.push_back(endpoint(id));
  return out;
}

std::string chaos_cluster::log_path(node_id id) const {
  return opts_.dir + "/logs/node" + std::to_string(id) + ".log";
}

std::string chaos_cluster::make_pki(const std::string& run_dir, std::size_t nodes) {
  auto fail = [](const actors::cert_error& e) {
    throw std::runtime_error("cannot make the run's certificates: " +
                             actors::to_string(e));
  };
  const std::string dir = run_dir + "/tls";
  auto pem = actors::make_cluster_ca(chaos_cluster_id, actors::valid_for_days(7));
  if (!pem)
    fail(pem.err());
  auto ca = actors::parse_cluster_ca(*pem, "the run's CA", "the run's CA key");
  if (!ca)
    fail(ca.err());
  auto v = actors::valid_for_days(6);
  for (node_id id = 1; id <= nodes; ++id) {
    auto node = actors::issue_node_certificate(*ca, id, {}, v);
    if (!node)
      fail(node.err());
    if (auto w = actors::write_leaf_dir(tls_dir(run_dir, id), "node", *node, *ca,
                                        actors::overwrite::refuse);
        !w)
      fail(w.err());
  }
  auto client = actors::issue_client_certificate(*ca, "chaos", v);
  if (!client)
    fail(client.err());
  if (auto w = actors::write_leaf_dir(dir + "/client", "client", *client, *ca,
                                      actors::overwrite::refuse);
      !w)
    fail(w.err());
  return dir + "/client";
}

std::string chaos_cluster::tls_dir(const std::string& dir, node_id id) {
  return dir + "/tls/node-" + std::to_string(id);
}

std::vector<std::string> chaos_cluster::node_args(node_id id) const {
  std::vector<std::string> args{
      opts_.node_binary,     "--id",        std::to_string(id), "--listen",
      endpoint(id),          "--data",      data_dir(id),       "--cluster-id",
      opts_.cluster_id,      "--log-level", opts_.log_level,    "--tls-dir",
      tls_dir(opts_.dir, id)};
  if (joined_.count(id) != 0) {
    // Added by add_member (a spare slot, or a replaced node on an empty
    // disk): it joins; the configuration it receives names everyone.
    args.push_back("--join");
  } else {
    std::string peers;
    for (node_id j = 1; j <= opts_.nodes; ++j) {
      if (!peers.empty())
        peers += ",";
      // Real addresses everywhere; the node's connect() goes to the proxy.
      peers += std::to_string(j) + "=" + endpoint(j);
    }
    args.insert(args.end(), {"--peers", peers});
  }
  if (!opts_.bootstrap_token_hash.empty())
    args.insert(args.end(), {"--bootstrap-token-hash", opts_.bootstrap_token_hash});
  if (opts_.snapshot_entries != 0)
    args.insert(args.end(),
                {"--snapshot-entries", std::to_string(opts_.snapshot_entries)});
  if (opts_.clock_faults)
    args.insert(args.end(), {"--fault-clock-offset-file", clock_path(id)});
  if (opts_.watch_history > 0)
    args.insert(args.end(), {"--watch-history", std::to_string(opts_.watch_history)});
  return args;
}

std::string chaos_cluster::clock_path(node_id id) const {
  return opts_.dir + "/clock/node" + std::to_string(id) + ".offset";
}

expected<std::uint64_t> chaos_cluster::transfer_leader(node_id to, ms timeout) {
  auto c = admin_client(timeout, "chaos-transfer");
  return c->transfer_leader(to);
}

void chaos_cluster::set_clock_offset(node_id id, std::int64_t offset_ms) {
  auto path = clock_path(id);
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << offset_ms << "\n";
    if (!out.flush())
      throw std::runtime_error("cannot write " + tmp);
  }
  // Atomic: the node never reads half a number.
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

std::string chaos_cluster::data_dir(node_id id) const {
  return opts_.dir + "/data/node" + std::to_string(id);
}

std::string chaos_cluster::journal_path(node_id id) const {
  return opts_.dir + "/powercut/node" + std::to_string(id) + ".journal";
}

pid_t chaos_cluster::pid(node_id id) const {
  return at(id).pid;
}

chaos_cluster::node_state chaos_cluster::state(node_id id) {
  return at(id).st;
}

void chaos_cluster::spawn(node_id id) {
  auto& n = at(id);
  // Every connection to another node goes to the proxy port of the pair
  // (id, j): netmap.cpp rewrites the node's connect().
  std::string netmap;
  for (auto j : slots())
    if (j != id)
      netmap += (netmap.empty() ? "" : ",") + endpoint(j) +
                ">127.0.0.1:" + std::to_string(proxy_->port_for(id, j));
  std::string preload = opts_.netmap_lib;
  if (power_cuts())
    preload += ":" + opts_.powercut_shim;
  std::vector<std::string> env{"LD_PRELOAD=" + preload, "CONFLUX_NETMAP=" + netmap};
  if (power_cuts())
    env.insert(env.end(), {"CONFLUX_POWERCUT_JOURNAL=" + journal_path(id),
                           "CONFLUX_POWERCUT_ROOT=" + data_dir(id),
                           // LMDB's lock files hold no data (shim.cpp).
                           "CONFLUX_POWERCUT_IGNORE=lock.mdb"});
  process::argv_block argv(node_args(id), std::move(env));
  n.pid = process::spawn_logged(argv, log_path(id), {},
                                "conflux-chaos: execv of conflux-node failed\n");
  n.st = node_state::running;
}

bool chaos_cluster::wait_ready(node_id id, ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int round = 0; round < 1000 && clock_type::now() < deadline; ++round) {
    auto& n = at(id);
    if (process::try_reap(n.pid)) {
      n.st = node_state::exited;
      n.pid = -1;
      return false;
    }
    // Refusing the harness's token is an answer too: a node holds no
    // principal until the first leader's bootstrap reaches it.
    if (auto st = status(id); st.ok() || st.code() == errc::unauthenticated)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

bool chaos_cluster::start(ms limit, std::string& why) {
  auto deadline = clock_type::now() + limit;
  for (auto id : ids())
    spawn(id);
  for (auto id : ids()) {
    auto left = std::chrono::duration_cast<ms>(deadline - clock_type::now());
    if (!wait_ready(id, std::max(left, ms(1)))) {
      why = "node " + std::to_string(id) + " did not answer status (state " +
            to_string(at(id).st) + "); see " + log_path(id);
      return false;
    }
  }
  auto left = std::chrono::duration_cast<ms>(deadline - clock_type::now());
  if (!wait_for_leader(std::max(left, ms(1)))) {
    why = "no leader was elected within the start-up time";
    return false;
  }
  return true;
}

void chaos_cluster::kill9(node_id id) {
  auto& n = at(id);
  if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
    return;
  ::kill(n.pid, SIGKILL);
  process::wait_bounded(n.pid, 5s);
  n.pid = -1;
  n.st = node_state::killed;
  std::string error;
  if (power_cuts() && !powercut::discard(journal_path(id), error))
    throw std::runtime_error(error);
}

power_cut_result chaos_cluster::power_cut(node_id id, bool torn, std::uint64_t seed) {
  power_cut_result out;
  if (!power_cuts()) {
    out.error = "power cuts need the nodes to run under the power-cut shim";
    return out;
  }
  auto& n = at(id);
  if (n.pid > 0 && (n.st == node_state::running || n.st == node_state::paused)) {
    ::kill(n.pid, SIGKILL);
    process::wait_bounded(n.pid, 5s);
    n.pid = -1;
    n.st = node_state::killed;
  }
  powercut::rollback_options ro{
      journal_path(id), data_dir(id),
      torn ? powercut::cut_mode::torn : powercut::cut_mode::all, seed};
  auto rep = powercut::rollback(ro);
  out.ok = rep.ok;
  out.error = rep.error;
  out.undone_data = rep.undone_data;
  out.undone_meta = rep.undone_meta;
  out.kept_pages = rep.kept_pages;
  out.lost_pages = rep.lost_pages;
  return out;
}

bool chaos_cluster::restart(node_id id, ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int attempt = 0; attempt < 5 && clock_type::now() < deadline; ++attempt) {
    auto& n = at(id);
    if (n.st == node_state::running || n.st == node_state::paused)
      return true;
    spawn(id);
    auto left = std::chrono::duration_cast<ms>(deadline - clock_type::now());
    if (wait_ready(id, std::max(left, ms(1))))
      return true;
    if (at(id).st == node_state::running) // alive but silent: give up waiting
      return false;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

void chaos_cluster::pause(node_id id) {
  auto& n = at(id);
  if (n.st != node_state::running)
    return;
  ::kill(n.pid, SIGSTOP);
  n.st = node_state::paused;
}

void chaos_cluster::resume(node_id id) {
  auto& n = at(id);
  if (n.st != node_state::paused)
    return;
  ::kill(n.pid, SIGCONT);
  n.st = node_state::running;
}

bool chaos_cluster::heal_all(ms restart_limit, std::string& why) {
  proxy_->heal_all();
  bool ok = true;
  for (auto id : ids()) {
    auto st = at(id).st;
    if (st == node_state::paused)
      resume(id);
    else if (st == node_state::killed || st == node_state::exited) {
      if (!restart(id, restart_limit)) {
        ok = false;
        why += "node " + std::to_string(id) + " could not be restarted (see " +
               log_path(id) + "); ";
      }
    }
  }
  return ok;
}

expected<actors::node_status> chaos_cluster::status(node_id id) {
  auto& n = at(id);
  if (n.st != node_state::running)
    return error{errc::unavailable, std::string("node is ") + to_string(n.st)};
  return n.status_client->status_of(endpoint(id));
}

std::optional<node_id> chaos_cluster::leader() {
  std::optional<node_id> best;
  std::uint64_t best_term = 0;
  for (auto id : ids()) {
    auto s = status(id);
    if (s.ok() && s->role == "leader" && (!best || s->term > best_term)) {
      best = id;
      best_term = s->term;
    }
  }
  return best;
}

std::optional<node_id> chaos_cluster::wait_for_leader(ms limit) {
  auto deadline = clock_type::now() + limit;
  for (int round = 0; round < 1000 && clock_type::now() < deadline; ++round) {
    if (auto l = leader())
      return l;
    std::this_thread::sleep_for(100ms);
  }
  return std::nullopt;
}

std::vector<std::string> chaos_cluster::unexpected_exits() {
  std::vector<std::string> out;
  for (auto id : ids()) {
    auto& n = at(id);
    if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
      continue;
    if (auto st = process::try_reap(n.pid)) {
      out.push_back("node " + std::to_string(id) + " (pid " + std::to_string(n.pid) +
                    ") exited on its own: " + process::describe_wait_status(st) +
                    "; see " + log_path(id));
      n.pid = -1;
      n.st = node_state::exited;
    }
  }
  return out;
}

void chaos_cluster::stop_all(ms limit) {
  for (auto id : slots()) {
    auto& n = at(id);
    if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
      continue;
    if (n.st == node_state::paused)
      ::kill(n.pid, SIGCONT);
    ::kill(n.pid, SIGTERM);
  }
  for (auto id : slots()) {
    auto& n = at(id);
    if (n.pid <= 0 || (n.st != node_state::running && n.st != node_state::paused))
      continue;
    if (!process::wait_bounded(n.pid, limit)) {
      ::kill(n.pid, SIGKILL);
      process::wait_bounded(n.pid, 5s);
    }
    n.pid = -1;
    n.st = node_state::exited;
  }
}

} // namespace conflux::chaos
