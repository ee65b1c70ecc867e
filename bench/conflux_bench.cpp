// conflux-bench: load generator for a running Conflux cluster (docs/benchmarks.md, Load
// generators), on the CAF-native client (actors/client.hpp), one client per thread.
//
//   conflux-bench --endpoints 127.0.0.1:7101,... --workload
//   put|get|get-serializable|resolve|watch
//                 --clients N --ops M --value-size B [--keys K] [--warmup W]
//                 [--pids PID,...] [--timeout-ms T] [--key-prefix tenant/app]
//
// Workloads (keys are <prefix>/<workload>/k<i>, i < K, created first):
//   put               client::write(create_version) of one of K configs
//   get               client::get_version(key, 1), linearizable (ReadIndex)
//   get-serializable  the same, served from the contacted node's local state
//   resolve           client::resolve(key, labels), linearizable, against a
//                     release with a label rule (see setup_resolve)
//   watch             put-to-event latency: --clients watchers, one writer at
//   --put-rate
//
// Prints one JSON line (load_common.hpp: print_result). With --pids, also
// the CPU seconds those processes used per measured operation.
#include "actors/client.hpp"
#include "bench/load_common.hpp"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

using namespace conflux;
using namespace conflux::bench;

namespace {

std::string key_of(const options& o, int k) {
  return o.key_prefix + "/" + o.workload + "/k" + std::to_string(k);
}

// The key op i of client c works on: clients start on different keys and
// step through all K.
int key_index(const options& o, int c, std::int64_t i) {
  return static_cast<int>((c + i * o.clients) % o.keys);
}

actors::client_options client_opts(const options& o, std::vector<std::string> eps) {
  actors::client_options co;
  co.endpoints = std::move(eps);
  co.timeout = std::chrono::milliseconds(o.timeout_ms);
  co.name = "conflux-bench";
  co.token = o.token;
  return co;
}

/// A setup step that failed: the message and the exit code to leave with.
struct setup_error {
  std::string message;
  int code;
};

std::optional<setup_error> check(const std::string& what,
                                 const expected<apply_result>& r) {
  std::optional<error> e;
  if (!r.ok())
    e = r.err();
  else if (r->err)
    e = *r->err;
  if (!e)
    return std::nullopt;
  int code = exit_op_errors;
  std::string hint;
  if (e->code == errc::unavailable || e->code == errc::timeout ||
      e->code == errc::no_quorum) {
    code = exit_unavailable;
    hint = "; is the cluster running at --endpoints?";
  } else if (e->code == errc::already_exists) {
    code = exit_bad_input;
    hint = "; pass a fresh --key-prefix (or none: the default is unique per run)";
  }
  return setup_error{"setup: " + what + ": " + to_string(*e) + hint, code};
}

// Labels of client c in the resolve workload, and the version its resolve
// must return under the rules setup_resolve writes.
labels resolve_labels(int c) {
  return {{"canary", c % 2 == 1 ? "true" : "false"},
          {"region", "r" + std::to_string(c % 4)},
          {"tier", "t" + std::to_string(c % 3)}};
}
version_id resolve_expected(int c) {
  return (c % 2 == 1 || c % 4 == 2) ? 2 : 1;
}

// K configs, each with version 1 holding value-size bytes of text; resolve
// also gets version 2 and three rules: canary=true -> 2 (priority 10),
// region=r2 -> 2 (priority 5), default -> 1.
std::optional<setup_error> setup(const options& o, actors::client& cl) {
  const std::string content(static_cast<std::size_t>(o.value_size), 'v');
  for (int k = 0; k < o.keys; ++k) {
    auto key = key_of(o, k);
    if (auto e = check("create " + key,
                       cl.write(create_config{key, content_format::text, std::nullopt,
                                              content, "conflux-bench", ""})))
      return e;
    if (o.workload != "resolve")
      continue;
    auto v2 = content;
    v2[0] = 'w';
    if (auto e = check("add version 2 of " + key,
                       cl.write(create_version{key, v2, "", "", std::nullopt})))
      return e;
    std::vector<release_rule> rules{
        {{{"canary", "true"}}, 2, 10}, {{{"region", "r2"}}, 2, 5}, {{}, 1, 0}};
    if (auto e = check(
            "release " + key,
            cl.write(update_release_rules{key, rules, "conflux-bench", std::nullopt})))
      return e;
  }
  return std::nullopt;
}

// -- the workloads: each makes the op of one client ---------------------------------

op_fn put_op(const options& o, int c, std::shared_ptr<actors::client> cl) {
  auto content =
      std::make_shared<std::string>(static_cast<std::size_t>(o.value_size), 'x');
  return [o, c, cl, content](std::int64_t i, bool, std::string& why) {
    (*content)[0] = static_cast<char>('a' + i % 26);
    auto key = key_of(o, key_index(o, c, i));
    auto r = cl->write(create_version{key, *content, "", "", std::nullopt});
    if (r.ok() && !r->err)
      return true;
    why = "put " + key + ": " + to_string(r.ok() ? *r->err : r.err());
    return false;
  };
}

op_fn get_op(const options& o, int c, std::shared_ptr<actors::client> cl,
             actors::consistency cons) {
  return [o, c, cl, cons](std::int64_t i, bool, std::string& why) {
    auto key = key_of(o, key_index(o, c, i));
    auto v = cl->get_version(key, 1, cons);
    if (!v.ok()) {
      why = "get " + key + ": " + to_string(v.err());
      return false;
    }
    if (v->content.size() != static_cast<std::size_t>(o.value_size)) {
      why = "get " + key + ": " + std::to_string(v->content.size()) +
            " bytes, expected " + std::to_string(o.value_size);
      return false;
    }
    return true;
  };
}

op_fn resolve_op(const options& o, int c, std::shared_ptr<actors::client> cl) {
  auto lbl = resolve_labels(c);
  auto want = resolve_expected(c);
  return [o, c, cl, lbl, want](std::int64_t i, bool, std::string& why) {
    auto key = key_of(o, key_index(o, c, i));
    auto r = cl->resolve(key, lbl, actors::consistency::linearizable);
    if (!r.ok()) {
      why = "resolve " + key + ": " + to_string(r.err());
      return false;
    }
    if (r->ver.id != want) {
      why = "resolve " + key + ": version " + std::to_string(r->ver.id) +
            ", expected " + std::to_string(want);
      return false;
    }
    return true;
  };
}

/// The watch workload (put-to-event latency, docs/benchmarks.md) on the shared watch
/// shape (load_common.hpp). Watch events carry revision, key and version ids,
/// not the content, so a watcher maps an event back to the put that caused it
/// by arithmetic: put `seq` adds a version to key k = seq % keys, whose
/// version 1 the setup created, so it becomes version seq / keys + 2 (the
/// writer checks that it did; anything else is an error of the run). The
/// watches start from a revision after the setup, so a watch established
/// after the first puts still replays them (the warm-up puts absorb the
/// connection time).
std::optional<run_result> run_watch(const options& o, actors::client_runtime& rt,
                                    measurement& m) {
  const std::string prefix = o.key_prefix + "/" + o.workload + "/";
  std::uint64_t from = 0;
  {
    // A write outside the watched prefix marks where the setup ended.
    actors::client admin{rt, client_opts(o, o.endpoint_list())};
    auto r =
        admin.write(create_config{o.key_prefix + "/marker/start", content_format::text,
                                  std::nullopt, "start", "conflux-bench", ""});
    if (!r.ok() || r->err) {
      run_result failed;
      failed.fatal = "could not mark the start of the watch run: " +
                     (r.ok() ? to_string(*r->err) : to_string(r.err()));
      return failed;
    }
    from = r->revision + 1;
  }
  watch_hooks hooks;
  hooks.make_writer = [&](std::string&) {
    auto cl = std::make_shared<actors::client>(rt, client_opts(o, o.endpoint_list()));
    return std::function<bool(std::int64_t, const std::string&, std::string&)>(
        [&o, cl](std::int64_t seq, const std::string& value, std::string& why) {
          auto key = key_of(o, static_cast<int>(seq % o.keys));
          auto r = cl->write(create_version{key, value, "", "", std::nullopt});
          if (!r.ok() || r->err) {
            why = "put " + key + ": " +
                  (r.ok() ? to_string(*r->err) : to_string(r.err()));
            return false;
          }
          auto want = static_cast<version_id>(seq / o.keys + 2);
          if (r->version != want) {
            why = "put " + key + " made version " + std::to_string(r->version) +
                  ", expected " + std::to_string(want) +
                  " (is another writer using these keys?)";
            return false;
          }
          return true;
        });
  };
  hooks.run_watcher = [&](int c, const std::function<void()>& ready,
                          const std::function<void(std::int64_t)>& seen,
                          const std::atomic<bool>& stop) -> std::optional<std::string> {
    actors::watch_stream ws{rt, client_opts(o, o.endpoints_for(c)),
                            actors::watch_options{prefix, {}, from}};
    ready();
    while (!stop.load()) {
      auto n = ws.next(std::chrono::milliseconds(100));
      if (!n.ok())
        return "watch " + prefix + ": " + to_string(n.err());
      if (!*n)
        continue;
      auto& ev = (*n)->event;
      if (ev.kind != static_cast<std::uint8_t>(rpc::watch_kind::version_added) ||
          ev.versions.size() != 1 || ev.key.compare(0, prefix.size(), prefix) != 0)
        continue;
      auto name = ev.key.substr(prefix.size());
      if (name.size() < 2 || name[0] != 'k')
        continue;
      std::int64_t k = 0;
      try {
        k = std::stoll(name.substr(1));
      } catch (const std::exception&) {
        continue;
      }
      auto v = static_cast<std::int64_t>(ev.versions.front());
      if (v < 2 || k < 0 || k >= o.keys)
        continue;
      seen((v - 2) * o.keys + k);
    }
    return std::nullopt;
  };
  return run_watch_shape(o, m, hooks);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  program_info info{
      "conflux-bench",
      "conflux-bench: latency and throughput of a running Conflux cluster, "
      "N clients on the CAF-native client",
      "127.0.0.1:7101",
      {"put", "get", "get-serializable", "resolve", "watch"},
      true};
  if (auto rc = parse_cli(argc, argv, info, o))
    return *rc;
  auto transport = o.insecure_plaintext ? actors::transport_settings{}
                                        : actors::tls_in_dir(o.tls_dir, "client");
  transport.insecure_plaintext = o.insecure_plaintext;
  if (auto st = actors::check_transport(transport); !st.ok()) {
    std::cerr << "conflux-bench: " << st.err().message << "\n";
    return exit_bad_input;
  }
  actors::client_runtime rt{transport};
  measurement m(o.pids);
  run_result r;
  {
    actors::client admin{rt, client_opts(o, o.endpoint_list())};
    if (auto e = setup(o, admin)) {
      std::cerr << "conflux-bench: " << e->message << "\n";
      return e->code;
    }
  }
  if (o.workload == "watch") {
    r = *run_watch(o, rt, m);
  } else {
    client_factory make = [&](int c, std::string&) -> op_fn {
      auto cl =
          std::make_shared<actors::client>(rt, client_opts(o, o.endpoints_for(c)));
      if (o.workload == "put")
        return put_op(o, c, cl);
      if (o.workload == "get")
        return get_op(o, c, cl, actors::consistency::linearizable);
      if (o.workload == "get-serializable")
        return get_op(o, c, cl, actors::consistency::serializable);
      return resolve_op(o, c, cl);
    };
    r = run_closed_loop(o, m, make);
  }
  if (r.fatal) {
    std::cerr << "conflux-bench: " << *r.fatal << "\n";
    return exit_unavailable;
  }
  print_result(o, m, r);
  return r.errors == 0 ? exit_ok : exit_op_errors;
}
