// Checker self-test: hand-written histories the checker must classify.
#include "apps/chaos/checker.hpp"
#include "apps/chaos/history.hpp"

#include <algorithm>
#include <cstdint>
#include <doctest/doctest.h>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace conflux::chaos;

namespace {

bool has_rule(const verdict& v, const std::string& rule) {
  return std::any_of(v.violations.begin(), v.violations.end(),
                     [&](const violation& x) { return x.rule == rule; });
}

std::string rules(const verdict& v) {
  std::string out;
  for (const auto& x : v.violations)
    out += x.rule + ": " + x.message + "\n";
  return out;
}

const char* test_key = "t/a/e/n";

} // namespace

TEST_CASE("checker_accepts_a_linearizable_register_history") {
  // p3 reads null concurrently with write 1; p1's read overlaps write 1 and
  // sees it; p2's write 2 times out (info) and later shows up; p4's write 9
  // failed and is never seen.
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 3, "type": "invoke", "f": "read", "key": "t/a/e/n", "value": null, "time_ns": 1}
{"process": 3, "type": "ok", "f": "read", "key": "t/a/e/n", "value": null, "time_ns": 3}
{"process": 1, "type": "invoke", "f": "read", "key": "t/a/e/n", "value": null, "time_ns": 5}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 10}
{"process": 1, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 1, "time_ns": 15}
{"process": 2, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 2, "time_ns": 20}
{"process": 4, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 9, "time_ns": 21}
{"process": 4, "type": "fail", "f": "write", "key": "t/a/e/n", "value": 9, "time_ns": 22}
{"process": 2, "type": "info", "f": "write", "key": "t/a/e/n", "value": 2, "time_ns": 30}
{"process": 1, "type": "invoke", "f": "read", "key": "t/a/e/n", "value": null, "time_ns": 40}
{"process": 0, "type": "invoke", "f": "read", "key": "t/a/e/n", "value": null, "time_ns": 45}
{"process": 1, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 2, "time_ns": 50}
{"process": 0, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 2, "time_ns": 70}
)";
  auto ops = parse_history(history);
  CHECK(ops.size() == 7);
  auto r = check_register(ops);
  CHECK_MESSAGE(r.status == register_status::linearizable, r.message);
  verdict v = check(history, {});
  CHECK_MESSAGE(v.ok, rules(v));
}

TEST_CASE("checker_accepts_an_info_write_that_never_took_effect") {
  // Write 2 times out, write 3 never completes (no completion line); later
  // reads still see 1.
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "time_ns": 10}
{"process": 1, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 2, "time_ns": 20}
{"process": 1, "type": "info", "f": "write", "key": "t/a/e/n", "time_ns": 30}
{"process": 2, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 3, "time_ns": 31}
{"process": 0, "type": "invoke", "f": "read", "key": "t/a/e/n", "time_ns": 40}
{"process": 0, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 1, "time_ns": 50}
{"process": 3, "type": "invoke", "f": "read", "key": "t/a/e/n", "time_ns": 60}
{"process": 3, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 1, "time_ns": 70}
)";
  auto ops = parse_history(history);
  REQUIRE(ops.size() == 5);
  CHECK(ops[2].outcome == event_type::info);
  CHECK_FALSE(ops[2].complete_ns.has_value());
  verdict v = check(history, {});
  CHECK_MESSAGE(v.ok, rules(v));
}

TEST_CASE("checker_flags_a_stale_read") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "time_ns": 10}
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 2, "time_ns": 20}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "time_ns": 30}
{"process": 1, "type": "invoke", "f": "read", "key": "t/a/e/n", "time_ns": 40}
{"process": 1, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 1, "time_ns": 50}
)";
  auto r = check_register(parse_history(history));
  CHECK(r.status == register_status::not_linearizable);
  CHECK(r.message.find("read -> 1 by process 1") != std::string::npos);
  CHECK(r.message.find("held 2") != std::string::npos);
  verdict v = check(history, {});
  CHECK_FALSE(v.ok);
  CHECK(has_rule(v, "linearizability"));
}

TEST_CASE("checker_flags_a_lost_write") {
  // Write 1 is acknowledged, then a later read returns the initial null.
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "time_ns": 10}
{"process": 1, "type": "invoke", "f": "read", "key": "t/a/e/n", "time_ns": 20}
{"process": 1, "type": "ok", "f": "read", "key": "t/a/e/n", "value": null, "time_ns": 30}
)";
  auto r = check_register(parse_history(history));
  CHECK(r.status == register_status::not_linearizable);
  CHECK(r.message.find("returned null") != std::string::npos);
  CHECK(has_rule(check(history, {}), "linearizability"));
}

