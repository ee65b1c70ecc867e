// Golden traces of the consensus core: each file in testdata/ drives a
// simulated cluster (tests/sim/cluster.hpp) command by command and holds the
// ready batches, deliveries and states each command must print (describe.hpp
// prints the batches). One test case per file. On a mismatch the test fails
// with a diff of that command's output; CONFLUX_REWRITE_GOLDEN=1 rewrites the
// files with the actual output instead (golden.hpp), to review with git diff.
//
// Commands (servers are numbers; "all" means every server; <match> is any of
// from=<id> to=<id> type=<message_name> carrying=<entry index>):
//   cluster voters=1,2,3 [seed=1] [pre_vote=true] [check_quorum=true]
//           [election_ticks=10] [heartbeat_ticks=1] [max_entries=64]
//       a fresh cluster; the bootstrap configuration's membership_changed
//       event is not printed
//   campaign <id>                  start an election now (TimeoutNow to self)
//   tick <ids|all> [n=1]           n rounds of one tick per server
//   propose <id> <key> <value>     a client write "key=value"
//   read <id> <key>                a linearizable read (prints its context)
//   change <id> <add_voter|add_learner|promote|remove> <server>
//   transfer <id> <target>
//   persist <ids|all> [n=<k>]      make the oldest k (default: all) pending
//                                  writes durable
//   deliver [<match>] [n=<k>]      deliver the matching messages in flight
//                                  now, oldest first (at most k); replies
//                                  they cause stay in flight
//   drop [<match>]                 lose matching in-flight messages
//   net                            list in-flight messages
//   partition <id> | cut <from> <to> | heal
//   crash <id> | restart <id>
//   stabilize [quiet=true]         persist and deliver until nothing moves
//                                  (quiet: print nothing but violations)
//   step <to> from=<id> <message_name> [field=value...]
//                                  hand-built message (fields as in
//                                  messages.hpp; entries=<index>/<term>,...)
//   status [<ids>]                 one line per server
//   log <id>                       the server's log
// Every batch prints as "> <id> ready" followed by describe(ready) indented.
// A broken invariant prints "VIOLATION: ..." and fails the test whatever the
// file expects.

#include "protocol/raft/describe.hpp"
#include "tests/protocol/raft/builders.hpp"
#include "tests/protocol/raft/checked_core.hpp"
#include "tests/protocol/raft/golden.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace conflux::raft;
using conflux::sim::envelope;

namespace {

const std::string testdata = CONFLUX_RAFT_TESTDATA;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream is(s);
  while (std::getline(is, cur, sep))
    if (!cur.empty())
      out.push_back(cur);
  return out;
}

std::uint64_t number(const std::string& s) {
  std::size_t used = 0;
  auto v = std::stoull(s, &used);
  if (used != s.size())
    throw std::invalid_argument("'" + s + "' is not a number");
  return v;
}

/// A command's words: positional ones in order, key=value ones by key. Every
/// word must be used, so a misspelt key or a stray word fails the command
/// instead of being ignored.
class arguments {
public:
  explicit arguments(const std::string& line) {
    for (auto& w : split(line, ' ')) {
      auto eq = w.find('=');
      if (eq == std::string::npos)
        positional_.push_back(w);
      else
        named_[w.substr(0, eq)] = w.substr(eq + 1);
    }
    if (positional_.empty())
      throw std::invalid_argument("empty command");
    name_ = positional_.front();
    positional_.erase(positional_.begin());
  }
  const std::string& name() const { return name_; }
  std::string word(std::size_t i) {
    if (i >= positional_.size())
      throw std::invalid_argument(name_ + ": argument " + std::to_string(i + 1) +
                                  " is missing");
    used_ = std::max(used_, i + 1);
    return positional_[i];
  }
  std::uint64_t id(std::size_t i) { return number(word(i)); }
  std::size_t words() const { return positional_.size(); }
  std::string text(const std::string& key, const std::string& fallback) {
    auto it = named_.find(key);
    if (it == named_.end())
      return fallback;
    auto v = it->second;
    named_.erase(it);
    return v;
  }
  std::uint64_t num(const std::string& key, std::uint64_t fallback) {
    auto v = text(key, "");
    return v.empty() ? fallback : number(v);
  }
  bool flag(const std::string& key, bool fallback) {
    auto v = text(key, fallback ? "true" : "false");
    if (v != "true" && v != "false")
      throw std::invalid_argument(key + " must be true or false");
    return v == "true";
  }
  void done() const {
    if (!named_.empty())
      throw std::invalid_argument(name_ + ": unknown argument " +
                                  named_.begin()->first);
    if (positional_.size() > used_)
      throw std::invalid_argument(name_ + ": unexpected argument " +
                                  positional_[used_]);
  }

private:
  std::string name_;
  std::vector<std::string> positional_;
  std::size_t used_ = 0;
  std::map<std::string, std::string> named_;
};

