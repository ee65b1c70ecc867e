#pragma once
// Small helpers shared by the integration tests: error text for messages,
// command builders, and the exactly-once bookkeeping of write streams.

#include "actors/client.hpp"
#include "protocol/commands.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace conflux::itest {

template <class T>
std::string err_text(const expected<T>& e) {
  if (e.ok())
    return "ok";
  return to_string(e.err());
}

/// A write counts as acknowledged only if the call succeeded and the applied
/// result carries no error.
inline bool acked(const expected<apply_result>& r) {
  return r.ok() && r->ok();
}

inline errc code_of(const expected<apply_result>& r) {
  if (!r.ok())
    return r.code();
  return r->err ? r->err->code : errc{};
}

inline std::string err_text(const expected<apply_result>& r) {
  if (!r.ok())
    return to_string(r.err());
  if (r->err)
    return to_string(*r->err);
  return "ok";
}

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

/// The outcome of one write of a stream (content unique per write).
struct write_outcome {
  std::string content;
  bool ok = false;
  errc code{};
  std::string error;
  version_id version = 0;
  std::chrono::steady_clock::time_point done;
};

/// A writer thread's log, read by the test thread.
struct write_log {
  std::mutex mu;
  std::vector<write_outcome> outcomes;
  std::atomic<std::size_t> acks{0};

  void add(write_outcome o) {
    bool ok = o.ok;
    {
      std::lock_guard<std::mutex> g{mu};
      outcomes.push_back(std::move(o));
    }
    if (ok)
      ++acks;
  }
  std::vector<write_outcome> snapshot() {
    std::lock_guard<std::mutex> g{mu};
    return outcomes;
  }
};

/// Counts of each content among the versions of a config.
inline std::map<std::string, std::size_t> content_counts(const std::vector<version>& vs) {
  std::map<std::string, std::size_t> out;
  for (auto& v : vs)
    ++out[v.content];
  return out;
}

/// The exactly-once verdict over a stream of writes to one config whose
/// versions are `vs`: every acknowledged content is present exactly once (with
/// the version id the write returned); a write whose outcome is unknown
/// (timeout) is present at most once; a write refused with any other error is
/// absent (client.hpp: only `timeout` means "may have applied"); and no content
/// appears twice.
inline void check_applied_once(const std::vector<version>& vs,
                               const std::vector<write_outcome>& outcomes) {
  auto counts = content_counts(vs);
  std::map<std::string, version_id> id_of;
  for (auto& v : vs)
    id_of[v.content] = v.id;
  for (auto& [content, n] : counts) {
    INFO("content " << content);
    CHECK(n == 1);
  }
  for (auto& o : outcomes) {
    auto it = counts.find(o.content);
    std::size_t n = it == counts.end() ? 0 : it->second;
    INFO("write " << o.content << " -> " << (o.ok ? std::string{"ok"} : o.error));
    if (o.ok) {
      CHECK(n == 1);
      if (n == 1)
        CHECK(id_of[o.content] == o.version);
    } else if (o.code == errc::timeout) {
      CHECK(n <= 1);
    } else {
      CHECK(n == 0);
    }
  }
}

/// Joins threads when the scope ends, after setting `stop` (when given), so
/// that a failed REQUIRE never leaves a joinable std::thread behind.
class join_on_exit {
public:
  join_on_exit(std::atomic<bool>* stop, std::thread& t) : stop_(stop), one_(&t) {}
  join_on_exit(std::atomic<bool>* stop, std::vector<std::thread>& ts) : stop_(stop), all_(&ts) {}
  join_on_exit(const join_on_exit&) = delete;
  join_on_exit& operator=(const join_on_exit&) = delete;
  ~join_on_exit() {
    if (stop_)
      *stop_ = true;
    if (one_ && one_->joinable())
      one_->join();
    if (all_)
      for (auto& t : *all_)
        if (t.joinable())
          t.join();
  }

private:
  std::atomic<bool>* stop_ = nullptr;
  std::thread* one_ = nullptr;
  std::vector<std::thread>* all_ = nullptr;
};

/// Writes create_version commands with unique contents "<prefix>-<n>" until
/// `stop` is set, `max_writes` were made or `limit` passed.
inline void write_stream(actors::client& cl, const std::string& key,
                         const std::string& prefix, std::atomic<bool>& stop, write_log& log,
                         std::size_t max_writes, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (std::size_t n = 0;
       n < max_writes && !stop.load() && std::chrono::steady_clock::now() < deadline; ++n) {
    write_outcome o;
    o.content = prefix + "-" + std::to_string(n);
    auto r = cl.write(make_create_version(key, o.content));
    o.ok = acked(r);
    o.code = code_of(r);
    o.error = err_text(r);
    if (o.ok)
      o.version = r->version;
    o.done = std::chrono::steady_clock::now();
    log.add(std::move(o));
  }
}

} // namespace conflux::itest
