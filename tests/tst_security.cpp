// Security properties of the store and the executable: a password never shows in output,
// errors or the process list; a monitor-only store and its connection cannot write; the pid
// file never makes the worker signal another process. (Process handlers never run through a
// shell: tst_cli's processHandlerNoShell.)

#include "storetestutil.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <csignal>
#include <memory>
#include <sys/stat.h>
#include <vector>

using namespace OddJobs;
using namespace StoreTest;
using namespace Qt::StringLiterals;

namespace {

const QString Binary = QStringLiteral(ODDJOBS_BINARY);
const QStringList FastPoll { u"--poll-interval"_s, u"0.2"_s };

using Run = Test::CliRun;

// A running `oddjobs --headless`, its output collected as it arrives.
struct Worker
{
    QProcess process;
    QByteArray out;
    QByteArray err;

    QByteArray output()
    {
        out += process.readAllStandardOutput();
        err += process.readAllStandardError();
        return out + err;
    }
    bool isReady() { return output().contains("state running"); }
    bool isRunning() const { return process.state() != QProcess::NotRunning; }
    QString describe()
    {
        output();
        return u"\n  stderr:\n%1\n  stdout (end):\n%2"_s.arg(QString::fromUtf8(err.right(1500)),
                                                             QString::fromUtf8(out.right(1500)));
    }
};

// A helper process of the test's own (not an oddjobs worker) that writes the name of every
// catchable termination signal it gets into `marker`, and runs until killed.
struct Bystander
{
    QProcess process;
    QString marker;

    QByteArray signalsReceived() const
    {
        QFile file(marker);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }
    qint64 pid() const { return process.processId(); }
    bool isAlive() const
    {
        return process.state() == QProcess::Running && ::kill(pid_t(pid()), 0) == 0;
    }
    ~Bystander()
    {
        if (process.state() != QProcess::NotRunning) {
            process.kill();
            process.waitForFinished(5000);
        }
    }
};

// The error of a call expected to fail; a success shows as a Database error saying so.
template<typename T>
Error errorOf(const Result<T> &result)
{
    return result.ok() ? makeError(ErrorCode::Database, u"<the call succeeded>"_s) : result.error();
}

QString distinctive(const QString &what)
{
    // Letters only, so it can stand in a URL unencoded and be searched for exactly.
    return u"Pw"_s + what + u"ZqXv"_s;
}

QByteArray readFile(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray("<missing>");
}

bool writeFile(const QString &path, const QByteArray &contents)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate)
        && file.write(contents) == contents.size();
}

} // namespace

class TestSecurity : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();

    void passwordNotInOutput_data();
    void passwordNotInOutput();
    void passwordNotInWorkerLogsOrProcessList_data();
    void passwordNotInWorkerLogsOrProcessList();

    void monitorCannotWrite_data() { backendData(); }
    void monitorCannotWrite();

    void pidFileNamesForeignProcess();
    void pidFileNamesProcessCalledOddjobs();
    void pidFileIsSymlink();
    void pidFileIsFifo();

private:
    Run run(const QStringList &args, const QProcessEnvironment &extraEnv = {});
    Worker *startWorker(const QStringList &args);
    Bystander *startBystander(const QString &argv0 = {});

    std::unique_ptr<QTemporaryDir> m_tmp;
    QProcessEnvironment m_env;
    std::vector<std::unique_ptr<Worker>> m_workers;
    std::vector<std::unique_ptr<Bystander>> m_bystanders;
    int m_counter = 0;
};

void TestSecurity::initTestCase()
{
    QVERIFY2(QFileInfo(Binary).isExecutable(), qPrintable(Binary));
    QString base = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR");
    if (!base.isEmpty())
        QDir().mkpath(base);
    m_tmp = std::make_unique<QTemporaryDir>(
        QDir(base.isEmpty() ? QDir::tempPath() : base).absoluteFilePath(u"tst_security-XXXXXX"_s));
    QVERIFY(m_tmp->isValid());
    QVERIFY(QDir().mkpath(m_tmp->filePath(u"home"_s)));
    m_env = QProcessEnvironment::systemEnvironment();
    for (const QString &key : { u"ODDJOBS_DATABASE_URL"_s, u"PGPASSWORD"_s, u"PGPASSFILE"_s,
                                u"XDG_DATA_HOME"_s, u"XDG_CONFIG_HOME"_s })
        m_env.remove(key);
    m_env.insert(u"HOME"_s, m_tmp->filePath(u"home"_s));
    m_env.insert(u"LC_ALL"_s, u"C.UTF-8"_s);
}

