// The chaos soak (SPEC §3: at-least-once, "two workers never run the same job at the same
// time"; heartbeat and rescue; a database that goes away). Run through tests/soak/run.sh:
//
//   a throwaway PostgreSQL with default durability (fsync, synchronous commit), the jobs table
//   made by `oddjobs migrate`, N "exec" jobs enqueued with JobStore::enqueueMany, and three
//   oddjobs_test_worker processes draining them. Every execution is recorded by its handler in
//   an execution log (job, worker, start, end; support/executionlog.h). While they drain, one
//   worker at a time is SIGKILLed and started again every few seconds, and the server is
//   restarted (immediate mode: a crash and recovery, by default) once.
//
// At the end every job must have succeeded, none may be left locked, every job that succeeded
// must have a finished execution, a job may have run again only after the worker of its
// previous execution was killed (the kill log says when), an execution without an end must
// belong to a killed worker, and no two executions of one job may overlap in time (an
// unfinished execution ends when its worker was killed).
// Prints one summary line, "soak PASS ..." or "soak FAIL ...", on standard output; exit code
// 0, 1 (a violation) or 2 (could not run).

#include "oddjobs/jobstore.h"
#include "oddjobs/runner.h"
#include "support/executionlog.h"
#include "support/pgcluster.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTextStream>
#include <QThread>
#include <QUrl>
#include <csignal>
#include <memory>
#include <optional>
#include <sys/prctl.h>
#include <vector>

using namespace Qt::StringLiterals;
using namespace OddJobs;
using OddJobs::Test::microsNow;
using OddJobs::Test::PgCluster;

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void onSignal(int)
{
    g_interrupted = 1;
}

QTextStream &out()
{
    static QTextStream stream(stdout);
    return stream;
}

// Progress and details go to standard error; standard output gets the summary line only.
void note(const QString &line)
{
    QTextStream err(stderr);
    err << "soak: " << line << Qt::endl;
}

struct Settings
{
    double minutes = 10;
    qint64 jobs = 100000;
    int workers = 3;
    int concurrency = 8;
    int prefetch = 8;
    int claimBatch = RunnerConfig().maxClaimBatch; // a claim takes the whole hold
    QString execUs = u"1000-5000"_s;
    int killMinMs = 2000;
    int killMaxMs = 5000;
    int lockTimeoutSeconds = 30;
    int pgRestarts = 1;
    PgCluster::Mode restartMode = PgCluster::Immediate;
    QString workerBinary = QStringLiteral(ODDJOBS_TEST_WORKER);
    QString oddjobsBinary = QStringLiteral(ODDJOBS_BINARY);
    QString logDir;
    quint32 seed = 0;
};

struct Kill
{
    QString worker;
    qint64 sentUs = 0; // SIGKILL sent
    qint64 deadUs = 0; // the process reaped: nothing of it runs after this
};

// One incarnation of a worker slot: slot 2's third process is "w2.3". Each incarnation has a
// name of its own, so its locks, its executions and its kill are told apart from its
// successor's.
struct Worker
{
    int slot = 0;
    int generation = 0;
    QString name;
    QString logFile;
    std::unique_ptr<QProcess> process;
    QElapsedTimer since;
    bool reportedReady = false;
};

class Soak
{
public:
    explicit Soak(Settings settings)
        : m_s(std::move(settings))
        , m_random(m_s.seed)
    {
    }
    ~Soak() { killAll(); }

    int run();

private:
    bool setUp();
    bool enqueue();
    bool startWorker(int slot, bool waitReady);
    bool waitReady(Worker &w, int timeoutMs);
    void killOne();
    bool restartServer();
    void killAll();
    bool stopWorkers();
    std::optional<std::pair<qint64, qint64>> progress() const; // succeeded, locked
    bool check(double drainSeconds, double wallSeconds);
    void dumpEvidence(const QString &jobIds);
    QString scalarRow(const QString &sql, bool *ok) const;
    void violation(const QString &what)
    {
        m_violations << what;
        note(u"VIOLATION: "_s + what);
    }
    QString tail(const QString &file, int lines = 15) const;

    Settings m_s;
    QRandomGenerator m_random;
    std::unique_ptr<PgCluster> m_cluster;
    std::unique_ptr<QTemporaryDir> m_tempLogs;
    QString m_logDir;
    QString m_url;
    QString m_database;
    std::vector<Worker> m_workers;
    QList<Kill> m_kills;
    QList<std::pair<qint64, qint64>> m_restarts; // start, end (microseconds)
    QStringList m_violations;
    QElapsedTimer m_wall;
};

