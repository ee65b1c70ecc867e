// conflux-cert: makes the certificates of a Conflux cluster (docs/security.md,
// Certificates).
//
//   conflux-cert ca     --cluster ID --out DIR [--days N] [--force]
//   conflux-cert node   --ca DIR --id N --out DIR2 [--dns NAME]... [--ip ADDR]...
//                       [--days N] [--force]
//   conflux-cert client --ca DIR --name NAME --out DIR2 [--days N] [--force]
//   conflux-cert show   FILE
//
// `ca` writes DIR/ca.crt and DIR/ca.key; `node` and `client` write
// DIR2/node.* or DIR2/client.* and a copy of the CA certificate, DIR2/ca.crt,
// so that DIR2 holds everything one node or one client needs. The cluster id
// of a node or client certificate is the CA's. Keys are written 0600,
// certificates 0644, each atomically; existing files are replaced only with
// --force. Exit codes: 0 done, 2 bad usage or input (the message says what to
// do; nothing was written), 1 any other failure.

#include "actors/tls_certs.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace conflux;
using namespace conflux::actors;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_bad_input = 2;

constexpr std::int64_t max_days = 36500;

struct options {
  std::string cluster;
  std::string ca_dir;
  std::string out_dir;
  std::string node_id;
  std::string client_name;
  std::vector<std::string> dns;
  std::vector<std::string> ip;
  std::int64_t days = 0;
  bool force = false;
  std::string file;
};

std::string path_in(const std::string& dir, const std::string& name) {
  return !dir.empty() && dir.back() == '/' ? dir + name : dir + "/" + name;
}

/// Prints a refusal and returns its exit code: problems with what the user
/// gave are exit 2, failures of the machine (disk, OpenSSL) exit 1.
int report(const cert_error& e) {
  std::string line = "conflux-cert: " + to_string(e);
  if (e.problem == cert_problem::already_exists)
    line += " (pass --force to replace it)";
  std::cerr << line << '\n';
  const bool machine = e.problem == cert_problem::io_failure ||
                       e.problem == cert_problem::crypto_failure;
  return machine ? exit_failed : exit_bad_input;
}

int usage(const std::string& message) {
  std::cerr << "conflux-cert: " << message << '\n';
  return exit_bad_input;
}

std::string utc_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

overwrite overwrite_mode(const options& o) {
  return o.force ? overwrite::replace : overwrite::refuse;
}

int run_ca(const options& o) {
  if (auto ok = check_cluster_id(o.cluster); !ok)
    return usage("--cluster: " + ok.err().message);
  auto pem = make_cluster_ca(o.cluster, valid_for_days(o.days));
  if (!pem)
    return report(pem.err());
  auto written = write_files(o.out_dir,
                             {{"ca.crt", pem->cert, file_access::world_readable},
                              {"ca.key", pem->key, file_access::owner_only}},
                             overwrite_mode(o));
  if (!written)
    return report(written.err());
  std::cout << "wrote " << path_in(o.out_dir, "ca.crt") << " and "
            << path_in(o.out_dir, "ca.key") << " (mode 0600): the CA of cluster "
            << o.cluster << ", valid for " << o.days << " days\n"
            << "keep ca.key away from the nodes: whoever holds it can join the "
               "cluster\n";
  return exit_ok;
}

/// Issues with the CA in o.ca_dir and writes <kind>.crt, <kind>.key and ca.crt.
template <class Issue>
int run_leaf(const options& o, const std::string& kind, Issue issue) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(o.ca_dir, ec))
    return usage("--ca takes the directory that holds ca.crt and ca.key, not a file (" +
                 o.ca_dir + ")");
  auto ca = load_cluster_ca(path_in(o.ca_dir, "ca.crt"), path_in(o.ca_dir, "ca.key"));
  if (!ca)
    return report(ca.err());
  auto pem = issue(*ca, valid_for_days(o.days));
  if (!pem)
    return report(pem.err());
  auto written = write_leaf_dir(o.out_dir, kind, *pem, *ca, overwrite_mode(o));
  if (!written)
    return report(written.err());
  auto cert = parse_certificate(pem->cert, kind + ".crt");
  auto who = cert ? identity_of(cert->get()) : cert_result<peer_identity>{cert.err()};
  std::cout << "wrote " << path_in(o.out_dir, kind + ".crt") << ", "
            << path_in(o.out_dir, kind + ".key") << " (mode 0600) and "
            << path_in(o.out_dir, "ca.crt") << ": "
            << (who ? who->uri() : std::string{"(identity unreadable)"})
            << ", valid for " << o.days << " days\n";
  return exit_ok;
}

