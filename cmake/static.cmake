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
  set(OVL_STATIC_NFT ON)
  if(EXISTS ${OVL_STATIC_DEPS_DIR}/NO-LIBNFTABLES)
    set(OVL_STATIC_NFT OFF)
    file(READ ${OVL_STATIC_DEPS_DIR}/NO-LIBNFTABLES _why)
    message(WARNING "No static libnftables: gwbridge and overlayctl stay dynamically linked.\n${_why}")
  endif()
endif()

# Debian's ldns.pc leaves out what libldns.a needs.
set(OVL_PKG_STATIC_EXTRA_ldns -lssl -lcrypto)

# The archive (full path) for each -l<name> of a static build, so that a program left dynamic still links
# every library but libnftables statically and needs nothing new from the node. glibc's own -l stay.
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
  if(OVL_STATIC AND NOT (name STREQUAL "nft" AND NOT OVL_STATIC_NFT))
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
    else()
      # Not PIE, like the static ones: the archives' ~22,000 relative relocations cost 1 ms per exec.
      target_link_options(${_t} PRIVATE -no-pie)
    endif()
  endforeach()
  if(_dynamic)
    file(READ ${OVL_STATIC_DEPS_DIR}/NO-LIBNFTABLES _why LIMIT 200)
    string(REGEX REPLACE "\n.*" "" _why "${_why}")
    list(JOIN _dynamic ", " _names)
    file(WRITE ${_manifest} "{\"dynamic\": [${_names}], \"reason\": \"no static libnftables: ${_why}\"}\n")
  endif()
endfunction()
