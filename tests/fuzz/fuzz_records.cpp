// libFuzzer target: the state store's records and the audit trail's records
// (protocol/codec.hpp, protocol/audit.hpp), as a node reads them from LMDB or
// from a snapshot. The first byte picks the decoder; the rest is the record.
#include "protocol/audit.hpp"
#include "protocol/codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

namespace {

using namespace conflux;

// The encoder of each record kind, found by overload.
std::string encode_any(const config& x) {
  return codec::encode(x);
}
std::string encode_any(const version& x) {
  return codec::encode(x);
}
std::string encode_any(const client_session& x) {
  return codec::encode(x);
}
std::string encode_any(const apply_result& x) {
  return codec::encode(x);
}
std::string encode_any(const auth::principal& x) {
  return codec::encode(x);
}
std::string encode_any(const auth::role& x) {
  return codec::encode(x);
}
std::string encode_any(const auth::tenant& x) {
  return codec::encode(x);
}
std::string encode_any(const audit::record& x) {
  return audit::encode(x);
}
std::string encode_any(const audit::chain& x) {
  return audit::encode(x);
}
std::string encode_any(const audit::chain_point& x) {
  return audit::encode(x);
}

template <class Decode>
void check(std::string_view bytes, Decode decode, const char* what) {
  fuzz::round_trip(
      bytes, decode, [](const auto& x) { return encode_any(x); }, what);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  std::string_view bytes{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 10) {
  case 0:
    return check(bytes, codec::decode_config, "config"), 0;
  case 1:
    return check(bytes, codec::decode_version, "version"), 0;
  case 2:
    return check(bytes, codec::decode_session, "session"), 0;
  case 3:
    return check(bytes, codec::decode_apply_result, "apply result"), 0;
  case 4:
    return check(bytes, codec::decode_principal, "principal"), 0;
  case 5:
    return check(bytes, codec::decode_role, "role"), 0;
  case 6:
    return check(bytes, codec::decode_tenant, "tenant"), 0;
  case 7:
    return check(bytes, audit::decode_record, "audit record"), 0;
  case 8:
    return check(bytes, audit::decode_chain, "audit chain"), 0;
  default:
    return check(bytes, audit::decode_chain_point, "audit chain point"), 0;
  }
}
