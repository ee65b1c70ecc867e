#include "protocol/validation.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <locale>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <toml.hpp>
#include <utility>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace conflux {

namespace {

using json = nlohmann::json;

// --- message helpers --------------------------------------------------------

// How much of a user-supplied string a message repeats. A 4 MiB key must not
// become a 4 MiB error message.
constexpr std::size_t quote_limit = 64;

std::string hex_byte(unsigned char c) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "\\x";
  out += digits[c >> 4];
  out += digits[c & 0xf];
  return out;
}

// Makes untrusted bytes safe to put in a message: printable ASCII stays, every
// other byte becomes \xNN, and long input is cut with "...". Messages reach
// terminals and JSON output, so they must never carry control bytes or
// invalid UTF-8.
std::string printable(std::string_view s, std::size_t max_chars) {
  std::string out;
  std::size_t shown = 0;
  for (char ch : s) {
    if (shown == max_chars) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f)
      out += ch;
    else
      out += hex_byte(c);
    ++shown;
  }
  return out;
}

// A third-party library's reason, made printable, without the full stop that
// would otherwise sit in front of our "; what to do".
std::string library_reason(std::string_view s) {
  std::string out = printable(s, 300);
  while (!out.empty() && (out.back() == '.' || out.back() == ' '))
    out.pop_back();
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  out += printable(s, quote_limit);
  out += '"';
  return out;
}

// Names one offending byte: 'x' for printable ASCII, byte 0xNN otherwise.
std::string describe_byte(char ch) {
  auto c = static_cast<unsigned char>(ch);
  if (c >= 0x20 && c < 0x7f)
    return std::string{"'"} + ch + "'";
  std::string hex = hex_byte(c);
  return "byte 0x" + hex.substr(2);
}

std::string num(std::size_t n) {
  return std::to_string(n);
}

// U+0007 style, for control characters found in UTF-8 text.
std::string describe_code_point(char32_t cp) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out = "U+";
  for (int shift = 12; shift >= 0; shift -= 4)
    out += digits[(cp >> shift) & 0xf];
  return out;
}

// --- UTF-8 ------------------------------------------------------------------

// Decodes one code point at s[i] and advances i. Strict: no overlong forms, no
// surrogates, nothing above U+10FFFF (RFC 3629).
bool next_code_point(std::string_view s, std::size_t& i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return false;
  }
  if (i + len > s.size())
    return false;
  for (std::size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xc0) != 0x80)
      return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return false;
  i += len;
  return true;
}

// The offset of the first byte that does not start a valid UTF-8 sequence.
std::optional<std::size_t> invalid_utf8_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t at = i;
    char32_t cp = 0;
    if (!next_code_point(s, i, cp))
      return at;
  }
  return std::nullopt;
}

// --- keys -------------------------------------------------------------------

bool is_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

std::string key_rule(const limits& lim) {
  return "a key is tenant/app/env/name (4 segments of 1-" + num(lim.max_segment_chars) +
         " characters from A-Z a-z 0-9 . _ -)";
}

std::vector<std::string_view> split_slash(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// Characters, length and the reserved names of one segment. `what` is "key"
// or "prefix"; `complete` is false for the partial last segment of a prefix.
status check_segment(std::string_view what, std::string_view whole,
                     std::string_view seg, std::size_t index, bool complete,
                     const limits& lim) {
  for (std::size_t i = 0; i < seg.size(); ++i) {
    if (!is_key_char(seg[i])) {
      return {errc::invalid_argument,
              std::string{what} + " " + quote(whole) + " has " + describe_byte(seg[i]) +
                  " in segment " + num(index + 1) +
                  "; use only A-Z a-z 0-9 . _ - in a segment; " + key_rule(lim)};
    }
  }
  if (seg.size() > lim.max_segment_chars) {
    return {errc::invalid_argument,
            "segment " + num(index + 1) + " of " + std::string{what} + " " +
                quote(whole) + " is " + num(seg.size()) +
                " characters long; shorten it to at most " +
                num(lim.max_segment_chars) + "; " + key_rule(lim)};
  }
  if (complete && (seg == "." || seg == "..")) {
    return {errc::invalid_argument,
            std::string{what} + " " + quote(whole) + " has segment " + num(index + 1) +
                " \"" + std::string{seg} +
                "\", which is reserved (it reads as a path step); rename the segment"};
  }
  return {};
}

// --- labels -----------------------------------------------------------------

bool is_label_key_char(char c) {
  return is_key_char(c) || c == '/';
}

std::string label_key_rule(const limits& lim) {
  return "label keys are 1-" + num(lim.max_label_key_chars) +
         " characters from A-Z a-z 0-9 . _ - /";
}

std::string describe_labels(const labels& l) {
  if (l.empty())
    return "{} (the default rule)";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first)
      out += ", ";
    first = false;
    out += printable(k, quote_limit);
    out += '=';
    out += printable(v, quote_limit);
    if (out.size() > 200) {
      out += ", ...";
      break;
    }
  }
  out += '}';
  return out;
}

// --- content helpers --------------------------------------------------------

const char* format_title(content_format f) {
  switch (f) {
  case content_format::json:
    return "JSON";
  case content_format::yaml:
    return "YAML";
  case content_format::toml:
    return "TOML";
  case content_format::properties:
    return "properties";
  case content_format::text:
    return "text";
  }
  return "unknown";
}

bool known_format(content_format f) {
  switch (f) {
  case content_format::json:
  case content_format::yaml:
  case content_format::toml:
  case content_format::properties:
  case content_format::text:
    return true;
  }
  return false;
}

status unknown_format(content_format f) {
  return {errc::invalid_argument,
          "unknown content format " + num(static_cast<std::size_t>(f)) +
              "; use one of json, yaml, toml, properties, text"};
}

