// The node's hash-chained file of denied requests (actors/denied_log.hpp):
// lines chain, a changed line is named, the chain survives a restart and a
// rotation, a cut-off last line is dropped, nothing but names goes in, and a
// flood of refusals is written at the log's rate, the rest counted.

#include "actors/denied_log.hpp"
#include "tests/storage/temp_dir.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace conflux;
using namespace conflux::actors;
using conflux::storage::test::temp_dir;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream f{path, std::ios::binary | std::ios::trunc};
  f << bytes;
}

/// A node clock the test moves: wall time stands at 1234 ms, steady time
/// advances only when the test says so.
class manual_clock final : public node_clock {
public:
  std::chrono::steady_clock::time_point steady_now =
      std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::int64_t wall_ms() const override { return 1234; }
  std::chrono::steady_clock::time_point steady() const override { return steady_now; }
};

std::shared_ptr<denied_log>
open_ok(const std::string& path, std::uint64_t max = denied_log::default_max_bytes,
        std::uint64_t rate = 1000,
        std::shared_ptr<const node_clock> clock = std::make_shared<manual_clock>()) {
  auto log = denied_log::open(path, max, rate, std::move(clock));
  REQUIRE_MESSAGE(log.ok(), (log.ok() ? "" : to_string(log.err())));
  return *log;
}

/// Appends and requires a line to be written.
void append_ok(denied_log& log, const denied_event& e) {
  auto done = log.append(e);
  REQUIRE_MESSAGE(done.ok(), (done.ok() ? "" : to_string(done.err())));
  REQUIRE(*done == denied_outcome::written);
}

denied_event event(std::string what, std::string key) {
  denied_event e;
  e.what = std::move(what);
  e.principal = "mallory";
  e.identity = "conflux://c1/client/mallory";
  e.origin = "127.0.0.1:40000";
  e.op = "get_config";
  e.key = std::move(key);
  e.code = errc::permission_denied;
  e.reason = "mallory may not read \"acme/pay/prod/db\"\n";
  return e;
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

const std::string zeros(64, '0');

} // namespace

TEST_CASE("denied_log_appends_chained_json_lines_that_verify") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  auto log = open_ok(path);
  append_ok(*log, event("read", "acme/pay/prod/db"));
  append_ok(*log, event("hello", ""));
  auto text = slurp(path);
  CHECK(lines(text) == 2);
  CHECK(text.rfind(
            "{\"seq\":1,\"time_ms\":1234,\"what\":\"read\",\"principal\":\"mallory\"",
            0) == 0);
  // Quotes and newlines of the reason are escaped: one event, one line.
  CHECK(text.find("\\\"acme/pay/prod/db\\\"\\n") != std::string::npos);
  CHECK(text.find("\"code\":\"permission_denied\"") != std::string::npos);
  CHECK(text.find("\"prev\":\"" + zeros + "\"") != std::string::npos);
  auto head = denied_log::verify_file(path, zeros);
  REQUIRE_MESSAGE(head.ok(), (head.ok() ? "" : to_string(head.err())));
  CHECK(head->size() == 64);
  CHECK(text.find("\"hash\":\"" + *head + "\"}\n") != std::string::npos);
}

TEST_CASE("denied_log_a_changed_line_is_named_by_verify") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  {
    auto log = open_ok(path);
    for (int i = 0; i < 3; ++i)
      append_ok(*log, event("read", "acme/k" + std::to_string(i)));
  }
  auto text = slurp(path);
  auto at = text.find("acme/k1");
  REQUIRE(at != std::string::npos);
  text[at + 5] = 'X';
  spit(path, text);
  auto v = denied_log::verify_file(path, zeros);
  REQUIRE_FALSE(v.ok());
  CHECK(v.code() == errc::corrupted);
  CHECK(v.err().message.find("line 2 (seq 2)") != std::string::npos);
  // A removed line breaks the chain at the line after it.
  auto full = slurp(path);
  auto first_end = full.find('\n');
  spit(path, full.substr(first_end + 1));
  auto gap = denied_log::verify_file(path, zeros);
  REQUIRE_FALSE(gap.ok());
  CHECK(gap.err().message.find("does not follow") != std::string::npos);
}

TEST_CASE("denied_log_continues_its_chain_after_a_restart_and_drops_a_torn_line") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  {
    auto log = open_ok(path);
    append_ok(*log, event("read", "a/b"));
  }
  // A crash in the middle of a write leaves half a line.
  {
    std::ofstream f{path, std::ios::binary | std::ios::app};
    f << "{\"seq\":2,\"time_ms\":";
  }
  {
    auto log = open_ok(path);
    append_ok(*log, event("read", "c/d"));
  }
  auto text = slurp(path);
  CHECK(lines(text) == 2);
  CHECK(text.find("{\"seq\":2,\"time_ms\":1234,") != std::string::npos);
  CHECK(denied_log::verify_file(path, zeros).ok());
}