void TestSecurity::cleanup()
{
    for (const auto &worker : m_workers) {
        if (worker->isRunning()) {
            worker->process.kill();
            worker->process.waitForFinished(5000);
        }
    }
    m_workers.clear();
    m_bystanders.clear();
}

Run TestSecurity::run(const QStringList &args, const QProcessEnvironment &extraEnv)
{
    return Test::runCli(Binary, args, m_env, extraEnv, m_tmp->path(), {}, 30000);
}

Worker *TestSecurity::startWorker(const QStringList &args)
{
    auto worker = std::make_unique<Worker>();
    worker->process.setProcessEnvironment(m_env);
    worker->process.setWorkingDirectory(m_tmp->path());
    worker->process.start(Binary, args);
    worker->process.closeWriteChannel();
    worker->process.waitForStarted(10000);
    m_workers.push_back(std::move(worker));
    return m_workers.back().get();
}

Bystander *TestSecurity::startBystander(const QString &argv0)
{
    auto b = std::make_unique<Bystander>();
    const QString dir = m_tmp->filePath(u"bystander-%1"_s.arg(++m_counter));
    QDir().mkpath(dir);
    b->marker = dir + u"/signals"_s;
    const QString script = dir + u"/bystander.sh"_s;
    QByteArray body = "#!/bin/sh\n";
    for (const char *sig : { "HUP", "INT", "QUIT", "USR1", "USR2", "ALRM", "TERM" })
        body += QByteArray("trap 'echo ") + sig + " >> \"" + b->marker.toUtf8() + "\"' " + sig
            + "\n";
    body += "echo started >> \"" + b->marker.toUtf8() + ".ready\"\n";
    body += "while :; do sleep 0.05; done\n";
    if (!writeFile(script, body))
        return nullptr;
    if (argv0.isEmpty()) {
        b->process.start(u"/bin/sh"_s, { script });
    } else {
        // bash's exec -a sets the name /proc/<pid>/cmdline shows first.
        b->process.start(u"/bin/bash"_s,
                         { u"-c"_s, u"exec -a '%1' /bin/sh '%2'"_s.arg(argv0, script) });
    }
    if (!b->process.waitForStarted(5000))
        return nullptr;
    QElapsedTimer timer;
    timer.start();
    while (!QFile::exists(b->marker + u".ready"_s) && timer.elapsed() < 5000)
        QTest::qWait(20);
    m_bystanders.push_back(std::move(b));
    return m_bystanders.back().get();
}

// ---------------------------------------------------------------------------------------
// passwords

