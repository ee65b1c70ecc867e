// Secret configs on a cluster of real processes (docs/security.md, "Secret
// configs"): the plaintext reaches no file of any data dir (log, state,
// snapshots, audit, the denied-request log), only principals with
// read-secret get it back, and `conflux kek rotate` moves every secret to a
// new key so the old one can leave the key files.

#include "protocol/auth.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

namespace conflux::itest {
namespace {

const std::string key = "acme/pay/prod/db.json";
const std::string hex_1(64, '1');
const std::string hex_2 = std::string(32, 'a') + std::string(32, '7');

/// Writes the key file every node of `c` reads (mode 0600).
void write_kek(const cluster& c, const std::string& text) {
  auto path = c.dir() + "/kek";
  write_file(path, text);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
}

/// Options whose nodes read the key file in their cluster's dir, plus `extra`.
cluster_options with_kek(std::vector<std::string> extra = {}) {
  cluster_options o;
  o.node_args = [extra](const cluster& c, std::size_t i) {
    auto a = c.default_node_args(i);
    a.insert(a.end(), {"--kek-file", c.dir() + "/kek"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  return o;
}

/// A principal with one role of `grants`; its token.
std::string make_principal(cluster& c, actors::client& admin, const std::string& name,
                           std::vector<auth::grant> grants) {
  put_role pr;
  pr.role.name = name + "-role";
  pr.role.grants = std::move(grants);
  REQUIRE_OK(admin.write(pr));
  auto token = random_token();
  auto made =
      admin.write(create_token{name, auth::token_hash(token), {pr.role.name}, 0});
  REQUIRE_OK(made);
  for (std::size_t i = 0; i < c.size(); ++i)
    REQUIRE(eventually([&] { return applied_of(c, i) >= made->revision; }, 10s));
  return token;
}

std::unique_ptr<actors::client> client_with(cluster& c, const std::string& token) {
  auto o = c.client_options(5s, {}, "itest-secret");
  o.token = token;
  return std::make_unique<actors::client>(client_runtime_of(c.options()), o);
}

/// How many files under `dir` hold `needle`, and how many files were read.
std::pair<std::size_t, std::size_t> files_holding(const std::string& dir,
                                                  const std::string& needle) {
  std::size_t hits = 0, files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    std::string bytes(static_cast<std::size_t>(e.file_size()), '\0');
    std::ifstream in{e.path(), std::ios::binary};
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    ++files;
    if (bytes.find(needle) != std::string::npos)
      ++hits;
  }
  return {hits, files};
}

create_config secret_config(const std::string& content) {
  create_config c{key, content_format::json, std::nullopt, content, "", ""};
  c.secret = true;
  return c;
}

} // namespace

TEST_CASE("secret_plaintext_is_in_no_file_of_any_data_dir") {
  // Small snapshots, so the state also travels through snapshot files.
  cluster c{with_kek({"--snapshot-entries", "4"})};
  write_kek(c, "k1:" + hex_1 + "\n");
  REQUIRE(c.start());
  auto admin = c.make_client();
  auto marker = "pw-" + random_token().substr(4, 24);
  auto marker2 = "pw2-" + random_token().substr(4, 24);
  auto v1 = R"({"password": ")" + marker + R"("})";
  auto v2 = R"({"password": ")" + marker2 + R"("})";
  REQUIRE_OK(admin->write(secret_config(v1)));
  REQUIRE_OK(admin->write(
      publish{key, v2, "rotate", "", {{{}, 0, 0}}, std::nullopt, "new password"}));
  // Plain writes around it, past the snapshot threshold.
  std::uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    auto r =
        admin->write(create_config{"acme/pay/prod/plain" + std::to_string(i) + ".txt",
                                   content_format::text, std::nullopt, "x", "", ""});
    REQUIRE_OK(r);
    last = r->revision;
  }
  // A refused write of bad content to the secret leaves no plaintext either.
  CHECK_ERRC(admin->write(create_version{key, "{\"password\": \"" + marker + "-bad", "",
                                         "", std::nullopt}),
             errc::invalid_content);

  // The admin (cluster-admin: every permission) reads the plaintext back.
  auto got = admin->get_version(key, 1);
  REQUIRE_OK(got);
  CHECK(got->content == v1);
  CHECK_FALSE(got->sealed);
  auto res = admin->resolve(key, {});
  REQUIRE_OK(res);
  CHECK(res->ver.content == v2);
  auto cfg = admin->get_config(key);
  REQUIRE_OK(cfg);
  CHECK(cfg->secret);

  // read without read-secret: the config, never the content.
  auto reader =
      client_with(c, make_principal(c, *admin, "reader", {{"acme", auth::read}}));
  REQUIRE_OK(reader->get_config(key));
  CHECK_ERRC(reader->get_version(key, 1), errc::permission_denied);
  CHECK_ERRC(reader->resolve(key, {}), errc::permission_denied);
  CHECK_ERRC(reader->list_versions(key), errc::permission_denied);
  auto keeper =
      client_with(c, make_principal(c, *admin, "keeper",
                                    {{"acme/pay", auth::read | auth::read_secret}}));
  auto kept = keeper->resolve(key, {});
  REQUIRE_OK(kept);
  CHECK(kept->ver.content == v2);
  auto all = keeper->list_versions(key);
  REQUIRE_OK(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].content == v1);

