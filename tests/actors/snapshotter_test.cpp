// The snapshotter: takes a snapshot of the applied state (asking raft, here a
// recording listener, for the term and configuration) and stores it durably
// under its final name, removing older ones; reassembles a snapshot the
// leader sends in chunks and reports it only once it verified; refuses
// chunks that do not continue the transfer and transfers that fail the
// checksum; refuses transfers over its size limit and chunks over the chunk
// bound; and fails a transfer, not the node, when the disk is full.

#include "actors/snapshotter.hpp"
#include "storage/snapshot_file.hpp"
#include "tests/actors/fixture.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace conflux;
using namespace conflux::actors;
using namespace conflux::actors::test;

namespace {

struct listener_log {
  std::vector<snapshot_meta_request> asked;
  std::vector<snapshot_report> reports;
  snapshot_meta_reply answer;
};

snapshot_listener_actor::behavior_type listener_fun(snapshot_listener_actor::pointer,
                                                    std::shared_ptr<listener_log> log) {
  return {
      [=](snapshot_meta_request& r) -> snapshot_meta_reply {
        log->asked.push_back(r);
        return log->answer;
      },
      [=](snapshot_report& r) { log->reports.push_back(std::move(r)); },
  };
}

std::string slurp(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

/// A disk that fails: `err` (an errno) once the transfer holds `at` bytes.
struct fault_plan {
  int err = 0;
  std::uint64_t at = 0;
};

struct snapshotter_fixture : fixture {
  node_context_ptr ctx = open_context(options(1, {1}));
  std::shared_ptr<listener_log> log = std::make_shared<listener_log>();
  std::shared_ptr<fault_plan> disk = std::make_shared<fault_plan>();
  snapshotter_actor snap = track(
      sys.spawn(snapshotter_with_fault_fun, ctx, [d = disk](std::uint64_t received) {
        return received >= d->at ? d->err : 0;
      }));
  std::string snap_dir = ctx->opts.data_dir + "/snapshots";

  snapshotter_fixture() {
    auto l = track(sys.spawn(listener_fun, log));
    ctx->raft.set(caf::actor_cast<raft_actor_impl>(l));
    run();
  }

  // Two configs applied up to `applied`.
  void fill(std::uint64_t applied) {
    auto w = ctx->state->begin_write();
    REQUIRE(w.ok());
    for (config_id c = 1; c <= 2; ++c) {
      config item;
      item.id = c;
      item.key = "t/a/p/c" + std::to_string(c);
      item.format = content_format::text;
      REQUIRE(w->put_config(item).ok());
      REQUIRE(w->put_key(item.key, c).ok());
    }
    REQUIRE(w->set_last_applied(applied).ok());
    REQUIRE(w->commit().ok());
  }

  // A valid snapshot file of the current state at `index`, as bytes.
  std::string snapshot_bytes(std::uint64_t index, std::uint64_t term) {
    auto path = dir.path() + "/source.snap";
    auto view = ctx->state->begin_read();
    REQUIRE(view.ok());
    auto info = storage::write_snapshot_file(path, {index, term, "members"}, *view);
    REQUIRE(info.ok());
    return slurp(path);
  }

  rpc::snapshot_chunk chunk(const std::string& file, std::uint64_t offset,
                            std::uint64_t n) {
    rpc::snapshot_chunk c;
    c.cluster_id = ctx->opts.cluster_id;
    c.from = 2;
    c.to = 1;
    c.term = 4;
    c.index = 7;
    c.snapshot_term = 3;
    c.offset = offset;
    c.total = file.size();
    c.data = file.substr(offset, n);
    return c;
  }

  rpc::snapshot_chunk_reply send_chunk(rpc::snapshot_chunk c) {
    auto r = request<rpc::snapshot_chunk_reply>(snap, std::move(c));
    run();
    REQUIRE(r->done);
    REQUIRE(r->value);
    return *r->value;
  }
};

} // namespace

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "snapshotter_writes_the_applied_state_and_removes_older_snapshots") {
  fill(9);
  std::filesystem::create_directories(snap_dir);
  std::ofstream{snap_dir + "/" + storage::snapshot_file_name(3, 1)} << "old";
  log->answer = snapshot_meta_reply{true, 2, "members"};
  caf::anon_send(snap, snapshot_atom::value);
  run();
  REQUIRE(log->asked.size() == 1);
  CHECK(log->asked[0].index == 9); // the view's last_applied
  REQUIRE(log->reports.size() == 1);
  auto& r = log->reports[0];
  CHECK(r.kind == snapshot_report::what::taken);
  CHECK(r.index == 9);
  CHECK(r.snapshot_term == 2);
  CHECK(r.path == snap_dir + "/" + storage::snapshot_file_name(9, 2));
  auto info = storage::verify_snapshot_file(r.path);
  REQUIRE(info.ok());
  CHECK(info->header.index == 9);
  CHECK(info->header.term == 2);
  CHECK(info->header.membership == "members");
  auto files = storage::list_snapshot_files(snap_dir);
  REQUIRE(files->size() == 1);
  CHECK(files->front().index == 9);
  CHECK_FALSE(std::filesystem::exists(r.path + ".tmp"));
}

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "snapshotter_writes_nothing_when_raft_no_longer_knows_the_index") {
  fill(9);
  log->answer = snapshot_meta_reply{}; // ok = false
  caf::anon_send(snap, snapshot_atom::value);
  run();
  REQUIRE(log->reports.size() == 1);
  CHECK(log->reports[0].index == 0);
  CHECK(storage::list_snapshot_files(snap_dir)->empty());
}

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "snapshotter_reassembles_chunks_and_reports_a_verified_snapshot") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  const std::uint64_t piece = file.size() / 3 + 1;
  for (std::uint64_t off = 0; off < file.size(); off += piece) {
    CHECK(log->reports.empty()); // nothing before the last byte
    auto reply = send_chunk(chunk(file, off, piece));
    CHECK(reply.code == 0);
    CHECK(reply.received == std::min<std::uint64_t>(off + piece, file.size()));
  }
  REQUIRE(log->reports.size() == 1);
  auto& r = log->reports[0];
  CHECK(r.kind == snapshot_report::what::received);
  CHECK(r.from == 2);
  CHECK(r.term == 4);
  CHECK(r.index == 7);
  CHECK(r.snapshot_term == 3);
  CHECK(r.membership == "members");
  CHECK(slurp(r.path) == file);
}

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "snapshotter_refuses_a_chunk_that_does_not_continue_the_transfer") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  CHECK(send_chunk(chunk(file, 0, 10)).code == 0);
  auto gap = send_chunk(chunk(file, 20, 10));
  CHECK(gap.code == static_cast<std::uint8_t>(errc::invalid_argument));
  CHECK(gap.received == 10);
  auto other = chunk(file, 10, 10);
  other.index = 8; // another snapshot
  CHECK(send_chunk(other).code == static_cast<std::uint8_t>(errc::invalid_argument));
  // Offset 0 starts over, and the whole file then goes through.
  CHECK(send_chunk(chunk(file, 0, file.size())).code == 0);
  REQUIRE(log->reports.size() == 1);
  CHECK(slurp(log->reports[0].path) == file);
}

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "snapshotter_refuses_a_transfer_that_fails_its_checksum") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  file[file.size() / 2] = static_cast<char>(file[file.size() / 2] ^ 0x01);
  auto reply = send_chunk(chunk(file, 0, file.size()));
  CHECK(reply.code == static_cast<std::uint8_t>(errc::corrupted));
  CHECK(log->reports.empty());
  CHECK_FALSE(std::filesystem::exists(snap_dir + "/incoming-2.tmp"));
  CHECK_FALSE(ctx->failure.failed()); // a bad transfer does not stop the node
}

