#!/usr/bin/env bash
# Configures, builds and runs the tests the way CI does:
#   scripts/test.sh                  the "ci" preset (warnings are errors), every test
#   scripts/test.sh --asan           the "asan" preset, only the tests labelled "store"
#   scripts/test.sh [--asan] ARGS    ARGS go to ctest, e.g. -R tst_pgcluster
# Needs the packages from scripts/setup.sh. The PostgreSQL tests start their own throwaway
# server, so no database has to be set up; as root the server runs as "postgres"/"nobody".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

usage() {
    sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

preset=ci
ctest_args=()
case "${1:-}" in
--asan)
    preset=asan
    ctest_args=(-L store)
    shift
    ;;
-h | --help)
    usage
    exit 0
    ;;
esac
ctest_args+=("$@")

if [[ "$preset" == asan ]]; then
    # UBSan reports without a stack are hard to place; the build already makes them fatal.
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
fi

section "Configure (preset $preset)"
cmake --preset "$preset"

section "Build (preset $preset)"
cmake --build --preset "$preset" -j2

# -j2 runs two test executables at a time. That is safe: every test process starts its own
# PostgreSQL cluster in its own directory on its own port (under <build>/tests/tmp).
section "Test (preset $preset${ctest_args[*]:+, ctest ${ctest_args[*]}})"
ctest --preset "$preset" --output-on-failure --no-tests=error -j2 "${ctest_args[@]}"

section "Tests passed (preset $preset)"
