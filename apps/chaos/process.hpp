// Child-process control shared by the conflux-chaos harness
// (apps/chaos/cluster.hpp) and the integration-test fixture
// (tests/integration/cluster.hpp): argv building, fork + execv, bounded
// reaping, wait-status text and free loopback ports. Plain POSIX, no CAF.
//
// Rules every caller keeps, and that these functions are built for:
// - Only PIDs the caller spawned itself are ever signalled or waited on
//   (never by name). Nothing here signals anything; callers send the signals.
// - Every wait is bounded in time and in iterations (wait_bounded).
// - Children get PR_SET_PDEATHSIG(SIGKILL), so a killed parent does not leave
//   them behind. The signal follows the thread that forked, not the process:
//   spawn from the thread that lives longest (main, or the test's thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace conflux::process {

using ms = std::chrono::milliseconds;

/// The text of an errno value ("No such file or directory").
std::string errno_text(int e);

/// argv for execv, built before fork: the child may not allocate. args[0] is
/// the path of the program.
struct argv_block {
  std::vector<std::string> args;
  std::vector<char*> ptrs;
  /// The child's environment when `extra_env` was given: this process's own
  /// plus the extra "NAME=value" entries (which win). Empty: inherit ours.
  std::vector<std::string> env;
  std::vector<char*> env_ptrs;

  explicit argv_block(std::vector<std::string> a,
                      std::vector<std::string> extra_env = {});
};

/// The fds the child gets as 0, 1 and 2 (the caller keeps and closes them).
struct stdio_fds {
  int in = -1;
  int out = -1;
  int err = -1;
};

/// fork + execv of argv.args[0] with fds 0/1/2 taken from `fds`, every other
/// fd closed, signal dispositions and mask reset to the defaults, and SIGKILL
/// on the death of the forking thread. Between fork and execv the child only
/// makes async-signal-safe calls; if execv fails it writes `exec_failed`
/// (e.g. "conflux-chaos: execv of conflux-node failed\n") to its fd 2 and
/// exits 127 (125 if dup2 failed, 126 if the parent was already gone).
/// Returns the child's pid; throws std::runtime_error if fork fails.
pid_t spawn(const argv_block& argv, stdio_fds fds, std::string_view exec_failed);

/// spawn() with stdin from /dev/null and stdout and stderr appended to
/// `log_path` (created 0644 if missing). A non-empty `banner` is appended to
/// the log first. Throws std::runtime_error (naming the path) if the log or
/// /dev/null cannot be opened or fork fails; no fd is left open either way.
pid_t spawn_logged(const argv_block& argv, const std::string& log_path,
                   std::string_view banner, std::string_view exec_failed);

/// One non-blocking waitpid: the wait status if `pid` has exited (and is now
/// reaped), nullopt if it still runs or is not our child.
std::optional<int> try_reap(pid_t pid);

/// Polls waitpid(pid) every 10 ms for at most `limit` (and at most
/// limit / 10 ms + 2 rounds). The wait status, or nullopt if the child has not
/// exited by then or is not our child (any more).
std::optional<int> wait_bounded(pid_t pid, ms limit);

/// "exit code N", "signal Killed", "status N"; "unknown" for nullopt.
std::string describe_wait_status(std::optional<int> st);

/// `n` distinct ports on 127.0.0.1 the kernel considers free right now: every
/// probe socket is held open until all are picked, then closed. Another
/// process may still take one before the caller binds it; callers retry.
/// Throws std::runtime_error if a socket cannot be made or bound.
std::vector<std::uint16_t> free_loopback_ports(std::size_t n);

} // namespace conflux::process
