// The runner (SPEC §3 lifecycle, §4 runner) in one process: outcomes, retries and backoff,
// timeouts, cancellation, shutdown, wake-ups by notification, concurrency control and
// reconnection, against SQLite files and the harness's real PostgreSQL.

#include "runnertestutil.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QMutex>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <QThread>
#include <atomic>
#include <limits>
#include <memory>

using namespace OddJobs;
using namespace OddJobs::Test;
using namespace RunnerTest;
using namespace Qt::StringLiterals;

namespace {

// Every job signal of a runner (and stopped()) as one signal (what, job id), so a single
// QSignalSpy sees the whole sequence in order and spyToString() prints it:
// "(started, 1) (failed, 1) (started, 1) (succeeded, 1)".
class RunnerEvents : public QObject
{
    Q_OBJECT
public:
    explicit RunnerEvents(Runner *runner)
    {
        connect(runner, &Runner::jobStarted, this,
                [this](const Job &job) { Q_EMIT event(u"started"_s, job.id); });
        connect(runner, &Runner::jobSucceeded, this,
                [this](const Job &job, qint64) { Q_EMIT event(u"succeeded"_s, job.id); });
        connect(runner, &Runner::jobFailed, this,
                [this](const Job &job, const QJsonValue &, qint64) {
                    Q_EMIT event(u"failed"_s, job.id);
                });
        connect(runner, &Runner::jobPermanentlyFailed, this,
                [this](const Job &job, const QJsonValue &, qint64) {
                    Q_EMIT event(u"permanentlyFailed"_s, job.id);
                });
        connect(runner, &Runner::jobTimedOut, this,
                [this](const Job &job) { Q_EMIT event(u"timedOut"_s, job.id); });
        connect(runner, &Runner::jobCancelled, this,
                [this](const Job &job) { Q_EMIT event(u"cancelled"_s, job.id); });
        connect(runner, &Runner::stopped, this, [this] { Q_EMIT event(u"stopped"_s, 0); });
    }

Q_SIGNALS:
    void event(const QString &what, qint64 id);
};

int countEvents(const QSignalSpy &spy, const QString &what, qint64 id = -1)
{
    int n = 0;
    for (const QList<QVariant> &args : spy) {
        if (args.at(0).toString() == what && (id < 0 || args.at(1).toLongLong() == id))
            ++n;
    }
    return n;
}

// What handlers did, recorded from the pool's threads.
struct Execution
{
    qint64 id = 0;
    QString type;
    int attempt = 0;
    QDateTime claimedAt; // the job's started_at (database clock) as the handler saw it
    QDateTime wallStart; // the local clock when the handler began
    qint64 startMs = 0; // Recorder::clock at start and end
    qint64 endMs = -1;
    StopReason stopReason = StopReason::None;
    QString handler; // which registration ran it
    bool sleepInterrupted = false;
};

class Recorder
{
public:
    Recorder() { m_clock.start(); }

    // Records a handler's start and, on destruction, its end (also when it throws).
    class Scope
    {
    public:
        Scope(Recorder &recorder, const JobContext &ctx, const QString &handler = {})
            : m_recorder(recorder)
            , m_ctx(ctx)
            , m_index(recorder.begin(ctx, handler))
        {
        }
        ~Scope() { m_recorder.end(m_index, m_ctx.stopReason(), m_interrupted); }
        Scope(const Scope &) = delete;
        Scope &operator=(const Scope &) = delete;
        void setSleepInterrupted(bool interrupted) { m_interrupted = interrupted; }

    private:
        Recorder &m_recorder;
        const JobContext &m_ctx;
        int m_index;
        bool m_interrupted = false;
    };

    qint64 now() const { return m_clock.elapsed(); }

    QList<Execution> executions() const
    {
        QMutexLocker lock(&m_mutex);
        return m_executions;
    }
    QList<Execution> executionsOf(qint64 id) const
    {
        QList<Execution> out;
        const QList<Execution> all = executions();
        for (const Execution &e : all) {
            if (e.id == id)
                out << e;
        }
        return out;
    }
    int count() const
    {
        QMutexLocker lock(&m_mutex);
        return int(m_executions.size());
    }
    int running() const
    {
        QMutexLocker lock(&m_mutex);
        return m_running;
    }
    int maxConcurrent() const
    {
        QMutexLocker lock(&m_mutex);
        return m_maxRunning;
    }
    // Two executions of one job that overlapped in time, as text (empty: none).
    QString overlaps() const
    {
        const QList<Execution> all = executions();
        QStringList problems;
        for (qsizetype i = 0; i < all.size(); ++i) {
            for (qsizetype j = i + 1; j < all.size(); ++j) {
                const Execution &a = all.at(i), &b = all.at(j);
                if (a.id != b.id)
                    continue;
                const qint64 aEnd = a.endMs < 0 ? std::numeric_limits<qint64>::max() : a.endMs;
                const qint64 bEnd = b.endMs < 0 ? std::numeric_limits<qint64>::max() : b.endMs;
                if (a.startMs < bEnd && b.startMs < aEnd)
                    problems << u"job %1: [%2, %3] and [%4, %5] ms"_s.arg(a.id)
                                    .arg(a.startMs)
                                    .arg(a.endMs)
                                    .arg(b.startMs)
                                    .arg(b.endMs);
            }
        }
        return problems.join(u"; "_s);
    }

private:
    int begin(const JobContext &ctx, const QString &handler)
    {
        Execution e;
        e.id = ctx.job().id;
        e.type = ctx.type();
        e.attempt = ctx.attempt();
        e.claimedAt = ctx.job().startedAt;
        e.wallStart = QDateTime::currentDateTimeUtc();
        e.startMs = m_clock.elapsed();
        e.handler = handler;
        QMutexLocker lock(&m_mutex);
        m_executions << e;
        m_maxRunning = std::max(m_maxRunning, ++m_running);
        return int(m_executions.size() - 1);
    }
    void end(int index, StopReason reason, bool interrupted)
    {
        QMutexLocker lock(&m_mutex);
        Execution &e = m_executions[index];
        e.endMs = m_clock.elapsed();
        e.stopReason = reason;
        e.sleepInterrupted = interrupted;
        --m_running;
    }

    QElapsedTimer m_clock; // started before any handler runs, only read afterwards
    mutable QMutex m_mutex;
    QList<Execution> m_executions;
    int m_running = 0;
    int m_maxRunning = 0;
};

using RecorderPtr = std::shared_ptr<Recorder>;

// The "backend" column with one row per backend.
void backendData()
{
    addBackendColumns();
    addBackendRows();
}

// One job per claim with `handlerCount` handlers: on PostgreSQL the claims for the free handlers
// run side by side on up to `connections` connections (claim lanes).
void oneJobPerClaim(RunnerConfig &config, int handlerCount, int connections)
{
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(handlerCount);
    config.maxClaimBatch = 1;
    config.claimConnections = connections;
}

// Empty when each of `ids` ran exactly once and nothing else ran; else what did not.
QString eachRanOnce(const Recorder &rec, const QList<qint64> &ids)
{
    QHash<qint64, int> runs;
    for (const Execution &e : rec.executions())
        ++runs[e.id];
    for (qint64 id : ids) {
        if (runs.value(id) != 1)
            return u"job %1 ran %2 times"_s.arg(id).arg(runs.value(id));
    }
    if (runs.size() != ids.size())
        return u"%1 jobs ran, %2 expected"_s.arg(runs.size()).arg(ids.size());
    return {};
}

// A handler that records itself and sleeps `ms` cooperatively, then succeeds.
JobHandler napping(RecorderPtr rec, int ms)
{
    return [rec, ms](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        scope.setSleepInterrupted(!ctx.sleepFor(ms));
        return HandlerResult::success();
    };
}

// A handler that records itself and blocks `ms` without looking at the stop request.
JobHandler stubborn(RecorderPtr rec, int ms)
{
    return [rec, ms](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < ms)
            QThread::msleep(10);
        return HandlerResult::success();
    };
}

QString events(std::initializer_list<std::pair<const char *, qint64>> list)
{
    QStringList parts;
    for (const auto &[what, id] : list)
        parts << u"(%1, %2)"_s.arg(QString::fromLatin1(what)).arg(id);
    return parts.join(u' ');
}

} // namespace

class TestRunner : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();

    // outcomes
    void success_data() { backendData(); }
    void success();
    void failureRetriesWithBackoff_data() { backendData(); }
    void failureRetriesWithBackoff();
    void handlerThrows_data();
    void handlerThrows();
    void maxAttempts_data();
    void maxAttempts();

    // timeouts and cancellation
    void timeoutCooperative_data();
    void timeoutCooperative();
    void timeoutIgnoredByHandler_data() { backendData(); }
    void timeoutIgnoredByHandler();
    void cancelRunningJob_data() { backendData(); }
    void cancelRunningJob();
    void deletingOwnJobsNotifiesNobody();

    // shutdown
    void gracefulShutdown_data() { backendData(); }
    void gracefulShutdown();
    void shutdownTimeoutHandsBack_data() { backendData(); }
    void shutdownTimeoutHandsBack();
    void stopNowHandsBack_data() { backendData(); }
    void stopNowHandsBack();
    void destructorWhileRunning_data() { backendData(); }
    void destructorWhileRunning();

    // wake-ups
    void notificationStartsJobsPostgres();
    void changeWatchStartsJobsSqlite();

    // concurrency control and what a runner takes
    void maxConcurrentJobs_data() { backendData(); }
    void maxConcurrentJobs();
    void dynamicConcurrency_data() { backendData(); }
    void dynamicConcurrency();
    void queuesFilter_data() { backendData(); }
    void queuesFilter();
    void onlyHandledTypes_data() { backendData(); }
    void onlyHandledTypes();
    void catchAllHandler_data() { backendData(); }
    void catchAllHandler();
    void claimedBatchRunsInClaimOrder_data() { backendData(); }
    void claimedBatchRunsInClaimOrder();
    void batchedClaimsWithHeldJobs_data();
    void batchedClaimsWithHeldJobs();
    void claimStretchesSideBySide_data();
    void claimStretchesSideBySide();
    void prefetchHoldsAndHandsBack_data() { backendData(); }
    void prefetchHoldsAndHandsBack();
    void claimLanesSideBySide_data();
    void claimLanesSideBySide();
    void claimLanesWithoutConnections();
    void claimLanesGiveWayToTheWriter();
    void runnerPlansFollowTheTable();
    void urgentJobOvertakesBacklog_data();
    void urgentJobOvertakesBacklog();
    void prunesOnStart_data() { backendData(); }
    void prunesOnStart();

    // resilience (a cluster of its own: the shared one must not restart under other tests)
    void reconnectAfterRestart_data();
    void reconnectAfterRestart();
    void startsBeforeTheServer();

