#include "protocol/validation_schema.hpp"

#include "protocol/validation_support.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

namespace conflux {

namespace detail {

namespace {

constexpr const char* schema_advice = "fix the schema document (JSON Schema draft 7)";

// The longest string a regex-checked "format" may meet. std::regex needs a few
// hundred bytes of stack per character; 8 KiB of text stays far below 1 MiB.
constexpr std::size_t max_format_checked_chars = 8192;

// valijson matches $ref, $id and id against std::regex, which recurses once
// per character.
constexpr std::size_t max_reference_chars = 1024;

error refuse(const std::string& what) {
  return {errc::invalid_argument, "schema " + what + "; " + schema_advice};
}

// valijson (1.0) recurses without limit: it crashes on a schema whose $refs
// loop without descending into the document, and a long enough chain of
// $refs or a deep enough check exhausts the stack. This is the map of a
// schema that lets us refuse those before valijson sees them. A node is a
// subschema, named by its JSON pointer; an edge leads to a subschema that
// applies either to the same value ($ref, allOf, anyOf, oneOf, not, if, then,
// else, dependencies) or to a part of it (properties, items, ...).
class schema_graph {
public:
  explicit schema_graph(const json& root) : root_(root) {}

  // Builds the graph; fails on a $ref or $id we do not follow, and on
  // keywords we refuse.
  status build() {
    node_id("", &root_);
    while (!todo_.empty()) {
      std::size_t v = todo_.back();
      todo_.pop_back();
      if (auto st = walk(v); !st)
        return st;
    }
    return {};
  }

  // Whether a "format" that valijson checks with std::regex is reachable.
  bool regex_format() const { return regex_format_; }

  // A loop of same-value edges: the pointer of one schema on it. Otherwise
  // sets longest_chain to the longest chain (in edges) of same-value edges.
  std::optional<std::string> same_value_loop(std::size_t& longest_chain) const {
    std::size_t n = nodes_.size();
    std::vector<std::size_t> indegree(n, 0);
    for (std::size_t v = 0; v < n; ++v)
      for (const auto& e : edges_[v])
        if (e.same_value)
          ++indegree[e.to];
    // Kahn's algorithm: what is left over lies on or behind a loop. It also
    // yields the longest chain of the loop-free part.
    std::vector<std::size_t> ready;
    std::vector<std::size_t> chain(n, 0);
    for (std::size_t v = 0; v < n; ++v)
      if (indegree[v] == 0)
        ready.push_back(v);
    std::size_t done = 0;
    longest_chain = 0;
    while (!ready.empty()) {
      std::size_t v = ready.back();
      ready.pop_back();
      ++done;
      longest_chain = std::max(longest_chain, chain[v]);
      for (const auto& e : edges_[v]) {
        if (!e.same_value)
          continue;
        chain[e.to] = std::max(chain[e.to], chain[v] + 1);
        if (--indegree[e.to] == 0)
          ready.push_back(e.to);
      }
    }
    if (done == n)
      return std::nullopt;
    return names_[on_loop(indegree)];
  }

  // An upper bound of valijson's compile recursion: the longest path through
  // the graph with each strongly connected component (a recursive part of
  // the schema) counted at its full size.
  std::size_t longest_chain() const {
    std::vector<std::size_t> component;
    std::vector<std::size_t> size;
    strongly_connected_components(component, size);
    // Tarjan numbers components so that every edge between two of them goes
    // to a lower number: one pass in increasing order computes the paths.
    std::vector<std::vector<std::size_t>> members(size.size());
    for (std::size_t v = 0; v < nodes_.size(); ++v)
      members[component[v]].push_back(v);
    std::vector<std::size_t> path(size.size(), 0);
    std::size_t longest = 0;
    for (std::size_t c = 0; c < size.size(); ++c) {
      std::size_t below = 0;
      for (std::size_t v : members[c])
        for (const auto& e : edges_[v])
          if (component[e.to] != c)
            below = std::max(below, path[component[e.to]]);
      path[c] = size[c] + below;
      longest = std::max(longest, path[c]);
    }
    return longest;
  }

private:
  struct edge {
    std::size_t to;
    bool same_value;
  };

