#pragma once
// A small data-driven test runner (the idea of etcd raft's testdata files and
// its datadriven package; this is its own code). A golden file is a sequence
// of blocks, each a command line, a separator line "----" and the output the
// command must print, ended by a blank line:
//
//   # Comments and blank lines between blocks are kept as they are.
//   campaign 1
//   ----
//   > 1 ready
//     event became_candidate term=1
//
// The runner hands each command to a handler, compares what it prints with
// the expected lines and, on the first mismatch, fails with a unified-style
// diff of that command's output (- expected, + actual). Outputs never hold
// blank lines (the handler's blank lines are dropped).
//
// Rewrite mode: with CONFLUX_REWRITE_GOLDEN=1 in the environment, run_file
// writes the actual outputs back into the file instead of comparing, keeping
// the commands and comments; review the change with git diff.

#include <functional>
#include <string>
#include <vector>

namespace conflux::raft::golden {

struct block {
  /// Comment and blank lines before the command, kept for rewriting.
  std::vector<std::string> preamble;
  std::string command;
  /// 1-based line of the command in the file.
  int line = 0;
  std::vector<std::string> expected;
};

struct script {
  std::vector<block> blocks;
  /// Comment and blank lines after the last block.
  std::vector<std::string> trailer;
};

/// Parses a golden file; on malformed input returns false and says where and
/// why in `error`.
bool parse(const std::string& text, script& out, std::string& error);

/// The file text of `s` (parse(render(s)) == s).
std::string render(const script& s);

/// A unified-style diff: hunks "@@ -a,n +b,m @@" with up to three lines of
/// context, lines prefixed by ' ', '-' (only expected) or '+' (only actual).
/// Empty when the two are equal.
std::string unified_diff(const std::vector<std::string>& expected,
                         const std::vector<std::string>& actual);

/// Splits output into lines, dropping blank ones.
std::vector<std::string> lines_of(const std::string& text);

using handler = std::function<std::string(const std::string& command)>;

struct outcome {
  /// Empty when every block matched; otherwise the first mismatch and its diff.
  std::string failure;
  /// The script with the actual outputs (what rewrite mode writes).
  std::string rewritten;
};

/// Runs every block of `text` through `run` in order. `name` labels failures
/// ("name:line"). In rewrite mode every block runs and none fails.
outcome run_script(const std::string& name, const std::string& text, const handler& run,
                   bool rewrite);

/// Reads `path`, runs it (rewrite mode from CONFLUX_REWRITE_GOLDEN=1, in
/// which case the file is rewritten) and returns the failure text, empty when
/// it passed.
std::string run_file(const std::string& path, const handler& run);

} // namespace conflux::raft::golden
