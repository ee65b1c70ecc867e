// The watch hub, fed by a real applier over LMDB under the test coordinator:
// events in revision order with kind, versions and content hash; key and
// prefix filters; labelled watches told only when their resolved version
// changes; resume within the history; one resync event when the resume point
// is older than the history; and the cut-off of a watcher that does not ack.

#include "actors/watch_hub.hpp"
#include "protocol/sha256.hpp"
#include "tests/actors/fixture.hpp"

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

const std::string other_key = "acme/shipping/prod/app.json";

/// What a test watcher received, in arrival order.
struct watch_log {
  std::vector<rpc::watch_reply> replies;
  std::vector<rpc::watch_event> events;
  std::vector<rpc::watch_closed> closed;
  /// Ack every batch at once (a keeping-up client) or never (a stuck one).
  bool ack = true;
  watch_hub_actor hub;
  std::uint64_t processed = 0;
  /// watch_events messages received.
  std::size_t batches = 0;

  std::vector<std::uint64_t> revisions() const {
    std::vector<std::uint64_t> out;
    for (auto& e : events)
      out.push_back(e.revision);
    return out;
  }
};

caf::behavior test_watcher_fun(caf::event_based_actor* self,
                               std::shared_ptr<watch_log> log) {
  return {
      [=](rpc::watch_reply& r) { log->replies.push_back(std::move(r)); },
      [=](rpc::watch_events& b) {
        ++log->batches;
        for (auto& e : b.events)
          log->events.push_back(std::move(e));
        log->processed += b.events.size();
        if (log->ack)
          self->send(log->hub, rpc::watch_ack{b.watch_id, log->processed});
      },
      [=](rpc::watch_closed& c) { log->closed.push_back(std::move(c)); },
  };
}

/// A watcher that registers itself through a client session, as the client
/// library's watcher actor does (the session forwards with the sender).
caf::behavior session_watcher_fun(caf::event_based_actor* self,
                                  std::shared_ptr<watch_log> log,
                                  client_session_actor session,
                                  rpc::watch_request req) {
  self->send(session, std::move(req));
  return test_watcher_fun(self, std::move(log));
}

std::string rules_cmd(const std::string& key, std::vector<release_rule> rules) {
  return admin_cmd(update_release_rules{key, std::move(rules), "", std::nullopt});
}

std::string delete_versions_cmd(const std::string& key, std::vector<version_id> ids) {
  return admin_cmd(delete_versions{key, std::move(ids), std::nullopt});
}

// Forced: the tests delete configs that release rules still serve.
std::string delete_config_cmd(const std::string& key) {
  return admin_cmd(delete_config{key, std::nullopt, true});
}

std::string json(int n) {
  return R"({"n": )" + std::to_string(n) + "}";
}

struct hub_fixture : fixture {
  node_context_ptr ctx = open_context(options(1, {1}));
  applier_actor applier = spawn_applier(ctx);
  std::shared_ptr<applied_recorder> reports = listen_to(ctx);
  watch_hub_actor hub;
  raft::index_t next_index = 1;

  explicit hub_fixture(watch_hub_options opts = {}) {
    hub = track(sys.spawn(watch_hub_fun, ctx, opts, std::uint64_t{0}));
    send(applier, init_atom::value, hub);
    run();
  }

  /// Applies one command as the next entry (its revision is returned).
  raft::index_t apply(std::string cmd) {
    auto i = next_index++;
    send(applier, apply_batch{{command_entry(i, 1, std::move(cmd))}});
    run();
    return i;
  }

  std::shared_ptr<watch_log> watch(const std::string& key, labels l = {},
                                   std::uint64_t from = 0, bool ack = true) {
    auto log = std::make_shared<watch_log>();
    log->ack = ack;
    log->hub = hub;
    auto w = track(sys.spawn(test_watcher_fun, log));
    send(hub, watch_subscribe{caf::actor_cast<caf::strong_actor_ptr>(w),
                              rpc::watch_request{key, std::move(l), from}});
    run();
    return log;
  }
};

