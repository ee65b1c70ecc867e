// `conflux audit list | verify` and `conflux release history`: reading the
// audit trail (docs/security.md, "Audit trail").
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"
#include "protocol/validation.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <sstream>

namespace conflux::cli {

namespace {

nlohmann::json record_to_json(const audit::record& r) {
  nlohmann::json versions = nlohmann::json::array();
  for (auto v : r.versions)
    versions.push_back(v);
  return {{"seq", r.seq},
          {"revision", r.revision},
          {"time", format_time(r.time_ms, true)},
          {"time_ms", r.time_ms},
          {"principal", r.principal},
          {"origin", r.origin},
          {"identity", r.identity},
          {"op", r.op},
          {"key", r.key},
          {"versions", versions},
          {"rules_before", rules_to_json(r.rules_before)},
          {"rules_after", rules_to_json(r.rules_after)},
          {"comment", r.comment},
          {"result", r.code == 0 ? std::string{"ok"}
                                 : std::string{to_string(static_cast<errc>(r.code))}},
          {"message", r.message},
          {"hash", r.hash}};
}

std::string who(const audit::record& r) {
  if (!r.principal.empty())
    return r.principal;
  return r.identity.empty() ? std::string{"(unknown)"} : r.identity;
}

std::string result_text(const audit::record& r) {
  if (r.code == 0)
    return "ok";
  return "refused " + std::string{to_string(static_cast<errc>(r.code))} + ": " +
         r.message;
}

std::string versions_text(const std::vector<version_id>& vs) {
  std::string out;
  for (auto v : vs)
    out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

int run_audit_list(command_context& c) {
  audit::filter f;
  f.key = c.inv.key;
  f.since = c.inv.from_revision;
  f.principal = c.inv.principal;
  return c.then(c.api.audit_list(f, c.inv.read_consistency),
                [&](const std::vector<audit::record>& recs) {
                  if (c.json()) {
                    for (auto& r : recs)
                      c.emit(record_to_json(r));
                    return;
                  }
                  if (recs.empty()) {
                    c.out << "no audit records match\n";
                    return;
                  }
                  for (auto& r : recs) {
                    c.out << "#" << r.seq << " rev " << r.revision << " "
                          << format_time(r.time_ms) << " " << who(r) << " " << r.op;
                    if (!r.key.empty())
                      c.out << " " << r.key;
                    if (!r.versions.empty())
                      c.out << " versions " << versions_text(r.versions);
                    if (!r.comment.empty())
                      c.out << " \"" << r.comment << "\"";
                    c.out << " -> " << result_text(r) << '\n';
                  }
                });
}

bool is_release_op(const std::string& op) {
  return op == "update_release_rules" || op == "publish";
}

int run_release_history(command_context& c) {
  audit::filter f;
  f.key = c.inv.key;
  return c.then(
      c.api.audit_list(f, c.inv.read_consistency),
      [&](const std::vector<audit::record>& recs) {
        std::vector<const audit::record*> releases;
        for (auto& r : recs)
          if (is_release_op(r.op))
            releases.push_back(&r);
        if (c.json()) {
          for (auto* r : releases)
            c.emit(record_to_json(*r));
          return;
        }
        if (releases.empty()) {
          c.out << "no release of " << c.inv.key
                << " is in the audit trail (or the records were dropped by its "
                   "retention)\n";
          return;
        }
        for (auto* r : releases) {
          c.out << "revision " << r->revision << "  " << format_time(r->time_ms) << "  "
                << who(*r) << "  " << (r->op == "publish" ? "publish" : "release")
                << "  " << result_text(*r) << '\n';
          if (!r->comment.empty())
            c.out << "  comment: " << r->comment << '\n';
          c.out << "  before:\n"
                << (r->rules_before.empty() ? std::string{"    (no rules)\n"}
                                            : rules_table(r->rules_before))
                << "  after:\n"
                << (r->rules_after.empty() ? std::string{"    (no rules)\n"}
                                           : rules_table(r->rules_after));
        }
      });
}

// -- audit verify ----------------------------------------------------------------

/// One endpoint's answer at one seq.
using points = std::map<std::string, audit::chain_point>;

bool all_equal(const points& ps) {
  for (auto& [ep, p] : ps)
    if (p.hash != ps.begin()->second.hash)
      return false;
  return true;
}

/// Asks every endpoint for its chain at seq; the first failure ends it.
expected<points> ask_all(command_context& c, const std::vector<std::string>& eps,
                         std::uint64_t seq) {
  points out;
  for (auto& ep : eps) {
    auto p = c.api.audit_verify_at(ep, seq);
    if (!p.ok())
      return error{p.code(), ep + ": " + p.err().message};
    out[ep] = *p;
  }
  return out;
}

int run_audit_verify(command_context& c) {
  const auto& eps = c.inv.global.endpoints;
  auto heads = ask_all(c, eps, 0);
  if (!heads.ok())
    return c.fail(heads.err());
  nlohmann::json nodes = nlohmann::json::array();
  std::vector<std::string> faults;
  std::uint64_t lo = 0, hi = UINT64_MAX;
  for (auto& [ep, p] : *heads) {
    nodes.push_back({{"endpoint", ep},
                     {"base_seq", p.base_seq},
                     {"head_seq", p.head_seq},
                     {"head_revision", p.revision},
                     {"head_hash", p.hash},
                     {"intact", p.intact()}});
    if (!p.intact())
      faults.push_back(ep + ": record " + std::to_string(p.bad_seq) + " (revision " +
                       std::to_string(p.bad_revision) + "): " + p.problem);
    lo = std::max(lo, p.base_seq);
    hi = std::min(hi, p.head_seq);
  }
  // The first seq at which the replicas' recomputed chains differ, by binary
  // search over the range every node keeps: equal at `good`, not at `bad`.
  std::optional<std::uint64_t> first_diff;
  std::map<std::string, revision_t> diff_revisions;
  if (hi >= lo) {
    auto at_hi = ask_all(c, eps, hi);
    if (!at_hi.ok())
      return c.fail(at_hi.err());
    if (!all_equal(*at_hi)) {
      // At seq 0 every chain is the genesis hash (and asking for seq 0
      // means the head), so only a base above 0 is asked for.
      std::uint64_t good = lo, bad = hi;
      points bad_points = *at_hi;
      bool lo_equal = true;
      if (lo > 0) {
        auto at_lo = ask_all(c, eps, lo);
        if (!at_lo.ok())
          return c.fail(at_lo.err());
        lo_equal = all_equal(*at_lo);
        if (!lo_equal)
          bad_points = std::move(*at_lo);
      }
      if (!lo_equal) {
        bad = lo;
      } else {
        while (bad - good > 1) {
          auto mid = good + (bad - good) / 2;
          auto at = ask_all(c, eps, mid);
          if (!at.ok())
            return c.fail(at.err());
          if (all_equal(*at)) {
            good = mid;
          } else {
            bad = mid;
            bad_points = std::move(*at);
          }
        }
      }
      first_diff = bad;
      for (auto& [ep, p] : bad_points)
        diff_revisions[ep] = p.revision;
    }
  }
  bool ok = faults.empty() && !first_diff && hi >= lo;
  std::ostringstream text;
  if (hi < lo)
    text << "the nodes keep no audit record in common (kept ranges do not overlap); "
            "nothing to compare\n";
  for (auto& f : faults)
    text << "tampered: " << f << '\n';
  if (first_diff) {
    text << "the nodes' audit chains first differ at record " << *first_diff;
    std::set<revision_t> revs;
    for (auto& [ep, r] : diff_revisions)
      revs.insert(r);
    if (revs.size() == 1)
      text << " (revision " << *revs.begin() << ")";
    text << ":";
    for (auto& [ep, r] : diff_revisions)
      text << " " << ep << " has revision " << r << " hash "
           << hash_prefix((*heads)[ep].hash) << ";";
    text << " compare `conflux audit list --since REV` on each node\n";
  }
  if (ok)
    text << "audit trail verified on " << eps.size() << " node(s): chains agree up to "
         << "record " << hi << ", head " << hash_prefix((*heads).begin()->second.hash)
         << "\n";
  if (c.json()) {
    nlohmann::json j{
        {"verified", ok}, {"nodes", nodes}, {"common_seq", hi >= lo ? hi : 0}};
    j["faults"] = faults;
    if (first_diff) {
      j["first_difference_seq"] = *first_diff;
      nlohmann::json revs = nlohmann::json::object();
      for (auto& [ep, r] : diff_revisions)
        revs[ep] = r;
      j["first_difference_revision"] = revs;
    }
    c.emit(j);
  } else {
    (ok ? c.out : c.err) << text.str();
  }
  return ok ? exit_ok : exit_code_for(errc::corrupted);
}

} // namespace

void register_audit_commands(command_registry& r) {
  auto* group = r.group("audit", "read and verify the audit trail (auditor or "
                                 "cluster-admin)");
  auto since = std::make_shared<std::uint64_t>(0);
  auto principal = std::make_shared<std::string>();
  auto target = std::make_shared<std::string>();
  auto* list = r.command(
      group, "list",
      "list audit records in revision order: every config change and auth change, "
      "applied or refused",
      command_kind::audit_list, run_audit_list,
      [since, principal, target](parse_context& ctx) -> std::optional<parse_outcome> {
        if (!target->empty()) {
          auto s = target->back() == '/' ? validate_key_prefix(*target)
                                         : validate_key(*target);
          if (!s.ok())
            return ctx.fail(s.err());
        }
        ctx.inv.key = *target;
        ctx.inv.from_revision = *since;
        ctx.inv.principal = *principal;
        return std::nullopt;
      });
  list->add_option("TARGET", *target,
                   "a KEY, or a PREFIX/ (whole segments) for every key under it; "
                   "default: every record");
  list->add_option("--since", *since, "the first revision to show")->type_name("REV");
  list->add_option("--principal", *principal, "only the records of this principal");
  r.add_consistency(list);
  r.command(group, "verify",
            "recompute the audit chain on every endpoint and compare them; names the "
            "first record (and revision) that differs, exits non-zero on a mismatch",
            command_kind::audit_verify, run_audit_verify);
}

void register_release_history(command_registry& r, CLI::App* release_group) {
  auto* history = r.command(release_group, "history",
                            "who released what and when, with the comment and the "
                            "rules before and after (from the audit trail)",
                            command_kind::release_history, run_release_history);
  r.add_key(history);
  r.add_consistency(history);
}

} // namespace conflux::cli
