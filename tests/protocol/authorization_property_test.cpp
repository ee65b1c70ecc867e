// A property test of authorization at apply: seeded random (operation, role
// set, key) triples go through the real state machine and through a
// reference model of the permission rules written here, deliberately simple
// and independent of protocol/auth.cpp; both must give the same answer (ok,
// permission_denied or unauthenticated) every time.
//
// The model, from docs/security.md ("Authorization"):
//  * a missing, unknown, expired or revoked token: unauthenticated, whatever
//    the operation;
//  * a pattern covers a key when each of its segments equals the key's
//    segment at that position or is "*" (a shorter pattern covers the keys
//    below it);
//  * the permissions on a key are those of every grant that covers it;
//  * create_config, create_version need write; update_release_rules needs
//    release; publish write and release; delete_config, delete_versions
//    delete; open_session only a valid token; create_token and set_tenant
//    cluster-admin (granted on "*");
//  * put_role needs cluster-admin, or: no cluster-wide permission in the role
//    and admin on a pattern that covers every key the role's grant covers.
//  * the rule that the last live cluster-admin may not be revoked or lose the
//    permission never decides here: root holds cluster-admin throughout, and
//    the trials only create roles and change the roles of "p".
//
// Every operation is set up (by the bootstrap principal) so that it succeeds
// when permitted, so "ok" means the command was applied.

#include "protocol/codec.hpp"
#include "protocol/memory_state.hpp"
#include "protocol/sha256.hpp"
#include "protocol/state_machine.hpp"

#include <doctest/doctest.h>
#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace conflux;

namespace {

// -- the reference model -------------------------------------------------------

namespace model {

enum class answer { ok, permission_denied, unauthenticated };

const char* name(answer a) {
  switch (a) {
  case answer::ok:
    return "ok";
  case answer::permission_denied:
    return "permission_denied";
  case answer::unauthenticated:
    return "unauthenticated";
  }
  return "?";
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '/')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

bool covers(const std::string& pattern, const std::string& key) {
  auto p = split(pattern);
  auto k = split(key);
  if (p.size() > k.size())
    return false;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] != "*" && p[i] != k[i])
      return false;
  return true;
}

// "Every key inner covers, outer covers", checked on keys built from the
// literal segments of both patterns plus one segment neither names: any key
// is covered alike by both patterns as one of these keys.
bool covers_all_of(const std::string& outer, const std::string& inner) {
  std::vector<std::set<std::string>> choices(4, std::set<std::string>{"zz-other"});
  for (auto* p : {&outer, &inner}) {
    auto segs = split(*p);
    for (std::size_t i = 0; i < segs.size(); ++i)
      if (segs[i] != "*")
        choices[i].insert(segs[i]);
  }
  for (auto& a : choices[0])
    for (auto& b : choices[1])
      for (auto& c : choices[2])
        for (auto& d : choices[3]) {
          auto key = a + "/" + b + "/" + c + "/" + d;
          if (covers(inner, key) && !covers(outer, key))
            return false;
        }
  return true;
}

struct grant {
  std::string pattern;
  std::uint32_t perms;
};

using roles = std::vector<std::vector<grant>>;

std::uint32_t perms_on(const roles& rs, const std::string& key) {
  std::uint32_t out = 0;
  for (auto& r : rs)
    for (auto& g : r)
      if (covers(g.pattern, key))
        out |= g.perms;
  return out;
}

bool is_cluster_admin(const roles& rs) {
  for (auto& r : rs)
    for (auto& g : r)
      if (g.pattern == "*" && (g.perms & auth::cluster_admin))
        return true;
  return false;
}

} // namespace model

// -- the random universe ---------------------------------------------------------

enum class op {
  create_config,
  create_version,
  update_release_rules,
  publish,
  delete_config,
  delete_versions,
  open_session,
  create_token,
  set_tenant,
  put_role,
  count
};

const char* op_name(op o) {
  const char* names[] = {"create_config", "create_version", "update_release_rules",
                         "publish",       "delete_config",  "delete_versions",
                         "open_session",  "create_token",   "set_tenant",
                         "put_role"};
  return names[static_cast<int>(o)];
}

