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

void apply_entries(self_ptr self, const std::vector<raft::entry_ptr>& entries) {
  auto& st = self->state;
  // The core may hand out entries again after a restart; those below
  // last_applied are already in the state (PROTOCOL.md §3.4).
  std::size_t first = 0;
  while (first < entries.size() && entries[first]->index <= st.applied)
    ++first;
  if (first == entries.size())
    return;
  auto txn = st.ctx->state->begin_write();
  if (!txn.ok())
    return stop_node(self, "applier cannot begin a state transaction: " +
                               to_string(txn.err()));
  applied_notice notice;
  notice.results.reserve(entries.size() - first);
  watch_notice changes;
  for (auto i = first; i < entries.size(); ++i) {
    auto& e = *entries[i];
    std::optional<watch_probe> probe;
    if (st.watch_hub) {
      auto p = probe_before(*txn, e);
      if (!p.ok())
        return stop_node(self, "applier cannot read entry " + std::to_string(e.index) +
                                   "'s config: " + to_string(p.err()));
      probe = std::move(*p);
    }
    auto res = st.machine.apply(*txn, e);
    if (!res.ok())
      return stop_node(self, "applier stopped at entry " + std::to_string(e.index) +
                                 ": " + to_string(res.err()));
    if (probe) {
      auto ch = change_after(*txn, std::move(*probe), *res, e.index);
      if (!ch.ok())
        return stop_node(self, "applier cannot read entry " + std::to_string(e.index) +
                                   "'s change: " + to_string(ch.err()));
      if (*ch)
        changes.changes.push_back(std::move(**ch));
    }
    notice.results.push_back({e.index, e.term, std::move(*res)});
  }
  if (auto s = txn->commit(); !s.ok())
    return stop_node(self, "applier failed to commit entries " +
                               std::to_string(entries[first]->index) + ".." +
                               std::to_string(entries.back()->index) + ": " +
                               to_string(s.err()));
  st.applied = entries.back()->index;
  st.ctx->applied.store(st.applied);
  notice.applied = st.applied;
  notice.newest_term = entries.back()->term;
  // The Raft role holding the core answers the waiters of these entries
  // (and the reads waiting for this index); it owns their promises.
  self->send(st.ctx->raft.get(), std::move(notice));
  if (st.watch_hub) {
    changes.applied = st.applied;
    self->send(st.watch_hub, std::move(changes));
  }
}

// Installs a received, verified snapshot (PROTOCOL.md §3.2 step 2): first
// the file gets its final name (durable), then one write txn replaces the
// whole state. A crash before the txn commits leaves the old state, and the
// restart installs the file again (actors/node.cpp).
void install(self_ptr self, install_request& req) {
  auto& st = self->state;
  // Entries raft handed out before the snapshot come first (they are older).
  if (!st.queued.empty()) {
    auto entries = std::move(st.queued);
    st.queued.clear();
    apply_entries(self, entries);
  }
  auto started = st.ctx->clock->steady();
  auto dir = std::filesystem::path{st.ctx->opts.data_dir} / storage::snapshot_subdir;
  auto final_path = (dir / storage::snapshot_file_name(req.index, req.term)).string();
  if (req.path != final_path) {
    if (auto s = storage::durable_rename(req.path, final_path); !s.ok()) {
      return stop_node(self, "applier cannot store the received snapshot: " +
                                 to_string(s.err()));
    }
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
  if (!info) {
    return stop_node(self, "applier failed to install snapshot " + final_path + ": " +
                               to_string(info.err()));
  }
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
}

} // namespace

applier_actor_impl::behavior_type applier_fun(self_ptr self, node_context_ptr ctx,
                                              raft::index_t applied) {
  self->state.ctx = std::move(ctx);
  self->state.applied = applied;
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
        if (st.queued.empty())
          st.queued = std::move(b.entries);
        else
          st.queued.insert(st.queued.end(), std::make_move_iterator(b.entries.begin()),
                           std::make_move_iterator(b.entries.end()));
        if (!st.flush_pending) {
          st.flush_pending = true;
          self->send(self, flush_atom::value);
        }
      },
      [=](install_request& req) { install(self, req); },
      [=](flush_atom) {
        auto& st = self->state;
        st.flush_pending = false;
        auto entries = std::move(st.queued);
        st.queued.clear();
        apply_entries(self, entries);
      },
  };
}

} // namespace conflux::actors
