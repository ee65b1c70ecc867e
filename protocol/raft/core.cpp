#include "protocol/raft/core.hpp"

#include "protocol/raft/quorum.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace conflux::raft {

namespace {

constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

} // namespace

const char* role_name(role r) {
  switch (r) {
  case role::follower:
    return "follower";
  case role::pre_candidate:
    return "pre_candidate";
  case role::candidate:
    return "candidate";
  case role::leader:
    return "leader";
  }
  return "?";
}

// -- construction -----------------------------------------------------------

core::core(core_config cfg, restored_state st)
    : cfg_(cfg), id_(cfg.id), rng_(cfg.seed),
      log_(st.snapshot.index, st.snapshot.term, std::move(st.entries)),
      bootstrap_(std::move(st.bootstrap)), snapshot_(std::move(st.snapshot)) {
  term_ = st.hard.term;
  vote_ = st.hard.vote;
  // The persisted commit index is a hint (it may lag); entries the state
  // machine already applied were certainly committed.
  commit_ = std::max({st.hard.commit, st.applied, snapshot_.index});
  commit_ = std::min(commit_, log_.last_index());
  applied_ = std::min(std::max(st.applied, snapshot_.index), commit_);
  durable_ = log_.last_index();
  unstable_from_ = log_.last_index() + 1;
  last_hard_ = st.hard;
  refresh_config();
  reset_randomized_timeout();
}

// -- inputs -----------------------------------------------------------------

void core::tick() {
  if (role_ == role::leader)
    tick_leader();
  else
    tick_election();
}

void core::tick_election() {
  ++election_elapsed_;
  // Paper §5.2: a follower that hears nothing for an election timeout starts
  // an election; learners and removed servers never do (thesis §4.2.1).
  if (promotable() && election_elapsed_ >= randomized_timeout_) {
    election_elapsed_ = 0;
    campaign(cfg_.pre_vote, false);
  }
}

void core::tick_leader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (transfer_target_ != no_server && ++transfer_elapsed_ >= cfg_.election_ticks) {
    // Thesis §3.10: abort a transfer that did not complete within an
    // election timeout so the leader resumes serving clients.
    abort_transfer();
  }
  if (election_elapsed_ >= cfg_.election_ticks) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      // Thesis §6.2: a leader that did not hear from a majority within an
      // election timeout steps down, so a partitioned leader stops serving.
      std::size_t active = 0;
      for (auto v : config_.voters) {
        if (v == id_) {
          ++active;
          continue;
        }
        auto i = progress_.find(v);
        if (i != progress_.end() && i->second.recent_active())
          ++active;
      }
      if (active < quorum_size(config_.voters.size())) {
        emit(event_kind::lost_quorum);
        become_follower(term_, no_server);
        return;
      }
    }
    for (auto& [peer, pr] : progress_)
      pr.set_recent_active(false);
  }
  for (auto& [peer, pr] : progress_) {
    // A snapshot that got lost is retried (paper §7 gives no retry rule; the
    // shell may also report failure with report_snapshot).
    if (pr.state() == progress_state::snapshot &&
        ++pr.snapshot_ticks >= 2 * cfg_.election_ticks)
      pr.become_probe();
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
  maybe_promote();
}

bool core::admits(server_id from) const {
  if (from == leader_ || config_.contains(from))
    return true;
  if (role_ == role::leader)
    return false;
  // The same lease as for vote requests below (thesis §4.2.3): while it
  // lasts, a new leader or voter this server does not know yet can wait;
  // once it ends (the old leader is gone) they are admitted, so the server
  // never waits forever for a configuration only they can send.
  const bool in_lease = leader_ != no_server && election_elapsed_ < cfg_.election_ticks;
  return !in_lease;
}

