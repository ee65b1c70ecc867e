#include "actors/endpoint.hpp"

namespace conflux::actors {

std::optional<endpoint> parse_endpoint(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size())
    return std::nullopt;
  endpoint e;
  e.host = s.substr(0, colon);
  if (e.host.find_first_of(" \t,") != std::string::npos)
    return std::nullopt;
  // IPv6 literals go in brackets ("[::1]:7101"); the host is what is inside.
  if (e.host.front() == '[') {
    if (e.host.size() < 3 || e.host.back() != ']')
      return std::nullopt;
    e.host = e.host.substr(1, e.host.size() - 2);
  } else if (e.host.find(':') != std::string::npos) {
    return std::nullopt;
  }
  unsigned long port = 0;
  for (std::size_t i = colon + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9')
      return std::nullopt;
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535)
      return std::nullopt;
  }
  if (port == 0)
    return std::nullopt;
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

std::optional<std::vector<endpoint>> parse_endpoint_list(const std::string& s) {
  std::vector<endpoint> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    auto part = s.substr(start, comma == std::string::npos ? std::string::npos
                                                           : comma - start);
    auto e = parse_endpoint(part);
    if (!e)
      return std::nullopt;
    out.push_back(std::move(*e));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  if (out.empty())
    return std::nullopt;
  return out;
}

} // namespace conflux::actors
