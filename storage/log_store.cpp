#include "storage/log_store.hpp"

#include "storage/endian.hpp"
#include "storage/mutant.hpp"
#include "storage/record.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace conflux::storage {

namespace {

using raft::index_t;
using raft::term_t;

constexpr const char* entries_db = "entries";
constexpr const char* meta_db = "meta";
constexpr std::string_view hard_state_key = "hard_state";
constexpr std::string_view snapshot_key = "snapshot";

// Log record payload (inside the value frame, FORMAT.md "Log entry record").
constexpr std::uint8_t entry_record_version = 1;
constexpr std::size_t entry_header_size = 24;
constexpr std::size_t off_version = 0;
constexpr std::size_t off_kind = 1;
constexpr std::size_t off_reserved = 2;
constexpr std::size_t off_term = 4;
constexpr std::size_t off_timestamp = 12;
constexpr std::size_t off_length = 20;

std::string str(index_t i) {
  return std::to_string(i);
}

std::string entry_where(std::string_view path, index_t i) {
  std::string s{"log entry "};
  s += str(i);
  s += " in ";
  s += path;
  return s;
}

// Encodes the payload of `e` into `payload` (reused buffer).
void encode_entry_payload(const raft::log_entry& e, std::string& payload) {
  payload.resize(entry_header_size + e.data.size());
  char* p = payload.data();
  p[off_version] = static_cast<char>(entry_record_version);
  p[off_kind] = static_cast<char>(e.kind);
  p[off_reserved] = 0;
  p[off_reserved + 1] = 0;
  put_u64_le(p + off_term, e.term);
  put_u64_le(p + off_timestamp, static_cast<std::uint64_t>(e.timestamp_ms));
  put_u32_le(p + off_length, static_cast<std::uint32_t>(e.data.size()));
  if (!e.data.empty())
    payload.replace(entry_header_size, e.data.size(), e.data);
}

expected<raft::log_entry> decode_entry(std::string_view key, std::string_view value,
                                       std::string_view path) {
  if (key.size() != 8)
    return error{errc::corrupted, "log key of " + std::to_string(key.size()) +
                                      " bytes (expected 8) in " + std::string{path}};
  index_t i = get_u64_be(key.data());
  auto where = entry_where(path, i);
  auto payload = unframe_value(key, value, where);
  if (!payload)
    return std::move(payload).err();
  auto fail = [&](const std::string& why) {
    return error{errc::corrupted, where + ": " + why};
  };
  const std::string_view p = *payload;
  if (p.size() < entry_header_size)
    return fail("record of " + std::to_string(p.size()) +
                " bytes is shorter than its " + std::to_string(entry_header_size) +
                "-byte header");
  auto rv = static_cast<std::uint8_t>(p[off_version]);
  if (rv != entry_record_version)
    return fail("unknown record version " + std::to_string(rv));
  auto kind = static_cast<std::uint8_t>(p[off_kind]);
  if (kind > static_cast<std::uint8_t>(raft::entry_kind::membership))
    return fail("unknown entry kind " + std::to_string(kind));
  if (p[off_reserved] != 0 || p[off_reserved + 1] != 0)
    return fail("reserved header bytes are not zero");
  std::size_t len = get_u32_le(p.data() + off_length);
  if (entry_header_size + len != p.size())
    return fail("data length " + std::to_string(len) + " does not match record size " +
                std::to_string(p.size()));
  raft::log_entry e;
  e.index = i;
  e.kind = static_cast<raft::entry_kind>(kind);
  e.term = get_u64_le(p.data() + off_term);
  e.timestamp_ms = static_cast<std::int64_t>(get_u64_le(p.data() + off_timestamp));
  e.data.assign(p.data() + entry_header_size, len);
  return e;
}

bool is_null(const raft::log_entry&) noexcept {
  return false;
}
bool is_null(const raft::entry_ptr& e) noexcept {
  return e == nullptr;
}
const raft::log_entry& deref(const raft::log_entry& e) noexcept {
  return e;
}
const raft::log_entry& deref(const raft::entry_ptr& e) noexcept {
  return *e;
}

error not_found(std::string_view what, index_t i, index_t first, index_t last) {
  return error{errc::not_found, std::string{what} + " " + str(i) +
                                    " is not in the log (first index " + str(first) +
                                    ", last index " + str(last) +
                                    (i < first ? "; it was compacted)" : ")")};
}

} // namespace

