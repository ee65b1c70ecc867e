// Secret content on the node (actors/secret_content.hpp): a write to a
// secret config is validated and sealed before it is proposed, a reader
// gets it opened and checked, and a rotation rewraps what another key wraps.

#include "actors/secret_content.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/secret_box.hpp"
#include "protocol/sha256.hpp"
#include "tests/protocol/secret_fixture.hpp"

#include <doctest/doctest.h>

using namespace conflux;
using namespace conflux::actors;

using test_secret::make_kek;

namespace {

const std::string key = "acme/pay/prod/db.json";
const std::string plain = R"({"password": "correct-horse-battery"})";

create_config secret_create(const std::string& content = plain) {
  create_config c{key, content_format::json, std::nullopt, content, "", ""};
  c.secret = true;
  return c;
}

// A state holding config `key` (secret or not) with no versions yet.
memory_state with_config(bool secret, std::optional<std::string> schema = {}) {
  memory_state st;
  config c;
  c.id = 1;
  c.key = key;
  c.format = content_format::json;
  c.schema = std::move(schema);
  c.secret = secret;
  REQUIRE(st.put_config(c).ok());
  REQUIRE(st.put_key(key, 1).ok());
  return st;
}

// Stores the version a sealed command would make (as the state machine does).
version store_sealed(memory_state& st, version_id id, const std::string& blob,
                     const std::string& hash) {
  version v;
  v.config = 1;
  v.id = id;
  v.content = blob;
  v.content_hash = hash;
  v.sealed = true;
  v.format = content_format::json;
  REQUIRE(st.put_version(v).ok());
  return v;
}

// A principal that may write every key.
status anyone(const std::string&) {
  return {};
}

} // namespace

TEST_CASE("a_principal_that_may_not_write_is_refused_before_anything_is_sealed") {
  memory_state st;
  command cmd = secret_create();
  std::string asked;
  auto deny = [&](const std::string& k) -> status {
    asked = k;
    return {errc::permission_denied, "no"};
  };
  // Even on a node without a key file: the refusal is the permission's.
  CHECK(seal_secret_write(nullptr, st, limits{}, cmd, deny).code() ==
        errc::permission_denied);
  CHECK(asked == key);
  CHECK(std::get<create_config>(cmd).content == plain);
  // A plain write is not asked about (the state machine decides at apply).
  asked.clear();
  command open_create =
      create_config{key, content_format::json, std::nullopt, "{}", "", ""};
  CHECK(seal_secret_write(nullptr, st, limits{}, open_create, deny).ok());
  CHECK(asked.empty());
}

TEST_CASE("a_secret_create_is_validated_then_sealed_before_it_is_proposed") {
  kek_ring ring{{make_kek("k1", 1)}};
  memory_state st;
  command cmd = secret_create();
  REQUIRE(seal_secret_write(&ring, st, limits{}, cmd, anyone).ok());
  auto& c = std::get<create_config>(cmd);
  CHECK(c.sealing.sealed);
  CHECK(c.content.find("correct-horse") == std::string::npos);
  CHECK(*secret::key_id_of(c.content) == "k1");
  CHECK(*secret::open(c.content, key, ring.lookup()) == plain);
  CHECK(c.sealing.content_hash ==
        *secret::content_hash(c.content, plain, ring.lookup()));
  CHECK(c.sealing.content_hash != sha256_hex(plain));

  // Content that is not valid JSON is refused before anything is sealed.
  command bad = secret_create("{not json");
  CHECK(seal_secret_write(&ring, st, limits{}, bad, anyone).code() ==
        errc::invalid_content);
  CHECK(std::get<create_config>(bad).content == "{not json");
}

TEST_CASE("a_node_without_a_key_file_refuses_secret_writes_and_reads") {
  memory_state st;
  command cmd = secret_create();
  auto s = seal_secret_write(nullptr, st, limits{}, cmd, anyone);
  CHECK(s.code() == errc::unavailable);
  CHECK(s.err().message.find("--kek-file") != std::string::npos);
  version v;
  v.sealed = true;
  v.content = "whatever";
  CHECK(open_sealed(nullptr, key, v).code() == errc::unavailable);
}

TEST_CASE("a_client_that_sends_sealed_content_is_refused") {
  kek_ring ring{{make_kek("k1", 1)}};
  auto st = with_config(false);
  command forged = create_version{key, "{}", "", "", std::nullopt};
  std::get<create_version>(forged).sealing =
      conflux::sealing{true, std::string(64, 'a')};
  CHECK(seal_secret_write(&ring, st, limits{}, forged, anyone).code() ==
        errc::invalid_argument);
  command forged_create = secret_create();
  std::get<create_config>(forged_create).sealing.sealed = true;
  CHECK(seal_secret_write(&ring, st, limits{}, forged_create, anyone).code() ==
        errc::invalid_argument);
  command rewrap = rewrap_secrets{};
  CHECK(seal_secret_write(&ring, st, limits{}, rewrap, anyone).code() ==
        errc::invalid_argument);
}

TEST_CASE("versions_of_a_secret_config_are_sealed_and_of_a_plain_one_left_alone") {
  kek_ring ring{{make_kek("k1", 1)}};
  auto secret_state = with_config(true, std::string{R"({"required": ["password"]})"});
  command cv = create_version{key, plain, "", "", std::nullopt};
  REQUIRE(seal_secret_write(&ring, secret_state, limits{}, cv, anyone).ok());
  CHECK(std::get<create_version>(cv).sealing.sealed);
  command pub = publish{key, plain, "", "", {}, std::nullopt, ""};
  REQUIRE(seal_secret_write(&ring, secret_state, limits{}, pub, anyone).ok());
  CHECK(std::get<publish>(pub).sealing.sealed);
  // The config's schema applies to the plaintext.
  command off_schema = create_version{key, R"({"user": "x"})", "", "", std::nullopt};
  CHECK(seal_secret_write(&ring, secret_state, limits{}, off_schema, anyone).code() ==
        errc::schema_violation);

  auto plain_state = with_config(false);
  command open_cv = create_version{key, plain, "", "", std::nullopt};
  REQUIRE(seal_secret_write(&ring, plain_state, limits{}, open_cv, anyone).ok());
  CHECK_FALSE(std::get<create_version>(open_cv).sealing.sealed);
  CHECK(std::get<create_version>(open_cv).content == plain);
}

