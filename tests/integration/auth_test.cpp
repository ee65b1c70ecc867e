// Principals on a cluster of real processes (docs/security.md, "Principals on
// the node"): tokens at hello, per-request revalidation, reads and lists
// limited to what a role grants, watches refused and cut off, the request
// rate, and a revocation racing writes on three nodes.

#include "protocol/auth.hpp"
#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <fstream>
#include <thread>

namespace conflux::itest {
namespace {

void wait_applied_everywhere(cluster& c, std::uint64_t revision);

/// Creates (through `admin`) role `role` with `grants` and a principal
/// `name` with it and a new token, which it returns once every node applied
/// it (a follower refuses a token it has not applied yet).
std::string make_principal(cluster& c, actors::client& admin, const std::string& name,
                           const std::string& role, std::vector<auth::grant> grants,
                           std::int64_t ttl_ms = 0) {
  put_role pr;
  pr.role.name = role;
  pr.role.grants = std::move(grants);
  pr.replace = true;
  auto r = admin.write(pr);
  REQUIRE_OK(r);
  auto token = random_token();
  create_token ct;
  ct.principal = name;
  ct.token_hash = auth::token_hash(token);
  ct.roles = {role};
  ct.ttl_ms = ttl_ms;
  auto made = admin.write(ct);
  REQUIRE_OK(made);
  wait_applied_everywhere(c, made->revision);
  return token;
}

/// A client of the whole cluster presenting `token`.
std::unique_ptr<actors::client> client_with(cluster& c, const std::string& token,
                                            std::optional<std::size_t> first = {}) {
  auto o = c.client_options(3s, first, "itest-auth");
  o.token = token;
  return std::make_unique<actors::client>(client_runtime_of(c.options()), o);
}

/// Waits until every node applied at least `revision` (a token made through
/// the leader is then known to every node's hello).
void wait_applied_everywhere(cluster& c, std::uint64_t revision) {
  for (std::size_t i = 0; i < c.size(); ++i)
    REQUIRE(eventually([&] { return applied_of(c, i) >= revision; }, 10s));
}

std::uint64_t counter_on(cluster& c, std::size_t i, const std::string& name) {
  auto st = status_of(c, i);
  auto k = st.counters.find(name);
  return k == st.counters.end() ? 0 : k->second;
}

} // namespace

TEST_CASE("a_hello_without_a_token_is_refused_unauthenticated") {
  started_cluster c;
  auto cl = client_with(c, "");
  auto started = clock::now();
  auto r = cl->get_config("itest/auth/prod/x.txt");
  CHECK_ERRC(r, errc::unauthenticated);
  // A dead end: no retry loop over the other nodes until the deadline.
  CHECK(clock::now() - started < 2s);
  CHECK(counter_on(c, 0, "auth.refused.unauthenticated") +
            counter_on(c, 1, "auth.refused.unauthenticated") +
            counter_on(c, 2, "auth.refused.unauthenticated") >=
        1);
  CHECK_ERRC(cl->write(make_create_config("itest/auth/prod/x.txt", "x")),
             errc::unauthenticated);
}

TEST_CASE("a_hello_with_a_wrong_token_is_refused_unauthenticated") {
  started_cluster c;
  auto token = random_token();
  auto r = client_with(c, token)->list_configs("");
  CHECK_ERRC(r, errc::unauthenticated);
  // The refusal never echoes the token or its hash.
  CHECK(r.err().message.find(token) == std::string::npos);
  CHECK(r.err().message.find(auth::token_hash(token)) == std::string::npos);
  CHECK_ERRC(client_with(c, "cfx_not-a-token")->list_configs(""),
             errc::unauthenticated);
  // The node that refused the hello wrote it to its denied-request log,
  // without the token or its hash.
  std::string denied;
  for (std::size_t i = 0; i < 3; ++i) {
    std::ifstream in(c.data_dir(i) + "/audit-denied.log");
    for (std::string line; std::getline(in, line);)
      denied += line + "\n";
  }
  CHECK(denied.find("\"what\":\"hello\"") != std::string::npos);
  CHECK(denied.find("unauthenticated") != std::string::npos);
  CHECK(denied.find(token) == std::string::npos);
  CHECK(denied.find(auth::token_hash(token)) == std::string::npos);
}

TEST_CASE("a_flood_of_refused_hellos_is_written_at_the_denied_log_rate_and_counted") {
  started_cluster c{with_flags({"--denied-log-rate", "2"})};
  // A client of node 0 alone, so that node 0 refuses every one of its hellos.
  auto o = c.client_options(3s, 0, "itest-flood");
  o.endpoints = {c.endpoint(0)};
  o.token = random_token();
  auto stranger = std::make_unique<actors::client>(client_runtime_of(c.options()), o);
  const int hellos = 30;
  auto started = clock::now();
  for (int i = 0; i < hellos; ++i)
    CHECK_ERRC(stranger->list_configs(""), errc::unauthenticated);
  auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started).count();
  // Node 0 refused every hello; its file took a burst of 2 and 2 a second,
  // and counted the rest.
  std::size_t lines = 0;
  std::ifstream in(c.data_dir(0) + "/audit-denied.log");
  for (std::string line; std::getline(in, line);)
    if (line.find("\"what\":\"hello\"") != std::string::npos)
      ++lines;
  CHECK(lines >= 2);
  CHECK(lines <= static_cast<std::size_t>(2 + 2 * (seconds + 1)));
  auto dropped = counter_on(c, 0, "audit.denied.dropped");
  CHECK(dropped > 0);
  CHECK(lines + dropped >= static_cast<std::size_t>(hellos));
}

