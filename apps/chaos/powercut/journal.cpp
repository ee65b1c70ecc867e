#include "apps/chaos/powercut/journal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace conflux::powercut {

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t page_size = 4096;

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

/// ino -> one current path under the root (or in the stash).
class inode_paths {
public:
  void scan(const std::string& dir) {
    std::error_code ec;
    add(dir);
    for (fs::recursive_directory_iterator it{dir, ec}, end; !ec && it != end;
         it.increment(ec))
      add(it->path().string());
  }
  void add(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0)
      by_ino_[st.st_ino] = path;
  }
  void forget(std::uint64_t ino) { by_ino_.erase(ino); }
  const std::string* find(std::uint64_t ino) const {
    auto it = by_ino_.find(ino);
    return it == by_ino_.end() ? nullptr : &it->second;
  }

private:
  std::unordered_map<std::uint64_t, std::string> by_ino_;
};

bool pwrite_all(int fd, const char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
  return true;
}

/// Torn mode: whether page `page` of inode `ino` keeps its newest bytes.
bool keeps_page(std::uint64_t seed, std::uint64_t ino, std::uint64_t page) {
  // splitmix64 of the three: deterministic per seed, independent per page.
  std::uint64_t z =
      seed ^ (ino * 0x9e3779b97f4a7c15ULL) ^ (page * 0xbf58476d1ce4e5b9ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (z & 1) != 0;
}

} // namespace