// -- open ---------------------------------------------------------------------

expected<log_store> log_store::open(const std::string& dir,
                                    const log_store_options& opts) {
  if (auto st = validate_identity(opts.identity); !st)
    return std::move(st).err();
  lmdb::env_options eo;
  eo.map_size = opts.map_size;
  eo.max_dbs = 4;
  auto e = lmdb::env::open(dir, eo);
  if (!e)
    return std::move(e).err();
  if (mutant_active("log-append-nosync"))
    mdb_env_set_flags(e->get(), MDB_NOSYNC, 1);
  log_store ls{std::move(*e)};
  auto t = ls.env_.begin_write();
  if (!t)
    return std::move(t).err();
  auto entries = t->open_db(entries_db, true);
  if (!entries)
    return std::move(entries).err();
  auto meta = t->open_db(meta_db, true);
  if (!meta)
    return std::move(meta).err();
  ls.entries_ = *entries;
  ls.meta_ = *meta;
  auto n = t->count(ls.entries_);
  if (!n)
    return std::move(n).err();
  if (auto st = check_or_init_identity(*t, ls.meta_, "log", opts.identity, *n > 0); !st)
    return std::move(st).err();
  if (auto st = ls.load(*t); !st)
    return std::move(st).err();
  // Durable: on a new dir this writes the meta records (and the DBI names).
  if (auto st = t->commit(); !st)
    return std::move(st).err();
  return expected<log_store>{std::move(ls)};
}

status log_store::load(lmdb::txn& t) {
  const std::string path{t.path()};
  if (auto hs = t.get(meta_, hard_state_key); !hs) {
    return hs.to_status();
  } else if (hs->has_value()) {
    auto p = unframe_value(hard_state_key, **hs, "hard state in " + path);
    if (!p)
      return p.to_status();
    if (p->size() != 24)
      return status{errc::corrupted, "hard state in " + path + " has " +
                                         std::to_string(p->size()) +
                                         " bytes, expected 24"};
    hard_state_.term = get_u64_le(p->data());
    hard_state_.vote = get_u64_le(p->data() + 8);
    hard_state_.commit = get_u64_le(p->data() + 16);
  }
  if (auto sn = t.get(meta_, snapshot_key); !sn) {
    return sn.to_status();
  } else if (sn->has_value()) {
    auto p = unframe_value(snapshot_key, **sn, "snapshot point in " + path);
    if (!p)
      return p.to_status();
    if (p->size() != 16)
      return status{errc::corrupted, "snapshot point in " + path + " has " +
                                         std::to_string(p->size()) +
                                         " bytes, expected 16"};
    snapshot_index_ = get_u64_le(p->data());
    snapshot_term_ = get_u64_le(p->data() + 8);
  }
  last_index_ = snapshot_index_;
  last_term_ = snapshot_term_;
  auto n = t.count(entries_);
  if (!n)
    return n.to_status();
  if (*n == 0)
    return {};
  auto c = t.open_cursor(entries_);
  if (!c)
    return c.to_status();
  auto first = c->get(MDB_FIRST);
  if (!first)
    return first.to_status();
  if (!first->has_value()) // mdb_stat counted records, so this is damage
    return status{errc::corrupted, "log in " + path + " counts " + std::to_string(*n) +
                                       " entries but a cursor finds none"};
  auto fe = decode_entry((*first)->key, (*first)->value, path);
  if (!fe)
    return fe.to_status();
  auto last = c->get(MDB_LAST);
  if (!last)
    return last.to_status();
  if (!last->has_value())
    return status{errc::corrupted, "log in " + path + " counts " + std::to_string(*n) +
                                       " entries but a cursor finds none"};
  auto le = decode_entry((*last)->key, (*last)->value, path);
  if (!le)
    return le.to_status();
  if (fe->index != snapshot_index_ + 1)
    return status{errc::corrupted,
                  "log in " + path + ": first entry " + str(fe->index) +
                      " does not follow the snapshot index " + str(snapshot_index_)};
  // Keys are unique, so first..last holds exactly last-first+1 records iff
  // there is no gap: an O(1) contiguity check.
  if (le->index - fe->index + 1 != *n)
    return status{errc::corrupted, "log in " + path + " has " + std::to_string(*n) +
                                       " entries between index " + str(fe->index) +
                                       " and " + str(le->index) +
                                       ": entries are missing"};
  if (fe->term < snapshot_term_ || le->term < fe->term)
    return status{errc::corrupted, "log in " + path +
                                       ": terms decrease (snapshot term " +
                                       str(snapshot_term_) + ", first " +
                                       str(fe->term) + ", last " + str(le->term) + ")"};
  last_index_ = le->index;
  last_term_ = le->term;
  return {};
}

