#include "actors/denied_log.hpp"

#include "protocol/sha256.hpp"
#include "storage/durable_fs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace conflux::actors {
namespace {

const std::string zero_hash(64, '0');
// ,"hash":"<64 hex>"}  closes every line.
constexpr std::size_t hash_suffix_size = 9 + 64 + 2;

error io_error(const std::string& what, const std::string& path) {
  return error{errc::storage_failure,
               what + " " + path + ": " + std::strerror(errno) +
                   "; check the data dir's permissions and free space"};
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out + "\"";
}

std::string read_all(const std::string& path, bool& exists) {
  std::ifstream f{path, std::ios::binary};
  exists = static_cast<bool>(f);
  std::ostringstream out;
  if (f)
    out << f.rdbuf();
  return out.str();
}

struct parsed_line {
  std::uint64_t seq = 0;
  std::string prev;
  std::string hash;
  // The hashed part: the line without its hash suffix, closed by '}'.
  std::string body;
};

// Reads the fixed frame of a line; false when it does not have it.
bool parse_line(std::string_view line, parsed_line& out) {
  constexpr std::string_view head = "{\"seq\":";
  constexpr std::string_view prev_key = ",\"prev\":\"";
  if (line.size() < head.size() + hash_suffix_size + prev_key.size() + 65 ||
      line.substr(0, head.size()) != head)
    return false;
  auto suffix = line.substr(line.size() - hash_suffix_size);
  if (suffix.substr(0, 9) != ",\"hash\":\"" || suffix.substr(73) != "\"}")
    return false;
  out.hash = std::string{suffix.substr(9, 64)};
  out.body = std::string{line.substr(0, line.size() - hash_suffix_size)} + "}";
  auto p = out.body.size() - 1 - 65 - prev_key.size();
  if (out.body.compare(p, prev_key.size(), prev_key) != 0 ||
      out.body[out.body.size() - 2] != '"')
    return false;
  out.prev = out.body.substr(p + prev_key.size(), 64);
  auto digits = line.substr(head.size());
  std::uint64_t seq = 0;
  std::size_t i = 0;
  for (; i < digits.size() && digits[i] >= '0' && digits[i] <= '9'; ++i)
    seq = seq * 10 + static_cast<std::uint64_t>(digits[i] - '0');
  if (i == 0 || i >= digits.size() || digits[i] != ',')
    return false;
  out.seq = seq;
  return true;
}

// The last complete line of `text` ("" when none); `complete` is the length
// up to and including its newline.
std::string_view last_line(std::string_view text, std::size_t& complete) {
  auto end = text.rfind('\n');
  if (end == std::string_view::npos) {
    complete = 0;
    return {};
  }
  complete = end + 1;
  auto start = text.rfind('\n', end == 0 ? 0 : end - 1);
  start = (start == std::string_view::npos || end == 0) ? 0 : start + 1;
  return text.substr(start, end - start);
}

} // namespace

expected<std::shared_ptr<denied_log>>
denied_log::open(std::string path, std::uint64_t max_bytes, std::uint64_t rate,
                 std::shared_ptr<const node_clock> clock) {
  if (max_bytes < min_max_bytes)
    return error{errc::invalid_argument,
                 "--denied-log-max-bytes " + std::to_string(max_bytes) +
                     " is below the smallest cap of " + std::to_string(min_max_bytes) +
                     " bytes; give a larger size"};
  if (rate == 0)
    return error{errc::invalid_argument,
                 "--denied-log-rate 0 would record no denied request; give a number "
                 "of lines per second of at least 1 (default " +
                     std::to_string(default_rate) + ")"};
  std::shared_ptr<denied_log> log{new denied_log};
  log->path_ = std::move(path);
  log->max_bytes_ = max_bytes;
  log->rate_ = rate;
  log->clock_ = std::move(clock);
  log->last_hash_ = zero_hash;
  bool exists = false;
  auto text = read_all(log->path_, exists);
  std::size_t complete = 0;
  auto line = last_line(text, complete);
  if (line.empty()) {
    // Nothing here yet (or a fresh file after a rotation): go on from the
    // rotated file's last line.
    bool old_exists = false;
    auto old = read_all(log->path_ + ".1", old_exists);
    std::size_t old_complete = 0;
    auto old_line = last_line(old, old_complete);
    parsed_line p;
    if (!old_line.empty()) {
      if (!parse_line(old_line, p))
        return error{errc::corrupted, "the last line of " + log->path_ +
                                          ".1 is not a denied-request record; move "
                                          "the file away to start a new chain"};
      log->seq_ = p.seq;
      log->last_hash_ = p.hash;
    }
  } else {
    parsed_line p;
    if (!parse_line(line, p))
      return error{errc::corrupted, "the last line of " + log->path_ +
                                        " is not a denied-request record; move the "
                                        "file away to start a new chain"};
    log->seq_ = p.seq;
    log->last_hash_ = p.hash;
  }
  log->fd_ = ::open(log->path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (log->fd_ < 0)
    return io_error("cannot open the denied-request log", log->path_);
  // Its name survives a power cut before the first line is written.
  if (auto s =
          storage::sync_dir(std::filesystem::path{log->path_}.parent_path().string());
      !s.ok())
    return std::move(s).err();
  // A line cut short by a crash is dropped: it was never acknowledged.
  if (::ftruncate(log->fd_, static_cast<off_t>(complete)) != 0)
    return io_error("cannot truncate the denied-request log", log->path_);
  if (::lseek(log->fd_, 0, SEEK_END) < 0)
    return io_error("cannot seek in the denied-request log", log->path_);
  log->size_ = complete;
  return log;
}

denied_log::~denied_log() {
  if (fd_ >= 0)
    ::close(fd_);
}

status denied_log::rotate() {
  if (::fsync(fd_) != 0)
    return io_error("cannot fsync the denied-request log", path_);
  ::close(fd_);
  fd_ = -1;
  auto old = path_ + ".1";
  if (::rename(path_.c_str(), old.c_str()) != 0)
    return io_error("cannot rotate the denied-request log to", old);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0)
    return io_error("cannot open the denied-request log", path_);
  if (auto s = storage::sync_dir(std::filesystem::path{path_}.parent_path().string());
      !s.ok())
    return s;
  size_ = 0;
  return {};
}

