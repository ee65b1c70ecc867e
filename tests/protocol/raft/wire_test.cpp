// The wire codec for Raft messages between nodes (protocol/raft/wire.hpp):
// round trips of every message kind, fixed tags, and hostile input. Decoding
// never crashes, never reads out of bounds (run under CONFLUX_SANITIZE=1 to
// have ASan check that) and maps every malformed input to a typed error.

#include "protocol/raft/wire.hpp"
#include "tests/protocol/raft/builders.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <initializer_list>
#include <limits>
#include <msgpack.hpp>
#include <random>
#include <string>
#include <vector>

using namespace conflux::raft;
using conflux::errc;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
using u64_list = std::initializer_list<std::uint64_t>;

append_entries_request sample_append() {
  append_entries_request m;
  m.term = 7;
  m.prev_log_index = 41;
  m.prev_log_term = 6;
  m.entries.push_back(entry_at(42)
                          .term(6)
                          .timestamp_ms(1'700'000'000'123)
                          .command(std::string("set\0\xff\x01key", 10)));
  m.entries.push_back(entry_at(43).term(7).timestamp_ms(-5).noop());
  m.entries.push_back(entry_at(44)
                          .term(7)
                          .timestamp_ms(std::numeric_limits<std::int64_t>::min())
                          .config(membership{{1, 2, 3}, {4}, {5}}));
  m.leader_commit = 42;
  return m;
}

install_snapshot_request sample_snapshot() {
  install_snapshot_request m;
  m.term = 9;
  m.meta.index = 1000;
  m.meta.term = 8;
  m.meta.config = membership{{1, 2, 3}, {7}, {9, u64_max}};
  m.data = std::string("snap\0shot\xc1", 10);
  return m;
}

/// One sample per alternative, every field set away from its default.
std::vector<message> sample_messages() {
  std::vector<message> out;
  out.push_back(vote_request().term(5).last_log(100, 4).pre_vote());
  out.push_back(
      vote_request().term(u64_max).last_log(u64_max, u64_max).leadership_transfer());
  out.push_back(vote_response().term(5).pre_vote().granted());
  out.push_back(vote_response().term(6).refused());
  out.push_back(sample_append());
  out.push_back(append_request().term(3));
  out.push_back(append_response().term(7).accepted(44));
  out.push_back(append_response().term(7).rejected(41).hint(30, 5));
  out.push_back(heartbeat().term(7).commit(42).read_seq(99));
  out.push_back(heartbeat_ack().term(7).read_seq(u64_max));
  out.push_back(sample_snapshot());
  out.push_back(snapshot_request().term(1));
  out.push_back(timeout_now().term(12));
  out.push_back(read_request().term(12).context(0xdeadbeefcafe));
  out.push_back(read_response().term(12).context(0xdeadbeefcafe).index(77));
  return out;
}

bool same_entry(const entry_ptr& a, const entry_ptr& b) {
  return a && b && *a == *b;
}

// Field-by-field equality, so that a field the encoder forgot cannot hide
// behind a self-consistent re-encoding.
struct same_fields {
  const message& other;
  template <class T>
  bool operator()(const T& a) const {
    const auto* b = std::get_if<T>(&other);
    return b && eq(a, *b);
  }
  static bool eq(const request_vote_request& a, const request_vote_request& b) {
    return a.term == b.term && a.last_log_index == b.last_log_index &&
           a.last_log_term == b.last_log_term && a.pre_vote == b.pre_vote &&
           a.leadership_transfer == b.leadership_transfer;
  }
  static bool eq(const request_vote_response& a, const request_vote_response& b) {
    return a.term == b.term && a.pre_vote == b.pre_vote && a.granted == b.granted;
  }
  static bool eq(const append_entries_request& a, const append_entries_request& b) {
    if (a.term != b.term || a.prev_log_index != b.prev_log_index ||
        a.prev_log_term != b.prev_log_term || a.leader_commit != b.leader_commit ||
        a.entries.size() != b.entries.size())
      return false;
    for (std::size_t i = 0; i < a.entries.size(); ++i)
      if (!same_entry(a.entries[i], b.entries[i]))
        return false;
    return true;
  }
  static bool eq(const append_entries_response& a, const append_entries_response& b) {
    return a.term == b.term && a.success == b.success && a.index == b.index &&
           a.hint_index == b.hint_index && a.hint_term == b.hint_term;
  }
  static bool eq(const heartbeat_request& a, const heartbeat_request& b) {
    return a.term == b.term && a.commit == b.commit && a.read_seq == b.read_seq;
  }
  static bool eq(const heartbeat_response& a, const heartbeat_response& b) {
    return a.term == b.term && a.read_seq == b.read_seq;
  }
  static bool eq(const install_snapshot_request& a, const install_snapshot_request& b) {
    return a.term == b.term && a.meta.index == b.meta.index &&
           a.meta.term == b.meta.term && a.meta.config == b.meta.config &&
           a.data == b.data;
  }
  static bool eq(const timeout_now_request& a, const timeout_now_request& b) {
    return a.term == b.term;
  }
  static bool eq(const read_index_request& a, const read_index_request& b) {
    return a.term == b.term && a.context == b.context;
  }
  static bool eq(const read_index_response& a, const read_index_response& b) {
    return a.term == b.term && a.context == b.context && a.index == b.index;
  }
};

