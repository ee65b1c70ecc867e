#include "actors/remoting.hpp"

#include "protocol/type_ids.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

namespace conflux::actors {

void configure_remoting(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.add_message_types<caf::id_block::conflux>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{connection_timeout});
}

void log_remoting_settings(const caf::actor_system_config& cfg, const char* who) {
  auto hb = caf::get_or(cfg, "middleman.heartbeat-interval", caf::timespan{0});
  auto ct = caf::get_or(cfg, "middleman.connection-timeout", caf::timespan{0});
  auto ms = [](caf::timespan t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t).count();
  };
  spdlog::info("{} uses middleman heartbeat {} ms, connection timeout {} ms", who,
               ms(hb), ms(ct));
  if (hb.count() == 0 || ct.count() == 0)
    spdlog::warn("{}: middleman heartbeat is off; frozen peers go undetected", who);
}

} // namespace conflux::actors
