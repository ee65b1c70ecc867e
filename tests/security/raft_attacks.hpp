#pragma once
// The security tier's attacks that speak Conflux rather than raw BASP: a CAF
// system set up like a Conflux client's (actors/remoting.hpp), with whatever
// certificate the attack is given, connects to a node's endpoint and sends it
// Raft traffic and snapshot chunks that claim to come from a member; or, as
// a client (client_hello), writes on another client's exactly-once session,
// acks and cancels of other clients' watches, and a flood of sessions over
// one connection. Each reports what the node answered
// (attack_report::reply_code, granted, refused); whether it stepped down,
// applied the forged entry or counted the drop is for the caller to check.
// Run by conflux-attack (attack_main.cpp).

#include "tests/security/attacks.hpp"

#include <vector>

namespace conflux::security {

/// Every Raft attack, by subcommand name.
const std::vector<attack_entry>& all_raft_attacks();
/// The Raft attack named `name`; nullptr if there is none.
const attack_entry* find_raft_attack(const std::string& name);

} // namespace conflux::security
