// libconflux-powercut.so: an LD_PRELOAD shim that journals, before each
// change a process makes under a data root, what a power cut could take back
// (journal.hpp has the records and the roll-back; docs/chaos.md, "Power
// cuts", the use).
//
//   env CONFLUX_POWERCUT_JOURNAL=/abs/journal CONFLUX_POWERCUT_ROOT=/abs/data
//       LD_PRELOAD=/path/libconflux-powercut.so conflux-node ...
//
// Seen: open/open64/openat/openat64/creat (+ the _2 fortify entry points),
// write, pwrite(64), writev, pwritev(64), pwritev2, ftruncate(64), truncate(64),
// fsync, fdatasync, msync(MS_SYNC) of a shared writable map, sync, syncfs,
// rename/renameat/renameat2, unlink/unlinkat/remove/rmdir, mkdir/mkdirat,
// dup/dup2/dup3, close, closedir (of an fdopendir), fclose (of an fdopen).
// Writes through an O_DSYNC/O_SYNC descriptor (or with
// RWF_DSYNC/RWF_SYNC) count as synced when they return. Not seen: stdio's and
// iostreams' internal writes, writes through a MAP_SHARED map that is never
// msync'ed, fcntl(F_DUPFD). Conflux and LMDB (without MDB_WRITEMAP) use only
// what is seen.
//
// CONFLUX_POWERCUT_IGNORE=name,... leaves files of those base names alone
// (conflux-chaos passes lock.mdb: LMDB's lock file holds no data, is set up
// again on open, and its one unsynced ftruncate would otherwise keep the
// journal from ever emptying).
//
// The shim is loud about misuse: preloaded without both variables, with a
// root that does not exist, or unable to write its journal, it prints why and
// exits the process with status 97 before the program does anything that
// would go unrecorded.
#include "apps/chaos/powercut/journal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

using conflux::powercut::read_range;
using conflux::powercut::record_header;
using conflux::powercut::record_kind;
using conflux::powercut::record_magic;

