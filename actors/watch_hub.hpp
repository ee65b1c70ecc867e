#pragma once
// The watch hub (docs/design.md, Watch): one per node, fed by this node's applier after
// every committed transaction, so followers serve watches as well as the
// leader. Owned by the node supervisor; holds no promise and no state store
// write access (it opens read transactions only for a resync).
//
// How a watch runs:
// - A client's watcher actor sends watch_request to its client session, which
//   forwards it with the watcher's handle (watch_subscribe). The hub answers
//   the watcher directly: watch_reply, then watch_events in revision order,
//   or watch_closed when it cuts the watcher off. One sender, so the reply
//   always arrives before the events.
// - History: the last `watch_history` changes, in revision order, with every
//   change above `floor` (the revision below which the hub holds nothing).
//   A resume from revision R > floor replays the history from R; a resume from
//   R <= floor gets ONE resync event (the current state of every watched key,
//   read in one state transaction at revision A) and then the changes after A.
// - Labels: a change is sent to a labelled watcher only if the version resolved
//   for its labels before the change differs from the one after it. Each
//   change carries the rules before and after, so this needs no per-watcher
//   state and gives the same answer live and on replay.
// - Flow control (CAF has no back-pressure on remote sends, docs/design.md, CAF 0.17.6
//   constraints): at most `watch_window` events are in flight without an ack
//   (rpc::watch_ack, cumulative). Matching changes beyond that wait in the history;
//   when the unacknowledged plus waiting events of a watcher exceed `watch_backlog`,
//   or an event it still needs leaves the history, the watcher is cut off
//   (watch_closed with the reason) and forgotten. The client then resumes.
// - Owners: a watch's acks and cancels count only when they come from the
//   watcher that registered it (the session forwards them under the
//   watcher's identity); others are dropped (counter watch.dropped.not_owner).
// - Size: events go out in batches of at most `max_batch_bytes` (estimated
//   encoded size; one event always fits), so no message nears CAF's payload
//   limit; a resync whose state is over that size is refused (too_large).
// - Authorization (docs/security.md): a watch needs read on its key, or for a
//   prefix, read on the prefix itself or on some pattern under it; events are
//   then filtered per key (a prefix watch never tells of a key its principal
//   may not read). When an auth command applies (watch_notice::auth_changed),
//   and at most a second apart otherwise (token expiry moves with cluster
//   time), the hub looks every watcher's principal up again in one read
//   transaction and cuts off, with permission_denied, each watch whose
//   principal is gone or no longer may read what it watches.
// - A snapshot installed by the applier replaces the state without a change
//   list: the applier then sends watch_notice{index, {}, state_replaced=true},
//   and the hub drops its history (floor = index) and cuts every watcher off,
//   so their resumes get a resync instead of silently missing changes.

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "protocol/auth.hpp"
#include "protocol/state.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conflux::actors {

/// Tunables of one hub (from node_options).
struct watch_hub_options {
  std::size_t history = 10'000;
  std::size_t backlog = 10'000;
  std::size_t window = 256;
  /// Estimated encoded bytes of one watch_events message (--max-reply-bytes).
  std::size_t max_batch_bytes = 8u << 20;
};

/// An over-estimate of `e`'s encoded size in a CAF message.
std::size_t approx_bytes(const rpc::watch_event& e);

/// One registered watcher.
struct watcher_entry {
  std::uint64_t id = 0;
  watcher_actor handle;
  std::string key;
  bool prefix = false;
  conflux::labels labels;
  /// Only changes at or above this revision are sent.
  std::uint64_t min_revision = 0;
  /// The next history position (sequence number) to look at.
  std::uint64_t next_seq = 0;
  /// Changes from this position on arrived after the watch started: the
  /// matching ones not yet sent count towards the backlog.
  std::uint64_t live_from_seq = 0;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  /// Matching live changes not yet sent.
  std::uint64_t queued = 0;
  /// The session's credential (token hash) and principal, and what that
  /// principal may do as last looked up (events are filtered with it).
  std::string credential;
  std::string principal;
  std::shared_ptr<const auth::access> access;
};

struct watch_hub_state {
  static inline const char* name = "watch-hub";
  node_context_ptr ctx;
  watch_hub_options opts;
  /// Changes in revision order; history[i] has sequence number front_seq + i.
  std::deque<watch_change> history;
  std::uint64_t front_seq = 0;
  /// Every change above this revision is in `history`.
  std::uint64_t floor = 0;
  /// The applied index of the last notice (or at start).
  std::uint64_t applied = 0;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, watcher_entry> watchers;
  /// When the watchers' principals were last looked up again.
  std::chrono::steady_clock::time_point last_auth_check{};

  std::uint64_t head_seq() const noexcept { return front_seq + history.size(); }
};

/// `applied`: the state's last applied index when the hub starts (its floor).
watch_hub_actor::behavior_type
watch_hub_fun(watch_hub_actor::stateful_pointer<watch_hub_state> self,
              node_context_ptr ctx, watch_hub_options opts, std::uint64_t applied);

// -- what the applier uses to describe a change ---------------------------------

/// What the applier notes about an entry before applying it.
struct watch_probe {
  /// False: the entry cannot change a config (noop, membership, session).
  bool relevant = false;
  rpc::watch_kind kind = rpc::watch_kind::config_created;
  std::string key;
  std::optional<config> before;
  /// delete_versions: the ids the command deletes.
  std::vector<version_id> deleted;
  /// An auth command: who may read what may change.
  bool auth_changed = false;
};

/// Reads what a change event needs before `entry` is applied.
expected<watch_probe> probe_before(state_reader& st, const raft::log_entry& entry);

/// After the entry applied with `result`: the change it made, or nothing
/// (refused command, answered from the session table, no config command).
expected<std::optional<watch_change>> change_after(state_reader& st, watch_probe probe,
                                                   const apply_result& result,
                                                   std::uint64_t index);

/// The version resolved for `client` among `rules` (0 = none matches).
version_id resolved_for(const std::vector<release_rule>& rules, const labels& client);

/// Whether `a` may watch `watched` (a key, or a prefix ending in '/'): read
/// on the key; for a prefix, read on the prefix itself or on a pattern that
/// can match some key under it.
bool may_watch(const auth::access& a, const std::string& watched);

/// True if `key` is watched by a watch on `watched` (a key, or a prefix when
/// it ends with '/').
bool watch_covers(const std::string& watched, const std::string& key);

} // namespace conflux::actors
