// Writes the seed corpus of the fuzz targets (docs/fuzzing.md) into
// DIR/<target>/: encoded samples of every kind each decoder reads, so the
// fuzzer starts from valid inputs of every shape. Run by hand
// (`build-fuzz/bin/conflux_fuzz_seeds tests/fuzz/corpus`); the output is in
// the repository.
#include "protocol/audit.hpp"
#include "protocol/codec.hpp"
#include "protocol/raft/wire.hpp"
#include "storage/record.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/state_store.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace conflux;

namespace {

void write(const std::filesystem::path& dir, const std::string& name,
           const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<command> commands() {
  create_config secret{
      "t/a/e/s.json", content_format::json, std::nullopt, "CFXS", "", ""};
  secret.secret = true;
  secret.sealing = sealing{true, std::string(64, 'a')};
  return {
      create_config{"t/a/e/db.json", content_format::json, std::string{"{}"},
                    R"({"pool": 1})", "first", ""},
      secret,
      create_version{"t/a/e/db.json", R"({"pool": 2})", "d", "", revision_t{7}},
      update_release_rules{"t/a/e/db.json",
                           {{{{"canary", "true"}}, 2, 10}, {{}, 1, 0}},
                           "canary",
                           std::nullopt},
      publish{"t/a/e/db.json", "{}", "", "", {{{}, 0, 0}}, std::nullopt, "go"},
      delete_config{"t/a/e/db.json", revision_t{3}, true},
      delete_versions{"t/a/e/db.json", {1, 2}, std::nullopt},
      open_session{60'000, 0x1234'5678'9abc'def0},
      keep_alive{9},
      close_session{9},
      bootstrap_auth{"admin", std::string(64, 'b')},
      create_token{"ci", std::string(64, 'c'), {"dev"}, 3'600'000},
      revoke_token{"ci"},
      set_token_roles{"ci", {"ops"}},
      put_role{auth::role{"ops", {{"acme/*/prod", auth::read | auth::release}}}, true},
      delete_role{"ops"},
      set_tenant{"acme", 10, 100, 1 << 20, 50},
      set_audit_retention{1000},
      rewrap_secrets{{{"t/a/e/s.json", 1, "CFXS"}}},
  };
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: conflux_fuzz_seeds DIR\n");
    return 2;
  }
  std::filesystem::path root{argv[1]};
  int n = 0;
  for (auto& c : commands()) {
    command_envelope env{3, 4, c, "conflux://c/client/x", std::string(64, 'e')};
    write(root / "fuzz_command", "seed-" + std::to_string(n++), codec::encode(env));
  }

  // Records: the first byte picks the decoder (fuzz_records.cpp).
  auto record = [&](int kind, const std::string& bytes) {
    write(root / "fuzz_records", "seed-" + std::to_string(kind),
          std::string(1, static_cast<char>(kind)) + bytes);
  };
  config c;
  c.id = 1;
  c.key = "t/a/e/db.json";
  c.format = content_format::yaml;
  c.schema = "{}";
  c.releases = {{{{"zone", "eu"}}, 2, 5}};
  c.secret = true;
  record(0, codec::encode(c));
  version v;
  v.config = 1;
  v.id = 2;
  v.content = "a: 1";
  v.content_hash = std::string(64, 'f');
  v.sealed = true;
  record(1, codec::encode(v));
  client_session s;
  s.id = 5;
  s.owner = "conflux://c/client/x";
  s.principal = "alice";
  s.last_result.err = error{errc::revision_mismatch, "moved"};
  record(2, codec::encode(s));
  apply_result r;
  r.revision = 9;
  r.version = 2;
  record(3, codec::encode(r));
  auth::principal p;
  p.name = "alice";
  p.token_hash = std::string(64, 'd');
  p.roles = {"ops"};
  p.expires_at_ms = 1'700'000'000'000;
  record(4, codec::encode(p));
  record(5, codec::encode(auth::role{"ops", {{"acme", auth::read | auth::write}}}));
  auth::tenant t;
  t.name = "acme";
  t.max_configs = 10;
  record(6, codec::encode(t));
  audit::record a;
  a.seq = 1;
  a.revision = 4;
  a.principal = "alice";
  a.op = "publish";
  a.key = "t/a/e/db.json";
  a.versions = {2};
  a.rules_after = {{{}, 2, 0}};
  a.hash = std::string(64, '0');
  record(7, audit::encode(a));
  audit::chain ch;
  ch.head_seq = 1;
  ch.head_hash = std::string(64, '1');
  record(8, audit::encode(ch));
  audit::chain_point cp;
  cp.seq = 1;
  cp.hash = std::string(64, '2');
  record(9, audit::encode(cp));

  // Raft messages.
  auto entry = std::make_shared<raft::log_entry>();
  entry->term = 2;
  entry->index = 7;
  entry->timestamp_ms = 1'700'000'000'000;
  entry->data = codec::encode(command_envelope{0, 0, keep_alive{1}});
  raft::append_entries_request ae;
  ae.term = 2;
  ae.prev_log_index = 6;
  ae.prev_log_term = 1;
  ae.entries = {entry};
  ae.leader_commit = 6;
  raft::install_snapshot_request is;
  is.term = 3;
  is.meta.index = 10;
  is.meta.term = 2;
  is.data = "snapshot";
  std::vector<raft::message> msgs{
      raft::request_vote_request{3, 7, 2, true, false},
      raft::request_vote_response{3, true, true},
      ae,
      raft::append_entries_response{2, false, 6, 4, 1},
      raft::heartbeat_request{2, 6, 11},
      raft::heartbeat_response{2, 11},
      is,
      raft::timeout_now_request{4},
      raft::read_index_request{2, 77},
      raft::read_index_response{2, 77, 9},
  };
  n = 0;
  for (auto& m : msgs)
    write(root / "fuzz_raft_wire", "seed-" + std::to_string(n++),
          raft::encode_message(m));

  // Content: the first byte picks the format (1 + byte % 5).
  const std::vector<std::pair<int, std::string>> contents{
      {0, R"({"pool": 10, "name": "db", "tags": [1, 2.5, null, true]})"},
      {1, "pool: 10\nname: db\nlist:\n  - a\n  - {b: 1}\n"},
      {2, "pool = 10\n[server]\nname = \"db\"\nports = [1, 2]\n"},
      {3, "pool=10\nname = db\\\n  continued\n# comment\n"},
      {4, "plain text\n"},
      {35, R"({"type": "object", "required": ["pool"]})"},
  };
  n = 0;
  for (auto& [fmt, text] : contents)
    write(root / "fuzz_content", "seed-" + std::to_string(n++),
          std::string(1, static_cast<char>(fmt)) + text);
  // Release-rules files, as `conflux release set --rules-file` reads them.
  const std::vector<std::string> rule_files{
      R"([{"labels": {"canary": "true"}, "version_id": 3, "priority": 10}, {"version_id": 1}])",
      R"([{"labels": {"region": "eu-west", "tier": "gold"}, "version_id": 2, "priority": -5}])",
      R"([{"labels": null, "version_id": 7}])",
      "[]",
  };
  n = 0;
  for (auto& text : rule_files)
    write(root / "fuzz_rules_file", "seed-" + std::to_string(n++), text);
  // Storage values: [key length (and kind in the top bits)][key][framed payload].
  auto framed = [&](int kind, const std::string& key, const std::string& payload) {
    std::string b(1, static_cast<char>(kind * 32 + static_cast<int>(key.size())));
    b += key + storage::frame_value(key, payload);
    write(root / "fuzz_storage_record", "seed-" + std::to_string(kind), b);
  };
  framed(0, "t/a/e/db.json", codec::encode(c));
  framed(1, std::string("\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02", 16), codec::encode(v));
  framed(2, std::string("\0\0\0\0\0\0\0\x05", 8), codec::encode(s));
  framed(3, "alice", codec::encode(p));

  // A snapshot file of a small state (written through a temporary store).
  auto tmp = std::filesystem::temp_directory_path() / "conflux-fuzz-seeds-state";
  std::filesystem::remove_all(tmp);
  storage::state_store_options o;
  o.identity.cluster_id = "seeds";
  o.identity.node_id = 1;
  auto store = storage::state_store::open(tmp.string(), o);
  if (!store.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", tmp.c_str(),
                 to_string(store.err()).c_str());
    return 1;
  }
  {
    auto w = store->begin_write();
    config sc = c;
    sc.secret = false;
    version sv = v;
    sv.sealed = false;
    if (!w.ok() || !w->put_config(sc).ok() || !w->put_key(sc.key, sc.id).ok() ||
        !w->put_version(sv).ok() || !w->put_session(s).ok() ||
        !w->put_principal(p).ok() || !w->set_last_applied(12).ok() ||
        !w->commit().ok()) {
      std::fprintf(stderr, "cannot fill the seed state\n");
      return 1;
    }
  }
  auto rd = store->begin_read();
  storage::snapshot_header h;
  h.index = 12;
  h.term = 2;
  std::filesystem::create_directories(root / "fuzz_snapshot_file");
  auto snap = (root / "fuzz_snapshot_file" / "seed-0").string();
  if (!rd.ok() || !storage::write_snapshot_file(snap, h, *rd).ok()) {
    std::fprintf(stderr, "cannot write the seed snapshot\n");
    return 1;
  }
  std::filesystem::remove_all(tmp);
  std::printf("wrote the seed corpus under %s\n", argv[1]);
  return 0;
}
