// Black-box tests of storage/log_store over a real LMDB environment in a temp
// dir: append/read, reopen and recovery, truncation, compaction, hard state,
// identity refusal and corruption detection.

#include "storage/crc32c.hpp"
#include "storage/endian.hpp"
#include "storage/identity.hpp"
#include "storage/lmdb.hpp"
#include "storage/log_store.hpp"
#include "storage/record.hpp"
#include "storage/state_store.hpp"
#include "tests/storage/raw_edit.hpp"
#include "tests/storage/temp_dir.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/file.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace conflux;
using namespace conflux::storage;
using conflux::storage::test::delete_raw;
using conflux::storage::test::edit_raw;
using conflux::storage::test::temp_dir;
using raft::log_entry;

log_store_options opts(std::string cluster = "c1", raft::server_id node = 1) {
  log_store_options o;
  o.identity.cluster_id = std::move(cluster);
  o.identity.node_id = node;
  return o;
}

log_entry make_entry(raft::index_t i, raft::term_t t, std::string data = {}) {
  log_entry e;
  e.index = i;
  e.term = t;
  e.kind = raft::entry_kind::command;
  e.timestamp_ms = 1'700'000'000'000 + static_cast<std::int64_t>(i);
  e.data = data.empty() ? "cmd-" + std::to_string(i) : std::move(data);
  return e;
}

// Entries lo..hi inclusive, all in term t.
std::vector<log_entry> make_entries(raft::index_t lo, raft::index_t hi,
                                    raft::term_t t) {
  std::vector<log_entry> out;
  for (auto i = lo; i <= hi; ++i)
    out.push_back(make_entry(i, t));
  return out;
}

log_store open_ok(const std::string& dir, const log_store_options& o = opts()) {
  auto ls = log_store::open(dir, o);
  REQUIRE_MESSAGE(ls.ok(), (ls.ok() ? "" : to_string(ls.err())));
  return std::move(*ls);
}

} // namespace

TEST_CASE("crc32c_matches_published_check_values") {
  // RFC 3720 appendix B.4 and the common "123456789" check value.
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i)
    ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(ascending) == 0x46DD794Eu);
}

TEST_CASE("crc32c_hardware_and_portable_paths_agree_and_extend") {
  std::string data;
  for (int i = 0; i < 1000; ++i)
    data.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 999u, 1000u}) {
    CAPTURE(n);
    CHECK(crc32c_extend(0, data.data(), n) ==
          crc32c_extend_portable(0, data.data(), n));
    auto split = n / 3;
    CHECK(crc32c_extend(crc32c_extend(0, data.data(), split), data.data() + split,
                        n - split) == crc32c_extend(0, data.data(), n));
  }
}

TEST_CASE("log_store_new_log_is_empty") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.first_index() == 1);
  CHECK(ls.last_index() == 0);
  CHECK(ls.last_term() == 0);
  CHECK(ls.hard_state() == raft::hard_state{});
  auto t0 = ls.term(0);
  REQUIRE(t0.ok());
  CHECK(*t0 == 0);
  CHECK(ls.term(1).code() == errc::not_found);
  CHECK(ls.entry(1).code() == errc::not_found);
  auto none = ls.entries(1, 1);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("log_store_append_then_read_returns_entries") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  auto batch = make_entries(1, 5, 1);
  batch[2].kind = raft::entry_kind::noop;
  batch[2].data.clear();
  batch[3].kind = raft::entry_kind::membership;
  batch[4].timestamp_ms = -5; // negative timestamps survive the encoding
  CHECK_OK(ls.append(batch));
  CHECK(ls.last_index() == 5);
  CHECK(ls.last_term() == 1);
  auto all = ls.entries(1, 6);
  REQUIRE(all.ok());
  CHECK(*all == batch);
  auto mid = ls.entries(2, 4);
  REQUIRE(mid.ok());
  REQUIRE(mid->size() == 2);
  CHECK((*mid)[0] == batch[1]);
  CHECK((*mid)[1] == batch[2]);
  auto e3 = ls.entry(3);
  REQUIRE(e3.ok());
  CHECK(*e3 == batch[2]);
  auto t4 = ls.term(4);
  REQUIRE(t4.ok());
  CHECK(*t4 == 1);
}

