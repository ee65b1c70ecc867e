#include "storage/durable_fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace conflux::storage {

namespace {

error fs_error(const std::string& what, const std::string& path) {
  return error{errc::storage_failure, what + " " + path + ": " + std::strerror(errno)};
}

} // namespace

status sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fs_error("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return fs_error("cannot fsync directory", dir);
  return {};
}

status durable_rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return fs_error("cannot rename " + from + " to", to);
  return sync_dir(std::filesystem::path{to}.parent_path().string());
}

status create_dirs_durable(const std::string& dir) {
  namespace fs = std::filesystem;
  // The missing components, outermost first.
  std::vector<fs::path> missing;
  for (fs::path p = fs::absolute(fs::path{dir}).lexically_normal(); !p.empty();
       p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return error{errc::storage_failure,
                     p.string() + " exists and is not a directory"};
      break;
    }
    if (errno != ENOENT)
      return fs_error("cannot stat", p.string());
    missing.push_back(p);
    if (p == p.parent_path())
      break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST)
      return fs_error("cannot create directory", it->string());
    if (auto s = sync_dir(it->parent_path().string()); !s.ok())
      return s;
  }
  return {};
}

} // namespace conflux::storage
