// The process the power-cut tests run under the shim: it makes one scripted
// set of changes under ROOT, then kills itself with SIGKILL (as the harness
// cuts a node), so nothing after the changes (no exit handlers, no close)
// runs. Usage: powercut_writer SCENARIO ROOT
#include "storage/lmdb.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <lmdb.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "powercut_writer: %s: %s\n", what, std::strerror(errno));
  ::_exit(3);
}

int open_or_fail(const std::string& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0)
    fail(p.c_str());
  return fd;
}

void pwrite_or_fail(int fd, const std::string& s, off_t off) {
  if (::pwrite(fd, s.data(), s.size(), off) != static_cast<ssize_t>(s.size()))
    fail("pwrite");
}

void sync_dir(const std::string& dir) {
  int fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd) != 0)
    fail("fsync dir");
  ::close(fd);
}

void lmdb_put(MDB_env* env, const char* key, const char* val) {
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  if (mdb_txn_begin(env, nullptr, 0, &txn) != 0 ||
      mdb_dbi_open(txn, nullptr, 0, &dbi) != 0)
    fail("lmdb begin");
  MDB_val k{std::strlen(key), const_cast<char*>(key)};
  MDB_val v{std::strlen(val), const_cast<char*>(val)};
  if (mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
    fail("lmdb put");
}

MDB_env* lmdb_open(const std::string& dir, unsigned flags) {
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, 1 << 24) != 0 ||
      mdb_env_open(env, dir.c_str(), flags, 0600) != 0)
    fail("lmdb open");
  return env;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3)
    return 2;
  std::string s = argv[1], root = argv[2];
  if (s == "unsynced-write") {
    int fd = open_or_fail(root + "/f", O_RDWR);
    pwrite_or_fail(fd, "NEW", 0);
  } else if (s == "synced-write") {
    int fd = open_or_fail(root + "/f", O_RDWR);
    pwrite_or_fail(fd, "NEW", 0);
    if (::fdatasync(fd) != 0)
      fail("fdatasync");
    pwrite_or_fail(fd, "LATE", 4); // after the sync: lost
  } else if (s == "extend-then-cut") {
    int fd = open_or_fail(root + "/f", O_WRONLY | O_APPEND);
    const char tail[] = "-appended";
    if (::write(fd, tail, sizeof tail - 1) != static_cast<ssize_t>(sizeof tail - 1))
      fail("write");
  } else if (s == "writev-at-lseek") {
    int fd = open_or_fail(root + "/f", O_RDWR);
    if (::lseek(fd, 4, SEEK_SET) != 4)
      fail("lseek");
    std::string a = "XY", b = "Z";
    struct iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    if (::writev(fd, iov, 2) != 3)
      fail("writev");
  } else if (s == "write-only-overwrite") {
    int fd = open_or_fail(root + "/f", O_WRONLY);
    pwrite_or_fail(fd, "NEW", 0);
  } else if (s == "closedir-then-socket") {
    // libstdc++'s directory iterators open a directory with openat and close
    // it with closedir; the number is then reused by a socket.
    int dfd = open_or_fail(root, O_RDONLY | O_DIRECTORY);
    DIR* d = ::fdopendir(dfd);
    if (d == nullptr)
      fail("fdopendir");
    ::closedir(d);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
      fail("socketpair");
    if (sv[0] != dfd && sv[1] != dfd)
      fail("the socket did not reuse the directory's number");
    if (::write(sv[0] == dfd ? sv[0] : sv[1], "hello", 5) != 5)
      fail("write");
  } else if (s == "dsync-write") {
    int fd = open_or_fail(root + "/f", O_WRONLY | O_DSYNC);
    pwrite_or_fail(fd, "NEW", 0);
  } else if (s == "unsynced-truncate") {
    int fd = open_or_fail(root + "/f", O_RDWR);
    if (::ftruncate(fd, 2) != 0)
      fail("ftruncate");
  } else if (s == "open-truncate") {
    int fd = open_or_fail(root + "/f", O_WRONLY | O_TRUNC);
    pwrite_or_fail(fd, "x", 0);
  } else if (s == "unsynced-rename" || s == "synced-rename") {
    int fd = open_or_fail(root + "/tmp", O_WRONLY | O_CREAT | O_TRUNC);
    pwrite_or_fail(fd, "NEW", 0);
    if (::fsync(fd) != 0)
      fail("fsync");
    if (::rename((root + "/tmp").c_str(), (root + "/f").c_str()) != 0)
      fail("rename");
    if (s == "synced-rename")
      sync_dir(root);
  } else if (s == "unsynced-create") {
    int fd = open_or_fail(root + "/new", O_WRONLY | O_CREAT | O_EXCL);
    pwrite_or_fail(fd, "NEW", 0);
    if (::fsync(fd) != 0)
      fail("fsync");
    if (::mkdir((root + "/newdir").c_str(), 0700) != 0)
      fail("mkdir");
  } else if (s == "unsynced-unlink") {
    if (::unlink((root + "/f").c_str()) != 0)
      fail("unlink");
  } else if (s == "synced-unlink") {
    if (std::remove((root + "/f").c_str()) != 0)
      fail("remove");
    sync_dir(root);
  } else if (s == "torn-pages") {
    int fd = open_or_fail(root + "/f", O_RDWR);
    pwrite_or_fail(fd, std::string(16 * 4096, 'N'), 0);
  } else if (s == "conflux-env-fresh") {
    // Conflux's own environment wrapper on a path that does not exist yet.
    auto env = conflux::storage::lmdb::env::open(root + "/data/log", {});
    if (!env)
      fail("env::open");
    auto txn = env->begin_write();
    if (!txn)
      fail("begin_write");
    auto db = txn->open_db(nullptr, false);
    if (!db || !txn->put(*db, "k", "committed").ok() || !txn->commit().ok())
      fail("put");
  } else if (s == "lmdb-synced") {
    MDB_env* env = lmdb_open(root + "/db", 0);
    lmdb_put(env, "k", "committed");
  } else if (s == "lmdb-nosync") {
    MDB_env* env = lmdb_open(root + "/db", MDB_NOSYNC);
    lmdb_put(env, "k1", "synced");
    if (mdb_env_sync(env, 1) != 0)
      fail("mdb_env_sync");
    lmdb_put(env, "k2", "unsynced");
  } else {
    return 2;
  }
  ::raise(SIGKILL);
  return 4;
}
