#include "tests/sim/cluster.hpp"

#include "tests/protocol/raft/builders.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace conflux::sim {

std::string encode_state(const kv_state& s) {
  std::ostringstream os;
  os << s.applied << '\n';
  for (const auto& [k, v] : s.data)
    os << k << '\n' << v << '\n';
  return os.str();
}

kv_state decode_state(const std::string& bytes) {
  kv_state s;
  std::istringstream is(bytes);
  std::string line;
  if (!std::getline(is, line))
    return s;
  s.applied = std::stoull(line);
  std::string k;
  std::string v;
  while (std::getline(is, k) && std::getline(is, v))
    s.data[k] = v;
  return s;
}

cluster::cluster(std::vector<server_id> ids, std::uint64_t seed, core_config base)
    : base_(base), seed_(seed) {
  membership boot;
  boot.voters = ids;
  for (auto id : ids) {
    auto n = std::make_unique<sim_node>();
    n->id = id;
    n->bootstrap = boot;
    restored_state st;
    st.bootstrap = boot;
    n->raft = make_core(*n, std::move(st));
    nodes_.emplace(id, std::move(n));
  }
}

std::unique_ptr<core> cluster::make_core(sim_node& n, restored_state st) {
  core_config cfg = base_;
  cfg.id = n.id;
  cfg.seed = seed_ * 1000003u + n.id * 7919u + n.incarnation;
  return std::make_unique<core>(cfg, std::move(st));
}

std::vector<server_id> cluster::ids() const {
  std::vector<server_id> out;
  for (const auto& [id, n] : nodes_)
    out.push_back(id);
  return out;
}

server_id cluster::leader() const {
  server_id best = no_server;
  term_t best_term = 0;
  for (const auto& [id, n] : nodes_) {
    if (n->up && n->raft->is_leader() && n->raft->term() >= best_term) {
      best = id;
      best_term = n->raft->term();
    }
  }
  return best;
}

std::size_t cluster::count_events(event_kind k, server_id server) const {
  return static_cast<std::size_t>(
      std::count_if(events_.begin(), events_.end(), [&](const auto& e) {
        return e.ev.kind == k && (server == no_server || e.server == server);
      }));
}

void cluster::fail(std::string what) {
  if (!violation_)
    violation_ = std::move(what);
}

void cluster::check(sim_node& n) {
  if (auto v = checker_.check(*n.raft))
    fail(*v);
}

void cluster::process(sim_node& n) {
  for (int guard = 0; guard < 1000 && n.up && n.raft->has_ready(); ++guard)
    handle_ready(n, n.raft->take_ready());
  if (n.up)
    check(n);
}

void cluster::apply(sim_node& n, const entry_ptr& e) {
  if (auto v = checker_.on_apply(n.id, e))
    fail(*v);
  if (e->kind == entry_kind::command) {
    auto eq = e->data.find('=');
    auto key = e->data.substr(0, eq);
    auto value = e->data.substr(eq + 1);
    n.sm.data[key] = value;
    if (history_indexes_.insert(e->index).second)
      history_[key][e->index] = value;
  }
  n.sm.applied = e->index;
}

void cluster::handle_ready(sim_node& n, ready r) {
  if (on_ready)
    on_ready(n.id, r);
  for (const auto& ev : r.events)
    events_.push_back(recorded_event{n.id, ev});
  if (r.snapshot) {
    // Installed in memory at once so the committed entries that follow apply
    // on top of it; made durable with the rest of this write.
    n.sm = decode_state(r.snapshot->data);
    n.snap_meta = r.snapshot->meta;
    n.snap_data = r.snapshot->data;
    checker_.on_snapshot_installed(n.id, r.snapshot->meta.index);
  }
  for (const auto& e : r.committed)
    apply(n, e);
  for (const auto& s : r.snapshots_to_send) {
    auto req = s.request;
    if (n.snap_meta.index != req.meta.index) {
      std::ostringstream os;
      os << "server " << n.id << " asked to send snapshot " << req.meta.index
         << " but holds " << n.snap_meta.index;
      fail(os.str());
      continue;
    }
    req.data = n.snap_data;
    post(n.id, outgoing_message{s.to, std::move(req), false});
    // Handed to the network: as far as this shell can tell, sent.
    n.raft->report_snapshot(s.to, true);
  }
  std::vector<outgoing_message> after;
  for (auto& m : r.messages) {
    if (m.after_persist)
      after.push_back(std::move(m));
    else
      post(n.id, std::move(m));
  }
  if (r.persist_id != 0) {
    pending_write w;
    w.persist_id = r.persist_id;
    w.hard = r.hard;
    w.snapshot = std::move(r.snapshot);
    w.entries = std::move(r.entries);
    w.after = std::move(after);
    n.writes.push_back(std::move(w));
  } else if (!n.writes.empty()) {
    // PROTOCOL.md: after-persist messages wait for every earlier persist.
    for (auto& m : after)
      n.writes.back().after.push_back(std::move(m));
  } else {
    for (auto& m : after)
      post(n.id, std::move(m));
  }
  for (const auto& rs : r.read_states)
    n.reads.emplace_back(rs.context, rs.index);
  for (auto ctx : r.reads_dropped) {
    auto it = reads_.find(ctx);
    if (it != reads_.end() && !it->second.done) {
      it->second.done = true;
      it->second.failed = true;
    }
  }
  serve_reads(n);
}