TEST_CASE("a_hello_with_an_expired_token_is_refused_unauthenticated") {
  started_cluster c;
  auto admin = c.make_client();
  auto token = make_principal(c, *admin, "shortlived", "acme-reader",
                              {auth::grant{"acme", auth::read}}, 300);
  // Refused within 5 s (cluster time passes the 300 ms expiry on every node),
  // and from then on.
  errc last{};
  auto refused = eventually(
      [&] {
        last = code_of(client_with(c, token)->list_configs(""));
        return last == errc::unauthenticated;
      },
      5s, 100ms);
  CHECK_MESSAGE(refused, "the last answer was " << to_string(last));
  CHECK_ERRC(client_with(c, token)->list_configs(""), errc::unauthenticated);
}

TEST_CASE("a_revoked_token_is_refused_at_hello_and_on_an_open_session") {
  started_cluster c;
  auto admin = c.make_client();
  const std::string key = "acme/app/prod/db.txt";
  REQUIRE_OK(admin->write(make_create_config(key, "v1")));
  auto token = make_principal(c, *admin, "reader", "acme-reader",
                              {auth::grant{"acme", auth::read}});
  auto reader = client_with(c, token, c.first_leader());
  REQUIRE_OK(reader->get_config(key));
  revoke_token rv;
  rv.principal = "reader";
  auto revoked = admin->write(rv);
  REQUIRE_OK(revoked);
  wait_applied_everywhere(c, revoked->revision);
  // The open session's next read: refused at once, not at the next hello.
  CHECK_ERRC(reader->get_config(key, actors::consistency::serializable),
             errc::unauthenticated);
  CHECK_ERRC(client_with(c, token)->get_config(key), errc::unauthenticated);
}

TEST_CASE("a_read_of_another_tenants_key_is_refused_and_lists_are_filtered") {
  started_cluster c;
  auto admin = c.make_client();
  REQUIRE_OK(admin->write(make_create_config("acme/app/prod/a.txt", "a")));
  REQUIRE_OK(admin->write(make_create_config("globex/app/prod/g.txt", "g")));
  auto token = make_principal(c, *admin, "acme-reader", "acme-reader",
                              {auth::grant{"acme", auth::read}});
  auto reader = client_with(c, token, c.first_leader());
  REQUIRE_OK(reader->get_config("acme/app/prod/a.txt"));
  CHECK_ERRC(reader->get_config("globex/app/prod/g.txt"), errc::permission_denied);
  CHECK_ERRC(reader->list_versions("globex/app/prod/g.txt"), errc::permission_denied);
  CHECK_ERRC(reader->get_version("globex/app/prod/g.txt", 1), errc::permission_denied);
  CHECK_ERRC(reader->resolve("globex/app/prod/g.txt", {}), errc::permission_denied);
  auto all = reader->list_configs("");
  REQUIRE_OK(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().key == "acme/app/prod/a.txt");
  auto theirs = reader->list_configs("globex/");
  REQUIRE_OK(theirs);
  CHECK(theirs->empty());
  // The admin sees both.
  auto both = admin->list_configs("");
  REQUIRE_OK(both);
  CHECK(both->size() == 2);
}

