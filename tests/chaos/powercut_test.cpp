// The power-cut shim and its roll-back: each case prepares files under a
// fresh root (untraced, so they count as durable), runs powercut_writer under
// the shim (it makes its changes and SIGKILLs itself), rolls the root back
// and checks what a power cut leaves (docs/chaos.md, "Power cuts").
#include "apps/chaos/powercut/journal.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <lmdb.h>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace conflux::powercut;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put(const std::string& p, const std::string& s) {
  std::ofstream out{p, std::ios::binary | std::ios::trunc};
  out << s;
}

struct cut_fixture {
  std::string base, root, journal;
  /// CONFLUX_POWERCUT_IGNORE for the writer (empty: not set).
  std::string ignore;

  cut_fixture() {
    char tmpl[] = "/tmp/conflux-powercut-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    root = base + "/root";
    journal = base + "/journal";
    fs::create_directory(root);
  }
  ~cut_fixture() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }

  /// Runs the writer under the shim with `extra_env`; returns how it ended
  /// (the wait status).
  int run(const std::string& scenario, bool with_env = true) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::string pre = std::string{"LD_PRELOAD="} + CONFLUX_POWERCUT_SHIM;
      std::string j = "CONFLUX_POWERCUT_JOURNAL=" + journal;
      std::string r = "CONFLUX_POWERCUT_ROOT=" + root;
      std::string ig = "CONFLUX_POWERCUT_IGNORE=" + ignore;
      char* envp_full[] = {pre.data(), j.data(), r.data(),
                           ignore.empty() ? nullptr : ig.data(), nullptr};
      char* envp_bare[] = {pre.data(), nullptr};
      char* args[] = {const_cast<char*>(POWERCUT_WRITER),
                      const_cast<char*>(scenario.c_str()), root.data(), nullptr};
      ::execve(POWERCUT_WRITER, args, with_env ? envp_full : envp_bare);
      ::_exit(127);
    }
    int status = 0;
    // Bounded: the writer does a handful of writes.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL("powercut_writer did not finish in 20 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status;
  }

  /// Runs a scenario that must end in its own SIGKILL, then rolls back.
  rollback_report cut(const std::string& scenario, cut_mode mode = cut_mode::all,
                      std::uint64_t seed = 0) {
    int status = run(scenario);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "writer exit " << WEXITSTATUS(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    auto rep = rollback({journal, root, mode, seed});
    REQUIRE_MESSAGE(rep.ok, rep.error);
    return rep;
  }
};

} // namespace

TEST_CASE("an_unsynced_write_is_gone_after_a_power_cut") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  auto rep = f.cut("unsynced-write");
  CHECK(slurp(f.root + "/f") == "old-content");
  CHECK(rep.undone_data == 1);
}

TEST_CASE(
    "a_file_whose_name_is_ignored_is_not_journaled_and_keeps_its_unsynced_write") {
  cut_fixture f;
  f.ignore = "other,f";
  put(f.root + "/f", "old-content");
  auto rep = f.cut("unsynced-write");
  CHECK(slurp(f.root + "/f") == "NEW-content");
  CHECK(rep.records == 0);
}

TEST_CASE("a_synced_write_stays_and_a_later_unsynced_one_is_gone") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.cut("synced-write");
  CHECK(slurp(f.root + "/f") == "NEW-content");
}

TEST_CASE("an_unsynced_append_through_write_is_cut_back_to_the_old_size") {
  cut_fixture f;
  put(f.root + "/f", "old");
  f.cut("extend-then-cut");
  CHECK(slurp(f.root + "/f") == "old");
}

TEST_CASE("a_writev_at_the_lseek_offset_is_undone_at_that_offset") {
  cut_fixture f;
  put(f.root + "/f", "0123456789");
  f.cut("writev-at-lseek");
  CHECK(slurp(f.root + "/f") == "0123456789");
}

TEST_CASE("an_unsynced_overwrite_through_a_write_only_descriptor_is_undone") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.cut("write-only-overwrite");
  CHECK(slurp(f.root + "/f") == "old-content");
}

TEST_CASE("a_descriptor_closed_by_closedir_is_forgotten_before_its_number_is_reused") {
  cut_fixture f;
  auto rep = f.cut("closedir-then-socket");
  CHECK(rep.undone_data == 0);
  CHECK(rep.records == 0);
}

TEST_CASE("a_write_through_an_o_dsync_descriptor_counts_as_synced") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.cut("dsync-write");
  CHECK(slurp(f.root + "/f") == "NEW-content");
}

TEST_CASE("an_unsynced_ftruncate_and_an_unsynced_o_trunc_are_undone") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.cut("unsynced-truncate");
  CHECK(slurp(f.root + "/f") == "old-content");
  f.cut("open-truncate");
  CHECK(slurp(f.root + "/f") == "old-content");
}

TEST_CASE("an_unsynced_rename_is_undone_and_the_replaced_file_comes_back") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  auto rep = f.cut("unsynced-rename");
  CHECK(slurp(f.root + "/f") == "old-content");
  // tmp was created in a directory that was never synced: gone too.
  CHECK_FALSE(fs::exists(f.root + "/tmp"));
  CHECK(rep.undone_meta == 2);
}