TEST_CASE("log_store_append_then_reopen_keeps_entries") {
  temp_dir tmp;
  auto batch1 = make_entries(1, 3, 1);
  auto batch2 = make_entries(4, 10, 2);
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(batch1));
    CHECK_OK(ls.append(batch2));
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.first_index() == 1);
  CHECK(ls.last_index() == 10);
  CHECK(ls.last_term() == 2);
  auto all = ls.entries(1, 11);
  REQUIRE(all.ok());
  auto expect = batch1;
  expect.insert(expect.end(), batch2.begin(), batch2.end());
  CHECK(*all == expect);
  // And the log keeps growing from where it was.
  CHECK_OK(ls.append(make_entries(11, 11, 2)));
  CHECK(ls.last_index() == 11);
}

TEST_CASE("log_store_append_accepts_shared_entry_handles") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  std::vector<raft::entry_ptr> batch;
  for (raft::index_t i = 1; i <= 3; ++i)
    batch.push_back(std::make_shared<const log_entry>(make_entry(i, 1)));
  CHECK_OK(ls.append(batch));
  auto e2 = ls.entry(2);
  REQUIRE(e2.ok());
  CHECK(*e2 == *batch[1]);
  std::vector<raft::entry_ptr> with_null{nullptr};
  CHECK(ls.append(with_null).code() == errc::invalid_argument);
}

TEST_CASE("log_store_entries_stops_at_byte_budget_but_returns_at_least_one") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  std::vector<log_entry> batch;
  for (raft::index_t i = 1; i <= 10; ++i)
    batch.push_back(make_entry(i, 1, std::string(100, 'x')));
  CHECK_OK(ls.append(batch));
  // Stored size per entry: 4 (crc) + 24 (header) + 100 (data) = 128 bytes.
  auto three = ls.entries(1, 11, 3 * 128);
  REQUIRE(three.ok());
  CHECK(three->size() == 3);
  auto almost_four = ls.entries(1, 11, 4 * 128 - 1);
  REQUIRE(almost_four.ok());
  CHECK(almost_four->size() == 3);
  auto tiny = ls.entries(5, 11, 1);
  REQUIRE(tiny.ok());
  REQUIRE(tiny->size() == 1);
  CHECK(tiny->front().index == 5);
  auto unlimited = ls.entries(1, 11, 0);
  REQUIRE(unlimited.ok());
  CHECK(unlimited->size() == 10);
}

TEST_CASE("log_store_stored_size_is_what_the_byte_budget_counts") {
  // The raft shell sizes the log for snapshots with stored_size(): it must be
  // the size entries() counts, entry for entry.
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  std::vector<log_entry> batch;
  for (raft::index_t i = 1; i <= 4; ++i)
    batch.push_back(make_entry(i, 1, std::string(10 * i, 'y')));
  CHECK_OK(ls.append(batch));
  std::size_t first_three = 0;
  for (std::size_t i = 0; i < 3; ++i)
    first_three += storage::log_store::stored_size(batch[i]);
  auto exact = ls.entries(1, 5, first_three);
  REQUIRE(exact.ok());
  CHECK(exact->size() == 3);
  auto short_by_one = ls.entries(1, 5, first_three - 1);
  REQUIRE(short_by_one.ok());
  CHECK(short_by_one->size() == 2);
}

TEST_CASE("log_store_append_with_gap_is_refused") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.append(make_entries(1, 3, 1)));
  auto st = ls.append(make_entries(5, 6, 1));
  CHECK(st.code() == errc::invalid_argument);
  // Non-consecutive inside one batch is a gap too.
  std::vector<log_entry> holey{make_entry(4, 1), make_entry(6, 1)};
  CHECK(ls.append(holey).code() == errc::invalid_argument);
  CHECK(ls.last_index() == 3);
  CHECK(ls.entry(4).code() == errc::not_found);
}

