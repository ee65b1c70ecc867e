// The shared half of conflux-bench and conflux-etcd-driver (load_common.hpp).
#include "bench/load_common.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace conflux::bench {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

// "HOST:PORT" with a non-empty host and a port in 1..65535.
bool valid_endpoint(const std::string& e) {
  auto colon = e.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == e.size())
    return false;
  auto port = e.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(),
                                      [](char ch) { return ch >= '0' && ch <= '9'; }))
    return false;
  auto p = std::stoul(port);
  return p >= 1 && p <= 65535;
}

} // namespace

// -- options ----------------------------------------------------------------------

std::vector<std::string> options::endpoint_list() const {
  return split(endpoints, ',');
}

std::vector<std::string> options::endpoints_for(int client) const {
  auto eps = endpoint_list();
  std::rotate(eps.begin(), eps.begin() + (client % static_cast<int>(eps.size())),
              eps.end());
  return eps;
}

std::int64_t options::ops_of(int client) const {
  auto n = static_cast<std::int64_t>(clients);
  return ops / n + (client < ops % n ? 1 : 0);
}

std::optional<int> parse_cli(int argc, char** argv, const program_info& info,
                             options& out) {
  out.endpoints = info.default_endpoints;
  std::string pids;
  std::string token_file;
  CLI::App app{info.description, info.name};
  app.set_help_flag("-h,--help", "print this help and exit");
  std::string names;
  for (const auto& w : info.workloads)
    names += (names.empty() ? "" : "|") + w;
  app.add_option("--endpoints", out.endpoints, "HOST:PORT,... of the cluster's members")
      ->capture_default_str();
  app.add_option("--workload", out.workload, names)
      ->required()
      ->check(CLI::IsMember(info.workloads));
  app.add_option("--clients", out.clients,
                 "concurrent clients, one thread and one "
                 "connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--ops", out.ops,
                 "measured operations in total, split over the clients "
                 "(watch: events measured)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}));
  app.add_option("--value-size", out.value_size, "bytes per value written")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--keys", out.keys,
                 "how many keys (configs) the operations spread over")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  app.add_option("--warmup", out.warmup,
                 "unmeasured operations per client first "
                 "(watch: unmeasured puts)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--pids", pids,
                 "PID,... of the server processes: report the CPU they "
                 "used per operation");
  app.add_option("--timeout-ms", out.timeout_ms, "deadline of one operation")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  app.add_option("--put-rate", out.put_rate, "watch: puts per second of the writer")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 100'000.0));
  app.add_option("--key-prefix", out.key_prefix,
                 "first two key segments (default bench/<run id>), so runs never share "
                 "keys");
  if (info.conflux_transport) {
    app.add_option("--tls-dir", out.tls_dir,
                   "client.crt, client.key and ca.crt made by `conflux-cert client` "
                   "(default: $CONFLUX_TLS_DIR)");
    app.add_flag("--insecure-plaintext", out.insecure_plaintext,
                 "plain text to loopback nodes started with --insecure-plaintext");
    app.add_option("--token-file", token_file,
                   "file holding the token the clients present (default: "
                   "$CONFLUX_TOKEN_FILE)");
  }
  app.footer(
      "Prints one JSON line: {\"workload\",\"clients\",\"ops\",\"seconds\","
      "\"ops_per_sec\",\"p50_us\",\"p99_us\",\"p999_us\",\"errors\",...}. Exit "
      "codes: 0 ok, 1 some operations failed, 2 bad input, 5 cluster unavailable.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_bad_input;
  }
  auto bad = [&](const std::string& msg) {
    std::cerr << info.name << ": " << msg << "\n";
    return exit_bad_input;
  };
  if (info.conflux_transport && !out.insecure_plaintext && out.tls_dir.empty()) {
    const char* env = std::getenv("CONFLUX_TLS_DIR");
    out.tls_dir = env ? env : "";
    if (out.tls_dir.empty())
      return bad(
          "no TLS credentials: give --tls-dir DIR or set CONFLUX_TLS_DIR (made by "
          "`conflux-cert client`), or --insecure-plaintext for loopback nodes "
          "started with it");
  }
  if (out.insecure_plaintext && !out.tls_dir.empty())
    return bad("--insecure-plaintext and --tls-dir exclude each other");
  if (info.conflux_transport) {
    if (token_file.empty()) {
      const char* env = std::getenv("CONFLUX_TOKEN_FILE");
      token_file = env ? env : "";
    }
    if (token_file.empty())
      return bad("no token: give --token-file FILE or set CONFLUX_TOKEN_FILE (a file "
                 "holding a token made by `conflux auth token create` or `conflux auth "
                 "bootstrap-token`)");
    std::ifstream in(token_file);
    std::string text;
    if (!in || !std::getline(in, text))
      return bad("cannot read the token file " + token_file);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
      text.pop_back();
    if (text.empty())
      return bad("the token file " + token_file + " is empty; put one token in it");
    out.token = std::move(text);
  }
  for (const auto& e : out.endpoint_list())
    if (!valid_endpoint(e))
      return bad("--endpoints: '" + e +
                 "' is not HOST:PORT; pass e.g. "
                 "--endpoints 127.0.0.1:7101,127.0.0.1:7102");
  if (out.ops < out.clients)
    return bad("--ops " + std::to_string(out.ops) + " is less than --clients " +
               std::to_string(out.clients) +
               ": every client needs at least one "
               "operation; raise --ops");
  if (!out.key_prefix.empty()) {
    auto segs = split(out.key_prefix, '/');
    bool ok = segs.size() == 2;
    for (const auto& s : segs)
      ok = ok && !s.empty() && s != "." && s != ".." &&
           std::all_of(s.begin(), s.end(), [](char ch) {
             return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' ||
                    ch == '_' || ch == '-';
           });
    if (!ok)
      return bad("--key-prefix '" + out.key_prefix +
                 "' must be two segments of "
                 "[A-Za-z0-9._-], e.g. bench/run1");
  }
  if (!pids.empty()) {
    for (const auto& p : split(pids, ',')) {
      char* end = nullptr;
      errno = 0;
      long v = std::strtol(p.c_str(), &end, 10);
      if (p.empty() || *end != '\0' || errno != 0 || v <= 0)
        return bad("--pids: '" + p + "' is not a process id; pass PID,PID,...");
      if (!pid_cpu_seconds(static_cast<pid_t>(v)))
        return bad("--pids: no process " + p + " (cannot read /proc/" + p +
                   "/stat); pass the PIDs of running server processes");
      out.pids.push_back(static_cast<pid_t>(v));
    }
  }
  if (out.key_prefix.empty())
    out.key_prefix = "bench/" + make_run_id();
  return std::nullopt;
}

