# Used by scripts/fuzz.sh only while the top-level CMakeLists.txt does not add tests/fuzz itself:
# includes it once the top-level directory has defined the libraries.
if(CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR AND NOT OVL_FUZZ_WIRED)
  set(OVL_FUZZ_WIRED TRUE)
  set(OVL_FUZZ_LISTFILE ${CMAKE_CURRENT_LIST_DIR}/CMakeLists.txt)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL include ${OVL_FUZZ_LISTFILE})
endif()