std::string read_range(int fd, std::uint64_t off, std::uint64_t len) {
  std::string out(len, '\0');
  std::size_t got = 0;
  while (got < len) {
    ssize_t r = ::pread(fd, out.data() + got, len - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

std::string stash_dir(const std::string& journal) {
  return journal + ".stash";
}

bool read_journal(const std::string& journal, std::vector<record>& out,
                  std::string& error) {
  int fd = ::open(journal.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return true; // nothing was ever written
    error = errno_text("cannot open journal", journal);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = errno_text("cannot stat journal", journal);
    ::close(fd);
    return false;
  }
  std::string all = read_range(fd, 0, static_cast<std::uint64_t>(st.st_size));
  ::close(fd);
  std::size_t pos = 0;
  std::uint64_t last_seq = 0;
  while (all.size() - pos >= sizeof(record_header)) {
    record_header h;
    std::memcpy(&h, all.data() + pos, sizeof h);
    if (h.magic != record_magic || h.kind < 1 || h.kind > 8 || h.seq <= last_seq) {
      error = "journal " + journal + " is damaged at byte " + std::to_string(pos) +
              " (bad magic, kind or sequence): it cannot be rolled back";
      return false;
    }
    std::uint64_t body = std::uint64_t{h.name_len} + h.name2_len + h.payload_len;
    if (body > all.size() - pos - sizeof h)
      break; // torn last record: the change it describes never started
    record r;
    r.kind = static_cast<record_kind>(h.kind);
    r.seq = h.seq;
    r.ino = h.ino;
    r.a = h.a;
    r.b = h.b;
    r.parent = h.parent;
    const char* p = all.data() + pos + sizeof h;
    r.name.assign(p, h.name_len);
    r.name2.assign(p + h.name_len, h.name2_len);
    r.payload.assign(p + h.name_len + h.name2_len, h.payload_len);
    out.push_back(std::move(r));
    last_seq = h.seq;
    pos += sizeof h + body;
  }
  return true;
}

std::vector<bool> durable_records(const std::vector<record>& recs) {
  std::vector<bool> durable(recs.size(), false);
  // Walk newest first, remembering the syncs seen so far (which come later).
  std::unordered_map<std::uint64_t, std::uint64_t> file_sync, dir_sync;
  std::unordered_map<std::uint64_t, std::vector<const record*>> range_syncs;
  std::uint64_t all_sync = 0;
  auto dir_synced = [&](std::uint64_t dir, std::uint64_t seq) {
    auto it = dir_sync.find(dir);
    return it != dir_sync.end() && it->second > seq;
  };
  for (std::size_t i = recs.size(); i-- > 0;) {
    const record& r = recs[i];
    bool d = false;
    switch (r.kind) {
    case record_kind::sync: {
      auto& v = file_sync[r.ino];
      v = std::max(v, r.a);
      d = true;
      break;
    }
    case record_kind::dir_sync: {
      auto& v = dir_sync[r.ino];
      v = std::max(v, r.a);
      d = true;
      break;
    }
    case record_kind::sync_all:
      all_sync = std::max(all_sync, r.a);
      d = true;
      break;
    case record_kind::sync_range:
      range_syncs[r.ino].push_back(&r);
      d = true;
      break;
    case record_kind::data: {
      if (all_sync > r.seq) {
        d = true;
        break;
      }
      if (auto it = file_sync.find(r.ino);
          it != file_sync.end() && it->second > r.seq) {
        d = true;
        break;
      }
      if (auto it = range_syncs.find(r.ino); it != range_syncs.end()) {
        std::uint64_t lo = r.a, hi = r.a + std::max<std::uint64_t>(r.parent, 1);
        for (const record* s : it->second)
          if (s->a > r.seq && s->parent < hi && lo < s->parent + s->b) {
            d = true;
            break;
          }
      }
      break;
    }
    case record_kind::create:
    case record_kind::unlink:
      d = all_sync > r.seq || dir_synced(r.parent, r.seq);
      break;
    case record_kind::rename:
      d = all_sync > r.seq || (dir_synced(r.parent, r.seq) && dir_synced(r.a, r.seq));
      break;
    }
    durable[i] = d;
  }
  return durable;
}

rollback_report rollback(const rollback_options& opts) {
  rollback_report rep;
  std::vector<record> recs;
  if (!read_journal(opts.journal, recs, rep.error))
    return rep;
  rep.records = recs.size();
  const std::string stash = stash_dir(opts.journal);
  auto durable = durable_records(recs);

  inode_paths paths;
  paths.scan(stash);
  paths.scan(opts.root); // root paths win over stash paths for the same inode

  // Torn: remember the newest bytes of the pages that survive.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> kept;
  if (opts.mode == cut_mode::torn) {
    std::map<std::pair<std::uint64_t, std::uint64_t>, bool> seen;
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const record& r = recs[i];
      if (r.kind != record_kind::data || durable[i] || r.parent == 0)
        continue;
      for (std::uint64_t pg = r.a / page_size; pg <= (r.a + r.parent - 1) / page_size;
           ++pg) {
        auto key = std::make_pair(r.ino, pg);
        if (!seen.emplace(key, true).second)
          continue;
        if (!keeps_page(opts.seed, r.ino, pg)) {
          ++rep.lost_pages;
          continue;
        }
        ++rep.kept_pages;
        const std::string* path = paths.find(r.ino);
        if (path == nullptr)
          continue;
        int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
          continue;
        kept[key] = read_range(fd, pg * page_size, page_size);
        ::close(fd);
      }
    }
  }

  for (std::size_t i = recs.size(); i-- > 0;) {
    const record& r = recs[i];
    if (durable[i]) {
      if (r.kind == record_kind::data || r.kind == record_kind::create ||
          r.kind == record_kind::rename || r.kind == record_kind::unlink)
        ++rep.durable;
      continue;
    }
    switch (r.kind) {
    case record_kind::data: {
      const std::string* path = paths.find(r.ino);
      if (path == nullptr) {
        rep.warnings.push_back("data record " + std::to_string(r.seq) + ": inode " +
                               std::to_string(r.ino) + " no longer exists");
        break;
      }
      int fd = ::open(path->c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        rep.error = errno_text("cannot open", *path);
        return rep;
      }
      bool ok = ::ftruncate(fd, static_cast<off_t>(r.b)) == 0 &&
                pwrite_all(fd, r.payload.data(), r.payload.size(), r.a);
      ::close(fd);
      if (!ok) {
        rep.error = errno_text("cannot restore", *path);
        return rep;
      }
      ++rep.undone_data;
      rep.bytes_restored += r.payload.size();
      break;
    }
    case record_kind::create: {
      const std::string* path = paths.find(r.ino);
      if (path != nullptr) {
        std::string p = *path;
        int rc = r.b == 1 ? ::rmdir(p.c_str()) : ::unlink(p.c_str());
        if (rc != 0)
          rep.warnings.push_back(errno_text("cannot undo the creation of", p));
        else
          paths.forget(r.ino);
      }
      ++rep.undone_meta;
      break;
    }
    case record_kind::rename: {
      std::string src = opts.root + "/" + r.name, dst = opts.root + "/" + r.name2;
      const std::string* cur = paths.find(r.ino);
      if (cur == nullptr || ::rename(cur->c_str(), src.c_str()) != 0) {
        rep.warnings.push_back("cannot undo the rename of " + src + " to " + dst);
        break;
      }
      paths.add(src);
      if (r.b != 0) {
        std::string kept_target = stash + "/" + std::to_string(r.seq);
        if (::link(kept_target.c_str(), dst.c_str()) != 0)
          rep.warnings.push_back(errno_text("cannot bring back the replaced", dst));
        else
          paths.add(dst);
      }
      ++rep.undone_meta;
      break;
    }
    case record_kind::unlink: {
      std::string p = opts.root + "/" + r.name;
      if (r.b == 1) {
        if (::mkdir(p.c_str(), 0700) != 0)
          rep.warnings.push_back(errno_text("cannot bring back the directory", p));
      } else {
        std::string kept_file = stash + "/" + std::to_string(r.seq);
        if (::link(kept_file.c_str(), p.c_str()) != 0)
          rep.warnings.push_back(errno_text("cannot bring back", p));
      }
      paths.add(p);
      ++rep.undone_meta;
      break;
    }
    default:
      break;
    }
  }

  for (const auto& [key, bytes] : kept) {
    const std::string* path = paths.find(key.first);
    if (path == nullptr || bytes.empty())
      continue;
    int fd = ::open(path->c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    bool ok = pwrite_all(fd, bytes.data(), bytes.size(), key.second * page_size);
    ::close(fd);
    if (!ok) {
      rep.error = errno_text("cannot write a kept page back to", *path);
      return rep;
    }
  }

  std::error_code ec;
  fs::remove_all(stash, ec);
  if (::truncate(opts.journal.c_str(), 0) != 0 && errno != ENOENT) {
    rep.error = errno_text("cannot empty journal", opts.journal);
    return rep;
  }
  rep.ok = true;
  return rep;
}

bool discard(const std::string& journal, std::string& error) {
  std::error_code ec;
  fs::remove_all(stash_dir(journal), ec);
  if (::truncate(journal.c_str(), 0) != 0 && errno != ENOENT) {
    error = errno_text("cannot empty journal", journal);
    return false;
  }
  return true;
}

} // namespace conflux::powercut