TEST_CASE("checker_flags_a_failed_write_that_is_read") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 5, "time_ns": 0}
{"process": 0, "type": "fail", "f": "write", "key": "t/a/e/n", "time_ns": 10}
{"process": 1, "type": "invoke", "f": "read", "key": "t/a/e/n", "time_ns": 20}
{"process": 1, "type": "ok", "f": "read", "key": "t/a/e/n", "value": 5, "time_ns": 30}
)";
  CHECK(check_register(parse_history(history)).status ==
        register_status::not_linearizable);
}

TEST_CASE("checker_accepts_a_consistent_version_history") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "b", "time_ns": 12}
{"process": 2, "type": "invoke", "f": "read-versions", "key": "t/a/e/n", "time_ns": 15}
{"process": 2, "type": "ok", "f": "read-versions", "key": "t/a/e/n", "value": [[1, "a"]], "time_ns": 20}
{"process": 1, "type": "info", "f": "add-version", "key": "t/a/e/n", "time_ns": 30}
{"process": 3, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "c", "time_ns": 31}
{"process": 3, "type": "fail", "f": "add-version", "key": "t/a/e/n", "time_ns": 32}
{"process": 2, "type": "invoke", "f": "read-versions", "key": "t/a/e/n", "time_ns": 40}
{"process": 2, "type": "ok", "f": "read-versions", "key": "t/a/e/n", "value": [[1, "a"], [2, "b"]], "time_ns": 50}
)";
  final_lists finals{{test_key, {{1, "a"}, {2, "b"}}}};
  verdict v = check(history, finals);
  CHECK_MESSAGE(v.ok, rules(v));
  // Without a final list for the key the verdict says so.
  CHECK(has_rule(check(history, {}), "missing-final-list"));
}

TEST_CASE("checker_flags_a_duplicated_add") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 10}
)";
  final_lists finals{{test_key, {{1, "a"}, {2, "a"}}}};
  verdict v = check(history, finals);
  CHECK_FALSE(v.ok);
  CHECK_MESSAGE(has_rule(v, "add-duplicated"), rules(v));
  // An info add applied twice is just as wrong.
  const char* info = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "info", "f": "add-version", "key": "t/a/e/n", "time_ns": 10}
)";
  CHECK(has_rule(check(info, finals), "add-duplicated"));
  // ... but present once is fine.
  CHECK(check(info, final_lists{{test_key, {{1, "a"}}}}).ok);
  CHECK(check(info, final_lists{{test_key, {}}}).ok);
}

TEST_CASE("checker_flags_a_failed_add_that_is_present") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "b", "time_ns": 20}
{"process": 1, "type": "fail", "f": "add-version", "key": "t/a/e/n", "time_ns": 30}
)";
  verdict v = check(history, final_lists{{test_key, {{1, "a"}, {2, "b"}}}});
  CHECK_FALSE(v.ok);
  CHECK_MESSAGE(has_rule(v, "failed-add-present"), rules(v));
  CHECK(v.violations.size() == 1);
}

TEST_CASE("checker_flags_an_acknowledged_add_that_is_missing") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 10}
)";
  CHECK(has_rule(check(history, final_lists{{test_key, {}}}), "acked-add-missing"));
  CHECK(has_rule(check(history, final_lists{{test_key, {{4, "a"}}}}),
                 "acked-add-wrong-id"));
}

TEST_CASE("checker_flags_a_real_time_inversion_of_reads") {
  // Add b is in flight across both reads, so each read alone is fine and
  // both are prefixes of the final list; but the later read lost b.
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 2}
{"process": 1, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "b", "time_ns": 5}
{"process": 2, "type": "invoke", "f": "read-versions", "key": "t/a/e/n", "time_ns": 10}
{"process": 2, "type": "ok", "f": "read-versions", "key": "t/a/e/n", "value": [[1, "a"], [2, "b"]], "time_ns": 20}
{"process": 3, "type": "invoke", "f": "read-versions", "key": "t/a/e/n", "time_ns": 30}
{"process": 3, "type": "ok", "f": "read-versions", "key": "t/a/e/n", "value": [[1, "a"]], "time_ns": 40}
{"process": 1, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 2, "time_ns": 50}
)";
  verdict v = check(history, final_lists{{test_key, {{1, "a"}, {2, "b"}}}});
  CHECK_FALSE(v.ok);
  CHECK_MESSAGE(has_rule(v, "read-real-time-inversion"), rules(v));
  CHECK(v.violations.size() == 1);
}

TEST_CASE("checker_flags_a_read_missing_an_acknowledged_add") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "read-versions", "key": "t/a/e/n", "time_ns": 20}
{"process": 1, "type": "ok", "f": "read-versions", "key": "t/a/e/n", "value": [], "time_ns": 30}
)";
  CHECK(has_rule(check(history, final_lists{{test_key, {{1, "a"}}}}),
                 "read-missing-acked-add"));
}

