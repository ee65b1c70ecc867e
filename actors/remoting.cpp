#include "actors/remoting.hpp"

#include "protocol/type_ids.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace conflux::actors {

void configure_remoting(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.add_message_types<caf::id_block::conflux>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{connection_timeout});
  // CAF's scheduler policy. "sharing" is our default: on the local 3-node
  // cluster (2 cores) it gave 1.96 ms instead of 2.85 ms per sequential write
  // and 4.5k instead of 3.4k writes/s with 64 clients (docs/benchmarks.md),
  // because idle "stealing" workers spin. CONFLUX_SCHEDULER=stealing|sharing
  // overrides it, read from the environment so every binary takes it alike.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  if (const char* p = std::getenv("CONFLUX_SCHEDULER")) {
    std::string policy{p};
    if (policy == "sharing" || policy == "stealing")
      cfg.set("scheduler.policy", caf::atom_from_string(policy));
    else
      spdlog::warn("CONFLUX_SCHEDULER='{}' ignored: use sharing or stealing", policy);
  }
}

void log_remoting_settings(const caf::actor_system_config& cfg, const char* who) {
  auto hb = caf::get_or(cfg, "middleman.heartbeat-interval", caf::timespan{0});
  auto ct = caf::get_or(cfg, "middleman.connection-timeout", caf::timespan{0});
  auto ms = [](caf::timespan t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  };
  auto policy = caf::get_or(cfg, "scheduler.policy", caf::atom("stealing"));
  spdlog::info("{} uses middleman heartbeat {} ms, connection timeout {} ms, scheduler {}",
               who, ms(hb), ms(ct), caf::to_string(policy));
  if (hb.count() == 0 || ct.count() == 0)
    spdlog::warn("{}: middleman heartbeat is off; frozen peers go undetected", who);
}

} // namespace conflux::actors
