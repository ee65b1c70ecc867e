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
  return f(caf::meta::type_name("conflux.client_hello"), x.cluster_id, x.client_name);
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
  return f(caf::meta::type_name("conflux.status_reply"), x.id, x.address, x.role, x.term,
           x.commit, x.applied, x.leader_id, x.leader_address, x.cluster_id, x.members,
           x.sessions);
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
  CAF_ADD_TYPE_ID(conflux, (conflux::rpc::snapshot_chunk))
  CAF_ADD_TYPE_ID(conflux, (conflux::rpc::snapshot_chunk_reply))
CAF_END_TYPE_ID_BLOCK(conflux)
