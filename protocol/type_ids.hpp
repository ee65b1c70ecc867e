#pragma once
// The one protocol header that includes CAF: makes the network messages of
// protocol/rpc.hpp inspectable and gives them CAF type IDs. Every Conflux
// binary registers the block (actors/remoting.hpp does it), or remote sends
// fail at run time. The names registered are the spelled C++ names, and the
// remote interface check compares them: every node and client must be built
// from the same rpc.hpp.

#include "protocol/rpc.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

namespace conflux::rpc {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_batch& x) {
  return f(caf::meta::type_name("conflux.peer_batch"), x.cluster_id, x.from, x.to,
           x.messages, x.from_address);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_hello& x) {
  return f(caf::meta::type_name("conflux.client_hello"), x.cluster_id, x.client_name,
           x.token);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hello_status& x) {
  return f(caf::meta::type_name("conflux.hello_status"), x.code, x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_request& x) {
  return f(caf::meta::type_name("conflux.client_request"), x.op, x.consistency, x.key,
           x.id, x.labels, x.payload);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_reply& x) {
  return f(caf::meta::type_name("conflux.client_reply"), x.code, x.message, x.leader_id,
           x.leader_address, x.node_id, x.revision, x.items, x.extra);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_entry& x) {
  return f(caf::meta::type_name("conflux.member_entry"), x.id, x.address, x.kind,
           x.match, x.lag);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_reply& x) {
  return f(caf::meta::type_name("conflux.status_reply"), x.id, x.address, x.role,
           x.term, x.commit, x.applied, x.leader_id, x.leader_address, x.cluster_id,
           x.members, x.sessions, x.transport, x.counters, x.apply_paused);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_entry& x) {
  return f(caf::meta::type_name("conflux.watch_entry"), x.key, x.config_id,
           x.mod_revision, x.latest_version, x.resolved_version, x.content_hash);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_event& x) {
  return f(caf::meta::type_name("conflux.watch_event"), x.revision, x.kind, x.key,
           x.config_id, x.versions, x.content_hash, x.resolved_version, x.state);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_request& x) {
  return f(caf::meta::type_name("conflux.watch_request"), x.key, x.labels,
           x.from_revision);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_reply& x) {
  return f(caf::meta::type_name("conflux.watch_reply"), x.code, x.message, x.watch_id,
           x.revision, x.node_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_events& x) {
  return f(caf::meta::type_name("conflux.watch_events"), x.watch_id, x.events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_ack& x) {
  return f(caf::meta::type_name("conflux.watch_ack"), x.watch_id, x.count);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_cancel& x) {
  return f(caf::meta::type_name("conflux.watch_cancel"), x.watch_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_closed& x) {
  return f(caf::meta::type_name("conflux.watch_closed"), x.watch_id, x.code, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_chunk& x) {
  return f(caf::meta::type_name("conflux.snapshot_chunk"), x.cluster_id, x.from, x.to,
           x.term, x.index, x.snapshot_term, x.offset, x.total, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_chunk_reply& x) {
  return f(caf::meta::type_name("conflux.snapshot_chunk_reply"), x.code, x.message,
           x.received);
}

} // namespace conflux::rpc

CAF_BEGIN_TYPE_ID_BLOCK(conflux, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::peer_batch))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::client_hello))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::client_request))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::client_reply))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::member_entry))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::status_reply))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_entry))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_event))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_request))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_reply))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_events))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_ack))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_cancel))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::watch_closed))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::snapshot_chunk))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::snapshot_chunk_reply))
CAF_ADD_TYPE_ID(conflux, (conflux::rpc::hello_status))
CAF_END_TYPE_ID_BLOCK(conflux)
