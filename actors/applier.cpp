#include "actors/applier.hpp"

#include "actors/watch_hub.hpp"
#include "storage/snapshot_file.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <spdlog/spdlog.h>
#include <string_view>

namespace conflux::actors {
namespace {

using self_ptr = applier_actor_impl::stateful_pointer<applier_state>;

void stop_node(self_ptr self, const std::string& msg) {
  spdlog::error("{}", msg);
  self->state.ctx->failure.fail(msg);
  self->quit(caf::exit_reason::user_shutdown);
}

/// What became of one step of applying.
enum class outcome { done, paused, stopped };

/// A step failed with `e`: a full disk pauses applying (the caller keeps its
/// work for the retry), anything else stops the node.
outcome failed(self_ptr self, const std::string& what, const error& e) {
  auto& st = self->state;
  if (e.code != errc::resource_exhausted) {
    stop_node(self, what + ": " + to_string(e));
    return outcome::stopped;
  }
  auto reason = what + ": " + e.message;
  if (!st.paused) {
    st.paused = true;
    st.retries = 0;
    st.paused_since = st.last_retry_log = st.ctx->clock->steady();
    st.ctx->paused.set(reason);
    st.ctx->counters.add("apply.paused.disk_full");
    spdlog::warn("applier paused: {}; it keeps the entries and tries again every "
                 "{} s; this node serves serializable reads only until then",
                 reason, apply_retry_interval.count());
  } else {
    ++st.retries;
    st.ctx->paused.set(reason);
    // One line per 30 s, not one per retry.
    auto now = st.ctx->clock->steady();
    if (now - st.last_retry_log >= std::chrono::seconds(30)) {
      st.last_retry_log = now;
      spdlog::warn("applier still paused after {} retries: {}", st.retries, reason);
    }
  }
  if (!st.retry_armed) {
    st.retry_armed = true;
    self->delayed_send(self, apply_retry_interval, retry_atom::value);
  }
  return outcome::paused;
}

outcome apply_entries(self_ptr self, const std::vector<raft::entry_ptr>& entries) {
  auto& st = self->state;
  // The core may hand out entries again after a restart; those below
  // last_applied are already in the state (PROTOCOL.md §3.4).
  std::size_t first = 0;
  while (first < entries.size() && entries[first]->index <= st.applied)
    ++first;
  if (first == entries.size())
    return outcome::done;
  auto txn = st.ctx->state->begin_write();
  if (!txn.ok())
    return failed(self, "applier cannot begin a state transaction", txn.err());
  applied_notice notice;
  notice.results.reserve(entries.size() - first);
  watch_notice changes;
  for (auto i = first; i < entries.size(); ++i) {
    auto& e = *entries[i];
    std::optional<watch_probe> probe;
    if (st.watch_hub) {
      auto p = probe_before(*txn, e);
      if (!p.ok())
        return failed(
            self, "applier cannot read entry " + std::to_string(e.index) + "'s config",
            p.err());
      probe = std::move(*p);
    }
    if (probe && probe->auth_changed)
      changes.auth_changed = true;
    auto res = st.machine.apply(*txn, e);
    if (!res.ok())
      return failed(self, "applier cannot apply entry " + std::to_string(e.index),
                    res.err());
    if (probe) {
      auto ch = change_after(*txn, std::move(*probe), *res, e.index);
      if (!ch.ok())
        return failed(
            self, "applier cannot read entry " + std::to_string(e.index) + "'s change",
            ch.err());
      if (*ch)
        changes.changes.push_back(std::move(**ch));
    }
    notice.results.push_back({e.index, e.term, std::move(*res)});
  }
  auto s = st.fault ? st.fault() : status{};
  if (s.ok())
    s = txn->commit();
  if (!s.ok())
    return failed(self,
                  "applier failed to commit entries " +
                      std::to_string(entries[first]->index) + ".." +
                      std::to_string(entries.back()->index),
                  s.err());
  st.applied = entries.back()->index;
  st.ctx->applied.store(st.applied);
  st.ctx->cluster_time.applied(entries.back()->timestamp_ms, st.ctx->clock->steady());
  notice.applied = st.applied;
  notice.newest_term = entries.back()->term;
  // The Raft role holding the core answers the waiters of these entries
  // (and the reads waiting for this index); it owns their promises.
  self->send(st.ctx->raft.get(), std::move(notice));
  if (st.watch_hub) {
    changes.applied = st.applied;
    self->send(st.watch_hub, std::move(changes));
  }
  return outcome::done;
}

// Installs a received, verified snapshot (PROTOCOL.md §3.2 step 2): first
// the file gets its final name (durable), then one write txn replaces the
// whole state. A crash before the txn commits leaves the old state, and the
// restart installs the file again (actors/node.cpp).
outcome install(self_ptr self, install_request& req) {
  auto& st = self->state;
  auto started = st.ctx->clock->steady();
  auto dir = std::filesystem::path{st.ctx->opts.data_dir} / storage::snapshot_subdir;
  auto final_path = (dir / storage::snapshot_file_name(req.index, req.term)).string();
  if (req.path != final_path) {
    if (auto s = storage::durable_rename(req.path, final_path); !s.ok())
      return failed(self, "applier cannot store the received snapshot", s.err());
    req.path = final_path; // a retry after a pause finds it there
  }
  std::function<void(std::uint64_t)> hook;
  if (st.crash_in_install)
    hook = [](std::uint64_t put) {
      if (put == 2) {
        std::fprintf(stderr, "CONFLUX_TEST_CRASH: exiting in the middle of a snapshot "
                             "install\n");
        std::_Exit(70);
      }
    };
  auto info = storage::install_snapshot_file(final_path, *st.ctx->state, hook);
  if (!info)
    return failed(self, "applier failed to install snapshot " + final_path, info.err());
  st.applied = req.index;
  st.ctx->applied.store(st.applied);
  // The hub cannot say what the snapshot changed: it drops its history and
  // cuts its watchers off, so that their resumes get a resync of this state.
  if (st.watch_hub) {
    watch_notice replaced;
    replaced.applied = st.applied;
    replaced.state_replaced = true;
    self->send(st.watch_hub, std::move(replaced));
  }
  if (auto s = storage::remove_snapshot_files_before(dir.string(), req.index); !s.ok())
    spdlog::warn("applier could not remove old snapshots: {}", to_string(s.err()));
  spdlog::info("applier installed snapshot at index {} ({} records, {} bytes) in {} ms",
               req.index, info->records, info->bytes,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   st.ctx->clock->steady() - started)
                   .count());
  self->send(st.ctx->raft.get(), installed_notice{req.index});
  return outcome::done;
}

// Applies everything that waits, in order: the queued entries, then a
// pending snapshot (entries raft handed out before it are older), then the
// entries that came after it. Stops at the first step that does not finish;
// what it did not finish stays for the retry.
outcome drain(self_ptr self) {
  auto& st = self->state;
  for (;;) {
    if (!st.queued.empty()) {
      if (auto o = apply_entries(self, st.queued); o != outcome::done)
        return o;
      st.queued.clear();
    }
    if (!st.pending_install)
      return outcome::done;
    if (auto o = install(self, *st.pending_install); o != outcome::done)
      return o;
    st.pending_install.reset();
    st.queued = std::move(st.after_install);
    st.after_install.clear();
  }
}

void run(self_ptr self) {
  auto& st = self->state;
  if (drain(self) != outcome::done || !st.paused)
    return;
  st.paused = false;
  st.ctx->paused.clear();
  spdlog::info("applier resumed after {} s paused ({} retries); applied index {}",
               std::chrono::duration_cast<std::chrono::seconds>(
                   st.ctx->clock->steady() - st.paused_since)
                   .count(),
               st.retries, st.applied);
}

} // namespace

