// Layouts (after the leading format-version byte, all msgpack arrays):
//   command_envelope  [session, sequence, tag, body, caller, credential, origin]
//                     (command_format_version; versions 1 and 2 have no caller,
//                     version 3 no credential and origin)
//   config            [id, key, format, schema|nil, latest_version, rules,
//                      create_revision, mod_revision, created_at_ms, updated_at_ms,
//                      secret]   (record versions 1-3 have no secret)
//   release_rule      [labels{str:str}, version, priority]
//   version           [config, id, content(bin), content_hash, format, description,
//                      creator, created_at_ms, revision, sealed]   (record
//                      versions 1-3 have no sealed)
//   apply_result      [[code, message]|nil, revision, config, version, session]
//   client_session    [id, timeout_ms, last_active_ms, last_sequence, apply_result,
//                      owner, principal]   (record version 1 has no owner, version 2
//                      no principal)
//   principal         [name, token_hash, [role...], expires_at_ms, disabled,
//                      created_at_ms, created_revision, created_by]
//   role              [name, [[pattern, perms]...]]
//   tenant            [name, max_configs, max_versions, max_bytes, rate, configs,
//                      versions, bytes]
// protocol/PROTOCOL.md lists the command bodies; keep both in step.

#include "protocol/codec.hpp"

#include "protocol/msgpack_reader.hpp"
#include "protocol/msgpack_writer.hpp"

#include <msgpack.hpp>

namespace conflux::codec {
namespace {

using detail::encode_with;
using detail::packer;
using detail::put_bin;
using detail::put_bool;
using detail::put_opt_str;
using detail::put_opt_u64;
using detail::put_rules;
using detail::put_str;
using detail::put_strs;

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
  bootstrap_auth = 10,
  create_token = 11,
  revoke_token = 12,
  set_token_roles = 13,
  put_role = 14,
  delete_role = 15,
  set_tenant = 16,
  set_audit_retention = 17,
  rewrap_secrets = 18,
};
constexpr auto last_tag = tag::rewrap_secrets;

// -- encoding ---------------------------------------------------------------

void put_role(packer& p, const auth::role& r) {
  p.pack_array(2);
  put_str(p, r.name);
  p.pack_array(static_cast<std::uint32_t>(r.grants.size()));
  for (auto& g : r.grants) {
    p.pack_array(2);
    put_str(p, g.pattern);
    p.pack_uint32(g.perms);
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
  void sealing(const conflux::sealing& x) const {
    put_bool(p, x.sealed);
    put_str(p, x.content_hash);
  }
  void operator()(const create_config& c) const {
    p.pack_array(9);
    put_str(p, c.key);
    p.pack_uint8(static_cast<std::uint8_t>(c.format));
    put_opt_str(p, c.schema);
    put_bin(p, c.content);
    put_str(p, c.description);
    put_str(p, c.creator);
    put_bool(p, c.secret);
    sealing(c.sealing);
  }
  void operator()(const create_version& c) const {
    p.pack_array(7);
    put_str(p, c.key);
    put_bin(p, c.content);
    put_str(p, c.description);
    put_str(p, c.creator);
    put_opt_u64(p, c.expected_revision);
    sealing(c.sealing);
  }
  void operator()(const update_release_rules& c) const {
    p.pack_array(4);
    put_str(p, c.key);
    put_rules(p, c.rules);
    put_str(p, c.comment);
    put_opt_u64(p, c.expected_revision);
  }
  void operator()(const publish& c) const {
    p.pack_array(9);
    put_str(p, c.key);
    put_bin(p, c.content);
    put_str(p, c.description);
    put_str(p, c.creator);
    put_rules(p, c.rules);
    put_opt_u64(p, c.expected_revision);
    put_str(p, c.comment);
    sealing(c.sealing);
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
  void operator()(const bootstrap_auth& c) const {
    p.pack_array(2);
    put_str(p, c.principal);
    put_str(p, c.token_hash);
  }
  void operator()(const create_token& c) const {
    p.pack_array(4);
    put_str(p, c.principal);
    put_str(p, c.token_hash);
    put_strs(p, c.roles);
    p.pack_int64(c.ttl_ms);
  }
  void operator()(const revoke_token& c) const {
    p.pack_array(1);
    put_str(p, c.principal);
  }
  void operator()(const set_token_roles& c) const {
    p.pack_array(2);
    put_str(p, c.principal);
    put_strs(p, c.roles);
  }
  void operator()(const conflux::put_role& c) const {
    p.pack_array(2);
    codec::put_role(p, c.role);
    put_bool(p, c.replace);
  }
  void operator()(const delete_role& c) const {
    p.pack_array(1);
    put_str(p, c.name);
  }
  void operator()(const set_tenant& c) const {
    p.pack_array(5);
    put_str(p, c.tenant);
    p.pack_uint64(c.max_configs);
    p.pack_uint64(c.max_versions);
    p.pack_uint64(c.max_bytes);
    p.pack_uint64(c.rate);
  }
  void operator()(const set_audit_retention& c) const {
    p.pack_array(1);
    p.pack_uint64(c.max_records);
  }
  void operator()(const rewrap_secrets& c) const {
    p.pack_array(1);
    p.pack_array(static_cast<std::uint32_t>(c.items.size()));
    for (auto& i : c.items) {
      p.pack_array(3);
      put_str(p, i.key);
      p.pack_uint64(i.version);
      put_bin(p, i.blob);
    }
  }
};

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
    if (code < 1 || code > static_cast<std::uint64_t>(errc::failed_precondition))
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

std::vector<std::string> read_strs(array_reader& r, bool& ok) {
  std::vector<std::string> out;
  auto* o = r.next();
  if (!o || o->type != msgpack::type::ARRAY) {
    ok = false;
    return out;
  }
  for (std::uint32_t i = 0; i < o->via.array.size; ++i) {
    auto& e = o->via.array.ptr[i];
    if (e.type != msgpack::type::STR) {
      ok = false;
      return out;
    }
    out.emplace_back(e.via.str.ptr, e.via.str.size);
  }
  return out;
}

auth::role read_role(const msgpack::object* o, bool& ok) {
  auth::role role;
  array_reader r{*o, 2, ok};
  role.name = r.str();
  auto* gs = r.next();
  if (!gs || gs->type != msgpack::type::ARRAY) {
    ok = false;
    return role;
  }
  for (std::uint32_t i = 0; i < gs->via.array.size && ok; ++i) {
    array_reader gr{gs->via.array.ptr[i], 2, ok};
    auth::grant g;
    g.pattern = gr.str();
    auto perms = gr.u64();
    if (perms > auth::all_perms)
      ok = false;
    g.perms = static_cast<auth::perm_set>(perms);
    role.grants.push_back(std::move(g));
  }
  return role;
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
    p.pack_array(7);
    p.pack_uint64(x.session);
    p.pack_uint64(x.sequence);
    p.pack_uint8(static_cast<std::uint8_t>(x.cmd.index() + 1));
    std::visit(body_packer{p}, x.cmd);
    put_str(p, x.caller);
    put_str(p, x.credential);
    put_str(p, x.origin);
  });
}

std::string encode(const config& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(11);
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
    put_bool(p, x.secret);
  });
}

