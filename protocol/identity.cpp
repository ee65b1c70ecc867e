#include "protocol/identity.hpp"

#include "protocol/text.hpp"

#include <utility>

namespace conflux {

namespace {

constexpr std::string_view scheme = "conflux://";
constexpr std::size_t max_cluster_id_size = 63;
constexpr std::size_t max_client_name_size = 64;

const std::string grammar_hint = "an identity is conflux://<cluster-id>/node/<id> or "
                                 "conflux://<cluster-id>/client/<name>";

identity_error fail(identity_problem p, std::string message) {
  return identity_error{p, std::move(message)};
}

bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_name_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '.' ||
         c == '_' || c == '-';
}

/// Splits "<cluster>/<rest>" after the scheme; checks the scheme, the
/// characters every identity URI refuses and the cluster id.
struct uri_parts {
  std::string_view cluster;
  std::string_view path; // after the '/' that ends the cluster id
};

identity_result<uri_parts> split_uri(std::string_view uri) {
  if (uri.substr(0, scheme.size()) != scheme)
    return fail(identity_problem::not_conflux_uri,
                quote(uri) + " does not start with \"conflux://\"; " + grammar_hint);
  std::string_view rest = uri.substr(scheme.size());
  if (auto at = rest.find_first_of("?#%"); at != std::string_view::npos) {
    const char* what = rest[at] == '?'   ? "a query ('?')"
                       : rest[at] == '#' ? "a fragment ('#')"
                                         : "percent-encoding ('%')";
    return fail(identity_problem::not_plain,
                quote(uri) + " holds " + what +
                    "; identity URIs have none, write every character as itself");
  }
  auto slash = rest.find('/');
  std::string_view cluster = rest.substr(0, slash);
  if (auto ok = check_cluster_id(cluster); !ok)
    return fail(ok.err().problem, ok.err().message + " (in " + quote(uri) + ")");
  if (slash == std::string_view::npos)
    return fail(identity_problem::bad_kind,
                quote(uri) + " has no path after the cluster id; " + grammar_hint);
  return uri_parts{cluster, rest.substr(slash + 1)};
}

} // namespace

std::string_view to_string(identity_kind kind) noexcept {
  switch (kind) {
  case identity_kind::node:
    return "node";
  case identity_kind::client:
    return "client";
  }
  return "unknown";
}

std::string_view to_string(identity_problem problem) noexcept {
  switch (problem) {
  case identity_problem::not_conflux_uri:
    return "not_conflux_uri";
  case identity_problem::not_plain:
    return "not_plain";
  case identity_problem::bad_cluster_id:
    return "bad_cluster_id";
  case identity_problem::bad_kind:
    return "bad_kind";
  case identity_problem::bad_node_id:
    return "bad_node_id";
  case identity_problem::bad_client_name:
    return "bad_client_name";
  case identity_problem::trailing_text:
    return "trailing_text";
  }
  return "unknown";
}

peer_identity::peer_identity(identity_kind kind, std::string cluster_id,
                             std::uint64_t node_id, std::string client_name)
    : kind_(kind), cluster_id_(std::move(cluster_id)), node_id_(node_id),
      client_name_(std::move(client_name)) {}

identity_result<peer_identity> peer_identity::node(std::string_view cluster_id,
                                                   std::uint64_t id) {
  if (auto ok = check_cluster_id(cluster_id); !ok)
    return std::move(ok).err();
  if (id == 0 || id > max_identity_node_id)
    return fail(identity_problem::bad_node_id,
                "node id " + std::to_string(id) +
                    " is out of range; node ids are 1 to " +
                    std::to_string(max_identity_node_id));
  return peer_identity{identity_kind::node, std::string{cluster_id}, id, {}};
}

identity_result<peer_identity> peer_identity::client(std::string_view cluster_id,
                                                     std::string_view name) {
  if (auto ok = check_cluster_id(cluster_id); !ok)
    return std::move(ok).err();
  if (auto ok = check_client_name(name); !ok)
    return std::move(ok).err();
  return peer_identity{identity_kind::client, std::string{cluster_id}, 0,
                       std::string{name}};
}

std::string peer_identity::uri() const {
  std::string out{scheme};
  out += cluster_id_;
  if (is_node()) {
    out += "/node/";
    out += std::to_string(node_id_);
  } else {
    out += "/client/";
    out += client_name_;
  }
  return out;
}

std::string peer_identity::describe() const {
  if (is_node())
    return "node " + std::to_string(node_id_) + " of cluster " + cluster_id_;
  return "client " + client_name_ + " of cluster " + cluster_id_;
}

