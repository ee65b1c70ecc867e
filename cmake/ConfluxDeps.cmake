# Every third-party dependency, found the way Debian 12 packages it.
# scripts/dev setup installs the packages; CAF is found by hand (below).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# CAF 0.17.6 ships no CMake package and no .pc file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
if(NOT TARGET CAF::core)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION ${CAF_IO_LIBRARY}
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()

pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
find_package(msgpack CONFIG REQUIRED)          # target msgpackc-cxx
find_package(spdlog CONFIG REQUIRED)           # target spdlog::spdlog
find_package(OpenSSL REQUIRED)                 # OpenSSL::Crypto (SHA-256)
find_package(nlohmann_json CONFIG REQUIRED)    # JSON parsing and JSON Schema input
find_package(yaml-cpp CONFIG REQUIRED)         # YAML format check
find_package(toml11 CONFIG REQUIRED)           # TOML format check
find_package(valijson CONFIG REQUIRED)         # JSON Schema validation
find_package(CLI11 CONFIG REQUIRED)            # CLI11::CLI11: launcher and CLI flags
if(CONFLUX_BUILD_TESTS)
  find_package(doctest CONFIG REQUIRED)
  include(doctest)
endif()
if(CONFLUX_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