  // REQUIRES: some node has indegree left over after Kahn's algorithm.
  // Every such node has a left-over same-value predecessor; walking back n
  // steps from one ends on the loop itself.
  std::size_t on_loop(const std::vector<std::size_t>& indegree) const {
    std::size_t n = nodes_.size();
    std::vector<std::vector<std::size_t>> preds(n);
    for (std::size_t v = 0; v < n; ++v)
      for (const auto& e : edges_[v])
        if (e.same_value)
          preds[e.to].push_back(v);
    std::size_t v = 0;
    while (indegree[v] == 0)
      ++v;
    for (std::size_t step = 0; step < n; ++step) {
      for (std::size_t u : preds[v]) {
        if (indegree[u] != 0) {
          v = u;
          break;
        }
      }
    }
    return v;
  }

  // Iterative Tarjan (our own code must not recurse on hostile input either):
  // component[v] is v's component, size[c] how many nodes c has.
  void strongly_connected_components(std::vector<std::size_t>& component,
                                     std::vector<std::size_t>& size) const {
    std::size_t n = nodes_.size();
    constexpr std::size_t unvisited = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> index(n, unvisited), low(n, 0);
    component.assign(n, unvisited);
    std::vector<bool> on_stack(n, false);
    std::vector<std::size_t> stack;
    std::vector<std::pair<std::size_t, std::size_t>> calls; // (node, next edge)
    std::size_t counter = 0;
    auto visit = [&](std::size_t v) {
      index[v] = low[v] = counter++;
      stack.push_back(v);
      on_stack[v] = true;
      calls.emplace_back(v, 0);
    };
    for (std::size_t s = 0; s < n; ++s) {
      if (index[s] != unvisited)
        continue;
      visit(s);
      while (!calls.empty()) {
        auto& [v, next] = calls.back();
        if (next < edges_[v].size()) {
          std::size_t w = edges_[v][next++].to;
          if (index[w] == unvisited)
            visit(w);
          else if (on_stack[w])
            low[v] = std::min(low[v], index[w]);
          continue;
        }
        std::size_t done = v;
        if (low[done] == index[done]) {
          size.push_back(0);
          std::size_t w = 0;
          do {
            w = stack.back();
            stack.pop_back();
            on_stack[w] = false;
            component[w] = size.size() - 1;
            ++size.back();
          } while (w != done);
        }
        calls.pop_back();
        if (!calls.empty())
          low[calls.back().first] = std::min(low[calls.back().first], low[done]);
      }
    }
  }

  std::size_t node_id(const std::string& pointer, const json* node) {
    auto [it, inserted] = ids_.emplace(pointer, nodes_.size());
    if (inserted) {
      nodes_.push_back(node);
      names_.push_back(pointer);
      edges_.emplace_back();
      todo_.push_back(it->second);
    }
    return it->second;
  }

  void link(std::size_t from, const std::string& pointer, const json& child,
            bool same_value) {
    if (!child.is_object() && !child.is_boolean())
      return; // valijson rejects it
    std::size_t to = node_id(pointer, &child);
    edges_[from].push_back(edge{to, same_value});
  }

  status walk(std::size_t v) {
    const json& node = *nodes_[v];
    if (!node.is_object())
      return {};
    // Copy: node_id() may grow names_ while we use the name.
    const std::string base = names_[v];
    for (const auto& [keyword, value] : node.items()) {
      if (auto st = check_keyword(keyword, value, base); !st)
        return st;
      if (keyword == "$ref" && value.is_string()) {
        auto target = resolve(value.get_ref<const std::string&>(), base);
        if (!target)
          return target.err();
        edges_[v].push_back(edge{*target, true});
      } else {
        link_keyword(v, keyword, value, base + "/" + pointer_escape(keyword));
      }
    }
    return {};
  }

