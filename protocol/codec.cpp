// Layouts (after the leading format-version byte, all msgpack arrays):
//   command_envelope  [session, sequence, tag, body, caller]   (command_format_version;
//                     versions 1 and 2 have no caller)
//   config            [id, key, format, schema|nil, latest_version, rules,
//                      create_revision, mod_revision, created_at_ms, updated_at_ms]
//   release_rule      [labels{str:str}, version, priority]
//   version           [config, id, content(bin), content_hash, format, description,
//                      creator, created_at_ms, revision]
//   apply_result      [[code, message]|nil, revision, config, version, session]
//   client_session    [id, timeout_ms, last_active_ms, last_sequence, apply_result,
//                      owner]   (record version 1 has no owner)
// protocol/PROTOCOL.md lists the command bodies; keep both in step.

#include "protocol/codec.hpp"

#include "protocol/msgpack_reader.hpp"

#include <msgpack.hpp>

namespace conflux::codec {
namespace {

// Command tags on the wire. Never renumber: they are in every stored log.
enum class tag : std::uint8_t {
  create_config = 1,
  create_version = 2,
  update_release_rules = 3,
  publish = 4,
  delete_config = 5,
  delete_versions = 6,
  open_session = 7,
  keep_alive = 8,
  close_session = 9,
  set_audit_retention = 10,
};

using packer = msgpack::packer<msgpack::sbuffer>;

// -- encoding ---------------------------------------------------------------

void put_str(packer& p, const std::string& s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void put_bin(packer& p, const std::string& s) {
  p.pack_bin(static_cast<std::uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void put_opt_str(packer& p, const std::optional<std::string>& s) {
  if (s)
    put_str(p, *s);
  else
    p.pack_nil();
}

void put_opt_u64(packer& p, const std::optional<std::uint64_t>& v) {
  if (v)
    p.pack_uint64(*v);
  else
    p.pack_nil();
}

void put_rules(packer& p, const std::vector<release_rule>& rules) {
  p.pack_array(static_cast<std::uint32_t>(rules.size()));
  for (auto& r : rules) {
    p.pack_array(3);
    p.pack_map(static_cast<std::uint32_t>(r.labels.size()));
    for (auto& [k, v] : r.labels) {
      put_str(p, k);
      put_str(p, v);
    }
    p.pack_uint64(r.version);
    p.pack_int32(r.priority);
  }
}

void put_result(packer& p, const apply_result& r) {
  p.pack_array(5);
  if (r.err) {
    p.pack_array(2);
    p.pack_uint8(static_cast<std::uint8_t>(r.err->code));
    put_str(p, r.err->message);
  } else {
    p.pack_nil();
  }
  p.pack_uint64(r.revision);
  p.pack_uint64(r.config);
  p.pack_uint64(r.version);
  p.pack_uint64(r.session);
}

struct body_packer {
  packer& p;
  void operator()(const create_config& c) const {
    p.pack_array(6);
    put_str(p, c.key);
    p.pack_uint8(static_cast<std::uint8_t>(c.format));
    put_opt_str(p, c.schema);
    put_bin(p, c.content);
    put_str(p, c.description);
    put_str(p, c.creator);
  }
  void operator()(const create_version& c) const {
    p.pack_array(5);
    put_str(p, c.key);
    put_bin(p, c.content);
    put_str(p, c.description);
    put_str(p, c.creator);
    put_opt_u64(p, c.expected_revision);
  }
  void operator()(const update_release_rules& c) const {
    p.pack_array(4);
    put_str(p, c.key);
    put_rules(p, c.rules);
    put_str(p, c.comment);
    put_opt_u64(p, c.expected_revision);
  }
  void operator()(const publish& c) const {
    p.pack_array(6);
    put_str(p, c.key);
    put_bin(p, c.content);
    put_str(p, c.description);
    put_str(p, c.creator);
    put_rules(p, c.rules);
    put_opt_u64(p, c.expected_revision);
  }
  void operator()(const delete_config& c) const {
    p.pack_array(3);
    put_str(p, c.key);
    put_opt_u64(p, c.expected_revision);
    if (c.force)
      p.pack_true();
    else
      p.pack_false();
  }
  void operator()(const delete_versions& c) const {
    p.pack_array(3);
    put_str(p, c.key);
    p.pack_array(static_cast<std::uint32_t>(c.versions.size()));
    for (auto v : c.versions)
      p.pack_uint64(v);
    put_opt_u64(p, c.expected_revision);
  }
  void operator()(const open_session& c) const {
    // An empty id (a command built without one) is written as 0, which the
    // state machine refuses: only format 1 and 2 entries take sequential ids.
    p.pack_array(2);
    p.pack_int64(c.timeout_ms);
    p.pack_uint64(c.id.value_or(0));
  }
  void operator()(const keep_alive& c) const {
    p.pack_array(1);
    p.pack_uint64(c.session);
  }
  void operator()(const close_session& c) const {
    p.pack_array(1);
    p.pack_uint64(c.session);
  }
  void operator()(const set_audit_retention& c) const {
    p.pack_array(1);
    p.pack_uint64(c.max_records);
  }
};

template <class F>
std::string encode_with(std::uint8_t version, F&& body) {
  msgpack::sbuffer buf;
  buf.write(reinterpret_cast<const char*>(&version), 1);
  packer p{buf};
  body(p);
  return std::string{buf.data(), buf.size()};
}

// -- decoding ---------------------------------------------------------------
// The shared strict cursor (msgpack_reader.hpp) plus the reads of records.

class array_reader : public detail::msgpack_array_reader {
public:
  array_reader(const msgpack::object& o, std::size_t expected_size, bool& ok)
    : msgpack_array_reader(&o, expected_size, ok) {}

  std::int32_t i32() {
    auto v = i64();
    if (v < INT32_MIN || v > INT32_MAX) {
      ok_ = false;
      return 0;
    }
    return static_cast<std::int32_t>(v);
  }

  std::string str() { return std::string{str_view()}; }
  std::string bin() { return std::string{bin_view()}; }

  std::optional<std::string> opt_str() {
    if (peek_nil())
      return std::nullopt;
    return str();
  }

  std::optional<std::uint64_t> opt_u64() {
    if (peek_nil())
      return std::nullopt;
    return u64();
  }

  content_format format() {
    auto v = u64();
    if (v < 1 || v > 5) {
      ok_ = false;
      return content_format::text;
    }
    return static_cast<content_format>(v);
  }
};

bool read_labels(const msgpack::object& o, labels& out) {
  if (o.type != msgpack::type::MAP)
    return false;
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::STR)
      return false;
    std::string k{kv.key.via.str.ptr, kv.key.via.str.size};
    std::string v{kv.val.via.str.ptr, kv.val.via.str.size};
    // A map with a repeated key cannot come from our encoder.
    if (!out.emplace(std::move(k), std::move(v)).second)
      return false;
  }
  return true;
}

std::vector<release_rule> read_rules(array_reader& r, bool& ok) {
  std::vector<release_rule> rules;
  auto* o = r.next();
  if (!o || o->type != msgpack::type::ARRAY) {
    ok = false;
    return rules;
  }
  for (std::uint32_t i = 0; i < o->via.array.size && ok; ++i) {
    array_reader rr{o->via.array.ptr[i], 3, ok};
    release_rule rule;
    auto* lo = rr.next();
    if (!lo || !read_labels(*lo, rule.labels)) {
      ok = false;
      break;
    }
    rule.version = rr.u64();
    rule.priority = rr.i32();
    rules.push_back(std::move(rule));
  }
  return rules;
}

apply_result read_result(const msgpack::object* o, bool& ok) {
  apply_result res;
  if (!o) {
    ok = false;
    return res;
  }
  array_reader r{*o, 5, ok};
  if (!r.peek_nil()) {
    auto* eo = r.next();
    if (!eo) {
      ok = false;
      return res;
    }
    array_reader er{*eo, 2, ok};
    auto code = er.u64();
    if (code < 1 || code > static_cast<std::uint64_t>(errc::permission_denied))
      ok = false;
    res.err = error{static_cast<errc>(code), er.str()};
  }
  res.revision = r.u64();
  res.config = r.u64();
  res.version = r.u64();
  res.session = r.u64();
  if (!r.done())
    ok = false;
  return res;
}

// Unpacks bytes = [format version][one msgpack object], then runs `read` on
// the object and the version (1 to `newest`). Element counts are bounded by
// the input length, so a forged header cannot make the parser allocate more
// than a few times the input.
template <class T, class F>
expected<T> decode_with(std::string_view bytes, const char* what, std::uint8_t newest,
                        F&& read) {
  if (bytes.empty())
    return error{errc::corrupted, std::string{what} + " record is empty"};
  auto v = static_cast<std::uint8_t>(bytes[0]);
  if (v == 0 || v > newest)
    return error{v > newest ? errc::unsupported_version : errc::corrupted,
                 std::string{what} + " record has format version " + std::to_string(v) +
                   "; this build reads " +
                   (newest == 1 ? std::string{"version 1"}
                                : "versions 1 to " + std::to_string(newest)) +
                   (v > newest ? " (upgrade this node)" : "")};
  auto n = bytes.size() - 1;
  // Depth 6 covers the deepest record (envelope, body, rules, rule, labels).
  msgpack::unpack_limit lim{n, n, n, n, n, 6};
  try {
    std::size_t off = 0;
    auto handle = msgpack::unpack(bytes.data() + 1, n, off, nullptr, nullptr, lim);
    if (off != n)
      return error{errc::corrupted, std::string{what} + " record has " +
                                      std::to_string(n - off) + " trailing bytes"};
    bool ok = true;
    T out = read(handle.get(), ok, v);
    if (!ok)
      return error{errc::corrupted,
                   std::string{what} + " record does not have the expected layout"};
    return out;
  } catch (const std::exception& e) {
    return error{errc::corrupted,
                 std::string{what} + " record cannot be decoded: " + e.what()};
  }
}

} // namespace

std::string encode(const command_envelope& x) {
  return encode_with(command_format_version, [&](packer& p) {
    p.pack_array(5);
    p.pack_uint64(x.session);
    p.pack_uint64(x.sequence);
    p.pack_uint8(static_cast<std::uint8_t>(x.cmd.index() + 1));
    std::visit(body_packer{p}, x.cmd);
    put_str(p, x.caller);
  });
}

std::string encode(const config& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(10);
    p.pack_uint64(x.id);
    put_str(p, x.key);
    p.pack_uint8(static_cast<std::uint8_t>(x.format));
    put_opt_str(p, x.schema);
    p.pack_uint64(x.latest_version);
    put_rules(p, x.releases);
    p.pack_uint64(x.create_revision);
    p.pack_uint64(x.mod_revision);
    p.pack_int64(x.created_at_ms);
    p.pack_int64(x.updated_at_ms);
  });
}

