#include "actors/node.hpp"

#include "actors/applier.hpp"
#include "actors/client_session.hpp"
#include "actors/endpoint.hpp"
#include "actors/log_store_actor.hpp"
#include "actors/peer_admission.hpp"
#include "actors/peer_link.hpp"
#include "actors/raft_role.hpp"
#include "actors/remoting.hpp"
#include "actors/secret_content.hpp"
#include "actors/snapshotter.hpp"
#include "actors/watch_hub.hpp"
#include "protocol/auth.hpp"
#include "protocol/auth_state.hpp"
#include "protocol/raft/membership.hpp"
#include "storage/log_store.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/state_store.hpp"

#include <algorithm>
#include <caf/all.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <spdlog/spdlog.h>

namespace conflux::actors {
namespace {

struct endpoint_state {
  static inline const char* name = "node-endpoint";
  /// Live client sessions by the process (CAF node id) whose hello opened
  /// them, and which process each live session counts against.
  std::map<caf::node_id, std::size_t> sessions_of;
  std::map<caf::actor_addr, caf::node_id> origin_of;
};

rpc::hello_status refuse_hello(errc code, std::string message) {
  return rpc::hello_status{static_cast<std::uint8_t>(code), std::move(message)};
}

using endpoint_self = node_endpoint_actor::stateful_pointer<endpoint_state>;

// Node traffic is judged on the identity its connection proved before
// anything reads it (actors/peer_admission.hpp); a refusal is counted, and
// logged at most once a second.
sender_check judge_node_sender(endpoint_self self, node_context& ctx,
                               log_limiter& drops, const char* what,
                               const std::string& cluster_id, std::uint64_t from,
                               std::uint64_t to) {
  auto sender = self->current_sender();
  auto proven =
      sender ? peer_identity_of(self->system(), sender->node()) : std::string{};
  auto v = check_node_sender(ctx.opts.transport.tls(), ctx.opts.cluster_id, ctx.opts.id,
                             sender_claim{proven, cluster_id, from, to});
  if (v.ok())
    return v;
  ctx.counters.add(refusal_counter(v.refusal));
  std::uint64_t held_back = 0;
  if (drops.allow(ctx.clock->steady(), held_back))
    spdlog::warn("node endpoint dropped {}: {} ({} more drops not logged)", what,
                 v.reason, held_back);
  return v;
}

node_endpoint_actor::behavior_type endpoint_fun(endpoint_self self,
                                                node_context_ptr ctx,
                                                watch_hub_actor hub,
                                                snapshotter_actor snapshotter) {
  auto drops = std::make_shared<log_limiter>();
  // A session that ends no longer counts against its process or the node.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.origin_of.find(dm.source);
    if (i == st.origin_of.end())
      return;
    auto n = st.sessions_of.find(i->second);
    if (n != st.sessions_of.end() && --n->second == 0)
      st.sessions_of.erase(n);
    st.origin_of.erase(i);
  });
  return {
      [=](rpc::peer_batch& b) -> std::uint64_t {
        auto v = judge_node_sender(self, *ctx, *drops, "a raft batch", b.cluster_id,
                                   b.from, b.to);
        if (!v.ok())
          return static_cast<std::uint64_t>(refusal_code(v.refusal));
        // Straight to the role that holds the core.
        self->send(ctx->raft.get(), std::move(b));
        return 0;
      },
      [=](rpc::snapshot_chunk& c) -> caf::result<rpc::snapshot_chunk_reply> {
        auto refuse = [&](errc code, std::string why) {
          rpc::snapshot_chunk_reply r;
          r.code = static_cast<std::uint8_t>(code);
          r.message = std::move(why);
          return r;
        };
        auto v = judge_node_sender(self, *ctx, *drops, "a snapshot chunk", c.cluster_id,
                                   c.from, c.to);
        if (!v.ok())
          return refuse(refusal_code(v.refusal), v.reason);
        if (c.data.size() > max_snapshot_chunk_bytes) {
          ctx->counters.add("snapshot.refused.chunk_too_large");
          return refuse(errc::too_large,
                        "a snapshot chunk of " + std::to_string(c.data.size()) +
                            " bytes is over the limit of " +
                            std::to_string(max_snapshot_chunk_bytes) + " bytes");
        }
        // Only the leader this node follows, in its term (the raft shell
        // publishes both): a snapshot replaces the whole state.
        auto leader = ctx->raft_leader.load();
        auto term = ctx->raft_term.load();
        if (c.from != leader || c.term != term) {
          ctx->counters.add("snapshot.refused.not_leader");
          auto why = "node " + std::to_string(ctx->opts.id) + " follows node " +
                     std::to_string(leader) + " in term " + std::to_string(term) +
                     " and takes snapshots only from it; node " +
                     std::to_string(c.from) + " sent one of term " +
                     std::to_string(c.term);
          std::uint64_t held_back = 0;
          if (drops->allow(ctx->clock->steady(), held_back))
            spdlog::warn("node endpoint refused a snapshot chunk: {} ({} more refusals "
                         "not logged)",
                         why, held_back);
          return refuse(errc::not_leader, why);
        }
        return self->delegate(snapshotter, std::move(c));
      },
      [=](rpc::client_hello& h)
          -> caf::result<caf::strong_actor_ptr, rpc::hello_status> {
        if (!h.cluster_id.empty() && h.cluster_id != ctx->opts.cluster_id) {
          spdlog::warn("node endpoint refused client '{}' of cluster '{}'",
                       h.client_name, h.cluster_id);
          return {caf::strong_actor_ptr{},
                  refuse_hello(errc::invalid_argument,
                               "node " + std::to_string(ctx->opts.id) +
                                   " belongs to cluster '" + ctx->opts.cluster_id +
                                   "', not '" + h.cluster_id + "'")};
        }
        auto client = self->current_sender();
        auto origin = client ? client->node() : caf::node_id{};
        auto& st = self->state;
        auto& opts = ctx->opts;
        if (st.origin_of.size() >= opts.max_sessions) {
          ctx->counters.add("session.refused.per_node");
          return {caf::strong_actor_ptr{},
                  refuse_hello(errc::resource_exhausted,
                               "node " + std::to_string(opts.id) + " has " +
                                   std::to_string(st.origin_of.size()) +
                                   " client sessions open, its limit "
                                   "(--max-sessions); retry later, use another "
                                   "node, or raise --max-sessions")};
        }
        auto mine = st.sessions_of.find(origin);
        if (mine != st.sessions_of.end() &&
            mine->second >= opts.max_sessions_per_connection) {
          ctx->counters.add("session.refused.per_connection");
          return {caf::strong_actor_ptr{},
                  refuse_hello(errc::resource_exhausted,
                               "this client process already has " +
                                   std::to_string(mine->second) +
                                   " sessions open on node " + std::to_string(opts.id) +
                                   ", its limit (--max-sessions-per-connection); "
                                   "close sessions it no longer uses or raise "
                                   "--max-sessions-per-connection")};
        }
        // The principal, in a read transaction of the state (the hash is all
        // the state holds; the token itself is neither kept nor logged).
        session_identity who;
        who.credential = auth::token_hash(h.token);
        {
          auto refuse_token = [&](const std::string& why) {
            ctx->counters.add("auth.refused.unauthenticated");
            spdlog::info("node endpoint refused client '{}': {}", h.client_name, why);
            if (ctx->denied) {
              denied_event ev;
              ev.what = "hello";
              ev.identity = client ? peer_identity_of(self->system(), client->node())
                                   : std::string{};
              ev.code = errc::unauthenticated;
              ev.reason = why;
              record_denied(ctx->denied.get(), ctx->counters, ev);
            }
            return refuse_hello(errc::unauthenticated,
                                "node " + std::to_string(opts.id) +
                                    " refused the token: " + why +
                                    "; present a valid token (--token-file or "
                                    "CONFLUX_TOKEN_FILE)");
          };
          if (h.token.empty())
            return {caf::strong_actor_ptr{}, refuse_token("no token was presented")};
          if (auto v = auth::validate_token_text(h.token); !v.ok())
            return {caf::strong_actor_ptr{}, refuse_token(v.err().message)};
          auto txn = ctx->state->begin_read();
          if (!txn.ok())
            return {caf::strong_actor_ptr{},
                    refuse_hello(errc::unavailable, "node " + std::to_string(opts.id) +
                                                        " cannot read its state: " +
                                                        to_string(txn.err()))};
          auto a = auth::load_access(*txn, who.credential, ctx->cluster_now_ms());
          if (!a.ok())
            return {caf::strong_actor_ptr{},
                    refuse_hello(errc::unavailable,
                                 "node " + std::to_string(opts.id) +
                                     " cannot read its state: " + to_string(a.err()))};
          if (!a->ok())
            return {caf::strong_actor_ptr{}, refuse_token(a->err().message)};
          who.principal = (*a)->who.name;
        }
        auto addr = client ? client->address() : caf::actor_addr{};
        auto session = self->spawn(client_session_with_watches_fun, ctx, addr,
                                   self->address(), hub, std::move(who));
        self->monitor(session);
        ++st.sessions_of[origin];
        st.origin_of.emplace(session.address(), origin);
        return {caf::actor_cast<caf::strong_actor_ptr>(session), rpc::hello_status{}};
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

// --max-readers bounds: the applier, the snapshotter and the client
// sessions' reads need a handful of slots; LMDB keeps one 64-byte slot each
// in its lock file.
constexpr unsigned min_max_readers = 16;
constexpr unsigned max_max_readers = 65536;

// --max-reply-bytes bounds: below 1 KiB a page holds next to nothing; above
// 16 MiB a reply plus its framing nears CAF's 32 MiB payload limit
// (middleman.max-payload), past which the connection is closed.
constexpr std::size_t min_max_reply_bytes = 1024;
constexpr std::size_t max_max_reply_bytes = 16u << 20;

struct stored_configuration {
  raft::membership members;
  raft::index_t index = 0;
};

std::string pretty(const error& e) {
  return std::string{to_string(e.code)} + ": " + e.message;
}

/// The state's last applied index, read in its own transaction.
expected<raft::index_t> last_applied(storage::state_store& state) {
  auto txn = state.begin_read();
  if (!txn.ok())
    return error{txn.code(), "cannot read the state: " + pretty(txn.err())};
  auto applied = txn->last_applied();
  if (!applied.ok())
    return error{applied.code(), "cannot read the state: " + pretty(applied.err())};
  return *applied;
}

// Brings the log and the state in line with the newest snapshot file and
// returns its meta (index 0 when there is none). A crash can leave a durable
// snapshot that the log or the state do not reflect yet:
//   - a local snapshot written but the log prefix not yet dropped: drop it;
//   - a received snapshot stored but not (fully) installed: the state is
//     installed from the file again (one txn), and the log is reset to it
//     unless it holds the snapshot's last entry with the same term.
// A damaged newest snapshot file, or a log compacted past every snapshot,
// stops the node (docs/design.md, durability rule 6).
expected<raft::snapshot_meta> restore_snapshot(const std::string& data_dir,
                                               storage::log_store& log,
                                               storage::state_store& state,
                                               raft::index_t applied) {
  auto dir = (std::filesystem::path{data_dir} / storage::snapshot_subdir).string();
  if (auto s = storage::create_dirs_durable(dir); !s.ok())
    return error{errc::storage_failure,
                 "cannot create " + dir + ": " + s.err().message};
  // Temporaries are unfinished writes or transfers: never trusted.
  if (auto s = storage::remove_snapshot_files_before(dir, 0, true); !s.ok())
    return s.err();
  auto files = storage::list_snapshot_files(dir);
  if (!files)
    return files.err();
  raft::snapshot_meta meta;
  if (files->empty()) {
    if (log.snapshot_index() > 0)
      return error{
          errc::corrupted,
          "the log in " + data_dir + " was compacted up to index " +
              std::to_string(log.snapshot_index()) + " but " + dir +
              " holds no snapshot; the data dir is damaged (restore it or wipe "
              "it and rejoin)"};
    return meta;
  }
  auto& newest = files->back();
  auto info = storage::verify_snapshot_file(newest.path);
  if (!info)
    return error{info.code(), "cannot load the snapshot: " + pretty(info.err())};
  auto m = raft::decode_membership(info->header.membership);
  if (!m || info->header.index != newest.index || info->header.term != newest.term)
    return error{errc::corrupted,
                 "snapshot file " + newest.path +
                     " does not match its name or holds an undecodable "
                     "membership; the data dir is damaged"};
  if (log.snapshot_index() > newest.index)
    return error{errc::corrupted,
                 "the log in " + data_dir + " was compacted up to index " +
                     std::to_string(log.snapshot_index()) +
                     " but the newest snapshot " + newest.path + " ends at " +
                     std::to_string(newest.index) + "; the data dir is damaged"};
  if (applied < newest.index) {
    spdlog::info("installing snapshot {} (state applied only up to {})", newest.path,
                 applied);
    auto inst = storage::install_snapshot_file(newest.path, state);
    if (!inst)
      return error{inst.code(), "cannot install the snapshot: " + pretty(inst.err())};
  }
  if (log.snapshot_index() < newest.index) {
    auto t = log.term(newest.index);
    status s = (t.ok() && *t == newest.term)
                   ? log.drop_prefix(newest.index)
                   : log.reset_to_snapshot(newest.index, newest.term);
    if (!s.ok())
      return error{s.code(), "cannot align the log with snapshot " + newest.path +
                                 ": " + pretty(s.err())};
  }
  if (auto s = storage::remove_snapshot_files_before(dir, newest.index); !s.ok())
    return s.err();
  meta.index = newest.index;
  meta.term = newest.term;
  meta.config = std::move(*m);
  return meta;
}

// The configuration the data dir holds (the newest in the log, else the
// snapshot's), as the core will restore it; nothing when it holds none.
std::optional<stored_configuration> stored_membership(const raft::restored_state& rs) {
  for (auto e = rs.entries.rbegin(); e != rs.entries.rend(); ++e)
    if ((*e)->kind == raft::entry_kind::membership)
      if (auto m = raft::decode_membership((*e)->data))
        return stored_configuration{std::move(*m), (*e)->index};
  if (rs.snapshot.index > 0 && !rs.snapshot.config.all().empty())
    return stored_configuration{rs.snapshot.config, rs.snapshot.index};
  return std::nullopt;
}

// --join on a data dir that already holds a configuration: the stored one
// wins over --join (the core restores it). Fine when it still lists this
// node; refused when it does not, since such a node was removed and would
// wait forever for a leader that no longer replicates to it.
status check_join(const node_options& opts, const raft::restored_state& rs) {
  auto stored = stored_membership(rs);
  if (!stored)
    return {};
  if (stored->members.contains(opts.id)) {
    spdlog::info(
        "node {}: --join has no effect: the data dir already holds a configuration "
        "(index {}) in which this node is a member; starting as that member",
        opts.id, stored->index);
    return {};
  }
  std::string ids;
  for (auto id : stored->members.all())
    ids += (ids.empty() ? "" : ", ") + std::to_string(id);
  return {
      errc::invalid_argument,
      "the data dir " + opts.data_dir + " belongs to node " + std::to_string(opts.id) +
          ", which was removed from the cluster (its stored configuration at index " +
          std::to_string(stored->index) + " lists only nodes " + ids +
          "); wipe the data dir (or use an empty one) to join again with --join"};
}

} // namespace

node_endpoint_actor spawn_node_endpoint(caf::actor_system& sys, node_context_ptr ctx,
                                        watch_hub_actor hub,
                                        snapshotter_actor snapshotter) {
  return sys.spawn(endpoint_fun, std::move(ctx), std::move(hub),
                   std::move(snapshotter));
}

status check_node_options(const node_options& opts) {
  if (opts.id == raft::no_server)
    return {
        errc::invalid_argument,
        "node id 0 is not valid: node ids are positive integers (1, 2, ...); set --id "
        "(config key id) to this node's id"};
  if (opts.cluster_id.empty() || opts.cluster_id.size() > 255)
    return {errc::invalid_argument, "--cluster-id must be 1 to 255 characters"};
  if (!parse_endpoint(opts.listen))
    return {errc::invalid_argument,
            "--listen '" + opts.listen + "' is not HOST:PORT (e.g. 127.0.0.1:7101)"};
  auto self = opts.peers.find(opts.id);
  if (self == opts.peers.end() && !opts.join)
    return {errc::invalid_argument,
            "--peers does not list this node's id " + std::to_string(opts.id) +
                "; list every member as ID=HOST:PORT (or start "
                "with --join to be added to a running cluster)"};
  if (self != opts.peers.end() && self->second != opts.listen)
    return {errc::invalid_argument,
            "--peers gives node " + std::to_string(opts.id) + " the address " +
                self->second + " but --listen is " + opts.listen + "; make them equal"};
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
  if (opts.max_sessions_per_connection < 1 || opts.max_sessions < 1 ||
      opts.max_requests_in_flight < 1 || opts.max_pending_proposals < 1)
    return {errc::invalid_argument,
            "--max-sessions-per-connection, --max-sessions, --max-requests-in-flight "
            "and --max-pending-proposals must be positive integers"};
  if (opts.max_reply_bytes < min_max_reply_bytes ||
      opts.max_reply_bytes > max_max_reply_bytes)
    return {errc::invalid_argument,
            "--max-reply-bytes must be " + std::to_string(min_max_reply_bytes) +
                " to " + std::to_string(max_max_reply_bytes) +
                " bytes (default 8MiB); CAF refuses messages over 32MiB"};
  if (opts.session_idle_timeout.count() < 1)
    return {errc::invalid_argument,
            "--session-idle-timeout must be a positive number of seconds"};
  if (opts.max_db_size < storage::lmdb::min_map_size)
    return {errc::invalid_argument,
            "--max-db-size " + std::to_string(opts.max_db_size) +
                " bytes is too small: each database needs at least 1MiB (e.g. 64GiB)"};
  if (opts.max_snapshot_bytes < storage::lmdb::min_map_size)
    return {errc::invalid_argument,
            "--max-snapshot-bytes " + std::to_string(opts.max_snapshot_bytes) +
                " bytes is too small: at least 1MiB (default 4GiB)"};
  if (opts.max_readers < min_max_readers || opts.max_readers > max_max_readers)
    return {errc::invalid_argument,
            "--max-readers must be " + std::to_string(min_max_readers) + " to " +
                std::to_string(max_max_readers) + " (default " +
                std::to_string(storage::lmdb::default_max_readers) + ")"};
  if (!opts.bootstrap_token_hash.empty()) {
    const auto& h = opts.bootstrap_token_hash;
    bool hex = h.size() == 64 && std::all_of(h.begin(), h.end(), [](char c) {
                 return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
    if (!hex)
      return {errc::invalid_argument,
              "--bootstrap-token-hash must be the 64 lowercase hex characters "
              "`conflux auth bootstrap-token` prints as the hash (never the token "
              "itself)"};
  }
  if (auto s = auth::validate_name("--bootstrap-principal", opts.bootstrap_principal);
      !s.ok())
    return s;
  if (opts.denied_log_rate < 1)
    return {
        errc::invalid_argument,
        "--denied-log-rate must be a positive number of lines per second (default " +
            std::to_string(denied_log::default_rate) + ")"};
  if (opts.default_rate < 1 || opts.rate_buckets < 1)
    return {errc::invalid_argument,
            "--default-rate and --rate-buckets must be positive integers"};
  if (opts.snapshot_entries == 0 && opts.snapshot_bytes == 0)
    return {errc::invalid_argument,
            "--snapshot-entries and --snapshot-bytes are both 0, so the log would grow "
            "without bound; set at least one of them"};
  return {};
}

status check_node_transport(const node_options& opts) {
  if (opts.transport.tls())
    return check_transport(opts.transport);
  if (auto st = check_plaintext_address("--insecure-plaintext: --listen", opts.listen);
      !st.ok())
    return st;
  for (const auto& [id, addr] : opts.peers)
    if (auto st = check_plaintext_address(
            "--insecure-plaintext: the address of node " + std::to_string(id), addr);
        !st.ok())
      return st;
  return {};
}

expected<node_handles> start_node(caf::actor_system& sys, node_options opts) {
  if (auto s = check_node_options(opts); !s.ok())
    return s.err();
  // Durably (docs/design.md, durability rule 11), like every directory and
  // file name the node creates under it.
  if (auto s = storage::create_dirs_durable(opts.data_dir); !s.ok())
    return error{errc::storage_failure,
                 "cannot create data dir " + opts.data_dir + ": " + s.err().message};
  storage::store_identity identity{opts.cluster_id, opts.id};
  auto base = std::filesystem::path{opts.data_dir};
  storage::log_store_options log_opts{identity};
  log_opts.map_size = opts.max_db_size;
  auto log =
      storage::log_store::open((base / storage::log_store::subdir).string(), log_opts);
  if (!log.ok())
    return error{log.code(),
                 "cannot open the log in " + opts.data_dir + ": " + pretty(log.err())};
  storage::state_store_options state_opts{identity};
  state_opts.map_size = opts.max_db_size;
  state_opts.max_readers = opts.max_readers;
  auto state = storage::state_store::open(
      (base / storage::state_store::subdir).string(), state_opts);
  if (!state.ok())
    return error{state.code(), "cannot open the state in " + opts.data_dir + ": " +
                                   pretty(state.err())};
  auto ctx = std::make_shared<node_context>();
  ctx->opts = opts;
  if (!opts.fault_clock_offset_file.empty()) {
    ctx->clock = offset_file_clock(opts.fault_clock_offset_file);
    spdlog::warn(
        "FAULT INJECTION: this node's wall clock is offset by the milliseconds in "
        "{} (--fault-clock-offset-file); never run it so in production",
        opts.fault_clock_offset_file);
  }
  if (!opts.kek_file.empty()) {
    auto ring = load_kek_file(opts.kek_file);
    if (!ring.ok())
      return ring.err();
    if (auto s = verify_kek_checks(*ring, opts.data_dir, opts.kek_file); !s.ok())
      return s.err();
    ctx->keys = std::make_shared<const kek_ring>(std::move(*ring));
    spdlog::info("secrets: {} key-encryption key(s) from {}, current '{}'",
                 ctx->keys->keys().size(), opts.kek_file, ctx->keys->current().id);
  }
  ctx->state = std::make_shared<storage::state_store>(std::move(*state));
  if (ctx->keys) {
    // A key that does not open what it sealed stops the node here, before it
    // serves anything (the check values catch only ids this dir has seen).
    auto txn = ctx->state->begin_read();
    if (!txn.ok())
      return txn.err();
    auto missing = check_ring_opens(*ctx->keys, *txn, opts.kek_file);
    if (!missing.ok())
      return missing.err();
    for (auto& id : *missing)
      spdlog::warn("secrets: the state holds sealed versions wrapped by key-encryption "
                   "key '{}', which {} lacks: this node cannot open them (add the key "
                   "back, or run `conflux kek rotate` on a node that has it)",
                   id, opts.kek_file);
  }
  auto denied =
      denied_log::open((base / denied_log::file_name).string(),
                       opts.denied_log_max_bytes, opts.denied_log_rate, ctx->clock);
  if (!denied.ok())
    return error{denied.code(), "cannot open the denied-request log in " +
                                    opts.data_dir + ": " + pretty(denied.err())};
  ctx->denied = std::move(*denied);

  // Rebuild the core's view from disk (PROTOCOL.md §3.1 and §3.4).
  raft::restored_state rs;
  auto applied = last_applied(*ctx->state);
  if (!applied.ok())
    return applied.err();
  rs.applied = *applied;
  auto snap = restore_snapshot(opts.data_dir, *log, *ctx->state, rs.applied);
  if (!snap.ok())
    return snap.err();
  rs.snapshot = std::move(*snap);
  rs.hard = log->hard_state();
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
  // Again: restore_snapshot may have installed the snapshot.
  applied = last_applied(*ctx->state);
  if (!applied.ok())
    return applied.err();
  rs.applied = *applied;
  if (rs.applied > log->last_index())
    return error{errc::corrupted,
                 "the state in " + opts.data_dir + " has applied index " +
                     std::to_string(rs.applied) + " but the log ends at " +
                     std::to_string(log->last_index()) +
                     "; the data dir is damaged (restore it or wipe it and rejoin)"};
  spdlog::info("node {} of cluster '{}' opened {}: snapshot {}, log {}..{}, term {}, "
               "applied {}",
               opts.id, opts.cluster_id, opts.data_dir, rs.snapshot.index,
               log->first_index(), log->last_index(), rs.hard.term, rs.applied);
  if (opts.join)
    if (auto s = check_join(opts, rs); !s.ok())
      return s.err();
  // Cluster time resumes from the last applied entry's stamp (a snapshot
  // alone carries none: the wall clock stands in until the next apply).
  for (auto& e : rs.entries)
    if (e->index == rs.applied)
      ctx->cluster_time.applied(e->timestamp_ms, ctx->clock->steady());
  ctx->rates.set_max_buckets(opts.rate_buckets);

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
                                         opts.watch_window, opts.max_reply_bytes},
                       rs.applied);
  caf::anon_send(applier, init_atom::value, hub);
  auto snapshotter = sys.spawn<caf::detached>(snapshotter_fun, ctx);
  // The three Raft role actors; the shell (core, persist pipeline, peer
  // links) goes to the one the restored core's role names.
  auto roles = spawn_raft_roles(sys, ctx);
  raft_shell::wiring wiring{log_actor, applier, snapshotter, roles, {}};
  start_raft(ctx,
             std::make_shared<raft_shell>(ctx, cc, std::move(rs), std::move(wiring)));
  auto endpoint = spawn_node_endpoint(sys, ctx, hub, snapshotter);
  std::vector<caf::actor> children{
      caf::actor_cast<caf::actor>(log_actor), caf::actor_cast<caf::actor>(applier),
      caf::actor_cast<caf::actor>(hub), caf::actor_cast<caf::actor>(snapshotter),
      caf::actor_cast<caf::actor>(endpoint)};
  for (auto& [kind, role] : roles)
    children.push_back(caf::actor_cast<caf::actor>(role));
  auto sup = sys.spawn(supervisor_fun, std::move(children));
  return node_handles{endpoint, sup, ctx};
}

} // namespace conflux::actors
