#include "actors/secret_content.hpp"

#include "protocol/secret_box.hpp"
#include "protocol/state_machine.hpp"
#include "protocol/text.hpp"

#include <set>
#include <type_traits>

namespace conflux::actors {
namespace {

std::string quote_key(std::string_view key) {
  return quote(key, limits{}.max_key_bytes);
}

error no_key_file() {
  return {errc::unavailable,
          "this node has no key-encryption key file, so it cannot seal or open secret "
          "content: start every node with --kek-file (docs/security.md, \"Secret "
          "configs\")"};
}

// Seals `content` for the config c (validated first) into `seal`.
status seal_into(const kek_ring* keys, const config& c, const limits& lim,
                 std::string& content, sealing& seal) {
  if (seal.sealed || !seal.content_hash.empty())
    return {errc::invalid_argument,
            "a client sends the plaintext of a secret; the node seals it (the write "
            "set the sealing itself): use a client of the same version as the node"};
  if (!keys)
    return no_key_file();
  if (auto s = check_content(c, content, lim); !s.ok())
    return s;
  auto blob = secret::seal(content, c.key, keys->current(), system_random());
  if (!blob.ok())
    return blob.err();
  auto hash = secret::content_hash(*blob, content, keys->lookup());
  if (!hash.ok())
    return hash.err();
  content = std::move(*blob);
  seal.sealed = true;
  seal.content_hash = std::move(*hash);
  return {};
}

// The config stored under key, if any.
expected<std::optional<config>> stored(state_reader& txn, std::string_view key) {
  auto id = txn.find_config_id(key);
  if (!id.ok())
    return std::move(id).err();
  if (!*id)
    return std::optional<config>{};
  return txn.find_config(**id);
}

// A write that adds a version: seal it when its config is secret now. (If
// the config changes before apply, the state machine refuses the mismatch.)
template <class Cmd>
status seal_version_write(const kek_ring* keys, state_reader& txn, const limits& lim,
                          Cmd& cmd,
                          const std::function<status(const std::string&)>& may_write) {
  auto c = stored(txn, cmd.key);
  if (!c.ok())
    return c.err();
  if (!*c || !(*c)->secret) {
    if (cmd.sealing.sealed || !cmd.sealing.content_hash.empty())
      return {errc::invalid_argument,
              "a client never sends sealed content: use a client of the same version "
              "as the node"};
    return {};
  }
  if (auto s = may_write(cmd.key); !s.ok())
    return s;
  return seal_into(keys, **c, lim, cmd.content, cmd.sealing);
}

} // namespace

status seal_secret_write(const kek_ring* keys, state_reader& txn, const limits& lim,
                         command& cmd,
                         const std::function<status(const std::string&)>& may_write) {
  return std::visit(
      [&](auto& c) -> status {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, create_config>) {
          if (!c.secret) {
            if (c.sealing.sealed || !c.sealing.content_hash.empty())
              return {errc::invalid_argument,
                      "a client never sends sealed content: use a client of the same "
                      "version as the node"};
            return {};
          }
          if (auto s = may_write(c.key); !s.ok())
            return s;
          config target;
          target.key = c.key;
          target.format = c.format;
          target.schema = c.schema;
          target.secret = true;
          if (c.schema)
            if (auto s = validate_schema_document(*c.schema, lim); !s.ok())
              return s;
          return seal_into(keys, target, lim, c.content, c.sealing);
        } else if constexpr (std::is_same_v<T, create_version> ||
                             std::is_same_v<T, publish>) {
          return seal_version_write(keys, txn, lim, c, may_write);
        } else if constexpr (std::is_same_v<T, rewrap_secrets>) {
          return {errc::invalid_argument,
                  "rewrap_secrets is proposed by a node for `conflux kek rotate`, "
                  "never sent by a client"};
        } else {
          return {};
        }
      },
      cmd);
}