TEST_CASE("membership_changes_need_cluster_admin") {
  started_cluster c;
  auto admin = c.make_client();
  auto token = make_principal(c, *admin, "acme-reader", "acme-reader",
                              {auth::grant{"acme", auth::read}});
  auto reader = client_with(c, token, c.first_leader());
  auto other = (c.first_leader() + 1) % c.size();
  CHECK_ERRC(reader->transfer_leader(c.id(other)), errc::permission_denied);
  CHECK_ERRC(reader->remove_member(c.id(other)), errc::permission_denied);
  CHECK(c.wait_for_leader(2s) == c.first_leader());
}

TEST_CASE("a_watch_on_another_tenants_key_is_refused") {
  started_cluster c;
  auto admin = c.make_client();
  auto token = make_principal(c, *admin, "acme-reader", "acme-reader",
                              {auth::grant{"acme/*/prod", auth::read}});
  auto o = c.client_options(3s, {}, "itest-watch");
  o.token = token;
  actors::watch_options w;
  w.key = "globex/";
  actors::watch_stream refused{client_runtime_of(c.options()), o, w};
  auto n = refused.next(5s);
  CHECK_ERRC(n, errc::permission_denied);
  // A prefix with a readable pattern under it is allowed.
  w.key = "acme/";
  actors::watch_stream allowed{client_runtime_of(c.options()), o, w};
  REQUIRE_OK(admin->write(make_create_config("acme/app/dev/hidden.txt", "h")));
  REQUIRE_OK(admin->write(make_create_config("acme/app/prod/seen.txt", "s")));
  std::optional<actors::watch_notification> got;
  for (int i = 0; i < 50 && !got; ++i) {
    auto e = allowed.next(100ms);
    REQUIRE_OK(e);
    got = *e;
  }
  REQUIRE(got);
  // Filtered per key: the dev key was never sent.
  CHECK(got->event.key == "acme/app/prod/seen.txt");
}

TEST_CASE("a_watch_is_cut_off_with_permission_denied_when_its_token_is_revoked") {
  started_cluster c;
  auto admin = c.make_client();
  const std::string key = "acme/app/prod/w.txt";
  REQUIRE_OK(admin->write(make_create_config(key, "v1")));
  auto token = make_principal(c, *admin, "watcher", "acme-reader",
                              {auth::grant{"acme", auth::read}});
  auto o = c.client_options(3s, {}, "itest-watch");
  o.token = token;
  actors::watch_options w;
  w.key = key;
  actors::watch_stream s{client_runtime_of(c.options()), o, w};
  REQUIRE_OK(admin->write(make_create_version(key, "v2")));
  std::optional<actors::watch_notification> first;
  for (int i = 0; i < 50 && !first; ++i) {
    auto e = s.next(100ms);
    REQUIRE_OK(e);
    first = *e;
  }
  REQUIRE(first);
  revoke_token rv;
  rv.principal = "watcher";
  REQUIRE_OK(admin->write(rv));
  REQUIRE_OK(admin->write(make_create_version(key, "v3")));
  expected<std::optional<actors::watch_notification>> end =
      std::optional<actors::watch_notification>{};
  for (int i = 0; i < 50; ++i) {
    end = s.next(100ms);
    if (!end.ok())
      break;
    // No event of a revision after the revocation reaches the watcher.
    if (*end)
      CHECK((*end)->event.versions != std::vector<std::uint64_t>{3});
  }
  CHECK_ERRC(end, errc::permission_denied);
}

TEST_CASE("a_principal_over_its_tenants_rate_is_refused_resource_exhausted") {
  started_cluster c;
  auto admin = c.make_client();
  set_tenant st;
  st.tenant = "acme";
  st.rate = 5;
  auto limited = admin->write(st);
  REQUIRE_OK(limited);
  auto token = make_principal(c, *admin, "busy", "acme-reader",
                              {auth::grant{"acme", auth::read}});
  auto busy = client_with(c, token, 0);
  std::size_t refused = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = busy->list_configs("acme/", actors::consistency::serializable);
    if (code_of(r) == errc::resource_exhausted)
      ++refused;
    else
      CHECK_OK(r);
  }
  CHECK(refused > 0);
  CHECK(counter_on(c, 0, "auth.refused.rate") >= refused);
  // Another tenant's keys are not held back by acme's rate.
  for (int i = 0; i < 20; ++i)
    CHECK_OK(admin->list_configs("globex/", actors::consistency::serializable));
}

