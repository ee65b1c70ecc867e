// Node identity on the Raft channel, against a real node speaking mutual TLS
// (docs/security.md): a process of its own, holding a client certificate or
// node 2's certificate, sends the node peer batches and snapshot chunks. A
// client identity, or a node identity claiming to be another node, is refused
// with permission_denied and counted; node 2's own traffic passes the identity
// check but node 2 is no member, so Raft drops it; and a snapshot from anyone
// but the leader the node follows is refused with not_leader, as is a chunk
// over 4 MiB with too_large.

#include "actors/endpoint.hpp"
#include "actors/interfaces.hpp"
#include "actors/peer_admission.hpp"
#include "actors/remoting.hpp"
#include "actors/transport.hpp"
#include "protocol/raft/wire.hpp"
#include "protocol/type_ids.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <caf/all.hpp>
#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <thread>

namespace conflux::itest {
namespace {

constexpr auto answer_limit = std::chrono::seconds(10);

/// An actor system of its own with the credentials of `dir`: it dials the
/// node as whoever its certificate names.
class foreign_peer {
public:
  foreign_peer(const std::string& dir, const std::string& leaf) {
    auto t = actors::tls_in_dir(dir, leaf);
    t.cluster_id = "itest";
    t.is_node = leaf == "node";
    actors::configure_remoting(cfg_, t);
    sys_.emplace(cfg_);
    auto st = actors::start_transport(*sys_, t);
    if (!st.ok())
      FAIL("cannot start TLS: " << to_string(st.err()));
  }

  /// The node endpoint published at `address` (REQUIREs the connection).
  actors::node_endpoint_actor connect(const std::string& address) {
    auto ep = actors::parse_endpoint(address);
    REQUIRE(ep.has_value());
    caf::scoped_actor self{*sys_};
    actors::node_endpoint_actor node;
    std::string failure;
    self->request(actors::connector(*sys_), answer_limit, caf::connect_atom::value,
                  ep->host, ep->port)
        .receive(
            [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
                const std::set<std::string>&) {
              node = caf::actor_cast<actors::node_endpoint_actor>(std::move(ptr));
            },
            [&](caf::error& e) { failure = sys_->render(e); });
    REQUIRE_MESSAGE(node, "cannot connect to " << address << ": " << failure);
    return node;
  }

  /// The node's ack of a peer batch (0: queued, else the errc it was dropped
  /// for); nothing if it did not answer.
  std::optional<std::uint64_t> send(const actors::node_endpoint_actor& node,
                                    rpc::peer_batch b) {
    caf::scoped_actor self{*sys_};
    std::optional<std::uint64_t> out;
    self->request(node, answer_limit, std::move(b))
        .receive([&](std::uint64_t code) { out = code; }, [&](caf::error&) {});
    return out;
  }

