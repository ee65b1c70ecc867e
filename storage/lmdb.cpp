#include "storage/lmdb.hpp"

#include "storage/durable_fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <set>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>

namespace conflux::storage::lmdb {

namespace {

MDB_val to_val(std::string_view s) noexcept {
  MDB_val v;
  v.mv_size = s.size();
  // LMDB takes a non-const pointer but does not write through it for keys
  // and (without MDB_RESERVE) values.
  v.mv_data = const_cast<char*>(s.data());
  return v;
}

std::string_view from_val(const MDB_val& v) noexcept {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::string_view env_path(MDB_env* e) noexcept {
  const char* p = nullptr;
  if (e == nullptr || mdb_env_get_path(e, &p) != 0 || p == nullptr)
    return "?";
  return p;
}

// Directories with an open env in this process (see the header).
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::set<std::string>& open_dirs() {
  static std::set<std::string> dirs;
  return dirs;
}

std::string db_detail(const char* db_name) {
  return std::string{"database '"} + db_name + "'";
}

} // namespace

error make_error(int rc, std::string_view operation, std::string_view path,
                 std::string_view detail) {
  std::string msg{"lmdb "};
  msg += operation;
  msg += " failed in ";
  msg += path;
  if (!detail.empty()) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  msg += ": ";
  msg += mdb_strerror(rc);
  if (rc == MDB_MAP_FULL)
    msg += "; the data file reached its maximum size: restart conflux-node with a "
           "larger --max-db-size (config key max_db_size)";
  else if (rc == ENOSPC || rc == EDQUOT)
    msg += "; the disk is full: free space on the file system of the data directory";
  else if (rc == MDB_READERS_FULL)
    msg += "; too many concurrent read transactions: retry, or restart conflux-node "
           "with a larger --max-readers (config key max_readers)";
  // A full reader table is load, not damage: fail that one request
  // (unavailable) instead of stopping the node (storage_failure). A full map
  // or disk is a capacity limit (resource_exhausted): the applier waits for
  // room instead of stopping (actors/applier.hpp).
  auto code = (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND) ? errc::corrupted
              : rc == MDB_READERS_FULL                         ? errc::unavailable
              : (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT)
                  ? errc::resource_exhausted
                  : errc::storage_failure;
  return error{code, std::move(msg)};
}

// -- cursor -------------------------------------------------------------------

cursor::cursor(cursor&& other) noexcept
    : cursor_(std::exchange(other.cursor_, nullptr)), path_(other.path_),
      db_name_(other.db_name_) {}

cursor& cursor::operator=(cursor&& other) noexcept {
  if (this != &other) {
    if (cursor_ != nullptr)
      mdb_cursor_close(cursor_);
    cursor_ = std::exchange(other.cursor_, nullptr);
    path_ = other.path_;
    db_name_ = other.db_name_;
  }
  return *this;
}

cursor::~cursor() {
  if (cursor_ != nullptr)
    mdb_cursor_close(cursor_);
}

expected<std::optional<kv>> cursor::get(MDB_cursor_op op, std::string_view key) {
  MDB_val k = to_val(key);
  MDB_val v{0, nullptr};
  int rc = mdb_cursor_get(cursor_, &k, &v, op);
  if (rc == MDB_NOTFOUND)
    return std::optional<kv>{};
  if (rc != 0)
    return make_error(rc, "mdb_cursor_get", path_, db_detail(db_name_));
  return std::optional<kv>{kv{from_val(k), from_val(v)}};
}

status cursor::del() {
  int rc = mdb_cursor_del(cursor_, 0);
  if (rc != 0)
    return make_error(rc, "mdb_cursor_del", path_, db_detail(db_name_));
  return {};
}

// -- txn ----------------------------------------------------------------------

txn::txn(txn&& other) noexcept
    : txn_(std::exchange(other.txn_, nullptr)), path_(other.path_),
      read_only_(other.read_only_) {}

txn& txn::operator=(txn&& other) noexcept {
  if (this != &other) {
    abort();
    txn_ = std::exchange(other.txn_, nullptr);
    path_ = other.path_;
    read_only_ = other.read_only_;
  }
  return *this;
}

txn::~txn() {
  abort();
}

error txn::fail(int rc, std::string_view operation, std::string_view detail) const {
  return make_error(rc, operation, path_, detail);
}

expected<dbi> txn::open_db(const char* name, bool create) {
  MDB_dbi h = 0;
  int rc = mdb_dbi_open(txn_, name, create ? MDB_CREATE : 0u, &h);
  if (rc != 0)
    return fail(rc, "mdb_dbi_open", db_detail(name));
  return dbi{h, name};
}

expected<std::optional<std::string_view>> txn::get(dbi db, std::string_view key) const {
  MDB_val k = to_val(key);
  MDB_val v{0, nullptr};
  int rc = mdb_get(txn_, db.handle, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<std::string_view>{};
  if (rc != 0)
    return fail(rc, "mdb_get", db_detail(db.name));
  return std::optional<std::string_view>{from_val(v)};
}

status txn::put(dbi db, std::string_view key, std::string_view value, unsigned flags) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  int rc = mdb_put(txn_, db.handle, &k, &v, flags);
  if (rc != 0)
    return fail(rc, "mdb_put", db_detail(db.name));
  return {};
}

expected<bool> txn::del(dbi db, std::string_view key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, db.handle, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    return fail(rc, "mdb_del", db_detail(db.name));
  return true;
}

status txn::clear(dbi db) {
  int rc = mdb_drop(txn_, db.handle, 0);
  if (rc != 0)
    return fail(rc, "mdb_drop", db_detail(db.name));
  return {};
}

expected<std::size_t> txn::count(dbi db) const {
  MDB_stat st;
  int rc = mdb_stat(txn_, db.handle, &st);
  if (rc != 0)
    return fail(rc, "mdb_stat", db_detail(db.name));
  return static_cast<std::size_t>(st.ms_entries);
}

expected<cursor> txn::open_cursor(dbi db) const {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn_, db.handle, &c);
  if (rc != 0)
    return fail(rc, "mdb_cursor_open", db_detail(db.name));
  return cursor{c, path_, db.name};
}

status txn::commit() {
  if (txn_ == nullptr)
    return status{errc::storage_failure,
                  std::string{"lmdb commit on a finished transaction in "} +
                      std::string{path_}};
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr)); // frees the txn either way
  if (rc != 0)
    return fail(rc, "mdb_txn_commit");
  return {};
}