QString Soak::tail(const QString &file, int lines) const
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QStringList all = QString::fromUtf8(f.readAll()).split(u'\n', Qt::SkipEmptyParts);
    return all.mid(std::max<qsizetype>(0, all.size() - lines)).join(u"\n    "_s);
}

bool Soak::setUp()
{
    if (!m_s.logDir.isEmpty()) {
        m_logDir = QDir(m_s.logDir).absolutePath();
        if (!QDir().mkpath(m_logDir)) {
            note(u"cannot create %1"_s.arg(m_logDir));
            return false;
        }
    } else {
        QString base = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR");
        if (base.isEmpty() || !QDir().mkpath(base))
            base = QDir::tempPath();
        m_tempLogs = std::make_unique<QTemporaryDir>(
            QDir(base).absoluteFilePath(u"oddjobs-soak-XXXXXX"_s));
        if (!m_tempLogs->isValid()) {
            note(u"cannot create a log directory in %1"_s.arg(base));
            return false;
        }
        m_logDir = m_tempLogs->path();
    }

    for (const QString &binary : { m_s.workerBinary, m_s.oddjobsBinary }) {
        if (!QFileInfo(binary).isExecutable()) {
            note(
                u"%1 is missing: build the ci preset first (cmake --build build-ci)"_s.arg(binary));
            return false;
        }
    }

    if (const QString reason = PgCluster::unavailableReason(); !reason.isEmpty()) {
        note(u"PostgreSQL unavailable: "_s + reason);
        return false;
    }
    PgCluster::Options options;
    options.durable = true; // the defaults: fsync, synchronous_commit, full_page_writes
    m_cluster = std::make_unique<PgCluster>(options);
    QString error;
    if (!m_cluster->start(&error)) {
        note(u"cannot start PostgreSQL: "_s + error);
        return false;
    }
    m_url = m_cluster->createDatabase(&error);
    if (m_url.isEmpty()) {
        note(u"cannot create the database: "_s + error);
        return false;
    }
    m_database = QUrl(m_url).path().mid(1);
    QString version;
    m_cluster->execSql(m_database, u"SHOW server_version"_s, &version);
    note(u"PostgreSQL %1 (durable) as %2 on port %3, data in %4"_s.arg(
        version, m_cluster->serverUser().isEmpty() ? u"this user"_s : m_cluster->serverUser(),
        QString::number(m_cluster->port()), m_cluster->dataDir()));

    // The jobs table the way a deployment gets it.
    QProcess migrate;
    migrate.setProcessChannelMode(QProcess::MergedChannels);
    migrate.start(m_s.oddjobsBinary, { u"migrate"_s, u"--database"_s, m_url });
    if (!migrate.waitForFinished(120000) || migrate.exitStatus() != QProcess::NormalExit
        || migrate.exitCode() != 0) {
        note(u"oddjobs migrate failed: "_s + QString::fromUtf8(migrate.readAll()).trimmed());
        return false;
    }

    // The execution log (written by the handlers) and the kill log (written by us at the end).
    const QString tables = OddJobs::Test::executionsTableSql(Backend::PostgreSql)
        + u";\nCREATE INDEX executions_job ON executions (job_id);\n"
          "CREATE TABLE kills (worker text PRIMARY KEY, sent_at timestamptz NOT NULL, "
          "dead_at timestamptz NOT NULL);\n"
          "CREATE TABLE server_restarts (began_at timestamptz NOT NULL, "
          "ended_at timestamptz NOT NULL);"_s;
    if (!m_cluster->execSql(m_database, tables, nullptr, &error)) {
        note(u"cannot create the log tables: "_s + error);
        return false;
    }
    return true;
}

bool Soak::enqueue()
{
    QElapsedTimer clock;
    clock.start();
    const auto settings = ConnectionSettings::fromUrl(m_url);
    if (!settings) {
        note(settings.error().message);
        return false;
    }
    auto store = JobStore::open(*settings, StoreOptions {});
    if (!store) {
        note(u"cannot open the store: "_s + store.error().message);
        return false;
    }
    constexpr qint64 Chunk = 5000;
    for (qint64 first = 0; first < m_s.jobs; first += Chunk) {
        QList<NewJob> jobs;
        const qint64 n = std::min(Chunk, m_s.jobs - first);
        jobs.reserve(n);
        for (qint64 i = 0; i < n; ++i)
            jobs << NewJob::tagged(u"exec"_s, QJsonObject { { u"n"_s, first + i + 1 } });
        if (auto ids = (*store)->enqueueMany(jobs); !ids) {
            note(u"enqueue failed: "_s + ids.error().message);
            return false;
        }
    }
    store->reset();
    QString analyzeError;
    m_cluster->execSql(m_database, u"VACUUM ANALYZE jobs"_s, nullptr, &analyzeError);
    note(
        u"enqueued %1 jobs in %2 s"_s.arg(m_s.jobs).arg(double(clock.elapsed()) / 1000, 0, 'f', 1));
    return true;
}

