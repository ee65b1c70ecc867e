// Shared message types / interfaces / errors for the spike (CAF 0.17.6).
#pragma once
#include <caf/all.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cfx {

// ---- error category (README §7) ----------------------------------------------
enum class errc : uint8_t { // 0 is reserved for "no error"
  not_leader = 1,
  not_found,
  precondition_failed,
};
std::string to_string(errc x);

// ---- enum class member --------------------------------------------------------
enum class consistency : uint8_t { linearizable, serializable };
// found by ADL by deep_to_string; without it the member prints "<unprintable>"
inline std::string to_string(consistency x) {
  return x == consistency::linearizable ? "linearizable" : "serializable";
}

// ---- std::optional adapter ----------------------------------------------------
// CAF 0.17.6 has no inspect() for std::optional / std::variant (only for
// caf::optional / caf::variant). This proxy makes a std::optional<T> member
// inspectable: wire format = bool flag + value (same as caf::optional).
template <class T>
struct opt_ref {
  std::optional<T>& x;
};
template <class T>
opt_ref<T> opt(std::optional<T>& x) {
  return {x};
}

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, opt_ref<T>& r) {
  if constexpr (Inspector::reads_state) { // serializer, to_string
    bool flag = r.x.has_value();
    T tmp = flag ? *r.x : T{};
    return f(flag, tmp); // always flag + value
  } else {               // deserializer
    bool flag = false;
    T tmp{};
    auto res = f(flag, tmp);
    if (flag)
      r.x = std::move(tmp);
    else
      r.x.reset();
    return res;
  }
}

// ---- std::variant adapter: tag byte + alternative ----------------------------
template <class... Ts>
struct var_ref {
  std::variant<Ts...>& x;
};
template <class... Ts>
var_ref<Ts...> var(std::variant<Ts...>& x) {
  return {x};
}

template <class Inspector, class V, size_t I = 0>
typename Inspector::result_type load_alt(Inspector& f, V& v, uint8_t tag) {
  if constexpr (I < std::variant_size_v<V>) {
    if (tag == I) {
      std::variant_alternative_t<I, V> tmp{};
      auto res = f(tmp);
      v.template emplace<I>(std::move(tmp));
      return res;
    }
    return load_alt<Inspector, V, I + 1>(f, v, tag);
  } else {
    return typename Inspector::result_type{}; // unknown tag: leave as is
  }
}

template <class Inspector, class... Ts>
typename Inspector::result_type inspect(Inspector& f, var_ref<Ts...>& r) {
  if constexpr (Inspector::reads_state) {
    uint8_t tag = static_cast<uint8_t>(r.x.index());
    return std::visit([&](auto& alt) { return f(tag, alt); }, r.x);
  } else {
    uint8_t tag = 0;
    if (auto res = f(tag); res) // read tag first
      return res;
    return load_alt(f, r.x, tag);
  }
}

// ---- a "fat" RPC struct (README §1) ----------------------------------------------
struct put_req {
  std::string key;
  std::vector<uint8_t> value; // bytes
  std::string blob;           // e.g. msgpack-encoded payload
  std::optional<uint64_t> if_revision;
  std::map<std::string, std::string> labels;
  std::variant<uint64_t, std::string> ref; // e.g. version id or name
  consistency cons = consistency::linearizable;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_req& x) {
  auto o = opt(x.if_revision);
  auto v = var(x.ref);
  return f(caf::meta::type_name("cfx.put_req"), x.key, x.value, x.blob, o, x.labels, v,
           x.cons);
}

struct put_resp {
  uint64_t revision = 0;
  std::string leader_hint;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, put_resp& x) {
  return f(caf::meta::type_name("cfx.put_resp"), x.revision, x.leader_hint);
}

struct ping {
  uint64_t seq = 0;
  std::string pad;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ping& x) {
  return f(caf::meta::type_name("cfx.ping"), x.seq, x.pad);
}

} // namespace cfx

// error enum -> caf::error with category atom "conflux" (<= 10 chars)
CAF_ERROR_CODE_ENUM(cfx::errc, "conflux")

// ---- type-ID block (exists in Debian's 0.17.6) ---------------------------------
CAF_BEGIN_TYPE_ID_BLOCK(conflux, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(conflux, (cfx::put_req))
CAF_ADD_TYPE_ID(conflux, (cfx::put_resp))
CAF_ADD_TYPE_ID(conflux, (cfx::ping))
CAF_ADD_TYPE_ID(conflux, (cfx::consistency))
CAF_END_TYPE_ID_BLOCK(conflux)

namespace cfx {
// remote-facing interface
using kv_actor = caf::typed_actor<caf::replies_to<put_req>::with<put_resp>,
                                  caf::replies_to<ping>::with<uint64_t>>;
} // namespace cfx
