// Fault tests of the reliability promises (SPEC §3 and §4): real PostgreSQL servers
// (support/pgcluster.h) and real worker processes (oddjobs_test_faultworker, and the oddjobs
// executable with process handlers) under a killed worker, a restarted server, a silently
// dropped LISTEN connection, terminated backends, a full server, misbehaving handlers and a
// SIGTERM in the middle of a burst.
//
// Every scenario checks afterwards that
//   - each job reached exactly the expected final state (status, attempts, error kind),
//   - no job ran twice at the same time: every handler call appends "begin" and "end" lines to
//     an execution log file (the local clock of this host; independent of the database, so the
//     log is complete while the database is down), and the calls of one job never overlap,
//   - the worker still serves: a job enqueued at the end gets done.
// A worker killed with SIGKILL, or one that exits while a handler that ignores requests to stop
// still runs, never writes those "end" lines; such calls are closed at the moment this test saw
// the process gone, which is no earlier than when they really stopped.

#include "runnertestutil.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLoggingCategory>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QUrl>
#include <QUrlQuery>
#include <algorithm>
#include <chrono>
#include <memory>

using namespace OddJobs;
using namespace OddJobs::Test;
using namespace RunnerTest;
using namespace Qt::StringLiterals;

namespace {

qint64 microsNow()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// `url` with another port and/or application_name.
QString withPort(const QString &url, int port)
{
    QUrl u(url);
    u.setPort(port);
    return u.toString();
}

QString withApplicationName(const QString &url, const QString &name)
{
    QUrl u(url);
    QUrlQuery query(u);
    query.removeAllQueryItems(u"application_name"_s);
    query.addQueryItem(u"application_name"_s, name);
    u.setQuery(query);
    return u.toString();
}

// The test's own connections say who they are, so "every backend with application_name
// oddjobs" means the workers' connections only.
QString testUrl(const QString &url)
{
    return withApplicationName(url, u"oddjobs-fault-test"_s);
}

// --- the execution log -----------------------------------------------------------------------

struct Execution
{
    qint64 job = 0;
    int attempt = 0;
    QString worker;
    qint64 begin = 0; // microseconds since the epoch
    qint64 end = -1; // -1: no end line (yet)

    QString toString() const
    {
        return u"[job %1 attempt %2 by %3: %4 .. %5]"_s.arg(job)
            .arg(attempt)
            .arg(worker)
            .arg(begin)
            .arg(end);
    }
};

// Every handler call recorded in `path`, in the order they began.
QList<Execution> readExecutions(const QString &path)
{
    QList<Execution> executions;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return executions;
    const QList<QByteArray> lines = file.readAll().split('\n');
    for (const QByteArray &line : lines) {
        const QList<QByteArray> f = line.trimmed().split(' ');
        if (f.size() != 5)
            continue;
        const qint64 job = f.at(1).toLongLong();
        const int attempt = f.at(2).toInt();
        const QString worker = QString::fromUtf8(f.at(3));
        const qint64 time = f.at(4).toLongLong();
        if (f.at(0) == "begin") {
            executions.append({ job, attempt, worker, time, -1 });
        } else if (f.at(0) == "end") {
            // The latest open call with the same job, attempt and worker.
            for (qsizetype i = executions.size() - 1; i >= 0; --i) {
                Execution &e = executions[i];
                if (e.end < 0 && e.job == job && e.attempt == attempt && e.worker == worker) {
                    e.end = time;
                    break;
                }
            }
        }
    }
    return executions;
}

QList<Execution> executionsOf(const QList<Execution> &all, qint64 job)
{
    QList<Execution> out;
    std::copy_if(all.cbegin(), all.cend(), std::back_inserter(out),
                 [job](const Execution &e) { return e.job == job; });
    return out;
}

int countBegun(const QList<Execution> &all, const QList<qint64> &jobs, const QString &worker = {})
{
    return int(std::count_if(all.cbegin(), all.cend(), [&](const Execution &e) {
        return jobs.contains(e.job) && (worker.isEmpty() || e.worker == worker);
    }));
}

int countEnded(const QList<Execution> &all, const QList<qint64> &jobs)
{
    return int(std::count_if(all.cbegin(), all.cend(), [&](const Execution &e) {
        return jobs.contains(e.job) && e.end >= 0;
    }));
}

// Empty when every call ended and no two calls of one job overlap; else what is wrong.
QString overlapReport(const QList<Execution> &all)
{
    QStringList problems;
    QHash<qint64, QList<Execution>> byJob;
    for (const Execution &e : all) {
        if (e.end < 0)
            problems << u"never ended: "_s + e.toString();
        byJob[e.job].append(e);
    }
    for (auto it = byJob.begin(); it != byJob.end(); ++it) {
        QList<Execution> runs = it.value();
        std::sort(runs.begin(), runs.end(),
                  [](const Execution &a, const Execution &b) { return a.begin < b.begin; });
        for (qsizetype i = 1; i < runs.size(); ++i) {
            if (runs.at(i - 1).end < 0 || runs.at(i).begin < runs.at(i - 1).end)
                problems << u"overlap: %1 and %2"_s.arg(runs.at(i - 1).toString(),
                                                        runs.at(i).toString());
        }
    }
    return problems.join(u"; "_s);
}

// A killed worker's calls end when it died; `seenDeadAt` is when this test saw it gone.
void closeExecutionsOf(QList<Execution> &all, const QString &worker, qint64 seenDeadAt)
{
    for (Execution &e : all) {
        if (e.worker == worker && e.end < 0)
            e.end = seenDeadAt;
    }
}

// --- worker processes ------------------------------------------------------------------------

// A worker process (the fault worker or `oddjobs --headless`) with its output collected (both
// channels). Killed and reaped when the object goes, so a failing test leaves nothing behind.
class WorkerProcess
{
public:
    WorkerProcess(const QString &name, const QString &program, const QStringList &arguments,
                  const QString &execLog)
        : m_name(name)
    {
        m_process.setProgram(program);
        m_process.setArguments(arguments);
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        // For process handlers (shell scripts), which log their calls like the fault worker.
        env.insert(u"FAULT_EXEC_LOG"_s, execLog);
        env.insert(u"FAULT_WORKER"_s, name);
        m_process.setProcessEnvironment(env);
    }
    ~WorkerProcess()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }
    WorkerProcess(const WorkerProcess &) = delete;
    WorkerProcess &operator=(const WorkerProcess &) = delete;

    QString name() const { return m_name; }

    void start() { m_process.start(); }

    // Starts the process and waits until its output contains `readyMarker`.
    bool startAndWait(const QString &readyMarker, QString *error)
    {
        start();
        if (!m_process.waitForStarted(10000)) {
            *error = u"cannot start %1: %2"_s.arg(m_process.program(), m_process.errorString());
            return false;
        }
        if (!QTest::qWaitFor([&] { return output().contains(readyMarker) || !isRunning(); },
                             scaled(30000))
            || !output().contains(readyMarker)) {
            *error = u"worker %1 did not get ready"_s.arg(m_name) + describe();
            return false;
        }
        return true;
    }

    const QString &output()
    {
        m_output += QString::fromUtf8(m_process.readAll());
        return m_output;
    }
    int count(const QString &text) { return int(output().count(text)); }
    bool isRunning() const { return m_process.state() != QProcess::NotRunning; }
    int exitCode() const { return m_process.exitCode(); }
    QProcess::ExitStatus exitStatus() const { return m_process.exitStatus(); }