void txn::abort() noexcept {
  if (txn_ != nullptr)
    mdb_txn_abort(std::exchange(txn_, nullptr));
}

// -- env ----------------------------------------------------------------------

expected<env> env::open(const std::string& dir, const env_options& opts) {
  // Durably: a power cut must not take back the directory of an environment
  // that has already acknowledged a commit (docs/design.md, durability rule 11).
  if (auto s = create_dirs_durable(dir); !s.ok())
    return error{errc::storage_failure,
                 "cannot create storage directory " + dir + ": " + s.err().message};
  std::error_code ec;
  auto canonical = std::filesystem::canonical(dir, ec);
  if (ec)
    return error{errc::storage_failure,
                 "cannot resolve storage directory " + dir + ": " + ec.message()};
  std::string key = canonical.string();
  {
    std::lock_guard<std::mutex> lock{registry_mutex()};
    if (!open_dirs().insert(key).second)
      return error{errc::invalid_argument,
                   "storage directory " + dir +
                       " is already open in this process "
                       "(LMDB allows one handle per environment and process)"};
  }
  MDB_env* e = nullptr;
  int rc = mdb_env_create(&e);
  if (rc != 0) {
    std::lock_guard<std::mutex> lock{registry_mutex()};
    open_dirs().erase(key);
    return make_error(rc, "mdb_env_create", dir);
  }
  // From here on `guard` closes the half-opened env and releases the
  // registry entry on every error path.
  env guard{e, dir, opts.map_size, std::move(key)};
  if (auto st = guard.lock_dir(); !st)
    return std::move(st).err();
  if ((rc = mdb_env_set_mapsize(e, opts.map_size)) != 0)
    return make_error(rc, "mdb_env_set_mapsize", dir,
                      "map_size " + std::to_string(opts.map_size));
  if ((rc = mdb_env_set_maxdbs(e, opts.max_dbs)) != 0)
    return make_error(rc, "mdb_env_set_maxdbs", dir);
  if ((rc = mdb_env_set_maxreaders(e, opts.max_readers)) != 0)
    return make_error(rc, "mdb_env_set_maxreaders", dir);
  // MDB_NOTLS: see the header. No MDB_NOSYNC / MDB_NOMETASYNC / MDB_WRITEMAP:
  // a commit returns only after LMDB's fdatasync of data and meta pages
  // (docs/design.md, durability rules 1 and 2). Files are 0600: configs may hold
  // secrets.
  if ((rc = mdb_env_open(e, dir.c_str(), MDB_NOTLS, 0600)) != 0) {
    if (rc == ENOMEM)
      // The map is reserved address space: too large a map size fails here.
      return make_error(rc, "mdb_env_open", dir,
                        "map size " + std::to_string(opts.map_size) +
                            " bytes does not fit in this process's address space; "
                            "restart conflux-node with a smaller --max-db-size");
    return make_error(rc, "mdb_env_open", dir);
  }
  // data.mdb and lock.mdb may have just been created: their names must be
  // durable before the first commit is acknowledged.
  if (auto s = sync_dir(dir); !s.ok())
    return std::move(s).err();
  int dead = 0;
  if ((rc = mdb_reader_check(e, &dead)) != 0)
    return make_error(rc, "mdb_reader_check", dir);
  return expected<env>{std::move(guard)};
}

