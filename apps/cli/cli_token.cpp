#include "apps/cli/cli_token.hpp"

#include "protocol/auth.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace conflux::cli {

namespace {

error bad(std::string message) {
  return {errc::invalid_argument, std::move(message)};
}

/// "0644" for the permission bits of a mode.
std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

/// Closes a file descriptor on every path out.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

expected<std::int64_t> parse_duration(std::string_view what, std::string_view text) {
  const std::string how = std::string{what} +
                          " takes a whole number and a unit s, m, h or d, from 1s to "
                          "3650d (\"90m\", \"12h\", \"30d\")";
  if (text.size() < 2)
    return bad(how);
  std::int64_t unit_ms = 0;
  switch (text.back()) {
  case 's':
    unit_ms = 1000;
    break;
  case 'm':
    unit_ms = 60'000;
    break;
  case 'h':
    unit_ms = 3'600'000;
    break;
  case 'd':
    unit_ms = 86'400'000;
    break;
  default:
    return bad(how);
  }
  constexpr std::int64_t max_ms = 3650 * std::int64_t{86'400'000};
  std::int64_t n = 0;
  for (char ch : text.substr(0, text.size() - 1)) {
    if (ch < '0' || ch > '9')
      return bad(how);
    n = n * 10 + (ch - '0');
    if (n * unit_ms > max_ms)
      return bad(how);
  }
  if (n == 0)
    return bad(how);
  return n * unit_ms;
}

expected<std::string> read_token_file(std::string_view what, const std::string& path) {
  const std::string where = std::string{what} + ": " + path;
  if (path.empty())
    return bad(std::string{what} + " is empty; give the path of a token file");
  // O_NOFOLLOW is not used: a symlink to a private file is fine, its target's
  // mode is what fstat checks.
  fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  if (f.fd < 0)
    return bad(
        where + ": cannot open it (" + std::strerror(errno) +
        "); give the file `conflux auth token create` or `scripts/dev up` wrote");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
    return bad(where + ": not a regular file; give the token file itself");
  if ((st.st_mode & 077) != 0)
    return bad(where + ": group or others may access it (mode " +
               octal_mode(st.st_mode) +
               "); whoever reads a token acts with its rights, so run `chmod 600 " +
               path + "` first");
  // A token file holds 68 characters and a line break; anything much longer
  // is not one (and is not read whole).
  std::array<char, 256> buf{};
  std::size_t size = 0;
  while (size < buf.size()) {
    auto n = ::read(f.fd, buf.data() + size, buf.size() - size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return bad(where + ": cannot read it (" + std::strerror(errno) + ")");
    if (n == 0)
      break;
    size += static_cast<std::size_t>(n);
  }
  std::string_view text{buf.data(), size};
  if (!text.empty() && text.back() == '\n')
    text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r')
    text.remove_suffix(1);
  if (text.empty())
    return bad(where + ": the file is empty; it should hold one token (cfx_...)");
  // Only the verdict of the check is used: nothing of the file reaches the
  // message.
  if (!auth::validate_token_text(text).ok())
    return bad(where +
               ": the file does not hold one token (\"cfx_\" and 64 lowercase hex "
               "characters, then at most a line break); write the token exactly as "
               "`conflux auth token create` printed it");
  return std::string{text};
}

expected<std::string> new_token() {
  std::array<unsigned char, 32> bits{};
  if (RAND_bytes(bits.data(), static_cast<int>(bits.size())) != 1)
    return error{errc::storage_failure,
                 "the system's random generator failed (OpenSSL RAND_bytes); no token "
                 "was made"};
  static constexpr char hex[] = "0123456789abcdef";
  std::string token = "cfx_";
  for (auto b : bits) {
    token += hex[b >> 4];
    token += hex[b & 0xf];
  }
  return token;
}

status write_token_file(const std::string& path, const std::string& token) {
  fd_guard f{
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (f.fd < 0) {
    if (errno == EEXIST)
      return error{errc::already_exists,
                   "--out: " + path +
                       " exists already; a token file is never overwritten, give a "
                       "new path or remove the old file first"};
    return bad("--out: " + path + ": cannot create it (" + std::strerror(errno) + ")");
  }
  // The umask may have cleared bits but never adds any; make it exactly 0600.
  (void)::fchmod(f.fd, 0600);
  const std::string line = token + "\n";
  std::size_t done = 0;
  while (done < line.size()) {
    auto n = ::write(f.fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      auto why = std::string{std::strerror(errno)};
      ::unlink(path.c_str());
      return error{errc::storage_failure, "--out: " + path + ": cannot write it (" +
                                              why + "); nothing was kept"};
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(f.fd) != 0) {
    auto why = std::string{std::strerror(errno)};
    ::unlink(path.c_str());
    return error{errc::storage_failure,
                 "--out: " + path + ": cannot sync it (" + why + "); nothing was kept"};
  }
  return {};
}

} // namespace conflux::cli
