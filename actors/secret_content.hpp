#pragma once
// Secret configs on the node (docs/security.md, "Secret configs"). The state
// machine holds no key: the node that admits a write to a secret config
// validates the plaintext and seals it before proposing, so the log, the
// state, snapshots and backups hold only ciphertext; a node opens sealed
// versions for readers with read-secret, and wraps data keys again under
// its current key-encryption key for `conflux kek rotate`.

#include "actors/kek_file.hpp"
#include "protocol/commands.hpp"
#include "protocol/state.hpp"
#include "protocol/validation.hpp"

#include <cstddef>
#include <functional>
#include <vector>

namespace conflux::actors {

/// Turns the content of a write to a secret config into sealed content: for
/// create_config with `secret`, and for create_version / publish of a config
/// this node's state holds as secret, validates the plaintext (format and
/// schema), seals it under keys->current() with the config key as context
/// and sets the command's sealing. Other writes are left as they are.
/// Refusals (nothing is proposed): invalid_argument when the client set the
/// sealing itself; unavailable when this node has no key file (keys null);
/// the validation's own errors for bad content.
/// `may_write(key)` runs first for a write that would be sealed: the state
/// machine decides at apply, but a principal that may not write the key is
/// refused (permission_denied) before its content is checked or sealed, and
/// before a missing key file is reported.
status seal_secret_write(const kek_ring* keys, state_reader& txn, const limits& lim,
                         command& cmd,
                         const std::function<status(const std::string&)>& may_write);

/// The version as a reader gets it. A sealed version is opened (its GCM tags
/// and its keyed hash checked) and returned with the plaintext and sealed =
/// false; other versions come back unchanged. Errors: unavailable when this
/// node lacks the key (none, or not the one the version names), corrupted
/// when the blob does not verify (the caller stops the node).
expected<version> open_sealed(const kek_ring* keys, const std::string& key, version v);

/// Sealed versions of the configs in `configs` whose data key is wrapped
/// under another KEK than keys.current(), rewrapped under it: at most
/// `max_items` items and about `max_bytes` of blobs. Versions whose KEK this
/// node lacks are an error (unavailable, naming the key id).
expected<std::vector<rewrapped_version>> rewrap_batch(const kek_ring& keys,
                                                      state_reader& txn,
                                                      std::size_t max_items,
                                                      std::size_t max_bytes);

/// At start: each key of the ring that wraps a sealed version of the state
/// must open one (its data key unwraps and the content verifies), else
/// invalid_argument naming the key id, `kek_path` and the version (the node
/// exits 2: the file holds another key under that id). Answers the ids that
/// wrap sealed versions but are not in the ring (the node cannot open those;
/// the caller warns).
expected<std::vector<std::string>>
check_ring_opens(const kek_ring& keys, state_reader& txn, const std::string& kek_path);

/// How many sealed versions the state holds under each KEK id.
expected<std::map<std::string, std::uint64_t>>
sealed_versions_by_key(state_reader& txn);

} // namespace conflux::actors
