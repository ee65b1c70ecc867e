#pragma once
// Shared fixture of the tier-3 actor tests (docs/design.md, Testing tiers): one actor
// system on CAF's deterministic test_coordinator (no middleman), a temporary directory
// for real LMDB stores, and helpers that spawn a node's actors non-detached
// with the same functions the node launcher uses (log_store_fun, applier_fun,
// the Raft role actors, client_session_fun).
//
// Driving rules (bench/caf-spike/README.md §5): run() delivers messages
// until no job is left and never fires a timer; ticks fire only when a test
// advances the fake clock by one tick. A request from the test is made by a
// one-shot "asker" actor that the test coordinator runs like any other and
// that stores the answer in a reply_slot: nothing ever blocks, so no test can
// hang, and whether an answer has arrived yet is a plain flag.
//
// No scoped_actor: inspecting a blocking actor's mailbox inlines CAF's
// intrusive queue code, whose sentinel downcast aborts under
// -fsanitize=vptr (CONFLUX_SANITIZE builds).

#include "actors/applier.hpp"
#include "actors/client_session.hpp"
#include "actors/interfaces.hpp"
#include "actors/log_store_actor.hpp"
#include "actors/node_context.hpp"
#include "actors/raft_role.hpp"
#include "protocol/codec.hpp"
#include "protocol/raft/wire.hpp"
#include "storage/log_store.hpp"
#include "storage/state_store.hpp"

#include <caf/all.hpp>
#include <cstddef>
#include <cstdint>
#include <doctest/doctest.h>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace conflux::actors::test {

inline const std::string cluster = "conflux";
inline const std::string key_a = "acme/billing/prod/db.json";
inline const std::string key_b = "acme/billing/prod/cache.json";

// -- test-only actors ------------------------------------------------------------

/// What a recording listener got from an applier: every applied_notice, in
/// arrival order.
struct applied_recorder {
  std::vector<applied_notice> notices;
  /// installed_notice indexes.
  std::vector<raft::index_t> installed;
};

/// Stands in for the Raft role towards the applier (which reports to the
/// node's raft slot with applied_notice): records each notice so the test
/// can look at it.
/// What the applier reports to the Raft role (a stand-in implements it).
using applier_listener_actor =
    caf::typed_actor<caf::reacts_to<applied_notice>, caf::reacts_to<installed_notice>>;

applier_listener_actor::behavior_type
recording_listener_fun(applier_listener_actor::pointer self,
                       std::shared_ptr<applied_recorder> rec);

/// One Raft message a dummy peer link received, and what was durable in the
/// sending node's log store at that moment.
struct recorded_message {
  raft::server_id from = raft::no_server;
  raft::message msg;
  /// fixture::steps when the dummy ran (run_stepwise counts jobs).
  std::size_t step = 0;
  /// The log store's durable hard state and persist count at that moment.
  raft::hard_state durable;
  std::uint64_t persists = 0;
};

struct peer_recorder {
  raft::server_id id = raft::no_server;
  std::vector<recorded_message> messages;
  /// Batches addressed elsewhere or messages that did not decode.
  std::vector<std::string> problems;
  /// Fills step / durable / persists; set while the node's log store lives.
  std::function<void(recorded_message&)> annotate;
};

/// A peer link that just records what the raft shell sends to its peer. It
/// streams no snapshot: a transfer is reported failed at once to `ctx`'s
/// Raft role.
peer_link_actor::behavior_type dummy_peer_fun(peer_link_actor::pointer self,
                                              std::shared_ptr<peer_recorder> rec,
                                              node_context_ptr ctx);

// -- commands and entries ----------------------------------------------------------
// Every node dir a fixture opens starts with the tables a bootstrap makes
// (tests/protocol/auth_fixture.hpp), and these commands carry the credential
// of its cluster admin, as a node stamps it.

/// The envelope's bytes, stamped with the test cluster admin's credential.
std::string admin_cmd(command cmd, session_id session = 0, std::uint64_t sequence = 0,
                      std::string caller = {});
std::string create_cmd(const std::string& key,
                       const std::string& content = R"({"pool": 10})");
std::string version_cmd(const std::string& key, const std::string& content);
raft::entry_ptr command_entry(raft::index_t index, raft::term_t term, std::string data);

