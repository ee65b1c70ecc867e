// The node's idle timeout (--idle-timeout) against a real client: the node
// closes a client connection that carried nothing but heartbeats, counts it,
// and the client's next call opens a new connection at once instead of
// waiting for an answer on the closed one.

#include "tests/integration/cluster.hpp"
#include "tests/integration/helpers.hpp"

#include <doctest/doctest.h>
#include <thread>

namespace conflux::itest {

TEST_CASE("a_client_idle_past_the_idle_timeout_reconnects_at_once") {
  cluster_options o = with_flags({"--idle-timeout", "2"});
  o.nodes = 1;
  started_cluster c{o};
  auto cl = c.make_client();
  const std::string key = "itest/idle/prod/a.txt";
  REQUIRE_OK(cl->write(make_create_config(key, "i-1")));
  // Nothing but heartbeats for longer than the idle timeout: the node closes.
  std::this_thread::sleep_for(3500ms);
  auto start = clock::now();
  REQUIRE_OK(cl->write(make_create_version(key, "i-2")));
  auto took = std::chrono::duration_cast<ms>(clock::now() - start);
  // A request to the closed connection's session would be lost until its
  // 1.5 s attempt timeout, and the call would take longer than that.
  CHECK(took < 1400ms);
  auto st = cl->status_of(c.endpoint(0));
  REQUIRE_OK(st);
  auto i = st->counters.find("transport.dropped.idle_timeout");
  REQUIRE(i != st->counters.end());
  CHECK(i->second >= 1u);
}

} // namespace conflux::itest
