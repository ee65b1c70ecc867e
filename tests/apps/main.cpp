#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#ifdef CONFLUX_CLI_CLIENT_TESTS
#include "tests/apps/cli_client_fixture.hpp"
#endif

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
#ifdef CONFLUX_CLI_CLIENT_TESTS
  // The actor systems must be gone before exit handlers run (CAF statics).
  conflux::clitest::shutdown_actor_systems();
#endif
  return rc;
}