bool Soak::startWorker(int slot, bool waitForReady)
{
    Worker w;
    w.slot = slot;
    for (const Worker &old : std::as_const(m_workers)) {
        if (old.slot == slot)
            w.generation = std::max(w.generation, old.generation);
    }
    ++w.generation;
    w.name = u"w%1.%2"_s.arg(slot).arg(w.generation);
    w.logFile = QDir(m_logDir).filePath(w.name + u".log"_s);
    w.process = std::make_unique<QProcess>();
    w.process->setProgram(m_s.workerBinary);
    w.process->setArguments({ u"--url"_s, m_url, u"--worker"_s, w.name, u"--concurrency"_s,
                              QString::number(m_s.concurrency), u"--prefetch"_s,
                              QString::number(m_s.prefetch), u"--claim-batch"_s,
                              QString::number(m_s.claimBatch), u"--poll-interval"_s, u"500"_s,
                              u"--lock-timeout"_s, QString::number(m_s.lockTimeoutSeconds),
                              u"--exec-us"_s, m_s.execUs, u"--log-retry"_s, u"120"_s });
    w.process->setProcessChannelMode(QProcess::MergedChannels);
    w.process->setStandardOutputFile(w.logFile, QIODevice::Append);
    w.process->setStandardInputFile(QProcess::nullDevice());
    // Should this driver die without cleaning up, its workers die with it.
    w.process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    w.process->start();
    if (!w.process->waitForStarted(10000)) {
        note(u"cannot start %1: %2"_s.arg(m_s.workerBinary, w.process->errorString()));
        return false;
    }
    w.since.start();
    // The slot's previous incarnation (if any) is dead; the new one takes its place.
    for (size_t i = 0; i < m_workers.size(); ++i) {
        if (m_workers[i].slot == slot) {
            m_workers[i] = std::move(w);
            return !waitForReady || waitReady(m_workers[i], 30000);
        }
    }
    m_workers.push_back(std::move(w));
    return !waitForReady || waitReady(m_workers.back(), 30000);
}

bool Soak::waitReady(Worker &w, int timeoutMs)
{
    QElapsedTimer clock;
    clock.start();
    const QByteArray ready = "ready " + w.name.toUtf8();
    while (clock.elapsed() < timeoutMs && !g_interrupted) {
        QFile f(w.logFile);
        if (f.open(QIODevice::ReadOnly) && f.readAll().contains(ready))
            return true;
        if (w.process->waitForFinished(100)) {
            note(u"%1 exited before it was ready:\n    %2"_s.arg(w.name, tail(w.logFile)));
            return false;
        }
    }
    note(
        u"%1 was not ready after %2 ms:\n    %3"_s.arg(w.name).arg(timeoutMs).arg(tail(w.logFile)));
    return false;
}

void Soak::killOne()
{
    // A worker that has run for a while, so the kill lands among running jobs.
    QList<size_t> candidates;
    for (size_t i = 0; i < m_workers.size(); ++i) {
        if (m_workers[i].since.elapsed() >= 1000)
            candidates << i;
    }
    if (candidates.isEmpty())
        return;
    Worker &w = m_workers[candidates.at(int(m_random.bounded(quint32(candidates.size()))))];
    Kill kill;
    kill.worker = w.name;
    kill.sentUs = microsNow();
    w.process->kill(); // SIGKILL
    if (!w.process->waitForFinished(10000))
        violation(u"%1 did not die within 10 s of SIGKILL"_s.arg(w.name));
    kill.deadUs = microsNow();
    m_kills << kill;
    const int slot = w.slot;
    if (!startWorker(slot, false))
        violation(u"cannot restart worker slot %1"_s.arg(slot));
}

bool Soak::restartServer()
{
    const qint64 began = microsNow();
    QString error;
    const bool ok = m_cluster->restart(m_s.restartMode, &error);
    const qint64 ended = microsNow();
    m_restarts << std::pair { began, ended };
    note(u"PostgreSQL restarted (%1) in %2 s%3"_s.arg(
        m_s.restartMode == PgCluster::Immediate ? u"immediate"_s : u"fast"_s,
        QString::number(double(ended - began) / 1e6, 'f', 1),
        ok ? QString() : u": FAILED "_s + error));
    return ok;
}

void Soak::killAll()
{
    for (Worker &w : m_workers) {
        if (w.process && w.process->state() != QProcess::NotRunning) {
            w.process->kill();
            w.process->waitForFinished(10000);
        }
    }
}

