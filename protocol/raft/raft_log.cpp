#include "protocol/raft/raft_log.hpp"

#include <cassert>

namespace conflux::raft {

raft_log::raft_log(index_t snapshot_index, term_t snapshot_term,
                   std::vector<entry_ptr> entries)
    : snapshot_index_(snapshot_index), snapshot_term_(snapshot_term) {
  for (auto& e : entries)
    append(std::move(e));
}

term_t raft_log::last_term() const {
  return entries_.empty() ? snapshot_term_ : entries_.back()->term;
}

std::optional<term_t> raft_log::term_at(index_t i) const {
  if (i == snapshot_index_)
    return snapshot_term_;
  if (i < snapshot_index_ || i > last_index())
    return std::nullopt;
  return at(i)->term;
}

bool raft_log::matches(index_t i, term_t t) const {
  auto x = term_at(i);
  return x && *x == t;
}

bool raft_log::is_up_to_date(index_t li, term_t lt) const {
  auto my_term = last_term();
  return lt > my_term || (lt == my_term && li >= last_index());
}

void raft_log::append(entry_ptr e) {
  assert(e && e->index == last_index() + 1);
  entries_.push_back(std::move(e));
}

index_t raft_log::merge(const std::vector<entry_ptr>& entries) {
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const auto& e = entries[k];
    if (e->index <= snapshot_index_)
      continue; // covered by our snapshot, hence committed and identical
    if (e->index <= last_index()) {
      if (at(e->index)->term == e->term)
        continue;
      // Conflict: drop it and everything after it (paper §5.3 rule 3).
      entries_.resize(e->index - first_index());
    }
    for (std::size_t j = k; j < entries.size(); ++j)
      append(entries[j]);
    return e->index;
  }
  return 0;
}

index_t raft_log::find_conflict_by_term(index_t i, term_t t) const {
  if (i > last_index())
    i = last_index();
  while (i > snapshot_index_) {
    if (at(i)->term <= t)
      return i;
    --i;
  }
  return i;
}

std::vector<entry_ptr> raft_log::slice(index_t lo, index_t hi, std::size_t max_count,
                                       std::size_t max_bytes) const {
  std::vector<entry_ptr> out;
  if (hi > last_index())
    hi = last_index();
  std::size_t bytes = 0;
  for (index_t i = lo; i <= hi; ++i) {
    const auto& e = at(i);
    bytes += e->data.size();
    if (!out.empty() && (out.size() >= max_count || bytes > max_bytes))
      break;
    out.push_back(e);
  }
  return out;
}

void raft_log::compact(index_t i) {
  assert(i > snapshot_index_ && i <= last_index());
  auto t = at(i)->term;
  entries_.erase(entries_.begin(),
                 entries_.begin() + static_cast<std::ptrdiff_t>(i - snapshot_index_));
  snapshot_index_ = i;
  snapshot_term_ = t;
}

void raft_log::reset_to_snapshot(index_t i, term_t t) {
  entries_.clear();
  snapshot_index_ = i;
  snapshot_term_ = t;
}

} // namespace conflux::raft
