#include "actors/snapshotter.hpp"

#include "storage/mutant.hpp"
#include "storage/snapshot_file.hpp"

#include <caf/all.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace conflux::actors {
namespace {

using self_ptr = snapshotter_actor::stateful_pointer<snapshotter_state>;

void stop_node(self_ptr self, const std::string& msg) {
  spdlog::error("{}", msg);
  self->state.ctx->failure.fail(msg);
  self->quit(caf::exit_reason::user_shutdown);
}

/// The Raft role that holds the core now.
snapshot_listener_actor raft_of(self_ptr self) {
  return caf::actor_cast<snapshot_listener_actor>(self->state.ctx->raft.get());
}

void report_nothing(self_ptr self) {
  self->state.taking = false;
  snapshot_report r;
  r.kind = snapshot_report::what::taken;
  self->send(raft_of(self), std::move(r));
}

// Writes the snapshot of `view` at `index` with raft's answer `meta`.
void write_snapshot(self_ptr self, storage::state_read_txn& view, raft::index_t index,
                    const snapshot_meta_reply& meta) {
  auto& st = self->state;
  auto started = st.ctx->clock->steady();
  auto name = storage::snapshot_file_name(index, meta.term);
  auto final_path = st.dir + "/" + name;
  auto tmp_path = final_path + ".tmp";
  auto info = storage::write_snapshot_file(
      tmp_path, storage::snapshot_header{index, meta.term, meta.membership}, view);
  if (!info)
    return stop_node(self, "snapshotter failed to write " + tmp_path + ": " +
                               to_string(info.err()));
  auto stored = storage::mutant_active("snapshot-dir-nosync")
                    ? (::rename(tmp_path.c_str(), final_path.c_str()) == 0
                           ? status{}
                           : status{errc::storage_failure, "rename failed"})
                    : storage::durable_rename(tmp_path, final_path);
  if (!stored.ok())
    return stop_node(self, "snapshotter failed to store " + final_path + ": " +
                               to_string(stored.err()));
  // The new snapshot is durable: the older ones may go.
  if (auto s = storage::remove_snapshot_files_before(st.dir, index); !s.ok())
    spdlog::warn("snapshotter could not remove old snapshots: {}", to_string(s.err()));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                st.ctx->clock->steady() - started)
                .count();
  spdlog::info(
      "snapshotter wrote snapshot {} (index {}, term {}, {} records, {} bytes) "
      "in {} ms",
      name, index, meta.term, info->records, info->bytes, ms);
  st.taking = false;
  snapshot_report r;
  r.kind = snapshot_report::what::taken;
  r.index = index;
  r.snapshot_term = meta.term;
  r.path = final_path;
  r.bytes = info->bytes;
  self->send(raft_of(self), std::move(r));
}

void take(self_ptr self) {
  auto& st = self->state;
  if (st.taking)
    return;
  st.taking = true;
  auto view = st.ctx->state->begin_read();
  if (!view) {
    // Reader slots full: try again at the next threshold crossing.
    spdlog::warn("snapshotter cannot open a state view: {}", to_string(view.err()));
    return report_nothing(self);
  }
  auto applied = view->last_applied();
  if (!applied)
    return stop_node(self,
                     "snapshotter cannot read the state: " + to_string(applied.err()));
  auto index = *applied;
  if (index == 0)
    return report_nothing(self);
  // The view stays open until the file is written (MDB_NOTLS lets it live
  // across messages); raft answers with the term and configuration at index.
  auto holder = std::make_shared<storage::state_read_txn>(std::move(*view));
  self->request(raft_of(self), std::chrono::seconds(30), snapshot_meta_request{index})
      .then(
          [=](snapshot_meta_reply& meta) {
            if (!meta.ok)
              return report_nothing(self);
            write_snapshot(self, *holder, index, meta);
          },
          [=](caf::error& e) {
            if (!self->state.ctx->stopping.load())
              spdlog::warn("snapshotter got no snapshot meta from raft: {}",
                           self->system().render(e));
            report_nothing(self);
          });
}

rpc::snapshot_chunk_reply chunk_reply(errc code, std::string msg,
                                      std::uint64_t received) {
  rpc::snapshot_chunk_reply r;
  r.code = static_cast<std::uint8_t>(code);
  r.message = std::move(msg);
  r.received = received;
  return r;
}

bool disk_full(int err) {
  return err == ENOSPC || err == EDQUOT;
}

/// The incoming file could not take more bytes: a full disk fails this
/// transfer only (the node goes on; the leader retries later), anything else
/// is a storage failure and stops the node.
rpc::snapshot_chunk_reply incoming_failed(self_ptr self, const char* what, int err) {
  auto& st = self->state;
  auto path = st.incoming_path;
  st.drop_incoming();
  std::remove(path.c_str()); // also when the descriptor was closed already
  if (disk_full(err)) {
    st.ctx->counters.add("snapshot.failed.disk_full");
    spdlog::warn("snapshotter cannot {} {} ({}): the disk is full; the transfer "
                 "from node {} failed and its temporary file was removed",
                 what, path, std::strerror(err), st.from);
    return chunk_reply(errc::resource_exhausted,
                       "node " + std::to_string(st.ctx->opts.id) +
                           " has no disk space for the snapshot (" +
                           std::strerror(err) +
                           "); free space on it and the transfer is retried",
                       0);
  }
  stop_node(self, std::string{"snapshotter cannot "} + what + " " + path + ": " +
                      std::strerror(err));
  return chunk_reply(errc::storage_failure, "the follower cannot store snapshots", 0);
}

