// Codec round trips and hostile input: decoding never crashes, never reads out
// of bounds (run under CONFLUX_SANITIZE=1 to have ASan check that), and maps
// every malformed input to a typed error.

#include "protocol/codec.hpp"

#include <doctest/doctest.h>
#include <random>

using namespace conflux;

namespace {

release_rule rule(labels l, version_id v, std::int32_t prio) {
  return release_rule{std::move(l), v, prio};
}

std::vector<command_envelope> sample_commands() {
  std::vector<command_envelope> out;
  out.push_back({0, 0,
                 create_config{"t/a/e/db.json", content_format::json, std::nullopt,
                               "{\"a\":1}", "first", "alice"}});
  out.push_back({7, 3,
                 create_config{"t/a/e/db.json", content_format::yaml,
                               std::string{"{\"type\":\"object\"}"},
                               std::string("\0bin\xff", 5), "", ""}});
  out.push_back({1, 2, create_version{"t/a/e/n", "x=1", "d", "c", std::nullopt}});
  out.push_back({1, 3, create_version{"t/a/e/n", "x=1", "d", "c", revision_t{42}}});
  out.push_back(
      {0, 0,
       update_release_rules{
           "t/a/e/n",
           {rule({{"canary", "true"}, {"zone", "eu"}}, 3, 10), rule({}, 1, -5)},
           "roll out",
           revision_t{9}}});
  out.push_back({0, 0, update_release_rules{"t/a/e/n", {}, "", std::nullopt}});
  out.push_back(
      {2, 9, publish{"t/a/e/n", "content", "d", "c", {rule({}, 0, 0)}, std::nullopt}});
  out.push_back({0, 0, delete_config{"t/a/e/n", revision_t{5}}});
  out.push_back({0, 0, delete_config{"t/a/e/n", std::nullopt, true}});
  out.push_back({0, 0, delete_versions{"t/a/e/n", {1, 2, 99}, std::nullopt}});
  out.push_back({0, 0, open_session{30'000, 0xfeed'f00d'cafe'beef}});
  out.push_back({4, 1, keep_alive{4}});
  out.push_back({4, 2, close_session{4}, "conflux://c1/client/alice"});
  out.push_back(
      {0, 0, publish{"t/a/e/n", "c", "d", "", {}, std::nullopt, "hot fix for #12"}});
  command_envelope stamped{5, 6, keep_alive{5}, "conflux://c1/client/bob",
                           std::string(64, 'e')};
  stamped.origin = "10.0.0.7:51234";
  out.push_back(stamped);
  out.push_back({0, 0, bootstrap_auth{"admin", std::string(64, 'a')}});
  out.push_back(
      {0, 0, create_token{"ci", std::string(64, 'b'), {"dev", "ops"}, 86'400'000}});
  out.push_back({0, 0, create_token{"forever", std::string(64, 'c'), {}, 0}});
  out.push_back({0, 0, revoke_token{"ci"}});
  out.push_back({0, 0, set_token_roles{"ci", {"ops"}}});
  out.push_back({0, 0,
                 put_role{auth::role{"ops",
                                     {{"acme/*/prod", auth::read | auth::release},
                                      {"*", auth::auditor}}},
                          true}});
  out.push_back({0, 0, put_role{auth::role{"empty", {}}, false}});
  out.push_back({0, 0, delete_role{"ops"}});
  out.push_back({0, 0, set_tenant{"acme", 100, 1000, 1 << 20, 50}});
  create_config secret{"t/a/e/s",    content_format::json,
                       std::nullopt, std::string("CFXS\x01\0blob", 11),
                       "",           ""};
  secret.secret = true;
  secret.sealing = conflux::sealing{true, std::string(64, 'd')};
  out.push_back({0, 0, secret});
  create_version sealed_version{"t/a/e/s", "CFXS..", "d", "", revision_t{3}};
  sealed_version.sealing = conflux::sealing{true, std::string(64, 'f')};
  out.push_back({0, 0, sealed_version});
  publish sealed_publish{"t/a/e/s",        "CFXS..",     "", "",
                         {rule({}, 0, 0)}, std::nullopt, "c"};
  sealed_publish.sealing = conflux::sealing{true, std::string(64, '0')};
  out.push_back({0, 0, sealed_publish});
  out.push_back({0, 0,
                 rewrap_secrets{{{"t/a/e/s", 1, std::string("CFXS\0\xff", 6)},
                                 {"t/a/e/t", 9, "CFXS"}}}});
  out.push_back({0, 0, rewrap_secrets{}});
  return out;
}

// Whether the command's body has the same layout in format 4 as now.
bool has_format_4_layout(const command_envelope& env) {
  // Format 5 added the sealing to these three, and rewrap_secrets.
  return !std::holds_alternative<create_config>(env.cmd) &&
         !std::holds_alternative<create_version>(env.cmd) &&
         !std::holds_alternative<publish>(env.cmd) &&
         !std::holds_alternative<rewrap_secrets>(env.cmd);
}

// Whether the command is one that formats before 4 could carry, unchanged.
bool has_pre_4_layout(const command_envelope& env) {
  // Tags 1 to 9 existed before; publish gained its comment in format 4.
  return env.cmd.index() < 9 && has_format_4_layout(env);
}

config sample_config() {
  config c;
  c.id = 12;
  c.key = "acme/billing/prod/app.toml";
  c.format = content_format::toml;
  c.schema = "{}";
  c.latest_version = 4;
  c.releases = {rule({{"canary", "true"}}, 4, 10), rule({}, 3, 0)};
  c.create_revision = 10;
  c.mod_revision = 77;
  c.created_at_ms = 1'700'000'000'000;
  c.updated_at_ms = -1;
  return c;
}

version sample_version() {
  version v;
  v.config = 12;
  v.id = 4;
  v.content = std::string("a = 1\n\0\x01", 8);
  v.content_hash = std::string(64, 'a');
  v.format = content_format::toml;
  v.description = "raise pool";
  v.creator = "bob";
  v.created_at_ms = 5;
  v.revision = 77;
  return v;
}

client_session sample_session() {
  client_session s;
  s.id = 3;
  s.timeout_ms = 10'000;
  s.last_active_ms = 123;
  s.last_sequence = 8;
  s.last_result.err = error{errc::revision_mismatch, "config moved"};
  s.last_result.revision = 90;
  s.owner = "conflux://c1/client/alice";
  s.principal = "alice";
  return s;
}

// What went wrong, for a REQUIRE_MESSAGE: doctest builds the message even when
// the check passes (with -s), so it must not assume a failure.
std::string why(const expected<command_envelope>& r) {
  return r.ok() ? std::string{} : to_string(r.err());
}

bool same(const command_envelope& a, const command_envelope& b) {
  return a.session == b.session && a.sequence == b.sequence && a.caller == b.caller &&
         a.credential == b.credential && a.origin == b.origin &&
         codec::encode(a) == codec::encode(b);
}

// The bytes an older build wrote for `env`: format 3 envelopes are format 4
// without the trailing credential and origin ([4][0x97 array7]...[0xa0 ""]
// [0xa0 ""] becomes [3][0x95 array5]...), formats 1 and 2 also without the
// caller ([v][0x94 array4]...). Only for commands whose body kept its layout.
std::string in_old_format(const command_envelope& env, std::uint8_t v) {
  REQUIRE(env.caller.empty());
  REQUIRE(env.credential.empty());
  REQUIRE(env.origin.empty());
  auto bytes = codec::encode(env);
  REQUIRE(static_cast<std::uint8_t>(bytes[1]) == 0x97);
  REQUIRE(bytes.substr(bytes.size() - 3) == "\xa0\xa0\xa0");
  bytes[0] = static_cast<char>(v);
  bytes[1] = static_cast<char>(v >= 3 ? 0x95 : 0x94);
  bytes.resize(bytes.size() - (v >= 3 ? 2 : 3));
  return bytes;
}

} // namespace

