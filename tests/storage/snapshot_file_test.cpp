// Snapshot files (storage/snapshot_file.hpp): a state written to a file and
// installed into another node's state store comes back record for record; a
// damaged, truncated or foreign file is refused and the target state is left
// as it was; the snapshot directory helpers list and prune by index.

#include "protocol/state_machine.hpp"
#include "storage/crc32c.hpp"
#include "storage/endian.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/state_store.hpp"
#include "tests/protocol/auth_fixture.hpp"
#include "tests/storage/raw_edit.hpp"
#include "tests/storage/temp_dir.hpp"

#include <doctest/doctest.h>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using namespace conflux;
using namespace conflux::storage;
using conflux::storage::test::temp_dir;

state_store open_store(const std::string& dir, raft::server_id node) {
  state_store_options o;
  o.identity.cluster_id = "c1";
  o.identity.node_id = node;
  auto s = state_store::open(dir, o);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : to_string(s.err())));
  return std::move(*s);
}

config make_config(config_id id) {
  config c;
  c.id = id;
  c.key = "t/a/prod/cfg-" + std::to_string(id) + ".json";
  c.format = content_format::json;
  c.latest_version = 2;
  c.releases.push_back(release_rule{{}, 1, 0});
  c.create_revision = id;
  c.mod_revision = id + 1;
  return c;
}

version make_version(config_id c, version_id id) {
  version v;
  v.config = c;
  v.id = id;
  v.content = std::string(100, static_cast<char>('a' + id));
  v.content_hash = std::string(64, 'b');
  v.format = content_format::json;
  v.revision = c * 10 + id;
  return v;
}

// Fills `s` with n configs of two versions each, a session, counters and
// last_applied = applied.
void fill(state_store& s, int n, std::uint64_t applied) {
  auto w = s.begin_write();
  REQUIRE(w.ok());
  for (config_id c = 1; c <= static_cast<config_id>(n); ++c) {
    auto cfg = make_config(c);
    CHECK_OK(w->put_config(cfg));
    CHECK_OK(w->put_key(cfg.key, c));
    CHECK_OK(w->put_version(make_version(c, 1)));
    CHECK_OK(w->put_version(make_version(c, 2)));
  }
  client_session sess;
  sess.id = 4;
  sess.timeout_ms = 1000;
  CHECK_OK(w->put_session(sess));
  CHECK_OK(w->set_counter(counter::last_config_id, static_cast<std::uint64_t>(n)));
  CHECK_OK(w->set_counter(counter::last_session_id, 4));
  CHECK_OK(w->set_last_applied(applied));
  CHECK_OK(w->commit());
}

snapshot_info write_ok(const std::string& path, state_store& s, snapshot_header h) {
  auto r = s.begin_read();
  REQUIRE(r.ok());
  auto info = write_snapshot_file(path, h, *r);
  REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : to_string(info.err())));
  return *info;
}

std::string slurp(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream f{path, std::ios::binary | std::ios::trunc};
  f << bytes;
}

} // namespace

TEST_CASE("snapshot_file_round_trip_replaces_the_target_state") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 50, 77);
  auto path = tmp.sub("s.snap");
  auto info = write_ok(path, src, {77, 3, "membership-bytes"});
  // 50 configs + 50 keys + 100 versions + 1 session + 3 meta records
  // (last_applied and two counters; the identity stays out).
  CHECK(info.records == 204);

  auto v = verify_snapshot_file(path);
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : to_string(v.err())));
  CHECK(v->header.index == 77);
  CHECK(v->header.term == 3);
  CHECK(v->header.membership == "membership-bytes");
  CHECK(v->records == info.records);
  CHECK(v->bytes == slurp(path).size());

  // The target holds other data first: all of it must go.
  auto dst = open_store(tmp.sub("dst"), 2);
  fill(dst, 60, 5);
  {
    auto w = dst.begin_write();
    REQUIRE(w.ok());
    CHECK_OK(w->set_counter(counter::session_sweep_ms, 99));
    CHECK_OK(w->commit());
  }
  auto inst = install_snapshot_file(path, dst);
  REQUIRE_MESSAGE(inst.ok(), (inst.ok() ? "" : to_string(inst.err())));
  auto r = dst.begin_read();
  REQUIRE(r.ok());
  CHECK(*r->last_applied() == 77);
  CHECK(*r->get_counter(counter::last_config_id) == 50);
  CHECK(*r->get_counter(counter::session_sweep_ms) == 0);
  auto keys = r->list_keys("", 0);
  REQUIRE(keys.ok());
  CHECK(keys->size() == 50);
  CHECK_FALSE(r->find_config(51)->has_value());
  auto c7 = r->find_config(7);
  REQUIRE(c7->has_value());
  CHECK(**c7 == make_config(7));
  auto vs = r->list_versions(7);
  REQUIRE(vs.ok());
  REQUIRE(vs->size() == 2);
  CHECK((*vs)[1] == make_version(7, 2));
  CHECK(r->find_session(4)->has_value());
}