status env::lock_dir() {
  auto path = dir_ + "/conflux.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return status{errc::storage_failure,
                  "cannot open lock file " + path + ": " + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return status{errc::invalid_argument,
                    "storage directory " + dir_ +
                        " is in use by another process (it holds " + path +
                        "): is another conflux-node running on this data dir?"};
    return status{errc::storage_failure,
                  "cannot lock " + path + ": " + std::strerror(err)};
  }
  lock_fd_ = fd;
  return {};
}

env::env(env&& other) noexcept
    : env_(std::exchange(other.env_, nullptr)), dir_(std::move(other.dir_)),
      map_size_(other.map_size_), key_(std::exchange(other.key_, {})),
      lock_fd_(std::exchange(other.lock_fd_, -1)) {}

env& env::operator=(env&& other) noexcept {
  if (this != &other) {
    close();
    env_ = std::exchange(other.env_, nullptr);
    dir_ = std::move(other.dir_);
    map_size_ = other.map_size_;
    key_ = std::exchange(other.key_, {});
    lock_fd_ = std::exchange(other.lock_fd_, -1);
  }
  return *this;
}

env::~env() {
  close();
}

void env::close() noexcept {
  if (env_ != nullptr)
    mdb_env_close(std::exchange(env_, nullptr));
  if (lock_fd_ >= 0)
    ::close(std::exchange(lock_fd_, -1)); // releases the flock
  if (!key_.empty()) {
    std::lock_guard<std::mutex> lock{registry_mutex()};
    open_dirs().erase(key_);
    key_.clear();
  }
}

std::size_t env::max_key_size() const noexcept {
  return static_cast<std::size_t>(mdb_env_get_maxkeysize(env_));
}

expected<txn> env::begin(unsigned flags) const {
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, flags, &t);
  if (rc != 0)
    return make_error(rc, "mdb_txn_begin", dir_,
                      (flags & MDB_RDONLY) != 0 ? "read-only" : "read-write");
  return txn{t, env_path(env_), (flags & MDB_RDONLY) != 0};
}

expected<txn> env::begin_read() const {
  return begin(MDB_RDONLY);
}

expected<txn> env::begin_write() {
  return begin(0);
}

} // namespace conflux::storage::lmdb