TEST_CASE("log_store_append_overlapping_last_index_is_refused") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.append(make_entries(1, 3, 1)));
  CHECK(ls.append(make_entries(3, 4, 1)).code() == errc::invalid_argument);
  CHECK(ls.append(make_entries(1, 1, 1)).code() == errc::invalid_argument);
  CHECK(ls.last_index() == 3);
  auto e3 = ls.entry(3);
  REQUIRE(e3.ok());
  CHECK(*e3 == make_entry(3, 1));
}

TEST_CASE("log_store_append_with_decreasing_term_is_refused") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.append(make_entries(1, 2, 3)));
  CHECK(ls.append(make_entries(3, 3, 2)).code() == errc::invalid_argument);
  std::vector<log_entry> down{make_entry(3, 4), make_entry(4, 3)};
  CHECK(ls.append(down).code() == errc::invalid_argument);
  CHECK(ls.last_index() == 2);
}

TEST_CASE("log_store_truncate_suffix_then_append") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 3, 1)));
    CHECK_OK(ls.append(make_entries(4, 8, 2)));
    CHECK_OK(ls.truncate_suffix(5));
    CHECK(ls.last_index() == 4);
    CHECK(ls.last_term() == 2);
    CHECK(ls.entry(5).code() == errc::not_found);
    CHECK_OK(ls.truncate_suffix(4));
    CHECK(ls.last_index() == 3);
    CHECK(ls.last_term() == 1);
    CHECK_OK(ls.truncate_suffix(100)); // beyond the end: nothing to do
    CHECK(ls.last_index() == 3);
    CHECK_OK(ls.append(make_entries(4, 6, 3)));
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.last_index() == 6);
  CHECK(ls.last_term() == 3);
  auto all = ls.entries(1, 7);
  REQUIRE(all.ok());
  auto expect = make_entries(1, 3, 1);
  auto tail = make_entries(4, 6, 3);
  expect.insert(expect.end(), tail.begin(), tail.end());
  CHECK(*all == expect);
}

TEST_CASE("log_store_truncate_everything_leaves_empty_log") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.append(make_entries(1, 3, 2)));
  CHECK_OK(ls.truncate_suffix(1));
  CHECK(ls.last_index() == 0);
  CHECK(ls.last_term() == 0);
  CHECK_OK(ls.append(make_entries(1, 1, 3)));
  CHECK(ls.last_term() == 3);
}

TEST_CASE("log_store_replace_suffix_overwrites_conflicting_entries_in_one_step") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 5, 1)));
    auto replacement = make_entries(3, 4, 2);
    CHECK_OK(ls.replace_suffix(replacement, raft::hard_state{2, 7, 2}));
    CHECK(ls.last_index() == 4);
    CHECK(ls.last_term() == 2);
    // Appending right after the end through replace_suffix works as well.
    CHECK_OK(ls.replace_suffix(make_entries(5, 5, 2)));
    // A term lower than the entry before the replaced suffix is refused.
    CHECK(ls.replace_suffix(make_entries(5, 5, 1)).code() == errc::invalid_argument);
    // Beyond last + 1 is a gap.
    CHECK(ls.replace_suffix(make_entries(7, 7, 2)).code() == errc::invalid_argument);
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.hard_state() == raft::hard_state{2, 7, 2});
  auto all = ls.entries(1, 6);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  CHECK((*all)[1] == make_entry(2, 1));
  CHECK((*all)[2] == make_entry(3, 2));
  CHECK((*all)[4] == make_entry(5, 2));
  // Committed entries (commit 2) cannot be replaced or truncated.
  CHECK(ls.replace_suffix(make_entries(2, 2, 3)).code() == errc::invalid_argument);
  CHECK(ls.truncate_suffix(2).code() == errc::invalid_argument);
  CHECK(ls.last_index() == 5);
}

