#include "protocol/raft/invariants.hpp"

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

} // namespace

std::optional<std::string> invariant_checker::check(const core& c) {
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
  for (auto i = log.first_index(); i <= log.last_index(); ++i) {
    const auto& e = log.at(i);
    const auto prev = *log.term_at(i - 1);
    if (e->index != i)
      return describe(id, "entry stored under the wrong index", i, e->term);
    if (i > log.first_index() && prev > e->term)
      return describe(id, "log terms decrease", i, e->term);
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
  }
  // Commit index never moves back (within one run of a server).
  auto& last_commit = commit_of_[id];
  if (c.commit_index() < last_commit)
    return describe(id, "commit index moved back", c.commit_index(), c.term());
  last_commit = c.commit_index();
  if (c.commit_index() > log.last_index())
    return describe(id, "commit index beyond the log", c.commit_index(), c.term());
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