/// Builds the message `step` delivers, by field name.
message built_message(const std::string& type, arguments& a) {
  const auto term = a.num("term", 0);
  if (type == "request_vote_request")
    return vote_request()
        .term(term)
        .last_log(a.num("last_log_index", 0), a.num("last_log_term", 0))
        .pre_vote(a.flag("pre_vote", false))
        .leadership_transfer(a.flag("leadership_transfer", false));
  if (type == "request_vote_response")
    return vote_response()
        .term(term)
        .pre_vote(a.flag("pre_vote", false))
        .granted(a.flag("granted", false));
  if (type == "append_entries_request") {
    std::vector<entry_ptr> es;
    for (auto& e : split(a.text("entries", ""), ',')) {
      auto it = split(e, '/');
      if (it.size() != 2)
        throw std::invalid_argument("entries are <index>/<term>,...");
      es.push_back(entry_at(number(it[0])).term(number(it[1])).command("step"));
    }
    return append_request()
        .term(term)
        .prev_log(a.num("prev_log_index", 0), a.num("prev_log_term", 0))
        .entries(es)
        .leader_commit(a.num("leader_commit", 0));
  }
  if (type == "append_entries_response") {
    auto m = append_response().term(term);
    if (a.flag("success", false))
      m.accepted(a.num("index", 0));
    else
      m.rejected(a.num("index", 0));
    return m.hint(a.num("hint_index", 0), a.num("hint_term", 0));
  }
  if (type == "heartbeat_request")
    return heartbeat()
        .term(term)
        .commit(a.num("commit", 0))
        .read_seq(a.num("read_seq", 0));
  if (type == "heartbeat_response")
    return heartbeat_ack().term(term).read_seq(a.num("read_seq", 0));
  if (type == "timeout_now_request")
    return timeout_now().term(term);
  if (type == "read_index_request")
    return read_request().term(term).context(a.num("context", 0));
  if (type == "read_index_response")
    return read_response()
        .term(term)
        .context(a.num("context", 0))
        .index(a.num("index", 0));
  throw std::invalid_argument("step: cannot build a " + type);
}

/// The interaction environment: a simulated cluster plus the printing.
class trace_env {
public:
  std::string run(const std::string& line) {
    out_.str({});
    arguments a(line);
    dispatch(a);
    a.done();
    if (c_ && c_->violation())
      out_ << "VIOLATION: " << *c_->violation() << '\n';
    return out_.str();
  }

private:
  checked_cluster& c() {
    if (!c_)
      throw std::invalid_argument("no cluster yet: start with 'cluster voters=...'");
    return *c_;
  }

  std::vector<server_id> ids_of(const std::string& word) {
    if (word == "all")
      return c().ids();
    std::vector<server_id> out;
    for (auto& s : split(word, ','))
      out.push_back(number(s));
    return out;
  }

  void print_ready(server_id id, const ready& r) {
    out_ << "> " << id << " ready\n";
    std::istringstream lines(describe(r, id));
    std::string l;
    while (std::getline(lines, l))
      out_ << "  " << l << '\n';
  }

  /// Runs `f` (which prints batches) and prints `result` before them.
  template <class F>
  void with_result(const char* what, F&& f) {
    auto before = out_.str();
    out_.str({});
    auto r = f();
    auto batches = out_.str();
    out_.str({});
    out_ << before << what << ": " << describe(r) << '\n' << batches;
  }

  void make_cluster(arguments& a) {
    core_config cfg;
    cfg.pre_vote = a.flag("pre_vote", true);
    cfg.check_quorum = a.flag("check_quorum", true);
    cfg.election_ticks = static_cast<int>(a.num("election_ticks", 10));
    cfg.heartbeat_ticks = static_cast<int>(a.num("heartbeat_ticks", 1));
    cfg.max_entries_per_message = a.num("max_entries", 64);
    auto voters = ids_of_list(a.text("voters", ""));
    c_.reset();
    c_ = std::make_unique<checked_cluster>(voters, a.num("seed", 1), cfg);
    // The bootstrap configuration's event; it says nothing about the trace.
    for (auto id : c_->ids())
      c_->raft(id).take_ready();
    c_->on_ready = [this](server_id id, const ready& r) { print_ready(id, r); };
  }