enum class token_state { valid, none, unknown, expired, revoked, count };

const std::vector<std::string> keys = [] {
  std::vector<std::string> out;
  for (auto t : {"acme", "acmeco", "Acme", "beta"})
    for (auto a : {"pay", "payroll"})
      for (auto e : {"prod", "dev"})
        out.push_back(std::string{t} + "/" + a + "/" + e + "/db");
  return out;
}();

const std::vector<std::string> patterns{
    "*",           "acme",        "acme/pay",     "acme/payroll",
    "acme/*/prod", "*/pay",       "*/*/dev",      "acme/pay/prod/db",
    "Acme",        "beta/*/*/db", "acmeco/pay",   "*/payroll/prod",
    "acme/*/*/*",  "beta",        "*/pay/prod/db"};

constexpr std::uint32_t key_perms[] = {auth::read, auth::write,       auth::release,
                                       auth::del,  auth::read_secret, auth::admin};

std::string credential_of(const std::string& name) {
  return auth::token_hash("cfx_" + sha256_hex(name));
}

class harness {
public:
  explicit harness(std::uint64_t seed) : rng_(seed) {
    check(apply(bootstrap_auth{"root", credential_of("root")}, ""), "bootstrap");
    // The pool of roles the trials draw their role sets from.
    for (int i = 0; i < 24; ++i) {
      auth::role r;
      r.name = "pool-" + std::to_string(i);
      std::vector<model::grant> mg;
      int n = 1 + static_cast<int>(rng_() % 3);
      for (int g = 0; g < n; ++g) {
        auto gr = random_grant(true);
        r.grants.push_back(gr);
        mg.push_back({gr.pattern, gr.perms});
      }
      check(as_root(put_role{r, false}), "pool role");
      pool_.push_back({r.name, mg});
    }
    check(as_root(create_token{"p", credential_of("p"), {}, 0}), "token p");
    check(as_root(create_token{"expired", credential_of("expired"), {"pool-0"}, 1}),
          "token expired");
    check(as_root(create_token{"revoked", credential_of("revoked"), {"pool-0"}, 0}),
          "token revoked");
    check(as_root(revoke_token{"revoked"}), "revoke");
    now_ms_ += 1'000; // "expired" expired
  }

  // How often each answer came, to show the trials exercise all three.
  std::map<model::answer, int> answers;

