#include "actors/watch_hub.hpp"

#include "protocol/auth_state.hpp"
#include "protocol/codec.hpp"
#include "protocol/resolve.hpp"
#include "protocol/state_machine.hpp"
#include "protocol/validation.hpp"

#include <algorithm>
#include <caf/all.hpp>
#include <set>
#include <spdlog/spdlog.h>
#include <type_traits>

namespace conflux::actors {

// -- change extraction (runs inside the applier's write transaction) -------------

version_id resolved_for(const std::vector<release_rule>& rules, const labels& client) {
  auto i = resolve_rule(rules, client);
  return i ? rules[*i].version : 0;
}

bool watch_covers(const std::string& watched, const std::string& key) {
  if (!watched.empty() && watched.back() == '/')
    return key.compare(0, watched.size(), watched) == 0;
  return key == watched;
}

bool may_watch(const auth::access& a, const std::string& watched) {
  if (watched.empty() || watched.back() != '/')
    return a.may(auth::read, watched);
  auto base = watched.substr(0, watched.size() - 1);
  if (a.may(auth::read, base))
    return true;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t from = 0;
    for (;;) {
      auto to = s.find('/', from);
      out.push_back(
          s.substr(from, to == std::string::npos ? std::string::npos : to - from));
      if (to == std::string::npos)
        return out;
      from = to + 1;
    }
  };
  auto prefix = split(base);
  for (const auto& role : a.roles)
    for (const auto& g : role.grants) {
      if ((g.perms & auth::read) == 0)
        continue;
      // A longer pattern whose leading segments agree with the prefix can
      // match keys under it (a shorter one would have covered the prefix).
      auto pat = split(g.pattern);
      if (pat.size() <= prefix.size())
        continue;
      bool agree = true;
      for (std::size_t i = 0; i < prefix.size() && agree; ++i)
        agree = pat[i] == "*" || pat[i] == prefix[i];
      if (agree)
        return true;
    }
  return false;
}

expected<watch_probe> probe_before(state_reader& st, const raft::log_entry& entry) {
  watch_probe p;
  if (entry.kind != raft::entry_kind::command)
    return p;
  auto env = codec::decode_command(entry.data);
  if (!env.ok())
    return p; // the state machine reports the bad entry itself
  std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        using rpc::watch_kind;
        if constexpr (std::is_same_v<T, create_config>)
          p.kind = watch_kind::config_created;
        else if constexpr (std::is_same_v<T, create_version>)
          p.kind = watch_kind::version_added;
        else if constexpr (std::is_same_v<T, update_release_rules>)
          p.kind = watch_kind::rules_changed;
        else if constexpr (std::is_same_v<T, publish>)
          p.kind = watch_kind::published;
        else if constexpr (std::is_same_v<T, delete_config>)
          p.kind = watch_kind::config_deleted;
        else if constexpr (std::is_same_v<T, delete_versions>) {
          p.kind = watch_kind::versions_deleted;
          p.deleted = c.versions;
        }
        // Session commands change no config.
        if constexpr (std::is_same_v<T, create_config> ||
                      std::is_same_v<T, create_version> ||
                      std::is_same_v<T, update_release_rules> ||
                      std::is_same_v<T, publish> || std::is_same_v<T, delete_config> ||
                      std::is_same_v<T, delete_versions>) {
          p.relevant = true;
          p.key = c.key;
        } else if constexpr (!std::is_same_v<T, open_session> &&
                             !std::is_same_v<T, keep_alive> &&
                             !std::is_same_v<T, close_session>) {
          // Every other command is an auth command.
          p.auth_changed = true;
        }
      },
      env->cmd);
  if (!p.relevant)
    return p;
  auto id = st.find_config_id(p.key);
  if (!id.ok())
    return id.err();
  if (*id) {
    auto c = st.find_config(**id);
    if (!c.ok())
      return c.err();
    p.before = std::move(*c);
  }
  return p;
}

