#include "tests/security/raft_attacks.hpp"

#include "actors/interfaces.hpp"
#include "actors/remoting.hpp"
#include "actors/transport.hpp"
#include "protocol/codec.hpp"
#include "protocol/raft/wire.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <chrono>
#include <memory>

namespace conflux::security {

namespace {

attack_report not_run(std::string why) {
  attack_report r;
  r.error = std::move(why);
  return r;
}

std::string where(const attack_target& t) {
  return t.host + ":" + std::to_string(t.port);
}

// A CAF system with the attacker's credentials and a handle on the target's
// endpoint. Owned by one attack.
struct conflux_attacker {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  actors::node_endpoint_actor endpoint;
};

// Connects to the target's endpoint within `o.wait`; on failure, why.
std::unique_ptr<conflux_attacker> connect(const attack_options& o, std::string& why) {
  actors::transport_settings t;
  if (o.tls_dir.empty())
    t.insecure_plaintext = true;
  else
    t = actors::tls_in_dir(o.tls_dir, o.leaf);
  auto a = std::make_unique<conflux_attacker>();
  actors::configure_remoting(a->cfg, t);
  a->sys = std::make_unique<caf::actor_system>(a->cfg);
  if (auto st = actors::start_transport(*a->sys, t); !st.ok()) {
    why = to_string(st.err());
    return nullptr;
  }
  caf::scoped_actor self{*a->sys};
  self->request(actors::connector(*a->sys), o.wait, caf::connect_atom::value,
                o.target.host, o.target.port)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            if (!ptr)
              why = "nothing is published at " + where(o.target);
            else
              a->endpoint =
                  caf::actor_cast<actors::node_endpoint_actor>(std::move(ptr));
          },
          [&](caf::error& e) {
            why = "cannot connect to " + where(o.target) + ": " + a->sys->render(e);
          });
  if (!a->endpoint)
    return nullptr;
  return a;
}

// A log entry at `o.prev_index + 1` of term `o.term` holding `data`.
raft::entry_ptr forged_entry(const attack_options& o, std::string data) {
  auto e = std::make_shared<raft::log_entry>();
  e->term = o.term;
  e->index = o.prev_index + 1;
  e->kind = raft::entry_kind::command;
  e->timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  e->data = std::move(data);
  return e;
}

// The command bytes of a create_config of `o.key` that nobody asked for.
std::string forged_create_config(const attack_options& o) {
  create_config c;
  c.key = o.key;
  c.format = content_format::text;
  c.content = "written by an attacker";
  c.description = "forged";
  c.creator = "attacker";
  command_envelope env;
  env.cmd = c;
  return codec::encode(env);
}

// Sends a peer_batch holding one AppendEntries with `entry` (as leader of
// term `o.term`, committing it at once) and reports the node's answer.
attack_report send_append(const attack_options& o, raft::entry_ptr entry) {
  std::string why;
  auto a = connect(o, why);
  if (!a)
    return not_run(why);
  raft::append_entries_request req;
  req.term = o.term;
  req.prev_log_index = o.prev_index;
  req.prev_log_term = o.prev_term;
  req.entries.push_back(std::move(entry));
  req.leader_commit = o.prev_index + 1;
  rpc::peer_batch b;
  b.cluster_id = o.cluster_id;
  b.from = o.from;
  b.to = o.to;
  b.messages.push_back(raft::encode_message(raft::message{std::move(req)}));
  b.from_address = o.from_address;
  attack_report r;
  r.ran = true;
  caf::scoped_actor self{*a->sys};
  self->request(a->endpoint, o.wait, std::move(b))
      .receive(
          [&](std::uint64_t ack) {
            // 0, or the errc value of the node's refusal.
            r.answered = true;
            r.reply_code = static_cast<long>(ack);
          },
          [&](caf::error& e) {
            if (e == caf::sec::request_timeout)
              return;
            r.reply_code = -2;
            r.error = a->sys->render(e);
          });
  return r;
}

// -- the attacks ---------------------------------------------------------------

attack_report forged_peer_batch(const attack_options& o) {
  return send_append(o, forged_entry(o, forged_create_config(o)));
}

attack_report poison_entry(const attack_options& o) {
  // A command whose format byte no build knows: a node that appended and
  // committed it would stop at apply, and again at every restart.
  auto data = forged_create_config(o);
  data[0] = static_cast<char>(0xEE);
  return send_append(o, forged_entry(o, std::move(data)));
}

attack_report forged_snapshot_chunk(const attack_options& o) {
  std::string why;
  auto a = connect(o, why);
  if (!a)
    return not_run(why);
  rpc::snapshot_chunk c;
  c.cluster_id = o.cluster_id;
  c.from = o.from;
  c.to = o.to;
  c.term = o.term;
  c.index = o.prev_index + 1;
  c.snapshot_term = o.term;
  c.offset = 0;
  c.total = std::uint64_t{1} << 40; // a terabyte announced
  c.data.assign(4096, 'x');
  attack_report r;
  r.ran = true;
  caf::scoped_actor self{*a->sys};
  self->request(a->endpoint, o.wait, std::move(c))
      .receive(
          [&](const rpc::snapshot_chunk_reply& reply) {
            r.answered = true;
            r.reply_code = reply.code;
          },
          [&](caf::error& e) {
            if (e == caf::sec::request_timeout)
              return;
            r.reply_code = -2;
            r.error = a->sys->render(e);
          });
  return r;
}

} // namespace

const std::vector<attack_entry>& all_raft_attacks() {
  static const std::vector<attack_entry> attacks{
      {"forged-peer-batch", forged_peer_batch,
       "a peer_batch claiming --from, for --to of --cluster: AppendEntries of "
       "--term after --prev-index/--prev-term with one forged create_config of "
       "--key, committed at once, and --from-address as the sender's address"},
      {"poison-entry", poison_entry,
       "as forged-peer-batch, but the entry's command starts with a format byte "
       "no build knows (0xEE)"},
      {"forged-snapshot-chunk", forged_snapshot_chunk,
       "a snapshot_chunk claiming --from, for --to, of --term, announcing a "
       "1 TiB snapshot"},
  };
  return attacks;
}

const attack_entry* find_raft_attack(const std::string& name) {
  for (auto& a : all_raft_attacks())
    if (name == a.name)
      return &a;
  return nullptr;
}

} // namespace conflux::security