private:
    std::unique_ptr<PgCluster> m_restartCluster;
    // A fresh database on the cluster the tests may stop and restart (started on first use);
    // empty, with the reason in `error`, if there is none.
    QString restartableDatabase(QString *error)
    {
        if (!ensureRestartCluster(m_restartCluster, error))
            return {};
        return m_restartCluster->createDatabase(error);
    }
};

void TestRunner::initTestCase()
{
    // Each job logs a few info lines; warnings and errors stay visible.
    QLoggingCategory::setFilterRules(
        u"oddjobs.core.runner.info=false\noddjobs.core.store.info=false\n"
        "oddjobs.core.schema.info=false"_s);
}

void TestRunner::cleanupTestCase()
{
    m_restartCluster.reset();
}

// --- outcomes --------------------------------------------------------------------------------

void TestRunner::success()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"add"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        const QJsonObject c = ctx.job().payload[u"contents"_s].toObject();
        return HandlerResult::success(
            QJsonObject { { u"sum"_s, c[u"a"_s].toInt() + c[u"b"_s].toInt() } });
    });
    // A handler returning nothing succeeds; its result comes from setResult().
    handlers.add(u"void"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        ctx.setResult(QJsonArray { 1, u"two"_s });
    });

    Runner runner(testConfig(url), handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy startedSpy(&runner, &Runner::jobStarted);
    QSignalSpy succeededSpy(&runner, &Runner::jobSucceeded);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));

    RT_ASSIGN(added, store->enqueue(jobOf(u"add"_s, QJsonObject { { u"a"_s, 2 }, { u"b"_s, 3 } })));
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", added.id }, { "succeeded", added.id } }),
                              scaled(10000));
    RT_ASSIGN(voided, store->enqueue(jobOf(u"void"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", added.id },
                                       { "succeeded", added.id },
                                       { "started", voided.id },
                                       { "succeeded", voided.id } }),
                              scaled(10000));

    // The signals carry the job: locked by this worker when it starts, with its result after.
    const Job started = startedSpy.at(0).at(0).value<Job>();
    QCOMPARE(started.id, added.id);
    QCOMPARE(started.status, JobStatus::Locked);
    QCOMPARE(started.lockedBy, runner.workerName());
    QCOMPARE(started.attempts, 1);
    const Job succeeded = succeededSpy.at(0).at(0).value<Job>();
    QCOMPARE(succeeded.status, JobStatus::Success);
    QCOMPARE(jsonText(succeeded.result), u"{\"sum\":5}"_s);
    QVERIFY(succeededSpy.at(0).at(1).toLongLong() >= 0);

    RT_FIND(row, *store, added.id);
    QCOMPARE(row.status, JobStatus::Success);
    QCOMPARE(jsonText(row.result), u"{\"sum\":5}"_s);
    QCOMPARE(row.attempts, 1);
    QVERIFY2(row.lockedBy.isEmpty() && !row.lockedAt.isValid(), qPrintable(describe(row)));
    QVERIFY2(row.lastError.isNull(), qPrintable(describe(row)));
    QVERIFY2(row.startedAt.isValid() && row.finishedAt >= row.startedAt, qPrintable(describe(row)));
    RT_FIND(voidRow, *store, voided.id);
    QCOMPARE(voidRow.status, JobStatus::Success);
    QCOMPARE(jsonText(voidRow.result), u"[1,\"two\"]"_s);
    QCOMPARE(rec->count(), 2);
}

void TestRunner::failureRetriesWithBackoff()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"flaky"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        return HandlerResult::failure(u"nope"_s, QJsonObject { { u"code"_s, 7 } });
    });
    RunnerConfig config = testConfig(url);
    config.backoff = Backoff { Backoff::Kind::Fixed, 0.3 };
    config.defaultMaxAttempts = 10;
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy failedSpy(&runner, &Runner::jobFailed);
    QSignalSpy permanentSpy(&runner, &Runner::jobPermanentlyFailed);
    // The row as it is right after each retryable failure (read in the main thread as the
    // signal arrives; the retry is 300 ms away).
    QList<Job> afterFailure;
    connect(&runner, &Runner::jobFailed, &runner, [&](const Job &job) {
        if (auto found = store->find(job.id); found && *found)
            afterFailure << **found;
    });
    runner.start();

    NewJob job = jobOf(u"flaky"_s);
    job.maxAttempts = 3;
    RT_ASSIGN(enqueued, store->enqueue(job));
    const qint64 id = enqueued.id;
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", id },
                                       { "failed", id },
                                       { "started", id },
                                       { "failed", id },
                                       { "started", id },
                                       { "permanentlyFailed", id } }),
                              scaled(15000));

    RT_FIND(row, *store, id);
    QCOMPARE(row.status, JobStatus::Failed);
    QCOMPARE(row.attempts, 3);
    QVERIFY2(row.lockedBy.isEmpty(), qPrintable(describe(row)));
    const QJsonObject error = errorObject(row);
    QCOMPARE(error[u"message"_s].toString(), u"nope"_s);
    QCOMPARE(error[u"kind"_s].toString(), u"error"_s);
    QCOMPARE(error[u"code"_s].toInt(), 7);
    QCOMPARE(error[u"worker"_s].toString(), runner.workerName());
    QCOMPARE(failedSpy.at(0).at(1).toJsonValue().toObject()[u"message"_s].toString(), u"nope"_s);
    QCOMPARE(permanentSpy.at(0).at(1).toJsonValue().toObject()[u"code"_s].toInt(), 7);

    // Each failure scheduled the retry a full backoff after the attempt finished, and the next
    // attempt did not start before that.
    const QList<Execution> runs = rec->executionsOf(id);
    QCOMPARE(runs.size(), 3);
    QCOMPARE(afterFailure.size(), 2);
    for (int i = 0; i < 2; ++i) {
        const Job &r = afterFailure.at(i);
        QCOMPARE(runs.at(i).attempt, i + 1);
        QVERIFY2(r.status == JobStatus::Retry || r.status == JobStatus::Locked,
                 qPrintable(describe(r)));
        QCOMPARE(errorObject(r)[u"message"_s].toString(), u"nope"_s);
        QVERIFY2(r.finishedAt.isValid() && r.runAt >= r.finishedAt.addMSecs(299),
                 qPrintable(describe(r)));
        QVERIFY2(runs.at(i + 1).claimedAt >= r.runAt.addMSecs(-1),
                 qPrintable(u"attempt %1 claimed at %2, before run_at: %3"_s.arg(i + 2).arg(
                     runs.at(i + 1).claimedAt.toString(Qt::ISODateWithMs), describe(r))));
    }
    QCOMPARE(runs.at(2).attempt, 3);
}

void TestRunner::handlerThrows_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QString>("how");
    for (const char *backend : { "sqlite", "postgresql" }) {
        for (const char *how : { "runtime_error", "JobFailure", "HandlerResult", "non-standard" })
            QTest::addRow("%s-%s", backend, how)
                << QString::fromLatin1(backend) << QString::fromLatin1(how);
    }
}

void TestRunner::handlerThrows()
{
    QFETCH(QString, backend);
    QFETCH(QString, how);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    HandlerRegistry handlers;
    handlers.add(u"bad"_s, [how](JobContext &) -> HandlerResult {
        if (how == u"runtime_error"_s)
            throw std::runtime_error("disk on fire");
        if (how == u"JobFailure"_s)
            throw JobFailure(u"disk on fire"_s,
                             QJsonObject { { u"device"_s, u"sda"_s }, { u"errno"_s, 28 } });
        if (how == u"non-standard"_s)
            throw 42;
        return HandlerResult::failure(
            u"disk on fire"_s, QJsonObject { { u"kind"_s, u"io"_s }, { u"device"_s, u"sda"_s } });
    });
    Runner runner(testConfig(url), handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    NewJob job = jobOf(u"bad"_s);
    job.maxAttempts = 1;
    RT_ASSIGN(enqueued, store->enqueue(job));
    QTRY_COMPARE_WITH_TIMEOUT(
        spyToString(spy),
        events({ { "started", enqueued.id }, { "permanentlyFailed", enqueued.id } }),
        scaled(10000));

    RT_FIND(row, *store, enqueued.id);
    QCOMPARE(row.status, JobStatus::Failed);
    QCOMPARE(row.attempts, 1);
    const QJsonObject error = errorObject(row);
    QCOMPARE(error[u"worker"_s].toString(), runner.workerName());
    if (how == u"non-standard"_s) {
        QCOMPARE(error[u"kind"_s].toString(), u"exception"_s);
        QVERIFY2(!error[u"message"_s].toString().isEmpty(), qPrintable(describe(row)));
        return;
    }
    QCOMPARE(error[u"message"_s].toString(), u"disk on fire"_s);
    if (how == u"HandlerResult"_s) {
        QCOMPARE(error[u"kind"_s].toString(), u"io"_s); // a handler's own kind is kept
        QCOMPARE(error[u"device"_s].toString(), u"sda"_s);
    } else {
        QCOMPARE(error[u"kind"_s].toString(), u"exception"_s);
    }
    if (how == u"JobFailure"_s) {
        QCOMPARE(error[u"device"_s].toString(), u"sda"_s);
        QCOMPARE(error[u"errno"_s].toInt(), 28);
    }
}

void TestRunner::maxAttempts_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<int>("jobMax"); // 0: NULL, the runner's default
    QTest::addColumn<int>("defaultMax");
    QTest::addColumn<int>("expected");
    for (const char *backend : { "sqlite", "postgresql" }) {
        const QString b = QString::fromLatin1(backend);
        QTest::addRow("%s-per-job-above-default", backend) << b << 4 << 2 << 4;
        QTest::addRow("%s-per-job-below-default", backend) << b << 2 << 5 << 2;
        QTest::addRow("%s-runner-default", backend) << b << 0 << 3 << 3;
    }
}

