// Envelope encryption of secret content (protocol/secret_box.hpp).

#include "protocol/secret_box.hpp"
#include "protocol/sha256.hpp"
#include "tests/protocol/secret_fixture.hpp"

#include <doctest/doctest.h>
#include <memory>
#include <random>
#include <string>

using namespace conflux;
using namespace conflux::secret;

using test_secret::make_kek;
using test_secret::seeded;

namespace {

kek_lookup only(const kek& k) {
  return [&k](std::string_view id) -> const kek* { return id == k.id ? &k : nullptr; };
}

const std::string context = "acme/billing/prod/db.json";
const std::string secret_text = R"({"password": "hunter2-correct-horse"})";

} // namespace

TEST_CASE("a_sealed_secret_opens_with_its_kek_and_context") {
  auto k = make_kek("k1", 7);
  auto blob = seal(secret_text, context, k, seeded(1));
  REQUIRE(blob.ok());
  CHECK(blob->find(secret_text) == std::string::npos);
  CHECK(blob->find("hunter2") == std::string::npos);
  CHECK(*key_id_of(*blob) == "k1");
  auto plain = open(*blob, context, only(k));
  REQUIRE(plain.ok());
  CHECK(*plain == secret_text);
  // A fresh data key and nonce per seal: the same value seals differently.
  auto again = seal(secret_text, context, k, seeded(2));
  REQUIRE(again.ok());
  CHECK(*again != *blob);
  CHECK(*open(*again, context, only(k)) == secret_text);
  // Empty content seals too.
  auto empty = seal("", context, k, seeded(3));
  REQUIRE(empty.ok());
  CHECK(open(*empty, context, only(k))->empty());
}

TEST_CASE("a_wrong_kek_is_refused_with_a_message_naming_the_key") {
  auto k = make_kek("k1", 7);
  auto blob = seal(secret_text, context, k, seeded(1));
  REQUIRE(blob.ok());
  auto impostor = make_kek("k1", 99); // same id, other bytes
  auto r = open(*blob, context, only(impostor));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid_argument);
  CHECK(r.err().message.find("'k1' does not open") != std::string::npos);

  auto other = make_kek("k2", 7);
  auto missing = open(*blob, context, only(other));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.err().code == errc::not_found);
  CHECK(missing.err().message.find("'k1'") != std::string::npos);
  CHECK(missing.err().message.find("--kek-file") != std::string::npos);
}

TEST_CASE("a_tampered_sealed_secret_is_refused") {
  auto k = make_kek("k1", 7);
  auto blob = seal(secret_text, context, k, seeded(1));
  REQUIRE(blob.ok());
  // Every byte of the blob is covered: flipping any one is refused.
  for (std::size_t i = 0; i < blob->size(); ++i) {
    auto bad = *blob;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = open(bad, context, only(k));
    INFO("byte " << i);
    CHECK_FALSE(r.ok());
  }
  // The last content byte flipped: the content, not the key, is blamed.
  auto bad = *blob;
  bad.back() = static_cast<char>(bad.back() ^ 0x80);
  auto r = open(bad, context, only(k));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::corrupted);
  // Truncated, and moved to another config.
  CHECK(open(blob->substr(0, blob->size() - 1), context, only(k)).err().code ==
        errc::corrupted);
  CHECK(open(blob->substr(0, 20), context, only(k)).err().code == errc::corrupted);
  CHECK(open(*blob, "acme/billing/prod/other.json", only(k)).err().code ==
        errc::corrupted);
}

TEST_CASE("rotation_rewraps_the_data_key_and_keeps_the_content_ciphertext") {
  auto old_k = make_kek("2026-01", 7);
  auto new_k = make_kek("2026-12", 42);
  auto blob = seal(secret_text, context, old_k, seeded(1));
  REQUIRE(blob.ok());
  auto rotated = rewrap(*blob, only(old_k), new_k, seeded(5));
  REQUIRE(rotated.ok());
  CHECK(*key_id_of(*rotated) == "2026-12");
  // The content part (nonce, ciphertext, tag) is the same bytes.
  auto content_bytes = 12 + secret_text.size() + 16;
  CHECK(rotated->substr(rotated->size() - content_bytes) ==
        blob->substr(blob->size() - content_bytes));
  CHECK(*open(*rotated, context, only(new_k)) == secret_text);
  // The old key no longer opens it.
  CHECK(open(*rotated, context, only(old_k)).err().code == errc::not_found);
  // Rewrapping needs the key it was sealed with.
  CHECK(rewrap(*blob, only(new_k), new_k, seeded(6)).err().code == errc::not_found);
}

