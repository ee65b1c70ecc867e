#include "apps/cli/cli_client_access.hpp"

#include "actors/client_probe.hpp"
#include "actors/endpoint.hpp"

namespace conflux::cli {

namespace {

/// A watch of the CAF client library.
class stream_feed final : public watch_feed {
public:
  stream_feed(actors::client_runtime& rt, actors::client_options opts,
              actors::watch_options w)
      : stream_(rt, std::move(opts), std::move(w)) {}
  expected<std::optional<actors::watch_notification>>
  next(std::chrono::milliseconds timeout) override {
    return stream_.next(timeout);
  }
  std::uint64_t interruptions() const override { return stream_.resumes(); }
  std::string last_interruption() const override { return stream_.last_interruption(); }
  std::uint64_t last_revision() const override { return stream_.last_revision(); }

private:
  actors::watch_stream stream_;
};

} // namespace

client_access::client_access(actors::client& c, actors::client_runtime& rt,
                             actors::client_options opts)
    : c_(c), rt_(rt), opts_(std::move(opts)) {}

std::unique_ptr<watch_feed> client_access::open_watch(const actors::watch_options& w) {
  return std::make_unique<stream_feed>(rt_, opts_, w);
}

expected<apply_result> client_access::write(command cmd) {
  return c_.write(std::move(cmd));
}

expected<config> client_access::get_config(const std::string& key,
                                           actors::consistency c,
                                           actors::read_meta* meta) {
  return c_.get_config(key, c, meta);
}

expected<std::vector<config>> client_access::list_configs(const std::string& prefix,
                                                          actors::consistency c,
                                                          actors::read_meta* meta) {
  return c_.list_configs(prefix, c, meta);
}

expected<std::vector<version>> client_access::list_versions(const std::string& key,
                                                            actors::consistency c,
                                                            actors::read_meta* meta) {
  return c_.list_versions(key, c, meta);
}

expected<version> client_access::get_version(const std::string& key, version_id id,
                                             actors::consistency c,
                                             actors::read_meta* meta) {
  return c_.get_version(key, id, c, meta);
}

expected<actors::resolved> client_access::resolve(const std::string& key,
                                                  const labels& client_labels,
                                                  actors::consistency c) {
  return c_.resolve(key, client_labels, c);
}

expected<std::vector<audit::record>> client_access::audit_list(const audit::filter& f,
                                                               actors::consistency c) {
  return c_.audit_list(f, c);
}

expected<audit::chain_point> client_access::audit_verify_at(const std::string& endpoint,
                                                            std::uint64_t seq) {
  auto& one = per_endpoint_[endpoint];
  if (!one) {
    auto o = opts_;
    o.endpoints = {endpoint};
    one = std::make_unique<actors::client>(rt_, std::move(o));
  }
  return one->audit_verify(seq);
}

expected<std::uint64_t> client_access::kek_rotate_batch() {
  return c_.kek_rotate_batch();
}

expected<actors::client::kek_state> client_access::kek_status() {
  return c_.kek_status();
}

expected<actors::node_status> client_access::status_of(const std::string& endpoint) {
  return c_.status_of(endpoint);
}

expected<actors::node_status> client_access::status() {
  return c_.status();
}

expected<std::uint64_t>
client_access::add_member(std::uint64_t id, const std::string& address, bool learner) {
  return c_.add_member(id, address, learner);
}

expected<std::uint64_t> client_access::remove_member(std::uint64_t id) {
  return c_.remove_member(id);
}

expected<std::uint64_t> client_access::transfer_leader(std::uint64_t id) {
  return c_.transfer_leader(id);
}

expected<auth::access> client_access::whoami() {
  return c_.whoami();
}

expected<std::vector<auth::principal>>
client_access::list_tokens(const std::string& prefix) {
  return c_.list_tokens(prefix);
}

expected<std::vector<auth::role>> client_access::list_roles() {
  return c_.list_roles();
}

expected<std::vector<auth::tenant>> client_access::list_tenants() {
  return c_.list_tenants();
}

std::optional<std::string>
client_access::unreachable_reason(const std::string& address,
                                  std::chrono::milliseconds timeout) {
  auto ep = actors::parse_endpoint(address);
  if (!ep)
    return std::string{"is not HOST:PORT"};
  auto probe = actors::probe_endpoint(*ep, timeout);
  if (probe.verdict == actors::probe_verdict::speaks_basp)
    return std::nullopt;
  return probe.detail;
}

int execute_with_client(const invocation& inv, actors::client_runtime& rt,
                        std::ostream& out, std::ostream& err) {
  actors::client_options opts;
  opts.endpoints = inv.global.endpoints;
  opts.timeout = inv.global.timeout;
  // The client's name in its hello (for node logs); no creator is sent: the
  // node records the token's principal.
  opts.name = "conflux-cli";
  opts.token = inv.global.token;
  actors::client c{rt, opts};
  client_access api{c, rt, opts};
  auto code = execute(inv, api, out, err);
  // The output first: closing the write session (the client's destructor)
  // may take a moment.
  out.flush();
  return code;
}

} // namespace conflux::cli