std::string encode(const version& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(10);
    p.pack_uint64(x.config);
    p.pack_uint64(x.id);
    put_bin(p, x.content);
    put_str(p, x.content_hash);
    p.pack_uint8(static_cast<std::uint8_t>(x.format));
    put_str(p, x.description);
    put_str(p, x.creator);
    p.pack_int64(x.created_at_ms);
    p.pack_uint64(x.revision);
    put_bool(p, x.sealed);
  });
}

std::string encode(const client_session& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(7);
    p.pack_uint64(x.id);
    p.pack_int64(x.timeout_ms);
    p.pack_int64(x.last_active_ms);
    p.pack_uint64(x.last_sequence);
    put_result(p, x.last_result);
    put_str(p, x.owner);
    put_str(p, x.principal);
  });
}

std::string encode(const auth::principal& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(8);
    put_str(p, x.name);
    put_str(p, x.token_hash);
    put_strs(p, x.roles);
    p.pack_int64(x.expires_at_ms);
    put_bool(p, x.disabled);
    p.pack_int64(x.created_at_ms);
    p.pack_uint64(x.created_revision);
    put_str(p, x.created_by);
  });
}

std::string encode(const auth::role& x) {
  return encode_with(record_format_version, [&](packer& p) { put_role(p, x); });
}

std::string encode(const auth::tenant& x) {
  return encode_with(record_format_version, [&](packer& p) {
    p.pack_array(8);
    put_str(p, x.name);
    p.pack_uint64(x.max_configs);
    p.pack_uint64(x.max_versions);
    p.pack_uint64(x.max_bytes);
    p.pack_uint64(x.rate);
    p.pack_uint64(x.configs);
    p.pack_uint64(x.versions);
    p.pack_uint64(x.bytes);
  });
}

