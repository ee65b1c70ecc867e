#include "apps/cli/cli_support.hpp"

#include "protocol/rules_file.hpp"
#include "protocol/validation.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>

namespace conflux::cli {

namespace {

/// `s` in double quotes for a message: quotes and backslashes escaped, tabs
/// as \x09, the rest as printable_text shows it.
std::string quote(std::string_view s) {
  std::string escaped;
  for (char c : s) {
    if (c == '"' || c == '\\')
      escaped += '\\';
    if (c == '\t')
      escaped += "\\x09";
    else
      escaped += c;
  }
  return "\"" + printable_text(escaped) + "\"";
}

error bad(std::string message) {
  return error{errc::invalid_argument, std::move(message)};
}

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Decimal digits to uint64; nullopt on anything else or overflow.
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (!all_digits(s))
    return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
      return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

/// [+-]digits to int32; nullopt on anything else or out of range.
std::optional<std::int32_t> parse_i32(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  auto mag = parse_u64(s);
  if (!mag)
    return std::nullopt;
  constexpr auto max =
      static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
  if (negative) {
    if (*mag > max + 1)
      return std::nullopt;
    return static_cast<std::int32_t>(-static_cast<std::int64_t>(*mag));
  }
  if (*mag > max)
    return std::nullopt;
  return static_cast<std::int32_t>(*mag);
}

/// validate_rules without its size limits (protocol/rules_file.hpp).
status check_rules(const std::vector<release_rule>& rules) {
  return check_rules_syntax(rules);
}

std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
      ++n;
  return n;
}

std::string read_all(std::istream& in) {
  std::string data;
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0)
    data.append(buf, static_cast<std::size_t>(in.gcount()));
  return data;
}

const char* const rule_spec_help =
    "write a rule as LABELS:VERSION[:PRIORITY], e.g. canary=true:3:10 or '*:2' "
    "(LABELS is K=V[,K=V...] or * for the default rule)";

} // namespace

// -- exit codes ------------------------------------------------------------------

int exit_code_for(errc code) noexcept {
  switch (code) {
  case errc::invalid_argument:
  case errc::invalid_content:
  case errc::schema_violation:
  case errc::too_large:
    return exit_bad_input;
  case errc::not_found:
  case errc::not_published:
    return exit_not_found;
  case errc::revision_mismatch:
  case errc::version_in_use:
  case errc::already_exists:
  case errc::failed_precondition:
    return exit_precondition;
  case errc::not_leader:
  case errc::no_quorum:
  case errc::timeout:
  case errc::unavailable:
  case errc::resource_exhausted:
    return exit_unavailable;
  case errc::permission_denied:
    return exit_denied;
  case errc::unauthenticated:
    return exit_unauthenticated;
  case errc::storage_failure:
  case errc::corrupted:
  case errc::unsupported_version:
  case errc::session_expired:
  case errc::stale_sequence:
    return exit_other;
  }
  return exit_other;
}

std::string hint_for(errc code, std::string_view endpoints) {
  std::string eps =
      endpoints.empty() ? std::string{} : " (now " + std::string{endpoints} + ")";
  switch (code) {
  case errc::unavailable:
    return "check --endpoints" + eps +
           " and that a majority of nodes is up (`conflux cluster status`)";
  case errc::no_quorum:
    return "a majority of nodes must be up and connected; see `conflux cluster status`";
  case errc::not_leader:
    return "the leader changed during the call; retry, and if it persists see "
           "`conflux cluster status`";
  case errc::timeout:
    return "the outcome is unknown: it may or may not have been applied; check the "
           "current state (e.g. `conflux config show KEY`) before retrying, or raise "
           "--timeout";
  case errc::corrupted:
  case errc::storage_failure:
    return "the node reported damaged or failing storage; check its log and "
           "`conflux cluster status`";
  default:
    return {};
  }
}

std::string token_hint(std::string_view token_file) {
  if (token_file.empty())
    return "no token was given: set CONFLUX_TOKEN_FILE or give --token-file FILE "
           "(a file from `conflux auth token create`; `scripts/dev up` prints the "
           "export line for the local cluster)";
  return "the token was read from " + std::string{token_file};
}

