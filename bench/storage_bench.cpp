// Micro-benchmarks of the storage layer: durable (fsync) append throughput of
// the Raft log store per batch size, and range reads. Each benchmark works in
// a fresh mkdtemp directory under $CONFLUX_BENCH_DIR (default: the system temp
// dir), removed afterwards; point it at the disk the node's data will live on.
// Figures and the command that produced them: docs/benchmarks.md.

#include "protocol/error.hpp"
#include "bench/bench_dir.hpp"
#include "storage/log_store.hpp"

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace conflux;
using namespace conflux::storage;
using conflux::bench::bench_dir;

log_store_options bench_options() {
  log_store_options o;
  o.identity.cluster_id = "bench";
  o.identity.node_id = 1;
  return o;
}

std::vector<raft::log_entry> make_batch(std::size_t n, std::size_t data_bytes) {
  std::vector<raft::log_entry> batch(n);
  for (auto& e : batch) {
    e.term = 1;
    e.kind = raft::entry_kind::command;
    e.timestamp_ms = 1'700'000'000'000;
    e.data.assign(data_bytes, 'x');
  }
  return batch;
}

// One durable LMDB transaction (fsync) per iteration, appending range(0)
// entries of 256 bytes of data. items/s = entries per second.
void BM_log_append_fsync(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  bench_dir dir;
  if (dir.path().empty()) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  auto ls = log_store::open(dir.path() + "/log", bench_options());
  if (!ls) {
    state.SkipWithError(to_string(ls.err()).c_str());
    return;
  }
  auto batch = make_batch(batch_size, 256);
  for (auto _ : state) {
    auto next = ls->last_index() + 1;
    for (auto& e : batch)
      e.index = next++;
    auto st = ls->append(batch);
    if (!st) {
      state.SkipWithError(to_string(st.err()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * 256);
}
BENCHMARK(BM_log_append_fsync)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();

// Reads range(0) consecutive entries of 256 bytes (checksums verified) from a
// log of 10,000 entries. Shows the read side is far from the fsync bound.
void BM_log_read_range(benchmark::State& state) {
  const auto n = static_cast<raft::index_t>(state.range(0));
  bench_dir dir;
  auto ls = log_store::open(dir.path() + "/log", bench_options());
  if (!ls) {
    state.SkipWithError(to_string(ls.err()).c_str());
    return;
  }
  constexpr raft::index_t total = 10'000;
  auto batch = make_batch(1000, 256);
  for (raft::index_t base = 1; base <= total; base += 1000) {
    for (std::size_t k = 0; k < batch.size(); ++k)
      batch[k].index = base + k;
    if (auto st = ls->append(batch); !st) {
      state.SkipWithError(to_string(st.err()).c_str());
      return;
    }
  }
  raft::index_t lo = 1;
  for (auto _ : state) {
    auto r = ls->entries(lo, lo + n);
    if (!r) {
      state.SkipWithError(to_string(r.err()).c_str());
      break;
    }
    benchmark::DoNotOptimize(r->data());
    lo = lo + n + n > total + 1 ? 1 : lo + n;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_log_read_range)->Arg(1)->Arg(64);

} // namespace