TEST_CASE("checker_flags_version_ids_out_of_order") {
  const char* history = R"(
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "a", "time_ns": 0}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 2, "time_ns": 10}
{"process": 0, "type": "invoke", "f": "add-version", "key": "t/a/e/n", "value": "b", "time_ns": 20}
{"process": 0, "type": "ok", "f": "add-version", "key": "t/a/e/n", "value": 1, "time_ns": 30}
{"process": 1, "type": "invoke", "f": "read-versions", "key": "t/a/e/n", "time_ns": 40}
{"process": 1, "type": "ok", "f": "read-versions", "key": "t/a/e/n", "value": [[2, "a"], [1, "b"]], "time_ns": 50}
)";
  verdict v = check(history, final_lists{{test_key, {{2, "a"}, {1, "b"}}}});
  CHECK_FALSE(v.ok);
  CHECK_MESSAGE(has_rule(v, "ids-out-of-order"), rules(v));
  CHECK(v.violations.size() == 1);
}

TEST_CASE("history_parser_rejects_a_malformed_line") {
  auto error_of = [](const char* text) -> std::pair<std::size_t, std::string> {
    try {
      parse_history(text);
    } catch (const history_error& e) {
      return {e.line(), e.what()};
    }
    return {0, ""};
  };
  const std::string ok_line =
      R"({"process": 0, "type": "invoke", "f": "write", "key": "k", "value": 1, "time_ns": 0})";
  {
    auto [line, what] =
        error_of((ok_line + "\n{\"process\": 0, \"type\": \"ok\", \"f\": \"write\", "
                            "\"key\": \"k\"}\n")
                     .c_str());
    CHECK(line == 2);
    CHECK(what.find("time_ns") != std::string::npos);
    CHECK(what.find("line 2") != std::string::npos);
  }
  {
    auto [line, what] = error_of((ok_line + "\n\n{not json\n").c_str());
    CHECK(line == 3);
    CHECK(what.find("not valid JSON") != std::string::npos);
  }
  {
    auto [line, what] = error_of(
        R"({"process": 0, "type": "done", "f": "write", "key": "k", "value": 1, "time_ns": 0})");
    CHECK(line == 1);
    CHECK(what.find("\"type\"") != std::string::npos);
  }
  {
    auto [line, what] = error_of(
        R"({"process": 0, "type": "invoke", "f": "write", "key": "k", "value": "x", "time_ns": 0})");
    CHECK(line == 1);
    CHECK(what.find("integer version id") != std::string::npos);
  }
  {
    auto [line, what] = error_of(
        R"({"process": 7, "type": "ok", "f": "read", "key": "k", "value": 1, "time_ns": 0})");
    CHECK(line == 1);
    CHECK(what.find("without a pending invoke") != std::string::npos);
  }
  {
    auto [line, what] = error_of((ok_line + "\n" + ok_line + "\n").c_str());
    CHECK(line == 2);
    CHECK(what.find("still pending") != std::string::npos);
  }
}

