# One INTERFACE target carries the compile policy every project target links, so the
# rules live in one place (strict Qt string handling, warnings, sanitizers).
add_library(oddjobs_compile_policy INTERFACE)
add_library(OddJobs::CompilePolicy ALIAS oddjobs_compile_policy)

target_compile_definitions(oddjobs_compile_policy INTERFACE
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_TO_ASCII
    QT_NO_CAST_FROM_BYTEARRAY
    QT_USE_QSTRINGBUILDER
    QT_NO_FOREACH
    QT_NO_URL_CAST_FROM_STRING
    QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
    QT_DISABLE_DEPRECATED_BEFORE=0x060400
    QT_STRICT_ITERATORS)

target_compile_options(oddjobs_compile_policy INTERFACE
    -Wall -Wextra -pedantic -Wnon-virtual-dtor -Woverloaded-virtual
    # GCC's spelling; clang (the fuzz build) has no -Wshadow=local.
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
if(ODDJOBS_WERROR)
    target_compile_options(oddjobs_compile_policy INTERFACE -Werror)
endif()

if(ODDJOBS_SANITIZE)
    target_compile_options(oddjobs_compile_policy INTERFACE
        -fsanitize=${ODDJOBS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(oddjobs_compile_policy INTERFACE -fsanitize=${ODDJOBS_SANITIZE})
endif()

# The fuzz build instruments everything for libFuzzer's coverage feedback; only the fuzz
# targets themselves link libFuzzer's main (fuzz/CMakeLists.txt).
if(ODDJOBS_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "ODDJOBS_FUZZ needs clang (libFuzzer): use the fuzz preset")
    endif()
    target_compile_options(oddjobs_compile_policy INTERFACE -fsanitize=fuzzer-no-link)
endif()
