// The client session: serializable reads straight from the local state,
// linearizable reads behind a ReadIndex barrier, writes through raft, and
// redirects from a non-leader.

#include "protocol/state_machine.hpp"
#include "tests/actors/fixture.hpp"

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
    auto session = track(sys.spawn(client_session_fun, n.ctx,
                                   client_goes ? gone.address() : other.address(),
                                   client_goes ? other.address() : gone.address()));
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
  auto session =
      track(sys.spawn(client_session_fun, n.ctx, gone_addr, endpoint.address()));
  run();
  auto bounced = request<rpc::status_reply>(session, status_atom::value);
  run();
  REQUIRE(bounced->done);
  CHECK_FALSE(bounced->value.has_value());
  CHECK(bounced->error.has_value());
}