expected<std::optional<watch_change>> change_after(state_reader& st, watch_probe probe,
                                                   const apply_result& result,
                                                   std::uint64_t index) {
  std::optional<watch_change> none;
  if (!probe.relevant || !result.ok())
    return none;
  std::optional<config> after;
  auto id = st.find_config_id(probe.key);
  if (!id.ok())
    return id.err();
  if (*id) {
    auto c = st.find_config(**id);
    if (!c.ok())
      return c.err();
    after = std::move(*c);
  }
  // A retried sequence is answered from the session table without applying:
  // then nothing carries this entry's revision and nothing changed.
  if (probe.kind == rpc::watch_kind::config_deleted) {
    if (!probe.before || after)
      return none;
  } else if (!after || after->mod_revision != index) {
    return none;
  }
  watch_change ch;
  auto& ev = ch.event;
  ev.revision = index;
  ev.kind = static_cast<std::uint8_t>(probe.kind);
  ev.key = probe.key;
  ev.config_id = after ? after->id : probe.before->id;
  ch.existed_before = probe.before.has_value();
  ch.exists_after = after.has_value();
  if (probe.before)
    ch.rules_before = probe.before->releases;
  if (after)
    ch.rules_after = after->releases;
  auto hash_of = [&](version_id v) -> expected<std::string> {
    auto rec = st.find_version(ev.config_id, v);
    if (!rec.ok())
      return rec.err();
    return *rec ? (*rec)->content_hash : std::string{};
  };
  switch (probe.kind) {
  case rpc::watch_kind::config_created:
  case rpc::watch_kind::version_added:
  case rpc::watch_kind::published: {
    ev.versions.push_back(result.version);
    auto h = hash_of(result.version);
    if (!h.ok())
      return h.err();
    ev.content_hash = std::move(*h);
    break;
  }
  case rpc::watch_kind::versions_deleted:
    ev.versions.assign(probe.deleted.begin(), probe.deleted.end());
    break;
  case rpc::watch_kind::rules_changed: {
    std::set<version_id> used;
    for (auto& r : ch.rules_after)
      used.insert(r.version);
    ev.versions.assign(used.begin(), used.end());
    break;
  }
  default:
    break;
  }
  for (auto& r : ch.rules_after) {
    if (ch.hashes.count(r.version))
      continue;
    auto h = hash_of(r.version);
    if (!h.ok())
      return h.err();
    ch.hashes.emplace(r.version, std::move(*h));
  }
  return std::optional<watch_change>{std::move(ch)};
}

// -- the hub --------------------------------------------------------------------

