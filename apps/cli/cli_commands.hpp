#pragma once
// The `conflux` command line (docs/cli.md) split in two testable
// halves: parse_command_line turns argv into a fully checked `invocation`
// (files read, labels and rules parsed, keys validated) without contacting
// anything; execute runs it against a `cluster_access` and prints the result.
// main.cpp plugs the real client (actors/client.hpp) in; tests plug in a fake.

#include "actors/client.hpp"
#include "protocol/auth.hpp"
#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace conflux::cli {

struct global_options {
  std::vector<std::string> endpoints{"127.0.0.1:7101"};
  /// The endpoint list as given (for messages).
  std::string endpoints_text = "127.0.0.1:7101";
  /// Mutual TLS from --tls-dir / CONFLUX_TLS_DIR, or --insecure-plaintext.
  actors::transport_settings transport;
  /// The credential directory as given (for messages); empty for plain text.
  std::string tls_dir;
  bool json = false;
  std::chrono::milliseconds timeout{5000};
  /// The token read from --token-file / CONFLUX_TOKEN_FILE ("" when neither
  /// is set: the cluster then refuses every request as unauthenticated).
  /// Never printed.
  std::string token;
  /// Where it came from, as given (for messages).
  std::string token_file;
};

enum class command_kind {
  config_create,
  config_list,
  config_show,
  config_delete,
  version_add,
  version_list,
  version_show,
  version_delete,
  release_set,
  release_show,
  rollback,
  get,
  resolve,
  cluster_status,
  /// Runs until SIGINT/SIGTERM (watch_stop_flag) or --count events.
  watch,
  cluster_add,
  cluster_remove,
  cluster_transfer,
  auth_token_create,
  auth_token_list,
  auth_token_revoke,
  auth_token_set_roles,
  auth_role_create,
  auth_role_list,
  auth_role_delete,
  auth_tenant_set,
  auth_tenant_list,
  auth_whoami,
  /// Offline: makes a token and prints its hash; contacts nothing.
  auth_bootstrap_token,
  audit_list,
  audit_verify,
  release_history,
  kek_rotate,
  kek_status,
  /// A parsed command without a handler (none in this build): exit 1.
  not_implemented,
};

/// A parsed and locally checked command; only fields of its kind are set.
struct invocation {
  global_options global;
  command_kind kind = command_kind::not_implemented;
  /// "config create", "watch", ... (for messages).
  std::string name;
  std::string key;
  std::string prefix;
  actors::consistency read_consistency = actors::consistency::linearizable;
  content_format format = content_format::text;
  std::optional<std::string> schema;
  /// config create --secret.
  bool secret = false;
  std::string content;
  std::string description;
  std::string comment;
  std::optional<revision_t> if_revision;
  /// config delete --force: delete even while release rules point at it.
  bool force = false;
  version_id version = 0;
  std::vector<version_id> versions;
  std::vector<release_rule> rules;
  labels client_labels;
  /// watch: KEY or PREFIX/ (in `key`), the first revision wanted (0 = from
  /// now) and how many events to print before exiting (0 = no limit).
  std::uint64_t from_revision = 0;
  std::uint64_t count = 0;
  /// cluster add / remove / transfer-leader.
  std::uint64_t node_id = 0;
  std::string node_address;
  bool learner = false;
  /// auth: the principal, role or tenant the command is about.
  std::string auth_name;
  /// auth token create / set-roles: the roles (--role).
  std::vector<std::string> roles;
  /// auth token create --expires (0 = never).
  std::int64_t ttl_ms = 0;
  /// auth role create: the grants (--allow) and whether an existing role of
  /// that name is replaced (--replace).
  std::vector<auth::grant> grants;
  bool replace = false;
  /// auth tenant set: the quotas and rate (0 = none / the node default).
  std::uint64_t max_configs = 0;
  std::uint64_t max_versions = 0;
  std::uint64_t max_bytes = 0;
  std::uint64_t rate = 0;
  /// auth token create / bootstrap-token --out: where the new token goes
  /// (mode 0600) instead of stdout.
  std::string out_file;
  /// audit list --principal (with --since in from_revision).
  std::string principal;
};

/// Either an invocation to execute, or a finished run (help printed, or a
/// usage / local input error) with its exit code and output.
struct parse_outcome {
  std::optional<invocation> inv;
  int exit_code = 0;
  std::string out;
  std::string err;
};

/// Parses `args` (argv without argv[0]). `env_endpoints`, `env_tls_dir` and
/// `env_token_file` are the values of CONFLUX_ENDPOINTS, CONFLUX_TLS_DIR and
/// CONFLUX_TOKEN_FILE (nullptr or "" when unset). Reads --file / --schema /
/// --rules-file and the token file. Never contacts a cluster.
parse_outcome parse_command_line(const std::vector<std::string>& args,
                                 const char* env_endpoints,
                                 const char* env_tls_dir = nullptr,
                                 const char* env_token_file = nullptr);