void TestSecurity::passwordNotInOutput_data()
{
    QTest::addColumn<QStringList>("args"); // %URL% is replaced by the database URL
    QTest::addColumn<QString>("url"); // %PW% is the password
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("where"); // "flag", "config" or "env"
    QTest::addColumn<int>("exitCode");

    const QList<QPair<const char *, QStringList>> commands {
        { "migrate", { u"migrate"_s } },
        { "list", { u"list"_s, u"--json"_s } },
        { "enqueue", { u"enqueue"_s, u"T"_s, u"{}"_s } },
        { "show", { u"show"_s, u"1"_s } },
        { "stats", { u"stats"_s } },
        { "worker", QStringList { u"--headless"_s } + FastPoll },
        { "worker with JSON logs",
          QStringList { u"--headless"_s, u"--log-format"_s, u"json"_s } + FastPoll },
    };
    const QString password = distinctive(u"Secret"_s);
    auto *cluster = Test::PgCluster::shared();
    const QString server = cluster->isRunning()
        ? u"127.0.0.1:%1"_s.arg(cluster->port())
        : u"127.0.0.1:1"_s; // without a server the rows still run, as "unreachable"
    struct Where
    {
        const char *name;
        QString url;
        int exitCode;
    };
    const QList<Where> urls {
        { "unreachable", u"postgresql://oddjobs:%PW%@127.0.0.1:1/jobs?connect_timeout=3"_s, 1 },
        { "wrong password", u"postgresql://oddjobs:%PW%@"_s + server + u"/postgres"_s, 1 },
        { "unknown user", u"postgresql://nobody_here:%PW%@"_s + server + u"/postgres"_s, 1 },
        { "invalid port", u"postgresql://oddjobs:%PW%@127.0.0.1:99x/jobs"_s, 2 },
        { "space in host", u"postgresql://oddjobs:%PW%@my host/jobs"_s, 2 },
        { "unencoded @ in password", u"postgresql://oddjobs:%PW%@Tail@127.0.0.1:99x/jobs"_s, 2 },
        { "unknown option", u"postgresql://oddjobs:%PW%@127.0.0.1/jobs?frobnicate=1"_s, 2 },
    };
    for (const auto &[command, args] : commands) {
        for (const Where &where : urls) {
            for (const char *source : { "flag", "config", "env" }) {
                // The config file and the environment only for a few commands: they share the
                // path to the URL after parsing.
                if (qstrcmp(source, "flag") != 0 && qstrcmp(command, "list") != 0
                    && qstrcmp(command, "worker") != 0)
                    continue;
                QTest::addRow("%s: %s: %s", command, where.name, source)
                    << args << where.url << password << QString::fromLatin1(source)
                    << where.exitCode;
            }
        }
    }
}

void TestSecurity::passwordNotInOutput()
{
    QFETCH(QStringList, args);
    QFETCH(QString, url);
    QFETCH(QString, password);
    QFETCH(QString, where);
    QFETCH(int, exitCode);
    if (url.contains(u"@Tail@"_s))
        password += u"@Tail"_s;
    url.replace(u"%PW%"_s, password.section(u'@', 0, 0));
    QProcessEnvironment env;
    if (where == u"flag") {
        args << u"--database"_s << url;
    } else if (where == u"config") {
        const QString config = m_tmp->filePath(u"db-%1.ini"_s.arg(++m_counter));
        QVERIFY(writeFile(config, "database = " + url.toUtf8() + "\n"));
        args << u"--config"_s << config;
    } else {
        env.insert(u"ODDJOBS_DATABASE_URL"_s, url);
    }
    const Run r = run(args, env);
    QVERIFY2(r.exitCode == exitCode,
             qPrintable(u"expected exit code %1"_s.arg(exitCode) + r.describe()));
    QVERIFY2(r.err.startsWith("oddjobs: ") || r.err.startsWith("{"), qPrintable(r.describe()));
    const QByteArray all = r.out + r.err;
    // Neither the password nor any piece of it between '@'s, nor its encoded form.
    for (const QString &piece : password.split(u'@')) {
        QVERIFY2(!all.contains(piece.toUtf8()), qPrintable(u"the password shows"_s + r.describe()));
        QVERIFY2(!all.contains(QUrl::toPercentEncoding(piece)),
                 qPrintable(u"the password shows"_s + r.describe()));
    }
    // What is shown instead says where the connection went.
    if (exitCode == 1 && !args.contains(u"json"_s))
        QVERIFY2(all.contains("oddjobs:***@") || all.contains("nobody_here:***@"),
                 qPrintable(r.describe()));
}

void TestSecurity::passwordNotInWorkerLogsOrProcessList_data()
{
    QTest::addColumn<bool>("joined"); // --database=URL rather than --database URL
    QTest::newRow("--database URL") << false;
    QTest::newRow("--database=URL") << true;
}