    // The last lines of the output, for failure messages (which QTest cuts short: about 900
    // characters, long lines shortened).
    QString describe()
    {
        const QStringList lines = output().split(u'\n', Qt::SkipEmptyParts);
        QStringList tail;
        qsizetype size = 0;
        for (qsizetype i = lines.size() - 1; i >= 0 && size < 900; --i) {
            const QString line
                = lines.at(i).size() > 160 ? lines.at(i).left(157) + u"..."_s : lines.at(i);
            tail.prepend(line);
            size += line.size() + 1;
        }
        return u"\n--- %1 (last lines) ---\n"_s.arg(m_name) + tail.join(u'\n');
    }

    // SIGKILL; returns when this test saw the process gone (microseconds since the epoch).
    qint64 kill()
    {
        m_process.kill();
        m_process.waitForFinished(10000);
        const qint64 seen = microsNow();
        output();
        return seen;
    }

    // SIGTERM, then waits for a clean exit (code 0) within `timeoutMs`.
    bool terminate(int timeoutMs, QString *error)
    {
        m_process.terminate();
        // Waiting in the event loop keeps reading its output.
        if (!QTest::qWaitFor([&] { return !isRunning(); }, timeoutMs)) {
            *error = u"worker %1 did not exit within %2 ms of SIGTERM"_s.arg(m_name).arg(timeoutMs)
                + describe();
            return false;
        }
        output();
        if (m_process.exitStatus() != QProcess::NormalExit || m_process.exitCode() != 0) {
            *error = u"worker %1 exited with status %2, code %3"_s.arg(m_name)
                         .arg(int(m_process.exitStatus()))
                         .arg(m_process.exitCode())
                + describe();
            return false;
        }
        return true;
    }

private:
    QString m_name;
    QProcess m_process;
    QString m_output;
};

// --- a TCP proxy that can drop connections silently --------------------------------------------

// Forwards connections from 127.0.0.1:port() to 127.0.0.1:target, in a thread of its own (the
// test thread blocks in psql runs and QProcess waits). It notices which connections sent a
// LISTEN (PostgreSQL's wire protocol is plain text here: the test server has no TLS), and can
// "blackhole" them: from then on nothing is forwarded in either direction and nothing is
// closed, as when a middlebox loses a connection's state or a peer hangs. A blackholed
// connection stays open at both ends until the proxy goes.
class TcpProxy
{
public:
    struct Link
    {
        int id = 0;
        quint16 serverSidePort = 0; // our port towards the server: pg_stat_activity.client_port
        bool listens = false; // the client sent a LISTEN
        bool blackholed = false;
        bool clientOpen = true;
    };

    explicit TcpProxy(quint16 target)
        : m_core(new Core(target))
    {
        m_thread.setObjectName(u"fault-proxy"_s);
        m_core->moveToThread(&m_thread);
        QObject::connect(&m_thread, &QThread::finished, m_core, &QObject::deleteLater);
        m_thread.start();
    }
    ~TcpProxy()
    {
        QMetaObject::invokeMethod(
            m_core, [core = m_core] { core->closeAll(); }, Qt::BlockingQueuedConnection);
        m_thread.quit();
        m_thread.wait();
    }
    TcpProxy(const TcpProxy &) = delete;
    TcpProxy &operator=(const TcpProxy &) = delete;

    // Listens on a free port of 127.0.0.1; 0 on failure.
    quint16 listen()
    {
        quint16 port = 0;
        QMetaObject::invokeMethod(
            m_core, [&, core = m_core] { port = core->listen(); }, Qt::BlockingQueuedConnection);
        return port;
    }

    QList<Link> links() const
    {
        QList<Link> out;
        QMetaObject::invokeMethod(
            m_core, [&, core = m_core] { out = core->links(); }, Qt::BlockingQueuedConnection);
        return out;
    }

    // Blackholes every open connection that sent a LISTEN; returns how many.
    int blackholeListeners()
    {
        int n = 0;
        QMetaObject::invokeMethod(
            m_core, [&, core = m_core] { n = core->blackholeListeners(); },
            Qt::BlockingQueuedConnection);
        return n;
    }

private:
    class Core : public QObject
    {
    public:
        explicit Core(quint16 target)
            : m_target(target)
        {
        }

        quint16 listen()
        {
            m_server = new QTcpServer(this);
            if (!m_server->listen(QHostAddress::LocalHost, 0))
                return 0;
            connect(m_server, &QTcpServer::newConnection, this, &Core::accept);
            return m_server->serverPort();
        }

        QList<Link> links() const
        {
            QList<Link> out;
            for (const Pair *p : m_pairs)
                out << p->link;
            return out;
        }

        int blackholeListeners()
        {
            int n = 0;
            for (Pair *p : std::as_const(m_pairs)) {
                if (p->link.listens && p->link.clientOpen && !p->link.blackholed) {
                    p->link.blackholed = true;
                    ++n;
                }
            }
            return n;
        }

        void closeAll()
        {
            for (Pair *p : std::as_const(m_pairs)) {
                p->client->disconnect(this);
                p->server->disconnect(this);
                p->client->abort();
                p->server->abort();
            }
            qDeleteAll(m_pairs);
            m_pairs.clear();
            if (m_server)
                m_server->close();
        }

        ~Core() override { closeAll(); }

    private:
        struct Pair
        {
            QTcpSocket *client = nullptr; // owned by the Core (QObject children)
            QTcpSocket *server = nullptr;
            QByteArray toServer; // client bytes that arrived before the server side connected
            Link link;
        };

        void accept()
        {
            while (QTcpSocket *client = m_server->nextPendingConnection()) {
                auto *p = new Pair;
                p->link.id = ++m_nextId;
                p->client = client;
                client->setParent(this);
                p->server = new QTcpSocket(this);
                m_pairs << p;
                connect(client, &QTcpSocket::readyRead, this, [this, p] { fromClient(p); });
                connect(p->server, &QTcpSocket::readyRead, this, [this, p] { fromServer(p); });
                connect(p->server, &QTcpSocket::connected, this, [p] {
                    p->link.serverSidePort = p->server->localPort();
                    if (!p->link.blackholed && !p->toServer.isEmpty())
                        p->server->write(std::exchange(p->toServer, {}));
                });
                connect(client, &QTcpSocket::disconnected, this, [p] {
                    p->link.clientOpen = false;
                    if (!p->link.blackholed)
                        p->server->disconnectFromHost();
                });
                connect(p->server, &QTcpSocket::disconnected, this, [p] {
                    if (!p->link.blackholed)
                        p->client->disconnectFromHost();
                });
                p->server->connectToHost(QHostAddress::LocalHost, m_target);
            }
        }

        void fromClient(Pair *p)
        {
            const QByteArray data = p->client->readAll();
            if (p->link.blackholed)
                return; // dropped on the floor
            if (!p->link.listens && data.contains("LISTEN "))
                p->link.listens = true;
            if (p->server->state() == QAbstractSocket::ConnectedState)
                p->server->write(data);
            else
                p->toServer += data;
        }

        void fromServer(Pair *p)
        {
            const QByteArray data = p->server->readAll();
            if (!p->link.blackholed)
                p->client->write(data);
        }

        quint16 m_target;
        QTcpServer *m_server = nullptr;
        QList<Pair *> m_pairs;
        int m_nextId = 0;
    };

