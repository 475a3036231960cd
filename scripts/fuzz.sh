#!/usr/bin/env bash
# Builds the libFuzzer targets (the "fuzz" preset: clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, only the fuzz targets and the core library they link) and runs
# each for a bounded time:
#   scripts/fuzz.sh                   every target for 20 s
#   scripts/fuzz.sh SECONDS           every target for SECONDS
#   scripts/fuzz.sh SECONDS TARGET... only these targets (fuzz_url, fuzz_tablename, ...)
# Each run starts from the seeds in fuzz/corpus/<target>/ (crash regressions live there too)
# and a work corpus in build-fuzz/corpus/<target>/ that grows from run to run. A crash, a
# sanitizer report or a failed check stops with an error; the input is saved as
# build-fuzz/artifacts/<target>/crash-* and can be replayed with
#   build-fuzz/fuzz/<target> build-fuzz/artifacts/<target>/crash-...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

seconds=${1:-20}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 2
fi
shift || true
all_targets=(fuzz_url fuzz_tablename fuzz_store fuzz_options fuzz_commandline)
targets=("${@:-${all_targets[@]}}")

if ! command -v clang++ >/dev/null; then
    echo "fuzz.sh: clang++ is needed (Debian: apt-get install clang)" >&2
    exit 2
fi

section "Configure (preset fuzz)"
cmake --preset fuzz >/dev/null
section "Build ${targets[*]}"
build_started=$SECONDS
cmake --build --preset fuzz -j2 --target "${targets[@]}"
echo "built in $((SECONDS - build_started)) s"

# Leaks are checked (a leak per input would be a real one); UBSan reports are fatal through
# -fno-sanitize-recover, and a stack helps to place them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# The store target prints nothing per input; Qt's own warnings would only be noise.
export QT_LOGGING_RULES=${QT_LOGGING_RULES:-"*.debug=false"}

summary=()
status=0
for target in "${targets[@]}"; do
    section "Fuzz $target for ${seconds} s"
    work=build-fuzz/corpus/$target
    artifacts=build-fuzz/artifacts/$target
    mkdir -p "$work" "$artifacts"
    dict=()
    [[ -f fuzz/dict/$target.dict ]] && dict=(-dict="fuzz/dict/$target.dict")
    log=build-fuzz/fuzz-$target.log
    if "build-fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
        "$work" "fuzz/corpus/$target" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        tail -n 60 "$log"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    corpus=$(find "$work" -type f | wc -l)
    line=$(printf '%-18s %-6s %10s runs in %3s s, %s, work corpus %s inputs' \
        "$target" "$result" "${runs:-?}" "$seconds" "${cov:-cov: ?}" "$corpus")
    echo "$line"
    summary+=("$line")
done

section "Summary"
printf '%s\n' "${summary[@]}"
exit $status