void TestRunner::maxAttempts()
{
    QFETCH(QString, backend);
    QFETCH(int, jobMax);
    QFETCH(int, defaultMax);
    QFETCH(int, expected);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    HandlerRegistry handlers;
    handlers.add(u"bad"_s, [](JobContext &) { return HandlerResult::failure(u"again"_s); });
    RunnerConfig config = testConfig(url);
    config.backoff = Backoff { Backoff::Kind::Fixed, 0 };
    config.defaultMaxAttempts = defaultMax;
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    NewJob job = jobOf(u"bad"_s);
    if (jobMax > 0)
        job.maxAttempts = jobMax;
    RT_ASSIGN(enqueued, store->enqueue(job));
    const qint64 id = enqueued.id;
    QStringList expectedEvents;
    for (int i = 1; i < expected; ++i)
        expectedEvents << events({ { "started", id }, { "failed", id } });
    expectedEvents << events({ { "started", id }, { "permanentlyFailed", id } });
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy), expectedEvents.join(u' '), scaled(15000));
    RT_FIND(row, *store, id);
    QCOMPARE(row.status, JobStatus::Failed);
    QCOMPARE(row.attempts, expected);
}

// --- timeouts and cancellation ---------------------------------------------------------------

void TestRunner::timeoutCooperative_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<int>("maxAttempts");
    for (const char *backend : { "sqlite", "postgresql" }) {
        QTest::addRow("%s-retried", backend) << QString::fromLatin1(backend) << 2;
        QTest::addRow("%s-permanent", backend) << QString::fromLatin1(backend) << 1;
    }
}

void TestRunner::timeoutCooperative()
{
    QFETCH(QString, backend);
    QFETCH(int, maxAttempts);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    // The first attempt overruns its 1 s deadline (and notices the request to stop); the
    // second is quick.
    handlers.add(u"slow"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        if (ctx.attempt() == 1)
            scope.setSleepInterrupted(!ctx.sleepFor(10000));
        return HandlerResult::success(u"second"_s);
    });
    RunnerConfig config = testConfig(url);
    config.backoff = Backoff { Backoff::Kind::Fixed, 0 };
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy failedSpy(&runner, &Runner::jobFailed);
    QSignalSpy permanentSpy(&runner, &Runner::jobPermanentlyFailed);
    runner.start();
    NewJob job = jobOf(u"slow"_s);
    job.timeoutSeconds = 1;
    job.maxAttempts = maxAttempts;
    RT_ASSIGN(enqueued, store->enqueue(job));
    const qint64 id = enqueued.id;

    if (maxAttempts == 1) {
        QTRY_COMPARE_WITH_TIMEOUT(
            spyToString(spy),
            events({ { "started", id }, { "timedOut", id }, { "permanentlyFailed", id } }),
            scaled(15000));
        const QJsonObject error = permanentSpy.at(0).at(1).toJsonValue().toObject();
        QCOMPARE(error[u"kind"_s].toString(), u"timeout"_s);
        QVERIFY2(error[u"message"_s].toString().contains(u"timed out"_s),
                 qPrintable(jsonText(error)));
        QCOMPARE(rec->executionsOf(id).size(), 1);
        QCOMPARE(rec->executionsOf(id).at(0).stopReason, StopReason::TimedOut);
        QVERIFY(rec->executionsOf(id).at(0).sleepInterrupted);
        RT_FIND(row, *store, id);
        QCOMPARE(row.status, JobStatus::Failed);
        QCOMPARE(row.attempts, 1);
        QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"timeout"_s);
        QVERIFY2(row.result.isNull(), qPrintable(describe(row))); // the late success is not kept
        return;
    }

    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", id },
                                       { "timedOut", id },
                                       { "failed", id },
                                       { "started", id },
                                       { "succeeded", id } }),
                              scaled(15000));
    QCOMPARE(failedSpy.at(0).at(1).toJsonValue().toObject()[u"kind"_s].toString(), u"timeout"_s);

    const QList<Execution> runs = rec->executionsOf(id);
    QCOMPARE(runs.size(), 2);
    QCOMPARE(runs.at(0).stopReason, StopReason::TimedOut);
    QVERIFY(runs.at(0).sleepInterrupted);
    QCOMPARE(runs.at(1).stopReason, StopReason::None);

    RT_FIND(row, *store, id);
    QCOMPARE(row.status, JobStatus::Success);
    QCOMPARE(row.attempts, 2);
    QCOMPARE(jsonText(row.result), u"\"second\""_s);
    // The failed attempt's error stays for the record.
    QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"timeout"_s);
}

void TestRunner::timeoutIgnoredByHandler()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    // The first attempt blocks 2.5 s, deaf to the request to stop; the second is quick.
    handlers.add(u"deaf"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        if (ctx.attempt() == 1) {
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 2500)
                QThread::msleep(10);
        }
        return HandlerResult::success();
    });
    RunnerConfig config = testConfig(url);
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(2); // a free slot for the retry
    config.backoff = Backoff { Backoff::Kind::Fixed, 0 };
    config.stopGraceMs = 300;
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    // When the timeout's failure arrives, the first attempt is still running.
    int runningAtFailure = -1;
    std::optional<Job> rowAtFailure;
    connect(&runner, &Runner::jobFailed, &runner, [&](const Job &job) {
        runningAtFailure = rec->running();
        if (auto found = store->find(job.id); found && *found)
            rowAtFailure = **found;
    });
    runner.start();
    NewJob job = jobOf(u"deaf"_s);
    job.timeoutSeconds = 1;
    job.maxAttempts = 2;
    RT_ASSIGN(enqueued, store->enqueue(job));
    const qint64 id = enqueued.id;
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", id }, { "timedOut", id }, { "failed", id } }),
                              scaled(10000));
    QCOMPARE(runningAtFailure, 1);
    QVERIFY(rowAtFailure.has_value());
    QCOMPARE(errorObject(*rowAtFailure)[u"kind"_s].toString(), u"timeout"_s);
    QVERIFY2(rowAtFailure->status == JobStatus::Retry || rowAtFailure->status == JobStatus::Locked,
             qPrintable(describe(*rowAtFailure)));

    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", id },
                                       { "timedOut", id },
                                       { "failed", id },
                                       { "started", id },
                                       { "succeeded", id } }),
                              scaled(15000));
    // The slot stayed busy: the retry did not start while the deaf handler still ran.
    const QList<Execution> runs = rec->executionsOf(id);
    QCOMPARE(runs.size(), 2);
    QVERIFY2(rec->overlaps().isEmpty(), qPrintable(rec->overlaps()));
    QVERIFY(runs.at(1).startMs >= runs.at(0).endMs);
    QCOMPARE(runs.at(0).stopReason, StopReason::TimedOut);
    RT_FIND(row, *store, id);
    QCOMPARE(row.status, JobStatus::Success);
    QCOMPARE(row.attempts, 2);
}

void TestRunner::cancelRunningJob()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"long"_s, napping(rec, 10000));
    handlers.add(u"quick"_s, napping(rec, 0));
    RunnerConfig config = testConfig(url);
    config.pollIntervalMs = 60000; // the cancel must arrive by notification / change watch
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));
    RT_ASSIGN(enqueued, store->enqueue(jobOf(u"long"_s)));
    const qint64 id = enqueued.id;
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 1, scaled(5000));

    // Cancelled through another connection (the test's store): the runner hears of it within
    // about a second and asks the handler to stop.
    RT_ASSIGN(cancelled, store->cancel(JobFilter::byIds({ id })));
    QCOMPARE(cancelled, 1);
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy), events({ { "started", id }, { "cancelled", id } }),
                              scaled(1000));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 0, scaled(2000));
    QCOMPARE(rec->executionsOf(id).at(0).stopReason, StopReason::Cancelled);
    QVERIFY(rec->executionsOf(id).at(0).sleepInterrupted);

    // The handler's late success is discarded: a later job's outcome has been written after
    // it, and the row is still cancelled.
    RT_ASSIGN(next, store->enqueue(jobOf(u"quick"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s, next.id), 1, scaled(5000));
    RT_FIND(row, *store, id);
    QCOMPARE(row.status, JobStatus::Cancelled);
    QVERIFY2(row.lockedBy.isEmpty(), qPrintable(describe(row)));
    QCOMPARE(countEvents(spy, u"succeeded"_s, id), 0);
    QCOMPARE(countEvents(spy, u"failed"_s, id) + countEvents(spy, u"permanentlyFailed"_s, id), 0);
}