void core::step(server_id from, message m) {
  if (!admits(from)) {
    emit(event_kind::dropped_non_member, from);
    return;
  }
  auto mterm = term_of(m);
  const bool from_leader = std::holds_alternative<append_entries_request>(m) ||
                           std::holds_alternative<heartbeat_request>(m) ||
                           std::holds_alternative<install_snapshot_request>(m);
  if (mterm > term_) {
    if (auto* rv = std::get_if<request_vote_request>(&m)) {
      // Thesis §4.2.3: a server that heard from a leader within the minimum
      // election timeout ignores vote requests, so a removed or partitioned
      // server cannot depose a healthy leader. TimeoutNow-driven elections
      // are exempt (thesis §3.10).
      const bool in_lease = cfg_.check_quorum && leader_ != no_server &&
                            election_elapsed_ < cfg_.election_ticks;
      if (!rv->leadership_transfer && in_lease)
        return;
    }
    const auto* vr = std::get_if<request_vote_response>(&m);
    const auto* rv = std::get_if<request_vote_request>(&m);
    if (rv && rv->pre_vote) {
      // Thesis §9.6: a pre-vote never changes our term.
    } else if (vr && vr->pre_vote && vr->granted) {
      // Granted pre-votes carry the term we would campaign at.
    } else {
      become_follower(mterm, from_leader ? from : no_server);
    }
  } else if (mterm < term_) {
    if (from_leader && (cfg_.check_quorum || cfg_.pre_vote)) {
      // A stale leader learns our term and steps down; with pre-vote it could
      // otherwise never find out (etcd raft, thesis §9.6 discussion).
      send(from, append_entries_response{term_, false, 0, 0, 0}, false);
    } else if (auto* rv = std::get_if<request_vote_request>(&m); rv && rv->pre_vote) {
      send(from, request_vote_response{term_, true, false}, false);
    }
    return; // paper §5.1: stale terms are ignored
  }

  std::visit(
      overloaded{
          [&](request_vote_request& x) { handle_vote_request(from, x); },
          [&](request_vote_response& x) { handle_vote_response(from, x); },
          [&](append_entries_request& x) { handle_append(from, x); },
          [&](append_entries_response& x) { handle_append_response(from, x); },
          [&](heartbeat_request& x) { handle_heartbeat(from, x); },
          [&](heartbeat_response& x) { handle_heartbeat_response(from, x); },
          [&](install_snapshot_request& x) { handle_snapshot(from, std::move(x)); },
          [&](timeout_now_request&) { handle_timeout_now(from); },
          [&](read_index_request& x) { handle_read_request(from, x); },
          [&](read_index_response& x) { handle_read_response(x); },
      },
      m);
}

request_result core::propose(std::string data, std::int64_t timestamp_ms) {
  if (role_ != role::leader)
    return {refusal::not_leader, 0, leader_};
  // Thesis §3.10: no new entries while handing leadership over.
  if (transfer_target_ != no_server)
    return {refusal::transfer_in_progress, 0, leader_};
  last_timestamp_ms_ = std::max(last_timestamp_ms_, timestamp_ms);
  append_own(entry_kind::command, std::move(data), timestamp_ms);
  // Sent when the batch is taken, so proposals made together travel together
  // (paper §10.2 batching) instead of one AppendEntries per proposal.
  append_pending_ = true;
  return {refusal::none, log_.last_index(), id_};
}

request_result core::read_index(std::uint64_t context) {
  if (role_ == role::leader) {
    if (!committed_in_current_term()) {
      // Thesis §6.4 step 1: until its no-op commits, a new leader does not
      // know the commit index of earlier terms; the read waits.
      early_reads_.emplace_back(context, id_);
      return {refusal::none, 0, id_};
    }
    serve_read(context, id_);
    return {refusal::none, 0, id_};
  }
  if (leader_ == no_server)
    return {refusal::no_leader, 0, no_server};
  // Thesis §6.4: a follower asks the leader for a read index.
  send(leader_, read_index_request{term_, context}, false);
  return {refusal::none, 0, leader_};
}

request_result core::change_membership(membership_change change) {
  if (role_ != role::leader)
    return {refusal::not_leader, 0, leader_};
  // What can never apply to this configuration is refused first: retrying
  // would not help, whatever else is going on.
  const auto who = change.server;
  switch (change.kind) {
  case membership_change_kind::add_voter:
  case membership_change_kind::add_learner:
    if (who == no_server)
      return {refusal::invalid_change, 0, id_};
    if (config_.contains(who))
      return {refusal::already_member, 0, id_};
    break;
  case membership_change_kind::promote:
    if (!config_.contains(who))
      return {refusal::not_member, 0, id_};
    if (config_.is_voter(who))
      return {refusal::invalid_change, 0, id_};
    break;
  case membership_change_kind::remove:
    if (!config_.contains(who))
      return {refusal::not_member, 0, id_};
    if (config_.is_voter(who) && config_.voters.size() == 1)
      return {refusal::last_voter, 0, id_};
    break;
  default:
    return {refusal::invalid_change, 0, id_};
  }
  if (change.kind == membership_change_kind::remove && who == id_) {
    // A leader may commit its own removal and then step down (thesis
    // §4.2.2), but the cluster is then without a leader for an election
    // timeout. Hand leadership to the most caught-up voter first; the new
    // leader removes this server like any other.
    const auto target = most_caught_up_voter();
    auto r = transfer_leadership(target);
    if (!r.ok())
      return r;
    return {refusal::leader_handover, 0, target};
  }
  if (transfer_target_ != no_server)
    return {refusal::transfer_in_progress, 0, leader_};
  // Thesis §4.1 (and Ongaro's 2015 raft-dev fix): a leader may not append a
  // configuration until it has committed an entry of its own term, or a
  // change from an earlier term could be lost while this one commits.
  if (!committed_in_current_term())
    return {refusal::not_committed_in_term, 0, id_};
  // Thesis §4.1: at most one uncommitted configuration at a time.
  if (pending_config_index_ > commit_)
    return {refusal::change_in_progress, 0, id_};
  auto next = apply_change(config_, change);
  if (!next)
    return {refusal::invalid_change, 0, id_};
  append_own(entry_kind::membership, encode_membership(*next), last_timestamp_ms_);
  pending_config_index_ = log_.last_index();
  broadcast_append(false);
  return {refusal::none, log_.last_index(), id_};
}

