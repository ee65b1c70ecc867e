// `conflux watch`: parsing and local checks, and the run loop against a fake
// feed: one line (or one JSON object) per event, --count, the stop flag, and
// a feed error turned into its exit code.

#include "tests/apps/cli_fake_cluster.hpp"

#include <deque>
#include <doctest/doctest.h>
#include <map>
#include <sstream>

using namespace conflux;
using namespace conflux::cli;
using namespace conflux::cli::test;

namespace {

const std::string key = "acme/shop/prod/db.toml";

/// Hands out scripted events, then times out (or fails with `fail`).
class fake_feed final : public watch_feed {
public:
  std::deque<actors::watch_notification> events;
  std::optional<error> fail;
  std::size_t polls = 0;
  /// Interruptions reported from the poll with this number on.
  std::map<std::size_t, std::uint64_t> interrupted_at;
  std::uint64_t interruptions() const override {
    std::uint64_t n = 0;
    for (auto& [poll, count] : interrupted_at)
      if (polls >= poll)
        n = count;
    return n;
  }
  std::string last_interruption() const override { return "lost the node"; }
  std::uint64_t last_revision() const override { return 41; }
  expected<std::optional<actors::watch_notification>>
  next(std::chrono::milliseconds) override {
    ++polls;
    if (!events.empty()) {
      auto n = std::move(events.front());
      events.pop_front();
      return std::optional<actors::watch_notification>{std::move(n)};
    }
    if (fail)
      return *fail;
    return std::optional<actors::watch_notification>{};
  }
};

/// Only watches; every other call would be a bug of the watch command.
class watch_only final : public refusing_cluster {
public:
  std::optional<actors::watch_options> opened;
  std::unique_ptr<fake_feed> feed = std::make_unique<fake_feed>();
  fake_feed* feed_view = feed.get();
  std::size_t other_calls = 0;

