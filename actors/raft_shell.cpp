#include "actors/raft_shell.hpp"

#include "actors/endpoint.hpp"
#include "actors/peer_link.hpp"
#include "actors/remoting.hpp"
#include "protocol/codec.hpp"
#include "protocol/raft/wire.hpp"
#include "storage/log_store.hpp"
#include "storage/snapshot_file.hpp"

#include <algorithm>
#include <caf/all.hpp>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <set>
#include <spdlog/spdlog.h>

namespace conflux::actors {

const char* role_kind_name(role_kind k) {
  switch (k) {
  case role_kind::follower:
    return "follower";
  case role_kind::candidate:
    return "candidate";
  case role_kind::leader:
    return "leader";
  }
  return "unknown";
}

void role_tenure::read_confirmed(std::uint64_t, raft::index_t) {}
void role_tenure::read_dropped(std::uint64_t) {}
void role_tenure::applied(const applied_notice&) {}
void role_tenure::settle() {}

// -- construction ---------------------------------------------------------------

raft_shell::raft_shell(node_context_ptr ctx, raft::core_config cfg,
                       raft::restored_state st, wiring w)
    : ctx_(std::move(ctx)), wiring_(std::move(w)) {
  applied_ = st.applied;
  // Stamps of earlier terms may not be in order (older builds let a new
  // leader start from its own wall clock): the floor is the highest.
  for (const auto& e : st.entries)
    clock_.observe(e->timestamp_ms);
  core_ = std::make_unique<raft::core>(cfg, std::move(st));
  observe_applied_timestamp();
  known_term_ = core_->term();
  for (auto& [id, l] : wiring_.links)
    link_addresses_.emplace(id, std::string{});
  recount_log_bytes();
  spdlog::info("raft: node {} starts as follower in term {} (commit {}, last index {})",
               ctx_->opts.id, core_->term(), core_->commit_index(),
               core_->log().last_index());
}

raft_shell::~raft_shell() {
  // Links the shell opened live exactly as long as it does.
  for (auto& [id, link] : wiring_.links)
    if (!link_addresses_[id].empty())
      caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
}

// -- holding ----------------------------------------------------------------------

void raft_shell::attach(raft_actor_impl::pointer self, role_tenure* tenure) {
  self_ = self;
  tenure_ = tenure;
  // A new tick chain: the previous holder's pending tick carries an older
  // epoch and is dropped, so the node ticks at the same pace across roles.
  ++tick_epoch_;
  self_->delayed_send(self_, ctx_->opts.tick, tick_atom::value, tick_epoch_);
  if (!links_synced_) {
    links_synced_ = true;
    sync_links(); // the first holder opens the links
  }
  process_ready();
}

void raft_shell::detach() {
  self_ = nullptr;
  tenure_ = nullptr;
}

role_kind raft_shell::role_of_core() const {
  switch (core_->current_role()) {
  case raft::role::leader:
    return role_kind::leader;
  case raft::role::candidate:
  case raft::role::pre_candidate:
    return role_kind::candidate;
  case raft::role::follower:
    break;
  }
  return role_kind::follower;
}

std::string raft_shell::role_name() const {
  switch (core_->current_role()) {
  case raft::role::leader:
    return "leader";
  case raft::role::candidate:
    return "candidate";
  case raft::role::pre_candidate:
    return "pre_candidate";
  case raft::role::follower:
    break;
  }
  auto& m = core_->membership();
  if (m.is_learner(ctx_->opts.id) || m.is_joining(ctx_->opts.id))
    return "learner";
  return "follower";
}

// -- inputs -----------------------------------------------------------------------

void raft_shell::on_peer_batch(rpc::peer_batch& b) {
  // The node endpoint checked the sender's identity and the addressee; this
  // is for batches that reach the role another way (tests).
  if (b.cluster_id != ctx_->opts.cluster_id || b.to != ctx_->opts.id) {
    ctx_->counters.add("raft.dropped.wrong_addressee");
    spdlog::warn("raft dropped a batch from node {} for cluster '{}' node {} (this is "
                 "cluster '{}' node {}): check --peers and --cluster-id",
                 b.from, b.cluster_id, b.to, ctx_->opts.cluster_id, ctx_->opts.id);
    return;
  }
  // Before the messages, so that the answers to them find a link; again after
  // them, when they made `from` the leader this node follows.
  learn_address(b.from, b.from_address, false);
  for (auto& bytes : b.messages) {
    auto m = raft::decode_message(bytes);
    if (!m.ok()) {
      spdlog::warn("raft dropped an undecodable message from node {}: {}", b.from,
                   to_string(m.err()));
      continue;
    }
    if (!commands_decode(b.from, *m))
      continue;
    core_->step(b.from, std::move(*m));
    process_ready();
  }
  learn_address(b.from, b.from_address, true);
}

bool raft_shell::commands_decode(raft::server_id from, const raft::message& m) {
  // A correct leader proposes only commands it decoded (leader_tenure::
  // propose), so an entry that does not decode is forged or damaged; once
  // appended and committed it would stop every node that applies it. The
  // whole message goes: the leader resends from its own log, and a leader
  // that keeps sending it makes no progress here instead of stopping us.
  auto* a = std::get_if<raft::append_entries_request>(&m);
  if (a == nullptr)
    return true;
  for (auto& e : a->entries) {
    if (e->kind != raft::entry_kind::command)
      continue;
    auto cmd = codec::decode_command(e->data);
    if (cmd.ok())
      continue;
    ctx_->counters.add("raft.dropped.undecodable_entry");
    std::uint64_t held_back = 0;
    if (drop_log_.allow(ctx_->clock->steady(), held_back))
      spdlog::error(
          "raft: node {} dropped an AppendEntries from node {} (term {}): its "
          "entry {} holds a command this node cannot decode ({}); a correct "
          "leader never sends one ({} more drops not logged)",
          ctx_->opts.id, from, a->term, e->index, to_string(cmd.err()), held_back);
    return false;
  }
  return true;
}

void raft_shell::learn_address(raft::server_id from, const std::string& address,
                               bool count_refusal) {
  if (address.empty() || from == ctx_->opts.id)
    return;
  auto known = learned_addresses_.find(from);
  if (known != learned_addresses_.end() && known->second == address)
    return;
  // Only a member's own announcement (joining servers included; the endpoint
  // proved with TLS that the batch is from `from`). A server that knows no
  // configuration yet (it joins) takes its leader's, to answer it. Anyone
  // else's address is never dialled nor reported: a leader this server does
  // not know yet gets its address from the configuration it replicates.
  const auto& cfg = core_->membership();
  const bool joining_leader = cfg.all().empty() && core_->leader() == from;
  if (!cfg.contains(from) && !joining_leader) {
    if (count_refusal)
      ctx_->counters.add("raft.ignored.address");
    return;
  }
  if (address.size() > raft::max_address_size || !parse_endpoint(address))
    return;
  learned_addresses_[from] = address;
  sync_links();
}

bool raft_shell::on_tick(std::uint64_t epoch) {
  if (epoch != tick_epoch_)
    return false;
  ++ticks_;
  core_->observe_time(now_ms());
  core_->tick();
  process_ready();
  return true;
}

void raft_shell::on_persisted(std::uint64_t id) {
  persist_in_flight_ = false;
  durable_persist_id_ = std::max(durable_persist_id_, id);
  core_->persisted(id);
  // Already cleared to leave: send without holding them again.
  std::map<raft::server_id, rpc::peer_batch> out;
  while (!held_.empty() && held_.front().first <= durable_persist_id_) {
    auto& m = held_.front().second;
    out[m.to].messages.push_back(raft::encode_message(m.msg));
    held_.pop_front();
  }
  send_batches(out);
  process_ready();
  flush_persist();
}

void raft_shell::on_applied(applied_notice& n) {
  applied_ = std::max(applied_, n.applied);
  maybe_snapshot();
  if (tenure_)
    tenure_->applied(n);
}

void raft_shell::on_installed(raft::index_t index) {
  --installs_in_flight_;
  applied_ = std::max(applied_, index);
  observe_applied_timestamp();
  recount_log_bytes();
  // Waiters at or below the snapshot point get no result of their own: the
  // tenure hears of the new applied index like of any apply.
  if (tenure_) {
    applied_notice n;
    n.applied = index;
    tenure_->applied(n);
  }
  flush_persist();
}

void raft_shell::on_snapshot_sent(const snapshot_sent_notice& n) {
  auto i = snapshots_sending_.find(n.to);
  if (i == snapshots_sending_.end() || i->second != n.index)
    return; // a transfer the core no longer waits for
  snapshots_sending_.erase(i);
  spdlog::info("raft: snapshot to node {} {} (index {})", n.to,
               n.ok ? "delivered" : "failed", n.index);
  core_->report_snapshot(n.to, n.ok);
  process_ready();
}

void raft_shell::on_snapshot_report(snapshot_report& r) {
  if (r.kind == snapshot_report::what::received) {
    auto m = raft::decode_membership(r.membership);
    if (!m) {
      spdlog::warn("raft ignored the snapshot from node {}: its membership does not "
                   "decode",
                   r.from);
      return;
    }
    raft::install_snapshot_request req;
    req.term = r.term;
    req.meta = raft::snapshot_meta{r.index, r.snapshot_term, std::move(*m)};
    // The snapshot travelled as a file (PROTOCOL.md "Snapshot transfer"):
    // the core carries its path to the install, not its bytes.
    req.file = std::move(r.path);
    core_->step(r.from, std::move(req));
    process_ready();
    return;
  }
  snapshot_taking_ = false;
  if (r.index == 0)
    return;
  core_->snapshot_taken(r.index);
  if (core_->snapshot().index == r.index) {
    // The file is durable: the stored prefix may go.
    self_->send(wiring_.log, compact_request{r.index});
    recount_log_bytes();
  }
  process_ready();
}

snapshot_meta_reply raft_shell::snapshot_meta(const snapshot_meta_request& r) const {
  snapshot_meta_reply out;
  if (r.index <= core_->snapshot().index || r.index > core_->applied_index())
    return out;
  auto term = core_->log().term_at(r.index);
  if (!term)
    return out;
  out.ok = true;
  out.term = *term;
  out.membership = raft::encode_membership(core_->membership_at(r.index));
  return out;
}

rpc::status_reply raft_shell::status() const {
  rpc::status_reply s;
  s.id = ctx_->opts.id;
  s.address = ctx_->address_of(ctx_->opts.id);
  s.role = role_name();
  s.term = core_->term();
  s.commit = core_->commit_index();
  s.applied = ctx_->applied.load();
  s.leader_id = core_->leader();
  s.leader_address = ctx_->address_of(core_->leader());
  s.cluster_id = ctx_->opts.cluster_id;
  s.sessions = ctx_->sessions.load();
  s.transport = ctx_->opts.transport.tls() ? "mutual-tls" : "insecure-plaintext";
  s.counters = ctx_->counters.snapshot();
  s.apply_paused = ctx_->paused.reason();
  for (auto& [name, n] : tls_refusal_counters())
    s.counters[name] = n;
  for (auto& [name, n] : transport_drop_counters())
    s.counters[name] = n;
  auto& cfg = core_->membership();
  auto member = [&](raft::server_id id, const char* kind) {
    rpc::member_entry m;
    m.id = id;
    m.address = ctx_->address_of(id);
    m.kind = kind;
    if (core_->is_leader()) {
      auto last = core_->log().last_index();
      m.match = last;
      if (id != ctx_->opts.id) {
        auto* pr = core_->progress_of(id);
        m.match = pr ? pr->match() : 0;
      }
      m.lag = last - std::min(last, m.match);
    }
    s.members.push_back(std::move(m));
  };
  for (auto id : cfg.voters)
    member(id, "voter");
  for (auto id : cfg.learners)
    member(id, "learner");
  for (auto id : cfg.joining)
    member(id, "joining");
  return s;
}

// -- answers ----------------------------------------------------------------------

raft_reply raft_shell::unavailable_reply(std::string why) const {
  raft_reply r;
  r.err = error{errc::unavailable, std::move(why)};
  r.leader_id = core_->leader();
  return r;
}

raft_reply raft_shell::not_leader_reply() const {
  raft_reply r;
  auto leader = core_->leader();
  r.leader_id = leader;
  auto me = "node " + std::to_string(ctx_->opts.id);
  if (leader == raft::no_server)
    r.err = error{errc::unavailable,
                  me + " knows no leader (an election is under way); retry shortly"};
  else
    r.err = error{errc::not_leader, me + " is not the leader; send writes to node " +
                                        std::to_string(leader) + " at " +
                                        ctx_->address_of(leader)};
  return r;
}

raft_reply raft_shell::redirect_admin() const {
  auto r = not_leader_reply();
  if (r.err && r.err->code == errc::not_leader)
    r.err->message = "node " + std::to_string(ctx_->opts.id) +
                     " is not the leader; membership and leadership requests go to "
                     "node " +
                     std::to_string(core_->leader()) + " at " +
                     ctx_->address_of(core_->leader());
  return r;
}

raft_reply raft_shell::reply_for(const raft::request_result& r,
                                 raft::server_id server) const {
  using raft::refusal;
  auto who = "node " + std::to_string(server);
  auto invalid = [&](errc code, std::string why) {
    raft_reply out;
    out.err = error{code, std::move(why)};
    out.leader_id = core_->leader();
    return out;
  };
  switch (r.reason) {
  case refusal::none:
    return {};
  case refusal::not_leader:
  case refusal::no_leader:
  case refusal::leader_handover:
    return not_leader_reply();
  case refusal::transfer_in_progress:
    return unavailable_reply("a leadership transfer is in progress; retry shortly");
  case refusal::change_in_progress:
    return unavailable_reply(
        "an earlier membership change is not committed yet; retry shortly");
  case refusal::not_committed_in_term:
    return unavailable_reply("the leader has not committed an entry of its term "
                             "yet (it was just elected); retry shortly");
  case refusal::already_member:
    return invalid(errc::already_exists,
                   who + " is already a member; remove it first or pick another id");
  case refusal::not_member:
    return invalid(errc::not_found,
                   who + " is not a member; see `conflux cluster status`");
  case refusal::last_voter:
    return invalid(errc::invalid_argument,
                   who + " is the last voter; a cluster cannot remove its last voter");
  case refusal::not_a_voter:
    return invalid(errc::invalid_argument,
                   who + " is not a voter; leadership can only move to a voter");
  case refusal::invalid_change:
    return invalid(errc::invalid_argument,
                   server == raft::no_server
                       ? std::string{"a node id must be a positive integer"}
                       : "the change does not apply to " + who +
                             " in the current configuration (see `conflux cluster "
                             "status`)");
  }
  return unavailable_reply("the request was refused by the consensus core; retry");
}

void raft_shell::fail(const std::string& msg) {
  spdlog::error("{}", msg);
  ctx_->failure.fail(msg);
  if (self_)
    self_->quit(caf::exit_reason::user_shutdown);
}

// -- ready batches ------------------------------------------------------------------

void raft_shell::process_ready() {
  while (core_->has_ready()) {
    auto rd = core_->take_ready();
    handle(rd);
  }
  // For the endpoint, which takes snapshot chunks only from this leader.
  ctx_->raft_leader.store(core_->leader());
  ctx_->raft_term.store(core_->term());
}

void raft_shell::handle(raft::ready& rd) {
  log_changes(rd);
  // PROTOCOL.md §3.2 step 2: the install goes to the applier ahead of this
  // batch's committed entries; the persist (which drops the log) waits for it.
  if (rd.snapshot)
    install_snapshot(*rd.snapshot);
  if (rd.persist_id != 0)
    merge_persist(rd);
  send_messages(rd.messages);
  for (auto& s : rd.snapshots_to_send)
    send_snapshot(s);
  if (!rd.committed.empty())
    self_->send(wiring_.applier, apply_batch{std::move(rd.committed)});
  if (tenure_) {
    for (auto& rs : rd.read_states)
      tenure_->read_confirmed(rs.context, rs.index);
    for (auto context : rd.reads_dropped)
      tenure_->read_dropped(context);
  }
  flush_persist();
}

void raft_shell::merge_persist(raft::ready& rd) {
  if (!pending_persist_)
    pending_persist_.emplace();
  auto& p = *pending_persist_;
  if (rd.snapshot) {
    // The snapshot replaces the whole log, older pending entries included.
    p.snapshot =
        storage::snapshot_point{rd.snapshot->meta.index, rd.snapshot->meta.term};
    p.entries.clear();
  }
  for (auto& e : rd.entries) {
    log_bytes_ += storage::log_store::stored_size(*e);
    clock_.observe(e->timestamp_ms);
  }
  if (!rd.entries.empty()) {
    auto first = rd.entries.front()->index;
    // The newer batch replaces any suffix the older one would have written
    // (log_store::persist drops every stored entry >= its first index).
    while (!p.entries.empty() && p.entries.back()->index >= first)
      p.entries.pop_back();
    for (auto& e : rd.entries)
      p.entries.push_back(std::move(e));
  }
  if (rd.hard)
    p.hard = rd.hard;
  pending_persist_id_ = rd.persist_id;
  issued_persist_id_ = rd.persist_id;
}

void raft_shell::flush_persist() {
  if (persist_in_flight_ || installs_in_flight_ > 0 || !pending_persist_)
    return;
  persist_in_flight_ = true;
  persist_request req{pending_persist_id_, std::move(*pending_persist_)};
  pending_persist_.reset();
  // Answered with persisted_notice to whichever role holds the core then.
  self_->send(wiring_.log, std::move(req));
}

void raft_shell::send_messages(std::vector<raft::outgoing_message>& msgs) {
  std::map<raft::server_id, rpc::peer_batch> out;
  for (auto& m : msgs) {
    if (m.after_persist && issued_persist_id_ > durable_persist_id_) {
      held_.emplace_back(issued_persist_id_, std::move(m));
      continue;
    }
    out[m.to].messages.push_back(raft::encode_message(m.msg));
  }
  send_batches(out);
}

std::vector<std::vector<std::string>> split_by_bytes(std::vector<std::string> messages,
                                                     std::size_t max_bytes) {
  std::vector<std::vector<std::string>> out;
  std::size_t bytes = 0;
  for (auto& m : messages) {
    if (out.empty() || (!out.back().empty() && bytes + m.size() > max_bytes)) {
      out.emplace_back();
      bytes = 0;
    }
    bytes += m.size();
    out.back().push_back(std::move(m));
  }
  return out;
}

void raft_shell::send_batches(std::map<raft::server_id, rpc::peer_batch>& out) {
  for (auto& [to, b] : out) {
    auto link = wiring_.links.find(to);
    if (link == wiring_.links.end()) {
      spdlog::debug("raft has no address for node {}; message dropped", to);
      continue;
    }
    // One CAF message each, in order, all under the transport's payload limit.
    for (auto& part : split_by_bytes(std::move(b.messages), max_peer_batch_bytes)) {
      rpc::peer_batch pb;
      pb.cluster_id = ctx_->opts.cluster_id;
      pb.from = ctx_->opts.id;
      pb.to = to;
      pb.from_address = own_address();
      pb.messages = std::move(part);
      self_->send(link->second, std::move(pb));
    }
  }
}

void raft_shell::log_changes(const raft::ready& rd) {
  auto id = ctx_->opts.id;
  for (auto& ev : rd.events) {
    switch (ev.kind) {
    case raft::event_kind::became_leader:
      spdlog::info("raft: node {} became leader of term {}", id, ev.term);
      break;
    case raft::event_kind::became_candidate:
      spdlog::info("raft: node {} is a candidate in term {}", id, ev.term);
      break;
    case raft::event_kind::became_pre_candidate:
      spdlog::debug("raft: node {} starts a pre-vote in term {}", id, ev.term);
      break;
    case raft::event_kind::became_follower:
      spdlog::debug("raft: node {} is a follower in term {}", id, ev.term);
      break;
    case raft::event_kind::lost_quorum:
      spdlog::warn("raft: node {} stepped down in term {}: no majority answered "
                   "within an election timeout",
                   id, ev.term);
      break;
    case raft::event_kind::membership_changed: {
      auto& c = core_->membership();
      spdlog::info("raft: node {} uses the configuration of index {}: voters {}, "
                   "learners {}, joining {}",
                   id, ev.index, fmt::join(c.voters, ","), fmt::join(c.learners, ","),
                   fmt::join(c.joining, ","));
      // Before this batch's messages leave: a server just added must have
      // a link for its first AppendEntries.
      sync_links();
      break;
    }
    case raft::event_kind::promotion_proposed:
      spdlog::info("raft: node {} caught up; proposing its promotion to voter",
                   ev.peer);
      break;
    case raft::event_kind::removed:
      spdlog::warn("raft: node {} was removed from the cluster", id);
      break;
    case raft::event_kind::transfer_started:
      spdlog::info("raft: transferring leadership to node {}", ev.peer);
      break;
    case raft::event_kind::transfer_aborted:
      spdlog::info("raft: leadership transfer to node {} aborted", ev.peer);
      break;
    case raft::event_kind::stale_persist_ack:
      spdlog::debug("raft: stale persist acknowledgement ignored");
      break;
    case raft::event_kind::dropped_non_member: {
      ctx_->counters.add("raft.dropped.non_member");
      std::uint64_t held_back = 0;
      if (drop_log_.allow(ctx_->clock->steady(), held_back))
        spdlog::warn("raft: node {} dropped a message from node {}, which is not a "
                     "member of its configuration ({} more drops not logged)",
                     id, ev.peer, held_back);
      break;
    }
    default:
      break;
    }
  }
  auto leader = core_->leader();
  if (leader != known_leader_ || core_->term() != known_term_) {
    if (leader != known_leader_ && leader != raft::no_server)
      spdlog::info("raft: leader is node {} ({}) in term {}", leader,
                   ctx_->address_of(leader), core_->term());
    else if (leader != known_leader_)
      spdlog::info("raft: no leader known in term {}", core_->term());
    known_leader_ = leader;
    known_term_ = core_->term();
  }
}

std::int64_t raft_shell::now_ms() {
  // Token and session expiry are decided from these stamps: a wall clock
  // that jumps moves them by at most 1% of the time that passes.
  auto steady = std::chrono::duration_cast<std::chrono::milliseconds>(
                    ctx_->clock->steady().time_since_epoch())
                    .count();
  return clock_.now(steady, ctx_->clock->wall_ms());
}

void raft_shell::observe_applied_timestamp() {
  if (!ctx_->state)
    return;
  auto txn = ctx_->state->begin_read();
  auto ts = txn.ok() ? txn->get_counter(counter::applied_timestamp_ms)
                     : expected<std::uint64_t>{txn.err()};
  if (ts.ok())
    return clock_.observe(static_cast<std::int64_t>(*ts));
  // Every reader slot taken is not damage; the stamps this node already
  // observed stay its floor.
  if (ts.err().code == errc::unavailable)
    spdlog::warn("raft: cannot read the state's applied timestamp: {}",
                 ts.err().message);
  else
    fail("raft: cannot read the state's applied timestamp: " + ts.err().message);
}

std::string raft_shell::own_address() const {
  auto a = ctx_->address_of(ctx_->opts.id);
  return a.empty() ? ctx_->opts.listen : a;
}

// -- snapshots ----------------------------------------------------------------------

void raft_shell::maybe_snapshot() {
  if (snapshot_taking_ || !wiring_.snapshotter)
    return;
  auto base = core_->snapshot().index;
  auto since = applied_ > base ? applied_ - base : 0;
  auto& o = ctx_->opts;
  bool by_count = o.snapshot_entries > 0 && since >= o.snapshot_entries;
  bool by_bytes = o.snapshot_bytes > 0 && since > 0 && log_bytes_ >= o.snapshot_bytes;
  if (!by_count && !by_bytes)
    return;
  if (!by_count) {
    // A snapshot drops only applied entries. When the bytes are mostly in
    // entries not yet applied (a follower working off a backlog), wait:
    // otherwise every apply would take a snapshot of the whole state.
    std::uint64_t droppable = 0;
    auto& entries = core_->log();
    for (auto i = entries.first_index(); i <= std::min(applied_, entries.last_index());
         ++i)
      droppable += storage::log_store::stored_size(*entries.at(i));
    if (droppable * 2 < o.snapshot_bytes)
      return;
  }
  snapshot_taking_ = true;
  self_->send(wiring_.snapshotter, snapshot_atom::value);
}

void raft_shell::recount_log_bytes() {
  auto& entries = core_->log();
  log_bytes_ = 0;
  for (auto i = entries.first_index(); i <= entries.last_index(); ++i)
    log_bytes_ += storage::log_store::stored_size(*entries.at(i));
}

void raft_shell::install_snapshot(raft::snapshot_to_install& snap) {
  ++installs_in_flight_;
  // Answered with installed_notice; until then persists wait (flush_persist).
  self_->send(wiring_.applier,
              install_request{snap.meta.index, snap.meta.term, std::move(snap.file)});
}

void raft_shell::send_snapshot(raft::snapshot_to_send& s) {
  auto link = wiring_.links.find(s.to);
  if (link == wiring_.links.end())
    return; // no address: the core retries after its snapshot timeout
  auto& meta = s.request.meta;
  auto path = (std::filesystem::path{ctx_->opts.data_dir} / storage::snapshot_subdir /
               storage::snapshot_file_name(meta.index, meta.term))
                  .string();
  spdlog::info("raft: sending snapshot at index {} to node {}", meta.index, s.to);
  snapshots_sending_[s.to] = meta.index;
  self_->send(link->second,
              send_snapshot_request{ctx_->opts.cluster_id, s.request.term, meta.index,
                                    meta.term, std::move(path)});
}

void raft_shell::cancel_snapshot_transfers() {
  for (auto& [to, index] : snapshots_sending_)
    if (auto link = wiring_.links.find(to); link != wiring_.links.end())
      self_->send(link->second, cancel_snapshot{});
}

// -- addresses and links --------------------------------------------------------------

void raft_shell::sync_links() {
  auto& cfg = core_->membership();
  auto resolve = [&](raft::server_id id) -> std::string {
    if (auto a = cfg.addresses.find(id); a != cfg.addresses.end())
      return a->second;
    if (auto a = ctx_->opts.peers.find(id); a != ctx_->opts.peers.end())
      return a->second;
    if (auto a = learned_addresses_.find(id); a != learned_addresses_.end())
      return a->second;
    return {};
  };
  // What address_of reports beyond --peers: the configuration's addresses,
  // and announced ones for servers neither names.
  std::map<raft::server_id, std::string> book = cfg.addresses;
  for (auto& [id, addr] : learned_addresses_)
    if (!book.count(id) && !ctx_->opts.peers.count(id))
      book.emplace(id, addr);
  ctx_->set_addresses(book);
  std::set<raft::server_id> wanted;
  for (auto id : cfg.all())
    wanted.insert(id);
  for (auto& [id, addr] : learned_addresses_)
    wanted.insert(id);
  wanted.erase(ctx_->opts.id);
  for (auto id : wanted) {
    auto addr = resolve(id);
    auto ep = parse_endpoint(addr);
    if (!ep) {
      spdlog::warn("raft: node {} has no usable address for node {} ('{}'); it cannot "
                   "send to it",
                   ctx_->opts.id, id, addr);
      continue;
    }
    auto link = wiring_.links.find(id);
    if (link != wiring_.links.end()) {
      auto known = link_addresses_.find(id);
      if (known == link_addresses_.end() || known->second.empty() ||
          known->second == addr)
        continue;
      spdlog::info("raft: node {} re-dials node {} at {} (was {})", ctx_->opts.id, id,
                   addr, known->second);
      close_link(id);
    }
    // Not linked to the holder: the link outlives any one role actor and is
    // closed by the shell (close_link, ~raft_shell).
    wiring_.links.emplace(id, self_->system().spawn(peer_link_fun, ctx_, id, *ep));
    link_addresses_[id] = addr;
  }
  std::vector<raft::server_id> gone;
  for (auto& [id, link] : wiring_.links) {
    auto known = link_addresses_.find(id);
    if (!wanted.count(id) && known != link_addresses_.end() && !known->second.empty())
      gone.push_back(id);
  }
  for (auto id : gone) {
    spdlog::info("raft: node {} closes its link to node {} (no longer a member)",
                 ctx_->opts.id, id);
    close_link(id);
  }
}

void raft_shell::close_link(raft::server_id id) {
  auto link = wiring_.links.find(id);
  if (link == wiring_.links.end())
    return;
  caf::anon_send_exit(link->second, caf::exit_reason::user_shutdown);
  wiring_.links.erase(link);
  link_addresses_.erase(id);
  // A transfer over the closed link will never report: report it failed, so
  // that the core falls back to probing (after this batch, as any notice).
  if (auto s = snapshots_sending_.find(id); s != snapshots_sending_.end())
    self_->send(self_, snapshot_sent_notice{id, s->second, false});
}

} // namespace conflux::actors
