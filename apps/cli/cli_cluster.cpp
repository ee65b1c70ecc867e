// `conflux cluster status | add | remove | transfer-leader`.
#include "apps/cli/cli_registry.hpp"
#include "apps/cli/cli_support.hpp"
#include "protocol/raft/membership.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace conflux::cli {

namespace {

/// One member as cluster status shows it: its own view, or why it has none.
struct member_row {
  actors::member_info m;
  std::optional<actors::node_status> st;
  std::optional<error> err;
};

/// Who leads, as the reachable members see it.
struct leader_view {
  std::uint64_t id = 0;
  std::uint64_t term = 0;
  std::string address;
};

/// A reachable node that says it is leader (highest term), else the leader
/// named by the reachable node with the highest term.
leader_view find_leader(const std::vector<member_row>& rows) {
  leader_view l;
  for (const auto& rw : rows)
    if (rw.st && rw.st->role == "leader" && (l.id == 0 || rw.st->term > l.term)) {
      l.id = rw.st->id;
      l.term = rw.st->term;
      l.address = rw.st->address.empty() ? rw.m.address : rw.st->address;
    }
  if (l.id != 0)
    return l;
  for (const auto& rw : rows)
    if (rw.st && rw.st->leader_id != 0 && rw.st->term >= l.term) {
      l.id = rw.st->leader_id;
      l.term = rw.st->term;
      l.address = rw.st->leader_address;
    }
  return l;
}

/// Asks every member (the one that answered first is not asked again).
std::vector<member_row> ask_members(command_context& c,
                                    const actors::node_status& first) {
  auto members = first.members;
  if (members.empty())
    members.push_back({first.id, first.address, "voter"});
  std::vector<member_row> rows;
  for (const auto& m : members) {
    member_row rw{m, std::nullopt, std::nullopt};
    if (m.id == first.id && m.id != 0) {
      rw.st = first;
    } else {
      auto s = c.api.status_of(m.address);
      if (s.ok())
        rw.st = std::move(*s);
      else
        rw.err = s.err();
    }
    rows.push_back(std::move(rw));
  }
  return rows;
}

using progress_map = std::map<std::uint64_t, rpc::member_entry>;

/// "mutual TLS", or which reachable nodes speak plain text.
std::string transport_summary(const std::vector<member_row>& rows) {
  std::string plain;
  for (const auto& rw : rows)
    if (rw.st && rw.st->transport == "insecure-plaintext")
      plain += (plain.empty() ? "" : ", ") + std::to_string(rw.m.id);
  if (plain.empty())
    return "mutual TLS";
  return "INSECURE plain text on node(s) " + plain + " (--insecure-plaintext)";
}

void print_status_json(command_context& c, const actors::node_status& first,
                       const std::vector<member_row>& rows, const leader_view& leader,
                       const progress_map& progress) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& rw : rows) {
    nlohmann::json j{{"id", rw.m.id}, {"address", rw.m.address}, {"kind", rw.m.kind}};
    if (auto p = progress.find(rw.m.id); p != progress.end()) {
      j["match"] = p->second.match;
      j["lag"] = p->second.lag;
    } else {
      j["lag"] = nullptr;
    }
    if (rw.st) {
      j["reachable"] = true;
      j["role"] = rw.st->role;
      j["term"] = rw.st->term;
      j["commit"] = rw.st->commit;
      j["applied"] = rw.st->applied;
      j["leader_id"] = rw.st->leader_id;
      j["transport"] = rw.st->transport;
      j["counters"] = rw.st->counters;
      j["apply_paused"] = rw.st->apply_paused.empty()
                              ? nlohmann::json(nullptr)
                              : nlohmann::json(rw.st->apply_paused);
      j["is_leader"] = leader.id != 0 && rw.m.id == leader.id;
    } else {
      j["reachable"] = false;
      j["error"] = std::string{to_string(rw.err->code)};
      j["message"] = rw.err->message;
    }
    arr.push_back(j);
  }
  nlohmann::json l = nullptr;
  if (leader.id != 0)
    l = {{"id", leader.id}, {"address", leader.address}, {"term", leader.term}};
  c.emit({{"cluster_id", first.cluster_id},
          {"leader", l},
          {"transport", transport_summary(rows)},
          {"members", arr}});
}

