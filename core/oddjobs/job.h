#pragma once

#include "oddjobs/core_export.h"

#include <QDateTime>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <optional>
#include <tuple>

namespace OddJobs {

// The status strings are odd-jobs' own (plus "cancelled"), so an odd-jobs table can be
// migrated in place and its rows read without translation.
enum class JobStatus
{
    Queued,
    Locked,
    Retry,
    Success,
    Failed,
    Cancelled,
};

OJ_CORE_EXPORT QString statusToString(JobStatus status);
OJ_CORE_EXPORT std::optional<JobStatus> statusFromString(QStringView text);
OJ_CORE_EXPORT QList<JobStatus> allStatuses();
// Runnable when due: queued or retry. Finished: success, failed, cancelled.
OJ_CORE_EXPORT bool isFinished(JobStatus status);

// The job type of a payload: payload.tag when it is a string, otherwise "(unknown)".
OJ_CORE_EXPORT QString jobTypeOf(const QJsonValue &payload);
inline constexpr QStringView UnknownJobType = u"(unknown)";

// One row of the jobs table. Times are UTC and come from the database clock.
struct OJ_CORE_EXPORT Job
{
    qint64 id = 0;
    QDateTime createdAt;
    QDateTime updatedAt;
    QDateTime runAt;
    JobStatus status = JobStatus::Queued;
    QJsonValue payload;
    QJsonValue lastError; // Null when none
    int attempts = 0;
    QDateTime lockedAt;
    QString lockedBy;
    QString queue;
    int priority = 0;
    std::optional<int> maxAttempts; // nullopt: the worker's default
    std::optional<int> timeoutSeconds; // nullopt: the worker's default
    QJsonValue result; // Null when none
    QDateTime startedAt;
    QDateTime finishedAt;
    // updated_at in microseconds since the epoch: the token edit() checks for conflicts.
    qint64 revision = 0;

    QString type() const { return jobTypeOf(payload); }
    bool isValid() const { return id > 0; }
    // Every field, with odd-jobs' column names and ISO 8601 UTC times (null when unset).
    QJsonObject toJson() const;
};

// What a caller provides to create a job, or to replace a job's editable fields.
struct OJ_CORE_EXPORT NewJob
{
    QJsonValue payload;
    std::optional<QDateTime> runAt; // nullopt: now (database clock)
    std::optional<double> delaySeconds; // alternative to runAt: now() + delay
    QString queue = QStringLiteral("default");
    int priority = 0;
    std::optional<int> maxAttempts;
    std::optional<int> timeoutSeconds;

    // Convenience: payload {"tag": type, "contents": contents}; without contents (Undefined)
    // just {"tag": type}, as odd-jobs encodes a constructor without arguments.
    static NewJob tagged(const QString &type,
                         const QJsonValue &contents = QJsonValue(QJsonValue::Undefined));
};

enum class TimeField
{
    CreatedAt,
    UpdatedAt,
    RunAt,
    FinishedAt
};

// Which jobs a listing, a count or a bulk action applies to. Empty lists match everything.
struct OJ_CORE_EXPORT JobFilter
{
    std::optional<QList<qint64>> ids; // set: only these ids (an empty list matches none)
    QList<JobStatus> statuses;
    QStringList types;
    QStringList queues;
    QStringList workers; // locked_by
    TimeField timeField = TimeField::CreatedAt;
    QDateTime from; // inclusive, invalid: open
    QDateTime to; // exclusive, invalid: open
    // A whole number matches the id; any text also matches the payload's JSON text
    // (case-insensitive substring).
    QString search;

