#include "storage/record.hpp"

#include "storage/crc32c.hpp"
#include "storage/endian.hpp"

namespace conflux::storage {

namespace {

std::uint32_t frame_crc(std::string_view key, std::string_view payload) noexcept {
  return crc32c_extend(crc32c(key), payload.data(), payload.size());
}

} // namespace

void frame_value(std::string_view key, std::string_view payload, std::string& out) {
  out.resize(frame_header_size + payload.size());
  put_u32_le(out.data(), frame_crc(key, payload));
  if (!payload.empty())
    out.replace(frame_header_size, payload.size(), payload.data(), payload.size());
}

expected<std::string_view> unframe_value(std::string_view key, std::string_view value,
                                         const std::string& where) {
  if (value.size() < frame_header_size)
    return error{errc::corrupted, where + ": stored value of " +
                                      std::to_string(value.size()) +
                                      " bytes is shorter than its checksum header"};
  auto payload = value.substr(frame_header_size);
  auto stored = get_u32_le(value.data());
  auto actual = frame_crc(key, payload);
  if (stored != actual)
    return error{errc::corrupted, where + ": checksum mismatch (stored crc32c " +
                                      std::to_string(stored) + ", computed " +
                                      std::to_string(actual) + ")"};
  return payload;
}

} // namespace conflux::storage