namespace {

// -- the real functions ---------------------------------------------------

#define CONFLUX_REAL(name) decltype(&::name) real_##name = nullptr
CONFLUX_REAL(open);
CONFLUX_REAL(open64);
CONFLUX_REAL(openat);
CONFLUX_REAL(openat64);
CONFLUX_REAL(write);
CONFLUX_REAL(pwrite);
CONFLUX_REAL(pwrite64);
CONFLUX_REAL(writev);
CONFLUX_REAL(pwritev);
CONFLUX_REAL(pwritev64);
CONFLUX_REAL(pwritev2);
CONFLUX_REAL(ftruncate);
CONFLUX_REAL(ftruncate64);
CONFLUX_REAL(truncate);
CONFLUX_REAL(truncate64);
CONFLUX_REAL(fsync);
CONFLUX_REAL(fdatasync);
CONFLUX_REAL(msync);
CONFLUX_REAL(mmap);
CONFLUX_REAL(mmap64);
CONFLUX_REAL(munmap);
CONFLUX_REAL(sync);
CONFLUX_REAL(syncfs);
CONFLUX_REAL(rename);
CONFLUX_REAL(renameat);
CONFLUX_REAL(renameat2);
CONFLUX_REAL(unlink);
CONFLUX_REAL(unlinkat);
CONFLUX_REAL(remove);
CONFLUX_REAL(rmdir);
CONFLUX_REAL(mkdir);
CONFLUX_REAL(mkdirat);
CONFLUX_REAL(dup);
CONFLUX_REAL(dup2);
CONFLUX_REAL(dup3);
CONFLUX_REAL(close);
CONFLUX_REAL(closedir);
CONFLUX_REAL(fclose);
#undef CONFLUX_REAL

[[noreturn]] void die(const char* what, const char* detail) {
  std::fprintf(stderr, "conflux-powercut: %s%s%s\n", what, detail ? ": " : "",
               detail ? detail : "");
  std::fflush(stderr);
  ::_exit(97);
}

template <class F>
void bind(F& f, const char* name) {
  f = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
  if (f == nullptr)
    die("cannot find the real", name);
}

// -- state -----------------------------------------------------------------

struct fd_info {
  bool tracked;
  bool is_dir;
  bool dsync;
  bool append;
  std::uint64_t ino;
};
constexpr int max_fds = 1 << 16;
fd_info g_fds[max_fds];

struct mapping {
  char* start;
  std::size_t len;
  std::uint64_t ino;
};
constexpr int max_maps = 64;
mapping g_maps[max_maps];

/// A change not yet made durable (the shim's own copy of the journal's rules,
/// so that it can empty the journal whenever nothing is pending).
struct pending {
  std::uint64_t seq;
  record_kind kind;
  std::uint64_t ino;
  std::uint64_t off, len;   // data
  std::uint64_t dir1, dir2; // meta: directories whose sync makes it durable (0: done)
};

pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_once_t g_once = PTHREAD_ONCE_INIT;
bool g_active = false;
int g_journal = -1;
char g_root[PATH_MAX];
std::size_t g_root_len = 0;
char g_stash[PATH_MAX];
/// Base names never watched (CONFLUX_POWERCUT_IGNORE, comma-separated).
std::vector<std::string>* g_ignored = nullptr;
std::uint64_t g_seq = 0;
std::uint64_t g_journal_bytes = 0;
std::vector<pending>* g_pending = nullptr;

struct lock_guard {
  lock_guard() { pthread_mutex_lock(&g_mu); }
  ~lock_guard() { pthread_mutex_unlock(&g_mu); }
};

void init() {
  bind(real_open, "open");
  bind(real_open64, "open64");
  bind(real_openat, "openat");
  bind(real_openat64, "openat64");
  bind(real_write, "write");
  bind(real_pwrite, "pwrite");
  bind(real_pwrite64, "pwrite64");
  bind(real_writev, "writev");
  bind(real_pwritev, "pwritev");
  bind(real_pwritev64, "pwritev64");
  bind(real_pwritev2, "pwritev2");
  bind(real_ftruncate, "ftruncate");
  bind(real_ftruncate64, "ftruncate64");
  bind(real_truncate, "truncate");
  bind(real_truncate64, "truncate64");
  bind(real_fsync, "fsync");
  bind(real_fdatasync, "fdatasync");
  bind(real_msync, "msync");
  bind(real_mmap, "mmap");
  bind(real_mmap64, "mmap64");
  bind(real_munmap, "munmap");
  bind(real_sync, "sync");
  bind(real_syncfs, "syncfs");
  bind(real_rename, "rename");
  bind(real_renameat, "renameat");
  bind(real_renameat2, "renameat2");
  bind(real_unlink, "unlink");
  bind(real_unlinkat, "unlinkat");
  bind(real_remove, "remove");
  bind(real_rmdir, "rmdir");
  bind(real_mkdir, "mkdir");
  bind(real_mkdirat, "mkdirat");
  bind(real_dup, "dup");
  bind(real_dup2, "dup2");
  bind(real_dup3, "dup3");
  bind(real_close, "close");
  bind(real_closedir, "closedir");
  bind(real_fclose, "fclose");

  const char* journal = std::getenv("CONFLUX_POWERCUT_JOURNAL");
  const char* root = std::getenv("CONFLUX_POWERCUT_ROOT");
  if (journal == nullptr || root == nullptr || *journal != '/' || *root != '/')
    die("preloaded without absolute CONFLUX_POWERCUT_JOURNAL and CONFLUX_POWERCUT_ROOT",
        nullptr);
  if (::realpath(root, g_root) == nullptr)
    die("CONFLUX_POWERCUT_ROOT does not exist (create it first)", root);
  g_root_len = std::strlen(g_root);
  std::string stash = conflux::powercut::stash_dir(journal);
  if (stash.size() >= sizeof g_stash)
    die("journal path too long", journal);
  std::memcpy(g_stash, stash.c_str(), stash.size() + 1);
  if (real_mkdir(g_stash, 0700) != 0 && errno != EEXIST)
    die("cannot create the stash directory", g_stash);
  g_journal = real_open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (g_journal < 0)
    die("cannot open the journal", journal);
  struct stat st {};
  if (::fstat(g_journal, &st) != 0 || st.st_size != 0)
    die("the journal is not empty: roll it back (conflux-powercut rollback) before "
        "starting the process again",
        journal);
  g_pending = new std::vector<pending>();
  g_ignored = new std::vector<std::string>();
  if (const char* ign = std::getenv("CONFLUX_POWERCUT_IGNORE")) {
    std::string all = ign;
    for (std::size_t pos = 0; pos <= all.size();) {
      auto comma = all.find(',', pos);
      if (comma == std::string::npos)
        comma = all.size();
      if (comma > pos)
        g_ignored->push_back(all.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  // Children of the traced process are not traced (they would share the
  // journal and break its order).
  ::unsetenv("LD_PRELOAD");
  ::unsetenv("CONFLUX_POWERCUT_JOURNAL");
  ::unsetenv("CONFLUX_POWERCUT_ROOT");
  ::unsetenv("CONFLUX_POWERCUT_IGNORE");
  g_active = true;
}

void ensure_init() {
  pthread_once(&g_once, init);
}

__attribute__((constructor)) void init_at_load() {
  ensure_init();
}

// -- paths -----------------------------------------------------------------

/// The absolute, parent-resolved path of `path` relative to `dirfd`; false
/// when it is not under the root (or cannot be resolved).
bool resolve(int dirfd, const char* path, char (&out)[PATH_MAX]) {
  if (path == nullptr || *path == '\0')
    return false;
  std::string full;
  if (*path == '/') {
    full = path;
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (::getcwd(base, sizeof base) == nullptr)
        return false;
    } else {
      char link[64];
      std::snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = ::readlink(link, base, sizeof base - 1);
      if (n <= 0)
        return false;
      base[n] = '\0';
    }
    full = std::string{base} + "/" + path;
  }
  while (full.size() > 1 && full.back() == '/')
    full.pop_back();
  auto slash = full.rfind('/');
  std::string dir = slash == 0 ? "/" : full.substr(0, slash);
  std::string leaf = full.substr(slash + 1);
  char dir_real[PATH_MAX];
  if (::realpath(dir.c_str(), dir_real) == nullptr)
    return false;
  std::string res = std::string{dir_real};
  if (leaf != "." && !leaf.empty()) {
    if (leaf == "..")
      return false;
    res += (res == "/" ? "" : "/") + leaf;
  }
  if (res.size() >= PATH_MAX)
    return false;
  bool under = res.compare(0, g_root_len, g_root) == 0 &&
               (res.size() == g_root_len || res[g_root_len] == '/');
  if (!under)
    return false;
  for (const auto& name : *g_ignored)
    if (leaf == name)
      return false;
  std::memcpy(out, res.c_str(), res.size() + 1);
  return true;
}

const char* relative(const char* abs) {
  const char* r = abs + g_root_len;
  return *r == '/' ? r + 1 : r;
}

std::uint64_t parent_ino(const char* abs) {
  std::string p{abs};
  auto slash = p.rfind('/');
  p = slash == 0 ? "/" : p.substr(0, slash);
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool tracked(int fd) {
  return g_active && fd >= 0 && fd < max_fds && g_fds[fd].tracked;
}

/// tracked(fd), re-checked under g_mu against the file the number refers to
/// now: a descriptor closed behind the shim's back (closedir of an fdopendir,
/// fclose of an fdopen) leaves a stale entry, which this forgets.
bool still_tracked(int fd) {
  if (!tracked(fd))
    return false;
  int saved = errno;
  struct stat st {};
  bool same =
      ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_ino) == g_fds[fd].ino;
  errno = saved;
  if (!same)
    g_fds[fd] = {};
  return same;
}

// -- the journal (callers hold g_mu) ----------------------------------------

void write_all(const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = real_write(g_journal, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      die("cannot write the journal", std::strerror(errno));
    c += w;
    n -= static_cast<std::size_t>(w);
  }
}

void append(record_kind kind, std::uint64_t seq, std::uint64_t ino, std::uint64_t a,
            std::uint64_t b, std::uint64_t parent, const char* name = "",
            const char* name2 = "", const std::string& payload = {}) {
  int saved = errno;
  record_header h{};
  h.magic = record_magic;
  h.kind = static_cast<std::uint32_t>(kind);
  h.seq = seq != 0 ? seq : ++g_seq;
  h.ino = ino;
  h.a = a;
  h.b = b;
  h.parent = parent;
  h.name_len = static_cast<std::uint32_t>(std::strlen(name));
  h.name2_len = static_cast<std::uint32_t>(std::strlen(name2));
  h.payload_len = payload.size();
  // One buffer, one write: a kill can cut the journal only between records
  // or inside the last one, which the reader then ignores.
  std::string buf(reinterpret_cast<const char*>(&h), sizeof h);
  buf.append(name, h.name_len);
  buf.append(name2, h.name2_len);
  buf += payload;
  write_all(buf.data(), buf.size());
  g_journal_bytes += buf.size();
  errno = saved;
}

template <class P>
void drop_pending(P&& pred) {
  auto& v = *g_pending;
  v.erase(std::remove_if(v.begin(), v.end(), pred), v.end());
}

void note_pending(const pending& p) {
  g_pending->push_back(p);
}

/// Empties the journal and the stash when no change is pending any more.
void maybe_reset() {
  if (!g_pending->empty() || g_journal_bytes == 0)
    return;
  if (real_ftruncate(g_journal, 0) != 0)
    die("cannot empty the journal", std::strerror(errno));
  g_journal_bytes = 0;
  if (DIR* d = ::opendir(g_stash)) {
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
        continue;
      std::string p = std::string{g_stash} + "/" + e->d_name;
      real_unlink(p.c_str());
    }
    ::closedir(d);
  }
}

void synced_file(std::uint64_t ino, std::uint64_t upto) {
  append(record_kind::sync, 0, ino, upto, 0, 0);
  drop_pending([&](const pending& p) {
    return p.kind == record_kind::data && p.ino == ino && p.seq < upto;
  });
  maybe_reset();
}

void synced_dir(std::uint64_t dir, std::uint64_t upto) {
  append(record_kind::dir_sync, 0, dir, upto, 0, 0);
  auto& v = *g_pending;
  for (auto& p : v)
    if (p.kind != record_kind::data && p.seq < upto) {
      if (p.dir1 == dir)
        p.dir1 = 0;
      if (p.dir2 == dir)
        p.dir2 = 0;
    }
  drop_pending([](const pending& p) {
    return p.kind != record_kind::data && p.dir1 == 0 && p.dir2 == 0;
  });
  maybe_reset();
}

void synced_all(std::uint64_t upto) {
  append(record_kind::sync_all, 0, 0, upto, 0, 0);
  drop_pending([&](const pending& p) { return p.seq < upto; });
  maybe_reset();
}

void synced_range(std::uint64_t ino, std::uint64_t upto, std::uint64_t off,
                  std::uint64_t len) {
  append(record_kind::sync_range, 0, ino, upto, len, off);
  drop_pending([&](const pending& p) {
    std::uint64_t hi = p.off + (p.len == 0 ? 1 : p.len);
    return p.kind == record_kind::data && p.ino == ino && p.seq < upto &&
           p.off < off + len && off < hi;
  });
  maybe_reset();
}

/// Journals the bytes [off, off+len) of the file behind `fd` are about to be
/// overwritten (or cut), with the file's size before.
void before_change(int fd, std::uint64_t off, std::uint64_t len) {
  int saved = errno;
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    die("cannot stat a watched file", std::strerror(errno));
  auto size = static_cast<std::uint64_t>(st.st_size);
  std::string old;
  if (off < size) {
    // Through a read-only descriptor of its own: `fd` may be write-only.
    char self[64];
    std::snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int rfd = real_open(self, O_RDONLY | O_CLOEXEC, 0);
    if (rfd < 0)
      die("cannot read a watched file before a write", std::strerror(errno));
    std::uint64_t want = std::min(len, size - off);
    old = read_range(rfd, off, want);
    real_close(rfd);
    if (old.size() != want)
      die("cannot read the bytes a write is about to overwrite", std::strerror(errno));
  }
  std::uint64_t seq = ++g_seq;
  append(record_kind::data, seq, g_fds[fd].ino, off, size, len, "", "", old);
  note_pending({seq, record_kind::data, g_fds[fd].ino, off, len, 0, 0});
  errno = saved;
}

void before_truncate(int fd, std::uint64_t new_size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    die("cannot stat a watched file", std::strerror(errno));
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (new_size < size)
    before_change(fd, new_size, size - new_size);
  else if (new_size > size)
    before_change(fd, size, new_size - size);
}

std::uint64_t current_offset(int fd, std::uint64_t len_hint) {
  (void)len_hint;
  if (g_fds[fd].append) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  off_t o = ::lseek(fd, 0, SEEK_CUR);
  return o < 0 ? 0 : static_cast<std::uint64_t>(o);
}

std::uint64_t iov_len(const struct iovec* iov, int n) {
  std::uint64_t t = 0;
  for (int i = 0; i < n; ++i)
    t += iov[i].iov_len;
  return t;
}

/// Wraps one write of `len` bytes at `off` through `fd` (g_mu held).
template <class F>
ssize_t journaled_write(int fd, std::uint64_t off, std::uint64_t len, bool durable_flag,
                        F&& do_write) {
  bool dsync = g_fds[fd].dsync || durable_flag;
  std::uint64_t upto = 0;
  if (dsync)
    upto = ++g_seq;
  else if (len > 0)
    before_change(fd, off, len);
  ssize_t r = do_write();
  if (dsync && r > 0)
    synced_range(g_fds[fd].ino, upto, off, static_cast<std::uint64_t>(r));
  return r;
}

// -- opening -----------------------------------------------------------------

int do_open(int dirfd, const char* path, int flags, mode_t mode, bool large) {
  ensure_init();
  auto real = [&] {
    if (dirfd == AT_FDCWD)
      return large ? real_open64(path, flags, mode) : real_open(path, flags, mode);
    return large ? real_openat64(dirfd, path, flags, mode)
                 : real_openat(dirfd, path, flags, mode);
  };
  char abs[PATH_MAX];
  if (!g_active || !resolve(dirfd, path, abs)) {
    int fd = real();
    if (fd >= 0 && fd < max_fds)
      g_fds[fd] = {};
    return fd;
  }
  lock_guard lk;
  struct stat st {};
  bool existed = ::stat(abs, &st) == 0;
  bool writable = (flags & O_ACCMODE) != O_RDONLY;
  if (existed && (flags & O_TRUNC) && writable && S_ISREG(st.st_mode) &&
      st.st_size > 0) {
    int rfd = real_open(abs, O_RDONLY | O_CLOEXEC, 0);
    if (rfd < 0)
      die("cannot read a file about to be truncated", abs);
    std::string old = read_range(rfd, 0, static_cast<std::uint64_t>(st.st_size));
    real_close(rfd);
    std::uint64_t seq = ++g_seq;
    auto size = static_cast<std::uint64_t>(st.st_size);
    append(record_kind::data, seq, st.st_ino, 0, size, size, "", "", old);
    note_pending(
        {seq, record_kind::data, static_cast<std::uint64_t>(st.st_ino), 0, size, 0, 0});
  }
  int fd = real();
  if (fd < 0)
    return fd;
  int saved = errno;
  struct stat now {};
  ::fstat(fd, &now);
  if (!existed && (flags & O_CREAT)) {
    std::uint64_t seq = ++g_seq, dir = parent_ino(abs);
    append(record_kind::create, seq, now.st_ino, 0, 0, dir, relative(abs));
    note_pending({seq, record_kind::create, static_cast<std::uint64_t>(now.st_ino), 0,
                  0, dir, 0});
  }
  if (fd < max_fds)
    g_fds[fd] = {true, S_ISDIR(now.st_mode), (flags & O_DSYNC) != 0,
                 (flags & O_APPEND) != 0, static_cast<std::uint64_t>(now.st_ino)};
  errno = saved;
  return fd;
}

mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE
             ? static_cast<mode_t>(va_arg(ap, int))
             : 0;
}

int do_rename(int olddir, const char* from, int newdir, const char* to,
              unsigned flags) {
  ensure_init();
  auto real = [&] {
    return flags != 0 ? real_renameat2(olddir, from, newdir, to, flags)
                      : real_renameat(olddir, from, newdir, to);
  };
  char a[PATH_MAX], b[PATH_MAX];
  if (!g_active || flags != 0 || !resolve(olddir, from, a) || !resolve(newdir, to, b))
    return real();
  lock_guard lk;
  struct stat target {};
  bool replaces = ::lstat(b, &target) == 0 && !S_ISDIR(target.st_mode);
  std::uint64_t seq = ++g_seq;
  std::string kept = std::string{g_stash} + "/" + std::to_string(seq);
  if (replaces && ::link(b, kept.c_str()) != 0)
    die("cannot keep the rename target in the stash (is the journal on the data root's "
        "file system?)",
        std::strerror(errno));
  std::uint64_t from_dir = parent_ino(a), to_dir = parent_ino(b);
  int rc = real();
  if (rc != 0) {
    int saved = errno;
    if (replaces)
      real_unlink(kept.c_str());
    errno = saved;
    return rc;
  }
  int saved = errno;
  struct stat moved {};
  ::lstat(b, &moved);
  append(record_kind::rename, seq, moved.st_ino, to_dir, replaces ? target.st_ino : 0,
         from_dir, relative(a), relative(b));
  note_pending({seq, record_kind::rename, static_cast<std::uint64_t>(moved.st_ino), 0,
                0, from_dir, to_dir});
  errno = saved;
  return rc;
}

int do_unlink(int dirfd, const char* path, bool dir) {
  ensure_init();
  auto real = [&] { return real_unlinkat(dirfd, path, dir ? AT_REMOVEDIR : 0); };
  char abs[PATH_MAX];
  if (!g_active || !resolve(dirfd, path, abs))
    return real();
  lock_guard lk;
  struct stat st {};
  if (::lstat(abs, &st) != 0)
    return real();
  std::uint64_t seq = ++g_seq, parent = parent_ino(abs);
  std::string kept = std::string{g_stash} + "/" + std::to_string(seq);
  bool is_dir = S_ISDIR(st.st_mode);
  if (!is_dir && ::link(abs, kept.c_str()) != 0)
    die("cannot keep the removed file in the stash (is the journal on the data root's "
        "file "
        "system?)",
        std::strerror(errno));
  int rc = real();
  if (rc != 0) {
    int saved = errno;
    if (!is_dir)
      real_unlink(kept.c_str());
    errno = saved;
    return rc;
  }
  int saved = errno;
  append(record_kind::unlink, seq, st.st_ino, 0, is_dir ? 1 : 0, parent, relative(abs));
  note_pending({seq, record_kind::unlink, static_cast<std::uint64_t>(st.st_ino), 0, 0,
                parent, 0});
  errno = saved;
  return rc;
}

int do_mkdir(int dirfd, const char* path, mode_t mode) {
  ensure_init();
  int rc = real_mkdirat(dirfd, path, mode);
  char abs[PATH_MAX];
  if (rc != 0 || !g_active || !resolve(dirfd, path, abs))
    return rc;
  lock_guard lk;
  int saved = errno;
  struct stat st {};
  ::lstat(abs, &st);
  std::uint64_t seq = ++g_seq, parent = parent_ino(abs);
  append(record_kind::create, seq, st.st_ino, 0, 1, parent, relative(abs));
  note_pending({seq, record_kind::create, static_cast<std::uint64_t>(st.st_ino), 0, 0,
                parent, 0});
  errno = saved;
  return rc;
}

int do_sync_fd(int fd, bool data_only) {
  ensure_init();
  auto real = [&] { return data_only ? real_fdatasync(fd) : real_fsync(fd); };
  if (!tracked(fd))
    return real();
  std::uint64_t upto;
  fd_info info;
  {
    lock_guard lk;
    if (!still_tracked(fd))
      return real();
    upto = ++g_seq;
    info = g_fds[fd];
  }
  int rc = real();
  if (rc == 0) {
    int saved = errno;
    lock_guard lk;
    if (info.is_dir)
      synced_dir(info.ino, upto);
    else
      synced_file(info.ino, upto);
    errno = saved;
  }
  return rc;
}

void copy_fd(int from, int to) {
  if (to < 0 || to >= max_fds)
    return;
  lock_guard lk;
  g_fds[to] = from >= 0 && from < max_fds ? g_fds[from] : fd_info{};
}

} // namespace

