// netns_tests: kernel-level tests of common/nl and common/ns. Run as root. Every test works inside its own
// freshly created network namespaces; ctest compares the root namespace before the first and after the
// last case (root_guard.py, a fixture in tests/CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
