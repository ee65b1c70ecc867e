// conflux: the command line of a Conflux cluster (docs/cli.md).
// Parsing, local checks and printing live in cli_commands and the command
// groups; the client behind them in cli_client_access. This file only wires
// the process: arguments, signals, exit code.

#include "actors/client.hpp"
#include "actors/tls_certs.hpp"
#include "apps/cli/cli_client_access.hpp"
#include "apps/cli/cli_commands.hpp"
#include "apps/cli/cli_support.hpp"

#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace conflux;

extern "C" void on_stop_signal(int) {
  cli::watch_stop_flag().store(true);
}

/// For commands that never reach a cluster (the not-implemented ones).
class no_access final : public cli::cluster_access {
public:
  static error none() {
    return {errc::unavailable, "this command does not contact the cluster"};
  }
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
  expected<actors::node_status> status_of(const std::string&) override {
    return none();
  }
  expected<actors::node_status> status() override { return none(); }
  expected<std::uint64_t> add_member(std::uint64_t, const std::string&, bool) override {
    return none();
  }
  expected<std::uint64_t> remove_member(std::uint64_t) override { return none(); }
  expected<std::uint64_t> transfer_leader(std::uint64_t) override { return none(); }
};

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = cli::parse_command_line(args, std::getenv("CONFLUX_ENDPOINTS"),
                                        std::getenv("CONFLUX_TLS_DIR"),
                                        std::getenv("CONFLUX_TOKEN_FILE"));
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
    if (inv.kind == cli::command_kind::watch) {
      // `watch` runs until SIGINT/SIGTERM, then exits 0.
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
    }
    if (const auto& t = inv.global.transport; t.tls()) {
      // The credentials, checked whole before CAF uses them: a bad file is
      // one clear line and exit 2.
      auto cluster = actors::summarize_certificate(t.ca_file);
      std::string why;
      if (!cluster.ok())
        why = actors::to_string(cluster.err());
      else if (!cluster->ca_cluster)
        why = t.ca_file + ": not a Conflux cluster CA (make it with `conflux-cert ca`)";
      else if (auto c = actors::load_credentials(t.cert_file, t.key_file, t.ca_file,
                                                 *cluster->ca_cluster,
                                                 actors::expected_holder::client());
               !c.ok())
        why = actors::to_string(c.err());
      if (!why.empty()) {
        std::cerr << cli::error_line("invalid_argument", "TLS credentials refused: " + why,
                                     "fix them or make new ones with `conflux-cert client` "
                                     "(docs/security.md)",
                                     cli::exit_bad_input, inv.global.json)
                  << '\n';
        return cli::exit_bad_input;
      }
    }
    actors::client_runtime rt{inv.global.transport};
    return cli::execute_with_client(inv, rt, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << cli::error_line("internal", std::string{"internal error: "} + e.what(),
                                 "please report this with the command you ran",
                                 cli::exit_other, inv.global.json)
              << '\n';
    return cli::exit_other;
  }
}
