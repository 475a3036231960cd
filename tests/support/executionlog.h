#pragma once

// The side table in which test handlers record every execution, shared by the test worker
// process (oddjobs_test_worker), tst_runnerprocesses and the chaos soak (tests/soak):
//   executions(exec_id, job_id, worker, started_at, finished_at)
// PostgreSQL stamps the times with clock_timestamp(); SQLite gets integer microseconds of the
// local clock (one host, so one clock for every process). Each handler thread writes over a
// connection of its own, opened in that thread and removed when the thread ends.

#include "oddjobs/connectionsettings.h"

#include <QAtomicInteger>
#include <QElapsedTimer>
#include <QHash>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QThread>
#include <QThreadStorage>
#include <QVariantList>
#include <algorithm>
#include <chrono>
#include <functional>

namespace OddJobs::Test {

inline QString executionsTableSql(Backend backend)
{
    using namespace Qt::StringLiterals;
    if (backend == Backend::PostgreSql)
        return u"CREATE TABLE executions (exec_id bigserial PRIMARY KEY, job_id bigint NOT NULL, "
               "worker text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz)"_s;
    return u"CREATE TABLE executions (exec_id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, "
           "worker TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER)"_s;
}

inline qint64 microsNow()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// One connection per thread and database, created in that thread under a unique name and
// removed (in that thread) when the thread exits.
class ThreadConnections
{
public:
    ThreadConnections() = default;
    ThreadConnections(const ThreadConnections &) = delete;
    ThreadConnections &operator=(const ThreadConnections &) = delete;
    ~ThreadConnections()
    {
        for (const QString &name : std::as_const(m_names)) {
            {
                QSqlDatabase db = QSqlDatabase::database(name, false);
                db.close();
            }
            QSqlDatabase::removeDatabase(name);
        }
    }

    static ThreadConnections &current()
    {
        // QThreadStorage, not thread_local: Qt destroys it while finishing the QThread, before
        // QThread::wait() returns, so a thread pool torn down in main() has removed its
        // connections before main() returns. A thread_local would go later, racing the
        // process's exit (and Qt SQL's own connection registry being destroyed).
        static QThreadStorage<ThreadConnections *> storage;
        if (!storage.hasLocalData())
            storage.setLocalData(new ThreadConnections);
        return *storage.localData();
    }

    // The open connection for `settings`, or an invalid one with *error set.
    QSqlDatabase get(const ConnectionSettings &settings, QString *error)
    {
        using namespace Qt::StringLiterals;
        const QString key = settings.displayString();
        if (const auto it = m_names.constFind(key); it != m_names.cend()) {
            QSqlDatabase db = QSqlDatabase::database(*it, false);
            if (db.isOpen())
                return db;
        }
        static QAtomicInteger<quint64> counter;
        const QString name = u"oddjobs-test-exec-%1"_s.arg(counter.fetchAndAddRelaxed(1));
        QSqlDatabase db;
        if (settings.backend == Backend::PostgreSql) {
            db = QSqlDatabase::addDatabase(u"QPSQL"_s, name);
            db.setHostName(settings.host);
            if (settings.port > 0)
                db.setPort(settings.port);
            db.setUserName(settings.user);
            db.setPassword(settings.password);
            db.setDatabaseName(settings.database);
            db.setConnectOptions(u"connect_timeout=10"_s);
        } else {
            db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
            db.setDatabaseName(settings.sqlitePath);
            db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=60000"_s);
        }
        bool ok = db.open();
        if (ok && settings.backend == Backend::Sqlite) {
            // The jobs file is already in WAL mode; a test log needs no fsync per write.
            QSqlQuery q(db);
            ok = q.exec(u"PRAGMA synchronous=NORMAL"_s);
        }
        if (!ok) {
            if (error)
                *error = db.lastError().text();
            db.close();
            db = QSqlDatabase();
            QSqlDatabase::removeDatabase(name);
            return {};
        }
        m_names.insert(key, name);
        return db;
    }

