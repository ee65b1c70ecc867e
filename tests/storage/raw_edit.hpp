#pragma once
// Helpers shared by the storage tests: CHECK_OK for status results, and raw
// LMDB edits that damage or remove stored values behind a store's back (the
// store must be closed: LMDB allows one MDB_env per files and process).

#include <doctest/doctest.h>

#include <string>

#include "protocol/error.hpp"
#include "storage/lmdb.hpp"

#define CHECK_OK(expr)                                                                 \
  do {                                                                                 \
    auto st_ = (expr);                                                                 \
    CHECK_MESSAGE(st_.ok(), (st_.ok() ? std::string{} : to_string(st_.err())));        \
  } while (false)

namespace conflux::storage::test {

/// Rewrites one stored value with `fn(value&)`.
template <class Fn>
void edit_raw(const std::string& dir, const char* db_name, const std::string& key,
              Fn fn) {
  auto e = lmdb::env::open(dir, lmdb::env_options{});
  REQUIRE(e.ok());
  auto t = e->begin_write();
  REQUIRE(t.ok());
  auto db = t->open_db(db_name, false);
  REQUIRE(db.ok());
  auto v = t->get(*db, key);
  REQUIRE(v.ok());
  REQUIRE(v->has_value());
  std::string value{**v};
  fn(value);
  REQUIRE(t->put(*db, key, value).ok());
  REQUIRE(t->commit().ok());
}

/// Deletes one stored value, which must exist.
inline void delete_raw(const std::string& dir, const char* db_name,
                       const std::string& key) {
  auto e = lmdb::env::open(dir, lmdb::env_options{});
  REQUIRE(e.ok());
  auto t = e->begin_write();
  REQUIRE(t.ok());
  auto db = t->open_db(db_name, false);
  REQUIRE(db.ok());
  auto d = t->del(*db, key);
  REQUIRE(d.ok());
  REQUIRE(*d);
  REQUIRE(t->commit().ok());
}

} // namespace conflux::storage::test
