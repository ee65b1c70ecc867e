#pragma once
// The node's key-encryption keys (docs/security.md, "Secret configs"): read
// once at start from --kek-file, kept in memory only, never logged.
//
// File format: one key per line, `id:hex`, where id is 1..64 characters of
// [A-Za-z0-9._-] and hex is 64 hex digits (32 bytes). The first key is the
// current one (new secrets are sealed with it); the others only open what
// was sealed before a rotation. Blank lines and lines starting with '#' are
// skipped. The file must be a regular file that neither group nor others
// may read or write (mode & 077 == 0).
//
// A check value of each key (secret::check_value) is kept in the data dir
// (kek_check_file_name): at start, a key whose id is recorded there with
// another check value stops the node, so a wrong key file is caught before
// anything is served or sealed.

#include "protocol/error.hpp"
#include "protocol/secret_box.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace conflux::actors {

class kek_ring {
public:
  /// REQUIRES: !keys.empty(), ids distinct.
  explicit kek_ring(std::vector<secret::kek> keys) : keys_(std::move(keys)) {}
  /// The key new secrets are sealed with (the file's first).
  const secret::kek& current() const { return keys_.front(); }
  /// The key with `id`, or nullptr.
  const secret::kek* find(std::string_view id) const;
  const std::vector<secret::kek>& keys() const { return keys_; }
  /// A lookup for secret::open and secret::rewrap (valid while the ring lives).
  secret::kek_lookup lookup() const;

private:
  std::vector<secret::kek> keys_;
};

/// Reads and checks a key file. Errors are invalid_argument (or not_found
/// for a missing file) with the path, the line and what to do.
expected<kek_ring> load_kek_file(const std::string& path);

/// Parses the text of a key file (`path` only names it in messages).
expected<kek_ring> parse_kek_file(std::string_view text, const std::string& path);

/// The file in the data dir recording the check value of every key id the
/// node has used: `id:check` lines, mode 0600.
inline constexpr const char* kek_check_file_name = "kek-check";

/// Compares the ring with the check values recorded in `data_dir` and
/// records the ring's new ids. invalid_argument (the node exits 2) when a
/// recorded id's key differs from the file's, naming the id and the file.
status verify_kek_checks(const kek_ring& ring, const std::string& data_dir,
                         const std::string& kek_path);

/// The recorded check values, by id (empty when the file does not exist).
expected<std::map<std::string, std::string>>
read_kek_checks(const std::string& data_dir);

/// OpenSSL's RAND_bytes as a secret::random_source.
secret::random_source system_random();

} // namespace conflux::actors
