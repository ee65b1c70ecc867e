#include "storage/identity.hpp"

#include "storage/endian.hpp"
#include "storage/record.hpp"

namespace conflux::storage {

namespace {

std::string where(const lmdb::txn& t, std::string_view key) {
  std::string s{"meta record '"};
  s += key;
  s += "' in ";
  s += t.path();
  return s;
}

// The payload of a required meta record, or corrupted if it is missing or
// fails its checksum.
expected<std::string> read_meta(lmdb::txn& t, lmdb::dbi meta, std::string_view key) {
  auto v = t.get(meta, key);
  if (!v)
    return std::move(v).err();
  if (!v->has_value())
    return error{errc::corrupted, where(t, key) + " is missing (the data dir has other "
                                                  "meta records, so it was damaged)"};
  auto payload = unframe_value(key, **v, where(t, key));
  if (!payload)
    return std::move(payload).err();
  return std::string{*payload};
}

std::string dir_of(const lmdb::txn& t) {
  return std::string{t.path()};
}

} // namespace

status validate_identity(const store_identity& id) {
  if (id.cluster_id.empty() || id.cluster_id.size() > 255)
    return status{errc::invalid_argument,
                  "storage needs a cluster id of 1..255 bytes, got " +
                      std::to_string(id.cluster_id.size()) + " bytes"};
  if (id.node_id == raft::no_server)
    return status{errc::invalid_argument, "storage needs a node id other than 0"};
  return {};
}

status check_or_init_identity(lmdb::txn& t, lmdb::dbi meta, std::string_view kind,
                              const store_identity& want, bool has_data) {
  if (auto st = validate_identity(want); !st)
    return st;
  auto n = t.count(meta);
  if (!n)
    return n.to_status();
  if (*n == 0) {
    if (has_data)
      return status{errc::corrupted,
                    "data dir " + dir_of(t) +
                        " holds data but no meta records (format "
                        "version, cluster id, node id): it was damaged"};
    std::string u32(4, '\0');
    put_u32_le(u32.data(), storage_format_version);
    const std::pair<std::string_view, std::string> records[] = {
        {meta_key::format_version, u32},
        {meta_key::store_kind, std::string{kind}},
        {meta_key::cluster_id, want.cluster_id},
        {meta_key::node_id, u64_le(want.node_id)},
    };
    for (const auto& [key, payload] : records)
      if (auto st = t.put(meta, key, frame_value(key, payload)); !st)
        return st;
    return {};
  }
  // Format version first: a newer format may lay out everything else
  // differently, so nothing else is trusted before it matches.
  auto ver = read_meta(t, meta, meta_key::format_version);
  if (!ver)
    return ver.to_status();
  if (ver->size() != 4)
    return status{errc::corrupted, where(t, meta_key::format_version) + " has " +
                                       std::to_string(ver->size()) +
                                       " bytes, expected 4"};
  auto found = get_u32_le(ver->data());
  if (found == 0 || found > storage_format_version)
    return status{errc::unsupported_version,
                  "data dir " + dir_of(t) + " has storage format version " +
                      std::to_string(found) + "; this build reads version " +
                      std::to_string(storage_format_version) +
                      (found == 0
                           ? " (0 is not a valid version)"
                           : ": run a newer conflux-node or use another data dir")};
  auto k = read_meta(t, meta, meta_key::store_kind);
  if (!k)
    return k.to_status();
  if (*k != kind)
    return status{errc::invalid_argument, "data dir " + dir_of(t) + " holds a '" + *k +
                                              "' store, expected a '" +
                                              std::string{kind} + "' store"};
  auto c = read_meta(t, meta, meta_key::cluster_id);
  if (!c)
    return c.to_status();
  if (*c != want.cluster_id)
    return status{errc::invalid_argument,
                  "data dir " + dir_of(t) + " belongs to cluster '" + *c +
                      "', but this node is configured for cluster '" + want.cluster_id +
                      "': check --data and the cluster id"};
  auto nid = read_meta(t, meta, meta_key::node_id);
  if (!nid)
    return nid.to_status();
  if (nid->size() != 8)
    return status{errc::corrupted, where(t, meta_key::node_id) + " has " +
                                       std::to_string(nid->size()) +
                                       " bytes, expected 8"};
  auto found_node = get_u64_le(nid->data());
  if (found_node != want.node_id)
    return status{errc::invalid_argument,
                  "data dir " + dir_of(t) + " belongs to node " +
                      std::to_string(found_node) + ", but this node has id " +
                      std::to_string(want.node_id) + ": check --data and --id"};
  return {};
}

} // namespace conflux::storage
