// libFuzzer target: snapshot files (storage/snapshot_file.hpp
// verify_snapshot_file), which a follower reads after a leader streamed one
// to it, and a node reads at start. Each input is written to one temp file
// and verified.
#include "storage/snapshot_file.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

// One file for the whole run, removed at exit.
const std::string& file() {
  static const std::string path = [] {
    std::string p = "/tmp/conflux-fuzz-snapshot.XXXXXX";
    int fd = ::mkstemp(p.data());
    conflux::fuzz::require(fd >= 0, "mkstemp");
    ::close(fd);
    std::atexit([] { ::unlink(file().c_str()); });
    return p;
  }();
  return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out{file(), std::ios::binary | std::ios::trunc};
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    conflux::fuzz::require(static_cast<bool>(out), "write the input file");
  }
  (void)conflux::storage::verify_snapshot_file(file());
  return 0;
}
