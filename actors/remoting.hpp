#pragma once
// Settings every Conflux process that speaks CAF remoting must share: the
// message types, the middleman, and the heartbeat / connection timeout. The
// heartbeat settings must be identical on every node and every client: a
// one-sided setting declares healthy idle links dead (bench/caf-spike/README.md §4).

#include <caf/actor_system_config.hpp>

#include <chrono>

namespace conflux::actors {

/// Middleman heartbeat: lets a node notice a frozen (SIGSTOPped) peer.
constexpr std::chrono::milliseconds heartbeat_interval{250};
constexpr std::chrono::milliseconds connection_timeout{2500};

/// Loads the middleman, registers Conflux's network message types, sets the
/// heartbeat settings and the scheduler policy ("sharing"; the environment
/// variable CONFLUX_SCHEDULER=stealing|sharing overrides it). Call before
/// constructing the actor_system.
void configure_remoting(caf::actor_system_config& cfg);

/// Logs (at INFO) the heartbeat settings the actor system really uses: a
/// wrongly typed setting is silently ignored by CAF 0.17.6.
void log_remoting_settings(const caf::actor_system_config& cfg, const char* who);

} // namespace conflux::actors
