#include "tests/integration/helpers.hpp"

#include <sstream>

namespace conflux::itest {

std::map<std::string, std::size_t> content_counts(const std::vector<version>& vs) {
  std::map<std::string, std::size_t> out;
  for (auto& v : vs)
    ++out[v.content];
  return out;
}

void check_applied_once(const std::vector<version>& vs,
                        const std::vector<write_outcome>& outcomes) {
  auto counts = content_counts(vs);
  std::map<std::string, version_id> id_of;
  for (auto& v : vs)
    id_of[v.content] = v.id;
  for (auto& [content, n] : counts) {
    INFO("content " << content);
    CHECK(n == 1);
  }
  for (auto& o : outcomes) {
    auto it = counts.find(o.content);
    std::size_t n = it == counts.end() ? 0 : it->second;
    INFO("write " << o.content << " -> " << (o.ok ? std::string{"ok"} : o.error));
    if (o.ok) {
      CHECK(n == 1);
      if (n == 1)
        CHECK(id_of[o.content] == o.version);
    } else if (o.code == errc::timeout) {
      CHECK(n <= 1);
    } else {
      CHECK(n == 0);
    }
  }
}

// -- writer_pool --------------------------------------------------------------

writer_pool::writer_pool(std::vector<std::unique_ptr<actors::client>> clients,
                         std::string key, std::string prefix, std::size_t max_writes,
                         ms limit)
    : clients_(std::move(clients)), key_(std::move(key)), prefix_(std::move(prefix)),
      max_writes_(max_writes), limit_(limit) {
  threads_.reserve(clients_.size());
  for (std::size_t k = 0; k < clients_.size(); ++k)
    threads_.emplace_back([this, k] { run(k); });
}

writer_pool::~writer_pool() {
  stop();
}

void writer_pool::run(std::size_t k) {
  auto deadline = clock::now() + limit_;
  auto& cl = *clients_[k];
  for (std::size_t n = 0; n < max_writes_ && !stop_.load() && clock::now() < deadline;
       ++n) {
    write_outcome o;
    o.content = prefix_ + std::to_string(k) + "-" + std::to_string(n);
    auto r = cl.write(make_create_version(key_, o.content));
    o.ok = acked(r);
    o.code = code_of(r);
    o.error = err_text(r);
    if (o.ok)
      o.version = r->version;
    {
      std::lock_guard<std::mutex> g{mu_};
      outcomes_.push_back(std::move(o));
    }
    if (acked(r))
      ++acks_;
  }
}

bool writer_pool::wait_acks(std::size_t n, ms limit) {
  return eventually([&] { return acks_.load() >= n; }, limit, 10ms);
}

void writer_pool::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

std::vector<write_outcome> writer_pool::outcomes() const {
  std::lock_guard<std::mutex> g{mu_};
  return outcomes_;
}

std::string writer_pool::summary() const {
  std::size_t total = 0;
  std::size_t oks = 0;
  std::size_t timeouts = 0;
  for (auto& o : outcomes()) {
    ++total;
    oks += o.ok ? 1 : 0;
    timeouts += (!o.ok && o.code == errc::timeout) ? 1 : 0;
  }
  std::ostringstream os;
  os << total << " writes: " << oks << " ok, " << timeouts << " timed out, "
     << total - oks - timeouts << " refused";
  return os.str();
}

// -- reads of one node ----------------------------------------------------------

served_versions wait_until_serves(cluster& c, std::size_t i, const std::string& key,
                                  std::uint64_t rev, ms limit) {
  auto cl = c.make_node_client(i, 2s);
  served_versions out;
  std::string last_err = "none";
  bool served = eventually(
      [&] {
        auto vs = cl->list_versions(key, actors::consistency::serializable, &out.meta);
        if (!vs.ok()) {
          last_err = err_text(vs);
          return false;
        }
        out.versions = std::move(*vs);
        return out.meta.revision >= rev;
      },
      limit, 50ms);
  REQUIRE_MESSAGE(
      served, "node " << c.id(i) << " did not serve " << key << " at revision " << rev
                      << " within " << limit.count() << " ms: last read at revision "
                      << out.meta.revision << " with " << out.versions.size()
                      << " versions, last error " << last_err);
  return out;
}

actors::node_status status_of(cluster& c, std::size_t i) {
  auto s = c.status(i);
  INFO("status of node " << c.id(i));
  REQUIRE_OK(s);
  return std::move(*s);
}

std::uint64_t applied_of(cluster& c, std::size_t i) {
  return status_of(c, i).applied;
}

} // namespace conflux::itest