// -- the interposed entry points ----------------------------------------------

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, path, flags, m, false);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, path, flags, m, true);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(dirfd, path, flags, m, false);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(dirfd, path, flags, m, true);
}

int __open_2(const char* path, int flags) {
  return do_open(AT_FDCWD, path, flags, 0, false);
}

int __open64_2(const char* path, int flags) {
  return do_open(AT_FDCWD, path, flags, 0, true);
}

int __openat_2(int dirfd, const char* path, int flags) {
  return do_open(dirfd, path, flags, 0, false);
}

int __openat64_2(int dirfd, const char* path, int flags) {
  return do_open(dirfd, path, flags, 0, true);
}

int creat(const char* path, mode_t mode) {
  return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, false);
}

int creat64(const char* path, mode_t mode) {
  return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, true);
}

ssize_t write(int fd, const void* buf, size_t n) {
  ensure_init();
  if (!tracked(fd))
    return real_write(fd, buf, n);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_write(fd, buf, n);
  return journaled_write(fd, current_offset(fd, n), n, false,
                         [&] { return real_write(fd, buf, n); });
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  ensure_init();
  if (!tracked(fd))
    return real_pwrite(fd, buf, n, off);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_pwrite(fd, buf, n, off);
  return journaled_write(fd, static_cast<std::uint64_t>(off), n, false,
                         [&] { return real_pwrite(fd, buf, n, off); });
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  ensure_init();
  if (!tracked(fd))
    return real_pwrite64(fd, buf, n, off);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_pwrite64(fd, buf, n, off);
  return journaled_write(fd, static_cast<std::uint64_t>(off), n, false,
                         [&] { return real_pwrite64(fd, buf, n, off); });
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  ensure_init();
  if (!tracked(fd))
    return real_writev(fd, iov, cnt);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_writev(fd, iov, cnt);
  auto len = iov_len(iov, cnt);
  return journaled_write(fd, current_offset(fd, len), len, false,
                         [&] { return real_writev(fd, iov, cnt); });
}

ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  ensure_init();
  if (!tracked(fd))
    return real_pwritev(fd, iov, cnt, off);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_pwritev(fd, iov, cnt, off);
  return journaled_write(fd, static_cast<std::uint64_t>(off), iov_len(iov, cnt), false,
                         [&] { return real_pwritev(fd, iov, cnt, off); });
}

