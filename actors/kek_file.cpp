#include "actors/kek_file.hpp"

#include "storage/snapshot_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace conflux::actors {

namespace {

constexpr std::size_t max_kek_file_size = 64 * 1024;

constexpr const char* kek_what = "key-encryption key file";

error bad(const std::string& path, const std::string& why,
          const std::string& what = kek_what) {
  return error{errc::invalid_argument, what + " " + path + ": " + why};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  return s;
}

/// The whole of a small file, read through an fd that was checked first.
expected<std::string> read_private_file(const std::string& path,
                                        const std::string& what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    return error{e == ENOENT ? errc::not_found : errc::invalid_argument,
                 what + " " + path + ": cannot open it: " + std::strerror(e) +
                     "; make one with a line id:<64 hex digits> (e.g. `printf "
                     "'k1:%s\\n' \"$(openssl rand -hex 32)\" > FILE; chmod 600 FILE`)"};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return bad(path, "is not a regular file", what);
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return bad(path,
               std::string{"may be read or written by group or others (mode "} + mode +
                   "): run `chmod 600 " + path + "` and keep it owned by the user " +
                   "running the node",
               what);
  }
  if (static_cast<std::size_t>(st.st_size) > max_kek_file_size) {
    ::close(fd);
    return bad(path,
               "is " + std::to_string(st.st_size) +
                   " bytes, far more than a list of keys",
               what);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return bad(path, std::string{"cannot read it: "} + std::strerror(e), what);
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  ::close(fd);
  return out;
}

} // namespace

const secret::kek* kek_ring::find(std::string_view id) const {
  for (auto& k : keys_)
    if (k.id == id)
      return &k;
  return nullptr;
}

secret::kek_lookup kek_ring::lookup() const {
  return [this](std::string_view id) { return find(id); };
}

expected<kek_ring> parse_kek_file(std::string_view text, const std::string& path) {
  std::vector<secret::kek> keys;
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#')
      continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return bad(path, where + "expected id:<64 hex digits>");
    auto id = line.substr(0, colon);
    auto hex = line.substr(colon + 1);
    if (!secret::valid_key_id(id))
      return bad(path,
                 where + "the key id must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    if (hex.size() != 2 * secret::key_size)
      return bad(path, where + "key '" + std::string{id} + "' has " +
                           std::to_string(hex.size()) +
                           " hex digits; a key is 64 hex digits (32 bytes, e.g. from "
                           "`openssl rand -hex 32`)");
    secret::kek k;
    k.id = std::string{id};
    for (std::size_t i = 0; i < secret::key_size; ++i) {
      int hi = hex_value(hex[2 * i]);
      int lo = hex_value(hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return bad(path,
                   where + "key '" + k.id + "' holds a character that is no hex digit");
      k.key[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    for (auto& other : keys)
      if (other.id == k.id)
        return bad(path, where + "key id '" + k.id +
                             "' appears twice; each id names one key");
    keys.push_back(std::move(k));
  }
  if (keys.empty())
    return bad(path,
               "holds no key; add a line id:<64 hex digits> (the first line is the "
               "key new secrets are sealed with)");
  return kek_ring{std::move(keys)};
}

expected<kek_ring> load_kek_file(const std::string& path) {
  auto text = read_private_file(path, kek_what);
  if (!text.ok())
    return text.err();
  auto ring = parse_kek_file(*text, path);
  OPENSSL_cleanse(text->data(), text->size());
  return ring;
}

expected<std::map<std::string, std::string>>
read_kek_checks(const std::string& data_dir) {
  auto path = (std::filesystem::path{data_dir} / kek_check_file_name).string();
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return out;
  auto text = read_private_file(path, "key check file");
  if (!text.ok())
    return text.err();
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = trim(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.empty())
      continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos ||
        !secret::valid_key_id(line.substr(0, colon)) || line.size() - colon - 1 != 64)
      return error{errc::corrupted,
                   path + " holds a line that is not id:check; it is "
                          "written by the node: restore it from a backup"};
    out.emplace(std::string{line.substr(0, colon)},
                std::string{line.substr(colon + 1)});
  }
  return out;
}

status verify_kek_checks(const kek_ring& ring, const std::string& data_dir,
                         const std::string& kek_path) {
  auto recorded = read_kek_checks(data_dir);
  if (!recorded.ok())
    return recorded.err();
  bool added = false;
  for (auto& k : ring.keys()) {
    auto value = secret::check_value(k);
    auto i = recorded->find(k.id);
    if (i == recorded->end()) {
      recorded->emplace(k.id, value);
      added = true;
    } else if (i->second != value) {
      return error{errc::invalid_argument,
                   "key-encryption key '" + k.id + "' in " + kek_path +
                       " is not the key of that id this node's data was sealed with "
                       "(its check value in " +
                       data_dir + "/" + kek_check_file_name +
                       " differs): start the node with the key file it used before"};
    }
  }
  if (!added)
    return {};
  std::string text;
  for (auto& [id, value] : *recorded)
    text += id + ":" + value + "\n";
  auto path = (std::filesystem::path{data_dir} / kek_check_file_name).string();
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return error{errc::storage_failure,
                 "cannot write " + tmp + ": " + std::strerror(errno)};
  bool ok =
      ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
      ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return error{errc::storage_failure,
                 "cannot write " + tmp + ": " + std::strerror(errno)};
  return storage::durable_rename(tmp, path);
}

secret::random_source system_random() {
  return [](unsigned char* out, std::size_t n) -> status {
    if (RAND_bytes(out, static_cast<int>(n)) != 1)
      return error{errc::storage_failure,
                   "OpenSSL's random generator failed (RAND_bytes)"};
    return {};
  };
}

} // namespace conflux::actors
