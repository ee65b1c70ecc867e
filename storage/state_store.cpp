#include "storage/state_store.hpp"

namespace conflux::storage {

expected<state_store> state_store::open(const std::string& dir,
                                        const state_store_options& opts) {
  if (auto st = validate_identity(opts.identity); !st)
    return std::move(st).err();
  lmdb::env_options eo;
  eo.map_size = opts.map_size;
  // Room to grow: every table added later is one more named database.
  eo.max_dbs = 32;
  eo.max_readers = opts.max_readers;
  auto e = lmdb::env::open(dir, eo);
  if (!e)
    return std::move(e).err();
  auto t = e->begin_write();
  if (!t)
    return std::move(t).err();
  state_dbis d;
  const std::pair<lmdb::dbi*, const char*> dbs[] = {
      {&d.configs, state_db::configs},   {&d.keys, state_db::keys},
      {&d.versions, state_db::versions}, {&d.sessions, state_db::sessions},
      {&d.meta, state_db::meta},         {&d.audit, state_db::audit},
      {&d.meta, state_db::meta},         {&d.principals, state_db::principals},
      {&d.tokens, state_db::tokens},     {&d.roles, state_db::roles},
      {&d.tenants, state_db::tenants},
  };
  bool has_data = false;
  for (const auto& [slot, name] : dbs) {
    auto h = t->open_db(name, true);
    if (!h)
      return std::move(h).err();
    *slot = *h;
    if (slot != &d.meta) {
      auto n = t->count(*h);
      if (!n)
        return std::move(n).err();
      has_data = has_data || *n > 0;
    }
  }
  d.max_key_size = e->max_key_size();
  if (auto st = check_or_init_identity(*t, d.meta, "state", opts.identity, has_data);
      !st)
    return std::move(st).err();
  if (auto st = t->commit(); !st)
    return std::move(st).err();
  return expected<state_store>{state_store{std::move(*e), d}};
}

expected<state_write_txn> state_store::begin_write() {
  auto t = env_.begin_write();
  if (!t)
    return std::move(t).err();
  return state_write_txn{std::move(*t), dbis_};
}

expected<state_read_txn> state_store::begin_read() const {
  auto t = env_.begin_read();
  if (!t)
    return std::move(t).err();
  return state_read_txn{std::move(*t), dbis_};
}

} // namespace conflux::storage
