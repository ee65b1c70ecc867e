// `conflux audit verify | list` and `conflux release history` against fake
// nodes, each an in-memory state filled by the real state machine: verify
// agrees on identical replicas, and names the first record (and revision)
// where one replica's chain was rewritten.

#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/state_machine.hpp"
#include "tests/apps/cli_fake_cluster.hpp"
#include "tests/protocol/auth_fixture.hpp"

#include <doctest/doctest.h>
#include <map>

using namespace conflux;
using namespace conflux::cli;
using namespace conflux::cli::test;

namespace {

const std::string key = "acme/shop/prod/db.toml";

/// Endpoints answer audit calls from their own memory_state; nothing else.
class fake_nodes final : public refusing_cluster {
public:
  std::map<std::string, memory_state> nodes;

  expected<std::vector<audit::record>> audit_list(const audit::filter& f,
                                                  actors::consistency) override {
    auto all = nodes.begin()->second.list_audit(0, 0);
    if (!all.ok())
      return all.err();
    std::vector<audit::record> out;
    for (auto& r : *all)
      if (f.matches(r))
        out.push_back(r);
    return out;
  }
  expected<audit::chain_point> audit_verify_at(const std::string& ep,
                                               std::uint64_t seq) override {
    return audit::verify(nodes.at(ep), seq);
  }
};

memory_state replica() {
  memory_state st;
  REQUIRE(test_auth::seed_admin(st).ok());
  state_machine sm;
  std::uint64_t index = 0;
  auto apply = [&](command c) {
    command_envelope env{0, 0, std::move(c), "conflux://c1/client/alice",
                         test_auth::admin_credential()};
    auto at = ++index;
    REQUIRE(sm.apply(st, at, 1000 * static_cast<std::int64_t>(at), env).ok());
  };
  apply(create_config{key, content_format::toml, std::nullopt, "a = 1\n", "first", ""});
  apply(create_version{key, "a = 2\n", "second", "", std::nullopt});
  apply(update_release_rules{
      key,
      {release_rule{{{"canary", "true"}}, 2, 10}, release_rule{{}, 1, 0}},
      "canary 2",
      std::nullopt});
  apply(update_release_rules{key, {release_rule{{}, 2, 0}}, "all on 2", std::nullopt});
  apply(create_config{"acme/web/prod/x", content_format::text, std::nullopt, "x", "",
                      ""});
  apply(update_release_rules{key, {release_rule{{}, 1, 0}}, "back to 1", std::nullopt});
  return st;
}

/// Runs `args` with every fake node as an endpoint.
run_result run_on_nodes(fake_nodes& f, std::vector<std::string> args) {
  args.push_back("--endpoints");
  std::string eps;
  for (auto& [ep, st] : f.nodes)
    eps += (eps.empty() ? "" : ",") + ep;
  args.push_back(eps);
  return run(f, std::move(args));
}

} // namespace

TEST_CASE("audit_verify_passes_when_every_node_holds_the_same_chain") {
  fake_nodes f;
  for (auto ep : {"127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"})
    f.nodes[ep] = replica();
  auto r = run_on_nodes(f, {"audit", "verify"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(mentions(r.out, "verified on 3 node(s)"));
  CHECK(mentions(r.out, "record 6"));
}

TEST_CASE("audit_verify_names_the_first_record_and_revision_a_node_rewrote") {
  fake_nodes f;
  for (auto ep : {"127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"})
    f.nodes[ep] = replica();
  // Node 7102: record 4 rewritten and every hash after it recomputed, so
  // that node's own chain is consistent; only the comparison can tell.
  auto& bad = f.nodes["127.0.0.1:7102"];
  bad.raw_audit(4)->comment = "nothing to see";
  std::string h = bad.raw_audit(3)->hash;
  for (std::uint64_t s = 4; s <= 6; ++s) {
    h = audit::chain_hash(h, *bad.raw_audit(s));
    bad.raw_audit(s)->hash = h;
  }
  auto c = bad.get_audit_chain().value();
  c.head_hash = h;
  REQUIRE(bad.set_audit_chain(c).ok());
  REQUIRE(audit::verify(bad, 0)->intact());
  auto r = run_on_nodes(f, {"audit", "verify"});
  CHECK(r.code != 0);
  CHECK_MESSAGE(mentions(r.err, "first differ at record 4 (revision 4)"), r.err);
  auto j = run_on_nodes(f, {"audit", "verify", "--json"});
  CHECK(j.code != 0);
  CHECK(mentions(j.out, "\"first_difference_seq\":4"));
  CHECK(mentions(j.out, "\"verified\":false"));
}

TEST_CASE("audit_verify_reports_a_node_whose_record_no_longer_matches_its_hash") {
  fake_nodes f;
  for (auto ep : {"127.0.0.1:7101", "127.0.0.1:7102"})
    f.nodes[ep] = replica();
  f.nodes["127.0.0.1:7101"].raw_audit(5)->principal = "mallory";
  auto r = run_on_nodes(f, {"audit", "verify"});
  CHECK(r.code != 0);
  CHECK(mentions(r.err, "tampered: 127.0.0.1:7101: record 5 (revision 5)"));
  CHECK(mentions(r.err, "first differ at record 5"));
}

TEST_CASE("release_history_shows_who_released_what_with_comment_and_rules") {
  fake_nodes f;
  f.nodes["127.0.0.1:7101"] = replica();
  auto r = run_on_nodes(f, {"release", "history", key});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(mentions(r.out, "revision 3"));
  CHECK(mentions(r.out, "comment: canary 2"));
  CHECK(mentions(r.out, "comment: back to 1"));
  CHECK(mentions(r.out, test_auth::admin_name));
  CHECK_FALSE(mentions(r.out, "revision 1 "));
  auto j = run_on_nodes(f, {"release", "history", key, "--json"});
  CHECK(mentions(j.out, "\"rules_before\""));
  CHECK(mentions(j.out, "\"comment\":\"all on 2\""));
}

TEST_CASE("audit_list_filters_by_prefix_and_since") {
  fake_nodes f;
  f.nodes["127.0.0.1:7101"] = replica();
  auto r = run_on_nodes(f, {"audit", "list", "acme/web/", "--since", "2"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(mentions(r.out, "create_config acme/web/prod/x"));
  CHECK_FALSE(mentions(r.out, key));
  CHECK(run_on_nodes(f, {"audit", "list", "bad key!"}).code == 2);
}
