# Fails if any executable in BIN_DIR needs a shared CAF library (libcaf_*.so):
# every binary must link the static in-tree CAF build with our patches, never a
# system libcaf that lacks them. REQUIRED names binaries that must be present,
# so an empty or half-built bin directory cannot pass.
find_program(READELF readelf REQUIRED)
foreach(name IN LISTS REQUIRED)
  if(NOT EXISTS ${BIN_DIR}/${name})
    message(FATAL_ERROR "${BIN_DIR}/${name} is missing; build everything first")
  endif()
endforeach()
file(GLOB candidates ${BIN_DIR}/*)
set(checked 0)
foreach(f IN LISTS candidates)
  if(IS_DIRECTORY ${f})
    continue()
  endif()
  execute_process(COMMAND ${READELF} -d ${f}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_QUIET)
  if(NOT rc EQUAL 0)
    continue() # not an ELF file (a script)
  endif()
  math(EXPR checked "${checked} + 1")
  if(out MATCHES "NEEDED[^\n]*(libcaf_[^]\n]*)")
    message(FATAL_ERROR "${f} needs the shared library ${CMAKE_MATCH_1}; "
                        "link CAF::core/CAF::io/CAF::openssl from the in-tree build")
  endif()
endforeach()
message(STATUS "${checked} binaries checked: none needs a shared CAF")
