#pragma once

#include "oddjobs/connectionsettings.h"
#include "oddjobs/core_export.h"
#include "oddjobs/job.h"
#include "oddjobs/result.h"

#include <QSqlDatabase>
#include <QString>
#include <memory>

namespace OddJobs {

struct OJ_CORE_EXPORT StoreOptions
{
    TableName table;
    bool readOnly = false; // monitor-only: the connection itself refuses writes
    int maxPayloadBytes = 1024 * 1024; // serialized JSON size limit for payloads and results
    int connectTimeoutSeconds = 10;
    int sqliteBusyTimeoutMs = 10000;
};

// The schema this release writes. A database at a higher version is refused.
inline constexpr int CurrentSchemaVersion = 3;
// A read-only store (monitor mode) also reads a table this old: versions since differ only
// in indexes and triggers, so a dashboard can watch workers of an older release without
// migrating.
inline constexpr int OldestReadableSchemaVersion = 1;

struct OJ_CORE_EXPORT SchemaStatus
{
    bool tableExists = false;
    int version = 0; // 0: never migrated by OddJobs (a fresh database or an odd-jobs table)
};

// The jobs table behind one database connection. A JobStore belongs to the thread that
// opened it: it owns a QSqlDatabase connection created there under a unique name, and it
// must be used and destroyed in that thread. Open one store per thread.
//
// Every time comparison and every written timestamp uses the database clock.
class OJ_CORE_EXPORT JobStore
{
public:
    virtual ~JobStore();
    JobStore(const JobStore &) = delete;
    JobStore &operator=(const JobStore &) = delete;

    static Result<std::unique_ptr<JobStore>> open(const ConnectionSettings &settings,
                                                  const StoreOptions &options = {});

    // Enqueue on a connection the caller owns, inside the caller's open transaction: the job
    // exists only if the caller commits. The connection must be a QPSQL or QSQLITE one.
    static Result<Job> enqueueOn(QSqlDatabase &db, const TableName &table, const NewJob &job,
                                 int maxPayloadBytes = 1024 * 1024);

    Backend backend() const { return m_settings.backend; }
    const ConnectionSettings &settings() const { return m_settings; }
    const StoreOptions &options() const { return m_options; }
    QString connectionName() const { return m_connectionName; }
    bool isOpen() const;
    // Drops and reopens the connection (after the server went away).
    Result<void> reconnect();

    // --- schema ---
    Result<SchemaStatus> schemaStatus();
    // Creates the table or brings it (also an odd-jobs table) up to CurrentSchemaVersion.
    // Returns the version the database was at before.
    Result<int> migrate();
    // Succeeds when the table exists at exactly CurrentSchemaVersion (a read-only store: at
    // OldestReadableSchemaVersion up to CurrentSchemaVersion).
    Result<void> checkSchema();

    // --- enqueue ---
    Result<Job> enqueue(const NewJob &job);
    // All jobs in one statement (one round trip, one notification). Returns the new ids in
    // input order.
    Result<QList<qint64>> enqueueMany(const QList<NewJob> &jobs);

    // --- reading ---
    Result<std::optional<Job>> find(qint64 id);
    Result<JobPage> list(const JobFilter &filter, const PageRequest &page = {});
    Result<qint64> count(const JobFilter &filter = {});
    // The planner's estimate (PostgreSQL) for huge tables; exact on SQLite.
    Result<qint64> estimateCount(const JobFilter &filter = {});
    Result<QList<TypeStatistics>> statistics(int windowSeconds = 3600);
    // Jobs finished (success / failed) per interval, for the last `buckets` intervals of
    // `bucketSeconds` up to now, oldest first; `type` empty: all types.
    Result<QList<ThroughputBucket>> throughput(int bucketSeconds, int buckets,
                                               const QString &type = {});
    // The distinct job types and queues present (for filters and the enqueue dialog).
    Result<QStringList> jobTypes();
    Result<QStringList> queues();
    Result<QDateTime> now();

