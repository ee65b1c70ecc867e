#include "protocol/raft/describe.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <sstream>

namespace conflux::raft {

namespace {

constexpr std::size_t max_shown_bytes = 40;
/// An append lists at most this many entries (index/term) in full.
constexpr std::size_t max_listed_entries = 6;

void put_ids(std::ostream& os, const char* name, const std::vector<server_id>& ids) {
  if (ids.empty())
    return;
  os << ' ' << name << '=';
  for (std::size_t i = 0; i < ids.size(); ++i)
    os << (i == 0 ? "" : ",") << ids[i];
}

/// Printable ASCII as it is, everything else escaped, so a trace stays one
/// line per item and the same bytes always print the same way.
void put_quoted(std::ostream& os, const std::string& s) {
  os << '"';
  const auto n = std::min(s.size(), max_shown_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      os << '\\' << s[i];
    } else if (c >= 0x20 && c < 0x7f) {
      os << s[i];
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      os << buf;
    }
  }
  os << '"';
  if (s.size() > n)
    os << "...(" << s.size() << " bytes)";
}

void put_entry_ids(std::ostream& os, const std::vector<entry_ptr>& es) {
  os << " entries=[";
  for (std::size_t i = 0; i < es.size(); ++i) {
    if (es.size() > max_listed_entries && i == max_listed_entries - 1) {
      os << " ... " << es.back()->index << '/' << es.back()->term << "] (" << es.size()
         << " entries)";
      return;
    }
    os << (i == 0 ? "" : " ") << es[i]->index << '/' << es[i]->term;
  }
  os << ']';
}

struct message_printer {
  std::ostream& os;

  void operator()(const request_vote_request& m) const {
    os << " last=" << m.last_log_index << '/' << m.last_log_term;
    if (m.pre_vote)
      os << " pre_vote";
    if (m.leadership_transfer)
      os << " leadership_transfer";
  }
  void operator()(const request_vote_response& m) const {
    os << (m.granted ? " granted" : " refused");
    if (m.pre_vote)
      os << " pre_vote";
  }
  void operator()(const append_entries_request& m) const {
    os << " prev=" << m.prev_log_index << '/' << m.prev_log_term
       << " commit=" << m.leader_commit;
    if (!m.entries.empty())
      put_entry_ids(os, m.entries);
  }
  void operator()(const append_entries_response& m) const {
    if (m.success) {
      os << " accepted index=" << m.index;
      return;
    }
    os << " rejected index=" << m.index;
    if (m.hint_index != 0 || m.hint_term != 0)
      os << " hint=" << m.hint_index << '/' << m.hint_term;
  }
  void operator()(const heartbeat_request& m) const {
    os << " commit=" << m.commit;
    if (m.read_seq != 0)
      os << " read_seq=" << m.read_seq;
  }
  void operator()(const heartbeat_response& m) const {
    if (m.read_seq != 0)
      os << " read_seq=" << m.read_seq;
  }
  void operator()(const install_snapshot_request& m) const {
    os << " last=" << m.meta.index << '/' << m.meta.term << ' '
       << describe(m.meta.config) << " data=" << m.data.size() << 'B';
  }
  void operator()(const timeout_now_request&) const {}
  void operator()(const read_index_request& m) const { os << " context=" << m.context; }
  void operator()(const read_index_response& m) const {
    os << " context=" << m.context << " index=" << m.index;
  }
};

void put_from(std::ostream& os, server_id self, server_id to) {
  if (self == no_server)
    os << '?';
  else
    os << self;
  os << "->" << to << ' ';
}

} // namespace

const char* event_name(event_kind k) {
  // In the order of event_kind's values.
  static constexpr const char* names[] = {"became_follower",    "became_pre_candidate",
                                          "became_candidate",   "became_leader",
                                          "lost_quorum",        "membership_changed",
                                          "promotion_proposed", "removed",
                                          "transfer_started",   "transfer_aborted",
                                          "compacted",          "snapshot_installing",
                                          "snapshot_sending",   "stale_persist_ack",
                                          "dropped_non_member"};
  const auto i = static_cast<std::size_t>(k);
  return i < std::size(names) ? names[i] : "unknown_event";
}

