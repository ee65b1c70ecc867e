#pragma once
// "host:port" parsing shared by the launcher, the client and the CLI. No CAF.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conflux::actors {

struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const {
    auto h = host.find(':') == std::string::npos ? host : "[" + host + "]";
    return h + ":" + std::to_string(port);
  }
};

/// "127.0.0.1:7101" -> {host, port}; "[::1]:7101" -> {"::1", 7101}; nullopt for
/// a missing host, an IPv6 literal without brackets, a port that is not a
/// number in 1..65535, or anything else malformed.
std::optional<endpoint> parse_endpoint(const std::string& s);

/// "a:1,b:2" -> endpoints; nullopt if any element is malformed or the list is empty.
std::optional<std::vector<endpoint>> parse_endpoint_list(const std::string& s);

} // namespace conflux::actors