    // Closes and removes this thread's connection for `settings`: after a write failed, the
    // server may have gone away, and a dead PostgreSQL connection still reports itself open.
    void forget(const ConnectionSettings &settings)
    {
        const QString name = m_names.take(settings.displayString());
        if (name.isEmpty())
            return;
        {
            QSqlDatabase db = QSqlDatabase::database(name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
    }

private:
    QHash<QString, QString> m_names; // settings -> connection name
};

// Records that `worker` executes job `jobId`: a row with started_at, then `work()`, then
// finished_at. Returns false (and *error) when the log could not be written.
inline bool recordExecution(const ConnectionSettings &settings, qint64 jobId, const QString &worker,
                            const std::function<void()> &work, QString *error)
{
    using namespace Qt::StringLiterals;
    QSqlDatabase db = ThreadConnections::current().get(settings, error);
    if (!db.isValid())
        return false;
    const bool pg = settings.backend == Backend::PostgreSql;
    qint64 execId = 0;
    {
        QSqlQuery q(db);
        q.prepare(
            pg ? u"INSERT INTO executions (job_id, worker, started_at) VALUES (?, ?, "
                 u"clock_timestamp()) "
                 "RETURNING exec_id"_s
               : u"INSERT INTO executions (job_id, worker, started_at) VALUES (?, ?, ?) RETURNING exec_id"_s);
        q.addBindValue(jobId);
        q.addBindValue(worker);
        if (!pg)
            q.addBindValue(microsNow());
        if (!q.exec() || !q.next()) {
            if (error)
                *error = u"cannot record the start of job %1: %2"_s.arg(jobId).arg(
                    q.lastError().text());
            return false;
        }
        execId = q.value(0).toLongLong();
        q.finish(); // SQLite commits an INSERT ... RETURNING when the statement is reset
    }
    if (work)
        work();
    QSqlQuery q(db);
    q.prepare(pg ? u"UPDATE executions SET finished_at = clock_timestamp() WHERE exec_id = ?"_s
                 : u"UPDATE executions SET finished_at = ? WHERE exec_id = ?"_s);
    if (!pg)
        q.addBindValue(microsNow());
    q.addBindValue(execId);
    if (!q.exec()) {
        if (error)
            *error = u"cannot record the end of job %1: %2"_s.arg(jobId).arg(q.lastError().text());
        return false;
    }
    return true;
}

// Like recordExecution, but rides out a database that goes away for a while (a server restart):
// each of the two writes is retried on a fresh connection until it succeeds, `retryForMs`
// passed, or `giveUp()` says so. The row's exec_id is chosen here, so an INSERT whose commit
// happened but whose reply was lost is not written twice when it is retried. The times are
// still the server's clock_timestamp() of the write that took: the start is stamped before
// work() begins and the end after it returned, so [started_at, finished_at] always contains
// the work, however long the retries took.
inline bool recordExecutionRetrying(const ConnectionSettings &settings, qint64 jobId,
                                    const QString &worker, const std::function<void()> &work,
                                    int retryForMs, const std::function<bool()> &giveUp,
                                    QString *error)
{
    using namespace Qt::StringLiterals;
    const bool pg = settings.backend == Backend::PostgreSql;
    const qint64 execId = qint64(QRandomGenerator::system()->generate64() >> 1);
    auto write = [&](const QString &sql, const QVariantList &binds, const QString &what) {
        QElapsedTimer clock;
        clock.start();
        QString lastError;
        for (int attempt = 0;; ++attempt) {
            QSqlDatabase db = ThreadConnections::current().get(settings, &lastError);
            if (db.isValid()) {
                QSqlQuery q(db);
                bool ok = q.prepare(sql);
                for (const QVariant &value : binds)
                    q.addBindValue(value);
                ok = ok && q.exec();
                if (ok)
                    return true;
                lastError = q.lastError().text();
            }
            db = QSqlDatabase();
            ThreadConnections::current().forget(settings);
            if (clock.elapsed() >= retryForMs || (giveUp && giveUp())) {
                if (error)
                    *error
                        = u"cannot record the %1 of job %2 (%3 attempts in %4 ms): %5"_s.arg(what)
                              .arg(jobId)
                              .arg(attempt + 1)
                              .arg(clock.elapsed())
                              .arg(lastError);
                return false;
            }
            QThread::msleep(std::min(20 << std::min(attempt, 4), 250));
        }
    };
    const QString insert = pg
        ? u"INSERT INTO executions (exec_id, job_id, worker, started_at) VALUES (?, ?, ?, "
          "clock_timestamp()) ON CONFLICT (exec_id) DO NOTHING"_s
        : u"INSERT OR IGNORE INTO executions (exec_id, job_id, worker, started_at) "
          "VALUES (?, ?, ?, ?)"_s;
    QVariantList binds { execId, jobId, worker };
    if (!pg)
        binds << microsNow();
    if (!write(insert, binds, u"start"_s))
        return false;
    if (work)
        work();
    const QString update = pg
        ? u"UPDATE executions SET finished_at = clock_timestamp() WHERE exec_id = ?"_s
        : u"UPDATE executions SET finished_at = ? WHERE exec_id = ?"_s;
    binds = pg ? QVariantList { execId } : QVariantList { microsNow(), execId };
    return write(update, binds, u"end"_s);
}

} // namespace OddJobs::Test