TEST_CASE("log_store_drop_prefix_then_term_and_first_index_survive_reopen") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 4, 1)));
    CHECK_OK(ls.append(make_entries(5, 10, 2)));
    CHECK_OK(ls.drop_prefix(6));
    CHECK(ls.first_index() == 7);
    CHECK(ls.snapshot_index() == 6);
    CHECK(ls.snapshot_term() == 2);
    CHECK_OK(ls.drop_prefix(3)); // behind the snapshot: nothing to do
    CHECK(ls.first_index() == 7);
    CHECK(ls.drop_prefix(11).code() == errc::invalid_argument);
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.first_index() == 7);
  CHECK(ls.last_index() == 10);
  auto t6 = ls.term(6);
  REQUIRE(t6.ok());
  CHECK(*t6 == 2);
  CHECK(ls.term(5).code() == errc::not_found);
  CHECK(ls.entry(6).code() == errc::not_found);
  CHECK(ls.entries(5, 8).code() == errc::not_found);
  auto rest = ls.entries(7, 11);
  REQUIRE(rest.ok());
  CHECK(rest->size() == 4);
  CHECK(rest->front() == make_entry(7, 2));
  // Truncating into the compacted prefix is refused; right after it is fine.
  CHECK(ls.truncate_suffix(6).code() == errc::invalid_argument);
  CHECK_OK(ls.truncate_suffix(7));
  CHECK(ls.last_index() == 6);
  CHECK(ls.last_term() == 2);
  CHECK_OK(ls.append(make_entries(7, 7, 3)));
}

TEST_CASE("log_store_drop_prefix_of_whole_log_keeps_last_term") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 5, 4)));
    CHECK_OK(ls.drop_prefix(5));
    CHECK(ls.first_index() == 6);
    CHECK(ls.last_index() == 5);
    CHECK(ls.last_term() == 4);
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.first_index() == 6);
  CHECK(ls.last_index() == 5);
  CHECK(ls.last_term() == 4);
  CHECK(ls.append(make_entries(6, 6, 3)).code() == errc::invalid_argument);
  CHECK_OK(ls.append(make_entries(6, 6, 4)));
}

TEST_CASE("log_store_reset_to_snapshot_discards_log") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 5, 1)));
    CHECK_OK(ls.reset_to_snapshot(20, 3));
    CHECK(ls.first_index() == 21);
    CHECK(ls.last_index() == 20);
    CHECK(ls.last_term() == 3);
    CHECK(ls.reset_to_snapshot(10, 3).code() == errc::invalid_argument);
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.first_index() == 21);
  CHECK(ls.last_index() == 20);
  auto t20 = ls.term(20);
  REQUIRE(t20.ok());
  CHECK(*t20 == 3);
  CHECK(ls.entry(3).code() == errc::not_found);
  CHECK(ls.append(make_entries(6, 6, 3)).code() == errc::invalid_argument);
  CHECK_OK(ls.append(make_entries(21, 22, 3)));
}

TEST_CASE("log_store_hard_state_is_durable_across_reopen") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.set_hard_state({3, 2, 0}));
    CHECK(ls.hard_state() == raft::hard_state{3, 2, 0});
    CHECK_OK(ls.append(make_entries(1, 2, 3), raft::hard_state{3, 2, 1}));
  }
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK(ls.hard_state() == raft::hard_state{3, 2, 1});
    CHECK(ls.last_index() == 2);
    CHECK_OK(ls.set_hard_state({5, raft::no_server, 2}));
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.hard_state() == raft::hard_state{5, raft::no_server, 2});
}

TEST_CASE("log_store_hard_state_refuses_unsafe_changes") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.set_hard_state({4, 2, 3}));
  CHECK(ls.set_hard_state({3, 2, 3}).code() == errc::invalid_argument); // term back
  CHECK(ls.set_hard_state({4, 3, 3}).code() == errc::invalid_argument); // new vote
  CHECK(ls.set_hard_state({4, 2, 1}).code() == errc::invalid_argument); // commit back
  CHECK(ls.hard_state() == raft::hard_state{4, 2, 3});
  CHECK_OK(ls.set_hard_state({5, 3, 3})); // a new term may vote anew
  // A refused hard state also refuses the entries that came with it.
  CHECK(ls.append(make_entries(1, 1, 5), raft::hard_state{4, 2, 3}).code() ==
        errc::invalid_argument);
  CHECK(ls.last_index() == 0);
}