std::string encode(const apply_result& x) {
  return encode_with(record_format_version, [&](packer& p) { put_result(p, x); });
}

expected<command_envelope> decode_command(std::string_view bytes) {
  return decode_with<command_envelope>(
      bytes, "command", command_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        command_envelope env;
        // Version 3 added the caller; older entries were sent by nobody known.
        // Version 4 added the credential and origin, and the auth commands.
        bool has_caller = version >= 3;
        bool has_credential = version >= 4;
        array_reader r{o, has_credential ? 7u : has_caller ? 5u : 4u, ok};
        env.session = r.u64();
        env.sequence = r.u64();
        auto t = r.u64();
        auto* body = r.next();
        if (has_caller)
          env.caller = r.str();
        if (has_credential) {
          env.credential = r.str();
          env.origin = r.str();
        }
        if (!ok || !body)
          return env;
        // Version 5 added the sealing fields and rewrap_secrets.
        bool has_sealing = version >= 5;
        auto newest_tag = has_sealing      ? last_tag
                          : has_credential ? tag::set_audit_retention
                                           : tag::close_session;
        auto read_sealing = [&](array_reader& b) {
          conflux::sealing x;
          if (has_sealing) {
            x.sealed = b.boolean();
            x.content_hash = b.str();
          }
          return x;
        };
        if (t < 1 || t > static_cast<std::uint64_t>(newest_tag)) {
          ok = false;
          return env;
        }
        switch (static_cast<tag>(t)) {
        case tag::create_config: {
          array_reader b{*body, has_sealing ? 9u : 6u, ok};
          create_config c;
          c.key = b.str();
          c.format = b.format();
          c.schema = b.opt_str();
          c.content = b.bin();
          c.description = b.str();
          c.creator = b.str();
          if (has_sealing)
            c.secret = b.boolean();
          c.sealing = read_sealing(b);
          env.cmd = std::move(c);
          break;
        }
        case tag::create_version: {
          array_reader b{*body, has_sealing ? 7u : 5u, ok};
          create_version c;
          c.key = b.str();
          c.content = b.bin();
          c.description = b.str();
          c.creator = b.str();
          c.expected_revision = b.opt_u64();
          c.sealing = read_sealing(b);
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
          // Version 4 added the comment.
          bool has_comment = version >= 4;
          array_reader b{*body, has_sealing ? 9u : has_comment ? 7u : 6u, ok};
          publish c;
          c.key = b.str();
          c.content = b.bin();
          c.description = b.str();
          c.creator = b.str();
          c.rules = read_rules(b, ok);
          c.expected_revision = b.opt_u64();
          if (has_comment)
            c.comment = b.str();
          c.sealing = read_sealing(b);
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
        case tag::bootstrap_auth: {
          array_reader b{*body, 2, ok};
          bootstrap_auth c;
          c.principal = b.str();
          c.token_hash = b.str();
          env.cmd = std::move(c);
          break;
        }
        case tag::create_token: {
          array_reader b{*body, 4, ok};
          create_token c;
          c.principal = b.str();
          c.token_hash = b.str();
          c.roles = read_strs(b, ok);
          c.ttl_ms = b.i64();
          env.cmd = std::move(c);
          break;
        }
        case tag::revoke_token: {
          array_reader b{*body, 1, ok};
          env.cmd = revoke_token{b.str()};
          break;
        }
        case tag::set_token_roles: {
          array_reader b{*body, 2, ok};
          set_token_roles c;
          c.principal = b.str();
          c.roles = read_strs(b, ok);
          env.cmd = std::move(c);
          break;
        }
        case tag::put_role: {
          array_reader b{*body, 2, ok};
          conflux::put_role c;
          auto* ro = b.next();
          if (!ro) {
            ok = false;
            break;
          }
          c.role = read_role(ro, ok);
          c.replace = b.boolean();
          env.cmd = std::move(c);
          break;
        }
        case tag::delete_role: {
          array_reader b{*body, 1, ok};
          env.cmd = delete_role{b.str()};
          break;
        }
        case tag::set_tenant: {
          array_reader b{*body, 5, ok};
          set_tenant c;
          c.tenant = b.str();
          c.max_configs = b.u64();
          c.max_versions = b.u64();
          c.max_bytes = b.u64();
          c.rate = b.u64();
          env.cmd = std::move(c);
          break;
        }
        case tag::set_audit_retention: {
          array_reader b{*body, 1, ok};
          env.cmd = set_audit_retention{b.u64()};
          break;
        }
        case tag::rewrap_secrets: {
          array_reader b{*body, 1, ok};
          auto* items = b.next();
          if (!items || items->type != msgpack::type::ARRAY ||
              items->via.array.size > max_rewrap_items) {
            ok = false;
            break;
          }
          rewrap_secrets c;
          for (std::uint32_t i = 0; ok && i < items->via.array.size; ++i) {
            array_reader it{items->via.array.ptr[i], 3, ok};
            rewrapped_version x;
            x.key = it.str();
            x.version = it.u64();
            x.blob = it.bin();
            c.items.push_back(std::move(x));
          }
          env.cmd = std::move(c);
          break;
        }
        default:
          ok = false;
        }
        return env;
      });
}

