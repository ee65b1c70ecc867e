#pragma once
// What the CLI command tests share when they run a parsed command against a
// fake cluster (no CAF, no network): a cluster_access whose every call is
// refused unless a test's fake overrides it, running a command line through
// parse_command_line and execute, a private temp dir, and small checks on
// the output. The real client's fixture is tests/apps/cli_client_fixture.hpp.

#include "apps/cli/cli_commands.hpp"
#include "apps/cli/cli_support.hpp"
#include "tests/apps/tls_dir_fixture.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace conflux::cli::test {

/// A cluster_access whose every required call fails with refuse(): a fake
/// overrides the calls its tests make, and refuse() to see or shape the
/// others.
class refusing_cluster : public cluster_access {
public:
  expected<apply_result> write(command) override { return refuse(); }
  expected<config> get_config(const std::string&, actors::consistency,
                              actors::read_meta*) override {
    return refuse();
  }
  expected<std::vector<config>> list_configs(const std::string&, actors::consistency,
                                             actors::read_meta*) override {
    return refuse();
  }
  expected<std::vector<version>> list_versions(const std::string&, actors::consistency,
                                               actors::read_meta*) override {
    return refuse();
  }
  expected<version> get_version(const std::string&, version_id, actors::consistency,
                                actors::read_meta*) override {
    return refuse();
  }
  expected<actors::resolved> resolve(const std::string&, const labels&,
                                     actors::consistency) override {
    return refuse();
  }
  expected<actors::node_status> status_of(const std::string&) override {
    return refuse();
  }
  expected<actors::node_status> status() override { return refuse(); }
  expected<std::uint64_t> add_member(std::uint64_t, const std::string&, bool) override {
    return refuse();
  }
  expected<std::uint64_t> remove_member(std::uint64_t) override { return refuse(); }
  expected<std::uint64_t> transfer_leader(std::uint64_t) override { return refuse(); }

protected:
  /// The answer to every call the fake does not override.
  virtual error refuse() { return {errc::unavailable, "not used by this test"}; }
};

struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

/// Parses `args` as the conflux binary does (credentials from the parsing
/// fixture; `env_token` as CONFLUX_TOKEN_FILE).
inline parse_outcome parse(std::vector<std::string> args,
                           const char* env_token = nullptr) {
  return parse_command_line(args, nullptr, parsing_tls_dir(), env_token);
}

/// Parses and, if that succeeded, executes against `fake`.
inline run_result run(cluster_access& fake, std::vector<std::string> args,
                      const char* env_token = nullptr) {
  auto p = parse(std::move(args), env_token);
  if (!p.inv)
    return {p.exit_code, p.out, p.err};
  std::ostringstream out, err;
  int code = execute(*p.inv, fake, out, err);
  return {code, out.str(), err.str()};
}

/// Exactly one JSON object on one line.
inline nlohmann::json one_json(const std::string& out) {
  REQUIRE(!out.empty());
  REQUIRE(out.back() == '\n');
  REQUIRE(out.find('\n') == out.size() - 1);
  return nlohmann::json::parse(out);
}

inline bool mentions(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A private temp dir for one test, removed at the end.
struct temp_dir {
  std::string path;
  temp_dir() {
    auto base = std::filesystem::temp_directory_path() / "conflux-cli-test-XXXXXX";
    path = base.string();
    REQUIRE(::mkdtemp(path.data()) != nullptr);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// Writes `content` to NAME with `mode`; its path.
  std::string file(const std::string& name, const std::string& content,
                   mode_t mode = 0600) const {
    auto p = path + "/" + name;
    std::ofstream{p, std::ios::binary} << content;
    REQUIRE(::chmod(p.c_str(), mode) == 0);
    return p;
  }
};

/// The permission bits of `path`.
inline mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

} // namespace conflux::cli::test