/// Counts the messages of type T (a raft message alternative) a recorder holds
/// that satisfy `pred`.
template <class T, class Pred>
std::size_t count_recorded(const peer_recorder& rec, Pred pred) {
  std::size_t n = 0;
  for (auto& m : rec.messages)
    if (auto* x = std::get_if<T>(&m.msg); x && pred(*x))
      ++n;
  return n;
}

// -- answers to requests from the test ---------------------------------------------

template <class T>
struct reply_slot {
  /// The asker got a reply (a value or an error).
  bool done = false;
  std::optional<T> value;
  /// Rendered CAF error, when the request failed.
  std::optional<std::string> error;
  /// The asker actor (weak), e.g. to run it first with sched.prioritize.
  caf::actor_addr asker;
};

template <class T>
using reply_ptr = std::shared_ptr<reply_slot<T>>;

// -- the fixture -------------------------------------------------------------------

class temp_dir {
public:
  temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir();
  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

struct test_config : caf::actor_system_config {
  test_config();
};

/// One node's context and actors, all spawned non-detached in the fixture.
struct test_node {
  raft::server_id id = raft::no_server;
  std::vector<raft::server_id> members;
  node_context_ptr ctx;
  log_store_actor log;
  applier_actor applier;
  /// The three Raft role actors.
  std::map<role_kind, raft_actor_impl> roles;
  std::map<raft::server_id, std::shared_ptr<peer_recorder>> peers;
  std::map<raft::server_id, peer_link_actor> links;

  /// The role actor that holds the core now (what sessions and peers reach).
  raft_actor_impl raft() const { return ctx->raft.get(); }
};

struct fixture {
  temp_dir dir;
  test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched;
  /// Everything spawned; told to exit (and drained) before the system goes.
  std::vector<caf::actor> spawned;
  /// Jobs run by run_stepwise so far.
  std::size_t steps = 0;

  fixture();
  ~fixture();