// SIGTERM to every worker: each drains, hands back, prints its summary and exits 0.
bool Soak::stopWorkers()
{
    bool ok = true;
    for (Worker &w : m_workers) {
        if (w.process->state() != QProcess::NotRunning)
            w.process->terminate();
    }
    static const QRegularExpression summary(
        u"summary worker=(\\S+) executed=(\\d+) errors=(\\d+)"_s);
    for (Worker &w : m_workers) {
        if (!w.process->waitForFinished(60000)) {
            violation(u"%1 did not stop within 60 s of SIGTERM"_s.arg(w.name));
            w.process->kill();
            w.process->waitForFinished(10000);
            ok = false;
            continue;
        }
        QFile f(w.logFile);
        const QString log
            = f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
        const auto match = summary.match(log);
        if (w.process->exitStatus() != QProcess::NormalExit || w.process->exitCode() != 0
            || !match.hasMatch()) {
            violation(u"%1 did not stop cleanly (status %2, code %3):\n    %4"_s.arg(w.name)
                          .arg(int(w.process->exitStatus()))
                          .arg(w.process->exitCode())
                          .arg(tail(w.logFile)));
            ok = false;
        } else if (match.captured(3) != u"0"_s) {
            violation(u"%1 could not record %2 executions (handlers failed):\n    %3"_s.arg(
                w.name, match.captured(3), tail(w.logFile)));
            ok = false;
        }
    }
    return ok;
}

std::optional<std::pair<qint64, qint64>> Soak::progress() const
{
    QString row;
    if (!m_cluster->execSql(m_database,
                            u"SELECT count(*) FILTER (WHERE status = 'success'), count(*) "
                            "FILTER (WHERE status = 'locked') FROM jobs"_s,
                            &row))
        return std::nullopt;
    const QStringList cells = row.split(u'|');
    if (cells.size() != 2)
        return std::nullopt;
    return std::pair { cells.at(0).toLongLong(), cells.at(1).toLongLong() };
}

QString Soak::scalarRow(const QString &sql, bool *ok) const
{
    QString row;
    QString error;
    *ok = m_cluster->execSql(m_database, sql, &row, &error);
    if (!*ok)
        note(u"query failed: %1\n    %2"_s.arg(sql, error));
    return row;
}

void Soak::dumpEvidence(const QString &jobIds)
{
    const QList<std::pair<QString, QString>> files {
        { u"kills.csv"_s, u"SELECT * FROM kills ORDER BY dead_at"_s },
        { u"server_restarts.csv"_s, u"SELECT * FROM server_restarts"_s },
        { u"suspect_executions.csv"_s,
          u"SELECT e.*, k.dead_at AS worker_killed_at FROM executions e LEFT JOIN kills k USING "
          "(worker) WHERE e.job_id IN (%1) ORDER BY e.job_id, e.started_at"_s.arg(jobIds) },
        { u"reexecuted.csv"_s,
          u"SELECT e.*, k.dead_at AS worker_killed_at FROM executions e LEFT JOIN kills k USING "
          "(worker) WHERE e.job_id IN (SELECT job_id FROM executions GROUP BY job_id HAVING "
          "count(*) > 1) ORDER BY e.job_id, e.started_at LIMIT 10000"_s },
        { u"suspect_jobs.csv"_s,
          u"SELECT id, status, attempts, locked_by, locked_at, started_at, finished_at, "
          "last_error FROM jobs WHERE id IN (%1) OR status <> 'success' ORDER BY id LIMIT 10000"_s
              .arg(jobIds) },
    };
    for (const auto &[name, query] : files) {
        QString text;
        m_cluster->execSql(m_database, u"COPY (%1) TO STDOUT WITH CSV HEADER"_s.arg(query), &text);
        QFile f(QDir(m_logDir).filePath(name));
        if (f.open(QIODevice::WriteOnly))
            f.write(text.toUtf8() + '\n');
    }
}

