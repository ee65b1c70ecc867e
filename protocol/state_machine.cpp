#include "protocol/state_machine.hpp"

#include "protocol/audit.hpp"
#include "protocol/auth_state.hpp"
#include "protocol/codec.hpp"
#include "protocol/resolve.hpp"
#include "protocol/secret_box.hpp"
#include "protocol/sha256.hpp"
#include "protocol/text.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace conflux {
namespace {

// Propagates a failed status/expected out of the enclosing function.
#define CONFLUX_TRY(expr)                                                              \
  do {                                                                                 \
    if (auto conflux_st_ = (expr); !conflux_st_.ok())                                  \
      return std::move(conflux_st_).err();                                             \
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

// Binds `var` to the tenant of `key` with the usage a command adds, inside
// an applier handler: a state failure is returned, a quota exceeded refuses
// the command (resource_exhausted).
#define CONFLUX_TENANT_USAGE(var, key, configs, versions, bytes)                       \
  auto var##_grown_ = grown_usage(key, configs, versions, bytes);                      \
  if (!var##_grown_.ok())                                                              \
    return std::move(var##_grown_).err();                                              \
  if (!var##_grown_->ok())                                                             \
    return refused(var##_grown_->err());                                               \
  auto& var = var##_grown_->value()

// A key in a message, whole (keys that reach the state are at most
// max_key_bytes), with control characters and invalid bytes escaped
// (protocol/text.hpp).
std::string quote_key(std::string_view key) {
  return quote(key, limits{}.max_key_bytes);
}

error no_such_config(std::string_view key) {
  return {errc::not_found, "config " + quote_key(key) +
                               " does not exist; check the key or create it first"};
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
    return status{
        errc::revision_mismatch,
        "config " + quote_key(c.key) + " is at revision " +
            std::to_string(c.mod_revision) + ", not " + std::to_string(*expected_rev) +
            "; someone changed it since you read it: read it again and retry"};
  return {};
}

// The content of a write to c: sealed exactly when c is secret. Sealed
// content was validated by the node that sealed it (the state machine holds
// no key): here only its form, size and hash are checked.
status check_written_content(const config& c, std::string_view content,
                             const sealing& seal, const limits& lim) {
  if (c.secret && !seal.sealed)
    return {errc::revision_mismatch,
            "config " + quote_key(c.key) +
                " is secret but this write carries plain content (the config was "
                "made secret after the write was sent); send the write again"};
  if (!c.secret && seal.sealed)
    return {errc::revision_mismatch,
            "config " + quote_key(c.key) +
                " is not secret but this write carries sealed content (the config "
                "changed after the write was sent); send the write again"};
  if (!seal.sealed)
    return check_content(c, content, lim);
  if (content.size() > lim.max_content_bytes + secret::max_overhead)
    return {errc::too_large, "sealed content of " + std::to_string(content.size()) +
                                 " bytes is over the content limit"};
  if (auto id = secret::key_id_of(content); !id.ok())
    return {errc::invalid_argument, "the sealed content of " + quote_key(c.key) +
                                        " is malformed (" + id.err().message + ")"};
  if (auto s = auth::validate_token_hash(seal.content_hash); !s.ok())
    return {errc::invalid_argument,
            "the keyed hash of sealed content must be 64 lowercase hex characters"};
  return {};
}

status check_text_fields(const std::string& description, const std::string& creator,
                         const limits& lim) {
  if (auto s =
          validate_text_field("description", description, lim.max_description_bytes);
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
expected<std::optional<error>>
check_rule_targets(state_reader& st, const config& c,
                   const std::vector<release_rule>& rules, version_id fresh) {
  std::set<version_id> seen;
  for (auto& r : rules) {
    if (r.version == fresh || !seen.insert(r.version).second)
      continue;
    auto v = st.find_version(c.id, r.version);
    if (!v.ok())
      return std::move(v).err();
    if (!*v)
      return std::optional<error>{
          error{errc::not_found,
                "a release rule points at version " + std::to_string(r.version) +
                    " of " + quote_key(c.key) +
                    ", which does not exist; list its versions to pick one"}};
  }
  return std::optional<error>{};
}

// A refusal for a tenant over one of its quotas.
error over_quota(const auth::tenant& t, const char* what, std::uint64_t held,
                 std::uint64_t quota, const char* flag) {
  return {errc::resource_exhausted,
          "tenant " + quote(t.name) + " would hold " + std::to_string(held) + " " +
              what + ", over its quota of " + std::to_string(quota) +
              "; delete some first or ask a cluster admin to raise it (conflux auth "
              "tenant set " +
              t.name + " " + flag + " N)"};
}

std::uint64_t minus(std::uint64_t a, std::uint64_t b) {
  return a > b ? a - b : 0;
}

// Live: the principal's token works at now_ms.
bool live(const auth::principal& p, std::int64_t now_ms) {
  return auth::check_principal(&p, now_ms).ok();
}

version make_version(const config& c, version_id id, std::string content,
                     const sealing& seal, std::string description, std::string creator,
                     std::uint64_t index, std::int64_t ts) {
  version v;
  v.config = c.id;
  v.id = id;
  v.sealed = seal.sealed;
  v.content_hash = seal.sealed ? seal.content_hash : sha256_hex(content);
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
  // `who` is the principal the command's credential resolved to; null only
  // for bootstrap_auth, the one command applied without one.
  applier(state_writer& st, const limits& lim, std::uint64_t index, std::int64_t ts,
          session_id env_session, const std::string& caller, const auth::access* who)
      : st_(st), lim_(lim), index_(index), ts_(ts), env_session_(env_session),
        caller_(caller), who_(who) {}

  expected<apply_result> operator()(const create_config& cmd) {
    if (auto d = lacks(auth::write, cmd.key, "create config"))
      return refused(*d);
    if (auto s = validate_key(cmd.key, lim_); !s.ok())
      return refused(s.err());
    if (auto s = check_text_fields(cmd.description, creator(), lim_); !s.ok())
      return refused(s.err());
    if (cmd.schema) {
      if (auto s = validate_schema_document(*cmd.schema, lim_); !s.ok())
        return refused(s.err());
    }
    auto existing = lookup(st_, cmd.key);
    if (!existing.ok())
      return std::move(existing).err();
    if (*existing)
      return refused(
          {errc::already_exists, "config " + quote_key(cmd.key) +
                                     " already exists; add a version to it instead"});
    config c;
    c.key = cmd.key;
    c.format = cmd.format;
    c.schema = cmd.schema;
    c.secret = cmd.secret;
    if (auto s = check_written_content(c, cmd.content, cmd.sealing, lim_); !s.ok())
      return refused(s.err());
    CONFLUX_TENANT_USAGE(usage, cmd.key, 1, 1, cmd.content.size());
    auto last_id = st_.get_counter(counter::last_config_id);
    if (!last_id.ok())
      return std::move(last_id).err();
    c.id = *last_id + 1;
    c.latest_version = 1;
    c.create_revision = c.mod_revision = index_;
    c.created_at_ms = c.updated_at_ms = ts_;
    auto v = make_version(c, 1, cmd.content, cmd.sealing, cmd.description, creator(),
                          index_, ts_);
    CONFLUX_TRY(st_.set_counter(counter::last_config_id, c.id));
    CONFLUX_TRY(st_.put_tenant(usage));
    CONFLUX_TRY(st_.put_config(c));
    CONFLUX_TRY(st_.put_key(c.key, c.id));
    CONFLUX_TRY(st_.put_version(v));
    return done(c.id, 1);
  }

  expected<apply_result> operator()(const create_version& cmd) {
    if (auto d = lacks(auth::write, cmd.key, "add a version to"))
      return refused(*d);
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    auto v = next_version(cfg, cmd.content, cmd.sealing, cmd.description);
    if (!v.ok())
      return refused(v.err());
    CONFLUX_TENANT_USAGE(usage, cmd.key, 0, 1, cmd.content.size());
    auto id = v->id;
    touch(cfg);
    cfg.latest_version = id;
    CONFLUX_TRY(st_.put_tenant(usage));
    CONFLUX_TRY(st_.put_version(*v));
    CONFLUX_TRY(st_.put_config(cfg));
    return done(cfg.id, id);
  }

  expected<apply_result> operator()(const update_release_rules& cmd) {
    if (auto d = lacks(auth::release, cmd.key, "change the release rules of"))
      return refused(*d);
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    if (auto s = validate_rules(cmd.rules, lim_); !s.ok())
      return refused(s.err());
    if (auto s =
            validate_text_field("comment", cmd.comment, lim_.max_description_bytes);
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
    if (auto d = lacks(auth::write | auth::release, cmd.key, "publish"))
      return refused(*d);
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    auto v = next_version(cfg, cmd.content, cmd.sealing, cmd.description);
    if (!v.ok())
      return refused(v.err());
    if (auto s =
            validate_text_field("comment", cmd.comment, lim_.max_description_bytes);
        !s.ok())
      return refused(s.err());
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
    CONFLUX_TENANT_USAGE(usage, cmd.key, 0, 1, cmd.content.size());
    touch(cfg);
    cfg.latest_version = id;
    cfg.releases = std::move(rules);
    CONFLUX_TRY(st_.put_tenant(usage));
    CONFLUX_TRY(st_.put_version(*v));
    CONFLUX_TRY(st_.put_config(cfg));
    return done(cfg.id, id);
  }

  expected<apply_result> operator()(const delete_config& cmd) {
    if (auto d = lacks(auth::del, cmd.key, "delete"))
      return refused(*d);
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    if (!cmd.force && !cfg.releases.empty())
      return refused(still_released(cfg));
    auto versions = st_.list_versions(cfg.id);
    if (!versions.ok())
      return std::move(versions).err();
    std::uint64_t bytes = 0;
    for (auto& v : *versions)
      bytes += v.content.size();
    auto usage = released_usage(cmd.key, 1, versions->size(), bytes);
    if (!usage.ok())
      return std::move(usage).err();
    CONFLUX_TRY(st_.put_tenant(*usage));
    for (auto& v : *versions)
      CONFLUX_TRY(st_.erase_version(cfg.id, v.id));
    CONFLUX_TRY(st_.erase_key(cfg.key));
    CONFLUX_TRY(st_.erase_config(cfg.id));
    return done(cfg.id, 0);
  }

  expected<apply_result> operator()(const delete_versions& cmd) {
    if (auto d = lacks(auth::del, cmd.key, "delete versions of"))
      return refused(*d);
    CONFLUX_EXISTING_CONFIG(cfg, cmd.key, cmd.expected_revision);
    if (cmd.versions.empty())
      return refused({errc::invalid_argument, "no version ids given; name the versions "
                                              "to delete"});
    std::set<version_id> ids{cmd.versions.begin(), cmd.versions.end()};
    std::uint64_t bytes = 0;
    for (auto id : ids) {
      for (std::size_t i = 0; i < cfg.releases.size(); ++i)
        if (cfg.releases[i].version == id)
          return refused(
              {errc::version_in_use, "version " + std::to_string(id) + " of " +
                                         quote_key(cfg.key) + " is released by rule " +
                                         std::to_string(i + 1) +
                                         "; change the release rules first"});
      auto v = st_.find_version(cfg.id, id);
      if (!v.ok())
        return std::move(v).err();
      if (!*v)
        return refused(no_such_version(cfg.key, id));
      bytes += (*v)->content.size();
    }
    auto usage = released_usage(cmd.key, 0, ids.size(), bytes);
    if (!usage.ok())
      return std::move(usage).err();
    CONFLUX_TRY(st_.put_tenant(*usage));
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
    s.principal = who_->who.name;
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

  // -- authorization commands ------------------------------------------------

  expected<apply_result> operator()(const bootstrap_auth& cmd) {
    if (env_session_ != 0)
      return refused({errc::invalid_argument,
                      "bootstrap_auth is proposed by the leader without a session"});
    auto at = st_.get_counter(counter::auth_bootstrapped);
    if (!at.ok())
      return std::move(at).err();
    if (*at != 0)
      return refused(
          {errc::already_exists,
           "authorization was already bootstrapped (at log index " +
               std::to_string(*at) +
               "); a second bootstrap is refused: make further tokens with a "
               "cluster-admin token (conflux auth token create)"});
    if (auto s = auth::validate_name("principal", cmd.principal); !s.ok())
      return refused(s.err());
    if (auto s = auth::validate_token_hash(cmd.token_hash); !s.ok())
      return refused(s.err());
    auth::role admin_role{std::string{auth::bootstrap_role}, {{"*", auth::all_perms}}};
    auth::principal p;
    p.name = cmd.principal;
    p.token_hash = cmd.token_hash;
    p.roles = {admin_role.name};
    p.created_at_ms = ts_;
    p.created_revision = index_;
    CONFLUX_TRY(st_.put_role(admin_role));
    CONFLUX_TRY(st_.put_principal(p));
    CONFLUX_TRY(st_.set_counter(counter::auth_bootstrapped, index_));
    return done(0, 0);
  }

  expected<apply_result> operator()(const rewrap_secrets& cmd) {
    if (auto d = lacks_cluster_admin("rotate key-encryption keys"))
      return refused(*d);
    if (cmd.items.size() > max_rewrap_items)
      return refused({errc::invalid_argument, "a rewrap carries at most " +
                                                  std::to_string(max_rewrap_items) +
                                                  " versions"});
    // Check every item first; write only when all are sound.
    std::vector<version> changed;
    for (auto& item : cmd.items) {
      auto c = lookup(st_, item.key);
      if (!c.ok())
        return std::move(c).err();
      if (!*c)
        continue; // deleted since the node read it
      auto v = st_.find_version((*c)->id, item.version);
      if (!v.ok())
        return std::move(v).err();
      if (!*v)
        continue;
      auto same = (*v)->sealed ? secret::same_content((*v)->content, item.blob)
                               : expected<bool>{false};
      if (!same.ok() || !*same)
        return refused(
            {errc::invalid_argument,
             "version " + std::to_string(item.version) + " of " + quote_key(item.key) +
                 " is not sealed, or the rewrapped blob does not hold its content; "
                 "nothing was changed"});
      (*v)->content = item.blob;
      changed.push_back(std::move(**v));
    }
    for (auto& v : changed)
      CONFLUX_TRY(st_.put_version(v));
    return done(0, 0);
  }

  expected<apply_result> operator()(const set_audit_retention& cmd) {
    if (auto d = lacks_cluster_admin("set the audit retention"))
      return refused(*d);
    if (cmd.max_records < audit::min_max_records ||
        cmd.max_records > audit::max_max_records)
      return refused({errc::invalid_argument,
                      "audit retention " + std::to_string(cmd.max_records) +
                          " records is outside " +
                          std::to_string(audit::min_max_records) + ".." +
                          std::to_string(audit::max_max_records) +
                          "; give a number of records in that range"});
    CONFLUX_TRY(audit::set_retention(st_, cmd.max_records));
    return done(0, 0);
  }

  expected<apply_result> operator()(const create_token& cmd) {
    if (auto d = lacks_cluster_admin("create tokens"))
      return refused(*d);
    if (auto s = auth::validate_name("principal", cmd.principal); !s.ok())
      return refused(s.err());
    if (auto s = auth::validate_token_hash(cmd.token_hash); !s.ok())
      return refused(s.err());
    if (cmd.ttl_ms < 0 || cmd.ttl_ms > max_token_ttl_ms)
      return refused({errc::invalid_argument,
                      "token lifetime " + std::to_string(cmd.ttl_ms) +
                          " ms is outside 0 (never expires) .. 100 years"});
    if (auto bad = missing_role(cmd.roles); !bad.ok())
      return std::move(bad).err();
    else if (*bad)
      return refused(**bad);
    auto old = st_.find_principal(cmd.principal);
    if (!old.ok())
      return std::move(old).err();
    if (*old && live(**old, ts_))
      return refused(
          {errc::already_exists,
           "principal " + quote(cmd.principal) +
               " already has a live token; revoke it first or pick another "
               "name (rotation: create a new principal, then revoke the old)"});
    auto holder = st_.find_principal_by_token(cmd.token_hash);
    if (!holder.ok())
      return std::move(holder).err();
    if (*holder)
      return refused({errc::already_exists,
                      "this token was issued before (perhaps revoked); generate a new "
                      "token and send its hash"});
    auth::principal p;
    p.name = cmd.principal;
    p.token_hash = cmd.token_hash;
    p.roles = cmd.roles;
    p.expires_at_ms = cmd.ttl_ms == 0 ? 0 : ts_ + cmd.ttl_ms;
    p.created_at_ms = ts_;
    p.created_revision = index_;
    p.created_by = who_->who.name;
    CONFLUX_TRY(st_.put_principal(p));
    return done(0, 0);
  }

  expected<apply_result> operator()(const revoke_token& cmd) {
    if (auto d = lacks_cluster_admin("revoke tokens"))
      return refused(*d);
    auto p = existing_principal(cmd.principal);
    if (!p.ok())
      return std::move(p).err();
    if (!p->ok())
      return refused(p->err());
    auto changed = std::move(p->value());
    changed.disabled = true;
    auth_change after;
    after.principal = &changed;
    if (auto last = last_cluster_admin(after, "revoking the token of principal " +
                                                  quote(cmd.principal));
        !last.ok())
      return std::move(last).err();
    else if (*last)
      return refused(**last);
    CONFLUX_TRY(st_.put_principal(changed));
    return done(0, 0);
  }

  expected<apply_result> operator()(const set_token_roles& cmd) {
    if (auto d = lacks_cluster_admin("change the roles of tokens"))
      return refused(*d);
    auto p = existing_principal(cmd.principal);
    if (!p.ok())
      return std::move(p).err();
    if (!p->ok())
      return refused(p->err());
    if (p->value().disabled)
      return refused(
          {errc::invalid_argument, "the token of principal " + quote(cmd.principal) +
                                       " is revoked; create a new token instead"});
    if (auto bad = missing_role(cmd.roles); !bad.ok())
      return std::move(bad).err();
    else if (*bad)
      return refused(**bad);
    auto changed = std::move(p->value());
    changed.roles = cmd.roles;
    auth_change after;
    after.principal = &changed;
    if (auto last = last_cluster_admin(after, "changing the roles of principal " +
                                                  quote(cmd.principal));
        !last.ok())
      return std::move(last).err();
    else if (*last)
      return refused(**last);
    CONFLUX_TRY(st_.put_principal(changed));
    return done(0, 0);
  }

  expected<apply_result> operator()(const put_role& cmd) {
    const auto& role = cmd.role;
    if (auto d = lacks_role_rights(role, "create or change role"))
      return refused(*d);
    if (auto s = validate_role(role); !s.ok())
      return refused(s.err());
    auto old = st_.find_role(role.name);
    if (!old.ok())
      return std::move(old).err();
    if (*old && !cmd.replace)
      return refused({errc::already_exists,
                      "role " + quote(role.name) +
                          " already exists; pass replace to change its grants"});
    if (*old) {
      if (auto d = lacks_role_rights(**old, "change role"))
        return refused(*d);
      auth_change after;
      after.role_name = role.name;
      after.role = &role;
      if (auto last = last_cluster_admin(after, "changing role " + quote(role.name));
          !last.ok())
        return std::move(last).err();
      else if (*last)
        return refused(**last);
    }
    CONFLUX_TRY(st_.put_role(role));
    return done(0, 0);
  }

  expected<apply_result> operator()(const delete_role& cmd) {
    if (cmd.name == auth::bootstrap_role)
      return refused(fixed_role());
    auto old = st_.find_role(cmd.name);
    if (!old.ok())
      return std::move(old).err();
    if (!*old)
      return refused({errc::not_found, "role " + quote(cmd.name) + " does not exist"});
    if (auto d = lacks_role_rights(**old, "delete role"))
      return refused(*d);
    // Before the check that the role is unused, whose advice (change the
    // holder's roles) would be refused for the same reason.
    auth_change after;
    after.role_name = cmd.name;
    if (auto last = last_cluster_admin(after, "deleting role " + quote(cmd.name));
        !last.ok())
      return std::move(last).err();
    else if (*last)
      return refused(**last);
    auto all = st_.list_principals();
    if (!all.ok())
      return std::move(all).err();
    for (auto& p : *all)
      if (live(p, ts_) &&
          std::find(p.roles.begin(), p.roles.end(), cmd.name) != p.roles.end())
        return refused(
            {errc::invalid_argument,
             "role " + quote(cmd.name) + " is held by principal " + quote(p.name) +
                 "; change that principal's roles or revoke its token first"});
    CONFLUX_TRY(st_.erase_role(cmd.name));
    return done(0, 0);
  }

  expected<apply_result> operator()(const set_tenant& cmd) {
    if (auto d = lacks_cluster_admin("set tenant quotas"))
      return refused(*d);
    if (auto s = validate_tenant_name(cmd.tenant); !s.ok())
      return refused(s.err());
    auto t = tenant_record(cmd.tenant);
    if (!t.ok())
      return std::move(t).err();
    t->max_configs = cmd.max_configs;
    t->max_versions = cmd.max_versions;
    t->max_bytes = cmd.max_bytes;
    t->rate = cmd.rate;
    CONFLUX_TRY(st_.put_tenant(*t));
    return done(0, 0);
  }

  /// Longest token lifetime (100 years): keeps ts + ttl far from overflow.
  static constexpr std::int64_t max_token_ttl_ms = 100LL * 365 * 24 * 3600 * 1000;

private:
  // -- authorization helpers ---------------------------------------------------

  // The refusal when the principal lacks `need` on key, else nothing.
  std::optional<error> lacks(auth::perm_set need, std::string_view key,
                             std::string_view what) const {
    if (who_->may(need, key))
      return std::nullopt;
    return auth::denied(*who_, need, what, key);
  }

  std::optional<error> lacks_cluster_admin(std::string_view what) const {
    if ((who_->cluster() & auth::cluster_admin) != 0)
      return std::nullopt;
    return auth::denied(*who_, auth::cluster_admin, what, "");
  }

  // cluster_admin, or: no cluster-wide permission in the role and admin on a
  // pattern covering each of its grants.
  std::optional<error> lacks_role_rights(const auth::role& r,
                                         std::string_view what) const {
    if ((who_->cluster() & auth::cluster_admin) != 0)
      return std::nullopt;
    for (auto& g : r.grants) {
      if ((g.perms & auth::cluster_perms) != 0)
        return auth::denied(*who_, auth::cluster_admin,
                            std::string{what} + " " + quote(r.name) +
                                " (it grants cluster-wide permissions)",
                            "");
      bool covered = false;
      for (auto& mine : who_->roles)
        for (auto& a : mine.grants)
          covered = covered || ((a.perms & auth::admin) != 0 &&
                                auth::pattern_within(g.pattern, a.pattern));
      if (!covered)
        return error{errc::permission_denied,
                     "principal " + quote(who_->who.name) + " may not " +
                         std::string{what} + " " + quote(r.name) + ": its grant " +
                         quote(auth::to_string(g)) +
                         " is not within a pattern the principal has admin on; ask a "
                         "cluster admin"};
    }
    return std::nullopt;
  }

  static error fixed_role() {
    return {errc::invalid_argument,
            "role " + std::string{auth::bootstrap_role} +
                " is made by the bootstrap and cannot be changed or deleted; make "
                "another role"};
  }

  static status validate_role(const auth::role& r) {
    if (r.name == auth::bootstrap_role)
      return fixed_role();
    if (auto s = auth::validate_name("role", r.name); !s.ok())
      return s;
    if (r.grants.empty())
      return {errc::invalid_argument, "role " + quote(r.name) +
                                          " has no grant; give it at least one "
                                          "PATTERN:PERM,PERM"};
    constexpr std::size_t max_grants = 64;
    if (r.grants.size() > max_grants)
      return {errc::too_large, "role " + quote(r.name) + " has " +
                                   std::to_string(r.grants.size()) +
                                   " grants; at most 64 (split it into several roles)"};
    for (auto& g : r.grants) {
      if (auto s = auth::validate_pattern(g.pattern); !s.ok())
        return s;
      if (g.perms == 0 || (g.perms & ~auth::all_perms) != 0)
        return {errc::invalid_argument,
                "grant on " + quote(g.pattern) + " of role " + quote(r.name) +
                    " has no valid permission; name at least one"};
      if ((g.perms & auth::cluster_perms) != 0 && g.pattern != "*")
        return {
            errc::invalid_argument,
            "grant " + quote(auth::to_string(g)) + " of role " + quote(r.name) +
                " gives cluster-wide permissions on a pattern; grant them on \"*\""};
    }
    return {};
  }

  static status validate_tenant_name(std::string_view name) {
    if (name == "*" || name.find('/') != std::string_view::npos)
      return {errc::invalid_argument,
              "tenant " + quote(name) +
                  " is not one key segment; a tenant is the first segment of its keys"};
    return auth::validate_pattern(name);
  }

  // outer error = state failure; inner = not_found.
  expected<expected<auth::principal>> existing_principal(std::string_view name) {
    auto p = st_.find_principal(name);
    if (!p.ok())
      return std::move(p).err();
    if (!*p)
      return expected<auth::principal>{
          error{errc::not_found, "principal " + quote(name) + " does not exist"}};
    return expected<auth::principal>{std::move(**p)};
  }

  // One change to the auth tables, as last_cluster_admin weighs it: the
  // principal of the same name replaced by `principal`, and/or role
  // `role_name` replaced by `role` (null: deleted).
  struct auth_change {
    const auth::principal* principal = nullptr;
    std::string_view role_name;
    const auth::role* role = nullptr;
  };

  // The refusal (failed_precondition) when the change would take the last
  // live principal holding cluster-admin (on "*", at the entry's time) out
  // of that: afterwards nobody could manage tokens, roles or membership, and
  // no second bootstrap is allowed. A change when there is no such principal
  // already is not refused (it takes nothing away). `what` is the change,
  // for the message. outer error = state failure.
  expected<std::optional<error>> last_cluster_admin(const auth_change& change,
                                                    const std::string& what) {
    auto all = st_.list_principals();
    if (!all.ok())
      return std::move(all).err();
    std::map<std::string, bool, std::less<>> stored_grants;
    auto grants_admin = [](const auth::role& r) {
      return std::any_of(r.grants.begin(), r.grants.end(), [](const auth::grant& g) {
        return g.pattern == "*" && (g.perms & auth::cluster_admin) != 0;
      });
    };
    // Whether the stored role `name` grants cluster-admin (a missing role
    // grants nothing).
    auto stored = [&](const std::string& name) -> expected<bool> {
      auto i = stored_grants.find(name);
      if (i != stored_grants.end())
        return i->second;
      auto r = st_.find_role(name);
      if (!r.ok())
        return std::move(r).err();
      bool yes = *r && grants_admin(**r);
      stored_grants.emplace(name, yes);
      return yes;
    };
    auto holds = [&](const auth::principal& p, bool changed) -> expected<bool> {
      if (!live(p, ts_))
        return false;
      for (auto& name : p.roles) {
        bool yes = false;
        if (changed && name == change.role_name) {
          yes = change.role != nullptr && grants_admin(*change.role);
        } else {
          auto s = stored(name);
          if (!s.ok())
            return std::move(s).err();
          yes = *s;
        }
        if (yes)
          return true;
      }
      return false;
    };
    bool before = false;
    for (auto& p : *all) {
      const auto& now =
          change.principal && change.principal->name == p.name ? *change.principal : p;
      auto after = holds(now, true);
      if (!after.ok())
        return std::move(after).err();
      if (*after)
        return std::optional<error>{};
      if (!before) {
        auto was = holds(p, false);
        if (!was.ok())
          return std::move(was).err();
        before = *was;
      }
    }
    if (!before)
      return std::optional<error>{};
    return std::optional<error>{error{
        errc::failed_precondition,
        what + " would leave no live principal with cluster-admin, and then nobody "
               "could manage tokens, roles or membership; create another cluster-admin "
               "first (conflux auth token create NAME --role cluster-admin), then "
               "retry"}};
  }

  // outer error = state failure; the inner optional names a role that does
  // not exist.
  expected<std::optional<error>> missing_role(const std::vector<std::string>& roles) {
    for (auto& name : roles) {
      auto r = st_.find_role(name);
      if (!r.ok())
        return std::move(r).err();
      if (!*r)
        return std::optional<error>{
            error{errc::not_found, "role " + quote(name) +
                                       " does not exist; create it first (conflux auth "
                                       "role create)"}};
    }
    return std::optional<error>{};
  }

  // The tenant's record, or a fresh one without quotas.
  expected<auth::tenant> tenant_record(std::string_view name) {
    auto t = st_.find_tenant(name);
    if (!t.ok())
      return std::move(t).err();
    if (*t)
      return std::move(**t);
    auth::tenant fresh;
    fresh.name = std::string{name};
    return fresh;
  }

  // The tenant of key after adding configs, versions and bytes: outer error
  // = state failure, inner = over a quota (resource_exhausted).
  expected<expected<auth::tenant>> grown_usage(std::string_view key,
                                               std::uint64_t configs,
                                               std::uint64_t versions,
                                               std::uint64_t bytes) {
    auto t = tenant_record(auth::tenant_of(key));
    if (!t.ok())
      return std::move(t).err();
    t->configs += configs;
    t->versions += versions;
    t->bytes += bytes;
    if (configs > 0 && t->max_configs != 0 && t->configs > t->max_configs)
      return expected<auth::tenant>{
          over_quota(*t, "configs", t->configs, t->max_configs, "--max-configs")};
    if (versions > 0 && t->max_versions != 0 && t->versions > t->max_versions)
      return expected<auth::tenant>{
          over_quota(*t, "versions", t->versions, t->max_versions, "--max-versions")};
    if (bytes > 0 && t->max_bytes != 0 && t->bytes > t->max_bytes)
      return expected<auth::tenant>{
          over_quota(*t, "bytes of content", t->bytes, t->max_bytes, "--max-bytes")};
    return expected<auth::tenant>{std::move(*t)};
  }

  // The tenant of key after removing configs, versions and bytes (never
  // below 0: data stored before usage was counted is not in the counters).
  expected<auth::tenant> released_usage(std::string_view key, std::uint64_t configs,
                                        std::uint64_t versions, std::uint64_t bytes) {
    auto t = tenant_record(auth::tenant_of(key));
    if (!t.ok())
      return std::move(t).err();
    t->configs = minus(t->configs, configs);
    t->versions = minus(t->versions, versions);
    t->bytes = minus(t->bytes, bytes);
    return t;
  }

  // Who a version is written by: the principal, never the client's claim.
  const std::string& creator() const { return who_->who.name; }

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
                                 const sealing& seal,
                                 const std::string& description) const {
    if (auto s = check_text_fields(description, creator(), lim_); !s.ok())
      return s.err();
    if (auto s = check_written_content(cfg, content, seal, lim_); !s.ok())
      return s.err();
    return make_version(cfg, cfg.latest_version + 1, content, seal, description,
                        creator(), index_, ts_);
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
      return refused(
          {errc::session_expired, "session " + std::to_string(id) +
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
  const auth::access* who_;
};

// Entries are applied strictly in order: a gap means the applier skipped
// entries and this replica would silently diverge, so the node must stop.
status check_next(state_reader& st, std::uint64_t index) {
  auto last = st.last_applied();
  if (!last.ok())
    return last.to_status();
  if (index != *last + 1)
    return {errc::invalid_argument,
            "entry " + std::to_string(index) +
                " is not the next to apply (last applied " + std::to_string(*last) +
                "): the applier skipped or repeated entries; stop "
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
    apply_result r = refused(
        {errc::invalid_argument, "command at index " + std::to_string(entry.index) +
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

expected<apply_result> state_machine::apply_command(state_writer& st,
                                                    std::uint64_t index,
                                                    std::int64_t timestamp_ms,
                                                    const command_envelope& env) const {
  CONFLUX_TRY(check_next(st, index));
  // Who sends the command, decided here against the replicated tables with
  // the entry's cluster time, so every replica decides the same at this
  // index. Before anything else: a command without a valid credential changes
  // nothing but last_applied. bootstrap_auth alone has no credential.
  std::optional<auth::access> who;
  if (!std::holds_alternative<bootstrap_auth>(env.cmd)) {
    auto found = auth::load_access(st, env.credential, timestamp_ms);
    if (!found.ok())
      return std::move(found).err();
    if (!found->ok()) {
      apply_result r = refused(found->err());
      r.revision = index;
      CONFLUX_TRY(st.set_last_applied(index));
      return r;
    }
    who = std::move(found->value());
  }
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
    // A session also belongs to one principal for its life.
    bool principals_differ = !who || session->principal != who->who.name;
    if (session->owner != env.caller || principals_differ) {
      result =
          refused({errc::permission_denied,
                   "session " + std::to_string(env.session) + " belongs to another " +
                       (principals_differ ? "principal" : "client identity") +
                       "; open a session of your own"});
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
      result =
          refused({errc::stale_sequence,
                   "sequence " + std::to_string(env.sequence) + " of session " +
                       std::to_string(env.session) + " is older than the last one (" +
                       std::to_string(session->last_sequence) +
                       "); its result is no longer kept"});
      result.revision = index;
      CONFLUX_TRY(st.set_last_applied(index));
      return result;
    }
  }

  applier a{
      st, limits_, index, timestamp_ms, env.session, env.caller, who ? &*who : nullptr};
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

status check_content(const config& c, std::string_view content, const limits& lim) {
  if (auto s = validate_content(c.format, content, lim); !s.ok())
    return s;
  if (c.schema)
    return validate_against_schema(*c.schema, c.format, content, lim);
  return {};
}

status verify_version(const version& v) {
  // A sealed version is verified where it is opened (its GCM tags and keyed
  // hash, actors/secret_content.hpp); here only its form.
  if (v.sealed) {
    if (auto id = secret::key_id_of(v.content); !id.ok())
      return {errc::corrupted, "version " + std::to_string(v.id) + " of config " +
                                   std::to_string(v.config) +
                                   " is sealed but its blob is malformed (" +
                                   id.err().message +
                                   "); this node's copy is damaged and will not be "
                                   "served: restore the node from a healthy replica"};
    return {};
  }
  if (sha256_hex(v.content) != v.content_hash)
    return {
        errc::corrupted,
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
#undef CONFLUX_TENANT_USAGE
#undef CONFLUX_TRY
