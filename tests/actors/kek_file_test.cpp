// The node's key-encryption key file (actors/kek_file.hpp): its format, its
// permissions, and the check values that catch a wrong key at start.

#include "actors/kek_file.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/stat.h>

using namespace conflux;
using namespace conflux::actors;

namespace {

const std::string hex_a(64, 'a');
const std::string hex_b = std::string(32, '0') + std::string(32, 'f');

/// A fresh directory, removed with everything in it at the end.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("conflux-kek-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text,
                    mode_t mode) const {
    auto p = (path / name).string();
    std::ofstream{p} << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
};

} // namespace

TEST_CASE("a_kek_file_lists_keys_and_the_first_is_current") {
  temp_dir d;
  auto p =
      d.write("kek", "# keys\n2026-12:" + hex_b + "\n\n2026-01:" + hex_a + "\n", 0600);
  auto ring = load_kek_file(p);
  REQUIRE_MESSAGE(ring.ok(), ring.err().message);
  CHECK(ring->current().id == "2026-12");
  CHECK(ring->current().key[0] == 0x00);
  CHECK(ring->current().key[31] == 0xff);
  REQUIRE(ring->find("2026-01") != nullptr);
  CHECK(ring->find("2026-01")->key[5] == 0xaa);
  CHECK(ring->find("2025-01") == nullptr);
  CHECK(ring->keys().size() == 2u);
}

TEST_CASE("a_kek_file_readable_by_group_or_others_is_refused") {
  temp_dir d;
  for (mode_t mode : {0640, 0604, 0660, 0644, 0602}) {
    auto p = d.write("kek", "k1:" + hex_a + "\n", mode);
    auto ring = load_kek_file(p);
    INFO("mode " << mode);
    REQUIRE_FALSE(ring.ok());
    CHECK(ring.err().code == errc::invalid_argument);
    CHECK(ring.err().message.find("chmod 600") != std::string::npos);
  }
  CHECK(load_kek_file(d.write("kek", "k1:" + hex_a + "\n", 0400)).ok());
}

TEST_CASE("a_malformed_kek_file_is_refused_naming_the_line") {
  auto refused = [](const std::string& text, const std::string& says) {
    auto r = parse_kek_file(text, "/etc/conflux/kek");
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().code == errc::invalid_argument);
    CHECK(r.err().message.find("/etc/conflux/kek") != std::string::npos);
    CHECK_MESSAGE(r.err().message.find(says) != std::string::npos, r.err().message);
  };
  refused("", "holds no key");
  refused("# only a comment\n", "holds no key");
  refused("k1 " + hex_a, "line 1: expected id:");
  refused("k1:" + hex_a.substr(2), "62 hex digits");
  refused("\nk1:" + hex_a + "0", "line 2:");
  refused("k1:" + std::string(63, 'a') + "g", "no hex digit");
  refused("bad id:" + hex_a, "key id must be");
  refused(":" + hex_a, "key id must be");
  refused("k1:" + hex_a + "\nk1:" + hex_b, "appears twice");
}

TEST_CASE("a_missing_kek_file_is_refused_with_how_to_make_one") {
  temp_dir d;
  auto r = load_kek_file((d.path / "none").string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::not_found);
  CHECK(r.err().message.find("openssl rand -hex 32") != std::string::npos);
}

TEST_CASE("a_kek_whose_check_value_differs_from_the_recorded_one_is_refused") {
  temp_dir d;
  auto data = (d.path / "data").string();
  std::filesystem::create_directories(data);
  auto first = parse_kek_file("k1:" + hex_a, "kek");
  REQUIRE(first.ok());
  REQUIRE(verify_kek_checks(*first, data, "kek").ok());
  auto recorded = read_kek_checks(data);
  REQUIRE(recorded.ok());
  CHECK(recorded->size() == 1u);
  CHECK(recorded->at("k1") == secret::check_value(first->current()));
  struct stat st {};
  REQUIRE(::stat((std::filesystem::path{data} / kek_check_file_name).c_str(), &st) ==
          0);
  CHECK((st.st_mode & 077) == 0);

  // The same file again, and a file adding a new current key: accepted.
  CHECK(verify_kek_checks(*first, data, "kek").ok());
  auto rotated = parse_kek_file("k2:" + hex_b + "\nk1:" + hex_a, "kek");
  REQUIRE(rotated.ok());
  CHECK(verify_kek_checks(*rotated, data, "kek").ok());
  CHECK(read_kek_checks(data)->size() == 2u);

  // Another key under a recorded id: refused, naming the id.
  auto wrong = parse_kek_file("k1:" + hex_b, "/etc/conflux/kek");
  REQUIRE(wrong.ok());
  auto s = verify_kek_checks(*wrong, data, "/etc/conflux/kek");
  REQUIRE_FALSE(s.ok());
  CHECK(s.err().code == errc::invalid_argument);
  CHECK(s.err().message.find("'k1'") != std::string::npos);
  CHECK(s.err().message.find("/etc/conflux/kek") != std::string::npos);
}