bool Soak::check(double drainSeconds, double wallSeconds)
{
    // The kill and restart logs go to the database, so one query relates them to executions.
    QStringList inserts;
    for (const Kill &k : std::as_const(m_kills)) {
        inserts << u"INSERT INTO kills VALUES ('%1', TIMESTAMPTZ 'epoch' + %2 * INTERVAL '1 "
                   "microsecond', TIMESTAMPTZ 'epoch' + %3 * INTERVAL '1 microsecond');"_s
                       .arg(k.worker)
                       .arg(k.sentUs)
                       .arg(k.deadUs);
    }
    for (const auto &[began, ended] : std::as_const(m_restarts)) {
        inserts << u"INSERT INTO server_restarts VALUES (TIMESTAMPTZ 'epoch' + %1 * INTERVAL '1 "
                   "microsecond', TIMESTAMPTZ 'epoch' + %2 * INTERVAL '1 microsecond');"_s
                       .arg(began)
                       .arg(ended);
    }
    QString error;
    if (!inserts.isEmpty()
        && !m_cluster->execSql(m_database, inserts.join(u'\n'), nullptr, &error)) {
        note(u"cannot write the kill log: "_s + error);
        out() << "soak FAIL the checks could not run (see above)" << Qt::endl;
        return false;
    }

    // Each execution ends when its handler wrote the end or, without one, when its worker was
    // killed (never, for a worker nobody killed: such an execution overlaps everything). A job's
    // next execution is explained only if it started after the worker of this one was dead:
    // until then that worker held the job (an outcome it had not written yet, or a lock that
    // only expires once it stops refreshing it).
    const QString executions
        = u"WITH x AS (SELECT *, next_start IS NOT NULL AND (dead_at IS NULL OR next_start < "
          "dead_at) AS unexplained FROM (SELECT e.exec_id, e.job_id, e.worker, e.started_at, "
          "e.finished_at, k.dead_at, k.dead_at IS NOT NULL AS killed, COALESCE(e.finished_at, "
          "k.dead_at, 'infinity') AS ended_at, lead(e.started_at) OVER (PARTITION BY e.job_id "
          "ORDER BY e.started_at, e.exec_id) AS next_start, count(*) OVER (PARTITION BY "
          "e.job_id) AS runs FROM executions e LEFT JOIN kills k USING (worker)) w) "_s;
    const QString sql = executions
        + u", j AS (SELECT count(*) AS jobs, count(*) FILTER (WHERE status = 'success') AS "
          "succeeded, count(*) FILTER (WHERE status = 'locked') AS locked FROM jobs), "
          "per_job AS (SELECT job_id, max(runs) AS runs, bool_or(unexplained) AS unexplained "
          "FROM x GROUP BY job_id), "
          "lost AS (SELECT count(*) AS n FROM jobs WHERE status = 'success' AND NOT EXISTS "
          "(SELECT 1 FROM executions e WHERE e.job_id = jobs.id AND e.finished_at IS NOT NULL)), "
          "ov AS (SELECT count(*) AS n FROM x a JOIN x b ON a.job_id = b.job_id AND "
          "a.exec_id < b.exec_id AND a.started_at < b.ended_at AND b.started_at < a.ended_at) "
          "SELECT j.jobs, j.succeeded, (SELECT count(*) FROM x), "
          "(SELECT count(*) FROM per_job WHERE runs > 1 AND NOT unexplained), "
          "(SELECT count(*) FROM per_job WHERE runs > 1 AND unexplained), ov.n, j.locked, "
          "(SELECT count(*) FROM x WHERE finished_at IS NULL AND killed), "
          "(SELECT count(*) FROM x WHERE finished_at IS NULL AND NOT killed), lost.n, "
          "(SELECT count(*) FROM executions e WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE "
          "jobs.id = e.job_id)) "
          "FROM j, ov, lost"_s;
    bool ok = false;
    const QStringList c = scalarRow(sql, &ok).split(u'|');
    if (!ok || c.size() != 11) {
        out() << "soak FAIL the checks could not run (see above)" << Qt::endl;
        return false;
    }
    const qint64 jobs = c[0].toLongLong();
    const qint64 succeeded = c[1].toLongLong();
    const qint64 executionCount = c[2].toLongLong();
    const qint64 reexecutedAfterKill = c[3].toLongLong();
    const qint64 unexplained = c[4].toLongLong();
    const qint64 overlaps = c[5].toLongLong();
    const qint64 locked = c[6].toLongLong();
    const qint64 killedMidJob = c[7].toLongLong();
    const qint64 unfinishedUnkilled = c[8].toLongLong();
    const qint64 lost = c[9].toLongLong();
    const qint64 strangers = c[10].toLongLong();

    if (jobs != m_s.jobs)
        violation(u"%1 jobs in the table, %2 enqueued"_s.arg(jobs).arg(m_s.jobs));
    if (succeeded != jobs) {
        const QString statuses = scalarRow(u"SELECT string_agg(status || '=' || n, ' ') FROM "
                                           "(SELECT status, count(*) AS n FROM jobs WHERE status "
                                           "<> 'success' GROUP BY status) s"_s,
                                           &ok);
        violation(
            u"%1 of %2 jobs did not succeed (%3)"_s.arg(jobs - succeeded).arg(jobs).arg(statuses));
    }
    if (unexplained > 0)
        violation(u"%1 jobs ran more than once although no kill explains it"_s.arg(unexplained));
    if (overlaps > 0)
        violation(u"%1 pairs of executions of one job overlap in time"_s.arg(overlaps));
    if (locked > 0)
        violation(u"%1 jobs are left locked"_s.arg(locked));
    if (unfinishedUnkilled > 0)
        violation(u"%1 executions never ended although their worker was not killed"_s.arg(
            unfinishedUnkilled));
    if (lost > 0)
        violation(u"%1 jobs succeeded without a finished execution"_s.arg(lost));
    if (strangers > 0)
        violation(u"%1 executions of jobs that do not exist"_s.arg(strangers));
    if (m_kills.isEmpty())
        violation(u"no worker was killed: the run was too short to test anything"_s);
    if (m_restarts.size() < m_s.pgRestarts)
        violation(
            u"%1 of %2 server restarts happened"_s.arg(m_restarts.size()).arg(m_s.pgRestarts));

    // How the kills explain the re-executions: mid-job, or after the handler returned but before
    // its outcome reached the table (buffered, or waiting for the database to come back).
    const QStringList why = scalarRow(executions
                                          + u"SELECT count(*) FILTER (WHERE finished_at IS NULL), "
                                            "count(*) FILTER (WHERE finished_at IS NOT NULL), "
                                            "COALESCE(round(extract(epoch FROM max(dead_at - "
                                            "finished_at)), 3), 0) FROM x WHERE next_start IS "
                                            "NOT NULL AND NOT unexplained"_s,
                                      &ok)
                                .split(u'|');
    if (ok && why.size() == 3 && reexecutedAfterKill > 0)
        note(u"re-executed after a kill: %1 executions cut off mid-job, %2 finished but killed "
             "before the outcome was written (at most %3 s before the kill)"_s.arg(why[0], why[1],
                                                                                   why[2]));

    const bool keep = !m_violations.isEmpty() || !m_s.logDir.isEmpty();
    QString suspects = u"0"_s;
    if (keep) {
        // The evidence: every job that broke a rule, with its executions and the kill log.
        const QString ids = scalarRow(
            executions
                + u"SELECT COALESCE(string_agg(DISTINCT job_id::text, ','), '0') FROM (SELECT "
                  "job_id FROM x WHERE unexplained OR (finished_at IS NULL AND NOT killed) UNION "
                  "SELECT a.job_id FROM x a JOIN x b ON a.job_id = b.job_id AND "
                  "a.exec_id < b.exec_id AND a.started_at < b.ended_at AND b.started_at < "
                  "a.ended_at UNION SELECT id FROM jobs WHERE status <> 'success' LIMIT 1000) s"_s,
            &ok);
        if (ok && !ids.isEmpty())
            suspects = ids;
        dumpEvidence(suspects);
    }
    if (!m_violations.isEmpty()) {
        QString sample;
        m_cluster->execSql(m_database,
                           u"SELECT e.job_id, e.worker, e.started_at, e.finished_at, k.dead_at "
                           "FROM executions e LEFT JOIN kills k USING (worker) WHERE e.job_id IN "
                           "(%1) ORDER BY e.job_id, e.started_at LIMIT 30"_s.arg(suspects),
                           &sample);
        if (!sample.isEmpty())
            note(u"executions of suspect jobs (job|worker|start|end|worker killed):\n    "_s
                 + sample.split(u'\n').join(u"\n    "_s));
    }

    out() << (m_violations.isEmpty() ? "soak PASS" : "soak FAIL") << " jobs=" << jobs
          << " succeeded=" << succeeded << " executions=" << executionCount
          << " reexecuted_after_kill=" << reexecutedAfterKill
          << " unexplained_reexecutions=" << unexplained << " overlaps=" << overlaps
          << " locked=" << locked << " killed_mid_job=" << killedMidJob
          << " kills=" << m_kills.size() << " pg_restarts=" << m_restarts.size()
          << " seconds=" << QString::number(drainSeconds, 'f', 1)
          << " wall_seconds=" << QString::number(wallSeconds, 'f', 1) << Qt::endl;
    return m_violations.isEmpty();
}

