// Crash and restart from the data dir: a follower catching up, and a whole
// cluster shut down and started again.

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>

namespace conflux::itest {

TEST_CASE("killed_follower_restarts_and_catches_up") {
  started_cluster c;
  const auto leader = c.first_leader();
  const std::size_t follower = (leader + 1) % c.size();

  const std::string key = "itest/catchup/prod/app.txt";
  auto cl = c.make_client(10s, leader);
  REQUIRE_OK(cl->write(make_create_config(key, "v-0")));

  c.kill9(follower);
  constexpr int writes = 40;
  revision_t last = 0;
  for (int n = 1; n <= writes; ++n) {
    auto r = cl->write(make_create_version(key, "v-" + std::to_string(n)));
    INFO("write " << n);
    REQUIRE_OK(r);
    last = r->revision;
  }

  // The applied revision of the leader after the writes: the follower must
  // reach at least this.
  const std::uint64_t target = std::max<std::uint64_t>(last, applied_of(c, leader));

  REQUIRE(c.restart(follower));
  auto served = wait_until_serves(c, follower, key, target, 15s);
  const auto& seen = served.versions;
  CHECK(served.meta.node_id == c.id(follower));
  REQUIRE(seen.size() == writes + 1);
  for (int n = 0; n <= writes; ++n) {
    CHECK(seen[static_cast<std::size_t>(n)].id == static_cast<version_id>(n + 1));
    CHECK(seen[static_cast<std::size_t>(n)].content == "v-" + std::to_string(n));
  }
  auto fs = c.status(follower);
  REQUIRE_OK(fs);
  CHECK(fs->applied >= target);
  CHECK(fs->role != "leader");
}

TEST_CASE("whole_cluster_restart_keeps_acknowledged_writes") {
  started_cluster c;

  struct doc {
    std::string key;
    content_format fmt;
    std::vector<std::string> contents;
  };
  const std::vector<doc> docs{
      {"itest/restart/prod/app.json",
       content_format::json,
       {R"({"pool": 1})", R"({"pool": 2})", R"({"pool": 3})"}},
      {"itest/restart/prod/app.toml", content_format::toml, {"pool = 1", "pool = 2"}},
      {"itest/restart/dev/notes.txt",
       content_format::text,
       {"one", "two", "three", "four"}},
  };

  std::vector<config> configs_before;
  std::map<std::string, std::vector<version>> versions_before;
  {
    auto cl = c.make_client(10s);
    for (auto& d : docs) {
      INFO(d.key);
      REQUIRE_OK(cl->write(make_create_config(d.key, d.contents[0], d.fmt)));
      for (std::size_t k = 1; k < d.contents.size(); ++k)
        REQUIRE_OK(cl->write(make_create_version(d.key, d.contents[k])));
    }
    // Release version 2 of the JSON document to everyone.
    update_release_rules rel;
    rel.key = docs[0].key;
    rel.rules = {release_rule{{}, 2, 0}};
    rel.comment = "itest release";
    REQUIRE_OK(cl->write(rel));

    auto cs = cl->list_configs("", actors::consistency::linearizable);
    REQUIRE_OK(cs);
    REQUIRE(cs->size() == docs.size());
    configs_before = *cs;
    for (auto& d : docs) {
      auto vs = cl->list_versions(d.key, actors::consistency::linearizable);
      REQUIRE_OK(vs);
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
  REQUIRE_OK(cs);
  CHECK(*cs == configs_before);
  for (auto& d : docs) {
    INFO(d.key);
    auto vs = cl->list_versions(d.key, actors::consistency::linearizable);
    REQUIRE_OK(vs);
    CHECK(*vs == versions_before[d.key]);
    for (std::size_t k = 0; k < d.contents.size() && k < vs->size(); ++k)
      CHECK((*vs)[k].content == d.contents[k]);
  }
  auto res = cl->resolve(docs[0].key, labels{});
  REQUIRE_OK(res);
  CHECK(res->ver.id == 2);
  CHECK(res->ver.content == docs[0].contents[1]);

  // Every node serves the same data again, and the cluster takes new writes
  // at a later revision.
  revision_t max_rev = 0;
  for (auto& cfg : configs_before)
    max_rev = std::max(max_rev, cfg.mod_revision);
  auto r = cl->write(make_create_version(docs[2].key, "five"));
  REQUIRE_OK(r);
  CHECK(r->revision > max_rev);
  CHECK(r->version == docs[2].contents.size() + 1);
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i));
    auto served = wait_until_serves(c, i, docs[2].key, r->revision, 5s);
    CHECK(served.versions.size() == docs[2].contents.size() + 1);
  }
}

} // namespace conflux::itest
