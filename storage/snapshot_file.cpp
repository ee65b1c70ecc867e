#include "storage/snapshot_file.hpp"

#include "storage/crc32c.hpp"
#include "storage/endian.hpp"
#include "storage/identity.hpp"
#include "storage/mutant.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace conflux::storage {
namespace {

constexpr char magic[8] = {'C', 'F', 'X', 'S', 'N', 'A', 'P', '\n'};
constexpr std::size_t fixed_header_size = 8 + 4 + 8 + 8 + 4;
constexpr std::uint32_t max_membership_bytes = 1u << 20;
constexpr std::uint32_t max_key_bytes = 511;
constexpr std::uint32_t max_value_bytes = 256u << 20;
constexpr std::size_t io_buffer = 1u << 20;

// Record tags (FORMAT.md): 0 ends the records.
// Tags 6 to 10 exist from snapshot format version 2 on.
enum : std::uint8_t {
  tag_end = 0,
  tag_configs = 1,
  tag_keys,
  tag_versions,
  tag_sessions,
  tag_meta,
  tag_principals,
  tag_tokens,
  tag_roles,
  tag_tenants,
  tag_audit,
  tag_last_v1 = tag_meta,
  tag_last = tag_audit
};

std::string errno_text() {
  return std::strerror(errno);
}

error io_error(const std::string& what, const std::string& path) {
  return error{errc::storage_failure, what + " " + path + ": " + errno_text()};
}

bool is_identity_key(std::string_view k) {
  return k == meta_key::format_version || k == meta_key::store_kind ||
         k == meta_key::cluster_id || k == meta_key::node_id;
}

class file_writer {
public:
  explicit file_writer(std::string path) : path_(std::move(path)) {}
  ~file_writer() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  status open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0)
      return io_error("cannot create snapshot file", path_);
    buf_.reserve(io_buffer);
    return {};
  }
  status put(const void* p, std::size_t n) {
    crc_ = crc32c_extend(crc_, p, n);
    return put_raw(p, n);
  }
  status put_u32(std::uint32_t v) {
    char b[4];
    put_u32_le(b, v);
    return put(b, 4);
  }
  status put_u64(std::uint64_t v) {
    char b[8];
    put_u64_le(b, v);
    return put(b, 8);
  }
  std::uint32_t crc() const { return crc_; }
  std::uint64_t size() const { return written_ + buf_.size(); }
  /// Appends the bytes without adding them to the checksum (the checksum itself).
  status put_raw(const void* p, std::size_t n) {
    auto c = static_cast<const char*>(p);
    buf_.append(c, n);
    if (buf_.size() >= io_buffer)
      return flush();
    return {};
  }
  status flush() {
    std::size_t off = 0;
    while (off < buf_.size()) {
      auto w = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return io_error("cannot write snapshot file", path_);
      }
      off += static_cast<std::size_t>(w);
    }
    written_ += buf_.size();
    buf_.clear();
    return {};
  }
  status sync_and_close() {
    if (auto s = flush(); !s.ok())
      return s;
    if (::fsync(fd_) != 0)
      return io_error("cannot fsync snapshot file", path_);
    auto fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0)
      return io_error("cannot close snapshot file", path_);
    return {};
  }

private:
  std::string path_;
  int fd_ = -1;
  std::string buf_;
  std::uint32_t crc_ = 0;
  std::uint64_t written_ = 0;
};