  std::unique_ptr<watch_feed> open_watch(const actors::watch_options& w) override {
    opened = w;
    return std::move(feed);
  }

protected:
  error refuse() override {
    ++other_calls;
    return error{errc::unavailable, "not used by watch"};
  }
};

actors::watch_notification event(std::uint64_t rev, rpc::watch_kind k,
                                 std::vector<std::uint64_t> versions = {},
                                 std::uint64_t resolved = 0) {
  actors::watch_notification n;
  n.node_id = 2;
  n.event.revision = rev;
  n.event.kind = static_cast<std::uint8_t>(k);
  n.event.key = key;
  n.event.config_id = 7;
  n.event.versions = std::move(versions);
  n.event.resolved_version = resolved;
  n.event.content_hash = std::string(64, 'c');
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

TEST_CASE("watch_parses_prefix_labels_from_revision_and_count") {
  auto p =
      parse_command_line({"watch", "acme/shop/", "--label", "canary=true", "--label",
                          "region=eu", "--from-revision", "7", "--count", "2"},
                         nullptr, test::parsing_tls_dir());
  REQUIRE(p.inv);
  CHECK(p.inv->kind == command_kind::watch);
  CHECK(p.inv->key == "acme/shop/");
  CHECK(p.inv->client_labels == labels{{"canary", "true"}, {"region", "eu"}});
  CHECK(p.inv->from_revision == 7u);
  CHECK(p.inv->count == 2u);
  CHECK(needs_cluster(p.inv->kind));
}

TEST_CASE("watch_refuses_bad_targets_and_numbers_with_exit_2_before_any_contact") {
  for (std::vector<std::string> args : {std::vector<std::string>{"watch", "not a key"},
                                        {"watch", "acme/shop/prod/db.toml/extra"},
                                        {"watch", "acme//"},
                                        {"watch", key, "--from-revision", "0"},
                                        {"watch", key, "--from-revision", "x"},
                                        {"watch", key, "--count", "-1"},
                                        {"watch", key, "--label", "noequals"}}) {
    watch_only api;
    auto r = run(api, args);
    INFO(args[1]);
    CHECK(r.code == 2);
    CHECK_FALSE(r.err.empty());
    CHECK_FALSE(api.opened.has_value());
  }
}

TEST_CASE("watch_prints_one_line_per_event_and_exits_0_after_count") {
  watch_only api;
  api.feed->events.push_back(event(5, rpc::watch_kind::version_added, {3}));
  api.feed->events.push_back(event(6, rpc::watch_kind::rules_changed, {1, 3}));
  api.feed->events.push_back(event(7, rpc::watch_kind::config_deleted));
  auto r = run(api, {"watch", key, "--label", "canary=true", "--from-revision", "5",
                     "--count", "2"});
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  REQUIRE(api.opened);
  CHECK(api.opened->key == key);
  CHECK(api.opened->client_labels == labels{{"canary", "true"}});
  CHECK(api.opened->from_revision == 5u);
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 2u);
  CHECK(lines[0] == "revision=5 kind=version_added key=" + key +
                        " versions=3 hash=" + std::string(12, 'c'));
  CHECK(lines[1].rfind("revision=6 kind=rules_changed key=" + key + " versions=1,3",
                       0) == 0);
  CHECK(api.other_calls == 0u);
}

TEST_CASE("watch_json_prints_one_object_per_line_including_a_resync") {
  watch_only api;
  auto rs = event(9, rpc::watch_kind::resync);
  rs.event.key = "acme/shop/";
  rs.event.state.push_back(rpc::watch_entry{key, 7, 8, 3, 2, std::string(64, 'd')});
  api.feed->events.push_back(rs);
  api.feed->events.push_back(event(10, rpc::watch_kind::rules_changed, {2, 3}, 3));
  auto r = run(api, {"--json", "watch", "acme/shop/", "--count", "2"});
  CHECK(r.code == 0);
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 2u);
  auto a = nlohmann::json::parse(lines[0]);
  CHECK(a["revision"] == 9);
  CHECK(a["kind"] == "resync");
  CHECK(a["node"] == 2);
  REQUIRE(a["state"].size() == 1u);
  CHECK(a["state"][0]["key"] == key);
  CHECK(a["state"][0]["resolved_version"] == 2);
  auto b = nlohmann::json::parse(lines[1]);
  CHECK(b["kind"] == "rules_changed");
  CHECK(b["versions"] == nlohmann::json::array({2, 3}));
  CHECK(b["resolved_version"] == 3);
  CHECK(b["content_hash"] == std::string(64, 'c'));
}

TEST_CASE("watch_stops_with_exit_0_when_the_stop_flag_is_set") {
  watch_only api;
  auto* feed = api.feed_view;
  watch_stop_flag().store(true);
  auto r = run(api, {"watch", key});
  watch_stop_flag().store(false);
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  CHECK(feed->polls == 0u);
}

TEST_CASE("watch_that_can_never_work_exits_with_its_error_code") {
  watch_only api;
  api.feed->events.push_back(event(5, rpc::watch_kind::version_added, {3}));
  api.feed->fail = error{errc::invalid_argument, "bad labels"};
  auto r = run(api, {"watch", key});
  CHECK(r.code == 2);
  CHECK(lines_of(r.out).size() == 1u);
  CHECK(r.err.find("bad labels") != std::string::npos);
}

TEST_CASE("watch_reports_each_interruption_once_on_stderr_and_goes_on") {
  watch_only api;
  api.feed->events.push_back(event(5, rpc::watch_kind::version_added, {3}));
  api.feed->events.push_back(event(6, rpc::watch_kind::version_added, {4}));
  api.feed->events.push_back(event(7, rpc::watch_kind::version_added, {5}));
  api.feed->interrupted_at = {{2, 1}, {3, 2}};
  auto r = run(api, {"watch", key, "--count", "3"});
  CHECK(r.code == 0);
  CHECK(lines_of(r.out).size() == 3u);
  auto errs = lines_of(r.err);
  REQUIRE(errs.size() == 2u);
  CHECK(errs[0] ==
        "conflux: watch interrupted (lost the node); resuming after revision 41");
  CHECK(errs[1] == errs[0]);
}
