// Watches against real processes: a watcher connected to the leader sees every
// write of a stream in order across a kill -9 of that leader (the stream fails
// over and resumes); a labelled `conflux watch` is told only when the version
// resolved for its labels changes; a resume from an old revision replays the
// hub's history, or gets one resync event when the revision is older than it;
// a quiet watch keeps its connection past the nodes' idle timeout.

#include "protocol/sha256.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

namespace conflux::itest {
namespace {

using actors::watch_notification;

/// A watch of `w` through a client whose endpoints start at node `first`.
std::unique_ptr<actors::watch_stream> watch_from(const cluster& c, std::size_t first,
                                                 actors::watch_options w) {
  return std::make_unique<actors::watch_stream>(
      runtime(), c.client_options(2s, first, "itest-watch"), w);
}

/// A watch of `key` from the revision after `created` through node `first`
/// first.
std::unique_ptr<actors::watch_stream>
watch_after(const cluster& c, std::size_t first, const std::string& key,
            const expected<apply_result>& created) {
  actors::watch_options w;
  w.key = key;
  w.from_revision = created->revision + 1;
  return watch_from(c, first, w);
}

/// Reads events until `done(events)` holds or `limit` passes (bounded).
template <class Done>
std::vector<watch_notification> collect(actors::watch_stream& s, Done&& done,
                                        ms limit) {
  std::vector<watch_notification> out;
  auto deadline = clock::now() + limit;
  while (!done(out) && clock::now() < deadline) {
    auto n = s.next(100ms);
    REQUIRE_OK(n); // the watch failed
    if (*n)
      out.push_back(std::move(**n));
  }
  return out;
}

rpc::watch_kind kind_of(const watch_notification& n) {
  return static_cast<rpc::watch_kind>(n.event.kind);
}

/// One JSON object per line of `text` (the CLI's `--json watch` output).
std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (std::size_t at = 0; at < text.size();) {
    auto end = std::min(text.find('\n', at), text.size());
    out.push_back(nlohmann::json::parse(text.substr(at, end - at)));
    at = end + 1;
  }
  return out;
}

command rules(const std::string& key, std::vector<release_rule> rs) {
  update_release_rules u;
  u.key = key;
  u.rules = std::move(rs);
  return u;
}

} // namespace

TEST_CASE("watcher_sees_every_write_in_order_across_a_leader_kill") {
  started_cluster c;
  const auto leader = c.first_leader();
  const std::string key = "itest/watch/prod/stream.txt";
  auto created = c.make_client(5s, leader)->write(make_create_config(key, "v-0"));
  REQUIRE_OK(created);

  // Connected to the leader first, so that its kill moves the watch too. It
  // starts right after the create, so when it subscribes does not matter.
  auto stream = watch_after(c, leader, key, created);

  std::vector<std::unique_ptr<actors::client>> writer;
  writer.push_back(c.make_client(5s, leader, "itest-writer"));
  writer_pool pool{std::move(writer), key, "v", 400, 60s};
  REQUIRE(pool.wait_acks(30, 20s));
  c.kill9(leader);
  const auto acks_at_kill = pool.acks();
  REQUIRE(c.wait_for_leader(10s));
  REQUIRE(pool.wait_acks(acks_at_kill + 30, 40s));
  pool.stop();

  auto versions = c.make_client(5s)->list_versions(key);
  REQUIRE_OK(versions);
  // Every version but the first (the create, before the watch started).
  std::map<version_id, std::string> expected_hash;
  for (auto& v : *versions)
    if (v.id != 1)
      expected_hash[v.id] = v.content_hash;
  REQUIRE(expected_hash.size() >= 60u);

  auto events = collect(
      *stream, [&](auto& got) { return got.size() >= expected_hash.size(); }, 30s);
  INFO("stream resumed " << stream->resumes()
                         << " times; last: " << stream->last_interruption());
  MESSAGE("watch across the leader kill: "
          << events.size() << " events for " << expected_hash.size() << " versions, "
          << stream->resumes() << " resume(s): " << stream->last_interruption());
  CHECK(events.size() == expected_hash.size());
  std::uint64_t last_rev = 0;
  version_id last_version = 1;
  for (auto& e : events) {
    INFO("event at revision " << e.event.revision);
    CHECK(kind_of(e) == rpc::watch_kind::version_added);
    CHECK(e.event.revision > last_rev);
    last_rev = e.event.revision;
    REQUIRE(e.event.versions.size() == 1u);
    auto v = e.event.versions[0];
    CHECK(v == last_version + 1); // no gap, no repeat
    last_version = v;
    CHECK(e.event.content_hash == expected_hash[v]);
  }
  // The watch was on the killed leader: it must have failed over.
  CHECK(stream->resumes() >= 1u);
  // Nothing more arrives (no duplicate after the end).
  auto extra = stream->next(500ms);
  REQUIRE_OK(extra);
  CHECK_FALSE(extra->has_value());
}

