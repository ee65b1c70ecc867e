// conflux-etcd-driver: the etcd side of bench/compare-etcd.sh. The same flags,
// load shapes and JSON line as conflux-bench (load_common.hpp), speaking
// etcd's v3 HTTP/JSON gateway (grpc-gateway inside etcd) over raw sockets:
// one persistent HTTP/1.1 keep-alive connection per client thread, requests
// built and responses scanned by hand (no HTTP or JSON library), so that the
// client's own cost per operation stays small and comparable to the CAF
// client's. Debian ships etcd without its benchmark tool, hence this driver.
//
//   conflux-etcd-driver --endpoints 127.0.0.1:2379,... --workload put|get|get-serializable|watch
//                       --clients N --ops M --value-size B [--keys K] [--warmup W]
//                       [--pids PID,...] [--timeout-ms T] [--put-rate R]
//
//   put               POST /v3/kv/put of one of K keys
//   get               POST /v3/kv/range of one key (linearizable: etcd's default)
//   get-serializable  the same with "serializable": true (the member's local state)
//   watch             one writer POSTs /v3/kv/put at --put-rate; each of N
//                     watchers holds a POST /v3/watch stream on the prefix
//
// Keys and values are base64 in the JSON (protobuf bytes).
#include "bench/load_common.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

using namespace conflux::bench;

namespace {

// -- base64 (RFC 4648, padded: what protobuf's JSON mapping uses for bytes) -------

const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64_encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += b64_chars[(v >> 18) & 63];
    out += b64_chars[(v >> 12) & 63];
    out += b64_chars[(v >> 6) & 63];
    out += b64_chars[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = byte(i) << 16;
    out += b64_chars[(v >> 18) & 63];
    out += b64_chars[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += b64_chars[(v >> 18) & 63];
    out += b64_chars[(v >> 12) & 63];
    out += b64_chars[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

int b64_value(char ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '+' || ch == '-')
    return 62;
  if (ch == '/' || ch == '_')
    return 63;
  return -1;
}

std::optional<std::string> b64_decode(const char* p, std::size_t n) {
  std::string out;
  out.reserve(n / 4 * 3);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] == '=')
      break;
    int v = b64_value(p[i]);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

/// Every string value of field `name` in a flat scan of `json` (the gateway's
/// output has no escapes inside base64 strings), base64-decoded.
template <class F>
void for_each_b64_field(const std::string& json, const char* name, F&& f) {
  const std::string pat = std::string{"\""} + name + "\":\"";
  std::size_t at = 0;
  while ((at = json.find(pat, at)) != std::string::npos) {
    at += pat.size();
    auto end = json.find('"', at);
    if (end == std::string::npos)
      return;
    if (auto v = b64_decode(json.data() + at, end - at))
      f(*v);
    at = end + 1;
  }
}

/// The end of the key range of every key starting with `prefix`.
std::string prefix_end(std::string p) {
  while (!p.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(p.back());
    if (last < 0xff) {
      ++last;
      return p;
    }
    p.pop_back();
  }
  return std::string(1, '\0');
}

// -- one HTTP/1.1 keep-alive connection ------------------------------------------------

class http_conn {
public:
  http_conn(std::string endpoint, int timeout_ms)
    : endpoint_(std::move(endpoint)), timeout_ms_(timeout_ms) {}
  ~http_conn() { close_fd(); }
  http_conn(const http_conn&) = delete;
  http_conn& operator=(const http_conn&) = delete;

  bool connect(std::string& why) {
    close_fd();
    auto colon = endpoint_.rfind(':');
    auto host = endpoint_.substr(0, colon), port = endpoint_.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      why = endpoint_ + ": " + gai_strerror(rc);
      return false;
    }
    for (auto* a = res; a != nullptr; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0)
        continue;
      set_timeout(fd, timeout_ms_);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fd_ = fd;
        break;
      }
      why = endpoint_ + ": connect: " + std::strerror(errno);
      ::close(fd);
    }
    freeaddrinfo(res);
    buf_.clear();
    pos_ = 0;
    return fd_ >= 0;
  }

  /// Sets the receive timeout (the watch stream uses a short one to notice
  /// its stop flag).
  void set_recv_timeout(int ms) {
    if (fd_ >= 0)
      set_timeout(fd_, ms, /*send_too=*/false);
  }

  /// POSTs `body` (JSON) to `path` and reads the whole response, connecting
  /// first if needed. Returns the HTTP status (body in `out`) or -1.
  int post(const std::string& path, const std::string& body, std::string& out,
           std::string& why) {
    if (fd_ < 0 && !connect(why))
      return -1;
    if (!send_request(path, body, why) || !read_head(why)) {
      close_fd();
      return -1;
    }
    out.clear();
    bool ok = chunked_ ? read_chunked_all(out, why) : read_exact(content_length_, out, why);
    if (!ok || close_after_) {
      close_fd();
      if (!ok)
        return -1;
    }
    return status_;
  }

  /// Starts a streaming POST (the watch): sends it and reads the head.
  /// Returns the HTTP status or -1.
  int open_stream(const std::string& path, const std::string& body, std::string& why) {
    if (fd_ < 0 && !connect(why))
      return -1;
    if (!send_request(path, body, why) || !read_head(why)) {
      close_fd();
      return -1;
    }
    stream_.clear();
    return status_;
  }

  enum class line_status { line, timeout, failed };
  /// The next newline-terminated message of a chunked stream.
  line_status next_line(std::string& line, std::string& why) {
    for (;;) {
      auto nl = stream_.find('\n');
      if (nl != std::string::npos) {
        line.assign(stream_, 0, nl);
        stream_.erase(0, nl + 1);
        return line_status::line;
      }
      auto r = next_chunk(why);
      if (r != line_status::line)
        return r;
    }
  }