ssize_t pwritev64(int fd, const struct iovec* iov, int cnt, off64_t off) {
  ensure_init();
  if (!tracked(fd))
    return real_pwritev64(fd, iov, cnt, off);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_pwritev64(fd, iov, cnt, off);
  return journaled_write(fd, static_cast<std::uint64_t>(off), iov_len(iov, cnt), false,
                         [&] { return real_pwritev64(fd, iov, cnt, off); });
}

ssize_t pwritev2(int fd, const struct iovec* iov, int cnt, off_t off, int flags) {
  ensure_init();
  if (!tracked(fd))
    return real_pwritev2(fd, iov, cnt, off, flags);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_pwritev2(fd, iov, cnt, off, flags);
  auto len = iov_len(iov, cnt);
  std::uint64_t at =
      off == -1 ? current_offset(fd, len) : static_cast<std::uint64_t>(off);
  return journaled_write(fd, at, len, (flags & (RWF_DSYNC | RWF_SYNC)) != 0,
                         [&] { return real_pwritev2(fd, iov, cnt, off, flags); });
}

int ftruncate(int fd, off_t len) {
  ensure_init();
  if (!tracked(fd) || len < 0)
    return real_ftruncate(fd, len);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_ftruncate(fd, len);
  before_truncate(fd, static_cast<std::uint64_t>(len));
  return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off64_t len) {
  ensure_init();
  if (!tracked(fd) || len < 0)
    return real_ftruncate64(fd, len);
  lock_guard lk;
  if (!still_tracked(fd))
    return real_ftruncate64(fd, len);
  before_truncate(fd, static_cast<std::uint64_t>(len));
  return real_ftruncate64(fd, len);
}

