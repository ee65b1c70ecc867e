#include "storage/state_records.hpp"

#include "protocol/codec.hpp"
#include "storage/endian.hpp"
#include "storage/record.hpp"

namespace conflux::storage {

namespace {

std::string where(const lmdb::txn& t, const char* db, const std::string& key) {
  std::string s{"state db '"};
  s += db;
  s += "' key ";
  s += key;
  s += " in ";
  s += t.path();
  return s;
}

std::string version_key(config_id c, version_id v) {
  std::string k(16, '\0');
  put_u64_be(k.data(), c);
  put_u64_be(k.data() + 8, v);
  return k;
}

std::string version_key_text(config_id c, version_id v) {
  return "(config " + std::to_string(c) + ", version " + std::to_string(v) + ")";
}

// A codec failure is corruption of what we stored, unless it is a newer
// record version (then the code says so).
error decode_failure(const std::string& w, const error& e) {
  auto code =
      e.code == errc::unsupported_version ? errc::unsupported_version : errc::corrupted;
  return error{code, w + ": undecodable record: " + e.message};
}

// Reads, unframes and decodes one record; nullopt if absent.
template <class T, class Decode>
expected<std::optional<T>> read_record(const lmdb::txn& t, lmdb::dbi db,
                                       std::string_view key, const std::string& w,
                                       Decode decode) {
  auto v = t.get(db, key);
  if (!v)
    return std::move(v).err();
  if (!v->has_value())
    return std::optional<T>{};
  auto payload = unframe_value(key, **v, w);
  if (!payload)
    return std::move(payload).err();
  auto x = decode(*payload);
  if (!x)
    return decode_failure(w, x.err());
  return std::optional<T>{std::move(*x)};
}

expected<std::uint64_t> read_meta_u64(const lmdb::txn& t, const state_dbis& d,
                                      std::string_view key) {
  auto w = where(t, state_db::meta, std::string{key});
  auto v = t.get(d.meta, key);
  if (!v)
    return std::move(v).err();
  if (!v->has_value())
    return std::uint64_t{0};
  auto payload = unframe_value(key, **v, w);
  if (!payload)
    return std::move(payload).err();
  if (payload->size() != 8)
    return error{errc::corrupted,
                 w + ": " + std::to_string(payload->size()) + " bytes, expected 8"};
  return get_u64_le(payload->data());
}

status write_meta_u64(lmdb::txn& t, const state_dbis& d, std::string_view key,
                      std::uint64_t value) {
  return t.put(d.meta, key, frame_value(key, u64_le(value)));
}

// A record keyed by a name (principals, roles, tenants): the decoded name
// must equal the key.
template <class T, class Decode>
expected<std::optional<T>> read_named(const lmdb::txn& t, lmdb::dbi db,
                                      const char* dbname, std::string_view name,
                                      std::size_t max_key, Decode decode) {
  if (name.empty() || name.size() > max_key)
    return std::optional<T>{}; // never stored
  auto w = where(t, dbname, "'" + std::string{name} + "'");
  auto r = read_record<T>(t, db, name, w, decode);
  if (r && r->has_value() && (*r)->name != name)
    return error{errc::corrupted, w + ": record holds name '" + (*r)->name + "'"};
  return r;
}

// Every record of a name-keyed database, in name order.
template <class T, class Decode>
expected<std::vector<T>> read_all_named(const lmdb::txn& t, lmdb::dbi db,
                                        const char* dbname, Decode decode) {
  std::vector<T> out;
  auto c = t.open_cursor(db);
  if (!c)
    return std::move(c).err();
  for (auto kv = c->get(MDB_FIRST);; kv = c->get(MDB_NEXT)) {
    if (!kv)
      return std::move(kv).err();
    if (!kv->has_value())
      break;
    auto key = (*kv)->key;
    auto w = where(t, dbname, "'" + std::string{key} + "'");
    auto payload = unframe_value(key, (*kv)->value, w);
    if (!payload)
      return std::move(payload).err();
    auto x = decode(*payload);
    if (!x)
      return decode_failure(w, x.err());
    if (x->name != key)
      return error{errc::corrupted, w + ": record holds name '" + x->name + "'"};
    out.push_back(std::move(*x));
  }
  return out;
}

status check_name_key(std::string_view what, std::string_view key,
                      const state_dbis& d) {
  if (key.empty())
    return status{errc::invalid_argument,
                  std::string{what} + " name must not be empty"};
  if (key.size() > d.max_key_size)
    return status{errc::too_large, std::string{what} + " key of " +
                                       std::to_string(key.size()) +
                                       " bytes exceeds the storage key limit"};
  return {};
}

status erase(lmdb::txn& t, lmdb::dbi db, std::string_view key) {
  // Erasing an absent record is not an error (std::map::erase semantics,
  // like protocol/memory_state).
  auto r = t.del(db, key);
  return r.to_status();
}

} // namespace

std::string_view counter_key(counter c) noexcept {
  switch (c) {
  case counter::last_config_id:
    return "counter.last_config_id";
  case counter::last_session_id:
    return "counter.last_session_id";
  case counter::session_sweep_ms:
    return "counter.session_sweep_ms";
  case counter::auth_bootstrapped:
    return "counter.auth_bootstrapped";
  case counter::applied_timestamp_ms:
    return "counter.applied_timestamp_ms";
  }
  return {};
}

// -- reads ----------------------------------------------------------------------

expected<std::optional<config>> read_config(const lmdb::txn& t, const state_dbis& d,
                                            config_id id) {
  auto key = u64_be(id);
  auto w = where(t, state_db::configs, std::to_string(id));
  auto r = read_record<config>(t, d.configs, key, w, codec::decode_config);
  if (r && r->has_value() && (*r)->id != id)
    return error{errc::corrupted,
                 w + ": record holds config id " + std::to_string((*r)->id)};
  return r;
}

expected<std::optional<config_id>>
read_config_id(const lmdb::txn& t, const state_dbis& d, std::string_view key) {
  if (key.empty() || key.size() > d.max_key_size)
    return std::optional<config_id>{}; // such a key can never have been stored
  auto w = where(t, state_db::keys, "'" + std::string{key} + "'");
  auto v = t.get(d.keys, key);
  if (!v)
    return std::move(v).err();
  if (!v->has_value())
    return std::optional<config_id>{};
  auto payload = unframe_value(key, **v, w);
  if (!payload)
    return std::move(payload).err();
  if (payload->size() != 8)
    return error{errc::corrupted, w + ": " + std::to_string(payload->size()) +
                                      " bytes, expected an 8-byte config id"};
  return std::optional<config_id>{get_u64_be(payload->data())};
}

expected<std::vector<std::pair<std::string, config_id>>>
read_keys(const lmdb::txn& t, const state_dbis& d, std::string_view prefix,
          std::size_t limit) {
  std::vector<std::pair<std::string, config_id>> out;
  if (prefix.size() > d.max_key_size)
    return out;
  auto c = t.open_cursor(d.keys);
  if (!c)
    return std::move(c).err();
  // MDB_SET_RANGE: the first key >= prefix; keys with the prefix follow it
  // contiguously in byte order.
  auto kv = prefix.empty() ? c->get(MDB_FIRST) : c->get(MDB_SET_RANGE, prefix);
  while (limit == 0 || out.size() < limit) {
    if (!kv)
      return std::move(kv).err();
    if (!kv->has_value() || (*kv)->key.substr(0, prefix.size()) != prefix)
      break;
    auto key = (*kv)->key;
    auto w = where(t, state_db::keys, "'" + std::string{key} + "'");
    auto payload = unframe_value(key, (*kv)->value, w);
    if (!payload)
      return std::move(payload).err();
    if (payload->size() != 8)
      return error{errc::corrupted, w + ": " + std::to_string(payload->size()) +
                                        " bytes, expected an 8-byte config id"};
    out.emplace_back(std::string{key}, get_u64_be(payload->data()));
    kv = c->get(MDB_NEXT);
  }
  return out;
}

expected<std::optional<version>> read_version(const lmdb::txn& t, const state_dbis& d,
                                              config_id config, version_id id) {
  auto key = version_key(config, id);
  auto w = where(t, state_db::versions, version_key_text(config, id));
  auto r = read_record<version>(t, d.versions, key, w, codec::decode_version);
  if (r && r->has_value() && ((*r)->config != config || (*r)->id != id))
    return error{errc::corrupted,
                 w + ": record holds " + version_key_text((*r)->config, (*r)->id)};
  return r;
}

expected<std::vector<version>> read_versions(const lmdb::txn& t, const state_dbis& d,
                                             config_id config) {
  std::vector<version> out;
  auto c = t.open_cursor(d.versions);
  if (!c)
    return std::move(c).err();
  auto start = version_key(config, 0);
  auto prefix = std::string_view{start}.substr(0, 8);
  for (auto kv = c->get(MDB_SET_RANGE, start);; kv = c->get(MDB_NEXT)) {
    if (!kv)
      return std::move(kv).err();
    if (!kv->has_value() || (*kv)->key.substr(0, 8) != prefix)
      break;
    auto key = (*kv)->key;
    if (key.size() != 16)
      return error{
          errc::corrupted,
          where(t, state_db::versions, "of " + std::to_string(key.size()) + " bytes") +
              ": version keys have 16 bytes"};
    version_id id = get_u64_be(key.data() + 8);
    auto w = where(t, state_db::versions, version_key_text(config, id));
    auto payload = unframe_value(key, (*kv)->value, w);
    if (!payload)
      return std::move(payload).err();
    auto v = codec::decode_version(*payload);
    if (!v)
      return decode_failure(w, v.err());
    if (v->config != config || v->id != id)
      return error{errc::corrupted,
                   w + ": record holds " + version_key_text(v->config, v->id)};
    out.push_back(std::move(*v));
  }
  return out;
}

expected<std::optional<client_session>>
read_session(const lmdb::txn& t, const state_dbis& d, session_id id) {
  auto key = u64_be(id);
  auto w = where(t, state_db::sessions, std::to_string(id));
  auto r = read_record<client_session>(t, d.sessions, key, w, codec::decode_session);
  if (r && r->has_value() && (*r)->id != id)
    return error{errc::corrupted,
                 w + ": record holds session id " + std::to_string((*r)->id)};
  return r;
}

expected<std::vector<client_session>> read_sessions(const lmdb::txn& t,
                                                    const state_dbis& d) {
  std::vector<client_session> out;
  auto c = t.open_cursor(d.sessions);
  if (!c)
    return std::move(c).err();
  for (auto kv = c->get(MDB_FIRST);; kv = c->get(MDB_NEXT)) {
    if (!kv)
      return std::move(kv).err();
    if (!kv->has_value())
      break;
    auto key = (*kv)->key;
    if (key.size() != 8)
      return error{
          errc::corrupted,
          where(t, state_db::sessions, "of " + std::to_string(key.size()) + " bytes") +
              ": session keys have 8 bytes"};
    session_id id = get_u64_be(key.data());
    auto w = where(t, state_db::sessions, std::to_string(id));
    auto payload = unframe_value(key, (*kv)->value, w);
    if (!payload)
      return std::move(payload).err();
    auto s = codec::decode_session(*payload);
    if (!s)
      return decode_failure(w, s.err());
    if (s->id != id)
      return error{errc::corrupted,
                   w + ": record holds session id " + std::to_string(s->id)};
    out.push_back(std::move(*s));
  }
  return out;
}

expected<std::uint64_t> read_counter(const lmdb::txn& t, const state_dbis& d,
                                     counter c) {
  auto key = counter_key(c);
  if (key.empty())
    return error{errc::invalid_argument,
                 "unknown counter " + std::to_string(static_cast<int>(c))};
  return read_meta_u64(t, d, key);
}

expected<std::uint64_t> read_last_applied(const lmdb::txn& t, const state_dbis& d) {
  return read_meta_u64(t, d, state_meta_key::last_applied);
}

expected<std::optional<audit::record>> read_audit(const lmdb::txn& t, const state_dbis& d,
                                                  std::uint64_t seq) {
  auto key = u64_be(seq);
  auto w = where(t, state_db::audit, std::to_string(seq));
  auto r = read_record<audit::record>(t, d.audit, key, w, audit::decode_record);
  if (r && r->has_value() && (*r)->seq != seq)
    return error{errc::corrupted,
                 w + ": record holds audit seq " + std::to_string((*r)->seq)};
  return r;
}

expected<std::vector<audit::record>> read_audits(const lmdb::txn& t, const state_dbis& d,
                                                 std::uint64_t from, std::size_t limit) {
  std::vector<audit::record> out;
  auto c = t.open_cursor(d.audit);
  if (!c)
    return std::move(c).err();
  auto start = u64_be(from);
  for (auto kv = c->get(MDB_SET_RANGE, start); limit == 0 || out.size() < limit;
       kv = c->get(MDB_NEXT)) {
    if (!kv)
      return std::move(kv).err();
    if (!kv->has_value())
      break;
    auto key = (*kv)->key;
    if (key.size() != 8)
      return error{
          errc::corrupted,
          where(t, state_db::audit, "of " + std::to_string(key.size()) + " bytes") +
              ": audit keys have 8 bytes"};
    auto seq = get_u64_be(key.data());
    auto w = where(t, state_db::audit, std::to_string(seq));
    auto payload = unframe_value(key, (*kv)->value, w);
    if (!payload)
      return std::move(payload).err();
    auto r = audit::decode_record(*payload);
    if (!r)
      return decode_failure(w, r.err());
    if (r->seq != seq)
      return error{errc::corrupted,
                   w + ": record holds audit seq " + std::to_string(r->seq)};
    out.push_back(std::move(*r));
  }
  return out;
}

expected<audit::chain> read_audit_chain(const lmdb::txn& t, const state_dbis& d) {
  auto key = state_meta_key::audit_chain;
  auto w = where(t, state_db::meta, std::string{key});
  auto r = read_record<audit::chain>(t, d.meta, key, w, audit::decode_chain);
  if (!r)
    return std::move(r).err();
  return r->value_or(audit::chain{});
}

expected<std::optional<auth::principal>>
read_principal(const lmdb::txn& t, const state_dbis& d, std::string_view name) {
  return read_named<auth::principal>(t, d.principals, state_db::principals, name,
                                     d.max_key_size, codec::decode_principal);
}

expected<std::optional<auth::principal>>
read_principal_by_token(const lmdb::txn& t, const state_dbis& d,
                        std::string_view hash) {
  if (hash.empty() || hash.size() > d.max_key_size)
    return std::optional<auth::principal>{};
  // Messages never carry the hash: it is what a command envelope presents.
  auto w = where(t, state_db::tokens, "(a token hash)");
  auto v = t.get(d.tokens, hash);
  if (!v)
    return std::move(v).err();
  if (!v->has_value())
    return std::optional<auth::principal>{};
  auto payload = unframe_value(hash, **v, w);
  if (!payload)
    return std::move(payload).err();
  auto p = read_principal(t, d, *payload);
  if (!p)
    return p;
  // The index and the principal change in one txn: a dangling or stale entry
  // is damage, not a missing token.
  if (!p->has_value() || (*p)->token_hash != hash)
    return error{errc::corrupted, w + ": token index names principal '" +
                                      std::string{*payload} +
                                      "', which does not hold this token"};
  return p;
}

expected<std::vector<auth::principal>> read_principals(const lmdb::txn& t,
                                                       const state_dbis& d) {
  return read_all_named<auth::principal>(t, d.principals, state_db::principals,
                                         codec::decode_principal);
}

expected<std::optional<auth::role>> read_role(const lmdb::txn& t, const state_dbis& d,
                                              std::string_view name) {
  return read_named<auth::role>(t, d.roles, state_db::roles, name, d.max_key_size,
                                codec::decode_role);
}

expected<std::vector<auth::role>> read_roles(const lmdb::txn& t, const state_dbis& d) {
  return read_all_named<auth::role>(t, d.roles, state_db::roles, codec::decode_role);
}

expected<std::optional<auth::tenant>>
read_tenant(const lmdb::txn& t, const state_dbis& d, std::string_view name) {
  return read_named<auth::tenant>(t, d.tenants, state_db::tenants, name, d.max_key_size,
                                  codec::decode_tenant);
}

expected<std::vector<auth::tenant>> read_tenants(const lmdb::txn& t,
                                                 const state_dbis& d) {
  return read_all_named<auth::tenant>(t, d.tenants, state_db::tenants,
                                      codec::decode_tenant);
}

// -- writes ---------------------------------------------------------------------

status write_config(lmdb::txn& t, const state_dbis& d, const config& c) {
  auto key = u64_be(c.id);
  return t.put(d.configs, key, frame_value(key, codec::encode(c)));
}

status remove_config(lmdb::txn& t, const state_dbis& d, config_id id) {
  return erase(t, d.configs, u64_be(id));
}

status write_key(lmdb::txn& t, const state_dbis& d, std::string_view key,
                 config_id id) {
  if (key.empty())
    return status{errc::invalid_argument, "config key must not be empty"};
  if (key.size() > d.max_key_size)
    return status{errc::too_large, "config key of " + std::to_string(key.size()) +
                                       " bytes exceeds the storage key limit of " +
                                       std::to_string(d.max_key_size) + " bytes"};
  return t.put(d.keys, key, frame_value(key, u64_be(id)));
}

status remove_key(lmdb::txn& t, const state_dbis& d, std::string_view key) {
  if (key.empty() || key.size() > d.max_key_size)
    return {}; // never stored
  return erase(t, d.keys, key);
}

status write_version(lmdb::txn& t, const state_dbis& d, const version& v) {
  auto key = version_key(v.config, v.id);
  return t.put(d.versions, key, frame_value(key, codec::encode(v)));
}

status remove_version(lmdb::txn& t, const state_dbis& d, config_id config,
                      version_id id) {
  return erase(t, d.versions, version_key(config, id));
}

status write_session(lmdb::txn& t, const state_dbis& d, const client_session& s) {
  auto key = u64_be(s.id);
  return t.put(d.sessions, key, frame_value(key, codec::encode(s)));
}

status remove_session(lmdb::txn& t, const state_dbis& d, session_id id) {
  return erase(t, d.sessions, u64_be(id));
}

status write_counter(lmdb::txn& t, const state_dbis& d, counter c,
                     std::uint64_t value) {
  auto key = counter_key(c);
  if (key.empty())
    return status{errc::invalid_argument,
                  "unknown counter " + std::to_string(static_cast<int>(c))};
  return write_meta_u64(t, d, key, value);
}

status write_last_applied(lmdb::txn& t, const state_dbis& d, std::uint64_t index) {
  return write_meta_u64(t, d, state_meta_key::last_applied, index);
}

status write_audit(lmdb::txn& t, const state_dbis& d, const audit::record& r) {
  auto key = u64_be(r.seq);
  return t.put(d.audit, key, frame_value(key, audit::encode(r)));
}

status remove_audit(lmdb::txn& t, const state_dbis& d, std::uint64_t seq) {
  return erase(t, d.audit, u64_be(seq));
}

status write_audit_chain(lmdb::txn& t, const state_dbis& d, const audit::chain& c) {
  auto key = state_meta_key::audit_chain;
  return t.put(d.meta, key, frame_value(key, audit::encode(c)));
}

status write_principal(lmdb::txn& t, const state_dbis& d, const auth::principal& p) {
  if (auto s = check_name_key("principal", p.name, d); !s.ok())
    return s;
  if (auto s = check_name_key("token hash", p.token_hash, d); !s.ok())
    return s;
  auto old = read_principal(t, d, p.name);
  if (!old)
    return old.to_status();
  if (*old && (*old)->token_hash != p.token_hash)
    if (auto s = erase(t, d.tokens, (*old)->token_hash); !s.ok())
      return s;
  if (auto s = t.put(d.principals, p.name, frame_value(p.name, codec::encode(p)));
      !s.ok())
    return s;
  return t.put(d.tokens, p.token_hash, frame_value(p.token_hash, p.name));
}

status write_role(lmdb::txn& t, const state_dbis& d, const auth::role& r) {
  if (auto s = check_name_key("role", r.name, d); !s.ok())
    return s;
  return t.put(d.roles, r.name, frame_value(r.name, codec::encode(r)));
}

status remove_role(lmdb::txn& t, const state_dbis& d, std::string_view name) {
  if (name.empty() || name.size() > d.max_key_size)
    return {}; // never stored
  return erase(t, d.roles, name);
}

status write_tenant(lmdb::txn& t, const state_dbis& d, const auth::tenant& x) {
  if (auto s = check_name_key("tenant", x.name, d); !s.ok())
    return s;
  return t.put(d.tenants, x.name, frame_value(x.name, codec::encode(x)));
}

} // namespace conflux::storage
