// Reads against a healthy 3-node cluster of real processes.

#include "protocol/auth.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>

namespace conflux::itest {
namespace {

std::vector<std::string> contents(const std::vector<version>& vs) {
  std::vector<std::string> out;
  for (auto& v : vs)
    out.push_back(v.content);
  return out;
}

} // namespace

TEST_CASE("write_is_readable_from_every_node") {
  started_cluster c;

  const std::string key = "itest/read/prod/settings.txt";
  auto cl = c.make_client();
  auto r1 = cl->write(make_create_config(key, "hello-1"));
  REQUIRE_OK(r1);
  auto r2 = cl->write(make_create_version(key, "hello-2"));
  REQUIRE_OK(r2);
  CHECK(r2->version == 2);
  CHECK(r2->revision > r1->revision);
  const std::vector<std::string> want{"hello-1", "hello-2"};

  // Linearizable, through a client that only knows node i, right after the
  // ack: must reflect the acknowledged write whichever node is asked.
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i));
    auto nc = c.make_node_client(i, 5s);
    actors::read_meta meta;
    auto vs = nc->list_versions(key, actors::consistency::linearizable, &meta);
    REQUIRE_OK(vs);
    CHECK(contents(*vs) == want);
    CHECK(meta.revision >= r2->revision);
    auto v2 = nc->get_version(key, 2, actors::consistency::linearizable);
    REQUIRE_OK(v2);
    CHECK(v2->content == "hello-2");
    auto cfg = nc->get_config(key, actors::consistency::linearizable);
    REQUIRE_OK(cfg);
    CHECK(cfg->latest_version == 2);
  }

  // Serializable: node i's own state, which catches up within a bound.
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i));
    auto served = wait_until_serves(c, i, key, r2->revision, 5s);
    CHECK(contents(served.versions) == want);
    // A serializable read is served by the node that was asked.
    CHECK(served.meta.node_id == c.id(i));
  }
}

} // namespace conflux::itest

namespace conflux::itest {

// A node with the smallest --max-reply-bytes answers long lists in pages;
// the client library follows them and returns the whole list in order.
TEST_CASE("long_lists_come_whole_through_pages_of_the_reply_byte_limit") {
  started_cluster c{with_flags({"--max-reply-bytes", "1KiB"})};
  auto cl = c.make_client();
  const std::string key = "itest/paging/prod/app.txt";
  const std::string pad(300, 'p');
  REQUIRE_OK(cl->write(make_create_config(key, pad + "0")));
  for (int n = 1; n < 12; ++n)
    REQUIRE_OK(cl->write(make_create_version(key, pad + std::to_string(n))));
  // Keys of 120 characters: 12 configs are more than one page.
  const std::string long_name(100, 'c');
  for (int n = 0; n < 12; ++n)
    REQUIRE_OK(cl->write(make_create_config(
        "itest/paging/many/" + long_name + std::to_string(n) + ".txt", pad)));

  auto versions = cl->list_versions(key);
  REQUIRE_OK(versions);
  REQUIRE(versions->size() == 12u);
  for (std::size_t i = 0; i < versions->size(); ++i) {
    CHECK((*versions)[i].id == i + 1);
    CHECK((*versions)[i].content == pad + std::to_string(i));
  }
  auto configs = cl->list_configs("itest/paging/many/");
  REQUIRE_OK(configs);
  CHECK(configs->size() == 12u);
}

// The auth tables' lists page the same way (after the last name).
TEST_CASE("long_auth_lists_come_whole_through_pages_of_the_reply_byte_limit") {
  started_cluster c{with_flags({"--max-reply-bytes", "1KiB"})};
  auto cl = c.make_client();
  std::vector<std::string> names;
  for (int n = 0; n < 20; ++n) {
    // Names of 50 characters: 20 principals or roles are several pages.
    auto name =
        "paged-" + std::string(42, 'x') + (n < 10 ? "0" : "") + std::to_string(n);
    put_role pr;
    pr.role.name = name;
    pr.role.grants = {
        auth::grant{"itest/" + std::string(40, 'r') + std::to_string(n), auth::read}};
    REQUIRE_OK(cl->write(pr));
    create_token ct;
    ct.principal = name;
    ct.token_hash = auth::token_hash(random_token());
    ct.roles = {name};
    REQUIRE_OK(cl->write(ct));
    names.push_back(name);
  }
  auto tokens = cl->list_tokens("paged-");
  REQUIRE_OK(tokens);
  std::vector<std::string> listed;
  for (auto& p : *tokens)
    listed.push_back(p.name);
  CHECK(listed == names);
  auto roles = cl->list_roles();
  REQUIRE_OK(roles);
  listed.clear();
  for (auto& r : *roles)
    if (r.name.rfind("paged-", 0) == 0)
      listed.push_back(r.name);
  CHECK(listed == names);
}

} // namespace conflux::itest
