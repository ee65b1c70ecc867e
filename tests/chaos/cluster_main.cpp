// main of the `chaos`-label tests. Each test owns its cluster's client runtime
// (a CAF actor system, with a client certificate of that cluster), so nothing
// outlives the tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
