// Wire encoding of raft::message. The layout (format byte, tags, field
// order, types) and the decoder's refusals are specified once, in
// protocol/raft/PROTOCOL.md §7 "Wire encoding between nodes"; this file
// implements that section and a layout change updates it in the same commit.

#include "protocol/raft/wire.hpp"

#include "protocol/msgpack_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <msgpack.hpp>
#include <string>
#include <utility>
#include <vector>

namespace conflux::raft {
namespace {

enum class tag : std::uint8_t {
  request_vote_request = 1,
  request_vote_response = 2,
  append_entries_request = 3,
  append_entries_response = 4,
  heartbeat_request = 5,
  heartbeat_response = 6,
  install_snapshot_request = 7,
  timeout_now_request = 8,
  read_index_request = 9,
  read_index_response = 10,
};
constexpr std::uint64_t max_tag = 10;

constexpr std::uint64_t max_entry_kind =
    static_cast<std::uint64_t>(entry_kind::membership);

// -- encoding ---------------------------------------------------------------

// Appends straight to the result, so entry data is copied exactly once.
struct string_sink {
  std::string& out;
  void write(const char* p, std::size_t n) { out.append(p, n); }
};

using packer = msgpack::packer<string_sink>;

void put_bin(packer& p, const std::string& s) {
  p.pack_bin(static_cast<std::uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void put_bool(packer& p, bool b) {
  if (b)
    p.pack_true();
  else
    p.pack_false();
}

void put_ids(packer& p, const std::vector<server_id>& ids) {
  p.pack_array(static_cast<std::uint32_t>(ids.size()));
  for (auto id : ids)
    p.pack_uint64(id);
}

// Worst-case bytes for everything but the data strings: a u64 takes at most 9.
constexpr std::size_t fixed_overhead = 64;
constexpr std::size_t per_entry_overhead = 1 + 9 + 9 + 1 + 9 + 5;

std::size_t size_hint(const message& m) {
  if (auto* a = std::get_if<append_entries_request>(&m)) {
    std::size_t n = fixed_overhead;
    for (auto& e : a->entries)
      n += per_entry_overhead + e->data.size();
    return n;
  }
  if (auto* s = std::get_if<install_snapshot_request>(&m)) {
    auto& c = s->meta.config;
    std::size_t n = fixed_overhead +
                    9 * (c.voters.size() + c.learners.size() + c.joining.size()) +
                    s->data.size();
    for (auto& [id, addr] : c.addresses)
      n += 1 + 9 + 5 + addr.size();
    return n;
  }
  return fixed_overhead;
}

struct body_packer {
  packer& p;

  void operator()(const request_vote_request& x) const {
    p.pack_array(6);
    p.pack_uint8(static_cast<std::uint8_t>(tag::request_vote_request));
    p.pack_uint64(x.term);
    p.pack_uint64(x.last_log_index);
    p.pack_uint64(x.last_log_term);
    put_bool(p, x.pre_vote);
    put_bool(p, x.leadership_transfer);
  }
  void operator()(const request_vote_response& x) const {
    p.pack_array(4);
    p.pack_uint8(static_cast<std::uint8_t>(tag::request_vote_response));
    p.pack_uint64(x.term);
    put_bool(p, x.pre_vote);
    put_bool(p, x.granted);
  }
  void operator()(const append_entries_request& x) const {
    p.pack_array(6);
    p.pack_uint8(static_cast<std::uint8_t>(tag::append_entries_request));
    p.pack_uint64(x.term);
    p.pack_uint64(x.prev_log_index);
    p.pack_uint64(x.prev_log_term);
    p.pack_array(static_cast<std::uint32_t>(x.entries.size()));
    for (auto& e : x.entries) {
      p.pack_array(5);
      p.pack_uint64(e->term);
      p.pack_uint64(e->index);
      p.pack_uint8(static_cast<std::uint8_t>(e->kind));
      p.pack_int64(e->timestamp_ms);
      put_bin(p, e->data);
    }
    p.pack_uint64(x.leader_commit);
  }
  void operator()(const append_entries_response& x) const {
    p.pack_array(6);
    p.pack_uint8(static_cast<std::uint8_t>(tag::append_entries_response));
    p.pack_uint64(x.term);
    put_bool(p, x.success);
    p.pack_uint64(x.index);
    p.pack_uint64(x.hint_index);
    p.pack_uint64(x.hint_term);
  }
  void operator()(const heartbeat_request& x) const {
    p.pack_array(4);
    p.pack_uint8(static_cast<std::uint8_t>(tag::heartbeat_request));
    p.pack_uint64(x.term);
    p.pack_uint64(x.commit);
    p.pack_uint64(x.read_seq);
  }
  void operator()(const heartbeat_response& x) const {
    p.pack_array(3);
    p.pack_uint8(static_cast<std::uint8_t>(tag::heartbeat_response));
    p.pack_uint64(x.term);
    p.pack_uint64(x.read_seq);
  }
  void operator()(const install_snapshot_request& x) const {
    p.pack_array(4);
    p.pack_uint8(static_cast<std::uint8_t>(tag::install_snapshot_request));
    p.pack_uint64(x.term);
    p.pack_array(6);
    p.pack_uint64(x.meta.index);
    p.pack_uint64(x.meta.term);
    put_ids(p, x.meta.config.voters);
    put_ids(p, x.meta.config.learners);
    put_ids(p, x.meta.config.joining);
    // Flat [id, address, id, address, ...]: nesting stays within 3 levels.
    p.pack_array(static_cast<std::uint32_t>(2 * x.meta.config.addresses.size()));
    for (auto& [id, addr] : x.meta.config.addresses) {
      p.pack_uint64(id);
      p.pack_str(static_cast<std::uint32_t>(addr.size()));
      p.pack_str_body(addr.data(), static_cast<std::uint32_t>(addr.size()));
    }
    put_bin(p, x.data);
  }
  void operator()(const timeout_now_request& x) const {
    p.pack_array(2);
    p.pack_uint8(static_cast<std::uint8_t>(tag::timeout_now_request));
    p.pack_uint64(x.term);
  }
  void operator()(const read_index_request& x) const {
    p.pack_array(3);
    p.pack_uint8(static_cast<std::uint8_t>(tag::read_index_request));
    p.pack_uint64(x.term);
    p.pack_uint64(x.context);
  }
  void operator()(const read_index_response& x) const {
    p.pack_array(4);
    p.pack_uint8(static_cast<std::uint8_t>(tag::read_index_response));
    p.pack_uint64(x.term);
    p.pack_uint64(x.context);
    p.pack_uint64(x.index);
  }
};

// -- decoding ---------------------------------------------------------------
// The shared strict cursor (protocol/msgpack_reader.hpp) plus the reads of
// Raft messages.

class array_reader : public conflux::detail::msgpack_array_reader {
public:
  using msgpack_array_reader::msgpack_array_reader;

  /// Points into the input (see the reference function in decode_message).
  std::string_view bin() { return bin_view(); }

  std::vector<server_id> ids() {
    std::vector<server_id> out;
    auto* o = next();
    if (!o || o->type != msgpack::type::ARRAY) {
      ok_ = false;
      return out;
    }
    out.reserve(o->via.array.size);
    for (std::uint32_t i = 0; i < o->via.array.size; ++i) {
      auto& e = o->via.array.ptr[i];
      if (e.type != msgpack::type::POSITIVE_INTEGER) {
        ok_ = false;
        return out;
      }
      out.push_back(e.via.u64);
    }
    return out;
  }

  /// [id, "host:port", id, "host:port", ...] with ids ascending.
  std::map<server_id, std::string> addresses() {
    std::map<server_id, std::string> out;
    auto* o = next();
    if (!o || o->type != msgpack::type::ARRAY || o->via.array.size % 2 != 0) {
      ok_ = false;
      return out;
    }
    array_reader pairs{o, o->via.array.size, ok_};
    server_id prev = no_server;
    for (std::uint32_t i = 0; i < o->via.array.size / 2 && ok_; ++i) {
      auto id = pairs.u64();
      auto addr = pairs.str_view();
      if (!ok_ || id <= prev || addr.empty() || addr.size() > max_address_size) {
        ok_ = false;
        break;
      }
      out.emplace(id, std::string{addr});
      prev = id;
    }
    return out;
  }
};

// decode_membership's rules (membership.cpp): no id 0, no id twice within a
// list or across lists. Sorting keeps a forged huge list from costing n^2.
bool valid_membership(const membership& m) {
  std::vector<server_id> all = m.all();
  std::sort(all.begin(), all.end());
  if ((!all.empty() && all.front() == no_server) ||
      std::adjacent_find(all.begin(), all.end()) != all.end())
    return false;
  for (auto& [id, addr] : m.addresses)
    if (!std::binary_search(all.begin(), all.end(), id))
      return false;
  return true;
}

std::vector<entry_ptr> read_entries(array_reader& r, index_t prev_log_index, bool& ok) {
  std::vector<entry_ptr> out;
  auto* list = r.next();
  if (!list || list->type != msgpack::type::ARRAY) {
    ok = false;
    return out;
  }
  out.reserve(list->via.array.size);
  for (std::uint32_t i = 0; i < list->via.array.size && ok; ++i) {
    array_reader er{&list->via.array.ptr[i], 5, ok};
    log_entry e;
    e.term = er.u64();
    e.index = er.u64();
    auto kind = er.u64();
    e.timestamp_ms = er.i64();
    auto data = er.bin();
    // Entry i must have index prev_log_index + 1 + i. Entry i - 1 passed, so
    // prev_log_index + i is a valid index and the right side cannot wrap.
    if (!ok || kind > max_entry_kind || e.index == 0 ||
        e.index - 1 != prev_log_index + i) {
      ok = false;
      break;
    }
    e.kind = static_cast<entry_kind>(kind);
    e.data.assign(data.data(), data.size());
    out.push_back(std::make_shared<const log_entry>(std::move(e)));
  }
  return out;
}

message read_message(const msgpack::object& o, bool& ok) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size == 0 ||
      o.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER ||
      o.via.array.ptr[0].via.u64 < 1 || o.via.array.ptr[0].via.u64 > max_tag) {
    ok = false;
    return {};
  }
  const auto t = static_cast<tag>(o.via.array.ptr[0].via.u64);
  // Each case states its arity; the reader then skips the tag.
  auto body = [&](std::size_t fields) {
    array_reader r{&o, 1 + fields, ok};
    r.u64();
    return r;
  };
  switch (t) {
  case tag::request_vote_request: {
    auto r = body(5);
    request_vote_request x;
    x.term = r.u64();
    x.last_log_index = r.u64();
    x.last_log_term = r.u64();
    x.pre_vote = r.boolean();
    x.leadership_transfer = r.boolean();
    return x;
  }
  case tag::request_vote_response: {
    auto r = body(3);
    request_vote_response x;
    x.term = r.u64();
    x.pre_vote = r.boolean();
    x.granted = r.boolean();
    return x;
  }
  case tag::append_entries_request: {
    auto r = body(5);
    append_entries_request x;
    x.term = r.u64();
    x.prev_log_index = r.u64();
    x.prev_log_term = r.u64();
    if (ok)
      x.entries = read_entries(r, x.prev_log_index, ok);
    x.leader_commit = r.u64();
    return x;
  }
  case tag::append_entries_response: {
    auto r = body(5);
    append_entries_response x;
    x.term = r.u64();
    x.success = r.boolean();
    x.index = r.u64();
    x.hint_index = r.u64();
    x.hint_term = r.u64();
    return x;
  }
  case tag::heartbeat_request: {
    auto r = body(3);
    heartbeat_request x;
    x.term = r.u64();
    x.commit = r.u64();
    x.read_seq = r.u64();
    return x;
  }
  case tag::heartbeat_response: {
    auto r = body(2);
    heartbeat_response x;
    x.term = r.u64();
    x.read_seq = r.u64();
    return x;
  }
  case tag::install_snapshot_request: {
    auto r = body(3);
    install_snapshot_request x;
    x.term = r.u64();
    array_reader mr{r.next(), 6, ok};
    x.meta.index = mr.u64();
    x.meta.term = mr.u64();
    x.meta.config.voters = mr.ids();
    x.meta.config.learners = mr.ids();
    x.meta.config.joining = mr.ids();
    x.meta.config.addresses = mr.addresses();
    if (ok && !valid_membership(x.meta.config))
      ok = false;
    auto data = r.bin();
    x.data.assign(data.data(), data.size());
    return x;
  }
  case tag::timeout_now_request: {
    auto r = body(1);
    timeout_now_request x;
    x.term = r.u64();
    return x;
  }
  case tag::read_index_request: {
    auto r = body(2);
    read_index_request x;
    x.term = r.u64();
    x.context = r.u64();
    return x;
  }
  case tag::read_index_response: {
    auto r = body(3);
    read_index_response x;
    x.term = r.u64();
    x.context = r.u64();
    x.index = r.u64();
    return x;
  }
  }
  ok = false;
  return {};
}

// Let STR and BIN point into the input instead of copying them into the zone:
// the input outlives the unpacked object, and read_message copies the bytes
// once, into the message.
bool reference_everything(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

} // namespace

std::string encode_message(const message& m) {
  std::string out;
  out.reserve(size_hint(m));
  out.push_back(static_cast<char>(wire_format_version));
  string_sink sink{out};
  packer p{sink};
  std::visit(body_packer{p}, m);
  return out;
}

conflux::expected<message> decode_message(std::string_view bytes) {
  if (bytes.empty())
    return error{errc::corrupted, "raft message is empty"};
  const auto v = static_cast<std::uint8_t>(bytes[0]);
  if (v != wire_format_version)
    return error{v > wire_format_version ? errc::unsupported_version : errc::corrupted,
                 "raft message has wire format version " + std::to_string(v) +
                     "; this build reads version " +
                     std::to_string(wire_format_version) +
                     (v > wire_format_version ? " (upgrade this node)" : "")};
  const auto n = bytes.size() - 1;
  // Every count is bounded by the input length, so a forged header cannot make
  // the parser allocate more than a few times the input. Depth 3 covers the
  // deepest layout: message -> entry list or meta -> entry or id list.
  msgpack::unpack_limit lim{n, n, n, n, n, 3};
  try {
    std::size_t off = 0;
    auto handle =
        msgpack::unpack(bytes.data() + 1, n, off, &reference_everything, nullptr, lim);
    if (off != n)
      return error{errc::corrupted,
                   "raft message has " + std::to_string(n - off) + " trailing bytes"};
    bool ok = true;
    message out = read_message(handle.get(), ok);
    if (!ok)
      return error{errc::corrupted, "raft message does not have the expected layout"};
    return out;
  } catch (const std::exception& e) {
    return error{errc::corrupted,
                 std::string{"raft message cannot be decoded: "} + e.what()};
  } catch (...) {
    return error{errc::corrupted, "raft message cannot be decoded"};
  }
}

} // namespace conflux::raft
