#include "storage/mutant.hpp"

#ifdef CONFLUX_MUTANTS
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#endif

namespace conflux::storage {

#ifdef CONFLUX_MUTANTS
bool mutant_active(const char* name) {
  const char* m = std::getenv("CONFLUX_MUTANT");
  if (m == nullptr || std::strcmp(m, name) != 0)
    return false;
  static std::atomic<bool> told{false};
  if (!told.exchange(true))
    std::fprintf(stderr,
                 "conflux: MUTANT BUILD: '%s' is active (deliberately broken for the "
                 "power-cut check; never run this build for real)\n",
                 name);
  return true;
}
#else
bool mutant_active(const char*) {
  return false;
}
#endif

} // namespace conflux::storage
