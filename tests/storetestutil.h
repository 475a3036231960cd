#pragma once

// Shared by the store tests (tst_jobstore, tst_schema, tst_claimconcurrency): result
// checking macros, a readable dump of a Job for failure messages, direct SQL that bypasses
// the library, and small builders that drive a job into a given status through the public
// API only.

#include "oddjobs/jobstore.h"
#include "support/pgcluster.h"
#include "support/testhelpers.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTest>
#include <QUuid>
#include <algorithm>
#include <memory>

// QCOMPARE prints these by name (found by argument-dependent lookup).
namespace OddJobs {
inline char *toString(ErrorCode code)
{
    return qstrdup(qPrintable(errorCodeName(code)));
}
inline char *toString(JobStatus status)
{
    return qstrdup(qPrintable(statusToString(status)));
}
inline char *toString(Backend backend)
{
    return qstrdup(backend == Backend::Sqlite ? "Sqlite" : "PostgreSql");
}
} // namespace OddJobs

namespace StoreTest {

using namespace OddJobs;
using namespace Qt::StringLiterals;

template<typename T>
QString errorText(const Result<T> &result)
{
    return result.ok() ? QString() : result.error().toString();
}

// Fails the current test (and returns from it) unless `expr` is an ok Result.
#define OJ_VERIFY_OK(expr)                                                                         \
    do {                                                                                           \
        const auto &ojResult_ = (expr);                                                            \
        QVERIFY2(ojResult_.ok(), qPrintable(StoreTest::errorText(ojResult_)));                     \
    } while (false)

// Declares `var` holding the value of the ok Result `expr`, or fails the test.
#define OJ_ASSIGN(var, expr)                                                                       \
    auto var##Result_ = (expr);                                                                    \
    QVERIFY2(var##Result_.ok(), qPrintable(StoreTest::errorText(var##Result_)));                   \
    auto var = std::move(var##Result_).value()

// Declares `const Job var`: the job `id` read through `store` (a JobStore), which must exist.
#define OJ_FIND(var, store, id)                                                                    \
    OJ_ASSIGN(var##Optional_, (store).find(id));                                                   \
    QVERIFY2(var##Optional_.has_value(), qPrintable(QStringLiteral("job %1 not found").arg(id)));  \
    const OddJobs::Job var = *var##Optional_

// Fails the test unless `expr` is an error Result with `expectedCode`.
#define OJ_VERIFY_ERROR(expr, expectedCode)                                                        \
    do {                                                                                           \
        const auto &ojResult_ = (expr);                                                            \
        QVERIFY2(!ojResult_.ok(), "expected error " #expectedCode ", but the call succeeded");     \
        QCOMPARE(ojResult_.error().code, expectedCode);                                            \
    } while (false)

// Calls a void helper that may fail the test, and returns when it did.
#define OJ_CALL(expr)                                                                              \
    do {                                                                                           \
        expr;                                                                                      \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

// For init(): a Qt warning about SQL or URL misuse (a connection removed while in use, a
// query on an invalid record, a duplicate connection name, ...) fails the test.
inline void failOnQtMisuseWarnings()
{
    QTest::failOnWarning(QRegularExpression(u"^(QSql|QUrl|QObject|QThread|QSocketNotifier)"_s));
}

// The "backend" column with one row per backend.
inline void backendData()
{
    OddJobs::Test::addBackendColumns();
    OddJobs::Test::addBackendRows();
}

inline Backend backendOf(const QString &backend)
{
    return backend == u"postgresql"_s ? Backend::PostgreSql : Backend::Sqlite;
}

// Opens a store on `url` and, unless told not to, migrates it.
inline Result<std::unique_ptr<JobStore>>
openStore(const QString &url, const StoreOptions &options = {}, bool migrate = true)
{
    auto settings = ConnectionSettings::fromUrl(url);
    if (!settings)
        return settings.error();
    auto store = JobStore::open(settings.value(), options);
    if (!store)
        return store.error();
    if (migrate) {
        const auto migrated = store.value()->migrate();
        if (!migrated)
            return migrated.error();
    }
    return store;
}

// Declares `urlVar` (a fresh database of `backend`) and `storeVar` (a migrated store on it).
#define OJ_FRESH_STORE(storeVar, urlVar, backend)                                                  \
    ODDJOBS_FRESH_URL(backend, urlVar);                                                            \
    OJ_ASSIGN(storeVar, StoreTest::openStore(urlVar))

inline QString jsonText(const QJsonValue &value)
{
    if (value.isUndefined())
        return u"undefined"_s;
    // Wrapped in an array so scalars serialize too; the brackets are stripped again.
    const QByteArray text = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(text.mid(1, text.size() - 2));
}

inline QString timeText(const QDateTime &time)
{
    return time.isValid() ? time.toString(Qt::ISODateWithMs) : u"-"_s;
}

inline QString optionalText(const std::optional<int> &value)
{
    return value ? QString::number(*value) : u"null"_s;
}

// Every field of a job on one line, for failure messages.
inline QString describe(const Job &job)
{
    // Concatenated rather than QString::arg'ed: payload text may contain "%1".
    const QStringList fields {
        u"id="_s + QString::number(job.id),
        u"status="_s + statusToString(job.status),
        u"type="_s + job.type(),
        u"queue="_s + job.queue,
        u"priority="_s + QString::number(job.priority),
        u"attempts="_s + QString::number(job.attempts),
        u"max_attempts="_s + optionalText(job.maxAttempts),
        u"timeout="_s + optionalText(job.timeoutSeconds),
        u"run_at="_s + timeText(job.runAt),
        u"locked_by="_s + (job.lockedBy.isEmpty() ? u"-"_s : job.lockedBy),
        u"locked_at="_s + timeText(job.lockedAt),
        u"started_at="_s + timeText(job.startedAt),
        u"finished_at="_s + timeText(job.finishedAt),
        u"created_at="_s + timeText(job.createdAt),
        u"updated_at="_s + timeText(job.updatedAt),
        u"revision="_s + QString::number(job.revision),
        u"payload="_s + jsonText(job.payload),
        u"last_error="_s + jsonText(job.lastError),
        u"result="_s + jsonText(job.result),
    };
    return u"Job{"_s + fields.join(u' ') + u"}"_s;
}

inline QString describe(const std::optional<Job> &job)
{
    return job ? describe(*job) : u"(no job)"_s;
}

inline QString describe(const QList<Job> &jobs)
{
    QStringList lines;
    for (const Job &job : jobs)
        lines << describe(job);
    return u"["_s + lines.join(u",\n "_s) + u"]"_s;
}

inline QString idsText(const QList<qint64> &ids)
{
    QStringList parts;
    for (qint64 id : ids)
        parts << QString::number(id);
    return u"["_s + parts.join(u", "_s) + u"]"_s;
}

inline QList<qint64> idsOf(const QList<Job> &jobs)
{
    QList<qint64> ids;
    for (const Job &job : jobs)
        ids << job.id;
    return ids;
}

inline QList<qint64> sorted(QList<qint64> ids)
{
    std::sort(ids.begin(), ids.end());
    return ids;
}

inline QStringList sorted(QStringList list)
{
    list.sort();
    return list;
}

// `time` lies in [from, to], widened by `slackMs` on both sides for timestamp rounding
// (the library may keep milliseconds or microseconds; QDateTime keeps milliseconds).
inline bool between(const QDateTime &time, const QDateTime &from, const QDateTime &to,
                    qint64 slackMs = 1000)
{
    return time.isValid() && time >= from.addMSecs(-slackMs) && time <= to.addMSecs(slackMs);
}

inline QString betweenText(const QDateTime &time, const QDateTime &from, const QDateTime &to)
{
    return u"%1 not within [%2, %3]"_s.arg(timeText(time), timeText(from), timeText(to));
}

#define OJ_VERIFY_BETWEEN(time, from, to)                                                          \
    QVERIFY2(StoreTest::between((time), (from), (to)),                                             \
             qPrintable(StoreTest::betweenText((time), (from), (to))))

// Compares every field of two reads of the same job.
inline void verifySameJob(const Job &actual, const Job &expected)
{
    const QByteArray context = describe(actual).toUtf8() + "\n  vs " + describe(expected).toUtf8();
    QVERIFY2(actual.id == expected.id, context.constData());
    QVERIFY2(actual.status == expected.status, context.constData());
    QVERIFY2(actual.payload == expected.payload, context.constData());
    QVERIFY2(actual.lastError == expected.lastError, context.constData());
    QVERIFY2(actual.attempts == expected.attempts, context.constData());
    QVERIFY2(actual.lockedBy == expected.lockedBy, context.constData());
    QVERIFY2(actual.lockedAt == expected.lockedAt, context.constData());
    QVERIFY2(actual.queue == expected.queue, context.constData());
    QVERIFY2(actual.priority == expected.priority, context.constData());
    QVERIFY2(actual.maxAttempts == expected.maxAttempts, context.constData());
    QVERIFY2(actual.timeoutSeconds == expected.timeoutSeconds, context.constData());
    QVERIFY2(actual.result == expected.result, context.constData());
    QVERIFY2(actual.runAt == expected.runAt, context.constData());
    QVERIFY2(actual.createdAt == expected.createdAt, context.constData());
    QVERIFY2(actual.updatedAt == expected.updatedAt, context.constData());
    QVERIFY2(actual.startedAt == expected.startedAt, context.constData());
    QVERIFY2(actual.finishedAt == expected.finishedAt, context.constData());
    QVERIFY2(actual.revision == expected.revision, context.constData());
}

// ---------------------------------------------------------------------------------------
// Direct SQL, bypassing the library: psql (through the harness) for PostgreSQL, a plain
// QSQLITE connection for SQLite. Output is psql's -A -t form: one line per row, columns
// separated by '|', NULL as an empty string.
class DirectSql
{
public:
    explicit DirectSql(const QString &url)
        : m_url(url)
    {
        const auto settings = ConnectionSettings::fromUrl(url);
        if (settings) {
            m_backend = settings->backend;
            m_sqlitePath = settings->sqlitePath;
        }
    }

    Backend backend() const { return m_backend; }
    bool isPostgres() const { return m_backend == Backend::PostgreSql; }

    // One statement (SQLite runs only the first statement of a string).
    bool exec(const QString &sql, QString *output = nullptr, QString *error = nullptr) const
    {
        if (m_backend == Backend::PostgreSql)
            return OddJobs::Test::PgCluster::shared()->execSql(m_url, sql, output, error);

        const QString name = u"direct-"_s + QUuid::createUuid().toString(QUuid::WithoutBraces);
        bool ok = false;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
            db.setDatabaseName(m_sqlitePath);
            db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=10000"_s);
            if (!db.open()) {
                if (error)
                    *error = db.lastError().text();
            } else {
                QSqlQuery query(db);
                if (!query.exec(sql)) {
                    if (error)
                        *error = query.lastError().text();
                } else {
                    ok = true;
                    QStringList rows;
                    while (query.next()) {
                        QStringList columns;
                        for (int i = 0; i < query.record().count(); ++i)
                            columns << (query.isNull(i) ? QString() : query.value(i).toString());
                        rows << columns.join(u'|');
                    }
                    if (output)
                        *output = rows.join(u'\n');
                }
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
        return ok;
    }

    // The first column of the first row, or a string starting with "ERROR: ".
    QString value(const QString &sql) const
    {
        QString output, error;
        if (!exec(sql, &output, &error))
            return u"ERROR: "_s + error;
        return output.section(u'\n', 0, 0).section(u'|', 0, 0);
    }

    // SQL for "`column` moved by `seconds`" (negative: into the past). PostgreSQL stores
    // timestamptz; SQLite stores integer microseconds since the epoch.
    QString shifted(const QString &column, qint64 seconds) const
    {
        if (m_backend == Backend::PostgreSql)
            return u"%1 + make_interval(secs => %2)"_s.arg(column).arg(seconds);
        return u"%1 + %2"_s.arg(column).arg(seconds * 1000000);
    }

    // SQL for a timestamp column as integer microseconds since the epoch.
    QString micros(const QString &column) const
    {
        if (m_backend == Backend::PostgreSql)
            return u"floor(extract(epoch from %1) * 1000000)::bigint"_s.arg(column);
        return column;
    }

    static QString idList(const QList<qint64> &ids)
    {
        QStringList parts;
        for (qint64 id : ids)
            parts << QString::number(id);
        return parts.join(u", "_s);
    }

    // Moves timestamp columns of the given jobs into the past. On PostgreSQL triggers are
    // switched off for the statement so a trigger maintaining updated_at cannot undo it.
    bool backdate(const QString &table, const QStringList &columns, const QList<qint64> &ids,
                  qint64 seconds, QString *error = nullptr) const
    {
        QStringList sets;
        for (const QString &column : columns)
            sets << u"%1 = %2"_s.arg(column, shifted(column, -seconds));
        const QString update
            = u"update %1 set %2 where id in (%3)"_s.arg(table, sets.join(u", "_s), idList(ids));
        if (m_backend == Backend::PostgreSql)
            return exec(u"set session_replication_role = replica; "_s + update + u";"_s, nullptr,
                        error);
        return exec(update, nullptr, error);
    }

private:
    QString m_url;
    Backend m_backend = Backend::Sqlite;
    QString m_sqlitePath;
};

// A connection the test owns (not the store's), for enqueueOn and for LISTEN.
inline QSqlDatabase openOwnConnection(const QString &url, const QString &name)
{
    const auto settings = ConnectionSettings::fromUrl(url);
    if (!settings)
        return {};
    if (settings->backend == Backend::Sqlite) {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
        db.setDatabaseName(settings->sqlitePath);
        db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=10000"_s);
        db.open();
        return db;
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, name);
    db.setHostName(settings->host);
    if (settings->port > 0)
        db.setPort(settings->port);
    db.setUserName(settings->user);
    db.setPassword(settings->password);
    db.setDatabaseName(settings->database);
    db.open();
    return db;
}

// Removes a connection made by openOwnConnection once no handle to it is left.
class OwnConnection
{
public:
    explicit OwnConnection(const QString &url)
        : m_name(u"own-"_s + QUuid::createUuid().toString(QUuid::WithoutBraces))
    {
        m_db = openOwnConnection(url, m_name);
    }
    ~OwnConnection()
    {
        if (m_db.isOpen())
            m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_name);
    }
    OwnConnection(const OwnConnection &) = delete;
    OwnConnection &operator=(const OwnConnection &) = delete;

    QSqlDatabase &db() { return m_db; }

private:
    QString m_name;
    QSqlDatabase m_db;
};

// Counts notifications on one channel of a LISTENing connection the test owns.
class Listener
{
public:
    Listener(const QString &url, const QString &channel)
        : m_connection(url)
        , m_channel(channel)
    {
        QSqlDriver *driver = m_connection.db().driver();
        if (!m_connection.db().isOpen() || !driver)
            return;
        QObject::connect(
            driver, &QSqlDriver::notification, &m_context,
            [this](const QString &name, QSqlDriver::NotificationSource, const QVariant &payload) {
                if (name == m_channel)
                    m_payloads << payload.toString();
            });
        m_subscribed = driver->subscribeToNotification(channel);
    }
    ~Listener()
    {
        if (m_subscribed)
            m_connection.db().driver()->unsubscribeFromNotification(m_channel);
    }

    bool isSubscribed() const { return m_subscribed; }
    int count() const { return int(m_payloads.size()); }
    QStringList payloads() const { return m_payloads; }
    void reset() { m_payloads.clear(); }
    // Lets notifications arrive: long enough for any late duplicate to show up.
    static void settle() { QTest::qWait(500); }

private:
    OwnConnection m_connection;
    QString m_channel;
    QObject m_context;
    QStringList m_payloads;
    bool m_subscribed = false;
};

// ---------------------------------------------------------------------------------------
// Builders: drive a job into a status through the public API.

inline const QString DefaultWorker = u"testhost:1:a"_s;

inline NewJob tagged(const QString &type, const QJsonValue &contents = {})
{
    NewJob job;
    QJsonObject payload { { u"tag"_s, type } };
    if (!contents.isUndefined() && !contents.isNull())
        payload.insert(u"contents"_s, contents);
    job.payload = payload;
    return job;
}

inline QJsonObject errorJson(const QString &message, const QString &kind = u"exception"_s)
{
    return QJsonObject { { u"message"_s, message }, { u"kind"_s, kind } };
}

inline JobFilter statusFilter(QList<JobStatus> statuses)
{
    JobFilter filter;
    filter.statuses = std::move(statuses);
    return filter;
}

// Claims exactly `id`, which must be the only runnable job, as `worker`.
inline void claimOnly(JobStore &store, qint64 id, Job *claimed,
                      const QString &worker = DefaultWorker)
{
    ClaimRequest request;
    request.worker = worker;
    request.anyType = true;
    request.limit = 1;
    OJ_ASSIGN(jobs, store.claim(request));
    QVERIFY2(jobs.size() == 1, qPrintable(u"claiming job %1 got %2"_s.arg(id).arg(describe(jobs))));
    QVERIFY2(
        jobs.first().id == id,
        qPrintable(
            u"claiming job %1 got %2 (another job was runnable: test set-up bug)"_s.arg(id).arg(
                describe(jobs))));
    if (claimed)
        *claimed = jobs.first();
}

// Enqueues `newJob` and drives it to `status`. The job must become the only runnable job
// when claimed, so call this before enqueueing the queued jobs of a scenario.
//   Locked: claimed by `worker`. Success: completed with result {"ok": true}.
//   Failed: failed until attempts are used up. Retry: failed once, retried in an hour.
//   Cancelled: cancelled while queued.
inline void makeJob(JobStore &store, const NewJob &newJob, JobStatus status, Job *out,
                    const QString &worker = DefaultWorker)
{
    OJ_ASSIGN(job, store.enqueue(newJob));
    switch (status) {
    case JobStatus::Queued:
        break;
    case JobStatus::Cancelled: {
        OJ_ASSIGN(changed, store.cancel(JobFilter::byIds({ job.id })));
        QCOMPARE(changed, 1);
        break;
    }
    case JobStatus::Locked:
        OJ_CALL(claimOnly(store, job.id, nullptr, worker));
        break;
    case JobStatus::Success: {
        OJ_CALL(claimOnly(store, job.id, nullptr, worker));
        JobOutcome outcome;
        outcome.id = job.id;
        outcome.success = true;
        outcome.result = QJsonObject { { u"ok"_s, true } };
        OJ_ASSIGN(written, store.complete(worker, { outcome }));
        QCOMPARE(written.size(), 1);
        QCOMPARE(written.first().status, JobStatus::Success);
        break;
    }
    case JobStatus::Retry: {
        OJ_CALL(claimOnly(store, job.id, nullptr, worker));
        JobOutcome outcome;
        outcome.id = job.id;
        outcome.error = errorJson(u"transient"_s);
        outcome.retryDelaySeconds = 3600;
        OJ_ASSIGN(written, store.complete(worker, { outcome }, 10));
        QCOMPARE(written.size(), 1);
        QCOMPARE(written.first().status, JobStatus::Retry);
        break;
    }
    case JobStatus::Failed: {
        for (int attempt = 1; attempt <= 20; ++attempt) {
            OJ_CALL(claimOnly(store, job.id, nullptr, worker));
            JobOutcome outcome;
            outcome.id = job.id;
            outcome.error = errorJson(u"permanent"_s);
            outcome.retryDelaySeconds = 0;
            OJ_ASSIGN(written, store.complete(worker, { outcome }, 1));
            QCOMPARE(written.size(), 1);
            if (written.first().status == JobStatus::Failed)
                break;
            QCOMPARE(written.first().status, JobStatus::Retry);
        }
        break;
    }
    }
    OJ_ASSIGN(found, store.find(job.id));
    QVERIFY(found.has_value());
    QVERIFY2(found->status == status, qPrintable(describe(*found)));
    if (out)
        *out = *found;
}

} // namespace StoreTest
