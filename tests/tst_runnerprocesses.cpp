// Runners in several processes on one table (SPEC §3: "Two workers never run the same job at
// the same time"; heartbeat and rescue): no job runs twice, and a killed worker's job is
// rescued and finished by another. The other processes are oddjobs_test_worker
// (support/testworker_main.cpp); executions are recorded in a side table by every handler.

#include "runnertestutil.h"
#include "support/executionlog.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <QThread>
#include <atomic>
#include <memory>

using namespace OddJobs;
using namespace OddJobs::Test;
using namespace RunnerTest;
using namespace Qt::StringLiterals;

namespace {

void backendData()
{
    addBackendColumns();
    addBackendRows();
}

// A worker process; killed (and reaped) when the object goes, so a failing test leaves
// nothing behind.
class WorkerProcess
{
public:
    WorkerProcess(const QString &url, const QString &name, int concurrency, int pollMs = 500,
                  const QStringList &more = {})
        : m_name(name)
    {
        m_process.setProgram(QStringLiteral(ODDJOBS_TEST_WORKER));
        m_process.setArguments(QStringList { u"--url"_s, url, u"--worker"_s, name,
                                             u"--concurrency"_s, QString::number(concurrency),
                                             u"--poll-interval"_s, QString::number(pollMs) }
                               + more);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    }
    ~WorkerProcess()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    // Starts the process and waits for its "ready" line.
    bool start(QString *error)
    {
        m_process.start();
        if (!m_process.waitForStarted(10000)) {
            *error = u"cannot start %1: %2"_s.arg(m_process.program(), m_process.errorString());
            return false;
        }
        QElapsedTimer clock;
        clock.start();
        while (!m_output.contains(u"ready "_s + m_name)) {
            if (clock.elapsed() > scaled(20000) || m_process.state() == QProcess::NotRunning) {
                *error = u"worker %1 did not get ready: %2"_s.arg(m_name, m_output);
                return false;
            }
            m_process.waitForReadyRead(100);
            m_output += QString::fromUtf8(m_process.readAllStandardOutput());
        }
        return true;
    }

    // SIGTERM, then waits for a clean exit and returns the number of executed jobs from the
    // summary line (-1 on any problem, described in *error).
    qint64 stop(QString *error)
    {
        m_process.terminate();
        if (!m_process.waitForFinished(scaled(20000))) {
            *error = u"worker %1 did not exit after SIGTERM"_s.arg(m_name);
            return -1;
        }
        m_output += QString::fromUtf8(m_process.readAllStandardOutput());
        if (m_process.exitStatus() != QProcess::NormalExit || m_process.exitCode() != 0) {
            *error = u"worker %1 exited with status %2, code %3: %4"_s.arg(m_name)
                         .arg(int(m_process.exitStatus()))
                         .arg(m_process.exitCode())
                         .arg(m_output);
            return -1;
        }
        static const QRegularExpression summary(
            u"summary worker=(\\S+) executed=(\\d+) errors=(\\d+)"_s);
        const QRegularExpressionMatch match = summary.match(m_output);
        if (!match.hasMatch() || match.captured(1) != m_name) {
            *error = u"worker %1 printed no summary: %2"_s.arg(m_name, m_output);
            return -1;
        }
        if (match.captured(3).toLongLong() != 0) {
            *error = u"worker %1 could not record %2 executions"_s.arg(m_name, match.captured(3));
            return -1;
        }
        return match.captured(2).toLongLong();
    }

    void kill()
    {
        m_process.kill();
        m_process.waitForFinished(5000);
    }

    QString name() const { return m_name; }

private:
    QString m_name;
    QProcess m_process;
    QString m_output;
};

// The first column of the first row of `sql` on the store's connection, as a number; -1 (and
// a test warning) on error.
qint64 scalar(JobStore &store, const QString &sql)
{
    QSqlQuery q(store.database());
    if (!q.exec(sql) || !q.next()) {
        qWarning("query failed: %s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
        return -1;
    }
    return q.value(0).toLongLong();
}

} // namespace

class TestRunnerProcesses : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void noDoubleExecution_data() { backendData(); }
    void noDoubleExecution();
    void rescueAfterKill_data() { backendData(); }
    void rescueAfterKill();
};

