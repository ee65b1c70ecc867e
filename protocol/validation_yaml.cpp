#include "protocol/validation_formats.hpp"
#include "protocol/validation_support.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace conflux::detail {

namespace {

// --- characters ---------------------------------------------------------------

// YAML 1.2 §5.1 (c-printable): the only characters a YAML stream may hold.
bool is_yaml_printable(char32_t cp) {
  return cp == 0x09 || cp == 0x0a || cp == 0x0d || (cp >= 0x20 && cp <= 0x7e) ||
         cp == 0x85 || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
         cp >= 0x10000;
}

// yaml-cpp takes NUL bytes, invalid UTF-8 and raw control characters in its
// stride and would let them be stored; every client's YAML library would then
// refuse the document, or a C consumer would cut it short at the NUL. Only
// `text` holds arbitrary bytes.
status check_characters(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t at = i;
    char32_t cp = 0;
    if (!next_code_point(s, i, cp)) {
      return not_valid(content_format::yaml,
                       where_in(s, at) + ": " + describe_char_at(s, at) +
                           " is not valid UTF-8, and YAML content must be UTF-8; save "
                           "the file as UTF-8");
    }
    if (cp == 0) {
      return not_valid(content_format::yaml,
                       where_in(s, at) +
                           ": a NUL byte, which YAML text cannot hold; remove it (or "
                           "write \\0 inside a double-quoted string)");
    }
    if (!is_yaml_printable(cp)) {
      return not_valid(content_format::yaml,
                       where_in(s, at) + ": control character " +
                           describe_code_point(cp) +
                           ", which YAML text cannot hold; remove it (or write it as "
                           "an escape inside a double-quoted string)");
    }
  }
  return {};
}

// --- plain scalars ------------------------------------------------------------

bool all_of_chars(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? from the YAML 1.2 core
// schema, written out because std::regex is slow and recurses per character.
bool is_core_float(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t n = 0;
    while (i < s.size() && is_dec(s[i]))
      ++i, ++n;
    return n;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+'))
    ++i;
  std::size_t int_digits = digits();
  std::size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    frac_digits = digits();
  }
  if (int_digits == 0 && frac_digits == 0)
    return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+'))
      ++i;
    if (digits() == 0)
      return false;
  }
  return i == s.size();
}

// The magnitude `d` in `base` as a JSON integer: int64 when it fits, uint64
// above that; nullopt if it is not all digits or does not fit.
std::optional<json> core_integer(std::string_view d, int base, bool negative) {
  constexpr auto max_i64 =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t mag = 0;
  auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), mag, base);
  if (ec != std::errc{} || p != d.data() + d.size())
    return std::nullopt;
  if (!negative)
    return mag <= max_i64 ? json(static_cast<std::int64_t>(mag)) : json(mag);
  if (mag <= max_i64)
    return json(-static_cast<std::int64_t>(mag));
  if (mag == max_i64 + 1)
    return json(std::numeric_limits<std::int64_t>::min());
  return std::nullopt;
}

// A plain YAML scalar as a JSON value, by the YAML 1.2 core schema (so "yes"
// and "on" stay strings, unlike YAML 1.1). Numbers are read with from_chars:
// locale-independent, so every node decides the same way.
json resolve_plain_scalar(const std::string& v) {
  if (v == "true" || v == "True" || v == "TRUE")
    return true;
  if (v == "false" || v == "False" || v == "FALSE")
    return false;
  if (v == "null" || v == "Null" || v == "NULL" || v == "~" || v.empty())
    return nullptr;
  std::string_view s = v;
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  std::optional<json> integer;
  if (all_of_chars(digits, is_dec))
    integer = core_integer(digits, 10, negative);
  else if (s.size() > 2 && s[0] == '0' && s[1] == 'o' &&
           all_of_chars(s.substr(2), is_oct))
    integer = core_integer(s.substr(2), 8, false);
  else if (s.size() > 2 && s[0] == '0' && s[1] == 'x' &&
           all_of_chars(s.substr(2), is_hex))
    integer = core_integer(s.substr(2), 16, false);
  if (integer)
    return *integer;
  if (digits == ".inf" || digits == ".Inf" || digits == ".INF")
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN")
    return std::numeric_limits<double>::quiet_NaN();
  if (is_core_float(s) || all_of_chars(digits, is_dec)) {
    // from_chars accepts no leading '+'; digits-only values land here when
    // they overflow 64 bits.
    double d = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
    if (p == digits.data() + digits.size() &&
        (ec == std::errc{} || ec == std::errc::result_out_of_range))
      return negative ? -d : d;
  }
  return v;
}