constexpr const char* content_advice = "fix the document or choose --format text";

status not_valid(content_format f, const std::string& detail) {
  return {errc::invalid_content, std::string{"content is not valid "} +
                                     format_title(f) + ": " + detail + "; " +
                                     content_advice};
}

std::string line_col(std::size_t line, std::size_t col) {
  return "line " + num(line) + ", column " + num(col);
}

// Where a byte offset lies, 1-based (columns count bytes).
std::pair<std::size_t, std::size_t> position_of(std::string_view s,
                                                std::size_t offset) {
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, offset - line_start + 1};
}

// Thrown only inside this file, by our own parser callbacks, to stop a
// third-party parser early; always caught before returning.
struct stop_parsing {
  status why;
};

// --- JSON -------------------------------------------------------------------

// Finds the first '[' or '{' that opens a level deeper than max_depth, outside
// strings. Runs before nlohmann or valijson see the text, so that nothing
// recursive ever meets a hostile depth. Returns the byte offset, if any.
std::optional<std::size_t> json_too_deep(std::string_view s, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

std::string pointer_escape(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// A SAX consumer that builds nothing: it checks that object names are unique
// (RFC 8259 §4 leaves duplicates undefined, so two clients could read two
// different values) and keeps the parser's error text.
class json_checker {
public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(number_integer_t) { return value(); }
  bool number_unsigned(number_unsigned_t) { return value(); }
  bool number_float(number_float_t, const string_t&) { return value(); }
  bool string(string_t&) { return value(); }
  bool binary(binary_t&) { return value(); }
  bool start_object(std::size_t) { return open(true); }
  bool start_array(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(string_t& k) {
    auto& top = frames_.back();
    if (!top.names.insert(k).second) {
      problem_ = "name " + quote(k) + " appears twice in the object at " + path() +
                 " (duplicate names are ambiguous); keep only one";
      return false;
    }
    top.current = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) {
    problem_ = reason_of(ex.what());
    return false;
  }

  const std::string& problem() const { return problem_; }

  // "[json.exception.parse_error.101] parse error at line 3, column 5: x" ->
  // "line 3, column 5: x"
  static std::string reason_of(std::string_view what) {
    if (auto bracket = what.find("] "); bracket != std::string_view::npos)
      what.remove_prefix(bracket + 2);
    for (std::string_view p : {"parse error at ", "parse error: "}) {
      if (what.substr(0, p.size()) == p) {
        what.remove_prefix(p.size());
        break;
      }
    }
    return library_reason(what);
  }

private:
  struct frame {
    bool is_object = false;
    std::set<std::string> names;
    std::string current;
    std::size_t count = 0;
  };

  bool value() {
    if (!frames_.empty() && !frames_.back().is_object)
      ++frames_.back().count;
    return true;
  }
  bool open(bool is_object) {
    value();
    frames_.push_back(frame{is_object, {}, {}, 0});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }
  // JSON pointer of the innermost container: each outer frame names the
  // member or element that leads into the next one.
  std::string path() const {
    std::string out;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const auto& f = frames_[i];
      out += '/';
      out +=
          f.is_object ? pointer_escape(f.current) : num(f.count == 0 ? 0 : f.count - 1);
    }
    if (out.empty())
      return "the top level";
    return "\"" + printable(out, 200) + "\"";
  }

  std::vector<frame> frames_;
  std::string problem_;
};

struct json_failure {
  errc code;
  std::string detail;
};

// Checks (and with `out`, parses) a JSON text. The detail says what is wrong
// without naming the subject, so that content and schema share the code.
std::optional<json_failure> parse_json(std::string_view text, const limits& lim,
                                       json* out) {
  if (auto at = json_too_deep(text, lim.max_nesting_depth)) {
    auto [line, col] = position_of(text, *at);
    return json_failure{errc::too_large, "nests arrays and objects deeper than " +
                                             num(lim.max_nesting_depth) + " levels (" +
                                             line_col(line, col) +
                                             "); flatten the document"};
  }
  try {
    json_checker checker;
    if (!json::sax_parse(text.begin(), text.end(), &checker)) {
      return json_failure{errc::invalid_content, checker.problem()};
    }
    if (out != nullptr)
      *out = json::parse(text.begin(), text.end());
    return std::nullopt;
  } catch (const std::exception& ex) {
    return json_failure{errc::invalid_content, json_checker::reason_of(ex.what())};
  } catch (...) {
    return json_failure{errc::invalid_content, "the JSON parser failed"};
  }
}

// --- YAML -------------------------------------------------------------------

bool all_of_chars(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool is_dec(char c) {
  return c >= '0' && c <= '9';
}
bool is_oct(char c) {
  return c >= '0' && c <= '7';
}
bool is_hex(char c) {
  return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? from the YAML 1.2 core
// schema, written out because std::regex is slow and recurses per character.
bool is_core_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+'))
    ++i;
  std::size_t int_digits = 0;
  while (i < s.size() && is_dec(s[i]))
    ++i, ++int_digits;
  std::size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_dec(s[i]))
      ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0)
    return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+'))
      ++i;
    std::size_t exp_digits = 0;
    while (i < s.size() && is_dec(s[i]))
      ++i, ++exp_digits;
    if (exp_digits == 0)
      return false;
  }
  return i == s.size();
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
  auto integer = [&](std::string_view d, int base) -> std::optional<json> {
    std::uint64_t mag = 0;
    auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), mag, base);
    if (ec != std::errc{} || p != d.data() + d.size())
      return std::nullopt;
    if (!negative) {
      if (mag <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return json(static_cast<std::int64_t>(mag));
      return json(mag);
    }
    if (mag <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return json(-static_cast<std::int64_t>(mag));
    if (mag == static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1)
      return json(std::numeric_limits<std::int64_t>::min());
    return std::nullopt;
  };
  if (all_of_chars(digits, is_dec)) {
    if (auto j = integer(digits, 10))
      return *j;
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'o' &&
             all_of_chars(s.substr(2), is_oct)) {
    if (auto j = integer(s.substr(2), 8))
      return *j;
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'x' &&
             all_of_chars(s.substr(2), is_hex)) {
    if (auto j = integer(s.substr(2), 16))
      return *j;
  }
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

// Walks the events of a YAML stream. Always: limits the nesting depth (yaml-cpp
// recurses per level) and refuses duplicate mapping keys (YAML 1.2 §3.2.1.1
// requires unique keys; yaml-cpp would silently keep both). With `build`, also
// turns each document into a JSON tree for schema checks, copying aliases at
// most max_alias_expansion_nodes nodes in all.
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
    const anchored& a = it->second;
    if (build_)
      charge(a.value.nodes);
    add(item{build_ ? a.value.value : json(), a.value.nodes, a.value.is_scalar,
             a.value.text},
        0);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    mark_ = mark;
    json j;
    if (build_) {
      // "!" marks a quoted (or explicitly non-specific) scalar: always a
      // string. Explicit !!str too; everything else resolves like a plain
      // scalar.
      if (tag == "!" || tag == "tag:yaml.org,2002:str" ||
          tag == "tag:yaml.org,2002:binary" || tag == "tag:yaml.org,2002:timestamp")
        j = value;
      else
        j = resolve_plain_scalar(value);
    }
    add(item{std::move(j), 1, true, value}, anchor);
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
  struct anchored {
    item value;
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
           "expands through YAML aliases/anchors to more than " +
               num(lim_.max_alias_expansion_nodes) +
               " nodes when converted for the schema check",
           "use fewer aliases (alias bombs are refused)");
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
      // The stored copy is memory like an expansion, so it is charged too;
      // otherwise nested anchors could copy a large tree once per level.
      if (build_)
        charge(it.nodes);
      anchors_[anchor] =
          anchored{build_ ? it : item{json(), it.nodes, it.is_scalar, it.text}};
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
      return;
    }
    if (build_)
      top.value[top.key] = std::move(it.value);
    top.have_key = false;
  }

  const limits& lim_;
  bool build_;
  YAML::Mark mark_;
  std::vector<frame> stack_;
  std::map<YAML::anchor_t, anchored> anchors_;
  std::size_t expanded_ = 0;
  std::size_t documents_started_ = 0;
  int last_document_pos_ = 0;
};

