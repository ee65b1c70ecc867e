#include "protocol/validation_formats.hpp"
#include "protocol/validation_support.hpp"

#include <exception>
#include <set>

namespace conflux::detail {

namespace {

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

// "[json.exception.parse_error.101] parse error at line 3, column 5: x" ->
// "line 3, column 5: x"
std::string reason_of(std::string_view what) {
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

status content_failure(const json_failure& failure) {
  if (failure.code == errc::too_large)
    return {errc::too_large, "content " + failure.detail};
  return not_valid(content_format::json, failure.detail);
}

} // namespace

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
    if (!json::sax_parse(text.begin(), text.end(), &checker))
      return json_failure{errc::invalid_content, checker.problem()};
    if (out != nullptr)
      *out = json::parse(text.begin(), text.end());
    return std::nullopt;
  } catch (const std::exception& ex) {
    return json_failure{errc::invalid_content, reason_of(ex.what())};
  } catch (...) {
    return json_failure{errc::invalid_content, "the JSON parser failed"};
  }
}

status check_json(std::string_view content, const limits& lim) {
  if (auto failure = parse_json(content, lim, nullptr))
    return content_failure(*failure);
  return {};
}

status json_documents(std::string_view content, const limits& lim,
                      std::vector<json>& docs) {
  json doc;
  if (auto failure = parse_json(content, lim, &doc))
    return content_failure(*failure);
  docs.push_back(std::move(doc));
  return {};
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

} // namespace conflux::detail
