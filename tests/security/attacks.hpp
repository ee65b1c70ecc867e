#pragma once
// The attacks of the security tier (tests/security), one function each, run
// by the conflux-attack program (attack_main.cpp) against a conflux-node and
// in-process by drop_counters_test.cpp against a published test actor. Each
// speaks raw BASP (basp_wire.hpp) to a node on loopback and reports what it
// saw: whether the node closed the connection and whether anything answered.
// Whether the node survived is for the caller to check.

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
};

/// What an attack saw. Printed by conflux-attack as one line of key=value
/// pairs (to_line) and read back by the tests (parse).
struct attack_report {
  /// The attack was delivered (it connected and sent everything).
  bool ran = false;
  /// Why it was not, when it was not.
  std::string error;
  /// The node closed the connection within the wait ...
  bool closed = false;
  /// ... this many ms after the attack was sent (-1: not closed).
  long closed_after_ms = -1;
  /// The actor the attack's request went to answered it (routed-message,
  /// probe-endpoint); an error sent back for it by the node does not count.
  bool answered = false;

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