std::string error_line(std::string_view code_name, std::string_view message,
                       std::string_view hint, int exit, bool json) {
  std::string text{message.empty() ? code_name : message};
  if (json) {
    nlohmann::json j;
    j["error"] = std::string{code_name};
    j["message"] = text;
    if (!hint.empty())
      j["hint"] = std::string{hint};
    j["exit_code"] = exit;
    return dump_json(j);
  }
  std::string out = "conflux: " + text;
  if (!hint.empty())
    out += "; " + std::string{hint};
  // One line, whatever the message carried; characters as they are, bytes
  // that are no character (and control characters) as \xNN.
  for (auto& c : out)
    if (c == '\n' || c == '\r')
      c = ' ';
  return printable_text(out);
}

// -- local input checks ---------------------------------------------------------

expected<std::pair<std::string, std::string>> parse_label(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos)
    return bad("label " + quote(text) +
               " has no '='; write a label as KEY=VALUE, e.g. --label canary=true");
  if (eq == 0)
    return bad(
        "label " + quote(text) +
        " has an empty key; write a label as KEY=VALUE, e.g. --label canary=true");
  return std::make_pair(std::string{text.substr(0, eq)},
                        std::string{text.substr(eq + 1)});
}

expected<labels> parse_labels(const std::vector<std::string>& texts) {
  labels out;
  for (const auto& t : texts) {
    auto kv = parse_label(t);
    if (!kv.ok())
      return std::move(kv).err();
    auto [it, inserted] = out.emplace(kv->first, kv->second);
    if (!inserted)
      return bad("label key " + quote(kv->first) + " is given twice (" +
                 quote(it->first + "=" + it->second) + " and " + quote(t) +
                 "); give each label once");
  }
  if (auto st = check_label_syntax(out); !st.ok())
    return st.err();
  return out;
}

expected<release_rule> parse_rule_spec(std::string_view spec) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto colon = spec.find(':', start);
    parts.push_back(
        spec.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos)
      break;
    start = colon + 1;
  }
  const std::string name = "rule " + quote(spec);
  if (parts.size() < 2 || parts.size() > 3)
    return bad(name + " is not LABELS:VERSION[:PRIORITY]; " + rule_spec_help +
               "; label values with ':' or ',' need --rules-file");
  release_rule r;
  auto lbl = parts[0];
  if (lbl.empty())
    return bad(name + " has no labels before ':'; use * for the default rule (" +
               rule_spec_help + ")");
  if (lbl != "*") {
    std::size_t pos = 0;
    while (pos <= lbl.size()) {
      auto comma = lbl.find(',', pos);
      auto item =
          lbl.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
      if (item.empty())
        return bad(
            name + " has an empty label in " + quote(lbl) +
            "; separate labels with single commas, e.g. canary=true,region=eu:3");
      auto kv = parse_label(item);
      if (!kv.ok())
        return bad(name + ": " + kv.err().message + " (" + rule_spec_help + ")");
      auto [it, inserted] = r.labels.emplace(kv->first, kv->second);
      if (!inserted)
        return bad(name + " gives label key " + quote(it->first) +
                   " twice; give each label once");
      if (comma == std::string_view::npos)
        break;
      pos = comma + 1;
    }
  }
  auto ver = parse_u64(parts[1]);
  if (!ver || *ver == 0)
    return bad(name + " has version " + quote(parts[1]) +
               "; VERSION is a version id (1, 2, ...; see `conflux version list KEY`)");
  r.version = *ver;
  if (parts.size() == 3) {
    auto prio = parse_i32(parts[2]);
    if (!prio)
      return bad(name + " has priority " + quote(parts[2]) +
                 "; PRIORITY is a whole number from -2147483648 to 2147483647 "
                 "(higher wins; default 0)");
    r.priority = *prio;
  }
  if (auto st = check_label_syntax(r.labels); !st.ok())
    return bad(name + ": " + st.err().message);
  return r;
}

expected<std::vector<release_rule>>
parse_rule_specs(const std::vector<std::string>& specs) {
  std::vector<release_rule> rules;
  for (const auto& s : specs) {
    auto r = parse_rule_spec(s);
    if (!r.ok())
      return std::move(r).err();
    rules.push_back(std::move(*r));
  }
  if (auto st = check_rules(rules); !st.ok())
    return st.err();
  return rules;
}

expected<std::vector<release_rule>> parse_rules_json(std::string_view text) {
  return parse_rules_file(text);
}