request_result core::transfer_leadership(server_id target) {
  if (role_ != role::leader)
    return {refusal::not_leader, 0, leader_};
  if (target == id_)
    return {refusal::none, 0, id_};
  if (!config_.contains(target))
    return {refusal::not_member, 0, id_};
  if (!config_.is_voter(target))
    return {refusal::not_a_voter, 0, id_};
  if (transfer_target_ == target)
    return {refusal::none, 0, id_};
  if (transfer_target_ != no_server)
    abort_transfer();
  transfer_target_ = target;
  transfer_elapsed_ = 0;
  emit(event_kind::transfer_started, target);
  auto& pr = progress_.at(target);
  // Thesis §3.10: first bring the target's log up to date, then TimeoutNow.
  if (pr.match() == log_.last_index())
    send(target, timeout_now_request{term_}, false);
  else
    send_append(target, true); // an empty append re-probes if earlier ones were lost
  return {refusal::none, 0, id_};
}

void core::persisted(std::uint64_t persist_id) {
  bool any = false;
  while (!pending_persists_.empty() && pending_persists_.front().id <= persist_id) {
    const auto& p = pending_persists_.front();
    if (p.superseded)
      emit(event_kind::stale_persist_ack, no_server, p.last_index);
    // A record trimmed by a later truncation only vouches for what is left.
    durable_ = std::max(durable_, p.last_index);
    pending_persists_.pop_front();
    any = true;
  }
  if (!any)
    return; // duplicate or unknown acknowledgement
  if (role_ == role::candidate && self_vote_persist_id_ != 0 &&
      persist_id >= self_vote_persist_id_) {
    self_vote_persist_id_ = 0;
    awaiting_self_vote_ = false;
    votes_[id_] = true;
    if (tally(config_.voters, votes_) == vote_result::won) {
      become_leader();
      return;
    }
  }
  durable_ = std::min(durable_, log_.last_index());
  // docs/design.md, durability rule 2: the leader counts itself only for durable
  // entries.
  if (role_ == role::leader && maybe_commit())
    broadcast_append(true);
}

void core::observe_time(std::int64_t timestamp_ms) {
  last_timestamp_ms_ = std::max(last_timestamp_ms_, timestamp_ms);
}

void core::snapshot_taken(index_t index) {
  if (index <= log_.snapshot_index() || index > applied_)
    return;
  snapshot_ = snapshot_meta{index, *log_.term_at(index), membership_at(index)};
  log_.compact(index);
  emit(event_kind::compacted, no_server, index);
}

void core::report_snapshot(server_id to, bool ok) {
  if (role_ != role::leader)
    return;
  auto i = progress_.find(to);
  if (i == progress_.end() || i->second.state() != progress_state::snapshot)
    return;
  i->second.become_probe();
  // Success: wait for the follower's own answer (or the next heartbeat) to
  // learn its match point. Failure: retry after the next heartbeat.
  i->second.pause_probe();
  (void)ok;
}

// -- output -----------------------------------------------------------------

bool core::has_ready() const {
  return append_pending_ || !ready_.empty() ||
         hard_state{term_, vote_, commit_} != last_hard_ ||
         pending_install_.has_value() || unstable_from_ <= log_.last_index() ||
         applied_ < std::min(commit_, durable_);
}