TEST_CASE("every_command_round_trips_through_the_codec") {
  for (auto& cmd : sample_commands()) {
    auto bytes = codec::encode(cmd);
    REQUIRE(static_cast<std::uint8_t>(bytes[0]) == codec::command_format_version);
    auto back = codec::decode_command(bytes);
    REQUIRE(back.ok());
    CHECK(back->cmd.index() == cmd.cmd.index());
    CHECK(same(*back, cmd));
  }
  // Field-level spot checks, so that a codec that drops a field cannot pass
  // by re-encoding the same loss twice.
  auto pub = codec::decode_command(codec::encode(sample_commands()[4]));
  REQUIRE(pub.ok());
  auto& u = std::get<update_release_rules>(pub->cmd);
  CHECK(u.key == "t/a/e/n");
  REQUIRE(u.rules.size() == 2);
  CHECK(u.rules[0].labels.at("zone") == "eu");
  CHECK(u.rules[0].version == 3);
  CHECK(u.rules[1].priority == -5);
  CHECK(u.comment == "roll out");
  CHECK(u.expected_revision == revision_t{9});
  auto cc = codec::decode_command(codec::encode(sample_commands()[1]));
  REQUIRE(cc.ok());
  auto& c = std::get<create_config>(cc->cmd);
  CHECK(c.content == std::string("\0bin\xff", 5));
  CHECK(c.schema == std::string{"{\"type\":\"object\"}"});
  CHECK(c.format == content_format::yaml);
  CHECK(cc->session == 7);
  CHECK(cc->sequence == 3);
  CHECK_FALSE(c.secret);
  CHECK_FALSE(c.sealing.sealed);
  for (auto& env : sample_commands()) {
    auto back = codec::decode_command(codec::encode(env));
    REQUIRE(back.ok());
    if (auto* x = std::get_if<create_config>(&back->cmd); x && x->secret) {
      CHECK(x->sealing.sealed);
      CHECK(x->sealing.content_hash == std::string(64, 'd'));
    }
    if (auto* x = std::get_if<create_version>(&back->cmd); x && x->sealing.sealed)
      CHECK(x->sealing.content_hash == std::string(64, 'f'));
    if (auto* x = std::get_if<rewrap_secrets>(&back->cmd); x && !x->items.empty()) {
      CHECK(x->items[0].version == 1);
      CHECK(x->items[0].blob == std::string("CFXS\0\xff", 6));
      CHECK(x->items[1].key == "t/a/e/t");
    }
  }
}