// -- histogram --------------------------------------------------------------------

namespace {
constexpr int sub_bits = 7;
constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits; // 128
constexpr std::size_t bucket_count = sub_count + (64 - sub_bits) * sub_count;
} // namespace

histogram::histogram() : buckets_(bucket_count, 0) {}

std::size_t histogram::index_of(std::uint64_t v) {
  if (v < sub_count)
    return static_cast<std::size_t>(v);
  int e = 63 - __builtin_clzll(v); // >= sub_bits
  int shift = e - sub_bits;
  auto mant = v >> shift; // in [128, 256)
  return static_cast<std::size_t>(
      sub_count + static_cast<std::uint64_t>(shift) * sub_count + (mant - sub_count));
}

std::uint64_t histogram::midpoint_of(std::size_t idx) {
  if (idx < sub_count)
    return idx;
  auto rest = idx - sub_count;
  auto shift = rest / sub_count;
  auto mant = sub_count + rest % sub_count;
  auto lo = mant << shift;
  auto width = std::uint64_t{1} << shift;
  return lo + width / 2;
}

void histogram::record(std::uint64_t ns) {
  ++buckets_[index_of(ns)];
  ++count_;
  max_ = std::max(max_, ns);
  sum_ += ns;
}

void histogram::merge(const histogram& o) {
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
}