class file_reader {
public:
  explicit file_reader(std::string path) : path_(std::move(path)) {}
  ~file_reader() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  status open() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return io_error("cannot open snapshot file", path_);
    buf_.resize(io_buffer);
    return {};
  }
  /// Reads exactly n bytes into out (checksummed unless raw); corrupted when
  /// the file ends first.
  status get(char* out, std::size_t n, const char* what, bool raw = false) {
    auto start = out;
    auto want = n;
    while (n > 0) {
      if (pos_ == end_) {
        if (auto s = fill(); !s.ok())
          return s;
        if (pos_ == end_)
          return corrupt(std::string{"truncated: the file ends inside "} + what);
      }
      auto k = std::min(n, end_ - pos_);
      std::memcpy(out, buf_.data() + pos_, k);
      pos_ += k;
      out += k;
      n -= k;
      offset_ += k;
    }
    if (!raw)
      crc_ = crc32c_extend(crc_, start, want);
    return {};
  }
  expected<std::uint32_t> get_u32(const char* what) {
    char b[4];
    if (auto s = get(b, 4, what); !s.ok())
      return s.err();
    return get_u32_le(b);
  }
  expected<std::uint64_t> get_u64(const char* what) {
    char b[8];
    if (auto s = get(b, 8, what); !s.ok())
      return s.err();
    return get_u64_le(b);
  }
  /// True when no byte is left.
  expected<bool> at_eof() {
    if (pos_ < end_)
      return false;
    if (auto s = fill(); !s.ok())
      return s.err();
    return pos_ == end_;
  }
  std::uint32_t crc() const { return crc_; }
  std::uint64_t offset() const { return offset_; }
  error corrupt(const std::string& why) const {
    return error{errc::corrupted, "snapshot file " + path_ + " is damaged at byte " +
                                      std::to_string(offset_) + ": " + why +
                                      " (delete it only if another node can resend "
                                      "a snapshot; otherwise restore the data dir)"};
  }

private:
  status fill() {
    for (;;) {
      auto r = ::read(fd_, buf_.data(), buf_.size());
      if (r < 0) {
        if (errno == EINTR)
          continue;
        return io_error("cannot read snapshot file", path_);
      }
      pos_ = 0;
      end_ = static_cast<std::size_t>(r);
      return {};
    }
  }

  std::string path_;
  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t offset_ = 0;
  std::uint32_t crc_ = 0;
};

status write_db(file_writer& w, const lmdb::txn& t, lmdb::dbi db, std::uint8_t tag,
                std::uint64_t& count) {
  auto c = t.open_cursor(db);
  if (!c)
    return std::move(c).err();
  auto kv = c->get(MDB_FIRST);
  while (kv && kv->has_value()) {
    auto& [key, value] = **kv;
    if (tag != tag_meta || !is_identity_key(key)) {
      if (auto s = w.put(&tag, 1); !s.ok())
        return s;
      if (auto s = w.put_u32(static_cast<std::uint32_t>(key.size())); !s.ok())
        return s;
      if (auto s = w.put_u32(static_cast<std::uint32_t>(value.size())); !s.ok())
        return s;
      if (auto s = w.put(key.data(), key.size()); !s.ok())
        return s;
      if (auto s = w.put(value.data(), value.size()); !s.ok())
        return s;
      ++count;
    }
    kv = c->get(MDB_NEXT);
  }
  if (!kv)
    return std::move(kv).err();
  return {};
}

