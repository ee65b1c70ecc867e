// The audit trail as a node serves it (actors/audit_reads.hpp), over real
// LMDB state stores: a record tampered with in one node's LMDB is named by
// audit_verify with its revision, replicas' chains compare equal up to it,
// lists filter and page, and only auditors and cluster admins are served.

#include "actors/audit_reads.hpp"
#include "protocol/state_machine.hpp"
#include "storage/endian.hpp"
#include "storage/record.hpp"
#include "storage/state_store.hpp"
#include "tests/protocol/auth_fixture.hpp"
#include "tests/storage/raw_edit.hpp"
#include "tests/storage/temp_dir.hpp"

#include <doctest/doctest.h>

using namespace conflux;
using namespace conflux::actors;
using conflux::storage::test::temp_dir;

namespace {

// One node's state, filled by applying commands as its applier would.
struct node_state {
  std::string dir;
  std::shared_ptr<node_context> ctx = std::make_shared<node_context>();
  std::uint64_t index = 0;

  node_state(std::string d, raft::server_id id) : dir(std::move(d)) {
    storage::state_store_options o;
    o.identity.cluster_id = "c1";
    o.identity.node_id = id;
    auto s = storage::state_store::open(dir, o);
    REQUIRE(s.ok());
    ctx->opts.id = id;
    ctx->state = std::make_shared<storage::state_store>(std::move(*s));
    auto w = ctx->state->begin_write();
    REQUIRE(w.ok());
    REQUIRE(test_auth::seed_admin(*w).ok());
    REQUIRE(w->commit().ok());
  }

  void apply(command cmd) {
    auto w = ctx->state->begin_write();
    REQUIRE(w.ok());
    command_envelope env{0, 0, std::move(cmd), "conflux://c1/client/alice",
                         test_auth::admin_credential()};
    auto at = ++index;
    auto r = state_machine{}.apply(*w, at, 1000 + static_cast<std::int64_t>(at), env);
    REQUIRE(r.ok());
    REQUIRE(w->commit().ok());
  }

  rpc::client_reply ask(rpc::request_op op, std::uint64_t id, const auth::access* who,
                        std::string key = {}, labels l = {}) {
    rpc::client_request req;
    req.op = static_cast<std::uint8_t>(op);
    req.id = id;
    req.key = std::move(key);
    req.labels = std::move(l);
    auto txn = ctx->state->begin_read();
    REQUIRE(txn.ok());
    auto r = serve_audit_read(*ctx, *txn, req, who, 0);
    REQUIRE(r.has_value());
    return *r;
  }

  audit::chain_point verify(std::uint64_t seq, const auth::access& who) {
    auto r = ask(rpc::request_op::audit_verify, seq, &who);
    REQUIRE_MESSAGE(r.code == 0, r.message);
    REQUIRE(r.items.size() == 1);
    auto p = audit::decode_chain_point(r.items[0]);
    REQUIRE(p.ok());
    return *p;
  }
};

auth::access with_perms(auth::perm_set perms) {
  auth::access a;
  a.who.name = "carol";
  a.roles.push_back(auth::role{"r", {{"*", perms}}});
  return a;
}

void history(node_state& n) {
  const std::string key = "acme/pay/prod/db.json";
  n.apply(create_config{key, content_format::json, std::nullopt, "{}", "first", ""});
  n.apply(create_version{key, R"({"a":1})", "second", "", std::nullopt});
  n.apply(update_release_rules{key, {release_rule{{}, 2, 0}}, "go", std::nullopt});
  n.apply(create_config{"acme/web/prod/x", content_format::text, std::nullopt, "x", "",
                        ""});
  n.apply(delete_versions{key, {1}, std::nullopt});
}

} // namespace

