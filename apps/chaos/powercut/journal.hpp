// Power-cut journal: the undo records the LD_PRELOAD shim (shim.cpp) writes
// before every change a process makes under a data root, and the roll-back
// that turns the files into what a power cut would have left
// (docs/chaos.md, "Power cuts").
//
// The shim appends one record per change, in the order the changes happened,
// before it makes the change:
//   data      the bytes a write or truncation is about to overwrite or cut, and
//             the file's size before it;
//   create    a file or directory that did not exist;
//   rename    a rename (the replaced target, if any, is kept alive as a hard
//             link in the stash directory);
//   unlink    a removed file (kept alive in the stash the same way);
// and one record after each successful sync:
//   sync      fsync/fdatasync/msync of a file: its data records before the
//             sync started are durable;
//   sync_range a write through an O_DSYNC/O_SYNC descriptor: data records of
//             that file overlapping the written range are durable;
//   dir_sync  fsync of a directory: creates, renames and unlinks in it before
//             the sync started are durable (a rename needs both directories);
//   sync_all  sync(2)/syncfs(2): everything before is durable.
//
// Rolling back undoes every record that no later sync made durable, newest
// first. Files are found by inode, not by name, so a record stays right when
// the file was renamed afterwards. No CAF, no LMDB: shared by the shim, the
// conflux-powercut tool, conflux-chaos and the tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace conflux::powercut {

enum class record_kind : std::uint32_t {
  data = 1,
  sync = 2,
  sync_range = 3,
  dir_sync = 4,
  sync_all = 5,
  create = 6,
  rename = 7,
  unlink = 8,
};

inline constexpr std::uint32_t record_magic = 0x314a4350; // "PCJ1"

/// The fixed part of a record; `name_len` + `name2_len` + `payload_len` bytes
/// follow (name, name2, payload). Host byte order: a journal never leaves the
/// machine that wrote it.
struct record_header {
  std::uint32_t magic;
  std::uint32_t kind;
  std::uint64_t seq;
  std::uint64_t
      ino; ///< the file (data, sync*, create, rename, unlink) or the dir (dir_sync)
  std::uint64_t a; ///< data: offset; sync*: up-to seq; rename: destination dir ino
  std::uint64_t b; ///< data: size before; sync_range: length; rename: replaced ino (0:
                   ///< none); create/unlink: 1 for a directory
  std::uint64_t parent; ///< create/unlink/rename: the (source) directory's ino;
                        ///< sync_range: offset;
                        ///< data: how many bytes the change covers from `a` (written
                        ///< bytes, or for a truncation the bytes cut)
  std::uint32_t name_len;
  std::uint32_t name2_len;
  std::uint64_t payload_len;
};
static_assert(sizeof(record_header) == 64);

/// One record as read back.
struct record {
  record_kind kind{};
  std::uint64_t seq = 0, ino = 0, a = 0, b = 0, parent = 0;
  std::string name;  ///< path relative to the root (create, rename source, unlink)
  std::string name2; ///< rename destination, relative to the root
  std::string payload;
};

/// What to lose.
enum class cut_mode {
  /// Every unsynced byte and every unsynced directory change: the worst case.
  all,
  /// Directory changes as `all`; of the unsynced data, a seeded random half of
  /// the 4 KiB pages is kept (with its newest bytes), the rest is lost.
  torn,
};

struct rollback_options {
  std::string journal; ///< the journal file the shim wrote
  std::string root;    ///< the data root the shim watched
  cut_mode mode = cut_mode::all;
  std::uint64_t seed = 0; ///< torn: which pages survive
};

struct rollback_report {
  bool ok = false;
  std::string error;                ///< when !ok: what went wrong
  std::uint64_t records = 0;        ///< records read
  std::uint64_t undone_data = 0;    ///< data records undone
  std::uint64_t undone_meta = 0;    ///< create/rename/unlink records undone
  std::uint64_t durable = 0;        ///< records a later sync made durable
  std::uint64_t kept_pages = 0;     ///< torn: unsynced pages kept
  std::uint64_t lost_pages = 0;     ///< torn: unsynced pages lost
  std::uint64_t bytes_restored = 0; ///< old bytes written back
  std::vector<std::string> warnings;
};

/// Up to `len` bytes of `fd` from `off` (fewer at the end of the file or on
/// an error); retries EINTR. Shared by the roll-back and the shim.
std::string read_range(int fd, std::uint64_t off, std::uint64_t len);

/// Path of the stash directory for a journal (hard links that keep replaced
/// and removed files alive until their removal is durable). It must be on the
/// same file system as the root.
std::string stash_dir(const std::string& journal);

/// Reads every complete record; a torn last record (the process died while
/// appending it, before the change it describes) is ignored.
bool read_journal(const std::string& journal, std::vector<record>& out,
                  std::string& error);

/// Rolls the root back to what a power cut at the end of the journal leaves,
/// then empties the journal and the stash. Run it only after the process that
/// wrote the journal is gone (SIGKILL and reaped).
rollback_report rollback(const rollback_options& opts);

/// The process died but the machine did not (kill -9 without a power cut):
/// everything it wrote stays, so the journal and the stash are just emptied.
/// False (with `error`) if the journal cannot be emptied.
bool discard(const std::string& journal, std::string& error);

/// Whether a record of seq `s` is made durable by the later records
/// (the rules above). Exposed for the tests.
std::vector<bool> durable_records(const std::vector<record>& recs);

} // namespace conflux::powercut