bool same(const message& a, const message& b) {
  return std::visit(same_fields{b}, a);
}

/// Hand-built input: the format byte, then whatever `body` packs.
template <class F>
std::string raw(F&& body, std::uint8_t version = wire_format_version) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p{buf};
  body(p);
  std::string out(1, static_cast<char>(version));
  out.append(buf.data(), buf.size());
  return out;
}

using packer = msgpack::packer<msgpack::sbuffer>;

void pack_entry(packer& p, std::uint64_t term, std::uint64_t index, std::uint64_t kind,
                std::int64_t ts, const std::string& data) {
  p.pack_array(5);
  p.pack_uint64(term);
  p.pack_uint64(index);
  p.pack_uint64(kind);
  p.pack_int64(ts);
  p.pack_bin(static_cast<std::uint32_t>(data.size()));
  p.pack_bin_body(data.data(), static_cast<std::uint32_t>(data.size()));
}

void pack_ids(packer& p, const std::vector<std::uint64_t>& ids) {
  p.pack_array(static_cast<std::uint32_t>(ids.size()));
  for (auto id : ids)
    p.pack_uint64(id);
}

std::string snapshot_with(const std::vector<std::uint64_t>& voters,
                          const std::vector<std::uint64_t>& learners,
                          const std::vector<std::uint64_t>& joining) {
  return raw([&](packer& p) {
    p.pack_array(4);
    p.pack_uint8(7);
    p.pack_uint64(3);
    p.pack_array(6);
    p.pack_uint64(10);
    p.pack_uint64(2);
    pack_ids(p, voters);
    pack_ids(p, learners);
    pack_ids(p, joining);
    p.pack_array(0);
    p.pack_bin(0);
  });
}

bool is_ok_or_corrupted(const conflux::expected<message>& r) {
  return r.ok() || r.code() == errc::corrupted;
}

} // namespace

