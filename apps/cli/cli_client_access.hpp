#pragma once
// The cluster_access of the real `conflux` binary: the CLI's commands over
// the CAF client (actors/client.hpp). main.cpp plugs it in; tests/apps runs
// the CLI through it against plain sockets and a fake node on 127.0.0.1.

#include "actors/client.hpp"
#include "apps/cli/cli_commands.hpp"

#include <map>
#include <memory>
#include <ostream>
#include <string>

namespace conflux::cli {

class client_access final : public cluster_access {
public:
  /// `c` and `rt` must outlive this; `opts` are the ones `c` was made with
  /// (a watch opens its own connections with them).
  client_access(actors::client& c, actors::client_runtime& rt,
                actors::client_options opts);

  std::unique_ptr<watch_feed> open_watch(const actors::watch_options& w) override;
  expected<apply_result> write(command cmd) override;
  expected<config> get_config(const std::string& key, actors::consistency c,
                              actors::read_meta* meta) override;
  expected<std::vector<config>> list_configs(const std::string& prefix,
                                             actors::consistency c,
                                             actors::read_meta* meta) override;
  expected<std::vector<version>> list_versions(const std::string& key,
                                               actors::consistency c,
                                               actors::read_meta* meta) override;
  expected<version> get_version(const std::string& key, version_id id,
                                actors::consistency c,
                                actors::read_meta* meta) override;
  expected<actors::resolved> resolve(const std::string& key,
                                     const labels& client_labels,
                                     actors::consistency c) override;
  expected<actors::node_status> status_of(const std::string& endpoint) override;
  expected<std::vector<audit::record>> audit_list(const audit::filter& f,
                                                  actors::consistency c) override;
  expected<audit::chain_point> audit_verify_at(const std::string& endpoint,
                                               std::uint64_t seq) override;
  expected<actors::node_status> status() override;
  expected<std::uint64_t> add_member(std::uint64_t id, const std::string& address,
                                     bool learner) override;
  expected<std::uint64_t> remove_member(std::uint64_t id) override;
  expected<std::uint64_t> transfer_leader(std::uint64_t id) override;
  expected<auth::access> whoami() override;
  expected<std::vector<auth::principal>>
  list_tokens(const std::string& prefix) override;
  expected<std::vector<auth::role>> list_roles() override;
  expected<std::vector<auth::tenant>> list_tenants() override;
  expected<std::uint64_t> kek_rotate_batch() override;
  expected<actors::client::kek_state> kek_status() override;
  std::optional<std::string>
  unreachable_reason(const std::string& address,
                     std::chrono::milliseconds timeout) override;

private:
  actors::client& c_;
  actors::client_runtime& rt_;
  actors::client_options opts_;
  /// One client per endpoint asked by audit_verify_at (each talks to that
  /// node only).
  std::map<std::string, std::unique_ptr<actors::client>> per_endpoint_;
};

/// Runs `inv` with a client of `rt` on the invocation's endpoints, timeout
/// and token, as the `conflux` binary does; the exit code. Versions it writes
/// record the principal of the token as their creator (the node stamps it).
int execute_with_client(const invocation& inv, actors::client_runtime& rt,
                        std::ostream& out, std::ostream& err);

} // namespace conflux::cli