double histogram::mean() const {
  return count_ == 0 ? 0.0
                     : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t histogram::percentile(double q) const {
  if (count_ == 0)
    return 0;
  if (q >= 1.0)
    return max_;
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return std::min(midpoint_of(i), max_);
  }
  return max_;
}

// -- CPU --------------------------------------------------------------------------

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::optional<double> pid_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line))
    return std::nullopt;
  // The command name (field 2) may hold spaces: fields 3.. follow the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Field 3 is the state; utime and stime are fields 14 and 15.
  for (int f = 3; f <= 15 && rest >> field; ++f) {
    if (f == 3 && field == "Z")
      return std::nullopt;
    if (f == 14)
      utime = std::stoull(field);
    if (f == 15)
      stime = std::stoull(field);
  }
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / ticks;
}

void measurement::start() {
  before_.clear();
  for (auto p : pids_)
    before_.push_back(pid_cpu_seconds(p));
  self_before_ = self_cpu_seconds();
  t0_ = steady::now();
}

void measurement::stop() {
  t1_ = steady::now();
  self_after_ = self_cpu_seconds();
  after_.clear();
  for (auto p : pids_)
    after_.push_back(pid_cpu_seconds(p));
}

double measurement::seconds() const {
  return std::chrono::duration<double>(t1_ - t0_).count();
}

std::optional<double> measurement::server_cpu() const {
  if (pids_.empty() || before_.size() != pids_.size() || after_.size() != pids_.size())
    return std::nullopt;
  double sum = 0;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (!before_[i] || !after_[i])
      return std::nullopt;
    sum += *after_[i] - *before_[i];
  }
  return sum;
}

// -- errors -----------------------------------------------------------------------

void error_log::add(std::int64_t n, const std::string& what) {
  count_ += n;
  // The first few reasons are enough to see what went wrong; a run with
  // thousands of failures must not flood stderr.
  if (printed_.fetch_add(1) < 5)
    std::cerr << "operation failed: " << what << "\n";
}

// -- closed loop ------------------------------------------------------------------

run_result run_closed_loop(const options& opts, measurement& m,
                           const client_factory& make) {
  const int n = opts.clients;
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0, done = 0;
  bool go = false, release = false, abort = false;
  std::optional<std::string> fatal;
  std::vector<histogram> hists(static_cast<std::size_t>(n));
  error_log errs;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      std::string why;
      op_fn op = make(c, why);
      bool usable = static_cast<bool>(op);
      if (usable) {
        for (int i = 0; i < opts.warmup; ++i) {
          std::string ignored; // warm-up failures are not measured
          (void)op(i, true, ignored);
        }
      }
      {
        std::unique_lock<std::mutex> lk(mu);
        if (!usable && !fatal)
          fatal = "client " + std::to_string(c) + ": " + why;
        ++ready;
        cv.notify_all();
        cv.wait(lk, [&] { return go; });
      }
      if (usable && !abort) {
        auto& h = hists[static_cast<std::size_t>(c)];
        const auto mine = opts.ops_of(c);
        for (std::int64_t i = 0; i < mine; ++i) {
          std::string fail;
          auto t0 = steady::now();
          bool ok = op(i, false, fail);
          auto t1 = steady::now();
          if (ok)
            h.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
          else
            errs.add(fail);
        }
      }
      {
        std::unique_lock<std::mutex> lk(mu);
        ++done;
        cv.notify_all();
        cv.wait(lk, [&] { return release; });
      }
      op = nullptr; // tears the client down after the measured phase
    });
  }
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return ready == n; });
    abort = fatal.has_value();
    if (!abort)
      m.start();
    go = true;
    cv.notify_all();
    cv.wait(lk, [&] { return done == n; });
    if (!abort)
      m.stop();
    release = true;
    cv.notify_all();
  }
  for (auto& t : threads)
    t.join();
  run_result out;
  for (const auto& h : hists)
    out.hist.merge(h);
  out.errors = errs.count();
  out.fatal = fatal;
  return out;
}