// A scalar's tag says how to read it: "!" marks a quoted (or explicitly
// non-specific) scalar, always a string, and so do explicit string-like tags;
// everything else resolves like a plain scalar.
json scalar_value(const std::string& tag, const std::string& value) {
  if (tag == "!" || tag == "tag:yaml.org,2002:str" ||
      tag == "tag:yaml.org,2002:binary" || tag == "tag:yaml.org,2002:timestamp")
    return value;
  return resolve_plain_scalar(value);
}

// --- the event walker -------------------------------------------------------

// Walks the events of a YAML stream. Always: limits the nesting depth (yaml-cpp
// recurses per level), refuses duplicate mapping keys (YAML 1.2 §3.2.1.1
// requires unique keys; yaml-cpp would silently keep both) and counts the
// nodes anchors and aliases stand for. yaml-cpp shares an aliased node, so
// parsing stays linear, but every client that loads the document into plain
// values expands it: nine levels of nine aliases ("billion laughs") are a
// few hundred bytes that expand to 387 million nodes. With `build`, also
// turns each document into a JSON tree for schema checks; then the count is
// also what the copies cost us.
class yaml_walker final : public YAML::EventHandler {
public:
  yaml_walker(const limits& lim, bool build) : lim_(lim), build_(build) {}

  std::vector<json> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    mark_ = mark;
    // yaml-cpp 0.7 never consumes some stray tokens (a ',' outside [ ] or
    // { }) and starts one empty document after another at the same place,
    // forever. Every real document starts further on than the one before.
    if (documents_started_ > 0 && mark.pos <= last_document_pos_) {
      fail(
          errc::invalid_content,
          "the YAML parser cannot get past this point (often a ',' outside [ ] or { })",
          "remove or quote the character there");
    }
    ++documents_started_;
    last_document_pos_ = mark.pos;
    anchors_.clear();
    stack_.clear();
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    mark_ = mark;
    add(item{json(nullptr), 1, true, "null"}, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    mark_ = mark;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      fail(errc::invalid_content, "an alias refers to an unknown anchor",
           "define the anchor (&name) before its alias (*name)");
    }
    const item& a = it->second;
    charge(a.nodes);
    add(item{build_ ? a.value : json(), a.nodes, a.is_scalar, a.text}, 0);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    mark_ = mark;
    add(item{build_ ? scalar_value(tag, value) : json(), 1, true, value}, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                       YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(mark, false, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, true, anchor);
  }
  void OnMapEnd() override { close(); }

private:
  struct item {
    json value;
    std::size_t nodes = 1;
    bool is_scalar = false;
    std::string text; // the scalar's text, for keys
  };
  struct frame {
    bool is_map = false;
    YAML::anchor_t anchor = 0;
    json value;
    std::size_t nodes = 1;
    bool have_key = false;
    std::string key;
    std::set<std::string> keys;
  };

  // `what` is the problem, `advice` what to do about it.
  [[noreturn]] void fail(errc code, const std::string& what,
                         const std::string& advice) const {
    std::string where = line_col(static_cast<std::size_t>(mark_.line) + 1,
                                 static_cast<std::size_t>(mark_.column) + 1);
    if (code == errc::invalid_content)
      throw stop_parsing{
          not_valid(content_format::yaml, where + ": " + what + "; " + advice)};
    throw stop_parsing{status{code, "content " + what + " (" + where + "); " + advice}};
  }

  void charge(std::size_t nodes) {
    expanded_ += nodes;
    if (expanded_ > lim_.max_alias_expansion_nodes) {
      fail(errc::too_large,
           "expands through YAML anchors and aliases to more than " +
               num(lim_.max_alias_expansion_nodes) + " nodes",
           "use fewer aliases or write the values out (a document whose aliases "
           "multiply, an alias bomb, would exhaust the memory of every client that "
           "loads it)");
    }
  }