applier_actor_impl::behavior_type applier_fun(self_ptr self, node_context_ptr ctx,
                                              raft::index_t applied) {
  return applier_with_fault_fun(self, std::move(ctx), applied, {});
}

applier_actor_impl::behavior_type applier_with_fault_fun(self_ptr self,
                                                         node_context_ptr ctx,
                                                         raft::index_t applied,
                                                         apply_fault fault) {
  self->state.ctx = std::move(ctx);
  self->state.applied = applied;
  self->state.fault = std::move(fault);
  self->state.machine = conflux::state_machine{self->state.ctx->opts.limits};
  self->state.ctx->applied.store(applied);
  if (const char* crash = std::getenv("CONFLUX_TEST_CRASH");
      crash != nullptr && std::string_view{crash} == "snapshot-install") {
    self->state.crash_in_install = true;
    spdlog::warn("CONFLUX_TEST_CRASH=snapshot-install: this node exits in the middle "
                 "of its next snapshot install");
  }
  return {
      [=](init_atom, watch_hub_actor& hub) { self->state.watch_hub = std::move(hub); },
      [=](apply_batch& b) {
        auto& st = self->state;
        auto& into = st.pending_install ? st.after_install : st.queued;
        if (into.empty())
          into = std::move(b.entries);
        else
          into.insert(into.end(), std::make_move_iterator(b.entries.begin()),
                      std::make_move_iterator(b.entries.end()));
        // While paused, the retry timer applies them.
        if (!st.flush_pending && !st.paused) {
          st.flush_pending = true;
          self->send(self, flush_atom::value);
        }
      },
      [=](install_request& req) {
        auto& st = self->state;
        // A newer snapshot replaces one still waiting for room. Entries
        // handed out after the older one stay queued: those the newer one
        // covers are skipped as already applied.
        st.pending_install = std::move(req);
        if (!st.paused)
          run(self);
      },
      [=](flush_atom) {
        auto& st = self->state;
        st.flush_pending = false;
        if (!st.paused)
          run(self);
      },
      [=](retry_atom) {
        self->state.retry_armed = false;
        run(self);
      },
  };
}

} // namespace conflux::actors
