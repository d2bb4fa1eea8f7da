# The first hour of a new user (issue 16): shell tests of the real executable against a fresh server.
# README's "Try it" block = scripts/try-it.sh, and it runs as written (twice).
add_test(NAME try_it_readme_test
  COMMAND ${PROJECT_SOURCE_DIR}/tests/first_hour/try_it_test.sh $<TARGET_FILE:leaky-tokens>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(try_it_readme_test PROPERTIES TIMEOUT 120)
# Messages a person understands: empty Bearer token, port in use, usage errors, did-you-mean, profiles.
add_test(NAME first_hour_messages_test
  COMMAND ${PROJECT_SOURCE_DIR}/tests/first_hour/messages_test.sh $<TARGET_FILE:leaky-tokens>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(first_hour_messages_test PROPERTIES TIMEOUT 120)
# The CLI admin verbs against a running server: output, --json and exit codes.
add_test(NAME cli_admin_verbs_test
  COMMAND ${PROJECT_SOURCE_DIR}/tests/first_hour/cli_admin_test.sh $<TARGET_FILE:leaky-tokens>
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_admin_verbs_test PROPERTIES TIMEOUT 120)
# The /admin console in Debian's Chromium (playwright-core); screenshots in build/test-artifacts/.
add_test(NAME console_browser_test
  COMMAND ${PROJECT_SOURCE_DIR}/tests/console/run.sh $<TARGET_FILE:leaky-tokens> ${PROJECT_BINARY_DIR}/test-artifacts
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(console_browser_test PROPERTIES TIMEOUT 180)