    QThread m_thread;
    Core *m_core;
};

// --- database helpers ------------------------------------------------------------------------

// The first column of the first row of `sql`, as text; empty (and a warning) on error.
QString scalarText(JobStore &store, const QString &sql)
{
    QSqlQuery q(store.database());
    if (!q.exec(sql) || !q.next()) {
        qWarning("query failed: %s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
        return {};
    }
    return q.value(0).toString();
}

qint64 scalar(JobStore &store, const QString &sql)
{
    bool ok = false;
    const qint64 n = scalarText(store, sql).toLongLong(&ok);
    return ok ? n : -1;
}

QString statusOf(JobStore &store, qint64 id)
{
    auto job = store.find(id);
    return job && *job ? statusToString((*job)->status) : u"<unreadable>"_s;
}

int countWithStatus(JobStore &store, const QList<qint64> &ids, JobStatus status)
{
    int n = 0;
    for (qint64 id : ids) {
        auto job = store.find(id);
        if (job && *job && (*job)->status == status)
            ++n;
    }
    return n;
}

// The number of times the server refused a connection for want of a slot, from its log.
int refusedForSlots(const PgCluster &cluster)
{
    QFile file(cluster.logFile());
    if (!file.open(QIODevice::ReadOnly))
        return -1;
    return int(file.readAll().count("sorry, too many clients already"));
}

NewJob sleepJob(const QJsonObject &contents)
{
    return jobOf(u"fault.sleep"_s, contents);
}

// Connections held by the test to fill a server's slots; closed when the object goes.
class SlotHog
{
public:
    explicit SlotHog(const PgCluster &cluster)
        : m_cluster(cluster)
    {
    }
    ~SlotHog() { release(); }
    SlotHog(const SlotHog &) = delete;
    SlotHog &operator=(const SlotHog &) = delete;

    // Opens connections until the server refuses one for want of slots. Returns how many it
    // holds now; -1 (and *error) when a connection failed for another reason.
    int fill(QString *error)
    {
        static int counter = 0;
        for (int i = 0; i < 1000; ++i) {
            const QString name = u"fault-hog-%1"_s.arg(++counter);
            bool opened = false;
            QString text;
            {
                QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, name);
                db.setHostName(m_cluster.host());
                db.setPort(m_cluster.port());
                db.setUserName(m_cluster.user());
                db.setPassword(m_cluster.password());
                db.setDatabaseName(u"postgres"_s);
                db.setConnectOptions(u"application_name=oddjobs-fault-hog"_s);
                opened = db.open();
                text = db.lastError().text();
            }
            if (opened) {
                m_names << name;
                continue;
            }
            QSqlDatabase::removeDatabase(name);
            if (text.contains(u"too many clients"_s))
                return int(m_names.size());
            *error = u"a slot connection failed for another reason: "_s + text;
            return -1;
        }
        *error = u"the server never ran out of slots"_s;
        return -1;
    }

    void release()
    {
        for (const QString &name : std::as_const(m_names)) {
            {
                QSqlDatabase db = QSqlDatabase::database(name, false);
                db.close();
            }
            QSqlDatabase::removeDatabase(name);
        }
        m_names.clear();
    }

private:
    const PgCluster &m_cluster;
    QStringList m_names;
};

} // namespace

class TestFaults : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void cleanup();
    void cleanupTestCase();

    void killedWorkerIsRescued();
    void serverRestart_data();
    void serverRestart();
    void silentlyDroppedListenConnection();
    void terminatedBackends_data();
    void terminatedBackends();
    void serverOutOfSlots();
    void misbehavingHandlers();
    void processHandlerCrashes();
    void sigtermDuringBurst();
    void sigtermWithHandlerIgnoringStop();

private:
    // A fresh database on the shared cluster; its URL.
    QString freshDatabase(PgCluster &cluster);
    // A fault worker on `url` logging to the test's execution log.
    std::unique_ptr<WorkerProcess> faultWorker(const QString &url, const QString &name,
                                               const QStringList &extra = {});
    std::unique_ptr<WorkerProcess> headlessWorker(const QString &url, const QString &name,
                                                  const QStringList &extra = {});
    // Enqueues a job and checks that `worker` does it (the worker still serves).
    void verifyStillServing(JobStore &store, const QString &worker, const QString &type,
                            WorkerProcess &process);
    // No overlapping calls, and every call ended.
    void verifyNoOverlap(const QList<Execution> &executions);

    QString m_execLog;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<PgCluster> m_restartCluster;
};

void TestFaults::initTestCase()
{
    QLoggingCategory::setFilterRules(
        u"oddjobs.core.runner.info=false\noddjobs.core.store.info=false\n"
        "oddjobs.core.schema.info=false"_s);
    QVERIFY2(QFileInfo(QStringLiteral(ODDJOBS_TEST_FAULTWORKER)).isExecutable(),
             ODDJOBS_TEST_FAULTWORKER);
    QVERIFY2(QFileInfo(QStringLiteral(ODDJOBS_BINARY)).isExecutable(), ODDJOBS_BINARY);
}

void TestFaults::init()
{
    const QString base = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR", QDir::tempPath());
    QDir().mkpath(base);
    m_dir = std::make_unique<QTemporaryDir>(base + u"/tst_faults-XXXXXX"_s);
    QVERIFY(m_dir->isValid());
    m_execLog = m_dir->filePath(u"executions.log"_s);
}

void TestFaults::cleanup()
{
    if (QTest::currentTestFailed()) {
        QFile file(m_execLog);
        if (file.open(QIODevice::ReadOnly))
            qWarning("execution log:\n%s", file.readAll().right(4000).constData());
    }
    m_dir.reset();
}

void TestFaults::cleanupTestCase()
{
    m_restartCluster.reset();
}

QString TestFaults::freshDatabase(PgCluster &cluster)
{
    QString error;
    const QString url = cluster.createDatabase(&error);
    if (url.isEmpty())
        qWarning("cannot create a database: %s", qPrintable(error));
    return url;
}

std::unique_ptr<WorkerProcess> TestFaults::faultWorker(const QString &url, const QString &name,
                                                       const QStringList &extra)
{
    return std::make_unique<WorkerProcess>(
        name, QStringLiteral(ODDJOBS_TEST_FAULTWORKER),
        QStringList { u"--url"_s, url, u"--worker"_s, name, u"--exec-log"_s, m_execLog } + extra,
        m_execLog);
}

std::unique_ptr<WorkerProcess> TestFaults::headlessWorker(const QString &url, const QString &name,
                                                          const QStringList &extra)
{
    return std::make_unique<WorkerProcess>(
        name, QStringLiteral(ODDJOBS_BINARY),
        QStringList { u"--headless"_s, u"--database"_s, url } + extra, m_execLog);
}

void TestFaults::verifyStillServing(JobStore &store, const QString &worker, const QString &type,
                                    WorkerProcess &process)
{
    RT_ASSIGN(fresh, store.enqueue(jobOf(type, QJsonObject { { u"ms"_s, 0 } })));
    QTRY_VERIFY2_WITH_TIMEOUT(
        statusOf(store, fresh.id) == u"success"_s,
        qPrintable(u"the fresh job %1 is %2"_s.arg(fresh.id).arg(statusOf(store, fresh.id))
                   + process.describe()),
        scaled(20000));
    if (type.startsWith(u"fault."_s)) {
        const QList<Execution> runs = executionsOf(readExecutions(m_execLog), fresh.id);
        QCOMPARE(runs.size(), 1);
        QCOMPARE(runs.first().worker, worker);
    }
}