namespace {

using self_ptr = watch_hub_actor::stateful_pointer<watch_hub_state>;

rpc::watch_reply reply_error(std::uint64_t node, errc code, std::string message) {
  rpc::watch_reply r;
  r.code = static_cast<std::uint8_t>(code);
  r.message = std::move(message);
  r.node_id = node;
  return r;
}

/// Whether `w` is told about `ch`.
bool matches(const watcher_entry& w, const watch_change& ch) {
  if (ch.event.revision < w.min_revision)
    return false;
  if (!watch_covers(w.key, ch.event.key))
    return false;
  if (w.access && !w.access->may(auth::read, ch.event.key))
    return false;
  if (w.labels.empty())
    return true;
  auto before = ch.existed_before ? resolved_for(ch.rules_before, w.labels) : 0;
  auto after = ch.exists_after ? resolved_for(ch.rules_after, w.labels) : 0;
  // A recreated config starts its version ids again: created or deleted
  // always counts as a change when something was or is resolved.
  if (ch.existed_before != ch.exists_after)
    return before != 0 || after != 0;
  return before != after;
}

rpc::watch_event event_for(const watcher_entry& w, const watch_change& ch) {
  auto ev = ch.event;
  if (!w.labels.empty()) {
    ev.resolved_version = ch.exists_after ? resolved_for(ch.rules_after, w.labels) : 0;
    auto h = ch.hashes.find(ev.resolved_version);
    ev.content_hash = h == ch.hashes.end() ? std::string{} : h->second;
  }
  return ev;
}

void cut_off(self_ptr self, watcher_entry& w, const std::string& reason,
             errc code = errc::unavailable) {
  spdlog::info("watch hub cut off watch {} on '{}': {}", w.id, w.key, reason);
  self->send(w.handle,
             rpc::watch_closed{w.id, static_cast<std::uint8_t>(code), reason});
  // The monitor stays: another watch of the same actor may need it, and a
  // down message for a forgotten watcher finds nothing to erase.
}

/// Sends what the watcher's credit allows, in history order, in batches of
/// at most opts.max_batch_bytes.
void pump(self_ptr self, watcher_entry& w) {
  auto& st = self->state;
  rpc::watch_events batch;
  batch.watch_id = w.id;
  std::size_t bytes = 0;
  while (w.sent - w.acked < st.opts.window && w.next_seq < st.head_seq()) {
    auto seq = w.next_seq++;
    auto& ch = st.history[seq - st.front_seq];
    if (!matches(w, ch))
      continue;
    auto ev = event_for(w, ch);
    auto n = approx_bytes(ev);
    if (!batch.events.empty() && bytes + n > st.opts.max_batch_bytes) {
      self->send(w.handle, std::move(batch));
      batch = rpc::watch_events{};
      batch.watch_id = w.id;
      bytes = 0;
    }
    bytes += n;
    batch.events.push_back(std::move(ev));
    ++w.sent;
    if (seq >= w.live_from_seq && w.queued > 0)
      --w.queued;
  }
  if (!batch.events.empty())
    self->send(w.handle, std::move(batch));
}

std::optional<std::string> over_backlog(const watch_hub_state& st,
                                        const watcher_entry& w) {
  auto backlog = (w.sent - w.acked) + w.queued;
  if (backlog <= st.opts.backlog)
    return std::nullopt;
  return "the watcher fell " + std::to_string(backlog) + " events behind (limit " +
         std::to_string(st.opts.backlog) + "); resume from the last revision seen + 1";
}

/// The current state of every key `w` watches, as one resync event.
expected<rpc::watch_event> read_resync(node_context& ctx, const watcher_entry& w) {
  auto txn = ctx.state->begin_read();
  if (!txn.ok())
    return txn.err();
  auto applied = txn->last_applied();
  if (!applied.ok())
    return applied.err();
  std::vector<config> configs;
  if (w.prefix) {
    auto cs = list_configs(*txn, w.key, 0);
    if (!cs.ok())
      return cs.err();
    configs = std::move(*cs);
  } else {
    auto c = get_config(*txn, w.key);
    if (c.ok())
      configs.push_back(std::move(*c));
    else if (c.code() != errc::not_found)
      return c.err();
  }
  rpc::watch_event ev;
  ev.revision = *applied;
  ev.kind = static_cast<std::uint8_t>(rpc::watch_kind::resync);
  ev.key = w.key;
  for (auto& c : configs) {
    if (w.access && !w.access->may(auth::read, c.key))
      continue;
    rpc::watch_entry e;
    e.key = c.key;
    e.config_id = c.id;
    e.mod_revision = c.mod_revision;
    e.latest_version = c.latest_version;
    version_id shown = c.latest_version;
    if (!w.labels.empty()) {
      e.resolved_version = resolved_for(c.releases, w.labels);
      shown = e.resolved_version;
    }
    if (shown != 0) {
      auto v = txn->find_version(c.id, shown);
      if (!v.ok())
        return v.err();
      if (*v)
        e.content_hash = (*v)->content_hash;
    }
    ev.state.push_back(std::move(e));
  }
  return ev;
}

/// The principal behind `credential` now, in `txn`: unauthenticated when it
/// is gone, disabled, expired, or no longer the session's `principal`.
expected<auth::access> access_in(node_context& ctx, state_reader& txn,
                                 const std::string& credential,
                                 const std::string& principal) {
  auto a = auth::load_access(txn, credential, ctx.cluster_now_ms());
  if (!a.ok())
    return a.err();
  if (!a->ok())
    return a->err();
  if ((*a)->who.name != principal)
    return error{errc::unauthenticated, "the session's token now belongs to another "
                                        "principal"};
  return std::move(**a);
}

expected<auth::access> access_of(node_context& ctx, const std::string& credential,
                                 const std::string& principal) {
  auto txn = ctx.state->begin_read();
  if (!txn.ok())
    return txn.err();
  return access_in(ctx, *txn, credential, principal);
}

/// How often the hub looks the watchers' principals up again when no auth
/// command applied (tokens expire with cluster time).
constexpr auto auth_recheck_period = std::chrono::seconds(1);

/// Looks every watcher's principal up again (one read transaction, once per
/// credential) and cuts off, with permission_denied, the watches it may no
/// longer hold.
void recheck_watchers(self_ptr self) {
  auto& st = self->state;
  st.last_auth_check = st.ctx->clock->steady();
  if (st.watchers.empty())
    return;
  auto txn = st.ctx->state->begin_read();
  if (!txn.ok()) {
    st.ctx->failure.fail("watch hub cannot read the auth tables: " +
                         to_string(txn.err()));
    return;
  }
  std::map<std::pair<std::string, std::string>,
           std::pair<std::shared_ptr<const auth::access>, std::string>>
      seen;
  std::vector<std::uint64_t> dropped;
  for (auto& [id, w] : st.watchers) {
    auto k = std::make_pair(w.credential, w.principal);
    auto i = seen.find(k);
    if (i == seen.end()) {
      auto a = access_in(*st.ctx, *txn, w.credential, w.principal);
      if (!a.ok() && a.code() != errc::unauthenticated) {
        st.ctx->failure.fail("watch hub cannot read the auth tables: " +
                             to_string(a.err()));
        return;
      }
      i = seen.emplace(k, a.ok() ? std::make_pair(std::make_shared<const auth::access>(
                                                      std::move(*a)),
                                                  std::string{})
                                 : std::make_pair(std::shared_ptr<const auth::access>{},
                                                  a.err().message))
              .first;
    }
    auto& [access, why] = i->second;
    if (!access) {
      st.ctx->counters.add("watch.closed.permission_denied");
      cut_off(self, w,
              "principal '" + w.principal + "' can no longer be used (" + why +
                  "); open a new session with a valid token",
              errc::permission_denied);
      dropped.push_back(id);
    } else if (!may_watch(*access, w.key)) {
      st.ctx->counters.add("watch.closed.permission_denied");
      cut_off(self, w,
              "principal '" + w.principal + "' may no longer read '" + w.key +
                  "'; ask a cluster admin for read on it",
              errc::permission_denied);
      dropped.push_back(id);
    } else {
      w.access = access;
    }
  }
  for (auto id : dropped)
    st.watchers.erase(id);
}

void subscribe(self_ptr self, watch_subscribe& sub) {
  auto& st = self->state;
  auto node = st.ctx->opts.id;
  auto dest = caf::actor_cast<watcher_actor>(sub.watcher);
  if (!dest)
    return;
  auto& req = sub.req;
  bool prefix = !req.key.empty() && req.key.back() == '/';
  auto valid = prefix ? validate_key_prefix(req.key, st.ctx->opts.limits)
                      : validate_key(req.key, st.ctx->opts.limits);
  if (req.key.empty())
    valid = status{errc::invalid_argument,
                   "the watch needs a key or a key prefix ending in '/'"};
  if (valid.ok())
    valid = validate_labels(req.labels, st.ctx->opts.limits);
  if (!valid.ok()) {
    self->send(dest, reply_error(node, valid.err().code, valid.err().message));
    return;
  }
  auto access = access_of(*st.ctx, sub.credential, sub.principal);
  if (!access.ok()) {
    auto code = access.err().code;
    if (code == errc::unauthenticated)
      st.ctx->counters.add("auth.refused.unauthenticated");
    else if (code == errc::corrupted || code == errc::storage_failure)
      st.ctx->failure.fail("watch hub cannot read the auth tables: " +
                           to_string(access.err()));
    self->send(dest, reply_error(node, code, access.err().message));
    return;
  }
  if (!may_watch(*access, req.key)) {
    st.ctx->counters.add("auth.refused.permission_denied");
    auto e = auth::denied(*access, auth::read, "watch", req.key);
    self->send(dest, reply_error(node, e.code, e.message));
    return;
  }
  watcher_entry w;
  w.credential = sub.credential;
  w.principal = sub.principal;
  w.access = std::make_shared<const auth::access>(std::move(*access));
  w.id = st.next_id++;
  w.handle = dest;
  w.key = req.key;
  w.prefix = prefix;
  w.labels = req.labels;
  w.live_from_seq = st.head_seq();
  rpc::watch_reply reply;
  reply.watch_id = w.id;
  reply.node_id = node;
  std::optional<rpc::watch_event> resync;
  if (req.from_revision == 0) {
    w.min_revision = st.applied + 1;
    w.next_seq = st.head_seq();
    reply.revision = st.applied;
  } else if (req.from_revision > st.floor) {
    w.min_revision = req.from_revision;
    // The history is in revision order: skip what precedes the resume point.
    auto it = std::partition_point(
        st.history.begin(), st.history.end(),
        [&](const watch_change& ch) { return ch.event.revision < req.from_revision; });
    w.next_seq = st.front_seq + static_cast<std::uint64_t>(it - st.history.begin());
    reply.revision = req.from_revision - 1;
  } else {
    auto ev = read_resync(*st.ctx, w);
    if (!ev.ok()) {
      self->send(dest,
                 reply_error(node, ev.err().code,
                             "cannot read the current state: " + ev.err().message));
      return;
    }
    if (auto n = approx_bytes(*ev); n > st.opts.max_batch_bytes) {
      st.ctx->counters.add("watch.refused.resync_too_large");
      self->send(dest,
                 reply_error(node, errc::too_large,
                             "the current state of the " +
                                 std::to_string(ev->state.size()) + " keys under '" +
                                 req.key + "' (about " + std::to_string(n) +
                                 " bytes) is over node " + std::to_string(node) +
                                 "'s reply limit (--max-reply-bytes " +
                                 std::to_string(st.opts.max_batch_bytes) +
                                 "); watch a narrower prefix, resume from a "
                                 "newer revision, or raise --max-reply-bytes"));
      return;
    }
    // Changes up to the state's revision are in the resync; the hub may not
    // have seen all of them yet, so later ones are filtered by revision.
    w.min_revision = ev->revision + 1;
    w.next_seq = st.head_seq();
    reply.revision = ev->revision;
    resync = std::move(*ev);
  }
  self->monitor(dest);
  self->send(dest, std::move(reply));
  auto& entry = st.watchers.emplace(w.id, std::move(w)).first->second;
  if (resync) {
    ++entry.sent;
    self->send(dest, rpc::watch_events{entry.id, {std::move(*resync)}});
  }
  pump(self, entry);
}

void on_notice(self_ptr self, watch_notice& n) {
  auto& st = self->state;
  if (n.state_replaced) {
    for (auto& [id, w] : st.watchers)
      cut_off(self, w,
              "the node replaced its state with a snapshot at revision " +
                  std::to_string(n.applied) +
                  "; resume from the last revision seen + 1");
    st.watchers.clear();
    st.front_seq += st.history.size();
    st.history.clear();
    st.floor = n.applied;
    st.applied = n.applied;
    return;
  }
  st.applied = std::max<std::uint64_t>(st.applied, n.applied);
  // Before anything is sent: no event after a revocation reaches its
  // watcher.
  if (n.auth_changed ||
      st.ctx->clock->steady() - st.last_auth_check >= auth_recheck_period)
    recheck_watchers(self);
  if (n.changes.empty())
    return;
  for (auto& ch : n.changes) {
    auto seq = st.head_seq();
    st.history.push_back(std::move(ch));
    auto& stored = st.history.back();
    for (auto& [id, w] : st.watchers)
      if (w.next_seq <= seq && matches(w, stored))
        ++w.queued;
  }
  std::vector<std::uint64_t> dropped;
  for (auto& [id, w] : st.watchers) {
    pump(self, w);
    if (auto reason = over_backlog(st, w)) {
      cut_off(self, w, *reason);
      dropped.push_back(id);
    }
  }
  for (auto id : dropped)
    st.watchers.erase(id);
  dropped.clear();
  // Bound the history; a watcher that still needs an evicted change can no
  // longer be served in order and is cut off (its resume gets a resync).
  while (st.history.size() > st.opts.history) {
    auto& oldest = st.history.front();
    for (auto& [id, w] : st.watchers) {
      if (w.next_seq != st.front_seq)
        continue;
      if (matches(w, oldest)) {
        cut_off(self, w,
                "the watcher fell behind the hub's history of " +
                    std::to_string(st.opts.history) +
                    " changes; resume from the last revision seen + 1");
        dropped.push_back(id);
      } else {
        ++w.next_seq;
      }
    }
    for (auto id : dropped)
      st.watchers.erase(id);
    dropped.clear();
    st.floor = oldest.event.revision;
    st.history.pop_front();
    ++st.front_seq;
  }
}

/// Whether the message being handled comes from the watcher that owns `w`
/// (sessions forward acks and cancels under the watcher's identity). Anyone
/// else knowing a watch id could otherwise stall a watch or end it; such a
/// message is dropped and counted.
bool from_owner(self_ptr self, const watcher_entry& w) {
  auto sender = self->current_sender();
  if (sender && sender->address() == w.handle.address())
    return true;
  self->state.ctx->counters.add("watch.dropped.not_owner");
  spdlog::debug("watch hub dropped an ack or cancel for watch {} from an actor "
                "that does not own it",
                w.id);
  return false;
}

} // namespace