// -- watch shape ------------------------------------------------------------------

std::string watch_value(std::int64_t seq, int size) {
  auto v = "w" + std::to_string(seq) + ";";
  if (static_cast<int>(v.size()) < size)
    v.append(static_cast<std::size_t>(size) - v.size(), 'x');
  return v;
}

std::optional<std::int64_t> parse_watch_value(const std::string& v) {
  if (v.size() < 3 || v[0] != 'w')
    return std::nullopt;
  auto semi = v.find(';');
  if (semi == std::string::npos || semi == 1 || semi > 20)
    return std::nullopt;
  std::int64_t seq = 0;
  for (std::size_t i = 1; i < semi; ++i) {
    if (v[i] < '0' || v[i] > '9')
      return std::nullopt;
    seq = seq * 10 + (v[i] - '0');
  }
  return seq;
}

run_result run_watch_shape(const options& opts, measurement& m,
                           const watch_hooks& hooks) {
  const int n = opts.clients;
  const std::int64_t measured_puts = (opts.ops + n - 1) / n;
  const std::int64_t warm = opts.warmup;
  const std::int64_t total = warm + measured_puts;
  const auto base = steady::now();
  // Send time of each put (ns after base, 0 = not sent yet).
  std::vector<std::atomic<std::int64_t>> sent(static_cast<std::size_t>(total));
  for (auto& s : sent)
    s.store(0);
  struct watcher_state {
    histogram hist;
    std::vector<std::uint8_t> seen;
    std::atomic<std::int64_t> measured{0};
    std::atomic<bool> ready{false};
  };
  std::vector<std::unique_ptr<watcher_state>> ws;
  for (int c = 0; c < n; ++c) {
    ws.push_back(std::make_unique<watcher_state>());
    ws.back()->seen.assign(static_cast<std::size_t>(total), 0);
  }
  error_log errs;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      auto& w = *ws[static_cast<std::size_t>(c)];
      auto ready = [&] { w.ready.store(true); };
      auto seen = [&](std::int64_t seq) {
        auto now =
            std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - base)
                .count();
        if (seq < 0 || seq >= total) {
          errs.add("watcher " + std::to_string(c) + " saw an event of unknown put " +
                   std::to_string(seq));
          return;
        }
        auto at = sent[static_cast<std::size_t>(seq)].load(std::memory_order_acquire);
        if (at == 0) {
          errs.add("watcher " + std::to_string(c) + " saw put " + std::to_string(seq) +
                   " before it was sent");
          return;
        }
        auto& flag = w.seen[static_cast<std::size_t>(seq)];
        if (flag != 0) {
          errs.add("watcher " + std::to_string(c) + " saw put " + std::to_string(seq) +
                   " twice");
          return;
        }
        flag = 1;
        if (seq >= warm) {
          w.hist.record(static_cast<std::uint64_t>(now - at));
          w.measured.fetch_add(1, std::memory_order_release);
        }
      };
      auto err = hooks.run_watcher(c, ready, seen, stop);
      if (err && !stop.load())
        errs.add("watcher " + std::to_string(c) + ": " + *err);
      w.ready.store(true); // a failed watcher must not hold the start up
    });
  }
  run_result out;
  auto finish = [&] {
    stop.store(true);
    if (hooks.interrupt)
      hooks.interrupt();
    for (auto& t : threads)
      t.join();
    for (const auto& w : ws)
      out.hist.merge(w->hist);
    out.errors += errs.count();
  };
  auto limit = steady::now() + std::chrono::milliseconds(opts.timeout_ms);
  while (steady::now() < limit && !std::all_of(ws.begin(), ws.end(), [](const auto& w) {
           return w->ready.load();
         }))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (!std::all_of(ws.begin(), ws.end(),
                   [](const auto& w) { return w->ready.load(); })) {
    out.fatal = "the watches were not all established within --timeout-ms";
    finish();
    return out;
  }
  std::string why;
  auto put = hooks.make_writer(why);
  if (!put) {
    out.fatal = "writer: " + why;
    finish();
    return out;
  }
  const auto interval = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(1.0 / opts.put_rate));
  std::int64_t failed_measured_puts = 0;
  auto next = steady::now();
  for (std::int64_t seq = 0; seq < total; ++seq) {
    if (seq == warm)
      m.start();
    std::this_thread::sleep_until(next);
    next += interval;
    auto value = watch_value(seq, opts.value_size);
    auto at = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - base)
                  .count();
    sent[static_cast<std::size_t>(seq)].store(std::max<std::int64_t>(at, 1),
                                              std::memory_order_release);
    std::string fail;
    if (!put(seq, value, fail)) {
      if (seq >= warm) {
        ++failed_measured_puts;
        errs.add("put " + std::to_string(seq) + ": " + fail);
      }
    }
  }
  if (warm == total)
    m.start();
  // Every watcher should see every measured put that succeeded.
  const std::int64_t expected = measured_puts - failed_measured_puts;
  auto deadline = steady::now() + std::chrono::milliseconds(opts.timeout_ms);
  auto all_seen = [&] {
    return std::all_of(ws.begin(), ws.end(),
                       [&](const auto& w) { return w->measured.load() >= expected; });
  };
  while (!all_seen() && steady::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  m.stop();
  std::int64_t missing = 0;
  for (const auto& w : ws)
    missing += std::max<std::int64_t>(0, expected - w->measured.load());
  if (missing > 0)
    errs.add(missing, std::to_string(missing) +
                          " events never arrived within --timeout-ms " +
                          std::to_string(opts.timeout_ms));
  put = nullptr;
  finish();
  return out;
}

