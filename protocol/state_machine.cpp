#include "protocol/state_machine.hpp"

#include <algorithm>
#include <set>

#include "protocol/audit.hpp"
#include "protocol/codec.hpp"
#include "protocol/resolve.hpp"
#include "protocol/sha256.hpp"
#include "protocol/text.hpp"

namespace conflux {
namespace {

// Propagates a failed status/expected out of the enclosing function.
#define CONFLUX_TRY(expr)                                                                \
  do {                                                                                   \
    if (auto conflux_st_ = (expr); !conflux_st_.ok())                                    \
      return std::move(conflux_st_).err();                                               \
  } while (false)

// Binds `var` to the config under `key` after the CAS check inside an
// applier handler: a state failure is returned, a missing config or a
// revision mismatch refuses the command.
#define CONFLUX_EXISTING_CONFIG(var, key, rev)                                         \
  auto var##_found_ = existing_config(key, rev);                                       \
  if (!var##_found_.ok())                                                              \
    return std::move(var##_found_).err();                                              \
  if (!var##_found_->ok())                                                             \
    return refused(var##_found_->err());                                               \
  auto& var = var##_found_->value()

// A key in a message, whole (keys that reach the state are at most
// max_key_bytes), with control characters and invalid bytes escaped
// (protocol/text.hpp).
std::string quote_key(std::string_view key) {
  return quote(key, limits{}.max_key_bytes);
}

error no_such_config(std::string_view key) {
  return {errc::not_found,
          "config " + quote_key(key) + " does not exist; check the key or create it first"};
}

error no_such_version(std::string_view key, version_id id) {
  return {errc::not_found, "config " + quote_key(key) + " has no version " +
                             std::to_string(id) + "; list its versions to pick one"};
}

// A command that is refused: the state is untouched.
apply_result refused(error e) {
  apply_result r;
  r.err = std::move(e);
  return r;
}

// The config under key (with its id), or nullopt if there is none.
expected<std::optional<config>> lookup(state_reader& st, std::string_view key) {
  auto id = st.find_config_id(key);
  if (!id.ok())
    return std::move(id).err();
  if (!*id)
    return std::optional<config>{};
  auto c = st.find_config(**id);
  if (!c.ok())
    return std::move(c).err();
  if (!*c)
    return error{errc::corrupted, "key index points config " + quote_key(key) +
                                    " at id " + std::to_string(**id) +
                                    ", which does not exist"};
  return c;
}

status check_revision(const config& c, const std::optional<revision_t>& expected_rev) {
  if (expected_rev && *expected_rev != c.mod_revision)
    return status{errc::revision_mismatch,
                  "config " + quote_key(c.key) + " is at revision " +
                    std::to_string(c.mod_revision) + ", not " +
                    std::to_string(*expected_rev) +
                    "; someone changed it since you read it: read it again and retry"};
  return {};
}

// Everything a new version's content must satisfy.
status check_content(const config& c, std::string_view content, const limits& lim) {
  if (auto s = validate_content(c.format, content, lim); !s.ok())
    return s;
  if (c.schema)
    return validate_against_schema(*c.schema, c.format, content, lim);
  return {};
}

status check_text_fields(const std::string& description, const std::string& creator,
                         const limits& lim) {
  if (auto s = validate_text_field("description", description, lim.max_description_bytes);
      !s.ok())
    return s;
  return validate_text_field("creator", creator, lim.max_description_bytes);
}

// Deleting a config that release rules still serve takes its content away
// from every client that reads or watches it: refused unless forced.
error still_released(const config& c) {
  constexpr std::size_t shown = 3;
  std::string rules;
  for (std::size_t i = 0; i < c.releases.size() && i < shown; ++i) {
    if (i > 0)
      rules += ", ";
    rules += "#" + std::to_string(i + 1) + " " + describe_labels(c.releases[i].labels) +
             " -> version " + std::to_string(c.releases[i].version);
  }
  if (c.releases.size() > shown)
    rules += ", ...";
  std::size_t n = c.releases.size();
  return {errc::version_in_use,
          "config " + quote_key(c.key) + " is released by " + std::to_string(n) +
            (n == 1 ? " release rule (" : " release rules (") + rules +
            "), so clients read and watch it; clear its release rules first "
            "(release set with no rules) or pass --force to delete it with every "
            "version anyway"};
}

// Every rule must point at an existing version of c (or at `fresh`, the
// version the same command creates).
expected<std::optional<error>> check_rule_targets(state_reader& st, const config& c,
                                                  const std::vector<release_rule>& rules,
                                                  version_id fresh) {
  std::set<version_id> seen;
  for (auto& r : rules) {
    if (r.version == fresh || !seen.insert(r.version).second)
      continue;
    auto v = st.find_version(c.id, r.version);
    if (!v.ok())
      return std::move(v).err();
    if (!*v)
      return std::optional<error>{error{
        errc::not_found, "a release rule points at version " + std::to_string(r.version) +
                           " of " + quote_key(c.key) +
                           ", which does not exist; list its versions to pick one"}};
  }
  return std::optional<error>{};
}

version make_version(const config& c, version_id id, std::string content,
                     std::string description, std::string creator, std::uint64_t index,
                     std::int64_t ts) {
  version v;
  v.config = c.id;
  v.id = id;
  v.content_hash = sha256_hex(content);
  v.content = std::move(content);
  v.format = c.format;
  v.description = std::move(description);
  v.creator = std::move(creator);
  v.created_at_ms = ts;
  v.revision = index;
  return v;
}

// Applies one decoded command. Each branch checks everything first and writes
// only when the command is certain to succeed.
class applier {
public:
  applier(state_writer& st, const limits& lim, std::uint64_t index, std::int64_t ts,
          session_id env_session, const std::string& caller)
      : st_(st), lim_(lim), index_(index), ts_(ts), env_session_(env_session),
        caller_(caller) {}

  expected<apply_result> operator()(const create_config& cmd) {
    if (auto s = validate_key(cmd.key, lim_); !s.ok())
      return refused(s.err());
    if (auto s = check_text_fields(cmd.description, cmd.creator, lim_); !s.ok())
      return refused(s.err());
    if (cmd.schema) {
      if (auto s = validate_schema_document(*cmd.schema, lim_); !s.ok())
        return refused(s.err());
    }
    auto existing = lookup(st_, cmd.key);
    if (!existing.ok())
      return std::move(existing).err();
    if (*existing)
      return refused({errc::already_exists,
                      "config " + quote_key(cmd.key) +
                        " already exists; add a version to it instead"});
    config c;
    c.key = cmd.key;
    c.format = cmd.format;
    c.schema = cmd.schema;
    if (auto s = check_content(c, cmd.content, lim_); !s.ok())
      return refused(s.err());
    auto last_id = st_.get_counter(counter::last_config_id);
    if (!last_id.ok())
      return std::move(last_id).err();
    c.id = *last_id + 1;
    c.latest_version = 1;
    c.create_revision = c.mod_revision = index_;
    c.created_at_ms = c.updated_at_ms = ts_;
    auto v = make_version(c, 1, cmd.content, cmd.description, cmd.creator, index_, ts_);
    CONFLUX_TRY(st_.set_counter(counter::last_config_id, c.id));
    CONFLUX_TRY(st_.put_config(c));
    CONFLUX_TRY(st_.put_key(c.key, c.id));
    CONFLUX_TRY(st_.put_version(v));
    return done(c.id, 1);
  }

  expected<apply_result> operator()(const create_version& cmd) {
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    auto v = next_version(cfg, cmd.content, cmd.description, cmd.creator);
    if (!v.ok())
      return refused(v.err());
    auto id = v->id;
    touch(cfg);
    cfg.latest_version = id;
    CONFLUX_TRY(st_.put_version(*v));
    CONFLUX_TRY(st_.put_config(cfg));
    return done(cfg.id, id);
  }

  expected<apply_result> operator()(const update_release_rules& cmd) {
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    if (auto s = validate_rules(cmd.rules, lim_); !s.ok())
      return refused(s.err());
    if (auto s = validate_text_field("comment", cmd.comment, lim_.max_description_bytes);
        !s.ok())
      return refused(s.err());
    auto bad = check_rule_targets(st_, cfg, cmd.rules, 0);
    if (!bad.ok())
      return std::move(bad).err();
    if (*bad)
      return refused(**bad);
    touch(cfg);
    cfg.releases = cmd.rules;
    CONFLUX_TRY(st_.put_config(cfg));
    return done(cfg.id, 0);
  }

  expected<apply_result> operator()(const publish& cmd) {
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    auto v = next_version(cfg, cmd.content, cmd.description, cmd.creator);
    if (!v.ok())
      return refused(v.err());
    auto id = v->id;
    auto rules = cmd.rules;
    for (auto& r : rules)
      if (r.version == 0)
        r.version = id;
    if (auto s = validate_rules(rules, lim_); !s.ok())
      return refused(s.err());
    auto bad = check_rule_targets(st_, cfg, rules, id);
    if (!bad.ok())
      return std::move(bad).err();
    if (*bad)
      return refused(**bad);
    touch(cfg);
    cfg.latest_version = id;
    cfg.releases = std::move(rules);
    CONFLUX_TRY(st_.put_version(*v));
    CONFLUX_TRY(st_.put_config(cfg));
    return done(cfg.id, id);
  }

  expected<apply_result> operator()(const delete_config& cmd) {
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    if (!cmd.force && !cfg.releases.empty())
      return refused(still_released(cfg));
    auto versions = st_.list_versions(cfg.id);
    if (!versions.ok())
      return std::move(versions).err();
    for (auto& v : *versions)
      CONFLUX_TRY(st_.erase_version(cfg.id, v.id));
    CONFLUX_TRY(st_.erase_key(cfg.key));
    CONFLUX_TRY(st_.erase_config(cfg.id));
    return done(cfg.id, 0);
  }

  expected<apply_result> operator()(const delete_versions& cmd) {
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    if (cmd.versions.empty())
      return refused({errc::invalid_argument, "no version ids given; name the versions "
                                              "to delete"});
    std::set<version_id> ids{cmd.versions.begin(), cmd.versions.end()};
    for (auto id : ids) {
      for (std::size_t i = 0; i < cfg.releases.size(); ++i)
        if (cfg.releases[i].version == id)
          return refused({errc::version_in_use,
                          "version " + std::to_string(id) + " of " + quote_key(cfg.key) +
                            " is released by rule " + std::to_string(i + 1) +
                            "; change the release rules first"});
      auto v = st_.find_version(cfg.id, id);
      if (!v.ok())
        return std::move(v).err();
      if (!*v)
        return refused(no_such_version(cfg.key, id));
    }
    for (auto id : ids)
      CONFLUX_TRY(st_.erase_version(cfg.id, id));
    touch(cfg);
    CONFLUX_TRY(st_.put_config(cfg));
    return done(cfg.id, 0);
  }

  expected<apply_result> operator()(const open_session& cmd) {
    if (cmd.timeout_ms < state_machine::min_session_timeout_ms ||
        cmd.timeout_ms > state_machine::max_session_timeout_ms)
      return refused({errc::invalid_argument,
                      "session timeout " + std::to_string(cmd.timeout_ms) +
                          " ms is outside 1000.." +
                          std::to_string(state_machine::max_session_timeout_ms) +
                          " ms"});
    client_session s;
    if (cmd.id) {
      if (*cmd.id == 0)
        return refused({errc::invalid_argument,
                        "session id 0 means \"no session\"; the node that proposes "
                        "open_session must draw a random id"});
      auto in_use = st_.find_session(*cmd.id);
      if (!in_use.ok())
        return std::move(in_use).err();
      if (*in_use)
        return refused({errc::already_exists,
                        "session id " + std::to_string(*cmd.id) +
                            " is in use; open the session again (a new id is drawn)"});
      s.id = *cmd.id;
    } else {
      // A command of format 1 or 2, written before ids were random: the next
      // free sequential id, as it was applied then.
      auto last = st_.get_counter(counter::last_session_id);
      if (!last.ok())
        return std::move(last).err();
      s.id = *last;
      for (;;) {
        ++s.id;
        auto in_use = st_.find_session(s.id);
        if (!in_use.ok())
          return std::move(in_use).err();
        if (!*in_use)
          break;
      }
      CONFLUX_TRY(st_.set_counter(counter::last_session_id, s.id));
    }
    s.owner = caller_;
    s.timeout_ms = cmd.timeout_ms;
    s.last_active_ms = ts_;
    CONFLUX_TRY(st_.put_session(s));
    auto r = done(0, 0);
    r.session = s.id;
    return r;
  }

  // keep_alive and close_session arrive through the session checks in
  // apply(), which already refreshed or validated the session.
  expected<apply_result> operator()(const keep_alive& cmd) {
    return session_exists(cmd.session);
  }

  expected<apply_result> operator()(const close_session& cmd) {
    auto r = session_exists(cmd.session);
    if (!r.ok() || !r->ok())
      return r;
    CONFLUX_TRY(st_.erase_session(cmd.session));
    return r;
  }

  expected<apply_result> operator()(const set_audit_retention& cmd) {
    if (cmd.max_records < audit::min_max_records ||
        cmd.max_records > audit::max_max_records)
      return refused({errc::invalid_argument,
                      "audit retention " + std::to_string(cmd.max_records) +
                          " records is outside " + std::to_string(audit::min_max_records) +
                          ".." + std::to_string(audit::max_max_records) +
                          "; give a number of records in that range"});
    CONFLUX_TRY(audit::set_retention(st_, cmd.max_records));
    return done(0, 0);
}

  // Authorization commands: applied from the next commit on.
  template <class AuthCommand>
  expected<apply_result> operator()(const AuthCommand&) {
    return refused({errc::invalid_argument,
                    "this build does not apply authorization commands yet"});
  }

private:
  // The config under key after the CAS check: outer error = state failure,
  // inner error = the command is refused.
  expected<expected<config>> existing_config(std::string_view key,
                                             const std::optional<revision_t>& rev) {
    if (auto s = validate_key(key, lim_); !s.ok())
      return expected<config>{s.err()};
    auto c = lookup(st_, key);
    if (!c.ok())
      return std::move(c).err();
    if (!*c)
      return expected<config>{no_such_config(key)};
    if (auto s = check_revision(**c, rev); !s.ok())
      return expected<config>{s.err()};
    return expected<config>{std::move(**c)};
  }

  // The next version of cfg built from a command's fields, or the refusal.
  expected<version> next_version(const config& cfg, const std::string& content,
                                 const std::string& description,
                                 const std::string& creator) const {
    if (auto s = check_text_fields(description, creator, lim_); !s.ok())
      return s.err();
    if (auto s = check_content(cfg, content, lim_); !s.ok())
      return s.err();
    return make_version(cfg, cfg.latest_version + 1, content, description, creator,
                        index_, ts_);
  }

  expected<apply_result> session_exists(session_id id) {
    // The envelope's session was checked (and refreshed) before the command
    // ran; a keep-alive or close for another session would refresh nothing.
    if (id != env_session_)
      return refused({errc::invalid_argument,
                      "session " + std::to_string(id) +
                        " must be kept alive or closed from within itself (send the "
                        "command with that session id)"});
    auto s = st_.find_session(id);
    if (!s.ok())
      return std::move(s).err();
    if (!*s)
      return refused({errc::session_expired, "session " + std::to_string(id) +
                                               " expired or never existed; open a new one"});
    return done(0, 0);
  }

  void touch(config& c) const {
    c.mod_revision = index_;
    c.updated_at_ms = ts_;
  }

  apply_result done(config_id c, version_id v) const {
    apply_result r;
    r.revision = index_;
    r.config = c;
    r.version = v;
    return r;
  }

  state_writer& st_;
  const limits& lim_;
  std::uint64_t index_;
  std::int64_t ts_;
  session_id env_session_;
  const std::string& caller_;
};

// Entries are applied strictly in order: a gap means the applier skipped
// entries and this replica would silently diverge, so the node must stop.
status check_next(state_reader& st, std::uint64_t index) {
  auto last = st.last_applied();
  if (!last.ok())
    return last.to_status();
  if (index != *last + 1)
    return {errc::invalid_argument,
            "entry " + std::to_string(index) + " is not the next to apply (last applied " +
              std::to_string(*last) + "): the applier skipped or repeated entries; stop "
              "the node"};
  return {};
}

bool expired(const client_session& s, std::int64_t now_ms) {
  return now_ms - s.last_active_ms > s.timeout_ms;
}

// Drops sessions whose leader-stamped idle time passed their timeout, at most
// once per sweep interval so the scan stays off the common path.
status sweep_sessions(state_writer& st, std::int64_t ts) {
  auto last = st.get_counter(counter::session_sweep_ms);
  if (!last.ok())
    return last.to_status();
  auto last_ms = static_cast<std::int64_t>(*last);
  if (ts - last_ms < state_machine::session_sweep_interval_ms)
    return {};
  auto all = st.list_sessions();
  if (!all.ok())
    return all.to_status();
  for (auto& s : *all)
    if (expired(s, ts)) {
      if (auto e = st.erase_session(s.id); !e.ok())
        return e;
    }
  return st.set_counter(counter::session_sweep_ms, static_cast<std::uint64_t>(ts));
}

} // namespace

expected<apply_result> state_machine::apply(state_writer& st,
                                            const raft::log_entry& entry) const {
  if (entry.kind != raft::entry_kind::command) {
    CONFLUX_TRY(check_next(st, entry.index));
    CONFLUX_TRY(st.set_last_applied(entry.index));
    apply_result r;
    r.revision = entry.index;
    return r;
  }
  auto env = codec::decode_command(entry.data);
  if (!env.ok()) {
    // A newer format means this binary cannot follow the log: stop, don't guess.
    if (env.code() == errc::unsupported_version)
      return std::move(env).err();
    // Undecodable bytes are the same on every node, so refusing them is
    // deterministic; the log store's checksum already ruled out local damage.
    CONFLUX_TRY(check_next(st, entry.index));
    CONFLUX_TRY(st.set_last_applied(entry.index));
    apply_result r = refused({errc::invalid_argument,
                              "command at index " + std::to_string(entry.index) +
                                " cannot be decoded: " + env.err().message});
    r.revision = entry.index;
    return r;
  }
  return apply(st, entry.index, entry.timestamp_ms, *env);
}

expected<apply_result> state_machine::apply(state_writer& st, std::uint64_t index,
                                            std::int64_t timestamp_ms,
                                            const command_envelope& env) const {
  // The audit trail records every config mutation and auth change, applied or
  // refused, in this same transaction (protocol/audit.hpp). A sequence
  // answered from its session's cache was recorded when it first applied.
  auto before = audit::observe(st, env);
  if (!before.ok())
    return std::move(before).err();
  auto r = apply_command(st, index, timestamp_ms, env);
  if (r.ok() && r->revision == index)
    CONFLUX_TRY(audit::append(st, *before, index, timestamp_ms, env, *r));
  return r;
}

expected<apply_result> state_machine::apply_command(state_writer& st, std::uint64_t index,
                                                    std::int64_t timestamp_ms,
                                                    const command_envelope& env) const {
  CONFLUX_TRY(check_next(st, index));
  std::optional<client_session> session;
  bool opens = std::holds_alternative<open_session>(env.cmd);
  bool sessioned = env.session != 0 && !opens;
  // Only session traffic sweeps, so that a command without a session that is
  // refused leaves the state exactly as it was.
  if (sessioned || opens)
    CONFLUX_TRY(sweep_sessions(st, timestamp_ms));
  apply_result result;
  if (sessioned) {
    auto found = st.find_session(env.session);
    if (!found.ok())
      return std::move(found).err();
    if (!*found || expired(**found, timestamp_ms)) {
      if (*found)
        CONFLUX_TRY(st.erase_session(env.session));
      result = refused({errc::session_expired,
                        "session " + std::to_string(env.session) +
                          " expired or never existed; open a new session and retry"});
      result.revision = index;
      CONFLUX_TRY(st.set_last_applied(index));
      return result;
    }
    session = std::move(*found);
    // Only the caller that opened the session may use it: otherwise another
    // client could write with its next sequence number and have the owner's
    // real write answered from the cache, never applied. Checked before the
    // cache, which must not answer a stranger either; the session is left
    // untouched.
    if (session->owner != env.caller) {
      result = refused({errc::permission_denied,
                        "session " + std::to_string(env.session) +
                            " belongs to another client identity; open a session of "
                            "your own"});
      result.revision = index;
      CONFLUX_TRY(st.set_last_applied(index));
      return result;
    }
    // Exactly-once (thesis §6.3): a sequence already applied is answered from
    // the session instead of being applied again.
    if (env.sequence == session->last_sequence && env.sequence != 0) {
      session->last_active_ms = timestamp_ms;
      CONFLUX_TRY(st.put_session(*session));
      CONFLUX_TRY(st.set_last_applied(index));
      return session->last_result;
    }
    // Sequence 0 is not tracked: it refreshes the session and is applied
    // without being remembered (keep-alives, reads of the session itself).
    if (env.sequence != 0 && env.sequence < session->last_sequence) {
      result = refused({errc::stale_sequence,
                        "sequence " + std::to_string(env.sequence) + " of session " +
                          std::to_string(env.session) + " is older than the last one (" +
                          std::to_string(session->last_sequence) +
                          "); its result is no longer kept"});
      result.revision = index;
      CONFLUX_TRY(st.set_last_applied(index));
      return result;
    }
  }

  applier a{st, limits_, index, timestamp_ms, env.session, env.caller};
  auto r = std::visit(a, env.cmd);
  if (!r.ok())
    return r;
  result = std::move(*r);
  result.revision = index;

  bool closed = std::holds_alternative<close_session>(env.cmd) && result.ok() &&
                std::get<close_session>(env.cmd).session == env.session;
  if (session && !closed) {
    session->last_active_ms = timestamp_ms;
    if (env.sequence != 0) {
      session->last_sequence = env.sequence;
      session->last_result = result;
    }
    CONFLUX_TRY(st.put_session(*session));
  }
  CONFLUX_TRY(st.set_last_applied(index));
  return result;
}

// -- queries -------------------------------------------------------------------

status verify_version(const version& v) {
  if (sha256_hex(v.content) != v.content_hash)
    return {errc::corrupted,
            "version " + std::to_string(v.id) + " of config " + std::to_string(v.config) +
              " failed its SHA-256 check; this node's copy is damaged and will not be "
              "served: restore the node from a healthy replica"};
  return {};
}

expected<config> get_config(state_reader& st, std::string_view key) {
  if (auto s = validate_key(key); !s.ok())
    return s.err();
  auto c = lookup(st, key);
  if (!c.ok())
    return std::move(c).err();
  if (!*c)
    return no_such_config(key);
  return std::move(**c);
}

namespace {

// The keys a prefix matches, whole segments only: P itself and the keys under
// P + "/" ("acme/shop/prod" is not a prefix of "acme/shop/production/x"). A
// trailing '/' means the same; "" matches every key. In key order: P sorts
// before every key under it.
// REQUIRES: validate_key_prefix(prefix) is ok.
expected<std::vector<std::pair<std::string, config_id>>>
keys_under(state_reader& st, std::string_view prefix, std::size_t limit) {
  std::string_view base = prefix;
  if (!base.empty() && base.back() == '/')
    base.remove_suffix(1);
  std::vector<std::pair<std::string, config_id>> out;
  if (!base.empty() && validate_key(base).ok()) {
    auto id = st.find_config_id(base);
    if (!id.ok())
      return std::move(id).err();
    if (*id)
      out.emplace_back(std::string{base}, **id);
  }
  if (limit != 0 && out.size() == limit)
    return out;
  std::string under = base.empty() ? std::string{} : std::string{base} + "/";
  auto more = st.list_keys(under, limit == 0 ? 0 : limit - out.size());
  if (!more.ok())
    return std::move(more).err();
  for (auto& k : *more)
    out.push_back(std::move(k));
  return out;
}

} // namespace

expected<std::vector<config>> list_configs(state_reader& st, std::string_view prefix,
                                           std::size_t limit) {
  if (auto s = validate_key_prefix(prefix); !s.ok())
    return s.err();
  auto keys = keys_under(st, prefix, limit);
  if (!keys.ok())
    return std::move(keys).err();
  std::vector<config> out;
  out.reserve(keys->size());
  for (auto& [key, id] : *keys) {
    auto c = st.find_config(id);
    if (!c.ok())
      return std::move(c).err();
    if (!*c)
      return error{errc::corrupted, "key index points config " + quote_key(key) +
                                      " at id " + std::to_string(id) +
                                      ", which does not exist"};
    out.push_back(std::move(**c));
  }
  return out;
}

expected<std::vector<version>> list_versions(state_reader& st, std::string_view key) {
  auto c = get_config(st, key);
  if (!c.ok())
    return std::move(c).err();
  auto vs = st.list_versions(c->id);
  if (!vs.ok())
    return std::move(vs).err();
  for (auto& v : *vs)
    if (auto s = verify_version(v); !s.ok())
      return s.err();
  return vs;
}

expected<version> get_version(state_reader& st, std::string_view key, version_id id) {
  auto c = get_config(st, key);
  if (!c.ok())
    return std::move(c).err();
  auto v = st.find_version(c->id, id);
  if (!v.ok())
    return std::move(v).err();
  if (!*v)
    return no_such_version(key, id);
  if (auto s = verify_version(**v); !s.ok())
    return s.err();
  return std::move(**v);
}

expected<resolution> resolve(state_reader& st, std::string_view key,
                             const labels& client) {
  auto c = get_config(st, key);
  if (!c.ok())
    return std::move(c).err();
  auto idx = resolve_rule(c->releases, client);
  if (!idx)
    return error{errc::not_published,
                 "config " + quote_key(key) +
                   " is not released to a client with these labels; add a release "
                   "rule that matches them (or a default rule with no labels)"};
  auto v = st.find_version(c->id, c->releases[*idx].version);
  if (!v.ok())
    return std::move(v).err();
  if (!*v)
    return error{errc::corrupted, "release rule " + std::to_string(*idx + 1) + " of " +
                                    quote_key(key) + " points at missing version " +
                                    std::to_string(c->releases[*idx].version)};
  if (auto s = verify_version(**v); !s.ok())
    return s.err();
  return resolution{std::move(*c), std::move(**v), *idx};
}

} // namespace conflux

#undef CONFLUX_EXISTING_CONFIG
#undef CONFLUX_TRY
