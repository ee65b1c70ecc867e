#include "protocol/raft/membership.hpp"

#include <algorithm>

namespace conflux::raft {

namespace {

bool has(const std::vector<server_id>& v, server_id id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

void erase(std::vector<server_id>& v, server_id id) {
  v.erase(std::remove(v.begin(), v.end(), id), v.end());
}

void put_u32(std::string& out, std::uint32_t x) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

void put_u64(std::string& out, std::uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

bool get_u64(const std::string& in, std::size_t& pos, std::uint64_t& x, int bytes) {
  if (in.size() - pos < static_cast<std::size_t>(bytes))
    return false;
  x = 0;
  for (int i = 0; i < bytes; ++i)
    x |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[pos + i])) << (8 * i);
  pos += static_cast<std::size_t>(bytes);
  return true;
}

bool get_list(const std::string& in, std::size_t& pos, std::vector<server_id>& out) {
  std::uint64_t n = 0;
  if (!get_u64(in, pos, n, 4))
    return false;
  if (n > (in.size() - pos) / 8)
    return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t id = 0;
    if (!get_u64(in, pos, id, 8) || id == no_server || has(out, id))
      return false;
    out.push_back(id);
  }
  return true;
}

constexpr char format_ids = 1;
constexpr char format_addresses = 2;

// Keeps the addresses of members only (a removed server's goes with it).
void merge_addresses(membership& m, const std::map<server_id, std::string>& extra) {
  for (auto& [id, addr] : extra)
    if (!addr.empty())
      m.addresses[id] = addr;
  for (auto i = m.addresses.begin(); i != m.addresses.end();) {
    if (!m.contains(i->first))
      i = m.addresses.erase(i);
    else
      ++i;
  }
}

} // namespace

bool membership::is_voter(server_id id) const {
  return has(voters, id);
}
bool membership::is_learner(server_id id) const {
  return has(learners, id);
}
bool membership::is_joining(server_id id) const {
  return has(joining, id);
}
bool membership::contains(server_id id) const {
  return is_voter(id) || is_learner(id) || is_joining(id);
}

std::vector<server_id> membership::all() const {
  std::vector<server_id> out = voters;
  out.insert(out.end(), learners.begin(), learners.end());
  out.insert(out.end(), joining.begin(), joining.end());
  return out;
}

std::optional<membership> apply_change(const membership& m,
                                       const membership_change& c) {
  if (c.server == no_server)
    return std::nullopt;
  membership out = m;
  switch (c.kind) {
  case membership_change_kind::add_voter:
    if (m.contains(c.server))
      return std::nullopt;
    out.joining.push_back(c.server);
    break;
  case membership_change_kind::add_learner:
    if (m.contains(c.server))
      return std::nullopt;
    out.learners.push_back(c.server);
    break;
  case membership_change_kind::promote:
    if (!m.is_learner(c.server) && !m.is_joining(c.server))
      return std::nullopt;
    erase(out.learners, c.server);
    erase(out.joining, c.server);
    out.voters.push_back(c.server);
    break;
  case membership_change_kind::remove:
    if (!m.contains(c.server))
      return std::nullopt;
    erase(out.voters, c.server);
    erase(out.learners, c.server);
    erase(out.joining, c.server);
    if (out.voters.empty())
      return std::nullopt;
    break;
  default:
    return std::nullopt;
  }
  merge_addresses(out, c.addresses);
  return out;
}

std::string encode_membership(const membership& m) {
  std::string out;
  out.reserve(1 + 12 + 8 * (m.voters.size() + m.learners.size() + m.joining.size()));
  out.push_back(m.addresses.empty() ? format_ids : format_addresses);
  for (const auto* list : {&m.voters, &m.learners, &m.joining}) {
    put_u32(out, static_cast<std::uint32_t>(list->size()));
    for (auto id : *list)
      put_u64(out, id);
  }
  if (m.addresses.empty())
    return out;
  put_u32(out, static_cast<std::uint32_t>(m.addresses.size()));
  for (auto& [id, addr] : m.addresses) {
    put_u64(out, id);
    put_u32(out, static_cast<std::uint32_t>(addr.size()));
    out += addr;
  }
  return out;
}

std::optional<membership> decode_membership(const std::string& bytes) {
  if (bytes.empty() || (bytes[0] != format_ids && bytes[0] != format_addresses))
    return std::nullopt;
  std::size_t pos = 1;
  membership m;
  if (!get_list(bytes, pos, m.voters) || !get_list(bytes, pos, m.learners) ||
      !get_list(bytes, pos, m.joining))
    return std::nullopt;
  if (bytes[0] == format_addresses) {
    std::uint64_t n = 0;
    // Format 2 always has at least one address (an empty map encodes as 1).
    if (!get_u64(bytes, pos, n, 4) || n == 0 || n > (bytes.size() - pos) / 12)
      return std::nullopt;
    server_id prev = no_server;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t id = 0, len = 0;
      if (!get_u64(bytes, pos, id, 8) || !get_u64(bytes, pos, len, 4) || id <= prev ||
          len == 0 || len > max_address_size || len > bytes.size() - pos)
        return std::nullopt;
      if (!has(m.voters, id) && !has(m.learners, id) && !has(m.joining, id))
        return std::nullopt;
      m.addresses.emplace(id, bytes.substr(pos, len));
      pos += len;
      prev = id;
    }
  }
  if (pos != bytes.size())
    return std::nullopt;
  // A server has one role: an id in two lists is not a configuration.
  for (auto id : m.learners)
    if (has(m.voters, id))
      return std::nullopt;
  for (auto id : m.joining)
    if (has(m.voters, id) || has(m.learners, id))
      return std::nullopt;
  return m;
}

} // namespace conflux::raft