TEST_CASE("the_default_rate_flag_bounds_tenants_without_their_own_rate") {
  started_cluster c{with_flags({"--default-rate", "5"})};
  auto admin = c.make_client();
  auto token = make_principal(c, *admin, "busy", "acme-reader",
                              {auth::grant{"acme", auth::read}});
  auto busy = client_with(c, token, 0);
  std::size_t refused = 0;
  for (int i = 0; i < 40; ++i)
    if (code_of(busy->list_configs("acme/", actors::consistency::serializable)) ==
        errc::resource_exhausted)
      ++refused;
  CHECK(refused > 0);
  CHECK(counter_on(c, 0, "auth.refused.rate") >= refused);
}

// The decision on each write is made at apply, with the replicated tables:
// writes racing a revocation are refused from one log index on, on every
// node alike.
TEST_CASE("a_revoke_while_writes_are_in_flight_leaves_every_node_in_the_same_state") {
  started_cluster c;
  auto admin = c.make_client();
  auto token = make_principal(c, *admin, "writer", "acme-writer",
                              {auth::grant{"acme", auth::read | auth::write}});
  const std::vector<std::string> keys{"acme/race/prod/k0.txt", "acme/race/prod/k1.txt",
                                      "acme/race/prod/k2.txt"};
  for (auto& k : keys)
    REQUIRE_OK(admin->write(make_create_config(k, "init")));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unauth{0};
  std::vector<std::thread> writers;
  for (std::size_t t = 0; t < keys.size(); ++t)
    writers.emplace_back([&, t] {
      auto w = client_with(c, token, t);
      for (int n = 0; n < 400 && !stop.load(); ++n) {
        auto r = w->write(make_create_version(keys[t], "w" + std::to_string(n)));
        auto code = code_of(r);
        if (code == errc{})
          ++ok;
        else if (code == errc::unauthenticated)
          ++unauth;
      }
    });
  REQUIRE(eventually([&] { return ok.load() >= 15; }, 20s));
  revoke_token rv;
  rv.principal = "writer";
  auto revoked = admin->write(rv);
  REQUIRE_OK(revoked);
  REQUIRE(eventually([&] { return unauth.load() >= 3; }, 20s));
  stop.store(true);
  for (auto& w : writers)
    w.join();
  // Every node at the same applied index, then the same answers everywhere.
  std::uint64_t target = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    target = std::max(target, applied_of(c, i));
  wait_applied_everywhere(c, target);
  std::vector<std::vector<version>> seen;
  for (std::size_t i = 0; i < c.size(); ++i) {
    auto nc = c.make_node_client(i, 5s);
    for (auto& k : keys) {
      auto vs = nc->list_versions(k, actors::consistency::serializable);
      REQUIRE_OK(vs);
      // Nothing after the revocation applied.
      for (auto& v : *vs)
        CHECK(v.revision < revoked->revision);
      seen.push_back(std::move(*vs));
    }
  }
  for (std::size_t i = 1; i < c.size(); ++i)
    for (std::size_t k = 0; k < keys.size(); ++k)
      CHECK(seen[i * keys.size() + k] == seen[k]);
}

} // namespace conflux::itest

namespace conflux::itest {

TEST_CASE("an_unbootstrapped_cluster_refuses_clients_and_logs_how_to_bootstrap") {
  cluster_options o;
  o.bootstrap = false;
  cluster c{o};
  for (std::size_t i = 0; i < c.size(); ++i)
    c.spawn(i);
  auto says_how = [&] {
    for (std::size_t i = 0; i < c.size(); ++i)
      if (tail_lines(c.log_path(i), 200).find("--bootstrap-token-hash") !=
          std::string::npos)
        return true;
    return false;
  };
  CHECK(eventually(says_how, 20s));
  CHECK_ERRC(c.make_client(2s)->list_configs(""), errc::unauthenticated);
}

TEST_CASE("bootstrap_auth_from_a_client_is_refused_permission_denied") {
  started_cluster c;
  auto admin = c.make_client();
  bootstrap_auth b;
  b.principal = "mallory";
  b.token_hash = auth::token_hash(random_token());
  CHECK_ERRC(admin->write(b), errc::permission_denied);
  // Still the one principal.
  auto who = admin->list_configs("");
  CHECK_OK(who);
}

} // namespace conflux::itest
