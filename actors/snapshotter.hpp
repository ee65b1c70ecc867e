#pragma once
// The snapshotter: owns `<data>/snapshots/` (storage/snapshot_file.hpp).
//
// Taking a snapshot (raft asks when the log passed a threshold): it opens a
// read txn of the state environment (a consistent view while the applier
// keeps writing), reads its last_applied index, asks raft for the term and
// configuration at that index, writes the file as `<name>.tmp`, fsyncs it,
// renames it to its final name and fsyncs the directory, then reports
// `taken` to raft (which compacts the core and the log). Older snapshot files
// are removed only after the new one is durable.
//
// Receiving one (a follower): chunks from the leader's peer link arrive in
// order through the node endpoint and go to `incoming-<leader>.tmp`. When the
// last byte arrived the file is fsynced and verified (checksum, header), and
// raft gets a `received` report; it steps one InstallSnapshot whose data is
// the file's path. Installing it is the applier's job (ordering with applies).
//
// Bounds (docs/security.md, "Counters"): a transfer whose announced size is
// over snapshot_size_limit(opts) is refused before a byte is written
// (resource_exhausted, `snapshot.refused.too_large`), and so is a chunk
// carrying more than max_snapshot_chunk_bytes (too_large,
// `snapshot.refused.chunk_too_large`). A transfer never grows past the size it
// announced.
//
// Runs detached: writing and verifying files blocks. Stops the node on a
// storage error (docs/design.md, durability rule 6); a damaged transfer only
// fails that transfer (the leader resends). A full disk (ENOSPC, EDQUOT)
// while receiving is no damage either: the transfer fails with
// resource_exhausted, its temporary file is removed and
// `snapshot.failed.disk_full` counts it; the node goes on.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "actors/peer_admission.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <cstdint>
#include <functional>
#include <string>

namespace conflux::actors {

// max_snapshot_chunk_bytes (actors/peer_admission.hpp): the largest piece of
// a snapshot one chunk may carry; the node endpoint checks it first.

/// Fault injection for tests: asked before each write and before the fsync
/// of an incoming snapshot file with the bytes received so far; a non-zero
/// errno makes that call fail with it (a full disk is hard to come by in a
/// test run). Empty in a real node.
using snapshot_io_fault = std::function<int(std::uint64_t received)>;

struct snapshotter_state {
  static inline const char* name = "snapshotter";
  /// Reports go to the Raft role that holds the core (ctx->raft).
  node_context_ptr ctx;
  std::string dir;
  /// A take is between its read txn and its report.
  bool taking = false;

  // -- the transfer being received --------------------------------------------
  int incoming = -1;
  std::string incoming_path;
  raft::server_id from = raft::no_server;
  raft::term_t term = 0;
  raft::index_t index = 0;
  raft::term_t snapshot_term = 0;
  std::uint64_t total = 0;
  std::uint64_t received = 0;
  snapshot_io_fault fault;

  ~snapshotter_state();
  void drop_incoming();
};

snapshotter_actor::behavior_type
snapshotter_fun(snapshotter_actor::stateful_pointer<snapshotter_state> self,
                node_context_ptr ctx);

/// snapshotter_fun with a fault injected into the incoming file's writes.
snapshotter_actor::behavior_type
snapshotter_with_fault_fun(snapshotter_actor::stateful_pointer<snapshotter_state> self,
                           node_context_ptr ctx, snapshot_io_fault fault);

} // namespace conflux::actors