TEST_CASE("log_store_refuses_data_dir_of_another_cluster") {
  temp_dir tmp;
  { open_ok(tmp.sub("log"), opts("alpha", 1)); }
  auto ls = log_store::open(tmp.sub("log"), opts("beta", 1));
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::invalid_argument);
  CHECK(ls.err().message.find("alpha") != std::string::npos);
  CHECK(ls.err().message.find("beta") != std::string::npos);
  CHECK(ls.err().message.find(tmp.sub("log")) != std::string::npos);
}

TEST_CASE("log_store_refuses_data_dir_of_another_node") {
  temp_dir tmp;
  { open_ok(tmp.sub("log"), opts("c1", 1)); }
  auto ls = log_store::open(tmp.sub("log"), opts("c1", 2));
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::invalid_argument);
  CHECK(ls.err().message.find("node 1") != std::string::npos);
}

TEST_CASE("log_store_refuses_newer_format_version") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 1, 1)));
  }
  std::string key{meta_key::format_version};
  edit_raw(tmp.sub("log"), "meta", key, [&](std::string& v) {
    std::string payload(4, '\0');
    put_u32_le(payload.data(), storage_format_version + 1);
    v = frame_value(key, payload);
  });
  auto ls = log_store::open(tmp.sub("log"), opts());
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::unsupported_version);
  CHECK(ls.err().message.find("version " + std::to_string(storage_format_version +
                                                          1)) != std::string::npos);
}

TEST_CASE("log_store_refuses_a_state_environment") {
  temp_dir tmp;
  {
    state_store_options so;
    so.identity = opts().identity;
    auto ss = state_store::open(tmp.sub("state"), so);
    REQUIRE(ss.ok());
  }
  auto ls = log_store::open(tmp.sub("state"), opts());
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::invalid_argument);
  CHECK(ls.err().message.find("'state' store") != std::string::npos);
}

TEST_CASE("log_store_open_needs_cluster_and_node_id") {
  temp_dir tmp;
  CHECK(log_store::open(tmp.sub("log"), opts("", 1)).code() == errc::invalid_argument);
  CHECK(log_store::open(tmp.sub("log"), opts("c1", 0)).code() ==
        errc::invalid_argument);
}

TEST_CASE("log_store_detects_corrupted_entry_on_read") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 5, 1)));
  }
  // Flip one bit in the data of entry 3 (the last byte of its value).
  edit_raw(tmp.sub("log"), "entries", u64_be(3),
           [](std::string& v) { v.back() ^= 0x01; });
  auto ls = open_ok(tmp.sub("log")); // first and last entries are intact
  auto e3 = ls.entry(3);
  REQUIRE_FALSE(e3.ok());
  CHECK(e3.code() == errc::corrupted);
  CHECK(e3.err().message.find("log entry 3") != std::string::npos);
  CHECK(ls.entries(1, 6).code() == errc::corrupted);
  CHECK(ls.term(3).code() == errc::corrupted);
  // Entries around it still read.
  CHECK(ls.entry(2).ok());
  CHECK(ls.entries(4, 6).ok());
}

TEST_CASE("log_store_detects_damaged_header_even_with_matching_length") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 3, 1)));
  }
  // The term field (payload offset 4, value offset 8): a flipped bit there
  // must fail the checksum, not silently change the term.
  edit_raw(tmp.sub("log"), "entries", u64_be(2), [](std::string& v) { v[8] ^= 0x04; });
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.term(2).code() == errc::corrupted);
}

TEST_CASE("log_store_detects_corrupted_last_entry_on_open") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 4, 1)));
  }
  edit_raw(tmp.sub("log"), "entries", u64_be(4), [](std::string& v) { v[0] ^= 0x10; });
  auto ls = log_store::open(tmp.sub("log"), opts());
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::corrupted);
  CHECK(ls.err().message.find("log entry 4") != std::string::npos);
}

TEST_CASE("log_store_detects_entry_stored_under_wrong_index") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 4, 1)));
  }
  // Copy entry 2's intact value over entry 3: its checksum covers the key.
  std::string value2;
  edit_raw(tmp.sub("log"), "entries", u64_be(2), [&](std::string& v) { value2 = v; });
  edit_raw(tmp.sub("log"), "entries", u64_be(3), [&](std::string& v) { v = value2; });
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.entry(3).code() == errc::corrupted);
  CHECK(ls.entry(2).ok());
}