/// Batches of at most 300 bytes (about one event each).
struct small_batch_fixture : hub_fixture {
  small_batch_fixture() : hub_fixture(watch_hub_options{100, 100, 100, 300}) {}
};

struct small_hub_fixture : hub_fixture {
  small_hub_fixture() : hub_fixture(watch_hub_options{3, 4, 2}) {}
};

/// Long history, small backlog and window.
struct tight_backlog_fixture : hub_fixture {
  tight_backlog_fixture() : hub_fixture(watch_hub_options{100, 4, 2}) {}
};

/// Short history, large backlog, window of one.
struct short_history_fixture : hub_fixture {
  short_history_fixture() : hub_fixture(watch_hub_options{3, 100, 1}) {}
};

rpc::watch_kind kind_of(const rpc::watch_event& e) {
  return static_cast<rpc::watch_kind>(e.kind);
}

} // namespace

TEST_CASE_FIXTURE(hub_fixture, "watch_hub_sends_every_change_in_revision_order") {
  auto w = watch(key_a);
  REQUIRE(w->replies.size() == 1u);
  CHECK(w->replies[0].code == 0);
  CHECK(w->replies[0].revision == 0u);

  apply(create_cmd(key_a, json(1)));                 // 1: v1
  apply(version_cmd(key_a, json(2)));                // 2: v2
  apply(rules_cmd(key_a, {release_rule{{}, 2, 0}})); // 3: default -> v2
  apply(delete_versions_cmd(key_a, {1}));            // 4
  apply(delete_versions_cmd(key_a, {2}));            // 5: refused (in use)
  apply(delete_config_cmd(key_a));                   // 6

  REQUIRE(w->events.size() == 5u);
  CHECK(w->revisions() == std::vector<std::uint64_t>{1, 2, 3, 4, 6});
  CHECK(kind_of(w->events[0]) == rpc::watch_kind::config_created);
  CHECK(w->events[0].versions == std::vector<std::uint64_t>{1});
  CHECK(w->events[0].content_hash == sha256_hex(json(1)));
  CHECK(kind_of(w->events[1]) == rpc::watch_kind::version_added);
  CHECK(w->events[1].versions == std::vector<std::uint64_t>{2});
  CHECK(w->events[1].content_hash == sha256_hex(json(2)));
  CHECK(kind_of(w->events[2]) == rpc::watch_kind::rules_changed);
  CHECK(w->events[2].versions == std::vector<std::uint64_t>{2});
  CHECK(kind_of(w->events[3]) == rpc::watch_kind::versions_deleted);
  CHECK(w->events[3].versions == std::vector<std::uint64_t>{1});
  CHECK(kind_of(w->events[4]) == rpc::watch_kind::config_deleted);
  for (auto& e : w->events) {
    CHECK(e.key == key_a);
    CHECK(e.config_id == w->events[0].config_id);
    CHECK(e.resolved_version == 0u);
  }
  CHECK(w->closed.empty());
}

TEST_CASE_FIXTURE(hub_fixture, "watch_hub_filters_by_key_and_by_prefix") {
  auto exact = watch(key_a);
  auto prefix = watch("acme/billing/");
  auto elsewhere = watch("acme/shipping/prod/");

  apply(create_cmd(key_a));     // 1
  apply(create_cmd(key_b));     // 2 (same prefix as key_a)
  apply(create_cmd(other_key)); // 3

  CHECK(exact->revisions() == std::vector<std::uint64_t>{1});
  CHECK(prefix->revisions() == std::vector<std::uint64_t>{1, 2});
  REQUIRE(elsewhere->revisions() == std::vector<std::uint64_t>{3});
  CHECK(elsewhere->events[0].key == other_key);
}

TEST_CASE_FIXTURE(hub_fixture, "watch_hub_rejects_a_bad_key_with_a_typed_error") {
  auto w = watch("not a key");
  REQUIRE(w->replies.size() == 1u);
  CHECK(w->replies[0].code == static_cast<std::uint8_t>(errc::invalid_argument));
  CHECK_FALSE(w->replies[0].message.empty());
  apply(create_cmd(key_a));
  CHECK(w->events.empty());
}