TEST_CASE("commands_of_format_4_decode_as_not_secret_and_not_sealed") {
  // Unchanged bodies: the same bytes under version byte 4.
  for (auto cmd : sample_commands()) {
    if (!has_format_4_layout(cmd))
      continue;
    auto bytes = codec::encode(cmd);
    bytes[0] = 4;
    auto back = codec::decode_command(bytes);
    REQUIRE_MESSAGE(back.ok(), why(back));
    CHECK(same(*back, cmd));
  }
  // create_config of format 4: [key, format, schema, content, description, creator].
  std::string cc{"\x04\x97\x00\x00\x01\x96\xa1k\x05\xc0\xc4\x01x\xa0\xa0\xa0\xa0\xa0",
                 18};
  auto c = codec::decode_command(cc);
  REQUIRE_MESSAGE(c.ok(), why(c));
  CHECK(std::get<create_config>(c->cmd).content == "x");
  CHECK_FALSE(std::get<create_config>(c->cmd).secret);
  CHECK_FALSE(std::get<create_config>(c->cmd).sealing.sealed);
  // create_version of format 4: [key, content, description, creator, revision].
  std::string cv{"\x04\x97\x00\x00\x02\x95\xa1k\xc4\x01x\xa0\xa0\xc0\xa0\xa0\xa0", 17};
  auto v = codec::decode_command(cv);
  REQUIRE_MESSAGE(v.ok(), why(v));
  CHECK(std::get<create_version>(v->cmd).content == "x");
  CHECK_FALSE(std::get<create_version>(v->cmd).sealing.sealed);
  // Format 5 bodies must carry the sealing; tag 18 is not a format 4 command.
  cv[0] = 5;
  CHECK(codec::decode_command(cv).code() == errc::corrupted);
  auto rw = codec::encode(command_envelope{0, 0, rewrap_secrets{}});
  rw[0] = 4;
  CHECK(codec::decode_command(rw).code() == errc::corrupted);
}

