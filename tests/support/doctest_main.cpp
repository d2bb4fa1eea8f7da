// The main of every test executable: doctest's runner, plus one rule. A run that executes no test
// case fails. ctest runs each discovered case as `exe --test-case=<name>`; a name that no longer
// matches (CMake splits names at ';', a case was renamed after discovery) would otherwise run
// nothing and pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

namespace {

/// Records how many test cases passed the filters of the run. Called by doctest on the test thread.
struct RunCounter : doctest::IReporter {
    static inline bool ended = false;   ///< a test run (not a query such as --list-test-cases) ended
    static inline unsigned ran = 0;     ///< test cases that passed the filters

    explicit RunCounter(const doctest::ContextOptions& /*options*/) {}
    void report_query(const doctest::QueryData& /*data*/) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        ended = true;
        ran = stats.numTestCasesPassingFilters;
    }
    void test_case_start(const doctest::TestCaseData& /*data*/) override {}
    void test_case_reenter(const doctest::TestCaseData& /*data*/) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& /*stats*/) override {}
    void test_case_exception(const doctest::TestCaseException& /*e*/) override {}
    void subcase_start(const doctest::SubcaseSignature& /*signature*/) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData& /*data*/) override {}
    void log_message(const doctest::MessageData& /*data*/) override {}
    void test_case_skipped(const doctest::TestCaseData& /*data*/) override {}
};

REGISTER_LISTENER("lt-run-counter", 1, RunCounter);

}  // namespace

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int result = context.run();
    if (context.shouldExit()) return result;
    if (RunCounter::ended && RunCounter::ran == 0) {
        std::cerr << "[lt] error: no test case matched the filters of this run (a test name containing ';' "
                     "is split by ctest's discovery: test names must not contain ';')\n";
        return result != 0 ? result : 1;
    }
    return result;
}
