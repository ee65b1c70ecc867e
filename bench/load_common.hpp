#pragma once
// What conflux-bench and conflux-etcd-driver share, so that both load
// generators have the same flags, the same measuring loop and the same JSON
// line (docs/benchmarks.md, Load generators), and differ only in how one operation
// reaches the server:
//
//   options / parse_cli     the common flags, validated (bad input: exit 2)
//   histogram               log-bucketed latency histogram (< 0.8 % error)
//   measurement             wall time and CPU (own process and --pids) of the
//                           measured phase only
//   run_closed_loop         N client threads, warm-up, a bounded op count
//   run_watch_shape         one paced writer and N watchers: put-to-event latency
//   print_result            the JSON line
//
// No CAF here: the etcd driver links this without the Conflux client.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace conflux::bench {

using steady = std::chrono::steady_clock;

/// Exit codes, the same as the conflux CLI's (docs/cli.md, Errors and exit codes).
enum exit_code : int {
  exit_ok = 0,
  /// The run completed but some operations failed (counted in "errors").
  exit_op_errors = 1,
  exit_bad_input = 2,
  /// The cluster could not be reached or refused the setup.
  exit_unavailable = 5,
};

struct options {
  std::string endpoints;
  std::string workload;
  int clients = 1;
  /// Measured operations in total, split evenly over the clients.
  std::int64_t ops = 1000;
  int value_size = 256;
  /// How many keys (configs) the operations spread over.
  int keys = 16;
  /// Unmeasured operations per client before the measured phase.
  int warmup = 10;
  std::vector<pid_t> pids;
  int timeout_ms = 10'000;
  /// Puts per second of the watch workload's writer.
  double put_rate = 100;
  /// Key namespace; a fresh run id is appended unless given.
  std::string key_prefix;
  /// Conflux only: client credentials (--tls-dir, else $CONFLUX_TLS_DIR), or
  /// plain text to loopback nodes (--insecure-plaintext).
  std::string tls_dir;
  bool insecure_plaintext = false;
  /// Conflux only: the token the bench's clients present (read from
  /// --token-file, else $CONFLUX_TOKEN_FILE). Its principal needs read,
  /// write and release on the bench's keys.
  std::string token;

  /// The endpoint list split at commas (validated by the caller).
  std::vector<std::string> endpoint_list() const;
  /// The endpoints rotated so that client c tries endpoint c % n first:
  /// clients spread over the members as an etcd client pool would.
  std::vector<std::string> endpoints_for(int client) const;
  /// Operations client c performs in the measured phase.
  std::int64_t ops_of(int client) const;
};

/// What a program tells parse_cli about itself.
struct program_info {
  std::string name;
  std::string description;
  std::string default_endpoints;
  /// Every workload name the flag accepts (validated by parse_cli).
  std::vector<std::string> workloads;
  /// Offer --tls-dir and --insecure-plaintext (Conflux's transport).
  bool conflux_transport = false;
};

/// Parses and validates argv. Returns the exit code to leave with (0 for
/// --help, 2 for bad input, after printing why) or nullopt to go on.
std::optional<int> parse_cli(int argc, char** argv, const program_info& info,
                             options& out);

