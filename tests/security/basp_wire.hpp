#pragma once
// A raw BASP peer for the security tests: a TCP socket (plain, or TLS 1.3
// through OpenSSL with whatever certificate the attack is given) plus
// hand-made BASP frames, no middleman. It speaks just enough of CAF 0.17.6's Binary
// Actor System Protocol to attack a node: the 32-byte header, the handshake
// and crafted payloads. One raw_connection is owned by one attack; nothing
// here is shared between threads.
//
// The header (caf/io/basp/header.hpp in the CAF build) is big-endian:
//   u8 operation, u8 pad, u8 pad, u8 flags, u32 payload_len,
//   u64 operation_data, u64 source_actor, u64 dest_actor.
// Payloads use CAF's binary serialization: the payload builders (basp_forge)
// keep CAF out of this header; node ids travel between them as the bytes of
// their serialized form.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace conflux::security {

using ms = std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

/// Raw bytes of a frame or a part of one.
using bytes = std::string;

/// BASP operations (caf/io/basp/message_type.hpp).
enum class basp_op : std::uint8_t {
  server_handshake = 0,
  client_handshake = 1,
  direct_message = 2,
  routed_message = 3,
  monitor_message = 4,
  down_message = 5,
  heartbeat = 6,
};

constexpr std::size_t basp_header_size = 32;

/// TLS for a raw connection. The attacker presents `cert_file` / `key_file`
/// (both empty: no certificate at all) and never checks the node's
/// certificate: the attacks are about what the node accepts.
struct tls_client {
  std::string cert_file;
  std::string key_file;
};

/// Why a connection or a BASP greeting failed.
struct dial_failure {
  std::string reason;
  /// The node refused the TLS handshake (an alert, or it closed the
  /// connection before the first byte of BASP).
  bool tls_refused = false;
};

struct basp_header {
  basp_op op = basp_op::heartbeat;
  std::uint8_t flags = 0;
  std::uint32_t payload_len = 0;
  std::uint64_t operation_data = 0;
  std::uint64_t source_actor = 0;
  std::uint64_t dest_actor = 0;
};

/// The 32 bytes of `h`.
bytes encode(const basp_header& h);
/// The header in the first 32 bytes of `b`. REQUIRES: b.size() >= 32.
basp_header decode_header(const bytes& b);
/// A frame: the header of `h` with payload_len set to payload.size(), then
/// the payload.
bytes frame(basp_header h, const bytes& payload);

/// Message ids as BASP carries them in operation_data (caf/message_id.hpp).
constexpr std::uint64_t async_message_id = 0x1000000000000000;
constexpr std::uint64_t request_message_id(std::uint64_t n) {
  return async_message_id | n;
}
constexpr bool is_response_to(std::uint64_t operation_data, std::uint64_t n) {
  return (operation_data & 0x8000000000000000) != 0 &&
         (operation_data & 0x0FFFFFFFFFFFFFFF) == n;
}

/// One TCP connection to a node, plain or TLS, with reads bounded in time.
class raw_connection {
public:
  /// Connects to host:port within `limit`; with `tls`, also completes a TLS
  /// 1.3 handshake and waits (within `limit`) for the node's first bytes, so
  /// that a node that refuses the certificate after the handshake (TLS 1.3
  /// checks the client's certificate last) is seen as a refusal. nullptr if
  /// any of it fails; then `failure`, if given, says why.
  static std::unique_ptr<raw_connection> open(const std::string& host,
                                              std::uint16_t port, ms limit,
                                              const tls_client* tls = nullptr,
                                              dial_failure* failure = nullptr);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Sends all of `b`; false if the connection failed (e.g. the node closed it).
  bool send(const bytes& b);
  /// Reads exactly `n` bytes before `deadline`; nullopt on end of stream,
  /// error or time-out.
  std::optional<bytes> read_exactly(std::size_t n, clock::time_point deadline);
  /// Reads one frame (header and payload) before `deadline`.
  std::optional<std::pair<basp_header, bytes>> read_frame(clock::time_point deadline);
  /// Reads and discards whatever arrives until the node closes the
  /// connection. Returns how long that took, or nullopt if it was still open
  /// after `limit`.
  std::optional<ms> wait_closed(ms limit);

private:
  enum class io { done, want_read, want_write, closed };
  explicit raw_connection(int fd);
  /// One send or receive on the socket or through TLS; `n` is what moved.
  io send_some(const char* data, std::size_t len, std::size_t& n);
  io recv_some(char* data, std::size_t len, std::size_t& n);
  /// Waits for the socket to be ready for `what` until `deadline` (at once
  /// when TLS holds decrypted bytes already). False on time-out.
  bool wait_for(io what, clock::time_point deadline);
  bool tls_handshake(const tls_client& tls, clock::time_point deadline,
                     dial_failure* failure);

