// Exactly-once sessions through the node's client session actor: the node
// draws each new session's id and stamps the sender's identity on every
// write, whatever the client put in the envelope, and a write on a session of
// another identity is refused and counted.

#include "protocol/codec.hpp"
#include "tests/actors/fixture.hpp"
#include "tests/protocol/auth_fixture.hpp"

#include <algorithm>
#include <set>

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

const std::string alice = "conflux://c1/client/alice";
const std::string mallory = "conflux://c1/client/mallory";

rpc::client_request write_req(const command_envelope& env) {
  rpc::client_request r;
  r.op = static_cast<std::uint8_t>(rpc::request_op::write);
  r.payload = codec::encode(env);
  return r;
}

create_config create_a() {
  return create_config{key_a, content_format::json, std::nullopt, R"({"pool": 10})", "",
                       "test"};
}

apply_result result_of(const rpc::client_reply& r) {
  REQUIRE_MESSAGE(r.code == 0u, r.message);
  REQUIRE(r.items.size() == 1u);
  auto res = codec::decode_apply_result(r.items[0]);
  REQUIRE(res.ok());
  return *res;
}

std::optional<client_session> stored_session(const test_node& n, session_id id) {
  auto txn = n.ctx->state->begin_read();
  REQUIRE(txn.ok());
  auto s = txn->find_session(id);
  REQUIRE(s.ok());
  return *s;
}

} // namespace

TEST_CASE_FIXTURE(fixture,
                  "the_node_draws_the_session_id_and_stamps_the_senders_identity") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto session = spawn_session(n);
  run();
  // The client forges both: an id of its choosing and another identity.
  auto opened = result_of(
      client(session, write_req(command_envelope{0, 0, open_session{60'000, 5}, alice,
                                                 test_auth::admin_credential()})));
  REQUIRE(opened.ok());
  CHECK(opened.session != 5u);
  CHECK(opened.session != 0u);
  auto s = stored_session(n, opened.session);
  REQUIRE(s.has_value());
  // A local sender has no proven identity: the forged one was overwritten.
  CHECK(s->owner == "");
  // Its own writes still apply; the forged caller on them is overwritten too.
  auto w = result_of(
      client(session, write_req(command_envelope{opened.session, 1, create_a(), alice,
                                                 test_auth::admin_credential()})));
  CHECK_MESSAGE(w.ok(), (w.err ? w.err->message : ""));
  CHECK(n.ctx->counters.get("session.refused.not_owner") == 0u);
}

TEST_CASE_FIXTURE(fixture, "session_ids_the_node_draws_are_not_sequential") {
  auto n = start_node(1, {1});
  elect_single(n);
  auto session = spawn_session(n);
  run();
  std::vector<session_id> ids;
  for (int i = 0; i < 8; ++i) {
    auto r = result_of(client(
        session, write_req(command_envelope{0, 0, open_session{60'000, std::nullopt},
                                            "", test_auth::admin_credential()})));
    REQUIRE(r.ok());
    ids.push_back(r.session);
  }
  CHECK(std::set<session_id>(ids.begin(), ids.end()).size() == ids.size());
  std::sort(ids.begin(), ids.end());
  // Eight sequential ids would lie within 8 of each other; random ones lie
  // that close with a chance of about 2^-57.
  CHECK(ids.back() - ids.front() > 1'000'000u);
  for (auto id : ids)
    CHECK(id != 0u);
}

TEST_CASE_FIXTURE(fixture,
                  "a_write_on_another_identitys_session_is_refused_and_counted") {
  auto n = start_node(1, {1});
  elect_single(n);
  // Alice's session, as the node proposes it for alice's connection.
  constexpr session_id alices = 0x6a09'e667'f3bc'c908;
  auto opened =
      propose(n, codec::encode(command_envelope{0, 0, open_session{60'000, alices},
                                                alice, test_auth::admin_credential()}));
  REQUIRE_FALSE(opened.err);
  REQUIRE(opened.result.ok());
  // Another client learned the id and sends its next sequence number,
  // claiming to be alice: the node stamps the sender's own identity.
  auto session = spawn_session(n);
  run();
  auto r = client(session, write_req(command_envelope{alices, 1, create_a(), alice,
                                                      test_auth::admin_credential()}));
  auto res = result_of(r);
  REQUIRE(res.err.has_value());
  CHECK(res.err->code == errc::permission_denied);
  CHECK(n.ctx->counters.get("session.refused.not_owner") == 1u);
  CHECK(stored_session(n, alices)->last_sequence == 0u);
  // Alice's own write with that sequence number still applies.
  auto real =
      propose(n, codec::encode(command_envelope{alices, 1, create_a(), alice,
                                                test_auth::admin_credential()}));
  REQUIRE_FALSE(real.err);
  CHECK(real.result.ok());
  CHECK(real.result.version == 1u);
  CHECK(stored_session(n, alices)->last_sequence == 1u);
}