private:
  static void set_timeout(int fd, int ms, bool send_too = true) {
    timeval tv{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send_too)
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  void close_fd() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
    buf_.clear();
    pos_ = 0;
  }

  bool send_request(const std::string& path, const std::string& body, std::string& why) {
    req_.clear();
    req_ += "POST ";
    req_ += path;
    req_ += " HTTP/1.1\r\nHost: ";
    req_ += endpoint_;
    req_ += "\r\nContent-Type: application/json\r\nContent-Length: ";
    req_ += std::to_string(body.size());
    req_ += "\r\n\r\n";
    req_ += body;
    std::size_t off = 0;
    while (off < req_.size()) {
      auto n = ::send(fd_, req_.data() + off, req_.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        why = endpoint_ + ": send: " + std::strerror(errno);
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  enum class fill_result { ok, timeout, failed };
  /// Reads more bytes into buf_.
  fill_result fill(std::string& why) {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    } else if (pos_ > 65536) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char tmp[16384];
    for (;;) {
      auto n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<std::size_t>(n));
        return fill_result::ok;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        why = endpoint_ + ": no answer within the timeout";
        return fill_result::timeout;
      }
      why = endpoint_ + (n == 0 ? ": connection closed by the server"
                                : std::string{": recv: "} + std::strerror(errno));
      return fill_result::failed;
    }
  }

  bool read_line(std::string& line, std::string& why) {
    for (;;) {
      auto at = buf_.find("\r\n", pos_);
      if (at != std::string::npos) {
        line.assign(buf_, pos_, at - pos_);
        pos_ = at + 2;
        return true;
      }
      if (fill(why) != fill_result::ok)
        return false;
    }
  }

  bool read_exact(std::size_t n, std::string& out, std::string& why) {
    while (buf_.size() - pos_ < n)
      if (fill(why) != fill_result::ok)
        return false;
    out.append(buf_, pos_, n);
    pos_ += n;
    return true;
  }

  static bool iequals_prefix(const std::string& s, const char* p) {
    auto n = std::strlen(p);
    if (s.size() < n)
      return false;
    for (std::size_t i = 0; i < n; ++i)
      if (std::tolower(static_cast<unsigned char>(s[i])) != p[i])
        return false;
    return true;
  }

  bool read_head(std::string& why) {
    std::string line;
    if (!read_line(line, why))
      return false;
    // "HTTP/1.1 200 OK"
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) {
      why = endpoint_ + ": not an HTTP response: " + line.substr(0, 80);
      return false;
    }
    status_ = std::atoi(line.c_str() + 9);
    chunked_ = false;
    close_after_ = false;
    content_length_ = 0;
    for (;;) {
      if (!read_line(line, why))
        return false;
      if (line.empty())
        return true;
      if (iequals_prefix(line, "content-length:"))
        content_length_ = std::strtoull(line.c_str() + 15, nullptr, 10);
      else if (iequals_prefix(line, "transfer-encoding:") &&
               line.find("chunked") != std::string::npos)
        chunked_ = true;
      else if (iequals_prefix(line, "connection:") && line.find("close") != std::string::npos)
        close_after_ = true;
    }
  }

  // One chunk of a chunked body appended to stream_; `timeout` if nothing
  // arrived within the receive timeout, `failed` at the end of the body.
  line_status next_chunk(std::string& why) {
    // Consume nothing until the whole chunk (size line, data, CRLF) is here,
    // so that a receive timeout never leaves a chunk half read.
    for (;;) {
      auto at = buf_.find("\r\n", pos_);
      if (at != std::string::npos) {
        auto size = std::strtoull(buf_.c_str() + pos_, nullptr, 16);
        if (size == 0) {
          why = endpoint_ + ": the server ended the stream";
          return line_status::failed;
        }
        if (buf_.size() >= at + 2 + size + 2) {
          stream_.append(buf_, at + 2, size);
          pos_ = at + 2 + size + 2;
          return line_status::line;
        }
      }
      auto f = fill(why);
      if (f == fill_result::timeout)
        return line_status::timeout;
      if (f == fill_result::failed)
        return line_status::failed;
    }
  }

  bool read_chunked_all(std::string& out, std::string& why) {
    std::string line;
    for (;;) {
      if (!read_line(line, why))
        return false;
      auto size = std::strtoull(line.c_str(), nullptr, 16);
      if (size == 0) {
        // Trailers, then the empty line.
        do {
          if (!read_line(line, why))
            return false;
        } while (!line.empty());
        return true;
      }
      if (!read_exact(size, out, why) || !read_line(line, why))
        return false;
    }
  }

  std::string endpoint_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string req_;
  std::string stream_;
  int status_ = 0;
  bool chunked_ = false;
  bool close_after_ = false;
  std::size_t content_length_ = 0;
};

