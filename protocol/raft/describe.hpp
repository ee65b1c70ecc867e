#pragma once
// Text forms of the consensus core's outputs, for golden traces, test
// failures and shell logs. Deterministic: the same batch always prints the
// same text (no addresses, no clock, no hash order), so a trace can be
// compared line by line. Pure functions; no CAF, no logging.

#include "protocol/raft/core.hpp"
#include "protocol/raft/membership.hpp"
#include "protocol/raft/messages.hpp"
#include "protocol/raft/ready.hpp"
#include "protocol/raft/types.hpp"

#include <string>

namespace conflux::raft {

/// "became_leader", "lost_quorum", ...
const char* event_name(event_kind k);

/// "not_leader", "leader_handover", ... ("none" for an accepted request).
const char* refusal_name(refusal r);

/// "accepted index=7 hint=1" or "refused not_leader hint=2" (index and hint
/// left out when zero).
std::string describe(const request_result& r);

/// "voters=1,2,3 learners=4 joining=5"; empty lists are left out, addresses
/// (if any) follow as "addresses=1@host:port,2@...".
std::string describe(const membership& m);

/// "2/1 command \"k=v\"" (index/term, kind, then the data: a command's bytes
/// quoted and escaped, cut after 40 bytes; a membership entry decoded).
std::string describe(const log_entry& e);

/// The message's type (message_name) and its fields, e.g.
/// "request_vote_request term=2 last=5/1 pre_vote".
std::string describe(const message& m);

/// "became_leader term=2", with " peer=3" and " index=7" when set.
std::string describe(const event& e);

/// One line per item of the batch, in the order the shell handles them
/// (PROTOCOL.md §3.2), each line ending in '\n':
///   event <event>
///   install snapshot <index>/<term> <membership> data=<n>B
///   persist id=<n>[ hard term=<t> vote=<v> commit=<c>]
///   entry <entry>                          (one per entry to persist)
///   send <self>-><to> <message>[ (after persist)]
///   send_snapshot <self>-><to> term=<t> last=<index>/<term> <membership>
///   apply <first>..<last>                  (the committed range)
///   read_state context=<c> index=<i>
///   read_dropped context=<c>
/// `self` is the server that produced the batch (the batch does not say);
/// no_server prints "?".
std::string describe(const ready& r, server_id self = no_server);

} // namespace conflux::raft