expected<std::vector<std::string>> parse_endpoints(std::string_view text) {
  std::vector<std::string> out;
  const std::string how = "write endpoints as HOST:PORT[,HOST:PORT...], e.g. "
                          "--endpoints 10.0.0.1:7101,10.0.0.2:7101";
  std::size_t pos = 0;
  while (true) {
    auto comma = text.find(',', pos);
    auto item = text.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    item = b == std::string_view::npos ? std::string_view{} : item.substr(b, e - b + 1);
    if (item.empty())
      return bad("endpoint list " + quote(text) + " has an empty entry; " + how);
    auto colon = item.rfind(':');
    if (colon == std::string_view::npos)
      return bad("endpoint " + quote(item) + " has no port; " + how);
    auto host = item.substr(0, colon);
    auto port = item.substr(colon + 1);
    if (host.empty())
      return bad("endpoint " + quote(item) + " has no host; " + how);
    if (host.front() == '[') {
      if (host.size() < 3 || host.back() != ']')
        return bad("endpoint " + quote(item) +
                   " has an unclosed IPv6 bracket; write it as [ADDRESS]:PORT");
    } else if (host.find(':') != std::string_view::npos) {
      return bad("endpoint " + quote(item) +
                 " looks like an IPv6 address; put it in brackets: [ADDRESS]:PORT");
    }
    auto p = parse_u64(port);
    if (!p || *p == 0 || *p > 65535)
      return bad("endpoint " + quote(item) + " has port " + quote(port) +
                 "; a port is a number from 1 to 65535");
    out.emplace_back(item);
    if (comma == std::string_view::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

expected<std::uint64_t> parse_node_id(std::string_view text) {
  auto v = parse_u64(text);
  if (!v || *v == 0)
    return bad("ID " + quote(text) +
               " is not a node id; write a whole number from 1 up (see `conflux "
               "cluster status`)");
  return *v;
}

expected<std::uint64_t> parse_positive_number(std::string_view what,
                                              std::string_view text) {
  auto v = parse_u64(text);
  if (!v || *v == 0) {
    bool revision = what.find("revision") != std::string_view::npos;
    return bad(std::string{what} + " " + quote(text) + " is not a " +
               (revision ? "revision" : "version id") +
               "; write a whole number from 1 up (" +
               (revision ? "see the mod revision in `conflux config show KEY`"
                         : "see `conflux version list KEY`") +
               ")");
  }
  return *v;
}

expected<std::uint64_t> parse_event_count(std::string_view what,
                                          std::string_view text) {
  auto v = parse_u64(text);
  if (!v || *v == 0)
    return bad(std::string{what} + " " + quote(text) +
               " is not a number of events; write a whole number from 1 up (the watch "
               "exits after printing that many events; leave " +
               std::string{what} + " out to watch until stopped)");
  return *v;
}

status check_key(std::string_view key) {
  return validate_key(key);
}

status check_prefix(std::string_view prefix) {
  return validate_key_prefix(prefix);
}

status check_text(std::string_view what, std::string_view value) {
  return validate_text_field(what, value, std::numeric_limits<std::size_t>::max());
}

status check_new_config(content_format f, std::string_view content,
                        const std::optional<std::string>& schema) {
  auto keep = [](status st) {
    return st.ok() || st.code() == errc::too_large ? status{} : st;
  };
  limits lim;
  lim.max_content_bytes = std::numeric_limits<std::size_t>::max();
  lim.max_schema_bytes = std::numeric_limits<std::size_t>::max();
  if (auto st = keep(validate_content(f, content, lim)); !st.ok())
    return st;
  if (schema) {
    if (auto st = keep(validate_schema_document(*schema, lim)); !st.ok())
      return st;
    if (auto st = keep(validate_against_schema(*schema, f, content, lim)); !st.ok())
      return st;
  }
  return {};
}

expected<content_format> parse_format(std::string_view name) {
  if (auto f = parse_content_format(std::string{name}))
    return *f;
  return bad("unknown format " + quote(name) +
             "; use one of json, yaml, toml, properties, text");
}

expected<std::string> read_input_file(std::string_view what, const std::string& path) {
  if (path.empty())
    return bad(std::string{what} +
               " is empty; give a file path, or - for standard input");
  if (path == "-") {
    std::string data = read_all(std::cin);
    if (std::cin.bad())
      return bad(std::string{what} + " -: reading standard input failed");
    return data;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int e = errno;
    return bad(std::string{what} + " " + quote(path) + " cannot be read (" +
               (e ? std::strerror(e) : "cannot open") +
               "); check the path and its permissions");
  }
  errno = 0;
  std::string data = read_all(in);
  if (in.bad()) {
    int e = errno;
    return bad(std::string{what} + " " + quote(path) + " cannot be read (" +
               (e ? std::strerror(e) : "read error") +
               "); give a regular, readable file");
  }
  return data;
}

std::size_t utf8_char_length(std::string_view s, std::size_t i) noexcept {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n;
  std::uint32_t cp;
  if (c < 0x80) {
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 1;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 2;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i - 1 < n) // i < s.size(), so no underflow
    return 0;
  for (std::size_t k = 1; k <= n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates, beyond U+10FFFF.
  if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
    return 0;
  return n + 1;
}

bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    auto n = utf8_char_length(s, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string printable_text(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    auto u = static_cast<unsigned char>(s[i]);
    auto n = utf8_char_length(s, i);
    if (n > 1 || (n == 1 && (u >= 0x20 || u == '\t') && u != 0x7f)) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    out += "\\x";
    out += hex[u >> 4];
    out += hex[u & 0xf];
    ++i;
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static const char* tbl =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t v =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
        static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]))
                      << 16;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t v =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8);
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// -- rendering ---------------------------------------------------------------------

std::string format_time(std::int64_t ms, bool millis) {
  if (ms == 0)
    return "-";
  std::int64_t secs = ms / 1000;
  std::int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --secs;
  }
  auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr)
    return std::to_string(ms) + "ms";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (millis) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(rem));
    out += frac;
  }
  out += 'Z';
  return out;
}

