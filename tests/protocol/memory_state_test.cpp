#include "protocol/memory_state.hpp"
#include "tests/protocol/state_contract.hpp"

using namespace conflux;

TEST_CASE("memory_state_stores_configs_and_keys") {
  memory_state st;
  contract::configs_and_keys(st);
}

TEST_CASE("memory_state_lists_keys_by_prefix") {
  memory_state st;
  contract::list_keys_by_prefix(st);
}

TEST_CASE("memory_state_lists_versions_in_id_order") {
  memory_state st;
  contract::versions_in_id_order(st);
}

TEST_CASE("memory_state_keeps_sessions_counters_and_last_applied") {
  memory_state st;
  contract::sessions_counters_and_last_applied(st);
}

TEST_CASE("memory_state_keeps_audit_records_and_chain") {
  memory_state st;
  contract::audit_records_and_chain(st);
}

TEST_CASE("memory_state_keeps_principals_and_their_token_index") {
  memory_state st;
  contract::principals_and_token_index(st);
}

TEST_CASE("memory_state_keeps_roles_and_tenants") {
  memory_state st;
  contract::roles_and_tenants(st);
}