expected<denied_outcome> denied_log::append(const denied_event& e) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (fd_ < 0)
    return error{errc::storage_failure, "the denied-request log " + path_ +
                                            " is closed after an earlier error"};
  if (!pace_.allow("", "", rate_, clock_->steady())) {
    ++dropped_;
    return denied_outcome::dropped;
  }
  auto seq = seq_ + 1;
  std::string body =
      "{\"seq\":" + std::to_string(seq) +
      ",\"time_ms\":" + std::to_string(clock_->wall_ms()) +
      ",\"what\":" + json_string(e.what) +
      ",\"principal\":" + json_string(e.principal) +
      ",\"identity\":" + json_string(e.identity) +
      ",\"origin\":" + json_string(e.origin) + ",\"op\":" + json_string(e.op) +
      ",\"key\":" + json_string(e.key) + ",\"code\":" + json_string(to_string(e.code)) +
      ",\"reason\":" + json_string(e.reason) +
      ",\"dropped\":" + std::to_string(dropped_) + ",\"prev\":\"" + last_hash_ + "\"}";
  auto hash = sha256_hex(body);
  body.pop_back();
  std::string line = body + ",\"hash\":\"" + hash + "\"}\n";
  if (size_ > 0 && size_ + line.size() > max_bytes_)
    if (auto s = rotate(); !s.ok())
      return std::move(s).err();
  std::size_t off = 0;
  while (off < line.size()) {
    auto n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return io_error("cannot write the denied-request log", path_);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0)
    return io_error("cannot fsync the denied-request log", path_);
  size_ += line.size();
  seq_ = seq;
  last_hash_ = hash;
  dropped_ = 0;
  return denied_outcome::written;
}

void record_denied(denied_log* log, node_counters& counters, const denied_event& e) {
  if (!log)
    return;
  auto done = log->append(e);
  if (!done.ok())
    spdlog::warn("could not record a denied {} in {}: {}", e.what,
                 denied_log::file_name, done.err().message);
  else if (*done == denied_outcome::dropped)
    counters.add("audit.denied.dropped");
}

expected<std::string> denied_log::verify_file(const std::string& path,
                                              std::string prev) {
  bool exists = false;
  auto text = read_all(path, exists);
  if (!exists)
    return error{errc::not_found, path + " does not exist"};
  std::size_t start = 0;
  std::uint64_t n = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos)
      return error{errc::corrupted, path + ": line " + std::to_string(n + 1) +
                                        " is cut short (no newline)"};
    ++n;
    parsed_line p;
    std::string_view line{text.data() + start, end - start};
    if (!parse_line(line, p))
      return error{errc::corrupted, path + ": line " + std::to_string(n) +
                                        " is not a denied-request record"};
    if (p.prev != prev)
      return error{errc::corrupted, path + ": line " + std::to_string(n) + " (seq " +
                                        std::to_string(p.seq) +
                                        ") does not follow the line before it"};
    if (sha256_hex(p.body) != p.hash)
      return error{errc::corrupted, path + ": line " + std::to_string(n) + " (seq " +
                                        std::to_string(p.seq) +
                                        ") does not match its hash: it was changed"};
    prev = p.hash;
    start = end + 1;
  }
  return prev;
}

} // namespace conflux::actors
