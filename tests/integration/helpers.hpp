#pragma once
// What the integration tests share beyond the process fixture (cluster.hpp):
// the error assertions, command builders, a pool of writer threads that
// records what was acknowledged, the exactly-once verdict over such a
// record, and "wait until node i serves revision R".

#include "actors/client.hpp"
#include "protocol/commands.hpp"
#include "tests/integration/cluster.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <doctest/doctest.h>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace conflux::itest {

// -- errors -------------------------------------------------------------------

/// The code of a result: errc{} when it succeeded. For a write, an applied
/// command that the state machine refused counts as its refusal's code.
template <class T>
errc code_of(const expected<T>& r) {
  return r.code();
}
inline errc code_of(const expected<apply_result>& r) {
  if (!r.ok())
    return r.code();
  return r->err ? r->err->code : errc{};
}

inline errc code_of(const status& s) {
  return s.code();
}

/// "ok", or "code: message" of the failure (for assertion messages).
template <class T>
std::string err_text(const expected<T>& r) {
  return r.ok() ? std::string{"ok"} : to_string(r.err());
}
inline std::string err_text(const status& s) {
  return s.ok() ? std::string{"ok"} : to_string(s.err());
}
inline std::string err_text(const expected<apply_result>& r) {
  if (!r.ok())
    return to_string(r.err());
  return r->err ? to_string(*r->err) : std::string{"ok"};
}

/// A write counts as acknowledged only if the call succeeded and the applied
/// result carries no error.
inline bool acked(const expected<apply_result>& r) {
  return code_of(r) == errc{};
}

/// "ok" for errc{}, else the code's name.
inline std::string errc_name(errc code) {
  return code == errc{} ? std::string{"ok"} : std::string{to_string(code)};
}

// CHECK_ERRC(expr, code) / REQUIRE_ERRC(expr, code): `expr` (a status or an
// expected<T>, evaluated once) failed with `code`; errc{} means it succeeded (for a
// write: it was acknowledged). A failure prints the expression, both codes and the
// error message. CHECK_OK / REQUIRE_OK are the errc{} case.
#define CONFLUX_ERRC_ASSERT(ASSERT, expr, code)                                        \
  do {                                                                                 \
    const auto& conflux_result_ = (expr);                                              \
    const ::conflux::errc conflux_want_ = (code);                                      \
    ASSERT##_MESSAGE(::conflux::itest::code_of(conflux_result_) == conflux_want_,      \
                     #expr << ": wanted "                                              \
                           << ::conflux::itest::errc_name(conflux_want_) << ", got "   \
                           << ::conflux::itest::err_text(conflux_result_));            \
  } while (false)
#define CHECK_ERRC(expr, code) CONFLUX_ERRC_ASSERT(CHECK, expr, code)
#define REQUIRE_ERRC(expr, code) CONFLUX_ERRC_ASSERT(REQUIRE, expr, code)
#define CHECK_OK(expr) CONFLUX_ERRC_ASSERT(CHECK, expr, ::conflux::errc{})
#define REQUIRE_OK(expr) CONFLUX_ERRC_ASSERT(REQUIRE, expr, ::conflux::errc{})

// -- commands -----------------------------------------------------------------

inline command make_create_config(const std::string& key, const std::string& content,
                                  content_format fmt = content_format::text) {
  create_config c;
  c.key = key;
  c.format = fmt;
  c.content = content;
  c.description = "created by the integration tests";
  c.creator = "itest";
  return c;
}

inline command make_create_version(const std::string& key, const std::string& content) {
  create_version c;
  c.key = key;
  c.content = content;
  c.description = "itest write";
  c.creator = "itest";
  return c;
}

// -- writes under load --------------------------------------------------------

/// The outcome of one write of a stream (content unique per write).
struct write_outcome {
  std::string content;
  bool ok = false;
  errc code{};
  std::string error;
  version_id version = 0;
};

/// Counts of each content among the versions of a config.
std::map<std::string, std::size_t> content_counts(const std::vector<version>& vs);

/// The exactly-once verdict over a stream of writes to one config whose
/// versions are `vs`: every acknowledged content is present exactly once (with
/// the version id the write returned); a write whose outcome is unknown
/// (timeout) is present at most once; a write refused with any other error is
/// absent (client.hpp: only `timeout` means "may have applied"); and no content
/// appears twice.
void check_applied_once(const std::vector<version>& vs,
                        const std::vector<write_outcome>& outcomes);

/// Writer threads, one per client, each writing create_version commands with
/// contents "<prefix><k>-<n>" (writer k, its n-th write) to one key until it
/// is stopped, made `max_writes` writes or ran for `limit`. Every outcome is
/// recorded. The destructor stops and joins the threads, so a failed REQUIRE
/// never leaves a joinable thread behind.
class writer_pool {
public:
  writer_pool(std::vector<std::unique_ptr<actors::client>> clients, std::string key,
              std::string prefix, std::size_t max_writes, ms limit);
  ~writer_pool();
  writer_pool(const writer_pool&) = delete;
  writer_pool& operator=(const writer_pool&) = delete;

  /// Acknowledged writes so far, over all writers.
  std::size_t acks() const noexcept { return acks_.load(); }
  /// Polls (bounded) until acks() >= n.
  bool wait_acks(std::size_t n, ms limit);
  /// Stops the writers and waits for their in-flight writes to return.
  void stop();
  /// Every outcome recorded so far (complete after stop()).
  std::vector<write_outcome> outcomes() const;
  /// "N writes: A ok, T timed out, R refused" over outcomes().
  std::string summary() const;

private:
  void run(std::size_t k);

  std::vector<std::unique_ptr<actors::client>> clients_;
  std::string key_;
  std::string prefix_;
  std::size_t max_writes_;
  ms limit_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> acks_{0};
  mutable std::mutex mu_;
  std::vector<write_outcome> outcomes_;
  std::vector<std::thread> threads_;
};

// -- reads of one node ----------------------------------------------------------

/// A serializable read of one node: what it served and at which revision.
struct served_versions {
  std::vector<version> versions;
  actors::read_meta meta;
};

/// Polls node i with serializable reads of `key` (through a client that knows
/// only node i) until it serves them at an applied revision >= `rev`. Fails
/// the test (REQUIRE) with the node's last revision and error if it does not
/// within `limit`.
served_versions wait_until_serves(cluster& c, std::size_t i, const std::string& key,
                                  std::uint64_t rev, ms limit = 20s);

/// Node i's status; fails the test (REQUIRE) if it does not answer.
actors::node_status status_of(cluster& c, std::size_t i);
/// The revision node i has applied (status_of(c, i).applied).
std::uint64_t applied_of(cluster& c, std::size_t i);

// -- threads --------------------------------------------------------------------

/// Joins a thread when the scope ends (after setting `stop`, when given), so
/// that a failed REQUIRE never leaves a joinable std::thread behind.
class join_on_exit {
public:
  join_on_exit(std::atomic<bool>* stop, std::thread& t) : stop_(stop), thread_(&t) {}
  join_on_exit(const join_on_exit&) = delete;
  join_on_exit& operator=(const join_on_exit&) = delete;
  ~join_on_exit() {
    if (stop_)
      *stop_ = true;
    if (thread_->joinable())
      thread_->join();
  }

private:
  std::atomic<bool>* stop_ = nullptr;
  std::thread* thread_ = nullptr;
};

} // namespace conflux::itest