ready core::take_ready() {
  if (append_pending_) {
    append_pending_ = false;
    if (role_ == role::leader)
      broadcast_append(false);
  }
  ready r = std::move(ready_);
  ready_ = ready{};
  bool persist = false;
  index_t persist_last = 0;
  hard_state hs{term_, vote_, commit_};
  if (hs != last_hard_) {
    r.hard = hs;
    last_hard_ = hs;
    persist = true;
  }
  if (pending_install_) {
    persist_last = pending_install_->meta.index;
    r.snapshot = std::move(pending_install_);
    pending_install_.reset();
    persist = true;
  }
  if (unstable_from_ <= log_.last_index()) {
    r.entries = log_.slice(unstable_from_, log_.last_index(), unlimited, unlimited);
    persist_last = log_.last_index();
    unstable_from_ = log_.last_index() + 1;
    persist = true;
  }
  if (persist) {
    r.persist_id = next_persist_id_++;
    if (awaiting_self_vote_ && r.hard && role_ == role::candidate &&
        r.hard->vote == id_)
      self_vote_persist_id_ = r.persist_id;
    pending_persists_.push_back(pending_persist{r.persist_id, persist_last, false});
  }
  // Only durable entries are applied, so a crash never leaves the state
  // machine ahead of the local log.
  auto hi = std::min(commit_, durable_);
  if (applied_ < hi) {
    r.committed = log_.slice(applied_ + 1, hi, unlimited, unlimited);
    applied_ = hi;
  }
  return r;
}

const progress* core::progress_of(server_id peer) const {
  auto i = progress_.find(peer);
  return i == progress_.end() ? nullptr : &i->second;
}

// -- roles ------------------------------------------------------------------

void core::reset(term_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = no_server;
  }
  leader_ = no_server;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_timeout();
  votes_.clear();
  awaiting_self_vote_ = false;
  self_vote_persist_id_ = 0;
  progress_.clear();
  transfer_target_ = no_server;
  transfer_elapsed_ = 0;
  pending_config_index_ = 0;
  for (const auto& r : reads_.drop_all())
    if (r.from == id_)
      ready_.reads_dropped.push_back(r.context);
  for (const auto& [ctx, from] : early_reads_)
    if (from == id_)
      ready_.reads_dropped.push_back(ctx);
  early_reads_.clear();
}

void core::reset_randomized_timeout() {
  // Paper §5.2: randomized election timeouts make split votes rare.
  std::uniform_int_distribution<int> d(cfg_.election_ticks,
                                       2 * cfg_.election_ticks - 1);
  randomized_timeout_ = d(rng_);
}

bool core::promotable() const {
  // Thesis §4.2.2: a server missing from its latest configuration must still
  // start elections while that configuration is uncommitted (it may be needed
  // to commit it); it just does not count its own vote.
  return config_.is_voter(id_) || (config_index_ > commit_ && previous_config_voter_);
}

void core::emit(event_kind kind, server_id peer, index_t index) {
  ready_.events.push_back(event{kind, term_, peer, index});
}

void core::become_follower(term_t term, server_id leader) {
  reset(term);
  role_ = role::follower;
  leader_ = leader;
  emit(event_kind::became_follower, leader);
}

void core::become_pre_candidate() {
  // Thesis §9.6: a pre-candidate changes neither its term nor its vote.
  votes_.clear();
  leader_ = no_server;
  role_ = role::pre_candidate;
  emit(event_kind::became_pre_candidate);
}

void core::become_candidate(bool transfer) {
  (void)transfer;
  // Paper §5.2: increment the term and vote for yourself.
  reset(term_ + 1);
  vote_ = id_;
  role_ = role::candidate;
  emit(event_kind::became_candidate);
}

void core::become_leader() {
  reset(term_);
  role_ = role::leader;
  leader_ = id_;
  sync_progress();
  // Everything already in the log may hold an uncommitted configuration from
  // an earlier term; no new change until it is committed (thesis §4.1).
  pending_config_index_ = log_.last_index();
  emit(event_kind::became_leader);
  // Paper §5.4.2 / §8: a no-op of the new term lets the leader commit (and
  // learn the commit point of) earlier entries.
  append_own(entry_kind::noop, std::string{}, last_timestamp_ms_);
  broadcast_append(false);
}

