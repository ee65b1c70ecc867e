#pragma once
// What tests/apps/cli_client_test.cpp runs the CLI against, all on loopback
// with free ports: closed ports, a plain TCP server that is no Conflux node,
// and a fake node (a CAF actor published the way conflux-node publishes its
// endpoint) whose client sessions answer as a test needs. Each object stops
// what it started when it goes out of scope. No CAF in this header.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace conflux::actors {
class client_runtime;
} // namespace conflux::actors

namespace conflux::clitest {

enum class ip_family { v4, v6 };

/// A port on 127.0.0.1 (or ::1) that nothing listens on: bound, then closed.
std::uint16_t closed_port(ip_family family = ip_family::v4);

/// A plain TCP server on loopback: it answers every connection with
/// `greeting` (nothing if empty), then closes it or holds it open silently.
class plain_server {
public:
  enum class then { close, hold };
  plain_server(std::string greeting, then after, ip_family family = ip_family::v4);
  ~plain_server();
  plain_server(const plain_server&) = delete;
  plain_server& operator=(const plain_server&) = delete;
  /// "127.0.0.1:PORT" or "[::1]:PORT".
  std::string endpoint() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// What the fake node's client sessions do with a write request.
enum class write_mode {
  /// Answer every request: writes applied, membership changes made, status.
  answer,
  /// Never answer a write, not even the one that opens a write session.
  silent,
  /// Open write sessions, never answer the writes sent in them.
  open_sessions_only,
  /// Open write sessions; answer the writes sent in them as a leader whose
  /// leadership ended while they were pending: outcome unknown (timeout),
  /// naming the node `leader_elsewhere` as the new leader.
  lost_leadership,
  /// Refuse every session (client_hello) as a node at its session limit.
  full,
};

/// A Conflux node as far as a client can tell: its endpoint actor hands out
/// sessions; status says it leads a one-member cluster; membership changes
/// succeed; reads answer not_found.
class fake_node {
public:
  explicit fake_node(write_mode mode, ip_family family = ip_family::v4,
                     std::string leader_elsewhere = {});
  ~fake_node();
  fake_node(const fake_node&) = delete;
  fake_node& operator=(const fake_node&) = delete;
  std::string endpoint() const;
  /// Write requests that reached a session of this node.
  std::size_t writes_seen() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// One run of the CLI through the real client.
struct cli_run {
  int code = -1;
  std::string out;
  std::string err;
  std::chrono::milliseconds took{0};
  std::string describe() const;
};

/// Parses `args` (which must parse) and executes them with a client of the
/// test process's runtime, as the `conflux` binary does.
cli_run run_cli(std::vector<std::string> args);

/// The client runtime of the test process (created on first use).
actors::client_runtime& client_runtime();

/// Stops the client runtime and the fake nodes' actor system (before exit).
void shutdown_actor_systems();

} // namespace conflux::clitest