  static std::vector<server_id> ids_of_list(const std::string& list) {
    std::vector<server_id> out;
    for (auto& s : split(list, ','))
      out.push_back(number(s));
    if (out.empty())
      throw std::invalid_argument("cluster: voters=<id>,... is required");
    return out;
  }

  /// A filter over in-flight messages: from=, to=, type= (message_name) and
  /// carrying= (an append that carries the entry with that index).
  struct match {
    std::string from;
    std::string to;
    std::string type;
    std::string carrying;

    explicit match(arguments& a)
        : from(a.text("from", "")), to(a.text("to", "")), type(a.text("type", "")),
          carrying(a.text("carrying", "")) {}

    bool operator()(const envelope& e) const {
      if ((!from.empty() && e.from != number(from)) ||
          (!to.empty() && e.to != number(to)) ||
          (!type.empty() && message_name(e.msg) != type))
        return false;
      if (carrying.empty())
        return true;
      const auto* a = std::get_if<append_entries_request>(&e.msg);
      if (a == nullptr)
        return false;
      for (const auto& x : a->entries)
        if (x->index == number(carrying))
          return true;
      return false;
    }
  };

  void print_envelope(const char* verb, const envelope& e) {
    out_ << verb << ' ' << e.from << "->" << e.to << ' ' << describe(e.msg);
  }

  void deliver(arguments& a) {
    const match wanted(a);
    auto& net = c().network();
    // Only what is in flight now: replies go to the back of the queue, so the
    // first `max` matches found one by one are all older messages.
    const auto max = std::min<std::uint64_t>(
        a.num("n", net.size()),
        static_cast<std::uint64_t>(std::count_if(net.begin(), net.end(), wanted)));
    for (std::uint64_t k = 0; k < max; ++k) {
      std::size_t i = 0;
      while (i < net.size() && !wanted(net[i]))
        ++i;
      if (i == net.size())
        return;
      print_envelope("deliver", net[i]);
      if (!c().node(net[i].to).up)
        out_ << " (lost: " << net[i].to << " is down)";
      else if (c().is_cut(net[i].from, net[i].to))
        out_ << " (lost: link cut)";
      out_ << '\n';
      c().deliver(i);
    }
  }

