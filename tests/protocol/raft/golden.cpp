#include "tests/protocol/raft/golden.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>

namespace conflux::raft::golden {

namespace {

const std::string separator = "----";

bool is_filler(const std::string& line) {
  return line.empty() || line[0] == '#';
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line))
    out.push_back(line);
  return out;
}

} // namespace

std::vector<std::string> lines_of(const std::string& text) {
  auto all = split_lines(text);
  all.erase(std::remove_if(all.begin(), all.end(),
                           [](const std::string& l) {
                             return l.find_first_not_of(" \t") == std::string::npos;
                           }),
            all.end());
  return all;
}

bool parse(const std::string& text, script& out, std::string& error) {
  out = script{};
  const auto lines = split_lines(text);
  std::vector<std::string> filler;
  std::size_t i = 0;
  while (i < lines.size()) {
    if (is_filler(lines[i])) {
      filler.push_back(lines[i++]);
      continue;
    }
    block b;
    b.preamble = std::move(filler);
    filler.clear();
    b.command = lines[i];
    b.line = static_cast<int>(i + 1);
    if (b.command == separator || i + 1 >= lines.size() || lines[i + 1] != separator) {
      error = "line " + std::to_string(i + 1) + ": expected a command followed by a '" +
              separator + "' line, found '" + b.command + "'";
      return false;
    }
    i += 2;
    while (i < lines.size() && !lines[i].empty())
      b.expected.push_back(lines[i++]);
    out.blocks.push_back(std::move(b));
    // The blank line that ends a block belongs to the block.
    if (i < lines.size())
      ++i;
  }
  out.trailer = std::move(filler);
  return true;
}

std::string render(const script& s) {
  std::ostringstream os;
  for (std::size_t k = 0; k < s.blocks.size(); ++k) {
    const auto& b = s.blocks[k];
    for (const auto& l : b.preamble)
      os << l << '\n';
    os << b.command << '\n' << separator << '\n';
    for (const auto& l : b.expected)
      os << l << '\n';
    if (k + 1 < s.blocks.size() || !s.trailer.empty())
      os << '\n';
  }
  for (const auto& l : s.trailer)
    os << l << '\n';
  return os.str();
}

std::string unified_diff(const std::vector<std::string>& a,
                         const std::vector<std::string>& b) {
  if (a == b)
    return {};
  // Longest common subsequence table; outputs are short.
  const auto n = a.size();
  const auto m = b.size();
  std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      lcs[i][j] =
          a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  struct op {
    char kind;
    std::size_t ai;
    std::size_t bi;
  };
  std::vector<op> ops;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', i++, j++});
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push_back({'-', i++, j});
    } else {
      ops.push_back({'+', i, j++});
    }
  }
  constexpr std::size_t context = 3;
  std::ostringstream os;
  std::size_t k = 0;
  while (k < ops.size()) {
    // Next change, then the hunk around it (merging changes whose contexts
    // touch).
    auto first = k;
    while (first < ops.size() && ops[first].kind == ' ')
      ++first;
    if (first == ops.size())
      break;
    auto start = first >= context ? first - context : 0;
    start = std::max(start, k);
    auto end = first;
    for (auto q = first; q < ops.size(); ++q) {
      if (ops[q].kind != ' ') {
        end = q + 1;
      } else if (q >= end + 2 * context) {
        break;
      }
    }
    end = std::min(ops.size(), end + context);
    std::size_t a_count = 0;
    std::size_t b_count = 0;
    for (auto q = start; q < end; ++q) {
      a_count += ops[q].kind != '+';
      b_count += ops[q].kind != '-';
    }
    // As diff -u: an empty side names the line before it.
    os << "@@ -" << ops[start].ai + (a_count > 0 ? 1 : 0) << ',' << a_count << " +"
       << ops[start].bi + (b_count > 0 ? 1 : 0) << ',' << b_count << " @@\n";
    for (auto q = start; q < end; ++q)
      os << ops[q].kind << (ops[q].kind == '+' ? b[ops[q].bi] : a[ops[q].ai]) << '\n';
    k = end;
  }
  return os.str();
}

outcome run_script(const std::string& name, const std::string& text, const handler& run,
                   bool rewrite) {
  outcome out;
  script s;
  std::string error;
  if (!parse(text, s, error)) {
    out.failure = name + ": " + error;
    return out;
  }
  for (auto& b : s.blocks) {
    std::vector<std::string> actual;
    try {
      actual = lines_of(run(b.command));
    } catch (const std::exception& e) {
      out.failure = name + ':' + std::to_string(b.line) + ": '" + b.command +
                    "' failed: " + e.what();
      return out;
    }
    if (!rewrite && actual != b.expected) {
      std::ostringstream os;
      os << name << ':' << b.line << ": the output of '" << b.command
         << "' differs (- expected, + actual):\n--- expected\n+++ actual\n"
         << unified_diff(b.expected, actual)
         << "(rerun with CONFLUX_REWRITE_GOLDEN=1 to accept the new output)";
      out.failure = os.str();
      return out;
    }
    b.expected = std::move(actual);
  }
  out.rewritten = render(s);
  return out;
}

std::string run_file(const std::string& path, const handler& run) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return path + ": cannot be read";
  std::ostringstream text;
  text << in.rdbuf();
  const char* env = std::getenv("CONFLUX_REWRITE_GOLDEN");
  const bool rewrite = env != nullptr && std::string(env) == "1";
  auto name = path.substr(path.find_last_of('/') + 1);
  auto result = run_script(name, text.str(), run, rewrite);
  if (!result.failure.empty() || !rewrite)
    return result.failure;
  std::ofstream outf(path, std::ios::binary | std::ios::trunc);
  outf << result.rewritten;
  return outf ? std::string{} : path + ": cannot be rewritten";
}

} // namespace conflux::raft::golden