void core::campaign(bool pre_vote, bool transfer) {
  term_t vote_term = 0;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = term_ + 1;
  } else {
    become_candidate(transfer);
    vote_term = term_;
  }
  if (pre_vote) {
    votes_[id_] = true;
    if (tally(config_.voters, votes_) == vote_result::won) {
      campaign(false, false);
      return;
    }
  } else {
    // Our own vote counts only once the new term and the self-vote are
    // durable (see persisted()): otherwise a crash could let this server win
    // the same term twice with different logs (paper §5.2, one vote per term).
    awaiting_self_vote_ = true;
  }
  for (auto v : config_.voters) {
    if (v == id_)
      continue;
    // A real vote request leaves only after our term and self-vote are durable
    // (docs/design.md, durability rule 1); a pre-vote changes nothing durable.
    send(v,
         request_vote_request{vote_term, log_.last_index(), log_.last_term(), pre_vote,
                              transfer},
         !pre_vote);
  }
}

// -- handlers ---------------------------------------------------------------

void core::handle_vote_request(server_id from, const request_vote_request& m) {
  // Paper §5.2 (one vote per term, first come first served) and §5.4.1
  // (only for a log at least as up-to-date as ours). A pre-vote for a future
  // term is granted on the log check alone (thesis §9.6).
  const bool can_vote = vote_ == from || (vote_ == no_server && leader_ == no_server) ||
                        (m.pre_vote && m.term > term_);
  if (can_vote && log_.is_up_to_date(m.last_log_index, m.last_log_term)) {
    if (m.pre_vote) {
      send(from, request_vote_response{m.term, true, true}, false);
    } else {
      vote_ = from;
      election_elapsed_ = 0;
      // The vote must be durable before the reply leaves (paper §5.2 / fig. 2
      // "persistent state", docs/design.md, durability rule 1).
      send(from, request_vote_response{term_, false, true}, true);
    }
  } else {
    send(from, request_vote_response{term_, m.pre_vote, false}, !m.pre_vote);
  }
}

void core::handle_vote_response(server_id from, const request_vote_response& m) {
  if (m.pre_vote) {
    if (role_ != role::pre_candidate)
      return;
    if (m.granted && m.term != term_ + 1)
      return;
  } else if (role_ != role::candidate) {
    return;
  }
  votes_[from] = m.granted;
  switch (tally(config_.voters, votes_)) {
  case vote_result::won:
    if (m.pre_vote)
      campaign(false, false);
    else
      become_leader();
    break;
  case vote_result::lost:
    become_follower(term_, no_server);
    break;
  case vote_result::pending:
    break;
  }
}

void core::handle_append(server_id from, const append_entries_request& m) {
  if (role_ == role::leader)
    return; // paper §5.2: at most one leader per term, so never from a peer
  if (role_ != role::follower)
    become_follower(term_, from); // paper §5.2: a candidate yields to the leader
  leader_ = from;
  election_elapsed_ = 0;
  if (m.prev_log_index < commit_) {
    // Everything up to our commit index is already known to match.
    send(from, append_entries_response{term_, true, commit_, 0, 0}, true);
    return;
  }
  if (log_.matches(m.prev_log_index, m.prev_log_term)) {
    const auto last_new = m.prev_log_index + m.entries.size();
    const auto old_last = log_.last_index();
    const auto changed = log_.merge(m.entries);
    if (changed != 0) {
      // Paper §5.3: conflicts are never committed entries (leader completeness).
      assert(changed > commit_);
      if (changed <= old_last)
        on_truncate(changed);
      bool config_touched = config_index_ >= changed;
      for (index_t i = changed; i <= log_.last_index() && !config_touched; ++i)
        config_touched = log_.at(i)->kind == entry_kind::membership;
      if (config_touched)
        refresh_config();
    }
    // Paper figure 2, AppendEntries rule 5.
    const auto c = std::min(m.leader_commit, last_new);
    if (c > commit_)
      set_commit(c);
    send(from, append_entries_response{term_, true, last_new, 0, 0}, true);
    return;
  }
  // Paper §5.3: reject, with a hint so the leader can skip a whole term of
  // conflicting entries at once.
  auto hint = log_.find_conflict_by_term(std::min(m.prev_log_index, log_.last_index()),
                                         m.prev_log_term);
  auto hint_term = log_.term_at(hint).value_or(0);
  send(from, append_entries_response{term_, false, m.prev_log_index, hint, hint_term},
       true);
}