std::string key_of(const options& o, int k) {
  return o.key_prefix + "/" + o.workload + "/k" + std::to_string(k);
}

int key_index(const options& o, int c, std::int64_t i) {
  return static_cast<int>((c + i * o.clients) % o.keys);
}

std::string put_body(const std::string& key_b64, const std::string& value) {
  std::string b;
  b.reserve(key_b64.size() + value.size() * 4 / 3 + 32);
  b += "{\"key\":\"";
  b += key_b64;
  b += "\",\"value\":\"";
  b += b64_encode(value);
  b += "\"}";
  return b;
}

std::string describe_failure(int status, const std::string& body) {
  return "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
}

/// One put; true if etcd answered 200 with a header.
bool do_put(http_conn& conn, const std::string& key_b64, const std::string& value,
            std::string& resp, std::string& why) {
  int st = conn.post("/v3/kv/put", put_body(key_b64, value), resp, why);
  if (st < 0)
    return false;
  if (st != 200 || resp.find("\"header\"") == std::string::npos) {
    why = "put: " + describe_failure(st, resp);
    return false;
  }
  return true;
}

std::vector<std::string> encoded_keys(const options& o) {
  std::vector<std::string> out;
  for (int k = 0; k < o.keys; ++k)
    out.push_back(b64_encode(key_of(o, k)));
  return out;
}

// Writes every key once with a value-size value (what get reads back).
std::optional<std::string> setup(const options& o) {
  http_conn conn(o.endpoint_list().front(), o.timeout_ms);
  const std::string value(static_cast<std::size_t>(o.value_size), 'v');
  std::string resp, why;
  for (const auto& k : encoded_keys(o))
    if (!do_put(conn, k, value, resp, why))
      return "setup put: " + why;
  return std::nullopt;
}

// -- workloads -------------------------------------------------------------------------

struct client_state {
  http_conn conn;
  std::vector<std::string> keys;
  std::string value;
  std::string resp;
  std::string body;
  client_state(const options& o, int c)
    : conn(o.endpoints_for(c).front(), o.timeout_ms), keys(encoded_keys(o)),
      value(static_cast<std::size_t>(o.value_size), 'x') {}
};

op_fn put_op(const options& o, int c, std::shared_ptr<client_state> s) {
  return [o, c, s](std::int64_t i, bool, std::string& why) {
    s->value[0] = static_cast<char>('a' + i % 26);
    return do_put(s->conn, s->keys[static_cast<std::size_t>(key_index(o, c, i))], s->value,
                  s->resp, why);
  };
}