// -- reads --------------------------------------------------------------------

expected<raft::log_entry> log_store::read_entry(const lmdb::txn& t, index_t i) const {
  auto key = u64_be(i);
  auto v = t.get(entries_, key);
  if (!v)
    return std::move(v).err();
  if (!v->has_value())
    return error{errc::corrupted, entry_where(t.path(), i) +
                                      " is missing although the log covers it (first " +
                                      str(first_index()) + ", last " +
                                      str(last_index_) + ")"};
  return decode_entry(key, **v, t.path());
}

expected<term_t> log_store::term_in(const lmdb::txn& t, index_t i) const {
  if (i == snapshot_index_)
    return snapshot_term_;
  auto e = read_entry(t, i);
  if (!e)
    return std::move(e).err();
  return e->term;
}

expected<term_t> log_store::term(index_t i) const {
  if (i == snapshot_index_)
    return snapshot_term_;
  if (i < snapshot_index_ || i > last_index_)
    return not_found("term of index", i, first_index(), last_index_);
  if (i == last_index_)
    return last_term_;
  auto t = env_.begin_read();
  if (!t)
    return std::move(t).err();
  return term_in(*t, i);
}

expected<raft::log_entry> log_store::entry(index_t i) const {
  if (i < first_index() || i > last_index_)
    return not_found("entry", i, first_index(), last_index_);
  auto t = env_.begin_read();
  if (!t)
    return std::move(t).err();
  return read_entry(*t, i);
}

expected<std::vector<raft::log_entry>> log_store::entries(index_t lo, index_t hi,
                                                          std::size_t max_bytes) const {
  if (lo > hi || hi > last_index_ + 1)
    return error{errc::invalid_argument, "log range [" + str(lo) + ", " + str(hi) +
                                             ") is not within [" + str(first_index()) +
                                             ", " + str(last_index_ + 1) + ")"};
  if (lo < first_index())
    return not_found("range start", lo, first_index(), last_index_);
  std::vector<raft::log_entry> out;
  if (lo == hi)
    return out;
  auto t = env_.begin_read();
  if (!t)
    return std::move(t).err();
  auto c = t->open_cursor(entries_);
  if (!c)
    return std::move(c).err();
  std::size_t bytes = 0;
  auto lo_key = u64_be(lo);
  auto kv = c->get(MDB_SET_KEY, lo_key);
  for (index_t i = lo; i < hi; ++i) {
    if (!kv)
      return std::move(kv).err();
    if (!kv->has_value() || (*kv)->key.size() != 8 ||
        get_u64_be((*kv)->key.data()) != i)
      return error{errc::corrupted, entry_where(t->path(), i) +
                                        " is missing although the log covers it"};
    bytes += (*kv)->value.size();
    if (max_bytes > 0 && bytes > max_bytes && !out.empty())
      break;
    auto e = decode_entry((*kv)->key, (*kv)->value, t->path());
    if (!e)
      return std::move(e).err();
    out.push_back(std::move(*e));
    if (i + 1 < hi)
      kv = c->get(MDB_NEXT);
  }
  return out;
}

// -- writes -------------------------------------------------------------------