const char* refusal_name(refusal r) {
  // In the order of refusal's values.
  static constexpr const char* names[] = {"none",
                                          "not_leader",
                                          "transfer_in_progress",
                                          "change_in_progress",
                                          "not_committed_in_term",
                                          "invalid_change",
                                          "no_leader",
                                          "already_member",
                                          "not_member",
                                          "last_voter",
                                          "not_a_voter",
                                          "leader_handover"};
  const auto i = static_cast<std::size_t>(r);
  return i < std::size(names) ? names[i] : "unknown_refusal";
}

std::string describe(const request_result& r) {
  std::ostringstream os;
  if (r.ok())
    os << "accepted";
  else
    os << "refused " << refusal_name(r.reason);
  if (r.index != 0)
    os << " index=" << r.index;
  if (r.leader_hint != no_server)
    os << " hint=" << r.leader_hint;
  return os.str();
}

std::string describe(const membership& m) {
  std::ostringstream os;
  put_ids(os, "voters", m.voters);
  put_ids(os, "learners", m.learners);
  put_ids(os, "joining", m.joining);
  if (!m.addresses.empty()) {
    os << " addresses=";
    bool first = true;
    for (const auto& [id, addr] : m.addresses) {
      os << (first ? "" : ",") << id << '@' << addr;
      first = false;
    }
  }
  auto s = os.str();
  return s.empty() ? "empty" : s.substr(1);
}

std::string describe(const log_entry& e) {
  std::ostringstream os;
  os << e.index << '/' << e.term;
  switch (e.kind) {
  case entry_kind::command:
    os << " command ";
    put_quoted(os, e.data);
    break;
  case entry_kind::noop:
    os << " noop";
    break;
  case entry_kind::membership:
    if (auto m = decode_membership(e.data))
      os << " membership " << describe(*m);
    else
      os << " membership (undecodable, " << e.data.size() << " bytes)";
    break;
  default:
    os << " kind=" << static_cast<int>(e.kind) << ' ';
    put_quoted(os, e.data);
    break;
  }
  if (e.timestamp_ms != 0)
    os << " ts=" << e.timestamp_ms;
  return os.str();
}

std::string describe(const message& m) {
  std::ostringstream os;
  os << message_name(m) << " term=" << term_of(m);
  std::visit(message_printer{os}, m);
  return os.str();
}

std::string describe(const event& e) {
  std::ostringstream os;
  os << event_name(e.kind) << " term=" << e.term;
  if (e.peer != no_server)
    os << " peer=" << e.peer;
  if (e.index != 0)
    os << " index=" << e.index;
  return os.str();
}

std::string describe(const ready& r, server_id self) {
  std::ostringstream os;
  for (const auto& e : r.events)
    os << "event " << describe(e) << '\n';
  if (r.snapshot) {
    const auto& meta = r.snapshot->meta;
    os << "install snapshot " << meta.index << '/' << meta.term << ' '
       << describe(meta.config) << " data=" << r.snapshot->data.size() << "B\n";
  }
  if (r.persist_id != 0) {
    os << "persist id=" << r.persist_id;
    if (r.hard)
      os << " hard term=" << r.hard->term << " vote=" << r.hard->vote
         << " commit=" << r.hard->commit;
    os << '\n';
  }
  for (const auto& e : r.entries)
    os << "entry " << describe(*e) << '\n';
  for (const auto& m : r.messages) {
    os << "send ";
    put_from(os, self, m.to);
    os << describe(m.msg) << (m.after_persist ? " (after persist)" : "") << '\n';
  }
  for (const auto& s : r.snapshots_to_send) {
    os << "send_snapshot ";
    put_from(os, self, s.to);
    os << "term=" << s.request.term << " last=" << s.request.meta.index << '/'
       << s.request.meta.term << ' ' << describe(s.request.meta.config) << '\n';
  }
  if (!r.committed.empty()) {
    os << "apply " << r.committed.front()->index;
    if (r.committed.size() > 1)
      os << ".." << r.committed.back()->index;
    os << '\n';
  }
  for (const auto& rs : r.read_states)
    os << "read_state context=" << rs.context << " index=" << rs.index << '\n';
  for (auto ctx : r.reads_dropped)
    os << "read_dropped context=" << ctx << '\n';
  return os.str();
}

} // namespace conflux::raft