expected<config> decode_config(std::string_view bytes) {
  return decode_with<config>(
      bytes, "config", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        // Version 4 added `secret`.
        bool has_secret = version >= 4;
        config c;
        array_reader r{o, has_secret ? 11u : 10u, ok};
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
        if (has_secret)
          c.secret = r.boolean();
        return c;
      });
}

expected<version> decode_version(std::string_view bytes) {
  return decode_with<version>(
      bytes, "version", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t format) {
        // Version 4 added `sealed`.
        bool has_sealed = format >= 4;
        version v;
        array_reader r{o, has_sealed ? 10u : 9u, ok};
        v.config = r.u64();
        v.id = r.u64();
        v.content = r.bin();
        v.content_hash = r.str();
        v.format = r.format();
        v.description = r.str();
        v.creator = r.str();
        v.created_at_ms = r.i64();
        v.revision = r.u64();
        if (has_sealed)
          v.sealed = r.boolean();
        return v;
      });
}

expected<client_session> decode_session(std::string_view bytes) {
  return decode_with<client_session>(
      bytes, "session", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        // Version 2 added the owner; a version 1 session has owner "".
        // Version 3 added the principal; older sessions have principal "".
        bool has_owner = version >= 2;
        bool has_principal = version >= 3;
        client_session s;
        array_reader r{o, has_principal ? 7u : has_owner ? 6u : 5u, ok};
        s.id = r.u64();
        s.timeout_ms = r.i64();
        s.last_active_ms = r.i64();
        s.last_sequence = r.u64();
        s.last_result = read_result(r.next(), ok);
        if (has_owner)
          s.owner = r.str();
        if (has_principal)
          s.principal = r.str();
        return s;
      });
}

expected<apply_result> decode_apply_result(std::string_view bytes) {
  return decode_with<apply_result>(bytes, "apply result", record_format_version,
                                   [](const msgpack::object& o, bool& ok,
                                      std::uint8_t) { return read_result(&o, ok); });
}

// The authorization records exist from record version 3 on: an older version
// byte on one cannot come from our encoder.
expected<auth::principal> decode_principal(std::string_view bytes) {
  return decode_with<auth::principal>(
      bytes, "principal", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        auth::principal p;
        array_reader r{o, 8, ok};
        ok = ok && version >= 3;
        p.name = r.str();
        p.token_hash = r.str();
        p.roles = read_strs(r, ok);
        p.expires_at_ms = r.i64();
        p.disabled = r.boolean();
        p.created_at_ms = r.i64();
        p.created_revision = r.u64();
        p.created_by = r.str();
        return p;
      });
}

expected<auth::role> decode_role(std::string_view bytes) {
  return decode_with<auth::role>(
      bytes, "role", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        ok = ok && version >= 3;
        auto r = read_role(&o, ok);
        return r;
      });
}

expected<auth::tenant> decode_tenant(std::string_view bytes) {
  return decode_with<auth::tenant>(
      bytes, "tenant", record_format_version,
      [](const msgpack::object& o, bool& ok, std::uint8_t version) {
        auth::tenant t;
        array_reader r{o, 8, ok};
        ok = ok && version >= 3;
        t.name = r.str();
        t.max_configs = r.u64();
        t.max_versions = r.u64();
        t.max_bytes = r.u64();
        t.rate = r.u64();
        t.configs = r.u64();
        t.versions = r.u64();
        t.bytes = r.u64();
        return t;
      });
}

} // namespace conflux::codec