TEST_CASE_FIXTURE(snapshotter_fixture, "a_snapshot_over_the_size_limit_is_refused") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  ctx->opts.max_snapshot_bytes = file.size() - 1;
  auto reply = send_chunk(chunk(file, 0, 10));
  CHECK(reply.code == static_cast<std::uint8_t>(errc::resource_exhausted));
  CHECK(reply.message.find("--max-snapshot-bytes") != std::string::npos);
  CHECK(reply.received == 0);
  CHECK(ctx->counters.get("snapshot.refused.too_large") == 1);
  CHECK_FALSE(std::filesystem::exists(snap_dir + "/incoming-2.tmp"));
  // Nothing was started: a continuation is refused too.
  CHECK(send_chunk(chunk(file, 10, 10)).code ==
        static_cast<std::uint8_t>(errc::invalid_argument));
  // --max-db-size bounds it as well (a larger snapshot cannot be installed).
  ctx->opts.max_snapshot_bytes = std::uint64_t{4} << 30;
  ctx->opts.max_db_size = file.size() - 1;
  CHECK(send_chunk(chunk(file, 0, 10)).code ==
        static_cast<std::uint8_t>(errc::resource_exhausted));
  CHECK(ctx->counters.get("snapshot.refused.too_large") == 2);
  // At the limit it goes through.
  ctx->opts.max_db_size = file.size();
  CHECK(send_chunk(chunk(file, 0, file.size())).code == 0);
  CHECK(log->reports.size() == 1);
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "a_snapshot_chunk_over_the_chunk_bound_is_refused") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  auto c = chunk(file, 0, 10);
  c.data.assign(max_snapshot_chunk_bytes + 1, 'x');
  c.total = std::uint64_t{2} * max_snapshot_chunk_bytes;
  auto reply = send_chunk(std::move(c));
  CHECK(reply.code == static_cast<std::uint8_t>(errc::too_large));
  CHECK(ctx->counters.get("snapshot.refused.chunk_too_large") == 1);
  CHECK_FALSE(std::filesystem::exists(snap_dir + "/incoming-2.tmp"));
  CHECK_FALSE(ctx->failure.failed());
}