TEST_CASE("labelled_cli_watch_is_told_only_when_its_resolved_version_changes") {
  started_cluster c;
  const std::string key = "itest/watch/prod/labelled.json";
  auto cl = c.make_client();
  auto created =
      cl->write(make_create_config(key, R"({"v": 1})", content_format::json));
  REQUIRE_OK(created);

  cli_result out;
  std::thread watcher{[&] {
    out = run_cli({"--endpoints", c.endpoints_csv(), "--json", "watch", key, "--label",
                   "canary=true", "--from-revision",
                   std::to_string(created->revision + 1), "--count", "2"},
                  40s);
  }};
  join_on_exit join{nullptr, watcher};

  auto v2 = cl->write(make_create_version(key, R"({"v": 2})")); // nobody sees it
  auto r1 =
      cl->write(rules(key, {release_rule{{}, 1, 0},
                            release_rule{{{"canary", "true"}}, 2, 10}})); // canary: 2
  auto v3 = cl->write(make_create_version(key, R"({"v": 3})")); // nobody sees it
  auto r2 =
      cl->write(rules(key, {release_rule{{}, 1, 0}, // priority only:
                            release_rule{{{"canary", "true"}}, 2, 5}})); // still 2
  auto r3 = cl->write(rules(key, {release_rule{{}, 1, 0}})); // canary: back to 1
  for (auto* r : {&v2, &r1, &v3, &r2, &r3})
    REQUIRE_OK(*r);
  watcher.join();

  INFO(out.describe());
  REQUIRE(out.exit_code == 0);
  auto lines = json_lines(out.out);
  REQUIRE(lines.size() == 2u);
  auto& a = lines[0];
  auto& b = lines[1];
  CHECK(a["kind"] == "rules_changed");
  CHECK(a["revision"] == r1->revision);
  CHECK(a["resolved_version"] == 2);
  CHECK(a["content_hash"] == sha256_hex(R"({"v": 2})"));
  CHECK(b["kind"] == "rules_changed");
  CHECK(b["revision"] == r3->revision);
  CHECK(b["resolved_version"] == 1);
  CHECK(b["content_hash"] == sha256_hex(R"({"v": 1})"));
}

TEST_CASE("watch_resumes_from_an_old_revision_by_replay_or_by_one_resync") {
  started_cluster c{with_flags({"--watch-history", "5"})};
  const auto leader = c.first_leader();
  const std::string key = "itest/watch/prod/resume.txt";
  auto cl = c.make_client();
  REQUIRE_OK(cl->write(make_create_config(key, "c-1")));
  std::vector<apply_result> writes;
  for (int n = 2; n <= 12; ++n) {
    auto r = cl->write(make_create_version(key, "c-" + std::to_string(n)));
    REQUIRE_OK(r);
    writes.push_back(*r);
  }
  // Within the history (the last 5 changes): the CLI replays exactly those
  // from the revision on, in order, and stops after --count.
  auto from = writes[8].revision; // versions 10, 11, 12
  auto replay = run_cli({"--endpoints", c.endpoints_csv(), "--json", "watch", key,
                         "--from-revision", std::to_string(from), "--count", "3"},
                        30s);
  INFO(replay.describe());
  REQUIRE(replay.exit_code == 0);
  auto lines = json_lines(replay.out);
  REQUIRE(lines.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    auto& j = lines[i];
    CHECK(j["kind"] == "version_added");
    CHECK(j["revision"] == writes[8 + i].revision);
    CHECK(j["versions"] == nlohmann::json::array({writes[8 + i].version}));
  }

  // Older than the history: one resync event with the current state, then
  // the changes after it.
  actors::watch_options w;
  w.key = "itest/watch/";
  w.from_revision = writes[0].revision;
  // At the leader, which has applied every acknowledged write.
  auto stream = watch_from(c, leader, w);
  auto first = collect(
      *stream, [](auto& got) { return !got.empty(); }, 15s);
  REQUIRE(first.size() == 1u);
  auto& rs = first[0].event;
  CHECK(kind_of(first[0]) == rpc::watch_kind::resync);
  CHECK(rs.revision >= writes.back().revision);
  REQUIRE(rs.state.size() == 1u);
  CHECK(rs.state[0].key == key);
  CHECK(rs.state[0].latest_version == writes.back().version);
  CHECK(rs.state[0].content_hash == sha256_hex("c-12"));

  auto next = cl->write(make_create_version(key, "c-13"));
  REQUIRE_OK(next);
  auto more = collect(
      *stream, [](auto& got) { return !got.empty(); }, 15s);
  REQUIRE(more.size() == 1u);
  CHECK(kind_of(more[0]) == rpc::watch_kind::version_added);
  CHECK(more[0].event.revision == next->revision);
  CHECK(stream->resumes() == 0u); // no error loop: one resync, then live
}

