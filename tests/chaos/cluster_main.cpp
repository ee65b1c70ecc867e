// main of the `chaos`-label tests: runs doctest, then destroys the client
// runtime (a CAF actor system) before static destruction begins.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

namespace conflux::chaos::test {
void shutdown_runtime();
}

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  conflux::chaos::test::shutdown_runtime();
  return rc;
}