std::string encode(const version& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(9);
    p.pack_uint64(x.config);
    p.pack_uint64(x.id);
    put_bin(p, x.content);
    put_str(p, x.content_hash);
    p.pack_uint8(static_cast<std::uint8_t>(x.format));
    put_str(p, x.description);
    put_str(p, x.creator);
    p.pack_int64(x.created_at_ms);
    p.pack_uint64(x.revision);
  });
}

std::string encode(const client_session& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(6);
    p.pack_uint64(x.id);
    p.pack_int64(x.timeout_ms);
    p.pack_int64(x.last_active_ms);
    p.pack_uint64(x.last_sequence);
    put_result(p, x.last_result);
    put_str(p, x.owner);
  });
}

std::string encode(const apply_result& x) {
  return encode_with(record_format_version, [&](packer& p) { put_result(p, x); });
}

expected<command_envelope> decode_command(std::string_view bytes) {
  return decode_with<command_envelope>(bytes, "command", command_format_version,
                                       [](const msgpack::object& o, bool& ok,
                                          std::uint8_t version) {
    command_envelope env;
    // Version 3 added the caller; older entries were sent by nobody known.
    bool has_caller = version >= 3;
    array_reader r{o, has_caller ? 5u : 4u, ok};
    env.session = r.u64();
    env.sequence = r.u64();
    auto t = r.u64();
    auto* body = r.next();
    if (has_caller)
      env.caller = r.str();
    if (!ok || !body)
      return env;
    // Tags newer than the entry's format cannot be in it.
    auto last = version >= 4 ? tag::set_audit_retention : tag::close_session;
    if (t < 1 || t > static_cast<std::uint64_t>(last)) {
      ok = false;
      return env;
    }
    switch (static_cast<tag>(t)) {
      case tag::create_config: {
        array_reader b{*body, 6, ok};
        create_config c;
        c.key = b.str();
        c.format = b.format();
        c.schema = b.opt_str();
        c.content = b.bin();
        c.description = b.str();
        c.creator = b.str();
        env.cmd = std::move(c);
        break;
      }
      case tag::create_version: {
        array_reader b{*body, 5, ok};
        create_version c;
        c.key = b.str();
        c.content = b.bin();
        c.description = b.str();
        c.creator = b.str();
        c.expected_revision = b.opt_u64();
        env.cmd = std::move(c);
        break;
      }
      case tag::update_release_rules: {
        array_reader b{*body, 4, ok};
        update_release_rules c;
        c.key = b.str();
        c.rules = read_rules(b, ok);
        c.comment = b.str();
        c.expected_revision = b.opt_u64();
        env.cmd = std::move(c);
        break;
      }
      case tag::publish: {
        array_reader b{*body, 6, ok};
        publish c;
        c.key = b.str();
        c.content = b.bin();
        c.description = b.str();
        c.creator = b.str();
        c.rules = read_rules(b, ok);
        c.expected_revision = b.opt_u64();
        env.cmd = std::move(c);
        break;
      }
      case tag::delete_config: {
        // Version 1 had no `force`, and its deletes ignored release rules:
        // they decode as forced, so a replayed log ends where it did.
        bool has_force = version >= 2;
        array_reader b{*body, has_force ? 3u : 2u, ok};
        delete_config c;
        c.key = b.str();
        c.expected_revision = b.opt_u64();
        c.force = has_force ? b.boolean() : true;
        env.cmd = std::move(c);
        break;
      }
      case tag::delete_versions: {
        array_reader b{*body, 3, ok};
        delete_versions c;
        c.key = b.str();
        auto* ids = b.next();
        if (!ids || ids->type != msgpack::type::ARRAY) {
          ok = false;
          break;
        }
        for (std::uint32_t i = 0; i < ids->via.array.size; ++i) {
          auto& e = ids->via.array.ptr[i];
          if (e.type != msgpack::type::POSITIVE_INTEGER) {
            ok = false;
            break;
          }
          c.versions.push_back(e.via.u64);
        }
        c.expected_revision = b.opt_u64();
        env.cmd = std::move(c);
        break;
      }
      case tag::open_session: {
        // Versions 1 and 2 carried no id: the state machine numbered
        // sessions itself, and replays them the same way (id left empty).
        bool has_id = version >= 3;
        array_reader b{*body, has_id ? 2u : 1u, ok};
        open_session c;
        c.timeout_ms = b.i64();
        if (has_id)
          c.id = b.u64();
        env.cmd = c;
        break;
      }
      case tag::keep_alive: {
        array_reader b{*body, 1, ok};
        env.cmd = keep_alive{b.u64()};
        break;
      }
      case tag::close_session: {
        array_reader b{*body, 1, ok};
        env.cmd = close_session{b.u64()};
        break;
      }
      case tag::set_audit_retention: {
        array_reader b{*body, 1, ok};
        env.cmd = set_audit_retention{b.u64()};
        break;
      }
      default:
        ok = false;
    }
    return env;
  });
}