int truncate(const char* path, off_t len) {
  ensure_init();
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = ::ftruncate(fd, len);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return rc;
}

int truncate64(const char* path, off64_t len) {
  return truncate(path, static_cast<off_t>(len));
}

int fsync(int fd) {
  return do_sync_fd(fd, false);
}

int fdatasync(int fd) {
  return do_sync_fd(fd, true);
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  ensure_init();
  void* p = real_mmap(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED && tracked(fd) && (flags & MAP_SHARED) && (prot & PROT_WRITE)) {
    lock_guard lk;
    for (auto& m : g_maps)
      if (m.start == nullptr) {
        m = {static_cast<char*>(p), len, g_fds[fd].ino};
        break;
      }
  }
  return p;
}

void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off64_t off) {
  return mmap(addr, len, prot, flags, fd, static_cast<off_t>(off));
}

int munmap(void* addr, size_t len) {
  ensure_init();
  {
    lock_guard lk;
    for (auto& m : g_maps)
      if (m.start == addr)
        m = {};
  }
  return real_munmap(addr, len);
}

int msync(void* addr, size_t len, int flags) {
  ensure_init();
  std::uint64_t ino = 0, upto = 0;
  if (g_active && (flags & MS_SYNC)) {
    lock_guard lk;
    auto* c = static_cast<char*>(addr);
    for (auto& m : g_maps)
      if (m.start != nullptr && c >= m.start && c < m.start + m.len)
        ino = m.ino;
    if (ino != 0)
      upto = ++g_seq;
  }
  int rc = real_msync(addr, len, flags);
  if (rc == 0 && ino != 0) {
    int saved = errno;
    lock_guard lk;
    synced_file(ino, upto);
    errno = saved;
  }
  return rc;
}