    // --- changing jobs ---
    // Replaces the editable fields (payload, run_at, queue, priority, max_attempts,
    // timeout) of a job that is not running. `expectedRevision` is Job::revision as read:
    // Conflict if the row changed since, InvalidState if it is locked, NotFound if gone.
    Result<Job> edit(qint64 id, const NewJob &fields, qint64 expectedRevision);
    // failed, cancelled, retry and (future) queued jobs become queued with run_at = now();
    // attempts restart for failed and cancelled jobs. Returns how many changed.
    Result<int> runNow(const JobFilter &filter);
    // queued, retry and locked jobs become cancelled. Returns how many changed.
    Result<int> cancel(const JobFilter &filter);
    Result<int> remove(const JobFilter &filter);
    // Deletes finished jobs whose finished_at (else updated_at) is older than the retention,
    // in batches of `batchSize` rows (one transaction each), until none is left or after
    // `maxBatches` batches (0: no limit). Returns how many were deleted.
    // A retention of 0 (or less) keeps every job and deletes nothing.
    Result<qint64> prune(int retentionSeconds, int batchSize = 1000, int maxBatches = 0);

    // --- runner primitives ---
    // Claims up to request.limit runnable jobs (status queued/retry, run_at <= now()),
    // ordered by priority, run_at, id, skipping rows other workers hold. Sets status locked,
    // locked_at, locked_by, started_at, attempts + 1. Returns them in claim order; with `last`,
    // also the claim key of the last of them (untouched when none was claimed).
    Result<QList<Job>> claim(const ClaimRequest &request, ClaimKey *last = nullptr);
    // The claim key of the request.limit-th runnable row after request.after that the request
    // would claim (its types and queues; request.upTo is ignored), read without locking
    // anything; none when fewer rows are runnable. A claim up to it takes at most those rows.
    Result<std::optional<ClaimKey>> claimRangeEnd(const ClaimRequest &request);
    // Writes many outcomes in one statement, each only if the row is still locked by
    // `worker`. A failure becomes retry (run_at = now() + delay) while attempts <
    // max_attempts (or defaultMaxAttempts), else failed.
    Result<QList<WrittenOutcome>> complete(const QString &worker, const QList<JobOutcome> &outcomes,
                                           int defaultMaxAttempts = 10);
    // Refreshes locked_at of the worker's jobs. Returns the ids it still holds: a missing id
    // was cancelled, rescued or deleted, and its handler should stop.
    Result<QList<qint64>> heartbeat(const QString &worker, const QList<qint64> &ids);
    // The ids of `ids` still locked by `worker`, without writing anything (a cheap check for
    // cancellations where no notifications exist, i.e. SQLite).
    Result<QList<qint64>> stillHeld(const QString &worker, const QList<qint64> &ids);
    // Moves locked jobs whose locked_at is older than lockTimeoutSeconds to retry
    // (run_at = now()) or, with no attempts left, to failed, with a "lock expired" error.
    Result<QList<WrittenOutcome>> rescueExpired(int lockTimeoutSeconds,
                                                int defaultMaxAttempts = 10);
    // Hands unfinished jobs back on shutdown: queued again, run now, the attempt not counted.
    Result<int> release(const QString &worker, const QList<qint64> &ids);
    // PostgreSQL: sets this connection up for the primitives above run thousands of times a
    // second (a worker's connections): statements keep their plans, made again for the table
    // as it is at most every ReplanIntervalMs; no JIT; and with `claiming` no sorts where an
    // index gives the order; and the connection names `worker`, so the jobs it deletes for
    // that worker notify nobody (schema version 3). Lasts as long as the connection: call it
    // again after reconnect(). Nothing to do on SQLite.
    Result<void> tuneForRunner(bool claiming, const QString &worker);
    static constexpr int ReplanIntervalMs = 1000;

    // The connection, for callers that want to run their own SQL in this thread.
    QSqlDatabase database() const;

protected:
    JobStore(ConnectionSettings settings, StoreOptions options);

private:
    class Private;
    friend class Private;
    // A claim's conditions: runnable, its types and queues, after `after` (and up to `upTo`).
    void runnableConditions(const ClaimRequest &request, bool withUpTo, QStringList &conditions,
                            QVariantList &binds) const;
    ConnectionSettings m_settings;
    StoreOptions m_options;
    QString m_connectionName;
    std::unique_ptr<Private> d;
};

} // namespace OddJobs