void core::handle_append_response(server_id from, const append_entries_response& m) {
  if (role_ != role::leader)
    return;
  auto it = progress_.find(from);
  if (it == progress_.end())
    return;
  auto& pr = it->second;
  pr.set_recent_active(true);
  if (!m.success) {
    if (m.index == 0 && m.hint_index == 0 && m.hint_term == 0 && m.term == term_)
      return; // a bare term notification at our own term carries nothing
    index_t probe = m.hint_index;
    if (m.hint_term > 0)
      probe = log_.find_conflict_by_term(m.hint_index, m.hint_term);
    if (pr.maybe_decrease(m.index, probe + 1)) {
      if (pr.state() == progress_state::replicate)
        pr.become_probe();
      send_append(from, false);
    }
    return;
  }
  if (pr.maybe_update(m.index)) {
    if (pr.state() == progress_state::probe) {
      pr.become_replicate();
    } else if (pr.state() == progress_state::snapshot &&
               pr.match() + 1 >= log_.first_index()) {
      // The follower now holds everything we compacted: resume appends.
      pr.become_replicate();
    }
    if (maybe_commit())
      broadcast_append(true);
    if (from == transfer_target_ && pr.match() == log_.last_index()) {
      // Thesis §3.10: the target is caught up; tell it to start an election.
      send(from, timeout_now_request{term_}, false);
    }
    if (role_ != role::leader)
      return;
    maybe_promote();
  }
  fill_pipeline(from);
}

void core::handle_heartbeat(server_id from, const heartbeat_request& m) {
  if (role_ == role::leader)
    return;
  if (role_ != role::follower)
    become_follower(term_, from);
  leader_ = from;
  election_elapsed_ = 0;
  // The leader sends min(our match, its commit): safe to commit directly.
  auto c = std::min(m.commit, log_.last_index());
  if (c > commit_)
    set_commit(c);
  send(from, heartbeat_response{term_, m.read_seq}, true);
}

void core::handle_heartbeat_response(server_id from, const heartbeat_response& m) {
  if (role_ != role::leader)
    return;
  auto it = progress_.find(from);
  if (it == progress_.end())
    return;
  it->second.set_recent_active(true);
  it->second.heartbeat_answered();
  // A lagging follower gets an append even if nothing new is unsent: in
  // replicate state this re-probes at next - 1, which recovers appends that
  // the network lost (the follower rejects and we back off, paper §5.3).
  if (it->second.match() < log_.last_index())
    send_append(from, true);
  if (m.read_seq > 0) {
    reads_.ack(from, m.read_seq);
    release_reads();
  }
}

void core::handle_snapshot(server_id from, install_snapshot_request m) {
  if (role_ == role::leader)
    return;
  if (role_ != role::follower)
    become_follower(term_, from);
  leader_ = from;
  election_elapsed_ = 0;
  const auto& meta = m.meta;
  if (meta.index <= commit_) {
    // Paper §7: a snapshot we already cover is stale; say how far we are.
    send(from, append_entries_response{term_, true, commit_, 0, 0}, true);
    return;
  }
  if (log_.matches(meta.index, meta.term)) {
    // Paper §7: "if existing log entry has same index and term as snapshot's
    // last included entry, retain log entries following it".
    set_commit(meta.index);
    send(from, append_entries_response{term_, true, meta.index, 0, 0}, true);
    return;
  }
  // Paper §7: discard the entire log and install the snapshot.
  emit(event_kind::snapshot_installing, from, meta.index);
  log_.reset_to_snapshot(meta.index, meta.term);
  // Every stored entry goes; earlier persists vouch for nothing past the
  // snapshot point and the next entries to persist start right after it.
  on_truncate(meta.index + 1);
  unstable_from_ = meta.index + 1;
  snapshot_ = meta;
  commit_ = meta.index;
  applied_ = meta.index;
  const auto idx = meta.index;
  pending_install_ =
      snapshot_to_install{std::move(m.meta), std::move(m.data), std::move(m.file)};
  refresh_config();
  send(from, append_entries_response{term_, true, idx, 0, 0}, true);
}

void core::handle_timeout_now(server_id from) {
  // Thesis §3.10: start an election at once, skipping pre-vote; the flag in
  // the requests lets voters ignore their leader lease. Only the current
  // leader may ask: a delayed or duplicated TimeoutNow from anyone else would
  // depose a healthy leader while bypassing pre-vote and the lease. (A
  // server may also tell itself, which tests and tools use to force a
  // campaign.)
  if (from != leader_ && from != id_)
    return;
  if (role_ != role::leader && promotable())
    campaign(false, true);
}

void core::handle_read_request(server_id from, const read_index_request& m) {
  if (role_ != role::leader)
    return;
  if (!committed_in_current_term()) {
    early_reads_.emplace_back(m.context, from);
    return;
  }
  serve_read(m.context, from);
}

void core::handle_read_response(const read_index_response& m) {
  ready_.read_states.push_back(read_state{m.context, m.index});
}

// -- leader machinery -------------------------------------------------------