status walk_yaml(std::string_view content, const limits& lim, bool build,
                 std::vector<json>* documents) {
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

// --- TOML -------------------------------------------------------------------

// toml11 recurses per nested array / inline table, and so do the destructor of
// its tables and our JSON conversion per dotted-key or table-header level.
// This scan estimates the deepest nesting (header levels + key levels +
// brackets) outside strings and comments, and returns where it first exceeds
// max_depth. It only has to be right for documents toml11 accepts; for broken
// ones toml11 reports the syntax error anyway.
std::optional<std::size_t> toml_too_deep(std::string_view s, std::size_t max_depth) {
  std::size_t header_levels = 0; // dotted parts of the last [table] header
  std::size_t key_levels = 0;    // dotted parts of the keys leading here
  bool line_start = true;
  bool in_key = true;
  bool in_header = false;
  // Each open value bracket with the key levels in force when it opened.
  std::vector<std::pair<char, std::size_t>> open;
  auto too_deep = [&] { return header_levels + key_levels + open.size() > max_depth; };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n') {
      line_start = true;
      if (open.empty()) {
        in_key = true;
        key_levels = 0;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r')
      continue;
    if (c == '#') {
      while (i + 1 < s.size() && s[i + 1] != '\n')
        ++i;
      continue;
    }
    std::string_view rest = s.substr(i);
    if (rest.substr(0, 3) == "\"\"\"" || rest.substr(0, 3) == "'''") {
      std::string_view q = rest.substr(0, 3);
      std::size_t end = i + 3;
      for (; end < s.size(); ++end) {
        if (q[0] == '"' && s[end] == '\\') {
          ++end;
          continue;
        }
        if (s.substr(end, 3) == q)
          break;
      }
      // Up to two more quotes may close the string ("""a""""").
      i = std::min(s.size(), end + 3) - 1;
      while (i + 1 < s.size() && s[i + 1] == q[0])
        ++i;
      line_start = false;
      continue;
    }
    if (c == '"' || c == '\'') {
      std::size_t end = i + 1;
      for (; end < s.size() && s[end] != c && s[end] != '\n'; ++end) {
        if (c == '"' && s[end] == '\\')
          ++end;
      }
      i = end < s.size() ? end : s.size() - 1;
      line_start = false;
      continue;
    }
    bool was_line_start = line_start;
    line_start = false;
    if (in_header) {
      if (c == '.')
        ++header_levels;
      if (c == ']') {
        in_header = false;
        if (i + 1 < s.size() && s[i + 1] == ']')
          ++i;
        if (too_deep())
          return i;
      }
      continue;
    }
    if (was_line_start && open.empty() && c == '[') {
      in_header = true;
      header_levels = 1;
      if (i + 1 < s.size() && s[i + 1] == '[')
        ++i;
      continue;
    }
    if (c == '[' || (c == '{' && !in_key)) {
      open.emplace_back(c, key_levels);
      if (too_deep())
        return i;
      if (c == '{')
        in_key = true;
    } else if ((c == ']' || c == '}') && !open.empty()) {
      key_levels = open.back().second;
      open.pop_back();
      in_key = false;
    } else if (c == ',' && !open.empty() && open.back().first == '{') {
      key_levels = open.back().second;
      in_key = true;
    } else if (in_key && c == '.') {
      ++key_levels;
    } else if (in_key && c == '=') {
      in_key = false;
      ++key_levels;
      if (too_deep())
        return i;
    }
  }
  return std::nullopt;
}

// "[error] toml::parse_array: value having invalid format..." (first line) ->
// "value having invalid format..."
std::string toml_reason(std::string_view what) {
  what = what.substr(0, what.find('\n'));
  if (what.substr(0, 8) == "[error] ")
    what.remove_prefix(8);
  if (what.substr(0, 6) == "toml::") {
    if (auto colon = what.find(": "); colon != std::string_view::npos)
      what.remove_prefix(colon + 2);
  }
  return library_reason(what);
}

status parse_toml(std::string_view content, const limits& lim, toml::value* out) {
  if (auto at = toml_too_deep(content, lim.max_nesting_depth)) {
    auto [line, col] = position_of(content, *at);
    return {errc::too_large, "content nests tables and arrays deeper than " +
                                 num(lim.max_nesting_depth) + " levels (" +
                                 line_col(line, col) + "); flatten the document"};
  }
  // TOML documents must be UTF-8 (TOML 1.0 §"Spec"), and toml11 3.7 trips
  // over invalid bytes (an assertion in debug builds, a length_error from a
  // negative size otherwise), so they never reach it.
  if (auto bad = invalid_utf8_at(content)) {
    auto [line, col] = position_of(content, *bad);
    return not_valid(
        content_format::toml,
        line_col(line, col) + ": " + describe_byte(content[*bad]) +
            " is not valid UTF-8, and TOML files must be UTF-8; save the file as "
            "UTF-8");
  }
  try {
    std::istringstream in{std::string{content}};
    toml::value v = toml::parse(in, "content");
    if (out != nullptr)
      *out = std::move(v);
    return {};
  } catch (const toml::exception& ex) {
    const auto& loc = ex.location();
    return not_valid(content_format::toml, line_col(loc.line(), loc.column()) + ": " +
                                               toml_reason(ex.what()));
  } catch (const std::exception& ex) {
    return not_valid(content_format::toml, toml_reason(ex.what()));
  } catch (...) {
    return not_valid(content_format::toml, "the TOML parser failed");
  }
}

template <class T>
std::string stream_text(const T& v) {
  // The classic locale keeps the text the same on every node whatever the
  // process's global locale is.
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os << v;
  return os.str();
}

// REQUIRES: depth of v within max_depth (checked by toml_too_deep).
json toml_to_json(const toml::value& v, std::size_t depth, std::size_t max_depth) {
  if (depth > max_depth)
    throw stop_parsing{{errc::too_large, "content nests too deeply"}};
  switch (v.type()) {
  case toml::value_t::boolean:
    return v.as_boolean();
  case toml::value_t::integer:
    return static_cast<std::int64_t>(v.as_integer());
  case toml::value_t::floating:
    return static_cast<double>(v.as_floating());
  case toml::value_t::string:
    return v.as_string().str;
  case toml::value_t::offset_datetime:
    return stream_text(v.as_offset_datetime());
  case toml::value_t::local_datetime:
    return stream_text(v.as_local_datetime());
  case toml::value_t::local_date:
    return stream_text(v.as_local_date());
  case toml::value_t::local_time:
    return stream_text(v.as_local_time());
  case toml::value_t::array: {
    json a = json::array();
    for (const auto& e : v.as_array())
      a.push_back(toml_to_json(e, depth + 1, max_depth));
    return a;
  }
  case toml::value_t::table: {
    // json objects are ordered maps: the unordered toml table comes out in
    // one order on every node.
    json o = json::object();
    for (const auto& [k, e] : v.as_table())
      o[k] = toml_to_json(e, depth + 1, max_depth);
    return o;
  }
  case toml::value_t::empty:
    return nullptr;
  }
  return nullptr;
}

// --- properties -------------------------------------------------------------

// The java.util.Properties text format (Properties.load(Reader)): natural lines
// end at \n, \r or \r\n; a line whose first non-blank character is # or ! is a
// comment; a line ending in an odd number of backslashes continues on the next
// one (whose leading blanks are dropped); a backslash escapes the next
// character, \t \n \r \f and \uXXXX have their usual meaning. Java accepts
// any other text, so the only errors are a \u without four hex digits (Java
// throws "Malformed \uxxxx encoding") and NUL, raw or as \u0000, which we
// refuse because C consumers would truncate at it. Bytes are not required to
// be UTF-8: ISO 8859-1 files are still common and Java reads both.
status check_properties(std::string_view s) {
  if (auto nul = s.find('\0'); nul != std::string_view::npos) {
    auto [line, col] = position_of(s, nul);
    return not_valid(content_format::properties,
                     line_col(line, col) + ": a NUL byte is not allowed; remove it");
  }
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\f'; };
  std::size_t i = 0;
  std::size_t line = 0;
  bool continuing = false;
  // The logical line being read, and where each of its natural lines starts
  // in it (escapes are decoded after joining, as Java does).
  std::string logical;
  std::vector<std::pair<std::size_t, std::size_t>> starts; // (offset, line)
  auto check_logical = [&]() -> status {
    auto line_of = [&](std::size_t off) {
      std::size_t l = starts.front().second;
      for (const auto& [o, ln] : starts)
        if (o <= off)
          l = ln;
      return l;
    };
    for (std::size_t k = 0; k < logical.size(); ++k) {
      if (logical[k] != '\\')
        continue;
      if (k + 1 < logical.size() && logical[k + 1] == 'u') {
        std::string_view hex = std::string_view{logical}.substr(k + 2, 4);
        if (hex.size() != 4 || !std::all_of(hex.begin(), hex.end(), is_hex)) {
          return not_valid(
              content_format::properties,
              "line " + num(line_of(k)) + ": malformed \\u escape " +
                  quote(std::string_view{logical}.substr(k, 6)) +
                  "; a \\u escape needs exactly 4 hex digits, like \\u00e9");
        }
        if (hex == "0000") {
          return not_valid(content_format::properties,
                           "line " + num(line_of(k)) +
                               ": the escape \\u0000 (NUL) is not allowed; remove it");
        }
        k += 5;
      } else {
        ++k; // any other escaped character stands for itself
      }
    }
    return {};
  };
  while (i < s.size()) {
    ++line;
    std::size_t end = i;
    while (end < s.size() && s[end] != '\n' && s[end] != '\r')
      ++end;
    std::string_view natural = s.substr(i, end - i);
    i = end;
    if (i < s.size()) {
      bool crlf = s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n';
      i += crlf ? 2 : 1;
    }

    std::size_t lead = 0;
    while (lead < natural.size() && blank(natural[lead]))
      ++lead;
    natural.remove_prefix(lead);
    if (!continuing) {
      if (natural.empty() || natural[0] == '#' || natural[0] == '!')
        continue;
      logical.clear();
      starts.clear();
    }
    std::size_t backslashes = 0;
    while (backslashes < natural.size() &&
           natural[natural.size() - 1 - backslashes] == '\\')
      ++backslashes;
    continuing = backslashes % 2 == 1;
    if (continuing)
      natural.remove_suffix(1);
    starts.emplace_back(logical.size(), line);
    logical.append(natural);
    if (!continuing) {
      if (auto st = check_logical(); !st)
        return st;
    }
  }
  // A continuation at the very end joins nothing; Java keeps what it read.
  if (continuing && !starts.empty()) {
    if (auto st = check_logical(); !st)
      return st;
  }
  return {};
}

// --- JSON Schema ------------------------------------------------------------

constexpr const char* schema_advice = "fix the schema document (JSON Schema draft 7)";

struct compiled_schema {
  json document;
  valijson::Schema schema;
  /// The longest chain of subschemas that apply to one and the same value.
  std::size_t same_value_chain = 0;
  /// The schema uses a "format" valijson checks with std::regex, whose
  /// matcher recurses once per character: strings must stay short.
  bool regex_format = false;
};

// The longest string a regex-checked "format" may meet. std::regex needs a few
// hundred bytes of stack per character; 8 KiB of text stays far below 1 MiB.
constexpr std::size_t max_format_checked_chars = 8192;

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

  // Builds the graph; fails on a $ref or $id we do not follow.
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

  // A loop of same-value edges: the pointer of one schema on it.
  std::optional<std::string> same_value_loop(std::size_t& longest_chain) const {
    std::size_t n = nodes_.size();
    std::vector<std::size_t> indegree(n, 0);
    std::vector<std::vector<std::size_t>> preds(n);
    for (std::size_t v = 0; v < n; ++v) {
      for (const auto& e : edges_[v]) {
        if (!e.same_value)
          continue;
        ++indegree[e.to];
        preds[e.to].push_back(v);
      }
    }
    // Kahn's algorithm: what is left over lies on or behind a loop. It also
    // yields the longest chain (in edges) of the loop-free graph.
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
    // Every left-over node has a left-over predecessor; walking back n steps
    // from one ends on the loop itself.
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
    return names_[v];
  }

  // An upper bound of valijson's compile recursion: the longest path through
  // the graph with each strongly connected component (a recursive part of
  // the schema) counted at its full size.
  std::size_t longest_chain() const {
    std::size_t n = nodes_.size();
    // Iterative Tarjan: our own code must not recurse on hostile input either.
    constexpr std::size_t unvisited = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> index(n, unvisited), low(n, 0), component(n, unvisited);
    std::vector<bool> on_stack(n, false);
    std::vector<std::size_t> stack;
    std::vector<std::size_t> size;
    std::vector<std::pair<std::size_t, std::size_t>> calls; // (node, next edge)
    std::size_t counter = 0;
    for (std::size_t s = 0; s < n; ++s) {
      if (index[s] != unvisited)
        continue;
      index[s] = low[s] = counter++;
      stack.push_back(s);
      on_stack[s] = true;
      calls.emplace_back(s, 0);
      while (!calls.empty()) {
        std::size_t v = calls.back().first;
        std::size_t next = calls.back().second;
        if (next < edges_[v].size()) {
          ++calls.back().second;
          std::size_t w = edges_[v][next].to;
          if (index[w] == unvisited) {
            index[w] = low[w] = counter++;
            stack.push_back(w);
            on_stack[w] = true;
            calls.emplace_back(w, 0);
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], index[w]);
          }
          continue;
        }
        if (low[v] == index[v]) {
          std::size_t c = size.size();
          size.push_back(0);
          std::size_t w = 0;
          do {
            w = stack.back();
            stack.pop_back();
            on_stack[w] = false;
            component[w] = c;
            ++size[c];
          } while (w != v);
        }
        calls.pop_back();
        if (!calls.empty()) {
          std::size_t u = calls.back().first;
          low[u] = std::min(low[u], low[v]);
        }
      }
    }
    // Tarjan numbers components so that every edge between two of them goes
    // to a lower number: one pass in increasing order computes the paths.
    std::vector<std::vector<std::size_t>> members(size.size());
    for (std::size_t v = 0; v < n; ++v)
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

  static error refuse(const std::string& what) {
    return {errc::invalid_argument, "schema " + what + "; " + schema_advice};
  }

  status walk(std::size_t v) {
    const json& node = *nodes_[v];
    if (!node.is_object())
      return {};
    // Copy: node_id() may grow names_ while we use the name.
    const std::string base = names_[v];
    auto child = [&](std::string_view keyword) {
      return base + "/" + pointer_escape(keyword);
    };
    for (const auto& [keyword, value] : node.items()) {
      const std::string& k = keyword;
      if ((k == "$ref" || k == "$id" || k == "id") && value.is_string() &&
          value.get_ref<const std::string&>().size() > max_reference_chars) {
        // valijson matches these against std::regex, which recurses once per
        // character.
        return refuse("has a \"" + k + "\" of " +
                      num(value.get_ref<const std::string&>().size()) +
                      " characters at #" + printable(base, 200) + "; the limit is " +
                      num(max_reference_chars) + ", so shorten it");
      }
      if ((k == "pattern" && value.is_string()) ||
          (k == "patternProperties" && value.is_object())) {
        // valijson 1.0 hands patterns to std::regex, whose backtracking
        // matcher recurses per character (a long string overflows the stack)
        // and can take exponential time ("(a+)+b"). One such schema would
        // stop every node on every replay of the log, so none is accepted.
        return refuse(
            "uses \"" + k + "\" at #" + printable(base, 200) +
            "; regular expressions are not accepted in schemas yet, because the "
            "schema checker's regex engine can crash or hang on hostile input; use "
            "enum, const, minLength/maxLength or format instead");
      }
      if (k == "format" && value.is_string()) {
        const auto& f = value.get_ref<const std::string&>();
        if (f == "date" || f == "time" || f == "date-time")
          regex_format_ = true;
      }
      if (k == "$ref" && value.is_string()) {
        auto target = resolve(value.get_ref<const std::string&>(), base);
        if (!target)
          return target.err();
        edges_[v].push_back(edge{*target, true});
      } else if ((k == "$id" || k == "id") && !base.empty() && value.is_string()) {
        return refuse(
            "sets \"" + k + "\" at #" + printable(base, 200) +
            "; an $id changes what $refs below it mean, so only the top level may "
            "set one");
      } else if (k == "not" || k == "if" || k == "then" || k == "else") {
        link(v, child(k), value, true);
      } else if (k == "allOf" || k == "anyOf" || k == "oneOf") {
        if (!value.is_array())
          continue;
        for (std::size_t i = 0; i < value.size(); ++i)
          link(v, child(k) + "/" + num(i), value[i], true);
      } else if (k == "dependencies" || k == "properties" || k == "patternProperties") {
        if (!value.is_object())
          continue;
        // A dependencies schema applies to the object itself; the others to
        // its members.
        bool same_value = k == "dependencies";
        for (const auto& [name, sub] : value.items())
          link(v, child(k) + "/" + pointer_escape(name), sub, same_value);
      } else if (k == "items" && value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i)
          link(v, child(k) + "/" + num(i), value[i], false);
      } else if (k == "items" || k == "additionalItems" ||
                 k == "additionalProperties" || k == "contains" ||
                 k == "propertyNames") {
        link(v, child(k), value, false);
      }
      // "definitions" are only reached through $refs.
    }
    return {};
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
    std::string pointer;
    for (std::size_t i = 1; i < ref.size(); ++i) {
      if (ref[i] == '%' && i + 2 < ref.size() && is_hex(ref[i + 1]) &&
          is_hex(ref[i + 2])) {
        auto hex_value = [](char c) {
          return is_dec(c) ? c - '0' : (c >= 'a' ? c - 'a' : c - 'A') + 10;
        };
        pointer +=
            static_cast<char>(hex_value(ref[i + 1]) * 16 + hex_value(ref[i + 2]));
        i += 2;
      } else {
        pointer += ref[i];
      }
    }
    try {
      json::json_pointer jp{pointer};
      if (!root_.contains(jp)) {
        return refuse("has \"$ref\": " + shown +
                      ", which points at nothing; point it at an "
                      "existing subschema");
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

  static constexpr std::size_t max_reference_chars = 1024;

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

// Parses and compiles a schema; a failure is invalid_argument because the
// schema is an argument of the command, not the content.
status compile_schema(std::string_view schema_json, const limits& lim,
                      compiled_schema& out) {
  if (auto failure = parse_json(schema_json, lim, &out.document)) {
    if (failure->code == errc::too_large)
      return {errc::too_large, "schema " + failure->detail};
    return {errc::invalid_argument,
            "schema is not valid JSON: " + failure->detail + "; " + schema_advice};
  }
  if (!out.document.is_object() && !out.document.is_boolean()) {
    return {errc::invalid_argument,
            std::string{"schema is a JSON "} + out.document.type_name() +
                ", not a JSON Schema; a schema is a JSON object such as "
                "{\"type\": \"object\"}; " +
                schema_advice};
  }
  try {
    schema_graph graph{out.document};
    if (auto st = graph.build(); !st)
      return st;
    if (auto loop = graph.same_value_loop(out.same_value_chain)) {
      return {
          errc::invalid_argument,
          "schema loops back to itself at #" +
              (loop->empty() ? std::string{" (the top level)"}
                             : printable(*loop, 200)) +
              " without descending into the document (through $ref, allOf, anyOf, "
              "oneOf, "
              "not, if/then/else or dependencies), so a check would never end; let "
              "each "
              "loop pass through properties, items or another keyword that descends"};
    }
    out.regex_format = graph.regex_format();
    if (std::size_t chain = graph.longest_chain(); chain > lim.max_schema_chain) {
      return {errc::too_large,
              "schema chains " + num(chain) +
                  " subschemas once its $refs are followed; the limit is " +
                  num(lim.max_schema_chain) +
                  "; flatten the schema or shorten its chains of $refs"};
    }
    valijson::SchemaParser parser{valijson::SchemaParser::kDraft7};
    valijson::adapters::NlohmannJsonAdapter adapter{out.document};
    // No fetch function: a remote $ref fails instead of touching the network.
    parser.populateSchema(adapter, out.schema);
    return {};
  } catch (const std::exception& ex) {
    return {errc::invalid_argument,
            "schema is not a valid JSON Schema: " + library_reason(ex.what()) + "; " +
                schema_advice};
  } catch (...) {
    return {errc::invalid_argument,
            std::string{"schema is not a valid JSON Schema; "} + schema_advice};
  }
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

status check_tree(const compiled_schema& schema, const json& doc,
                  const std::string& label, const limits& lim) {
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
                  "strings may "
                  "be at most " +
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

} // namespace

// --- public API ---------------------------------------------------------------

status validate_key(std::string_view key) {
  return validate_key(key, limits{});
}

status validate_key(std::string_view key, const limits& lim) {
  if (key.empty())
    return {errc::invalid_argument, "key is empty; " + key_rule(lim)};
  if (key.front() == '/') {
    return {errc::invalid_argument, "key " + quote(key) +
                                        " starts with '/'; remove the leading slash; " +
                                        key_rule(lim)};
  }
  if (key.back() == '/') {
    return {errc::invalid_argument, "key " + quote(key) +
                                        " ends with '/'; remove the trailing slash; " +
                                        key_rule(lim)};
  }
  auto parts = split_slash(key);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) {
      return {errc::invalid_argument, "key " + quote(key) + " has an empty segment (" +
                                          num(i + 1) + ", between two '/'); " +
                                          key_rule(lim)};
    }
  }
  if (parts.size() != 4) {
    return {errc::invalid_argument, "key " + quote(key) + " has " + num(parts.size()) +
                                        " segments; " + key_rule(lim)};
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (auto st = check_segment("key", key, parts[i], i, true, lim); !st)
      return st;
  }
  if (key.size() > lim.max_key_bytes) {
    return {errc::too_large, "key " + quote(key) + " is " + num(key.size()) +
                               " bytes; a whole key may have at most " +
                               num(lim.max_key_bytes) + " bytes: shorten a segment"};
  }
  return {};
}

status validate_key_prefix(std::string_view prefix) {
  return validate_key_prefix(prefix, limits{});
}

status validate_key_prefix(std::string_view prefix, const limits& lim) {
  if (prefix.empty())
    return {};
  if (prefix.front() == '/') {
    return {errc::invalid_argument,
            "prefix " + quote(prefix) +
                " starts with '/'; remove the leading slash (a prefix "
                "is the start of tenant/app/env/name)"};
  }
  auto parts = split_slash(prefix);
  bool trailing_slash = prefix.back() == '/';
  if (trailing_slash)
    parts.pop_back();
  if (parts.size() > 4 || (trailing_slash && parts.size() == 4)) {
    return {errc::invalid_argument,
            "prefix " + quote(prefix) +
                " goes past the 4th segment; a prefix is the start of a key, and " +
                key_rule(lim) + "; drop what follows the name"};
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    bool complete = trailing_slash || i + 1 < parts.size();
    if (parts[i].empty()) {
      return {errc::invalid_argument, "prefix " + quote(prefix) +
                                          " has an empty segment (" + num(i + 1) +
                                          ", between two '/'); " + key_rule(lim)};
    }
    if (auto st = check_segment("prefix", prefix, parts[i], i, complete, lim); !st)
      return st;
  }
  return {};
}

status validate_labels(const labels& l, const limits& lim) {
  if (l.size() > lim.max_labels) {
    return {errc::too_large, num(l.size()) + " labels given; the limit is " +
                                 num(lim.max_labels) +
                                 " labels; drop the ones you do not match on"};
  }
  for (const auto& [k, v] : l) {
    if (k.empty()) {
      return {errc::invalid_argument, "a label key is empty; " + label_key_rule(lim)};
    }
    for (std::size_t i = 0; i < k.size(); ++i) {
      if (!is_label_key_char(k[i])) {
        return {errc::invalid_argument, "label key " + quote(k) + " has " +
                                            describe_byte(k[i]) + " at position " +
                                            num(i + 1) + "; " + label_key_rule(lim)};
      }
    }
    if (k.size() > lim.max_label_key_chars) {
      return {errc::too_large, "label key " + quote(k) + " is " + num(k.size()) +
                                   " characters long; shorten it to at most " +
                                   num(lim.max_label_key_chars)};
    }
    std::size_t chars = 0;
    for (std::size_t i = 0; i < v.size(); ++chars) {
      std::size_t at = i;
      char32_t cp = 0;
      if (!next_code_point(v, i, cp)) {
        return {errc::invalid_argument,
                "value of label " + quote(k) + " is not valid UTF-8 (at byte " +
                    num(at + 1) + "); send label values as UTF-8 text"};
      }
      if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
        return {errc::invalid_argument,
                "value of label " + quote(k) + " has control character " +
                    describe_code_point(cp) + " at byte " + num(at + 1) +
                    "; label values are printable text, remove it"};
      }
    }
    if (chars > lim.max_label_value_chars) {
      return {errc::too_large, "value of label " + quote(k) + " is " + num(chars) +
                                   " characters long; shorten it to at most " +
                                   num(lim.max_label_value_chars)};
    }
  }
  return {};
}

