#include "tests/actors/fixture.hpp"

#include "protocol/commands.hpp"
#include "tests/protocol/auth_fixture.hpp"

#include <filesystem>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <stdlib.h> // mkdtemp
#include <system_error>

namespace conflux::actors::test {

// -- test-only actors ------------------------------------------------------------

applier_listener_actor::behavior_type
recording_listener_fun(applier_listener_actor::pointer,
                       std::shared_ptr<applied_recorder> rec) {
  return {
      [=](applied_notice& n) { rec->notices.push_back(std::move(n)); },
      [=](installed_notice& n) { rec->installed.push_back(n.index); },
  };
}

peer_link_actor::behavior_type dummy_peer_fun(peer_link_actor::pointer self,
                                              std::shared_ptr<peer_recorder> rec,
                                              node_context_ptr ctx) {
  return {
      [=](rpc::peer_batch& b) {
        if (b.to != rec->id || b.cluster_id != cluster) {
          rec->problems.push_back(
              "batch for node " + std::to_string(b.to) + " of cluster '" +
              b.cluster_id + "' reached the link of node " + std::to_string(rec->id));
          return;
        }
        for (auto& bytes : b.messages) {
          auto m = raft::decode_message(bytes);
          if (!m.ok()) {
            rec->problems.push_back("undecodable message: " + to_string(m.err()));
            continue;
          }
          recorded_message r;
          r.from = b.from;
          r.msg = std::move(*m);
          if (rec->annotate)
            rec->annotate(r);
          rec->messages.push_back(std::move(r));
        }
      },
      // The recorder streams no snapshot: the transfer fails at once.
      [=](send_snapshot_request& r) {
        self->send(ctx->raft.get(), snapshot_sent_notice{rec->id, r.index, false});
      },
      [=](cancel_snapshot) {},
  };
}

// -- commands and entries ----------------------------------------------------------

std::string admin_cmd(command cmd, session_id session, std::uint64_t sequence,
                      std::string caller) {
  return codec::encode(command_envelope{session, sequence, std::move(cmd),
                                        std::move(caller),
                                        test_auth::admin_credential()});
}

std::string create_cmd(const std::string& key, const std::string& content) {
  return admin_cmd(create_config{key, content_format::json, std::nullopt, content,
                                 "first", "alice"});
}

std::string version_cmd(const std::string& key, const std::string& content) {
  return admin_cmd(create_version{key, content, "next", "bob", std::nullopt});
}

raft::entry_ptr command_entry(raft::index_t index, raft::term_t term,
                              std::string data) {
  raft::log_entry e;
  e.index = index;
  e.term = term;
  e.kind = raft::entry_kind::command;
  e.timestamp_ms = 1'700'000'000'000 + static_cast<std::int64_t>(index);
  e.data = std::move(data);
  return std::make_shared<const raft::log_entry>(std::move(e));
}

// -- fixture -------------------------------------------------------------------------

temp_dir::temp_dir() {
  auto tmpl =
      (std::filesystem::temp_directory_path() / "conflux-actors-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

test_config::test_config() {
  set("scheduler.policy", caf::atom("testing"));
  add_message_types<caf::id_block::conflux>();
}

fixture::fixture()
    : sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
  spdlog::set_level(spdlog::level::warn);
}

fixture::~fixture() {
  // Every actor must be gone before the system shuts down: the test
  // coordinator's stop() keeps firing timers while jobs appear, which a live
  // Raft role (periodic tick) would do forever.
  for (auto& a : spawned)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  run();
}

void fixture::run_one() {
  sched.run_once();
}

std::size_t fixture::run(std::size_t max_jobs) {
  std::size_t ran = 0;
  while (sched.has_job() && ran < max_jobs) {
    run_one();
    ++ran;
  }
  return ran;
}

node_options fixture::options(raft::server_id id,
                              const std::vector<raft::server_id>& members) const {
  node_options o;
  o.id = id;
  o.cluster_id = cluster;
  o.listen = "127.0.0.1:" + std::to_string(7100 + id);
  o.data_dir = node_dir(id);
  for (auto m : members)
    o.peers[m] = "127.0.0.1:" + std::to_string(7100 + m);
  o.tick = std::chrono::milliseconds{50};
  o.election_ticks = 10;
  o.heartbeat_ticks = 1;
  return o;
}

std::string fixture::node_dir(raft::server_id id) const {
  return dir.path() + "/node-" + std::to_string(id);
}

node_context_ptr fixture::open_context(const node_options& opts) {
  std::filesystem::create_directories(opts.data_dir);
  auto st =
      storage::state_store::open(opts.data_dir + "/" + storage::state_store::subdir,
                                 storage::state_store_options{{cluster, opts.id}});
  REQUIRE_MESSAGE(st.ok(), "cannot open the state store: " << to_string(st.err()));
  {
    auto w = st->begin_write();
    REQUIRE(w.ok());
    REQUIRE(test_auth::seed_admin(*w).ok());
    REQUIRE(w->commit().ok());
  }
  auto ctx = std::make_shared<node_context>();
  ctx->opts = opts;
  ctx->state = std::make_shared<storage::state_store>(std::move(*st));
  return ctx;
}

std::unique_ptr<storage::log_store> fixture::open_log(raft::server_id id) {
  auto d = node_dir(id);
  std::filesystem::create_directories(d);
  auto log = storage::log_store::open(d + "/" + storage::log_store::subdir,
                                      storage::log_store_options{{cluster, id}});
  REQUIRE_MESSAGE(log.ok(), "cannot open the log store: " << to_string(log.err()));
  return std::make_unique<storage::log_store>(std::move(*log));
}

log_store_actor fixture::spawn_log_store(std::unique_ptr<storage::log_store> store,
                                         node_context_ptr ctx) {
  return track(sys.spawn(log_store_fun, std::move(store), std::move(ctx)));
}

applier_actor fixture::spawn_applier(node_context_ptr ctx) {
  auto txn = ctx->state->begin_read();
  REQUIRE(txn.ok());
  auto applied = txn->last_applied();
  REQUIRE(applied.ok());
  return track(sys.spawn(applier_fun, std::move(ctx), *applied));
}

std::shared_ptr<applied_recorder> fixture::listen_to(const node_context_ptr& ctx) {
  auto rec = std::make_shared<applied_recorder>();
  auto listener = track(sys.spawn(recording_listener_fun, rec));
  ctx->raft.set(caf::actor_cast<raft_actor_impl>(listener));
  return rec;
}

client_session_actor fixture::spawn_session(const test_node& n) {
  return track(
      sys.spawn(client_session_fun, n.ctx, caf::actor_addr{}, caf::actor_addr{}));
}

test_node fixture::start_node(raft::server_id id,
                              const std::vector<raft::server_id>& members) {
  test_node n;
  n.id = id;
  n.members = members;
  n.ctx = open_context(options(id, members));
  auto log = open_log(id);

  // The restored view, as start_node in actors/node.cpp builds it.
  raft::restored_state rs;
  rs.hard = log->hard_state();
  rs.snapshot.index = log->snapshot_index();
  rs.snapshot.term = log->snapshot_term();
  if (log->last_index() >= log->first_index()) {
    auto entries = log->entries(log->first_index(), log->last_index() + 1);
    REQUIRE(entries.ok());
    for (auto& e : *entries)
      rs.entries.push_back(std::make_shared<const raft::log_entry>(std::move(e)));
  }
  rs.bootstrap.voters = members;
  {
    auto txn = read_state(*n.ctx);
    auto applied = txn.last_applied();
    REQUIRE(applied.ok());
    rs.applied = *applied;
  }

  raft::core_config cc;
  cc.id = id;
  cc.election_ticks = n.ctx->opts.election_ticks;
  cc.heartbeat_ticks = n.ctx->opts.heartbeat_ticks;
  cc.seed = id;

  n.log = spawn_log_store(std::move(log), n.ctx);
  n.applier = spawn_applier(n.ctx);
  for (auto m : members) {
    if (m == id)
      continue;
    auto rec = std::make_shared<peer_recorder>();
    rec->id = m;
    auto log_handle = n.log;
    rec->annotate = [this, log_handle](recorded_message& r) {
      r.step = steps;
      auto& st = log_state(log_handle);
      r.durable = st.store->hard_state();
      r.persists = st.persists;
    };
    n.peers.emplace(m, rec);
    n.links.emplace(m, track(sys.spawn(dummy_peer_fun, rec, n.ctx)));
  }
  n.roles = spawn_raft_roles(sys, n.ctx);
  for (auto& [kind, role] : n.roles)
    track(role);
  raft_shell::wiring wiring{n.log, n.applier, snapshotter_actor{}, n.roles, n.links};
  start_raft(n.ctx,
             std::make_shared<raft_shell>(n.ctx, cc, std::move(rs), std::move(wiring)));
  run();
  return n;
}

void fixture::stop_node(test_node& n) {
  for (auto& [id, rec] : n.peers)
    rec->annotate = nullptr;
  for (auto& [kind, role] : n.roles)
    caf::anon_send_exit(role, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(n.applier, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(n.log, caf::exit_reason::user_shutdown);
  for (auto& [id, l] : n.links)
    caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
  run();
  n.ctx.reset();
}

void fixture::tick(const test_node& n) {
  sched.advance_time(n.ctx->opts.tick);
  run();
}

void fixture::elect_single(const test_node& n) {
  // The election timeout is drawn from [election_ticks, 2 * election_ticks).
  const int limit = 4 * n.ctx->opts.election_ticks;
  for (int i = 0; i < limit && status(n).role != "leader"; ++i)
    tick(n);
  REQUIRE_MESSAGE(status(n).role == "leader",
                  "the single node did not become leader within " << limit << " ticks");
}

std::size_t fixture::run_stepwise(const test_node& n, std::size_t max_jobs,
                                  const std::function<void(caf::resumable*)>& before) {
  std::size_t ran = 0;
  while (sched.has_job() && ran < max_jobs) {
    for (auto& [id, link] : n.links)
      if (sched.prioritize(link))
        break;
    if (before)
      before(sched.jobs.front());
    ++steps;
    run_one();
    ++ran;
  }
  return ran;
}

void fixture::send_from(const test_node& n, raft::server_id from,
                        const raft::message& msg) {
  rpc::peer_batch b;
  b.cluster_id = cluster;
  b.from = from;
  b.to = n.id;
  b.messages.push_back(raft::encode_message(msg));
  send(n.raft(), std::move(b));
}

rpc::status_reply fixture::status(const test_node& n) {
  return ask<rpc::status_reply>(n.raft(), status_atom::value);
}

raft_reply fixture::propose(const test_node& n, std::string data) {
  return ask<raft_reply>(n.raft(), propose_request{std::move(data)});
}

rpc::client_reply fixture::client(const client_session_actor& s,
                                  rpc::client_request req) {
  return ask<rpc::client_reply>(s, std::move(req));
}

log_store_state& fixture::log_state(const log_store_actor& h) {
  auto* p = dynamic_cast<log_store_actor::stateful_pointer<log_store_state>>(
      caf::actor_cast<caf::abstract_actor*>(h));
  REQUIRE(p != nullptr);
  return p->state;
}

raft_role_state& fixture::holder_state(const test_node& n) {
  auto* p =
      dynamic_cast<raft_role_self>(caf::actor_cast<caf::abstract_actor*>(n.raft()));
  REQUIRE(p != nullptr);
  REQUIRE_MESSAGE(p->state.shell != nullptr,
                  "the slot names a role that holds no core");
  return p->state;
}

raft_shell& fixture::shell_of(const test_node& n) {
  return *holder_state(n).shell;
}

void cluster_fixture::elect_node1() {
  const int limit = 4 * n.ctx->opts.election_ticks;
  auto pre_votes = [&] {
    return count_recorded<raft::request_vote_request>(
        rec2, [](const raft::request_vote_request& m) { return m.pre_vote; });
  };
  for (int i = 0; i < limit && pre_votes() == 0; ++i)
    tick(n);
  REQUIRE(pre_votes() >= 1u);
  send_from(n, 2, raft::request_vote_response{1, true, true});
  run();
  send_from(n, 2, raft::request_vote_response{1, false, true});
  run();
  auto s = status(n);
  REQUIRE(s.role == "leader");
  REQUIRE(s.term == 1u);
  auto* ae = last_recorded<raft::append_entries_request>(rec2);
  REQUIRE(ae != nullptr);
  REQUIRE(ae->entries.size() == 1u);
  REQUIRE(ae->entries[0]->kind == raft::entry_kind::noop);
  REQUIRE(ae->entries[0]->index == 1u);
  send_from(n, 2, raft::append_entries_response{1, true, 1, 0, 0});
  run();
  REQUIRE(status(n).commit == 1u);
}

storage::state_read_txn read_state(const node_context& ctx) {
  auto txn = ctx.state->begin_read();
  REQUIRE_MESSAGE(txn.ok(), "cannot read the state: " << to_string(txn.err()));
  return std::move(*txn);
}

} // namespace conflux::actors::test
