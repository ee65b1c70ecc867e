#pragma once
// A unique mkdtemp directory under $CONFLUX_BENCH_DIR (default: the system
// temp dir) for one benchmark, removed at scope exit. Point CONFLUX_BENCH_DIR
// at the disk the node's data will live on.

#include <cstdlib>
#include <filesystem>
#include <stdlib.h> // mkdtemp
#include <string>
#include <system_error>

namespace conflux::bench {

// A unique directory removed at scope exit.
class bench_dir {
public:
  bench_dir() {
    const char* base = std::getenv("CONFLUX_BENCH_DIR");
    auto root = base != nullptr ? std::filesystem::path{base}
                                : std::filesystem::temp_directory_path();
    auto tmpl = (root / "conflux-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr)
      path_ = tmpl;
  }
  ~bench_dir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  bench_dir(const bench_dir&) = delete;
  bench_dir& operator=(const bench_dir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

} // namespace conflux::bench