int run_node(const options& o) {
  auto id = parse_node_id(o.node_id);
  if (!id)
    return usage("--id: " + id.err().message);
  host_names names{o.dns, o.ip};
  return run_leaf(o, "node", [&](const cluster_ca& ca, const validity& v) {
    return issue_node_certificate(ca, *id, names, v);
  });
}

int run_client(const options& o) {
  if (auto ok = check_client_name(o.client_name); !ok)
    return usage("--name: " + ok.err().message);
  return run_leaf(o, "client", [&](const cluster_ca& ca, const validity& v) {
    return issue_client_certificate(ca, o.client_name, v);
  });
}

int run_show(const options& o) {
  auto s = summarize_certificate(o.file);
  if (!s)
    return report(s.err());
  std::string identity;
  if (s->identity)
    identity = s->identity->uri() + " (" + s->identity->describe() + ")";
  else if (s->ca_cluster)
    identity = ca_uri(*s->ca_cluster) + " (the CA of cluster " + *s->ca_cluster + ")";
  else
    identity = "none: " + s->identity_problem;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::string left;
  if (now > s->not_after)
    left = "expired " + std::to_string((now - s->not_after) / 86400) + " days ago";
  else if (now < s->not_before)
    left = "not valid yet";
  else
    left = std::to_string((s->not_after - now) / 86400);
  std::cout << "file:        " << o.file << '\n'
            << "identity:    " << identity << '\n'
            << "subject:     " << s->subject << '\n'
            << "issuer:      " << s->issuer << '\n'
            << "serial:      " << s->serial << '\n'
            << "not before:  " << utc_date(s->not_before) << '\n'
            << "not after:   " << utc_date(s->not_after) << '\n'
            << "days left:   " << left << '\n';
  for (const auto& d : s->names.dns)
    std::cout << "dns name:    " << d << '\n';
  for (const auto& ip : s->names.ip)
    std::cout << "ip address:  " << ip << '\n';
  return exit_ok;
}

/// --days for one command, bound to `days`, which holds its default.
void add_days(CLI::App& cmd, std::int64_t& days) {
  cmd.add_option("--days", days,
                 "days the certificate is valid (default " + std::to_string(days) + ")")
      ->check(CLI::Range(std::int64_t{1}, max_days));
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"conflux-cert: makes the CA, node and client certificates of a Conflux "
               "cluster"};
  app.require_subcommand(1);
  options o;

  auto* ca = app.add_subcommand("ca", "make a cluster CA: DIR/ca.crt, DIR/ca.key");
  ca->add_option("--cluster", o.cluster, "the cluster id ([a-z0-9][a-z0-9-]{0,62})")
      ->required();
  ca->add_option("--out", o.out_dir, "directory to write into (made 0700 if missing)")
      ->required();
  ca->add_flag("--force", o.force, "replace existing files");

  auto* node = app.add_subcommand(
      "node", "issue a node certificate: DIR2/node.crt, DIR2/node.key, DIR2/ca.crt");
  node->add_option("--ca", o.ca_dir, "directory holding ca.crt and ca.key")->required();
  node->add_option("--id", o.node_id, "the node's id (1 or more)")->required();
  node->add_option("--out", o.out_dir, "directory to write into (made 0700 if missing)")
      ->required();
  node->add_option("--dns", o.dns,
                   "a DNS name to add for people and tools (repeatable)");
  node->add_option("--ip", o.ip,
                   "an IP address to add for people and tools (repeatable)");
  node->add_flag("--force", o.force, "replace existing files");

  auto* client = app.add_subcommand(
      "client",
      "issue a client certificate: DIR2/client.crt, DIR2/client.key, DIR2/ca.crt");
  client->add_option("--ca", o.ca_dir, "directory holding ca.crt and ca.key")
      ->required();
  client
      ->add_option("--name", o.client_name, "the client's name ([A-Za-z0-9._-]{1,64})")
      ->required();
  client
      ->add_option("--out", o.out_dir, "directory to write into (made 0700 if missing)")
      ->required();
  client->add_flag("--force", o.force, "replace existing files");

  auto* show = app.add_subcommand("show", "print what a certificate says");
  show->add_option("FILE", o.file, "a PEM certificate")->required();

  std::int64_t ca_days = 3650;
  std::int64_t node_days = 365;
  std::int64_t client_days = 365;
  add_days(*ca, ca_days);
  add_days(*node, node_days);
  add_days(*client, client_days);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_ok : exit_bad_input;
  }
  try {
    if (ca->parsed()) {
      o.days = ca_days;
      return run_ca(o);
    }
    if (node->parsed()) {
      o.days = node_days;
      return run_node(o);
    }
    if (client->parsed()) {
      o.days = client_days;
      return run_client(o);
    }
    return run_show(o);
  } catch (const std::exception& e) {
    std::cerr << "conflux-cert: internal error: " << e.what() << '\n';
    return exit_failed;
  }
}