// A worker that deletes the jobs it finished (deleteSuccessfulJobs) notifies nobody: the delete
// trigger (schema version 3) skips deletes by the job's own worker, whose connections name it.
// It used to send a notification per succeeded job, each read by every listening worker. A
// running job deleted by anyone else still reaches its worker, which stops the handler.
void TestRunner::deletingOwnJobsNotifiesNobody()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    RT_ASSIGN(listening, openStore(url));
    QStringList cancels;
    QObject context;
    QSqlDriver *driver = listening->database().driver();
    QObject::connect(
        driver, &QSqlDriver::notification, &context,
        [&cancels](const QString &, QSqlDriver::NotificationSource, const QVariant &payload) {
            if (payload.toString().contains(u"cancel"_s))
                cancels << payload.toString();
        });
    QVERIFY(driver->subscribeToNotification(store->options().table.notificationChannel()));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"long"_s, napping(rec, 10000));
    handlers.add(u"quick"_s, napping(rec, 0));
    RunnerConfig config = testConfig(url);
    config.deleteSuccessfulJobs = true;
    config.pollIntervalMs = 1000; // finds its connections cut soon (below)
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));

    QList<NewJob> quick;
    for (int i = 0; i < 200; ++i)
        quick << jobOf(u"quick"_s);
    RT_ASSIGN(ids, store->enqueueMany(quick));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 200, scaled(20000));
    RT_ASSIGN(left, store->count({}));
    QCOMPARE(left, 0);
    QTest::qWait(500); // a late notification would arrive meanwhile
    QVERIFY2(cancels.isEmpty(), qPrintable(cancels.join(u'\n')));

    // The runner's connections cut by the server: those it opens again name the worker too.
    QSqlQuery listenerPid(listening->database());
    QVERIFY2(listenerPid.exec(u"SELECT pg_backend_pid()"_s) && listenerPid.next(),
             qPrintable(listenerPid.lastError().text()));
    QSqlQuery own(store->database());
    QVERIFY2(
        own.exec(u"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                 "datname = current_database() AND backend_type = 'client backend' AND "
                 "pid <> pg_backend_pid() AND pid <> %1"_s.arg(listenerPid.value(0).toLongLong()))
            && own.next(),
        qPrintable(own.lastError().text()));
    QVERIFY(own.value(0).toInt() >= 2);
    RT_VERIFY_OK(store->enqueueMany(quick));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 400, scaled(30000));
    QTest::qWait(500);
    QVERIFY2(cancels.isEmpty(), qPrintable(cancels.join(u'\n')));

    RT_ASSIGN(enqueued, store->enqueue(jobOf(u"long"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 1, scaled(5000));
    RT_ASSIGN(removed, store->remove(JobFilter::byIds({ enqueued.id })));
    QCOMPARE(removed, 1);
    QTRY_COMPARE_WITH_TIMEOUT(cancels.size(), 1, scaled(5000));
    QVERIFY2(cancels.first().contains(QString::number(enqueued.id)), qPrintable(cancels.first()));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 0, scaled(2000));
    QVERIFY(rec->executionsOf(enqueued.id).at(0).sleepInterrupted);
    QCOMPARE(countEvents(spy, u"succeeded"_s, enqueued.id), 0);
}

// --- shutdown --------------------------------------------------------------------------------

void TestRunner::gracefulShutdown()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"work"_s, napping(rec, 400));
    Runner runner(testConfig(url), handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy states(&runner, &Runner::stateChanged);
    runner.start();
    RT_ASSIGN(enqueued, store->enqueue(jobOf(u"work"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 1, scaled(5000));
    runner.stop();
    // Stopping does not interrupt the job: it finishes, its outcome is written, then stopped().
    QTRY_COMPARE_WITH_TIMEOUT(
        spyToString(spy),
        events({ { "started", enqueued.id }, { "succeeded", enqueued.id }, { "stopped", 0 } }),
        scaled(10000));
    QCOMPARE(spyToString(states), u"(Starting) (Running) (Draining) (Stopped)"_s);
    QCOMPARE(runner.state(), Runner::State::Stopped);
    QCOMPARE(rec->executionsOf(enqueued.id).at(0).stopReason, StopReason::None);
    QVERIFY(!rec->executionsOf(enqueued.id).at(0).sleepInterrupted);
    RT_FIND(row, *store, enqueued.id);
    QCOMPARE(row.status, JobStatus::Success);
    QVERIFY(runner.waitForStopped(1000));
}

void TestRunner::shutdownTimeoutHandsBack()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"long"_s, napping(rec, 10000));
    RunnerConfig config = testConfig(url);
    config.shutdownTimeoutMs = 300;
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy states(&runner, &Runner::stateChanged);
    runner.start();
    RT_ASSIGN(enqueued, store->enqueue(jobOf(u"long"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 1, scaled(5000));
    runner.stop();
    QTRY_COMPARE_WITH_TIMEOUT(
        spyToString(spy), events({ { "started", enqueued.id }, { "stopped", 0 } }), scaled(5000));
    QCOMPARE(spyToString(states), u"(Starting) (Running) (Draining) (Stopping) (Stopped)"_s);
    QCOMPARE(rec->running(), 0);
    QCOMPARE(rec->executionsOf(enqueued.id).at(0).stopReason, StopReason::Shutdown);

    // Handed back for another worker: queued, the attempt not counted, no lock.
    RT_FIND(row, *store, enqueued.id);
    QCOMPARE(row.status, JobStatus::Queued);
    QCOMPARE(row.attempts, 0);
    QVERIFY2(row.lockedBy.isEmpty() && !row.lockedAt.isValid(), qPrintable(describe(row)));
}

void TestRunner::stopNowHandsBack()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"long"_s, napping(rec, 10000));
    RunnerConfig config = testConfig(url);
    config.shutdownTimeoutMs = 60000; // stopNow() must not wait for it
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy states(&runner, &Runner::stateChanged);
    runner.start();
    RT_ASSIGN(enqueued, store->enqueue(jobOf(u"long"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 1, scaled(5000));
    runner.stopNow();
    QTRY_COMPARE_WITH_TIMEOUT(
        spyToString(spy), events({ { "started", enqueued.id }, { "stopped", 0 } }), scaled(3000));
    QCOMPARE(spyToString(states), u"(Starting) (Running) (Stopping) (Stopped)"_s);
    QCOMPARE(rec->executionsOf(enqueued.id).at(0).stopReason, StopReason::Shutdown);
    RT_FIND(row, *store, enqueued.id);
    QCOMPARE(row.status, JobStatus::Queued);
    QCOMPARE(row.attempts, 0);
    QVERIFY2(row.lockedBy.isEmpty() && !row.lockedAt.isValid(), qPrintable(describe(row)));
}

void TestRunner::destructorWhileRunning()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"coop"_s, napping(rec, 10000));
    handlers.add(u"deaf"_s, stubborn(rec, 3500));
    RunnerConfig config = testConfig(url);
    config.shutdownTimeoutMs = 1000;
    auto runner = std::make_unique<Runner>(config, handlers);
    runner->start();
    RT_ASSIGN(coop, store->enqueue(jobOf(u"coop"_s)));
    RT_ASSIGN(deaf, store->enqueue(jobOf(u"deaf"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 2, scaled(5000));

    // The deaf handler outlives the runner; the runner leaves it behind instead of hanging.
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"still running after shutdown"_s));
    QElapsedTimer clock;
    clock.start();
    runner.reset();
    QVERIFY2(clock.elapsed() < scaled(8000),
             qPrintable(u"the destructor took %1 ms"_s.arg(clock.elapsed())));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 0, scaled(5000));

    // The cooperative job went back to the queue. The deaf handler still ran when the runner
    // went: its row stays locked, so that no one runs the job meanwhile, until a rescue.
    RT_FIND(coopRow, *store, coop.id);
    QCOMPARE(coopRow.status, JobStatus::Queued);
    QCOMPARE(coopRow.attempts, 0);
    RT_FIND(deafRow, *store, deaf.id);
    QCOMPARE(deafRow.status, JobStatus::Locked);
    QCOMPARE(deafRow.attempts, 1);
    QCOMPARE(rec->executionsOf(coop.id).at(0).stopReason, StopReason::Shutdown);
}

// --- wake-ups --------------------------------------------------------------------------------

void TestRunner::notificationStartsJobsPostgres()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"t"_s, napping(rec, 0));
    // Fails the first time only (run now restarts the attempts, so ctx.attempt() cannot tell).
    auto failedOnce = std::make_shared<std::atomic<bool>>(false);
    handlers.add(u"fails"_s, [rec, failedOnce](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        return failedOnce->exchange(true) ? HandlerResult::success()
                                          : HandlerResult::failure(u"first time"_s);
    });
    RunnerConfig config = testConfig(url);
    config.pollIntervalMs = 60000; // only a notification can start these jobs in time
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));
    const qint64 bound = scaled(200);

    // 1. Enqueued through the store.
    qint64 before = rec->now();
    RT_ASSIGN(viaStore, store->enqueue(jobOf(u"t"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(rec->executionsOf(viaStore.id).size(), 1, scaled(5000));
    qint64 latency = rec->executionsOf(viaStore.id).at(0).startMs - before;
    QVERIFY2(latency <= bound,
             qPrintable(u"enqueue to start took %1 ms (bound %2 ms)"_s.arg(latency).arg(bound)));

    // 2. Inserted by plain SQL on another connection (psql): measured from the row's
    // created_at (the inserting transaction's start, database clock on this machine).
    QString output, error;
    QVERIFY2(PgCluster::shared()->execSql(
                 url, u"INSERT INTO jobs (payload) VALUES ('{\"tag\":\"t\"}') RETURNING id"_s,
                 &output, &error),
             qPrintable(error));
    const qint64 sqlId = output.trimmed().toLongLong();
    QVERIFY2(sqlId > 0, qPrintable(output));
    QTRY_COMPARE_WITH_TIMEOUT(rec->executionsOf(sqlId).size(), 1, scaled(5000));
    RT_FIND(sqlRow, *store, sqlId);
    latency = sqlRow.createdAt.msecsTo(rec->executionsOf(sqlId).at(0).wallStart);
    QVERIFY2(latency <= bound,
             qPrintable(u"insert to start took %1 ms (bound %2 ms)"_s.arg(latency).arg(bound)));

    // 3. A failed job set back to queued (run now).
    NewJob failing = jobOf(u"fails"_s);
    failing.maxAttempts = 1;
    RT_ASSIGN(failed, store->enqueue(failing));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"permanentlyFailed"_s, failed.id), 1, scaled(5000));
    before = rec->now();
    RT_ASSIGN(changed, store->runNow(JobFilter::byIds({ failed.id })));
    QCOMPARE(changed, 1);
    QTRY_COMPARE_WITH_TIMEOUT(rec->executionsOf(failed.id).size(), 2, scaled(5000));
    latency = rec->executionsOf(failed.id).at(1).startMs - before;
    QVERIFY2(latency <= bound,
             qPrintable(u"run now to start took %1 ms (bound %2 ms)"_s.arg(latency).arg(bound)));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s, failed.id), 1, scaled(5000));
}