expected<config> decode_config(std::string_view bytes) {
  return decode_with<config>(bytes, "config", record_format_version,
                             [](const msgpack::object& o, bool& ok, std::uint8_t) {
    config c;
    array_reader r{o, 10, ok};
    c.id = r.u64();
    c.key = r.str();
    c.format = r.format();
    c.schema = r.opt_str();
    c.latest_version = r.u64();
    c.releases = read_rules(r, ok);
    c.create_revision = r.u64();
    c.mod_revision = r.u64();
    c.created_at_ms = r.i64();
    c.updated_at_ms = r.i64();
    return c;
  });
}

expected<version> decode_version(std::string_view bytes) {
  return decode_with<version>(bytes, "version", record_format_version,
                              [](const msgpack::object& o, bool& ok, std::uint8_t) {
    version v;
    array_reader r{o, 9, ok};
    v.config = r.u64();
    v.id = r.u64();
    v.content = r.bin();
    v.content_hash = r.str();
    v.format = r.format();
    v.description = r.str();
    v.creator = r.str();
    v.created_at_ms = r.i64();
    v.revision = r.u64();
    return v;
  });
}

expected<client_session> decode_session(std::string_view bytes) {
  return decode_with<client_session>(
      bytes, "session", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        // Version 2 added the owner; a version 1 session has owner "".
        bool has_owner = version >= 2;
        client_session s;
        array_reader r{o, has_owner ? 6u : 5u, ok};
        s.id = r.u64();
        s.timeout_ms = r.i64();
        s.last_active_ms = r.i64();
        s.last_sequence = r.u64();
        s.last_result = read_result(r.next(), ok);
        if (has_owner)
          s.owner = r.str();
        return s;
      });
}

expected<apply_result> decode_apply_result(std::string_view bytes) {
  return decode_with<apply_result>(bytes, "apply result", record_format_version,
                                   [](const msgpack::object& o, bool& ok,
                                      std::uint8_t) {
                                     return read_result(&o, ok);
                                   });
}

} // namespace conflux::codec