void sync() {
  ensure_init();
  std::uint64_t upto = 0;
  if (g_active) {
    lock_guard lk;
    upto = ++g_seq;
  }
  real_sync();
  if (g_active) {
    lock_guard lk;
    synced_all(upto);
  }
}

int syncfs(int fd) {
  ensure_init();
  std::uint64_t upto = 0;
  if (g_active) {
    lock_guard lk;
    upto = ++g_seq;
  }
  int rc = real_syncfs(fd);
  if (rc == 0 && g_active) {
    int saved = errno;
    lock_guard lk;
    synced_all(upto);
    errno = saved;
  }
  return rc;
}

int rename(const char* from, const char* to) {
  return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0);
}

int renameat(int olddir, const char* from, int newdir, const char* to) {
  return do_rename(olddir, from, newdir, to, 0);
}

int renameat2(int olddir, const char* from, int newdir, const char* to,
              unsigned flags) {
  return do_rename(olddir, from, newdir, to, flags);
}

int unlink(const char* path) {
  return do_unlink(AT_FDCWD, path, false);
}

int unlinkat(int dirfd, const char* path, int flags) {
  return do_unlink(dirfd, path, (flags & AT_REMOVEDIR) != 0);
}

int rmdir(const char* path) {
  return do_unlink(AT_FDCWD, path, true);
}

