#!/usr/bin/env bash
# Runs our benchmarks and the peer harness (graphile-worker, pg-boss, bare SQL) against ONE
# PostgreSQL server in one run, then prints a table of ratios.
#   bench/compare.sh                       # full run, ~12-15 min on 2 cores
#   ONLY=throughput,latency bench/compare.sh
# Env: PEERS (the peer harness folder, default ../shared/bench/peers beside the clone),
#      BUILD (our build folder, default build), OUT (results file), N,
#      LONG_N (jobs per long drain, 200000; 0 skips the long drains and the limits).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers_src=${PEERS:-$repo/../shared/bench/peers}
build=${BUILD:-$repo/build}
out=${OUT:-$repo/bench/results-$(date -u +%Y-%m-%dT%H%M%SZ).jsonl}
n=${N:-20000}
long_n=${LONG_N:-200000}
if [ "$long_n" -gt 0 ] && [ "$long_n" -le "$n" ]; then
    echo "LONG_N ($long_n) must be above N ($n), or 0" >&2
    exit 2
fi
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
psql_on() { psql -h 127.0.0.1 -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 -d "$@"; }
# Our bench against the peers' server, its lines appended to the results.
ours() {
    "$build/bench/oddjobs_bench" --url "postgresql://postgres@127.0.0.1:$port/oddjobs_bench" "$@" \
        | tee -a "$out"
}
# graphile-worker drained with local queues of the given sizes (bench/graphile-deeper-hold.mjs).
graphile_held() { # jobs sizes
    (cd "$work/peers" && URL="${PEERBENCH_DATABASE_URL:-postgresql://postgres@127.0.0.1:$port/bench}" \
        N=$1 SIZES=$2 node "$repo/bench/graphile-deeper-hold.mjs") | tee -a "$out"
}
psql_on postgres -c "DROP DATABASE IF EXISTS oddjobs_bench" -c "CREATE DATABASE oddjobs_bench" >&2

echo "=== peers (graphile-worker, pg-boss, pg-floor) -> $out" >&2
(cd "$work/peers" && N=$n node graphile.js) | tee -a "$out"
(cd "$work/peers" && N=$n node pgboss.js) | tee -a "$out"
(cd "$work/peers" && node pgbench-limit/latency-floor.js) | tee -a "$out"
# graphile-worker at the deeper hold ours is also measured at (a local queue of 3,000).
graphile_held "$n" 3000
echo "=== oddjobs" >&2
# Eight claim connections, as graphile-worker keeps a pool of concurrency + 2: only the
# one-job-per-claim drains use more than one.
ours --n "$n" --claim-connections 8 ${ONLY:+--only "$ONLY"}
if [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *,throughput,* ]]; then
    echo "=== oddjobs (succeeded jobs deleted, as graphile-worker does)" >&2
    ours --n "$n" --only throughput --batch 500 --concurrency 1,10 --delete-successful
    ours --n "$n" --only throughput --batch 1 --concurrency 10,32 --claim-connections 8 \
        --delete-successful
    # The runner's defaults (ten slots, no prefetch, claims of up to 500): no claim beside
    # another, so none looks up a stretch first.
    ours --n "$n" --only throughput --batch 500 --prefetch 0 --concurrency 10 --delete-successful
    # A deeper hold than graphile-worker's local queue of 500: claims of 1,000, 3,000 held
    # beyond free slots, so three claims can be on their way while the held jobs run. Reported
    # on rows of their own, apart from the comparison at the same hold.
    ours --n "$n" --only throughput --batch 1000 --prefetch 3000 --concurrency 10 \
        --delete-successful
