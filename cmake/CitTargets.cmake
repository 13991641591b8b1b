# Shared compile settings for every citwatch target.

add_library(cit_options INTERFACE)
add_library(cit::options ALIAS cit_options)
target_compile_options(cit_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(CIT_WERROR)
  target_compile_options(cit_options INTERFACE -Werror)
endif()
if(CIT_SANITIZE)
  target_compile_options(cit_options INTERFACE -fsanitize=${CIT_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(cit_options INTERFACE -fsanitize=${CIT_SANITIZE})
endif()
if(CIT_LIBFUZZER)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CIT_LIBFUZZER needs clang (cmake --preset fuzz)")
  endif()
  # Coverage and comparison tracing in all our code; the fuzz executables add libFuzzer's main
  # (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt). stack-depth makes a deeper recursion new
  # coverage, so libFuzzer keeps inputs that nest deeper and finds stack exhaustion (issue 10,
  # 4.1). A UBSan finding stops the run like a crash.
  target_compile_options(cit_options INTERFACE -fsanitize=fuzzer-no-link
                         -fsanitize-coverage=stack-depth -fno-sanitize-recover=undefined)
  target_link_options(cit_options INTERFACE -fsanitize=fuzzer-no-link)
endif()

# Precompiled headers (a library's PCH header, tests/support/test_pch.h): a clean build (CI has no
# ccache) parses the common headers once per target instead of once per source (README.md,
# "Building by hand"). ccache cannot reuse a precompiled header unless told to
# (CCACHE_SLOPPINESS with pch_defines and time_macros); with ccache as the launcher and without
# that setting no header is precompiled, so a cached build stays cached.
set(cit_pch_default ON)
if(CMAKE_CXX_COMPILER_LAUNCHER MATCHES "ccache" AND NOT "$ENV{CCACHE_SLOPPINESS}" MATCHES "pch_defines")
  set(cit_pch_default OFF)
endif()
option(CIT_LIB_PCH "Precompile the headers most sources of a library include (faster clean builds)"
       ${cit_pch_default})

# cit_add_library(NAME ALIAS DIR [EXCLUDE file...] [LINK lib...] [PCH header])
# Builds every .cc below DIR (except main.cc and the excluded files) into one static library.
# Sources are globbed so that each component's files can be added without editing this list.
# PCH: a header precompiled for the library's sources when CIT_LIB_PCH is on.
function(cit_add_library name alias dir)
  cmake_parse_arguments(ARG "" "PCH" "EXCLUDE;LINK" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "/main\\.cc$")
  foreach(ex IN LISTS ARG_EXCLUDE)
    list(FILTER srcs EXCLUDE REGEX "${ex}")
  endforeach()
  if(srcs)
    add_library(${name} STATIC ${srcs})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARG_LINK} PRIVATE cit::options)
    if(ARG_PCH AND CIT_LIB_PCH)
      target_precompile_headers(${name} PRIVATE ${ARG_PCH})
    endif()
  else()
    # Component not written yet: an interface target keeps dependants linking.
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${ARG_LINK})
  endif()
  add_library(${alias} ALIAS ${name})
endfunction()

# cit_add_executable(NAME DIR LIB): the thin main.cc in DIR, linked to LIB, if main.cc exists.
function(cit_add_executable name dir lib)
  if(EXISTS ${dir}/main.cc)
    add_executable(${name} ${dir}/main.cc)
    target_link_libraries(${name} PRIVATE ${lib} cit::options)
    install(TARGETS ${name} RUNTIME DESTINATION bin)
  endif()
endfunction()

# cit_find_static_archives(OUT WHO NAME...): the paths of Debian's lib<NAME>.a archives and of
# every abseil archive beside them, in OUT, for an executable linked from archives (the static
# vehicle-agent, dispatchctl's gRPC). OUT is empty, after a warning naming WHO, when one of them
# is missing: the caller then links the shared libraries.
function(cit_find_static_archives out who)
  set(found "")
  foreach(lib IN LISTS ARGN)
    find_library(CIT_STATIC_${lib} NAMES lib${lib}.a)
    if(NOT CIT_STATIC_${lib})
      message(WARNING "${who}: lib${lib}.a not found; linking the shared libraries")
      set(${out} "" PARENT_SCOPE)
      return()
    endif()
    list(APPEND found ${CIT_STATIC_${lib}})
  endforeach()
  list(GET found 0 first)
  get_filename_component(dir "${first}" DIRECTORY)
  # Every abseil archive: the linker takes only the members that are referenced.
  file(GLOB absl ${dir}/libabsl_*.a)
  set(${out} ${found} ${absl} PARENT_SCOPE)
endfunction()
