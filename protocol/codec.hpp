#pragma once
// msgpack codecs for everything Conflux stores or replicates: the command
// envelope of a log entry, the records of the state store, apply results.
//
// Every encoding starts with one format-version byte (command_format_version
// or record_format_version below), followed by a msgpack array. Decoding
// never throws and never reads out of bounds: garbage, truncated input,
// trailing bytes, wrong types or a newer format version come back as an error
// (corrupted or unsupported_version).

#include "protocol/auth.hpp"
#include "protocol/commands.hpp"
#include "protocol/error.hpp"
#include "protocol/model.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conflux::codec {

/// Each encoding carries the format version of its kind; bump the one whose
/// layout changes and keep decoding the older ones. A node that meets a newer
/// version stops (unsupported_version) instead of guessing, so replicas of
/// different builds never apply one entry two ways.
///
/// Command envelopes (the payload of a Raft command entry). Version 2 added
/// `force` to delete_config; version 1 entries, in logs written before,
/// still decode, their delete_config as force = true (what they did).
/// Version 3 added the envelope's `caller` and open_session's random `id`;
/// older entries decode with caller "" and no id (a sequential one).
/// Version 4 added the envelope's `credential` and `origin`, publish's
/// `comment`, the authorization commands and set_audit_retention (tag 17); older
/// entries decode with credential, origin and comment "" (and are refused
/// unauthenticated). Version 5 added the sealing of create_config (with its `secret`
/// flag), create_version and publish, and rewrap_secrets (tag 18); older entries decode
/// as not secret and not sealed.
constexpr std::uint8_t command_format_version = 5;
/// State records: config, version, client_session, apply_result, and the
/// authorization records principal, role and tenant. Version 2 added the
/// session's `owner` (version 1 sessions decode with owner ""); version 3 the
/// session's `principal` (older sessions decode with principal "") and the
/// authorization records; version 4 the config's `secret` and the version's
/// `sealed` (older ones decode as false); the other records have the same
/// layout in all.
constexpr std::uint8_t record_format_version = 4;

std::string encode(const command_envelope& x);
std::string encode(const config& x);
std::string encode(const version& x);
std::string encode(const client_session& x);
std::string encode(const apply_result& x);
std::string encode(const auth::principal& x);
std::string encode(const auth::role& x);
std::string encode(const auth::tenant& x);

expected<command_envelope> decode_command(std::string_view bytes);
expected<config> decode_config(std::string_view bytes);
expected<version> decode_version(std::string_view bytes);
expected<client_session> decode_session(std::string_view bytes);
expected<apply_result> decode_apply_result(std::string_view bytes);
expected<auth::principal> decode_principal(std::string_view bytes);
expected<auth::role> decode_role(std::string_view bytes);
expected<auth::tenant> decode_tenant(std::string_view bytes);

} // namespace conflux::codec
