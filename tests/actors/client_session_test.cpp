// The client session: serializable reads straight from the local state,
// linearizable reads behind a ReadIndex barrier, writes through raft, and
// redirects from a non-leader.

#include "actors/node.hpp"
#include "protocol/auth.hpp"
#include "protocol/state_machine.hpp"
#include "tests/actors/fixture.hpp"

#include <algorithm>

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

rpc::client_request read_req(rpc::request_op op, const std::string& key,
                             std::uint8_t consistency) {
  rpc::client_request r;
  r.op = static_cast<std::uint8_t>(op);
  r.consistency = consistency;
  r.key = key;
  return r;
}

rpc::client_request write_req(std::string payload) {
  rpc::client_request r;
  r.op = static_cast<std::uint8_t>(rpc::request_op::write);
  r.payload = std::move(payload);
  return r;
}

std::uint8_t code(errc c) {
  return static_cast<std::uint8_t>(c);
}

constexpr std::uint8_t linearizable = 0;
constexpr std::uint8_t serializable = 1;

} // namespace

TEST_CASE_FIXTURE(fixture,
                  "client_session_serves_serializable_reads_from_local_state") {
  // A follower that knows no leader: only local reads can be served.
  auto n = start_node(1, {1, 2, 3});
  send(n.applier, apply_batch{{command_entry(1, 1, create_cmd(key_a)),
                               command_entry(2, 1, create_cmd(key_b))}});
  run();
  REQUIRE(n.ctx->applied.load() == 2u);
  auto session = spawn_session(n);
  run();

  auto r = client(session, read_req(rpc::request_op::get_config, key_a, serializable));
  CHECK_MESSAGE(r.code == 0u, r.message);
  CHECK(r.node_id == 1u);
  CHECK(r.revision == 2u); // the applied revision it answered at
  REQUIRE(r.items.size() == 1u);
  auto c = codec::decode_config(r.items[0]);
  REQUIRE(c.ok());
  CHECK(c->key == key_a);
  CHECK(c->create_revision == 1u);

  auto list =
      client(session, read_req(rpc::request_op::list_configs, "acme/", serializable));
  CHECK(list.code == 0u);
  CHECK(list.items.size() == 2u);

  auto missing = client(session, read_req(rpc::request_op::get_config,
                                          "acme/billing/prod/none.json", serializable));
  CHECK(missing.code == code(errc::not_found));
  CHECK(missing.revision == 2u);

  // The same read, linearizable, needs a leader: none is known.
  auto lin =
      client(session, read_req(rpc::request_op::get_config, key_a, linearizable));
  CHECK(lin.code == code(errc::unavailable));
  CHECK(lin.items.empty());
  CHECK_FALSE(n.ctx->failure.failed());
}

TEST_CASE_FIXTURE(
    fixture, "client_session_serves_linearizable_reads_through_a_single_node_leader") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto session = spawn_session(n);
  run();

  auto w = client(session, write_req(create_cmd(key_a)));
  REQUIRE_MESSAGE(w.code == 0u, w.message);
  REQUIRE(w.items.size() == 1u);
  auto res = codec::decode_apply_result(w.items[0]);
  REQUIRE(res.ok());
  CHECK(res->ok());
  CHECK(res->revision == w.revision);
  CHECK(res->version == 1u);

  auto r = client(session, read_req(rpc::request_op::get_config, key_a, linearizable));
  REQUIRE_MESSAGE(r.code == 0u, r.message);
  CHECK(r.revision >= w.revision);
  REQUIRE(r.items.size() == 1u);
  auto c = codec::decode_config(r.items[0]);
  REQUIRE(c.ok());
  CHECK(c->key == key_a);
  CHECK(c->create_revision == w.revision);

  auto st = ask<rpc::status_reply>(session, status_atom::value);
  CHECK(st.role == "leader");
  CHECK(st.id == 1u);
}