  // One trial; returns a description of the mismatch, or "" if none.
  std::string trial(int n) {
    // The role set of "p".
    std::vector<std::string> names;
    model::roles roles;
    std::size_t count = rng_() % 4;
    for (std::size_t i = 0; i < count; ++i) {
      auto& r = pool_[rng_() % pool_.size()];
      names.push_back(r.first);
      roles.push_back(r.second);
    }
    if (names != current_roles_) {
      check(as_root(set_token_roles{"p", names}), "set roles");
      current_roles_ = names;
    }
    auto ts = static_cast<token_state>(
        rng_() % 10 < 6 ? 0 : rng_() % static_cast<int>(token_state::count));
    auto o = static_cast<op>(rng_() % static_cast<int>(op::count));
    auto& key = keys[rng_() % keys.size()];

    // Set up the state so that the command succeeds if it is permitted, and
    // build it.
    command cmd;
    std::vector<model::grant> new_role;
    switch (o) {
    case op::create_config:
      if (exists(key)) {
        check(as_root(delete_config{key, std::nullopt, true}), "setup delete");
        existing_.erase(key);
      }
      cmd = create_config{key, content_format::text, std::nullopt, "x", "", ""};
      break;
    case op::create_version:
      ensure(key);
      cmd = create_version{key, "v", "", "", std::nullopt};
      break;
    case op::update_release_rules:
      ensure(key);
      cmd = update_release_rules{key, {}, "", std::nullopt};
      break;
    case op::publish:
      ensure(key);
      cmd = publish{key, "p", "", "", {}, std::nullopt, ""};
      break;
    case op::delete_config:
      ensure(key);
      cmd = delete_config{key, std::nullopt, true};
      break;
    case op::delete_versions: {
      ensure(key);
      auto r = as_root(create_version{key, "d", "", "", std::nullopt});
      check(r, "setup version");
      cmd = delete_versions{key, {r.version}, std::nullopt};
      break;
    }
    case op::open_session:
      cmd = open_session{60'000,
                         0x1000'0000'0000'0000ULL + static_cast<std::uint64_t>(n)};
      break;
    case op::create_token: {
      auto name = "t-" + std::to_string(n);
      cmd = create_token{name, credential_of(name), {}, 0};
      break;
    }
    case op::set_tenant:
      cmd = set_tenant{std::string{auth::tenant_of(key)}, 0, 0, 0, 0};
      break;
    case op::put_role: {
      auth::role r;
      r.name = "r-" + std::to_string(n);
      auto g = random_grant(rng_() % 8 == 0);
      r.grants.push_back(g);
      new_role.push_back({g.pattern, g.perms});
      cmd = put_role{r, false};
      break;
    }
    case op::count:
      break;
    }

    std::string credential;
    switch (ts) {
    case token_state::valid:
      credential = credential_of("p");
      break;
    case token_state::none:
      break;
    case token_state::unknown:
      credential = credential_of("nobody");
      break;
    case token_state::expired:
      credential = credential_of("expired");
      break;
    case token_state::revoked:
      credential = credential_of("revoked");
      break;
    case token_state::count:
      break;
    }

    auto expected = model_answer(ts, o, roles, key, new_role);
    auto r = apply(std::move(cmd), credential);
    model::answer got;
    if (r.ok())
      got = model::answer::ok;
    else if (r.err->code == errc::permission_denied)
      got = model::answer::permission_denied;
    else if (r.err->code == errc::unauthenticated)
      got = model::answer::unauthenticated;
    else
      return describe(n, o, key, names, ts) + ": refused " + to_string(*r.err);
    ++answers[got];
    if (got != expected)
      return describe(n, o, key, names, ts) + ": state machine says " +
             model::name(got) + ", the model " + model::name(expected) +
             (r.ok() ? std::string{} : " (" + r.err->message + ")");
    if (o == op::create_config && got == model::answer::ok)
      existing_.insert(key);
    if (o == op::delete_config && got == model::answer::ok)
      existing_.erase(key);
    return {};
  }

private:
  static model::answer model_answer(token_state ts, op o, const model::roles& roles,
                                    const std::string& key,
                                    const std::vector<model::grant>& new_role) {
    using model::answer;
    if (ts != token_state::valid)
      return answer::unauthenticated;
    auto on = model::perms_on(roles, key);
    auto need = [&](std::uint32_t p) {
      return (on & p) == p ? answer::ok : answer::permission_denied;
    };
    bool cluster_admin = model::is_cluster_admin(roles);
    switch (o) {
    case op::create_config:
    case op::create_version:
      return need(auth::write);
    case op::update_release_rules:
      return need(auth::release);
    case op::publish:
      return need(auth::write | auth::release);
    case op::delete_config:
    case op::delete_versions:
      return need(auth::del);
    case op::open_session:
      return answer::ok;
    case op::create_token:
    case op::set_tenant:
      return cluster_admin ? answer::ok : answer::permission_denied;
    case op::put_role: {
      if (cluster_admin)
        return answer::ok;
      for (auto& g : new_role) {
        if (g.perms & (auth::cluster_admin | auth::auditor))
          return answer::permission_denied;
        bool ok = false;
        for (auto& r : roles)
          for (auto& mine : r)
            ok = ok || ((mine.perms & auth::admin) &&
                        model::covers_all_of(mine.pattern, g.pattern));
        if (!ok)
          return answer::permission_denied;
      }
      return answer::ok;
    }
    case op::count:
      break;
    }
    return answer::unauthenticated;
  }

  // A valid grant: key permissions on any pattern; with `cluster`, sometimes
  // cluster-wide ones on "*".
  auth::grant random_grant(bool cluster) {
    auth::grant g;
    if (cluster && rng_() % 5 == 0) {
      g.pattern = "*";
      g.perms = rng_() % 2 ? auth::cluster_admin : auth::auditor;
      if (rng_() % 2)
        g.perms |= key_perms[rng_() % std::size(key_perms)];
      return g;
    }
    g.pattern = patterns[rng_() % patterns.size()];
    while (g.perms == 0)
      for (auto p : key_perms)
        if (rng_() % 3 == 0)
          g.perms |= p;
    return g;
  }

  std::string describe(int n, op o, const std::string& key,
                       const std::vector<std::string>& roles, token_state ts) const {
    std::ostringstream out;
    out << "trial " << n << ": " << op_name(o) << " on " << key << " with token state "
        << static_cast<int>(ts) << " and roles [";
    for (auto& r : roles) {
      out << " " << r << "{";
      for (auto& p : pool_)
        if (p.first == r)
          for (auto& g : p.second)
            out << g.pattern << ":" << auth::permissions_to_string(g.perms) << " ";
      out << "}";
    }
    out << " ]";
    return out.str();
  }

  bool exists(const std::string& key) const { return existing_.count(key) != 0; }

  void ensure(const std::string& key) {
    if (exists(key))
      return;
    check(as_root(create_config{key, content_format::text, std::nullopt, "x", "", ""}),
          "setup create");
    existing_.insert(key);
  }

  apply_result apply(command cmd, const std::string& credential) {
    raft::log_entry e;
    e.index = ++index_;
    e.term = 1;
    e.timestamp_ms = now_ms_;
    e.data = codec::encode(command_envelope{0, 0, std::move(cmd), "", credential});
    auto r = sm_.apply(st_, e);
    REQUIRE_MESSAGE(r.ok(), to_string(r.ok() ? error{} : r.err()));
    return *r;
  }

  apply_result as_root(command cmd) {
    return apply(std::move(cmd), credential_of("root"));
  }

  static void check(const apply_result& r, const char* what) {
    REQUIRE_MESSAGE(r.ok(),
                    what << ": " << (r.ok() ? std::string{} : to_string(*r.err)));
  }

  std::mt19937_64 rng_;
  memory_state st_;
  state_machine sm_;
  std::uint64_t index_ = 0;
  std::int64_t now_ms_ = 1'700'000'000'000;
  std::vector<std::pair<std::string, std::vector<model::grant>>> pool_;
  std::vector<std::string> current_roles_;
  std::set<std::string> existing_;
};

} // namespace