std::string cluster::expected_value(const std::string& key, index_t index) const {
  auto k = history_.find(key);
  if (k == history_.end())
    return {};
  auto it = k->second.upper_bound(index);
  if (it == k->second.begin())
    return {};
  return std::prev(it)->second;
}

void cluster::serve_reads(sim_node& n) {
  auto it = n.reads.begin();
  while (it != n.reads.end()) {
    if (n.sm.applied < it->second) {
      ++it;
      continue;
    }
    auto r = reads_.find(it->first);
    if (r != reads_.end() && !r->second.done) {
      auto& cr = r->second;
      cr.done = true;
      cr.value = n.sm.data.count(cr.key) ? n.sm.data[cr.key] : std::string{};
      if (it->second < cr.min_index) {
        std::ostringstream os;
        os << "stale read at server " << n.id << ": read index " << it->second
           << " below commit index " << cr.min_index << " known when the read began";
        fail(os.str());
      }
      auto want = expected_value(cr.key, n.sm.applied);
      if (cr.value != want) {
        std::ostringstream os;
        os << "read of " << cr.key << " at server " << n.id << " saw '" << cr.value
           << "' but the committed log up to " << n.sm.applied << " says '" << want
           << "'";
        fail(os.str());
      }
    }
    it = n.reads.erase(it);
  }
}

void cluster::post(server_id from, outgoing_message m) {
  net_.push_back(envelope{from, m.to, std::move(m.msg)});
}

void cluster::tick(server_id id) {
  auto& n = node(id);
  if (!n.up)
    return;
  n.raft->tick();
  process(n);
}

void cluster::tick_all() {
  for (auto& [id, n] : nodes_)
    tick(id);
}

void cluster::deliver(std::size_t i) {
  auto env = std::move(net_[i]);
  net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i));
  auto it = nodes_.find(env.to);
  if (it == nodes_.end() || !it->second->up || is_cut(env.from, env.to))
    return;
  auto& n = *it->second;
  static const bool trace = std::getenv("CONFLUX_SIM_TRACE") != nullptr;
  if (trace) {
    std::cerr << env.from << "->" << env.to << " " << message_name(env.msg) << " t"
              << term_of(env.msg);
    if (auto* a = std::get_if<append_entries_request>(&env.msg)) {
      std::cerr << " prev " << a->prev_log_index << "/" << a->prev_log_term << " n"
                << a->entries.size() << " commit " << a->leader_commit;
    } else if (auto* r = std::get_if<append_entries_response>(&env.msg)) {
      std::cerr << (r->success ? " ok " : " reject ") << r->index << " hint "
                << r->hint_index << "/" << r->hint_term;
    } else if (auto* v = std::get_if<request_vote_response>(&env.msg)) {
      std::cerr << (v->granted ? " granted" : " refused")
                << (v->pre_vote ? " pre" : "");
    }
    std::cerr << "\n";
  }
  n.raft->step(env.from, std::move(env.msg));
  process(n);
}

std::size_t cluster::deliver_if(const std::function<bool(const envelope&)>& pred,
                                int max) {
  std::size_t delivered = 0;
  for (int k = 0; k < max; ++k) {
    auto it = std::find_if(net_.begin(), net_.end(), pred);
    if (it == net_.end())
      break;
    deliver(static_cast<std::size_t>(it - net_.begin()));
    ++delivered;
  }
  return delivered;
}

std::size_t cluster::drop_if(const std::function<bool(const envelope&)>& pred) {
  auto before = net_.size();
  net_.erase(std::remove_if(net_.begin(), net_.end(), pred), net_.end());
  return before - net_.size();
}

bool cluster::persist_one(server_id id) {
  auto& n = node(id);
  if (!n.up || n.disk_stalled || n.writes.empty())
    return false;
  auto w = std::move(n.writes.front());
  n.writes.pop_front();
  auto& d = n.d;
  if (w.hard)
    d.hard = *w.hard;
  if (w.snapshot) {
    d.snap = w.snapshot->meta;
    d.snap_data = w.snapshot->data;
    d.entries.clear();
  }
  if (!w.entries.empty()) {
    auto first = w.entries.front()->index;
    while (!d.entries.empty() && d.entries.back()->index >= first)
      d.entries.pop_back();
    for (auto& e : w.entries) {
      if (e->index <= d.snap.index)
        continue;
      if (d.entries.empty() ? e->index != d.snap.index + 1
                            : e->index != d.entries.back()->index + 1) {
        std::ostringstream os;
        os << "server " << id << " persisted a gap before entry " << e->index;
        fail(os.str());
        break;
      }
      d.entries.push_back(e);
    }
  }
  n.raft->persisted(w.persist_id);
  for (auto& m : w.after)
    post(id, std::move(m));
  process(n);
  return true;
}