/// Writes all of `data` to the incoming file; 0 or an errno.
int write_incoming(snapshotter_state& st, const std::string& data) {
  if (st.fault)
    if (int e = st.fault(st.received); e != 0)
      return e;
  std::size_t off = 0;
  while (off < data.size()) {
    auto w = ::write(st.incoming, data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    off += static_cast<std::size_t>(w);
  }
  return 0;
}

/// fsyncs and closes the incoming file; 0 or an errno.
int sync_incoming(snapshotter_state& st) {
  int err = st.fault ? st.fault(st.received) : 0;
  if (err == 0 && ::fsync(st.incoming) != 0)
    err = errno;
  if (::close(st.incoming) != 0 && err == 0)
    err = errno;
  st.incoming = -1;
  return err;
}

rpc::snapshot_chunk_reply on_chunk(self_ptr self, rpc::snapshot_chunk& c) {
  auto& st = self->state;
  if (c.data.size() > max_snapshot_chunk_bytes) {
    // The sender broke the protocol: the transfer ends here.
    st.drop_incoming();
    st.ctx->counters.add("snapshot.refused.chunk_too_large");
    return chunk_reply(errc::too_large,
                       "a snapshot chunk carries at most " +
                           std::to_string(max_snapshot_chunk_bytes) + " bytes, not " +
                           std::to_string(c.data.size()),
                       st.received);
  }
  if (c.offset == 0) {
    // A new transfer (or a restart of one): whatever was half received goes.
    st.drop_incoming();
    if (auto limit = snapshot_size_limit(st.ctx->opts); c.total > limit) {
      st.ctx->counters.add("snapshot.refused.too_large");
      spdlog::warn("snapshotter refused a snapshot of {} bytes from node {}: over "
                   "the limit of {} bytes",
                   c.total, c.from, limit);
      return chunk_reply(
          errc::resource_exhausted,
          "node " + std::to_string(st.ctx->opts.id) + " takes snapshots of at most " +
              std::to_string(limit) + " bytes, not " + std::to_string(c.total) +
              "; restart it with a larger --max-snapshot-bytes (and --max-db-size)",
          0);
    }
    std::error_code ec;
    std::filesystem::create_directories(st.dir, ec);
    st.from = c.from;
    st.incoming_path = st.dir + "/incoming-" + std::to_string(c.from) + ".tmp";
    st.incoming = ::open(st.incoming_path.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (st.incoming < 0)
      return incoming_failed(self, "create", errno);
    st.term = c.term;
    st.index = c.index;
    st.snapshot_term = c.snapshot_term;
    st.total = c.total;
    st.received = 0;
    spdlog::info(
        "snapshotter receives snapshot (index {}, term {}, {} bytes) from node {}",
        c.index, c.snapshot_term, c.total, c.from);
  }
  if (st.incoming < 0 || c.from != st.from || c.term != st.term ||
      c.index != st.index || c.snapshot_term != st.snapshot_term ||
      c.total != st.total || c.offset != st.received)
    return chunk_reply(errc::invalid_argument,
                       "chunk at offset " + std::to_string(c.offset) +
                           " does not continue the transfer; restart it from offset 0",
                       st.received);
  if (c.data.size() > st.total - st.received)
    return chunk_reply(errc::invalid_argument, "chunk runs past the announced size",
                       st.received);
  if (!c.data.empty())
    if (int err = write_incoming(st, c.data); err != 0)
      return incoming_failed(self, "write", err);
  st.received += c.data.size();
  if (st.received < st.total)
    return chunk_reply(errc{}, {}, st.received);
  // The last byte: make the file durable and check it before raft sees it.
  if (int err = sync_incoming(st); err != 0)
    return incoming_failed(self, "sync", err);
  auto info = storage::verify_snapshot_file(st.incoming_path);
  if (!info || info->header.index != st.index ||
      info->header.term != st.snapshot_term) {
    auto why = !info ? to_string(info.err()) : std::string{"header does not match"};
    spdlog::warn("snapshotter refused the snapshot from node {}: {}", st.from, why);
    std::remove(st.incoming_path.c_str());
    auto received = st.received;
    st.received = 0;
    return chunk_reply(errc::corrupted, "the snapshot failed verification: " + why,
                       received);
  }
  spdlog::info("snapshotter verified snapshot index {} from node {} ({} records)",
               st.index, st.from, info->records);
  snapshot_report r;
  r.kind = snapshot_report::what::received;
  r.from = st.from;
  r.term = st.term;
  r.index = st.index;
  r.snapshot_term = st.snapshot_term;
  r.membership = std::move(info->header.membership);
  r.path = st.incoming_path;
  r.bytes = info->bytes;
  self->send(raft_of(self), std::move(r));
  return chunk_reply(errc{}, {}, st.received);
}

} // namespace

snapshotter_state::~snapshotter_state() {
  drop_incoming();
}

void snapshotter_state::drop_incoming() {
  if (incoming >= 0) {
    ::close(incoming);
    incoming = -1;
    std::remove(incoming_path.c_str());
  }
  received = 0;
}

snapshotter_actor::behavior_type snapshotter_fun(self_ptr self, node_context_ptr ctx) {
  return snapshotter_with_fault_fun(self, std::move(ctx), {});
}

snapshotter_actor::behavior_type snapshotter_with_fault_fun(self_ptr self,
                                                            node_context_ptr ctx,
                                                            snapshot_io_fault fault) {
  self->state.ctx = std::move(ctx);
  self->state.fault = std::move(fault);
  self->state.dir =
      (std::filesystem::path{self->state.ctx->opts.data_dir} / storage::snapshot_subdir)
          .string();
  return {
      [=](snapshot_atom) { take(self); },
      [=](rpc::snapshot_chunk& c) -> rpc::snapshot_chunk_reply {
        return on_chunk(self, c);
      },
  };
}

} // namespace conflux::actors