  template <class Handle>
  Handle track(Handle h) {
    spawned.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  // -- pieces of a node ----------------------------------------------------------

  node_options options(raft::server_id id,
                       const std::vector<raft::server_id>& members) const;
  std::string node_dir(raft::server_id id) const;
  /// A context whose state store lives in node_dir(id)/state.
  node_context_ptr open_context(const node_options& opts);
  std::unique_ptr<storage::log_store> open_log(raft::server_id id);
  log_store_actor spawn_log_store(std::unique_ptr<storage::log_store> store,
                                  node_context_ptr ctx);
  /// `applied` as the launcher computes it: the state's last_applied.
  applier_actor spawn_applier(node_context_ptr ctx);
  /// A recording listener standing in for the Raft role of `ctx` (the slot
  /// the applier reports to).
  std::shared_ptr<applied_recorder> listen_to(const node_context_ptr& ctx);
  client_session_actor spawn_session(const test_node& n);

  /// Opens (or reopens) node `id`'s stores in the temp dir and spawns its log
  /// store, applier, Raft role actors and one recording dummy link per other
  /// member, as start_node does; then runs the scheduler (the first tick).
  test_node start_node(raft::server_id id, const std::vector<raft::server_id>& members);
  /// Tells the node's actors to exit and drains the scheduler, so its LMDB
  /// environments are closed and the node can be started again.
  void stop_node(test_node& n);

  // -- driving -------------------------------------------------------------------
  //
  // Every response promise is delivered by the actor that made it, inside
  // one of its jobs (the Raft role keeps the promises of writes and reads;
  // the applier only reports applied_notice), so no delivery ever goes
  // through the stack-local execution unit the test coordinator leaves
  // behind as an actor's context() after a job.

  /// Runs one job.
  void run_one();
  /// Runs jobs until none is left (at most max_jobs); returns how many ran.
  std::size_t run(std::size_t max_jobs = 100'000);

  /// Advances the fake clock by one tick of `n` and runs every job.
  void tick(const test_node& n);
  /// Ticks a single-member node until it reports itself leader (bounded).
  void elect_single(const test_node& n);
  /// Runs one job at a time, at most `max_jobs`, always running a dummy peer
  /// of `n` first when it has mail: a batch is recorded before any other actor
  /// runs after its send. `before(job)` runs before each job.
  std::size_t run_stepwise(const test_node& n, std::size_t max_jobs,
                           const std::function<void(caf::resumable*)>& before = {});
  /// Delivers `msg` from member `from` to the Raft role holding `n`'s core (not run
  /// yet).
  void send_from(const test_node& n, raft::server_id from, const raft::message& msg);

  template <class Handle>
  static bool is_job_of(caf::resumable* job, const Handle& h) {
    return job != nullptr && job == dynamic_cast<caf::resumable*>(
                                        caf::actor_cast<caf::abstract_actor*>(h));
  }

  // -- requests from the test ----------------------------------------------------

  /// Spawns an asker that sends `xs...` to `h` as a request (when the
  /// scheduler first runs it) and stores the answer in the returned slot.
  template <class Result, class Handle, class... Ts>
  reply_ptr<Result> request(const Handle& h, Ts... xs) {
    auto slot = std::make_shared<reply_slot<Result>>();
    // Arguments, not captures: CAF 0.17's init_fun_factory dereferences a
    // null tuple for a function spawned without any (UBSan stops there).
    auto asker = sys.spawn(&fixture::asker_fun<Result, Handle, Ts...>, slot, h,
                           std::make_tuple(std::move(xs)...));
    slot->asker = asker.address();
    track(asker);
    return slot;
  }

  template <class Result, class Handle, class... Ts>
  static void asker_fun(caf::event_based_actor* self, reply_ptr<Result> slot, Handle h,
                        std::tuple<Ts...> args) {
    auto rh = std::apply(
        [&](Ts&... xs) { return self->request(h, caf::infinite, std::move(xs)...); },
        args);
    std::move(rh).then(
        [=](Result& r) {
          slot->done = true;
          slot->value = std::move(r);
          self->quit();
        },
        [=](caf::error& e) {
          slot->done = true;
          slot->error = self->system().render(e);
          self->quit();
        });
  }

  /// The value of an answered request (REQUIREs an answer without error).
  template <class Result>
  static Result value_of(const reply_ptr<Result>& slot) {
    REQUIRE_MESSAGE(slot->done, "the request got no answer");
    REQUIRE_MESSAGE(!slot->error, "the request failed: " << *slot->error);
    return *slot->value;
  }

  /// request(), run every job, and return the answer, which must be there.
  template <class Result, class Handle, class... Ts>
  Result ask(const Handle& h, Ts... xs) {
    auto slot = request<Result>(h, std::move(xs)...);
    run();
    return value_of(slot);
  }

  /// Sends without expecting an answer (not run yet).
  template <class Handle, class... Ts>
  void send(const Handle& h, Ts&&... xs) {
    caf::anon_send(h, std::forward<Ts>(xs)...);
  }

  rpc::status_reply status(const test_node& n);
  raft_reply propose(const test_node& n, std::string data);
  rpc::client_reply client(const client_session_actor& s, rpc::client_request req);

  // -- looking inside (single-threaded scheduler: safe between jobs) -------------

  static log_store_state& log_state(const log_store_actor& h);
  /// The state of the role actor holding `n`'s core (REQUIREs a holder).
  static raft_role_state& holder_state(const test_node& n);
  /// `n`'s raft shell, in whichever role actor holds it.
  static raft_shell& shell_of(const test_node& n);
};

/// The newest message of type T a recorder holds (nullptr if none).
template <class T>
const T* last_recorded(const peer_recorder& r) {
  for (auto i = r.messages.rbegin(); i != r.messages.rend(); ++i)
    if (auto* x = std::get_if<T>(&i->msg))
      return x;
  return nullptr;
}

/// Node 1 of a 3-node cluster whose other members (2 and 3) are recording
/// dummies driven by the test.
struct cluster_fixture : fixture {
  test_node n = start_node(1, {1, 2, 3});
  peer_recorder& rec2 = *n.peers.at(2);
  peer_recorder& rec3 = *n.peers.at(3);

  /// Makes node 1 leader of term 1 with node 2's (pre-)votes, and commits its
  /// no-op (index 1) with node 2's acknowledgement.
  void elect_node1();
};

/// A state read transaction of the node (REQUIREs that it opens).
storage::state_read_txn read_state(const node_context& ctx);

} // namespace conflux::actors::test
