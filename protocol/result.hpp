#pragma once
// `result<T, E>`: a value or an error of a type chosen by the caller's domain.
// `expected<T>` (protocol/error.hpp) carries the one wire vocabulary `errc`;
// this is for checks whose callers branch on a finer reason than errc has,
// such as why an identity URI or a certificate file was refused
// (protocol/identity.hpp, actors/tls_certs.hpp). `result<void, E>` is the
// status-only form.

#include <optional>
#include <utility>
#include <variant>

namespace conflux {

template <class T, class E>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(E err) : v_(std::in_place_index<1>, std::move(err)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // REQUIRES: !ok()
  const E& err() const& { return std::get<1>(v_); }
  E&& err() && { return std::get<1>(std::move(v_)); }

private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] result<void, E> {
public:
  result() = default;
  result(E err) : err_(std::move(err)) {}

  bool ok() const noexcept { return !err_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  // REQUIRES: !ok()
  const E& err() const& { return *err_; }
  E&& err() && { return std::move(*err_); }

private:
  std::optional<E> err_;
};

} // namespace conflux
