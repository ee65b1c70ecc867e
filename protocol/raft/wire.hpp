#pragma once
// The byte encoding of raft::message between nodes. The layout and the tags
// are specified in protocol/raft/PROTOCOL.md §7 "Wire encoding between
// nodes", and nowhere else.
//
// Decoding never throws and never reads out of bounds, and its allocations are
// bounded by a small multiple of the input length: garbage, truncated input,
// trailing bytes, wrong types, an unknown tag or a message the receiving core
// must not see (an entry kind out of range, entries that do not follow
// prev_log_index, a membership decode_membership would reject) come back as
// errc::corrupted; a newer format version as errc::unsupported_version.

#include "protocol/error.hpp"
#include "protocol/raft/messages.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conflux::raft {

/// Version of the wire encoding. Bump it when a layout changes and keep
/// decoding the older ones for at least one release (rolling upgrades).
constexpr std::uint8_t wire_format_version = 1;

/// One raft::message as bytes (PROTOCOL.md §7). Entry and snapshot data are
/// copied once, straight into the result.
/// REQUIRES: every entry_ptr is non-null; every data string and entry list is
/// shorter than 2^32 (msgpack's limit; the shell sends big snapshots in chunks).
std::string encode_message(const message& m);

/// Strict: empty/garbage/truncated/trailing bytes/wrong types/unknown tag ->
/// errc::corrupted; a newer format byte -> errc::unsupported_version. Never
/// throws. Entries come back as fresh shared entries, owned by no one else.
conflux::expected<message> decode_message(std::string_view bytes);

} // namespace conflux::raft
