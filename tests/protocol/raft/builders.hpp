#pragma once
// Named construction of Raft messages and log entries for tests, so that a
// reader sees which number is the term: etcd's tests build
// pb.Message{Type: ..., Term: ...} by field, and so do these.
//
//   vote_request().term(1).last_log(5, 1).pre_vote()
//   append_response().term(1).accepted(5)
//   append_request().term(2).prev_log(4, 1).entries({entry_at(5).term(2)})
//
// Each builder is a small class whose temporary starts from the message's
// defaults; it converts implicitly to its message struct, and therefore to
// raft::message, so it can be passed to core::step or stored in an envelope
// as it is. Where a call takes an
// (index, term) pair, the index comes first, as the paper and describe() write
// it ("5/1"). Test code only; the core builds its messages itself.

#include "protocol/raft/membership.hpp"
#include "protocol/raft/messages.hpp"
#include "protocol/raft/types.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace conflux::raft {

/// Shared by every message builder: holds the message, hands it out.
template <class Message, class Self>
class message_builder {
public:
  Self& term(term_t t) { return set(&Message::term, t); }
  const Message& build() const { return m_; }
  operator Message() const { return m_; }

protected:
  template <class Field, class Value>
  Self& set(Field Message::*field, Value v) {
    m_.*field = std::move(v);
    return static_cast<Self&>(*this);
  }
  Message m_;
};

/// A log entry: entry_at(7).term(2).command("k=v"); a command with empty data
/// unless told otherwise.
class entry_at {
public:
  explicit entry_at(index_t index) { e_.index = index; }
  entry_at& term(term_t t) { return set(&log_entry::term, t); }
  entry_at& command(std::string data) {
    return kind(entry_kind::command, std::move(data));
  }
  entry_at& noop() { return kind(entry_kind::noop); }
  entry_at& config(const membership& m) {
    return kind(entry_kind::membership, encode_membership(m));
  }
  /// Any kind (also an invalid one, for decoders) with raw data.
  entry_at& kind(entry_kind k, std::string data = {}) {
    e_.kind = k;
    return set(&log_entry::data, std::move(data));
  }
  entry_at& timestamp_ms(std::int64_t ms) { return set(&log_entry::timestamp_ms, ms); }
  const log_entry& build() const { return e_; }
  operator log_entry() const { return e_; }
  operator entry_ptr() const { return std::make_shared<const log_entry>(e_); }

private:
  template <class Field, class Value>
  entry_at& set(Field log_entry::*field, Value v) {
    e_.*field = std::move(v);
    return *this;
  }
  log_entry e_;
};

struct vote_request : message_builder<request_vote_request, vote_request> {
  vote_request& last_log(index_t index, term_t term) {
    m_.last_log_index = index;
    return set(&request_vote_request::last_log_term, term);
  }
  vote_request& pre_vote(bool on = true) {
    return set(&request_vote_request::pre_vote, on);
  }
  /// Sent because of TimeoutNow: voters ignore their leader lease.
  vote_request& leadership_transfer(bool on = true) {
    return set(&request_vote_request::leadership_transfer, on);
  }
};

struct vote_response : message_builder<request_vote_response, vote_response> {
  vote_response& granted(bool yes = true) {
    return set(&request_vote_response::granted, yes);
  }
  vote_response& refused() { return set(&request_vote_response::granted, false); }
  vote_response& pre_vote(bool on = true) {
    return set(&request_vote_response::pre_vote, on);
  }
};

struct append_request : message_builder<append_entries_request, append_request> {
  append_request& prev_log(index_t index, term_t term) {
    m_.prev_log_index = index;
    return set(&append_entries_request::prev_log_term, term);
  }
  append_request& entries(std::vector<entry_ptr> es) {
    return set(&append_entries_request::entries, std::move(es));
  }
  append_request& leader_commit(index_t c) {
    return set(&append_entries_request::leader_commit, c);
  }
};

struct append_response : message_builder<append_entries_response, append_response> {
  /// success: the follower's log matches the leader's up to `index`.
  append_response& accepted(index_t index) {
    m_.success = true;
    return set(&append_entries_response::index, index);
  }
  /// A rejection of the request whose prev_log_index was `prev_log_index`.
  append_response& rejected(index_t prev_log_index) {
    m_.success = false;
    return set(&append_entries_response::index, prev_log_index);
  }
  /// The conflict hint of a rejection.
  append_response& hint(index_t index, term_t term) {
    m_.hint_index = index;
    return set(&append_entries_response::hint_term, term);
  }
};

struct heartbeat : message_builder<heartbeat_request, heartbeat> {
  heartbeat& commit(index_t c) { return set(&heartbeat_request::commit, c); }
  heartbeat& read_seq(std::uint64_t s) { return set(&heartbeat_request::read_seq, s); }
};

struct heartbeat_ack : message_builder<heartbeat_response, heartbeat_ack> {
  heartbeat_ack& read_seq(std::uint64_t s) {
    return set(&heartbeat_response::read_seq, s);
  }
};

struct snapshot_request : message_builder<install_snapshot_request, snapshot_request> {
  /// The last entry the snapshot replaces (paper §7 lastIncludedIndex/Term).
  snapshot_request& last_included(index_t index, term_t term) {
    m_.meta.index = index;
    m_.meta.term = term;
    return *this;
  }
  snapshot_request& config(membership m) {
    m_.meta.config = std::move(m);
    return *this;
  }
  snapshot_request& data(std::string d) {
    return set(&install_snapshot_request::data, std::move(d));
  }
};

struct timeout_now : message_builder<timeout_now_request, timeout_now> {};

struct read_request : message_builder<read_index_request, read_request> {
  read_request& context(std::uint64_t c) {
    return set(&read_index_request::context, c);
  }
};

struct read_response : message_builder<read_index_response, read_response> {
  read_response& context(std::uint64_t c) {
    return set(&read_index_response::context, c);
  }
  read_response& index(index_t i) { return set(&read_index_response::index, i); }
};

} // namespace conflux::raft