void core::send(server_id to, message m, bool after_persist) {
  ready_.messages.push_back(outgoing_message{to, std::move(m), after_persist});
}

void core::send_append(server_id to, bool allow_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end())
    return;
  auto& pr = it->second;
  if (pr.is_paused())
    return;
  const index_t prev = pr.next() - 1;
  const auto prev_term = log_.term_at(prev);
  if (!prev_term) {
    // Paper §7: the entries the follower needs are compacted; send the
    // snapshot instead. The shell attaches the data.
    pr.become_snapshot(snapshot_.index);
    ready_.snapshots_to_send.push_back(
        snapshot_to_send{to, install_snapshot_request{term_, snapshot_, {}, {}}});
    emit(event_kind::snapshot_sending, to, snapshot_.index);
    return;
  }
  std::vector<entry_ptr> entries;
  if (pr.next() <= log_.last_index())
    entries = log_.slice(pr.next(), log_.last_index(), cfg_.max_entries_per_message,
                         cfg_.max_bytes_per_message);
  if (entries.empty() && !allow_empty && pr.state() != progress_state::probe)
    return;
  const index_t last = entries.empty() ? prev : entries.back()->index;
  const bool carries = !entries.empty();
  send(to, append_entries_request{term_, prev, *prev_term, std::move(entries), commit_},
       false);
  if (carries || pr.state() == progress_state::probe)
    pr.sent_entries(last);
}

void core::broadcast_append(bool allow_empty) {
  for (auto& [peer, pr] : progress_) {
    send_append(peer, allow_empty);
    fill_pipeline(peer);
  }
}

void core::fill_pipeline(server_id to) {
  // Thesis §10.2.1: keep sending while the window has room.
  for (int guard = 0; guard < 1024; ++guard) {
    auto i = progress_.find(to);
    if (i == progress_.end() || i->second.is_paused() ||
        i->second.next() > log_.last_index())
      return;
    const auto before = i->second.next();
    send_append(to, false);
    if (i->second.next() == before && !i->second.is_paused())
      return;
  }
}

void core::broadcast_heartbeat() {
  const auto seq = reads_.current_seq();
  for (auto& [peer, pr] : progress_)
    send(peer, heartbeat_request{term_, std::min(pr.match(), commit_), seq}, false);
}

bool core::maybe_commit() {
  match_scratch_.clear();
  for (auto v : config_.voters) {
    if (v == id_) {
      // docs/design.md, durability rule 2: our own copy counts once it is durable.
      match_scratch_[v] = durable_;
    } else if (auto i = progress_.find(v); i != progress_.end()) {
      match_scratch_[v] = i->second.match();
    }
  }
  const auto idx = quorum_index(config_.voters, match_scratch_);
  // Paper §5.4.2, figure 8: only entries of the current term are committed by
  // counting replicas; earlier ones commit indirectly.
  if (idx > commit_ && log_.term_at(idx) == term_) {
    set_commit(idx);
    return true;
  }
  return false;
}

void core::append_own(entry_kind kind, std::string data, std::int64_t ts) {
  append_to_log(std::make_shared<const log_entry>(
      log_entry{term_, log_.last_index() + 1, kind, ts, std::move(data)}));
}

bool core::committed_in_current_term() const {
  return log_.term_at(commit_) == term_;
}

void core::release_reads() {
  for (const auto& r : reads_.release(config_.voters, id_)) {
    if (r.from == id_)
      ready_.read_states.push_back(read_state{r.context, r.index});
    else
      send(r.from, read_index_response{term_, r.context, r.index}, false);
  }
}

void core::serve_read(std::uint64_t context, server_id from) {
  // Thesis §6.4 steps 2-3: record the commit index, then confirm leadership
  // with a fresh heartbeat round before answering.
  reads_.add(context, from, commit_);
  if (config_.voters.size() == 1 && config_.is_voter(id_)) {
    release_reads();
    return;
  }
  broadcast_heartbeat();
}

void core::maybe_promote() {
  if (role_ != role::leader || config_.joining.empty() ||
      !committed_in_current_term() || pending_config_index_ > commit_ ||
      transfer_target_ != no_server)
    return;
  for (auto j : config_.joining) {
    auto i = progress_.find(j);
    if (i == progress_.end())
      continue;
    // Thesis §4.2.1: promote only once the new server has caught up, so that
    // adding it does not stall commits while it copies the log. It must have
    // acknowledged part of the log: on a log shorter than the lag, a server
    // that never answered (or does not run) would count as caught up.
    const auto match = i->second.match();
    if (match > 0 && match + cfg_.promotion_lag >= log_.last_index()) {
      if (change_membership({membership_change_kind::promote, j}).ok())
        emit(event_kind::promotion_proposed, j);
      return;
    }
  }
}