namespace {

// A sequential execution of `per_process` ops on each of `processes`
// processes (writes of fresh ids, reads of the current value) stretched into
// overlapping intervals around each op's linearization point. Deterministic.
std::string generated_history(int processes, int per_process, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> owner;
  for (int p = 0; p < processes; ++p)
    owner.insert(owner.end(), per_process, p);
  for (std::size_t i = owner.size(); i > 1; --i)
    std::swap(owner[i - 1], owner[rng() % i]);

  struct sim_op {
    int process;
    bool write;
    std::int64_t value;
    bool has_value;
    std::int64_t point, call, ret;
  };
  std::vector<sim_op> ops;
  std::int64_t state = 0;
  bool has_state = false;
  std::int64_t next_id = 1;
  for (std::size_t k = 0; k < owner.size(); ++k) {
    sim_op op{owner[k], rng() % 2 == 0, 0, false, static_cast<std::int64_t>(k) * 10, 0,
              0};
    if (op.write) {
      op.value = next_id++;
      op.has_value = true;
      state = op.value;
      has_state = true;
    } else {
      op.value = state;
      op.has_value = has_state;
    }
    ops.push_back(op);
  }
  // Intervals: [point - up to 60, point + up to 60], kept sequential per process.
  std::vector<std::int64_t> last_ret(static_cast<std::size_t>(processes), -1);
  std::vector<std::int64_t> next_point(ops.size(), 0);
  std::vector<std::int64_t> upcoming(static_cast<std::size_t>(processes),
                                     std::numeric_limits<std::int64_t>::max());
  for (std::size_t k = ops.size(); k-- > 0;) {
    next_point[k] = upcoming[static_cast<std::size_t>(ops[k].process)];
    upcoming[static_cast<std::size_t>(ops[k].process)] = ops[k].point;
  }
  for (std::size_t k = 0; k < ops.size(); ++k) {
    sim_op& op = ops[k];
    auto p = static_cast<std::size_t>(op.process);
    op.call =
        std::max(last_ret[p] + 1, op.point - static_cast<std::int64_t>(rng() % 60));
    op.ret =
        std::min(next_point[k] - 1, op.point + static_cast<std::int64_t>(rng() % 60));
    last_ret[p] = op.ret;
  }
  // (time, 0 = call / 1 = ret, line)
  std::vector<std::tuple<std::int64_t, int, std::string>> lines;
  for (const sim_op& op : ops) {
    const std::string head = "{\"process\": " + std::to_string(op.process) +
                             ", \"f\": \"" + (op.write ? "write" : "read") +
                             "\", \"key\": \"reg\", ";
    const std::string v = op.has_value ? std::to_string(op.value) : "null";
    lines.emplace_back(
        op.call, 0,
        head + "\"type\": \"invoke\", \"value\": " + (op.write ? v : "null") +
            ", \"time_ns\": " + std::to_string(op.call) + "}");
    lines.emplace_back(op.ret, 1,
                       head + "\"type\": \"ok\", \"value\": " + v +
                           ", \"time_ns\": " + std::to_string(op.ret) + "}");
  }
  std::stable_sort(lines.begin(), lines.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) <
           std::tie(std::get<0>(b), std::get<1>(b));
  });
  std::string out;
  for (const auto& l : lines)
    out += std::get<2>(l) + "\n";
  return out;
}

} // namespace

TEST_CASE("checker_handles_a_long_linearizable_history_within_budget") {
  const std::string history = generated_history(5, 200, 20240601);
  auto ops = parse_history(history);
  REQUIRE(ops.size() == 1000);
  check_options options;
  options.register_step_budget = 2'000'000;
  auto r = check_register(ops, options);
  CHECK_MESSAGE(r.status == register_status::linearizable, r.message);
  MESSAGE("WGL steps: " << r.steps);
}

TEST_CASE("checker_reports_unknown_when_the_budget_is_exhausted") {
  const std::string history = generated_history(5, 200, 7);
  check_options options;
  options.register_step_budget = 50;
  auto r = check_register(parse_history(history), options);
  CHECK(r.status == register_status::unknown);
  CHECK(r.message.find("unknown: budget exhausted") == 0);
  verdict v = check(history, {}, options);
  CHECK_FALSE(v.ok);
  CHECK(has_rule(v, "unknown"));
}

TEST_CASE("checker_flags_a_stale_read_in_a_long_history_within_budget") {
  // The same generated history with one late read made to return value 1
  // (written long before and overwritten since).
  std::string history = generated_history(5, 200, 20240601);
  auto ops = parse_history(history);
  std::size_t target = 0;
  for (std::size_t i = ops.size(); i-- > 0;) {
    if (ops[i].f == fn::read && ops[i].read_result() && *ops[i].read_result() > 5) {
      target = i;
      break;
    }
  }
  REQUIRE(target > 0);
  ops[target].result_value = 1;
  check_options options;
  options.register_step_budget = 2'000'000;
  auto r = check_register(ops, options);
  CHECK_MESSAGE(r.status == register_status::not_linearizable, r.message);
  MESSAGE("WGL steps: " << r.steps << "; " << r.message);
}