  // The keywords we refuse, and the "format"s valijson checks with std::regex.
  status check_keyword(const std::string& k, const json& value,
                       const std::string& base) {
    const std::string at = " at #" + printable(base, 200);
    if ((k == "$ref" || k == "$id" || k == "id") && value.is_string() &&
        value.get_ref<const std::string&>().size() > max_reference_chars) {
      return refuse("has a \"" + k + "\" of " +
                    num(value.get_ref<const std::string&>().size()) + " characters" +
                    at + "; the limit is " + num(max_reference_chars) +
                    ", so shorten it");
    }
    if ((k == "pattern" && value.is_string()) ||
        (k == "patternProperties" && value.is_object())) {
      // valijson 1.0 hands patterns to std::regex, whose backtracking
      // matcher recurses per character (a long string overflows the stack)
      // and can take exponential time ("(a+)+b"). One such schema would
      // stop every node on every replay of the log, so none is accepted.
      return refuse("uses \"" + k + "\"" + at +
                    "; regular expressions are not accepted in schemas yet, because "
                    "the schema checker's regex engine can crash or hang on hostile "
                    "input; use enum, const, minLength/maxLength or format instead");
    }
    if ((k == "$id" || k == "id") && !base.empty() && value.is_string()) {
      return refuse("sets \"" + k + "\"" + at +
                    "; an $id changes what $refs below it mean, so only the top "
                    "level may set one");
    }
    if (k == "format" && value.is_string()) {
      const auto& f = value.get_ref<const std::string&>();
      if (f == "date" || f == "time" || f == "date-time")
        regex_format_ = true;
    }
    return {};
  }

  // The edges of one keyword other than $ref. "definitions" are only reached
  // through $refs.
  void link_keyword(std::size_t v, const std::string& k, const json& value,
                    const std::string& child) {
    if (k == "not" || k == "if" || k == "then" || k == "else") {
      link(v, child, value, true);
    } else if ((k == "allOf" || k == "anyOf" || k == "oneOf") && value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i)
        link(v, child + "/" + num(i), value[i], true);
    } else if ((k == "dependencies" || k == "properties" || k == "patternProperties") &&
               value.is_object()) {
      // A dependencies schema applies to the object itself; the others to
      // its members.
      for (const auto& [name, sub] : value.items())
        link(v, child + "/" + pointer_escape(name), sub, k == "dependencies");
    } else if (k == "items" && value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i)
        link(v, child + "/" + num(i), value[i], false);
    } else if (k == "items" || k == "additionalItems" || k == "additionalProperties" ||
               k == "contains" || k == "propertyNames") {
      link(v, child, value, false);
    }
  }

  // "#/definitions/a%20b" -> the node at /definitions/a b.
  expected<std::size_t> resolve(const std::string& ref, const std::string& from) {
    auto shown = quote(ref);
    if (ref.empty() || ref[0] != '#') {
      return refuse(
          "has \"$ref\": " + shown + " at #" + printable(from, 200) +
          "; only references inside the schema (\"#\" or \"#/definitions/...\") are "
          "allowed, so copy the referenced schema in");
    }
    try {
      json::json_pointer jp{percent_decode(ref.substr(1))};
      if (!root_.contains(jp)) {
        return refuse("has \"$ref\": " + shown +
                      ", which points at nothing; point it at an existing subschema");
      }
      const json& target = root_.at(jp);
      if (!target.is_object() && !target.is_boolean()) {
        return refuse("has \"$ref\": " + shown + ", which points at a JSON " +
                      target.type_name() +
                      " rather than a schema; point it at a subschema");
      }
      return node_id(jp.to_string(), &target);
    } catch (const std::exception&) {
      return refuse(
          "has \"$ref\": " + shown +
          ", which is not a JSON pointer; write it as \"#/definitions/name\"");
    }
  }

