// Directory operations that survive a power cut: a create, rename or remove
// is durable only once its directory has been fsynced (POSIX promises no
// more; docs/design.md, durability rule 11). No LMDB, no CAF.
#pragma once

#include "protocol/error.hpp"

#include <string>

namespace conflux::storage {

/// fsyncs a directory (after a rename or create in it).
status sync_dir(const std::string& dir);

/// Renames `from` to `to` (same file system) and fsyncs the directory of `to`.
status durable_rename(const std::string& from, const std::string& to);

/// Creates `dir` and any missing parents, fsyncing the parent of each one it
/// creates, so that the whole path survives a power cut; a no-op (one stat
/// per component) when it all exists.
status create_dirs_durable(const std::string& dir);

} // namespace conflux::storage