void TestFaults::verifyNoOverlap(const QList<Execution> &executions)
{
    const QString report = overlapReport(executions);
    QVERIFY2(report.isEmpty(), qPrintable(report));
}

// --- 1. a worker killed in the middle of its jobs ----------------------------------------------

void TestFaults::killedWorkerIsRescued()
{
    ODDJOBS_REQUIRE_POSTGRES();
    const QString url = freshDatabase(*PgCluster::shared());
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    const QStringList options { u"--concurrency"_s,   u"3"_s,  u"--lock-timeout"_s, u"2"_s,
                                u"--poll-interval"_s, u"500"_s };
    auto doomed = faultWorker(url, u"doomed"_s, options);
    auto rescuer = faultWorker(url, u"rescuer"_s, options);
    QString error;
    QVERIFY2(doomed->startAndWait(u"ready doomed"_s, &error), qPrintable(error));

    // The doomed worker would sleep for ten minutes; the rescuer is quick.
    const QJsonObject contents { { u"ms"_s, 100 },
                                 { u"slow_worker"_s, u"doomed"_s },
                                 { u"slow_ms"_s, 600000 } };
    RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(3, sleepJob(contents))));
    QTRY_VERIFY2_WITH_TIMEOUT(countBegun(readExecutions(m_execLog), ids, u"doomed"_s) == 3,
                              qPrintable(doomed->describe()), scaled(15000));
    // The rescuer runs alongside; every job is held by the doomed worker, so it waits.
    QVERIFY2(rescuer->startAndWait(u"ready rescuer"_s, &error), qPrintable(error));
    const qint64 seenDeadAt = doomed->kill(); // no hand-back, no more heartbeats

    QTRY_VERIFY2_WITH_TIMEOUT(countWithStatus(*store, ids, JobStatus::Success) == 3,
                              qPrintable(rescuer->describe()), scaled(30000));

    QList<Execution> executions = readExecutions(m_execLog);
    closeExecutionsOf(executions, u"doomed"_s, seenDeadAt);
    for (qint64 id : std::as_const(ids)) {
        RT_FIND(row, *store, id);
        QVERIFY2(row.status == JobStatus::Success, qPrintable(describe(row)));
        // Rescued to retry with the dead worker's attempt counted, then run as attempt 2.
        QCOMPARE(row.attempts, 2);
        QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"lock_expired"_s);
        QCOMPARE(errorObject(row)[u"worker"_s].toString(), u"doomed"_s);
        QCOMPARE(row.result.toObject()[u"worker"_s].toString(), u"rescuer"_s);
        QVERIFY2(rescuer->output().contains(
                     u"job-rescued job %1 of a dead worker moved to retry"_s.arg(id)),
                 qPrintable(rescuer->describe()));

        const QList<Execution> runs = executionsOf(executions, id);
        QCOMPARE(runs.size(), 2);
        QCOMPARE(runs.at(0).worker, u"doomed"_s);
        QCOMPARE(runs.at(1).worker, u"rescuer"_s);
        QCOMPARE(runs.at(1).attempt, 2);
        // Taken over only once the lock had expired: the last heartbeat (every 0.5 s) plus the
        // 2 s lock timeout, less a generous margin.
        QVERIFY2(runs.at(1).begin - seenDeadAt >= 1000000,
                 qPrintable(u"rescued %1 ms after the kill"_s.arg((runs.at(1).begin - seenDeadAt)
                                                                  / 1000)));
    }
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"rescuer"_s, u"fault.sleep"_s, *rescuer));
    QVERIFY2(rescuer->terminate(scaled(20000), &error), qPrintable(error));
    QCOMPARE(scalar(*store, u"SELECT count(*) FROM jobs WHERE status = 'locked'"_s), qint64(0));
}

// --- 2. the server restarted while jobs run ---------------------------------------------------

void TestFaults::serverRestart_data()
{
    QTest::addColumn<int>("mode");
    QTest::newRow("fast") << int(PgCluster::Fast);
    QTest::newRow("immediate") << int(PgCluster::Immediate);
}

void TestFaults::serverRestart()
{
    QFETCH(int, mode);
    ODDJOBS_REQUIRE_POSTGRES();
    QString error;
    QVERIFY2(ensureRestartCluster(m_restartCluster, &error), qPrintable(error));
    PgCluster &cluster = *m_restartCluster;
    const QString url = freshDatabase(cluster);
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));

    const QStringList options { u"--concurrency"_s, u"2"_s, u"--poll-interval"_s, u"1000"_s };
    auto w1 = faultWorker(url, u"w1"_s, options);
    auto w2 = faultWorker(url, u"w2"_s, options);
    QVERIFY2(w1->startAndWait(u"ready w1"_s, &error), qPrintable(error));
    QVERIFY2(w2->startAndWait(u"ready w2"_s, &error), qPrintable(error));

    // Two jobs end while the server is down, two (probably) after it is back.
    RT_ASSIGN(shortIds,
              store->enqueueMany(QList<NewJob>(2, sleepJob({ { u"first_ms"_s, 1500 } }))));
    RT_ASSIGN(longIds, store->enqueueMany(QList<NewJob>(2, sleepJob({ { u"first_ms"_s, 6000 } }))));
    const QList<qint64> ids = shortIds + longIds;
    QTRY_VERIFY2_WITH_TIMEOUT(countBegun(readExecutions(m_execLog), ids) == 4,
                              qPrintable(w1->describe() + w2->describe()), scaled(15000));

    QVERIFY2(cluster.stop(PgCluster::Mode(mode)), qPrintable(cluster.errorString()));
    // Both workers notice and say so; the short handlers finish meanwhile.
    for (WorkerProcess *w : { w1.get(), w2.get() }) {
        QTRY_VERIFY2_WITH_TIMEOUT(w->output().contains(u"database-error"_s)
                                      && w->output().contains(u"dberror "_s),
                                  qPrintable(w->describe()), scaled(15000));
    }
    QTRY_COMPARE_WITH_TIMEOUT(countEnded(readExecutions(m_execLog), shortIds), 2, scaled(15000));
    const qint64 backAt = microsNow();
    QVERIFY2(cluster.startAgain(&error), qPrintable(error));
    for (const Execution &e : executionsOf(readExecutions(m_execLog), shortIds.first())
             + executionsOf(readExecutions(m_execLog), shortIds.last()))
        QVERIFY2(e.end < backAt, "the short jobs should have finished during the outage");

    // The workers reconnect on their own (backoff) and write the outcomes they kept.
    for (WorkerProcess *w : { w1.get(), w2.get() }) {
        QTRY_VERIFY2_WITH_TIMEOUT(w->output().contains(u"reconnected"_s), qPrintable(w->describe()),
                                  scaled(40000));
        QVERIFY(w->isRunning());
    }
    RT_VERIFY_OK(store->reconnect()); // the test's own connection went too
    QTRY_VERIFY2_WITH_TIMEOUT(countWithStatus(*store, ids, JobStatus::Success) == 4,
                              qPrintable(w1->describe() + w2->describe()), scaled(30000));
    const QList<Execution> executions = readExecutions(m_execLog);
    for (qint64 id : ids) {
        RT_FIND(row, *store, id);
        QVERIFY2(row.status == JobStatus::Success, qPrintable(describe(row)));
        QCOMPARE(row.attempts, 1); // written by the run that started before the outage
        QVERIFY2(row.lastError.isNull(), qPrintable(describe(row)));
        QCOMPARE(executionsOf(executions, id).size(), 1); // not run again
    }
    RT_CALL(verifyNoOverlap(executions));

    // New work after the restart (by notification or poll), on both workers' side.
    RT_ASSIGN(after, store->enqueueMany(QList<NewJob>(4, sleepJob({ { u"ms"_s, 300 } }))));
    QTRY_VERIFY2_WITH_TIMEOUT(countWithStatus(*store, after, JobStatus::Success) == 4,
                              qPrintable(w1->describe() + w2->describe()), scaled(20000));
    RT_CALL(verifyNoOverlap(readExecutions(m_execLog)));
    QVERIFY2(w1->terminate(scaled(20000), &error), qPrintable(error));
    RT_CALL(verifyStillServing(*store, u"w2"_s, u"fault.sleep"_s, *w2));
    QVERIFY2(w2->terminate(scaled(20000), &error), qPrintable(error));
}