std::string format_labels(const labels& l) {
  if (l.empty())
    return "*";
  std::string out;
  for (const auto& [k, v] : l) {
    if (!out.empty())
      out += ',';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string format_rule_spec(const release_rule& r) {
  std::string out = format_labels(r.labels) + ":" + std::to_string(r.version);
  if (r.priority != 0)
    out += ":" + std::to_string(r.priority);
  return out;
}

std::string hash_prefix(std::string_view hash, std::size_t n) {
  return std::string{hash.substr(0, std::min(n, hash.size()))};
}

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size())
      width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], display_width(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line.append(width[i] - display_width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

nlohmann::json rule_to_json(const release_rule& r) {
  nlohmann::json lbl = nlohmann::json::object();
  for (const auto& [k, v] : r.labels)
    lbl[k] = v;
  return {{"labels", lbl}, {"version_id", r.version}, {"priority", r.priority}};
}

nlohmann::json rules_to_json(const std::vector<release_rule>& rules) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : rules)
    arr.push_back(rule_to_json(r));
  return arr;
}

nlohmann::json config_to_json(const config& c) {
  nlohmann::json j;
  j["key"] = c.key;
  j["id"] = c.id;
  j["format"] = to_string(c.format);
  j["schema"] = c.schema ? nlohmann::json(*c.schema) : nlohmann::json(nullptr);
  j["secret"] = c.secret;
  j["latest_version_id"] = c.latest_version;
  j["rules"] = rules_to_json(c.releases);
  j["create_revision"] = c.create_revision;
  j["mod_revision"] = c.mod_revision;
  j["created_at"] = format_time(c.created_at_ms, true);
  j["created_at_ms"] = c.created_at_ms;
  j["updated_at"] = format_time(c.updated_at_ms, true);
  j["updated_at_ms"] = c.updated_at_ms;
  return j;
}

void put_content(nlohmann::json& obj, const std::string& content) {
  if (is_valid_utf8(content))
    obj["content"] = content;
  else
    obj["content_base64"] = base64_encode(content);
}

nlohmann::json version_to_json(const std::string& key, const version& v,
                               bool with_content) {
  nlohmann::json j;
  j["key"] = key;
  j["config_id"] = v.config;
  j["version_id"] = v.id;
  j["format"] = to_string(v.format);
  j["content_hash"] = v.content_hash;
  j["size"] = v.content.size();
  j["description"] = v.description;
  j["creator"] = v.creator;
  j["created_at"] = format_time(v.created_at_ms, true);
  j["created_at_ms"] = v.created_at_ms;
  j["revision"] = v.revision;
  if (with_content)
    put_content(j, v.content);
  return j;
}

std::vector<std::size_t> rules_pointing_at(const std::vector<release_rule>& rules,
                                           version_id id) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (rules[i].version == id)
      out.push_back(i);
  return out;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace conflux::cli