  std::optional<rpc::snapshot_chunk_reply> send(const actors::node_endpoint_actor& node,
                                                rpc::snapshot_chunk c) {
    caf::scoped_actor self{*sys_};
    std::optional<rpc::snapshot_chunk_reply> out;
    self->request(node, answer_limit, std::move(c))
        .receive([&](rpc::snapshot_chunk_reply& r) { out = std::move(r); },
                 [&](caf::error&) {});
    return out;
  }

private:
  caf::actor_system_config cfg_;
  std::optional<caf::actor_system> sys_;
};

cluster_options one_node() {
  cluster_options o;
  o.nodes = 1;
  return o;
}

/// A heartbeat of a far later term claiming to come from `from`: admitted,
/// it would depose the leader.
rpc::peer_batch forged_heartbeat(std::uint64_t from, raft::term_t term) {
  rpc::peer_batch b;
  b.cluster_id = "itest";
  b.from = from;
  b.to = 1;
  b.from_address = "127.0.0.1:1";
  b.messages.push_back(
      raft::encode_message(raft::heartbeat_request{term + 1000, 0, 0}));
  return b;
}

rpc::snapshot_chunk forged_chunk(std::uint64_t from, raft::term_t term) {
  rpc::snapshot_chunk c;
  c.cluster_id = "itest";
  c.from = from;
  c.to = 1;
  c.term = term;
  c.index = 1000;
  c.snapshot_term = term;
  c.offset = 0;
  c.total = 4;
  c.data = "snap";
  return c;
}

std::uint64_t counter(cluster& c, const std::string& name) {
  auto s = c.status(0);
  if (!s.ok())
    FAIL("node 1 does not answer status: " << to_string(s.err()));
  auto i = s->counters.find(name);
  return i == s->counters.end() ? 0 : i->second;
}

raft::term_t leader_term(cluster& c) {
  auto s = c.status(0);
  if (!s.ok())
    FAIL("node 1 does not answer status: " << to_string(s.err()));
  REQUIRE(s->role == "leader");
  return s->term;
}

constexpr auto denied = static_cast<std::uint64_t>(errc::permission_denied);

} // namespace

TEST_CASE("a_client_certificate_sending_raft_traffic_or_a_snapshot_is_refused") {
  started_cluster c{one_node()};
  auto term = leader_term(c);
  foreign_peer client{client_tls_dir("itest"), "client"};
  auto node = client.connect(c.endpoint(0));

  auto ack = client.send(node, forged_heartbeat(1, term));
  REQUIRE(ack.has_value());
  CHECK(*ack == denied);
  auto reply = client.send(node, forged_chunk(1, term));
  REQUIRE(reply.has_value());
  CHECK(reply->code == static_cast<std::uint8_t>(errc::permission_denied));
  CHECK(reply->message.find("client") != std::string::npos);

  CHECK(counter(c, "raft.dropped.client_identity") == 2u);
  CHECK(leader_term(c) == term);
}

TEST_CASE("a_node_certificate_claiming_to_be_another_node_is_refused") {
  started_cluster c{one_node()};
  auto term = leader_term(c);
  foreign_peer node2{node_tls_dir("itest", 2), "node"};
  auto node = node2.connect(c.endpoint(0));

  auto ack = node2.send(node, forged_heartbeat(3, term));
  REQUIRE(ack.has_value());
  CHECK(*ack == denied);
  auto reply = node2.send(node, forged_chunk(3, term));
  REQUIRE(reply.has_value());
  CHECK(reply->code == static_cast<std::uint8_t>(errc::permission_denied));

  CHECK(counter(c, "raft.dropped.identity_mismatch") == 2u);
  CHECK(leader_term(c) == term);
}

TEST_CASE("a_non_member_nodes_raft_traffic_and_snapshots_are_dropped") {
  started_cluster c{one_node()};
  auto term = leader_term(c);
  foreign_peer node2{node_tls_dir("itest", 2), "node"};
  auto node = node2.connect(c.endpoint(0));

  // Node 2 proves who it is, so the endpoint queues its batch; Raft drops it
  // (node 2 is in no configuration) and never learns its address.
  auto ack = node2.send(node, forged_heartbeat(2, term));
  REQUIRE(ack.has_value());
  CHECK(*ack == 0u);
  bool dropped = false;
  for (int i = 0; i < 100 && !dropped; ++i) {
    dropped = counter(c, "raft.dropped.non_member") == 1u;
    if (!dropped)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(dropped);
  CHECK(counter(c, "raft.ignored.address") == 1u);
  CHECK(leader_term(c) == term);

  // A snapshot is taken only from the leader this node follows (itself).
  auto reply = node2.send(node, forged_chunk(2, term));
  REQUIRE(reply.has_value());
  CHECK(reply->code == static_cast<std::uint8_t>(errc::not_leader));
  CHECK(counter(c, "snapshot.refused.not_leader") == 1u);

  // Nor a chunk over 4 MiB, from anyone.
  auto big = forged_chunk(2, term);
  big.data.assign(actors::max_snapshot_chunk_bytes + 1, 's');
  big.total = big.data.size();
  reply = node2.send(node, std::move(big));
  REQUIRE(reply.has_value());
  CHECK(reply->code == static_cast<std::uint8_t>(errc::too_large));
  CHECK(counter(c, "snapshot.refused.chunk_too_large") == 1u);
}

} // namespace conflux::itest