TEST_CASE("log_store_detects_missing_entry_on_open") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 6, 1)));
  }
  delete_raw(tmp.sub("log"), "entries", u64_be(4));
  auto ls = log_store::open(tmp.sub("log"), opts());
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::corrupted);
  CHECK(ls.err().message.find("missing") != std::string::npos);
}

TEST_CASE("log_store_detects_damaged_hard_state_on_open") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.set_hard_state({7, 1, 0}));
  }
  edit_raw(tmp.sub("log"), "meta", "hard_state", [](std::string& v) { v[5] ^= 0x01; });
  auto ls = log_store::open(tmp.sub("log"), opts());
  REQUIRE_FALSE(ls.ok());
  CHECK(ls.code() == errc::corrupted);
  CHECK(ls.err().message.find("hard state") != std::string::npos);
}

TEST_CASE("log_store_range_outside_log_is_an_argument_error") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.append(make_entries(1, 3, 1)));
  CHECK(ls.entries(2, 5).code() == errc::invalid_argument);
  CHECK(ls.entries(3, 2).code() == errc::invalid_argument);
  CHECK(ls.entries(0, 2).code() == errc::not_found); // index 0 is never stored
}

TEST_CASE("lmdb_map_full_error_says_how_to_raise_the_map_size") {
  temp_dir tmp;
  auto o = opts();
  o.map_size = 256 * 1024; // tiny on purpose
  auto ls = open_ok(tmp.sub("log"), o);
  status st;
  for (raft::index_t i = 1; i <= 100 && st.ok(); ++i)
    st = ls.append({make_entry(i, 1, std::string(16 * 1024, 'x'))});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == errc::resource_exhausted); // a limit, not damage
  CHECK(st.err().message.find("a larger --max-db-size") != std::string::npos);
  CHECK(st.err().message.find(tmp.sub("log")) != std::string::npos);
  // The failed batch left nothing behind: the log ends at the last good append.
  auto last = ls.last_index();
  CHECK(ls.entries(1, last + 1).ok());
}

TEST_CASE("log_store_replace_suffix_accepts_resent_committed_entries_of_same_term") {
  temp_dir tmp;
  auto ls = open_ok(tmp.sub("log"));
  CHECK_OK(ls.append(make_entries(1, 5, 1), raft::hard_state{1, 1, 3}));
  // The leader re-sends 2..4 (same terms) plus a new entry 6: fine.
  auto resent = make_entries(2, 4, 1);
  CHECK_OK(ls.replace_suffix(resent));
  CHECK(ls.last_index() == 4);
  CHECK_OK(ls.replace_suffix(make_entries(5, 6, 1)));
  CHECK(ls.last_index() == 6);
  // Deleting committed entry 3 by a shorter batch is refused.
  CHECK(ls.replace_suffix(make_entries(2, 2, 1)).code() == errc::invalid_argument);
  // Truncating beyond the end is a no-op even below the commit index.
  CHECK_OK(ls.truncate_suffix(7));
  CHECK(ls.last_index() == 6);
}

TEST_CASE("log_store_persist_writes_snapshot_entries_and_hard_state_in_one_step") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 5, 1), raft::hard_state{1, 2, 2}));
    log_batch b;
    b.snapshot = snapshot_point{30, 2};
    for (raft::index_t i = 31; i <= 33; ++i)
      b.entries.push_back(std::make_shared<const log_entry>(make_entry(i, 3)));
    b.hard = raft::hard_state{3, 2, 31}; // commit may cover entries of this batch
    CHECK_OK(ls.persist(b));
    CHECK(ls.snapshot_index() == 30);
    CHECK(ls.first_index() == 31);
    CHECK(ls.last_index() == 33);
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.snapshot_index() == 30);
  CHECK(ls.snapshot_term() == 2);
  CHECK(ls.last_index() == 33);
  CHECK(ls.last_term() == 3);
  CHECK(ls.hard_state() == raft::hard_state{3, 2, 31});
  CHECK(ls.entry(5).code() == errc::not_found);
  auto e31 = ls.entry(31);
  REQUIRE(e31.ok());
  CHECK(*e31 == make_entry(31, 3));
}

