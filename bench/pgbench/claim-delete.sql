-- The runner's two statements through pgbench, with no client work around them: the claim of
-- :batch jobs of the types in :types as JobStore::claim() sends it for a worker with handlers
-- for those types only (no queue filter), then the write of their outcomes as
-- JobStore::writeOutcomes() sends it for successes deleted (RunnerConfig::deleteSuccessfulJobs).
-- The claimed rows go to pgbench as they go to the runner; the last row also carries the ids.
-- Unlike the runner, every client claims from the start of claim order (no stretches of their
-- own, so clients step over each other's locked rows) and writes once per claim.
--   PGOPTIONS='-c plan_cache_mode=force_generic_plan -c jit=off -c enable_sort=off' \
--     pgbench -M prepared -D batch=500 -D types='{bench.noop}' -f this file
-- (the session settings the runner gives its claiming connections).
SELECT set_config('oddjobs.worker', 'pgbench-' || :client_id, false);
WITH c AS (
  UPDATE jobs AS t SET status = 'locked', locked_at = now(), locked_by = 'pgbench-' || :client_id,
         started_at = now(), updated_at = now(), attempts = t.attempts + 1
   WHERE t.id = ANY(ARRAY(SELECT id FROM jobs WHERE status IN ('queued', 'retry')
                          AND run_at <= now() AND job_type = ANY(CAST(:types AS text[]))
                          ORDER BY priority, run_at, id LIMIT :batch FOR UPDATE SKIP LOCKED))
  RETURNING t.id, (EXTRACT(EPOCH FROM t.created_at) * 1000000)::int8 AS created,
            (EXTRACT(EPOCH FROM t.updated_at) * 1000000)::int8 AS updated,
            (EXTRACT(EPOCH FROM t.run_at) * 1000000)::int8 AS run,
            (EXTRACT(EPOCH FROM t.locked_at) * 1000000)::int8 AS locked, t.payload::text AS payload,
            t.last_error::text AS last_error, t.attempts, t.queue, t.priority, t.max_attempts,
            t.timeout_seconds, t.result::text AS result,
            (EXTRACT(EPOCH FROM t.finished_at) * 1000000)::int8 AS finished
)
SELECT c.*, CASE WHEN row_number() OVER () = count(*) OVER () THEN array_agg(c.id) OVER () END
       AS ids
  FROM c \aset
WITH upd AS (
  UPDATE jobs AS t SET status = 'success', result = NULL, locked_at = NULL, locked_by = NULL,
         finished_at = now(), updated_at = now()
   WHERE t.id = ANY(CAST('{}' AS bigint[])) AND t.locked_by = 'pgbench-' || :client_id
  RETURNING t.id, t.status, t.attempts, false AS deleted
), del AS (
  DELETE FROM jobs AS t WHERE t.id = ANY(CAST(:ids AS bigint[]))
     AND t.locked_by = 'pgbench-' || :client_id
  RETURNING t.id, 'success'::text, t.attempts, true AS deleted
)
SELECT * FROM upd UNION ALL SELECT * FROM del;
