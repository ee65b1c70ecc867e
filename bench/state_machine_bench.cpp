// Micro-benchmarks of the configuration state machine: apply throughput of
// create_version commands and release-resolution latency.
// Figures and the command that produced them: docs/benchmarks.md.

#include <benchmark/benchmark.h>

#include <string>

#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/resolve.hpp"
#include "protocol/state_machine.hpp"
#include "bench/bench_dir.hpp"
#include "storage/state_store.hpp"

using namespace conflux;

namespace {

const std::string bench_key = "acme/billing/prod/db.json";

// A JSON document of about `bytes` bytes.
std::string json_content(std::size_t bytes, std::uint64_t n) {
  std::string s = "{\"n\":" + std::to_string(n) + ",\"pad\":\"";
  while (s.size() + 2 < bytes)
    s += 'x';
  return s + "\"}";
}

raft::log_entry entry(std::uint64_t index, const command& cmd) {
  raft::log_entry e;
  e.index = index;
  e.term = 1;
  e.timestamp_ms = 1'700'000'000'000 + static_cast<std::int64_t>(index);
  e.data = codec::encode(command_envelope{0, 0, cmd});
  return e;
}

// Applies create_config, then create_version commands, each decoded from its
// log entry as the applier does, to the in-memory state.
void BM_apply_create_version_memory(benchmark::State& state) {
  memory_state st;
  state_machine sm;
  std::uint64_t index = 1;
  if (!sm.apply(st, entry(index, create_config{bench_key, content_format::json,
                                                std::nullopt, "{}", "", ""})).ok())
    state.SkipWithError("create_config failed");
  auto size = static_cast<std::size_t>(state.range(0));
  std::vector<raft::log_entry> entries;
  for (std::uint64_t i = 0; i < 1024; ++i)
    entries.push_back(entry(0, create_version{bench_key, json_content(size, i), "", "bench",
                                              std::nullopt}));
  std::size_t k = 0;
  for (auto _ : state) {
    auto& e = entries[k++ % entries.size()];
    e.index = ++index;
    auto r = sm.apply(st, e);
    if (!r.ok() || !r->ok())
      state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_apply_create_version_memory)->Arg(256)->Arg(4096);

// The same commands applied to the LMDB state store the way the applier
// does: one durable write transaction per batch of `range(0)` entries, with
// last_applied in the same transaction.
void BM_apply_create_version_lmdb(benchmark::State& state) {
  bench::bench_dir dir;
  storage::state_store_options o;
  o.identity.cluster_id = "bench";
  o.identity.node_id = 1;
  auto store = storage::state_store::open(dir.path() + "/state", o);
  if (!store.ok()) {
    state.SkipWithError(to_string(store.err()).c_str());
    return;
  }
  state_machine sm;
  std::uint64_t index = 1;
  {
    auto txn = store->begin_write();
    if (!txn.ok() ||
        !sm.apply(*txn, entry(index, create_config{bench_key, content_format::json,
                                                  std::nullopt, "{}", "", ""}))
           .ok() ||
        !txn->commit().ok()) {
      state.SkipWithError("setup failed");
      return;
    }
  }
  auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<raft::log_entry> entries;
  for (std::uint64_t i = 0; i < 1024; ++i)
    entries.push_back(
      entry(0, create_version{bench_key, json_content(256, i), "", "bench", std::nullopt}));
  std::size_t k = 0;
  for (auto _ : state) {
    auto txn = store->begin_write();
    if (!txn.ok()) {
      state.SkipWithError("begin_write failed");
      break;
    }
    for (std::size_t i = 0; i < batch; ++i) {
      auto& e = entries[k++ % entries.size()];
      e.index = ++index;
      auto r = sm.apply(*txn, e);
      if (!r.ok() || !r->ok())
        state.SkipWithError("apply failed");
    }
    if (!txn->commit().ok())
      state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}
BENCHMARK(BM_apply_create_version_lmdb)->Arg(1)->Arg(64)->UseRealTime();

// A config with 50 rules and a client with 8 labels: the full resolve query
// (config lookup, rule choice, version fetch, SHA-256 check).
void BM_resolve_50_rules_8_labels(benchmark::State& state) {
  memory_state st;
  state_machine sm;
  std::uint64_t index = 0;
  auto ok = sm.apply(st, entry(++index, create_config{bench_key, content_format::json,
                                                      std::nullopt, json_content(256, 0),
                                                      "", ""}))
              .ok();
  for (std::uint64_t v = 2; v <= 10; ++v)
    ok = ok && sm.apply(st, entry(++index, create_version{bench_key, json_content(256, v),
                                                          "", "", std::nullopt}))
                 .ok();
  std::vector<release_rule> rules;
  for (int i = 0; i < 50; ++i) {
    labels l;
    // 1 to 4 labels per rule, most not matching the client.
    for (int j = 0; j <= i % 4; ++j)
      l["k" + std::to_string((i + j) % 12)] = "v" + std::to_string((i * 7 + j) % 3);
    rules.push_back({l, static_cast<version_id>(1 + i % 10), i % 5});
  }
  rules.push_back({{}, 1, -1});
  ok = ok && sm.apply(st, entry(++index, update_release_rules{bench_key, rules, "",
                                                              std::nullopt}))
               .ok();
  if (!ok)
    state.SkipWithError("setup failed");
  labels client;
  for (int j = 0; j < 8; ++j)
    client["k" + std::to_string(j)] = "v" + std::to_string(j % 3);
  for (auto _ : state) {
    auto r = resolve(st, bench_key, client);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_resolve_50_rules_8_labels);

// The rule choice alone, without state access or hashing.
void BM_resolve_rule_50_rules_8_labels(benchmark::State& state) {
  std::vector<release_rule> rules;
  for (int i = 0; i < 50; ++i) {
    labels l;
    for (int j = 0; j <= i % 4; ++j)
      l["k" + std::to_string((i + j) % 12)] = "v" + std::to_string((i * 7 + j) % 3);
    rules.push_back({l, static_cast<version_id>(1 + i % 10), i % 5});
  }
  labels client;
  for (int j = 0; j < 8; ++j)
    client["k" + std::to_string(j)] = "v" + std::to_string(j % 3);
  for (auto _ : state)
    benchmark::DoNotOptimize(resolve_rule(rules, client));
}
BENCHMARK(BM_resolve_rule_50_rules_8_labels);

} // namespace
