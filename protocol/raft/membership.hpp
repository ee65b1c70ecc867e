#pragma once
// The cluster configuration carried by membership entries and snapshots, and
// its byte encoding (the `data` of an entry_kind::membership entry; see
// PROTOCOL.md "Membership entry encoding"). Plain value type, no behaviour
// beyond lookups; the consensus core decides when a configuration applies.

#include "protocol/raft/types.hpp"

#include <optional>
#include <string>
#include <vector>

namespace conflux::raft {

struct membership {
  /// Servers that vote and count toward quorums.
  std::vector<server_id> voters;
  /// Permanent non-voters: receive the log, never vote, never promoted.
  std::vector<server_id> learners;
  /// Non-voters catching up; the leader promotes each to voter once it has
  /// caught up (Raft thesis §4.2.1: new servers join without voting rights).
  std::vector<server_id> joining;

  bool is_voter(server_id id) const;
  bool is_learner(server_id id) const;
  bool is_joining(server_id id) const;
  bool contains(server_id id) const;
  /// Every member, voters first.
  std::vector<server_id> all() const;

  friend bool operator==(const membership& a, const membership& b) {
    return a.voters == b.voters && a.learners == b.learners && a.joining == b.joining;
  }
  friend bool operator!=(const membership& a, const membership& b) { return !(a == b); }
};

/// A single-server change (Raft thesis §4.1: one server at a time keeps any
/// two consecutive configurations' majorities overlapping).
enum class membership_change_kind : std::uint8_t {
  /// Add as a joining non-voter that is promoted automatically once caught up.
  add_voter = 0,
  /// Add as a permanent learner.
  add_learner = 1,
  /// Promote a learner (or joining server) to voter now.
  promote = 2,
  /// Remove any member, including the leader itself (thesis §4.2.2).
  remove = 3,
};

struct membership_change {
  membership_change_kind kind = membership_change_kind::add_voter;
  server_id server = no_server;
};

/// Returns the configuration after `change`, or nothing when the change makes
/// no sense (adding a member, removing or promoting a stranger, removing the
/// last voter).
std::optional<membership> apply_change(const membership& m, const membership_change& c);

/// Encoding: byte 1 (format version), then three lists (voters, learners,
/// joining), each a little-endian u32 count followed by little-endian u64 ids.
std::string encode_membership(const membership& m);
/// Nothing if the bytes are not a valid encoding (wrong version, truncated,
/// trailing bytes, zero id).
std::optional<membership> decode_membership(const std::string& bytes);

} // namespace conflux::raft