  int fd_ = -1;
  struct tls_state;
  std::unique_ptr<tls_state> tls_;
};

/// What a node says about itself in its server handshake.
struct node_hello {
  /// Its node id, serialized (feed it back to basp_forge).
  bytes node;
  /// The same, printable.
  std::string node_text;
  /// The id of the actor published at the port (Conflux's node endpoint).
  std::uint64_t published_actor = 0;
};

/// Builds payloads with CAF's binary serializer. Owns a small actor system
/// (no middleman) for the serializer's context, and a made-up node id that
/// this attacker claims in its handshakes.
class basp_forge {
public:
  basp_forge();
  ~basp_forge();
  basp_forge(const basp_forge&) = delete;
  basp_forge& operator=(const basp_forge&) = delete;

  /// This attacker's node id, serialized.
  const bytes& own_node() const;
  /// Another made-up node id, serialized: a node nobody is connected to.
  bytes stranger_node() const;
  /// Parses the payload of a server handshake.
  std::optional<node_hello> parse_server_handshake(const bytes& payload) const;
  /// The payload of a client handshake: own_node().
  bytes client_handshake() const;

  // -- the content of a direct message: stages, then a caf::message ----------

  /// Message content: an exit_msg (reason kill) from no one.
  bytes exit_message() const;
  /// Message content: a caf::error that answers no request.
  bytes error_message() const;
  /// Message content: a link request naming actor 1 of this attacker's node.
  bytes link_request() const;
  /// Message content: a down_msg saying that actor `aid` of node `node`
  /// (serialized) went down.
  bytes down_msg(const bytes& node, std::uint64_t aid) const;
  /// Message content: CAF's ('sys', 'get', "info") request, which every
  /// actor answers.
  bytes info_request() const;
  /// Message content: a caf::message holding a caf::message ... `depth`
  /// levels deep (15 bytes per level), hand-encoded without recursion.
  static bytes nested_message(std::size_t depth);
  /// Message content: a config_value list holding a list ... `depth` levels
  /// deep (2 bytes per level).
  static bytes nested_config_value(std::size_t depth);
  /// Message content: a std::vector<char> announcing `announced` bytes but
  /// holding only 16.
  static bytes byte_buffer(std::uint32_t announced);
  /// Message content: a config_value whose variant type tag is `tag` (the
  /// type has 9 alternatives, tags 0 to 8).
  static bytes config_value_with_tag(std::uint8_t tag);

  // -- payloads of other operations ------------------------------------------

  /// The prefix of a routed message's payload: source and destination node.
  static bytes node_pair(const bytes& source_node, const bytes& dest_node);
  /// The payload of a down operation: source node, destination node and an
  /// exit reason (kill).
  bytes down_operation(const bytes& source_node, const bytes& dest_node) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Connects to host:port and reads the node's server handshake.
struct greeted_connection {
  std::unique_ptr<raw_connection> conn;
  node_hello hello;
};
/// With `tls`, over TLS (raw_connection::open); `failure` says why not.
std::optional<greeted_connection>
connect_and_read_hello(const basp_forge& forge, const std::string& host,
                       std::uint16_t port, ms limit, const tls_client* tls = nullptr,
                       dial_failure* failure = nullptr);

/// connect_and_read_hello, then a client handshake claiming the forge's node:
/// from then on the node treats this connection as a peer node.
std::optional<greeted_connection> connect_as_peer(const basp_forge& forge,
                                                  const std::string& host,
                                                  std::uint16_t port, ms limit,
                                                  const tls_client* tls = nullptr,
                                                  dial_failure* failure = nullptr);

} // namespace conflux::security
