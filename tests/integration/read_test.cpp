// Reads against a healthy 3-node cluster of real processes.

#include "tests/integration/cluster.hpp"
#include "tests/integration/util.hpp"

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
  cluster c;
  REQUIRE(c.start());

  const std::string key = "itest/read/prod/settings.txt";
  auto cl = c.make_client();
  auto r1 = cl->write(make_create_config(key, "hello-1"));
  INFO("create_config: " << err_text(r1));
  REQUIRE(acked(r1));
  auto r2 = cl->write(make_create_version(key, "hello-2"));
  INFO("create_version: " << err_text(r2));
  REQUIRE(acked(r2));
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
    INFO("list_versions: " << err_text(vs));
    REQUIRE(vs.ok());
    CHECK(contents(*vs) == want);
    CHECK(meta.revision >= r2->revision);
    auto v2 = nc->get_version(key, 2, actors::consistency::linearizable);
    REQUIRE(v2.ok());
    CHECK(v2->content == "hello-2");
    auto cfg = nc->get_config(key, actors::consistency::linearizable);
    REQUIRE(cfg.ok());
    CHECK(cfg->latest_version == 2);
  }

  // Serializable: node i's own state, which catches up within a bound.
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i));
    auto nc = c.make_node_client(i, 2s);
    actors::read_meta meta;
    std::vector<std::string> seen;
    std::string last_err;
    bool caught_up = eventually(
      [&] {
        auto vs = nc->list_versions(key, actors::consistency::serializable, &meta);
        if (!vs.ok()) {
          last_err = err_text(vs);
          return false;
        }
        seen = contents(*vs);
        return seen == want && meta.revision >= r2->revision;
      },
      5s, 50ms);
    INFO("last error: " << last_err << ", applied revision " << meta.revision);
    CHECK(caught_up);
    CHECK(seen == want);
    // A serializable read is served by the node that was asked.
    CHECK(meta.node_id == c.id(i));
  }
}

} // namespace conflux::itest
