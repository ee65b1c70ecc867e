// Secret configs at apply (docs/security.md, "Secret configs"): the state
// machine holds no key, so it accepts sealed content exactly for secret
// configs, checks only its form, and lets a rewrap change nothing but the
// wrap of a data key.

#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/secret_box.hpp"
#include "protocol/sha256.hpp"
#include "protocol/state_machine.hpp"
#include "tests/protocol/auth_fixture.hpp"
#include "tests/protocol/secret_fixture.hpp"

#include <doctest/doctest.h>
#include <memory>
#include <random>

using namespace conflux;

using test_secret::make_kek;
using test_secret::seeded;

namespace {

const std::string key = "acme/pay/prod/db.json";
const std::string plain = R"({"password": "correct-horse-battery"})";

const secret::kek k1 = make_kek("k1", 3);
const secret::kek k2 = make_kek("k2", 9);

secret::kek_lookup both() {
  return [](std::string_view id) -> const secret::kek* {
    return id == "k1" ? &k1 : id == "k2" ? &k2 : nullptr;
  };
}

// What a node puts in a write to a secret config: the blob and its hash.
struct sealed_content {
  std::string blob;
  conflux::sealing seal;
};
sealed_content seal_text(const std::string& text, std::uint32_t seed = 1) {
  auto blob = secret::seal(text, key, k1, seeded(seed));
  REQUIRE(blob.ok());
  auto hash = secret::content_hash(*blob, text, both());
  REQUIRE(hash.ok());
  return {*blob, conflux::sealing{true, *hash}};
}

struct fixture {
  memory_state st;
  state_machine sm;
  std::uint64_t index = 0;

  fixture() { REQUIRE(test_auth::seed_admin(st).ok()); }

  apply_result apply(command cmd,
                     std::string credential = test_auth::admin_credential()) {
    raft::log_entry e;
    e.index = ++index;
    e.term = 1;
    e.timestamp_ms = 1'700'000'000'000;
    e.data = codec::encode(command_envelope{0, 0, std::move(cmd), "", credential});
    auto r = sm.apply(st, e);
    REQUIRE(r.ok());
    return *r;
  }

  // Refused with `code`, and nothing but last_applied and the audit trail changed.
  void refuse(command cmd, errc code) {
    auto before = st;
    auto r = apply(std::move(cmd));
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.err->code == code, to_string(*r.err));
    before.set_last_applied(index).ok();
    CHECK(st.same_except_audit(before));
  }

  create_config secret_create(const sealed_content& s) {
    create_config c{key, content_format::json, std::nullopt, s.blob, "", ""};
    c.secret = true;
    c.sealing = s.seal;
    return c;
  }

  version stored(version_id v) {
    auto got = get_version(st, key, v);
    REQUIRE(got.ok());
    return *got;
  }
};

} // namespace

TEST_CASE("a_secret_config_stores_the_sealed_blob_and_its_keyed_hash") {
  fixture f;
  auto s = seal_text(plain);
  auto r = f.apply(f.secret_create(s));
  REQUIRE(r.ok());
  auto c = get_config(f.st, key);
  REQUIRE(c.ok());
  CHECK(c->secret);
  auto v = f.stored(1);
  CHECK(v.sealed);
  CHECK(v.content == s.blob);
  CHECK(v.content_hash == s.seal.content_hash);
  CHECK(v.content_hash != sha256_hex(plain));
  CHECK(v.content.find("correct-horse") == std::string::npos);
  // The stored record round-trips with its flags.
  CHECK(*codec::decode_version(codec::encode(v)) == v);
  CHECK(*codec::decode_config(codec::encode(*c)) == *c);
}

TEST_CASE("a_secret_config_refuses_plain_content_and_a_plain_one_refuses_sealed") {
  fixture f;
  // Plain content for a secret config (what a node without sealing would send).
  create_config plain_secret{key, content_format::json, std::nullopt, plain, "", ""};
  plain_secret.secret = true;
  f.refuse(plain_secret, errc::revision_mismatch);
  // Sealed content for a config that is not secret.
  auto s = seal_text(plain);
  auto sealed_plain = f.secret_create(s);
  sealed_plain.secret = false;
  f.refuse(sealed_plain, errc::revision_mismatch);

  // The same for new versions of either kind of config.
  REQUIRE(f.apply(f.secret_create(s)).ok());
  f.refuse(create_version{key, plain, "", "", std::nullopt}, errc::revision_mismatch);
  f.refuse(publish{key, plain, "", "", {{{}, 0, 0}}, std::nullopt, ""},
           errc::revision_mismatch);
  const std::string open_key = "acme/pay/prod/open.json";
  REQUIRE(
      f.apply(create_config{open_key, content_format::json, std::nullopt, "{}", "", ""})
          .ok());
  create_version sealed_version{open_key, s.blob, "", "", std::nullopt};
  sealed_version.sealing = s.seal;
  f.refuse(sealed_version, errc::revision_mismatch);
}

