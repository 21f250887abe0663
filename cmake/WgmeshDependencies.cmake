# Every dependency is found here, once; a missing one names the Debian package to install.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install --no-install-recommends pkg-config")
endif()

function(wgmesh_require_pkg target module debian_package)
  pkg_check_modules(${target} IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install --no-install-recommends ${debian_package}")
  endif()
endfunction()

wgmesh_require_pkg(LIBMNL libmnl libmnl-dev)
wgmesh_require_pkg(LIBNFTABLES libnftables libnftables-dev)

find_package(nlohmann_json 3)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "nlohmann/json not found: apt-get install --no-install-recommends nlohmann-json3-dev")
endif()

find_package(Threads REQUIRED)

if(BUILD_TESTING OR NOT DEFINED BUILD_TESTING)
  find_package(GTest)
  if(NOT GTest_FOUND)
    message(FATAL_ERROR "GoogleTest not found: apt-get install --no-install-recommends libgtest-dev libgmock-dev")
  endif()
endif()

# A layer library (netlink, wg, mesh, service) from every .cc in its directory.
function(wgmesh_add_layer target)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARGN})
endfunction()
