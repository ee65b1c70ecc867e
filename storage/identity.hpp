#pragma once
// Who a storage environment belongs to and which format it is written in: the
// meta records shared by the log and the state environments (storage/FORMAT.md
// "Meta records and refusal rules"). Written once when an environment is
// created, checked on every open, so that a node never runs on another node's
// or another cluster's data dir, nor on data a newer build wrote.

#include "protocol/error.hpp"
#include "protocol/raft/types.hpp"
#include "storage/lmdb.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conflux::storage {

/// The on-disk format version of both environments. Bump it when any key
/// encoding, database or record layout in FORMAT.md changes; an older build
/// refuses a newer version.
constexpr std::uint32_t storage_format_version = 1;

/// Names of the meta records (keys in each environment's "meta" database).
namespace meta_key {
constexpr std::string_view format_version = "format_version";
constexpr std::string_view store_kind = "store_kind";
constexpr std::string_view cluster_id = "cluster_id";
constexpr std::string_view node_id = "node_id";
} // namespace meta_key

/// The owner of a data dir. Both fields are required.
struct store_identity {
  /// Any non-empty string naming the cluster (at most 255 bytes).
  std::string cluster_id;
  /// This node's Raft id, never raft::no_server.
  raft::server_id node_id = raft::no_server;
};

/// invalid_argument if `id` lacks a cluster id or node id.
status validate_identity(const store_identity& id);

/// In the write txn `t`: if `meta` is empty and the environment holds no other
/// data (`has_data` false), writes format version, `kind` ("log" / "state")
/// and `want`; otherwise checks them. Refusals:
///   unsupported_version  format version newer than storage_format_version, or 0
///   invalid_argument     another store kind, cluster id or node id
///   corrupted            a meta record missing, damaged or undecodable, or data
///                        present without meta records
/// Messages name the directory, what was found and what was expected.
status check_or_init_identity(lmdb::txn& t, lmdb::dbi meta, std::string_view kind,
                              const store_identity& want, bool has_data);

} // namespace conflux::storage