template <class Batch>
status log_store::check_batch(const Batch& batch, index_t first,
                              term_t prev_term) const {
  index_t want = first;
  term_t prev = prev_term;
  for (const auto& item : batch) {
    if (is_null(item))
      return status{errc::invalid_argument, "log append of a null entry"};
    const raft::log_entry& e = deref(item);
    if (e.index != want) {
      const char* why = e.index < want ? "overlaps the log: truncate the conflicting "
                                         "suffix first (replace_suffix)"
                                       : "leaves a gap";
      return status{errc::invalid_argument, "log append of entry " + str(e.index) +
                                                " where entry " + str(want) +
                                                " must come next (last index " +
                                                str(last_index_) + ") " + why};
    }
    if (e.term < prev)
      return status{errc::invalid_argument, "log append of entry " + str(e.index) +
                                                " with term " + str(e.term) +
                                                " after term " + str(prev) +
                                                ": terms in a log never decrease"};
    if (static_cast<std::uint8_t>(e.kind) >
        static_cast<std::uint8_t>(raft::entry_kind::membership))
      return status{errc::invalid_argument,
                    "log append of entry " + str(e.index) + " with unknown kind " +
                        std::to_string(static_cast<int>(e.kind))};
    if (e.data.size() > std::numeric_limits<std::uint32_t>::max())
      return status{errc::too_large, "log entry " + str(e.index) + " has " +
                                         std::to_string(e.data.size()) +
                                         " bytes of data, more than 4 GiB"};
    prev = e.term;
    ++want;
  }
  return {};
}

status log_store::check_hard_state(const raft::hard_state& hs) const {
  const auto& cur = hard_state_;
  if (hs.term < cur.term)
    return status{errc::invalid_argument, "hard state term " + str(hs.term) +
                                              " would go back from " + str(cur.term)};
  if (hs.term == cur.term && cur.vote != raft::no_server && hs.vote != cur.vote)
    return status{errc::invalid_argument, "hard state would change the vote of term " +
                                              str(cur.term) + " from " + str(cur.vote) +
                                              " to " + str(hs.vote)};
  if (hs.commit < cur.commit)
    return status{errc::invalid_argument, "hard state commit " + str(hs.commit) +
                                              " would go back from " + str(cur.commit)};
  return {};
}

template <class Batch>
status log_store::put_entries(lmdb::txn& t, const Batch& batch) {
  std::string payload;
  char key[8];
  for (const auto& item : batch) {
    const raft::log_entry& e = deref(item);
    encode_entry_payload(e, payload);
    put_u64_be(key, e.index);
    std::string_view k{key, sizeof key};
    frame_value(k, payload, buf_);
    // Keys are big-endian indexes appended in increasing order: MDB_APPEND
    // skips the tree search and fills pages completely.
    if (auto st = t.put(entries_, k, buf_, MDB_APPEND); !st)
      return st;
  }
  return {};
}

status log_store::put_hard_state(lmdb::txn& t, const raft::hard_state& hs) {
  std::string p(24, '\0');
  put_u64_le(p.data(), hs.term);
  put_u64_le(p.data() + 8, hs.vote);
  put_u64_le(p.data() + 16, hs.commit);
  return t.put(meta_, hard_state_key, frame_value(hard_state_key, p));
}

status log_store::delete_from(lmdb::txn& t, index_t from) {
  auto c = t.open_cursor(entries_);
  if (!c)
    return c.to_status();
  // From the tail backwards: each step re-seeks MDB_LAST, which keeps the
  // cursor semantics after a delete simple.
  for (;;) {
    auto kv = c->get(MDB_LAST);
    if (!kv)
      return kv.to_status();
    if (!kv->has_value() || (*kv)->key.size() != 8 ||
        get_u64_be((*kv)->key.data()) < from)
      return {};
    if (auto st = c->del(); !st)
      return st;
  }
}

status log_store::delete_upto(lmdb::txn& t, index_t upto) {
  auto c = t.open_cursor(entries_);
  if (!c)
    return c.to_status();
  for (;;) {
    auto kv = c->get(MDB_FIRST);
    if (!kv)
      return kv.to_status();
    if (!kv->has_value() || (*kv)->key.size() != 8 ||
        get_u64_be((*kv)->key.data()) > upto)
      return {};
    if (auto st = c->del(); !st)
      return st;
  }
}

