// Deliberately broken builds, for proving that the power-cut harness catches
// what it exists to catch (docs/chaos.md, "The mutation check").
//
// mutant_active(name) is false in every normal build, whatever the
// environment says. Only a build configured with -DCONFLUX_MUTANTS=ON (its own
// build dir, never installed: `scripts/dev mutants`) compiles mutant.cpp so
// that it returns true when the environment variable CONFLUX_MUTANT equals
// `name`; it then prints one loud line to stderr (once). The names:
//   log-append-nosync    the Raft log's LMDB environment runs with MDB_NOSYNC
//   snapshot-dir-nosync  a local snapshot is renamed into place, and older
//                        ones removed, without syncing the snapshot directory
#pragma once

namespace conflux::storage {

bool mutant_active(const char* name);

} // namespace conflux::storage
