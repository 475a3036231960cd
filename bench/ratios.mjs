// Reads the JSON lines of one bench/compare.sh run and prints our figures beside the peers'
// with the ratios the performance targets are stated in.
//   node bench/ratios.mjs results.jsonl
import { readFileSync } from 'node:fs';

const rows = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter((l) => l.trim().startsWith('{'))
  .map((l) => JSON.parse(l));

const best = (filter, field) => {
  const v = rows.filter(filter).map((r) => r[field]).filter((x) => typeof x === 'number');
  return v.length ? Math.max(...v) : null;
};
// The row behind best(): "variant, concurrency N".
const bestLabel = (filter, field) => {
  const r = rows.filter(filter).filter((x) => typeof x[field] === 'number')
    .sort((a, b) => b[field] - a[field])[0];
  return r ? ` (${r.variant}, c${r.concurrency})` : '';
};
const lowest = (filter, field) => {
  const v = rows.filter(filter).map((r) => r[field]).filter((x) => typeof x === 'number');
  return v.length ? Math.min(...v) : null;
};
// The drains of the main table are of the peer harness's N; the long drains (compare.sh's
// LONG_N) have a table of their own.
const mainN = rows.find((r) => r.tool === 'graphile-worker' && r.test === 'throughput')?.n ?? 20000;
const long = (r) => r.test === 'throughput' && r.n != null && r.n > mainN;
const is = (tool, test, extra = () => true) => (r) => r.tool === tool && r.test === test && !long(r) && extra(r);
const isLong = (tool, extra = () => true) => (r) => r.tool === tool && long(r) && extra(r);
const fmt = (x) => (x == null ? '-' : x >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(2));
const ratio = (a, b) => (a == null || b == null || b === 0 ? '-' : (a / b).toFixed(2) + '×');

const ours = (test, extra) => is('oddjobs', test, (r) => (r.backend ?? 'postgresql') === 'postgresql' && (!extra || extra(r)));
const oneByOne = (r) => /^batch1(-|$)/.test(r.variant);
// Held at most as many jobs beyond free slots as graphile-worker's batched preset keeps in its
// local queue (500); deeper holds are reported on rows of their own.
// Lines without a prefetch field come from runs where it was the batch size.
const heldBeyondSlots = (r) => r.prefetch ?? Number((/^batch(\d+)/.exec(r.variant) ?? [])[1] ?? 0);
const sameHold = (r) => heldBeyondSlots(r) <= 500;
const batched = ours('throughput', (r) => !oneByOne(r) && sameHold(r));
const deeper = ours('throughput', (r) => !oneByOne(r) && !sameHold(r));
const single = ours('throughput', oneByOne);
const graphileBatched = best(is('graphile-worker', 'throughput', (r) => r.variant === 'batched'), 'jobs_per_s');
const pgbossBatched = best(is('pg-boss', 'throughput', (r) => r.variant === 'batch50'), 'jobs_per_s');
// graphile-worker with a local queue as deep as our deeper hold (bench/graphile-deeper-hold.mjs).
const graphileDeeper = best(is('graphile-worker', 'throughput', (r) => r.variant === 'batched-localqueue3000'), 'jobs_per_s');
// The issue states the target for the best configuration of each: ours at any hold against
// graphile-worker's better local queue of the run (its preset's 500 or 3,000). The matched
// holds follow on rows of their own.
const anyHold = ours('throughput', (r) => !oneByOne(r));
const graphileAnyHold = is('graphile-worker', 'throughput', (r) => r.variant === 'batched' || r.variant === 'batched-localqueue3000');
const graphileBest = best(graphileAnyHold, 'jobs_per_s');
const graphileBestLabel = `graphile-worker${bestLabel(graphileAnyHold, 'jobs_per_s')}`;
const table = [
  [`throughput, best configuration of each (jobs/s)${bestLabel(anyHold, 'jobs_per_s')}`, best(anyHold, 'jobs_per_s'),
    graphileBestLabel, graphileBest, '≥ 2×'],
  [`throughput, best configuration of each (jobs/s)${bestLabel(anyHold, 'jobs_per_s')}`, best(anyHold, 'jobs_per_s'),
    'pg-boss batch50', pgbossBatched, '≥ 4×'],
  [`throughput, same hold (jobs/s)${bestLabel(batched, 'jobs_per_s')}`, best(batched, 'jobs_per_s'),
    'graphile-worker batched', graphileBatched, 'matched hold'],
  [`throughput, same hold (jobs/s)${bestLabel(batched, 'jobs_per_s')}`, best(batched, 'jobs_per_s'),
    'pg-boss batch50', pgbossBatched, '—'],
  [`throughput, deeper hold (jobs/s)${bestLabel(deeper, 'jobs_per_s')}`, best(deeper, 'jobs_per_s'),
    'graphile-worker, local queue 3,000', graphileDeeper, 'matched hold'],
  [`throughput, one job per claim (jobs/s)${bestLabel(single, 'jobs_per_s')}`, best(single, 'jobs_per_s'),
    'graphile-worker default', best(is('graphile-worker', 'throughput', (r) => r.variant === 'default'), 'jobs_per_s'), '≥ 1×'],
  ['latency p50 (ms), lower is better', lowest(ours('latency'), 'p50_ms'),
    'graphile-worker', lowest(is('graphile-worker', 'latency'), 'p50_ms'), '≤ 0.8×'],
  ['latency p50 (ms) vs bare SQL floor', lowest(ours('latency'), 'p50_ms'),
    'insert+notify→claim floor', lowest(is('pg-floor', 'latency', (r) => /claim/.test(r.variant)), 'p50_ms'), '≤ 1.15×'],
  ['latency p99 (ms)', lowest(ours('latency'), 'p99_ms'), '(target)', 10, '≤ 10 ms'],
  ['bulk enqueue (jobs/s)', best(ours('enqueue_bulk'), 'jobs_per_s'),
    'graphile-worker addJobs', best(is('graphile-worker', 'enqueue_bulk'), 'jobs_per_s'), '≥ 4×'],
];
console.log('| measure | oddjobs | peer | peer value | ratio | target |');
console.log('|---|---:|---|---:|---:|---|');
for (const [what, a, peer, b, target] of table)
  console.log(`| ${what} | ${fmt(a)} | ${peer} | ${fmt(b)} | ${ratio(a, b)} | ${target} |`);