int remove(const char* path) {
  ensure_init();
  struct stat st {};
  bool dir = ::lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
  return do_unlink(AT_FDCWD, path, dir);
}

int mkdir(const char* path, mode_t mode) {
  return do_mkdir(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char* path, mode_t mode) {
  return do_mkdir(dirfd, path, mode);
}

int dup(int fd) {
  ensure_init();
  int r = real_dup(fd);
  if (r >= 0)
    copy_fd(fd, r);
  return r;
}

int dup2(int fd, int to) {
  ensure_init();
  int r = real_dup2(fd, to);
  if (r >= 0)
    copy_fd(fd, r);
  return r;
}

int dup3(int fd, int to, int flags) {
  ensure_init();
  int r = real_dup3(fd, to, flags);
  if (r >= 0)
    copy_fd(fd, r);
  return r;
}

int closedir(DIR* d) {
  ensure_init();
  int fd = ::dirfd(d);
  if (!tracked(fd))
    return real_closedir(d);
  lock_guard lk;
  g_fds[fd] = {};
  return real_closedir(d);
}

int fclose(FILE* f) {
  ensure_init();
  int fd = ::fileno(f);
  if (!tracked(fd))
    return real_fclose(f);
  lock_guard lk;
  g_fds[fd] = {};
  return real_fclose(f);
}

int close(int fd) {
  ensure_init();
  if (!tracked(fd))
    return real_close(fd);
  // Under the lock, so that a watched open cannot get this number between
  // the close and the forgetting.
  lock_guard lk;
  g_fds[fd] = {};
  return real_close(fd);
}

} // extern "C"
