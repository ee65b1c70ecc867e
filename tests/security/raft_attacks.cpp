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

// -- the client attacks ----------------------------------------------------------

// A client_hello from `self` as `o.client_name`: the session handle the node
// granted (null when refused, then `code` says why: an errc value, or -2 for
// a CAF error). The session lives as long as `self` does.
caf::strong_actor_ptr hello(conflux_attacker& a, caf::scoped_actor& self,
                            const attack_options& o, long& code, std::string& why) {
  caf::strong_actor_ptr session;
  code = -1;
  self->request(a.endpoint, o.wait,
                rpc::client_hello{o.cluster_id, o.client_name, o.token})
      .receive(
          [&](caf::strong_actor_ptr& ptr, rpc::hello_status& st) {
            code = st.code;
            why = st.message;
            session = std::move(ptr);
          },
          [&](caf::error& e) {
            code = -2;
            why = a.sys->render(e);
          });
  return session;
}

// Sends `req` to `session`; the reply's code (for a write, the code of the
// apply_result's error), -1 on no answer, -2 on a CAF error.
long request_code(conflux_attacker& a, caf::scoped_actor& self,
                  const caf::strong_actor_ptr& session, rpc::client_request req,
                  ms wait, std::string& why) {
  long code = -1;
  const bool write = req.op == static_cast<std::uint8_t>(rpc::request_op::write);
  self->request(caf::actor_cast<caf::actor>(session), wait, std::move(req))
      .receive(
          [&](rpc::client_reply& r) {
            code = r.code;
            why = r.message;
            if (!write || r.code != 0 || r.items.empty())
              return;
            auto res = codec::decode_apply_result(r.items.front());
            if (!res.ok()) {
              code = -2;
              why = "undecodable apply_result: " + res.err().message;
            } else if (res->err) {
              code = static_cast<long>(res->err->code);
              why = res->err->message;
            }
          },
          [&](caf::error& e) {
            code = -2;
            why = a.sys->render(e);
          });
  return code;
}

// Opens a session of the attacker's own and writes through it on other
// clients' sessions: on the guessed ids 1 to `o.guesses`, then (when given)
// on `o.session`, each with sequence `o.sequence`, creating `o.key`.
// reply_code: the answer for `o.session` (for the last guess without it);
// granted: writes that applied; refused: writes refused with
// permission_denied.
attack_report foreign_session_write(const attack_options& o) {
  std::string why;
  auto a = connect(o, why);
  if (!a)
    return not_run(why);
  caf::scoped_actor self{*a->sys};
  long code = -1;
  auto session = hello(*a, self, o, code, why);
  if (!session)
    return not_run("client_hello refused (" + std::to_string(code) + "): " + why);
  attack_report r;
  r.ran = true;
  r.granted = 0;
  r.refused = 0;
  auto write_on = [&](std::uint64_t sid) {
    create_config c;
    c.key = o.key;
    c.format = content_format::text;
    c.content = "written by an attacker on session " + std::to_string(sid);
    c.description = "forged";
    c.creator = o.client_name;
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(rpc::request_op::write);
    req.payload = codec::encode(command_envelope{sid, o.sequence, c});
    std::string msg;
    auto answer = request_code(*a, self, session, std::move(req), o.wait, msg);
    if (answer == 0)
      ++r.granted;
    else if (answer == static_cast<long>(errc::permission_denied))
      ++r.refused;
    r.reply_code = answer;
    r.error = msg;
  };
  for (std::uint64_t sid = 1; sid <= o.guesses; ++sid)
    write_on(sid);
  if (o.session != 0)
    write_on(o.session);
  return r;
}

// Opens a session of the attacker's own and sends it, for every watch id 1 to
// `o.count`, a watch_ack granting no credit and a watch_cancel; then a status
// request, answered once the session forwarded all of them. reply_code: the
// status reply's code.
attack_report foreign_watch_ack(const attack_options& o) {
  std::string why;
  auto a = connect(o, why);
  if (!a)
    return not_run(why);
  caf::scoped_actor self{*a->sys};
  long code = -1;
  auto session = hello(*a, self, o, code, why);
  if (!session)
    return not_run("client_hello refused (" + std::to_string(code) + "): " + why);
  auto dest = caf::actor_cast<caf::actor>(session);
  for (std::uint64_t id = 1; id <= o.count; ++id) {
    self->send(dest, rpc::watch_ack{id, 0});
    self->send(dest, rpc::watch_cancel{id});
  }
  attack_report r;
  r.ran = true;
  rpc::client_request req;
  req.op = static_cast<std::uint8_t>(rpc::request_op::get_config);
  req.consistency = 1; // serializable
  req.key = o.key;
  r.reply_code = request_code(*a, self, session, std::move(req), o.wait, r.error);
  return r;
}

// Sends `o.count` client_hellos over one connection, one after another, each
// from an actor of its own, and keeps every actor and session granted (a
// session ends with the actor that opened it). granted / refused: the hellos answered
// with a session / with resource_exhausted; reply_code: the code of the last refusal (0
// if none); error: its message, or why a hello got no answer.
attack_report session_flood(const attack_options& o) {
  std::string why;
  auto a = connect(o, why);
  if (!a)
    return not_run(why);
  attack_report r;
  r.ran = true;
  r.granted = 0;
  r.refused = 0;
  r.reply_code = 0;
  std::vector<std::unique_ptr<caf::scoped_actor>> clients;
  std::vector<caf::strong_actor_ptr> kept;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    long code = -1;
    auto self = std::make_unique<caf::scoped_actor>(*a->sys);
    auto session = hello(*a, *self, o, code, why);
    if (session) {
      ++r.granted;
      clients.push_back(std::move(self));
      kept.push_back(std::move(session));
      continue;
    }
    if (code == static_cast<long>(errc::resource_exhausted)) {
      ++r.refused;
      r.reply_code = code;
      r.error = why;
      continue;
    }
    r.reply_code = code;
    r.error = "hello " + std::to_string(i) + ": " + why;
    break;
  }
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
      {"foreign-session-write", foreign_session_write,
       "as client --client-name, a create_config of --key with --sequence on "
       "the session ids 1 to --guesses, then on --session"},
      {"foreign-watch-ack", foreign_watch_ack,
       "as client --client-name, a watch_ack and a watch_cancel for every watch "
       "id 1 to --count, sent to the attacker's own session, then a read of --key"},
      {"session-flood", session_flood,
       "--count client_hellos as --client-name over one connection, keeping "
       "every session granted"},
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
