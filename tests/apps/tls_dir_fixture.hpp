#pragma once
// A credential directory for parsing tests: client.crt, client.key and ca.crt
// exist and can be read (parse_command_line checks no more than that; the
// contents are checked when a connection is made). Created once per test
// process under $TMPDIR and removed at exit.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace conflux::cli::test {

inline const char* parsing_tls_dir() {
  static const std::string dir = [] {
    auto base = std::filesystem::temp_directory_path() / "conflux-cli-tls-XXXXXX";
    std::string tmpl = base.string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    for (const char* f : {"client.crt", "client.key", "ca.crt"})
      std::ofstream{tmpl + "/" + f} << "not checked when parsing\n";
    static std::string removed_at_exit;
    removed_at_exit = tmpl;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removed_at_exit, ec);
    });
    return tmpl;
  }();
  return dir.c_str();
}

} // namespace conflux::cli::test
