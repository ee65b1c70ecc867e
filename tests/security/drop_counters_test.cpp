// The refusal counters of the patched CAF (caf/io/basp/drop_counters.hpp),
// in process: an actor published by an actor system of this process, the
// attacks of attacks.hpp against it, and the counters and the reporter read
// directly. Also the two settings: middleman.max-payload and
// deserialization.max-nesting-depth.

#include "tests/integration/cluster.hpp"
#include "tests/security/attacks.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/basp/drop_counters.hpp>
#include <doctest/doctest.h>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace conflux::security {

namespace {

using caf::io::basp::drop_counts;
using caf::io::basp::drop_reason;
using caf::io::basp::read_drop_counters;
using itest::eventually;
using namespace std::chrono_literals;

// What the reporter was told; the reporter must be a plain function.
std::mutex g_mtx;
std::vector<std::pair<drop_reason, std::string>> g_reported;

void collect(drop_reason reason, const std::string& what) {
  std::lock_guard<std::mutex> guard{g_mtx};
  g_reported.emplace_back(reason, what);
}

std::vector<std::pair<drop_reason, std::string>> reported() {
  std::lock_guard<std::mutex> guard{g_mtx};
  return g_reported;
}

/// Installs `collect` as the drop reporter for its lifetime.
class collecting_reporter {
public:
  collecting_reporter() {
    {
      std::lock_guard<std::mutex> guard{g_mtx};
      g_reported.clear();
    }
    previous_ = caf::io::basp::set_drop_reporter(collect);
  }
  ~collecting_reporter() { caf::io::basp::set_drop_reporter(previous_); }
  collecting_reporter(const collecting_reporter&) = delete;
  collecting_reporter& operator=(const collecting_reporter&) = delete;

private:
  caf::io::basp::drop_reporter previous_ = nullptr;
};

/// An actor published on a free loopback port by its own actor system. It
/// answers an int with the same int and counts the messages that arrive
/// holding a caf::message.
class published_actor {
public:
  explicit published_actor(std::function<void(caf::actor_system_config&)> tune = {}) {
    cfg_.load<caf::io::middleman>();
    if (tune)
      tune(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    auto received = received_;
    actor_ = sys_->spawn([received]() -> caf::behavior {
      return {
          [](int x) { return x; },
          [received](const caf::message&) { ++*received; },
      };
    });
    auto port = sys_->middleman().publish(actor_, 0, "127.0.0.1");
    REQUIRE_MESSAGE(static_cast<bool>(port),
                    "publish failed: " << sys_->render(port.error()));
    port_ = *port;
  }
  ~published_actor() { caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown); }
  published_actor(const published_actor&) = delete;
  published_actor& operator=(const published_actor&) = delete;

  attack_options options(ms wait = 500ms) const {
    attack_options o;
    o.target.port = port_;
    o.wait = wait;
    return o;
  }

  /// The actor still answers a request.
  bool alive() {
    caf::scoped_actor self{*sys_};
    bool answered = false;
    self->request(actor_, std::chrono::seconds(2), 42)
        .receive([&](int x) { answered = x == 42; }, [](caf::error&) {});
    return answered;
  }

  int messages_holding_a_message() const { return received_->load(); }

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<std::atomic<int>> received_ = std::make_shared<std::atomic<int>>(0);
  caf::actor actor_;
  std::uint16_t port_ = 0;
};

attack_report run(const char* name, const attack_options& o) {
  auto attack = find_attack(name);
  REQUIRE(attack != nullptr);
  auto r = attack->run(o);
  INFO("attack " << name << ": " << r.to_line());
  REQUIRE(r.ran);
  return r;
}

/// How many of `reason` were counted after `before`.
std::uint64_t counted_since(const drop_counts& before, drop_reason reason) {
  return read_drop_counters()[reason] - before[reason];
}

/// Waits (bounded) until `reason` was counted `n` times after `before`: BASP
/// workers count asynchronously.
bool wait_counted(const drop_counts& before, drop_reason reason, std::uint64_t n) {
  return eventually([&] { return counted_since(before, reason) >= n; }, 2s, 10ms);
}

} // namespace

