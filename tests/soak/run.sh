#!/usr/bin/env bash
# The chaos soak: worker processes drain jobs from a throwaway, durable PostgreSQL while one at a
# time is SIGKILLed and started again and the server restarts; then every job's executions are
# checked against the kill log (tests/soak/soak_main.cpp says exactly what is asserted).
#   tests/soak/run.sh [--build-dir DIR] [--build] [--ci] [OPTIONS]
#     --build-dir DIR  the build tree with the binaries (default: build-ci, the "ci" preset's)
#     --build          build the soak's targets in it first
#     --ci             what CI runs: --minutes 2 with the job count CI drains in that time
#     OPTIONS          go to the driver, later ones win: --minutes M (time budget, default 10),
#                      --jobs N (default 100000), --workers, --concurrency, --prefetch,
#                      --claim-batch, --exec-us,
#                      --kill-every-ms, --lock-timeout, --pg-restarts, --pg-restart-mode,
#                      --log-dir, --seed; --help describes them
# Prints one summary line ("soak PASS ..." or "soak FAIL ...") on standard output, progress on
# standard error. Exit code 0 passed, 1 a violation, 2 could not run.
# Cleanup: the driver stops the workers and the server and removes the cluster on every exit,
# including SIGINT/SIGTERM/SIGHUP; should it be SIGKILLed, the workers die with it
# (PR_SET_PDEATHSIG) and the cluster's watchdog stops the server and removes its directory.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# CI's run must finish within its 2 minutes on a 2-core machine with a durable server.
ci_minutes=2
ci_jobs=100000

usage() {
    sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

build_dir=$root/build-ci
build=0
driver_args=()
while (($#)); do
    case "$1" in
    --build-dir)
        build_dir=${2:?--build-dir needs a directory}
        shift 2
        ;;
    --build)
        build=1
        shift
        ;;
    --ci)
        driver_args+=(--minutes "$ci_minutes" --jobs "$ci_jobs")
        echo "soak: CI settings: $ci_jobs jobs, a budget of $ci_minutes minutes" >&2
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        driver_args+=("$1")
        shift
        ;;
    esac
done

if ((build)); then
    cmake --build "$build_dir" --target oddjobs_soak
fi
driver=$build_dir/tests/soak/oddjobs_soak
if [[ ! -x "$driver" ]]; then
    echo "soak: $driver not found; build first (cmake --preset ci && cmake --build build-ci)," \
        "or pass --build" >&2
    exit 2
fi
# The driver cleans up after itself (see above); exec lets signals reach it directly.
exec "$driver" "${driver_args[@]}"
