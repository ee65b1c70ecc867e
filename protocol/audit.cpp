// Layouts (after the leading format-version byte, msgpack arrays):
//   record       [seq, revision, time_ms, principal, origin, identity, op, key,
//                 versions[], rules_before, rules_after, comment, code, message,
//                 hash]; what is hashed is the same without the last element
//                 (an array of 14), with the same version byte in front.
//   chain        [base_seq, base_hash, head_seq, head_hash, max_records]
//   chain_point  [seq, revision, hash, base_seq, head_seq, bad_seq,
//                 bad_revision, problem]
// Rules are encoded as in protocol/codec.cpp ([labels, version, priority],
// protocol/msgpack_writer.hpp).

#include "protocol/audit.hpp"

#include "protocol/msgpack_reader.hpp"
#include "protocol/msgpack_writer.hpp"
#include "protocol/sha256.hpp"
#include "protocol/state.hpp"

#include <algorithm>
#include <msgpack.hpp>
#include <set>

namespace conflux::audit {
namespace {

using detail::packer;
using detail::put_rules;
using detail::put_str;

template <class F>
std::string encode_with(F&& body) {
  return detail::encode_with(record_format_version, std::forward<F>(body));
}

void put_record(packer& p, const record& r, bool with_hash) {
  p.pack_array(with_hash ? 15 : 14);
  p.pack_uint64(r.seq);
  p.pack_uint64(r.revision);
  p.pack_int64(r.time_ms);
  put_str(p, r.principal);
  put_str(p, r.origin);
  put_str(p, r.identity);
  put_str(p, r.op);
  put_str(p, r.key);
  p.pack_array(static_cast<std::uint32_t>(r.versions.size()));
  for (auto v : r.versions)
    p.pack_uint64(v);
  put_rules(p, r.rules_before);
  put_rules(p, r.rules_after);
  put_str(p, r.comment);
  p.pack_uint8(r.code);
  put_str(p, r.message);
  if (with_hash)
    put_str(p, r.hash);
}

class reader : public detail::msgpack_array_reader {
public:
  reader(const msgpack::object* o, std::size_t n, bool& ok)
      : msgpack_array_reader(o, n, ok) {}

  std::string str() { return std::string{str_view()}; }

