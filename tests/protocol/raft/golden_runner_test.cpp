// The golden-file runner itself (golden.hpp): parsing, rewriting, and the
// diff it fails with.

#include "tests/protocol/raft/golden.hpp"

#include <doctest/doctest.h>
#include <stdexcept>
#include <string>

using namespace conflux::raft::golden;

namespace {

const std::string sample = "# a comment\n"
                           "\n"
                           "echo a b\n"
                           "----\n"
                           "a\n"
                           "b\n"
                           "\n"
                           "echo\n"
                           "----\n"
                           "\n"
                           "# the end\n";

/// Prints each word after the command on its own line.
std::string echo(const std::string& cmd) {
  if (cmd.rfind("echo", 0) != 0)
    throw std::invalid_argument("unknown command");
  std::string out;
  for (char c : cmd.substr(4))
    out += c == ' ' ? '\n' : c;
  return out;
}

} // namespace

TEST_CASE("golden_parse_keeps_comments_and_renders_the_same_text") {
  script s;
  std::string error;
  REQUIRE(parse(sample, s, error));
  REQUIRE(s.blocks.size() == 2);
  CHECK(s.blocks[0].command == "echo a b");
  CHECK(s.blocks[0].line == 3);
  CHECK(s.blocks[0].expected == std::vector<std::string>{"a", "b"});
  CHECK(s.blocks[1].expected.empty());
  CHECK(s.trailer == std::vector<std::string>{"# the end"});
  CHECK(render(s) == sample);
}

TEST_CASE("golden_parse_refuses_a_command_without_a_separator") {
  script s;
  std::string error;
  CHECK_FALSE(parse("echo a\na\n", s, error));
  CHECK(error.find("line 1") != std::string::npos);
}

TEST_CASE("golden_run_passes_matching_output_and_fails_a_mismatch_with_a_diff") {
  CHECK(run_script("sample.txt", sample, echo, false).failure.empty());
  const std::string wrong = "echo a c d\n----\na\nb\nd\n";
  auto r = run_script("wrong.txt", wrong, echo, false);
  CHECK(r.failure == "wrong.txt:1: the output of 'echo a c d' differs (- expected, + "
                     "actual):\n"
                     "--- expected\n"
                     "+++ actual\n"
                     "@@ -1,3 +1,3 @@\n"
                     " a\n"
                     "-b\n"
                     "+c\n"
                     " d\n"
                     "(rerun with CONFLUX_REWRITE_GOLDEN=1 to accept the new output)");
}

TEST_CASE("golden_run_reports_a_command_that_fails") {
  auto r = run_script("bad.txt", "bogus\n----\n", echo, false);
  CHECK(r.failure == "bad.txt:1: 'bogus' failed: unknown command");
  // Rewriting cannot bake a failing command into a file either.
  CHECK_FALSE(run_script("bad.txt", "bogus\n----\n", echo, true).failure.empty());
}

TEST_CASE("golden_rewrite_replaces_outputs_and_keeps_the_rest") {
  const std::string stale = "# keep me\necho x\n----\nold\n";
  auto r = run_script("stale.txt", stale, echo, true);
  CHECK(r.failure.empty());
  CHECK(r.rewritten == "# keep me\necho x\n----\nx\n");
}

TEST_CASE("golden_diff_shows_only_the_changed_region_with_context") {
  std::vector<std::string> a;
  for (int i = 0; i < 20; ++i)
    a.push_back("line " + std::to_string(i));
  auto b = a;
  b[10] = "changed";
  b.push_back("added");
  CHECK(unified_diff(a, b) == "@@ -8,7 +8,7 @@\n"
                              " line 7\n"
                              " line 8\n"
                              " line 9\n"
                              "-line 10\n"
                              "+changed\n"
                              " line 11\n"
                              " line 12\n"
                              " line 13\n"
                              "@@ -18,3 +18,4 @@\n"
                              " line 17\n"
                              " line 18\n"
                              " line 19\n"
                              "+added\n");
  CHECK(unified_diff(a, a).empty());
}