TEST_CASE("denied_log_rotates_at_its_cap_and_the_chain_links_across_files") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  auto log = open_ok(path, denied_log::min_max_bytes);
  for (int i = 0; i < 40; ++i)
    append_ok(*log, event("read", "acme/key-" + std::to_string(i)));
  namespace fs = std::filesystem;
  REQUIRE(fs::exists(path + ".1"));
  CHECK(fs::file_size(path) <= denied_log::min_max_bytes);
  CHECK(fs::file_size(path + ".1") <= denied_log::min_max_bytes);
  // The rotated file's last hash is the first prev of the current file.
  auto old_text = slurp(path + ".1");
  auto old_first_prev = old_text.substr(old_text.find("\"prev\":\"") + 8, 64);
  auto old_head = denied_log::verify_file(path + ".1", old_first_prev);
  REQUIRE(old_head.ok());
  CHECK(denied_log::verify_file(path, *old_head).ok());
  CHECK_FALSE(denied_log::verify_file(path, zeros).ok());
  // A restart right after a rotation, with an empty current file, goes on
  // from the rotated file.
  log.reset();
  spit(path, "");
  auto again = open_ok(path, denied_log::min_max_bytes);
  append_ok(*again, event("hello", ""));
  CHECK(denied_log::verify_file(path, *old_head).ok());
}

TEST_CASE("denied_log_refuses_a_cap_below_its_minimum_and_a_foreign_file") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  auto clock = std::make_shared<manual_clock>();
  auto small = denied_log::open(path, 100, denied_log::default_rate, clock);
  REQUIRE_FALSE(small.ok());
  CHECK(small.code() == errc::invalid_argument);
  CHECK(small.err().message.find("--denied-log-max-bytes") != std::string::npos);
  spit(path, "not a record\n");
  auto foreign = denied_log::open(path, denied_log::default_max_bytes,
                                  denied_log::default_rate, clock);
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.code() == errc::corrupted);
  CHECK(slurp(path) == "not a record\n");
}

TEST_CASE("denied_log_writes_at_most_its_rate_and_counts_the_rest_in_the_next_line") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  auto clock = std::make_shared<manual_clock>();
  auto log = open_ok(path, denied_log::default_max_bytes, 5, clock);
  node_counters counters;
  // A flood at one instant: a burst of 5 lines (5 fsyncs), the rest counted.
  for (int i = 0; i < 12; ++i)
    record_denied(log.get(), counters, event("hello", ""));
  CHECK(lines(slurp(path)) == 5);
  CHECK(counters.get("audit.denied.dropped") == 7);
  auto dropped = log->append(event("hello", ""));
  REQUIRE(dropped.ok());
  CHECK(*dropped == denied_outcome::dropped);
  CHECK(lines(slurp(path)) == 5);
  // The bucket refills at 5 lines a second: after 200 ms one more line goes
  // through, and it says how many were dropped since the line before it.
  clock->steady_now += std::chrono::milliseconds(200);
  record_denied(log.get(), counters, event("hello", ""));
  auto text = slurp(path);
  REQUIRE(lines(text) == 6);
  auto last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  CHECK(last.rfind("{\"seq\":6,", 0) == 0);
  CHECK(last.find(",\"dropped\":8,\"prev\":") != std::string::npos);
  CHECK(counters.get("audit.denied.dropped") == 7);
  // The lines that got through before the flood say 0; the chain is whole.
  CHECK(text.find(",\"dropped\":0,\"prev\":") != std::string::npos);
  auto head = denied_log::verify_file(path, zeros);
  REQUIRE_MESSAGE(head.ok(), (head.ok() ? "" : to_string(head.err())));
  // The next line written counts from 0 again.
  clock->steady_now += std::chrono::seconds(1);
  append_ok(*log, event("hello", ""));
  text = slurp(path);
  last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  CHECK(last.find(",\"dropped\":0,\"prev\":") != std::string::npos);
  CHECK(denied_log::verify_file(path, zeros).ok());
}

TEST_CASE("denied_log_a_second_of_refusals_writes_no_more_than_the_rate_and_a_burst") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  auto clock = std::make_shared<manual_clock>();
  auto log = open_ok(path, denied_log::default_max_bytes, 50, clock);
  node_counters counters;
  // 1,000 refusals a second for 3 s: at most the burst of 50 and 50 a second.
  for (int ms = 0; ms < 3000; ++ms) {
    record_denied(log.get(), counters, event("hello", ""));
    clock->steady_now += std::chrono::milliseconds(1);
  }
  auto written = lines(slurp(path));
  CHECK(written >= 50 + 145);
  CHECK(written <= 50 + 150 + 1);
  CHECK(counters.get("audit.denied.dropped") == 3000 - written);
  CHECK(denied_log::verify_file(path, zeros).ok());
}

TEST_CASE("denied_log_refuses_a_rate_of_zero") {
  temp_dir tmp;
  auto path = tmp.sub(denied_log::file_name);
  auto zero = denied_log::open(path, denied_log::default_max_bytes, 0,
                               std::make_shared<manual_clock>());
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.code() == errc::invalid_argument);
  CHECK(zero.err().message.find("--denied-log-rate") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
}