TEST_CASE("the_reference_model_covers_keys_and_patterns_as_documented") {
  // The model itself, on the cases the docs spell out.
  CHECK(model::covers("acme/pay", "acme/pay/prod/db"));
  CHECK_FALSE(model::covers("acme/pay", "acme/payroll/prod/db"));
  CHECK_FALSE(model::covers("acme", "Acme/pay/prod/db"));
  CHECK(model::covers_all_of("acme", "acme/pay"));
  CHECK_FALSE(model::covers_all_of("acme/pay", "acme"));
  CHECK_FALSE(model::covers_all_of("acme", "*/pay"));
  CHECK(model::covers_all_of("*/pay", "acme/pay/prod"));
}

TEST_CASE("random_operations_get_the_answers_of_a_reference_permission_model") {
  constexpr std::uint64_t seed = 20261207;
  constexpr int trials = 100'000;
  harness h{seed};
  for (int n = 0; n < trials; ++n) {
    auto mismatch = h.trial(n);
    REQUIRE_MESSAGE(mismatch.empty(), "seed " << seed << ", " << mismatch);
  }
  // Each answer is a sizeable share of the trials, so that agreeing cannot
  // come from a generator that only ever produces one of them.
  for (auto a : {model::answer::ok, model::answer::permission_denied,
                 model::answer::unauthenticated})
    CHECK_MESSAGE(h.answers[a] > trials / 10, model::name(a) << ": " << h.answers[a]);
}
