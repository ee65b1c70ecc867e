#pragma once
// The msgpack packers shared by the record codecs (codec.cpp) and the audit
// trail's codec (audit.cpp): strings as msgpack str, content as bin, absent
// optionals as nil, release rules as [labels, version, priority]. Each
// encoding is [format-version byte][one msgpack array] (encode_with).

#include "protocol/model.hpp"

#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::detail {

using packer = msgpack::packer<msgpack::sbuffer>;

inline void put_str(packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

inline void put_bin(packer& p, std::string_view s) {
  p.pack_bin(static_cast<std::uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

inline void put_opt_str(packer& p, const std::optional<std::string>& s) {
  if (s)
    put_str(p, *s);
  else
    p.pack_nil();
}

inline void put_opt_u64(packer& p, const std::optional<std::uint64_t>& v) {
  if (v)
    p.pack_uint64(*v);
  else
    p.pack_nil();
}

inline void put_bool(packer& p, bool b) {
  if (b)
    p.pack_true();
  else
    p.pack_false();
}

inline void put_strs(packer& p, const std::vector<std::string>& v) {
  p.pack_array(static_cast<std::uint32_t>(v.size()));
  for (auto& s : v)
    put_str(p, s);
}

inline void put_rules(packer& p, const std::vector<release_rule>& rules) {
  p.pack_array(static_cast<std::uint32_t>(rules.size()));
  for (auto& r : rules) {
    p.pack_array(3);
    p.pack_map(static_cast<std::uint32_t>(r.labels.size()));
    for (auto& [k, v] : r.labels) {
      put_str(p, k);
      put_str(p, v);
    }
    p.pack_uint64(r.version);
    p.pack_int32(r.priority);
  }
}

/// `version` as one byte, then what `body` packs.
template <class F>
std::string encode_with(std::uint8_t version, F&& body) {
  msgpack::sbuffer buf;
  buf.write(reinterpret_cast<const char*>(&version), 1);
  packer p{buf};
  body(p);
  return std::string{buf.data(), buf.size()};
}

} // namespace conflux::detail
