# CAF 0.17.6 (core, io, openssl), built from the upstream release tarball in
# third_party/caf/ with the patches in third_party/caf/patches/, as static
# libraries, at configure time. Every Conflux binary links this build and no
# other: see third_party/caf/README.md.
#
# The build lives in <build>/third_party/caf/{src,build,install}. It is redone
# when the tarball, a patch, the compiler or this file changes (a stamp holds
# the hash of all of them); ccache makes a redo of unchanged files cheap, as
# the paths stay the same.

set(caf_dir ${CMAKE_SOURCE_DIR}/third_party/caf)
set(caf_tarball ${caf_dir}/actor-framework_0.17.6.orig.tar.gz)
set(caf_tarball_sha256
    e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c)

if(NOT EXISTS ${caf_tarball})
  message(FATAL_ERROR "CAF: ${caf_tarball} is missing; it is part of the "
                      "repository (restore it with git checkout)")
endif()
file(SHA256 ${caf_tarball} caf_actual_sha256)
if(NOT caf_actual_sha256 STREQUAL caf_tarball_sha256)
  message(FATAL_ERROR
    "CAF: ${caf_tarball} has SHA-256 ${caf_actual_sha256}, expected "
    "${caf_tarball_sha256} (CAF 0.17.6 as Debian's source package carries "
    "it); restore the file with git checkout")
endif()