  for (std::size_t i = 0; i < c.size(); ++i)
    REQUIRE(eventually([&] { return applied_of(c, i) >= last; }, 10s));
  // Stopped cleanly, so nothing is only in memory.
  for (std::size_t i = 0; i < c.size(); ++i)
    c.terminate(i);
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << i << ", data dir " << c.data_dir(i));
    auto [with_key, files] = files_holding(c.data_dir(i), key);
    // The search reads what the node wrote: the key is stored in clear.
    CHECK(files >= 3);
    CHECK(with_key >= 1);
    CHECK(files_holding(c.data_dir(i), marker).first == 0);
    CHECK(files_holding(c.data_dir(i), marker2).first == 0);
  }
}

TEST_CASE("kek_rotate_moves_every_secret_to_the_new_key_and_the_old_key_can_leave" *
          doctest::skip(*cli_binary() == '\0')) {
  cluster c{with_kek()};
  write_kek(c, "k1:" + hex_1 + "\n");
  REQUIRE(c.start());
  auto admin = c.make_client();
  std::vector<std::string> contents;
  for (int i = 0; i < 4; ++i)
    contents.push_back(R"({"n": )" + std::to_string(i) + "}");
  REQUIRE_OK(admin->write(secret_config(contents[0])));
  for (int i = 1; i < 4; ++i)
    REQUIRE_OK(admin->write(create_version{key, contents[i], "", "", std::nullopt}));
  auto before = admin->kek_status();
  REQUIRE_OK(before);
  CHECK(before->current == "k1");
  CHECK(before->sealed == std::map<std::string, std::uint64_t>{{"k1", 4}});

  // A principal without cluster-admin may not rotate.
  auto writer = client_with(
      c, make_principal(c, *admin, "writer",
                        {{"acme", auth::read | auth::write | auth::read_secret}}));
  CHECK_ERRC(writer->kek_rotate_batch(), errc::permission_denied);

  // The new key first in every node's file, the old one kept; restart.
  write_kek(c, "k2:" + hex_2 + "\nk1:" + hex_1 + "\n");
  for (std::size_t i = 0; i < c.size(); ++i) {
    c.terminate(i);
    REQUIRE(c.restart(i));
  }
  REQUIRE(c.wait_for_leader(15s));
  auto cli = run_cli({"--endpoints", c.endpoints_csv(), "--timeout", "10000", "--json",
                      "kek", "rotate"});
  INFO(cli.describe());
  REQUIRE(cli.exit_code == 0);
  CHECK(cli.out.find("\"rewrapped\":4") != std::string::npos);
  CHECK(cli.out.find("\"k2\":4") != std::string::npos);
  auto after = c.make_client();
  auto st = after->kek_status();
  REQUIRE_OK(st);
  CHECK(st->current == "k2");
  CHECK(st->sealed == std::map<std::string, std::uint64_t>{{"k2", 4}});

  // The old key leaves every file; everything still opens.
  write_kek(c, "k2:" + hex_2 + "\n");
  for (std::size_t i = 0; i < c.size(); ++i) {
    c.terminate(i);
    REQUIRE(c.restart(i));
  }
  REQUIRE(c.wait_for_leader(15s));
  auto reader = c.make_client();
  for (int i = 0; i < 4; ++i) {
    auto v = reader->get_version(key, static_cast<version_id>(i + 1));
    REQUIRE_OK(v);
    CHECK(v->content == contents[static_cast<std::size_t>(i)]);
  }
}

TEST_CASE("a_node_without_a_key_file_refuses_a_secret_write_and_changes_nothing") {
  started_cluster c;
  auto admin = c.make_client();
  CHECK_ERRC(admin->write(secret_config("{}")), errc::unavailable);
  CHECK_ERRC(admin->get_config(key), errc::not_found);
}

} // namespace conflux::itest