// Reads the header and calls `on_record(tag, key, value)` for every record,
// then checks the end marker, count, checksum and end of file.
template <class OnRecord>
expected<snapshot_info> read_file(const std::string& path, OnRecord on_record) {
  file_reader r{path};
  if (auto s = r.open(); !s.ok())
    return s.err();
  snapshot_info info;
  char m[8];
  if (auto s = r.get(m, 8, "the magic number"); !s.ok())
    return s.err();
  if (std::memcmp(m, magic, 8) != 0)
    return r.corrupt("not a Conflux snapshot (bad magic number)");
  auto version = r.get_u32("the header");
  if (!version)
    return version.err();
  if (*version == 0)
    return r.corrupt("format version 0");
  if (*version > snapshot_format_version)
    return error{errc::unsupported_version,
                 "snapshot file " + path + " has format version " +
                     std::to_string(*version) + "; this build reads versions 1 to " +
                     std::to_string(snapshot_format_version) + " (upgrade this node)"};
  auto index = r.get_u64("the header");
  if (!index)
    return index.err();
  auto term = r.get_u64("the header");
  if (!term)
    return term.err();
  auto mlen = r.get_u32("the header");
  if (!mlen)
    return mlen.err();
  if (*mlen > max_membership_bytes)
    return r.corrupt("membership length " + std::to_string(*mlen) + " is impossible");
  info.header.index = *index;
  info.header.term = *term;
  info.header.membership.resize(*mlen);
  if (auto s = r.get(info.header.membership.data(), *mlen, "the membership"); !s.ok())
    return s.err();
  std::string key, value;
  for (;;) {
    char tag;
    if (auto s = r.get(&tag, 1, "a record tag"); !s.ok())
      return s.err();
    auto t = static_cast<std::uint8_t>(tag);
    if (t == tag_end)
      break;
    if (t > (*version >= 2 ? tag_last : tag_last_v1))
      return r.corrupt("unknown record tag " + std::to_string(t));
    auto klen = r.get_u32("a record header");
    if (!klen)
      return klen.err();
    auto vlen = r.get_u32("a record header");
    if (!vlen)
      return vlen.err();
    if (*klen == 0 || *klen > max_key_bytes)
      return r.corrupt("key length " + std::to_string(*klen) + " is impossible");
    if (*vlen > max_value_bytes)
      return r.corrupt("value length " + std::to_string(*vlen) + " is impossible");
    key.resize(*klen);
    value.resize(*vlen);
    if (auto s = r.get(key.data(), *klen, "a record key"); !s.ok())
      return s.err();
    if (auto s = r.get(value.data(), *vlen, "a record value"); !s.ok())
      return s.err();
    ++info.records;
    if (auto s = on_record(t, key, value); !s.ok())
      return s.err();
  }
  auto count = r.get_u64("the record count");
  if (!count)
    return count.err();
  auto expect_crc = r.crc();
  char cb[4];
  if (auto s = r.get(cb, 4, "the checksum", true); !s.ok())
    return s.err();
  if (get_u32_le(cb) != expect_crc)
    return r.corrupt("checksum mismatch");
  if (*count != info.records)
    return r.corrupt("the trailer counts " + std::to_string(*count) +
                     " records but the file holds " + std::to_string(info.records));
  auto eof = r.at_eof();
  if (!eof)
    return eof.err();
  if (!*eof)
    return r.corrupt("bytes follow the checksum");
  info.bytes = r.offset();
  return info;
}

} // namespace

expected<snapshot_info> write_snapshot_file(const std::string& path,
                                            const snapshot_header& h,
                                            const state_read_txn& view) {
  if (h.membership.size() > max_membership_bytes)
    return error{errc::invalid_argument, "snapshot membership is too large"};
  file_writer w{path};
  if (auto s = w.open(); !s.ok())
    return s.err();
  char fixed[fixed_header_size];
  std::memcpy(fixed, magic, 8);
  put_u32_le(fixed + 8, snapshot_format_version);
  put_u64_le(fixed + 12, h.index);
  put_u64_le(fixed + 20, h.term);
  put_u32_le(fixed + 28, static_cast<std::uint32_t>(h.membership.size()));
  if (auto s = w.put(fixed, sizeof fixed); !s.ok())
    return s.err();
  if (auto s = w.put(h.membership.data(), h.membership.size()); !s.ok())
    return s.err();
  snapshot_info info;
  info.header = h;
  const auto& t = view.raw_txn();
  const auto& d = view.dbis();
  const std::pair<lmdb::dbi, std::uint8_t> dbs[] = {
      {d.configs, tag_configs},   {d.keys, tag_keys},   {d.versions, tag_versions},
      {d.sessions, tag_sessions}, {d.meta, tag_meta},   {d.principals, tag_principals},
      {d.tokens, tag_tokens},     {d.roles, tag_roles}, {d.tenants, tag_tenants},
      {d.audit, tag_audit}};
  for (auto& [db, tag] : dbs)
    if (auto s = write_db(w, t, db, tag, info.records); !s.ok())
      return s.err();
  std::uint8_t end = tag_end;
  if (auto s = w.put(&end, 1); !s.ok())
    return s.err();
  if (auto s = w.put_u64(info.records); !s.ok())
    return s.err();
  char cb[4];
  put_u32_le(cb, w.crc());
  if (auto s = w.put_raw(cb, 4); !s.ok())
    return s.err();
  info.bytes = w.size();
  if (auto s = w.sync_and_close(); !s.ok())
    return s.err();
  return info;
}

expected<snapshot_info> verify_snapshot_file(const std::string& path) {
  return read_file(path, [](std::uint8_t, const std::string&, const std::string&) {
    return status{};
  });
}

