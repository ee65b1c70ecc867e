#pragma once
// What the TLS tests share: actor systems with the middleman and the openssl
// module of our CAF build, configured with certificates from test_certs.hpp and
// talking on 127.0.0.1; plain sockets and plain OpenSSL clients and servers
// that play a misbehaving or foreign peer; and bounded waits. Everything here
// uses only what the upstream openssl module offers, so that each test file
// depends on no more of our CAF patches than the one it covers.

#include "tests/tls/test_certs.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <openssl/ssl.h>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace conflux::tls_test {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// The longest any test waits for something that should happen at once.
constexpr auto patience = 10s;

/// Polls `done` every 10 ms until it holds or `limit` has passed; returns
/// whether it held.
bool eventually(const std::function<bool()>& done,
                clock_type::duration limit = patience);

/// The files a node's `openssl.*` settings name.
struct tls_files {
  std::string certificate;
  std::string key;
  std::string cafile;
  std::string passphrase;
};

/// Writes a leaf certificate of `issuer` (as `spec` says) and the certificate
/// of `trusted` as the CA file into `dir`, the names starting with `name`.
tls_files write_credentials(const temp_dir& dir, const std::string& name,
                            const test_ca& issuer, const leaf_spec& spec,
                            const test_ca& trusted);

/// Adjusts a node's configuration before its actor system starts.
using settings = std::function<void(caf::actor_system_config&)>;

/// An actor system with the middleman and the openssl module, its `openssl.*`
/// settings naming `files` (left unset where a file name is empty).
class tls_node {
public:
  explicit tls_node(const tls_files& files, const settings& extra = {});
  ~tls_node();
  tls_node(const tls_node&) = delete;
  tls_node& operator=(const tls_node&) = delete;

  caf::actor_system& sys() { return *sys_; }
  caf::openssl::manager& tls() { return sys_->openssl_manager(); }

  /// Spawns an actor that lives until this node stops.
  template <class... Ts>
  caf::actor spawn(Ts&&... xs) {
    auto result = caf::actor_cast<caf::actor>(sys_->spawn(std::forward<Ts>(xs)...));
    owned_.push_back(result);
    return result;
  }

  /// Publishes `whom` over TLS on a free port of 127.0.0.1.
  caf::expected<uint16_t> publish(const caf::actor& whom);

  /// Spawns an actor that answers an integer with the same integer and
  /// publishes it over TLS on a free port of 127.0.0.1.
  caf::expected<uint16_t> publish_echo();

  /// Connects over TLS to the actor published at 127.0.0.1:`port`, waiting
  /// at most `limit` for the TLS and BASP handshakes.
  caf::expected<caf::actor> dial(uint16_t port,
                                 caf::timespan limit = caf::timespan{patience});

  /// Sends `x` to `echo` and waits at most `limit` for the same number back.
  bool echoes(const caf::actor& echo, int x, caf::timespan limit = caf::timespan{5s});

  /// Renders `err` the way this node's actor system does.
  std::string render(const caf::error& err) { return sys_->render(err); }

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::vector<caf::actor> owned_;
};

/// A plain TCP connection to 127.0.0.1:`port` that sends nothing.
class raw_socket {
public:
  explicit raw_socket(uint16_t port);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }

  /// Whether the peer closes the connection (or resets it) within `limit`;
  /// bytes the peer sends meanwhile are read and ignored.
  bool closed_by_peer_within(clock_type::duration limit);

  /// Closes the connection now.
  void close();

private:
  int fd_ = -1;
};

/// What a plain OpenSSL peer presents and accepts; an empty file name means
/// no certificate (or no trusted CA).
struct raw_tls_options {
  tls_files files;
  /// The highest protocol version this peer speaks, e.g. TLS1_2_VERSION; 0
  /// for OpenSSL's default.
  int max_version = 0;
};

/// A TLS client made with plain OpenSSL on a blocking socket with timeouts: a
/// peer that does TLS (or tries to) and then whatever the test makes it do.
class raw_tls_client {
public:
  raw_tls_client(uint16_t port, const raw_tls_options& opts);
  ~raw_tls_client();
  raw_tls_client(const raw_tls_client&) = delete;
  raw_tls_client& operator=(const raw_tls_client&) = delete;

  /// Runs the TLS handshake; returns whether it completed. In TLS 1.3 a
  /// server that refuses the client's certificate says so only afterwards:
  /// use `closed_by_peer_within` to see that.
  bool handshake();

  /// The OpenSSL error of the last failed call.
  const std::string& last_error() const { return last_error_; }

  bool write_all(const std::vector<char>& bytes);

  /// Reads exactly `n` bytes within `limit`; returns nothing on EOF, error
  /// or timeout.
  std::optional<std::vector<char>> read_exactly(size_t n, clock_type::duration limit);

  /// Whether the peer closes the TLS connection (or the socket) within
  /// `limit`; application data meanwhile is read and ignored.
  bool closed_by_peer_within(clock_type::duration limit);

  int fd() const { return socket_.fd(); }

  /// This end's port, as the server sees it in the client's address.
  uint16_t local_port() const;

private:
  raw_socket socket_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string last_error_;
};

/// A TLS server made with plain OpenSSL: listens on a free port of 127.0.0.1
/// and runs the TLS handshake with the first client, on its own thread.
class raw_tls_server {
public:
  explicit raw_tls_server(const raw_tls_options& opts);
  ~raw_tls_server();
  raw_tls_server(const raw_tls_server&) = delete;
  raw_tls_server& operator=(const raw_tls_server&) = delete;

  uint16_t port() const { return port_; }

  /// Waits at most `limit` for the handshake with the first client to end;
  /// returns whether it completed (nothing if no client came or it is still
  /// running).
  std::optional<bool> handshake_result(clock_type::duration limit);

  /// Closes the client connection and stops the thread.
  void stop();

private:
  int listener_ = -1;
  uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> result_{-1}; // -1: pending, 0: failed, 1: completed
};

/// A TCP server on a free port of 127.0.0.1 that accepts connections and never
/// sends a byte (a peer that hangs mid-handshake).
class silent_server {
public:
  silent_server();
  ~silent_server();
  silent_server(const silent_server&) = delete;
  silent_server& operator=(const silent_server&) = delete;

  uint16_t port() const { return port_; }

private:
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

} // namespace conflux::tls_test