TEST_CASE("a_rename_followed_by_a_directory_sync_stays") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.cut("synced-rename");
  CHECK(slurp(f.root + "/f") == "NEW");
  CHECK_FALSE(fs::exists(f.root + "/tmp"));
}

TEST_CASE(
    "a_file_created_in_an_unsynced_directory_is_gone_even_when_its_data_was_synced") {
  cut_fixture f;
  f.cut("unsynced-create");
  CHECK_FALSE(fs::exists(f.root + "/new"));
  CHECK_FALSE(fs::exists(f.root + "/newdir"));
}

TEST_CASE("an_unsynced_unlink_is_undone_and_a_synced_one_stays") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.cut("unsynced-unlink");
  CHECK(slurp(f.root + "/f") == "old-content");
  f.cut("synced-unlink");
  CHECK_FALSE(fs::exists(f.root + "/f"));
}

TEST_CASE("a_torn_cut_keeps_whole_pages_old_or_new_as_the_seed_decides") {
  cut_fixture f;
  put(f.root + "/f", std::string(16 * 4096, 'o'));
  auto rep = f.cut("torn-pages", cut_mode::torn, 7);
  auto after = slurp(f.root + "/f");
  REQUIRE(after.size() == 16 * 4096);
  int fresh = 0, old = 0;
  for (int pg = 0; pg < 16; ++pg) {
    auto page = after.substr(static_cast<std::size_t>(pg) * 4096, 4096);
    bool all_new = page == std::string(4096, 'N');
    bool all_old = page == std::string(4096, 'o');
    CHECK_MESSAGE((all_new || all_old), "page " << pg << " is mixed");
    fresh += all_new;
    old += all_old;
  }
  CHECK(fresh == static_cast<int>(rep.kept_pages));
  CHECK(old == static_cast<int>(rep.lost_pages));
  CHECK(fresh > 0);
  CHECK(old > 0);
}

namespace {

void lmdb_prepare(const std::string& dir) {
  fs::create_directory(dir);
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_mapsize(env, 1 << 24) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  mdb_env_close(env);
}

std::string lmdb_get(const std::string& dir, const char* key) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_mapsize(env, 1 << 24) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600) == 0);
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  REQUIRE(mdb_dbi_open(txn, nullptr, 0, &dbi) == 0);
  MDB_val k{std::strlen(key), const_cast<char*>(key)}, v{};
  std::string out = mdb_get(txn, dbi, &k, &v) == 0
                        ? std::string{static_cast<char*>(v.mv_data), v.mv_size}
                        : std::string{"<absent>"};
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

} // namespace

TEST_CASE("an_lmdb_commit_survives_a_power_cut_through_its_own_syncs") {
  cut_fixture f;
  lmdb_prepare(f.root + "/db");
  auto rep = f.cut("lmdb-synced");
  CHECK(lmdb_get(f.root + "/db", "k") == "committed");
  // LMDB's page writes (seen: the next case loses them without a sync) were
  // made durable by its fdatasync and its O_DSYNC meta write, so the shim had
  // nothing pending and emptied its journal.
  CHECK(rep.records == 0);
}

TEST_CASE("a_fresh_storage_environment_and_its_directories_survive_a_power_cut_after_a_"
          "commit") {
  cut_fixture f;
  f.cut("conflux-env-fresh");
  REQUIRE(fs::exists(f.root + "/data/log/data.mdb"));
  CHECK(lmdb_get(f.root + "/data/log", "k") == "committed");
}

TEST_CASE("an_lmdb_commit_without_sync_is_lost_and_the_synced_one_before_it_stays") {
  cut_fixture f;
  lmdb_prepare(f.root + "/db");
  auto rep = f.cut("lmdb-nosync");
  CHECK(rep.undone_data > 0);
  CHECK(lmdb_get(f.root + "/db", "k1") == "synced");
  CHECK(lmdb_get(f.root + "/db", "k2") == "<absent>");
}

TEST_CASE("the_shim_refuses_to_run_without_its_settings") {
  cut_fixture f;
  int status = f.run("unsynced-write", /*with_env=*/false);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 97);
}

TEST_CASE("the_shim_refuses_a_journal_that_was_not_rolled_back") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  int status = f.run("unsynced-write");
  REQUIRE(WIFSIGNALED(status));
  status = f.run("unsynced-write");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 97);
  // The first cut is still intact and can be rolled back.
  auto rep = rollback({f.journal, f.root, cut_mode::all, 0});
  REQUIRE(rep.ok);
  CHECK(slurp(f.root + "/f") == "old-content");
}

TEST_CASE("a_damaged_journal_is_refused_not_half_applied") {
  cut_fixture f;
  put(f.root + "/f", "old-content");
  f.run("unsynced-write");
  {
    std::fstream j{f.journal, std::ios::in | std::ios::out | std::ios::binary};
    j.seekp(0);
    j.write("XXXX", 4);
  }
  auto rep = rollback({f.journal, f.root, cut_mode::all, 0});
  CHECK_FALSE(rep.ok);
  CHECK(rep.error.find("damaged") != std::string::npos);
  CHECK(slurp(f.root + "/f") == "NEW-content");
}
