// Client sessions on the nodes: a client ends the sessions it stops using
// (redirects, reconnects) and all of its sessions when it is destroyed, so a
// long-lived client does not pile sessions up on the nodes.

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <doctest/doctest.h>
#include <sstream>
#include <string>
#include <vector>

namespace conflux::itest {

TEST_CASE("client_sessions_do_not_pile_up_on_nodes") {
  started_cluster c;
  const auto leader = c.first_leader();

  // Sessions open on each node before the client exists: the fixture's own
  // status client holds one per node (c.status() goes through it).
  auto sessions_now = [&] {
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < c.size(); ++i) {
      auto st = c.status(i);
      out.push_back(st.ok() ? static_cast<std::int64_t>(st->sessions) : -1);
    }
    return out;
  };
  auto show = [](const std::vector<std::int64_t>& v) {
    std::ostringstream os;
    for (std::size_t i = 0; i < v.size(); ++i)
      os << (i ? " " : "") << "node" << i + 1 << "=" << v[i];
    return os.str();
  };
  const auto baseline = sessions_now();
  MESSAGE("sessions before the client: " << show(baseline));
  for (auto b : baseline)
    REQUIRE(b >= 0);

  // One client whose endpoints list the followers first: its first write is
  // redirected by a follower, so the client drops the follower's session and
  // opens one on the leader.
  std::vector<std::size_t> followers_first;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (i != leader)
      followers_first.push_back(i);
  followers_first.push_back(leader);
  auto cl = c.make_nodes_client(followers_first, 5s, "itest-sessions");

  const std::string key = "itest/sessions/prod/app.txt";
  constexpr int rounds = 30;
  // Most sessions this client was seen holding on each node, as the node's
  // own status (asked through the client itself) reports them.
  std::vector<std::int64_t> most(c.size(), 0);
  for (int n = 0; n < rounds; ++n) {
    auto w = n == 0 ? cl->write(make_create_config(key, "v-0"))
                    : cl->write(make_create_version(key, "v-" + std::to_string(n)));
    INFO("write " << n);
    REQUIRE_OK(w);
    auto r = n % 2 == 0
                 ? cl->get_config(key).ok()
                 : cl->list_versions(key, actors::consistency::serializable).ok();
    CHECK(r);
    for (std::size_t i = 0; i < c.size(); ++i) {
      auto st = cl->status_of(c.endpoint(i));
      INFO("status_of node " << c.id(i));
      REQUIRE_OK(st);
      most[i] =
          std::max(most[i], static_cast<std::int64_t>(st->sessions) - baseline[i]);
    }
  }
  MESSAGE("most sessions of the client seen per node: " << show(most));
  // At any time the client holds at most its write session and its status
  // session on a node (one more is tolerated: a session the client just
  // ended may not have stopped yet).
  for (std::size_t i = 0; i < c.size(); ++i) {
    INFO("node " << c.id(i));
    CHECK(most[i] <= 3);
  }

  // Once ended sessions have stopped: the leader holds the client's write
  // session and its status session, every follower only its status session.
  // A session dropped after a redirect and not ended would stay on the
  // follower for as long as the client lives.
  auto expected_now = baseline;
  for (std::size_t i = 0; i < c.size(); ++i)
    expected_now[i] += i == leader ? 2 : 1;
  std::vector<std::int64_t> now;
  bool settled = eventually(
      [&] {
        now = sessions_now();
        for (std::size_t i = 0; i < c.size(); ++i)
          if (now[i] < 0 || now[i] > expected_now[i])
            return false;
        return true;
      },
      5s, 50ms);
  INFO("sessions with the client: " << show(now) << ", expected at most "
                                    << show(expected_now));
  CHECK(settled);
  auto leader_now = c.status(leader);
  REQUIRE_OK(leader_now);
  CHECK(leader_now->role == "leader"); // no election meddled with the counts

  // The client goes: every session it opened ends with it.
  cl.reset();
  bool back = eventually(
      [&] {
        now = sessions_now();
        return now == baseline;
      },
      5s, 50ms);
  INFO("sessions after the client: " << show(now) << ", before: " << show(baseline));
  CHECK(back);
}

} // namespace conflux::itest
