// README §1 and §7: custom types, std::optional/std::variant adapters, error category.
#include "msgs.hpp"

#include <cassert>
#include <iostream>

namespace cfx {
std::string to_string(errc x) {
  switch (x) {
  case errc::not_leader:
    return "not_leader";
  case errc::not_found:
    return "not_found";
  case errc::precondition_failed:
    return "precondition_failed";
  }
  return "errc?";
}
} // namespace cfx

using namespace caf;
using namespace cfx;

struct config : actor_system_config {
  config() {
    add_message_types<id_block::conflux>();
#ifdef USE_TEMPLATE_ERROR_CATEGORY
    add_error_category<cfx::errc>(atom("conflux"));
#else
    // renderer type is std::function<std::string(uint8_t, atom_value, const message&)>
    add_error_category(atom("conflux"),
                       [](uint8_t code, atom_value, const message& ctx) {
                         return "conflux::" + to_string(static_cast<errc>(code)) +
                                (ctx.empty() ? "" : to_string(ctx));
                       });
#endif
  }
};

kv_actor::behavior_type kv(kv_actor::pointer) {
  return {
      [=](const put_req& r) -> result<put_resp> {
        if (r.key.empty())
          return make_error(errc::not_found, "empty key");
        if (r.if_revision && *r.if_revision != 7)
          return error{errc::precondition_failed}; // implicit conversion also works
        return put_resp{42, ""};
      },
      [=](const ping& p) { return p.seq; },
  };
}

void caf_main(actor_system& sys, const config&) {
  put_req a;
  a.key = "app/db";
  a.value = {1, 2, 3};
  a.blob = std::string("\x81\xa1k\x01", 4);
  a.if_revision = 7;
  a.labels = {{"canary", "true"}, {"region", "eu"}};
  a.ref = std::string("v3");
  a.cons = consistency::serializable;
  binary_serializer::container_type buf;
  binary_serializer sink{sys, buf};
  if (auto err = sink(a)) {
    std::cerr << "ser: " << sys.render(err) << '\n';
    return;
  }
  put_req b;
  binary_deserializer source{sys, buf};
  if (auto err = source(b)) {
    std::cerr << "de: " << sys.render(err) << '\n';
    return;
  }
  assert(b.key == a.key && b.value == a.value && b.blob == a.blob);
  assert(b.if_revision && *b.if_revision == 7);
  assert(b.labels == a.labels && std::get<std::string>(b.ref) == "v3");
  assert(b.cons == consistency::serializable);
  std::cout << "roundtrip ok, " << buf.size() << " bytes: " << deep_to_string(a)
            << '\n';
  // empty optional + other variant alternative
  a.if_revision.reset();
  a.ref = uint64_t{9};
  buf.clear();
  binary_serializer sink2{sys, buf};
  sink2(a);
  binary_deserializer source2{sys, buf};
  source2(b);
  assert(!b.if_revision && std::get<uint64_t>(b.ref) == 9);
  std::cout << "roundtrip2 ok: " << deep_to_string(b) << '\n';

  // errors through request/response (in-process here, remote in p3)
  auto h = sys.spawn(kv);
  scoped_actor self{sys};
  put_req bad; // empty key
  self->request(h, std::chrono::seconds(1), bad)
      .receive([](const put_resp&) { std::cout << "unexpected ok\n"; },
               [&](const error& e) {
                 std::cout << "error: category=" << to_string(e.category())
                           << " code=" << int(e.code()) << " render=" << sys.render(e)
                           << '\n';
                 assert(e.category() == atom("conflux") &&
                        e.code() == uint8_t(errc::not_found));
               });
  put_req pre = a;
  pre.key = "k";
  pre.if_revision = 3;
  self->request(h, std::chrono::seconds(1), pre)
      .receive(
          [](const put_resp&) {},
          [&](const error& e) { std::cout << "error: " << sys.render(e) << '\n'; });
  self->request(h, std::chrono::seconds(1), ping{5, ""})
      .receive(
          [](uint64_t s) { std::cout << "ping -> " << s << '\n'; },
          [&](const error& e) { std::cout << "error: " << sys.render(e) << '\n'; });
  anon_send_exit(h, exit_reason::user_shutdown);
}

CAF_MAIN()
