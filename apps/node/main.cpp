// conflux-node: starts one Conflux node (docs/operations.md).
//
//   conflux-node [--config FILE] [--id N] [--listen HOST:PORT] [--data DIR]
//                [--peers 1=HOST:PORT,2=HOST:PORT,...] [--cluster-id NAME]
//                [--log-level LEVEL] [--watch-history N] [--watch-backlog N] [--join]
//                [--snapshot-entries N] [--snapshot-bytes B]
//                [--max-sessions-per-connection N] [--max-sessions N]
//                [--max-requests-in-flight N] [--max-pending-proposals N]
//                [--max-reply-bytes SIZE] [--denied-log-max-bytes SIZE]
//                [--denied-log-rate N]
//                [--session-idle-timeout S]
//                [--idle-timeout S] [--handshake-timeout S]
//                [--max-db-size SIZE] [--max-snapshot-bytes SIZE] [--max-readers N]
//                [--bootstrap-token-hash HEX] [--bootstrap-principal NAME]
//                [--default-rate N] [--rate-buckets N]
//                [--kek-file FILE]
//                (--tls-dir DIR [--tls-cert F] [--tls-key F] [--tls-ca F]
//                 | --insecure-plaintext)
//
// Mutual TLS is the only transport unless --insecure-plaintext is given, which
// is refused unless every address is a loopback address (docs/security.md).
//
// --join starts a node with no configuration that waits until a leader adds
// it (`conflux cluster add ID HOST:PORT`); --peers is then optional.
//
// With no arguments besides the transport: a single-node cluster on
// 127.0.0.1:7101 with data in ./conflux-data. Settings come from the embedded defaults,
// then the config file (TOML), then the flags. SIGHUP reloads the TLS credentials for
// new connections. SIGINT/SIGTERM stop the node cleanly (exit 0); bad flags, an address
// that cannot be listened on or a refused data dir exit 2; a storage failure while
// running exits 1; each with one clear line on stderr.
//
// main() runs three phases: parse (flags and config file into node_options),
// open (logging, the listen address, the actor system, the data dir and the
// node's actors) and serve (publish, wait for a stop signal or a failure,
// stop).
#include "actors/endpoint.hpp"
#include "actors/node.hpp"
#include "actors/remoting.hpp"
#include "actors/tls_certs.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <execinfo.h>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <netdb.h>
#include <optional>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <thread>
#include <toml.hpp>
#include <unistd.h>

namespace {

using conflux::actors::node_options;

constexpr int exit_stopped = 0;
constexpr int exit_failed = 1;
constexpr int exit_refused = 2;

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "conflux-node: " << msg << "\n";
  std::exit(exit_refused);
}

// -- parse ------------------------------------------------------------------

/// Everything the launcher needs besides node_options.
struct launch_settings {
  node_options opts;
  /// Seconds, from the config file (idle_timeout); --idle-timeout wins.
  std::optional<std::int64_t> idle_timeout;
  /// Seconds, from the config file (handshake_timeout); the flag wins.
  std::optional<std::int64_t> handshake_timeout;
  std::string log_level = "info";
};

/// A node id from text: digits only, so no sign and no blanks (0 is refused
/// later, by check_node_options, whether it came from a flag or a file).
std::optional<std::uint64_t> parse_id(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return std::nullopt; // out of range
  }
}