void TestRunnerProcesses::initTestCase()
{
    QLoggingCategory::setFilterRules(
        u"oddjobs.core.runner.info=false\noddjobs.core.store.info=false\n"
        "oddjobs.core.schema.info=false"_s);
}

void TestRunnerProcesses::noDoubleExecution()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));
    const bool pg = store->backend() == Backend::PostgreSql;
    {
        QSqlQuery q(store->database());
        QVERIFY2(q.exec(executionsTableSql(store->backend())), qPrintable(q.lastError().text()));
        QVERIFY2(q.exec(u"CREATE INDEX executions_job ON executions (job_id)"_s),
                 qPrintable(q.lastError().text()));
    }

    constexpr int Jobs = 5000;
    WorkerProcess w1(url, u"proc-1"_s, 4);
    // One job per claim: on PostgreSQL its claims run side by side on several connections.
    WorkerProcess w2(url, u"proc-2"_s, 4, 500, { u"--claim-batch"_s, u"1"_s });
    QString error;
    QVERIFY2(w1.start(&error), qPrintable(error));
    QVERIFY2(w2.start(&error), qPrintable(error));

    // PostgreSQL serves many hosts: a runner of this process joins the two others.
    std::unique_ptr<Runner> inProcess;
    auto inProcessExecuted = std::make_shared<std::atomic<qint64>>(0);
    auto inProcessErrors = std::make_shared<std::atomic<qint64>>(0);
    if (pg) {
        RunnerConfig config = testConfig(url);
        config.workerName = u"in-test"_s;
        config.pollIntervalMs = 500;
        HandlerRegistry handlers;
        const ConnectionSettings settings = config.connection;
        handlers.add(u"exec"_s, [settings, inProcessExecuted, inProcessErrors](JobContext &ctx) {
            QString recordError;
            if (!recordExecution(
                    settings, ctx.job().id, u"in-test"_s,
                    [] { QThread::usleep(QRandomGenerator::global()->bounded(5001)); },
                    &recordError)) {
                ++*inProcessErrors;
                qWarning("in-test worker: %s", qPrintable(recordError));
                return HandlerResult::failure(recordError);
            }
            ++*inProcessExecuted;
            return HandlerResult::success();
        });
        inProcess = std::make_unique<Runner>(config, handlers);
        inProcess->start();
        QTRY_COMPARE_WITH_TIMEOUT(inProcess->state(), Runner::State::Running, scaled(10000));
    }

    RT_VERIFY_OK(store->enqueueMany(QList<NewJob>(Jobs, jobOf(u"exec"_s))));
    QElapsedTimer clock;
    clock.start();
    const QString unfinished = u"SELECT count(*) FROM jobs WHERE status <> 'success'"_s;
    QTRY_COMPARE_WITH_TIMEOUT(scalar(*store, unfinished), qint64(0), scaled(90000));
    qInfo("%d jobs done by %s in %lld ms", Jobs, pg ? "3 runners" : "2 processes", clock.elapsed());

    // Every worker shuts down cleanly and reports what it ran.
    QList<qint64> perWorker;
    perWorker << w1.stop(&error);
    QVERIFY2(perWorker.last() >= 0, qPrintable(error));
    perWorker << w2.stop(&error);
    QVERIFY2(perWorker.last() >= 0, qPrintable(error));
    if (inProcess) {
        inProcess->stop();
        QVERIFY(inProcess->waitForStopped(scaled(20000)));
        inProcess.reset();
        QCOMPARE(inProcessErrors->load(), qint64(0));
        perWorker << inProcessExecuted->load();
    }
    qint64 total = 0;
    for (qint64 n : std::as_const(perWorker)) {
        QVERIFY2(n > 0, "every worker should have run some of the jobs");
        total += n;
    }
    QCOMPARE(total, qint64(Jobs));

    // The side table: each job exactly once, finished, and no two executions of one job overlap.
    QCOMPARE(scalar(*store, u"SELECT count(*) FROM executions"_s), qint64(Jobs));
    QCOMPARE(scalar(*store, u"SELECT count(*) FROM executions WHERE finished_at IS NULL"_s),
             qint64(0));
    QCOMPARE(scalar(*store,
                    u"SELECT count(*) FROM (SELECT job_id FROM executions GROUP BY job_id "
                    "HAVING count(*) <> 1) AS x"_s),
             qint64(0));
    QCOMPARE(scalar(*store,
                    u"SELECT count(*) FROM jobs AS j WHERE NOT EXISTS (SELECT 1 FROM executions "
                    "AS e WHERE e.job_id = j.id)"_s),
             qint64(0));
    QCOMPARE(scalar(*store,
                    u"SELECT count(*) FROM executions AS a JOIN executions AS b ON a.job_id = "
                    "b.job_id AND a.exec_id < b.exec_id AND a.started_at < b.finished_at AND "
                    "b.started_at < a.finished_at"_s),
             qint64(0));
    QCOMPARE(scalar(*store, u"SELECT count(*) FROM jobs WHERE attempts <> 1"_s), qint64(0));
    QCOMPARE(scalar(*store, u"SELECT count(DISTINCT worker) FROM executions"_s),
             qint64(perWorker.size()));
}