void TestRunner::changeWatchStartsJobsSqlite()
{
    ODDJOBS_FRESH_URL(u"sqlite"_s, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"t"_s, napping(rec, 0));
    RunnerConfig config = testConfig(url);
    config.pollIntervalMs = 60000; // only the data_version watch can start these in time
    Runner runner(config, handlers);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));
    const qint64 bound = scaled(500);
    for (int i = 0; i < 3; ++i) {
        const qint64 before = rec->now();
        RT_ASSIGN(job, store->enqueue(jobOf(u"t"_s)));
        QTRY_COMPARE_WITH_TIMEOUT(rec->executionsOf(job.id).size(), 1, scaled(5000));
        const qint64 latency = rec->executionsOf(job.id).at(0).startMs - before;
        QVERIFY2(
            latency <= bound,
            qPrintable(u"enqueue to start took %1 ms (bound %2 ms)"_s.arg(latency).arg(bound)));
    }
}

// --- concurrency control ---------------------------------------------------------------------

void TestRunner::maxConcurrentJobs()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"work"_s, stubborn(rec, 100));
    RunnerConfig config = testConfig(url);
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(2);
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(8, jobOf(u"work"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 8, scaled(15000));
    QCOMPARE(rec->maxConcurrent(), 2);
    QCOMPARE(rec->count(), 8);
}

// A claimed batch waits for the pool's threads in one queue: its jobs start in claim order,
// never more at once than the concurrency, each once, also when more threads take from it.
void TestRunner::claimedBatchRunsInClaimOrder()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));
    for (const int concurrency : { 1, 3 }) {
        auto rec = std::make_shared<Recorder>();
        HandlerRegistry handlers;
        handlers.add(u"work"_s, [rec](JobContext &ctx) {
            Recorder::Scope scope(*rec, ctx);
            return HandlerResult::success();
        });
        // Enqueued before the runner starts: its first claim takes them all.
        QList<NewJob> jobs;
        for (int i = 0; i < 60; ++i) {
            NewJob job = jobOf(u"work"_s, i);
            job.priority = (i * 7) % 3;
            jobs << job;
        }
        RT_ASSIGN(ids, store->enqueueMany(jobs));
        QList<qint64> expected = ids; // one statement: one run_at, so priority, then id
        std::stable_sort(expected.begin(), expected.end(), [&](qint64 a, qint64 b) {
            return jobs[ids.indexOf(a)].priority < jobs[ids.indexOf(b)].priority;
        });
        RunnerConfig config = testConfig(url);
        config.concurrency = ConcurrencyControl::maxConcurrentJobs(concurrency);
        config.prefetch = 100;
        Runner runner(config, handlers);
        RunnerEvents ev(&runner);
        QSignalSpy spy(&ev, &RunnerEvents::event);
        runner.start();
        QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 60, scaled(15000));
        QList<qint64> started;
        for (const Execution &e : rec->executions())
            started << e.id;
        if (concurrency == 1) {
            QCOMPARE(started, expected);
        } else {
            std::sort(started.begin(), started.end());
            QCOMPARE(started, ids);
        }
        QVERIFY2(rec->maxConcurrent() <= concurrency,
                 qPrintable(QString::number(rec->maxConcurrent())));
        runner.stop();
        QVERIFY(runner.waitForStopped(scaled(10000)));
    }
}

void TestRunner::batchedClaimsWithHeldJobs_data()
{
    QTest::addColumn<int>("connections");
    QTest::addRow("lanes") << 3;
    QTest::addRow("one connection") << 1;
}

// Batched claims while jobs are held (PostgreSQL): with lanes, the runner thread leaves claims
// to them and one claim is out at a time unless a whole batch is wanted; with one connection
// it claims itself when half the prefetch is gone. Bursts of jobs arriving while others run
// (the poll an hour away, so only notifications and the runner's own claims find them) all
// run, each once, and nothing is left locked.
void TestRunner::batchedClaimsWithHeldJobs()
{
    QFETCH(int, connections);
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"work"_s, napping(rec, 1));
    RunnerConfig config = testConfig(url);
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(8);
    config.maxClaimBatch = 5;
    config.prefetch = 16;
    config.claimConnections = connections;
    config.pollIntervalMs = 3600 * 1000;
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));

    QList<qint64> all;
    for (int burst = 0; burst < 4; ++burst) {
        QList<NewJob> jobs;
        for (int i = 0; i < 500; ++i)
            jobs << jobOf(u"work"_s, burst * 500 + i);
        RT_ASSIGN(ids, store->enqueueMany(jobs));
        all += ids;
        // The next burst comes while this one runs.
        QTRY_VERIFY_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s) >= burst * 500 + 100,
                                 scaled(20000));
    }
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 2000, scaled(30000));
    const QString once = eachRanOnce(*rec, all);
    QVERIFY2(once.isEmpty(), qPrintable(once));
    QVERIFY2(rec->maxConcurrent() <= 8, qPrintable(QString::number(rec->maxConcurrent())));
    RT_ASSIGN(left, store->count({}));
    JobFilter successes;
    successes.statuses = { JobStatus::Success };
    RT_ASSIGN(succeeded, store->count(successes));
    QCOMPARE(succeeded, 2000);
    QCOMPARE(left, 2000);
    runner.stop();
    QVERIFY(runner.waitForStopped(scaled(10000)));
}

void TestRunner::claimStretchesSideBySide_data()
{
    QTest::addColumn<int>("workers");
    QTest::addRow("one worker") << 1;
    QTest::addRow("two workers") << 2;
}

// Workers drain one backlog with batched claims on lanes (PostgreSQL): each claim takes a
// stretch of claim order of its own, side by side with the worker's others; with two workers,
// each takes rows out of the other's stretches meanwhile. Every job runs exactly once, and
// none is passed over: no poll comes (an hour away) and nothing is enqueued after the start,
// so a row left behind a stretch would never run (with the bound moved one row past each
// stretch, one worker left 43 of 3,000 jobs behind, two workers 4).
void TestRunner::claimStretchesSideBySide()
{
    QFETCH(int, workers);
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    QList<NewJob> jobs;
    for (int i = 0; i < 3000; ++i)
        jobs << jobOf(u"work"_s, i);
    RT_ASSIGN(all, store->enqueueMany(jobs));
    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"work"_s, napping(rec, 0));
    std::vector<std::unique_ptr<Runner>> runners;
    std::atomic<int> succeeded { 0 };
    for (int i = 0; i < workers; ++i) {
        RunnerConfig config = testConfig(url);
        config.concurrency = ConcurrencyControl::maxConcurrentJobs(4);
        config.maxClaimBatch = 150; // large enough for stretches (StretchMinBatch)
        config.prefetch = 300;
        config.claimConnections = 3;
        config.pollIntervalMs = 3600 * 1000;
        runners.push_back(std::make_unique<Runner>(config, handlers));
        QObject::connect(runners.back().get(), &Runner::jobSucceeded,
                         [&succeeded](const Job &, qint64) { ++succeeded; });
    }
    for (auto &runner : runners)
        runner->start();
    QTRY_COMPARE_WITH_TIMEOUT(succeeded.load(), 3000, scaled(60000));
    const QString once = eachRanOnce(*rec, all);
    QVERIFY2(once.isEmpty(), qPrintable(once));
    JobFilter successes;
    successes.statuses = { JobStatus::Success };
    RT_ASSIGN(done, store->count(successes));
    QCOMPARE(done, 3000);
    for (auto &runner : runners) {
        runner->stop();
        QVERIFY(runner->waitForStopped(scaled(10000)));
    }
}