status validate_rules(const std::vector<release_rule>& rules, const limits& lim) {
  return validate_rules(rules, lim, rule_version_zero::invalid);
}

status validate_rules(const std::vector<release_rule>& rules, const limits& lim,
                      rule_version_zero zero) {
  if (rules.size() > lim.max_rules) {
    return {errc::too_large, num(rules.size()) + " release rules given; the limit is " +
                                 num(lim.max_rules) +
                                 " rules per config; merge rules that share labels"};
  }
  // (priority, labels) -> the first rule (0-based) that has them.
  std::map<std::pair<std::int32_t, labels>, std::size_t> seen;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const release_rule& r = rules[i];
    std::string name = "rule " + num(i + 1) + " " + describe_labels(r.labels);
    if (auto st = validate_labels(r.labels, lim); !st) {
      return {st.code(), name + ": " + st.err().message};
    }
    if (r.version == 0 && zero == rule_version_zero::invalid) {
      return {errc::invalid_argument,
              name +
                  " has version id 0; version ids start at 1, so point the rule at an "
                  "existing version (see `conflux version list KEY`)"};
    }
    auto [it, inserted] = seen.emplace(std::make_pair(r.priority, r.labels), i);
    if (!inserted) {
      return {errc::invalid_argument,
              "rules " + num(it->second + 1) + " and " + num(i + 1) +
                  " both have labels " + describe_labels(r.labels) + " and priority " +
                  std::to_string(r.priority) + ", so rule " + num(i + 1) +
                  " could never apply; remove one or give them different labels or "
                  "priorities"};
    }
  }
  return {};
}