expected<snapshot_info>
install_snapshot_file(const std::string& path, state_store& store,
                      const std::function<void(std::uint64_t)>& on_record) {
  auto t = store.begin_raw_write();
  if (!t)
    return std::move(t).err();
  const auto& d = store.dbis();
  for (auto db : {d.configs, d.keys, d.versions, d.sessions, d.principals, d.tokens,
                  d.roles, d.tenants, d.audit})
    if (auto s = t->clear(db); !s.ok())
      return s.err();
  // Every meta record but the identity goes; the snapshot brings its own.
  std::vector<std::string> old_meta;
  {
    // The cursor closes before the deletes below.
    auto c = t->open_cursor(d.meta);
    if (!c)
      return std::move(c).err();
    auto kv = c->get(MDB_FIRST);
    while (kv && kv->has_value()) {
      if (!is_identity_key((*kv)->key))
        old_meta.emplace_back((*kv)->key);
      kv = c->get(MDB_NEXT);
    }
    if (!kv)
      return std::move(kv).err();
  }
  for (auto& k : old_meta)
    if (auto r = t->del(d.meta, k); !r)
      return std::move(r).err();
  std::uint64_t put = 0;
  auto info =
      read_file(path,
                [&](std::uint8_t tag, const std::string& key,
                    const std::string& value) -> status {
                  if (on_record)
                    on_record(++put);
                  switch (tag) {
                  case tag_configs:
                    return t->put(d.configs, key, value, MDB_APPEND);
                  case tag_keys:
                    return t->put(d.keys, key, value, MDB_APPEND);
                  case tag_versions:
                    return t->put(d.versions, key, value, MDB_APPEND);
                  case tag_sessions:
                    return t->put(d.sessions, key, value, MDB_APPEND);
                  case tag_principals:
                    return t->put(d.principals, key, value, MDB_APPEND);
                  case tag_tokens:
                    return t->put(d.tokens, key, value, MDB_APPEND);
                  case tag_roles:
                    return t->put(d.roles, key, value, MDB_APPEND);
                  case tag_tenants:
                    return t->put(d.tenants, key, value, MDB_APPEND);
                  case tag_audit:
                    return t->put(d.audit, key, value, MDB_APPEND);
                  default:
                    if (is_identity_key(key))
                      return status{errc::corrupted, "snapshot file " + path +
                                                         " carries an identity record"};
                    return t->put(d.meta, key, value);
                  }
                });
  if (!info)
    return info.err(); // the txn aborts: the old state stays
  if (auto s = write_last_applied(*t, d, info->header.index); !s.ok())
    return s.err();
  if (auto s = t->commit(); !s.ok())
    return s.err();
  return info;
}

// -- the snapshot directory ---------------------------------------------------------

std::string snapshot_file_name(raft::index_t index, raft::term_t term) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "snap-%020llu-%020llu.snap",
                static_cast<unsigned long long>(index),
                static_cast<unsigned long long>(term));
  return buf;
}

expected<std::vector<snapshot_file_ref>> list_snapshot_files(const std::string& dir) {
  std::vector<snapshot_file_ref> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec))
    return out;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    unsigned long long i = 0, t = 0;
    char tail[8] = {};
    if (name.size() == 51 &&
        std::sscanf(name.c_str(), "snap-%20llu-%20llu.%4s", &i, &t, tail) == 3 &&
        std::string_view{tail} == "snap" && snapshot_file_name(i, t) == name)
      out.push_back({i, t, it->path().string()});
  }
  if (ec)
    return error{errc::storage_failure, "cannot list " + dir + ": " + ec.message()};
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.index < b.index; });
  return out;
}

status remove_snapshot_files_before(const std::string& dir, raft::index_t index,
                                    bool temporaries) {
  auto files = list_snapshot_files(dir);
  if (!files)
    return std::move(files).err();
  std::error_code ec;
  for (auto& f : *files)
    if (f.index < index)
      std::filesystem::remove(f.path, ec);
  if (temporaries && std::filesystem::exists(dir, ec)) {
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      if (it->path().extension() == ".tmp")
        std::filesystem::remove(it->path(), ec);
  }
  if (mutant_active("snapshot-dir-nosync"))
    return {};
  return sync_dir(dir);
}

} // namespace conflux::storage