file(GLOB caf_patches ${caf_dir}/patches/*.patch)
list(SORT caf_patches)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${caf_tarball} ${caf_patches} ${CMAKE_CURRENT_LIST_FILE})

find_program(CAF_PATCH_PROGRAM patch REQUIRED)
find_package(OpenSSL REQUIRED)

# Everything the built libraries depend on goes into the stamp.
file(SHA256 ${CMAKE_CURRENT_LIST_FILE} caf_recipe_sha256)
set(caf_key "${caf_tarball_sha256};${caf_recipe_sha256};"
            "${CMAKE_CXX_COMPILER};${CMAKE_CXX_COMPILER_VERSION}")
foreach(p IN LISTS caf_patches)
  file(SHA256 ${p} h)
  get_filename_component(n ${p} NAME)
  string(APPEND caf_key ";${n}=${h}")
endforeach()
string(SHA256 caf_key "${caf_key}")

set(caf_root ${CMAKE_BINARY_DIR}/third_party/caf)
set(caf_src ${caf_root}/src)
set(caf_build ${caf_root}/build)
set(caf_install ${caf_root}/install)
set(caf_stamp ${caf_install}/conflux-caf.stamp)
set(caf_log ${caf_root}/build.log)

set(caf_stamped "")
if(EXISTS ${caf_stamp})
  file(READ ${caf_stamp} caf_stamped)
endif()

function(caf_step what)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  file(APPEND ${caf_log} "\n== ${what}\n${out}")
  if(NOT rc EQUAL 0)
    string(LENGTH "${out}" len)
    if(len GREATER 4000)
      math(EXPR from "${len} - 4000")
      string(SUBSTRING "${out}" ${from} 4000 out)
    endif()
    message(FATAL_ERROR "CAF: ${what} failed (full log: ${caf_log}):\n${out}")
  endif()
endfunction()

if(NOT caf_stamped STREQUAL caf_key)
  list(LENGTH caf_patches caf_patch_count)
  message(STATUS "CAF: building 0.17.6 from the tarball with "
                 "${caf_patch_count} patches (log: ${caf_log})")
  file(REMOVE_RECURSE ${caf_src} ${caf_build} ${caf_install})
  file(WRITE ${caf_log} "CAF build for Conflux\n")
  file(MAKE_DIRECTORY ${caf_root}/extract)
  file(ARCHIVE_EXTRACT INPUT ${caf_tarball} DESTINATION ${caf_root}/extract)
  file(RENAME ${caf_root}/extract/actor-framework-0.17.6 ${caf_src})
  file(REMOVE_RECURSE ${caf_root}/extract)
  foreach(p IN LISTS caf_patches)
    get_filename_component(n ${p} NAME)
    caf_step("patch ${n}" ${CAF_PATCH_PROGRAM} -d ${caf_src} -p1 --forward
             --batch --no-backup-if-mismatch -i ${p})
  endforeach()
  set(launcher "")
  if(CCACHE_PROGRAM)
    set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE_PROGRAM})
  endif()
  caf_step("configure" ${CMAKE_COMMAND} -S ${caf_src} -B ${caf_build} -G Ninja
    -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    ${launcher}
    -DCMAKE_INSTALL_PREFIX=${caf_install}
    -DCMAKE_INSTALL_LIBDIR=lib
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON
    -DCAF_BUILD_STATIC_ONLY=yes -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes
    -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes -DCAF_NO_OPENCL=yes
    -DCAF_NO_SUMMARY=yes -DCAF_LOG_LEVEL=QUIET)
  include(ProcessorCount)
  ProcessorCount(caf_jobs)
  if(DEFINED ENV{JOBS})
    set(caf_jobs $ENV{JOBS})
  endif()
  caf_step("build" ${CMAKE_COMMAND} --build ${caf_build} -j ${caf_jobs})
  caf_step("install" ${CMAKE_COMMAND} --install ${caf_build})
  file(WRITE ${caf_stamp} "${caf_key}")
  message(STATUS "CAF: built into ${caf_install}")
endif()

set(CAF_INCLUDE_DIR ${caf_install}/include)
foreach(lib core io openssl)
  set(caf_${lib}_archive ${caf_install}/lib/libcaf_${lib}_static.a)
  if(NOT EXISTS ${caf_${lib}_archive})
    message(FATAL_ERROR "CAF: ${caf_${lib}_archive} was not built; see ${caf_log}")
  endif()
endforeach()

add_library(CAF::core STATIC IMPORTED)
set_target_properties(CAF::core PROPERTIES
  IMPORTED_LOCATION ${caf_core_archive}
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
  INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(CAF::io STATIC IMPORTED)
set_target_properties(CAF::io PROPERTIES
  IMPORTED_LOCATION ${caf_io_archive}
  INTERFACE_LINK_LIBRARIES CAF::core)
add_library(CAF::openssl STATIC IMPORTED)
set_target_properties(CAF::openssl PROPERTIES
  IMPORTED_LOCATION ${caf_openssl_archive}
  INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL;OpenSSL::Crypto")

# No CAF header may come from anywhere but this build (a libcaf-dev left on the
# machine must not shadow or fill in for ours): ask the compiler where every
# caf/ header of the three modules resolves.
set(caf_probe ${caf_root}/probe.cpp)
file(WRITE ${caf_probe}
  "#include <caf/all.hpp>\n#include <caf/io/all.hpp>\n#include <caf/openssl/all.hpp>\n")
execute_process(
  COMMAND ${CMAKE_CXX_COMPILER} -std=c++17 -isystem ${CAF_INCLUDE_DIR}
          -I${OPENSSL_INCLUDE_DIR} -M ${caf_probe}
  RESULT_VARIABLE caf_probe_rc OUTPUT_VARIABLE caf_probe_deps
  ERROR_VARIABLE caf_probe_err)
if(NOT caf_probe_rc EQUAL 0)
  message(FATAL_ERROR "CAF: the header probe does not compile:\n${caf_probe_err}")
endif()
string(REGEX REPLACE "[ \t\r\n\\\\]+" ";" caf_probe_deps "${caf_probe_deps}")
set(caf_seen 0)
foreach(dep IN LISTS caf_probe_deps)
  if(dep MATCHES "/caf/[^;]*\\.hpp$")
    math(EXPR caf_seen "${caf_seen} + 1")
    if(NOT dep MATCHES "^${CAF_INCLUDE_DIR}/")
      message(FATAL_ERROR "CAF: header ${dep} resolves outside the in-tree "
                          "build ${CAF_INCLUDE_DIR}; remove it (apt-get "
                          "remove libcaf-dev) or fix the include path")
    endif()
  endif()
endforeach()
if(caf_seen LESS 100)
  message(FATAL_ERROR "CAF: the header probe saw only ${caf_seen} CAF headers")
endif()
