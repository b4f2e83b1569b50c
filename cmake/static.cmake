# Fully static programs (OVL_STATIC, the default): glibc, libstdc++ and every C library linked in, so that a
# binary runs on any x86_64 Linux whatever its userland. Debian's static archives serve where they exist;
# scripts/build-static-deps.sh builds the rest (libcurl with c-ares) into a cache outside the
# clone, and CMake asks it where (OVL_STATIC_DEPS).
#
# ovl_pkg(<name> <module>...)  an INTERFACE target ovl::<name> for pkg-config modules: their static link flags
#                              in a static build, the shared libraries otherwise.
# ovl_link_programs()          after every add_subdirectory: links each executable -static (no libnftables:
#                              common/nfnl speaks nf_tables netlink itself).
#
# The linker still warns "Using 'X' in statically linked applications requires at runtime the shared
# libraries from the glibc version used for linking" for functions that sit in an object file we link for
# something else, and that no path of ours calls (tests/e2e/test_static.py traces every run and fails on an
# open of a shared object or an NSS database):
#   getaddrinfo, gethostbyname  libcrypto's bio_addr.o/bio_sock.o (BIO_lookup, BIO_s_connect): libcurl makes
#                               its own sockets and resolves with c-ares.
#   dlopen                      libcrypto's dso_dlfcn.o: engine and provider modules named by openssl.cnf or
#                               OPENSSL_CONF; libcurl is built not to load openssl.cnf, and we load none.
#   getservbyname, getservbyport_r   c-ares: libcurl passes numeric ports (ARES_AI_NUMERICSERV) and never
#                               calls ares_getnameinfo.
#   getaddrinfo, getprotobyname/number  libnl's addr.o/utils.o: nl_addr_info and protocol-name conversions
#                               for dumps; we parse addresses numerically and dump nothing.
#   get{proto,serv}by*, end*ent libldns's str2host.o/host2str.o: only for WKS and service records; the
#                               resolver converts domain names only.

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
endif()

# Hot text (issue 17, peak RSS): the kernel maps a static binary's text and constants in 64 KiB blocks around
# each page touched, so code that runs and constants it reads, scattered over megabytes, cost megabytes.
# cmake/hot-text.ld (written by scripts/hot-text.sh from traced runs) places the functions the plugins execute
# first, and the constants and relocated tables they read at the start of .rodata and .data.rel.ro; our code
# and libstdc++ in function sections, the C libraries by archive member. A pattern that matches nothing in a
# program changes nothing. OVL_LINK_MAP writes <program>.map, which scripts/hot-text.sh reads.
option(OVL_HOT_TEXT "Link static programs with cmake/hot-text.ld (the executed code and read constants first)" ON)
option(OVL_LINK_MAP "Write a linker map next to each static program" OFF)
set(OVL_HOT_TEXT_SCRIPT ${PROJECT_SOURCE_DIR}/cmake/hot-text.ld)
if(OVL_STATIC AND OVL_HOT_TEXT)
  add_compile_options(-ffunction-sections)
endif()

# Debian's ldns.pc leaves out what libldns.a needs.
set(OVL_PKG_STATIC_EXTRA_ldns -lssl -lcrypto)

# The archive (full path) for each -l<name> of a static build; glibc's own -l stay (-static picks libc.a).
function(_ovl_archives out)
  set(_dirs "")
  set(_libs "")
  foreach(_f ${ARGN})
    if(_f MATCHES "^-L(.*)")
      list(APPEND _dirs ${CMAKE_MATCH_1})
    endif()
  endforeach()
  foreach(_f ${ARGN})
    if(_f MATCHES "^-l(pthread|m|dl|rt|c|resolv|anl)$" OR NOT _f MATCHES "^-l(.*)")
      if(NOT _f MATCHES "^-L")
        list(APPEND _libs ${_f})
      endif()
      continue()
    endif()
    set(_lib ${CMAKE_MATCH_1})
    # Our prefix first: Debian's own libcurl.a (HTTP/2, SSH, ...) must not shadow the reduced one. Asked
    # again at each configure: the prefix changes with the recipe.
    unset(OVL_ARCHIVE_${_lib} CACHE)
    find_library(OVL_ARCHIVE_${_lib} NAMES lib${_lib}.a PATHS ${_dirs} NO_DEFAULT_PATH)
    find_library(OVL_ARCHIVE_${_lib} NAMES lib${_lib}.a)
    if(NOT OVL_ARCHIVE_${_lib})
      message(FATAL_ERROR "OVL_STATIC: no static archive lib${_lib}.a")
    endif()
    list(APPEND _libs ${OVL_ARCHIVE_${_lib}})
  endforeach()
  set(${out} ${_libs} PARENT_SCOPE)
endfunction()

function(ovl_pkg name)
  unset(__pkg_config_checked_OVL_PKG_${name} CACHE)  # asked again: the prefix may have changed
  pkg_check_modules(OVL_PKG_${name} REQUIRED ${ARGN})
  add_library(ovl::${name} INTERFACE IMPORTED GLOBAL)
  if(OVL_STATIC)
    target_include_directories(ovl::${name} INTERFACE ${OVL_PKG_${name}_STATIC_INCLUDE_DIRS})
    target_compile_options(ovl::${name} INTERFACE ${OVL_PKG_${name}_STATIC_CFLAGS_OTHER})
    _ovl_archives(_archives ${OVL_PKG_${name}_STATIC_LDFLAGS} ${OVL_PKG_STATIC_EXTRA_${name}})
    target_link_libraries(ovl::${name} INTERFACE ${_archives})
  else()
    target_include_directories(ovl::${name} INTERFACE ${OVL_PKG_${name}_INCLUDE_DIRS})
    target_compile_options(ovl::${name} INTERFACE ${OVL_PKG_${name}_CFLAGS_OTHER})
    target_link_libraries(ovl::${name} INTERFACE ${OVL_PKG_${name}_LDFLAGS})
  endif()
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
  if(NOT OVL_STATIC)
    return()
  endif()
  _ovl_executables(${PROJECT_SOURCE_DIR} _exes)
  foreach(_t ${_exes})
    target_link_options(${_t} PRIVATE -static)
    if(OVL_HOT_TEXT)
      target_link_options(${_t} PRIVATE -ffunction-sections -Wl,-T,${OVL_HOT_TEXT_SCRIPT})
      set_property(TARGET ${_t} APPEND PROPERTY LINK_DEPENDS ${OVL_HOT_TEXT_SCRIPT})
    endif()
    if(OVL_LINK_MAP)
      target_link_options(${_t} PRIVATE -Wl,-Map=$<TARGET_FILE:${_t}>.map)
    endif()
  endforeach()
endfunction()
