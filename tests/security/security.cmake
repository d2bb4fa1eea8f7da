# Abuse tests (issue 15): hostile clients against a running server, each followed by a normal request.
lt_add_test(NAME security_test
  SOURCES
    security/framing_test.cpp
    security/timeout_test.cpp
    security/fd_exhaustion_test.cpp
    security/connections_per_ip_test.cpp
    security/hardening_abuse_test.cpp
  LIBS lt_app)
add_dependencies(security_test leaky-tokens)