TEST_CASE("wire_round_trips_every_message_kind") {
  auto samples = sample_messages();
  std::vector<bool> seen(std::variant_size_v<message>, false);
  for (auto& m : samples) {
    auto bytes = encode_message(m);
    CHECK(static_cast<std::uint8_t>(bytes.at(0)) == wire_format_version);
    auto back = decode_message(bytes);
    REQUIRE_MESSAGE(back.ok(), message_name(m) << ": " << back.err().message);
    CHECK_MESSAGE(same(m, *back), message_name(m));
    CHECK(encode_message(*back) == bytes);
    seen[m.index()] = true;
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    CHECK_MESSAGE(seen[i], "no sample for alternative " << i);
}

TEST_CASE("wire_tags_are_fixed_numbers") {
  // Never renumber: nodes of different builds must understand each other.
  const std::vector<std::pair<message, int>> table = {
      {request_vote_request{}, 1},     {request_vote_response{}, 2},
      {append_entries_request{}, 3},   {append_entries_response{}, 4},
      {heartbeat_request{}, 5},        {heartbeat_response{}, 6},
      {install_snapshot_request{}, 7}, {timeout_now_request{}, 8},
      {read_index_request{}, 9},       {read_index_response{}, 10},
  };
  REQUIRE(table.size() == std::variant_size_v<message>);
  for (auto& [m, tag] : table) {
    auto bytes = encode_message(m);
    // [format][fixarray header][tag as positive fixint]...
    REQUIRE(bytes.size() > 2);
    CHECK((static_cast<std::uint8_t>(bytes[1]) & 0xf0) == 0x90);
    CHECK_MESSAGE(static_cast<int>(static_cast<std::uint8_t>(bytes[2])) == tag,
                  message_name(m));
  }
}

TEST_CASE("wire_decodes_entries_as_fresh_shared_entries") {
  auto m = sample_append();
  auto back = decode_message(encode_message(m));
  REQUIRE(back.ok());
  auto& got = std::get<append_entries_request>(*back);
  REQUIRE(got.entries.size() == m.entries.size());
  for (std::size_t i = 0; i < got.entries.size(); ++i) {
    REQUIRE(got.entries[i]);
    CHECK(got.entries[i] != m.entries[i]);
    CHECK(got.entries[i].use_count() == 1);
    CHECK(*got.entries[i] == *m.entries[i]);
  }
}

TEST_CASE("wire_encodes_a_full_append_entries_with_little_overhead") {
  append_entries_request m;
  m.term = 1'000;
  m.prev_log_index = 1'000'000;
  m.prev_log_term = 999;
  m.leader_commit = 1'000'000;
  std::size_t payload = 0;
  for (index_t i = 1; i <= 64; ++i) {
    std::string data(300, static_cast<char>('a' + i % 26));
    payload += data.size();
    m.entries.push_back(
        entry_at(m.prev_log_index + i)
            .term(1'000)
            .timestamp_ms(1'700'000'000'000 + static_cast<std::int64_t>(i))
            .command(std::move(data)));
  }
  auto bytes = encode_message(m);
  // Per entry: array header, term, index, kind, timestamp, bin header.
  CHECK(bytes.size() <= payload + 64 * 32 + 32);
  auto back = decode_message(bytes);
  REQUIRE(back.ok());
  CHECK(same(m, *back));
}

TEST_CASE("wire_rejects_empty_input_and_garbage") {
  CHECK(decode_message("").code() == errc::corrupted);
  CHECK(decode_message(std::string(1, static_cast<char>(wire_format_version))).code() ==
        errc::corrupted);
  CHECK(decode_message("\x01hello").code() == errc::corrupted);
  // A well-formed msgpack value that is not a message.
  CHECK(decode_message(raw([](packer& p) { p.pack_uint8(1); })).code() ==
        errc::corrupted);
  CHECK(decode_message(raw([](packer& p) { p.pack_array(0); })).code() ==
        errc::corrupted);
  CHECK(decode_message(raw([](packer& p) {
          p.pack_map(1);
          p.pack_uint8(1);
          p.pack_uint8(1);
        })).code() == errc::corrupted);
}

TEST_CASE("wire_rejects_truncated_input") {
  for (auto& m : sample_messages()) {
    auto bytes = encode_message(m);
    for (std::size_t n = 0; n < bytes.size(); ++n)
      CHECK_MESSAGE(decode_message(bytes.substr(0, n)).code() == errc::corrupted,
                    message_name(m) << " prefix " << n);
  }
}

TEST_CASE("wire_rejects_trailing_bytes") {
  for (auto& m : sample_messages()) {
    auto r = decode_message(encode_message(m) + std::string(1, '\0'));
    REQUIRE(r.code() == errc::corrupted);
    CHECK(r.err().message.find("trailing") != std::string::npos);
  }
  // Two messages back to back are not one message.
  auto one = encode_message(heartbeat().term(1).commit(2).read_seq(3));
  CHECK(decode_message(one + one.substr(1)).code() == errc::corrupted);
}

TEST_CASE("wire_rejects_unknown_tag") {
  for (std::uint64_t tag : u64_list{0, 11, 42, 127, 255, 256 + 5, u64_max}) {
    auto bytes = raw([&](packer& p) {
      p.pack_array(2);
      p.pack_uint64(tag);
      p.pack_uint64(1);
    });
    CHECK_MESSAGE(decode_message(bytes).code() == errc::corrupted, "tag " << tag);
  }
  // A negative or non-integer tag.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(2);
          p.pack_int8(-8);
          p.pack_uint64(1);
        })).code() == errc::corrupted);
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(2);
          p.pack_str(1);
          p.pack_str_body("\x08", 1);
          p.pack_uint64(1);
        })).code() == errc::corrupted);
  // A known tag whose body has another message's arity.
  auto timeout_now = raw([](packer& p) {
    p.pack_array(2);
    p.pack_uint8(8);
    p.pack_uint64(4);
  });
  REQUIRE(decode_message(timeout_now).ok());
  CHECK(std::holds_alternative<timeout_now_request>(*decode_message(timeout_now)));
  auto wrong_arity = raw([](packer& p) {
    p.pack_array(3);
    p.pack_uint8(8);
    p.pack_uint64(4);
    p.pack_uint64(4);
  });
  CHECK(decode_message(wrong_arity).code() == errc::corrupted);
}