    static JobFilter byIds(const QList<qint64> &ids);
    bool isEmpty() const;
    // The same test the store applies in SQL, for rows a live view already holds. The text
    // search compares against the compact JSON of the payload, case-insensitively.
    bool matches(const Job &job) const;
};

enum class SortKey
{
    Id,
    CreatedAt,
    UpdatedAt,
    RunAt,
    Status,
    Type,
    Priority
};

// A position in a keyset-paged listing: the sort key's value and the id of the row.
struct OJ_CORE_EXPORT PageCursor
{
    QVariant key;
    qint64 id = 0;
    bool operator==(const PageCursor &) const = default;
};

struct OJ_CORE_EXPORT PageRequest
{
    SortKey sort = SortKey::Id;
    Qt::SortOrder order = Qt::DescendingOrder;
    int limit = 100;
    // At most one of the two: rows after the cursor (next page) or before it (previous
    // page). Either way the rows come back in the requested order.
    std::optional<PageCursor> after;
    std::optional<PageCursor> before;
};

struct OJ_CORE_EXPORT JobPage
{
    QList<Job> jobs;
    PageCursor first; // cursor of jobs.first(), for the previous page
    PageCursor last; // cursor of jobs.last(), for the next page
    bool hasMore = false; // more rows beyond this page in the direction asked for
};

struct OJ_CORE_EXPORT TypeStatistics
{
    QString type;
    qint64 queued = 0, locked = 0, retry = 0, success = 0, failed = 0, cancelled = 0;
    qint64 finishedInWindow = 0; // success + failed with finished_at in the window
    qint64 succeededInWindow = 0;
    qint64 failedInWindow = 0;
    double successRate = 0; // succeededInWindow / finishedInWindow; 0 when none finished
    double throughputPerSecond = 0; // succeededInWindow / window
    std::optional<double> durationP50Seconds; // of attempts finished in the window
    std::optional<double> durationP95Seconds;

    qint64 total() const { return queued + locked + retry + success + failed + cancelled; }
};

// Finished jobs in one interval of a throughput chart.
struct OJ_CORE_EXPORT ThroughputBucket
{
    QDateTime start; // UTC, inclusive
    qint64 succeeded = 0;
    qint64 failed = 0;
};

// A row's place in claim order: priority, run_at (microseconds since the epoch, exactly as
// stored), id.
struct OJ_CORE_EXPORT ClaimKey
{
    int priority = 0;
    qint64 runAtMicros = 0;
    qint64 id = 0;

    friend bool operator<(const ClaimKey &a, const ClaimKey &b)
    {
        return std::tie(a.priority, a.runAtMicros, a.id)
            < std::tie(b.priority, b.runAtMicros, b.id);
    }
    friend bool operator==(const ClaimKey &a, const ClaimKey &b)
    {
        return std::tie(a.priority, a.runAtMicros, a.id)
            == std::tie(b.priority, b.runAtMicros, b.id);
    }
};

// The runner's claim: up to `limit` runnable jobs, only of these types and queues.
struct OJ_CORE_EXPORT ClaimRequest
{
    QString worker; // host:pid:suffix
    QStringList types; // the job types with a handler
    bool anyType = false; // a catch-all handler exists: ignore `types`
    QStringList queues; // empty: every queue
    int limit = 1;
    // Only rows after this key in claim order. A runner draining a backlog passes the key of
    // the last row it claimed: the rows before it are taken, and PostgreSQL's claim index
    // keeps their dead entries until the next vacuum, which every claim from the start of the
    // index would walk through again (15,000 of them made a claim of one row ~12× dearer).
    std::optional<ClaimKey> after;
    // Only rows up to this key, inclusive: claims on their way side by side each take a
    // stretch of claim order of their own (JobStore::claimRangeEnd()) instead of stepping over
    // every row the others lock.
    std::optional<ClaimKey> upTo;
};

// What happened to one claimed job, written back by complete().
struct OJ_CORE_EXPORT JobOutcome
{
    qint64 id = 0;
    bool success = false;
    QJsonValue result; // success: the handler's result (Null for none)
    QJsonValue error; // failure: {"message": ..., "kind": ...}
    double retryDelaySeconds = 0; // failure: run_at = now() + this when retried
    bool deleteOnSuccess = false; // odd-jobs' behaviour; we keep jobs by default
};

// complete()/rescue report the status each written job ended in (Deleted for a success that
// was removed). Jobs whose lock was no longer held by the worker are left out.
struct OJ_CORE_EXPORT WrittenOutcome
{
    qint64 id = 0;
    JobStatus status = JobStatus::Success;
    bool deleted = false;
    int attempts = 0;
};

} // namespace OddJobs

Q_DECLARE_METATYPE(OddJobs::Job)
Q_DECLARE_METATYPE(OddJobs::JobStatus)