  static std::string percent_decode(std::string_view s) {
    auto hex_value = [](char c) {
      return is_dec(c) ? c - '0' : (c >= 'a' ? c - 'a' : c - 'A') + 10;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
        out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  const json& root_;
  bool regex_format_ = false;
  std::map<std::string, std::size_t> ids_;
  std::vector<const json*> nodes_;
  std::vector<std::string> names_;
  std::vector<std::vector<edge>> edges_;
  std::vector<std::size_t> todo_;
};

// The JSON pointer of the first string (member name or value) longer than
// max_chars, without recursion.
std::optional<std::pair<std::string, std::size_t>> long_string(const json& root,
                                                               std::size_t max_chars) {
  std::vector<std::pair<const json*, std::string>> todo{{&root, ""}};
  while (!todo.empty()) {
    auto [node, path] = std::move(todo.back());
    todo.pop_back();
    if (node->is_string()) {
      std::size_t n = node->get_ref<const std::string&>().size();
      if (n > max_chars)
        return std::make_pair(path.empty() ? "/" : path, n);
    } else if (node->is_object()) {
      for (const auto& [name, child] : node->items()) {
        std::string child_path = path + "/" + pointer_escape(name);
        if (name.size() > max_chars)
          return std::make_pair(child_path, name.size());
        todo.emplace_back(&child, std::move(child_path));
      }
    } else if (node->is_array()) {
      for (std::size_t i = 0; i < node->size(); ++i)
        todo.emplace_back(&(*node)[i], path + "/" + num(i));
    }
  }
  return std::nullopt;
}

// How deeply arrays and objects nest in a tree (a scalar is 0), without
// recursion.
std::size_t tree_depth(const json& root) {
  std::size_t deepest = 0;
  std::vector<std::pair<const json*, std::size_t>> todo{{&root, 0}};
  while (!todo.empty()) {
    auto [node, depth] = todo.back();
    todo.pop_back();
    if (!node->is_structured())
      continue;
    deepest = std::max(deepest, depth + 1);
    for (const auto& child : *node)
      todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

// valijson context ["<root>", "[server]", "[port]"] -> "/server/port".
std::string pointer_of(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& part : context) {
    if (part == "<root>")
      continue;
    std::string_view p = part;
    if (p.size() >= 2 && p.front() == '[' && p.back() == ']')
      p = p.substr(1, p.size() - 2);
    out += '/';
    out += pointer_escape(p);
  }
  return out.empty() ? std::string{"/ (the whole document)"} : out;
}

} // namespace

struct json_schema::compiled {
  json document;
  valijson::Schema schema;
  /// The longest chain of subschemas that apply to one and the same value.
  std::size_t same_value_chain = 0;
  /// The schema uses a "format" valijson checks with std::regex, whose
  /// matcher recurses once per character: strings must stay short.
  bool regex_format = false;

  // The guards valijson needs before it may compile the document.
  status check_graph(const limits& lim) {
    schema_graph graph{document};
    if (auto st = graph.build(); !st)
      return st;
    if (auto loop = graph.same_value_loop(same_value_chain)) {
      return {errc::invalid_argument,
              "schema loops back to itself at #" +
                  (loop->empty() ? std::string{" (the top level)"}
                                 : printable(*loop, 200)) +
                  " without descending into the document (through $ref, allOf, anyOf, "
                  "oneOf, not, if/then/else or dependencies), so a check would never "
                  "end; let each loop pass through properties, items or another "
                  "keyword that descends"};
    }
    regex_format = graph.regex_format();
    if (std::size_t chain = graph.longest_chain(); chain > lim.max_schema_chain) {
      return {errc::too_large,
              "schema chains " + num(chain) +
                  " subschemas once its $refs are followed; the limit is " +
                  num(lim.max_schema_chain) +
                  "; flatten the schema or shorten its chains of $refs"};
    }
    return {};
  }
};

json_schema::json_schema(std::unique_ptr<compiled> c) : compiled_(std::move(c)) {}
json_schema::json_schema(json_schema&&) noexcept = default;
json_schema& json_schema::operator=(json_schema&&) noexcept = default;
json_schema::~json_schema() = default;

expected<json_schema> json_schema::compile(std::string_view text, const limits& lim) {
  auto out = std::make_unique<compiled>();
  if (auto failure = parse_json(text, lim, &out->document)) {
    if (failure->code == errc::too_large)
      return error{errc::too_large, "schema " + failure->detail};
    return error{errc::invalid_argument,
                 "schema is not valid JSON: " + failure->detail + "; " + schema_advice};
  }
  if (!out->document.is_object() && !out->document.is_boolean()) {
    return error{errc::invalid_argument,
                 std::string{"schema is a JSON "} + out->document.type_name() +
                     ", not a JSON Schema; a schema is a JSON object such as "
                     "{\"type\": \"object\"}; " +
                     schema_advice};
  }
  try {
    if (auto st = out->check_graph(lim); !st)
      return std::move(st).err();
    valijson::SchemaParser parser{valijson::SchemaParser::kDraft7};
    valijson::adapters::NlohmannJsonAdapter adapter{out->document};
    // No fetch function: a remote $ref fails instead of touching the network.
    parser.populateSchema(adapter, out->schema);
    return json_schema{std::move(out)};
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument,
                 "schema is not a valid JSON Schema: " + library_reason(ex.what()) +
                     "; " + schema_advice};
  } catch (...) {
    return error{errc::invalid_argument,
                 std::string{"schema is not a valid JSON Schema; "} + schema_advice};
  }
}

status json_schema::check(const json& doc, const std::string& label,
                          const limits& lim) const {
  const compiled& schema = *compiled_;
  std::size_t depth = tree_depth(doc);
  std::size_t steps = (depth + 1) * (schema.same_value_chain + 1);
  if (steps > lim.max_schema_check_steps) {
    return {errc::too_large,
            "content" + label + " nests " + num(depth) +
                " levels and the schema applies chains of up to " +
                num(schema.same_value_chain + 1) +
                " subschemas per level, more than the " +
                num(lim.max_schema_check_steps) +
                " steps a schema check may take; flatten the content or the schema"};
  }
  if (schema.regex_format) {
    if (auto found = long_string(doc, max_format_checked_chars)) {
      return {errc::too_large,
              "content" + label + " has a string of " + num(found->second) +
                  " bytes at " + printable(found->first, 200) +
                  "; with a schema that uses \"format\": date, time or date-time, "
                  "strings may be at most " +
                  num(max_format_checked_chars) +
                  " bytes; shorten the string or drop that format from the schema"};
    }
  }
  valijson::Validator validator{valijson::Validator::kStrongTypes};
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target{doc};
  if (validator.validate(schema.schema, target, &results))
    return {};
  // valijson reports the wrapping constraints too ("failed to validate
  // against child schema"); the deepest error names the actual culprit.
  valijson::ValidationResults::Error best;
  bool have = false;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    if (!have || e.context.size() > best.context.size()) {
      best = e;
      have = true;
    }
  }
  std::string where = have ? pointer_of(best.context) : "/";
  std::string why = have ? library_reason(best.description) : "it does not match";
  return {errc::schema_violation, "content" + label + " breaks the schema at " +
                                      printable(where, 200) + ": " + why +
                                      "; change the content to satisfy the schema"};
}

} // namespace detail

status validate_schema_document(std::string_view schema_json, const limits& lim) {
  if (schema_json.size() > lim.max_schema_bytes) {
    return {errc::too_large, "schema is " + detail::num(schema_json.size()) +
                                 " bytes; the limit is " +
                                 detail::num(lim.max_schema_bytes) +
                                 " bytes; simplify the schema or split the config"};
  }
  return detail::json_schema::compile(schema_json, lim).to_status();
}

} // namespace conflux