// --- 3. the LISTEN connection silently dropped -------------------------------------------------

void TestFaults::silentlyDroppedListenConnection()
{
    ODDJOBS_REQUIRE_POSTGRES();
    PgCluster &cluster = *PgCluster::shared();
    const QString url = freshDatabase(cluster);
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    TcpProxy proxy(quint16(cluster.port()));
    const quint16 proxyPort = proxy.listen();
    QVERIFY(proxyPort != 0);

    constexpr int PollMs = 2000;
    auto worker = faultWorker(withPort(url, proxyPort), u"proxied"_s,
                              { u"--poll-interval"_s, QString::number(PollMs) });
    QString error;
    QVERIFY2(worker->startAndWait(u"ready proxied"_s, &error), qPrintable(error));
    auto listeners = [&] {
        QList<TcpProxy::Link> out;
        for (const TcpProxy::Link &l : proxy.links()) {
            if (l.listens && l.clientOpen && !l.blackholed)
                out << l;
        }
        return out;
    };
    QTRY_COMPARE_WITH_TIMEOUT(listeners().size(), 1, scaled(10000));
    const TcpProxy::Link dropped = listeners().first();
    RT_ASSIGN(first, store->enqueue(sleepJob({})));
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(*store, first.id) == u"success"_s,
                              qPrintable(worker->describe()), scaled(10000));

    QCOMPARE(proxy.blackholeListeners(), 1);
    QElapsedTimer sinceDrop;
    sinceDrop.start();

    // Jobs keep coming while the worker has not noticed, and after it has: none waits longer
    // than the poll interval (the poll never stops, and never hangs on the dead connection).
    const QString detected = u"the notification connection is gone"_s;
    QList<qint64> ids;
    QStringList waits;
    qint64 detectedAfterMs = -1;
    int afterDetection = 0;
    while (afterDetection < 2) {
        QVERIFY2(
            sinceDrop.elapsed() < scaled(30000),
            qPrintable(u"the dropped LISTEN connection was not detected"_s + worker->describe()));
        RT_ASSIGN(job, store->enqueue(sleepJob({})));
        ids << job.id;
        QTRY_VERIFY2_WITH_TIMEOUT(
            statusOf(*store, job.id) == u"success"_s,
            qPrintable(u"job %1 waits: %2"_s.arg(job.id).arg(statusOf(*store, job.id))
                       + worker->describe()),
            scaled(20000));
        RT_FIND(row, *store, job.id);
        const qint64 waitedMs = row.createdAt.msecsTo(row.startedAt);
        QVERIFY2(waitedMs <= PollMs + scaled(1500),
                 qPrintable(u"job %1 waited %2 ms"_s.arg(job.id).arg(waitedMs)));
        waits << QString::number(waitedMs);
        if (worker->output().contains(detected)) {
            if (detectedAfterMs < 0)
                detectedAfterMs = sinceDrop.elapsed();
            ++afterDetection;
        }
    }
    qInfo("the dropped LISTEN connection was detected within %lld ms; jobs waited %s ms",
          detectedAfterMs, qPrintable(waits.join(u", "_s)));
    // Detected within a bounded time (about two poll intervals), and listening again over a new
    // connection, while the old one is still open at both ends: the drop really was silent.
    QVERIFY2(sinceDrop.elapsed() < scaled(20000), qPrintable(worker->describe()));
    QTRY_COMPARE_WITH_TIMEOUT(listeners().size(), 1, scaled(10000));
    const TcpProxy::Link fresh = listeners().first();
    QVERIFY(fresh.id != dropped.id);
    const QString backendOf = u"SELECT count(*) FROM pg_stat_activity WHERE client_port = %1 AND "
                              "query LIKE 'LISTEN %'"_s;
    QTRY_COMPARE_WITH_TIMEOUT(scalar(*store, backendOf.arg(fresh.serverSidePort)), qint64(1),
                              scaled(10000));
    QCOMPARE(scalar(*store, backendOf.arg(dropped.serverSidePort)), qint64(1));

    for (qint64 id : std::as_const(ids)) {
        RT_FIND(row, *store, id);
        QCOMPARE(row.attempts, 1);
    }
    const QList<Execution> executions = readExecutions(m_execLog);
    for (qint64 id : std::as_const(ids))
        QCOMPARE(executionsOf(executions, id).size(), 1);
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"proxied"_s, u"fault.sleep"_s, *worker));
    QVERIFY2(worker->terminate(scaled(20000), &error), qPrintable(error));
}

// --- 4. the worker's backends terminated ---------------------------------------------------------

void TestFaults::terminatedBackends_data()
{
    QTest::addColumn<QString>("which");
    QTest::addColumn<QString>("reported");
    // Every connection of the worker (its claiming connection notices at the next query).
    QTest::newRow("all") << u"TRUE"_s << u"reconnected"_s;
    // Only the LISTEN connection, which says nothing when it dies.
    QTest::newRow("listen") << u"query LIKE 'LISTEN %'"_s
                            << u"the notification connection is gone"_s;
}

void TestFaults::terminatedBackends()
{
    QFETCH(QString, which);
    QFETCH(QString, reported);
    ODDJOBS_REQUIRE_POSTGRES();
    const QString url = freshDatabase(*PgCluster::shared());
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    auto worker = faultWorker(url, u"victim"_s, { u"--poll-interval"_s, u"1000"_s });
    QString error;
    QVERIFY2(worker->startAndWait(u"ready victim"_s, &error), qPrintable(error));

    const QString workerBackends
        = u"FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
          "'oddjobs'"_s;
    const QString listenBackend
        = u"SELECT coalesce(max(pid), 0) "_s + workerBackends + u" AND query LIKE 'LISTEN %'"_s;
    QTRY_VERIFY_WITH_TIMEOUT(scalar(*store, listenBackend) > 0, scaled(10000));
    const qint64 oldListener = scalar(*store, listenBackend);

    RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(3, sleepJob({ { u"ms"_s, 1500 } }))));
    QTRY_VERIFY2_WITH_TIMEOUT(countBegun(readExecutions(m_execLog), ids) == 3,
                              qPrintable(worker->describe()), scaled(10000));
    const qint64 terminated = scalar(*store,
                                     u"SELECT count(pg_terminate_backend(pid)) "_s + workerBackends
                                         + u" AND "_s + which);
    QVERIFY2(which == u"TRUE"_s ? terminated >= 2 : terminated == 1,
             qPrintable(QString::number(terminated)));

    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains(reported), qPrintable(worker->describe()),
                              scaled(15000));
    QTRY_VERIFY2_WITH_TIMEOUT(countWithStatus(*store, ids, JobStatus::Success) == 3,
                              qPrintable(worker->describe()), scaled(20000));
    // Listening again, on a new backend.
    QTRY_VERIFY2_WITH_TIMEOUT(scalar(*store, listenBackend) > 0
                                  && scalar(*store, listenBackend) != oldListener,
                              qPrintable(worker->describe()), scaled(15000));

    const QList<Execution> executions = readExecutions(m_execLog);
    for (qint64 id : std::as_const(ids)) {
        RT_FIND(row, *store, id);
        QVERIFY2(row.status == JobStatus::Success, qPrintable(describe(row)));
        QCOMPARE(row.attempts, 1);
        QCOMPARE(executionsOf(executions, id).size(), 1);
    }
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"victim"_s, u"fault.sleep"_s, *worker));
    QVERIFY2(worker->terminate(scaled(20000), &error), qPrintable(error));
}

