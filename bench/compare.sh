#!/usr/bin/env bash
# Runs our benchmarks and the peer harness (graphile-worker, pg-boss, bare SQL) against ONE
# PostgreSQL server in one run, then prints a table of ratios.
#   bench/compare.sh                       # full run, ~15 min on 2 cores
#   ONLY=throughput,latency bench/compare.sh
# Env: PEERS (the peer harness folder, default ../shared/bench/peers beside the clone),
#      BUILD (our build folder, default build), OUT (results file), N, PEER_ONLY.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers_src=${PEERS:-$repo/../shared/bench/peers}
build=${BUILD:-$repo/build}
out=${OUT:-$repo/bench/results-$(date -u +%Y-%m-%dT%H%M%SZ).jsonl}
n=${N:-20000}
export RUN_ID=${RUN_ID:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}

[ -x "$build/bench/oddjobs_bench" ] || { echo "build first: cmake --build --preset default" >&2; exit 2; }
[ -f "$peers_src/graphile.js" ] || { echo "no peer harness at $peers_src (set PEERS)" >&2; exit 2; }

# The peer folder may be read-only: work on a copy, with its node_modules.
work=$(mktemp -d /tmp/oddjobs-compare.XXXXXX)
trap 'cd /; "$work/peers/stop-pg.sh" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cp -r "$peers_src" "$work/peers"
(cd "$work/peers" && { [ -d node_modules/graphile-worker ] || npm install --no-audit --no-fund >/dev/null; })
(cd "$work/peers" && ./start-pg.sh >&2)
port=${PEERBENCH_PGPORT:-55432}
psql -h 127.0.0.1 -p "$port" -U postgres -X -q -d postgres -c "DROP DATABASE IF EXISTS oddjobs_bench" \
    -c "CREATE DATABASE oddjobs_bench" >&2

echo "=== peers (graphile-worker, pg-boss, pg-floor) -> $out" >&2
(cd "$work/peers" && N=$n node graphile.js) | tee -a "$out"
(cd "$work/peers" && N=$n node pgboss.js) | tee -a "$out"
(cd "$work/peers" && node pgbench-limit/latency-floor.js) | tee -a "$out"
# graphile-worker at the deeper hold ours is also measured at (a local queue of 3,000).
(cd "$work/peers" && URL="${PEERBENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:$port/bench}" N=$n SIZES=3000 \
    node "$repo/bench/graphile-deeper-hold.mjs") | tee -a "$out"
echo "=== oddjobs" >&2
# Eight claim connections, as graphile-worker keeps a pool of concurrency + 2: only the
# one-job-per-claim drains use more than one.
"$build/bench/oddjobs_bench" --url "postgresql://postgres@127.0.0.1:$port/oddjobs_bench" --n "$n" \
    --claim-connections 8 ${ONLY:+--only "$ONLY"} | tee -a "$out"
if [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *,throughput,* ]]; then
    echo "=== oddjobs (succeeded jobs deleted, as graphile-worker does)" >&2
    "$build/bench/oddjobs_bench" --url "postgresql://postgres@127.0.0.1:$port/oddjobs_bench" --n "$n" \
        --only throughput --batch 500 --concurrency 1,10 --delete-successful | tee -a "$out"
    "$build/bench/oddjobs_bench" --url "postgresql://postgres@127.0.0.1:$port/oddjobs_bench" --n "$n" \
        --only throughput --batch 1 --concurrency 10,32 --claim-connections 8 --delete-successful \
        | tee -a "$out"
    # The runner's defaults (ten slots, no prefetch, claims of up to 500): no claim beside
    # another, so none looks up a stretch first.
    "$build/bench/oddjobs_bench" --url "postgresql://postgres@127.0.0.1:$port/oddjobs_bench" --n "$n" \
        --only throughput --batch 500 --prefetch 0 --concurrency 10 --delete-successful \
        | tee -a "$out"
    # A deeper hold than graphile-worker's local queue of 500: claims of 1,000, 3,000 held
    # beyond free slots, so three claims can be on their way while the held jobs run. Reported
    # on rows of their own, apart from the comparison at the same hold.
    "$build/bench/oddjobs_bench" --url "postgresql://postgres@127.0.0.1:$port/oddjobs_bench" --n "$n" \
        --only throughput --batch 1000 --prefetch 3000 --concurrency 10 --delete-successful \
        | tee -a "$out"
fi
echo "=== oddjobs (SQLite)" >&2
"$build/bench/oddjobs_bench" --sqlite --n "$n" --only throughput --concurrency 10 --batch 500 | tee -a "$out"
node "$repo/bench/ratios.mjs" "$out"