TEST_CASE("a_relabelled_blob_does_not_open_under_another_key_id") {
  // An attacker who renames the key id in the header (keeping its length)
  // cannot make another key with that id accept the wrap.
  auto k1 = make_kek("k1", 7);
  auto blob = seal(secret_text, context, k1, seeded(1));
  REQUIRE(blob.ok());
  auto relabelled = *blob;
  relabelled[7] = '2'; // "k1" -> "k2"
  auto k2 = k1;
  k2.id = "k2"; // even with the same key bytes
  auto r = open(relabelled, context, only(k2));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid_argument);
}

TEST_CASE("the_content_hash_is_keyed_by_the_data_key_and_survives_a_rewrap") {
  auto k = make_kek("k1", 7);
  auto blob = seal(secret_text, context, k, seeded(1));
  REQUIRE(blob.ok());
  auto h = content_hash(*blob, secret_text, only(k));
  REQUIRE(h.ok());
  CHECK(h->size() == 64u);
  CHECK(*h == *content_hash(*blob, secret_text, only(k)));
  // Another plaintext gets another hash (a read checks the opened content).
  CHECK(*h != *content_hash(*blob, secret_text + " ", only(k)));
  // SHA-256 of the value (what a guesser could compute) differs.
  CHECK(*h != sha256_hex(secret_text));
  // The same value sealed again gets an unrelated hash: equal secrets do not
  // show as equal.
  auto again = seal(secret_text, context, k, seeded(2));
  REQUIRE(again.ok());
  CHECK(*content_hash(*again, secret_text, only(k)) != *h);
  // A rewrap under another KEK keeps it.
  auto k2 = make_kek("k2", 9);
  auto rotated = rewrap(*blob, only(k), k2, seeded(3));
  REQUIRE(rotated.ok());
  CHECK(*content_hash(*rotated, secret_text, only(k2)) == *h);
  // Without the KEK there is no hash.
  CHECK(content_hash(*blob, secret_text, only(k2)).err().code == errc::not_found);
  // And the check value is none of these.
  CHECK(check_value(k).size() == 64u);
  CHECK(check_value(k) != *h);
  CHECK(check_value(k) != check_value(make_kek("k1", 8)));
}

TEST_CASE("same_content_tells_a_rewrap_from_another_seal") {
  auto k = make_kek("k1", 7);
  auto k2 = make_kek("k2", 9);
  auto blob = seal(secret_text, context, k, seeded(1));
  REQUIRE(blob.ok());
  auto rotated = rewrap(*blob, only(k), k2, seeded(3));
  REQUIRE(rotated.ok());
  CHECK(*same_content(*blob, *rotated));
  auto again = seal(secret_text, context, k, seeded(2));
  REQUIRE(again.ok());
  CHECK_FALSE(*same_content(*blob, *again));
  auto altered = *rotated;
  altered.back() ^= 1;
  CHECK_FALSE(*same_content(*blob, altered));
  CHECK(same_content(*blob, "not a blob").err().code == errc::corrupted);
  CHECK(blob->size() <= secret_text.size() + max_overhead);
}

TEST_CASE("a_key_id_that_cannot_be_stored_is_refused_before_sealing") {
  auto bad = make_kek("has space", 7);
  auto r = seal(secret_text, context, bad, seeded(1));
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid_argument);
  CHECK_FALSE(valid_key_id(""));
  CHECK_FALSE(valid_key_id(std::string(65, 'a')));
  CHECK(valid_key_id(std::string(64, 'a')));
}

TEST_CASE("a_failing_random_source_fails_the_seal") {
  auto k = make_kek("k1", 7);
  random_source broken = [](unsigned char*, std::size_t) -> status {
    return error{errc::storage_failure, "no entropy"};
  };
  auto r = seal(secret_text, context, k, broken);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message == "no entropy");
}