void print_status_table(command_context& c, const std::vector<member_row>& rows,
                        const leader_view& leader, const progress_map& progress) {
  std::vector<std::vector<std::string>> table{
      {"ID", "ADDRESS", "KIND", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG", "NOTE"}};
  for (const auto& rw : rows) {
    auto p = progress.find(rw.m.id);
    auto lag_text =
        p != progress.end() ? std::to_string(p->second.lag) : std::string{"-"};
    if (rw.st) {
      std::string note = leader.id != 0 && rw.m.id == leader.id ? "* leader" : "";
      if (!rw.st->apply_paused.empty()) {
        std::string why = rw.st->apply_paused;
        std::replace(why.begin(), why.end(), '\n', ' ');
        note += (note.empty() ? "" : "; ") + std::string{"APPLY PAUSED: "} + why;
      }
      table.push_back({std::to_string(rw.m.id), rw.m.address, rw.m.kind, rw.st->role,
                       std::to_string(rw.st->term), std::to_string(rw.st->commit),
                       std::to_string(rw.st->applied), lag_text, note});
    } else {
      std::string why = rw.err->message.empty() ? std::string{to_string(rw.err->code)}
                                                : rw.err->message;
      std::replace(why.begin(), why.end(), '\n', ' ');
      table.push_back({std::to_string(rw.m.id), rw.m.address, rw.m.kind, "unreachable",
                       "-", "-", "-", lag_text, why});
    }
  }
  c.out << render_table(table);
  if (leader.id != 0)
    c.out << "leader: " << leader.id << " (" << leader.address << "), term "
          << leader.term << '\n';
  else
    c.out << "leader: none known\n";
  c.out << "transport: " << transport_summary(rows) << '\n';
}

int run_cluster_status(command_context& c) {
  auto first = c.api.status();
  if (!first.ok())
    return c.fail(first.err());
  auto rows = ask_members(c, *first);
  auto leader = find_leader(rows);
  // Replication progress as the leader sees it (only the leader knows).
  progress_map progress;
  for (const auto& rw : rows)
    if (rw.st && rw.st->role == "leader" && rw.st->id == leader.id)
      for (const auto& m : rw.st->members)
        progress[m.id] = m;
  if (c.json())
    print_status_json(c, *first, rows, leader, progress);
  else
    print_status_table(c, rows, leader, progress);
  if (leader.id == 0)
    return c.fail({errc::unavailable, "no reachable member knows a leader"});
  return exit_ok;
}

/// After an add: a warning on stderr when nothing that answers like a
/// Conflux node listens at the new member's address yet.
void warn_if_unreachable(command_context& c) {
  const auto& inv = c.inv;
  auto timeout = std::min(inv.global.timeout, std::chrono::milliseconds(2000));
  auto why = c.api.unreachable_reason(inv.node_address, timeout);
  if (!why)
    return;
  auto id = std::to_string(inv.node_id);
  // The start line a new node needs: its own node certificate under mutual
  // TLS (issued for its id), or the plain-text flag the cluster runs with.
  auto transport = inv.global.transport.tls()
                       ? " --tls-dir DIR2`, DIR2 holding its node certificate from "
                         "`conflux-cert node --ca CA_DIR --id " +
                             id + " --out DIR2`"
                       : std::string{" --insecure-plaintext`"};
  c.warn("warning: node " + id + " is not reachable at " + inv.node_address +
         " yet: " + inv.node_address + " " + *why +
         "; start it there with `conflux-node --join --id " + id + " --listen " +
         inv.node_address + " --data DIR" + transport + " (until it answers, it cannot " +
         (inv.learner ? "catch up" : "catch up and become a voter") +
         "), or, if the address is wrong, take it out with `conflux cluster remove " +
         id + "`");
}

int run_cluster_add(command_context& c) {
  const auto& inv = c.inv;
  auto code = c.then(
      c.api.add_member(inv.node_id, inv.node_address, inv.learner),
      [&](std::uint64_t index) {
        c.report({{"added", inv.node_id},
                  {"address", inv.node_address},
                  {"kind", inv.learner ? "learner" : "joining"},
                  {"config_index", index}},
                 "added node " + std::to_string(inv.node_id) + " (" + inv.node_address +
                     ") as " +
                     (inv.learner
                          ? "a learner (it never votes)"
                          : "joining: it becomes a voter once it has caught up") +
                     "; configuration at index " + std::to_string(index) + "\n");
      });
  if (code == exit_ok) {
    c.out.flush();
    warn_if_unreachable(c);
  }
  return code;
}

int run_cluster_remove(command_context& c) {
  auto id = c.inv.node_id;
  return c.then(c.api.remove_member(id), [&](std::uint64_t index) {
    c.report({{"removed", id}, {"config_index", index}},
             "removed node " + std::to_string(id) + "; configuration at index " +
                 std::to_string(index) + " (its process can be stopped now)\n");
  });
}

int run_cluster_transfer(command_context& c) {
  auto id = c.inv.node_id;
  return c.then(c.api.transfer_leader(id), [&](std::uint64_t term) {
    c.report({{"leader", id}, {"term", term}}, "node " + std::to_string(id) +
                                                   " is the leader (term " +
                                                   std::to_string(term) + ")\n");
  });
}

struct member_args {
  std::string node_id;
  std::string address;
  bool learner = false;
};

/// add / remove / transfer-leader: an ID, and for add an ADDRESS.
void register_member_command(command_registry& r, CLI::App* group,
                             const std::string& name, const std::string& help,
                             command_kind kind, run_function run) {
  auto a = std::make_shared<member_args>();
  bool add = kind == command_kind::cluster_add;
  auto* cmd =
      r.command(group, name, help, kind, run,
                [a, add](parse_context& ctx) -> std::optional<parse_outcome> {
                  auto id = parse_node_id(a->node_id);
                  if (!id.ok())
                    return ctx.fail(id.err());
                  ctx.inv.node_id = *id;
                  if (!add)
                    return std::nullopt;
                  auto addr = parse_endpoints(a->address);
                  if (!addr.ok() || addr->size() != 1 ||
                      a->address.size() > raft::max_address_size)
                    return ctx.fail(error{
                        errc::invalid_argument,
                        "ADDRESS '" + a->address +
                            "' is not one HOST:PORT; give the address the new node "
                            "listens on (its --listen), e.g. 127.0.0.1:7104"});
                  ctx.inv.node_address = a->address;
                  ctx.inv.learner = a->learner;
                  return std::nullopt;
                });
  cmd->add_option("ID", a->node_id, "node id")->required();
  if (add) {
    cmd->add_option("ADDRESS", a->address, "HOST:PORT")->required();
    cmd->add_flag("--learner", a->learner, "add as a non-voting learner");
  }
}

} // namespace

void register_cluster_commands(command_registry& r) {
  auto* group = r.group("cluster", "cluster membership and health");
  r.command(group, "status",
            "every member's role, term, commit and applied index, and the leader",
            command_kind::cluster_status, run_cluster_status);
  register_member_command(
      r, group, "add",
      "add a member: it catches up as a non-voter, then becomes a voter "
      "(start it with conflux-node --join)",
      command_kind::cluster_add, run_cluster_add);
  register_member_command(r, group, "remove",
                          "remove a member (a leader hands leadership over first)",
                          command_kind::cluster_remove, run_cluster_remove);
  register_member_command(r, group, "transfer-leader",
                          "hand leadership to a voter; returns once it leads",
                          command_kind::cluster_transfer, run_cluster_transfer);
}

} // namespace conflux::cli
