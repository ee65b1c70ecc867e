# Every third-party dependency, found the way Debian 12 packages it.
# scripts/dev setup installs the packages; CAF is built in-tree (ConfluxCaf).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# CAF 0.17.6 is built from the tarball in third_party/caf with our patches
# (not for the fuzz build, which has no actors).
if(NOT CONFLUX_FUZZ)
  include(ConfluxCaf)
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