status validate_text_field(std::string_view what, std::string_view value,
                           std::size_t max) {
  std::string field = printable(what, quote_limit);
  if (value.size() > max) {
    return {errc::too_large, field + " is " + num(value.size()) +
                                 " bytes; the limit is " + num(max) +
                                 " bytes; shorten it"};
  }
  for (std::size_t i = 0; i < value.size();) {
    std::size_t at = i;
    char32_t cp = 0;
    if (!next_code_point(value, i, cp)) {
      return {errc::invalid_argument, field + " is not valid UTF-8 (at byte " +
                                          num(at + 1) + "); send it as UTF-8 text"};
    }
    bool allowed_control = cp == '\t' || cp == '\n' || cp == '\r';
    if ((cp < 0x20 && !allowed_control) || (cp >= 0x7f && cp <= 0x9f)) {
      return {errc::invalid_argument,
              field + " has control character " + describe_code_point(cp) +
                  " at byte " + num(at + 1) +
                  "; remove it (tab, line feed and carriage return are allowed)"};
    }
  }
  return {};
}

status validate_content(content_format f, std::string_view content, const limits& lim) {
  if (!known_format(f))
    return unknown_format(f);
  if (content.size() > lim.max_content_bytes) {
    return {errc::too_large, "content is " + num(content.size()) +
                                 " bytes; the limit is " + num(lim.max_content_bytes) +
                                 " bytes; split it into smaller configs or raise "
                                 "max_content_bytes on every node"};
  }
  switch (f) {
  case content_format::json:
    if (auto failure = parse_json(content, lim, nullptr)) {
      if (failure->code == errc::too_large)
        return {errc::too_large, "content " + failure->detail};
      return not_valid(f, failure->detail);
    }
    return {};
  case content_format::yaml:
    return walk_yaml(content, lim, false, nullptr);
  case content_format::toml:
    return parse_toml(content, lim, nullptr);
  case content_format::properties:
    return check_properties(content);
  case content_format::text:
    // Text is free: Conflux never interprets it, so any bytes are accepted
    // (not even UTF-8 is required); only the size limit applies.
    return {};
  }
  return unknown_format(f);
}

