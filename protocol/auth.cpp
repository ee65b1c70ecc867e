// Key patterns, permission names, principals and the decisions built on them
// (protocol/auth.hpp). Pure functions: the state machine and the nodes call
// them with values read from the replicated tables.

#include "protocol/auth.hpp"

#include "protocol/sha256.hpp"
#include "protocol/text.hpp"

#include <array>
#include <utility>

namespace conflux::auth {
namespace {

// Keys have at most four segments (tenant/app/env/name), so do patterns.
constexpr std::size_t max_pattern_segments = 4;
constexpr std::size_t max_segment_chars = 128;
constexpr std::size_t max_name_chars = 64;

struct perm_name {
  perm p;
  std::string_view name;
};

// In the order of the enum: permissions_to_string lists them this way.
constexpr std::array<perm_name, 8> perm_names{{
    {read, "read"},
    {write, "write"},
    {release, "release"},
    {del, "delete"},
    {read_secret, "read-secret"},
    {admin, "admin"},
    {cluster_admin, "cluster-admin"},
    {auditor, "auditor"},
}};

std::string valid_perm_names() {
  std::string out;
  for (auto& pn : perm_names) {
    if (!out.empty())
      out += ", ";
    out += pn.name;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool is_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// Splits at '/'; an empty input gives one empty segment.
std::vector<std::string_view> segments(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

const char* pattern_rule =
    "a pattern is 1 to 4 '/'-separated segments, each \"*\" (any one segment) or "
    "1-128 characters from A-Z a-z 0-9 . _ -, e.g. acme/*/prod";

} // namespace

expected<perm_set> parse_permissions(std::string_view csv) {
  perm_set out = 0;
  std::size_t start = 0;
  for (;;) {
    auto comma = csv.find(',', start);
    auto word = trim(
        csv.substr(start, comma == std::string_view::npos ? csv.npos : comma - start));
    if (word.empty())
      return error{
          errc::invalid_argument,
          "permission list " + quote(csv) +
              " has an empty entry; list permissions separated by commas from: " +
              valid_perm_names()};
    bool known = false;
    for (auto& pn : perm_names)
      if (pn.name == word) {
        out |= pn.p;
        known = true;
      }
    if (!known)
      return error{errc::invalid_argument, "unknown permission " + quote(word) +
                                               "; valid permissions are " +
                                               valid_perm_names()};
    if (comma == std::string_view::npos)
      return out;
    start = comma + 1;
  }
}

std::string permissions_to_string(perm_set set) {
  std::string out;
  for (auto& pn : perm_names)
    if (set & pn.p) {
      if (!out.empty())
        out += ',';
      out += pn.name;
    }
  return out;
}

status validate_pattern(std::string_view pattern) {
  if (pattern.empty())
    return {errc::invalid_argument,
            std::string{"the pattern is empty; "} + pattern_rule};
  auto segs = segments(pattern);
  if (segs.size() > max_pattern_segments)
    return {errc::invalid_argument, "pattern " + quote(pattern) + " has " +
                                        std::to_string(segs.size()) + " segments; " +
                                        pattern_rule};
  for (std::size_t i = 0; i < segs.size(); ++i) {
    auto seg = segs[i];
    auto where = "segment " + std::to_string(i + 1) + " of pattern " + quote(pattern);
    if (seg.empty())
      return {errc::invalid_argument, where + " is empty; " + pattern_rule};
    if (seg == "*")
      continue;
    if (seg.find('*') != std::string_view::npos)
      return {errc::invalid_argument,
              where +
                  " mixes '*' with other characters; \"*\" stands alone for one "
                  "whole segment (there is no \"**\" or partial match); " +
                  pattern_rule};
    if (seg == "." || seg == "..")
      return {errc::invalid_argument,
              where + " is \"" + std::string{seg} +
                  "\", which is reserved (it reads as a path step); " + pattern_rule};
    if (seg.size() > max_segment_chars)
      return {errc::invalid_argument,
              where + " is longer than 128 characters; " + pattern_rule};
    for (std::size_t k = 0; k < seg.size(); ++k)
      if (!is_key_char(seg[k]))
        return {errc::invalid_argument,
                where + " has " + describe_char_at(seg, k) + "; " + pattern_rule};
  }
  return {};
}

bool pattern_matches(std::string_view pattern, std::string_view key) {
  auto ps = segments(pattern);
  auto ks = segments(key);
  if (ps.size() > ks.size())
    return false;
  for (std::size_t i = 0; i < ps.size(); ++i)
    if (ps[i] != "*" && ps[i] != ks[i])
      return false;
  return true;
}

bool pattern_within(std::string_view inner, std::string_view outer) {
  auto in = segments(inner);
  auto out = segments(outer);
  // Keys have four segments: where inner stops, it lets any segment through,
  // so outer may only go on with "*" there.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == "*")
      continue;
    if (i >= in.size() || in[i] == "*" || in[i] != out[i])
      return false;
  }
  return true;
}

expected<grant> parse_grant(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return error{
        errc::invalid_argument,
        "grant " + quote(text) +
            " has no ':'; write PATTERN:PERM,PERM, e.g. acme/*/prod:read,release"};
  grant g;
  g.pattern = std::string{trim(text.substr(0, colon))};
  if (auto s = validate_pattern(g.pattern); !s.ok())
    return s.err();
  auto perms = parse_permissions(text.substr(colon + 1));
  if (!perms.ok())
    return std::move(perms).err();
  g.perms = *perms;
  if ((g.perms & cluster_perms) != 0 && g.pattern != "*")
    return error{
        errc::invalid_argument,
        "grant " + quote(text) + " gives " +
            permissions_to_string(g.perms & cluster_perms) +
            " on a pattern; cluster-wide permissions are granted only on \"*\" "
            "(write *:" +
            permissions_to_string(g.perms & cluster_perms) + ")"};
  return g;
}

std::string to_string(const grant& g) {
  return g.pattern + ":" + permissions_to_string(g.perms);
}

status validate_name(std::string_view what, std::string_view name) {
  auto rule =
      std::string{what} +
      " names are 1-64 characters from a-z 0-9 . _ -, starting with a letter or "
      "digit";
  if (name.empty())
    return {errc::invalid_argument, std::string{what} + " name is empty; " + rule};
  if (name.size() > max_name_chars)
    return {errc::invalid_argument, std::string{what} + " name " + quote(name) +
                                        " is longer than 64 characters; " + rule};
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
      return {errc::invalid_argument, std::string{what} + " name " + quote(name) +
                                          " has " + describe_char_at(name, i) +
                                          (i == 0 ? " first" : "") + "; " + rule};
  }
  return {};
}

std::string_view tenant_of(std::string_view key) {
  return key.substr(0, key.find('/'));
}

status validate_token_text(std::string_view token) {
  constexpr std::string_view prefix = "cfx_";
  constexpr std::size_t hex_chars = 64;
  const char* rule = "a token is \"cfx_\" followed by 64 lowercase hex characters, as "
                     "`conflux auth token create` prints it; check the token file";
  if (token.substr(0, prefix.size()) != prefix)
    return {errc::invalid_argument,
            std::string{"the token does not start with \"cfx_\"; "} + rule};
  if (token.size() != prefix.size() + hex_chars)
    return {errc::invalid_argument, "the token has " + std::to_string(token.size()) +
                                        " characters, not 68; " + rule};
  for (std::size_t i = prefix.size(); i < token.size(); ++i)
    if (!is_lower_hex(token[i]))
      return {errc::invalid_argument, "the token has a character that is not lowercase "
                                      "hex at position " +
                                          std::to_string(i + 1) + "; " + rule};
  return {};
}

std::string token_hash(std::string_view token) {
  return sha256_hex(token);
}

status validate_token_hash(std::string_view hash) {
  bool hex = hash.size() == 64;
  for (std::size_t i = 0; hex && i < hash.size(); ++i)
    hex = is_lower_hex(hash[i]);
  if (!hex)
    return {errc::invalid_argument,
            "a token hash is 64 lowercase hex characters (the SHA-256 of the token, "
            "as `conflux auth bootstrap-token` prints it); check the value"};
  return {};
}

perm_set access::on(std::string_view key) const {
  perm_set out = 0;
  for (auto& r : roles)
    for (auto& g : r.grants)
      if (pattern_matches(g.pattern, key))
        out |= g.perms;
  return out;
}

perm_set access::cluster() const {
  perm_set out = 0;
  for (auto& r : roles)
    for (auto& g : r.grants)
      if (g.pattern == "*")
        out |= g.perms & cluster_perms;
  return out;
}

status check_principal(const principal* p, std::int64_t now_ms) {
  if (p == nullptr)
    return {errc::unauthenticated,
            "no principal holds this token: it is unknown or was replaced; ask a "
            "cluster admin for a token and pass it with --token-file or "
            "CONFLUX_TOKEN_FILE"};
  if (p->disabled)
    return {errc::unauthenticated,
            "the token of principal " + quote(p->name) +
                " was revoked; ask a cluster admin for a new token"};
  if (p->expires_at_ms != 0 && now_ms >= p->expires_at_ms)
    return {errc::unauthenticated, "the token of principal " + quote(p->name) +
                                       " expired; ask a cluster admin for a new token"};
  return {};
}

error denied(const access& a, perm_set need, std::string_view what,
             std::string_view key) {
  bool cluster_wide = (need & cluster_perms) != 0;
  perm_set have = cluster_wide ? a.cluster() : a.on(key);
  perm_set missing = need & ~have;
  std::string msg = "principal " + quote(a.who.name) + " may not " + std::string{what};
  if (!key.empty())
    msg += " " + quote(key, 511);
  msg += ": it lacks " + permissions_to_string(missing);
  msg += cluster_wide ? " (cluster-wide)" : " on that key";
  msg += "; ask a cluster admin for a role granting " +
         (cluster_wide ? std::string{"*"} : std::string{key}) + ":" +
         permissions_to_string(missing);
  return {errc::permission_denied, std::move(msg)};
}

} // namespace conflux::auth