/// Latency histogram in nanoseconds: 128 exact buckets below 128 ns, then 128
/// sub-buckets per power of two (HDR-style), so a percentile is off by less
/// than 0.8 %. Not thread-safe: one per client thread, merged at the end.
class histogram {
public:
  histogram();
  void record(std::uint64_t ns);
  void merge(const histogram& other);
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const;
  /// The value at quantile q in [0,1] (midpoint of its bucket, at most max()).
  std::uint64_t percentile(double q) const;

private:
  static std::size_t index_of(std::uint64_t v);
  static std::uint64_t midpoint_of(std::size_t idx);
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

/// CPU seconds (user + system) of this process, from getrusage.
double self_cpu_seconds();
/// CPU seconds (utime + stime) of PID from /proc/PID/stat; nullopt if gone.
std::optional<double> pid_cpu_seconds(pid_t pid);

/// Wall time and CPU of the measured phase: start() and stop() once each.
class measurement {
public:
  explicit measurement(std::vector<pid_t> pids) : pids_(std::move(pids)) {}
  void start();
  void stop();
  double seconds() const;
  double self_cpu() const { return self_after_ - self_before_; }
  /// Sum over --pids; nullopt without --pids or if a process vanished.
  std::optional<double> server_cpu() const;

private:
  std::vector<pid_t> pids_;
  steady::time_point t0_{}, t1_{};
  double self_before_ = 0, self_after_ = 0;
  std::vector<std::optional<double>> before_, after_;
};

struct run_result {
  histogram hist;
  std::int64_t errors = 0;
  /// Set when the run could not take place at all (exit_unavailable).
  std::optional<std::string> fatal;
};

/// Counts failed operations and prints the first few distinct reasons.
class error_log {
public:
  void add(const std::string& what) { add(1, what); }
  /// `n` failures with one reason.
  void add(std::int64_t n, const std::string& what);
  std::int64_t count() const { return count_.load(); }

private:
  std::atomic<std::int64_t> count_{0};
  std::atomic<int> printed_{0};
};

/// One measured operation of one client: number i (warm-up ops come first
/// with their own numbering). Returns false and sets `why` on failure.
using op_fn = std::function<bool(std::int64_t i, bool warmup, std::string& why)>;
/// Connects client c (in its own thread). Returns nullptr and sets `why` if
/// the client cannot be set up (counted as fatal for the run).
using client_factory = std::function<op_fn(int c, std::string& why)>;

/// The closed loop: opts.clients threads, each building its client with
/// `make`, doing opts.warmup unmeasured ops, waiting for all the others, then
/// its share of opts.ops timed one at a time. The measured phase runs from
/// the common start until the last client is done (clients are torn down
/// after it).
run_result run_closed_loop(const options& opts, measurement& m,
                           const client_factory& make);

/// The watch shape: opts.clients watchers, each with its own connection,
/// watch the keys; one writer puts value-size values at opts.put_rate per
/// second, each tagged by watch_value(seq, size). A watcher passes every
/// event it sees to `seen(seq)`; latency is from just before the put was sent
/// to the event's arrival. The first opts.warmup puts are unmeasured; then
/// ceil(opts.ops / clients) puts, each to be seen by every watcher ("ops" is
/// the number of events measured). Events still missing opts.timeout_ms after
/// the last put are errors.
struct watch_hooks {
  /// Connects the writer; then puts (seq, value) one at a time.
  std::function<std::function<bool(std::int64_t seq, const std::string& value,
                                   std::string& why)>(std::string& why)>
      make_writer;
  /// Runs watcher c until `stop` is set: opens its watch (then calls
  /// `ready()` once), and calls `seen(seq)` for each event carrying a value
  /// made by watch_value. Returns an error text if the watch failed.
  std::function<std::optional<std::string>(
      int c, const std::function<void()>& ready,
      const std::function<void(std::int64_t seq)>& seen, const std::atomic<bool>& stop)>
      run_watcher;
  /// Wakes watchers blocked in a read so that they see `stop` (e.g. shuts
  /// their sockets down). May be empty if watchers poll `stop`.
  std::function<void()> interrupt;
};
run_result run_watch_shape(const options& opts, measurement& m,
                           const watch_hooks& hooks);

/// The value the watch writer puts: "w<seq>;" padded with 'x' to `size`.
std::string watch_value(std::int64_t seq, int size);
/// The seq of a watch_value; nullopt for other values.
std::optional<std::int64_t> parse_watch_value(const std::string& v);

/// A key-safe run id (seconds and a random part) for fresh key names.
std::string make_run_id();

/// Prints the JSON line: the leading fields (workload through errors) first, then extra
/// fields.
void print_result(const options& opts, const measurement& m, const run_result& r);

} // namespace conflux::bench