TEST_CASE("snapshot_install_keeps_the_target_identity") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 3, 9);
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {9, 1, "m"});
  {
    auto dst = open_store(tmp.sub("dst"), 2);
    REQUIRE(install_snapshot_file(path, dst).ok());
  }
  // Reopening as node 2 still works: node 1's identity was not copied.
  auto again = open_store(tmp.sub("dst"), 2);
  CHECK(*again.begin_read()->last_applied() == 9);
}

TEST_CASE("snapshot_file_checksum_mismatch_is_detected_and_changes_nothing") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 10, 20);
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {20, 2, "m"});
  auto bytes = slurp(path);
  // Flip one bit in the middle of the records.
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  spit(path, bytes);

  auto v = verify_snapshot_file(path);
  REQUIRE_FALSE(v.ok());
  CHECK(v.code() == errc::corrupted);

  auto dst = open_store(tmp.sub("dst"), 2);
  fill(dst, 4, 3);
  auto inst = install_snapshot_file(path, dst);
  REQUIRE_FALSE(inst.ok());
  CHECK(inst.code() == errc::corrupted);
  auto r = dst.begin_read();
  CHECK(*r->last_applied() == 3);
  CHECK(r->list_keys("", 0)->size() == 4);
}

TEST_CASE("snapshot_file_truncated_at_any_point_is_detected") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 5, 11);
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {11, 2, "m"});
  auto bytes = slurp(path);
  auto cut = tmp.sub("cut.snap");
  for (std::size_t n : {std::size_t{0}, std::size_t{5}, std::size_t{30},
                        bytes.size() / 3, bytes.size() - 5, bytes.size() - 1}) {
    CAPTURE(n);
    spit(cut, bytes.substr(0, n));
    auto v = verify_snapshot_file(cut);
    REQUIRE_FALSE(v.ok());
    CHECK(v.code() == errc::corrupted);
  }
  // Bytes after the checksum are refused as well.
  spit(cut, bytes + "x");
  CHECK(verify_snapshot_file(cut).code() == errc::corrupted);
}

TEST_CASE("snapshot_file_of_a_newer_format_is_refused_as_unsupported") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 1, 2);
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {2, 1, "m"});
  auto bytes = slurp(path);
  bytes[8] = 9; // format version, u32 LE at offset 8
  spit(path, bytes);
  CHECK(verify_snapshot_file(path).code() == errc::unsupported_version);
}

namespace {

// Adds a principal, a role and a tenant named after `tag`.
void fill_auth(state_store& s, const std::string& tag) {
  auto w = s.begin_write();
  REQUIRE(w.ok());
  auth::principal p;
  p.name = "p-" + tag;
  p.token_hash = std::string(64, tag[0]);
  p.roles = {"r-" + tag};
  CHECK_OK(w->put_principal(p));
  CHECK_OK(w->put_role(auth::role{"r-" + tag, {{"acme", auth::read}}}));
  auth::tenant t;
  t.name = "t-" + tag;
  t.configs = 3;
  CHECK_OK(w->put_tenant(t));
  CHECK_OK(w->commit());
}

// The file with its format version set to `v` and its checksum recomputed.
std::string with_version(std::string bytes, std::uint32_t v) {
  put_u32_le(bytes.data() + 8, v);
  auto body = bytes.size() - 4;
  put_u32_le(bytes.data() + body, crc32c(std::string_view{bytes}.substr(0, body)));
  return bytes;
}

} // namespace

TEST_CASE("a_snapshot_carries_the_authorization_tables") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 2, 12);
  fill_auth(src, "a");
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {12, 1, "m"});
  auto dst = open_store(tmp.sub("dst"), 2);
  fill_auth(dst, "b");
  REQUIRE(install_snapshot_file(path, dst).ok());
  auto r = dst.begin_read();
  REQUIRE(r.ok());
  auto principals = r->list_principals();
  REQUIRE(principals->size() == 1);
  CHECK((*principals)[0].name == "p-a");
  CHECK(r->find_principal_by_token(std::string(64, 'a'))->has_value());
  CHECK_FALSE(r->find_principal_by_token(std::string(64, 'b'))->has_value());
  REQUIRE(r->list_roles()->size() == 1);
  CHECK(r->find_role("r-a")->has_value());
  REQUIRE(r->list_tenants()->size() == 1);
  CHECK(r->find_tenant("t-a").value()->configs == 3);
}