TEST_CASE_FIXTURE(fixture,
                  "a_node_whose_applying_is_paused_serves_only_serializable_reads") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto session = spawn_session(n);
  run();
  REQUIRE(client(session, write_req(create_cmd(key_a))).code == 0u);

  // As the applier marks it when the disk is full (applier_test.cpp).
  n.ctx->paused.set("applier failed to commit entries 2..2: No space left on device");
  auto w = client(session, write_req(create_cmd(key_b)));
  CHECK(w.code == code(errc::unavailable));
  CHECK(w.message.find("room on its disk") != std::string::npos);
  CHECK(w.message.find("No space left on device") != std::string::npos);
  auto lin =
      client(session, read_req(rpc::request_op::get_config, key_a, linearizable));
  CHECK(lin.code == code(errc::unavailable));
  auto ser =
      client(session, read_req(rpc::request_op::get_config, key_a, serializable));
  CHECK_MESSAGE(ser.code == 0u, ser.message);
  auto st = ask<rpc::status_reply>(session, status_atom::value);
  CHECK(st.apply_paused.find("No space left on device") != std::string::npos);

  n.ctx->paused.clear(); // applying resumed
  CHECK(client(session, write_req(create_cmd(key_b))).code == 0u);
  CHECK(ask<rpc::status_reply>(session, status_atom::value).apply_paused.empty());
}

TEST_CASE_FIXTURE(fixture, "client_session_redirects_writes_on_a_follower") {
  auto n = start_node(1, {1, 2, 3});
  auto session = spawn_session(n);
  run();

  auto none = client(session, write_req(create_cmd(key_a)));
  CHECK(none.code == code(errc::unavailable));
  CHECK(none.leader_id == 0u);

  send_from(n, 2, raft::heartbeat_request{1, 0, 0});
  run();
  auto redirect = client(session, write_req(create_cmd(key_a)));
  CHECK(redirect.code == code(errc::not_leader));
  CHECK(redirect.leader_id == 2u);
  CHECK(redirect.leader_address == "127.0.0.1:7102");
  CHECK(redirect.node_id == 1u);
}

TEST_CASE_FIXTURE(fixture, "client_session_refuses_a_malformed_write") {
  auto n = start_node(1, {1});
  auto session = spawn_session(n);
  run();
  auto r = client(session, write_req("not a command envelope"));
  CHECK(r.code == code(errc::invalid_argument));
  CHECK_FALSE(r.message.empty());
  CHECK(log_state(n.log).store->last_index() == 0u); // never reached the log
}

namespace {
// (An argument because CAF 0.17 trips UBSan spawning a function without any.)
caf::behavior silent_actor_fun(caf::event_based_actor*, int) {
  return {[](const std::string&) {}};
}
} // namespace

// The session monitors its client and its node endpoint and ends with either.
TEST_CASE_FIXTURE(fixture,
                  "client_session_ends_when_its_client_or_its_endpoint_goes_away") {
  auto n = start_node(1, {1});
  for (auto who : {"client", "endpoint"}) {
    CAPTURE(who);
    auto gone = track(sys.spawn(silent_actor_fun, 0));
    auto other = track(sys.spawn(silent_actor_fun, 0));
    const bool client_goes = std::string{who} == "client";
    auto session = track(sys.spawn(
        client_session_fun, n.ctx, client_goes ? gone.address() : other.address(),
        client_goes ? other.address() : gone.address(), admin_identity()));
    run();
    auto st = ask<rpc::status_reply>(session, status_atom::value);
    CHECK(st.id == 1u);

    caf::anon_send_exit(gone, caf::exit_reason::user_shutdown);
    run();
    // The session is gone: a request to it bounces.
    auto bounced = request<rpc::status_reply>(session, status_atom::value);
    run();
    REQUIRE(bounced->done);
    CHECK_FALSE(bounced->value.has_value());
    CHECK(bounced->error.has_value());
  }
}