void core::sync_progress() {
  if (role_ != role::leader)
    return;
  for (auto id : config_.all()) {
    if (id == id_ || progress_.count(id))
      continue;
    progress_.emplace(id, progress(log_.last_index() + 1, cfg_.max_inflight));
  }
  for (auto i = progress_.begin(); i != progress_.end();) {
    if (!config_.contains(i->first))
      i = progress_.erase(i);
    else
      ++i;
  }
  if (transfer_target_ != no_server && !config_.is_voter(transfer_target_))
    abort_transfer();
}

server_id core::most_caught_up_voter() const {
  server_id best = no_server;
  index_t best_match = 0;
  for (auto v : config_.voters) {
    if (v == id_)
      continue;
    auto i = progress_.find(v);
    const index_t match = i == progress_.end() ? 0 : i->second.match();
    if (best == no_server || match > best_match) {
      best = v;
      best_match = match;
    }
  }
  return best;
}

void core::abort_transfer() {
  if (transfer_target_ == no_server)
    return;
  emit(event_kind::transfer_aborted, transfer_target_);
  transfer_target_ = no_server;
  transfer_elapsed_ = 0;
}

// -- log and configuration --------------------------------------------------

void core::append_to_log(entry_ptr e) {
  const bool is_config = e->kind == entry_kind::membership;
  log_.append(std::move(e));
  if (is_config)
    refresh_config();
}

void core::on_truncate(index_t from) {
  // Entries >= from are gone: whatever an older persist would have made
  // durable there is no longer in our log (a late acknowledgement must not
  // vouch for the replacements).
  if (durable_ >= from)
    durable_ = from - 1;
  for (auto& p : pending_persists_) {
    if (p.last_index >= from) {
      p.last_index = from - 1;
      p.superseded = true;
    }
  }
  if (unstable_from_ > from)
    unstable_from_ = from;
}

raft::membership core::membership_at(index_t i) const {
  for (auto j = std::min(i, log_.last_index()); j > log_.snapshot_index(); --j) {
    const auto& e = log_.at(j);
    if (e->kind == entry_kind::membership) {
      if (auto m = decode_membership(e->data))
        return *m;
    }
  }
  return snapshot_.index > 0 ? snapshot_.config : bootstrap_;
}

void core::refresh_config() {
  // Thesis §4.1: a server uses the latest configuration in its log, committed
  // or not; a truncation can therefore revert it.
  index_t idx = 0;
  raft::membership m = snapshot_.index > 0 ? snapshot_.config : bootstrap_;
  if (snapshot_.index > 0)
    idx = snapshot_.index;
  for (auto j = log_.last_index(); j > log_.snapshot_index(); --j) {
    const auto& e = log_.at(j);
    if (e->kind == entry_kind::membership) {
      if (auto d = decode_membership(e->data)) {
        m = std::move(*d);
        idx = j;
        break;
      }
    }
  }
  const bool changed = m != config_ || idx != config_index_;
  config_ = std::move(m);
  config_index_ = idx;
  previous_config_voter_ =
      idx > log_.snapshot_index() ? membership_at(idx - 1).is_voter(id_) : false;
  if (changed) {
    emit(event_kind::membership_changed, no_server, idx);
    sync_progress();
    if (config_.contains(id_))
      removed_reported_ = false;
  }
}

void core::set_commit(index_t c) {
  const auto old = commit_;
  commit_ = c;
  apply_commit_effects(old);
}

void core::apply_commit_effects(index_t old_commit) {
  if (config_index_ > old_commit && config_index_ <= commit_ &&
      !config_.contains(id_) && !removed_reported_) {
    removed_reported_ = true;
    emit(event_kind::removed, no_server, config_index_);
  }
  if (role_ != role::leader)
    return;
  if (config_index_ > old_commit && config_index_ <= commit_ &&
      !config_.is_voter(id_)) {
    // Thesis §4.2.2: a leader removed from the configuration keeps leading
    // until the change commits, then steps down.
    become_follower(term_, no_server);
    return;
  }
  if (!early_reads_.empty() && committed_in_current_term()) {
    auto waiting = std::move(early_reads_);
    early_reads_.clear();
    for (const auto& [ctx, from] : waiting)
      serve_read(ctx, from);
  }
}

} // namespace conflux::raft