  void open(const YAML::Mark& mark, bool is_map, YAML::anchor_t anchor) {
    mark_ = mark;
    if (stack_.size() + 1 > lim_.max_nesting_depth) {
      fail(errc::too_large,
           "nests collections deeper than " + num(lim_.max_nesting_depth) + " levels",
           "flatten the document");
    }
    frame f;
    f.is_map = is_map;
    f.anchor = anchor;
    if (build_)
      f.value = is_map ? json::object() : json::array();
    stack_.push_back(std::move(f));
  }

  void close() {
    frame f = std::move(stack_.back());
    stack_.pop_back();
    add(item{std::move(f.value), f.nodes, false, {}}, f.anchor);
  }

  void add(item it, YAML::anchor_t anchor) {
    if (anchor != 0) {
      // An anchored node is charged like an expansion: building, we copy it;
      // and otherwise nested anchors could hold a large tree once per level.
      charge(it.nodes);
      anchors_[anchor] = build_ ? it : item{json(), it.nodes, it.is_scalar, it.text};
    }
    if (stack_.empty()) {
      if (build_)
        documents.push_back(std::move(it.value));
      return;
    }
    frame& top = stack_.back();
    top.nodes += it.nodes;
    if (!top.is_map) {
      if (build_)
        top.value.push_back(std::move(it.value));
      return;
    }
    if (!top.have_key) {
      add_key(top, std::move(it));
      return;
    }
    if (build_)
      top.value[top.key] = std::move(it.value);
    top.have_key = false;
  }

  void add_key(frame& top, item it) {
    if (it.is_scalar) {
      if (!top.keys.insert(it.text).second) {
        fail(errc::invalid_content,
             "mapping key " + quote(it.text) +
                 " appears twice in one mapping (YAML requires unique keys)",
             "keep only one");
      }
    } else if (build_) {
      fail(errc::schema_violation,
           "has a YAML mapping key that is itself a collection, which JSON has no "
           "form for",
           "use scalar keys so that the schema can check the document");
    }
    top.have_key = true;
    top.key = std::move(it.text);
  }

  const limits& lim_;
  bool build_;
  YAML::Mark mark_;
  std::vector<frame> stack_;
  std::map<YAML::anchor_t, item> anchors_;
  std::size_t expanded_ = 0;
  std::size_t documents_started_ = 0;
  int last_document_pos_ = 0;
};

status walk_yaml(std::string_view content, const limits& lim, bool build,
                 std::vector<json>* documents) {
  if (auto st = check_characters(content); !st)
    return st;
  try {
    std::istringstream in{std::string{content}};
    YAML::Parser parser{in};
    yaml_walker walker{lim, build};
    while (parser.HandleNextDocument(walker)) {
    }
    if (documents != nullptr)
      *documents = std::move(walker.documents);
    return {};
  } catch (const stop_parsing& stop) {
    return stop.why;
  } catch (const YAML::Exception& ex) {
    std::string where = ex.mark.is_null()
                            ? std::string{"at an unknown position"}
                            : line_col(static_cast<std::size_t>(ex.mark.line) + 1,
                                       static_cast<std::size_t>(ex.mark.column) + 1);
    return not_valid(content_format::yaml, where + ": " + library_reason(ex.msg));
  } catch (const std::exception& ex) {
    return not_valid(content_format::yaml, library_reason(ex.what()));
  } catch (...) {
    return not_valid(content_format::yaml, "the YAML parser failed");
  }
}

} // namespace

status check_yaml(std::string_view content, const limits& lim) {
  return walk_yaml(content, lim, false, nullptr);
}

status yaml_documents(std::string_view content, const limits& lim,
                      std::vector<json>& docs) {
  std::vector<json> found;
  if (auto st = walk_yaml(content, lim, true, &found); !st)
    return st;
  // What YAML loaders hand their callers for a stream without documents.
  if (found.empty())
    found.emplace_back(nullptr);
  for (auto& d : found)
    docs.push_back(std::move(d));
  return {};
}

} // namespace conflux::detail