void cluster::persist_all(server_id id) {
  for (int guard = 0; guard < 10000 && persist_one(id); ++guard) {
  }
}

void cluster::settle(int rounds) {
  for (int r = 0; r < rounds; ++r) {
    bool busy = false;
    for (auto& [id, n] : nodes_) {
      if (n->up && !n->disk_stalled && !n->writes.empty()) {
        persist_all(id);
        busy = true;
      }
    }
    if (!net_.empty()) {
      deliver_all(static_cast<int>(net_.size()));
      busy = true;
    }
    if (!busy)
      return;
  }
}

void cluster::run(int n) {
  for (int i = 0; i < n; ++i) {
    tick_all();
    settle();
  }
}

server_id cluster::elect(int max_rounds) {
  for (int i = 0; i < max_rounds; ++i) {
    auto l = leader();
    if (l != no_server && raft(l).commit_index() > 0 &&
        raft(l).log().term_at(raft(l).commit_index()) == raft(l).term())
      return l;
    tick_all();
    settle();
  }
  return leader();
}

void cluster::campaign(server_id id) {
  auto& n = node(id);
  if (!n.up)
    return;
  n.raft->step(id, timeout_now().term(n.raft->term()));
  process(n);
}

void cluster::crash(server_id id) {
  auto& n = node(id);
  n.up = false;
  n.raft.reset();
  n.writes.clear(); // un-acknowledged writes are lost
  n.reads.clear();
  for (auto& [ctx, r] : reads_) {
    if (r.node == id && !r.done) {
      r.done = true;
      r.failed = true;
    }
  }
}

void cluster::restart(server_id id) {
  auto& n = node(id);
  if (n.up)
    return;
  ++n.incarnation;
  restored_state st;
  st.hard = n.d.hard;
  st.snapshot = n.d.snap;
  st.entries = n.d.entries;
  st.bootstrap = n.bootstrap;
  st.applied = n.d.snap.index;
  n.sm = n.d.snap.index > 0 ? decode_state(n.d.snap_data) : kv_state{};
  n.snap_meta = n.d.snap;
  n.snap_data = n.d.snap_data;
  checker_.on_restart(id, n.d.snap.index);
  n.raft = make_core(n, std::move(st));
  n.up = true;
  process(n);
}

void cluster::isolate(server_id id) {
  for (const auto& [other, n] : nodes_) {
    if (other == id)
      continue;
    cut(id, other);
    cut(other, id);
  }
}

request_result cluster::propose(server_id id, const std::string& key,
                                const std::string& value) {
  auto& n = node(id);
  if (!n.up)
    return {refusal::not_leader, 0, no_server};
  auto r = n.raft->propose(key + "=" + value, 0);
  process(n);
  return r;
}

std::uint64_t cluster::read(server_id id, const std::string& key) {
  auto& n = node(id);
  if (!n.up)
    return 0;
  auto ctx = next_read_++;
  reads_[ctx] = client_read{id, key, checker_.max_commit(), false, false, {}};
  auto r = n.raft->read_index(ctx);
  if (!r.ok()) {
    reads_[ctx].done = true;
    reads_[ctx].failed = true;
  }
  process(n);
  return ctx;
}

void cluster::take_snapshot(server_id id) {
  auto& n = node(id);
  if (!n.up)
    return;
  const auto idx = n.sm.applied;
  if (idx <= n.raft->log().snapshot_index())
    return;
  n.raft->snapshot_taken(idx);
  if (n.raft->log().snapshot_index() != idx)
    return;
  n.snap_meta = n.raft->snapshot();
  n.snap_data = encode_state(n.sm);
  // Durable at once: written, then the stored log prefix dropped.
  n.d.snap = n.snap_meta;
  n.d.snap_data = n.snap_data;
  n.d.entries.erase(std::remove_if(n.d.entries.begin(), n.d.entries.end(),
                                   [&](const entry_ptr& e) { return e->index <= idx; }),
                    n.d.entries.end());
  process(n);
}

request_result cluster::change_membership(server_id id, membership_change ch) {
  auto& n = node(id);
  if (!n.up)
    return {refusal::not_leader, 0, no_server};
  auto r = n.raft->change_membership(ch);
  process(n);
  return r;
}

request_result cluster::transfer(server_id id, server_id target) {
  auto& n = node(id);
  if (!n.up)
    return {refusal::not_leader, 0, no_server};
  auto r = n.raft->transfer_leadership(target);
  process(n);
  return r;
}

void cluster::add_server(server_id id) {
  if (nodes_.count(id))
    return;
  auto n = std::make_unique<sim_node>();
  n->id = id;
  n->raft = make_core(*n, restored_state{});
  nodes_.emplace(id, std::move(n));
}

} // namespace conflux::sim