// Prefetched jobs are claimed (locked by this worker) before a slot is free, start as slots
// free up without ever exceeding the concurrency, and go back to the queue on shutdown.
void TestRunner::prefetchHoldsAndHandsBack()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    std::atomic<int> running { 0 };
    std::atomic<int> maxRunning { 0 };
    std::atomic<int> executions { 0 };
    HandlerRegistry handlers;
    handlers.add(u"work"_s, [&](JobContext &ctx) {
        const int now = ++running;
        int seen = maxRunning.load();
        while (now > seen && !maxRunning.compare_exchange_weak(seen, now)) { }
        ++executions;
        const bool finished = ctx.sleepFor(ctx.job().payload[u"contents"_s].toInt());
        --running;
        return finished ? HandlerResult::success() : HandlerResult::failure(u"stopped"_s);
    });
    RunnerConfig config = testConfig(url);
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(2);
    config.prefetch = 4;
    config.shutdownTimeoutMs = 300;

    JobFilter locked;
    locked.statuses = { JobStatus::Locked };
    {
        // Short jobs: all finish, two at a time, each once.
        Runner runner(config, handlers);
        RunnerEvents ev(&runner);
        QSignalSpy spy(&ev, &RunnerEvents::event);
        runner.start();
        RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(10, jobOf(u"work"_s, 150))));
        // Two run, four more are held: six locked rows while only two handlers run.
        QTRY_COMPARE_WITH_TIMEOUT(store->count(locked).value(), qint64(6), scaled(5000));
        // The claim commits before the pool threads take the first two up.
        QTRY_COMPARE_WITH_TIMEOUT(running.load(), 2, scaled(5000));
        QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 10, scaled(15000));
        QCOMPARE(maxRunning.load(), 2);
        QCOMPARE(executions.load(), 10);
        runner.stop();
        QVERIFY(runner.waitForStopped(scaled(10000)));
    }
    {
        // Long jobs and a short shutdown: running ones are handed back after the deadline,
        // prefetched ones at once; nothing stays locked and no attempt is counted.
        executions = 0;
        RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(8, jobOf(u"work"_s, 20000))));
        Runner runner(config, handlers);
        runner.start();
        QTRY_COMPARE_WITH_TIMEOUT(store->count(locked).value(), qint64(6), scaled(5000));
        QTRY_COMPARE_WITH_TIMEOUT(running.load(), 2, scaled(5000));
        runner.stop();
        QVERIFY(runner.waitForStopped(scaled(10000)));
        QCOMPARE(store->count(locked).value(), qint64(0));
        for (qint64 id : ids) {
            RT_FIND(job, *store, id);
            QCOMPARE(job.status, JobStatus::Queued);
            QCOMPARE(job.attempts, 0);
            QVERIFY(job.lockedBy.isEmpty());
        }
        QCOMPARE(executions.load(), 2);
    }
}

void TestRunner::claimLanesSideBySide_data()
{
    QTest::addColumn<bool>("stopWhileClaiming");
    QTest::newRow("drain") << false;
    QTest::newRow("stop while claiming") << true;
}

// PostgreSQL, one job per claim: claims for the other free slots run at once on connections
// of their own. A table lock holds every claim at the server, so the test sees them all
// waiting side by side; released, they take one job each, and a runner stopped meanwhile
// hands the lanes' jobs back instead of running them.
void TestRunner::claimLanesSideBySide()
{
    QFETCH(bool, stopWhileClaiming);
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"t"_s, napping(rec, 50));
    RunnerConfig config = testConfig(url);
    oneJobPerClaim(config, 6, 4);
    config.pollIntervalMs = 200;
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    std::atomic<int> handedBack { 0 };
    connect(&runner, &Runner::logEvent, &runner, [&](const LogEvent &e) {
        if (e.kind == LogEventKind::JobHandedBack)
            ++handedBack;
    });
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));

    // Opened after the runner, so a failing test drops the lock before the runner goes.
    RT_ASSIGN(locker, openStore(url));
    // The jobs come in the lock's transaction: the runner's polls claim (and wait) meanwhile,
    // and each claim reads the table only once it has the lock, so it sees them all.
    QSqlQuery lock(locker->database());
    const QString table = locker->options().table.quoted();
    QVERIFY2(lock.exec(u"BEGIN"_s), qPrintable(lock.lastError().text()));
    QVERIFY2(lock.exec(u"LOCK TABLE %1 IN EXCLUSIVE MODE"_s.arg(table)),
             qPrintable(lock.lastError().text()));
    QVERIFY2(lock.exec(u"INSERT INTO %1 (payload) SELECT '{\"tag\": \"t\"}' FROM "
                       "generate_series(1, 20)"_s.arg(table)),
             qPrintable(lock.lastError().text()));
    // Asked outside the lock's transaction: a transaction keeps its first view of
    // pg_stat_activity.
    const auto waitingClaims = [&] {
        QSqlQuery q(store->database());
        if (!q.exec(u"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"_s)
            || !q.next())
            return -1;
        return q.value(0).toInt();
    };
    // Six free slots, one job per claim, four connections: four claims wait at once.
    QTRY_COMPARE_WITH_TIMEOUT(waitingClaims(), 4, scaled(10000));
    QTest::qWait(300); // and no fifth comes while they wait
    QCOMPARE(waitingClaims(), 4);
    if (stopWhileClaiming)
        runner.stop(); // reaches the runner thread before the claims' replies
    QVERIFY2(lock.exec(u"COMMIT"_s), qPrintable(lock.lastError().text()));
    QList<qint64> ids;
    QVERIFY(lock.exec(u"SELECT id FROM %1"_s.arg(table)));
    while (lock.next())
        ids << lock.value(0).toLongLong();
    QCOMPARE(ids.size(), 20);

    JobFilter locked;
    locked.statuses = { JobStatus::Locked };
    JobFilter succeeded;
    succeeded.statuses = { JobStatus::Success };
    if (!stopWhileClaiming) {
        QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 20, scaled(15000));
        for (qint64 id : ids) {
            RT_FIND(job, *store, id);
            QCOMPARE(job.status, JobStatus::Success);
            QCOMPARE(job.attempts, 1);
            QCOMPARE(rec->executionsOf(id).size(), 1);
        }
        runner.stop();
        QVERIFY(runner.waitForStopped(scaled(10000)));
        return;
    }
    QVERIFY(runner.waitForStopped(scaled(10000)));
    // The runner thread's own claim came back before the stop was read: its job ran if a pool
    // thread took it up by then, else it went back. The lanes' three came back after the stop
    // and went back to the queue untouched.
    const int ran = int(rec->executions().size());
    QVERIFY2(ran <= 1, qPrintable(QString::number(ran)));
    QCOMPARE(store->count(succeeded).value(), qint64(ran));
    QCOMPARE(store->count(locked).value(), qint64(0));
    QTRY_COMPARE_WITH_TIMEOUT(handedBack.load(), 4 - ran, scaled(5000)); // logged meanwhile
    for (qint64 id : ids) {
        RT_FIND(job, *store, id);
        if (job.status == JobStatus::Success)
            continue;
        QCOMPARE(job.status, JobStatus::Queued);
        QCOMPARE(job.attempts, 0);
    }
}

// PostgreSQL: makes `settings` log in as a role of this database that may hold `limit`
// connections at once. Returns an error, or nothing.
QString limitToConnections(JobStore &store, ConnectionSettings *settings, int limit)
{
    QSqlQuery q(store.database());
    for (const QString &sql :
         { u"DO $$ BEGIN CREATE ROLE oddjobs_limited; EXCEPTION WHEN duplicate_object THEN "
           "NULL; END $$"_s,
           u"ALTER ROLE oddjobs_limited LOGIN PASSWORD 'limited' CONNECTION LIMIT %1"_s.arg(limit),
           u"GRANT ALL ON ALL TABLES IN SCHEMA public TO oddjobs_limited"_s,
           u"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO oddjobs_limited"_s }) {
        if (!q.exec(sql))
            return q.lastError().text();
    }
    settings->user = u"oddjobs_limited"_s;
    settings->password = u"limited"_s;
    return {};
}

// PostgreSQL: claim lanes that cannot connect (the role's connection slots are taken by the
// runner's own three) are no outage. One warning, claims go on on the runner's connection,
// and every job runs once.
void TestRunner::claimLanesWithoutConnections()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    RunnerConfig config = testConfig(url);
    QCOMPARE(limitToConnections(*store, &config.connection, 3), QString());
    oneJobPerClaim(config, 6, 4);
    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"t"_s, napping(rec, 5));
    QStringList warnings;
    int databaseErrors = 0;
    {
        Runner runner(config, handlers);
        RunnerEvents ev(&runner);
        QSignalSpy spy(&ev, &RunnerEvents::event);
        connect(&runner, &Runner::logEvent, &runner, [&](const LogEvent &e) {
            if (e.level >= LogLevel::Warning)
                warnings << e.message;
        });
        connect(&runner, &Runner::databaseError, &runner, [&] { ++databaseErrors; });
        runner.start();
        QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));
        RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(30, jobOf(u"t"_s))));
        QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 30, scaled(15000));
        for (qint64 id : ids)
            QCOMPARE(rec->executionsOf(id).size(), 1);
        QCOMPARE(runner.state(), Runner::State::Running);
        runner.stop();
        QVERIFY(runner.waitForStopped(scaled(10000)));
    }
    QCOMPARE(databaseErrors, 0);
    QCOMPARE(warnings.size(), 1);
    QVERIFY2(warnings.at(0).startsWith(u"cannot open another claiming connection"_s)
                 && warnings.at(0).contains(u"too many connections"_s),
             qPrintable(warnings.at(0)));
}

