#include "protocol/raft/invariants.hpp"

#include <algorithm>
#include <sstream>

namespace conflux::raft {

namespace {

bool same(const entry_ptr& a, const entry_ptr& b) {
  return a == b || *a == *b;
}

std::string describe(server_id s, const char* what, index_t i, term_t t) {
  std::ostringstream os;
  os << "server " << s << ": " << what << " at index " << i << " term " << t;
  return os.str();
}

/// "server 2: <what> (<name> 5 > <name> 4)": the two numbers that disagree.
std::string compare(server_id s, const char* what, const char* a_name, std::uint64_t a,
                    const char* op, const char* b_name, std::uint64_t b) {
  std::ostringstream os;
  os << "server " << s << ": " << what << " (" << a_name << ' ' << a << ' ' << op << ' '
     << b_name << ' ' << b << ')';
  return os.str();
}

std::optional<std::string> check_log(const core_view& v) {
  const auto& log = *v.log;
  if (log.snapshot_index() != v.snapshot_index ||
      log.snapshot_term() != v.snapshot_term)
    return describe(v.id, "log does not start at the snapshot point", v.snapshot_index,
                    v.snapshot_term);
  // The simulation runs this after every step: walk the entries once, with
  // no lookups per entry.
  auto prev = log.snapshot_term();
  for (auto i = log.first_index(); i <= log.last_index(); ++i) {
    const auto& e = log.at(i);
    if (e->index != i)
      return describe(v.id, "entry stored under the wrong index", i, e->term);
    if (prev > e->term)
      return describe(v.id, "log terms decrease", i, e->term);
    prev = e->term;
  }
  if (log.last_term() > v.term)
    return compare(v.id, "log holds a term from the future", "last log term",
                   log.last_term(), ">", "term", v.term);
  return std::nullopt;
}

std::optional<std::string> check_indexes(const core_view& v) {
  const auto last = v.log->last_index();
  if (v.commit > last)
    return compare(v.id, "commit index beyond the log", "commit", v.commit, ">",
                   "last index", last);
  if (v.applied > v.commit)
    return compare(v.id, "applied an entry that is not committed", "applied", v.applied,
                   ">", "commit", v.commit);
  if (v.commit < v.snapshot_index)
    return compare(v.id, "snapshot covers uncommitted entries", "commit", v.commit, "<",
                   "snapshot index", v.snapshot_index);
  if (v.durable > last)
    return compare(v.id, "durable index beyond the log", "durable", v.durable, ">",
                   "last index", last);
  if (v.applied > std::max(v.durable, v.snapshot_index))
    return compare(v.id, "applied an entry that is not durable", "applied", v.applied,
                   ">", "durable", v.durable);
  return std::nullopt;
}

std::optional<std::string> check_role(const core_view& v) {
  auto wrong = [&](const char* what) {
    std::ostringstream os;
    os << "server " << v.id << " (" << role_name(v.current_role) << ", term " << v.term
       << ", vote " << v.vote << ", leader " << v.leader << "): " << what;
    return os.str();
  };
  switch (v.current_role) {
  case role::leader:
    if (v.leader != v.id)
      return wrong("a leader that does not lead itself");
    if (v.vote != v.id)
      return wrong("a leader that did not vote for itself");
    if (v.log->last_term() != v.term)
      return wrong("a leader whose log does not end in its own term");
    break;
  case role::candidate:
    if (v.vote != v.id)
      return wrong("a candidate that did not vote for itself");
    [[fallthrough]];
  case role::pre_candidate:
    if (v.leader != no_server)
      return wrong("a candidate that knows a leader");
    break;
  case role::follower:
    if (v.leader == v.id)
      return wrong("a follower that names itself leader");
    break;
  }
  return std::nullopt;
}

std::optional<std::string> check_membership(const core_view& v) {
  const auto& log = *v.log;
  // Found by kind alone: decoding every time would cost the simulation more
  // than all its other checks.
  auto newest = log.snapshot_index();
  for (auto i = log.last_index(); i > log.snapshot_index(); --i) {
    if (log.at(i)->kind == entry_kind::membership) {
      newest = i;
      break;
    }
  }
  if (newest > log.snapshot_index() ? v.config_index != newest
                                    : v.config_index > newest)
    return compare(v.id, "the configuration in force is not the newest one in the log",
                   "in force from index", v.config_index, "but newest at", "index",
                   newest);
  if (v.transfer_target != no_server &&
      (v.current_role != role::leader || v.transfer_target == v.id ||
       !v.config->is_voter(v.transfer_target)))
    return "server " + std::to_string(v.id) + ": transfer target " +
           std::to_string(v.transfer_target) + " is not another voter of a leader";
  for (const auto& f : v.followers) {
    if (!f.tracked)
      return "server " + std::to_string(v.id) + ": leader does not track member " +
             std::to_string(f.id);
    if (f.match > v.log->last_index())
      return compare(v.id, "a follower matched beyond the leader's log", "match",
                     f.match, ">", "last index", v.log->last_index());
    if (f.next <= f.match)
      return compare(v.id, "a follower's next index is not past its match", "next",
                     f.next, "<=", "match", f.match);
  }
  return std::nullopt;
}

} // namespace

core_view::core_view(const core& c)
    : id(c.id()), current_role(c.current_role()), term(c.term()), vote(c.vote()),
      leader(c.leader()), log(&c.log()), snapshot_index(c.snapshot().index),
      snapshot_term(c.snapshot().term), commit(c.commit_index()),
      applied(c.applied_index()), durable(c.durable_index()), config(&c.membership()),
      config_index(c.membership_index()), transfer_target(c.transfer_target()) {
  if (!c.is_leader())
    return;
  for (auto peer : config->all()) {
    if (peer == id)
      continue;
    follower f;
    f.id = peer;
    if (const auto* pr = c.progress_of(peer)) {
      f.tracked = true;
      f.match = pr->match();
      f.next = pr->next();
    }
    followers.push_back(f);
  }
}

core_view view_of(const core& c) {
  return core_view(c);
}
std::optional<std::string> check_core(const core_view& v) {
  if (auto e = check_log(v))
    return e;
  if (auto e = check_indexes(v))
    return e;
  if (auto e = check_role(v))
    return e;
  return check_membership(v);
}

std::optional<std::string> check_core(const core& c) {
  return check_core(view_of(c));
}

std::optional<std::string> invariant_checker::check(const core& c) {
  if (auto v = check_core(c))
    return v;
  const auto id = c.id();
  const auto& log = c.log();
  // Election safety (paper §5.2): at most one leader per term.
  if (c.is_leader()) {
    auto [it, fresh] = leaders_.emplace(c.term(), id);
    if (!fresh && it->second != id) {
      std::ostringstream os;
      os << "election safety: servers " << it->second << " and " << id
         << " both lead term " << c.term();
      return os.str();
    }
  }
  // Log matching (paper §5.3): same (index, term) means same entry and the
  // same previous term, hence (by induction) identical prefixes.
  auto prev = log.snapshot_term();
  for (auto i = log.first_index(); i <= log.last_index(); ++i) {
    const auto& e = log.at(i);
    auto [it, fresh] = seen_.emplace(std::make_pair(i, e->term), identity{prev, e});
    if (!fresh) {
      if (it->second.prev_term != prev && i > log.first_index())
        return describe(id, "log matching: previous term differs", i, e->term);
      if (!same(it->second.entry, e))
        return describe(id, "log matching: different entries share index and term", i,
                        e->term) +
               " ('" + it->second.entry->data + "' kind " +
               std::to_string(static_cast<int>(it->second.entry->kind)) + " vs '" +
               e->data + "' kind " + std::to_string(static_cast<int>(e->kind)) + ")";
    }
    prev = e->term;
  }
  // Commit index never moves back (within one run of a server).
  auto& last_commit = commit_of_[id];
  if (c.commit_index() < last_commit)
    return describe(id, "commit index moved back", c.commit_index(), c.term());
  last_commit = c.commit_index();
  // Committed entries never change.
  for (auto i = log.first_index(); i <= c.commit_index(); ++i) {
    const auto& e = log.at(i);
    auto [it, fresh] = committed_.emplace(i, committed{e, c.term()});
    if (!fresh) {
      if (!same(it->second.entry, e))
        return describe(id, "a committed entry changed", i, e->term);
      if (c.term() < it->second.seen_term)
        it->second.seen_term = c.term();
    }
  }
  if (c.commit_index() > max_commit_)
    max_commit_ = c.commit_index();
  // Leader completeness (paper §5.4): a leader of term T holds every entry
  // committed by a leader of an earlier term.
  if (c.is_leader()) {
    for (auto i = log.first_index(); i <= max_commit_; ++i) {
      auto it = committed_.find(i);
      if (it == committed_.end() || it->second.seen_term >= c.term())
        continue;
      if (i > log.last_index())
        return describe(id, "leader completeness: committed entry missing", i,
                        it->second.entry->term);
      if (!same(log.at(i), it->second.entry))
        return describe(id, "leader completeness: committed entry differs", i,
                        it->second.entry->term);
    }
  }
  return std::nullopt;
}

std::optional<std::string> invariant_checker::on_apply(server_id server,
                                                       const entry_ptr& e) {
  auto& last = applied_of_[server];
  if (e->index != last + 1)
    return describe(server, "applied out of order", e->index, e->term);
  last = e->index;
  // State-machine safety (paper §5.4.3): no two servers apply different
  // entries at the same index.
  auto [it, fresh] = applied_.emplace(e->index, e);
  if (!fresh && !same(it->second, e))
    return describe(server, "state machine safety: different entry applied", e->index,
                    e->term);
  if (auto c = committed_.find(e->index);
      c != committed_.end() && !same(c->second.entry, e))
    return describe(server, "applied entry differs from the committed one", e->index,
                    e->term);
  return std::nullopt;
}

void invariant_checker::on_snapshot_installed(server_id server, index_t index) {
  applied_of_[server] = index;
}

void invariant_checker::on_restart(server_id server, index_t applied) {
  commit_of_.erase(server);
  applied_of_[server] = applied;
}

entry_ptr invariant_checker::committed_at(index_t index) const {
  auto it = committed_.find(index);
  return it == committed_.end() ? nullptr : it->second.entry;
}

} // namespace conflux::raft
