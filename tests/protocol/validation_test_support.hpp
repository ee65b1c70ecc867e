#pragma once
// What the validation tests share (tests/protocol/validation*_test.cpp): every
// rejection has its code and the actionable part of its message checked, and
// every format its happy path.

#include "protocol/validation.hpp"

#include <doctest/doctest.h>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::validation_test {

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Checks that `st` failed with `code` and that its message contains each
// fragment (the part that tells a person what to do).
inline void check_rejected(const status& st, errc code,
                           std::vector<std::string_view> fragments) {
  REQUIRE_FALSE(st.ok());
  INFO("message: " << st.err().message);
  CHECK(st.code() == code);
  for (auto f : fragments) {
    INFO("expected fragment: " << f);
    CHECK(contains(st.err().message, f));
  }
}

inline void check_ok(const status& st) {
  INFO("message: " << (st.ok() ? std::string{} : st.err().message));
  CHECK(st.ok());
}

inline const limits defaults{};

inline std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

inline release_rule rule(labels l, version_id v, std::int32_t priority) {
  return release_rule{std::move(l), v, priority};
}

/// "Billion laughs": `levels` anchored lists, the first of `width` strings,
/// each later one of `width` aliases of the one before, so that the last
/// stands for width^levels strings. A few hundred bytes.
inline std::string yaml_alias_bomb(int levels, int width) {
  std::string bomb =
      "l0: &l0 [" + repeat("\"lol\", ", std::size_t(width - 1)) + "\"lol\"]\n";
  for (int level = 1; level < levels; ++level) {
    std::string name = "l" + std::to_string(level);
    std::string alias = "*l" + std::to_string(level - 1);
    bomb += name + ": &" + name + " [" + repeat(alias + ", ", std::size_t(width - 1)) +
            alias + "]\n";
  }
  return bomb;
}

/// A schema every format's schema tests use.
inline const std::string port_schema = R"({
  "type": "object",
  "properties": {
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "hosts": {"type": "array", "items": {"type": "string"}}
  },
  "required": ["port"]
})";

} // namespace conflux::validation_test