status validate_schema_document(std::string_view schema_json, const limits& lim) {
  if (schema_json.size() > lim.max_schema_bytes) {
    return {errc::too_large, "schema is " + num(schema_json.size()) +
                                 " bytes; the limit is " + num(lim.max_schema_bytes) +
                                 " bytes; simplify the schema or split the config"};
  }
  compiled_schema compiled;
  return compile_schema(schema_json, lim, compiled);
}

status validate_against_schema(std::string_view schema_json, content_format f,
                               std::string_view content) {
  return validate_against_schema(schema_json, f, content, limits{});
}

status validate_against_schema(std::string_view schema_json, content_format f,
                               std::string_view content, const limits& lim) {
  if (!known_format(f))
    return unknown_format(f);
  if (f == content_format::properties || f == content_format::text) {
    return {errc::invalid_argument,
            std::string{"schemas apply to json, yaml and toml, not to "} +
                format_title(f) +
                " content; drop the schema or store the config as json, yaml or toml"};
  }
  compiled_schema compiled;
  if (auto st = compile_schema(schema_json, lim, compiled); !st)
    return st;
  try {
    switch (f) {
    case content_format::json: {
      json doc;
      if (auto failure = parse_json(content, lim, &doc)) {
        if (failure->code == errc::too_large)
          return {errc::too_large, "content " + failure->detail};
        return not_valid(f, failure->detail);
      }
      return check_tree(compiled, doc, "", lim);
    }
    case content_format::yaml: {
      std::vector<json> docs;
      if (auto st = walk_yaml(content, lim, true, &docs); !st)
        return st;
      for (std::size_t i = 0; i < docs.size(); ++i) {
        std::string label =
            docs.size() > 1 ? " (YAML document " + num(i + 1) + ")" : "";
        if (auto st = check_tree(compiled, docs[i], label, lim); !st)
          return st;
      }
      return {};
    }
    case content_format::toml: {
      toml::value v;
      if (auto st = parse_toml(content, lim, &v); !st)
        return st;
      return check_tree(compiled, toml_to_json(v, 0, lim.max_nesting_depth), "", lim);
    }
    case content_format::properties:
    case content_format::text:
      break;
    }
  } catch (const stop_parsing& stop) {
    return stop.why;
  } catch (const std::exception& ex) {
    return {errc::schema_violation,
            "content could not be checked against the schema: " +
                library_reason(ex.what()) + "; change the content or the schema"};
  } catch (...) {
    return {errc::schema_violation, "content could not be checked against the schema; "
                                    "change the content or the schema"};
  }
  return unknown_format(f);
}

} // namespace conflux