/// A running watch (actors::watch_stream behind it).
class watch_feed {
public:
  virtual ~watch_feed() = default;
  /// The next event, nullopt after `timeout` without one; an error if the
  /// watch can never work.
  virtual expected<std::optional<actors::watch_notification>>
  next(std::chrono::milliseconds timeout) = 0;
  /// How often the watch was interrupted and went on elsewhere, and why
  /// the last time ("" if never).
  virtual std::uint64_t interruptions() const { return 0; }
  virtual std::string last_interruption() const { return {}; }
  /// Where a resume continues (the last revision received).
  virtual std::uint64_t last_revision() const { return 0; }
};

/// What execute needs from a cluster: the calls of actors::client.
class cluster_access {
  static error no_auth_reads() {
    return {errc::unavailable, "this client cannot read the authorization tables"};
  }

public:
  virtual ~cluster_access() = default;
  virtual expected<apply_result> write(command cmd) = 0;
  virtual expected<config> get_config(const std::string& key, actors::consistency c,
                                      actors::read_meta* meta) = 0;
  virtual expected<std::vector<config>> list_configs(const std::string& prefix,
                                                     actors::consistency c,
                                                     actors::read_meta* meta) = 0;
  virtual expected<std::vector<version>> list_versions(const std::string& key,
                                                       actors::consistency c,
                                                       actors::read_meta* meta) = 0;
  virtual expected<version> get_version(const std::string& key, version_id id,
                                        actors::consistency c,
                                        actors::read_meta* meta) = 0;
  virtual expected<actors::resolved> resolve(const std::string& key,
                                             const labels& client_labels,
                                             actors::consistency c) = 0;
  virtual expected<actors::node_status> status_of(const std::string& endpoint) = 0;
  /// The audit trail (actors::client::audit_list).
  virtual expected<std::vector<audit::record>> audit_list(const audit::filter&,
                                                          actors::consistency) {
    return error{errc::unavailable, "this build's CLI cannot read the audit trail"};
  }
  /// The audit chain at `seq` (0 = head) as the node at `endpoint` itself
  /// recomputes it (no redirect).
  virtual expected<audit::chain_point> audit_verify_at(const std::string&,
                                                       std::uint64_t) {
    return error{errc::unavailable, "this build's CLI cannot verify the audit trail"};
  }
  virtual expected<actors::node_status> status() = 0;
  /// Starts a watch; nullptr if this access cannot watch.
  virtual std::unique_ptr<watch_feed> open_watch(const actors::watch_options&) {
    return nullptr;
  }
  virtual expected<std::uint64_t>
  add_member(std::uint64_t id, const std::string& address, bool learner) = 0;
  virtual expected<std::uint64_t> remove_member(std::uint64_t id) = 0;
  virtual expected<std::uint64_t> transfer_leader(std::uint64_t id) = 0;
  /// The principal of this access's token, with its roles.
  virtual expected<auth::access> whoami() { return no_auth_reads(); }
  /// Principals whose name starts with `prefix` (token hashes blanked).
  virtual expected<std::vector<auth::principal>> list_tokens(const std::string&) {
    return no_auth_reads();
  }
  virtual expected<std::vector<auth::role>> list_roles() { return no_auth_reads(); }
  virtual expected<std::vector<auth::tenant>> list_tenants() { return no_auth_reads(); }
  /// Key rotation (actors::client::kek_rotate_batch, kek_status).
  virtual expected<std::uint64_t> kek_rotate_batch() {
    return error{errc::unavailable, "this client cannot rotate keys"};
  }
  virtual expected<actors::client::kek_state> kek_status() {
    return error{errc::unavailable, "this client cannot read the key state"};
  }
  /// Why no Conflux node answers at `address` (HOST:PORT) within `timeout`,
  /// as a clause following the address ("refused the connection (...)");
  /// nullopt when one does, or when this access cannot look. A plain look
  /// at the address, not a request.
  virtual std::optional<std::string> unreachable_reason(const std::string&,
                                                        std::chrono::milliseconds) {
    return std::nullopt;
  }
};

/// Set (from a signal handler: it is lock-free) to end a running `watch`.
std::atomic<bool>& watch_stop_flag() noexcept;

/// One watch event as the one line `conflux watch` prints (without the
/// newline): "revision=R kind=K key=KEY ..." or, with json, one JSON object.
std::string format_watch_event(const actors::watch_notification& n, bool json);

/// Runs a parsed command; returns the exit code. Output goes to `out`
/// (content bytes, tables, or one JSON object), the one error line to `err`.
int execute(const invocation& inv, cluster_access& api, std::ostream& out,
            std::ostream& err);

/// Whether a kind needs the cluster (everything but not_implemented).
bool needs_cluster(command_kind k) noexcept;

} // namespace conflux::cli
