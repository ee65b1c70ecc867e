#pragma once
// The CLI's side of tokens (docs/cli.md, "Tokens and roles"): reading the
// token file a command presents, making a new token, writing one to a file
// only its owner can read, and the --expires durations. A token is made here,
// in the operator's process, never by a node: the cluster only ever receives
// its SHA-256 (auth::token_hash). No function here puts a token or any part of
// a token file into an error message.

#include "protocol/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conflux::cli {

/// A --expires value: a whole number followed by s, m, h or d ("90m", "12h",
/// "30d"), from 1 s to 3650 d; the milliseconds it stands for. `what` names
/// the option in the message.
expected<std::int64_t> parse_duration(std::string_view what, std::string_view text);

/// The token in a token file: the file must be a regular file that neither
/// group nor others may read or write (mode 0600 or 0400: anyone who can read
/// it acts as its principal), hold one token ("cfx_" + 64 lowercase hex) and
/// nothing else but a trailing line break. `what` names where the path came
/// from ("--token-file", "CONFLUX_TOKEN_FILE").
expected<std::string> read_token_file(std::string_view what, const std::string& path);

/// A new token: "cfx_" + 64 lowercase hex characters, 256 bits from OpenSSL's
/// RAND_bytes. storage_failure if the generator fails (never a weaker token).
expected<std::string> new_token();

/// Writes `token` and a line break to a new file `path` with mode 0600.
/// Refused (already_exists) if `path` exists: a token file is never
/// overwritten, so an older token cannot be lost by mistake.
status write_token_file(const std::string& path, const std::string& token);

} // namespace conflux::cli