op_fn get_op(const options& o, int c, std::shared_ptr<client_state> s, bool serializable) {
  return [o, c, s, serializable](std::int64_t i, bool, std::string& why) {
    auto& body = s->body;
    body.clear();
    body += "{\"key\":\"";
    body += s->keys[static_cast<std::size_t>(key_index(o, c, i))];
    body += serializable ? "\",\"serializable\":true}" : "\"}";
    int st = s->conn.post("/v3/kv/range", body, s->resp, why);
    if (st < 0)
      return false;
    if (st != 200) {
      why = "range: " + describe_failure(st, s->resp);
      return false;
    }
    std::size_t got = 0, n = 0;
    for_each_b64_field(s->resp, "value", [&](const std::string& v) {
      got = v.size();
      ++n;
    });
    if (n != 1 || got != static_cast<std::size_t>(o.value_size)) {
      why = "range: expected one " + std::to_string(o.value_size) + "-byte value, got " +
            std::to_string(n) + " value(s) of " + std::to_string(got) + " bytes";
      return false;
    }
    return true;
  };
}

run_result run_watch(const options& o, measurement& m) {
  const auto keys = encoded_keys(o);
  const std::string prefix = o.key_prefix + "/" + o.workload + "/";
  const std::string create = "{\"create_request\":{\"key\":\"" + b64_encode(prefix) +
                             "\",\"range_end\":\"" + b64_encode(prefix_end(prefix)) + "\"}}";
  watch_hooks hooks;
  hooks.make_writer = [&](std::string&) {
    auto conn = std::make_shared<http_conn>(o.endpoint_list().front(), o.timeout_ms);
    auto resp = std::make_shared<std::string>();
    return std::function<bool(std::int64_t, const std::string&, std::string&)>(
      [&keys, conn, resp](std::int64_t seq, const std::string& value, std::string& why) {
        return do_put(*conn, keys[static_cast<std::size_t>(seq) % keys.size()], value, *resp,
                      why);
      });
  };
  hooks.run_watcher = [&](int c, const std::function<void()>& ready,
                          const std::function<void(std::int64_t)>& seen,
                          const std::atomic<bool>& stop) -> std::optional<std::string> {
    http_conn conn(o.endpoints_for(c).front(), o.timeout_ms);
    std::string why;
    int st = conn.open_stream("/v3/watch", create, why);
    if (st < 0)
      return "watch: " + why;
    if (st != 200)
      return "watch: HTTP " + std::to_string(st);
    conn.set_recv_timeout(100); // to notice `stop`
    std::string line;
    bool created = false;
    while (!stop.load()) {
      auto r = conn.next_line(line, why);
      if (r == http_conn::line_status::timeout)
        continue;
      if (r == http_conn::line_status::failed)
        return "watch stream: " + why;
      if (line.find("\"error\"") != std::string::npos)
        return "watch stream: " + line.substr(0, 200);
      if (!created && line.find("\"created\":true") != std::string::npos) {
        created = true;
        ready();
      }
      for_each_b64_field(line, "value", [&](const std::string& v) {
        if (auto seq = parse_watch_value(v))
          seen(*seq);
      });
    }
    return std::nullopt;
  };
  return run_watch_shape(o, m, hooks);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  program_info info{"conflux-etcd-driver",
                    "conflux-etcd-driver: the load shapes of conflux-bench against etcd's v3 "
                    "HTTP/JSON gateway, one keep-alive connection per client",
                    "127.0.0.1:2379",
                    {"put", "get", "get-serializable", "watch"}};
  if (auto rc = parse_cli(argc, argv, info, o))
    return *rc;
  if (o.workload != "watch")
    if (auto e = setup(o)) {
      std::cerr << "conflux-etcd-driver: " << *e << "; is etcd running at --endpoints?\n";
      return exit_unavailable;
    }
  measurement m(o.pids);
  run_result r;
  if (o.workload == "watch") {
    r = run_watch(o, m);
  } else {
    client_factory make = [&](int c, std::string&) -> op_fn {
      auto s = std::make_shared<client_state>(o, c);
      if (o.workload == "put")
        return put_op(o, c, s);
      return get_op(o, c, s, o.workload == "get-serializable");
    };
    r = run_closed_loop(o, m, make);
  }
  if (r.fatal) {
    std::cerr << "conflux-etcd-driver: " << *r.fatal << "\n";
    return exit_unavailable;
  }
  print_result(o, m, r);
  return r.errors == 0 ? exit_ok : exit_op_errors;
}
