// conflux-powercut: rolls a data root back to what a power cut would have left,
// from the journal the LD_PRELOAD shim wrote (docs/chaos.md, "Power cuts").
//
//   conflux-powercut rollback --journal FILE --root DIR [--torn SEED]
//
// Run it only after the traced process is gone. Exit 0: rolled back (the
// counts on stdout, one JSON object); 1: the roll-back failed (why on
// stderr; the root is then in an undefined state); 2: bad arguments.
#include "apps/chaos/powercut/journal.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int usage(const char* why) {
  std::fprintf(
      stderr,
      "conflux-powercut: %s\n"
      "usage: conflux-powercut rollback --journal FILE --root DIR [--torn SEED]\n",
      why);
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "rollback") != 0)
    return usage("the only command is rollback");
  conflux::powercut::rollback_options opts;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return usage(("missing value after " + a).c_str());
    std::string v = argv[++i];
    if (a == "--journal") {
      opts.journal = v;
    } else if (a == "--root") {
      opts.root = v;
    } else if (a == "--torn") {
      char* end = nullptr;
      opts.seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0')
        return usage("--torn needs a number (the seed of the pages kept)");
      opts.mode = conflux::powercut::cut_mode::torn;
    } else {
      return usage(("unknown option " + a).c_str());
    }
  }
  if (opts.journal.empty() || opts.root.empty())
    return usage("--journal and --root are required");
  auto rep = conflux::powercut::rollback(opts);
  for (const auto& w : rep.warnings)
    std::fprintf(stderr, "conflux-powercut: warning: %s\n", w.c_str());
  if (!rep.ok) {
    std::fprintf(stderr, "conflux-powercut: %s\n", rep.error.c_str());
    return 1;
  }
  std::printf("{\"records\": %llu, \"undone_data\": %llu, \"undone_meta\": %llu, "
              "\"durable\": %llu, \"kept_pages\": %llu, \"lost_pages\": %llu, "
              "\"bytes_restored\": %llu}\n",
              static_cast<unsigned long long>(rep.records),
              static_cast<unsigned long long>(rep.undone_data),
              static_cast<unsigned long long>(rep.undone_meta),
              static_cast<unsigned long long>(rep.durable),
              static_cast<unsigned long long>(rep.kept_pages),
              static_cast<unsigned long long>(rep.lost_pages),
              static_cast<unsigned long long>(rep.bytes_restored));
  return 0;
}
