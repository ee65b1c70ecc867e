#define DOCTEST_CONFIG_IMPLEMENT
#include "tests/integration/cluster.hpp"

#include <atomic>
#include <doctest/doctest.h>

namespace conflux::itest {

namespace {

std::atomic<bool> g_failed{false};

/// Remembers whether an assertion of the running test case failed, so the
/// cluster fixture can keep its temp dir and print the node logs.
struct failure_listener : doctest::IReporter {
  explicit failure_listener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { g_failed = false; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {
    g_failed = true;
  }
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& ad) override {
    if (ad.m_failed)
      g_failed = true;
  }
  void log_message(const doctest::MessageData& md) override {
    // FAIL / FAIL_CHECK (not MESSAGE / WARN).
    if ((md.m_severity &
         (doctest::assertType::is_check | doctest::assertType::is_require)) != 0)
      g_failed = true;
  }
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

} // namespace

bool current_test_failed() {
  return g_failed.load();
}

} // namespace conflux::itest

REGISTER_LISTENER("conflux_itest_failures", 1, conflux::itest::failure_listener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  // The client runtime's actor system must be gone before exit handlers run:
  // destroying it from a static destructor touched CAF statics already torn
  // down (heap corruption at exit).
  conflux::itest::shutdown_runtime();
  return rc;
}