status log_store::append(const std::vector<raft::log_entry>& batch,
                         const std::optional<raft::hard_state>& hs) {
  return write_batch(batch, hs, std::nullopt, true);
}

status log_store::append(const std::vector<raft::entry_ptr>& batch,
                         const std::optional<raft::hard_state>& hs) {
  return write_batch(batch, hs, std::nullopt, true);
}

status log_store::replace_suffix(const std::vector<raft::log_entry>& batch,
                                 const std::optional<raft::hard_state>& hs) {
  if (batch.empty())
    return status{errc::invalid_argument, "log replace_suffix with no entries"};
  return write_batch(batch, hs, std::nullopt, false);
}

status log_store::replace_suffix(const std::vector<raft::entry_ptr>& batch,
                                 const std::optional<raft::hard_state>& hs) {
  if (batch.empty())
    return status{errc::invalid_argument, "log replace_suffix with no entries"};
  return write_batch(batch, hs, std::nullopt, false);
}

status log_store::persist(const log_batch& b) {
  return write_batch(b.entries, b.hard, b.snapshot, false);
}

status log_store::reset_to_snapshot(index_t index, term_t term) {
  return write_batch(std::vector<raft::log_entry>{}, std::nullopt,
                     snapshot_point{index, term}, false);
}

status log_store::set_hard_state(const raft::hard_state& hs) {
  return write_batch(std::vector<raft::log_entry>{}, hs, std::nullopt, true);
}

template <class Batch>
status
log_store::write_batch(const Batch& batch, const std::optional<raft::hard_state>& hs,
                       const std::optional<snapshot_point>& snap, bool strict_append) {
  if (hs)
    if (auto st = check_hard_state(*hs); !st)
      return st;
  if (snap && snap->index < snapshot_index_)
    return status{errc::invalid_argument,
                  "log reset to snapshot index " + str(snap->index) +
                      " behind the current snapshot index " + str(snapshot_index_)};
  // Paper §7: a snapshot behind the commit index is stale; installing it
  // would delete entries this node already acknowledged as committed.
  if (snap && snap->index < hard_state_.commit)
    return status{errc::invalid_argument,
                  "log reset to snapshot index " + str(snap->index) +
                      " would delete committed entries (commit " +
                      str(hard_state_.commit) + "); a stale snapshot must be ignored"};
  // Positions as they will be after step 1 (the snapshot reset).
  const index_t snap_index = snap ? snap->index : snapshot_index_;
  const term_t snap_term = snap ? snap->term : snapshot_term_;
  const index_t last = snap ? snap->index : last_index_;
  index_t from = last + 1;
  if (!batch.empty()) {
    if (is_null(batch.front()))
      return status{errc::invalid_argument, "log append of a null entry"};
    from = deref(batch.front()).index;
    if (strict_append) {
      // Checked by check_batch below; refusing early avoids a write txn.
      if (auto st = check_batch(batch, last + 1, last_term_); !st)
        return st;
    } else if (from <= snap_index || from > last + 1) {
      return status{errc::invalid_argument,
                    "log write of entries from index " + str(from) + " outside (" +
                        str(snap_index) + ", " + str(last + 1) +
                        "]: that would leave a gap or touch the compacted prefix"};
    }
  }
  if (batch.empty() && !hs && !snap)
    return {};
  auto t = env_.begin_write();
  if (!t)
    return t.to_status();
  // 1. Snapshot: the whole stored log goes.
  if (snap) {
    if (auto st = t->clear(entries_); !st)
      return st;
    std::string p(16, '\0');
    put_u64_le(p.data(), snap->index);
    put_u64_le(p.data() + 8, snap->term);
    if (auto st = t->put(meta_, snapshot_key, frame_value(snapshot_key, p)); !st)
      return st;
  }
  // 2. Entries: drop the suffix they replace, then append.
  if (!batch.empty()) {
    // The term before the batch, from the caches on the hot paths (append,
    // after a snapshot reset), from disk only for a real suffix replacement.
    term_t prev_term = snap_term;
    if (from - 1 == last_index_ && !snap) {
      prev_term = last_term_;
    } else if (from - 1 != snap_index) {
      auto pt = term_in(*t, from - 1);
      if (!pt)
        return pt.to_status();
      prev_term = *pt;
    }
    if (!strict_append) // strict batches were checked before the txn began
      if (auto st = check_batch(batch, from, prev_term); !st)
        return st;
    if (from <= last) {
      // Committed entries never change (§5.4): a stored entry at or below the
      // durable commit index may only be "replaced" by itself, i.e. an entry
      // of the same term (Log Matching), and never deleted.
      const index_t committed_hi = std::min(hard_state_.commit, last);
      const index_t batch_last = deref(batch.back()).index;
      for (index_t i = from; i <= committed_hi; ++i) {
        if (i > batch_last)
          return status{errc::invalid_argument, "log write from index " + str(from) +
                                                    " would delete committed entry " +
                                                    str(i) + " (commit " +
                                                    str(hard_state_.commit) + ")"};
        auto stored = term_in(*t, i);
        if (!stored)
          return stored.to_status();
        auto incoming = deref(batch[static_cast<std::size_t>(i - from)]).term;
        if (*stored != incoming)
          return status{errc::invalid_argument,
                        "log write would change committed entry " + str(i) +
                            " from term " + str(*stored) + " to term " + str(incoming) +
                            " (commit " + str(hard_state_.commit) + ")"};
      }
      if (auto st = delete_from(*t, from); !st)
        return st;
    }
    if (auto st = put_entries(*t, batch); !st)
      return st;
  }
  // 3. Hard state.
  if (hs)
    if (auto st = put_hard_state(*t, *hs); !st)
      return st;
  if (auto st = t->commit(); !st)
    return st;
  // Only now, with everything durable, do the cached positions move.
  if (snap) {
    snapshot_index_ = snap->index;
    snapshot_term_ = snap->term;
    last_index_ = snap->index;
    last_term_ = snap->term;
  }
  if (!batch.empty()) {
    last_index_ = deref(batch.back()).index;
    last_term_ = deref(batch.back()).term;
  }
  if (hs)
    hard_state_ = *hs;
  return {};
}

