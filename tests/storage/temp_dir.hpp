#pragma once
// A unique temporary directory for one storage test (mkdtemp under
// $TMPDIR or /tmp), removed with everything in it when the object goes out of
// scope, also when a doctest assertion fails and unwinds the test.

#include <filesystem>
#include <stdexcept>
#include <stdlib.h> // mkdtemp
#include <string>
#include <system_error>

namespace conflux::storage::test {

class temp_dir {
public:
  temp_dir() {
    auto tmpl =
        (std::filesystem::temp_directory_path() / "conflux-storage-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  const std::string& path() const noexcept { return path_; }
  /// A path below the directory (not created).
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

} // namespace conflux::storage::test
