#include "actors/raft_actor.hpp"

#include "actors/endpoint.hpp"
#include "actors/peer_link.hpp"
#include "protocol/raft/wire.hpp"
#include "storage/snapshot_file.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <set>
#include <spdlog/spdlog.h>

namespace conflux::actors {

const char* role_name(shell_role r) {
  switch (r) {
  case shell_role::follower:
    return "follower";
  case shell_role::candidate:
    return "candidate";
  case shell_role::leader:
    return "leader";
  case shell_role::learner:
    return "learner";
  }
  return "unknown";
}

// -- shared handlers ------------------------------------------------------------

void raft_state::on_peer_batch(rpc::peer_batch& b) {
  if (b.cluster_id != ctx->opts.cluster_id || b.to != ctx->opts.id) {
    spdlog::warn("raft dropped a batch from node {} for cluster '{}' node {} (this is "
                 "cluster '{}' node {}): check --peers and --cluster-id",
                 b.from, b.cluster_id, b.to, ctx->opts.cluster_id, ctx->opts.id);
    return;
  }
  if (!b.from_address.empty() && b.from != ctx->opts.id &&
      b.from_address.size() <= raft::max_address_size) {
    auto known = learned_addresses.find(b.from);
    if ((known == learned_addresses.end() || known->second != b.from_address) &&
        parse_endpoint(b.from_address)) {
      learned_addresses[b.from] = b.from_address;
      sync_links();
    }
  }
  for (auto& bytes : b.messages) {
    auto m = raft::decode_message(bytes);
    if (!m.ok()) {
      spdlog::warn("raft dropped an undecodable message from node {}: {}", b.from,
                   to_string(m.err()));
      continue;
    }
    core->step(b.from, std::move(*m));
    process_ready();
  }
}

void raft_state::on_tick(std::uint64_t epoch) {
  if (epoch != tick_epoch)
    return;
  ++ticks;
  core->observe_time(now_ms());
  core->tick();
  process_ready();
  expire_reads();
  self->delayed_send(self, ctx->opts.tick, tick_atom::value, epoch);
}

rpc::status_reply raft_state::status() const {
  rpc::status_reply s;
  s.id = ctx->opts.id;
  s.address = ctx->address_of(ctx->opts.id);
  s.role = role_name(current);
  if (core->current_role() == raft::role::pre_candidate)
    s.role = "pre_candidate";
  s.term = core->term();
  s.commit = core->commit_index();
  s.applied = ctx->applied.load();
  s.leader_id = core->leader();
  s.leader_address = ctx->address_of(core->leader());
  s.cluster_id = ctx->opts.cluster_id;
  s.sessions = ctx->sessions.load();
  auto& cfg = core->membership();
  auto member = [&](raft::server_id id, const char* kind) {
    rpc::member_entry m;
    m.id = id;
    m.address = ctx->address_of(id);
    m.kind = kind;
    if (core->is_leader()) {
      auto last = core->log().last_index();
      m.match = last;
      if (id != ctx->opts.id) {
        auto* pr = core->progress_of(id);
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

// -- client requests --------------------------------------------------------------

raft_reply raft_state::unavailable_reply(std::string why) const {
  raft_reply r;
  r.err = error{errc::unavailable, std::move(why)};
  r.leader_id = core->leader();
  return r;
}

raft_reply raft_state::not_leader_reply() const {
  raft_reply r;
  auto leader = core->leader();
  r.leader_id = leader;
  if (leader == raft::no_server)
    r.err = error{errc::unavailable, "node " + std::to_string(ctx->opts.id) +
                                         " knows no leader (an election is under way); "
                                         "retry shortly"};
  else
    r.err = error{errc::not_leader, "node " + std::to_string(ctx->opts.id) +
                                        " is not the leader; send writes to node " +
                                        std::to_string(leader) + " at " +
                                        ctx->address_of(leader)};
  return r;
}

raft_reply raft_state::reply_for(const raft::request_result& r,
                                 raft::server_id server) const {
  using raft::refusal;
  auto who = "node " + std::to_string(server);
  auto invalid = [&](errc code, std::string why) {
    raft_reply out;
    out.err = error{code, std::move(why)};
    out.leader_id = core->leader();
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

raft_reply raft_state::lost_write_reply() const {
  // Names the leader this node knows, so the client redirects at once.
  raft_reply r;
  r.err = error{errc::not_leader,
                "leadership changed before the write committed, so it was not "
                "applied; retry it with the same session sequence"};
  r.leader_id = core->leader();
  return r;
}

caf::result<raft_reply> raft_state::propose(propose_request& req) {
  auto r = core->propose(std::move(req.data), now_ms());
  if (!r.ok()) {
    auto reply = reply_for(r);
    process_ready();
    return reply;
  }
  if (r.index <= applied) {
    // Cannot happen (a new entry lies beyond the commit index); answer rather
    // than leave the client hanging.
    raft_reply reply;
    reply.err = error{errc::timeout, "the write's outcome is no longer known here; "
                                     "retry it with the same session sequence"};
    process_ready();
    return reply;
  }
  auto trp = self->make_response_promise<raft_reply>();
  // Registered before the entry can commit (which takes at least this
  // process_ready and the applier's report), in this actor: nothing can
  // answer the entry before the waiter exists.
  writes.emplace(r.index, pending_write{core->term(), trp});
  process_ready();
  return trp;
}

caf::result<raft_reply> raft_state::read_index() {
  auto context = next_read_context++;
  auto r = core->read_index(context);
  if (!r.ok()) {
    auto reply = reply_for(r);
    process_ready();
    return reply;
  }
  auto trp = self->make_response_promise<raft_reply>();
  reads.emplace(context, pending_read{trp, ticks});
  process_ready();
  return trp;
}

raft_reply raft_state::redirect_admin() const {
  auto r = not_leader_reply();
  if (r.err && r.err->code == errc::not_leader)
    r.err->message = "node " + std::to_string(ctx->opts.id) +
                     " is not the leader; membership and leadership requests go to "
                     "node " +
                     std::to_string(core->leader()) + " at " +
                     ctx->address_of(core->leader());
  return r;
}

caf::result<raft_reply> raft_state::change_membership(membership_request& req) {
  using kind = raft::membership_change_kind;
  const auto id = req.server;
  if ((req.kind == kind::add_voter || req.kind == kind::add_learner) &&
      (req.address.size() > raft::max_address_size || !parse_endpoint(req.address))) {
    raft_reply r;
    r.err = error{errc::invalid_argument,
                  "'" + req.address + "' is not HOST:PORT (e.g. 127.0.0.1:7104)"};
    r.leader_id = core->leader();
    return r;
  }
  raft::membership_change change{req.kind, id};
  // Record what this leader knows of the members the configuration has no
  // address for, so that every member (and a server joining later) can reach
  // them without --peers.
  auto& cfg = core->membership();
  for (auto m : cfg.all())
    if (!cfg.addresses.count(m))
      if (auto a = ctx->address_of(m); !a.empty())
        change.addresses[m] = a;
  if (!req.address.empty())
    change.addresses[id] = req.address;
  auto r = core->change_membership(change);
  if (r.reason == raft::refusal::leader_handover) {
    spdlog::info("raft: node {} hands leadership to node {} before its own removal",
                 ctx->opts.id, r.leader_hint);
    auto trp = self->make_response_promise<raft_reply>();
    transfers.push_back(pending_transfer{r.leader_hint, ticks, true, trp});
    process_ready();
    return trp;
  }
  if (!r.ok()) {
    auto reply = reply_for(r, id);
    process_ready();
    return reply;
  }
  spdlog::info("raft: node {} proposes a membership change at index {}: {} {}",
               ctx->opts.id, r.index,
               req.kind == kind::add_voter     ? "add"
               : req.kind == kind::add_learner ? "add learner"
               : req.kind == kind::promote     ? "promote"
                                               : "remove",
               id);
  auto trp = self->make_response_promise<raft_reply>();
  // Answered by on_applied like a write: the entry's term is checked there.
  writes.emplace(r.index, pending_write{core->term(), trp});
  process_ready();
  return trp;
}

caf::result<raft_reply> raft_state::transfer(transfer_request& req) {
  if (req.target == ctx->opts.id && core->is_leader()) {
    raft_reply r;
    r.index = core->term();
    return r;
  }
  auto r = core->transfer_leadership(req.target);
  if (!r.ok()) {
    auto reply = reply_for(r, req.target);
    process_ready();
    return reply;
  }
  auto trp = self->make_response_promise<raft_reply>();
  transfers.push_back(pending_transfer{req.target, ticks, false, trp});
  process_ready();
  return trp;
}

void raft_state::settle_transfers() {
  if (transfers.empty())
    return;
  // A transfer that has not finished in two maximal election timeouts will
  // not (the core aborts its own attempt after one).
  auto limit = static_cast<std::uint64_t>(4 * ctx->opts.election_ticks);
  for (auto i = transfers.begin(); i != transfers.end();) {
    auto& t = *i;
    std::optional<raft_reply> answer;
    auto leader = core->leader();
    if (!core->is_leader() && leader != raft::no_server) {
      if (t.handover) {
        // Removing this node: the client resends the removal to the new leader.
        raft_reply r;
        r.leader_id = leader;
        r.err = error{errc::not_leader,
                      "leadership moved to node " + std::to_string(leader) +
                          " before removing node " + std::to_string(ctx->opts.id) +
                          "; send the removal there"};
        answer = std::move(r);
      } else if (leader == t.target) {
        raft_reply r;
        r.index = core->term();
        answer = std::move(r);
      } else {
        answer = unavailable_reply("leadership moved to node " +
                                   std::to_string(leader) + " instead of node " +
                                   std::to_string(t.target) + "; retry the transfer");
      }
    } else if (core->is_leader() && core->transfer_target() != t.target) {
      answer = unavailable_reply("node " + std::to_string(t.target) +
                                 " did not take over within an election timeout (is it "
                                 "caught up and reachable?); retry");
    } else if (ticks - t.started_tick > limit) {
      answer = unavailable_reply("the leadership transfer did not finish in time; "
                                 "check `conflux cluster status` and retry");
    }
    if (answer) {
      t.rp.deliver(std::move(*answer));
      i = transfers.erase(i);
    } else {
      ++i;
    }
  }
}

void raft_state::sync_links() {
  auto& cfg = core->membership();
  auto resolve = [&](raft::server_id id) -> std::string {
    if (auto a = cfg.addresses.find(id); a != cfg.addresses.end())
      return a->second;
    if (auto a = ctx->opts.peers.find(id); a != ctx->opts.peers.end())
      return a->second;
    if (auto a = learned_addresses.find(id); a != learned_addresses.end())
      return a->second;
    return {};
  };
  // What address_of reports beyond --peers: the configuration's addresses,
  // and announced ones for servers neither names.
  std::map<raft::server_id, std::string> book = cfg.addresses;
  for (auto& [id, addr] : learned_addresses)
    if (!book.count(id) && !ctx->opts.peers.count(id))
      book.emplace(id, addr);
  ctx->set_addresses(book);
  std::set<raft::server_id> wanted;
  for (auto id : cfg.all())
    wanted.insert(id);
  for (auto& [id, addr] : learned_addresses)
    wanted.insert(id);
  wanted.erase(ctx->opts.id);
  for (auto id : wanted) {
    auto addr = resolve(id);
    auto ep = parse_endpoint(addr);
    if (!ep) {
      spdlog::warn("raft: node {} has no usable address for node {} ('{}'); it cannot "
                   "send to it",
                   ctx->opts.id, id, addr);
      continue;
    }
    auto link = links.find(id);
    if (link != links.end()) {
      auto known = link_addresses.find(id);
      if (known == link_addresses.end() || known->second.empty() ||
          known->second == addr)
        continue;
      spdlog::info("raft: node {} re-dials node {} at {} (was {})", ctx->opts.id, id,
                   addr, known->second);
      self->unlink_from(link->second);
      self->send_exit(link->second, caf::exit_reason::user_shutdown);
      links.erase(link);
    }
    links.emplace(id, self->spawn<caf::linked>(peer_link_fun, ctx->opts.id, id, *ep));
    link_addresses[id] = addr;
  }
  for (auto i = links.begin(); i != links.end();) {
    auto known = link_addresses.find(i->first);
    if (wanted.count(i->first) || known == link_addresses.end() ||
        known->second.empty()) {
      ++i;
      continue;
    }
    spdlog::info("raft: node {} closes its link to node {} (no longer a member)",
                 ctx->opts.id, i->first);
    self->unlink_from(i->second);
    self->send_exit(i->second, caf::exit_reason::user_shutdown);
    link_addresses.erase(known);
    i = links.erase(i);
  }
}

void raft_state::expire_reads() {
  // A read a follower forwarded gets no answer if the leader fails (PROTOCOL.md
  // §3.2 step 7); fail it after two maximal election timeouts.
  auto limit = static_cast<std::uint64_t>(4 * ctx->opts.election_ticks);
  for (auto i = reads.begin(); i != reads.end();) {
    if (ticks - i->second.started_tick > limit) {
      i->second.rp.deliver(unavailable_reply("the leader did not confirm the read in "
                                             "time (leadership may be moving); retry"));
      i = reads.erase(i);
    } else {
      ++i;
    }
  }
}

// -- snapshots ----------------------------------------------------------------------

snapshot_meta_reply raft_state::snapshot_meta(const snapshot_meta_request& r) const {
  snapshot_meta_reply out;
  if (r.index <= core->snapshot().index || r.index > core->applied_index())
    return out;
  auto term = core->log().term_at(r.index);
  if (!term)
    return out;
  out.ok = true;
  out.term = *term;
  out.membership = raft::encode_membership(core->membership_at(r.index));
  return out;
}

void raft_state::maybe_snapshot() {
  if (snapshot_taking || !snapshotter)
    return;
  auto base = core->snapshot().index;
  auto since = applied > base ? applied - base : 0;
  auto& o = ctx->opts;
  bool by_count = o.snapshot_entries > 0 && since >= o.snapshot_entries;
  bool by_bytes = o.snapshot_bytes > 0 && since > 0 && log_bytes >= o.snapshot_bytes;
  if (!by_count && !by_bytes)
    return;
  if (!by_count) {
    // A snapshot drops only applied entries. When the bytes are mostly in
    // entries not yet applied (a follower working off a backlog), wait:
    // otherwise every apply would take a snapshot of the whole state.
    std::uint64_t droppable = 0;
    auto& entries = core->log();
    for (auto i = entries.first_index(); i <= std::min(applied, entries.last_index());
         ++i)
      droppable += entries.at(i)->data.size() + 28;
    if (droppable * 2 < o.snapshot_bytes)
      return;
  }
  snapshot_taking = true;
  self->send(snapshotter, snapshot_atom::value);
}

void raft_state::recount_log_bytes() {
  auto& entries = core->log();
  log_bytes = 0;
  for (auto i = entries.first_index(); i <= entries.last_index(); ++i)
    log_bytes += entries.at(i)->data.size() + 28;
}

void raft_state::on_snapshot_report(snapshot_report& r) {
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
    // In this shell the data of an InstallSnapshot is the path of the verified
    // file, not its bytes (PROTOCOL.md "Snapshot transfer").
    req.data = std::move(r.path);
    core->step(r.from, std::move(req));
    process_ready();
    return;
  }
  snapshot_taking = false;
  if (r.index == 0)
    return;
  core->snapshot_taken(r.index);
  if (core->snapshot().index == r.index) {
    // The file is durable: the stored prefix may go.
    self->send(log, compact_request{r.index});
    recount_log_bytes();
  }
  process_ready();
}

void raft_state::install_snapshot(raft::snapshot_to_install& snap) {
  ++installs_in_flight;
  install_request req{snap.meta.index, snap.meta.term, std::move(snap.data)};
  self->request(applier, caf::infinite, std::move(req))
      .then(
          [this](std::uint64_t index) {
            --installs_in_flight;
            if (index == 0)
              return; // the applier failed and stops the node
            on_installed(index);
            flush_persist();
          },
          [this](caf::error& e) {
            if (!ctx->stopping.load())
              fail("raft lost its applier during a snapshot install: " +
                   self->system().render(e));
          });
}

void raft_state::on_installed(raft::index_t index) {
  applied = std::max(applied, index);
  // Writes this node proposed at or below the snapshot point get no result
  // of their own; they may or may not be in it, so the client retries with
  // the same session sequence (answered from the session if it applied).
  auto end = writes.upper_bound(index);
  for (auto i = writes.begin(); i != end; ++i)
    i->second.rp.deliver(lost_write_reply());
  writes.erase(writes.begin(), end);
  recount_log_bytes();
  release_reads();
}

void raft_state::send_snapshot(raft::snapshot_to_send& s) {
  auto link = links.find(s.to);
  if (link == links.end())
    return; // no address: the core retries after its snapshot timeout
  auto& meta = s.request.meta;
  auto path = (std::filesystem::path{ctx->opts.data_dir} / storage::snapshot_subdir /
               storage::snapshot_file_name(meta.index, meta.term))
                  .string();
  spdlog::info("raft: sending snapshot at index {} to node {}", meta.index, s.to);
  auto to = s.to;
  send_snapshot_request req{ctx->opts.cluster_id, s.request.term, meta.index, meta.term,
                            std::move(path)};
  self->request(link->second, caf::infinite, std::move(req))
      .then(
          [this, to](bool ok) {
            spdlog::info("raft: snapshot to node {} {}", to,
                         ok ? "delivered" : "failed");
            core->report_snapshot(to, ok);
            process_ready();
          },
          [this, to](caf::error&) {
            // The link went away (closed on a configuration change, or shutdown).
            core->report_snapshot(to, false);
            process_ready();
          });
}

// -- ready batches ------------------------------------------------------------------

void raft_state::process_ready() {
  while (core->has_ready()) {
    auto rd = core->take_ready();
    handle(rd);
  }
  switch_role();
  settle_transfers();
}

void raft_state::handle(raft::ready& rd) {
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
    self->send(applier, apply_batch{std::move(rd.committed)});
  for (auto& rs : rd.read_states) {
    auto i = reads.find(rs.context);
    if (i == reads.end())
      continue;
    read_waiters.emplace(rs.index, std::move(i->second.rp));
    reads.erase(i);
  }
  release_reads();
  for (auto context : rd.reads_dropped) {
    auto i = reads.find(context);
    if (i == reads.end())
      continue;
    i->second.rp.deliver(not_leader_reply());
    reads.erase(i);
  }
  flush_persist();
}

// -- what the applier applied ----------------------------------------------------

void raft_state::on_applied(applied_notice& n) {
  applied = std::max(applied, n.applied);
  for (auto& o : n.results) {
    auto [lo, hi] = writes.equal_range(o.index);
    for (auto i = lo; i != hi; ++i) {
      if (i->second.term == o.term) {
        raft_reply r;
        r.result = o.result;
        r.index = o.index;
        i->second.rp.deliver(std::move(r));
      } else {
        i->second.rp.deliver(lost_write_reply());
      }
    }
    writes.erase(lo, hi);
  }
  maybe_snapshot();
  // Log terms never decrease, so a waiter whose entry has a term below the
  // newest applied term can never see its entry commit at any index: answer
  // it now instead of when the log happens to reach its index.
  for (auto i = writes.begin(); i != writes.end();) {
    if (i->second.term < n.newest_term) {
      i->second.rp.deliver(lost_write_reply());
      i = writes.erase(i);
    } else {
      ++i;
    }
  }
  release_reads();
}

void raft_state::release_reads() {
  auto end = read_waiters.upper_bound(applied);
  for (auto i = read_waiters.begin(); i != end; ++i) {
    raft_reply r;
    r.index = applied;
    i->second.deliver(std::move(r));
  }
  read_waiters.erase(read_waiters.begin(), end);
}

void raft_state::merge_persist(raft::ready& rd) {
  if (!pending_persist)
    pending_persist.emplace();
  auto& p = *pending_persist;
  if (rd.snapshot) {
    // The snapshot replaces the whole log, older pending entries included.
    p.snapshot =
        storage::snapshot_point{rd.snapshot->meta.index, rd.snapshot->meta.term};
    p.entries.clear();
  }
  for (auto& e : rd.entries)
    log_bytes += e->data.size() + 28;
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
  pending_persist_id = rd.persist_id;
  issued_persist_id = rd.persist_id;
}

void raft_state::flush_persist() {
  if (persist_in_flight || installs_in_flight > 0 || !pending_persist)
    return;
  persist_in_flight = true;
  persist_request req{pending_persist_id, std::move(*pending_persist)};
  pending_persist.reset();
  self->request(log, caf::infinite, std::move(req))
      .then([this](std::uint64_t id) { on_persisted(id); },
            [this](caf::error& e) {
              if (!ctx->stopping.load())
                fail("raft lost its log store: " + self->system().render(e));
            });
}

void raft_state::on_persisted(std::uint64_t id) {
  persist_in_flight = false;
  durable_persist_id = id;
  core->persisted(id);
  std::vector<raft::outgoing_message> ready_now;
  while (!held.empty() && held.front().first <= id) {
    ready_now.push_back(std::move(held.front().second));
    held.pop_front();
  }
  // Already cleared to leave: send without holding them again.
  std::map<raft::server_id, rpc::peer_batch> out;
  for (auto& m : ready_now)
    out[m.to].messages.push_back(raft::encode_message(m.msg));
  for (auto& [to, b] : out) {
    auto link = links.find(to);
    if (link == links.end())
      continue;
    b.cluster_id = ctx->opts.cluster_id;
    b.from = ctx->opts.id;
    b.to = to;
    b.from_address = own_address();
    self->send(link->second, std::move(b));
  }
  process_ready();
  flush_persist();
}

void raft_state::send_messages(std::vector<raft::outgoing_message>& msgs) {
  std::map<raft::server_id, rpc::peer_batch> out;
  for (auto& m : msgs) {
    if (m.after_persist && issued_persist_id > durable_persist_id) {
      held.emplace_back(issued_persist_id, std::move(m));
      continue;
    }
    out[m.to].messages.push_back(raft::encode_message(m.msg));
  }
  for (auto& [to, b] : out) {
    auto link = links.find(to);
    if (link == links.end()) {
      spdlog::debug("raft has no address for node {}; message dropped", to);
      continue;
    }
    b.cluster_id = ctx->opts.cluster_id;
    b.from = ctx->opts.id;
    b.to = to;
    b.from_address = own_address();
    self->send(link->second, std::move(b));
  }
}

void raft_state::log_changes(const raft::ready& rd) {
  for (auto& ev : rd.events) {
    switch (ev.kind) {
    case raft::event_kind::became_leader:
      spdlog::info("raft: node {} became leader of term {}", ctx->opts.id, ev.term);
      break;
    case raft::event_kind::became_candidate:
      spdlog::info("raft: node {} is a candidate in term {}", ctx->opts.id, ev.term);
      break;
    case raft::event_kind::became_pre_candidate:
      spdlog::debug("raft: node {} starts a pre-vote in term {}", ctx->opts.id,
                    ev.term);
      break;
    case raft::event_kind::became_follower:
      spdlog::debug("raft: node {} is a follower in term {}", ctx->opts.id, ev.term);
      break;
    case raft::event_kind::lost_quorum:
      spdlog::warn("raft: node {} stepped down in term {}: no majority answered "
                   "within an election timeout",
                   ctx->opts.id, ev.term);
      break;
    case raft::event_kind::membership_changed: {
      auto& c = core->membership();
      spdlog::info("raft: node {} uses the configuration of index {}: voters {}, "
                   "learners {}, joining {}",
                   ctx->opts.id, ev.index, fmt::join(c.voters, ","),
                   fmt::join(c.learners, ","), fmt::join(c.joining, ","));
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
      spdlog::warn("raft: node {} was removed from the cluster", ctx->opts.id);
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
    default:
      break;
    }
  }
  auto leader = core->leader();
  if (leader != known_leader || core->term() != known_term) {
    if (leader != known_leader && leader != raft::no_server)
      spdlog::info("raft: leader is node {} ({}) in term {}", leader,
                   ctx->address_of(leader), core->term());
    else if (leader != known_leader)
      spdlog::info("raft: no leader known in term {}", core->term());
    known_leader = leader;
    known_term = core->term();
  }
}

shell_role raft_state::role_of_core() const {
  switch (core->current_role()) {
  case raft::role::leader:
    return shell_role::leader;
  case raft::role::candidate:
  case raft::role::pre_candidate:
    return shell_role::candidate;
  case raft::role::follower:
    break;
  }
  auto& cfg = core->membership();
  if (cfg.is_learner(ctx->opts.id) || cfg.is_joining(ctx->opts.id))
    return shell_role::learner;
  return shell_role::follower;
}

void raft_state::switch_role() {
  auto r = role_of_core();
  if (r == current)
    return;
  spdlog::info("raft: node {} role {} -> {} (term {})", ctx->opts.id,
               role_name(current), role_name(r), core->term());
  current = r;
  switch (r) {
  case shell_role::follower:
    self->become(follower_behavior(self));
    break;
  case shell_role::candidate:
    self->become(candidate_behavior(self));
    break;
  case shell_role::leader:
    self->become(leader_behavior(self));
    break;
  case shell_role::learner:
    self->become(learner_behavior(self));
    break;
  }
}

std::int64_t raft_state::now_ms() {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  // Entries this leader stamps never go back in time, even if the wall clock
  // does (session expiry is computed from these stamps).
  last_timestamp_ms = std::max(last_timestamp_ms, static_cast<std::int64_t>(now));
  return last_timestamp_ms;
}

std::string raft_state::own_address() const {
  auto a = ctx->address_of(ctx->opts.id);
  return a.empty() ? ctx->opts.listen : a;
}

void raft_state::fail(const std::string& msg) {
  spdlog::error("{}", msg);
  ctx->failure.fail(msg);
  self->quit(caf::exit_reason::user_shutdown);
}

raft_actor_impl::behavior_type
raft_fun(raft_self self, node_context_ptr ctx, raft::core_config cfg,
         raft::restored_state st, log_store_actor log, applier_actor applier,
         std::map<raft::server_id, peer_link_actor> links,
         snapshotter_actor snapshotter) {
  auto& s = self->state;
  s.self = self;
  s.ctx = std::move(ctx);
  s.applied = st.applied;
  s.core = std::make_unique<raft::core>(cfg, std::move(st));
  s.log = std::move(log);
  s.applier = std::move(applier);
  s.links = std::move(links);
  s.snapshotter = std::move(snapshotter);
  s.recount_log_bytes();
  s.known_term = s.core->term();
  for (auto& [id, l] : s.links)
    s.link_addresses.emplace(id, std::string{});
  s.sync_links();
  spdlog::info("raft: node {} starts as follower in term {} (commit {}, last index {})",
               s.ctx->opts.id, s.core->term(), s.core->commit_index(),
               s.core->log().last_index());
  // The applier reports here; told before any apply_batch can reach it.
  self->send(s.applier, init_atom::value,
             caf::actor_cast<applied_listener_actor>(self));
  if (s.snapshotter)
    self->send(s.snapshotter, init_atom::value,
               caf::actor_cast<snapshot_listener_actor>(self));
  // The first tick also hands out what the restored core has ready (entries
  // committed but not yet applied before a restart).
  self->send(self, tick_atom::value, s.tick_epoch);
  s.current = s.role_of_core();
  switch (s.current) {
  case shell_role::learner:
    return learner_behavior(self);
  case shell_role::leader:
    return leader_behavior(self);
  case shell_role::candidate:
    return candidate_behavior(self);
  default:
    return follower_behavior(self);
  }
}

} // namespace conflux::actors