TEST_CASE("slow_watcher_is_cut_off_and_the_client_resumes_without_a_gap") {
  started_cluster c{with_flags({"--watch-backlog", "4"})};
  const std::string key = "itest/watch/prod/slow.txt";
  auto cl = c.make_client();
  auto created = cl->write(make_create_config(key, "s-1"));
  REQUIRE_OK(created);
  auto stream = watch_after(c, c.first_leader(), key, created);
  // Nobody calls next() while 20 versions are written: nothing is acked, so
  // the node cuts the watcher off once more than 4 events are outstanding.
  std::vector<version_id> written;
  for (int n = 2; n <= 21; ++n) {
    auto r = cl->write(make_create_version(key, "s-" + std::to_string(n)));
    REQUIRE_OK(r);
    written.push_back(r->version);
  }
  REQUIRE(eventually([&] { return stream->resumes() >= 1; }, 10s));
  CHECK(stream->last_interruption().find("cut off") != std::string::npos);
  auto events = collect(
      *stream, [&](auto& got) { return got.size() >= written.size(); }, 20s);
  REQUIRE(events.size() == written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    CHECK(kind_of(events[i]) == rpc::watch_kind::version_added);
    CHECK(events[i].event.versions == std::vector<std::uint64_t>{written[i]});
  }
  auto extra = stream->next(300ms);
  REQUIRE_OK(extra);
  CHECK_FALSE(extra->has_value());
}

TEST_CASE("a_quiet_watch_keeps_its_connection_past_the_idle_timeout") {
  // Nodes close a connection that carries nothing but heartbeats for 2 s. A
  // watch that repeats its acknowledgement every 500 ms keeps its connection;
  // one that never does is closed, resumes, and misses nothing. Each watches
  // through its own node, as one process has one connection per node.
  started_cluster c{with_flags({"--idle-timeout", "2"})};
  const auto leader = c.first_leader();
  const std::string key = "itest/watch/prod/quiet.txt";
  auto cl = c.make_client();
  auto created = cl->write(make_create_config(key, "q-1"));
  REQUIRE_OK(created);
  actors::watch_options w;
  w.key = key;
  w.from_revision = created->revision + 1;
  w.keepalive = 500ms;
  auto kept = watch_from(c, (leader + 1) % c.size(), w);
  w.keepalive = 0ms;
  auto silent = watch_from(c, (leader + 2) % c.size(), w);
  std::this_thread::sleep_for(5s);
  CHECK(kept->resumes() == 0u);
  CHECK(silent->resumes() >= 1u);
  auto next = cl->write(make_create_version(key, "q-2"));
  REQUIRE_OK(next);
  for (auto* s : {kept.get(), silent.get()}) {
    auto got = collect(
        *s, [](auto& g) { return !g.empty(); }, 15s);
    REQUIRE(got.size() == 1u);
    CHECK(got[0].event.revision == next->revision);
  }
  CHECK(kept->resumes() == 0u);
}

TEST_CASE("watch_on_a_frozen_node_resumes_elsewhere_with_the_writes_it_missed") {
  // SIGSTOP keeps the watch's node silent for the middleman's connection
  // timeout (2.5 s); the writes the rest of the cluster commits meanwhile
  // must come through the resumed watch (a resume "from now" would lose them).
  started_cluster c;
  const auto leader = c.first_leader();
  const std::string key = "itest/watch/prod/frozen.txt";
  auto other = (leader + 1) % c.size();
  auto writer = c.make_client(5s, other, "itest-writer");
  auto created = writer->write(make_create_config(key, "f-0"));
  REQUIRE_OK(created);
  auto stream = watch_after(c, leader, key, created);
  for (int n = 1; n <= 5; ++n)
    REQUIRE_OK(writer->write(make_create_version(key, "f-" + std::to_string(n))));
  auto seen = collect(
      *stream, [](auto& got) { return got.size() >= 5; }, 10s);
  REQUIRE(seen.size() == 5u);
  REQUIRE(stream->resumes() == 0u);

  c.stop(leader);
  std::size_t acked_while_frozen = 0;
  for (int n = 6; n <= 200 && acked_while_frozen < 20; ++n)
    if (acked(writer->write(make_create_version(key, "f-" + std::to_string(n)))))
      ++acked_while_frozen;
  REQUIRE(acked_while_frozen == 20u);
  REQUIRE(eventually([&] { return stream->resumes() >= 1; }, 15s));
  c.cont(leader);

  auto versions = writer->list_versions(key);
  REQUIRE_OK(versions);
  std::size_t expected = versions->size() - 1; // all but the create
  auto rest = collect(
      *stream, [&](auto& got) { return seen.size() + got.size() >= expected; }, 20s);
  seen.insert(seen.end(), rest.begin(), rest.end());
  INFO("resumes " << stream->resumes() << ", last: " << stream->last_interruption());
  REQUIRE(seen.size() == expected);
  for (std::size_t i = 0; i < seen.size(); ++i)
    CHECK(seen[i].event.versions == std::vector<std::uint64_t>{i + 2});
}

} // namespace conflux::itest