TEST_CASE("wire_rejects_newer_format_version") {
  auto bytes = encode_message(heartbeat().term(3).commit(2).read_seq(1));
  bytes[0] = static_cast<char>(wire_format_version + 1);
  auto r = decode_message(bytes);
  REQUIRE(r.code() == errc::unsupported_version);
  CHECK(r.err().message.find("upgrade") != std::string::npos);
  bytes[0] = static_cast<char>(0xff);
  CHECK(decode_message(bytes).code() == errc::unsupported_version);
  // Version 0 was never written: that is damage, not the future.
  bytes[0] = 0;
  CHECK(decode_message(bytes).code() == errc::corrupted);
}

TEST_CASE("wire_rejects_bad_entry_kind") {
  auto m = sample_append();
  m.entries[1] = entry_at(43).term(7).kind(static_cast<entry_kind>(3));
  CHECK(decode_message(encode_message(message{m})).code() == errc::corrupted);
  for (std::uint64_t kind : u64_list{3, 255, 256, u64_max}) {
    auto bytes = raw([&](packer& p) {
      p.pack_array(6);
      p.pack_uint8(3);
      p.pack_uint64(1);
      p.pack_uint64(0);
      p.pack_uint64(0);
      p.pack_array(1);
      pack_entry(p, 1, 1, kind, 0, "x");
      p.pack_uint64(0);
    });
    CHECK_MESSAGE(decode_message(bytes).code() == errc::corrupted, "kind " << kind);
  }
  for (std::uint64_t kind : u64_list{0, 1, 2}) {
    auto bytes = raw([&](packer& p) {
      p.pack_array(6);
      p.pack_uint8(3);
      p.pack_uint64(1);
      p.pack_uint64(0);
      p.pack_uint64(0);
      p.pack_array(1);
      pack_entry(p, 1, 1, kind, 0, "x");
      p.pack_uint64(0);
    });
    CHECK_MESSAGE(decode_message(bytes).ok(), "kind " << kind);
  }
}

TEST_CASE("wire_rejects_entries_that_do_not_follow_prev_log_index") {
  auto build = [](std::uint64_t prev, std::vector<std::uint64_t> indexes) {
    return raw([&](packer& p) {
      p.pack_array(6);
      p.pack_uint8(3);
      p.pack_uint64(5);
      p.pack_uint64(prev);
      p.pack_uint64(5);
      p.pack_array(static_cast<std::uint32_t>(indexes.size()));
      for (auto i : indexes)
        pack_entry(p, 5, i, 0, 0, "x");
      p.pack_uint64(0);
    });
  };
  CHECK(decode_message(build(10, {11, 12, 13})).ok());
  CHECK(decode_message(build(10, {12})).code() == errc::corrupted);
  CHECK(decode_message(build(10, {10})).code() == errc::corrupted);
  CHECK(decode_message(build(10, {11, 13})).code() == errc::corrupted);
  CHECK(decode_message(build(10, {11, 11})).code() == errc::corrupted);
  // prev_log_index + 1 must not wrap around to 0.
  CHECK(decode_message(build(u64_max, {0})).code() == errc::corrupted);
  CHECK(decode_message(build(u64_max, {})).ok());
}