// A client whose connection dropped while its hello was being answered is
// already gone (its proxy destroyed) when the session starts. The session
// must not monitor it through the bare weak address: CAF 0.17.6's monitor()
// dereferences it without a strong reference, which aborted a node in a
// chaos run ("pure virtual method called"). It ends instead.
TEST_CASE_FIXTURE(fixture, "client_session_for_a_client_already_gone_ends_at_once") {
  auto n = start_node(1, {1});
  auto endpoint = track(sys.spawn(silent_actor_fun, 0));
  caf::actor_addr gone_addr;
  {
    auto gone = sys.spawn(silent_actor_fun, 0);
    gone_addr = gone.address();
    caf::anon_send_exit(gone, caf::exit_reason::user_shutdown);
  }
  run();
  REQUIRE_FALSE(caf::actor_cast<caf::strong_actor_ptr>(gone_addr));
  auto session = track(sys.spawn(client_session_fun, n.ctx, gone_addr,
                                 endpoint.address(), admin_identity()));
  run();
  auto bounced = request<rpc::status_reply>(session, status_atom::value);
  run();
  REQUIRE(bounced->done);
  CHECK_FALSE(bounced->value.has_value());
  CHECK(bounced->error.has_value());
}

// -- limits ----------------------------------------------------------------------