/// "1=127.0.0.1:7101,2=127.0.0.1:7102" -> map; exits 2 on malformed input.
std::map<std::uint64_t, std::string> parse_peers(const std::string& s) {
  std::map<std::uint64_t, std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto comma = s.find(',', start);
    auto item =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      usage_error("--peers item '" + item + "' is not ID=HOST:PORT");
    auto id = parse_id(item.substr(0, eq));
    if (!id)
      usage_error("--peers item '" + item + "' has a non-numeric id");
    if (!conflux::actors::parse_endpoint(item.substr(eq + 1)))
      usage_error("--peers item '" + item + "' has an address that is not HOST:PORT");
    if (!out.emplace(*id, item.substr(eq + 1)).second)
      usage_error("--peers lists node " + std::to_string(*id) + " twice");
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

/// "67108864", "512MiB", "64GiB" -> bytes. Units are powers of 1024 (B, KiB,
/// MiB, GiB, TiB, any case); decimal units (MB, GB) are refused rather than
/// guessed. The error says what is wrong with `text`.
conflux::expected<std::size_t> parse_size(const std::string& text) {
  auto digits = text.find_first_not_of("0123456789");
  auto number = text.substr(0, digits);
  std::string unit = digits == std::string::npos ? "" : text.substr(digits);
  for (auto& ch : unit)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto bad = [&](const std::string& why) {
    return conflux::error{conflux::errc::invalid_argument,
                          "'" + text + "' is not a size: " + why +
                              " (write e.g. 64GiB, 512MiB or a number of bytes)"};
  };
  if (number.empty())
    return bad("it does not start with a number");
  int shift = 0;
  if (unit == "kib")
    shift = 10;
  else if (unit == "mib")
    shift = 20;
  else if (unit == "gib")
    shift = 30;
  else if (unit == "tib")
    shift = 40;
  else if (!unit.empty() && unit != "b")
    return bad("the unit '" + text.substr(digits) +
               "' is not one of B, KiB, MiB, GiB, TiB (powers of 1024)");
  unsigned long long n = 0;
  try {
    n = std::stoull(number);
  } catch (const std::exception&) {
    return bad("the number is too large");
  }
  if (n > (std::numeric_limits<std::size_t>::max() >> shift))
    return bad("it is too large");
  return static_cast<std::size_t>(n) << shift;
}

std::size_t size_or_exit(const std::string& what, const std::string& text) {
  auto n = parse_size(text);
  if (!n)
    usage_error(what + ": " + n.err().message);
  return *n;
}

/// The transport settings as given by the config file, then the flags.
struct tls_choice {
  std::string dir, cert, key, ca;
  bool insecure_plaintext = false;
};

/// Applies the keys of a TOML config file to `s`; exits 2 on a bad file.
void load_config_file(const std::string& path, launch_settings& s, bool& listen_given,
                      tls_choice& tls) {
  auto& opts = s.opts;
  try {
    auto t = toml::parse(path);
    if (t.contains("id"))
      opts.id = toml::find<std::uint64_t>(t, "id");
    if (t.contains("cluster_id"))
      opts.cluster_id = toml::find<std::string>(t, "cluster_id");
    if (t.contains("listen")) {
      opts.listen = toml::find<std::string>(t, "listen");
      listen_given = true;
    }
    if (t.contains("data"))
      opts.data_dir = toml::find<std::string>(t, "data");
    if (t.contains("log_level"))
      s.log_level = toml::find<std::string>(t, "log_level");
    if (t.contains("tick_ms"))
      opts.tick = std::chrono::milliseconds(toml::find<std::int64_t>(t, "tick_ms"));
    if (t.contains("watch_history"))
      opts.watch_history = toml::find<std::size_t>(t, "watch_history");
    if (t.contains("watch_backlog"))
      opts.watch_backlog = toml::find<std::size_t>(t, "watch_backlog");
    if (t.contains("election_ticks"))
      opts.election_ticks = toml::find<int>(t, "election_ticks");
    if (t.contains("snapshot_entries"))
      opts.snapshot_entries = toml::find<std::uint64_t>(t, "snapshot_entries");
    if (t.contains("snapshot_bytes"))
      opts.snapshot_bytes = toml::find<std::uint64_t>(t, "snapshot_bytes");
    if (t.contains("max_db_size")) {
      // A number of bytes, or a string with a unit ("64GiB").
      const auto& v = toml::find(t, "max_db_size");
      if (v.is_string())
        opts.max_db_size =
            size_or_exit(path + ": max_db_size", toml::get<std::string>(v));
      else if (v.as_integer() < 0)
        usage_error(path + ": max_db_size must not be negative");
      else
        opts.max_db_size = static_cast<std::size_t>(v.as_integer());
    }
    if (t.contains("max_sessions_per_connection"))
      opts.max_sessions_per_connection =
          toml::find<std::size_t>(t, "max_sessions_per_connection");
    if (t.contains("max_sessions"))
      opts.max_sessions = toml::find<std::size_t>(t, "max_sessions");
    if (t.contains("max_requests_in_flight"))
      opts.max_requests_in_flight =
          toml::find<std::size_t>(t, "max_requests_in_flight");
    if (t.contains("max_pending_proposals"))
      opts.max_pending_proposals = toml::find<std::size_t>(t, "max_pending_proposals");
    if (t.contains("max_reply_bytes")) {
      // A number of bytes, or a string with a unit ("8MiB").
      const auto& v = toml::find(t, "max_reply_bytes");
      if (v.is_string())
        opts.max_reply_bytes =
            size_or_exit(path + ": max_reply_bytes", toml::get<std::string>(v));
      else if (v.as_integer() < 0)
        usage_error(path + ": max_reply_bytes must not be negative");
      else
        opts.max_reply_bytes = static_cast<std::size_t>(v.as_integer());
    }
    if (t.contains("session_idle_timeout"))
      opts.session_idle_timeout =
          std::chrono::seconds(toml::find<std::uint64_t>(t, "session_idle_timeout"));
    if (t.contains("max_snapshot_bytes")) {
      const auto& v = toml::find(t, "max_snapshot_bytes");
      if (v.is_string())
        opts.max_snapshot_bytes =
            size_or_exit(path + ": max_snapshot_bytes", toml::get<std::string>(v));
      else if (v.as_integer() < 0)
        usage_error(path + ": max_snapshot_bytes must not be negative");
      else
        opts.max_snapshot_bytes = static_cast<std::uint64_t>(v.as_integer());
    }
    if (t.contains("max_readers"))
      opts.max_readers = toml::find<unsigned>(t, "max_readers");
    if (t.contains("kek_file"))
      opts.kek_file = toml::find<std::string>(t, "kek_file");
    if (t.contains("denied_log_max_bytes")) {
      const auto& v = toml::find(t, "denied_log_max_bytes");
      if (v.is_string())
        opts.denied_log_max_bytes =
            size_or_exit(path + ": denied_log_max_bytes", toml::get<std::string>(v));
      else if (v.as_integer() < 0)
        usage_error(path + ": denied_log_max_bytes must not be negative");
      else
        opts.denied_log_max_bytes = static_cast<std::uint64_t>(v.as_integer());
    }
    if (t.contains("denied_log_rate"))
      opts.denied_log_rate = toml::find<std::uint64_t>(t, "denied_log_rate");
    if (t.contains("join"))
      opts.join = toml::find<bool>(t, "join");
    if (t.contains("bootstrap_token_hash"))
      opts.bootstrap_token_hash = toml::find<std::string>(t, "bootstrap_token_hash");
    if (t.contains("bootstrap_principal"))
      opts.bootstrap_principal = toml::find<std::string>(t, "bootstrap_principal");
    if (t.contains("default_rate"))
      opts.default_rate = toml::find<std::uint64_t>(t, "default_rate");
    if (t.contains("rate_buckets"))
      opts.rate_buckets = toml::find<std::size_t>(t, "rate_buckets");
    if (t.contains("idle_timeout"))
      s.idle_timeout = toml::find<std::int64_t>(t, "idle_timeout");
    if (t.contains("handshake_timeout"))
      s.handshake_timeout = toml::find<std::int64_t>(t, "handshake_timeout");
    if (t.contains("tls_dir"))
      tls.dir = toml::find<std::string>(t, "tls_dir");
    if (t.contains("tls_cert"))
      tls.cert = toml::find<std::string>(t, "tls_cert");
    if (t.contains("tls_key"))
      tls.key = toml::find<std::string>(t, "tls_key");
    if (t.contains("tls_ca"))
      tls.ca = toml::find<std::string>(t, "tls_ca");
    if (t.contains("insecure_plaintext"))
      tls.insecure_plaintext = toml::find<bool>(t, "insecure_plaintext");
    if (t.contains("peers")) {
      for (auto& [k, v] : toml::find<toml::table>(t, "peers")) {
        auto id = parse_id(k);
        if (!id)
          usage_error(path + ": [peers] key '" + k + "' is not a node id");
        opts.peers[*id] = toml::get<std::string>(v);
      }
    }
  } catch (const std::exception& e) {
    usage_error("cannot read config file " + path + ": " + e.what());
  }
}

/// The flags as given (empty / unset when not given).
struct node_flags {
  std::string config_file, id, listen, data, peers, cluster_id, max_db_size,
      max_snapshot_bytes, kek_file;
  tls_choice tls;
  std::optional<std::uint64_t> snapshot_entries, snapshot_bytes;
  std::optional<std::int64_t> idle_timeout, handshake_timeout;
  std::optional<unsigned> max_readers;
  std::optional<std::size_t> max_sessions_per_connection, max_sessions,
      max_requests_in_flight, max_pending_proposals;
  std::optional<std::uint64_t> session_idle_timeout;
  std::string max_reply_bytes;
  std::string bootstrap_token_hash, bootstrap_principal;
  std::optional<std::uint64_t> default_rate;
  std::optional<std::size_t> rate_buckets;
  std::string denied_log_max_bytes;
  std::optional<std::uint64_t> denied_log_rate;
  std::string fault_clock_offset_file;
  std::int64_t watch_history = -1, watch_backlog = -1;
  bool join = false;
};

void add_flags(CLI::App& app, node_flags& f, launch_settings& s) {
  app.add_option("--config", f.config_file, "TOML config file (see config/)");
  app.add_option("--id", f.id, "this node's Raft id, a positive integer (default 1)");
  app.add_option("--listen", f.listen,
                 "HOST:PORT to listen on (default 127.0.0.1:7101)");
  app.add_option("--data", f.data, "data directory (default ./conflux-data)");
  app.add_option(
      "--peers", f.peers,
      "every initial member, this one included: 1=HOST:PORT,2=HOST:PORT,...");
  app.add_option("--cluster-id", f.cluster_id,
                 "cluster name stored in the data dir (default conflux)");
  app.add_option("--log-level", s.log_level,
                 "trace|debug|info|warn|error (default info)");
  app.add_option("--watch-history", f.watch_history,
                 "changes the watch hub keeps for resume (default 10000)");
  app.add_option("--watch-backlog", f.watch_backlog,
                 "unacknowledged events after which a slow watcher is cut off "
                 "(default 10000)");
  app.add_option("--snapshot-entries", f.snapshot_entries,
                 "take a snapshot and compact the log every N applied entries "
                 "(default 10000, 0 = never by count)");
  app.add_option("--snapshot-bytes", f.snapshot_bytes,
                 "... or once the log holds B bytes after the last snapshot "
                 "(default 67108864, 0 = never by size)");
  app.add_option("--max-db-size", f.max_db_size,
                 "largest size of each of the two databases (log, state), e.g. 64GiB, "
                 "512MiB or bytes (default 64GiB, at least 1MiB)");
  app.add_option("--max-snapshot-bytes", f.max_snapshot_bytes,
                 "largest snapshot this node takes from a leader, e.g. 4GiB "
                 "(default 4GiB, at least 1MiB; --max-db-size when that is smaller)");
  app.add_option("--max-readers", f.max_readers,
                 "concurrent read transactions of the state database (default 126)");
  app.add_option("--kek-file", f.kek_file,
                 "key-encryption keys for secret configs: id:<64 hex digits> lines, "
                 "the first is current; mode 0600 (config key kek_file)");
  app.add_option("--idle-timeout", f.idle_timeout,
                 "close a connection over which no message but heartbeats went either "
                 "way for SECONDS (default 600, 0 = never; config key idle_timeout)");
  app.add_option("--handshake-timeout", f.handshake_timeout,
                 "close a connection that has not finished its TLS and BASP handshakes "
                 "within SECONDS (default 10, 1 to 300; config key handshake_timeout)");
  app.add_option("--max-sessions-per-connection", f.max_sessions_per_connection,
                 "client sessions one client process may hold on this node "
                 "(default 64)");
  app.add_option("--max-sessions", f.max_sessions,
                 "client sessions this node holds at once (default 4096)");
  app.add_option("--max-requests-in-flight", f.max_requests_in_flight,
                 "requests one client session may have waiting for an answer "
                 "(default 256)");
  app.add_option("--max-pending-proposals", f.max_pending_proposals,
                 "writes a leader holds proposed but not yet applied (default 4096)");
  app.add_option("--max-reply-bytes", f.max_reply_bytes,
                 "largest reply to a client: list pages, watch batches, a resync, "
                 "e.g. 8MiB (default 8MiB, 1KiB to 16MiB)");
  app.add_option("--denied-log-max-bytes", f.denied_log_max_bytes,
                 "size at which <data>/audit-denied.log (denied hellos and reads) is "
                 "rotated to .1, e.g. 64MiB (default 64MiB, at least 4KiB)");
  app.add_option("--denied-log-rate", f.denied_log_rate,
                 "lines per second <data>/audit-denied.log takes at most (bursts of as "
                 "many); refusals past it are counted as audit.denied.dropped, not "
                 "written (default 50, at least 1; config key denied_log_rate)");
  app.add_option("--fault-clock-offset-file", f.fault_clock_offset_file,
                 "FAULT INJECTION ONLY (conflux-chaos): add the signed milliseconds "
                 "written in this file to the node's wall clock, re-read every 20 ms; "
                 "never set it in production");
  app.add_option("--session-idle-timeout", f.session_idle_timeout,
                 "seconds after which a client session that sent nothing and has no "
                 "watch is closed (default 600)");
  app.add_option("--bootstrap-token-hash", f.bootstrap_token_hash,
                 "SHA-256 (hex) of the first admin token, as `conflux auth "
                 "bootstrap-token` prints it; the first leader of a cluster that was "
                 "never bootstrapped creates that principal (config key "
                 "bootstrap_token_hash)");
  app.add_option("--bootstrap-principal", f.bootstrap_principal,
                 "name of the principal the bootstrap creates (default admin; config "
                 "key bootstrap_principal)");
  app.add_option("--default-rate", f.default_rate,
                 "requests per second each principal may send per tenant on this "
                 "node, for tenants without their own rate (default 1000; config key "
                 "default_rate)");
  app.add_option("--rate-buckets", f.rate_buckets,
                 "request-rate buckets (principal, tenant) this node keeps at most, "
                 "the least recently used dropped (default 65536; config key "
                 "rate_buckets)");
  app.add_option("--tls-dir", f.tls.dir,
                 "directory with node.crt, node.key and ca.crt, as `conflux-cert node` "
                 "makes it (config key tls_dir)");
  app.add_option("--tls-cert", f.tls.cert,
                 "this node's certificate (PEM), over --tls-dir");
  app.add_option("--tls-key", f.tls.key,
                 "this node's private key (PEM), over --tls-dir");
  app.add_option("--tls-ca", f.tls.ca,
                 "the cluster CA certificate (PEM), over --tls-dir");
  app.add_flag("--insecure-plaintext", f.tls.insecure_plaintext,
               "no TLS: plain text without encryption or peer authentication, "
               "allowed only when --listen and every peer are loopback addresses");
  app.add_flag(
      "--join", f.join,
      "start empty and wait to be added to a running cluster by `conflux cluster "
      "add ID HOST:PORT` (--peers optional)");
}

/// Applies the flags that were given over the config file's settings; exits
/// 2 on a malformed value.
void apply_flags(const node_flags& f, node_options& opts) {
  if (!f.id.empty()) {
    auto n = parse_id(f.id);
    if (!n)
      usage_error("--id '" + f.id +
                  "' is not a node id: node ids are positive integers (1, 2, ...)");
    opts.id = *n;
  }
  if (!f.listen.empty())
    opts.listen = f.listen;
  if (!f.data.empty())
    opts.data_dir = f.data;
  if (!f.cluster_id.empty())
    opts.cluster_id = f.cluster_id;
  if (f.snapshot_entries)
    opts.snapshot_entries = *f.snapshot_entries;
  if (f.snapshot_bytes)
    opts.snapshot_bytes = *f.snapshot_bytes;
  if (!f.max_db_size.empty())
    opts.max_db_size = size_or_exit("--max-db-size", f.max_db_size);
  if (!f.max_snapshot_bytes.empty())
    opts.max_snapshot_bytes =
        size_or_exit("--max-snapshot-bytes", f.max_snapshot_bytes);
  if (f.max_readers)
    opts.max_readers = *f.max_readers;
  if (f.max_sessions_per_connection)
    opts.max_sessions_per_connection = *f.max_sessions_per_connection;
  if (!f.kek_file.empty())
    opts.kek_file = f.kek_file;
  if (f.max_sessions)
    opts.max_sessions = *f.max_sessions;
  if (f.max_requests_in_flight)
    opts.max_requests_in_flight = *f.max_requests_in_flight;
  if (f.max_pending_proposals)
    opts.max_pending_proposals = *f.max_pending_proposals;
  if (!f.max_reply_bytes.empty())
    opts.max_reply_bytes = size_or_exit("--max-reply-bytes", f.max_reply_bytes);
  if (!f.denied_log_max_bytes.empty())
    opts.denied_log_max_bytes =
        size_or_exit("--denied-log-max-bytes", f.denied_log_max_bytes);
  if (opts.denied_log_max_bytes < conflux::actors::denied_log::min_max_bytes)
    usage_error("--denied-log-max-bytes must be at least 4KiB");
  if (f.denied_log_rate)
    opts.denied_log_rate = *f.denied_log_rate;
  opts.fault_clock_offset_file = f.fault_clock_offset_file;
  if (f.session_idle_timeout)
    opts.session_idle_timeout = std::chrono::seconds(*f.session_idle_timeout);
  if (f.join)
    opts.join = true;
  if (!f.bootstrap_token_hash.empty())
    opts.bootstrap_token_hash = f.bootstrap_token_hash;
  if (!f.bootstrap_principal.empty())
    opts.bootstrap_principal = f.bootstrap_principal;
  if (f.default_rate)
    opts.default_rate = *f.default_rate;
  if (f.rate_buckets)
    opts.rate_buckets = *f.rate_buckets;
  if (!f.peers.empty())
    opts.peers = parse_peers(f.peers);
  if (f.watch_history == 0 || f.watch_history < -1)
    usage_error("--watch-history must be a positive integer");
  if (f.watch_backlog == 0 || f.watch_backlog < -1)
    usage_error("--watch-backlog must be a positive integer");
  if (f.watch_history > 0)
    opts.watch_history = static_cast<std::size_t>(f.watch_history);
  if (f.watch_backlog > 0)
    opts.watch_backlog = static_cast<std::size_t>(f.watch_backlog);
}

/// The node's transport from the config file's and the flags' choices
/// (flags win); exits 2 when there is none or they conflict.
conflux::actors::transport_settings resolve_transport(const tls_choice& file,
                                                      const tls_choice& flags) {
  auto pick = [](const std::string& flag, const std::string& from_file) {
    return flag.empty() ? from_file : flag;
  };
  tls_choice c{pick(flags.dir, file.dir), pick(flags.cert, file.cert),
               pick(flags.key, file.key), pick(flags.ca, file.ca),
               flags.insecure_plaintext || file.insecure_plaintext};
  bool any_tls = !c.dir.empty() || !c.cert.empty() || !c.key.empty() || !c.ca.empty();
  conflux::actors::transport_settings t;
  if (c.insecure_plaintext) {
    if (any_tls)
      usage_error("--insecure-plaintext and TLS credentials (--tls-dir, --tls-cert, "
                  "--tls-key, --tls-ca) exclude each other; give one of them");
    t.insecure_plaintext = true;
    return t;
  }
  if (!any_tls)
    usage_error("no TLS credentials: give --tls-dir DIR (config key tls_dir) with "
                "node.crt, node.key and ca.crt made by `conflux-cert node` "
                "(docs/security.md); on loopback only, --insecure-plaintext runs "
                "without TLS");
  if (!c.dir.empty())
    t = conflux::actors::tls_in_dir(c.dir, "node");
  t.is_node = true;
  t.cert_file = pick(c.cert, t.cert_file);
  t.key_file = pick(c.key, t.key_file);
  t.ca_file = pick(c.ca, t.ca_file);
  return t;
}

/// Reads the flags and the config file into launch settings. Returns an exit
/// code when there is nothing to start (--help: 0); exits 2 on bad input.
std::optional<int> parse(int argc, char** argv, launch_settings& s) {
  node_flags f;
  CLI::App app{"conflux-node: one node of a Conflux configuration cluster"};
  add_flags(app, f, s);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_stopped : exit_refused;
  }
  auto& opts = s.opts;
  bool listen_given = !f.listen.empty();
  tls_choice file_tls;
  if (!f.config_file.empty())
    load_config_file(f.config_file, s, listen_given, file_tls);
  apply_flags(f, opts);
  if (opts.peers.empty() && !opts.join)
    opts.peers[opts.id] = opts.listen;
  else if (!listen_given && opts.peers.count(opts.id))
    // --listen defaults to this node's own --peers entry.
    opts.listen = opts.peers[opts.id];
  if (auto st = conflux::actors::check_node_options(opts); !st.ok())
    usage_error(st.err().message);
  opts.transport = resolve_transport(file_tls, f.tls);
  opts.transport.cluster_id = opts.cluster_id;
  if (auto st = conflux::actors::check_node_transport(opts); !st.ok())
    usage_error(st.err().message);
  if (auto idle = f.idle_timeout ? f.idle_timeout : s.idle_timeout) {
    if (*idle < 0)
      usage_error("--idle-timeout must be 0 (never) or a number of seconds, e.g. 600");
    opts.transport.idle_timeout = std::chrono::seconds(*idle);
  }
  if (auto hs = f.handshake_timeout ? f.handshake_timeout : s.handshake_timeout) {
    if (*hs < 1 || *hs > 300)
      usage_error("--handshake-timeout must be 1 to 300 seconds (default 10)");
    opts.transport.handshake_timeout = std::chrono::seconds(*hs);
  }
  if (opts.transport.tls()) {
    // The whole credential triple, checked before CAF sees it: a bad file is
    // this one line and exit 2, never a failure at the first connection.
    auto creds = conflux::actors::load_credentials(
        opts.transport.cert_file, opts.transport.key_file, opts.transport.ca_file,
        opts.cluster_id, conflux::actors::expected_holder::node(opts.id));
    if (!creds.ok()) {
      auto msg = "TLS credentials refused: " + conflux::actors::to_string(creds.err());
      // Right certificates, mistyped cluster id: say which to fix.
      if (creds.err().problem == conflux::actors::cert_problem::wrong_cluster)
        msg += "; or, if these are this cluster's certificates, --cluster-id (config "
               "key cluster_id) '" +
               opts.cluster_id + "' is wrong: give the cluster id they name";
      usage_error(msg);
    }
  }
  return std::nullopt;
}

