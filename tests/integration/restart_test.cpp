// Crash and restart from the data dir: a follower catching up, and a whole
// cluster shut down and started again.

#include "tests/integration/cluster.hpp"
#include "tests/integration/util.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>

namespace conflux::itest {

TEST_CASE("killed_follower_restarts_and_catches_up") {
  cluster c;
  REQUIRE(c.start());
  auto leader = c.wait_for_leader();
  REQUIRE(leader);
  const std::size_t follower = (*leader + 1) % c.size();

  const std::string key = "itest/catchup/prod/app.txt";
  auto cl = c.make_client(10s, leader);
  {
    auto r = cl->write(make_create_config(key, "v-0"));
    INFO("create_config: " << err_text(r));
    REQUIRE(acked(r));
  }

  c.kill9(follower);
  constexpr int writes = 40;
  revision_t last = 0;
  for (int n = 1; n <= writes; ++n) {
    auto r = cl->write(make_create_version(key, "v-" + std::to_string(n)));
    INFO("write " << n << ": " << err_text(r));
    REQUIRE(acked(r));
    last = r->revision;
  }

  // The applied revision of the leader after the writes: the follower must
  // reach at least this.
  std::uint64_t target = last;
  auto ls = c.status(*leader);
  INFO("leader status: " << err_text(ls));
  REQUIRE(ls.ok());
  target = std::max<std::uint64_t>(target, ls->applied);

  REQUIRE(c.restart(follower));
  auto fc = c.make_node_client(follower, 2s);
  actors::read_meta meta;
  std::vector<version> seen;
  std::string last_err;
  bool caught_up = eventually(
    [&] {
      auto vs = fc->list_versions(key, actors::consistency::serializable, &meta);
      if (!vs.ok()) {
        last_err = err_text(vs);
        return false;
      }
      seen = *vs;
      return meta.revision >= target && seen.size() == writes + 1;
    },
    15s, 50ms);
  INFO("follower read: revision " << meta.revision << " of " << target << ", "
                                  << seen.size() << " versions, last error " << last_err);
  CHECK(caught_up);
  CHECK(meta.node_id == c.id(follower));
  REQUIRE(seen.size() == writes + 1);
  for (int n = 0; n <= writes; ++n) {
    CHECK(seen[static_cast<std::size_t>(n)].id == static_cast<version_id>(n + 1));
    CHECK(seen[static_cast<std::size_t>(n)].content == "v-" + std::to_string(n));
  }
  auto fs = c.status(follower);
  REQUIRE(fs.ok());
  CHECK(fs->applied >= target);
  CHECK(fs->role != "leader");
}

TEST_CASE("whole_cluster_restart_keeps_acknowledged_writes") {
  cluster c;
  REQUIRE(c.start());

  struct doc {
    std::string key;
    content_format fmt;
    std::vector<std::string> contents;
  };
  const std::vector<doc> docs{
    {"itest/restart/prod/app.json", content_format::json,
     {R"({"pool": 1})", R"({"pool": 2})", R"({"pool": 3})"}},
    {"itest/restart/prod/app.toml", content_format::toml, {"pool = 1", "pool = 2"}},
    {"itest/restart/dev/notes.txt", content_format::text, {"one", "two", "three", "four"}},
  };

  std::vector<config> configs_before;
  std::map<std::string, std::vector<version>> versions_before;
  {
    auto cl = c.make_client(10s);
    for (auto& d : docs) {
      auto r = cl->write(make_create_config(d.key, d.contents[0], d.fmt));
      INFO(d.key << " create_config: " << err_text(r));
      REQUIRE(acked(r));
      for (std::size_t k = 1; k < d.contents.size(); ++k) {
        auto rv = cl->write(make_create_version(d.key, d.contents[k]));
        INFO(d.key << " create_version: " << err_text(rv));
        REQUIRE(acked(rv));
      }
    }
    // Release version 2 of the JSON document to everyone.
    update_release_rules rel;
    rel.key = docs[0].key;
    rel.rules = {release_rule{{}, 2, 0}};
    rel.comment = "itest release";
    auto rr = cl->write(rel);
    INFO("update_release_rules: " << err_text(rr));
    REQUIRE(acked(rr));

    auto cs = cl->list_configs("", actors::consistency::linearizable);
    INFO("list_configs: " << err_text(cs));
    REQUIRE(cs.ok());
    REQUIRE(cs->size() == docs.size());
    configs_before = *cs;
    for (auto& d : docs) {
      auto vs = cl->list_versions(d.key, actors::consistency::linearizable);
      REQUIRE(vs.ok());
      REQUIRE(vs->size() == d.contents.size());
      versions_before[d.key] = *vs;
    }
  }

  // SIGTERM shuts every node down cleanly (exit 0).
  for (std::size_t i = 0; i < c.size(); ++i) {
    auto st = c.terminate(i, 15s);
    INFO("node " << c.id(i) << " after SIGTERM");
    REQUIRE(st);
    CHECK(WIFEXITED(*st));
    if (WIFEXITED(*st))
      CHECK(WEXITSTATUS(*st) == 0);
  }

  for (std::size_t i = 0; i < c.size(); ++i)
    c.spawn(i);
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i) << " after restart");
    REQUIRE(c.wait_ready(i, 15s));
  }
  auto leader = c.wait_for_leader(10s);
  REQUIRE(leader);

  auto cl = c.make_client(10s, leader);
  auto cs = cl->list_configs("", actors::consistency::linearizable);
  INFO("list_configs after restart: " << err_text(cs));
  REQUIRE(cs.ok());
  CHECK(*cs == configs_before);
  for (auto& d : docs) {
    INFO(d.key);
    auto vs = cl->list_versions(d.key, actors::consistency::linearizable);
    REQUIRE(vs.ok());
    CHECK(*vs == versions_before[d.key]);
    for (std::size_t k = 0; k < d.contents.size() && k < vs->size(); ++k)
      CHECK((*vs)[k].content == d.contents[k]);
  }
  auto res = cl->resolve(docs[0].key, labels{});
  INFO("resolve: " << err_text(res));
  REQUIRE(res.ok());
  CHECK(res->ver.id == 2);
  CHECK(res->ver.content == docs[0].contents[1]);

  // Every node serves the same data again, and the cluster takes new writes
  // at a later revision.
  revision_t max_rev = 0;
  for (auto& cfg : configs_before)
    max_rev = std::max(max_rev, cfg.mod_revision);
  auto r = cl->write(make_create_version(docs[2].key, "five"));
  INFO("write after restart: " << err_text(r));
  REQUIRE(acked(r));
  CHECK(r->revision > max_rev);
  CHECK(r->version == docs[2].contents.size() + 1);
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i));
    auto nc = c.make_node_client(i, 2s);
    std::size_t n = 0;
    CHECK(eventually(
      [&] {
        auto vs = nc->list_versions(docs[2].key, actors::consistency::serializable);
        n = vs.ok() ? vs->size() : 0;
        return n == docs[2].contents.size() + 1;
      },
      5s));
  }
}

} // namespace conflux::itest