void TestSecurity::passwordNotInWorkerLogsOrProcessList()
{
    // A worker with the right password in its command line: it works, its logs (also while
    // the database drops its connections) never show the password, and neither does ps.
    QFETCH(bool, joined);
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    auto *cluster = Test::PgCluster::shared();
    const QString password = cluster->password();
    QVERIFY(url.contains(password));
    OJ_ASSIGN(store, openStore(url));
    OJ_ASSIGN(first, store->enqueue(tagged(u"oddjobs.echo"_s, u"first"_s)));

    QStringList args { u"--headless"_s, u"--log-level"_s, u"debug"_s, u"--queue"_s, u"default"_s };
    if (joined)
        args << u"--database="_s + url;
    else
        args << u"--database"_s << url;
    args << FastPoll;
    Worker *worker = startWorker(args);
    QTRY_VERIFY2_WITH_TIMEOUT(worker->isReady() || !worker->isRunning(),
                              qPrintable(worker->describe()), 15000);
    QVERIFY2(worker->isRunning(), qPrintable(worker->describe()));

    // The process list: the arguments as ps reads them.
    const QByteArray cmdline = readFile(u"/proc/%1/cmdline"_s.arg(worker->process.processId()));
    QVERIFY2(!cmdline.contains(password.toUtf8()), cmdline.constData());
    QVERIFY2(cmdline.contains(":***@127.0.0.1:"),
             qPrintable(QString::fromUtf8(cmdline).replace(QChar(0), u' ')));
    // The other arguments are as they were.
    const QByteArray others
        = QByteArrayList { "--log-level", "debug", "--queue", "default" }.join('\0');
    QVERIFY2(cmdline.contains(others),
             qPrintable(QString::fromUtf8(cmdline).replace(QChar(0), u' ')));

    // The real password was used: jobs run.
    QTRY_COMPARE_WITH_TIMEOUT(
        [&] {
            const auto job = store->find(first.id);
            return job && *job ? (*job)->status : JobStatus::Queued;
        }(),
        JobStatus::Success, 15000);

    // The database drops every connection: the worker reports it and reconnects.
    const DirectSql direct(url);
    const QString database = ConnectionSettings::fromUrl(url)->database;
    store.reset();
    QString error;
    QVERIFY2(direct.exec(u"select pg_terminate_backend(pid) from pg_stat_activity where datname = "
                         "'%1' and pid <> pg_backend_pid()"_s.arg(database),
                         nullptr, &error),
             qPrintable(error));
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains("database unavailable"),
                              qPrintable(worker->describe()), 15000);
    OJ_ASSIGN(again, openStore(url, {}, false));
    OJ_ASSIGN(second, again->enqueue(tagged(u"oddjobs.echo"_s, u"second"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(
        [&] {
            const auto job = again->find(second.id);
            return job && *job ? (*job)->status : JobStatus::Queued;
        }(),
        JobStatus::Success, 20000);

    worker->process.terminate();
    QVERIFY(worker->process.waitForFinished(15000));
    const QByteArray all = worker->output();
    QVERIFY2(!all.contains(password.toUtf8()), qPrintable(worker->describe()));
    QVERIFY2(all.contains("job-success"), qPrintable(worker->describe()));
}

// ---------------------------------------------------------------------------------------
// monitor-only

void TestSecurity::monitorCannotWrite()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    Job locked;
    OJ_CALL(makeJob(*store, tagged(u"L"_s), JobStatus::Locked, &locked, DefaultWorker));
    OJ_ASSIGN(queued, store->enqueue(tagged(u"Q"_s)));
    const auto snapshotOf = [&] {
        const auto page = store->list({});
        return page ? describe(page->jobs) : page.error().toString();
    };
    const QString before = snapshotOf();

    StoreOptions options;
    options.readOnly = true;
    OJ_ASSIGN(monitor, openStore(url, options, false));
    // Reading works.
    OJ_VERIFY_OK(monitor->checkSchema());
    OJ_ASSIGN(count, monitor->count());
    QCOMPARE(count, 2);
    OJ_VERIFY_OK(monitor->statistics());
    OJ_VERIFY_OK(monitor->stillHeld(DefaultWorker, { locked.id }));

    // Every write through the API is refused before any SQL, with one message.
    ClaimRequest claim;
    claim.worker = DefaultWorker;
    claim.anyType = true;
    JobOutcome outcome;
    outcome.id = locked.id;
    outcome.success = true;
    NewJob fields = tagged(u"Q"_s);
    fields.runAt = queued.runAt;
    const QList<std::pair<const char *, Error>> refusals {
        { "migrate", errorOf(monitor->migrate()) },
        { "enqueue", errorOf(monitor->enqueue(tagged(u"X"_s))) },
        { "enqueueMany", errorOf(monitor->enqueueMany({ tagged(u"X"_s) })) },
        { "edit", errorOf(monitor->edit(queued.id, fields, queued.revision)) },
        { "runNow", errorOf(monitor->runNow(JobFilter::byIds({ queued.id }))) },
        { "cancel", errorOf(monitor->cancel(JobFilter::byIds({ queued.id }))) },
        { "remove", errorOf(monitor->remove({})) },
        { "prune", errorOf(monitor->prune(1)) },
        { "claim", errorOf(monitor->claim(claim)) },
        { "complete", errorOf(monitor->complete(DefaultWorker, { outcome })) },
        { "heartbeat", errorOf(monitor->heartbeat(DefaultWorker, { locked.id })) },
        { "rescueExpired", errorOf(monitor->rescueExpired(60)) },
        { "release", errorOf(monitor->release(DefaultWorker, { locked.id })) },
    };
    for (const auto &[call, error] : refusals) {
        QVERIFY2(error.code == ErrorCode::ReadOnly,
                 qPrintable(QLatin1String(call) + u": "_s + error.toString()));
        QCOMPARE(error.message,
                 u"the store is open read-only (monitor mode): jobs cannot be changed"_s);
    }

    // The connection itself refuses writes: the caller's own SQL, and the library's SQL on it.
    const QString expectedState = backend == u"postgresql" ? u"25006"_s : u"8"_s;
    for (const QString &sql : { u"insert into jobs (payload) values ('{\"tag\": \"Raw\"}')"_s,
                                u"update jobs set status = 'cancelled'"_s, u"delete from jobs"_s,
                                u"create table intruder (id integer)"_s, u"drop table jobs"_s }) {
        QSqlQuery query(monitor->database());
        QVERIFY2(!query.exec(sql), qPrintable(u"the monitor's connection ran: "_s + sql));
        QVERIFY2(query.lastError().nativeErrorCode() == expectedState,
                 qPrintable(sql + u": "_s + query.lastError().nativeErrorCode() + u" "_s
                            + query.lastError().text()));
    }
    {
        // Also inside an explicit transaction.
        QSqlDatabase db = monitor->database();
        QVERIFY(db.transaction());
        QSqlQuery query(db);
        QVERIFY(!query.exec(u"delete from jobs"_s));
        QCOMPARE(query.lastError().nativeErrorCode(), expectedState);
        query.finish();
        QVERIFY(db.rollback());
    }
    QSqlDatabase db = monitor->database();
    const auto enqueuedOn = JobStore::enqueueOn(db, TableName(), tagged(u"Raw"_s));
    QVERIFY(!enqueuedOn.ok());
    QCOMPARE(enqueuedOn.error().sqlState, expectedState);
    if (backend == u"postgresql")
        QCOMPARE(enqueuedOn.error().code, ErrorCode::ReadOnly);

    QCOMPARE(snapshotOf(), before);
    const DirectSql direct(url);
    QCOMPARE(direct.value(u"select count(*) from jobs"_s), u"2"_s);
}

// ---------------------------------------------------------------------------------------
// the pid file

void TestSecurity::pidFileNamesForeignProcess()
{
    // The pid of a live process that is not an oddjobs worker (a pid reused after a crash,
    // or a forged file): the file is stale, the worker takes it over, and the process is
    // never signalled - not at start, not while running, not at shutdown.
    const QString url = Test::freshSqliteUrl();
    Bystander *bystander = startBystander();
    QVERIFY(bystander && bystander->isAlive());
    const QString pidFile = m_tmp->filePath(u"foreign.pid"_s);
    QVERIFY(writeFile(pidFile, QByteArray::number(bystander->pid()) + '\n'));

    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--pid-file"_s, pidFile } + FastPoll);
    QTRY_VERIFY2_WITH_TIMEOUT(worker->isReady() || !worker->isRunning(),
                              qPrintable(worker->describe()), 15000);
    QVERIFY2(worker->isRunning(), qPrintable(worker->describe()));
    QCOMPARE(readFile(pidFile).trimmed(), QByteArray::number(worker->process.processId()));
    worker->process.terminate();
    QVERIFY(worker->process.waitForFinished(15000));
    QCOMPARE(worker->process.exitCode(), 0);
    QVERIFY2(!QFile::exists(pidFile), "the pid file outlived the worker");

    QTest::qWait(300); // a trap runs between two of the bystander's sleeps
    QVERIFY(bystander->isAlive());
    QCOMPARE(bystander->signalsReceived(), QByteArray());
}

void TestSecurity::pidFileNamesProcessCalledOddjobs()
{
    // A live process whose name is oddjobs counts as a running worker: the new worker
    // refuses to start with a clear message, leaves the file alone and signals nobody.
    const QString url = Test::freshSqliteUrl();
    Bystander *bystander = startBystander(u"oddjobs"_s);
    QVERIFY(bystander && bystander->isAlive());
    const QByteArray argv0
        = readFile(u"/proc/%1/cmdline"_s.arg(bystander->pid())).split('\0').value(0);
    QCOMPARE(argv0, QByteArray("oddjobs"));
    const QString pidFile = m_tmp->filePath(u"named.pid"_s);
    const QByteArray contents = QByteArray::number(bystander->pid()) + '\n';
    QVERIFY(writeFile(pidFile, contents));

    const Run r = run(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--pid-file"_s, pidFile } + FastPoll);
    QVERIFY2(r.exitCode == 1, qPrintable(r.describe()));
    QCOMPARE(QString::fromUtf8(r.err),
             u"oddjobs: another worker (pid %1) is running with the pid file %2; stop it first\n"_s
                 .arg(bystander->pid())
                 .arg(pidFile));
    QVERIFY2(r.out.isEmpty(), qPrintable(r.describe()));
    QCOMPARE(readFile(pidFile), contents);

    QTest::qWait(300);
    QVERIFY(bystander->isAlive());
    QCOMPARE(bystander->signalsReceived(), QByteArray());
}

void TestSecurity::pidFileIsSymlink()
{
    // A link planted where the pid file goes (a shared directory) is replaced by the pid file,
    // never written through: the file it points to is not the worker's to change.
    const QString url = Test::freshSqliteUrl();
    const QString dir = m_tmp->filePath(u"link-%1"_s.arg(++m_counter));
    QVERIFY(QDir().mkpath(dir));
    const QString victim = dir + u"/victim"_s;
    QVERIFY(writeFile(victim, "precious\n"));
    const QString pidFile = dir + u"/worker.pid"_s;
    QVERIFY(QFile::link(victim, pidFile));

    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--pid-file"_s, pidFile } + FastPoll);
    QTRY_VERIFY2_WITH_TIMEOUT(worker->isReady() || !worker->isRunning(),
                              qPrintable(worker->describe()), 15000);
    QVERIFY2(worker->isRunning(), qPrintable(worker->describe()));
    QVERIFY(!QFileInfo(pidFile).isSymLink());
    QCOMPARE(readFile(pidFile).trimmed(), QByteArray::number(worker->process.processId()));
    QCOMPARE(readFile(victim), QByteArray("precious\n"));
    // Nothing else was left next to it.
    QCOMPARE(
        QDir(dir).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden | QDir::System),
        (QStringList { u"victim"_s, u"worker.pid"_s }));
    worker->process.terminate();
    QVERIFY(worker->process.waitForFinished(15000));
    QVERIFY(!QFile::exists(pidFile));
    QCOMPARE(readFile(victim), QByteArray("precious\n"));
}

void TestSecurity::pidFileIsFifo()
{
    // Reading a FIFO would block the worker forever: anything but a regular file is refused.
    const QString url = Test::freshSqliteUrl();
    const QString fifo = m_tmp->filePath(u"fifo-%1.pid"_s.arg(++m_counter));
    QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
    const Run r = run({ u"--headless"_s, u"--database"_s, url, u"--pid-file"_s, fifo });
    QVERIFY2(r.exitCode == 2, qPrintable(r.describe()));
    QCOMPARE(QString::fromUtf8(r.err),
             u"oddjobs: the pid file %1 exists and is not a regular file\n"_s.arg(fifo));
}

QTEST_GUILESS_MAIN(TestSecurity)
#include "tst_security.moc"