TEST_CASE("new_versions_of_a_secret_config_are_sealed_and_publish_works") {
  fixture f;
  REQUIRE(f.apply(f.secret_create(seal_text(plain))).ok());
  auto s2 = seal_text(R"({"password": "second"})", 2);
  create_version cv{key, s2.blob, "rotated", "", std::nullopt};
  cv.sealing = s2.seal;
  REQUIRE(f.apply(cv).ok());
  auto s3 = seal_text(R"({"password": "third"})", 3);
  publish p{key, s3.blob, "", "", {{{}, 0, 0}}, std::nullopt, "go"};
  p.sealing = s3.seal;
  auto r = f.apply(p);
  REQUIRE(r.ok());
  CHECK(f.stored(2).content_hash == s2.seal.content_hash);
  auto res = resolve(f.st, key, {});
  REQUIRE(res.ok());
  CHECK(res->ver.id == 3);
  CHECK(res->ver.sealed);
  CHECK(res->ver.content == s3.blob);
}

TEST_CASE("malformed_sealed_content_or_hash_is_refused") {
  fixture f;
  auto s = seal_text(plain);
  auto bad_blob = f.secret_create(s);
  bad_blob.content = "CFXS not really a blob";
  f.refuse(bad_blob, errc::invalid_argument);
  auto bad_hash = f.secret_create(s);
  bad_hash.sealing.content_hash = "not hex";
  f.refuse(bad_hash, errc::invalid_argument);
  auto too_big = f.secret_create(s);
  too_big.content.append(limits{}.max_content_bytes + secret::max_overhead, 'x');
  f.refuse(too_big, errc::too_large);
}

TEST_CASE("a_rewrap_changes_only_the_wrap_and_needs_cluster_admin") {
  fixture f;
  auto s = seal_text(plain);
  REQUIRE(f.apply(f.secret_create(s)).ok());
  auto rotated = secret::rewrap(s.blob, both(), k2, seeded(7));
  REQUIRE(rotated.ok());

  // Another seal of the same plaintext is not a rewrap: refused, nothing changes.
  auto other = seal_text(plain, 9);
  f.refuse(rewrap_secrets{{{key, 1, other.blob}}}, errc::invalid_argument);

  // A principal without cluster-admin may not rewrap, even one that may
  // read and write the secret.
  {
    auth::role writer{"writer",
                      {{"acme", auth::read | auth::write | auth::read_secret}}};
    REQUIRE(f.apply(put_role{writer, false}).ok());
    const std::string token = "cfx_" + std::string(64, 'e');
    REQUIRE(f.apply(create_token{"w", auth::token_hash(token), {"writer"}, 0}).ok());
    auto r = f.apply(rewrap_secrets{{{key, 1, *rotated}}}, auth::token_hash(token));
    REQUIRE_FALSE(r.ok());
    CHECK(r.err->code == errc::permission_denied);
    CHECK(f.stored(1).content == s.blob);
  }

  // A version deleted meanwhile is skipped; the rest is rewrapped.
  auto r = f.apply(rewrap_secrets{{{key, 1, *rotated}, {key, 7, *rotated}}});
  REQUIRE(r.ok());
  auto v = f.stored(1);
  CHECK(v.content == *rotated);
  CHECK(*secret::key_id_of(v.content) == "k2");
  // Its keyed hash still matches the plaintext it opens to.
  CHECK(*secret::content_hash(v.content, plain, both()) == v.content_hash);
  CHECK(*secret::open(v.content, key, both()) == plain);
}

TEST_CASE("verify_version_checks_only_the_form_of_a_sealed_blob") {
  auto s = seal_text(plain);
  version v;
  v.id = 1;
  v.config = 1;
  v.content = s.blob;
  v.content_hash = s.seal.content_hash;
  v.sealed = true;
  CHECK(verify_version(v).ok());
  v.content = "garbage";
  CHECK(verify_version(v).code() == errc::corrupted);
  // Unsealed, the same record fails its SHA-256.
  v.sealed = false;
  CHECK(verify_version(v).code() == errc::corrupted);
}