fi
if [ "$long_n" -gt 0 ] && { [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *,throughput,* ]]; }; then
    # Long drains: start-up and the first cold claims are ~10 % of a drain of 20,000; these
    # show the rate a worker keeps, ours and graphile-worker's at both holds.
    echo "=== long drains ($long_n jobs)" >&2
    graphile_held "$long_n" 500,3000
    # No dead rows left for autovacuum to work through during the next steps.
    psql_on bench -c "VACUUM graphile_worker._private_jobs" >&2
    ours --n "$long_n" --only throughput --batch 500 --concurrency 10 --delete-successful
    ours --n "$long_n" --only throughput --batch 1000 --prefetch 3000 --concurrency 10 \
        --delete-successful
    psql_on oddjobs_bench -c "TRUNCATE jobs" >&2
    # What the server alone reaches: the peer harness's bare claim of 500 + completion of 500
    # on its minimal table, and a bulk insert of 1,000 rows per statement, generated in SQL,
    # into our table and into that minimal one.
    echo "=== bare-SQL limits" >&2
    (cd "$work/peers" && CLIENTS="1 4 10" SECONDS_PER_RUN=10 VARIANTS=batch500 ROWS_BATCH=1500000 \
        pgbench-limit/run.sh) | tee -a "$out"
    # Larger claims cost the server less per job: the limit at claims of 2,000 as well.
    (cd "$work/peers" && CLIENTS=4 SECONDS_PER_RUN=10 VARIANTS=batch2000 ROWS_BATCH=2000000 \
        pgbench-limit/run.sh) | tee -a "$out"
    insert_limit() { # database table variant
        local c res tps script=$work/insert-limit.sql
        echo "INSERT INTO $2 (payload) SELECT jsonb_build_object('tag', 'bench.noop', 'contents', g)" \
            "FROM generate_series(1, 1000) AS g;" >"$script"
        for c in 1 2; do
            psql_on "$1" -c "TRUNCATE $2" -c "VACUUM ANALYZE $2" -c CHECKPOINT >&2
            res=$(pgbench -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -c "$c" -j "$c" -T 8 \
                -f "$script" "$1" 2>&1) || { echo "$res" >&2; exit 1; }
            tps=$(awk '/^tps = /{print $3}' <<<"$res")
            printf '{"run_id":"%s","tool":"pgbench-limit","test":"enqueue_bulk_limit","variant":"%s","concurrency":%d,"rows_per_statement":1000,"seconds":8,"jobs_per_s":%.0f}\n' \
                "$RUN_ID" "$3" "$c" "$(awk -v t="$tps" 'BEGIN{print t*1000}')"
        done
        psql_on "$1" -c "TRUNCATE $2" >&2
    }
    # The runner's own claim (of 500, and of 2,000) and its write of their outcomes (successes
    # deleted), on our table, through pgbench with the runner's session settings: what the
    # server reaches with our statements and nothing else. Its clients claim without stretches
    # of their own.
    rows=2000000
    for run in "1 500" "4 500" "4 2000"; do
        read -r c batch <<<"$run"
        psql_on oddjobs_bench -c "TRUNCATE jobs" \
            -c "INSERT INTO jobs (run_at, payload) SELECT now() - interval '1 hour' + g * interval \
'1 microsecond', jsonb_build_object('tag', 'bench.noop', 'contents', g) FROM generate_series(1, $rows) AS g" \
            -c "VACUUM ANALYZE jobs" -c CHECKPOINT >&2
        res=$(PGOPTIONS='-c plan_cache_mode=force_generic_plan -c jit=off -c enable_sort=off' \
            pgbench -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -c "$c" -j $((c < 2 ? c : 2)) -T 10 \
            -D batch="$batch" -D types='{bench.noop}' -f "$repo/bench/pgbench/claim-delete.sql" \
            oddjobs_bench 2>&1) || { echo "$res" >&2; exit 1; }
        left=$(psql_on oddjobs_bench -tAc "SELECT count(*) FROM jobs")
        # A table drained before the time was up would understate the rate.
        [ "$left" -gt 0 ] || { echo "the claim limit drained its $rows rows: raise them" >&2; exit 1; }
        printf '{"run_id":"%s","tool":"pgbench-limit","test":"throughput","variant":"oddjobs-claim%d-delete","concurrency":%d,"seconds":10,"batch":%d,"rows_prefilled":%d,"jobs_done":%d,"jobs_left":%d,"jobs_per_s":%.0f}\n' \
            "$RUN_ID" "$batch" "$c" "$batch" "$rows" $((rows - left)) "$left" \
            "$(awk -v t="$(awk '/^tps = /{print $3}' <<<"$res")" \
                -v x="$(awk '/^number of transactions actually processed:/{print $6}' <<<"$res")" \
                -v d=$((rows - left)) 'BEGIN{ if (x > 0) print t * d / x; else print 0 }')" | tee -a "$out"
    done
    insert_limit oddjobs_bench jobs oddjobs-table | tee -a "$out"
    insert_limit bench jobs minimal-table | tee -a "$out"
    psql_on postgres -c CHECKPOINT >&2 # the limits' WAL is not the SQLite drain's to wait on
fi
echo "=== oddjobs (SQLite)" >&2
"$build/bench/oddjobs_bench" --sqlite --n "$n" --only throughput --concurrency 10 --batch 500 | tee -a "$out"
node "$repo/bench/ratios.mjs" "$out"