// -- open -------------------------------------------------------------------

void start_logging(const launch_settings& s) {
  auto lvl = spdlog::level::from_str(s.log_level);
  if (lvl == spdlog::level::off && s.log_level != "off")
    usage_error("--log-level '" + s.log_level +
                "' is not one of trace|debug|info|warn|error");
  auto logger = spdlog::stderr_color_mt("conflux");
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [node " + std::to_string(s.opts.id) +
                      "] %v");
}

/// What is wrong with the host of a listen address, "" if nothing: an IP
/// literal must be a valid address, a name must resolve.
std::string check_listen_host(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  if (host.find(':') != std::string::npos) {
    if (::inet_pton(AF_INET6, host.c_str(), buf) != 1)
      return "'" + host + "' is not a valid IPv6 address";
    return "";
  }
  if (host.find_first_not_of("0123456789.") == std::string::npos) {
    if (::inet_pton(AF_INET, host.c_str(), buf) != 1)
      return "'" + host +
             "' is not a valid IPv4 address (four numbers from 0 to 255, e.g. "
             "127.0.0.1)";
    return "";
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (found)
    ::freeaddrinfo(found);
  if (rc != 0)
    return "the host name '" + host + "' does not resolve (" + ::gai_strerror(rc) +
           "); use an address of this machine, e.g. 127.0.0.1";
  return "";
}

/// Binds a throwaway socket to `ep` the way the middleman will (SO_REUSEADDR)
/// and says why that fails, "" if it does not.
std::string probe_bind(const conflux::actors::endpoint& ep) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  auto port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return "the host name '" + ep.host + "' does not resolve (" + ::gai_strerror(rc) +
           ")";
  int err = 0;
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = ::bind(fd, a->ai_addr, a->ai_addrlen);
    err = rc == 0 ? 0 : errno;
    ::close(fd);
    if (rc == 0)
      break;
  }
  ::freeaddrinfo(found);
  auto where = ep.to_string();
  switch (err) {
  case 0:
    return "";
  case EADDRINUSE:
    return "cannot listen on " + where + ": port " + port +
           " is in use (is another process using the port?)";
  case EADDRNOTAVAIL:
    return "cannot listen on " + where + ": " + ep.host +
           " is not an address of this machine; listen on one of its own addresses "
           "(e.g. 127.0.0.1, or 0.0.0.0 for all)";
  case EACCES:
    return "cannot listen on " + where + ": port " + port +
           " needs privileges this process lacks; choose a port above 1023";
  default:
    return "cannot listen on " + where + ": " + std::strerror(err);
  }
}