TEST_CASE_FIXTURE(hub_fixture,
                  "labelled_watcher_is_told_only_when_its_resolved_version_changes") {
  auto canary = watch(key_a, {{"canary", "true"}});
  auto stable = watch(key_a, {{"region", "eu"}});

  apply(create_cmd(key_a, json(1)));                           // 1: nothing released
  apply(version_cmd(key_a, json(2)));                          // 2: v2, nobody sees it
  auto r3 = apply(rules_cmd(key_a, {release_rule{{}, 1, 0}})); // 3: all -> v1
  auto r4 = apply(rules_cmd(
      key_a, {release_rule{{}, 1, 0}, release_rule{{{"canary", "true"}}, 2, 10}})); // 4
  apply(version_cmd(key_a, json(3)));             // 5: v3, nobody sees it
  apply(rules_cmd(key_a, {release_rule{{}, 1, 0}, // 6: same for both,
                          release_rule{{{"canary", "true"}}, 2, 5}})); // priority only
  auto r7 = apply(delete_config_cmd(key_a));                           // 7

  REQUIRE(canary->revisions() == std::vector<std::uint64_t>{r3, r4, r7});
  CHECK(canary->events[0].resolved_version == 1u);
  CHECK(canary->events[0].content_hash == sha256_hex(json(1)));
  CHECK(canary->events[1].resolved_version == 2u);
  CHECK(canary->events[1].content_hash == sha256_hex(json(2)));
  CHECK(canary->events[2].resolved_version == 0u);
  CHECK(canary->events[2].content_hash.empty());

  REQUIRE(stable->revisions() == std::vector<std::uint64_t>{r3, r7});
  CHECK(stable->events[0].resolved_version == 1u);
  CHECK(stable->events[1].resolved_version == 0u);
}

TEST_CASE_FIXTURE(hub_fixture,
                  "watch_resumed_within_the_history_misses_and_repeats_nothing") {
  for (int i = 1; i <= 5; ++i)
    apply(i == 1 ? create_cmd(key_a, json(i)) : version_cmd(key_a, json(i)));
  auto w = watch(key_a, {}, 3);
  REQUIRE(w->replies.size() == 1u);
  CHECK(w->replies[0].revision == 2u);
  CHECK(w->revisions() == std::vector<std::uint64_t>{3, 4, 5});
  apply(version_cmd(key_a, json(6)));
  CHECK(w->revisions() == std::vector<std::uint64_t>{3, 4, 5, 6});
  for (auto& e : w->events)
    CHECK(kind_of(e) != rpc::watch_kind::resync);
}

TEST_CASE_FIXTURE(small_hub_fixture,
                  "watch_resumed_before_the_history_gets_one_resync_then_changes") {
  // history 3: after 6 changes the hub holds revisions 4..6 only.
  apply(create_cmd(key_a, json(1))); // 1
  apply(create_cmd(key_b, json(1))); // 2
  for (int i = 2; i <= 5; ++i)
    apply(version_cmd(key_a, json(i))); // 3..6: key_a v2..v5
  auto w = watch("acme/billing/", {}, 2);
  REQUIRE(w->replies.size() == 1u);
  CHECK(w->replies[0].code == 0);
  CHECK(w->replies[0].revision == 6u);
  REQUIRE(w->events.size() == 1u);
  auto& rs = w->events[0];
  CHECK(kind_of(rs) == rpc::watch_kind::resync);
  CHECK(rs.revision == 6u);
  REQUIRE(rs.state.size() == 2u); // key order: cache.json, db.json
  CHECK(rs.state[0].key == key_b);
  CHECK(rs.state[0].latest_version == 1u);
  CHECK(rs.state[1].key == key_a);
  CHECK(rs.state[1].latest_version == 5u);
  CHECK(rs.state[1].mod_revision == 6u);
  CHECK(rs.state[1].content_hash == sha256_hex(json(5)));

  apply(version_cmd(key_b, json(2))); // 7
  CHECK(w->revisions() == std::vector<std::uint64_t>{6, 7});
  CHECK(w->closed.empty());

  // A resume point inside the history replays instead.
  auto again = watch("acme/billing/", {}, 5);
  CHECK(again->revisions() == std::vector<std::uint64_t>{5, 6, 7});
}

