#pragma once
// A strict cursor over one msgpack array of a known arity, shared by the
// record codecs (codec.cpp) and the Raft wire codec (raft/wire.cpp). The first
// missing element, type mismatch or arity mismatch records a failure in `ok`;
// later reads return defaults, and the caller checks `ok` once. Never throws.
// Each codec derives its own reader and adds the reads only it needs.

#include <msgpack.hpp>

#include <cstdint>
#include <limits>
#include <string_view>

namespace conflux::detail {

class msgpack_array_reader {
public:
  /// `o` may be null (then the reader has failed).
  msgpack_array_reader(const msgpack::object* o, std::size_t expected_size, bool& ok)
    : ok_(ok) {
    if (!o || o->type != msgpack::type::ARRAY || o->via.array.size != expected_size) {
      ok_ = false;
      return;
    }
    items_ = o->via.array.ptr;
    size_ = o->via.array.size;
  }

  const msgpack::object* next() {
    if (!ok_ || pos_ >= size_) {
      ok_ = false;
      return nullptr;
    }
    return &items_[pos_++];
  }

  std::uint64_t u64() {
    auto* o = next();
    if (!o || o->type != msgpack::type::POSITIVE_INTEGER) {
      ok_ = false;
      return 0;
    }
    return o->via.u64;
  }

  /// Any msgpack integer that fits int64.
  std::int64_t i64() {
    auto* o = next();
    if (!o)
      return 0;
    if (o->type == msgpack::type::POSITIVE_INTEGER &&
        o->via.u64 <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return static_cast<std::int64_t>(o->via.u64);
    if (o->type == msgpack::type::NEGATIVE_INTEGER)
      return o->via.i64;
    ok_ = false;
    return 0;
  }

  bool boolean() {
    auto* o = next();
    if (!o || o->type != msgpack::type::BOOLEAN) {
      ok_ = false;
      return false;
    }
    return o->via.boolean;
  }

  /// Points into the unpacked object (valid while its zone lives).
  std::string_view str_view() { return raw(msgpack::type::STR); }
  std::string_view bin_view() { return raw(msgpack::type::BIN); }

  /// Consumes a nil element if one is next.
  bool peek_nil() {
    if (!ok_ || pos_ >= size_)
      return false;
    if (items_[pos_].type == msgpack::type::NIL) {
      ++pos_;
      return true;
    }
    return false;
  }

  /// Every element read and nothing failed.
  bool done() const { return ok_ && pos_ == size_; }

protected:
  bool& ok_;

private:
  std::string_view raw(msgpack::type::object_type t) {
    auto* o = next();
    if (!o || o->type != t) {
      ok_ = false;
      return {};
    }
    // STR and BIN share the layout of {size, ptr}.
    return t == msgpack::type::STR ? std::string_view{o->via.str.ptr, o->via.str.size}
                                   : std::string_view{o->via.bin.ptr, o->via.bin.size};
  }

  const msgpack::object* items_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t pos_ = 0;
};

} // namespace conflux::detail
