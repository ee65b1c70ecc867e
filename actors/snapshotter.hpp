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
// Runs detached: writing and verifying files blocks. Stops the node on a
// storage error (docs/design.md, durability rule 6); a damaged transfer only fails that
// transfer (the leader resends).

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <cstdio>
#include <string>

namespace conflux::actors {

struct snapshotter_state {
  static inline const char* name = "snapshotter";
  /// Reports go to the Raft role that holds the core (ctx->raft).
  node_context_ptr ctx;
  std::string dir;
  /// A take is between its read txn and its report.
  bool taking = false;

  // -- the transfer being received --------------------------------------------
  std::FILE* incoming = nullptr;
  std::string incoming_path;
  raft::server_id from = raft::no_server;
  raft::term_t term = 0;
  raft::index_t index = 0;
  raft::term_t snapshot_term = 0;
  std::uint64_t total = 0;
  std::uint64_t received = 0;

  ~snapshotter_state();
  void drop_incoming();
};

snapshotter_actor::behavior_type
snapshotter_fun(snapshotter_actor::stateful_pointer<snapshotter_state> self,
                node_context_ptr ctx);

} // namespace conflux::actors