// --- 5. a server without free connection slots ----------------------------------------------

void TestFaults::serverOutOfSlots()
{
    ODDJOBS_REQUIRE_POSTGRES();
    PgCluster::Options options;
    options.maxConnections = 8;
    PgCluster cluster(options);
    QString error;
    QVERIFY2(cluster.start(&error), qPrintable(error));
    const QString url = freshDatabase(cluster);
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    SlotHog hog(cluster);
    const int held = hog.fill(&error);
    QVERIFY2(held > 0, qPrintable(error));

    // The executable checks the database up front: one clear line, exit code 1, no crash.
    auto headless = headlessWorker(url, u"headless"_s);
    headless->start();
    QTRY_VERIFY_WITH_TIMEOUT(!headless->isRunning(), scaled(30000));
    QCOMPARE(headless->exitStatus(), QProcess::NormalExit);
    QCOMPARE(headless->exitCode(), 1);
    QVERIFY2(headless->output().contains(u"too many clients"_s), qPrintable(headless->describe()));

    // A runner says why it cannot connect, and keeps trying (the server counts the refusals).
    const int refusedBefore = refusedForSlots(cluster);
    auto worker = faultWorker(url, u"patient"_s, { u"--poll-interval"_s, u"1000"_s });
    QVERIFY2(worker->startAndWait(u"ready patient"_s, &error), qPrintable(error));
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains(u"too many clients"_s),
                              qPrintable(worker->describe()), scaled(10000));
    QTRY_VERIFY2_WITH_TIMEOUT(refusedForSlots(cluster) >= refusedBefore + 3,
                              qPrintable(worker->describe()), scaled(15000));
    QVERIFY(worker->isRunning());
    RT_ASSIGN(ids, store->enqueueMany(QList<NewJob>(2, sleepJob({ { u"ms"_s, 100 } }))));
    QCOMPARE(countWithStatus(*store, ids, JobStatus::Queued), 2);

    // Slots free: it connects and works.
    hog.release();
    QTRY_VERIFY2_WITH_TIMEOUT(countWithStatus(*store, ids, JobStatus::Success) == 2,
                              qPrintable(worker->describe()), scaled(30000));

    // It loses its connections while the server is full: it reports the loss, keeps trying,
    // and comes back when slots free up again.
    const int errorsBefore = worker->count(u"dberror "_s);
    const qsizetype outputBefore = worker->output().size();
    const QString workerBackends
        = u"FROM pg_stat_activity WHERE datname = current_database() AND application_name = "
          "'oddjobs'"_s;
    QVERIFY2(hog.fill(&error) >= 0, qPrintable(error));
    // The worker may win a freed slot back before the hog does: terminate and fill until the
    // server is full without the worker.
    for (int round = 0; round < 10; ++round) {
        if (scalar(*store, u"SELECT count(*) "_s + workerBackends) == 0)
            break;
        QVERIFY(scalar(*store, u"SELECT count(pg_terminate_backend(pid)) "_s + workerBackends)
                >= 0);
        QTRY_COMPARE_WITH_TIMEOUT(
            scalar(*store, u"SELECT count(*) "_s + workerBackends + u" AND state IS NOT NULL"_s),
            qint64(0), scaled(5000));
        QVERIFY2(hog.fill(&error) >= 0, qPrintable(error));
    }
    QCOMPARE(scalar(*store, u"SELECT count(*) "_s + workerBackends), qint64(0));
    const int refusedFull = refusedForSlots(cluster);
    RT_ASSIGN(later, store->enqueue(sleepJob({ { u"ms"_s, 100 } })));
    QTRY_VERIFY2_WITH_TIMEOUT(worker->count(u"dberror "_s) > errorsBefore,
                              qPrintable(worker->describe()), scaled(15000));
    QTRY_VERIFY2_WITH_TIMEOUT(refusedForSlots(cluster) >= refusedFull + 2,
                              qPrintable(worker->describe()), scaled(15000));
    // It says why it cannot get back in.
    const QRegularExpression why(
        u"^event \\S+ WARNING +database-error still no database connection, retrying: .*too many "
        "clients"_s,
        QRegularExpression::MultilineOption);
    auto reasonsGiven = [&] {
        int n = 0;
        for (auto it = why.globalMatch(worker->output().mid(outputBefore)); it.hasNext(); it.next())
            ++n;
        return n;
    };
    QTRY_VERIFY2_WITH_TIMEOUT(reasonsGiven() >= 1, qPrintable(worker->describe()), scaled(10000));
    QVERIFY(worker->isRunning());
    QCOMPARE(statusOf(*store, later.id), u"queued"_s);
    hog.release();
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(*store, later.id) == u"success"_s,
                              qPrintable(worker->describe()), scaled(40000));
    QCOMPARE(reasonsGiven(), 1); // once, however many attempts were refused

    const QList<Execution> executions = readExecutions(m_execLog);
    for (qint64 id : ids + QList<qint64> { later.id }) {
        RT_FIND(row, *store, id);
        QCOMPARE(row.attempts, 1);
        QCOMPARE(executionsOf(executions, id).size(), 1);
    }
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"patient"_s, u"fault.sleep"_s, *worker));
    QVERIFY2(worker->terminate(scaled(20000), &error), qPrintable(error));
}

// --- 6. handlers that throw, hang, ignore requests to stop, crash their process -------------