TEST_CASE("records_of_format_3_decode_as_not_secret_and_not_sealed") {
  // A config of format 3 is this layout without the trailing `secret`.
  auto c = sample_config();
  auto bytes = codec::encode(c);
  REQUIRE(static_cast<std::uint8_t>(bytes[1]) == 0x9b);     // array of 11
  REQUIRE(static_cast<std::uint8_t>(bytes.back()) == 0xc2); // false
  bytes[0] = 3;
  bytes[1] = static_cast<char>(0x9a);
  bytes.pop_back();
  auto back = codec::decode_config(bytes);
  REQUIRE(back.ok());
  CHECK(*back == c);
  auto v = sample_version();
  auto vb = codec::encode(v);
  REQUIRE(static_cast<std::uint8_t>(vb[1]) == 0x9a);
  vb[0] = 3;
  vb[1] = static_cast<char>(0x99);
  vb.pop_back();
  auto vback = codec::decode_version(vb);
  REQUIRE(vback.ok());
  CHECK(*vback == v);
  // A format 4 record without the flag is corrupted.
  bytes[0] = 4;
  CHECK(codec::decode_config(bytes).code() == errc::corrupted);
}

TEST_CASE("records_round_trip_through_the_codec") {
  auto c = sample_config();
  auto c2 = codec::decode_config(codec::encode(c));
  REQUIRE(c2.ok());
  CHECK(*c2 == c);
  c.schema.reset();
  c.releases.clear();
  c2 = codec::decode_config(codec::encode(c));
  REQUIRE(c2.ok());
  CHECK(*c2 == c);

  auto v = sample_version();
  auto v2 = codec::decode_version(codec::encode(v));
  REQUIRE(v2.ok());
  CHECK(*v2 == v);
  c.secret = true;
  c2 = codec::decode_config(codec::encode(c));
  REQUIRE(c2.ok());
  CHECK(c2->secret);
  v.sealed = true;
  v2 = codec::decode_version(codec::encode(v));
  REQUIRE(v2.ok());
  CHECK(v2->sealed);

  auto s = sample_session();
  auto s2 = codec::decode_session(codec::encode(s));
  REQUIRE(s2.ok());
  CHECK(*s2 == s);

  apply_result r;
  r.revision = 1;
  r.config = 2;
  r.version = 3;
  r.session = 4;
  auto r2 = codec::decode_apply_result(codec::encode(r));
  REQUIRE(r2.ok());
  CHECK(*r2 == r);
}

TEST_CASE("delete_config_encodes_force_as_a_third_element") {
  for (bool force : {false, true}) {
    auto bytes = codec::encode(
        command_envelope{0, 0, delete_config{"t/a/e/n", std::nullopt, force}});
    // [5][0x97 array7][0x00 session][0x00 seq][0x05 tag][0x93 array3][key][nil][bool]
    // [0xa0 caller ""][0xa0 credential ""][0xa0 origin ""]
    REQUIRE(bytes.size() == 19);
    CHECK(static_cast<std::uint8_t>(bytes[0]) == codec::command_format_version);
    CHECK(static_cast<std::uint8_t>(bytes[5]) == 0x93);
    CHECK(static_cast<std::uint8_t>(bytes[15]) == (force ? 0xc3 : 0xc2));
    auto back = codec::decode_command(bytes);
    REQUIRE(back.ok());
    CHECK(std::get<delete_config>(back->cmd).force == force);
  }
}

TEST_CASE("an_old_delete_config_entry_decodes_as_force") {
  // Written before delete_config had `force` (format version 1, a 2-element
  // body): it deleted released configs, so replaying it must again.
  std::string old{"\x01\x94\x00\x00\x05\x92\xa7t/a/e/n\xc0", 15};
  auto r = codec::decode_command(old);
  REQUIRE_MESSAGE(r.ok(), why(r));
  auto& d = std::get<delete_config>(r->cmd);
  CHECK(d.key == "t/a/e/n");
  CHECK_FALSE(d.expected_revision.has_value());
  CHECK(d.force);
  std::string with_revision{"\x01\x94\x03\x07\x05\x92\xa7t/a/e/n\x39", 15};
  auto r2 = codec::decode_command(with_revision);
  REQUIRE(r2.ok());
  CHECK(r2->session == 3);
  CHECK(r2->sequence == 7);
  CHECK(std::get<delete_config>(r2->cmd).expected_revision == revision_t{57});
  CHECK(std::get<delete_config>(r2->cmd).force);
}