  std::vector<std::uint64_t> u64s() {
    std::vector<std::uint64_t> out;
    auto* o = next();
    if (!o || o->type != msgpack::type::ARRAY) {
      ok_ = false;
      return out;
    }
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

  std::vector<release_rule> rules() {
    std::vector<release_rule> out;
    auto* o = next();
    if (!o || o->type != msgpack::type::ARRAY) {
      ok_ = false;
      return out;
    }
    for (std::uint32_t i = 0; i < o->via.array.size && ok_; ++i) {
      reader rr{&o->via.array.ptr[i], 3, ok_};
      release_rule rule;
      auto* lo = rr.next();
      if (!lo || lo->type != msgpack::type::MAP) {
        ok_ = false;
        break;
      }
      for (std::uint32_t j = 0; j < lo->via.map.size; ++j) {
        auto& kv = lo->via.map.ptr[j];
        if (kv.key.type != msgpack::type::STR || kv.val.type != msgpack::type::STR ||
            !rule.labels
                 .emplace(std::string{kv.key.via.str.ptr, kv.key.via.str.size},
                          std::string{kv.val.via.str.ptr, kv.val.via.str.size})
                 .second) {
          ok_ = false;
          break;
        }
      }
      rule.version = rr.u64();
      auto prio = rr.i64();
      if (prio < INT32_MIN || prio > INT32_MAX)
        ok_ = false;
      rule.priority = static_cast<std::int32_t>(prio);
      out.push_back(std::move(rule));
    }
    return out;
  }
};

// bytes = [version][one msgpack array]; `read` fills T from the array.
template <class T, class F>
expected<T> decode_with(std::string_view bytes, const char* what, F&& read) {
  if (bytes.empty())
    return error{errc::corrupted, std::string{what} + " is empty"};
  auto v = static_cast<std::uint8_t>(bytes[0]);
  if (v != record_format_version)
    return error{
        v > record_format_version ? errc::unsupported_version : errc::corrupted,
        std::string{what} + " has format version " + std::to_string(v) +
            "; this build reads version " + std::to_string(record_format_version) +
            (v > record_format_version ? " (upgrade this node)" : "")};
  auto n = bytes.size() - 1;
  msgpack::unpack_limit lim{n, n, n, n, n, 5};
  try {
    std::size_t off = 0;
    auto handle = msgpack::unpack(bytes.data() + 1, n, off, nullptr, nullptr, lim);
    if (off != n)
      return error{errc::corrupted, std::string{what} + " has " +
                                        std::to_string(n - off) + " trailing bytes"};
    bool ok = true;
    T out = read(handle.get(), ok);
    if (!ok)
      return error{errc::corrupted,
                   std::string{what} + " does not have the expected layout"};
    return out;
  } catch (const std::exception& e) {
    return error{errc::corrupted,
                 std::string{what} + " cannot be decoded: " + e.what()};
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

// 64 hex characters -> 32 bytes; anything else hashes as itself, which can
// only make the chain differ (stored hashes are always well formed).
std::string hex_to_bytes(std::string_view hex) {
  if (hex.size() != 64)
    return std::string{hex};
  std::string out(32, '\0');
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(hex[2 * i]);
    int lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::string{hex};
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string bytes_to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = digits[b >> 4];
    out[2 * i + 1] = digits[b & 0xf];
  }
  return out;
}

// The config key a command acts on; nullptr for commands without one.
const std::string* config_key(const command& cmd) {
  return std::visit(
      [](const auto& c) -> const std::string* {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, create_config> ||
                      std::is_same_v<T, create_version> ||
                      std::is_same_v<T, update_release_rules> ||
                      std::is_same_v<T, publish> || std::is_same_v<T, delete_config> ||
                      std::is_same_v<T, delete_versions>)
          return &c.key;
        else
          return nullptr;
      },
      cmd);
}

expected<std::vector<release_rule>> rules_of(state_reader& st, const std::string& key) {
  auto id = st.find_config_id(key);
  if (!id.ok())
    return std::move(id).err();
  if (!*id)
    return std::vector<release_rule>{};
  auto c = st.find_config(**id);
  if (!c.ok())
    return std::move(c).err();
  if (!*c)
    return std::vector<release_rule>{};
  return std::move((*c)->releases);
}

std::vector<version_id> versions_of(const std::vector<release_rule>& rules,
                                    version_id fresh) {
  std::set<version_id> ids;
  for (auto& r : rules)
    ids.insert(r.version == 0 ? fresh : r.version);
  ids.erase(0);
  return {ids.begin(), ids.end()};
}

// A refused content check may quote the content it read (a parse error near
// "password: ..."): such messages stay out of the trail, the code says why.
bool may_quote_content(errc code) {
  return code == errc::invalid_content || code == errc::schema_violation;
}

struct record_fields {
  const apply_result& result;
  record& r;

  void operator()(const create_config& c) const {
    r.comment = c.description;
    if (result.ok())
      r.versions = {result.version};
  }
  void operator()(const create_version& c) const {
    r.comment = c.description;
    if (result.ok())
      r.versions = {result.version};
  }
  void operator()(const update_release_rules& c) const {
    r.comment = c.comment;
    r.versions = versions_of(c.rules, 0);
  }
  void operator()(const publish& c) const {
    r.comment = c.comment.empty() ? c.description : c.comment;
    r.versions = versions_of(c.rules, result.version);
    if (result.ok() && std::find(r.versions.begin(), r.versions.end(),
                                 result.version) == r.versions.end())
      r.versions.insert(r.versions.begin(), result.version);
  }
  void operator()(const delete_config&) const {}
  void operator()(const delete_versions& c) const {
    std::set<version_id> ids{c.versions.begin(), c.versions.end()};
    r.versions.assign(ids.begin(), ids.end());
  }
  void operator()(const set_audit_retention& c) const {
    r.comment = "max_records=" + std::to_string(c.max_records);
  }
  // No blob enters the trail: how many versions were rewrapped.
  void operator()(const rewrap_secrets& c) const {
    r.comment = "versions=" + std::to_string(c.items.size());
  }
  // Auth changes name their object in `key` and never carry the token hash.
  void operator()(const bootstrap_auth& c) const { r.key = c.principal; }
  void operator()(const create_token& c) const {
    r.key = c.principal;
    r.comment = "roles=" + join(c.roles) + " ttl_ms=" + std::to_string(c.ttl_ms);
  }
  void operator()(const revoke_token& c) const { r.key = c.principal; }
  void operator()(const set_token_roles& c) const {
    r.key = c.principal;
    r.comment = "roles=" + join(c.roles);
  }
  void operator()(const put_role& c) const {
    r.key = c.role.name;
    std::string grants;
    for (auto& g : c.role.grants)
      grants += (grants.empty() ? "" : " ") + auth::to_string(g);
    r.comment = (c.replace ? "replace grants=" : "grants=") + grants;
  }
  void operator()(const delete_role& c) const { r.key = c.name; }
  void operator()(const set_tenant& c) const {
    r.key = c.tenant;
    r.comment = "max_configs=" + std::to_string(c.max_configs) +
                " max_versions=" + std::to_string(c.max_versions) +
                " max_bytes=" + std::to_string(c.max_bytes) +
                " rate=" + std::to_string(c.rate);
  }