std::size_t approx_bytes(const rpc::watch_event& e) {
  // Fixed fields and length prefixes take well under 64 bytes.
  std::size_t n = 64 + e.key.size() + e.content_hash.size() + 8 * e.versions.size();
  for (const auto& s : e.state)
    n += 64 + s.key.size() + s.content_hash.size();
  return n;
}

watch_hub_actor::behavior_type watch_hub_fun(self_ptr self, node_context_ptr ctx,
                                             watch_hub_options opts,
                                             std::uint64_t applied) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.opts = opts;
  if (st.opts.window == 0)
    st.opts.window = 1;
  st.floor = applied;
  st.applied = applied;
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& ws = self->state.watchers;
    for (auto i = ws.begin(); i != ws.end();) {
      if (i->second.handle.address() == dm.source)
        i = ws.erase(i);
      else
        ++i;
    }
  });
  return {
      [=](watch_notice& n) { on_notice(self, n); },
      [=](watch_subscribe& sub) { subscribe(self, sub); },
      [=](rpc::watch_ack& ack) {
        auto& ws = self->state.watchers;
        auto i = ws.find(ack.watch_id);
        if (i == ws.end() || !from_owner(self, i->second))
          return;
        auto& w = i->second;
        w.acked = std::max(w.acked, std::min(ack.count, w.sent));
        pump(self, w);
      },
      [=](rpc::watch_cancel& c) {
        auto& ws = self->state.watchers;
        auto i = ws.find(c.watch_id);
        if (i == ws.end() || !from_owner(self, i->second))
          return;
        ws.erase(i);
      },
  };
}

} // namespace conflux::actors
