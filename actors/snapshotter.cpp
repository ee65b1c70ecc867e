#include "actors/snapshotter.hpp"

#include "storage/snapshot_file.hpp"

#include <caf/all.hpp>
#include <chrono>
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
  if (auto s = storage::durable_rename(tmp_path, final_path); !s.ok())
    return stop_node(self, "snapshotter failed to store " + final_path + ": " +
                               to_string(s.err()));
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

rpc::snapshot_chunk_reply on_chunk(self_ptr self, rpc::snapshot_chunk& c) {
  auto& st = self->state;
  if (c.offset == 0) {
    // A new transfer (or a restart of one): whatever was half received goes.
    st.drop_incoming();
    std::error_code ec;
    std::filesystem::create_directories(st.dir, ec);
    st.incoming_path = st.dir + "/incoming-" + std::to_string(c.from) + ".tmp";
    st.incoming = std::fopen(st.incoming_path.c_str(), "wb");
    if (st.incoming == nullptr) {
      stop_node(self, "snapshotter cannot create " + st.incoming_path);
      return chunk_reply(errc::storage_failure, "the follower cannot store snapshots",
                         0);
    }
    st.from = c.from;
    st.term = c.term;
    st.index = c.index;
    st.snapshot_term = c.snapshot_term;
    st.total = c.total;
    st.received = 0;
    spdlog::info(
        "snapshotter receives snapshot (index {}, term {}, {} bytes) from node {}",
        c.index, c.snapshot_term, c.total, c.from);
  }
  if (st.incoming == nullptr || c.from != st.from || c.term != st.term ||
      c.index != st.index || c.snapshot_term != st.snapshot_term ||
      c.total != st.total || c.offset != st.received)
    return chunk_reply(errc::invalid_argument,
                       "chunk at offset " + std::to_string(c.offset) +
                           " does not continue the transfer; restart it from offset 0",
                       st.received);
  if (c.data.size() > st.total - st.received)
    return chunk_reply(errc::invalid_argument, "chunk runs past the announced size",
                       st.received);
  if (!c.data.empty() &&
      std::fwrite(c.data.data(), 1, c.data.size(), st.incoming) != c.data.size()) {
    stop_node(self, "snapshotter cannot write " + st.incoming_path);
    return chunk_reply(errc::storage_failure, "the follower cannot store snapshots", 0);
  }
  st.received += c.data.size();
  if (st.received < st.total)
    return chunk_reply(errc{}, {}, st.received);
  // The last byte: make the file durable and check it before raft sees it.
  auto ok = std::fflush(st.incoming) == 0 && ::fsync(fileno(st.incoming)) == 0;
  std::fclose(st.incoming);
  st.incoming = nullptr;
  if (!ok) {
    stop_node(self, "snapshotter cannot sync " + st.incoming_path);
    return chunk_reply(errc::storage_failure, "the follower cannot store snapshots", 0);
  }
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
  if (incoming != nullptr) {
    std::fclose(incoming);
    incoming = nullptr;
    std::remove(incoming_path.c_str());
  }
  received = 0;
}

snapshotter_actor::behavior_type snapshotter_fun(self_ptr self, node_context_ptr ctx) {
  self->state.ctx = std::move(ctx);
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