  static std::string join(const std::vector<std::string>& xs) {
    std::string out;
    for (auto& x : xs)
      out += (out.empty() ? "" : ",") + x;
    return out;
  }
  template <class Other>
  void operator()(const Other&) const {}
};

// Drops the oldest records while more than c.max_records are kept.
status trim(state_writer& st, chain& c) {
  while (c.head_seq - c.base_seq > c.max_records) {
    auto oldest = st.find_audit(c.base_seq + 1);
    if (!oldest.ok())
      return oldest.to_status();
    if (!*oldest)
      return {errc::corrupted, "audit record " + std::to_string(c.base_seq + 1) +
                                   " is missing from the kept range (" +
                                   std::to_string(c.base_seq + 1) + ".." +
                                   std::to_string(c.head_seq) + ")"};
    if (auto s = st.erase_audit(c.base_seq + 1); !s.ok())
      return s;
    c.base_seq += 1;
    c.base_hash = (*oldest)->hash;
  }
  return {};
}

} // namespace

std::string genesis_hash() {
  return std::string(64, '0');
}

std::string_view op_name(const command& cmd) {
  return std::visit(
      [](const auto& c) -> std::string_view {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, create_config>)
          return "create_config";
        else if constexpr (std::is_same_v<T, create_version>)
          return "create_version";
        else if constexpr (std::is_same_v<T, update_release_rules>)
          return "update_release_rules";
        else if constexpr (std::is_same_v<T, publish>)
          return "publish";
        else if constexpr (std::is_same_v<T, delete_config>)
          return "delete_config";
        else if constexpr (std::is_same_v<T, delete_versions>)
          return "delete_versions";
        else if constexpr (std::is_same_v<T, set_audit_retention>)
          return "set_audit_retention";
        else if constexpr (std::is_same_v<T, rewrap_secrets>)
          return "rewrap_secrets";
        else if constexpr (std::is_same_v<T, bootstrap_auth>)
          return "bootstrap_auth";
        else if constexpr (std::is_same_v<T, create_token>)
          return "create_token";
        else if constexpr (std::is_same_v<T, revoke_token>)
          return "revoke_token";
        else if constexpr (std::is_same_v<T, set_token_roles>)
          return "set_token_roles";
        else if constexpr (std::is_same_v<T, put_role>)
          return "put_role";
        else if constexpr (std::is_same_v<T, delete_role>)
          return "delete_role";
        else if constexpr (std::is_same_v<T, set_tenant>)
          return "set_tenant";
        else
          return {};
      },
      cmd);
}

std::string encode_for_hash(const record& r) {
  return encode_with([&](packer& p) { put_record(p, r, false); });
}

std::string chain_hash(std::string_view prev_hex, const record& r) {
  auto input = hex_to_bytes(prev_hex);
  input += encode_for_hash(r);
  return bytes_to_hex(sha256_bytes(input));
}

std::string encode(const record& r) {
  return encode_with([&](packer& p) { put_record(p, r, true); });
}

std::string encode(const chain& c) {
  return encode_with([&](packer& p) {
    p.pack_array(5);
    p.pack_uint64(c.base_seq);
    put_str(p, c.base_hash);
    p.pack_uint64(c.head_seq);
    put_str(p, c.head_hash);
    p.pack_uint64(c.max_records);
  });
}

std::string encode(const chain_point& x) {
  return encode_with([&](packer& p) {
    p.pack_array(8);
    p.pack_uint64(x.seq);
    p.pack_uint64(x.revision);
    put_str(p, x.hash);
    p.pack_uint64(x.base_seq);
    p.pack_uint64(x.head_seq);
    p.pack_uint64(x.bad_seq);
    p.pack_uint64(x.bad_revision);
    put_str(p, x.problem);
  });
}

expected<record> decode_record(std::string_view bytes) {
  return decode_with<record>(bytes, "audit record",
                             [](const msgpack::object& o, bool& ok) {
                               record r;
                               reader rd{&o, 15, ok};
                               r.seq = rd.u64();
                               r.revision = rd.u64();
                               r.time_ms = rd.i64();
                               r.principal = rd.str();
                               r.origin = rd.str();
                               r.identity = rd.str();
                               r.op = rd.str();
                               r.key = rd.str();
                               r.versions = rd.u64s();
                               r.rules_before = rd.rules();
                               r.rules_after = rd.rules();
                               r.comment = rd.str();
                               auto code = rd.u64();
                               if (code > 255)
                                 ok = false;
                               r.code = static_cast<std::uint8_t>(code);
                               r.message = rd.str();
                               r.hash = rd.str();
                               return r;
                             });
}

expected<chain> decode_chain(std::string_view bytes) {
  return decode_with<chain>(bytes, "audit chain",
                            [](const msgpack::object& o, bool& ok) {
                              chain c;
                              reader rd{&o, 5, ok};
                              c.base_seq = rd.u64();
                              c.base_hash = rd.str();
                              c.head_seq = rd.u64();
                              c.head_hash = rd.str();
                              c.max_records = rd.u64();
                              if (c.head_seq < c.base_seq)
                                ok = false;
                              return c;
                            });
}

expected<chain_point> decode_chain_point(std::string_view bytes) {
  return decode_with<chain_point>(bytes, "audit chain point",
                                  [](const msgpack::object& o, bool& ok) {
                                    chain_point x;
                                    reader rd{&o, 8, ok};
                                    x.seq = rd.u64();
                                    x.revision = rd.u64();
                                    x.hash = rd.str();
                                    x.base_seq = rd.u64();
                                    x.head_seq = rd.u64();
                                    x.bad_seq = rd.u64();
                                    x.bad_revision = rd.u64();
                                    x.problem = rd.str();
                                    return x;
                                  });
}

// -- written by the state machine ----------------------------------------------------

expected<std::string> principal_name(state_reader& st, const command_envelope& env) {
  // bootstrap_auth carries no credential: it acts for the principal it makes.
  if (auto* b = std::get_if<bootstrap_auth>(&env.cmd))
    return b->principal;
  if (env.credential.empty())
    return std::string{};
  auto p = st.find_principal_by_token(env.credential);
  if (!p.ok())
    return std::move(p).err();
  // An unknown credential names nobody; the record never shows the hash.
  return *p ? (*p)->name : std::string{};
}

expected<before_command> observe(state_reader& st, const command_envelope& env) {
  before_command b;
  b.audited = !op_name(env.cmd).empty();
  if (!b.audited)
    return b;
  auto who = principal_name(st, env);
  if (!who.ok())
    return std::move(who).err();
  b.principal = std::move(*who);
  if (auto* key = config_key(env.cmd)) {
    auto rules = rules_of(st, *key);
    if (!rules.ok())
      return std::move(rules).err();
    b.rules = std::move(*rules);
  }
  return b;
}

status append(state_writer& st, const before_command& before, std::uint64_t index,
              std::int64_t time_ms, const command_envelope& env,
              const apply_result& result) {
  if (!before.audited)
    return {};
  auto c = st.get_audit_chain();
  if (!c.ok())
    return c.to_status();
  record r;
  r.seq = c->head_seq + 1;
  r.revision = index;
  r.time_ms = time_ms;
  r.principal = before.principal;
  r.identity = env.caller;
  r.origin = env.origin;
  r.op = std::string{op_name(env.cmd)};
  if (auto* key = config_key(env.cmd)) {
    r.key = *key;
    r.rules_before = before.rules;
    if (result.ok()) {
      auto after = rules_of(st, *key);
      if (!after.ok())
        return after.to_status();
      r.rules_after = std::move(*after);
    } else {
      r.rules_after = before.rules;
    }
  }
  std::visit(record_fields{result, r}, env.cmd);
  if (result.err) {
    r.code = static_cast<std::uint8_t>(result.err->code);
    r.message = may_quote_content(result.err->code)
                    ? std::string{"the content was refused ("} +
                          std::string{to_string(result.err->code)} +
                          "); the message is not kept because it may quote the content"
                    : result.err->message;
  }
  r.hash = chain_hash(c->head_hash, r);
  if (auto s = st.put_audit(r); !s.ok())
    return s;
  c->head_seq = r.seq;
  c->head_hash = r.hash;
  if (auto s = trim(st, *c); !s.ok())
    return s;
  return st.set_audit_chain(*c);
}

status set_retention(state_writer& st, std::uint64_t max_records) {
  auto c = st.get_audit_chain();
  if (!c.ok())
    return c.to_status();
  c->max_records = max_records;
  if (auto s = trim(st, *c); !s.ok())
    return s;
  return st.set_audit_chain(*c);
}

// -- verification ----------------------------------------------------------------

expected<chain_point> verify(state_reader& st, std::uint64_t seq) {
  auto c = st.get_audit_chain();
  if (!c.ok())
    return std::move(c).err();
  if (seq == 0)
    seq = c->head_seq;
  if (seq < c->base_seq || seq > c->head_seq)
    return error{
        errc::invalid_argument,
        "audit record " + std::to_string(seq) + " is not kept on this node: it " +
            "keeps " +
            (c->head_seq == c->base_seq ? std::string{"no record"}
                                        : std::to_string(c->base_seq + 1) + ".." +
                                              std::to_string(c->head_seq)) +
            " (older records were dropped by the retention setting); ask for a "
            "sequence number in that range"};
  chain_point p;
  p.seq = seq;
  p.base_seq = c->base_seq;
  p.head_seq = c->head_seq;
  p.hash = c->base_hash;
  auto flag = [&](std::uint64_t s, revision_t rev, std::string why) {
    if (p.bad_seq != 0)
      return;
    p.bad_seq = s;
    p.bad_revision = rev;
    p.problem = std::move(why);
  };
  constexpr std::size_t page = 1024;
  std::uint64_t want = c->base_seq + 1;
  while (want <= seq) {
    auto recs = st.list_audit(want, std::min<std::uint64_t>(page, seq - want + 1));
    if (!recs.ok())
      return std::move(recs).err();
    if (recs->empty()) {
      flag(want, 0, "audit record " + std::to_string(want) + " is missing");
      break;
    }
    for (auto& r : *recs) {
      if (r.seq > seq)
        break;
      if (r.seq != want)
        flag(want, r.revision,
             "audit record " + std::to_string(want) +
                 " is missing (the next one kept is " + std::to_string(r.seq) + ")");
      p.hash = chain_hash(p.hash, r);
      p.revision = r.revision;
      if (r.hash != p.hash)
        flag(
            r.seq, r.revision,
            "audit record " + std::to_string(r.seq) + " (revision " +
                std::to_string(r.revision) +
                ") does not match its chain hash: it was changed after it was written");
      want = r.seq + 1;
    }
  }
  if (seq == c->head_seq && p.hash != c->head_hash)
    flag(seq, p.revision,
         "the chain head (record " + std::to_string(seq) +
             ") differs from the hash recomputed from the records kept");
  return p;
}

bool filter::matches(const record& r) const {
  if (r.seq < from_seq || r.revision < since)
    return false;
  if (!principal.empty() && r.principal != principal)
    return false;
  if (key.empty())
    return true;
  if (key.back() == '/') {
    std::string_view base{key.data(), key.size() - 1};
    return r.key == base ||
           (r.key.size() > key.size() && r.key.compare(0, key.size(), key) == 0);
  }
  return r.key == key;
}

} // namespace conflux::audit
