// graphile-worker drained with a deeper local queue than its performance page's 500, so our
// deeper hold (claims of 1,000, 3,000 jobs held beyond free slots) is compared with the peer
// at the same hold. Timed as the peer harness times its drains: from just before run() until
// the handler has seen every job and then no job is left in graphile-worker's table (read
// every 5 ms). One JSON line per drain, in the peer harness's shape.
//   cd <copy of the peer harness, with node_modules> &&
//     URL=postgresql://... SIZES=3000 node <repo>/bench/graphile-deeper-hold.mjs
// Env: URL (required), N (jobs per drain, 20000), SIZES (local queue sizes, 3000),
//      CONCURRENCY (10), RUN_ID.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// graphile-worker and pg come from the peer harness's node_modules (the working directory).
const fromCwd = createRequire(pathToFileURL(`${process.cwd()}/`).href);
const { run, makeWorkerUtils, Logger } = await import(
  pathToFileURL(fromCwd.resolve('graphile-worker')).href);
const pg = (await import(pathToFileURL(fromCwd.resolve('pg')).href)).default;
const version = JSON.parse(
  readFileSync(`${process.cwd()}/node_modules/graphile-worker/package.json`, 'utf8')).version;

const url = process.env.URL;
if (!url) {
  console.error('set URL to the server the peer harness uses');
  process.exit(2);
}
const n = Number(process.env.N || 20000);
const concurrency = Number(process.env.CONCURRENCY || 10);
const sizes = (process.env.SIZES || '3000').split(',').map(Number);
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[graphile ${level}] ${message}`);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const client = new pg.Client({ connectionString: url });
await client.connect();
const utils = await makeWorkerUtils({ connectionString: url, logger });
await utils.migrate();
const remaining = async () =>
  (await client.query('select count(*)::int as n from graphile_worker._private_jobs')).rows[0].n;

for (const size of sizes) {
  await client.query('delete from graphile_worker._private_jobs');
  await client.query('vacuum analyze graphile_worker._private_jobs');
  for (let i = 0; i < n; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
      identifier: 'noop',
      payload: { i: i + k },
    }));
    await utils.addJobs(chunk);
  }
  await client.query('analyze graphile_worker._private_jobs');
  await client.query('checkpoint');
  let ran = 0;
  const t0 = performance.now();
  const runner = await run({
    connectionString: url,
    concurrency,
    maxPoolSize: Math.max(10, concurrency + 2),
    noHandleSignals: true,
    logger,
    taskList: { noop: async () => { ran++; } },
    preset: { worker: { localQueue: { size }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
  const deadline = t0 + 60000;
  while (ran < n && performance.now() < deadline) await sleep(5);
  while ((await remaining()) > 0 && performance.now() < deadline) await sleep(5);
  const ms = performance.now() - t0;
  const left = await remaining();
  await runner.stop();
  console.log(JSON.stringify({
    run_id: process.env.RUN_ID,
    tool: 'graphile-worker',
    version,
    test: 'throughput',
    variant: `batched-localqueue${size}`,
    concurrency,
    n,
    completed: n - left,
    capped: left > 0,
    ms: Math.round(ms),
    jobs_per_s: Math.round(((n - left) / ms) * 1000),
    config: { localQueue: { size }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  }));
}
await utils.release();
await client.end();