  void drop(arguments& a) {
    const match wanted(a);
    auto& net = c().network();
    for (std::size_t i = 0; i < net.size();) {
      if (wanted(net[i])) {
        print_envelope("drop", net[i]);
        out_ << '\n';
        net.erase(net.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  /// Persists up to `max` pending writes of `id`; returns how many.
  std::uint64_t persist(server_id id, std::uint64_t max) {
    std::uint64_t done = 0;
    auto& n = c().node(id);
    while (done < max && n.up && !n.disk_stalled && !n.writes.empty()) {
      out_ << "persisted " << id << " id=" << n.writes.front().persist_id << '\n';
      c().persist_one(id);
      ++done;
    }
    return done;
  }

  void stabilize() {
    for (int round = 0; round < 1000; ++round) {
      bool busy = false;
      for (auto id : c().ids())
        busy = persist(id, 1000) > 0 || busy;
      auto& net = c().network();
      for (auto pending = net.size(); pending > 0 && !net.empty(); --pending) {
        print_envelope("deliver", net.front());
        out_ << '\n';
        c().deliver(0);
        busy = true;
      }
      if (!busy)
        return;
    }
    throw std::runtime_error("stabilize: still busy after 1000 rounds");
  }

  void status(const std::vector<server_id>& ids) {
    for (auto id : ids) {
      const auto& n = c().node(id);
      out_ << id;
      if (!n.up) {
        out_ << " down\n";
        continue;
      }
      const auto& r = c().raft(id);
      out_ << ' ' << role_name(r.current_role()) << " term=" << r.term()
           << " vote=" << r.vote() << " leader=" << r.leader()
           << " commit=" << r.commit_index() << " applied=" << r.applied_index()
           << " last=" << r.log().last_index() << '/' << r.log().last_term() << ' '
           << describe(r.membership());
      if (r.transfer_target() != no_server)
        out_ << " transfer=" << r.transfer_target();
      out_ << '\n';
    }
  }

  void dispatch(arguments& a) {
    const auto& cmd = a.name();
    if (cmd == "cluster") {
      make_cluster(a);
    } else if (cmd == "campaign") {
      c().campaign(a.id(0));
    } else if (cmd == "tick") {
      const auto ids = ids_of(a.word(0));
      const auto n = a.num("n", 1);
      for (std::uint64_t i = 0; i < n; ++i)
        for (auto id : ids)
          c().tick(id);
    } else if (cmd == "propose") {
      with_result("propose",
                  [&] { return c().propose(a.id(0), a.word(1), a.word(2)); });
    } else if (cmd == "read") {
      auto ctx = c().read(a.id(0), a.word(1));
      out_ << "read: context=" << ctx << '\n';
    } else if (cmd == "change") {
      static const std::map<std::string, membership_change_kind> kinds = {
          {"add_voter", membership_change_kind::add_voter},
          {"add_learner", membership_change_kind::add_learner},
          {"promote", membership_change_kind::promote},
          {"remove", membership_change_kind::remove}};
      auto kind = kinds.find(a.word(1));
      if (kind == kinds.end())
        throw std::invalid_argument("change: unknown kind " + a.word(1));
      const auto who = a.id(2);
      if (kind->second == membership_change_kind::add_voter ||
          kind->second == membership_change_kind::add_learner)
        c().add_server(who);
      with_result("change", [&] {
        return c().change_membership(a.id(0), {kind->second, who});
      });
    } else if (cmd == "transfer") {
      with_result("transfer", [&] { return c().transfer(a.id(0), a.id(1)); });
    } else if (cmd == "persist") {
      const auto max = a.num("n", 1000000);
      for (auto id : ids_of(a.word(0)))
        persist(id, max);
    } else if (cmd == "deliver") {
      deliver(a);
    } else if (cmd == "drop") {
      drop(a);
    } else if (cmd == "net") {
      for (const auto& e : c().network()) {
        print_envelope("in flight", e);
        out_ << '\n';
      }
    } else if (cmd == "partition") {
      c().isolate(a.id(0));
    } else if (cmd == "cut") {
      c().cut(a.id(0), a.id(1));
    } else if (cmd == "heal") {
      c().heal();
    } else if (cmd == "crash") {
      c().crash(a.id(0));
    } else if (cmd == "restart") {
      c().restart(a.id(0));
    } else if (cmd == "stabilize") {
      const bool quiet = a.flag("quiet", false);
      stabilize();
      if (quiet)
        out_.str({});
    } else if (cmd == "step") {
      const auto to = a.id(0);
      const auto from = a.num("from", no_server);
      auto m = built_message(a.word(1), a);
      out_ << "step " << from << "->" << to << ' ' << describe(m) << '\n';
      c().network().push_front(envelope{from, to, std::move(m)});
      c().deliver(0);
    } else if (cmd == "status") {
      status(a.words() > 0 ? ids_of(a.word(0)) : c().ids());
    } else if (cmd == "log") {
      const auto& log = c().raft(a.id(0)).log();
      out_ << "snapshot " << log.snapshot_index() << '/' << log.snapshot_term() << '\n';
      for (auto i = log.first_index(); i <= log.last_index(); ++i)
        out_ << describe(*log.at(i)) << '\n';
    } else {
      throw std::invalid_argument("unknown command '" + cmd + "'");
    }
  }

  std::unique_ptr<checked_cluster> c_;
  std::ostringstream out_;
};

void run_golden(const std::string& file) {
  trace_env env;
  auto failure = golden::run_file(testdata + "/" + file,
                                  [&](const std::string& cmd) { return env.run(cmd); });
  if (!failure.empty())
    FAIL_CHECK(failure);
}

/// Every golden file, each with its own test case below.
const std::set<std::string> golden_files = {
    "figure_8.txt",       "check_quorum.txt",        "pre_vote_partition.txt",
    "leader_removal.txt", "leadership_transfer.txt",
};

} // namespace

TEST_CASE("golden_figure_8") {
  run_golden("figure_8.txt");
}

TEST_CASE("golden_check_quorum") {
  run_golden("check_quorum.txt");
}

TEST_CASE("golden_pre_vote_partition") {
  run_golden("pre_vote_partition.txt");
}

TEST_CASE("golden_leader_removal") {
  run_golden("leader_removal.txt");
}

TEST_CASE("golden_leadership_transfer") {
  run_golden("leadership_transfer.txt");
}

TEST_CASE("every_golden_file_has_a_test_case") {
  std::set<std::string> on_disk;
  for (const auto& e : std::filesystem::directory_iterator(testdata))
    if (e.path().extension() == ".txt")
      on_disk.insert(e.path().filename().string());
  CHECK(on_disk == golden_files);
}
