# Fully static programs (OVL_STATIC, the default): glibc, libstdc++ and every C library linked in, so that a
# binary runs on any x86_64 Linux whatever its userland. Debian's static archives serve where they exist;
# scripts/build-static-deps.sh builds the rest (libcurl with c-ares, libnftables) into a cache outside the
# clone, and CMake asks it where (OVL_STATIC_DEPS).
#
# ovl_pkg(<name> <module>...)  an INTERFACE target ovl::<name> for pkg-config modules: their static link flags
#                              in a static build, the shared libraries otherwise.
# ovl_link_programs()          after every add_subdirectory: links each executable -static, except those that
#                              need libnftables when no static libnftables could be built (NO-LIBNFTABLES in
#                              the prefix says why); they are linked as before, against the shared library,
#                              and <build>/static-exceptions.json names them with the reason (tests/e2e/
#                              test_static.py excuses only these; without the file every program must be static).

set(OVL_STATIC_DEPS "" CACHE PATH "prefix of the static libraries; empty: ask scripts/build-static-deps.sh")
if(OVL_STATIC)
  set(_deps ${OVL_STATIC_DEPS})
  if(NOT _deps)  # asked at every configure: a new recipe or version is a new prefix
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/scripts/build-static-deps.sh)
    execute_process(COMMAND ${PROJECT_SOURCE_DIR}/scripts/build-static-deps.sh --print-prefix
                    OUTPUT_VARIABLE _deps OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "OVL_STATIC: the static dependencies are not built: run scripts/setup.sh, "
                          "or configure with -DOVL_STATIC=OFF")
    endif()
  endif()
  set(OVL_STATIC_DEPS_DIR ${_deps})
  set(ENV{PKG_CONFIG_PATH} "${OVL_STATIC_DEPS_DIR}/lib/pkgconfig")
  set(OVL_STATIC_NFT ON)
  if(EXISTS ${OVL_STATIC_DEPS_DIR}/NO-LIBNFTABLES)
    set(OVL_STATIC_NFT OFF)
    file(READ ${OVL_STATIC_DEPS_DIR}/NO-LIBNFTABLES _why)
    message(WARNING "No static libnftables: gwbridge and overlayctl stay dynamically linked.\n${_why}")
  endif()
endif()

# Debian's ldns.pc leaves out what libldns.a needs.
set(OVL_PKG_STATIC_EXTRA_ldns -lssl -lcrypto)

function(ovl_pkg name)
  unset(__pkg_config_checked_OVL_PKG_${name} CACHE)  # asked again: the prefix may have changed
  pkg_check_modules(OVL_PKG_${name} REQUIRED ${ARGN})
  add_library(ovl::${name} INTERFACE IMPORTED GLOBAL)
  if(OVL_STATIC AND NOT (name STREQUAL "nft" AND NOT OVL_STATIC_NFT))
    target_include_directories(ovl::${name} INTERFACE ${OVL_PKG_${name}_STATIC_INCLUDE_DIRS})
    target_compile_options(ovl::${name} INTERFACE ${OVL_PKG_${name}_STATIC_CFLAGS_OTHER})
    # ld searches every -L before the default directories whatever their order: a -L/usr/lib/... from one
    # module would let Debian's libcurl.a (HTTP/2, SSH, ...) shadow ours.
    set(_flags ${OVL_PKG_${name}_STATIC_LDFLAGS})
    list(FILTER _flags EXCLUDE REGEX "^-L/(usr/)?lib")
    target_link_libraries(ovl::${name} INTERFACE ${_flags} ${OVL_PKG_STATIC_EXTRA_${name}})
  else()
    target_include_directories(ovl::${name} INTERFACE ${OVL_PKG_${name}_INCLUDE_DIRS})
    target_compile_options(ovl::${name} INTERFACE ${OVL_PKG_${name}_CFLAGS_OTHER})
    target_link_libraries(ovl::${name} INTERFACE ${OVL_PKG_${name}_LDFLAGS})
  endif()
endfunction()

# Whether <target>'s link closure holds <lib> (targets only; plain flags are skipped).
function(_ovl_links target lib out)
  set(${out} FALSE PARENT_SCOPE)
  get_target_property(_type ${target} TYPE)
  set(_props INTERFACE_LINK_LIBRARIES)
  if(NOT _type STREQUAL "INTERFACE_LIBRARY")
    list(APPEND _props LINK_LIBRARIES)
  endif()
  foreach(_p ${_props})
    get_target_property(_deps ${target} ${_p})
    foreach(_d ${_deps})
      if(_d STREQUAL lib)
        set(${out} TRUE PARENT_SCOPE)
        return()
      endif()
      if(TARGET ${_d})
        _ovl_links(${_d} ${lib} _found)
        if(_found)
          set(${out} TRUE PARENT_SCOPE)
          return()
        endif()
      endif()
    endforeach()
  endforeach()
endfunction()

function(_ovl_executables dir out)
  get_property(_targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  set(_exes "")
  foreach(_t ${_targets})
    get_target_property(_type ${_t} TYPE)
    if(_type STREQUAL "EXECUTABLE")
      list(APPEND _exes ${_t})
    endif()
  endforeach()
  get_property(_subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(_s ${_subdirs})
    _ovl_executables(${_s} _more)
    list(APPEND _exes ${_more})
  endforeach()
  set(${out} ${_exes} PARENT_SCOPE)
endfunction()

function(ovl_link_programs)
  set(_manifest ${CMAKE_BINARY_DIR}/static-exceptions.json)
  file(REMOVE ${_manifest})
  if(NOT OVL_STATIC)
    return()
  endif()
  _ovl_executables(${PROJECT_SOURCE_DIR} _exes)
  set(_dynamic "")
  foreach(_t ${_exes})
    set(_static TRUE)
    if(NOT OVL_STATIC_NFT)
      _ovl_links(${_t} ovl::nft _static_blocked)
      if(_static_blocked)
        set(_static FALSE)
        get_target_property(_out ${_t} RUNTIME_OUTPUT_DIRECTORY)
        if(_out STREQUAL "${CMAKE_BINARY_DIR}/bin")  # a program, not a test
          list(APPEND _dynamic "\"${_t}\"")
        endif()
      endif()
    endif()
    if(_static)
      target_link_options(${_t} PRIVATE -static)
    endif()
  endforeach()
  if(_dynamic)
    file(READ ${OVL_STATIC_DEPS_DIR}/NO-LIBNFTABLES _why LIMIT 200)
    string(REGEX REPLACE "\n.*" "" _why "${_why}")
    list(JOIN _dynamic ", " _names)
    file(WRITE ${_manifest} "{\"dynamic\": [${_names}], \"reason\": \"no static libnftables: ${_why}\"}\n")
  endif()
endfunction()
