#!/usr/bin/env bash
# Configures, builds and runs the tests the way CI does:
#   scripts/test.sh                  the "ci" preset (warnings are errors), every test
#   scripts/test.sh --asan           the "asan" preset, the store, bad-input, security and CLI
#                                    tests (the CLI tests run the asan build of oddjobs)
#   scripts/test.sh --tsan           the "tsan" preset, the runner tests
#   scripts/test.sh [--asan|--tsan] ARGS    ARGS go to ctest, e.g. -R tst_pgcluster
# Needs the packages from scripts/setup.sh. The PostgreSQL tests start their own throwaway
# server, so no database has to be set up; as root the server runs as "postgres"/"nobody".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

preset=ci
ctest_args=()
case "${1:-}" in
--asan)
    preset=asan
    ctest_args=(-R '^(tst_jobstore|tst_schema|tst_claimconcurrency|tst_connectionsettings|tst_badinput|tst_security|tst_cli)$')
    shift
    ;;
--tsan)
    preset=tsan
    ctest_args=(-R '^(tst_runner|tst_runnerprocesses)$')
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
    # tests/lsan.supp explains the one library leak that is suppressed. The variables reach the
    # oddjobs processes the CLI tests start, which are ASan builds too.
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp ${LSAN_OPTIONS:-}"
fi
if [[ "$preset" == tsan ]]; then
    # Qt is not built with TSan: accesses inside uninstrumented libraries cannot be checked
    # and are ignored; tests/tsan.supp explains the few Qt frames that remain suppressed.
    # The harness forks psql/pg_ctl from a threaded process; the children only exec.
    # A report makes the test process exit with 66, so ctest fails.
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp ignore_noninstrumented_modules=1 die_after_fork=0 ${TSAN_OPTIONS:-}"
    # TSan slows everything down several times; the runner's latency bounds stretch with it.
    export ODDJOBS_TEST_SLOW_FACTOR=${ODDJOBS_TEST_SLOW_FACTOR:-3}
fi

section "Configure (preset $preset)"
cmake --preset "$preset"

# The sanitizer runs build only what their tests need: a full instrumented build of the
# dashboard would double CI's time for nothing they run.
build_targets=()
case "$preset" in
asan)
    # tst_cli and tst_security run the oddjobs executable, which links the dashboard library:
    # that much of the UI is built instrumented too.
    build_targets=(--target tst_jobstore tst_schema tst_claimconcurrency oddjobs_test_claimer
        tst_connectionsettings tst_badinput tst_security tst_cli oddjobs)
    ;;
tsan) build_targets=(--target tst_runner tst_runnerprocesses oddjobs_test_worker) ;;
esac

section "Build (preset $preset)"
cmake --build --preset "$preset" -j2 "${build_targets[@]}"

# -j2 runs two test executables at a time. That is safe: every test process starts its own
# PostgreSQL cluster in its own directory on its own port (under <build>/tests/tmp).
section "Test (preset $preset${ctest_args[*]:+, ctest ${ctest_args[*]}})"
ctest --preset "$preset" --output-on-failure --no-tests=error -j2 "${ctest_args[@]}"

section "Tests passed (preset $preset)"