TEST_CASE_FIXTURE(tight_backlog_fixture,
                  "watcher_that_does_not_ack_is_cut_off_with_a_reason") {
  // window 2, backlog 4: a watcher that never acks gets 2 events, then the
  // backlog grows past 4 and it is cut off; one that acks gets everything.
  apply(create_cmd(key_a, json(0)));
  auto stuck = watch(key_a, {}, 0, false);
  auto keeping_up = watch(key_a);
  for (int i = 1; i <= 8; ++i)
    apply(version_cmd(key_a, json(i)));

  CHECK(stuck->events.size() == 2u);
  REQUIRE(stuck->closed.size() == 1u);
  CHECK(stuck->closed[0].code == static_cast<std::uint8_t>(errc::unavailable));
  CHECK(stuck->closed[0].reason.find("5 events behind (limit 4)") != std::string::npos);
  apply(version_cmd(key_a, json(9)));
  CHECK(stuck->events.size() == 2u); // forgotten: nothing more
  CHECK(stuck->closed.size() == 1u);

  CHECK(keeping_up->events.size() == 9u);
  CHECK(keeping_up->closed.empty());
}

TEST_CASE_FIXTURE(hub_fixture,
                  "a_retried_command_answered_from_the_session_makes_no_event") {
  auto open = admin_cmd(open_session{60'000, 1});
  apply(open); // 1: session 1
  auto w = watch(key_a);
  auto cmd = admin_cmd(
      create_config{key_a, content_format::json, std::nullopt, json(1), "", "x"}, 1, 1);
  apply(cmd); // 2
  apply(cmd); // 3: same (session, sequence): answered, not applied
  CHECK(w->revisions() == std::vector<std::uint64_t>{2});
}

TEST_CASE_FIXTURE(short_history_fixture,
                  "watcher_that_needs_a_change_gone_from_the_history_is_cut_off") {
  // window 1 and no ack: the watcher holds at revision 2 while the history
  // (3 changes) moves on; once revision 3 is dropped it cannot be served in
  // order any more.
  apply(create_cmd(key_a, json(0))); // 1
  auto stuck = watch(key_a, {}, 0, false);
  for (int i = 1; i <= 4; ++i)
    apply(version_cmd(key_a, json(i))); // 2..5
  CHECK(stuck->revisions() == std::vector<std::uint64_t>{2});
  CHECK(stuck->closed.empty());       // revision 3 still held (history 3..5)
  apply(version_cmd(key_a, json(5))); // 6: revision 3 leaves the history
  REQUIRE(stuck->closed.size() == 1u);
  CHECK(stuck->closed[0].reason.find("history") != std::string::npos);
  // Its resume point is gone: a resume now gets a resync.
  auto resumed = watch(key_a, {}, 3);
  REQUIRE(resumed->events.size() == 1u);
  CHECK(kind_of(resumed->events[0]) == rpc::watch_kind::resync);
  CHECK(resumed->events[0].revision == 6u);
}

TEST_CASE_FIXTURE(hub_fixture,
                  "a_replaced_state_cuts_watchers_off_and_resumes_resync") {
  apply(create_cmd(key_a, json(1)));  // 1
  apply(version_cmd(key_a, json(2))); // 2
  auto w = watch(key_a, {}, 1);
  CHECK(w->revisions() == std::vector<std::uint64_t>{1, 2});
  // What the applier sends after installing a snapshot (here of the same
  // state, at revision 2).
  send(hub, watch_notice{2, {}, true});
  run();
  REQUIRE(w->closed.size() == 1u);
  CHECK(w->closed[0].reason.find("snapshot") != std::string::npos);
  // The history is gone: even a resume from 2 gets the current state.
  auto again = watch(key_a, {}, 2);
  REQUIRE(again->events.size() == 1u);
  CHECK(kind_of(again->events[0]) == rpc::watch_kind::resync);
  apply(version_cmd(key_a, json(3))); // 3
  CHECK(again->revisions() == std::vector<std::uint64_t>{2, 3});
}

TEST_CASE_FIXTURE(hub_fixture, "client_session_registers_its_client_as_the_watcher") {
  auto session = track(sys.spawn(client_session_with_watches_fun, ctx,
                                 caf::actor_addr{}, caf::actor_addr{}, hub));
  auto log = std::make_shared<watch_log>();
  log->ack = false;
  track(sys.spawn(session_watcher_fun, log, session, rpc::watch_request{key_a, {}, 0}));
  run();
  REQUIRE(log->replies.size() == 1u);
  CHECK(log->replies[0].code == 0);
  CHECK(log->replies[0].node_id == 1u);
  apply(create_cmd(key_a)); // 1
  CHECK(log->revisions() == std::vector<std::uint64_t>{1});

  // A session without a hub says so instead of leaving the watcher waiting.
  auto plain =
      track(sys.spawn(client_session_fun, ctx, caf::actor_addr{}, caf::actor_addr{}));
  auto refused = std::make_shared<watch_log>();
  track(
      sys.spawn(session_watcher_fun, refused, plain, rpc::watch_request{key_a, {}, 0}));
  run();
  REQUIRE(refused->replies.size() == 1u);
  CHECK(refused->replies[0].code == static_cast<std::uint8_t>(errc::unavailable));
}

// -- limits ----------------------------------------------------------------------

TEST_CASE_FIXTURE(tight_backlog_fixture,
                  "watch_acks_and_cancels_from_another_watcher_are_dropped") {
  auto session_a = track(sys.spawn(client_session_with_watches_fun, ctx,
                                   caf::actor_addr{}, caf::actor_addr{}, hub));
  auto session_b = track(sys.spawn(client_session_with_watches_fun, ctx,
                                   caf::actor_addr{}, caf::actor_addr{}, hub));
  // A never acks: the window (2) holds its events back.
  auto a = std::make_shared<watch_log>();
  a->ack = false;
  a->hub = hub;
  auto a_actor = track(
      sys.spawn(session_watcher_fun, a, session_a, rpc::watch_request{key_a, {}, 0}));
  auto b = std::make_shared<watch_log>();
  b->hub = hub;
  auto b_actor = track(
      sys.spawn(session_watcher_fun, b, session_b, rpc::watch_request{key_a, {}, 0}));
  run();
  REQUIRE(a->replies.size() == 1u);
  REQUIRE(b->replies.size() == 1u);
  const auto a_id = a->replies[0].watch_id;
  REQUIRE(a_id != b->replies[0].watch_id);
  apply(create_cmd(key_a, json(1)));  // 1
  apply(version_cmd(key_a, json(2))); // 2
  apply(version_cmd(key_a, json(3))); // 3
  CHECK(a->revisions() == std::vector<std::uint64_t>{1, 2});

  // B, through its own session, acks and cancels A's watch: both dropped.
  caf::send_as(b_actor, session_b, rpc::watch_ack{a_id, 2});
  run();
  CHECK(a->revisions() == std::vector<std::uint64_t>{1, 2});
  caf::send_as(b_actor, session_b, rpc::watch_cancel{a_id});
  run();
  CHECK(ctx->counters.get("watch.dropped.not_owner") == 2u);
  // Straight to the hub, from an actor that owns nothing, the same.
  caf::anon_send(hub, rpc::watch_cancel{a_id});
  run();
  CHECK(ctx->counters.get("watch.dropped.not_owner") == 3u);

  // A's own ack and cancel, through its session, count.
  caf::send_as(a_actor, session_a, rpc::watch_ack{a_id, 2});
  run();
  CHECK(a->revisions() == std::vector<std::uint64_t>{1, 2, 3});
  caf::send_as(a_actor, session_a, rpc::watch_cancel{a_id});
  run();
  apply(version_cmd(key_a, json(4))); // 4
  CHECK(a->revisions() == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(b->revisions() == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(ctx->counters.get("watch.dropped.not_owner") == 3u);
}

TEST_CASE_FIXTURE(small_batch_fixture, "watch_events_are_split_into_batches_by_bytes") {
  apply(create_cmd(key_a, json(1)));  // 1
  apply(version_cmd(key_a, json(2))); // 2
  apply(version_cmd(key_a, json(3))); // 3
  apply(version_cmd(key_a, json(4))); // 4
  // A resume from 1 replays all four at once: one batch would hold them all,
  // 300 bytes hold one.
  auto w = watch(key_a, {}, 1);
  CHECK(w->revisions() == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(w->batches == 4u);
}

TEST_CASE_FIXTURE(hub_fixture, "watch_events_fit_one_batch_under_the_default_limit") {
  apply(create_cmd(key_a, json(1)));  // 1
  apply(version_cmd(key_a, json(2))); // 2
  apply(version_cmd(key_a, json(3))); // 3
  apply(version_cmd(key_a, json(4))); // 4
  auto w = watch(key_a, {}, 1);
  CHECK(w->revisions() == std::vector<std::uint64_t>{1, 2, 3, 4});
  CHECK(w->batches == 1u);
}

TEST_CASE_FIXTURE(small_batch_fixture,
                  "a_resync_over_the_reply_limit_is_refused_as_too_large") {
  for (int c = 0; c < 5; ++c)
    apply(create_cmd("acme/many/prod/c" + std::to_string(c) + ".json", json(c)));
  // Forget the history, so a resume needs the current state.
  send(hub, watch_notice{5, {}, true});
  run();
  auto prefix = watch("acme/many/", {}, 1);
  REQUIRE(prefix->replies.size() == 1u);
  CHECK(prefix->replies[0].code == static_cast<std::uint8_t>(errc::too_large));
  CHECK(prefix->replies[0].message.find("--max-reply-bytes") != std::string::npos);
  CHECK(prefix->events.empty());
  CHECK(ctx->counters.get("watch.refused.resync_too_large") == 1u);
  // One key's state fits.
  auto one = watch("acme/many/prod/c0.json", {}, 1);
  REQUIRE(one->replies.size() == 1u);
  CHECK(one->replies[0].code == 0u);
  REQUIRE(one->events.size() == 1u);
  CHECK(kind_of(one->events[0]) == rpc::watch_kind::resync);
}

TEST_CASE_FIXTURE(hub_fixture, "a_session_with_a_watch_is_not_closed_as_idle") {
  ctx->opts.session_idle_timeout = std::chrono::milliseconds(400);
  auto watching = track(sys.spawn(client_session_with_watches_fun, ctx,
                                  caf::actor_addr{}, caf::actor_addr{}, hub));
  auto log = std::make_shared<watch_log>();
  log->ack = false;
  track(
      sys.spawn(session_watcher_fun, log, watching, rpc::watch_request{key_a, {}, 0}));
  auto silent = track(sys.spawn(client_session_with_watches_fun, ctx, caf::actor_addr{},
                                caf::actor_addr{}, hub));
  run();
  REQUIRE(log->replies.size() == 1u);
  // Ten timeouts without a word from either client: only the silent one
  // without a watch closes.
  for (int i = 0; i < 40; ++i) {
    sched.advance_time(std::chrono::milliseconds(100));
    run();
  }
  CHECK(ctx->counters.get("session.closed.idle") == 1u);
  auto bounced = request<rpc::status_reply>(silent, status_atom::value);
  run();
  REQUIRE(bounced->done);
  CHECK(bounced->error.has_value());
  apply(create_cmd(key_a)); // 1
  CHECK(log->revisions() == std::vector<std::uint64_t>{1});
}
