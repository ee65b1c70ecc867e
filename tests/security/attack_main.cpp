// conflux-attack: sends one attack to a node on loopback and prints what it
// saw as one line (attacks.hpp, attack_report::to_line): crafted BASP
// (attacks.hpp) in plain text or inside TLS, or forged Raft traffic over
// Conflux's own transport (raft_attacks.hpp). A tool of the security tests
// (tests/security), not a product binary.
//
//   conflux-attack ATTACK --target HOST:PORT [--via HOST:PORT] [--wait-ms N]
//                  [--depth N] [--max-actor-id N] [--count N]
//                  [--tls-dir DIR [--leaf client|node] | --no-cert]
//                  [--cluster ID] [--from N] [--to N] [--term N]
//                  [--prev-index N] [--prev-term N] [--key KEY]
//                  [--from-address HOST:PORT] [--client-name NAME]
//                  [--session N] [--sequence N] [--guesses N] [--token TOKEN]
//   conflux-attack --list
//
// --tls-dir DIR presents DIR/<leaf>.crt and DIR/<leaf>.key (a directory made
// by conflux-cert); --no-cert speaks TLS without a certificate; neither:
// plain text.
//
// Exit status: 0 when the attack was delivered (whatever the node did), 1
// when it could not be (no node, no handshake, the TLS handshake refused:
// then the line says tls_refused=1), 2 on a usage error.

#include "tests/security/attacks.hpp"
#include "tests/security/raft_attacks.hpp"

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

using namespace conflux::security;

int usage(const std::string& why) {
  std::cerr << "conflux-attack: " << why
            << "\nusage: conflux-attack ATTACK --target HOST:PORT [--via HOST:PORT] "
               "[--wait-ms N] [--depth N] [--max-actor-id N] [--count N] "
               "[--tls-dir DIR [--leaf client|node] | --no-cert] [--cluster ID] "
               "[--from N] [--to N] [--term N] [--prev-index N] [--prev-term N] "
               "[--key KEY] [--from-address HOST:PORT] [--client-name NAME] "
               "[--session N] [--sequence N] [--guesses N] [--token TOKEN]\n"
               "       conflux-attack --list\n";
  return 2;
}

std::optional<attack_target> parse_target(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return std::nullopt;
  try {
    auto port = std::stoul(s.substr(colon + 1));
    if (port == 0 || port > 65535)
      return std::nullopt;
    return attack_target{s.substr(0, colon), static_cast<std::uint16_t>(port)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::uint64_t> parse_number(const std::string& s) {
  try {
    std::size_t used = 0;
    auto n = std::stoull(s, &used);
    if (used != s.size())
      return std::nullopt;
    return n;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    return usage("name an attack (--list shows them)");
  std::string name = argv[1];
  if (name == "--list") {
    for (auto& a : all_attacks())
      std::cout << a.name << "\n    " << a.help << "\n";
    for (auto& a : all_raft_attacks())
      std::cout << a.name << "\n    " << a.help << "\n";
    return 0;
  }
  auto attack = find_attack(name);
  if (attack == nullptr)
    attack = find_raft_attack(name);
  if (attack == nullptr)
    return usage("unknown attack '" + name + "' (--list shows them)");
  attack_options opts;
  bool have_target = false;
  bool no_cert = false;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--no-cert") {
      no_cert = true;
      continue;
    }
    if (i + 1 >= argc)
      return usage(flag + " needs a value");
    std::string value = argv[++i];
    if (flag == "--target" || flag == "--via") {
      auto t = parse_target(value);
      if (!t)
        return usage(flag + " wants HOST:PORT, got '" + value + "'");
      if (flag == "--target") {
        opts.target = *t;
        have_target = true;
      } else {
        opts.via = *t;
      }
      continue;
    }
    if (flag == "--tls-dir" || flag == "--leaf" || flag == "--cluster" ||
        flag == "--key" || flag == "--from-address" || flag == "--client-name" ||
        flag == "--token") {
      if (flag == "--tls-dir")
        opts.tls_dir = value;
      else if (flag == "--leaf")
        opts.leaf = value;
      else if (flag == "--cluster")
        opts.cluster_id = value;
      else if (flag == "--key")
        opts.key = value;
      else if (flag == "--client-name")
        opts.client_name = value;
      else if (flag == "--token")
        opts.token = value;
      else
        opts.from_address = value;
      continue;
    }
    auto n = parse_number(value);
    if (!n)
      return usage(flag + " wants a number, got '" + value + "'");
    if (flag == "--wait-ms")
      opts.wait = ms{static_cast<ms::rep>(*n)};
    else if (flag == "--depth")
      opts.depth = static_cast<std::size_t>(*n);
    else if (flag == "--max-actor-id")
      opts.max_actor_id = *n;
    else if (flag == "--count")
      opts.count = *n;
    else if (flag == "--from")
      opts.from = *n;
    else if (flag == "--to")
      opts.to = *n;
    else if (flag == "--term")
      opts.term = *n;
    else if (flag == "--prev-index")
      opts.prev_index = *n;
    else if (flag == "--prev-term")
      opts.prev_term = *n;
    else if (flag == "--session")
      opts.session = *n;
    else if (flag == "--sequence")
      opts.sequence = *n;
    else if (flag == "--guesses")
      opts.guesses = *n;
    else
      return usage("unknown flag " + flag);
  }
  if (!have_target)
    return usage("--target HOST:PORT is required");
  if (no_cert && !opts.tls_dir.empty())
    return usage("--no-cert and --tls-dir exclude each other");
  if (opts.leaf != "client" && opts.leaf != "node")
    return usage("--leaf wants client or node, got '" + opts.leaf + "'");
  if (no_cert)
    opts.tls = tls_client{};
  else if (!opts.tls_dir.empty())
    opts.tls = tls_client{opts.tls_dir + "/" + opts.leaf + ".crt",
                          opts.tls_dir + "/" + opts.leaf + ".key"};
  auto report = attack->run(opts);
  std::cout << report.to_line() << std::endl;
  return report.ran ? 0 : 1;
}