void TestFaults::misbehavingHandlers()
{
    ODDJOBS_REQUIRE_POSTGRES();
    const QString url = freshDatabase(*PgCluster::shared());
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    auto worker = faultWorker(url, u"w"_s,
                              { u"--concurrency"_s, u"6"_s, u"--poll-interval"_s, u"500"_s,
                                u"--stop-grace"_s, u"1000"_s, u"--backoff"_s, u"fixed:0.5"_s });
    QString error;
    QVERIFY2(worker->startAndWait(u"ready w"_s, &error), qPrintable(error));

    auto job = [](const QString &type, const QJsonObject &contents, int maxAttempts,
                  std::optional<int> timeout = std::nullopt) {
        NewJob j = jobOf(type, contents);
        j.maxAttempts = maxAttempts;
        j.timeoutSeconds = timeout;
        return j;
    };
    RT_ASSIGN(ids,
              store->enqueueMany({
                  // throws once, then succeeds
                  job(u"fault.throw"_s, { { u"fail_attempts"_s, 1 } }, 3),
                  // throws every time: failed after its attempts
                  job(u"fault.throw"_s, { { u"fail_attempts"_s, 99 } }, 2),
                  // hangs (cooperatively) past its timeout
                  job(u"fault.sleep"_s, { { u"ms"_s, 600000 } }, 1, 1),
                  // hangs past its timeout and ignores the request to stop, twice
                  job(u"fault.ignore"_s, { { u"ms"_s, scaled(5000) } }, 2, 1),
                  // cancelled while it runs, and ignores that
                  job(u"fault.ignore"_s, { { u"ms"_s, 2500 } }, 3),
              }));
    const qint64 throwOnce = ids.at(0), throwAlways = ids.at(1), hang = ids.at(2),
                 ignoreTimeout = ids.at(3), ignoreCancel = ids.at(4);

    QTRY_VERIFY2_WITH_TIMEOUT(countBegun(readExecutions(m_execLog), { ignoreCancel }) == 1,
                              qPrintable(worker->describe()), scaled(10000));
    RT_ASSIGN(cancelled, store->cancel(JobFilter::byIds({ ignoreCancel })));
    QCOMPARE(cancelled, 1);

    auto finalStatus = [&](qint64 id) {
        const QString s = statusOf(*store, id);
        return s == u"success"_s || s == u"failed"_s || s == u"cancelled"_s;
    };
    for (qint64 id : std::as_const(ids))
        QTRY_VERIFY2_WITH_TIMEOUT(
            finalStatus(id),
            qPrintable(u"job %1 is %2"_s.arg(id).arg(statusOf(*store, id)) + worker->describe()),
            scaled(30000));
    // Handlers that ignore requests to stop still run after their outcome is written; wait for
    // every call to end.
    QTRY_VERIFY2_WITH_TIMEOUT(overlapReport(readExecutions(m_execLog)).isEmpty(),
                              qPrintable(overlapReport(readExecutions(m_execLog))), scaled(20000));
    const QList<Execution> executions = readExecutions(m_execLog);

    {
        RT_FIND(row, *store, throwOnce);
        QVERIFY2(row.status == JobStatus::Success && row.attempts == 2, qPrintable(describe(row)));
        QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"exception"_s);
        QCOMPARE(errorObject(row)[u"message"_s].toString(), u"thrown on attempt 1"_s);
        QCOMPARE(executionsOf(executions, throwOnce).size(), 2);
    }
    {
        RT_FIND(row, *store, throwAlways);
        QVERIFY2(row.status == JobStatus::Failed && row.attempts == 2, qPrintable(describe(row)));
        QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"exception"_s);
        QCOMPARE(errorObject(row)[u"message"_s].toString(), u"thrown on attempt 2"_s);
        QCOMPARE(executionsOf(executions, throwAlways).size(), 2);
    }
    {
        RT_FIND(row, *store, hang);
        QVERIFY2(row.status == JobStatus::Failed && row.attempts == 1, qPrintable(describe(row)));
        QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"timeout"_s);
        QCOMPARE(errorObject(row)[u"message"_s].toString(), u"timed out after 1 s"_s);
        QCOMPARE(executionsOf(executions, hang).size(), 1);
        QVERIFY(worker->output().contains(u"job-timeout job=%1 "_s.arg(hang)));
    }
    {
        RT_FIND(row, *store, ignoreTimeout);
        QVERIFY2(row.status == JobStatus::Failed && row.attempts == 2, qPrintable(describe(row)));
        QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"timeout"_s);
        QVERIFY2(errorObject(row)[u"message"_s].toString().contains(
                     u"the handler ignored the request to stop"_s),
                 qPrintable(describe(row)));
        QCOMPARE(executionsOf(executions, ignoreTimeout).size(), 2);
        // The retry (due 0.5 s after the failure was written, a second after the deadline) was
        // claimed by this worker while the first handler still ran; it waited for it.
        QVERIFY2(worker->output().contains(
                     u"job=%1 type=fault.ignore attempt=2 claimed again while the previous "
                     "attempt's handler still runs"_s.arg(ignoreTimeout)),
                 qPrintable(worker->describe()));
    }
    {
        RT_FIND(row, *store, ignoreCancel);
        QVERIFY2(row.status == JobStatus::Cancelled && row.attempts == 1,
                 qPrintable(describe(row)));
        QCOMPARE(executionsOf(executions, ignoreCancel).size(), 1); // never again
        QVERIFY(worker->output().contains(u"job-cancelled job=%1 "_s.arg(ignoreCancel)));
        QVERIFY(row.result.isNull()); // the late outcome was discarded
    }
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"w"_s, u"fault.sleep"_s, *worker));
    QVERIFY2(worker->terminate(scaled(20000), &error), qPrintable(error));
    QCOMPARE(executionsOf(readExecutions(m_execLog), ignoreCancel).size(), 1);
}

void TestFaults::processHandlerCrashes()
{
    ODDJOBS_REQUIRE_POSTGRES();
    const QString url = freshDatabase(*PgCluster::shared());
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));

    // A handler program that logs its call like the fault worker, then kills itself.
    const QString script = m_dir->filePath(u"crash.sh"_s);
    {
        QFile file(script);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("#!/bin/sh\n"
                   "cat > /dev/null\n"
                   "log() { echo \"$1 $ODDJOBS_JOB_ID $ODDJOBS_ATTEMPT $FAULT_WORKER "
                   "$(date +%s%6N)\" >> \"$FAULT_EXEC_LOG\"; }\n"
                   "log begin\n"
                   "echo 'about to crash' >&2\n"
                   "log end\n"
                   "kill -KILL $$\n");
        file.close();
        QVERIFY(file.setPermissions(file.permissions() | QFileDevice::ExeOwner));
    }
    const QString config = m_dir->filePath(u"worker.ini"_s);
    {
        QFile file(config);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[handlers]\nproc.crash = " + script.toUtf8() + "\n");
    }
    auto worker = headlessWorker(url, u"headless"_s,
                                 { u"--config"_s, config, u"--poll-interval"_s, u"0.5"_s });
    QString error;
    QVERIFY2(worker->startAndWait(u"state running"_s, &error), qPrintable(error));

    NewJob crash = jobOf(u"proc.crash"_s, QJsonObject { { u"n"_s, 1 } });
    crash.maxAttempts = 2;
    RT_ASSIGN(job, store->enqueue(crash));
    // Retried once (after 2 s, the default backoff), then failed for good.
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(*store, job.id) == u"failed"_s,
                              qPrintable(statusOf(*store, job.id) + worker->describe()),
                              scaled(20000));
    RT_FIND(row, *store, job.id);
    QCOMPARE(row.attempts, 2);
    QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"crash"_s);
    QVERIFY2(errorObject(row)[u"message"_s].toString().startsWith(
                 u"crash.sh crashed (killed by a signal): about to crash"_s),
             qPrintable(describe(row)));
    const QList<Execution> executions = readExecutions(m_execLog);
    QCOMPARE(executionsOf(executions, job.id).size(), 2);
    RT_CALL(verifyNoOverlap(executions));

    // The worker is unharmed.
    QVERIFY(worker->isRunning());
    RT_CALL(verifyStillServing(*store, u"headless"_s, u"oddjobs.echo"_s, *worker));
    QVERIFY2(worker->terminate(scaled(20000), &error), qPrintable(error));
}

