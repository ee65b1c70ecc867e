#include "actors/transport.hpp"

#include "actors/endpoint.hpp"

#include <arpa/inet.h>
#include <fstream>

namespace conflux::actors {

std::string transport_settings::describe() const {
  return tls() ? "mutual TLS" : "INSECURE plain text (loopback only)";
}

transport_settings tls_in_dir(const std::string& dir, const std::string& leaf) {
  transport_settings t;
  t.cert_file = dir + "/" + leaf + ".crt";
  t.key_file = dir + "/" + leaf + ".key";
  t.ca_file = dir + "/ca.crt";
  return t;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost")
    return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

status check_plaintext_address(const std::string& what, const std::string& address) {
  auto ep = parse_endpoint(address);
  if (ep && is_loopback_host(ep->host))
    return {};
  return error{errc::invalid_argument,
               what + " " + address +
                   " is not a loopback address: plain text is allowed only on "
                   "127.0.0.0/8, ::1 or localhost; use mutual TLS (docs/security.md)"};
}

status check_transport(const transport_settings& t) {
  if (!t.tls())
    return {};
  struct file {
    const std::string& path;
    const char* what;
  };
  for (auto [path, what] : {file{t.cert_file, "certificate"}, file{t.key_file, "key"},
                            file{t.ca_file, "CA certificate"}}) {
    if (path.empty())
      return error{errc::invalid_argument,
                   std::string{"no TLS "} + what +
                       " given: name a directory made by conflux-cert (docs/security.md)"};
    if (!std::ifstream{path})
      return error{errc::invalid_argument, std::string{"cannot read the TLS "} + what +
                                               " " + path +
                                               ": make it with conflux-cert "
                                               "(docs/security.md) or fix the path"};
  }
  return {};
}

} // namespace conflux::actors
