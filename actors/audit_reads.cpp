#include "actors/audit_reads.hpp"

#include "protocol/audit.hpp"

#include <spdlog/spdlog.h>

namespace conflux::actors {
namespace {

/// Records read from the state per step while a page fills.
constexpr std::size_t scan_step = 256;
/// Bytes a reply item costs beyond its own (as in client_session.cpp).
constexpr std::size_t item_overhead = 16;

rpc::client_reply reply_error(node_context& ctx, const error& e,
                              std::uint64_t applied) {
  if (e.code == errc::corrupted || e.code == errc::storage_failure) {
    auto msg =
        "audit read found damaged state: " + to_string(e) + "; stopping the node";
    spdlog::error("{}", msg);
    ctx.failure.fail(msg);
  }
  rpc::client_reply r;
  r.code = static_cast<std::uint8_t>(e.code);
  r.message = e.message;
  r.node_id = ctx.opts.id;
  r.revision = applied;
  return r;
}

/// The first kept seq whose record has revision >= since (head + 1 when
/// none): revisions grow with seq, so a binary search over the kept range.
expected<std::uint64_t> first_seq_at(state_reader& txn, const audit::chain& c,
                                     revision_t since) {
  std::uint64_t lo = c.base_seq + 1, hi = c.head_seq + 1;
  while (lo < hi) {
    auto mid = lo + (hi - lo) / 2;
    auto r = txn.find_audit(mid);
    if (!r.ok())
      return std::move(r).err();
    if (!*r)
      return error{errc::corrupted, "audit record " + std::to_string(mid) +
                                        " is missing from the kept range"};
    if ((*r)->revision < since)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

status list_page(node_context& ctx, state_reader& txn, const rpc::client_request& req,
                 rpc::client_reply& out) {
  audit::filter f;
  f.key = req.key;
  f.since = req.id;
  if (auto p = req.labels.find("principal"); p != req.labels.end())
    f.principal = p->second;
  for (auto& [k, v] : req.labels)
    if (k != "principal")
      return {errc::invalid_argument, "audit list takes no label " + k +
                                          "; the only filter label is \"principal\""};
  auto c = txn.get_audit_chain();
  if (!c.ok())
    return c.err();
  auto from = first_seq_at(txn, *c, f.since);
  if (!from.ok())
    return from.err();
  std::size_t bytes = 0;
  for (auto seq = *from; seq <= c->head_seq;) {
    auto recs = txn.list_audit(seq, scan_step);
    if (!recs.ok())
      return recs.err();
    if (recs->empty())
      break;
    for (auto& r : *recs) {
      if (!f.matches(r))
        continue;
      auto item = audit::encode(r);
      if (!out.items.empty() &&
          bytes + item.size() + item_overhead > ctx.opts.max_reply_bytes) {
        out.extra = 1;
        return {};
      }
      bytes += item.size() + item_overhead;
      out.items.push_back(std::move(item));
    }
    seq = recs->back().seq + 1;
  }
  return {};
}

} // namespace

bool is_audit_op(std::uint8_t op) noexcept {
  auto o = static_cast<rpc::request_op>(op);
  return o == rpc::request_op::audit_list || o == rpc::request_op::audit_verify;
}

std::optional<rpc::client_reply> serve_audit_read(node_context& ctx, state_reader& txn,
                                                  const rpc::client_request& req,
                                                  const auth::access* who,
                                                  std::uint64_t applied) {
  if (!is_audit_op(req.op))
    return std::nullopt;
  auto op = static_cast<rpc::request_op>(req.op);
  const char* what = op == rpc::request_op::audit_list ? "list the audit trail"
                                                       : "verify the audit trail";
  if (who == nullptr)
    return reply_error(ctx,
                       error{errc::unauthenticated,
                             std::string{"no principal: to "} + what +
                                 ", connect with a token (--token-file) of a principal "
                                 "with the auditor or cluster-admin permission"},
                       applied);
  if ((who->cluster() & (auth::auditor | auth::cluster_admin)) == 0) {
    ctx.counters.add("auth.refused.permission_denied");
    return reply_error(ctx, auth::denied(*who, auth::auditor, what, ""), applied);
  }
  rpc::client_reply r;
  r.node_id = ctx.opts.id;
  r.revision = applied;
  if (op == rpc::request_op::audit_verify) {
    auto p = audit::verify(txn, req.id);
    if (!p.ok())
      return reply_error(ctx, p.err(), applied);
    if (!p->intact())
      spdlog::warn("audit verify on node {}: {}", ctx.opts.id, p->problem);
    r.items.push_back(audit::encode(*p));
    return r;
  }
  if (auto s = list_page(ctx, txn, req, r); !s.ok())
    return reply_error(ctx, s.err(), applied);
  return r;
}

} // namespace conflux::actors