TEST_CASE("checker: version stamps that go backwards or run far ahead are reported") {
  const std::int64_t now = 1'800'000'000'000;
  std::vector<stamped_version> good{{1, now - 5000}, {2, now - 5000}, {3, now + 1000}};
  CHECK(check_stamps("k", good, now, 60'000).empty());
  CHECK(check_stamps("k", {}, now, 60'000).empty());

  std::vector<stamped_version> back{{1, now - 5000}, {2, now - 7000}};
  auto b = check_stamps("k", back, now, 60'000);
  REQUIRE(b.size() == 1);
  CHECK(b[0].rule == "cluster-time-backwards");
  CHECK(b[0].key == "k");

  // A cluster that followed a wall clock jumped two days ahead.
  std::vector<stamped_version> ahead{{1, now - 5000}, {2, now + 172'800'000}};
  auto a = check_stamps("k", ahead, now, 60'000);
  REQUIRE(a.size() == 1);
  CHECK(a[0].rule == "cluster-time-jumped");
  // Within the allowance is fine.
  CHECK(check_stamps("k", {{1, now + 59'000}}, now, 60'000).empty());
}

// ------------------------------------------------------------------ watches --

namespace {

// A run of one key with two watchers of "chaos/" from revision 1:
//   rev 3  add "a" -> 1 (acknowledged; config-created)
//   rev 4  write 1     (acknowledged; rules-changed)
//   rev 6  add "b" -> 2 (timed out: info, but it applied)
//   rev 7  add "c" -> 3 (acknowledged)
// Watcher 0 (node 1) sees 3 and 4, resumes on node 2, sees 6 and 7. Watcher 1
// (node 2) sees 3, then a resync at 6 (standing for 4 and 6), then 7. Lines
// are tagged so that each test can drop or replace one.
struct watch_run {
  std::vector<std::pair<std::string, std::string>> lines; // tag, JSON
  final_lists finals{{"chaos/g0/test/k0", {{1, "a"}, {2, "b"}, {3, "c"}}}};

  watch_run() {
    const std::string k = R"("key": "chaos/g0/test/k0")";
    auto h = [](const char* content) { return sha256_hex(content); };
    lines = {
        {"w0-start",
         R"({"type": "watch", "watcher": 0, "event": "start", "node": 1, "prefix": "chaos/", "from_revision": 1, "time_ns": 0})"},
        {"w1-start",
         R"({"type": "watch", "watcher": 1, "event": "start", "node": 2, "prefix": "chaos/", "from_revision": 1, "time_ns": 0})"},
        {"add-a", R"({"process": 0, "type": "invoke", "f": "add-version", )" + k +
                      R"(, "value": "a", "time_ns": 1})"},
        {"add-a-ok", R"({"process": 0, "type": "ok", "f": "add-version", )" + k +
                         R"(, "value": 1, "revision": 3, "time_ns": 5})"},
        {"w0-3",
         R"({"type": "watch", "watcher": 0, "event": "change", "node": 1, "revision": 3, )" +
             k + R"(, "kind": "config-created", "versions": [1], "hash": ")" + h("a") +
             R"(", "time_ns": 5})"},
        {"w1-3",
         R"({"type": "watch", "watcher": 1, "event": "change", "node": 2, "revision": 3, )" +
             k + R"(, "kind": "config-created", "versions": [1], "hash": ")" + h("a") +
             R"(", "time_ns": 5})"},
        {"write-1", R"({"process": 1, "type": "invoke", "f": "write", )" + k +
                        R"(, "value": 1, "time_ns": 6})"},
        {"write-1-ok", R"({"process": 1, "type": "ok", "f": "write", )" + k +
                           R"(, "value": 1, "revision": 4, "time_ns": 9})"},
        {"w0-4",
         R"({"type": "watch", "watcher": 0, "event": "change", "node": 1, "revision": 4, )" +
             k + R"(, "kind": "rules-changed", "versions": [1], "time_ns": 9})"},
        {"add-b", R"({"process": 2, "type": "invoke", "f": "add-version", )" + k +
                      R"(, "value": "b", "time_ns": 10})"},
        {"w0-resume",
         R"({"type": "watch", "watcher": 0, "event": "resume", "resumes": 1, "reason": "lost the node", "time_ns": 11})"},
        {"w0-6",
         R"({"type": "watch", "watcher": 0, "event": "change", "node": 2, "revision": 6, )" +
             k + R"(, "kind": "version-added", "versions": [2], "hash": ")" + h("b") +
             R"(", "time_ns": 15})"},
        {"w1-resync",
         R"({"type": "watch", "watcher": 1, "event": "resync", "node": 2, "revision": 6, "state": [{)" +
             k + R"(, "mod_revision": 6, "latest_version": 2, "hash": ")" + h("b") +
             R"("}], "time_ns": 16})"},
        {"add-b-info", R"({"process": 2, "type": "info", "f": "add-version", )" + k +
                           R"(, "time_ns": 20})"},
        {"add-c", R"({"process": 0, "type": "invoke", "f": "add-version", )" + k +
                      R"(, "value": "c", "time_ns": 21})"},
        {"add-c-ok", R"({"process": 0, "type": "ok", "f": "add-version", )" + k +
                         R"(, "value": 3, "revision": 7, "time_ns": 25})"},
        {"w0-7",
         R"({"type": "watch", "watcher": 0, "event": "change", "node": 2, "revision": 7, )" +
             k + R"(, "kind": "version-added", "versions": [3], "hash": ")" + h("c") +
             R"(", "time_ns": 25})"},
        {"w1-7",
         R"({"type": "watch", "watcher": 1, "event": "change", "node": 2, "revision": 7, )" +
             k + R"(, "kind": "version-added", "versions": [3], "hash": ")" + h("c") +
             R"(", "time_ns": 26})"},
        {"w0-stop",
         R"({"type": "watch", "watcher": 0, "event": "stop", "last_revision": 7, "target": 7, "time_ns": 30})"},
        {"w1-stop",
         R"({"type": "watch", "watcher": 1, "event": "stop", "last_revision": 7, "target": 7, "time_ns": 30})"},
    };
  }
  std::string& at(const std::string& tag) {
    for (auto& [t, l] : lines)
      if (t == tag)
        return l;
    FAIL("no line tagged " << tag);
    return lines.front().second;
  }
  watch_run& drop(const std::string& tag) {
    at(tag); // must exist
    lines.erase(std::remove_if(lines.begin(), lines.end(),
                               [&](const auto& l) { return l.first == tag; }),
                lines.end());
    return *this;
  }
  watch_run& replace(const std::string& tag, const std::string& from,
                     const std::string& to) {
    auto& l = at(tag);
    auto pos = l.find(from);
    REQUIRE_MESSAGE(pos != std::string::npos, tag << " has no " << from);
    l.replace(pos, from.size(), to);
    return *this;
  }
  // Inserts `line` after the line tagged `after`.
  watch_run& insert_after(const std::string& after, const std::string& line) {
    auto it = std::find_if(lines.begin(), lines.end(),
                           [&](const auto& l) { return l.first == after; });
    REQUIRE(it != lines.end());
    lines.insert(it + 1, {"inserted", line});
    return *this;
  }
  std::string text() const {
    std::string out;
    for (const auto& [t, l] : lines)
      out += l + "\n";
    return out;
  }
  verdict verdict_of() const { return check(text(), finals); }
};

} // namespace

