#include "actors/node.hpp"

#include "actors/applier.hpp"
#include "actors/client_session.hpp"
#include "actors/endpoint.hpp"
#include "actors/log_store_actor.hpp"
#include "actors/peer_link.hpp"
#include "actors/raft_actor.hpp"
#include "actors/watch_hub.hpp"
#include "storage/log_store.hpp"
#include "storage/state_store.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <random>

namespace conflux::actors {
namespace {

struct endpoint_state {
  static inline const char* name = "node-endpoint";
};

node_endpoint_actor::behavior_type
endpoint_fun(node_endpoint_actor::stateful_pointer<endpoint_state> self,
             node_context_ptr ctx, raft_actor raft, watch_hub_actor hub) {
  return {
    [=](rpc::peer_batch& b) -> std::uint64_t {
      self->send(raft, std::move(b));
      return 0;
    },
    [=](rpc::client_hello& h) -> caf::strong_actor_ptr {
      if (!h.cluster_id.empty() && h.cluster_id != ctx->opts.cluster_id) {
        spdlog::warn("node endpoint refused client '{}' of cluster '{}'", h.client_name,
                     h.cluster_id);
        return nullptr;
      }
      auto client = self->current_sender();
      auto addr = client ? client->address() : caf::actor_addr{};
      auto session =
        self->spawn(client_session_with_watches_fun, ctx, raft, addr, self->address(), hub);
      return caf::actor_cast<caf::strong_actor_ptr>(session);
    },
  };
}

struct supervisor_state {
  static inline const char* name = "node";
};

caf::behavior supervisor_fun(caf::stateful_actor<supervisor_state>* self,
                             std::vector<caf::actor> children) {
  for (auto& c : children)
    self->link_to(c);
  return {
    [](const std::string&) {},
  };
}

std::string pretty(const error& e) { return std::string{to_string(e.code)} + ": " + e.message; }

} // namespace

status check_node_options(const node_options& opts) {
  if (opts.id == raft::no_server)
    return {errc::invalid_argument, "--id must be a positive integer"};
  if (opts.cluster_id.empty() || opts.cluster_id.size() > 255)
    return {errc::invalid_argument, "--cluster-id must be 1 to 255 characters"};
  if (!parse_endpoint(opts.listen))
    return {errc::invalid_argument,
            "--listen '" + opts.listen + "' is not HOST:PORT (e.g. 127.0.0.1:7101)"};
  auto self = opts.peers.find(opts.id);
  if (self == opts.peers.end() && !opts.join)
    return {errc::invalid_argument, "--peers does not list this node's id " +
                                      std::to_string(opts.id) +
                                      "; list every member as ID=HOST:PORT (or start "
                                      "with --join to be added to a running cluster)"};
  if (self != opts.peers.end() && self->second != opts.listen)
    return {errc::invalid_argument, "--peers gives node " + std::to_string(opts.id) +
                                      " the address " + self->second +
                                      " but --listen is " + opts.listen +
                                      "; make them equal"};
  for (auto& [id, addr] : opts.peers) {
    if (id == raft::no_server)
      return {errc::invalid_argument, "--peers: node ids must be positive integers"};
    if (!parse_endpoint(addr))
      return {errc::invalid_argument, "--peers: address '" + addr + "' of node " +
                                        std::to_string(id) + " is not HOST:PORT"};
  }
  if (opts.tick.count() < 1 || opts.election_ticks < 2 || opts.heartbeat_ticks < 1 ||
      opts.heartbeat_ticks >= opts.election_ticks)
    return {errc::invalid_argument,
            "tick must be >= 1 ms and heartbeat ticks below election ticks"};
  if (opts.watch_history < 1 || opts.watch_backlog < 1 || opts.watch_window < 1)
    return {errc::invalid_argument,
            "--watch-history and --watch-backlog must be positive integers"};
  return {};
}

expected<node_handles> start_node(caf::actor_system& sys, node_options opts) {
  if (auto s = check_node_options(opts); !s.ok())
    return s.err();
  std::error_code ec;
  std::filesystem::create_directories(opts.data_dir, ec);
  if (ec)
    return error{errc::storage_failure, "cannot create data dir " + opts.data_dir + ": " +
                                          ec.message()};
  storage::store_identity identity{opts.cluster_id, opts.id};
  auto base = std::filesystem::path{opts.data_dir};
  auto log = storage::log_store::open((base / storage::log_store::subdir).string(),
                                      storage::log_store_options{identity});
  if (!log.ok())
    return error{log.code(), "cannot open the log in " + opts.data_dir + ": " +
                               pretty(log.err())};
  auto state = storage::state_store::open((base / storage::state_store::subdir).string(),
                                          storage::state_store_options{identity});
  if (!state.ok())
    return error{state.code(), "cannot open the state in " + opts.data_dir + ": " +
                                 pretty(state.err())};
  auto ctx = std::make_shared<node_context>();
  ctx->opts = opts;
  ctx->state = std::make_shared<storage::state_store>(std::move(*state));

  // Rebuild the core's view from disk (PROTOCOL.md §3.1 and §3.4).
  raft::restored_state rs;
  rs.hard = log->hard_state();
  rs.snapshot.index = log->snapshot_index();
  rs.snapshot.term = log->snapshot_term();
  if (log->last_index() >= log->first_index()) {
    auto entries = log->entries(log->first_index(), log->last_index() + 1);
    if (!entries.ok())
      return error{entries.code(), "cannot read the log in " + opts.data_dir + ": " +
                                     pretty(entries.err())};
    rs.entries.reserve(entries->size());
    for (auto& e : *entries)
      rs.entries.push_back(std::make_shared<const raft::log_entry>(std::move(e)));
  }
  // A joining server starts without a configuration: it never campaigns and
  // learns the cluster's configuration from the leader that adds it.
  if (!opts.join)
    for (auto& [id, addr] : opts.peers)
      rs.bootstrap.voters.push_back(id);
  {
    auto txn = ctx->state->begin_read();
    if (!txn.ok())
      return error{txn.code(), "cannot read the state: " + pretty(txn.err())};
    auto applied = txn->last_applied();
    if (!applied.ok())
      return error{applied.code(), "cannot read the state: " + pretty(applied.err())};
    rs.applied = *applied;
  }
  if (rs.applied > log->last_index())
    return error{errc::corrupted,
                 "the state in " + opts.data_dir + " has applied index " +
                   std::to_string(rs.applied) + " but the log ends at " +
                   std::to_string(log->last_index()) +
                   "; the data dir is damaged (restore it or wipe it and rejoin)"};
  spdlog::info("node {} of cluster '{}' opened {}: log {}..{}, term {}, applied {}",
               opts.id, opts.cluster_id, opts.data_dir, log->first_index(),
               log->last_index(), rs.hard.term, rs.applied);

  raft::core_config cc;
  cc.id = opts.id;
  cc.election_ticks = opts.election_ticks;
  cc.heartbeat_ticks = opts.heartbeat_ticks;
  cc.seed = std::random_device{}() ^ (opts.id << 32);

  auto log_ptr = std::make_unique<storage::log_store>(std::move(*log));
  auto log_actor = sys.spawn<caf::detached>(log_store_fun, std::move(log_ptr), ctx);
  auto applier = sys.spawn<caf::detached>(applier_fun, ctx, rs.applied);
  // The hub is introduced before raft exists, so it precedes every apply_batch.
  auto hub = sys.spawn(watch_hub_fun, ctx,
                       watch_hub_options{opts.watch_history, opts.watch_backlog,
                                         opts.watch_window},
                       rs.applied);
  caf::anon_send(applier, init_atom::value, hub);
  // The raft actor opens (and later re-dials or closes) its peer links itself,
  // linked to it, from the configuration and --peers.
  auto raft = sys.spawn(raft_fun, ctx, cc, std::move(rs), log_actor, applier,
                        std::map<raft::server_id, peer_link_actor>{});
  auto endpoint = sys.spawn(endpoint_fun, ctx, caf::actor_cast<raft_actor>(raft), hub);
  std::vector<caf::actor> children{caf::actor_cast<caf::actor>(log_actor),
                                   caf::actor_cast<caf::actor>(applier),
                                   caf::actor_cast<caf::actor>(hub),
                                   caf::actor_cast<caf::actor>(raft),
                                   caf::actor_cast<caf::actor>(endpoint)};
  auto sup = sys.spawn(supervisor_fun, std::move(children));
  return node_handles{endpoint, sup, caf::actor_cast<raft_actor>(raft), ctx};
}

} // namespace conflux::actors