TEST_CASE_FIXTURE(
    snapshotter_fixture,
    "a_full_disk_during_a_snapshot_transfer_fails_the_transfer_not_the_node") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  disk->err = ENOSPC;
  disk->at = 10;
  CHECK(send_chunk(chunk(file, 0, 10)).code == 0);
  CHECK(std::filesystem::exists(snap_dir + "/incoming-2.tmp"));
  auto full = send_chunk(chunk(file, 10, 10));
  CHECK(full.code == static_cast<std::uint8_t>(errc::resource_exhausted));
  CHECK(full.message.find("disk space") != std::string::npos);
  CHECK(ctx->counters.get("snapshot.failed.disk_full") == 1);
  CHECK_FALSE(std::filesystem::exists(snap_dir + "/incoming-2.tmp"));
  CHECK(log->reports.empty());
  CHECK_FALSE(ctx->failure.failed());

  // The disk fills up at the fsync of the last byte (a quota this time).
  disk->err = EDQUOT;
  disk->at = file.size();
  auto at_sync = send_chunk(chunk(file, 0, file.size()));
  CHECK(at_sync.code == static_cast<std::uint8_t>(errc::resource_exhausted));
  CHECK(ctx->counters.get("snapshot.failed.disk_full") == 2);
  CHECK_FALSE(std::filesystem::exists(snap_dir + "/incoming-2.tmp"));
  CHECK(log->reports.empty());
  CHECK_FALSE(ctx->failure.failed());

  // Space is back: the leader's next attempt goes through.
  disk->err = 0;
  CHECK(send_chunk(chunk(file, 0, file.size())).code == 0);
  REQUIRE(log->reports.size() == 1);
  CHECK(slurp(log->reports[0].path) == file);
}

TEST_CASE_FIXTURE(snapshotter_fixture,
                  "an_io_error_during_a_snapshot_transfer_stops_the_node") {
  fill(7);
  auto file = snapshot_bytes(7, 3);
  disk->err = EIO;
  auto reply = send_chunk(chunk(file, 0, 10));
  CHECK(reply.code == static_cast<std::uint8_t>(errc::storage_failure));
  CHECK(ctx->failure.failed());
  CHECK(ctx->counters.get("snapshot.failed.disk_full") == 0);
}
