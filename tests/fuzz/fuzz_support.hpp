#pragma once
// Shared by the libFuzzer targets (docs/fuzzing.md): each target feeds bytes
// from outside the process to one decoder. A decoder may refuse any input
// with a typed error; it must never crash, hang, read out of bounds or leak
// (ASan and UBSan watch), and what it accepts must encode back to bytes that
// decode to the same value (checked here: a mismatch aborts the run).

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace conflux::fuzz {

/// Aborts (a finding) when `ok` is false, naming the check.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
  }
}

template <class T, class = void>
struct has_equal : std::false_type {};
template <class T>
struct has_equal<
    T, std::void_t<decltype(std::declval<const T&>() == std::declval<const T&>())>>
    : std::true_type {};
// std::variant declares == for every alternative list; it compiles only when
// each alternative has one.
template <class... Ts>
struct has_equal<std::variant<Ts...>> : std::conjunction<has_equal<Ts>...> {};

/// encode(decode(bytes)) decodes again to the same value (where the type has
/// ==), and encodes to the same bytes.
template <class Decode, class Encode>
void round_trip(std::string_view bytes, Decode decode, Encode encode,
                const char* what) {
  auto first = decode(bytes);
  if (!first.ok())
    return;
  auto encoded = encode(*first);
  auto second = decode(encoded);
  require(second.ok(), what);
  if constexpr (has_equal<std::decay_t<decltype(*first)>>::value)
    require(*second == *first, what);
  require(encode(*second) == encoded, what);
}

} // namespace conflux::fuzz
