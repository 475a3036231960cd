-- The runner's two statements through pgbench, with no client work around them: the claim of
-- :batch jobs as JobStore::claim() sends it (no type or queue filter, no stretch bound), then
-- the write of their outcomes as JobStore::writeOutcomes() sends it for successes deleted
-- (RunnerConfig::deleteSuccessfulJobs). pgbench -M prepared -D batch=500 -f this file.
-- Each client claims in its own session with the worker name the delete trigger compares.
SELECT set_config('oddjobs.worker', 'pgbench-' || :client_id, false);
WITH c AS (
  UPDATE jobs AS t SET status = 'locked', locked_at = now(), locked_by = 'pgbench-' || :client_id,
         started_at = now(), updated_at = now(), attempts = t.attempts + 1
   WHERE t.id = ANY(ARRAY(SELECT id FROM jobs WHERE status IN ('queued', 'retry')
                          AND run_at <= now() ORDER BY priority, run_at, id LIMIT :batch
                          FOR UPDATE SKIP LOCKED))
  RETURNING t.id, (EXTRACT(EPOCH FROM t.created_at) * 1000000)::int8,
            (EXTRACT(EPOCH FROM t.updated_at) * 1000000)::int8,
            (EXTRACT(EPOCH FROM t.run_at) * 1000000)::int8,
            (EXTRACT(EPOCH FROM t.locked_at) * 1000000)::int8, t.payload::text,
            t.last_error::text, t.attempts, t.queue, t.priority, t.max_attempts,
            t.timeout_seconds, t.result::text, (EXTRACT(EPOCH FROM t.finished_at) * 1000000)::int8
)
SELECT coalesce(array_agg(id), '{}') AS ids FROM c \gset
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