status log_store::truncate_suffix(index_t from) {
  if (from <= snapshot_index_)
    return status{errc::invalid_argument, "log truncation from index " + str(from) +
                                              " reaches into the compacted prefix "
                                              "(snapshot index " +
                                              str(snapshot_index_) + ")"};
  if (from > last_index_)
    return {};
  if (from <= hard_state_.commit)
    return status{errc::invalid_argument,
                  "log truncation from index " + str(from) +
                      " would remove committed entries (commit " +
                      str(hard_state_.commit) + ")"};
  auto t = env_.begin_write();
  if (!t)
    return t.to_status();
  auto new_last_term = term_in(*t, from - 1);
  if (!new_last_term)
    return new_last_term.to_status();
  if (auto st = delete_from(*t, from); !st)
    return st;
  if (auto st = t->commit(); !st)
    return st;
  last_index_ = from - 1;
  last_term_ = *new_last_term;
  return {};
}

status log_store::drop_prefix(index_t upto) {
  if (upto <= snapshot_index_)
    return {};
  if (upto > last_index_)
    return status{errc::invalid_argument,
                  "log drop_prefix up to " + str(upto) + " beyond the last index " +
                      str(last_index_) + " (use reset_to_snapshot)"};
  auto t = env_.begin_write();
  if (!t)
    return t.to_status();
  auto e = read_entry(*t, upto);
  if (!e)
    return e.to_status();
  if (auto st = delete_upto(*t, upto); !st)
    return st;
  std::string p(16, '\0');
  put_u64_le(p.data(), upto);
  put_u64_le(p.data() + 8, e->term);
  if (auto st = t->put(meta_, snapshot_key, frame_value(snapshot_key, p)); !st)
    return st;
  if (auto st = t->commit(); !st)
    return st;
  snapshot_index_ = upto;
  snapshot_term_ = e->term;
  return {};
}

} // namespace conflux::storage