namespace {

/// What a client_hello got: the session handle and the status beside it.
struct hello_answer {
  bool done = false;
  caf::strong_actor_ptr session;
  rpc::hello_status status;
};

/// Says hello for cluster `cluster` and stays (the sessions monitor it).
caf::behavior hello_asker_fun(caf::event_based_actor* self,
                              std::shared_ptr<hello_answer> out,
                              node_endpoint_actor endpoint, std::string cluster,
                              std::string token) {
  self->request(endpoint, caf::infinite,
                rpc::client_hello{std::move(cluster), "test", std::move(token)})
      .then(
          [=](caf::strong_actor_ptr& sp, rpc::hello_status& hs) {
            out->done = true;
            out->session = std::move(sp);
            out->status = std::move(hs);
          },
          [=](caf::error&) { out->done = true; });
  return {[](const std::string&) {}};
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a_hello_without_a_valid_token_is_refused_unauthenticated") {
  auto n = start_node(1, {1});
  auto endpoint = track(spawn_node_endpoint(sys, n.ctx, {}, {}));
  auto hello = [&](std::string token) {
    auto out = std::make_shared<hello_answer>();
    track(sys.spawn(hello_asker_fun, out, endpoint, std::string{}, std::move(token)));
    run();
    REQUIRE(out->done);
    return out;
  };
  const std::string unknown = "cfx_" + std::string(64, '7');
  for (const auto& token : {std::string{}, std::string{"cfx_short"}, unknown}) {
    auto a = hello(token);
    CHECK_FALSE(a->session);
    CHECK(a->status.code == code(errc::unauthenticated));
    CHECK(a->status.message.find(auth::token_hash(unknown)) == std::string::npos);
    CHECK(a->status.message.find(unknown) == std::string::npos);
  }
  CHECK(n.ctx->counters.get("auth.refused.unauthenticated") == 3u);
  // Revoked: refused from then on.
  CHECK(hello(admin_token)->session);
  {
    auto txn = n.ctx->state->begin_write();
    REQUIRE(txn.ok());
    auto p = txn->find_principal("admin");
    REQUIRE(p.ok());
    auto revoked = **p;
    revoked.disabled = true;
    REQUIRE(txn->put_principal(revoked).ok());
    REQUIRE(txn->commit().ok());
  }
  auto after = hello(admin_token);
  CHECK_FALSE(after->session);
  CHECK(after->status.code == code(errc::unauthenticated));
}

TEST_CASE_FIXTURE(fixture, "a_hello_past_the_session_limits_gets_a_typed_refusal") {
  auto n = start_node(1, {1});
  auto endpoint = track(spawn_node_endpoint(sys, n.ctx, {}, {}));
  // Every hello here comes from this process: one connection.
  auto hello = [&] {
    auto out = std::make_shared<hello_answer>();
    track(sys.spawn(hello_asker_fun, out, endpoint, std::string{}, admin_token));
    run();
    REQUIRE(out->done);
    return out;
  };
  n.ctx->opts.max_sessions_per_connection = 2;
  n.ctx->opts.max_sessions = 3;
  auto first = hello();
  auto second = hello();
  CHECK(first->session);
  CHECK(second->session);
  auto third = hello();
  CHECK_FALSE(third->session);
  CHECK(third->status.code == code(errc::resource_exhausted));
  CHECK(third->status.message.find("--max-sessions-per-connection") !=
        std::string::npos);
  CHECK(n.ctx->counters.get("session.refused.per_connection") == 1u);

  // The node-wide cap counts every connection's sessions.
  n.ctx->opts.max_sessions_per_connection = 10;
  auto fourth = hello();
  CHECK(fourth->session);
  auto fifth = hello();
  CHECK_FALSE(fifth->session);
  CHECK(fifth->status.code == code(errc::resource_exhausted));
  CHECK(fifth->status.message.find("--max-sessions)") != std::string::npos);
  CHECK(n.ctx->counters.get("session.refused.per_node") == 1u);

  // A session that ends frees its place.
  caf::anon_send(caf::actor_cast<client_session_actor>(first->session),
                 caf::close_atom::value);
  first.reset();
  run();
  auto sixth = hello();
  CHECK(sixth->session);
  CHECK(sixth->status.code == 0u);

  // Another cluster's client is refused with a reason too.
  n.ctx->opts.max_sessions = 100;
  auto foreign = std::make_shared<hello_answer>();
  track(sys.spawn(hello_asker_fun, foreign, endpoint, std::string{"other-cluster"},
                  admin_token));
  run();
  REQUIRE(foreign->done);
  CHECK_FALSE(foreign->session);
  CHECK(foreign->status.code == code(errc::invalid_argument));
  CHECK(foreign->status.message.find("other-cluster") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "a_request_past_the_sessions_in_flight_limit_is_refused") {
  auto n = start_node(1, {1});
  elect_single(n);
  n.ctx->opts.max_requests_in_flight = 2;
  auto session = spawn_session(n);
  run();
  // Three writes reach the session before any is answered.
  std::vector<reply_ptr<rpc::client_reply>> replies;
  for (const auto& key : {key_a, key_b, std::string{"acme/billing/prod/c.json"}})
    replies.push_back(request<rpc::client_reply>(session, write_req(create_cmd(key))));
  run();
  int ok = 0, refused = 0;
  for (auto& r : replies) {
    auto v = value_of(r);
    if (v.code == 0)
      ++ok;
    if (v.code == code(errc::resource_exhausted)) {
      ++refused;
      CHECK(v.message.find("--max-requests-in-flight") != std::string::npos);
    }
  }
  CHECK(ok == 2);
  CHECK(refused == 1);
  CHECK(n.ctx->counters.get("session.refused.in_flight") == 1u);
  // Answered requests no longer count.
  auto again = client(session, write_req(create_cmd("acme/billing/prod/c.json")));
  CHECK_MESSAGE(again.code == 0u, again.message);
}

TEST_CASE_FIXTURE(fixture, "a_leader_refuses_proposals_past_its_queue_limit") {
  auto n = start_node(1, {1});
  elect_single(n);
  n.ctx->opts.max_pending_proposals = 2;
  const auto before = log_state(n.log).store->last_index();
  std::vector<reply_ptr<raft_reply>> replies;
  for (const auto& key : {key_a, key_b, std::string{"acme/billing/prod/c.json"}})
    replies.push_back(request<raft_reply>(n.raft(), propose_request{create_cmd(key)}));
  run();
  int ok = 0, refused = 0;
  for (auto& r : replies) {
    auto v = value_of(r);
    if (!v.err)
      ++ok;
    else if (v.err->code == errc::resource_exhausted) {
      ++refused;
      CHECK(v.err->message.find("--max-pending-proposals") != std::string::npos);
    }
  }
  CHECK(ok == 2);
  CHECK(refused == 1);
  CHECK(n.ctx->counters.get("raft.refused.proposal_queue") == 1u);
  // The refused one never reached the log.
  CHECK(log_state(n.log).store->last_index() == before + 2);
  // With the queue drained, proposals are taken again.
  auto later = propose(n, create_cmd("acme/billing/prod/c.json"));
  CHECK_FALSE(later.err);
}

TEST_CASE_FIXTURE(fixture, "a_client_session_that_hears_nothing_closes_when_idle") {
  auto n = start_node(1, {1});
  n.ctx->opts.session_idle_timeout = std::chrono::milliseconds(400);
  auto session = spawn_session(n);
  run();
  auto advance = [&](int quarters) {
    for (int i = 0; i < quarters; ++i) {
      sched.advance_time(std::chrono::milliseconds(100));
      run();
    }
  };
  advance(3);
  CHECK(n.ctx->counters.get("session.closed.idle") == 0u);
  // A request is activity: the timeout starts over.
  auto r = client(session, read_req(rpc::request_op::get_config, key_a, serializable));
  CHECK(r.code == code(errc::not_found));
  advance(4);
  CHECK(n.ctx->counters.get("session.closed.idle") == 0u);
  advance(1);
  CHECK(n.ctx->counters.get("session.closed.idle") == 1u);
  auto bounced = request<rpc::status_reply>(session, status_atom::value);
  run();
  REQUIRE(bounced->done);
  CHECK(bounced->error.has_value());
}

// Reads of a long list come in pages of at most --max-reply-bytes, each
// ending where the next asks to start.
TEST_CASE_FIXTURE(fixture, "list_replies_are_paged_by_the_reply_byte_limit") {
  auto n = start_node(1, {1});
  auto big = [](int v) {
    return R"({"pad": ")" + std::string(300, 'x') + std::to_string(v) + "\"}";
  };
  std::vector<raft::entry_ptr> entries;
  raft::index_t i = 1;
  entries.push_back(command_entry(i++, 1, create_cmd(key_a, big(0))));
  for (int v = 1; v <= 4; ++v)
    entries.push_back(command_entry(i++, 1, version_cmd(key_a, big(v))));
  for (int c = 0; c < 20; ++c)
    entries.push_back(command_entry(
        i++, 1, create_cmd("acme/paging/prod/c" + std::to_string(c) + ".txt")));
  send(n.applier, apply_batch{entries});
  run();
  REQUIRE(n.ctx->applied.load() == i - 1);
  n.ctx->opts.max_reply_bytes = 1024;
  auto session = spawn_session(n);
  run();

  auto check_page = [&](const rpc::client_reply& r) {
    REQUIRE_MESSAGE(r.code == 0u, r.message);
    REQUIRE_FALSE(r.items.empty());
    std::size_t bytes = 0;
    for (auto& item : r.items)
      bytes += item.size();
    CHECK((r.items.size() == 1 || bytes <= 1024u));
  };
  std::vector<std::uint64_t> ids;
  int pages = 0;
  auto req = read_req(rpc::request_op::list_versions, key_a, serializable);
  for (int guard = 0; guard < 10; ++guard) {
    auto r = client(session, req);
    check_page(r);
    ++pages;
    for (auto& item : r.items) {
      auto v = codec::decode_version(item);
      REQUIRE(v.ok());
      ids.push_back(v->id);
    }
    if (r.extra == 0)
      break;
    req.id = ids.back() + 1;
  }
  CHECK(ids == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(pages > 1);

  std::vector<std::string> keys;
  pages = 0;
  auto list = read_req(rpc::request_op::list_configs, "acme/paging/", serializable);
  for (int guard = 0; guard < 10; ++guard) {
    auto r = client(session, list);
    check_page(r);
    ++pages;
    for (auto& item : r.items) {
      auto c = codec::decode_config(item);
      REQUIRE(c.ok());
      keys.push_back(c->key);
    }
    if (r.extra == 0)
      break;
    list.payload = keys.back();
  }
  CHECK(keys.size() == 20u);
  CHECK(std::is_sorted(keys.begin(), keys.end()));
  CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
  CHECK(pages > 1);

  // With the default limit, one page holds everything.
  n.ctx->opts.max_reply_bytes = 8u << 20;
  auto whole =
      client(session, read_req(rpc::request_op::list_versions, key_a, serializable));
  CHECK(whole.items.size() == 5u);
  CHECK(whole.extra == 0u);
}

// -- authorization of reads (serve_read) ------------------------------------------

namespace {

const std::string reader_token =
    "cfx_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const std::string other_key = "globex/app/prod/x.json";

/// A node state holding key_a and other_key, and principal "reader" with
/// read on tenant "acme" only.
node_context_ptr state_with_reader(fixture& f) {
  auto ctx = f.open_context(f.options(1, {1}));
  auto applier = f.spawn_applier(ctx);
  f.listen_to(ctx);
  f.run();
  f.send(applier, apply_batch{{command_entry(1, 1, create_cmd(key_a)),
                               command_entry(2, 1, create_cmd(other_key))}});
  f.run();
  auto txn = ctx->state->begin_write();
  REQUIRE(txn.ok());
  REQUIRE(
      txn->put_role(auth::role{"acme-reader", {auth::grant{"acme", auth::read}}}).ok());
  auth::principal p;
  p.name = "reader";
  p.token_hash = auth::token_hash(reader_token);
  p.roles = {"acme-reader"};
  REQUIRE(txn->put_principal(p).ok());
  REQUIRE(txn->commit().ok());
  return ctx;
}

rpc::client_request read_req(rpc::request_op op, std::string key) {
  rpc::client_request r;
  r.op = static_cast<std::uint8_t>(op);
  r.consistency = 1;
  r.key = std::move(key);
  return r;
}

session_identity reader() {
  return session_identity{auth::token_hash(reader_token), "reader", ""};
}

} // namespace

TEST_CASE_FIXTURE(fixture,
                  "a_read_of_another_tenants_key_is_refused_permission_denied") {
  auto ctx = state_with_reader(*this);
  using op = rpc::request_op;
  CHECK(serve_read(*ctx, read_req(op::get_config, key_a), reader()).code == 0u);
  for (auto o : {op::get_config, op::list_versions, op::get_version, op::resolve}) {
    auto r = serve_read(*ctx, read_req(o, other_key), reader());
    CHECK(r.code == static_cast<std::uint8_t>(errc::permission_denied));
    CHECK(r.items.empty());
  }
  CHECK(ctx->counters.get("auth.refused.permission_denied") == 4u);
}

TEST_CASE_FIXTURE(fixture, "a_list_of_every_key_holds_only_the_readable_ones") {
  auto ctx = state_with_reader(*this);
  auto r = serve_read(*ctx, read_req(rpc::request_op::list_configs, ""), reader());
  REQUIRE(r.code == 0u);
  REQUIRE(r.items.size() == 1u);
  auto c = codec::decode_config(r.items[0]);
  REQUIRE(c.ok());
  CHECK(c->key == key_a);
  auto all =
      serve_read(*ctx, read_req(rpc::request_op::list_configs, ""), admin_identity());
  CHECK(all.items.size() == 2u);
}

TEST_CASE_FIXTURE(fixture, "a_revoked_principal_is_refused_on_its_next_read") {
  auto ctx = state_with_reader(*this);
  CHECK(serve_read(*ctx, read_req(rpc::request_op::get_config, key_a), reader()).code ==
        0u);
  {
    auto txn = ctx->state->begin_write();
    REQUIRE(txn.ok());
    auto p = txn->find_principal("reader");
    REQUIRE(p.ok());
    auto revoked = **p;
    revoked.disabled = true;
    REQUIRE(txn->put_principal(revoked).ok());
    REQUIRE(txn->commit().ok());
  }
  auto r = serve_read(*ctx, read_req(rpc::request_op::get_config, key_a), reader());
  CHECK(r.code == static_cast<std::uint8_t>(errc::unauthenticated));
  CHECK(r.message.find(reader_token) == std::string::npos);
  CHECK(ctx->counters.get("auth.refused.unauthenticated") == 1u);
}

TEST_CASE_FIXTURE(fixture,
                  "reads_over_the_tenants_rate_are_refused_resource_exhausted") {
  auto ctx = state_with_reader(*this);
  ctx->opts.default_rate = 3;
  int refused = 0;
  for (int i = 0; i < 10; ++i)
    if (serve_read(*ctx, read_req(rpc::request_op::get_config, key_a), reader()).code ==
        static_cast<std::uint8_t>(errc::resource_exhausted))
      ++refused;
  // A burst of three, then nothing until the bucket refills.
  CHECK(refused >= 6);
  CHECK(ctx->counters.get("auth.refused.rate") == static_cast<std::uint64_t>(refused));
}
