#pragma once
// msgpack codecs for everything Conflux stores or replicates: the command
// envelope of a log entry, the records of the state store, apply results.
//
// Every encoding starts with one format-version byte (codec::format_version),
// followed by a msgpack array. Decoding never throws and never reads out of
// bounds: garbage, truncated input, trailing bytes, wrong types or a newer
// format version come back as an error (corrupted or unsupported_version).

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"

namespace conflux::codec {

/// Version of every encoding below. Bump it when any layout changes and keep
/// decoding the older ones.
constexpr std::uint8_t format_version = 1;

std::string encode(const command_envelope& x);
std::string encode(const config& x);
std::string encode(const version& x);
std::string encode(const client_session& x);
std::string encode(const apply_result& x);

expected<command_envelope> decode_command(std::string_view bytes);
expected<config> decode_config(std::string_view bytes);
expected<version> decode_version(std::string_view bytes);
expected<client_session> decode_session(std::string_view bytes);
expected<apply_result> decode_apply_result(std::string_view bytes);

} // namespace conflux::codec