// -- output -----------------------------------------------------------------------

std::string make_run_id() {
  std::random_device rd;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "r%lld-%04x",
                static_cast<long long>(secs % 100'000'000),
                static_cast<unsigned>(rd() & 0xffff));
  return buf;
}

void print_result(const options& opts, const measurement& m, const run_result& r) {
  const double secs = m.seconds();
  const auto ops = static_cast<double>(r.hist.count());
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  auto per_op_us = [&](double cpu_s) { return ops > 0 ? cpu_s * 1e6 / ops : 0.0; };
  std::printf(
      "{\"workload\":\"%s\",\"clients\":%d,\"ops\":%llu,\"seconds\":%.3f,"
      "\"ops_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
      "\"errors\":%lld,\"max_us\":%.1f,\"mean_us\":%.1f,\"value_size\":%d,"
      "\"keys\":%d,\"warmup\":%d,\"client_cpu_s\":%.3f,\"client_cpu_us_per_op\":%.1f",
      opts.workload.c_str(), opts.clients,
      static_cast<unsigned long long>(r.hist.count()), secs,
      secs > 0 ? ops / secs : 0.0, us(r.hist.percentile(0.50)),
      us(r.hist.percentile(0.99)), us(r.hist.percentile(0.999)),
      static_cast<long long>(r.errors), us(r.hist.max()), r.hist.mean() / 1000.0,
      opts.value_size, opts.keys, opts.warmup, m.self_cpu(), per_op_us(m.self_cpu()));
  if (auto s = m.server_cpu())
    std::printf(
        ",\"server_cpu_s\":%.3f,\"server_cpu_us_per_op\":%.1f,\"server_pids\":%zu", *s,
        per_op_us(*s), opts.pids.size());
  else if (!opts.pids.empty())
    std::printf(
        ",\"server_cpu_s\":null,\"server_cpu_us_per_op\":null,\"server_pids\":%zu",
        opts.pids.size());
  std::printf("}\n");
  std::fflush(stdout);
}

} // namespace conflux::bench