TEST_CASE("wire_rejects_wrong_field_types") {
  // An integer where a bool belongs.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(6);
          p.pack_uint8(1);
          p.pack_uint64(1);
          p.pack_uint64(1);
          p.pack_uint64(1);
          p.pack_uint8(1);
          p.pack_false();
        })).code() == errc::corrupted);
  // A bool where an integer belongs.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(3);
          p.pack_uint8(6);
          p.pack_true();
          p.pack_uint64(1);
        })).code() == errc::corrupted);
  // A negative integer where an unsigned one belongs.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(2);
          p.pack_uint8(8);
          p.pack_int64(-1);
        })).code() == errc::corrupted);
  // nil where a field belongs.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(2);
          p.pack_uint8(8);
          p.pack_nil();
        })).code() == errc::corrupted);
  // A str where the entry data (bin) belongs.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(6);
          p.pack_uint8(3);
          p.pack_uint64(1);
          p.pack_uint64(0);
          p.pack_uint64(0);
          p.pack_array(1);
          p.pack_array(5);
          p.pack_uint64(1);
          p.pack_uint64(1);
          p.pack_uint64(0);
          p.pack_int64(0);
          p.pack_str(1);
          p.pack_str_body("x", 1);
          p.pack_uint64(0);
        })).code() == errc::corrupted);
  // A timestamp beyond int64.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(6);
          p.pack_uint8(3);
          p.pack_uint64(1);
          p.pack_uint64(0);
          p.pack_uint64(0);
          p.pack_array(1);
          p.pack_array(5);
          p.pack_uint64(1);
          p.pack_uint64(1);
          p.pack_uint64(0);
          p.pack_uint64(u64_max);
          p.pack_bin(0);
          p.pack_uint64(0);
        })).code() == errc::corrupted);
  // An entry with four fields instead of five.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(6);
          p.pack_uint8(3);
          p.pack_uint64(1);
          p.pack_uint64(0);
          p.pack_uint64(0);
          p.pack_array(1);
          p.pack_array(4);
          p.pack_uint64(1);
          p.pack_uint64(1);
          p.pack_uint64(0);
          p.pack_int64(0);
          p.pack_uint64(0);
        })).code() == errc::corrupted);
  // A str where the snapshot data (bin) belongs.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(4);
          p.pack_uint8(7);
          p.pack_uint64(3);
          p.pack_array(6);
          p.pack_uint64(10);
          p.pack_uint64(2);
          pack_ids(p, {1});
          pack_ids(p, {});
          pack_ids(p, {});
          p.pack_array(0);
          p.pack_str(0);
        })).code() == errc::corrupted);
  // A negative server id.
  CHECK(decode_message(raw([](packer& p) {
          p.pack_array(4);
          p.pack_uint8(7);
          p.pack_uint64(3);
          p.pack_array(6);
          p.pack_uint64(10);
          p.pack_uint64(2);
          p.pack_array(1);
          p.pack_int64(-1);
          pack_ids(p, {});
          pack_ids(p, {});
          p.pack_array(0);
          p.pack_bin(0);
        })).code() == errc::corrupted);
}

TEST_CASE("wire_rejects_a_membership_that_decode_membership_rejects") {
  struct sample {
    std::vector<std::uint64_t> voters, learners, joining;
  };
  const std::vector<sample> bad = {
      {{0}, {}, {}},     {{1}, {0}, {}},     {{1}, {}, {0}},    {{1, 1}, {}, {}},
      {{1}, {2, 2}, {}}, {{1}, {}, {3, 3}},  {{1, 2}, {2}, {}}, {{1}, {2}, {1}},
      {{1}, {2}, {2}},   {{5, 6}, {7}, {6}},
  };
  for (auto& s : bad) {
    // The same lists in membership's own encoding are refused too.
    CHECK_FALSE(decode_membership(
                    encode_membership(membership{s.voters, s.learners, s.joining}))
                    .has_value());
    CHECK(decode_message(snapshot_with(s.voters, s.learners, s.joining)).code() ==
          errc::corrupted);
  }
  const std::vector<sample> good = {
      {{}, {}, {}}, {{1}, {}, {}}, {{3, 1, 2}, {9, 8}, {4}}, {{u64_max}, {}, {1}}};
  for (auto& s : good) {
    membership m{s.voters, s.learners, s.joining};
    REQUIRE(decode_membership(encode_membership(m)).has_value());
    auto r = decode_message(snapshot_with(s.voters, s.learners, s.joining));
    REQUIRE(r.ok());
    CHECK(std::get<install_snapshot_request>(*r).meta.config == m);
  }
}