identity_result<peer_identity> parse_identity(std::string_view uri) {
  auto parts = split_uri(uri);
  if (!parts)
    return std::move(parts).err();
  std::string_view path = parts->path;
  identity_kind kind;
  if (path.substr(0, 5) == "node/") {
    kind = identity_kind::node;
    path.remove_prefix(5);
  } else if (path.substr(0, 7) == "client/") {
    kind = identity_kind::client;
    path.remove_prefix(7);
  } else if (path == "ca") {
    return fail(identity_problem::bad_kind,
                quote(uri) + " names the CA of a cluster, not a node or a client; " +
                    grammar_hint);
  } else {
    return fail(identity_problem::bad_kind,
                quote(uri) + " has the path " + quote(path) + "; " + grammar_hint);
  }
  auto slash = path.find('/');
  if (slash != std::string_view::npos)
    return fail(identity_problem::trailing_text,
                quote(uri) + " continues after the " +
                    (kind == identity_kind::node ? "node id" : "client name") +
                    " with " + quote(path.substr(slash)) + "; nothing may follow it");
  if (kind == identity_kind::node) {
    auto id = parse_node_id(path);
    if (!id)
      return fail(id.err().problem, id.err().message + " (in " + quote(uri) + ")");
    return peer_identity::node(parts->cluster, *id);
  }
  auto who = peer_identity::client(parts->cluster, path);
  if (!who)
    return fail(who.err().problem, who.err().message + " (in " + quote(uri) + ")");
  return who;
}

std::string format_identity(const peer_identity& who) {
  return who.uri();
}

bool is_node_of(const peer_identity& who, std::string_view cluster_id,
                std::uint64_t node_id) noexcept {
  return who.is_node() && who.node_id() == node_id && who.cluster_id() == cluster_id;
}

identity_result<void> check_cluster_id(std::string_view cluster_id) {
  const std::string rule = "a cluster id is 1 to 63 characters from a-z, 0-9 and '-', "
                           "starting with a letter or digit";
  if (cluster_id.empty())
    return fail(identity_problem::bad_cluster_id, "the cluster id is empty; " + rule);
  if (cluster_id.size() > max_cluster_id_size)
    return fail(identity_problem::bad_cluster_id,
                "the cluster id " + quote(cluster_id) + " is " +
                    std::to_string(cluster_id.size()) + " characters long; " + rule);
  for (std::size_t i = 0; i < cluster_id.size(); ++i) {
    char c = cluster_id[i];
    if (is_lower_alnum(c) || (c == '-' && i > 0))
      continue;
    return fail(identity_problem::bad_cluster_id,
                "the cluster id " + quote(cluster_id) + " has " +
                    describe_char_at(cluster_id, i) + " at position " +
                    std::to_string(i + 1) + "; " + rule);
  }
  return {};
}

identity_result<void> check_client_name(std::string_view name) {
  const std::string rule = "a client name is 1 to 64 characters from A-Z, a-z, 0-9, "
                           "'.', '_' and '-', not starting with '.'";
  if (name.empty())
    return fail(identity_problem::bad_client_name, "the client name is empty; " + rule);
  if (name.size() > max_client_name_size)
    return fail(identity_problem::bad_client_name,
                "the client name " + quote(name) + " is " +
                    std::to_string(name.size()) + " characters long; " + rule);
  if (name[0] == '.')
    return fail(identity_problem::bad_client_name,
                "the client name " + quote(name) + " starts with '.'; " + rule);
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!is_name_char(name[i]))
      return fail(identity_problem::bad_client_name,
                  "the client name " + quote(name) + " has " +
                      describe_char_at(name, i) + " at position " +
                      std::to_string(i + 1) + "; " + rule);
  return {};
}

identity_result<std::uint64_t> parse_node_id(std::string_view text) {
  const std::string rule = "a node id is a decimal number from 1 to " +
                           std::to_string(max_identity_node_id) +
                           " without sign or leading zero";
  if (text.empty())
    return fail(identity_problem::bad_node_id, "the node id is empty; " + rule);
  for (std::size_t i = 0; i < text.size(); ++i)
    if (!is_digit(text[i]))
      return fail(identity_problem::bad_node_id,
                  "the node id " + quote(text) + " has " + describe_char_at(text, i) +
                      " at position " + std::to_string(i + 1) + "; " + rule);
  if (text == "0")
    return fail(identity_problem::bad_node_id, "node id 0 is not allowed; " + rule);
  if (text[0] == '0')
    return fail(identity_problem::bad_node_id,
                "the node id " + quote(text) + " has a leading zero; " + rule);
  // 19 digits hold every id up to 2^63-1; compare the digits before converting
  // so that no longer text can overflow.
  const std::string max_text = std::to_string(max_identity_node_id);
  if (text.size() > max_text.size() ||
      (text.size() == max_text.size() && text > std::string_view{max_text}))
    return fail(identity_problem::bad_node_id,
                "the node id " + quote(text) + " is too large; " + rule);
  std::uint64_t id = 0;
  for (char c : text)
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  return id;
}

std::string ca_uri(std::string_view cluster_id) {
  std::string out{scheme};
  out += cluster_id;
  out += "/ca";
  return out;
}

identity_result<std::string> parse_ca_uri(std::string_view uri) {
  auto parts = split_uri(uri);
  if (!parts)
    return std::move(parts).err();
  if (parts->path != "ca")
    return fail(identity_problem::bad_kind,
                quote(uri) +
                    " is not the URI of a cluster CA (conflux://<cluster-id>/ca)");
  return std::string{parts->cluster};
}

} // namespace conflux
