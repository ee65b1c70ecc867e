#pragma once
// The attacks of the security tier (tests/security), one function each, run
// by the conflux-attack program (attack_main.cpp) against a conflux-node and
// in-process by drop_counters_test.cpp against a published test actor. Each
// speaks raw BASP (basp_wire.hpp) to a node on loopback, in plain text or
// inside TLS with the credentials it is given, and reports what it saw:
// whether the node refused the TLS handshake, closed the connection, or
// answered. Whether the node survived is for the caller to check.

#include "tests/security/basp_wire.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conflux::security {

struct attack_target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

struct attack_options {
  /// The node attacked.
  attack_target target;
  /// The node a message is sent through, for attacks on relaying and forged
  /// source nodes (its peer `target` is the node named as the third party).
  std::optional<attack_target> via;
  /// How long to wait for the node to close the connection (or to answer).
  ms wait{1000};
  /// Nesting depth of the nested-* attacks (0: the attack's own default).
  std::size_t depth = 0;
  /// Highest actor id the forged-down-msg attack addresses.
  std::uint64_t max_actor_id = 400;
  /// Speak TLS with these credentials (no value: plain text).
  std::optional<tls_client> tls;
  /// Rounds of the connect-storm attack.
  std::uint64_t count = 100;

  // -- the Raft attacks (raft_attacks.hpp) -------------------------------------

  /// The credential directory (made by conflux-cert) and its leaf ("client"
  /// or "node") the Raft attacks' CAF system presents; empty: plain text.
  std::string tls_dir;
  std::string leaf = "client";
  /// What the forged message claims: its cluster, the member it comes from,
  /// the node it is for, its term, and the log position its entries follow.
  std::string cluster_id = "itest";
  std::uint64_t from = 0;
  std::uint64_t to = 1;
  std::uint64_t term = 1000;
  std::uint64_t prev_index = 0;
  std::uint64_t prev_term = 0;
  /// The key of the config the forged entry creates.
  std::string key = "forged/attack/prod/owned.txt";
  /// The address the forged peer_batch says its sender listens on.
  std::string from_address = "127.0.0.1:9";

  // -- the client attacks (raft_attacks.hpp) -----------------------------------

  /// The client name the attacker's client_hello gives.
  std::string client_name = "mallory";
  /// The token its client_hello presents ("" = none).
  std::string token;
  /// Another client's session the attacker writes on (0: none), with this
  /// sequence number, after guessing the ids 1 to `guesses`.
  std::uint64_t session = 0;
  std::uint64_t sequence = 1;
  std::uint64_t guesses = 0;
};

/// What an attack saw. Printed by conflux-attack as one line of key=value
/// pairs (to_line) and read back by the tests (parse).
struct attack_report {
  /// The attack was delivered (it connected and sent everything).
  bool ran = false;
  /// Why it was not, when it was not; for an attack that was, the CAF error
  /// the node answered with (reply_code -2).
  std::string error;
  /// It was not, because the node refused the TLS handshake.
  bool tls_refused = false;
  /// The node closed the connection within the wait ...
  bool closed = false;
  /// ... this many ms after the attack was sent (-1: not closed).
  long closed_after_ms = -1;
  /// The actor the attack's request went to answered it (routed-message,
  /// probe-endpoint); an error sent back for it by the node does not count.
  bool answered = false;
  /// What the node answered a Conflux message with: 0 success, above 0 the
  /// conflux::errc value it refused with, -1 nothing within the wait, -2 a
  /// CAF error (in `error`). Only the Raft attacks set it.
  long reply_code = -1;
  /// What the node granted and refused of what the attack asked for many
  /// times (sessions, guessed writes, idle connections closed); -1: not
  /// counted by this attack.
  long granted = -1;
  long refused = -1;

  std::string to_line() const;
  static std::optional<attack_report> parse(const std::string& line);
};

using attack_fn = attack_report (*)(const attack_options&);

struct attack_entry {
  const char* name;
  attack_fn run;
  /// One line: what the attack sends and what a patched node does.
  const char* help;
};

/// Every attack, by subcommand name.
const std::vector<attack_entry>& all_attacks();
/// The attack named `name`; nullptr if there is none.
const attack_entry* find_attack(const std::string& name);

} // namespace conflux::security
