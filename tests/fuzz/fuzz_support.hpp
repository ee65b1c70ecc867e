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

namespace conflux::fuzz {

/// Aborts (a finding) when `ok` is false, naming the check.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
  }
}

/// encode(decode(bytes)) decodes again, and encodes to the same bytes.
template <class Decode, class Encode>
void round_trip(std::string_view bytes, Decode decode, Encode encode,
                const char* what) {
  auto first = decode(bytes);
  if (!first.ok())
    return;
  auto encoded = encode(*first);
  auto second = decode(encoded);
  require(second.ok(), what);
  require(encode(*second) == encoded, what);
}

} // namespace conflux::fuzz