TEST_CASE("a_snapshot_file_of_format_1_still_installs_without_auth_records") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  fill(src, 2, 12);
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {12, 1, "m"});
  auto v1 = tmp.sub("v1.snap");
  spit(v1, with_version(slurp(path), 1));
  auto dst = open_store(tmp.sub("dst"), 2);
  fill_auth(dst, "b");
  auto inst = install_snapshot_file(v1, dst);
  REQUIRE_MESSAGE(inst.ok(), (inst.ok() ? "" : to_string(inst.err())));
  auto r = dst.begin_read();
  CHECK(r->list_keys("", 0)->size() == 2);
  CHECK(r->list_principals()->empty());
  // An authorization record cannot appear in a format 1 file.
  fill_auth(src, "a");
  write_ok(path, src, {12, 1, "m"});
  spit(v1, with_version(slurp(path), 1));
  auto bad = verify_snapshot_file(v1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.code() == errc::corrupted);
  CHECK(bad.err().message.find("unknown record tag") != std::string::npos);
}

TEST_CASE("snapshot_directory_lists_by_index_and_prunes_older_files") {
  temp_dir tmp;
  auto dir = tmp.sub("snapshots");
  CHECK(list_snapshot_files(dir)->empty()); // missing dir: empty
  std::filesystem::create_directories(dir);
  for (auto [i, t] : {std::pair{30, 2}, {5, 1}, {100, 3}})
    spit(dir + "/" + snapshot_file_name(i, t), "x");
  spit(dir + "/recv.tmp", "x");
  spit(dir + "/snap-junk.snap", "x");
  auto files = list_snapshot_files(dir);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 3);
  CHECK((*files)[0].index == 5);
  CHECK((*files)[2].index == 100);
  CHECK((*files)[2].term == 3);
  CHECK_OK(remove_snapshot_files_before(dir, 100, true));
  files = list_snapshot_files(dir);
  REQUIRE(files->size() == 1);
  CHECK((*files)[0].index == 100);
  CHECK_FALSE(std::filesystem::exists(dir + "/recv.tmp"));
}

TEST_CASE("snapshot_file_carries_the_audit_trail_and_it_verifies_after_install") {
  temp_dir tmp;
  auto src = open_store(tmp.sub("src"), 1);
  auto dst = open_store(tmp.sub("dst"), 2);
  state_machine sm;
  // Commands applied through the state machine, as a leader's applier does;
  // retention 4 so that the snapshot also carries a base.
  auto apply_all = [&](state_store& s, int n) {
    std::vector<command> cmds{set_audit_retention{4}};
    for (int i = 0; i < n; ++i)
      cmds.push_back(create_config{"t/a/prod/c" + std::to_string(i),
                                   content_format::text, std::nullopt, "x", "", ""});
    std::uint64_t index = 0;
    {
      auto w = s.begin_write();
      REQUIRE(w.ok());
      REQUIRE(test_auth::seed_admin(*w).ok());
      CHECK_OK(w->commit());
    }
    for (auto& c : cmds) {
      auto w = s.begin_write();
      REQUIRE(w.ok());
      ++index;
      auto r = sm.apply(*w, index, 1000 + static_cast<std::int64_t>(index),
                        command_envelope{0, 0, c, "conflux://c1/client/a",
                                         test_auth::admin_credential()});
      REQUIRE(r.ok());
      CHECK_OK(w->commit());
    }
    return index;
  };
  auto last = apply_all(src, 7);
  apply_all(dst, 2); // other records, which the install must replace
  auto path = tmp.sub("s.snap");
  write_ok(path, src, {last, 1, "m"});
  auto installed = install_snapshot_file(path, dst);
  REQUIRE_MESSAGE(installed.ok(), (installed.ok() ? "" : to_string(installed.err())));
  auto a = src.begin_read();
  auto b = dst.begin_read();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b->get_audit_chain().value() == a->get_audit_chain().value());
  CHECK(b->get_audit_chain()->base_seq == 4);
  CHECK(b->list_audit(0, 0).value() == a->list_audit(0, 0).value());
  auto p = audit::verify(*b, 0);
  REQUIRE(p.ok());
  CHECK(p->intact());
  CHECK(p->head_seq == 8);
  CHECK(p->hash == audit::verify(*a, 0)->hash);
}