// --- 7. SIGTERM in the middle of a burst --------------------------------------------------------

void TestFaults::sigtermDuringBurst()
{
    ODDJOBS_REQUIRE_POSTGRES();
    const QString url = freshDatabase(*PgCluster::shared());
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    // The leaving worker serves the default queue only: four jobs too long for its drain,
    // which take a moment to wind down when asked to stop, and two that finish while it
    // drains. The short rest of the burst is on another queue, for the staying worker.
    auto leaving = faultWorker(url, u"leaving"_s,
                               { u"--concurrency"_s, u"6"_s, u"--shutdown-timeout"_s, u"4000"_s,
                                 u"--poll-interval"_s, u"500"_s, u"--queue"_s, u"default"_s });
    auto staying = faultWorker(url, u"staying"_s,
                               { u"--concurrency"_s, u"6"_s, u"--poll-interval"_s, u"500"_s,
                                 u"--queue"_s, u"default"_s, u"--queue"_s, u"rest"_s });
    QString error;
    QVERIFY2(leaving->startAndWait(u"ready leaving"_s, &error), qPrintable(error));

    QList<NewJob> burst;
    for (int i = 0; i < 4; ++i)
        burst << sleepJob({ { u"ms"_s, 200 },
                            { u"slow_worker"_s, u"leaving"_s },
                            { u"slow_ms"_s, 20000 },
                            { u"cleanup_ms"_s, 300 } });
    for (int i = 0; i < 2; ++i)
        burst << sleepJob({ { u"ms"_s, 2500 } });
    for (int i = 0; i < 10; ++i) {
        NewJob rest = sleepJob({ { u"ms"_s, 50 + 40 * i } });
        rest.queue = u"rest"_s;
        burst << rest;
    }
    RT_ASSIGN(ids, store->enqueueMany(burst));
    const QList<qint64> longIds = ids.mid(0, 4), drainIds = ids.mid(4, 2);
    QTRY_VERIFY2_WITH_TIMEOUT(
        countBegun(readExecutions(m_execLog), longIds + drainIds, u"leaving"_s) == 6,
        qPrintable(leaving->describe()), scaled(10000));
    QVERIFY2(staying->startAndWait(u"ready staying"_s, &error), qPrintable(error));

    QVERIFY2(leaving->terminate(scaled(20000), &error), qPrintable(error));
    // Nothing of the leaving worker stays locked.
    QCOMPARE(scalar(*store, u"SELECT count(*) FROM jobs WHERE locked_by = 'leaving'"_s), qint64(0));
    for (qint64 id : std::as_const(longIds))
        QVERIFY2(leaving->output().contains(u"job-handed-back job=%1 "_s.arg(id)),
                 qPrintable(leaving->describe()));
    for (qint64 id : std::as_const(drainIds))
        QVERIFY2(leaving->output().contains(u"job-success job=%1 "_s.arg(id)),
                 qPrintable(leaving->describe()));

    QTRY_VERIFY2_WITH_TIMEOUT(countWithStatus(*store, ids, JobStatus::Success) == ids.size(),
                              qPrintable(staying->describe()), scaled(30000));
    const QList<Execution> executions = readExecutions(m_execLog);
    for (qint64 id : std::as_const(ids)) {
        RT_FIND(row, *store, id);
        // A job handed back is queued again without counting the attempt.
        QVERIFY2(row.attempts == 1, qPrintable(describe(row)));
        const QList<Execution> runs = executionsOf(executions, id);
        if (longIds.contains(id)) {
            QCOMPARE(runs.size(), 2);
            QCOMPARE(runs.at(0).worker, u"leaving"_s);
            QCOMPARE(runs.at(1).worker, u"staying"_s);
        } else {
            QCOMPARE(runs.size(), 1);
            QCOMPARE(runs.at(0).worker, drainIds.contains(id) ? u"leaving"_s : u"staying"_s);
        }
    }
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"staying"_s, u"fault.sleep"_s, *staying));
    QVERIFY2(staying->terminate(scaled(20000), &error), qPrintable(error));
    QCOMPARE(scalar(*store, u"SELECT count(*) FROM jobs WHERE status = 'locked'"_s), qint64(0));
}

// A handler that ignores the request to stop when its worker shuts down: its row is not handed
// back while it may still run, so no other worker runs the job at the same time; the job is
// rescued after the lock timeout instead.
void TestFaults::sigtermWithHandlerIgnoringStop()
{
    ODDJOBS_REQUIRE_POSTGRES();
    const QString url = freshDatabase(*PgCluster::shared());
    QVERIFY(!url.isEmpty());
    RT_ASSIGN(store, openStore(testUrl(url)));
    const QStringList options { u"--lock-timeout"_s,     u"2"_s,  u"--poll-interval"_s, u"500"_s,
                                u"--shutdown-timeout"_s, u"500"_s };
    auto leaving = faultWorker(url, u"leaving"_s, options);
    auto staying = faultWorker(url, u"staying"_s, options);
    QString error;
    QVERIFY2(leaving->startAndWait(u"ready leaving"_s, &error), qPrintable(error));
    RT_ASSIGN(job,
              store->enqueue(jobOf(u"fault.ignore"_s,
                                   QJsonObject { { u"ms"_s, 100 },
                                                 { u"slow_worker"_s, u"leaving"_s },
                                                 { u"slow_ms"_s, 60000 } })));
    QTRY_VERIFY2_WITH_TIMEOUT(countBegun(readExecutions(m_execLog), { job.id }) == 1,
                              qPrintable(leaving->describe()), scaled(10000));
    QVERIFY2(staying->startAndWait(u"ready staying"_s, &error), qPrintable(error));

    // The worker exits (its process takes the deaf handler along) and says why it left the
    // job locked.
    QVERIFY2(leaving->terminate(scaled(20000), &error), qPrintable(error));
    const qint64 leftAt = microsNow();
    QVERIFY2(
        leaving->output().contains(u"job=%1 "_s.arg(job.id)
                                   + u"type=fault.ignore attempt=1 "
                                     "the handler is still running after the request to stop"_s),
        qPrintable(leaving->describe()));
    QVERIFY2(!leaving->output().contains(u"job-handed-back"_s), qPrintable(leaving->describe()));

    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(*store, job.id) == u"success"_s,
                              qPrintable(staying->describe()), scaled(20000));
    RT_FIND(row, *store, job.id);
    QCOMPARE(row.attempts, 2);
    QCOMPARE(errorObject(row)[u"kind"_s].toString(), u"lock_expired"_s);
    QCOMPARE(errorObject(row)[u"worker"_s].toString(), u"leaving"_s);
    QList<Execution> executions = readExecutions(m_execLog);
    closeExecutionsOf(executions, u"leaving"_s, leftAt);
    const QList<Execution> runs = executionsOf(executions, job.id);
    QCOMPARE(runs.size(), 2);
    QCOMPARE(runs.at(1).worker, u"staying"_s);
    RT_CALL(verifyNoOverlap(executions));
    RT_CALL(verifyStillServing(*store, u"staying"_s, u"fault.sleep"_s, *staying));
    QVERIFY2(staying->terminate(scaled(20000), &error), qPrintable(error));
}

QTEST_GUILESS_MAIN(TestFaults)

#include "tst_faults.moc"
