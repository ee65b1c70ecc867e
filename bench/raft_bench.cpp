// Committed entries per second through a 3-node cluster of consensus cores
// over an in-memory network with an in-memory log. Measures the
// core's own per-entry cost: no disk, no serialization, no threads.
//
//   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-rel --target conflux-raft-bench
//   build-rel/bin/conflux-raft-bench

#include "protocol/raft/core.hpp"

#include <benchmark/benchmark.h>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace conflux::raft;

struct bench_node {
  std::unique_ptr<core> raft;
  hard_state hard;
  std::vector<entry_ptr> log; // the "disk": shares the core's entries
  std::size_t applied = 0;
};

struct envelope {
  server_id from;
  server_id to;
  message msg;
};

class bench_cluster {
public:
  bench_cluster() {
    membership boot{{1, 2, 3}, {}, {}};
    for (server_id id = 1; id <= 3; ++id) {
      core_config cfg;
      cfg.id = id;
      cfg.seed = id;
      cfg.max_entries_per_message = 256;
      cfg.max_inflight = 256;
      restored_state st;
      st.bootstrap = boot;
      nodes_[id].raft = std::make_unique<core>(cfg, std::move(st));
    }
    nodes_[1].raft->step(1, timeout_now_request{0});
    pump();
  }

  bool leader_ready() const { return nodes_[1].raft->is_leader(); }

  void propose(const std::string& payload, int count) {
    auto& l = *nodes_[1].raft;
    for (int i = 0; i < count; ++i)
      l.propose(std::string(payload));
    drain(1);
  }

  /// Delivers until quiet; persisting is synchronous, so every message may
  /// leave as soon as its batch is handled.
  void pump() {
    drain(1);
    while (!net_.empty()) {
      auto e = std::move(net_.front());
      net_.pop_front();
      nodes_[e.to].raft->step(e.from, std::move(e.msg));
      drain(e.to);
    }
  }

  std::size_t applied(server_id id) const { return nodes_[id].applied; }

  /// Snapshots and compacts every node every `every` applied entries, as a
  /// shell would, so that memory stays bounded over millions of entries.
  void maybe_compact(std::size_t every) {
    for (server_id id = 1; id <= 3; ++id) {
      auto& n = nodes_[id];
      const auto applied_index = n.raft->applied_index();
      if (applied_index < n.raft->log().snapshot_index() + every)
        continue;
      n.raft->snapshot_taken(applied_index);
      std::size_t drop = 0;
      while (drop < n.log.size() && n.log[drop]->index <= applied_index)
        ++drop;
      n.log.erase(n.log.begin(), n.log.begin() + static_cast<std::ptrdiff_t>(drop));
      drain(id);
    }
  }

private:
  void drain(server_id id) {
    auto& n = nodes_[id];
    while (n.raft->has_ready()) {
      ready r = n.raft->take_ready();
      if (r.hard)
        n.hard = *r.hard;
      if (!r.entries.empty()) {
        auto first = r.entries.front()->index;
        while (!n.log.empty() && n.log.back()->index >= first)
          n.log.pop_back();
        for (auto& e : r.entries)
          n.log.push_back(std::move(e));
      }
      if (r.persist_id != 0)
        n.raft->persisted(r.persist_id);
      n.applied += r.committed.size();
      for (auto& m : r.messages)
        net_.push_back(envelope{id, m.to, std::move(m.msg)});
    }
  }

  mutable bench_node nodes_[4];
  std::deque<envelope> net_;
};

void committed_entries_per_second(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::string payload(256, 'x');
  bench_cluster c;
  if (!c.leader_ready()) {
    state.SkipWithError("no leader");
    return;
  }
  const auto before = c.applied(1);
  for (auto _ : state) {
    c.propose(payload, batch);
    c.pump();
    c.maybe_compact(16384);
  }
  const auto committed = c.applied(1) - before;
  if (committed !=
      static_cast<std::size_t>(state.iterations()) * static_cast<std::size_t>(batch))
    state.SkipWithError("not every proposal committed");
  state.SetItemsProcessed(static_cast<std::int64_t>(committed));
  state.counters["followers_applied"] =
      static_cast<double>(std::min(c.applied(2), c.applied(3)));
}

} // namespace

BENCHMARK(committed_entries_per_second)->Arg(1)->Arg(64);

BENCHMARK_MAIN();