// PostgreSQL: the outcome writer loses its connection and, when it reconnects, the role's last
// slot is taken (by a stranger here; after a server restart, by claim lanes reconnecting
// first). The claim lane holding a slot closes, so the writer finds one and every job ends.
void TestRunner::claimLanesGiveWayToTheWriter()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    RunnerConfig config = testConfig(url);
    // The runner's, the LISTEN, the writer's and one lane.
    QCOMPARE(limitToConnections(*store, &config.connection, 4), QString());
    oneJobPerClaim(config, 2, 2);
    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    // Each job returns a result, so its outcome goes out with the document of outcomes
    // (successes without results are written as a list of ids).
    handlers.add(u"t"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        scope.setSleepInterrupted(!ctx.sleepFor(5));
        return HandlerResult::success(QJsonObject { { u"n"_s, 1 } });
    });
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));
    RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(20, jobOf(u"t"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 20, scaled(15000));
    const auto limitedConnections = [&] {
        QSqlQuery q(store->database());
        return q.exec(u"SELECT count(*) FROM pg_stat_activity WHERE usename = 'oddjobs_limited'"_s)
                && q.next()
            ? q.value(0).toInt()
            : -1;
    };
    QCOMPARE(limitedConnections(), 4); // the lane holds the last slot

    // The writer is the connection whose last statement wrote outcomes (its parameters hold
    // the outcomes, {"<id>":{"ok":true,"result":{"n":1}}}).
    QSqlQuery q(store->database());
    QVERIFY2(q.exec(u"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                    "usename = 'oddjobs_limited' AND query LIKE '%\"ok\":%'"_s)
                 && q.next(),
             qPrintable(q.lastError().text()));
    QCOMPARE(q.value(0).toInt(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(limitedConnections(), 3, scaled(5000));
    // A stranger takes the freed slot.
    auto taken = JobStore::open(config.connection, config.store);
    QVERIFY2(taken.ok(), qPrintable(errorText(taken)));

    RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(20, jobOf(u"t"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 40, scaled(20000));
    runner.stop();
    QVERIFY(runner.waitForStopped(scaled(10000)));
}

// PostgreSQL: a worker's connection prepares its statements once and runs them with generic
// plans for as long as it lives; the plans must follow the table. Run many times on an empty
// table (where reading the whole table is the cheapest plan, and the server would keep a plan
// made then), the runner primitives must, once a re-plan interval has passed, find their rows
// through indexes in a table of 100,000 rows nobody has analyzed: the server counts no
// sequential scan in that transaction. (A runner that started on an empty table once drained
// 300,000 jobs at 1,500 jobs/s instead of 33,000: its outcome writes read the whole table.)
void TestRunner::runnerPlansFollowTheTable()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    RT_ASSIGN(filler, openStore(url));
    RT_VERIFY_OK(store->tuneForRunner(true, u"plans-test"_s));
    const QString table = store->options().table.quoted();
    QSqlQuery q(store->database());
    QVERIFY2(q.exec(u"ANALYZE %1"_s.arg(table)), qPrintable(q.lastError().text()));

    ClaimRequest request;
    request.worker = u"w"_s;
    request.types = { u"t"_s };
    request.limit = 2;
    // Every primitive of a worker, once per round.
    const auto round = [&](int jobs) -> QString {
        auto ids = store->enqueueMany(QList<NewJob>(jobs, jobOf(u"t"_s)));
        auto claimed = store->claim(request);
        if (!ids || !claimed || claimed->size() != 2)
            return u"enqueue or claim: "_s + errorText(claimed);
        const QList<qint64> held { claimed->at(0).id, claimed->at(1).id };
        auto beat = store->heartbeat(u"w"_s, held);
        auto still = store->stillHeld(u"w"_s, held);
        auto written
            = store->complete(u"w"_s, { JobOutcome { held.at(0), true, {}, {}, 0, false } });
        auto released = store->release(u"w"_s, { held.at(1) });
        auto rescued = store->rescueExpired(60);
        if (!beat || !still || !written || !released || !rescued)
            return u"a primitive failed"_s;
        return {};
    };
    for (int i = 0; i < 8; ++i) // past the server's five custom plans before a generic one
        QCOMPARE(round(2), QString());

    QSqlQuery fill(filler->database());
    QVERIFY2(fill.exec(u"INSERT INTO %1 (payload, status, attempts, finished_at) SELECT "
                       "jsonb_build_object('tag', 't'), 'success', 1, now() FROM "
                       "generate_series(1, 100000)"_s.arg(table)),
             qPrintable(fill.lastError().text()));

    // Planned once, not per execution.
    QVERIFY2(q.exec(u"SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements"_s)
                 && q.next(),
             qPrintable(q.lastError().text()));
    QVERIFY2(q.value(0).toLongLong() >= 8 && q.value(1).toLongLong() == 0,
             qPrintable(u"generic plans %1, custom plans %2"_s.arg(q.value(0).toString(),
                                                                   q.value(1).toString())));
    QTest::qSleep(JobStore::ReplanIntervalMs + 100);

    // This connection's counts not reported yet, earlier rounds' included: read before and
    // after, in one transaction (nothing is reported inside one).
    const auto seqScans = [&] {
        QSqlQuery s(store->database());
        if (!s.exec(u"SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = "
                    "'%1'::regclass"_s.arg(table))
            || !s.next())
            return qint64(-1);
        return s.value(0).toLongLong();
    };
    QVERIFY2(q.exec(u"BEGIN"_s), qPrintable(q.lastError().text()));
    const qint64 before = seqScans();
    const QString problem = round(2);
    const qint64 after = seqScans();
    QVERIFY2(q.exec(u"ROLLBACK"_s), qPrintable(q.lastError().text()));
    QCOMPARE(problem, QString());
    QVERIFY(before >= 0);
    QCOMPARE(after - before, qint64(0));
}

// PostgreSQL: draining a backlog, each claim starts after the last row claimed (the claim
// index still holds the dead entries of the rows before it). A job that comes ahead of that
// point, here a more urgent one, must not wait for the backlog: enqueued, its notification
// sends the next claim back to the start of the index; made urgent by plain SQL, which
// notifies nobody, it waits a second at most, until the bound is too old to trust. (The poll,
// which would do the same, is an hour away.)
void TestRunner::urgentJobOvertakesBacklog_data()
{
    QTest::addColumn<bool>("byPlainSql");
    QTest::newRow("enqueued") << false;
    QTest::newRow("reprioritised by plain SQL") << true;
}

void TestRunner::urgentJobOvertakesBacklog()
{
    QFETCH(bool, byPlainSql);
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    RT_ASSIGN(store, openStore(url));
    const int backlog = 600;
    RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(backlog, jobOf(u"work"_s))));
    // By plain SQL: queued behind the backlog from the start, moved ahead of it later.
    RT_ASSIGN(last, store->enqueue(jobOf(byPlainSql ? u"urgent"_s : u"work"_s)));
    std::atomic<int> started { 0 };
    std::atomic<int> startedBeforeUrgent { -1 };
    HandlerRegistry handlers;
    handlers.add(u"work"_s, [&started](JobContext &ctx) {
        ++started;
        ctx.sleepFor(20);
        return HandlerResult::success();
    });
    handlers.add(u"urgent"_s, [&started, &startedBeforeUrgent](JobContext &) {
        startedBeforeUrgent = started.load();
        return HandlerResult::success();
    });
    RunnerConfig config = testConfig(url);
    oneJobPerClaim(config, 2, 2);
    config.pollIntervalMs = 3600 * 1000;
    Runner runner(config, handlers);
    runner.start();
    QTRY_VERIFY_WITH_TIMEOUT(started.load() >= 10, scaled(10000));
    const int startedBefore = started.load();
    if (byPlainSql) {
        QSqlQuery q(store->database());
        QVERIFY2(q.exec(u"UPDATE jobs SET priority = -5 WHERE id = %1"_s.arg(last.id)),
                 qPrintable(q.lastError().text()));
    } else {
        NewJob urgent = jobOf(u"urgent"_s);
        urgent.priority = -5;
        RT_VERIFY_OK(store->enqueue(urgent));
    }
    QTRY_VERIFY_WITH_TIMEOUT(startedBeforeUrgent.load() >= 0, scaled(10000));
    // About 100 backlog jobs start a second. Enqueued: the next claims see it (a few jobs
    // already claimed or in flight start first). By plain SQL: within about a second.
    const int passedBy = startedBeforeUrgent.load() - startedBefore;
    QVERIFY2(passedBy < (byPlainSql ? backlog / 2 : 50),
             qPrintable(u"%1 backlog jobs started before the urgent one"_s.arg(passedBy)));
    runner.stopNow();
    QVERIFY(runner.waitForStopped(scaled(10000)));
}

// Finished jobs past the retention are pruned by the first maintenance pass after start (a
// worker restarted more often than the prune interval still prunes), batch by batch, and the
// log says how many; younger finished jobs stay.
void TestRunner::prunesOnStart()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));
    const int old = 60000; // more than one step of pruning takes, on most machines
    RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(old + 3, jobOf(u"done"_s))));
    ClaimRequest request;
    request.worker = u"earlier"_s;
    request.anyType = true;
    request.limit = old + 3;
    RT_ASSIGN(claimed, store->claim(request));
    QCOMPARE(claimed.size(), old + 3);
    QList<JobOutcome> outcomes;
    for (const Job &job : std::as_const(claimed))
        outcomes << JobOutcome { job.id, true, {}, {}, 0, false };
    RT_ASSIGN(written, store->complete(u"earlier"_s, outcomes));
    QCOMPARE(written.size(), old + 3);
    // All but the last three finished three days ago.
    const bool pg = backend == u"postgresql"_s;
    QSqlQuery q(store->database());
    QVERIFY2(q.exec(u"UPDATE jobs SET finished_at = %1, updated_at = %2 WHERE id <= %3"_s.arg(
                 pg ? u"finished_at - interval '3 days'"_s : u"finished_at - 259200000000"_s,
                 pg ? u"updated_at - interval '3 days'"_s : u"updated_at - 259200000000"_s,
                 QString::number(ids.at(old - 1)))),
             qPrintable(q.lastError().text()));
    QCOMPARE(q.numRowsAffected(), old);

    HandlerRegistry handlers;
    handlers.add(u"done"_s, [](JobContext &) { return HandlerResult::success(); });
    RunnerConfig config = testConfig(url);
    config.retentionSeconds = 86400;
    config.pollIntervalMs = 60000; // the prune's own steps go on, not the polls
    Runner runner(config, handlers);
    QStringList pruneLines;
    connect(&runner, &Runner::logEvent, this, [&pruneLines](const LogEvent &e) {
        if (e.message.startsWith(u"pruned "_s))
            pruneLines << e.message;
    });
    runner.start();
    const auto remaining = [&store] {
        auto n = store->count();
        return n ? *n : qint64(-1);
    };
    // Told in the log (each step's line comes after its rows are gone).
    const auto told = [&pruneLines] {
        qint64 sum = 0;
        for (const QString &line : std::as_const(pruneLines))
            sum += line.section(u' ', 1, 1).toLongLong();
        return sum;
    };
    QTRY_COMPARE_WITH_TIMEOUT(remaining(), qint64(3), scaled(20000));
    QTRY_COMPARE_WITH_TIMEOUT(told(), qint64(old), scaled(5000));
    runner.stop();
    QVERIFY(runner.waitForStopped(scaled(10000)));
    qInfo("pruned in %lld step(s)", qint64(pruneLines.size()));
    // The remaining three are the young ones.
    for (int i = old; i < old + 3; ++i) {
        RT_ASSIGN(kept, store->find(ids.at(i)));
        QVERIFY(kept.has_value());
    }
}