TEST_CASE("log_store_persist_refused_as_a_whole_changes_nothing") {
  temp_dir tmp;
  {
    auto ls = open_ok(tmp.sub("log"));
    CHECK_OK(ls.append(make_entries(1, 3, 2), raft::hard_state{2, 1, 1}));
    log_batch b;
    b.hard = raft::hard_state{4, 1, 1};
    // Entry 5 after last index 3: a gap, so the hard state must not land either.
    b.entries.push_back(std::make_shared<const log_entry>(make_entry(5, 4)));
    CHECK(ls.persist(b).code() == errc::invalid_argument);
    // A term below the one of the entry before the suffix (found in the txn).
    log_batch low;
    low.hard = raft::hard_state{4, 1, 1};
    low.entries.push_back(std::make_shared<const log_entry>(make_entry(3, 1)));
    CHECK(ls.persist(low).code() == errc::invalid_argument);
    CHECK(ls.hard_state() == raft::hard_state{2, 1, 1});
    CHECK(ls.last_index() == 3);
  }
  auto ls = open_ok(tmp.sub("log"));
  CHECK(ls.hard_state() == raft::hard_state{2, 1, 1});
  CHECK(ls.last_index() == 3);
  CHECK(ls.last_term() == 2);
}

TEST_CASE("log_store_refuses_a_second_open_of_the_same_dir_in_one_process") {
  temp_dir tmp;
  auto first = open_ok(tmp.sub("log"));
  CHECK_OK(first.append(make_entries(1, 1, 1)));
  // Also through another spelling of the same path.
  auto second = log_store::open(tmp.path() + "/./log", opts());
  REQUIRE_FALSE(second.ok());
  CHECK(second.code() == errc::invalid_argument);
  CHECK(second.err().message.find("already open") != std::string::npos);
  // The first handle still works, and the dir opens again once it is closed.
  CHECK_OK(first.append(make_entries(2, 2, 1)));
  {
    log_store moved = std::move(first);
    CHECK(moved.last_index() == 2);
  }
  auto again = open_ok(tmp.sub("log"));
  CHECK(again.last_index() == 2);
}

TEST_CASE("log_store_refuses_a_dir_locked_by_another_process") {
  temp_dir tmp;
  { open_ok(tmp.sub("log")); }
  // Another process's lock: flock conflicts between open file descriptions,
  // so a descriptor of our own stands in for the other node.
  int fd = ::open((tmp.sub("log") + "/conflux.lock").c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto ls = log_store::open(tmp.sub("log"), opts());
  CHECK(ls.code() == errc::invalid_argument);
  if (!ls.ok())
    CHECK(ls.err().message.find("another process") != std::string::npos);
  ::close(fd);
  CHECK(log_store::open(tmp.sub("log"), opts()).ok());
}

TEST_CASE("log_store_refuses_a_snapshot_reset_behind_the_commit_index") {
  // A stale snapshot must never delete entries this node acknowledged as
  // committed (paper §7).
  temp_dir tmp;
  auto ls = log_store::open(tmp.sub("log"), [] {
    log_store_options o;
    o.identity.cluster_id = "c";
    o.identity.node_id = 1;
    return o;
  }());
  REQUIRE(ls.ok());
  std::vector<raft::log_entry> es;
  for (raft::index_t i = 1; i <= 5; ++i) {
    raft::log_entry e;
    e.index = i;
    e.term = 1;
    e.data = "x";
    es.push_back(e);
  }
  REQUIRE(ls->append(es, raft::hard_state{1, 1, 5}).ok());
  auto st = ls->reset_to_snapshot(2, 1);
  REQUIRE(st.code() == errc::invalid_argument);
  CHECK(st.err().message.find("committed") != std::string::npos);
  CHECK(ls->last_index() == 5);
  CHECK(ls->drop_prefix(4).ok());
  CHECK(ls->reset_to_snapshot(7, 1).ok());
  CHECK(ls->last_index() == 7);
}
