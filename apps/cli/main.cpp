// conflux: the command line of a Conflux cluster (DESIGN §5, docs/cli.md).
// Parsing, local checks and printing live in cli_commands / cli_support; this
// file only plugs the real client (actors/client.hpp) into them.

#include "actors/client.hpp"
#include "apps/cli/cli_commands.hpp"
#include "apps/cli/cli_support.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace conflux;

/// cluster_access over the CAF client.
class client_access final : public cli::cluster_access {
public:
  explicit client_access(actors::client& c) : c_(c) {}

  expected<apply_result> write(command cmd) override { return c_.write(std::move(cmd)); }
  expected<config> get_config(const std::string& key, actors::consistency c,
                              actors::read_meta* meta) override {
    return c_.get_config(key, c, meta);
  }
  expected<std::vector<config>> list_configs(const std::string& prefix,
                                             actors::consistency c,
                                             actors::read_meta* meta) override {
    return c_.list_configs(prefix, c, meta);
  }
  expected<std::vector<version>> list_versions(const std::string& key,
                                               actors::consistency c,
                                               actors::read_meta* meta) override {
    return c_.list_versions(key, c, meta);
  }
  expected<version> get_version(const std::string& key, version_id id,
                                actors::consistency c, actors::read_meta* meta) override {
    return c_.get_version(key, id, c, meta);
  }
  expected<actors::resolved> resolve(const std::string& key, const labels& client_labels,
                                     actors::consistency c) override {
    return c_.resolve(key, client_labels, c);
  }
  expected<actors::node_status> status_of(const std::string& endpoint) override {
    return c_.status_of(endpoint);
  }
  expected<actors::node_status> status() override { return c_.status(); }
  expected<std::uint64_t> add_member(std::uint64_t id, const std::string& address,
                                     bool learner) override {
    return c_.add_member(id, address, learner);
  }
  expected<std::uint64_t> remove_member(std::uint64_t id) override {
    return c_.remove_member(id);
  }
  expected<std::uint64_t> transfer_leader(std::uint64_t id) override {
    return c_.transfer_leader(id);
  }

private:
  actors::client& c_;
};

/// For commands that never reach a cluster (the not-implemented ones).
class no_access final : public cli::cluster_access {
public:
  static error none() { return {errc::unavailable, "this command does not contact the cluster"}; }
  expected<apply_result> write(command) override { return none(); }
  expected<config> get_config(const std::string&, actors::consistency,
                              actors::read_meta*) override {
    return none();
  }
  expected<std::vector<config>> list_configs(const std::string&, actors::consistency,
                                             actors::read_meta*) override {
    return none();
  }
  expected<std::vector<version>> list_versions(const std::string&, actors::consistency,
                                               actors::read_meta*) override {
    return none();
  }
  expected<version> get_version(const std::string&, version_id, actors::consistency,
                                actors::read_meta*) override {
    return none();
  }
  expected<actors::resolved> resolve(const std::string&, const labels&,
                                     actors::consistency) override {
    return none();
  }
  expected<actors::node_status> status_of(const std::string&) override { return none(); }
  expected<actors::node_status> status() override { return none(); }
  expected<std::uint64_t> add_member(std::uint64_t, const std::string&, bool) override {
    return none();
  }
  expected<std::uint64_t> remove_member(std::uint64_t) override { return none(); }
  expected<std::uint64_t> transfer_leader(std::uint64_t) override { return none(); }
};

/// Recorded as the `creator` of the versions this run writes.
std::string creator_name() {
  std::string user;
  if (const char* u = std::getenv("USER"))
    for (const char* p = u; *p != '\0' && user.size() < 64; ++p)
      if (*p > ' ' && *p < 0x7f)
        user += *p;
  return user.empty() ? std::string{"conflux-cli"} : user + " (conflux-cli)";
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = cli::parse_command_line(args, std::getenv("CONFLUX_ENDPOINTS"));
  std::cout << parsed.out << std::flush;
  std::cerr << parsed.err << std::flush;
  if (!parsed.inv)
    return parsed.exit_code;
  const auto& inv = *parsed.inv;
  try {
    if (!cli::needs_cluster(inv.kind)) {
      no_access none;
      return cli::execute(inv, none, std::cout, std::cerr);
    }
    actors::client_runtime rt;
    actors::client_options opts;
    opts.endpoints = inv.global.endpoints;
    opts.timeout = inv.global.timeout;
    opts.name = creator_name();
    int code = 0;
    {
      actors::client c{rt, opts};
      client_access api{c};
      code = cli::execute(inv, api, std::cout, std::cerr);
      std::cout.flush();
    }
    return code;
  } catch (const std::exception& e) {
    std::cerr << cli::error_line("internal", std::string{"internal error: "} + e.what(),
                                 "please report this with the command you ran",
                                 cli::exit_other, inv.global.json)
              << '\n';
    return cli::exit_other;
  }
}