TEST_CASE("watch_checker_accepts_streams_with_a_resume_and_a_resync") {
  watch_run run;
  auto h = parse_full_history(run.text());
  CHECK(h.ops.size() == 4);
  REQUIRE(h.watches.size() == 12);
  CHECK(h.watches[0].type == watch_event_type::start);
  CHECK(h.ops[0].revision == 3);
  CHECK_FALSE(h.ops[2].revision.has_value()); // the info add
  verdict v = run.verdict_of();
  CHECK_MESSAGE(v.ok, rules(v));
}

TEST_CASE("watch_checker_flags_a_repeated_or_lower_revision") {
  // Watcher 1 gets revision 3 twice, with no resume between.
  watch_run run;
  run.insert_after("w1-3", run.at("w1-3"));
  verdict v = run.verdict_of();
  CHECK_MESSAGE(has_rule(v, "watch-revision-order"), rules(v));
  CHECK_FALSE(has_rule(v, "watch-resume-went-back"));
  CHECK(rules(v).find("repeats") != std::string::npos);
}

TEST_CASE("watch_checker_flags_a_resume_that_goes_back") {
  // After its resume, watcher 0 gets revision 4 again before 6.
  watch_run run;
  run.insert_after("w0-resume", run.at("w0-4"));
  verdict v = run.verdict_of();
  CHECK_MESSAGE(has_rule(v, "watch-resume-went-back"), rules(v));
  CHECK_FALSE(has_rule(v, "watch-revision-order"));
}

TEST_CASE("watch_checker_flags_a_gap_without_a_resync") {
  SUBCASE("an acknowledged write skipped") {
    watch_run run;
    run.drop("w0-4");
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-gap"), rules(v));
    CHECK(rules(v).find("revision 4") != std::string::npos);
  }
  SUBCASE("a change only another watcher saw (an info add)") {
    // Watcher 2 starts at revision 6 and sees the info add there.
    watch_run run;
    run.insert_after(
        "w1-start",
        R"({"type": "watch", "watcher": 2, "event": "start", "node": 3, "prefix": "chaos/", "from_revision": 6, "time_ns": 0})");
    std::string seen = run.at("w0-6");
    seen.replace(seen.find(R"("watcher": 0)"), 12, R"("watcher": 2)");
    run.insert_after("w0-6", seen);
    {
      verdict v = run.verdict_of();
      CHECK_MESSAGE(v.ok, rules(v));
    }
    run.drop("w0-6");
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-gap"), rules(v));
    CHECK(rules(v).find("revision 6") != std::string::npos);
  }
  SUBCASE("without its resync, watcher 1 skipped revision 4") {
    watch_run run;
    run.drop("w1-resync");
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-gap"), rules(v));
  }
}

TEST_CASE("watch_checker_flags_an_acknowledged_write_never_delivered") {
  // Watcher 1 stops at revision 3 + resync 6: add "c" at 7 never came.
  watch_run run;
  run.drop("w1-7").replace("w1-stop", R"("target": 7)", R"("target": 0)");
  verdict v = run.verdict_of();
  CHECK_MESSAGE(has_rule(v, "watch-acked-write-missing"), rules(v));
  CHECK_FALSE(has_rule(v, "watch-not-caught-up")); // no target recorded
  CHECK_FALSE(has_rule(v, "watch-gap"));
}