TEST_CASE("audit_verify_names_the_revision_of_a_record_tampered_in_one_nodes_lmdb") {
  temp_dir tmp;
  node_state a{tmp.sub("a"), 1};
  node_state b{tmp.sub("b"), 2};
  history(a);
  history(b);
  auto auditor = with_perms(auth::auditor);
  CHECK(a.verify(0, auditor) == b.verify(0, auditor));
  CHECK(b.verify(0, auditor).intact());
  // Record 3 (revision 3, the release) is rewritten on node b, with a
  // correct frame checksum: only the chain can tell.
  auto bdir = b.dir;
  b.ctx->state.reset();
  auto key = storage::u64_be(3);
  storage::test::edit_raw(bdir, "audit", key, [&](std::string& value) {
    auto rec = audit::decode_record(
        std::string_view{value}.substr(storage::frame_header_size));
    REQUIRE(rec.ok());
    CHECK(rec->op == "update_release_rules");
    rec->comment = "nothing happened";
    value = storage::frame_value(key, audit::encode(*rec));
  });
  node_state reopened{bdir, 2};
  reopened.index = b.index;
  auto head = reopened.verify(0, auditor);
  CHECK_FALSE(head.intact());
  CHECK(head.bad_seq == 3);
  CHECK(head.bad_revision == 3);
  CHECK(head.problem.find("revision 3") != std::string::npos);
  // Compared with node a: equal up to record 2, different from record 3.
  CHECK(reopened.verify(2, auditor).hash == a.verify(2, auditor).hash);
  CHECK(reopened.verify(3, auditor).hash != a.verify(3, auditor).hash);
}

TEST_CASE("audit_reads_need_a_principal_with_auditor_or_cluster_admin") {
  temp_dir tmp;
  node_state a{tmp.sub("a"), 1};
  history(a);
  auto none = a.ask(rpc::request_op::audit_list, 0, nullptr);
  CHECK(none.code == static_cast<std::uint8_t>(errc::unauthenticated));
  auto reader = with_perms(auth::read | auth::write | auth::release | auth::admin);
  auto denied = a.ask(rpc::request_op::audit_verify, 0, &reader);
  CHECK(denied.code == static_cast<std::uint8_t>(errc::permission_denied));
  CHECK(denied.message.find("auditor") != std::string::npos);
  CHECK(denied.items.empty());
  auto admin = with_perms(auth::cluster_admin);
  CHECK(a.ask(rpc::request_op::audit_list, 0, &admin).code == 0);
  auto auditor = with_perms(auth::auditor);
  CHECK(a.ask(rpc::request_op::audit_list, 0, &auditor).items.size() == 5);
}

TEST_CASE("audit_list_filters_by_key_prefix_since_and_principal_and_pages") {
  temp_dir tmp;
  node_state a{tmp.sub("a"), 1};
  history(a);
  auto auditor = with_perms(auth::auditor);
  auto decode = [](const rpc::client_reply& r) {
    std::vector<audit::record> out;
    for (auto& i : r.items)
      out.push_back(audit::decode_record(i).value());
    return out;
  };
  auto pay = decode(a.ask(rpc::request_op::audit_list, 0, &auditor, "acme/pay/"));
  CHECK(pay.size() == 4);
  auto since = decode(a.ask(rpc::request_op::audit_list, 4, &auditor, ""));
  REQUIRE(since.size() == 2);
  CHECK(since[0].revision == 4);
  auto alice = decode(a.ask(rpc::request_op::audit_list, 0, &auditor, "",
                            labels{{"principal", test_auth::admin_name}}));
  CHECK(alice.size() == 5);
  auto nobody = a.ask(rpc::request_op::audit_list, 0, &auditor, "",
                      labels{{"principal", "mallory"}});
  CHECK(nobody.items.empty());
  auto bad = a.ask(rpc::request_op::audit_list, 0, &auditor, "", labels{{"who", "x"}});
  CHECK(bad.code == static_cast<std::uint8_t>(errc::invalid_argument));
  // A small reply budget: one record per page, extra = 1 until the last.
  a.ctx->opts.max_reply_bytes = 1;
  auto page = a.ask(rpc::request_op::audit_list, 0, &auditor, "");
  CHECK(page.items.size() == 1);
  CHECK(page.extra == 1);
  auto last = a.ask(rpc::request_op::audit_list, 5, &auditor, "");
  CHECK(last.items.size() == 1);
  CHECK(last.extra == 0);
}