/// "2026-12-07 15:04:05 UTC" for seconds since the epoch.
std::string format_utc(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

/// A node's actor system and actors, from open() until stop().
class running_node {
public:
  /// Checks the listen address, then opens the data dir and starts the
  /// node's actors. Returns the exit code when that fails (the reason is on
  /// stderr).
  std::optional<int> open(const node_options& opts) {
    auto ep = *conflux::actors::parse_endpoint(opts.listen);
    if (auto why = check_listen_host(ep.host); !why.empty())
      usage_error("--listen " + opts.listen + ": " + why);
    if (auto why = probe_bind(ep); !why.empty())
      usage_error(why);
    conflux::actors::configure_remoting(cfg_, opts.transport);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    if (auto st = conflux::actors::start_transport(*sys_, opts.transport); !st.ok()) {
      std::cerr << "conflux-node: " << st.err().message << "\n";
      return stop(exit_refused);
    }
    conflux::actors::log_remoting_settings(sys_->config(), "conflux-node");
    if (opts.transport.tls())
      spdlog::info("transport: mutual TLS (certificate {}, CA {})",
                   opts.transport.cert_file, opts.transport.ca_file);
    else
      spdlog::warn("transport: INSECURE plain text (--insecure-plaintext): no "
                   "encryption and no peer authentication; loopback addresses only");
    auto node = conflux::actors::start_node(*sys_, opts);
    if (!node.ok()) {
      std::cerr << "conflux-node: " << node.err().message << "\n";
      return stop(exit_refused);
    }
    node_ = std::move(*node);
    return std::nullopt;
  }

  /// Publishes the node, then waits for SIGINT/SIGTERM (exit 0) or a failure
  /// of the node (exit 1), and stops it.
  int serve(const node_options& opts, const sigset_t& stop_signals) {
    auto ep = *conflux::actors::parse_endpoint(opts.listen);
    auto port = conflux::actors::publish_actor(
        *sys_, caf::actor_cast<caf::strong_actor_ptr>(node_->endpoint),
        sys_->message_types(node_->endpoint), ep.port, ep.host);
    if (!port) {
      auto why = probe_bind(ep);
      std::cerr << "conflux-node: "
                << (why.empty() ? "cannot listen on " + opts.listen + ": " +
                                      sys_->render(port.error())
                                : why)
                << "\n";
      return stop(exit_refused);
    }
    if (opts.join)
      spdlog::info("node {} of cluster '{}' listening on {}, waiting to be added "
                   "(conflux cluster add {} {})",
                   opts.id, opts.cluster_id, opts.listen, opts.id, opts.listen);
    else
      spdlog::info("node {} of cluster '{}' listening on {} with {} member(s)", opts.id,
                   opts.cluster_id, opts.listen, opts.peers.size());
    int exit_code = exit_stopped;
    for (;;) {
      timespec wait{0, 100'000'000};
      int sig = sigtimedwait(&stop_signals, nullptr, &wait);
      if (sig == SIGHUP) {
        reload_credentials(opts);
        continue;
      }
      if (sig == SIGINT || sig == SIGTERM) {
        spdlog::info("node {} got {}, shutting down", opts.id, strsignal(sig));
        break;
      }
      // -1 is a timeout or EINTR (SIGSTOP/SIGCONT interrupt the wait): go on.
      if (node_->ctx->failure.failed()) {
        std::cerr << "conflux-node: stopping: " << node_->ctx->failure.message()
                  << "\n";
        exit_code = exit_failed;
        break;
      }
    }
    conflux::actors::unpublish_actor(*sys_, node_->endpoint.address(), *port);
    auto code = stop(exit_code);
    spdlog::info("node {} stopped", opts.id);
    return code;
  }

  /// SIGHUP: checks the credential files again and, if they pass, makes TLS
  /// use them for new connections (open ones keep theirs). A file that fails
  /// the check changes nothing; either way one log line says what happened.
  void reload_credentials(const node_options& opts) {
    const auto& t = opts.transport;
    if (!t.tls()) {
      spdlog::info("SIGHUP: nothing to reload (plain text, no credentials)");
      return;
    }
    auto creds = conflux::actors::load_credentials(
        t.cert_file, t.key_file, t.ca_file, opts.cluster_id,
        conflux::actors::expected_holder::node(opts.id));
    if (!creds.ok()) {
      spdlog::error("SIGHUP: kept the current TLS credentials: {}",
                    conflux::actors::to_string(creds.err()));
      return;
    }
    if (auto err = sys_->openssl_manager().reload_credentials()) {
      spdlog::error("SIGHUP: kept the current TLS credentials: {}", sys_->render(err));
      return;
    }
    spdlog::info("SIGHUP: reloaded the TLS credentials ({}, valid until {}); new "
                 "connections use them",
                 t.cert_file, format_utc(creds->not_after));
  }

  /// Stops the node's actors and the actor system and returns `code`. A
  /// watchdog bounds it: a node that cannot stop within 10 s (an actor or a
  /// connection stuck) exits hard, which is as safe as a crash (nothing
  /// unacknowledged is promised).
  int stop(int code) {
    std::mutex mtx;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lock{mtx};
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; })) {
        std::fprintf(stderr, "conflux-node: did not stop within 10 s; exiting now\n");
        std::_Exit(code == exit_stopped ? exit_failed : code);
      }
    });
    if (node_) {
      node_->ctx->stopping.store(true);
      caf::anon_send_exit(node_->supervisor, caf::exit_reason::user_shutdown);
      {
        caf::scoped_actor self{*sys_};
        self->wait_for(node_->supervisor);
      }
      // Handles must not outlive the actor system.
      node_.reset();
    }
    sys_.reset();
    {
      std::lock_guard<std::mutex> guard{mtx};
      done = true;
    }
    cv.notify_one();
    watchdog.join();
    return code;
  }

private:
  // The actor system keeps a reference to its config: cfg_ outlives sys_.
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::optional<conflux::actors::node_handles> node_;
};

/// std::terminate (an uncaught exception, a pure virtual call) would abort
/// with one line from the runtime and nothing else; print the stack first so
/// that the node log says where (`addr2line -e conflux-node -f -C OFFSET`).
[[noreturn]] void terminate_with_backtrace() {
  static const char head[] = "conflux-node: terminating; stack:\n";
  auto unused = ::write(2, head, sizeof head - 1);
  (void)unused;
  void* frames[64];
  int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, 2);
  std::abort();
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and returns them. Called before
/// any CAF thread exists, so that all inherit the mask and serve() collects
/// the signals with sigtimedwait.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

} // namespace

int main(int argc, char** argv) {
  std::set_terminate(terminate_with_backtrace);
  const auto stop_signals = block_stop_signals();
  launch_settings settings;
  if (auto code = parse(argc, argv, settings))
    return *code;
  start_logging(settings);
  running_node node;
  if (auto code = node.open(settings.opts))
    return *code;
  return node.serve(settings.opts, stop_signals);
}