TEST_CASE("watch_checker_flags_a_watcher_behind_the_final_revision") {
  // Something (e.g. an info write) reached revision 8; watcher 0 stopped at 7.
  watch_run run;
  run.replace("w0-stop", R"("target": 7)", R"("target": 8)");
  verdict v = run.verdict_of();
  CHECK_MESSAGE(has_rule(v, "watch-not-caught-up"), rules(v));
  CHECK_FALSE(has_rule(v, "watch-acked-write-missing"));
}

TEST_CASE("watch_checker_flags_an_event_that_differs_from_the_write") {
  SUBCASE("versions") {
    watch_run run;
    run.replace("w0-4", R"("versions": [1])", R"("versions": [3])");
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-event-mismatch"), rules(v));
  }
  SUBCASE("content hash of an acknowledged add") {
    watch_run run;
    run.replace("w1-3", sha256_hex("a"), sha256_hex("z"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-event-mismatch"), rules(v));
  }
  SUBCASE("content hash of an info add") {
    watch_run run;
    run.replace("w0-6", sha256_hex("b"), sha256_hex("z"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-event-mismatch"), rules(v));
  }
  SUBCASE("key") {
    watch_run run;
    run.replace("w0-7", "chaos/g0/test/k0", "chaos/g0/test/k1");
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-event-mismatch"), rules(v));
  }
}

TEST_CASE("watch_checker_flags_an_event_no_write_explains") {
  auto rules_event = [](int revision, int version, const char* kind) {
    return std::string(
               R"({"type": "watch", "watcher": 0, "event": "change", "node": 2, "revision": )") +
           std::to_string(revision) + R"(, "key": "chaos/g0/test/k0", "kind": ")" +
           kind + R"(", "versions": [)" + std::to_string(version) +
           R"(], "time_ns": 28})";
  };
  SUBCASE("a release of a version no write set") {
    watch_run run;
    run.insert_after("w0-7", rules_event(8, 3, "rules-changed"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-unknown-change"), rules(v));
  }
  SUBCASE("a release only a failed write set") {
    watch_run run;
    run.insert_after(
        "add-c-ok",
        R"({"process": 3, "type": "invoke", "f": "write", "key": "chaos/g0/test/k0", "value": 3, "time_ns": 26})");
    run.insert_after(
        "inserted",
        R"({"process": 3, "type": "fail", "f": "write", "key": "chaos/g0/test/k0", "time_ns": 27})");
    run.insert_after("w0-7", rules_event(8, 3, "rules-changed"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-unknown-change"), rules(v));
    // The same write timed out instead: it may have applied.
    watch_run info;
    info.insert_after(
        "add-c-ok",
        R"({"process": 3, "type": "invoke", "f": "write", "key": "chaos/g0/test/k0", "value": 3, "time_ns": 26})");
    info.insert_after(
        "inserted",
        R"({"process": 3, "type": "info", "f": "write", "key": "chaos/g0/test/k0", "time_ns": 27})");
    info.insert_after("w0-7", rules_event(8, 3, "rules-changed"));
    verdict ok = info.verdict_of();
    CHECK_MESSAGE(ok.ok, rules(ok));
  }
  SUBCASE("a version the final list does not hold") {
    watch_run run;
    run.insert_after("w0-7", rules_event(8, 4, "version-added"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-unknown-change"), rules(v));
  }
  SUBCASE("a kind no client makes") {
    watch_run run;
    run.insert_after("w0-7", rules_event(8, 3, "versions-deleted"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-unknown-change"), rules(v));
  }
  SUBCASE("an info add seen before it was invoked") {
    watch_run run;
    run.replace("w0-6", R"("time_ns": 15)", R"("time_ns": 9)");
    // (keeps the file in time order: the event now precedes the invoke)
    verdict v = check(run.text(), run.finals);
    CHECK_MESSAGE(has_rule(v, "watch-unknown-change"), rules(v));
  }
}

TEST_CASE("watch_checker_flags_a_resync_that_disagrees_with_the_writes") {
  SUBCASE("the key missing") {
    watch_run run;
    auto& l = run.at("w1-resync");
    l = l.substr(0, l.find("\"state\"")) + R"("state": [], "time_ns": 16})";
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-resync-wrong"), rules(v));
  }
  SUBCASE("a mod revision from after it") {
    watch_run run;
    run.replace("w1-resync", R"("mod_revision": 6)", R"("mod_revision": 7)");
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-resync-wrong"), rules(v));
  }
  SUBCASE("a latest version acknowledged after it") {
    watch_run run;
    run.replace("w1-resync", R"("latest_version": 2, "hash": ")" + sha256_hex("b"),
                R"("latest_version": 3, "hash": ")" + sha256_hex("c"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-resync-wrong"), rules(v));
  }
  SUBCASE("a hash that is not the latest version's") {
    watch_run run;
    run.replace("w1-resync", sha256_hex("b"), sha256_hex("a"));
    verdict v = run.verdict_of();
    CHECK_MESSAGE(has_rule(v, "watch-resync-wrong"), rules(v));
  }
}

TEST_CASE("watch_checker_flags_a_stream_that_failed") {
  watch_run run;
  run.replace("w1-stop", R"("target": 7)",
              R"("target": 7, "error": "permission_denied: cut off")");
  verdict v = run.verdict_of();
  CHECK_MESSAGE(has_rule(v, "watch-failed"), rules(v));
}

TEST_CASE("checker_flags_acknowledged_revisions_that_repeat_or_go_back") {
  const char* reused = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "revision": 5, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "write", "key": "t/a/e/x", "value": 2, "time_ns": 5}
{"process": 1, "type": "ok", "f": "write", "key": "t/a/e/x", "revision": 5, "time_ns": 12}
)";
  verdict v = check(reused, {});
  CHECK_MESSAGE(has_rule(v, "write-revision-reused"), rules(v));
  CHECK_FALSE(has_rule(v, "write-revision-order")); // they overlap

  const char* back = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "revision": 9, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "write", "key": "t/a/e/x", "value": 2, "time_ns": 11}
{"process": 1, "type": "ok", "f": "write", "key": "t/a/e/x", "revision": 8, "time_ns": 12}
)";
  verdict w = check(back, {});
  CHECK_MESSAGE(has_rule(w, "write-revision-order"), rules(w));
  CHECK_FALSE(has_rule(w, "write-revision-reused"));

  const char* fine = R"(
{"process": 0, "type": "invoke", "f": "write", "key": "t/a/e/n", "value": 1, "time_ns": 0}
{"process": 1, "type": "invoke", "f": "write", "key": "t/a/e/x", "value": 2, "time_ns": 1}
{"process": 1, "type": "ok", "f": "write", "key": "t/a/e/x", "revision": 8, "time_ns": 5}
{"process": 0, "type": "ok", "f": "write", "key": "t/a/e/n", "revision": 9, "time_ns": 10}
{"process": 1, "type": "invoke", "f": "write", "key": "t/a/e/x", "value": 3, "time_ns": 11}
{"process": 1, "type": "ok", "f": "write", "key": "t/a/e/x", "revision": 10, "time_ns": 12}
)";
  verdict f = check(fine, {});
  CHECK_MESSAGE(f.ok, rules(f));
}

TEST_CASE("history_parser_checks_watch_records_and_revisions") {
  auto error_of = [](const std::string& text) -> std::pair<std::size_t, std::string> {
    try {
      parse_full_history(text);
    } catch (const history_error& e) {
      return {e.line(), e.what()};
    }
    return {0, ""};
  };
  const std::string start =
      R"({"type": "watch", "watcher": 0, "event": "start", "node": 1, "prefix": "chaos/", "from_revision": 1, "time_ns": 0})";
  {
    auto [line, what] = error_of(
        R"({"type": "watch", "watcher": 0, "event": "stop", "last_revision": 0, "time_ns": 0})");
    CHECK(line == 1);
    CHECK(what.find("before its start") != std::string::npos);
  }
  {
    auto [line, what] = error_of(start + "\n" + start + "\n");
    CHECK(line == 2);
    CHECK(what.find("second time") != std::string::npos);
  }
  {
    auto [line, what] = error_of(start + "\n{\"type\": \"watch\", \"watcher\": 0, "
                                         "\"event\": \"poke\", \"time_ns\": 1}\n");
    CHECK(line == 2);
    CHECK(what.find("\"event\"") != std::string::npos);
  }
  {
    auto [line, what] = error_of(
        start +
        "\n{\"type\": \"watch\", \"watcher\": 0, \"event\": \"change\", \"node\": 1, "
        "\"revision\": 3, \"key\": \"k\", \"kind\": \"rules-changed\", \"versions\": "
        "\"1\", \"time_ns\": 1}\n");
    CHECK(line == 2);
    CHECK(what.find("versions") != std::string::npos);
  }
  {
    auto [line, what] = error_of(
        R"({"process": 0, "type": "invoke", "f": "read", "key": "k", "time_ns": 0}
{"process": 0, "type": "ok", "f": "read", "key": "k", "value": 1, "revision": 4, "time_ns": 1})");
    CHECK(line == 2);
    CHECK(what.find("revision") != std::string::npos);
  }
  // parse_history (operations only) skips watch records.
  CHECK(parse_history(start + "\n").empty());
}