void TestRunnerProcesses::rescueAfterKill()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    RT_ASSIGN(store, openStore(url));

    WorkerProcess doomed(url, u"doomed"_s, 1, 100);
    QString error;
    QVERIFY2(doomed.start(&error), qPrintable(error));
    RT_ASSIGN(job, store->enqueue(jobOf(u"hang"_s)));
    auto lockedByDoomed = [&] {
        auto found = store->find(job.id);
        return found && *found && (*found)->status == JobStatus::Locked
            && (*found)->lockedBy == u"doomed"_s;
    };
    QTRY_VERIFY_WITH_TIMEOUT(lockedByDoomed(), scaled(10000));
    doomed.kill(); // no handing back, no more heartbeats

    // A second runner with a short lock timeout takes the job over once the lock expired.
    RunnerConfig config = testConfig(url);
    config.workerName = u"rescuer"_s;
    config.lockTimeoutSeconds = 2;
    HandlerRegistry handlers;
    handlers.add(u"hang"_s,
                 [](JobContext &) { return HandlerResult::success(u"finished by the rescuer"_s); });
    Runner rescuer(config, handlers);
    QSignalSpy started(&rescuer, &Runner::jobStarted);
    QSignalSpy succeeded(&rescuer, &Runner::jobSucceeded);
    QStringList rescues;
    connect(&rescuer, &Runner::logEvent, &rescuer, [&](const LogEvent &event) {
        if (event.kind == LogEventKind::JobRescued)
            rescues << event.message;
    });
    rescuer.start();
    QTRY_COMPARE_WITH_TIMEOUT(succeeded.size(), 1, scaled(15000));

    QCOMPARE(rescues, QStringList { u"job %1 of a dead worker moved to retry"_s.arg(job.id) });
    // Rescued to retry with the dead worker's attempt counted, then claimed as attempt 2.
    QCOMPARE(started.size(), 1);
    const Job claimed = started.at(0).at(0).value<Job>();
    QCOMPARE(claimed.id, job.id);
    QCOMPARE(claimed.attempts, 2);
    QCOMPARE(errorObject(claimed)[u"kind"_s].toString(), u"lock_expired"_s);
    QCOMPARE(errorObject(claimed)[u"worker"_s].toString(), u"doomed"_s);

    RT_FIND(row, *store, job.id);
    QCOMPARE(row.status, JobStatus::Success);
    QCOMPARE(row.attempts, 2);
    QCOMPARE(jsonText(row.result), u"\"finished by the rescuer\""_s);
    QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"lock_expired"_s);
    rescuer.stop();
    QVERIFY(rescuer.waitForStopped(scaled(10000)));
}

QTEST_GUILESS_MAIN(TestRunnerProcesses)

#include "tst_runnerprocesses.moc"