TEST_CASE("commands_of_format_versions_1_to_3_still_decode") {
  // Every other command kept its body: older bytes decode as before, sent by
  // no known caller and without a credential.
  for (std::uint8_t v : {1, 2, 3})
    for (auto cmd : sample_commands()) {
      if (!has_pre_4_layout(cmd) ||
          (v < 3 && (std::holds_alternative<delete_config>(cmd.cmd) ||
                     std::holds_alternative<open_session>(cmd.cmd))))
        continue;
      cmd.caller.clear();
      cmd.credential.clear();
      cmd.origin.clear();
      auto back = codec::decode_command(in_old_format(cmd, v));
      REQUIRE_MESSAGE(back.ok(), why(back));
      CHECK(same(*back, cmd));
    }
}

TEST_CASE("open_session_carries_its_id_and_the_envelope_its_caller") {
  auto bytes = codec::encode(command_envelope{
      0, 0, open_session{30'000, 0xfeed'f00d'cafe'beef}, "conflux://c1/client/bob"});
  CHECK(static_cast<std::uint8_t>(bytes[0]) == codec::command_format_version);
  auto back = codec::decode_command(bytes);
  REQUIRE_MESSAGE(back.ok(), why(back));
  auto& o = std::get<open_session>(back->cmd);
  CHECK(o.timeout_ms == 30'000);
  CHECK(o.id == session_id{0xfeed'f00d'cafe'beef});
  CHECK(back->caller == "conflux://c1/client/bob");
  // Without an id it is written as 0 (which the state machine refuses),
  // never as "take the next sequential one".
  auto none = codec::decode_command(
      codec::encode(command_envelope{0, 0, open_session{1000, std::nullopt}}));
  REQUIRE(none.ok());
  CHECK(std::get<open_session>(none->cmd).id == session_id{0});
}

TEST_CASE("an_open_session_of_format_1_or_2_decodes_without_an_id") {
  for (char v : {'\x01', '\x02'}) {
    // [v][array4][0][0][tag 7][array1][timeout 5000]
    std::string old{"?\x94\x00\x00\x07\x91\xcd\x13\x88", 9};
    old[0] = v;
    auto r = codec::decode_command(old);
    REQUIRE_MESSAGE(r.ok(), why(r));
    auto& o = std::get<open_session>(r->cmd);
    CHECK(o.timeout_ms == 5000);
    CHECK_FALSE(o.id.has_value());
    CHECK(r->caller.empty());
  }
  // A format 3 body must carry the id, and a format 2 body must not.
  CHECK(
      codec::decode_command(std::string{"\x03\x95\x00\x00\x07\x91\xcd\x13\x88\xa0", 10})
          .code() == errc::corrupted);
  CHECK(
      codec::decode_command(std::string{"\x02\x94\x00\x00\x07\x92\xcd\x13\x88\x05", 10})
          .code() == errc::corrupted);
}

TEST_CASE("a_session_record_of_format_1_decodes_without_an_owner") {
  auto s = sample_session();
  auto bytes = codec::encode(s);
  // [3][0x97 array7]...[owner str][principal str]: drop both to get what
  // version 1 wrote.
  REQUIRE(static_cast<std::uint8_t>(bytes[1]) == 0x97);
  auto tail_len = 1 + s.owner.size() + 1 + s.principal.size();
  std::string old = bytes.substr(0, bytes.size() - tail_len);
  old[0] = 1;
  old[1] = static_cast<char>(0x95);
  auto back = codec::decode_session(old);
  REQUIRE(back.ok());
  CHECK(back->id == s.id);
  CHECK(back->last_sequence == s.last_sequence);
  CHECK(back->owner.empty());
  // A version 2 record must carry the owner.
  old[0] = 2;
  CHECK(codec::decode_session(old).code() == errc::corrupted);
}

TEST_CASE("a_session_record_of_format_2_decodes_without_a_principal") {
  auto s = sample_session();
  auto bytes = codec::encode(s);
  auto principal_len = 1 + s.principal.size();
  std::string old = bytes.substr(0, bytes.size() - principal_len);
  old[0] = 2;
  old[1] = static_cast<char>(0x96);
  auto back = codec::decode_session(old);
  REQUIRE(back.ok());
  CHECK(back->owner == s.owner);
  CHECK(back->principal.empty());
  // A version 3 record must carry the principal.
  old[0] = 3;
  CHECK(codec::decode_session(old).code() == errc::corrupted);
}

TEST_CASE("auth_commands_keep_every_field_through_the_codec") {
  auto decoded = [](command c) {
    auto r = codec::decode_command(codec::encode(command_envelope{0, 0, std::move(c)}));
    REQUIRE_MESSAGE(r.ok(), why(r));
    return r->cmd;
  };
  auto b = std::get<bootstrap_auth>(decoded(bootstrap_auth{"admin", "ab12"}));
  CHECK(b.principal == "admin");
  CHECK(b.token_hash == "ab12");
  auto t =
      std::get<create_token>(decoded(create_token{"ci", "cd", {"dev", "ops"}, 99}));
  CHECK(t.principal == "ci");
  CHECK(t.token_hash == "cd");
  CHECK(t.roles == std::vector<std::string>{"dev", "ops"});
  CHECK(t.ttl_ms == 99);
  CHECK(std::get<revoke_token>(decoded(revoke_token{"ci"})).principal == "ci");
  auto sr = std::get<set_token_roles>(decoded(set_token_roles{"ci", {"a", "b"}}));
  CHECK(sr.principal == "ci");
  CHECK(sr.roles == std::vector<std::string>{"a", "b"});
  auth::role ops{"ops",
                 {{"acme/*/prod", auth::read | auth::del}, {"*", auth::auditor}}};
  auto pr = std::get<put_role>(decoded(put_role{ops, true}));
  CHECK(pr.role == ops);
  CHECK(pr.replace);
  CHECK_FALSE(std::get<put_role>(decoded(put_role{ops, false})).replace);
  CHECK(std::get<delete_role>(decoded(delete_role{"ops"})).name == "ops");
  auto st = std::get<set_tenant>(decoded(set_tenant{"acme", 1, 2, 3, 4}));
  CHECK(st.tenant == "acme");
  CHECK(st.max_configs == 1);
  CHECK(st.max_versions == 2);
  CHECK(st.max_bytes == 3);
  CHECK(st.rate == 4);
  auto pub = std::get<publish>(
      decoded(publish{"t/a/e/n", "c", "d", "", {}, std::nullopt, "why it changed"}));
  CHECK(pub.comment == "why it changed");
}

TEST_CASE("the_envelope_carries_its_credential_and_origin") {
  command_envelope env{3, 4, keep_alive{3}, "conflux://c1/client/bob", "feed"};
  env.origin = "192.0.2.1:4000";
  auto back = codec::decode_command(codec::encode(env));
  REQUIRE_MESSAGE(back.ok(), why(back));
  CHECK(back->caller == "conflux://c1/client/bob");
  CHECK(back->credential == "feed");
  CHECK(back->origin == "192.0.2.1:4000");
}

TEST_CASE("a_format_3_entry_decodes_without_credential_origin_or_comment") {
  auto old = in_old_format(command_envelope{0, 0, keep_alive{9}}, 3);
  auto back = codec::decode_command(old);
  REQUIRE_MESSAGE(back.ok(), why(back));
  CHECK(back->credential.empty());
  CHECK(back->origin.empty());
  // publish of format 3: [key, content, description, creator, rules, rev].
  std::string pub{"\x03\x95\x00\x00\x04\x96\xa1k\xc4\x01x\xa0\xa0\x90\xc0\xa0", 16};
  auto p = codec::decode_command(pub);
  REQUIRE_MESSAGE(p.ok(), why(p));
  CHECK(std::get<publish>(p->cmd).key == "k");
  CHECK(std::get<publish>(p->cmd).content == "x");
  CHECK(std::get<publish>(p->cmd).comment.empty());
  // A format 4 publish must carry the comment.
  pub[0] = 4;
  pub[1] = static_cast<char>(0x97);
  pub += std::string{"\xa0\xa0", 2};
  CHECK(codec::decode_command(pub).code() == errc::corrupted);
}

TEST_CASE("auth_command_tags_in_a_format_3_entry_are_corrupted") {
  auto bytes = codec::encode(command_envelope{0, 0, revoke_token{"ci"}});
  auto old = bytes;
  old[0] = 3;
  old[1] = static_cast<char>(0x95);
  old.resize(old.size() - 2);
  CHECK(codec::decode_command(old).code() == errc::corrupted);
  CHECK(codec::decode_command(bytes).ok());
}

TEST_CASE("auth_records_round_trip_through_the_codec") {
  auth::principal p;
  p.name = "ci";
  p.token_hash = std::string(64, 'f');
  p.roles = {"dev", "ops"};
  p.expires_at_ms = 1'800'000'000'000;
  p.disabled = true;
  p.created_at_ms = 1'700'000'000'000;
  p.created_revision = 42;
  p.created_by = "admin";
  auto p2 = codec::decode_principal(codec::encode(p));
  REQUIRE(p2.ok());
  CHECK(*p2 == p);
  auth::role r{"ops",
               {{"acme/*/prod", auth::read | auth::release}, {"*", auth::all_perms}}};
  auto r2 = codec::decode_role(codec::encode(r));
  REQUIRE(r2.ok());
  CHECK(*r2 == r);
  auth::tenant t;
  t.name = "acme";
  t.max_configs = 1;
  t.max_versions = 2;
  t.max_bytes = 3;
  t.rate = 4;
  t.configs = 5;
  t.versions = 6;
  t.bytes = 7;
  auto t2 = codec::decode_tenant(codec::encode(t));
  REQUIRE(t2.ok());
  CHECK(*t2 == t);
  // Each is refused as another kind, and with unknown permission bits.
  CHECK(codec::decode_role(codec::encode(p)).code() == errc::corrupted);
  CHECK(codec::decode_tenant(codec::encode(r)).code() == errc::corrupted);
  r.grants[0].perms = 1u << 20;
  CHECK(codec::decode_role(codec::encode(r)).code() == errc::corrupted);
}

TEST_CASE("an_unauthenticated_refusal_round_trips_in_an_apply_result") {
  apply_result r;
  r.err = error{errc::unauthenticated, "token expired"};
  r.revision = 9;
  auto back = codec::decode_apply_result(codec::encode(r));
  REQUIRE(back.ok());
  CHECK(*back == r);
}

TEST_CASE("a_failed_precondition_refusal_round_trips_in_an_apply_result") {
  apply_result r;
  r.err = error{errc::failed_precondition, "create another cluster-admin first"};
  r.revision = 10;
  auto back = codec::decode_apply_result(codec::encode(r));
  REQUIRE(back.ok());
  CHECK(*back == r);
  // The next value is no code.
  r.err->code = static_cast<errc>(static_cast<int>(errc::failed_precondition) + 1);
  CHECK(codec::decode_apply_result(codec::encode(r)).code() == errc::corrupted);
}

TEST_CASE("delete_config_body_must_match_its_format_version") {
  auto v2 = in_old_format(
      command_envelope{0, 0, delete_config{"t/a/e/n", std::nullopt, false}}, 2);
  auto as_v1 = v2;
  as_v1[0] = 1; // a 3-element body in a version 1 entry
  CHECK(codec::decode_command(as_v1).code() == errc::corrupted);
  std::string two_elements_as_v2{"\x02\x94\x00\x00\x05\x92\xa7t/a/e/n\xc0", 15};
  CHECK(codec::decode_command(two_elements_as_v2).code() == errc::corrupted);
  auto not_bool = v2;
  not_bool.back() = 0x01; // force must be a msgpack bool
  CHECK(codec::decode_command(not_bool).code() == errc::corrupted);
}

TEST_CASE("empty_input_is_corrupted") {
  CHECK(codec::decode_command("").code() == errc::corrupted);
  CHECK(codec::decode_config("").code() == errc::corrupted);
  CHECK(codec::decode_version("").code() == errc::corrupted);
  CHECK(codec::decode_session("").code() == errc::corrupted);
  CHECK(codec::decode_apply_result("").code() == errc::corrupted);
}

TEST_CASE("future_format_version_is_refused_as_unsupported") {
  auto bytes = codec::encode(sample_config());
  bytes[0] = static_cast<char>(codec::record_format_version + 1);
  auto r = codec::decode_config(bytes);
  REQUIRE(r.code() == errc::unsupported_version);
  CHECK(r.err().message.find("upgrade") != std::string::npos);
  bytes[0] = 0;
  CHECK(codec::decode_config(bytes).code() == errc::corrupted);
}

TEST_CASE("every_truncation_of_a_record_is_an_error") {
  for (auto& cmd : sample_commands()) {
    auto bytes = codec::encode(cmd);
    for (std::size_t n = 0; n < bytes.size(); ++n)
      CHECK_MESSAGE(!codec::decode_command(bytes.substr(0, n)).ok(), "prefix " << n);
  }
  auto vb = codec::encode(sample_version());
  for (std::size_t n = 0; n < vb.size(); ++n)
    CHECK(codec::decode_version(vb.substr(0, n)).code() == errc::corrupted);
}

TEST_CASE("trailing_bytes_are_corrupted") {
  auto bytes = codec::encode(sample_config()) + "x";
  auto r = codec::decode_config(bytes);
  REQUIRE(r.code() == errc::corrupted);
  CHECK(r.err().message.find("trailing") != std::string::npos);
}

TEST_CASE("a_record_of_the_wrong_kind_is_corrupted") {
  CHECK(codec::decode_config(codec::encode(sample_version())).code() ==
        errc::corrupted);
  CHECK(codec::decode_version(codec::encode(sample_config())).code() ==
        errc::corrupted);
  CHECK(codec::decode_command(codec::encode(sample_session())).code() ==
        errc::corrupted);
}

TEST_CASE("unknown_command_tag_and_unknown_format_are_corrupted") {
  auto bytes = codec::encode(command_envelope{0, 0, open_session{1000, std::nullopt}});
  // [fmt][0x97 array7][0x00 session][0x00 seq][tag]...
  REQUIRE(bytes.size() > 4);
  REQUIRE(static_cast<std::uint8_t>(bytes[4]) == 7);
  bytes[4] = 42;
  CHECK(codec::decode_command(bytes).code() == errc::corrupted);
  // A tag wider than 8 bits must not wrap onto a known one (261 = 256 + 5).
  auto wide = bytes.substr(0, 4) + std::string("\xcd\x01\x05", 3) + bytes.substr(5);
  CHECK(codec::decode_command(wide).code() == errc::corrupted);

  auto c = sample_config();
  c.format = static_cast<content_format>(9);
  CHECK(codec::decode_config(codec::encode(c)).code() == errc::corrupted);
}

TEST_CASE("forged_huge_container_headers_do_not_allocate_or_crash") {
  std::string bytes{static_cast<char>(codec::command_format_version)};
  // array32 claiming 4 billion elements, then nothing.
  bytes += std::string("\xdd\xff\xff\xff\xff", 5);
  CHECK(codec::decode_command(bytes).code() == errc::corrupted);
  // map32, str32, bin32 likewise.
  for (const char* h :
       {"\xdf\xff\xff\xff\xff", "\xdb\xff\xff\xff\xff", "\xc6\xff\xff\xff\xff"}) {
    std::string b{static_cast<char>(codec::record_format_version)};
    b += std::string(h, 5);
    CHECK(codec::decode_config(b).code() == errc::corrupted);
  }
  // Deep nesting: 100k nested arrays of one element.
  std::string deep{static_cast<char>(codec::command_format_version)};
  deep += std::string(100'000, '\x91');
  deep += '\xc0';
  CHECK(codec::decode_command(deep).code() == errc::corrupted);
}

TEST_CASE("random_garbage_and_bit_flips_never_crash_the_decoder") {
  std::mt19937_64 rng{20261126};
  std::uniform_int_distribution<int> byte{0, 255};
  std::size_t errors = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string b(static_cast<std::size_t>(1 + rng() % 64), '\0');
    for (auto& ch : b)
      ch = static_cast<char>(byte(rng));
    b[0] = static_cast<char>(codec::record_format_version);
    errors += !codec::decode_config(b).ok();
    errors += !codec::decode_session(b).ok();
    b[0] = static_cast<char>(codec::command_format_version);
    errors += !codec::decode_command(b).ok();
  }
  // Nearly all random inputs must be refused; a few may be valid by chance.
  CHECK(errors > 3 * 20'000 * 9 / 10);

  for (auto& cmd : sample_commands()) {
    auto good = codec::encode(cmd);
    for (std::size_t pos = 1; pos < good.size(); ++pos)
      for (int bit = 0; bit < 8; ++bit) {
        auto b = good;
        b[pos] = static_cast<char>(b[pos] ^ (1 << bit));
        // Must simply return (ASan builds check it reads nothing outside b);
        // whatever decodes must re-encode to a decodable record.
        auto r = codec::decode_command(b);
        if (r.ok())
          CHECK(codec::decode_command(codec::encode(*r)).ok());
      }
  }
}