TEST_CASE("each_refusal_is_counted_once_under_its_reason_and_reported") {
  struct expectation {
    const char* attack;
    drop_reason reason;
  };
  const std::vector<expectation> cases{
      {"oversized-header", drop_reason::oversized_payload},
      {"handshake-without-payload", drop_reason::malformed_header},
      {"message-before-handshake", drop_reason::before_handshake},
      {"routed-message", drop_reason::routed},
      {"down-operation", drop_reason::routed},
      {"remote-exit", drop_reason::remote_system_message},
      {"remote-error", drop_reason::remote_system_message},
      {"remote-link", drop_reason::remote_system_message},
      {"forged-down-msg", drop_reason::remote_system_message},
      {"nested-message", drop_reason::nesting_too_deep},
      {"nested-config-value", drop_reason::nesting_too_deep},
      {"unknown-variant-tag", drop_reason::undeserializable},
      {"huge-byte-buffer", drop_reason::undeserializable},
  };
  collecting_reporter reporter;
  published_actor target;
  for (auto& x : cases) {
    INFO("attack " << x.attack << ", reason " << to_string(x.reason));
    auto before = read_drop_counters();
    auto n_reported = reported().size();
    run(x.attack, target.options(200ms));
    CHECK(wait_counted(before, x.reason, 1));
    // Exactly once, and under no other reason.
    std::this_thread::sleep_for(50ms);
    auto after = read_drop_counters();
    CHECK(after.total() - before.total() == 1);
    CHECK(counted_since(before, x.reason) == 1);
    auto lines = reported();
    REQUIRE(lines.size() == n_reported + 1);
    CHECK(lines.back().first == x.reason);
    CHECK_FALSE(lines.back().second.empty());
  }
  CHECK(target.alive());
}

TEST_CASE("the_payload_limit_is_the_middleman_max_payload_setting") {
  collecting_reporter reporter;
  // About 6 KB of payload: refused as too large under a 4 KiB limit before
  // it is read; under the default limit it is read and refused for its
  // nesting instead.
  attack_options o;
  o.depth = 3000;
  {
    published_actor small{
        [](caf::actor_system_config& cfg) { cfg.set("middleman.max-payload", 4096); }};
    auto before = read_drop_counters();
    auto r = run("nested-config-value", [&] {
      auto x = small.options();
      x.depth = o.depth;
      return x;
    }());
    CHECK(r.closed);
    CHECK(wait_counted(before, drop_reason::oversized_payload, 1));
    CHECK(counted_since(before, drop_reason::nesting_too_deep) == 0);
  }
  {
    published_actor normal;
    auto before = read_drop_counters();
    auto r = run("nested-config-value", [&] {
      auto x = normal.options();
      x.depth = o.depth;
      return x;
    }());
    CHECK(r.closed);
    CHECK(wait_counted(before, drop_reason::nesting_too_deep, 1));
    CHECK(counted_since(before, drop_reason::oversized_payload) == 0);
  }
}

TEST_CASE("the_nesting_limit_is_the_deserialization_max_nesting_depth_setting") {
  collecting_reporter reporter;
  // nested-message with depth d sends d + 1 messages, one inside the other.
  published_actor target{[](caf::actor_system_config& cfg) {
    cfg.set("deserialization.max-nesting-depth", 8);
  }};
  auto at_limit = target.options(300ms);
  at_limit.depth = 7;
  auto before = read_drop_counters();
  auto r = run("nested-message", at_limit);
  CHECK_FALSE(r.closed);
  CHECK(eventually([&] { return target.messages_holding_a_message() == 1; }, 2s, 10ms));
  CHECK(read_drop_counters().total() == before.total());

  auto beyond = at_limit;
  beyond.depth = 8;
  r = run("nested-message", beyond);
  CHECK(r.closed);
  CHECK(wait_counted(before, drop_reason::nesting_too_deep, 1));
  CHECK(target.messages_holding_a_message() == 1);
  CHECK(target.alive());
}

TEST_CASE("the_default_nesting_limit_is_64_levels") {
  collecting_reporter reporter;
  published_actor target;
  auto at_limit = target.options(300ms);
  at_limit.depth = 63;
  auto before = read_drop_counters();
  CHECK_FALSE(run("nested-message", at_limit).closed);
  CHECK(eventually([&] { return target.messages_holding_a_message() == 1; }, 2s, 10ms));
  auto beyond = at_limit;
  beyond.depth = 64;
  CHECK(run("nested-message", beyond).closed);
  CHECK(wait_counted(before, drop_reason::nesting_too_deep, 1));
}

} // namespace conflux::security