const sqlite = best(is('oddjobs', 'throughput', (r) => r.backend === 'sqlite'), 'jobs_per_s');
if (sqlite != null) console.log(`| SQLite throughput (jobs/s) | ${fmt(sqlite)} | (target) | 5,000 | ${ratio(sqlite, 5000)} | ≥ 5,000 |`);
const depth = rows.filter(ours('claim_depth')).sort((a, b) => a.depth - b.depth);
if (depth.length >= 2) {
  const a = depth[0], b = depth[depth.length - 1];
  console.log(`| claim+complete of 50, depth ${b.depth} vs ${a.depth} (ms p50) | ${fmt(b.claim_complete_p50_ms)} | depth ${a.depth} | ${fmt(a.claim_complete_p50_ms)} | ${ratio(b.claim_complete_p50_ms, a.claim_complete_p50_ms)} | ≤ 1.5× |`);
}
const rss = rows.find(ours('rss'));
if (rss) console.log(`| worker RSS idle / draining (MB) | ${(rss.idle_kb / 1024).toFixed(1)} / ${(rss.draining_peak_kb / 1024).toFixed(1)} | (target) | 30 / 60 | - | ≤ 30 / 60 |`);

// Long drains and what the server alone reaches on this machine (compare.sh, LONG_N > 0).
const longOurs = (hold) => isLong('oddjobs', (r) => (r.backend ?? 'postgresql') === 'postgresql' && !oneByOne(r) && hold(r));
const longSame = best(longOurs(sameHold), 'jobs_per_s');
const longDeeper = best(longOurs((r) => !sameHold(r)), 'jobs_per_s');
const longGraphile = (size) => best(isLong('graphile-worker', (r) => r.variant === `batched-localqueue${size}`), 'jobs_per_s');
const times = (k, x) => (x == null ? null : k * x);
// A limit: the best of the pgbench lines a filter picks, and which line it was.
const limit = (test, pick) => {
  const filter = is('pgbench-limit', test, pick);
  return { value: best(filter, 'jobs_per_s'), label: bestLabel(filter, 'jobs_per_s') };
};
const bare500 = limit('throughput', (r) => r.variant === 'batch500');
const own500 = limit('throughput', (r) => r.variant === 'oddjobs-claim500-delete');
// The best over every claim size measured (larger claims cost the server less per job).
const bareBest = limit('throughput', (r) => /^batch\d+$/.test(r.variant));
const ownBest = limit('throughput', (r) => /^oddjobs-claim\d+-delete$/.test(r.variant));
const insertOurs1 = limit('enqueue_bulk_limit', (r) => r.variant === 'oddjobs-table' && r.concurrency === 1);
const insertOurs = limit('enqueue_bulk_limit', (r) => r.variant === 'oddjobs-table');
const insertMinimal = limit('enqueue_bulk_limit', (r) => r.variant === 'minimal-table');
const graphile3000 = longGraphile(3000);
const addJobs = best(is('graphile-worker', 'enqueue_bulk'), 'jobs_per_s');
if (longSame != null || bare500.value != null) {
  const longNs = [...new Set(rows.filter((r) => long(r)).map((r) => r.n))];
  console.log('');
  console.log(`Long drains${longNs.length ? ` (${longNs.map((n) => n.toLocaleString('en')).join(', ')} jobs)` : ''} and the bare-SQL limits of this machine:`);
  console.log('');
  console.log('| measure | value | against | its value | ratio |');
  console.log('|---|---:|---|---:|---:|');
  const line = (what, a, against, b) => console.log(`| ${what} | ${fmt(a)} | ${against} | ${fmt(b)} | ${ratio(a, b)} |`);
  line('oddjobs, same hold (jobs/s)', longSame, 'graphile-worker, local queue 500', longGraphile(500));
  line('oddjobs, deeper hold (jobs/s)', longDeeper, 'graphile-worker, local queue 3,000', graphile3000);
  line('oddjobs, deeper hold (jobs/s)', longDeeper, `bare SQL claim 500 + complete 500${bare500.label}`, bare500.value);
  line('oddjobs, same hold (jobs/s)', longSame, 'bare SQL claim 500 + complete 500', bare500.value);
  line('oddjobs, deeper hold (jobs/s)', longDeeper, `our claim of 500 and outcome write through pgbench, our table, clients without stretches${own500.label}`, own500.value);
  line('oddjobs, same hold (jobs/s)', longSame, 'our claim of 500 and outcome write through pgbench', own500.value);
  line('graphile-worker, local queue 3,000 (jobs/s)', graphile3000, 'bare SQL claim 500 + complete 500', bare500.value);
  line('2× graphile-worker, local queue 3,000 (jobs/s)', times(2, graphile3000), 'bare SQL claim 500 + complete 500', bare500.value);
  line('2× graphile-worker, local queue 3,000 (jobs/s)', times(2, graphile3000), 'our claim of 500 and outcome write through pgbench', own500.value);
  line('oddjobs, deeper hold (jobs/s)', longDeeper, `bare SQL, best claim size${bareBest.label}`, bareBest.value);
  line('oddjobs, deeper hold (jobs/s)', longDeeper, `our statements through pgbench, best claim size${ownBest.label}`, ownBest.value);
  line('2× graphile-worker, local queue 3,000 (jobs/s)', times(2, graphile3000), 'bare SQL, best claim size', bareBest.value);
  line('2× graphile-worker, local queue 3,000 (jobs/s)', times(2, graphile3000), 'our statements through pgbench, best claim size', ownBest.value);
  line('bulk enqueue (jobs/s)', best(ours('enqueue_bulk'), 'jobs_per_s'), 'INSERT of 1,000 generated rows into our table, 1 client', insertOurs1.value);
  line('4× graphile-worker addJobs (jobs/s)', times(4, addJobs), `INSERT of 1,000 generated rows into our table${insertOurs.label}`, insertOurs.value);
  line('4× graphile-worker addJobs (jobs/s)', times(4, addJobs), `the same into the minimal table${insertMinimal.label}`, insertMinimal.value);
}