int Soak::run()
{
    m_wall.start();
    note(u"%1 jobs, %2 workers x %3 slots (prefetch %4, claims of up to %12), handlers sleep %5 "
         "us, lock timeout %6 s, a SIGKILL every %7-%8 ms, %9 server restart(s), budget %10 min, "
         "seed %11"_s.arg(m_s.jobs)
             .arg(m_s.workers)
             .arg(m_s.concurrency)
             .arg(m_s.prefetch)
             .arg(m_s.execUs)
             .arg(m_s.lockTimeoutSeconds)
             .arg(m_s.killMinMs)
             .arg(m_s.killMaxMs)
             .arg(m_s.pgRestarts)
             .arg(m_s.minutes)
             .arg(m_s.seed)
             .arg(m_s.claimBatch));
    if (!setUp() || !enqueue())
        return 2;
    note(u"worker logs in "_s + m_logDir);

    QElapsedTimer drain;
    drain.start();
    for (int slot = 1; slot <= m_s.workers; ++slot) {
        if (!startWorker(slot, true))
            return 2;
    }

    // Kills and restarts stop early enough for the last killed worker's jobs to be rescued
    // (lock timeout, then the next rescue pass) and run within the budget.
    const qint64 budgetMs = qint64(m_s.minutes * 60000);
    const qint64 chaosEndMs
        = std::max<qint64>(0, budgetMs - qint64(m_s.lockTimeoutSeconds) * 1250 - 10000);
    auto nextKillIn = [this] {
        return qint64(m_s.killMinMs)
            + m_random.bounded(quint32(std::max(1, m_s.killMaxMs - m_s.killMinMs + 1)));
    };
    qint64 nextKillMs = nextKillIn();
    qint64 nextProgressMs = 0;
    qint64 nextReportMs = 10000;
    qint64 succeeded = 0;
    bool done = false;
    while (!g_interrupted) {
        QCoreApplication::processEvents();
        const qint64 now = drain.elapsed();
        if (now >= nextProgressMs) {
            nextProgressMs = now + 1000;
            if (const auto p = progress()) {
                succeeded = p->first;
                if (succeeded >= m_s.jobs && p->second == 0) {
                    done = true;
                    break;
                }
            }
        }
        if (now >= budgetMs) {
            note(u"time budget of %1 min used up"_s.arg(m_s.minutes));
            break;
        }
        if (now >= nextReportMs) {
            nextReportMs += 10000;
            note(u"%1 s: %2 of %3 done, %4 kills, %5 server restarts"_s.arg(now / 1000)
                     .arg(succeeded)
                     .arg(m_s.jobs)
                     .arg(m_kills.size())
                     .arg(m_restarts.size()));
        }
        for (Worker &w : m_workers) {
            if (w.process->state() == QProcess::NotRunning) {
                violation(u"%1 exited on its own (code %2):\n    %3"_s.arg(w.name)
                              .arg(w.process->exitCode())
                              .arg(tail(w.logFile)));
                const int slot = w.slot;
                if (!startWorker(slot, false))
                    return 2;
                break;
            }
        }
        if (now < chaosEndMs && succeeded < m_s.jobs) {
            // Server restarts at even steps of progress (or of the chaos time, if slower).
            const qsizetype k = m_restarts.size() + 1;
            if (k <= m_s.pgRestarts
                && (succeeded * (m_s.pgRestarts + 1) >= m_s.jobs * k
                    || now * (m_s.pgRestarts + 1) >= chaosEndMs * k)) {
                if (!restartServer())
                    return 2;
                nextKillMs = drain.elapsed() + nextKillIn();
                continue;
            }
            if (now >= nextKillMs) {
                killOne();
                nextKillMs = drain.elapsed() + nextKillIn();
            }
        }
        QThread::msleep(50);
    }
    const double drainSeconds = double(drain.elapsed()) / 1000;
    if (g_interrupted) {
        note(u"interrupted"_s);
        return 2;
    }
    if (done)
        note(u"all %1 jobs done after %2 s"_s.arg(m_s.jobs).arg(drainSeconds, 0, 'f', 1));
    stopWorkers();
    const bool passed = check(drainSeconds, double(m_wall.elapsed()) / 1000);
    if (!passed || !m_s.logDir.isEmpty()) {
        if (m_tempLogs)
            m_tempLogs->setAutoRemove(false);
        note(u"logs and evidence kept in "_s + m_logDir);
    }
    return passed ? 0 : 1;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"oddjobs_soak"_s);
    QLoggingCategory::setFilterRules(u"oddjobs.*.info=false\noddjobs.*.debug=false"_s);

    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"Chaos soak: workers drain jobs while they are SIGKILLed and the server restarts; "
        "then the execution log is checked. Usually run through tests/soak/run.sh."_s);
    parser.addHelpOption();
    const Settings defaults;
    const QCommandLineOption minutes(u"minutes"_s, u"Time budget of the drain."_s, u"m"_s,
                                     QString::number(defaults.minutes));
    const QCommandLineOption jobs(u"jobs"_s, u"Jobs to drain."_s, u"n"_s,
                                  QString::number(defaults.jobs));
    const QCommandLineOption workers(u"workers"_s, u"Worker processes."_s, u"n"_s,
                                     QString::number(defaults.workers));
    const QCommandLineOption concurrency(u"concurrency"_s, u"Jobs at once per worker."_s, u"n"_s,
                                         QString::number(defaults.concurrency));
    const QCommandLineOption prefetch(u"prefetch"_s, u"Jobs each worker claims ahead."_s, u"n"_s,
                                      QString::number(defaults.prefetch));
    const QCommandLineOption claimBatch(u"claim-batch"_s, u"Jobs one claim takes at most."_s,
                                        u"n"_s, QString::number(defaults.claimBatch));
    const QCommandLineOption execUs(u"exec-us"_s, u"A handler's random sleep."_s, u"min-max"_s,
                                    defaults.execUs);
    const QCommandLineOption killMs(u"kill-every-ms"_s, u"Pause between two SIGKILLs."_s,
                                    u"min-max"_s,
                                    u"%1-%2"_s.arg(defaults.killMinMs).arg(defaults.killMaxMs));
    const QCommandLineOption lockTimeout(u"lock-timeout"_s,
                                         u"The workers' lock timeout: a killed worker's jobs run "
                                         "again after it."_s,
                                         u"s"_s, QString::number(defaults.lockTimeoutSeconds));
    const QCommandLineOption restarts(u"pg-restarts"_s, u"Server restarts during the drain."_s,
                                      u"n"_s, QString::number(defaults.pgRestarts));
    const QCommandLineOption restartMode(u"pg-restart-mode"_s,
                                         u"immediate (a crash) or fast (a clean shutdown)."_s,
                                         u"mode"_s, u"immediate"_s);
    const QCommandLineOption workerBinary(u"worker-binary"_s, u"oddjobs_test_worker to run."_s,
                                          u"path"_s, defaults.workerBinary);
    const QCommandLineOption oddjobsBinary(u"oddjobs-binary"_s, u"oddjobs to migrate with."_s,
                                           u"path"_s, defaults.oddjobsBinary);
    const QCommandLineOption logDir(u"log-dir"_s,
                                    u"Keep worker logs and evidence here (default: a temporary "
                                    "directory, kept only on failure)."_s,
                                    u"dir"_s);
    const QCommandLineOption seed(u"seed"_s, u"Seed of the kill schedule (default: random)."_s,
                                  u"n"_s);
    parser.addOptions({ minutes, jobs, workers, concurrency, prefetch, claimBatch, execUs, killMs,
                        lockTimeout, restarts, restartMode, workerBinary, oddjobsBinary, logDir,
                        seed });
    parser.process(app);

    Settings s;
    bool ok = true;
    auto number = [&](const QCommandLineOption &option, double low) {
        bool good = false;
        const double v = parser.value(option).toDouble(&good);
        if (!good || v < low) {
            note(u"--%1 wants a number >= %2"_s.arg(option.names().first()).arg(low));
            ok = false;
        }
        return v;
    };
    auto range = [&](const QCommandLineOption &option, int *low, int *high) {
        const QStringList parts = parser.value(option).split(u'-');
        bool a = false;
        bool b = false;
        *low = parts.value(0).toInt(&a);
        *high = parts.value(1).toInt(&b);
        if (parts.size() != 2 || !a || !b || *low < 0 || *high < *low) {
            note(u"--%1 wants MIN-MAX"_s.arg(option.names().first()));
            ok = false;
        }
    };
    s.minutes = number(minutes, 0.1);
    s.jobs = qint64(number(jobs, 1));
    s.workers = int(number(workers, 1));
    s.concurrency = int(number(concurrency, 1));
    s.prefetch = int(number(prefetch, 0));
    s.claimBatch = int(number(claimBatch, 1));
    s.execUs = parser.value(execUs);
    int unused = 0;
    range(execUs, &unused, &unused);
    range(killMs, &s.killMinMs, &s.killMaxMs);
    s.lockTimeoutSeconds = int(number(lockTimeout, 2));
    s.pgRestarts = int(number(restarts, 0));
    const QString mode = parser.value(restartMode);
    if (mode == u"immediate"_s)
        s.restartMode = PgCluster::Immediate;
    else if (mode == u"fast"_s)
        s.restartMode = PgCluster::Fast;
    else {
        note(u"--pg-restart-mode is immediate or fast"_s);
        ok = false;
    }
    s.workerBinary = parser.value(workerBinary);
    s.oddjobsBinary = parser.value(oddjobsBinary);
    s.logDir = parser.value(logDir);
    s.seed = parser.isSet(seed) ? quint32(parser.value(seed).toUInt())
                                : QRandomGenerator::system()->generate();
    if (!ok)
        return 2;

    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGHUP, &action, nullptr);

    // Scoped: the workers and the server are gone before the application object.
    return Soak(s).run();
}