expected<version> open_sealed(const kek_ring* keys, const std::string& key, version v) {
  if (!v.sealed)
    return v;
  if (!keys)
    return no_key_file();
  auto plain = secret::open(v.content, key, keys->lookup());
  auto where = "version " + std::to_string(v.id) + " of " + quote_key(key);
  if (!plain.ok()) {
    auto& e = plain.err();
    if (e.code == errc::corrupted)
      return error{errc::corrupted,
                   where + ": " + e.message +
                       "; this node's copy is damaged and will not be "
                       "served: restore the node from a healthy replica"};
    if (e.code == errc::unsupported_version)
      return e;
    // not_found (the KEK id is not in the file) or invalid_argument (another
    // key under that id): the key file is wrong, the data is not.
    return error{errc::unavailable,
                 where + " cannot be opened on this node: " + e.message};
  }
  auto hash = secret::content_hash(v.content, *plain, keys->lookup());
  if (!hash.ok())
    return error{errc::unavailable, where + ": " + hash.err().message};
  if (*hash != v.content_hash)
    return error{errc::corrupted,
                 where + " failed its keyed hash check; this node's copy is damaged "
                         "and will not be served: restore the node from a healthy "
                         "replica"};
  v.content = std::move(*plain);
  v.sealed = false;
  return v;
}

namespace {

// Calls f(config, version) for every sealed version; stops on f's error.
template <class F>
status each_sealed(state_reader& txn, F&& f) {
  auto keys = txn.list_keys("", 0);
  if (!keys.ok())
    return keys.err();
  for (auto& [key, id] : *keys) {
    auto c = txn.find_config(id);
    if (!c.ok())
      return c.err();
    if (!*c || !(*c)->secret)
      continue;
    auto vs = txn.list_versions(id);
    if (!vs.ok())
      return vs.err();
    for (auto& v : *vs) {
      if (!v.sealed)
        continue;
      auto go_on = f(**c, v);
      if (!go_on.ok())
        return go_on.err();
      if (!*go_on)
        return {};
    }
  }
  return {};
}

} // namespace

expected<std::vector<rewrapped_version>> rewrap_batch(const kek_ring& keys,
                                                      state_reader& txn,
                                                      std::size_t max_items,
                                                      std::size_t max_bytes) {
  std::vector<rewrapped_version> out;
  std::size_t bytes = 0;
  auto random = system_random();
  auto s = each_sealed(txn, [&](const config& c, const version& v) -> expected<bool> {
    auto id = secret::key_id_of(v.content);
    if (!id.ok())
      return id.err();
    if (*id == keys.current().id)
      return true;
    auto blob = secret::rewrap(v.content, keys.lookup(), keys.current(), random);
    if (!blob.ok())
      return error{errc::unavailable, "version " + std::to_string(v.id) + " of " +
                                          quote_key(c.key) + ": " + blob.err().message};
    bytes += blob->size() + c.key.size();
    out.push_back(rewrapped_version{c.key, v.id, std::move(*blob)});
    return out.size() < max_items && bytes < max_bytes;
  });
  if (!s.ok())
    return s.err();
  return out;
}

expected<std::vector<std::string>>
check_ring_opens(const kek_ring& keys, state_reader& txn, const std::string& kek_path) {
  std::set<std::string> checked, missing;
  auto s = each_sealed(txn, [&](const config& c, const version& v) -> expected<bool> {
    auto id = secret::key_id_of(v.content);
    if (!id.ok())
      return id.err();
    if (checked.count(*id) || missing.count(*id))
      return true;
    if (!keys.find(*id)) {
      missing.insert(*id);
      return true;
    }
    auto opened = secret::open(v.content, c.key, keys.lookup());
    if (!opened.ok())
      return error{errc::invalid_argument,
                   "key-encryption key '" + *id + "' in " + kek_path +
                       " does not open version " + std::to_string(v.id) + " of " +
                       quote_key(c.key) + " (" + opened.err().message +
                       "): the file holds another key under that id; put back the key "
                       "the secrets were sealed with"};
    checked.insert(*id);
    return checked.size() < keys.keys().size();
  });
  if (!s.ok())
    return s.err();
  return std::vector<std::string>{missing.begin(), missing.end()};
}

expected<std::map<std::string, std::uint64_t>>
sealed_versions_by_key(state_reader& txn) {
  std::map<std::string, std::uint64_t> out;
  auto s = each_sealed(txn, [&](const config&, const version& v) -> expected<bool> {
    auto id = secret::key_id_of(v.content);
    if (!id.ok())
      return id.err();
    ++out[*id];
    return true;
  });
  if (!s.ok())
    return s.err();
  return out;
}

} // namespace conflux::actors
