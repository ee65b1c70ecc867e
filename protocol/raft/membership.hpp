#pragma once
// The cluster configuration carried by membership entries and snapshots, and
// its byte encoding (the `data` of an entry_kind::membership entry; see
// PROTOCOL.md "Membership entry encoding"). Plain value type, no behaviour
// beyond lookups; the consensus core decides when a configuration applies.

#include "protocol/raft/types.hpp"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace conflux::raft {

struct membership {
  membership() = default;
  membership(std::vector<server_id> voters_, std::vector<server_id> learners_ = {},
             std::vector<server_id> joining_ = {})
    : voters(std::move(voters_)), learners(std::move(learners_)),
      joining(std::move(joining_)) {}

  /// Servers that vote and count toward quorums.
  std::vector<server_id> voters;
  /// Permanent non-voters: receive the log, never vote, never promoted.
  std::vector<server_id> learners;
  /// Non-voters catching up; the leader promotes each to voter once it has
  /// caught up (Raft thesis §4.2.1: new servers join without voting rights).
  std::vector<server_id> joining;
  /// Where members listen (host:port), for the members whose address the
  /// configuration knows. Carried so that a server that joins, or a leader
  /// elected after a change, can reach every member without static flags.
  /// The initial configuration built from --peers leaves it empty (every
  /// initial member knows the others from its own --peers); a membership
  /// change fills in what the proposing leader knew. Opaque to the core.
  std::map<server_id, std::string> addresses;

  bool is_voter(server_id id) const;
  bool is_learner(server_id id) const;
  bool is_joining(server_id id) const;
  bool contains(server_id id) const;
  /// Every member, voters first.
  std::vector<server_id> all() const;

  friend bool operator==(const membership& a, const membership& b) {
    return a.voters == b.voters && a.learners == b.learners && a.joining == b.joining &&
           a.addresses == b.addresses;
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
  membership_change() = default;
  membership_change(membership_change_kind kind_, server_id server_,
                    std::map<server_id, std::string> addresses_ = {})
    : kind(kind_), server(server_), addresses(std::move(addresses_)) {}

  membership_change_kind kind = membership_change_kind::add_voter;
  server_id server = no_server;
  /// Addresses to record in the new configuration (the added server's, and
  /// any the configuration lacks for existing members). Entries for servers
  /// that are not members after the change are ignored.
  std::map<server_id, std::string> addresses;
};

/// Returns the configuration after `change`, or nothing when the change makes
/// no sense (adding a member, removing or promoting a stranger, removing the
/// last voter). A removed server's address is dropped with it.
std::optional<membership> apply_change(const membership& m, const membership_change& c);

/// Longest address a configuration records (host:port; DNS names are < 254).
constexpr std::size_t max_address_size = 300;

/// Encoding: a format byte, then three lists (voters, learners, joining),
/// each a little-endian u32 count followed by little-endian u64 ids. Format 1
/// ends there (and is what a configuration without addresses encodes to);
/// format 2 adds the addresses: a u32 count, then per address a u64 id, a u32
/// length and that many bytes, ids ascending.
std::string encode_membership(const membership& m);
/// Nothing if the bytes are not a valid encoding (unknown format, truncated,
/// trailing bytes, zero id, an address for a non-member, an empty or too
/// long address, ids out of order).
std::optional<membership> decode_membership(const std::string& bytes);

} // namespace conflux::raft