TEST_CASE("wire_snapshot_meta_carries_checked_member_addresses") {
  install_snapshot_request req;
  req.term = 4;
  req.meta.index = 10;
  req.meta.term = 3;
  req.meta.config = membership{{1, 2}, {}, {4}};
  req.meta.config.addresses = {{2, "127.0.0.1:7102"}, {4, "[::1]:7104"}};
  req.data = "state";
  auto back = decode_message(encode_message(message{req}));
  REQUIRE(back.ok());
  CHECK(std::get<install_snapshot_request>(*back).meta.config == req.meta.config);

  auto with_addresses = [](std::vector<std::pair<std::uint64_t, std::string>> addrs) {
    return raw([&](packer& p) {
      p.pack_array(4);
      p.pack_uint8(7);
      p.pack_uint64(3);
      p.pack_array(6);
      p.pack_uint64(10);
      p.pack_uint64(2);
      pack_ids(p, {1, 2});
      pack_ids(p, {});
      pack_ids(p, {});
      p.pack_array(static_cast<std::uint32_t>(2 * addrs.size()));
      for (auto& [id, a] : addrs) {
        p.pack_uint64(id);
        p.pack_str(static_cast<std::uint32_t>(a.size()));
        p.pack_str_body(a.data(), static_cast<std::uint32_t>(a.size()));
      }
      p.pack_bin(0);
    });
  };
  CHECK(decode_message(with_addresses({{1, "a:1"}, {2, "b:2"}})).ok());
  // A non-member, an empty address, a repeated or descending id, an oversized one.
  CHECK(decode_message(with_addresses({{3, "c:3"}})).code() == errc::corrupted);
  CHECK(decode_message(with_addresses({{1, ""}})).code() == errc::corrupted);
  CHECK(decode_message(with_addresses({{2, "b:2"}, {1, "a:1"}})).code() ==
        errc::corrupted);
  CHECK(decode_message(with_addresses({{1, "a:1"}, {1, "a:2"}})).code() ==
        errc::corrupted);
  CHECK(decode_message(with_addresses({{1, std::string(max_address_size + 1, 'h')}}))
            .code() == errc::corrupted);
}

TEST_CASE("wire_rejects_forged_huge_headers_and_deep_nesting") {
  const char v = static_cast<char>(wire_format_version);
  // array32, map32, str32, bin32 claiming 4 billion elements, then nothing.
  for (const char* h : {"\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff",
                        "\xdb\xff\xff\xff\xff", "\xc6\xff\xff\xff\xff"}) {
    std::string b(1, v);
    b += std::string(h, 5);
    CHECK(decode_message(b).code() == errc::corrupted);
  }
  // An append whose entry list claims 4 billion entries.
  auto forged = raw([](packer& p) {
    p.pack_array(6);
    p.pack_uint8(3);
    p.pack_uint64(1);
    p.pack_uint64(0);
    p.pack_uint64(0);
  });
  forged += std::string("\xdd\xff\xff\xff\xff", 5);
  CHECK(decode_message(forged).code() == errc::corrupted);
  // Deep nesting: 100k nested arrays of one element.
  std::string deep(1, v);
  deep += std::string(100'000, '\x91');
  deep += '\xc0';
  CHECK(decode_message(deep).code() == errc::corrupted);
}

TEST_CASE("wire_survives_every_truncation_and_one_byte_mutation") {
  std::size_t decoded = 0, refused = 0;
  for (auto& m : sample_messages()) {
    const auto good = encode_message(m);
    for (std::size_t n = 0; n <= good.size(); ++n) {
      auto r = decode_message(good.substr(0, n));
      CHECK(r.ok() == (n == good.size()));
      CHECK(is_ok_or_corrupted(r));
    }
    for (std::size_t pos = 0; pos < good.size(); ++pos) {
      for (int value = 0; value < 256; ++value) {
        auto b = good;
        b[pos] = static_cast<char>(value);
        // Must simply return (ASan builds check it reads nothing outside b).
        auto r = decode_message(b);
        if (pos == 0 && value > wire_format_version) {
          CHECK(r.code() == errc::unsupported_version);
          continue;
        }
        if (!r.ok()) {
          ++refused;
          if (r.code() != errc::corrupted)
            FAIL_CHECK(message_name(m)
                       << " byte " << pos << " = " << value << ": " << r.err().message);
          continue;
        }
        ++decoded;
        // Whatever decodes is a valid message: it re-encodes and round trips.
        auto again = encode_message(*r);
        auto r2 = decode_message(again);
        REQUIRE(r2.ok());
        CHECK(same(*r, *r2));
      }
    }
  }
  CHECK(decoded > 0);
  CHECK(refused > 0);

  // Random garbage behind a valid format byte.
  std::mt19937_64 rng{20261126};
  std::size_t errors = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string b(static_cast<std::size_t>(1 + rng() % 64), '\0');
    for (auto& ch : b)
      ch = static_cast<char>(rng() & 0xff);
    b[0] = static_cast<char>(wire_format_version);
    auto r = decode_message(b);
    CHECK(is_ok_or_corrupted(r));
    errors += !r.ok();
  }
  CHECK(errors > 20'000 * 9 / 10);
}