TEST_CASE("a_reader_gets_the_plaintext_and_a_damaged_blob_is_corrupted") {
  kek_ring ring{{make_kek("k1", 1)}};
  memory_state st;
  command cmd = secret_create();
  REQUIRE(seal_secret_write(&ring, st, limits{}, cmd, anyone).ok());
  auto& c = std::get<create_config>(cmd);
  version v;
  v.id = 1;
  v.content = c.content;
  v.content_hash = c.sealing.content_hash;
  v.sealed = true;
  auto opened = open_sealed(&ring, key, v);
  REQUIRE(opened.ok());
  CHECK(opened->content == plain);
  CHECK_FALSE(opened->sealed);

  auto flipped = v;
  flipped.content.back() ^= 1;
  CHECK(open_sealed(&ring, key, flipped).code() == errc::corrupted);
  auto wrong_hash = v;
  wrong_hash.content_hash = std::string(64, '0');
  CHECK(open_sealed(&ring, key, wrong_hash).code() == errc::corrupted);
  // Opened under another config's key (a blob moved between configs).
  CHECK(open_sealed(&ring, "acme/pay/prod/other.json", v).code() == errc::corrupted);
  // A key file without the blob's key cannot open it, and says which key.
  kek_ring other{{make_kek("k2", 2)}};
  auto r = open_sealed(&other, key, v);
  CHECK(r.code() == errc::unavailable);
  CHECK(r.err().message.find("'k1'") != std::string::npos);
}

TEST_CASE("a_rotation_batch_rewraps_what_another_key_wraps") {
  auto k1 = make_kek("k1", 1);
  auto k2 = make_kek("k2", 2);
  kek_ring old_ring{{k1}};
  auto st = with_config(true);
  for (version_id id = 1; id <= 5; ++id) {
    command cv = create_version{key, plain, "", "", std::nullopt};
    REQUIRE(seal_secret_write(&old_ring, st, limits{}, cv, anyone).ok());
    auto& x = std::get<create_version>(cv);
    store_sealed(st, id, x.content, x.sealing.content_hash);
  }
  CHECK(sealed_versions_by_key(st)->at("k1") == 5);

  kek_ring ring{{k2, k1}}; // k2 is current now
  auto batch = rewrap_batch(ring, st, 3, 1u << 20);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 3);
  for (auto& item : *batch) {
    CHECK(item.key == key);
    CHECK(*secret::key_id_of(item.blob) == "k2");
    auto stored = *st.find_version(1, item.version);
    CHECK(*secret::same_content(stored->content, item.blob));
    store_sealed(st, item.version, item.blob, stored->content_hash);
  }
  auto counts = sealed_versions_by_key(st);
  CHECK(counts->at("k1") == 2);
  CHECK(counts->at("k2") == 3);
  auto rest = rewrap_batch(ring, st, 100, 1u << 20);
  REQUIRE(rest.ok());
  CHECK(rest->size() == 2);
  for (auto& item : *rest)
    store_sealed(st, item.version, item.blob,
                 (*st.find_version(1, item.version))->content_hash);
  CHECK(rewrap_batch(ring, st, 100, 1u << 20)->empty());
  // Every version opens under k2 alone, with its hash intact.
  kek_ring only_new{{k2}};
  for (version_id id = 1; id <= 5; ++id) {
    auto v = open_sealed(&only_new, key, **st.find_version(1, id));
    REQUIRE(v.ok());
    CHECK(v->content == plain);
  }
  // A version under a key the ring lacks stops the batch with its id.
  kek_ring stranger{{make_kek("k3", 3)}};
  auto r = rewrap_batch(stranger, st, 100, 1u << 20);
  CHECK(r.code() == errc::unavailable);
  CHECK(r.err().message.find("'k2'") != std::string::npos);
}

TEST_CASE("a_key_file_with_another_key_under_a_used_id_is_caught_at_start") {
  auto k1 = make_kek("k1", 1);
  kek_ring ring{{k1}};
  auto st = with_config(true);
  command cv = create_version{key, plain, "", "", std::nullopt};
  REQUIRE(seal_secret_write(&ring, st, limits{}, cv, anyone).ok());
  auto& x = std::get<create_version>(cv);
  store_sealed(st, 1, x.content, x.sealing.content_hash);

  auto fine = check_ring_opens(ring, st, "/etc/conflux/kek");
  REQUIRE(fine.ok());
  CHECK(fine->empty());
  // Another key under the same id: refused, naming the id and the file.
  kek_ring wrong{{make_kek("k1", 77)}};
  auto r = check_ring_opens(wrong, st, "/etc/conflux/kek");
  CHECK(r.code() == errc::invalid_argument);
  CHECK(r.err().message.find("'k1'") != std::string::npos);
  CHECK(r.err().message.find("/etc/conflux/kek") != std::string::npos);
  // A ring without the id: the node starts, and is told which id it lacks.
  kek_ring other{{make_kek("k2", 2)}};
  auto lacking = check_ring_opens(other, st, "/etc/conflux/kek");
  REQUIRE(lacking.ok());
  CHECK(*lacking == std::vector<std::string>{"k1"});
}