void TestRunner::dynamicConcurrency()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"work"_s, stubborn(rec, 50));
    RunnerConfig config = testConfig(url);
    // Asked on the runner thread before each claim: one job at a time.
    std::atomic<Runner *> self { nullptr };
    std::atomic<int> asked { 0 };
    config.concurrency = ConcurrencyControl::dynamic([&self, &asked] {
        ++asked;
        Runner *runner = self.load();
        return runner && runner->runningCount() < 1;
    });
    Runner runner(config, handlers);
    self = &runner;
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    runner.start();
    RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(5, jobOf(u"work"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 5, scaled(15000));
    QCOMPARE(rec->maxConcurrent(), 1);
    QVERIFY(asked.load() >= 5);
    runner.stop();
    QVERIFY(runner.waitForStopped(scaled(10000)));
}

void TestRunner::queuesFilter()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"work"_s, napping(rec, 0));
    RunnerConfig config = testConfig(url);
    config.queues = { u"a"_s };
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);

    // Queue b's jobs come first in claim order: had the runner been allowed to take them, it
    // would have taken them before the last job of queue a.
    NewJob inB = jobOf(u"work"_s);
    inB.queue = u"b"_s;
    NewJob inA = jobOf(u"work"_s);
    inA.queue = u"a"_s;
    RT_ASSIGN(bIds, store->enqueueMany({ inB, inB }));
    RT_ASSIGN(aIds, store->enqueueMany({ inA, inA }));
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 2, scaled(10000));
    RT_ASSIGN(last, store->enqueue(inA));
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s, last.id), 1, scaled(10000));
    for (qint64 id : std::as_const(aIds))
        QCOMPARE(countEvents(spy, u"succeeded"_s, id), 1);
    for (qint64 id : std::as_const(bIds)) {
        RT_FIND(row, *store, id);
        QCOMPARE(row.status, JobStatus::Queued);
        QCOMPARE(row.attempts, 0);
        QCOMPARE(countEvents(spy, u"started"_s, id), 0);
    }
    QCOMPARE(rec->count(), 3);
}

void TestRunner::onlyHandledTypes()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"known"_s, napping(rec, 0));
    Runner runner(testConfig(url), handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    // Unknown types first in claim order, so they would have been taken before "known".
    NewJob untagged;
    untagged.payload = QJsonObject { { u"no"_s, u"tag"_s } };
    RT_ASSIGN(other, store->enqueue(jobOf(u"other"_s)));
    RT_ASSIGN(unknown, store->enqueue(untagged));
    RT_ASSIGN(known, store->enqueue(jobOf(u"known"_s)));
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(spyToString(spy),
                              events({ { "started", known.id }, { "succeeded", known.id } }),
                              scaled(10000));
    for (qint64 id : { other.id, unknown.id }) {
        RT_FIND(row, *store, id);
        QCOMPARE(row.status, JobStatus::Queued);
        QCOMPARE(row.attempts, 0);
    }
}

void TestRunner::catchAllHandler()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"*"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx, u"*"_s);
        return HandlerResult::success(ctx.type());
    });
    handlers.add(u"special"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx, u"special"_s);
        return HandlerResult::success(u"special handler"_s);
    });
    Runner runner(testConfig(url), handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    NewJob untagged;
    untagged.payload = QJsonArray { 1, 2 };
    RT_ASSIGN(ids,
              store->enqueueMany({ jobOf(u"x"_s), jobOf(u"special"_s), untagged, jobOf(u"y"_s) }));
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s), 4, scaled(10000));

    const QStringList expectedHandler { u"*"_s, u"special"_s, u"*"_s, u"*"_s };
    const QStringList expectedResult { u"\"x\""_s, u"\"special handler\""_s, u"\"(unknown)\""_s,
                                       u"\"y\""_s };
    for (int i = 0; i < 4; ++i) {
        const QList<Execution> runs = rec->executionsOf(ids.at(i));
        QCOMPARE(runs.size(), 1);
        QCOMPARE(runs.at(0).handler, expectedHandler.at(i));
        RT_FIND(row, *store, ids.at(i));
        QCOMPARE(row.status, JobStatus::Success);
        QCOMPARE(jsonText(row.result), expectedResult.at(i));
    }
}

// --- resilience ------------------------------------------------------------------------------

void TestRunner::reconnectAfterRestart_data()
{
    QTest::addColumn<int>("mode");
    QTest::newRow("fast") << int(PgCluster::Fast);
    QTest::newRow("immediate") << int(PgCluster::Immediate);
}

void TestRunner::reconnectAfterRestart()
{
    QFETCH(int, mode);
    ODDJOBS_REQUIRE_POSTGRES();
    QString error;
    const QString url = restartableDatabase(&error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    PgCluster &cluster = *m_restartCluster;
    RT_ASSIGN(store, openStore(url));

    // The in-flight handlers finish only once the server is back, so their outcomes can only
    // be written over a new connection.
    auto rec = std::make_shared<Recorder>();
    auto serverBack = std::make_shared<std::atomic<bool>>(false);
    HandlerRegistry handlers;
    handlers.add(u"nap"_s, [rec, serverBack](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        QElapsedTimer t;
        t.start();
        while (!serverBack->load() && t.elapsed() < 60000)
            QThread::msleep(10);
        QThread::msleep(200);
        return HandlerResult::success();
    });
    RunnerConfig config = testConfig(url);
    config.pollIntervalMs = 60000; // new jobs after the restart need the LISTEN subscribed again
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy dbErrors(&runner, &Runner::databaseError);
    runner.start();
    QTRY_COMPARE_WITH_TIMEOUT(runner.state(), Runner::State::Running, scaled(10000));
    RT_ASSIGN(inFlight, store->enqueueMany(QList<NewJob>(3, jobOf(u"nap"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(rec->running(), 3, scaled(5000));

    QVERIFY2(cluster.restart(PgCluster::Mode(mode), &error), qPrintable(error));
    serverBack->store(true);
    QTRY_VERIFY_WITH_TIMEOUT(!dbErrors.isEmpty(), scaled(10000));
    QCOMPARE(runner.state(), Runner::State::Running);

    // The test's own connection went away too.
    RT_VERIFY_OK(store->reconnect());
    auto successCount = [&] {
        JobFilter filter;
        filter.statuses = { JobStatus::Success };
        auto n = store->count(filter);
        return n ? *n : -1;
    };
    QTRY_COMPARE_WITH_TIMEOUT(successCount(), qint64(3), scaled(20000));
    for (qint64 id : std::as_const(inFlight)) {
        RT_FIND(row, *store, id);
        QCOMPARE(row.attempts, 1); // written by the run that started before the restart
        QCOMPARE(rec->executionsOf(id).size(), 1);
    }

    // New work after the restart starts by notification (the poll is a minute away).
    RT_ASSIGN(after, store->enqueueMany(QList<NewJob>(2, jobOf(u"nap"_s))));
    for (qint64 id : std::as_const(after))
        QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s, id), 1, scaled(10000));
    QCOMPARE(successCount(), qint64(5));
    runner.stop();
    QVERIFY(runner.waitForStopped(scaled(10000)));
}

// A worker started before its server (both brought up together, say) runs as one started
// after it once the server is there: its outcomes go through the writer's connection, not the
// runner's own. (The writer used to be made only by a start that reached the server.)
void TestRunner::startsBeforeTheServer()
{
    ODDJOBS_REQUIRE_POSTGRES();
    QString error;
    const QString url = restartableDatabase(&error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    PgCluster &cluster = *m_restartCluster;
    {
        RT_ASSIGN(store, openStore(url)); // the schema, before the server goes
    }
    QVERIFY(cluster.stop());

    auto rec = std::make_shared<Recorder>();
    HandlerRegistry handlers;
    handlers.add(u"t"_s, [rec](JobContext &ctx) {
        Recorder::Scope scope(*rec, ctx);
        return HandlerResult::success();
    });
    RunnerConfig config = testConfig(url);
    oneJobPerClaim(config, 2, 1); // no claim lanes: the runner's, the LISTEN and the writer's
    Runner runner(config, handlers);
    RunnerEvents ev(&runner);
    QSignalSpy spy(&ev, &RunnerEvents::event);
    QSignalSpy dbErrors(&runner, &Runner::databaseError);
    runner.start();
    QTRY_VERIFY_WITH_TIMEOUT(!dbErrors.isEmpty(), scaled(10000));
    QVERIFY2(cluster.startAgain(&error), qPrintable(error));

    RT_ASSIGN(store, openStore(url));
    RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(10, jobOf(u"t"_s))));
    for (qint64 id : std::as_const(ids))
        QTRY_COMPARE_WITH_TIMEOUT(countEvents(spy, u"succeeded"_s, id), 1, scaled(20000));
    QCOMPARE(eachRanOnce(*rec, ids), QString());
    // Its connections: the runner's own (which claims), the LISTEN and the writer's. Without
    // a writer the outcomes were written on the runner's own, and there were two.
    QSqlQuery q(store->database());
    QVERIFY2(q.exec(u"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"_s)
                 && q.next(),
             qPrintable(q.lastError().text()));
    QCOMPARE(q.value(0).toInt(), 3);
    runner.stop();
    QVERIFY(runner.waitForStopped(scaled(10000)));
}

QTEST_GUILESS_MAIN(TestRunner)

#include "tst_runner.moc"
