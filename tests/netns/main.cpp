// netns_tests: kernel-level tests of common/nl and common/ns. Run as root. Every test works inside its own
// freshly created network namespaces; zz_root_unchanged.cpp checks the root namespace was left alone.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
