// The oddjobs executable driven from outside, as a script or a service manager would: every
// subcommand, the bad-input matrix (exit code, one line on stderr, nothing changed), the
// headless worker and its signals, the pid-file guard and process handlers. Everything that
// touches a database runs against SQLite and PostgreSQL.

#include "oddjobs/jobstore.h"
#include "support/testhelpers.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <functional>
#include <memory>
#include <vector>

using namespace OddJobs;
using namespace Qt::StringLiterals;

namespace {

const QString Binary = QStringLiteral(ODDJOBS_BINARY);
// The worker flags every headless test uses: short polls, so nothing waits long.
const QStringList FastPoll { u"--poll-interval"_s, u"0.2"_s };

template<typename T>
QString errorText(const Result<T> &result)
{
    return result.ok() ? QString() : result.error().toString();
}

// Fails the current test (and returns from it) unless `expr` is an ok Result.
#define CLI_VERIFY_OK(expr)                                                                        \
    do {                                                                                           \
        const auto &cliResult_ = (expr);                                                           \
        QVERIFY2(cliResult_.ok(), qPrintable(errorText(cliResult_)));                              \
    } while (false)

// Calls a void helper that may fail the test, and returns when it did.
#define CLI_CALL(expr)                                                                             \
    do {                                                                                           \
        expr;                                                                                      \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

// Fails the test with `problem` unless it is empty.
#define CLI_CHECK(problem)                                                                         \
    do {                                                                                           \
        const QString cliProblem_ = (problem);                                                     \
        QVERIFY2(cliProblem_.isEmpty(), qPrintable(cliProblem_));                                  \
    } while (false)

// One finished run of the executable.
struct Run : Test::CliRun
{
    Run(Test::CliRun run) // implicit: what Test::runCli() gives is a Run
        : Test::CliRun(std::move(run))
    {
    }

    QJsonValue json() const
    {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(out, &error);
        if (error.error != QJsonParseError::NoError)
            return QJsonValue(QJsonValue::Undefined);
        return doc.isArray() ? QJsonValue(doc.array()) : QJsonValue(doc.object());
    }
};

// Empty when `run` succeeded with exit code 0 and printed nothing on stderr.
QString successProblem(const Run &run)
{
    if (run.exitCode != 0)
        return u"expected exit code 0"_s + run.describe();
    if (!run.err.isEmpty())
        return u"expected nothing on stderr"_s + run.describe();
    return {};
}

// Empty when `run`'s standard output matches the regular expression `pattern`.
QString outputProblem(const Run &run, const QString &pattern)
{
    if (QRegularExpression(pattern).match(QString::fromUtf8(run.out)).hasMatch())
        return {};
    return u"standard output does not match %1"_s.arg(pattern) + run.describe();
}

// Empty when `run` failed with `code` and exactly one line on stderr that starts with
// "oddjobs: ", contains every needle and none of the forbidden strings, and stdout is empty.
QString errorProblem(const Run &run, int code, const QStringList &needles = {},
                     const QStringList &forbidden = {})
{
    if (run.exitCode != code)
        return u"expected exit code %1"_s.arg(code) + run.describe();
    if (!run.out.isEmpty())
        return u"expected nothing on stdout"_s + run.describe();
    if (!run.err.startsWith("oddjobs: ") || !run.err.endsWith('\n') || run.err.count('\n') != 1)
        return u"expected one line on stderr starting with 'oddjobs: '"_s + run.describe();
    const QString line = QString::fromUtf8(run.err);
    for (const QString &needle : needles) {
        if (!line.contains(needle))
            return u"stderr lacks '%1'"_s.arg(needle) + run.describe();
    }
    for (const QString &bad : forbidden) {
        if (line.contains(bad))
            return u"stderr must not contain '%1'"_s.arg(bad) + run.describe();
    }
    return {};
}

// The object a "--json" output printed; an empty one, with `*problem` set, if it is not one.
QJsonObject jsonObjectOf(const Run &run, QString *problem)
{
    const QJsonValue v = run.json();
    if (!v.isObject())
        *problem = u"stdout is not one JSON object"_s + run.describe();
    return v.toObject();
}

Result<std::unique_ptr<JobStore>> openStore(const QString &url)
{
    auto settings = ConnectionSettings::resolve(url);
    if (!settings)
        return settings.error();
    return JobStore::open(*settings);
}

// Every row of the table in id order, every column: equal snapshots mean nothing changed.
QByteArray snapshot(const QString &url)
{
    auto store = openStore(url);
    if (!store)
        return "<cannot open: " + store.error().toString().toUtf8() + '>';
    PageRequest page;
    page.sort = SortKey::Id;
    page.order = Qt::AscendingOrder;
    page.limit = 10000;
    auto jobs = (*store)->list(JobFilter(), page);
    if (!jobs)
        return "<cannot list: " + jobs.error().toString().toUtf8() + '>';
    QJsonArray rows;
    for (const Job &job : std::as_const(jobs->jobs))
        rows.append(job.toJson());
    return QJsonDocument(rows).toJson(QJsonDocument::Compact);
}

// The job as `show --json` would print it, or an empty object when it does not exist.
QJsonObject jobJson(const QString &url, qint64 id)
{
    auto store = openStore(url);
    if (!store)
        return { { u"error"_s, store.error().toString() } };
    auto job = (*store)->find(id);
    if (!job)
        return { { u"error"_s, job.error().toString() } };
    return *job ? (*job)->toJson() : QJsonObject();
}

QString statusOf(const QString &url, qint64 id)
{
    const QJsonObject job = jobJson(url, id);
    return job.isEmpty() ? u"<gone>"_s : job.value(u"status"_s).toString(u"<error>"_s);
}

QList<qint64> idsOf(const QJsonValue &listJson)
{
    QList<qint64> ids;
    const QJsonArray array = listJson.toArray();
    for (const QJsonValue &job : array)
        ids << job.toObject().value(u"id"_s).toInteger();
    return ids;
}

// The ids in the first column of `list`'s table.
QList<qint64> idsOfTable(const QByteArray &text)
{
    QList<qint64> ids;
    const QList<QByteArray> lines = text.split('\n');
    for (const QByteArray &line : lines) {
        bool ok = false;
        const qint64 id = line.trimmed().split(' ').value(0).toLongLong(&ok);
        if (ok)
            ids << id;
    }
    return ids;
}

QString idsToString(const QList<qint64> &ids)
{
    QStringList parts;
    for (qint64 id : ids)
        parts << QString::number(id);
    return parts.join(u',');
}

// The payload exactly as a process handler gets it on standard input.
QByteArray compactJson(const QJsonValue &value)
{
    const QByteArray wrapped = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return wrapped.mid(1, wrapped.size() - 2);
}

bool writeFile(const QString &path, const QByteArray &contents, bool executable = false)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || file.write(contents) != contents.size())
        return false;
    file.close();
    if (executable)
        return file.setPermissions(file.permissions() | QFile::ExeOwner | QFile::ExeGroup
                                   | QFile::ExeOther);
    return true;
}

QByteArray readFile(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray("<missing>");
}

// A running `oddjobs --headless`; its output is collected as it arrives.
struct Worker
{
    QProcess process;
    QByteArray out;
    QByteArray err;
    QStringList args;

    const QByteArray &output()
    {
        out += process.readAllStandardOutput();
        err += process.readAllStandardError();
        return out;
    }
    // For failure messages, which QTest cuts short: stderr first, then the end of stdout.
    QString describe()
    {
        output();
        return u"\n  oddjobs %1\n  stderr:\n%2\n  stdout (end):\n%3"_s.arg(
            args.join(u' '), QString::fromUtf8(err.right(1500)),
            QString::fromUtf8(out.right(1500)));
    }
    bool isRunning() const { return process.state() != QProcess::NotRunning; }
};

// What the text log says when a job starts.
QByteArray jobStartLine(qint64 id)
{
    return QByteArray("job-start job=") + QByteArray::number(id) + ' ';
}

// The worker is ready once it reports the running state (text and JSON logs alike).
bool isReady(Worker *worker)
{
    const QByteArray &out = worker->output();
    return out.contains("state running") || out.contains(R"("message":"running")");
}

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanup();

    // without a database
    void helpAndVersion_data();
    void helpAndVersion();
    void defaultDatabase();

    // subcommands
    void migrate_data() { backendData(); }
    void migrate();
    void enqueue_data() { backendData(); }
    void enqueue();
    void enqueueFromStdin_data() { backendData(); }
    void enqueueFromStdin();
    void listFilters_data() { backendData(); }
    void listFilters();
    void show_data() { backendData(); }
    void show();
    void retryCancelDelete_data() { backendData(); }
    void retryCancelDelete();
    void stats_data() { backendData(); }
    void stats();

    // refused input
    void badInput_data();
    void badInput();
    void malformedJson_data();
    void malformedJson();

    // the headless worker
    void headlessRunsJobs_data() { backendData(); }
    void headlessRunsJobs();
    void headlessWorkerSettings_data() { backendData(); }
    void headlessWorkerSettings();
    void jsonLogs_data() { backendData(); }
    void jsonLogs();
    void sigtermLetsJobFinish_data() { backendData(); }
    void sigtermLetsJobFinish();
    void sigtermHandsBackOverrunningJob_data() { backendData(); }
    void sigtermHandsBackOverrunningJob();
    void secondSigtermStopsAtOnce_data() { backendData(); }
    void secondSigtermStopsAtOnce();
    void pidFileGuard_data() { backendData(); }
    void pidFileGuard();
    void pidFileStale_data() { backendData(); }
    void pidFileStale();

    // process handlers
    void processHandlerRoundTrip_data() { backendData(); }
    void processHandlerRoundTrip();
    void processHandlerFailures_data() { backendData(); }
    void processHandlerFailures();
    void processHandlerHugeOutput_data() { backendData(); }
    void processHandlerHugeOutput();
    void processHandlerNoShell_data() { backendData(); }
    void processHandlerNoShell();

private:
    static void backendData()
    {
        Test::addBackendColumns();
        Test::addBackendRows();
    }
    Run run(const QStringList &args, const QByteArray &input = {}, int timeoutMs = 20000,
            const QProcessEnvironment &extraEnv = {});
    // `oddjobs migrate` on a fresh database, checked.
    void migrateCli(const QString &url);
    // `oddjobs enqueue ... --json`, checked; the new job's id in *id.
    void enqueueCli(const QString &url, const QStringList &args, qint64 *id);
    // The seeded database of badInput: 1 oddjobs.echo queued, 2 success, 3 failed, 4 cancelled.
    void seed(const QString &url);
    // Claims the one job of `type` and completes it.
    void finishJob(const QString &url, const QString &type, bool success);
    Worker *startWorker(const QStringList &args);
    void stopWorker(Worker *worker, int timeoutMs = 15000);
    QString handlerDir(); // a new directory for one test's scripts, configs and markers

    std::unique_ptr<QTemporaryDir> m_tmp; // scripts, configs, pid files, HOME
    QString m_home;
    QProcessEnvironment m_env;
    QHash<QString, QString> m_seeded; // backend -> URL of the badInput database
    std::vector<std::unique_ptr<Worker>> m_workers;
    int m_handlerDirs = 0;
};

Run TestCli::run(const QStringList &args, const QByteArray &input, int timeoutMs,
                 const QProcessEnvironment &extraEnv)
{
    return Test::runCli(Binary, args, m_env, extraEnv, m_tmp->path(), input, timeoutMs);
}

void TestCli::initTestCase()
{
    QVERIFY2(QFileInfo(Binary).isExecutable(), qPrintable(Binary));
    QString base = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR");
    if (!base.isEmpty())
        QDir().mkpath(base);
    m_tmp = std::make_unique<QTemporaryDir>(
        QDir(base.isEmpty() ? QDir::tempPath() : base).absoluteFilePath(u"tst_cli-XXXXXX"_s));
    QVERIFY(m_tmp->isValid());
    m_home = m_tmp->filePath(u"home"_s);
    QVERIFY(QDir().mkpath(m_home));

    // A clean environment: no database from the caller's shell, the default SQLite file and
    // any settings in a home directory of our own.
    m_env = QProcessEnvironment::systemEnvironment();
    for (const QString &key : { u"ODDJOBS_DATABASE_URL"_s, u"XDG_DATA_HOME"_s, u"XDG_CONFIG_HOME"_s,
                                u"XDG_CACHE_HOME"_s, u"XDG_STATE_HOME"_s, u"XDG_RUNTIME_DIR"_s }) {
        m_env.remove(key);
    }
    m_env.insert(u"HOME"_s, m_home);
    m_env.insert(u"LC_ALL"_s, u"C.UTF-8"_s);

    // Config files of the bad-input matrix.
    const QString dir = m_tmp->path();
    QVERIFY(writeFile(dir + u"/unknown-key.ini"_s, "frobnicate = 1\n"));
    QVERIFY(writeFile(dir + u"/unknown-section.ini"_s, "concurrency = 2\n[workers]\ncount = 3\n"));
    QVERIFY(writeFile(dir + u"/bad-value.ini"_s, "concurrency = lots\n"));
    QVERIFY(writeFile(dir + u"/bad-log-format.ini"_s, "log-format = xml\n"));
    QVERIFY(writeFile(dir + u"/bad-boolean.ini"_s, "delete-successful = maybe\n"));
    QVERIFY(writeFile(dir + u"/bad-claim-batch.ini"_s, "claim-batch = 20000\n"));
    QVERIFY(writeFile(dir + u"/bad-url.ini"_s, "database = nosuch://x\n"));
    QVERIFY(writeFile(dir + u"/empty-handler.ini"_s, "[handlers]\noddjobs.echo =\n"));
    QVERIFY(writeFile(dir + u"/missing-program.ini"_s,
                      "[handlers]\nresize = " + dir.toUtf8() + "/no-such-program --size 3\n"));
    QVERIFY(writeFile(dir + u"/not-executable.sh"_s, "#!/bin/sh\nexit 0\n"));
    QVERIFY(writeFile(dir + u"/not-executable.ini"_s,
                      "[handlers]\nresize = " + dir.toUtf8() + "/not-executable.sh\n"));
    QVERIFY(writeFile(dir + u"/directory-program.ini"_s,
                      "[handlers]\nresize = " + dir.toUtf8() + "\n"));
    QVERIFY(writeFile(dir + u"/not-in-path.ini"_s,
                      "[handlers]\nresize = oddjobs-no-such-program-in-path\n"));
    QVERIFY(
        writeFile(dir + u"/unterminated-quote.ini"_s, "[handlers]\nresize = /bin/echo \"oops\n"));
}

void TestCli::cleanup()
{
    // Never leave a worker behind, whatever the test did.
    for (const auto &worker : m_workers) {
        if (worker->isRunning()) {
            worker->process.kill();
            worker->process.waitForFinished(5000);
        }
    }
    m_workers.clear();
}

void TestCli::migrateCli(const QString &url)
{
    const Run r = run({ u"migrate"_s, u"--database"_s, url });
    CLI_CHECK(successProblem(r));
}

void TestCli::enqueueCli(const QString &url, const QStringList &args, qint64 *id)
{
    const Run r = run(QStringList { u"enqueue"_s, u"--database"_s, url, u"--json"_s } + args);
    CLI_CHECK(successProblem(r));
    QString problem;
    const QJsonObject job = jsonObjectOf(r, &problem);
    CLI_CHECK(problem);
    *id = job.value(u"id"_s).toInteger();
    QVERIFY2(*id > 0, qPrintable(r.describe()));
}

void TestCli::finishJob(const QString &url, const QString &type, bool success)
{
    auto store = openStore(url);
    CLI_VERIFY_OK(store);
    ClaimRequest claim;
    claim.worker = u"tst_cli:1:seed"_s;
    claim.types = { type };
    claim.limit = 1;
    auto claimed = (*store)->claim(claim);
    CLI_VERIFY_OK(claimed);
    QCOMPARE(claimed->size(), 1);
    JobOutcome outcome;
    outcome.id = claimed->first().id;
    outcome.success = success;
    if (success)
        outcome.result = QJsonObject { { u"done"_s, true } };
    else
        outcome.error
            = QJsonObject { { u"message"_s, u"seeded failure"_s }, { u"kind"_s, u"error"_s } };
    auto written = (*store)->complete(claim.worker, { outcome }, 1);
    CLI_VERIFY_OK(written);
    QCOMPARE(written->size(), 1);
}

void TestCli::seed(const QString &url)
{
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    // A job of a demo type: a worker that starts by mistake would run it, which shows.
    CLI_CALL(enqueueCli(url, { u"oddjobs.echo"_s, u"{\"n\": 1}"_s }, &id));
    QCOMPARE(id, 1);
    CLI_CALL(enqueueCli(url, { u"S"_s }, &id));
    QCOMPARE(id, 2);
    CLI_CALL(finishJob(url, u"S"_s, true));
    CLI_CALL(enqueueCli(url, { u"F"_s, u"--max-attempts"_s, u"1"_s }, &id));
    QCOMPARE(id, 3);
    CLI_CALL(finishJob(url, u"F"_s, false));
    CLI_CALL(enqueueCli(url, { u"C"_s }, &id));
    QCOMPARE(id, 4);
    CLI_CHECK(successProblem(run({ u"cancel"_s, u"--database"_s, url, u"4"_s })));
    QCOMPARE(statusOf(url, 1), u"queued"_s);
    QCOMPARE(statusOf(url, 2), u"success"_s);
    QCOMPARE(statusOf(url, 3), u"failed"_s);
    QCOMPARE(statusOf(url, 4), u"cancelled"_s);
}

Worker *TestCli::startWorker(const QStringList &args)
{
    auto worker = std::make_unique<Worker>();
    worker->args = args;
    worker->process.setProcessEnvironment(m_env);
    worker->process.setWorkingDirectory(m_tmp->path());
    worker->process.start(Binary, args);
    worker->process.closeWriteChannel();
    worker->process.waitForStarted(10000);
    m_workers.push_back(std::move(worker));
    return m_workers.back().get();
}

void TestCli::stopWorker(Worker *worker, int timeoutMs)
{
    QVERIFY2(worker->isRunning(), qPrintable(u"the worker is not running"_s + worker->describe()));
    worker->process.terminate();
    QVERIFY2(worker->process.waitForFinished(timeoutMs),
             qPrintable(u"the worker did not stop after SIGTERM"_s + worker->describe()));
    QVERIFY2(worker->process.exitStatus() == QProcess::NormalExit
                 && worker->process.exitCode() == 0,
             qPrintable(u"the worker exited with code %1"_s.arg(worker->process.exitCode())
                        + worker->describe()));
}

QString TestCli::handlerDir()
{
    const QString dir = m_tmp->filePath(u"handlers-%1"_s.arg(++m_handlerDirs));
    QDir().mkpath(dir);
    return dir;
}

// --- without a database ------------------------------------------------------------------

void TestCli::helpAndVersion_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("mentions");
    const QStringList common { u"--database"_s, u"--table"_s, u"--config"_s, u"--help"_s };
    QTest::newRow("oddjobs") << QStringList { u"--help"_s }
                             << common
            + QStringList { u"--headless"_s,
                            u"--concurrency"_s,
                            u"--queue"_s,
                            u"--poll-interval"_s,
                            u"--lock-timeout"_s,
                            u"--pid-file"_s,
                            u"--log-format"_s,
                            u"--log-level"_s,
                            u"--demo"_s,
                            u"--shutdown-timeout"_s,
                            u"--claim-batch"_s,
                            u"--prefetch"_s,
                            u"--claim-connections"_s,
                            u"--default-max-attempts"_s,
                            u"--default-timeout"_s,
                            u"--delete-successful"_s,
                            u"--keep-successful"_s,
                            u"--retention"_s,
                            u"--version"_s,
                            u"migrate"_s,
                            u"enqueue"_s,
                            u"stats"_s };
    QTest::newRow("migrate") << QStringList { u"migrate"_s, u"--help"_s }
                             << common + QStringList { u"migrate"_s };
    QTest::newRow("enqueue") << QStringList { u"enqueue"_s, u"-h"_s }
                             << common
            + QStringList { u"enqueue"_s,        u"--json"_s,    u"--run-at"_s,
                            u"--in"_s,           u"--queue"_s,   u"--priority"_s,
                            u"--max-attempts"_s, u"--timeout"_s, u"standard input"_s };
    QTest::newRow("list") << QStringList { u"list"_s, u"--help"_s }
                          << common + QStringList { u"list"_s,    u"--json"_s,  u"--status"_s,
                                                    u"--type"_s,  u"--queue"_s, u"--search"_s,
                                                    u"--limit"_s, u"--worker"_s };
    QTest::newRow("show") << QStringList { u"show"_s, u"--help"_s }
                          << common + QStringList { u"show"_s, u"--json"_s };
    QTest::newRow("retry") << QStringList { u"retry"_s, u"--help"_s }
                           << common + QStringList { u"retry"_s, u"--json"_s };
    QTest::newRow("cancel") << QStringList { u"cancel"_s, u"--help"_s }
                            << common + QStringList { u"cancel"_s, u"--json"_s };
    QTest::newRow("delete") << QStringList { u"delete"_s, u"--help"_s }
                            << common + QStringList { u"delete"_s, u"--json"_s };
    QTest::newRow("stats") << QStringList { u"stats"_s, u"--help"_s }
                           << common + QStringList { u"stats"_s, u"--json"_s, u"--window"_s };
}

void TestCli::helpAndVersion()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, mentions);
    const Run r = run(args);
    CLI_CHECK(successProblem(r));
    const QString text = QString::fromUtf8(r.out);
    // The usage line names the program and, for a subcommand, the subcommand.
    const QString command = args.first().startsWith(u'-') ? QString() : args.first() + u' ';
    CLI_CHECK(outputProblem(r, u"^Usage: \\S*oddjobs %1\\[options\\]"_s.arg(command)));
    for (const QString &word : std::as_const(mentions))
        QVERIFY2(text.contains(word),
                 qPrintable(u"the help does not mention %1"_s.arg(word) + r.describe()));
    // Nothing was created: help never opens a database.
    QVERIFY2(QDir(m_home).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden),
             qPrintable(u"help created files in HOME"_s));

    if (args.first() == u"--help") {
        for (const QString &flag : { u"--version"_s, u"-v"_s }) {
            const Run v = run({ flag });
            CLI_CHECK(successProblem(v));
            CLI_CHECK(outputProblem(v, u"^oddjobs \\d+\\.\\d+(\\.\\d+)?\\n$"_s));
        }
    }
}

void TestCli::defaultDatabase()
{
    // No --database and no $ODDJOBS_DATABASE_URL: a SQLite file below HOME.
    const Run first = run({ u"migrate"_s });
    CLI_CHECK(successProblem(first));
    const QString shown = QString::fromUtf8(first.out);
    QVERIFY2(shown.contains(u"sqlite:"_s + m_home), qPrintable(first.describe()));
    QVERIFY2(shown.contains(u"migrated from schema version 0 to %1"_s.arg(CurrentSchemaVersion)),
             qPrintable(first.describe()));
    const Run enqueued = run({ u"enqueue"_s, u"Default"_s });
    CLI_CHECK(successProblem(enqueued));
    const Run listed = run({ u"list"_s, u"--json"_s });
    CLI_CHECK(successProblem(listed));
    QCOMPARE(idsOf(listed.json()), QList<qint64> { 1 });

    // $ODDJOBS_DATABASE_URL wins over the default, --database over both, and a flag over
    // the config file.
    const QString envUrl = u"sqlite:"_s + m_tmp->filePath(u"from-env.db"_s);
    const QString flagUrl = u"sqlite:"_s + m_tmp->filePath(u"from-flag.db"_s);
    const QString configUrl = u"sqlite:"_s + m_tmp->filePath(u"from-config.db"_s);
    QProcessEnvironment env;
    env.insert(u"ODDJOBS_DATABASE_URL"_s, envUrl);
    const Run fromEnv = run({ u"migrate"_s }, {}, 20000, env);
    CLI_CHECK(successProblem(fromEnv));
    QVERIFY2(fromEnv.out.contains(envUrl.toUtf8()), qPrintable(fromEnv.describe()));
    const Run fromFlag = run({ u"migrate"_s, u"--database"_s, flagUrl }, {}, 20000, env);
    CLI_CHECK(successProblem(fromFlag));
    QVERIFY2(fromFlag.out.contains(flagUrl.toUtf8()), qPrintable(fromFlag.describe()));
    const QString config = m_tmp->filePath(u"database.ini"_s);
    QVERIFY(writeFile(config, "database = " + configUrl.toUtf8() + "\ntable = jobs\n"));
    const Run fromConfig = run({ u"migrate"_s, u"--config"_s, config }, {}, 20000, env);
    CLI_CHECK(successProblem(fromConfig));
    QVERIFY2(fromConfig.out.contains(configUrl.toUtf8()), qPrintable(fromConfig.describe()));
    const Run flagOverConfig
        = run({ u"migrate"_s, u"--config"_s, config, u"--database"_s, flagUrl }, {}, 20000, env);
    CLI_CHECK(successProblem(flagOverConfig));
    QVERIFY2(flagOverConfig.out.contains(flagUrl.toUtf8()), qPrintable(flagOverConfig.describe()));
    QVERIFY2(flagOverConfig.out.contains("is up to date"), qPrintable(flagOverConfig.describe()));
}

// --- subcommands -------------------------------------------------------------------------

void TestCli::migrate()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    const QString password = QUrl(url).password();

    // Before the first migration every other command says what to do.
    const Run early = run({ u"list"_s, u"--database"_s, url });
    CLI_CHECK(errorProblem(early, 1, { u"oddjobs migrate"_s },
                           password.isEmpty() ? QStringList() : QStringList { password }));

    const Run first = run({ u"migrate"_s, u"--database"_s, url });
    CLI_CHECK(successProblem(first));
    CLI_CHECK(outputProblem(first,
                            u"^table jobs in \\S+ migrated from schema version 0 to %1\\n$"_s.arg(
                                CurrentSchemaVersion)));
    if (!password.isEmpty())
        QVERIFY2(!first.out.contains(password.toUtf8()),
                 qPrintable(u"the password is shown"_s + first.describe()));

    const Run again = run({ u"migrate"_s, u"--database"_s, url });
    CLI_CHECK(successProblem(again));
    CLI_CHECK(outputProblem(again,
                            u"^table jobs in \\S+ is up to date \\(schema version %1\\)\\n$"_s.arg(
                                CurrentSchemaVersion)));

    // Another table, as schema.table on PostgreSQL.
    const QString table = backend == u"postgresql" ? u"public.other_jobs"_s : u"other_jobs"_s;
    const Run other = run({ u"migrate"_s, u"--database"_s, url, u"--table"_s, table });
    CLI_CHECK(successProblem(other));
    QVERIFY2(other.out.contains("other_jobs"), qPrintable(other.describe()));
    const Run enqueued
        = run({ u"enqueue"_s, u"--database"_s, url, u"--table"_s, table, u"InOther"_s });
    CLI_CHECK(successProblem(enqueued));
    const Run inJobs = run({ u"list"_s, u"--database"_s, url, u"--json"_s });
    CLI_CHECK(successProblem(inJobs));
    QCOMPARE(idsOf(inJobs.json()), QList<qint64>());
    const Run inOther = run({ u"list"_s, u"--database"_s, url, u"--table"_s, table, u"--json"_s });
    CLI_CHECK(successProblem(inOther));
    QCOMPARE(idsOf(inOther.json()), QList<qint64> { 1 });
}

void TestCli::enqueue()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));

    // TYPE alone: human output, payload {"tag": TYPE}, every default.
    const Run plain = run({ u"enqueue"_s, u"--database"_s, url, u"SendMail"_s });
    CLI_CHECK(successProblem(plain));
    CLI_CHECK(outputProblem(plain,
                            u"^enqueued job 1 \\(SendMail, queue default, runs at "
                            "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)\\n$"_s));
    const QJsonObject first = jobJson(url, 1);
    QCOMPARE(first.value(u"payload"_s).toObject(), (QJsonObject { { u"tag"_s, u"SendMail"_s } }));
    QCOMPARE(first.value(u"type"_s).toString(), u"SendMail"_s);
    QCOMPARE(first.value(u"status"_s).toString(), u"queued"_s);
    QCOMPARE(first.value(u"queue"_s).toString(), u"default"_s);
    QCOMPARE(first.value(u"priority"_s).toInt(-1), 0);
    QCOMPARE(first.value(u"attempts"_s).toInt(-1), 0);
    QVERIFY(first.value(u"max_attempts"_s).isNull());
    QVERIFY(first.value(u"timeout_seconds"_s).isNull());
    QCOMPARE(first.value(u"run_at"_s), first.value(u"created_at"_s));

    struct Case
    {
        QStringList args;
        std::function<QString(const QJsonObject &)> check; // empty when fine
    };
    auto expect = [](const QString &field, const QJsonValue &value) {
        return [field, value](const QJsonObject &job) {
            return job.value(field) == value
                ? QString()
                : u"%1 is %2, expected %3"_s.arg(field,
                                                 QString::fromUtf8(compactJson(job.value(field))),
                                                 QString::fromUtf8(compactJson(value)));
        };
    };
    const QJsonObject contents { { u"to"_s, u"ada@example.org"_s },
                                 { u"list"_s,
                                   QJsonArray { 1, 2.5, QJsonValue(), true, u"Grüße ✓"_s } },
                                 { u"nested"_s, QJsonObject { { u"quote"_s, u"a\"b\\c"_s } } } };
    const QList<Case> cases {
        { { u"SendMail"_s,
            QString::fromUtf8(QJsonDocument(contents).toJson(QJsonDocument::Indented)) },
          expect(u"payload"_s,
                 QJsonObject { { u"tag"_s, u"SendMail"_s }, { u"contents"_s, contents } }) },
        { { u"Scalar"_s, u"\"just text\""_s },
          expect(u"payload"_s,
                 QJsonObject { { u"tag"_s, u"Scalar"_s }, { u"contents"_s, u"just text"_s } }) },
        { { u"Number"_s, u"  42  "_s },
          expect(u"payload"_s, QJsonObject { { u"tag"_s, u"Number"_s }, { u"contents"_s, 42 } }) },
        { { u"Array"_s, u"[1, [2], {}]"_s },
          expect(u"payload"_s,
                 QJsonObject {
                     { u"tag"_s, u"Array"_s },
                     { u"contents"_s, QJsonArray { 1, QJsonArray { 2 }, QJsonObject() } } }) },
        { { u"T"_s, u"--run-at"_s, u"2030-01-02T03:04:05Z"_s },
          expect(u"run_at"_s, u"2030-01-02T03:04:05.000Z"_s) },
        { { u"T"_s, u"--run-at"_s, u"2030-01-02T05:04:05.250+02:00"_s },
          expect(u"run_at"_s, u"2030-01-02T03:04:05.250Z"_s) },
        { { u"T"_s, u"--in"_s, u"3600"_s },
          [](const QJsonObject &job) {
              const QDateTime created
                  = QDateTime::fromString(job.value(u"created_at"_s).toString(), Qt::ISODateWithMs);
              const QDateTime runAt
                  = QDateTime::fromString(job.value(u"run_at"_s).toString(), Qt::ISODateWithMs);
              const qint64 delta = created.msecsTo(runAt);
              return delta >= 3599000 && delta <= 3601000
                  ? QString()
                  : u"run_at - created_at is %1 ms"_s.arg(delta);
          } },
        { { u"T"_s, u"--in"_s, u"0.5"_s },
          [](const QJsonObject &job) {
              const QDateTime created
                  = QDateTime::fromString(job.value(u"created_at"_s).toString(), Qt::ISODateWithMs);
              const QDateTime runAt
                  = QDateTime::fromString(job.value(u"run_at"_s).toString(), Qt::ISODateWithMs);
              const qint64 delta = created.msecsTo(runAt);
              return delta >= 400 && delta <= 600 ? QString()
                                                  : u"run_at - created_at is %1 ms"_s.arg(delta);
          } },
        { { u"T"_s, u"--queue"_s, u"mail"_s }, expect(u"queue"_s, u"mail"_s) },
        { { u"T"_s, u"--priority"_s, u"-5"_s }, expect(u"priority"_s, -5) },
        { { u"T"_s, u"--priority"_s, u"1000000"_s }, expect(u"priority"_s, 1000000) },
        { { u"T"_s, u"--max-attempts"_s, u"3"_s }, expect(u"max_attempts"_s, 3) },
        { { u"T"_s, u"--timeout"_s, u"7"_s }, expect(u"timeout_seconds"_s, 7) },
        { { u"T"_s, u"{}"_s, u"--queue"_s, u"q2"_s, u"--priority"_s, u"3"_s, u"--max-attempts"_s,
            u"1"_s, u"--timeout"_s, u"60"_s },
          [](const QJsonObject &job) {
              return job.value(u"queue"_s) == u"q2"_s && job.value(u"priority"_s) == 3
                      && job.value(u"max_attempts"_s) == 1 && job.value(u"timeout_seconds"_s) == 60
                      && job.value(u"payload"_s)
                          == QJsonObject { { u"tag"_s, u"T"_s }, { u"contents"_s, QJsonObject() } }
                  ? QString()
                  : u"the options did not all arrive"_s;
          } },
    };
    for (const Case &c : cases) {
        const Run r = run(QStringList { u"enqueue"_s, u"--database"_s, url, u"--json"_s } + c.args);
        CLI_CHECK(successProblem(r));
        QString problem;
        const QJsonObject printed = jsonObjectOf(r, &problem);
        CLI_CHECK(problem);
        CLI_CHECK(c.check(printed).isEmpty() ? QString() : c.check(printed) + r.describe());
        // What enqueue --json prints is what show --json says afterwards.
        const qint64 id = printed.value(u"id"_s).toInteger();
        const Run shown
            = run({ u"show"_s, u"--database"_s, url, u"--json"_s, QString::number(id) });
        CLI_CHECK(successProblem(shown));
        const QJsonObject fromShow = jsonObjectOf(shown, &problem);
        CLI_CHECK(problem);
        QVERIFY2(printed == fromShow,
                 qPrintable(u"enqueue --json and show --json differ:\n%1\n%2"_s.arg(
                     QString::fromUtf8(r.out), QString::fromUtf8(shown.out))));
        QCOMPARE(fromShow, jobJson(url, id));
    }
}

void TestCli::enqueueFromStdin()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));

    const QByteArray text = "{\n  \"from\": \"stdin\",\n  \"lines\": [\"a\",\n  \"b\"]\n}\n";
    const Run r
        = run({ u"enqueue"_s, u"--database"_s, url, u"--json"_s, u"Piped"_s, u"-"_s }, text);
    CLI_CHECK(successProblem(r));
    QString problem;
    const QJsonObject printed = jsonObjectOf(r, &problem);
    CLI_CHECK(problem);
    const QJsonObject expected { { u"tag"_s, u"Piped"_s },
                                 { u"contents"_s, QJsonDocument::fromJson(text).object() } };
    QCOMPARE(printed.value(u"payload"_s).toObject(), expected);
    QCOMPARE(jobJson(url, printed.value(u"id"_s).toInteger()), printed);

    // Empty standard input: a job without contents.
    const Run empty = run({ u"enqueue"_s, u"--database"_s, url, u"--json"_s, u"Piped"_s, u"-"_s });
    CLI_CHECK(successProblem(empty));
    const QJsonObject emptyJob = jsonObjectOf(empty, &problem);
    CLI_CHECK(problem);
    QCOMPARE(emptyJob.value(u"payload"_s).toObject(), (QJsonObject { { u"tag"_s, u"Piped"_s } }));

    // Bad JSON on standard input: the position is in the piped text.
    const QByteArray before = snapshot(url);
    const Run bad = run({ u"enqueue"_s, u"--database"_s, url, u"Piped"_s, u"-"_s },
                        "{\n  \"a\": 1,\n  \"b\" 2\n}\n");
    CLI_CHECK(errorProblem(bad, 2, { u"not valid JSON"_s, u"line 3"_s, u"column"_s }));
    QCOMPARE(snapshot(url), before);
}

void TestCli::listFilters()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    CLI_CALL(enqueueCli(url, { u"A"_s, u"{\"n\": 1}"_s, u"--queue"_s, u"q1"_s }, &id));
    CLI_CALL(enqueueCli(
        url, { u"A"_s, u"{\"n\": 2, \"note\": \"HayStack\"}"_s, u"--queue"_s, u"q2"_s }, &id));
    CLI_CALL(enqueueCli(url, { u"B"_s, u"{\"n\": 3}"_s, u"--queue"_s, u"q1"_s }, &id));
    CLI_CALL(enqueueCli(url, { u"S"_s }, &id));
    CLI_CALL(finishJob(url, u"S"_s, true));
    CLI_CALL(enqueueCli(url, { u"F"_s, u"--max-attempts"_s, u"1"_s }, &id));
    CLI_CALL(finishJob(url, u"F"_s, false));
    CLI_CALL(enqueueCli(url, { u"A"_s, u"{\"n\": 6}"_s }, &id));
    QCOMPARE(id, 6);
    CLI_CHECK(successProblem(run({ u"cancel"_s, u"--database"_s, url, u"6"_s })));
    CLI_CALL(enqueueCli(url, { u"L"_s }, &id));
    QCOMPARE(id, 7);
    {
        // Claimed and kept: a running job of worker "tst_cli:1:holder".
        auto store = openStore(url);
        CLI_VERIFY_OK(store);
        ClaimRequest claim;
        claim.worker = u"tst_cli:1:holder"_s;
        claim.types = { u"L"_s };
        auto claimed = (*store)->claim(claim);
        CLI_VERIFY_OK(claimed);
        QCOMPARE(claimed->size(), 1);
    }

    const QList<QPair<QStringList, QList<qint64>>> filters {
        { {}, { 7, 6, 5, 4, 3, 2, 1 } },
        { { u"--status"_s, u"queued"_s }, { 3, 2, 1 } },
        { { u"--status"_s, u"success"_s, u"--status"_s, u"failed"_s }, { 5, 4 } },
        { { u"--status"_s, u"cancelled"_s }, { 6 } },
        { { u"--status"_s, u"locked"_s }, { 7 } },
        { { u"--status"_s, u" retry "_s }, {} },
        { { u"--type"_s, u"A"_s }, { 6, 2, 1 } },
        { { u"--type"_s, u"A"_s, u"--type"_s, u"B"_s }, { 6, 3, 2, 1 } },
        { { u"--type"_s, u"A"_s, u"--status"_s, u"queued"_s }, { 2, 1 } },
        { { u"--type"_s, u"Nope"_s }, {} },
        { { u"--queue"_s, u"q1"_s }, { 3, 1 } },
        { { u"--queue"_s, u"default"_s }, { 7, 6, 5, 4 } },
        { { u"--search"_s, u"haystack"_s }, { 2 } },
        { { u"--search"_s, u"5"_s }, { 5 } },
        { { u"--limit"_s, u"2"_s }, { 7, 6 } },
        { { u"--limit"_s, u"1"_s, u"--type"_s, u"A"_s }, { 6 } },
        { { u"--worker"_s, u"nobody"_s }, {} },
        { { u"--worker"_s, u"tst_cli:1:holder"_s }, { 7 } },
    };
    for (const auto &[args, expected] : filters) {
        const Run json = run(QStringList { u"list"_s, u"--database"_s, url, u"--json"_s } + args);
        CLI_CHECK(successProblem(json));
        QVERIFY2(json.json().isArray(), qPrintable(json.describe()));
        QVERIFY2(idsOf(json.json()) == expected,
                 qPrintable(u"list %1 --json gave %2, expected %3"_s.arg(
                     args.join(u' '), idsToString(idsOf(json.json())), idsToString(expected))));
        const Run human = run(QStringList { u"list"_s, u"--database"_s, url } + args);
        CLI_CHECK(successProblem(human));
        QVERIFY2(idsOfTable(human.out) == expected,
                 qPrintable(
                     u"list %1 gave %2, expected %3"_s.arg(
                         args.join(u' '), idsToString(idsOfTable(human.out)), idsToString(expected))
                     + human.describe()));
        if (expected.isEmpty())
            QCOMPARE(human.out, QByteArray("no jobs\n"));
        else
            QVERIFY2(human.out.startsWith("      ID  STATUS"), qPrintable(human.describe()));
        const bool more = args.contains(u"--limit"_s);
        QCOMPARE(human.out.contains("(more jobs match"), more);
    }
    // Each row of --json is the full job.
    const Run all = run({ u"list"_s, u"--database"_s, url, u"--json"_s });
    const QJsonArray rows = all.json().toArray();
    for (const QJsonValue &row : rows)
        QCOMPARE(row.toObject(), jobJson(url, row.toObject().value(u"id"_s).toInteger()));
    // The failed job shows its error in the table.
    const Run failed = run({ u"list"_s, u"--database"_s, url, u"--status"_s, u"failed"_s });
    QVERIFY2(failed.out.contains("seeded failure"), qPrintable(failed.describe()));
}

void TestCli::show()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    CLI_CALL(enqueueCli(url,
                        { u"Report"_s, u"{\"year\": 2024, \"title\": \"Grüße\"}"_s, u"--queue"_s,
                          u"reports"_s, u"--priority"_s, u"7"_s, u"--max-attempts"_s, u"4"_s,
                          u"--timeout"_s, u"90"_s },
                        &id));
    CLI_CALL(enqueueCli(url, { u"F"_s, u"--max-attempts"_s, u"1"_s }, &id));
    CLI_CALL(finishJob(url, u"F"_s, false));

    const Run human = run({ u"show"_s, u"--database"_s, url, u"1"_s });
    CLI_CHECK(successProblem(human));
    const QString text = QString::fromUtf8(human.out);
    for (const QString &line :
         { u"job 1\n"_s, u"  type:        Report\n"_s, u"  status:      queued\n"_s,
           u"  queue:       reports   priority: 7\n"_s, u"  attempts:    0 of 4\n"_s,
           u"  timeout:     90 s\n"_s, u"  locked by:   -\n"_s, u"\"year\": 2024"_s,
           u"\"title\": \"Grüße\""_s, u"last error:\n-\n"_s, u"result:\n-\n"_s }) {
        QVERIFY2(text.contains(line),
                 qPrintable(u"show lacks '%1'"_s.arg(line) + human.describe()));
    }
    const Run json = run({ u"show"_s, u"--database"_s, url, u"--json"_s, u"1"_s });
    CLI_CHECK(successProblem(json));
    QString problem;
    QCOMPARE(jsonObjectOf(json, &problem), jobJson(url, 1));
    CLI_CHECK(problem);
    for (const QString &key :
         { u"id"_s, u"type"_s, u"status"_s, u"queue"_s, u"priority"_s, u"attempts"_s,
           u"max_attempts"_s, u"timeout_seconds"_s, u"run_at"_s, u"created_at"_s, u"updated_at"_s,
           u"locked_at"_s, u"locked_by"_s, u"started_at"_s, u"finished_at"_s, u"payload"_s,
           u"last_error"_s, u"result"_s }) {
        QVERIFY2(json.json().toObject().contains(key),
                 qPrintable(u"show --json lacks %1"_s.arg(key)));
    }

    const Run failedHuman = run({ u"show"_s, u"--database"_s, url, u"2"_s });
    CLI_CHECK(successProblem(failedHuman));
    QVERIFY2(failedHuman.out.contains("status:      failed"), qPrintable(failedHuman.describe()));
    QVERIFY2(failedHuman.out.contains("\"message\": \"seeded failure\""),
             qPrintable(failedHuman.describe()));
    QVERIFY2(failedHuman.out.contains("attempts:    1 of 1"), qPrintable(failedHuman.describe()));
    const Run failedJson = run({ u"show"_s, u"--database"_s, url, u"--json"_s, u"2"_s });
    QCOMPARE(failedJson.json()
                 .toObject()
                 .value(u"last_error"_s)
                 .toObject()
                 .value(u"message"_s)
                 .toString(),
             u"seeded failure"_s);
}

void TestCli::retryCancelDelete()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    for (int i = 0; i < 4; ++i)
        CLI_CALL(enqueueCli(url, { u"T"_s, u"--in"_s, u"3600"_s }, &id));
    QCOMPARE(id, 4);
    auto cli = [&](const QStringList &args) {
        return run(QStringList { args.first(), u"--database"_s, url } + args.mid(1));
    };

    // cancel: one, then several with --json.
    Run r = cli({ u"cancel"_s, u"1"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.out, QByteArray("1 job cancelled\n"));
    QCOMPARE(statusOf(url, 1), u"cancelled"_s);
    r = cli({ u"cancel"_s, u"--json"_s, u"2"_s, u"3"_s, u"2"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.json().toObject(),
             (QJsonObject { { u"changed"_s, 2 }, { u"ids"_s, QJsonArray { 2, 3 } } }));
    QCOMPARE(statusOf(url, 2), u"cancelled"_s);
    QCOMPARE(statusOf(url, 3), u"cancelled"_s);
    QCOMPARE(statusOf(url, 4), u"queued"_s);

    // retry: a cancelled job and a scheduled one run now.
    const QDateTime before = QDateTime::currentDateTimeUtc();
    r = cli({ u"retry"_s, u"1"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.out, QByteArray("1 job queued to run now\n"));
    QCOMPARE(statusOf(url, 1), u"queued"_s);
    r = cli({ u"retry"_s, u"--json"_s, u"2"_s, u"4"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.json().toObject(),
             (QJsonObject { { u"changed"_s, 2 }, { u"ids"_s, QJsonArray { 2, 4 } } }));
    for (qint64 job : { 1, 2, 4 }) {
        const QJsonObject j = jobJson(url, job);
        QCOMPARE(j.value(u"status"_s).toString(), u"queued"_s);
        const QDateTime runAt
            = QDateTime::fromString(j.value(u"run_at"_s).toString(), Qt::ISODateWithMs);
        QVERIFY2(runAt < before.addSecs(60),
                 qPrintable(u"job %1 still runs at %2"_s.arg(job).arg(runAt.toString())));
    }
    QCOMPARE(statusOf(url, 3), u"cancelled"_s);

    // delete: one, then several with --json.
    r = cli({ u"delete"_s, u"3"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.out, QByteArray("1 job deleted\n"));
    QCOMPARE(statusOf(url, 3), u"<gone>"_s);
    r = cli({ u"delete"_s, u"1"_s, u"2"_s, u"4"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.out, QByteArray("3 jobs deleted\n"));
    r = cli({ u"list"_s });
    QCOMPARE(r.out, QByteArray("no jobs\n"));

    CLI_CALL(enqueueCli(url, { u"T"_s }, &id));
    CLI_CALL(enqueueCli(url, { u"T"_s }, &id));
    r = cli({ u"delete"_s, u"--json"_s, QString::number(id - 1), QString::number(id) });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.json().toObject(),
             (QJsonObject { { u"changed"_s, 2 }, { u"ids"_s, QJsonArray { id - 1, id } } }));
    QCOMPARE(snapshot(url), QByteArray("[]"));
}

void TestCli::stats()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));

    Run r = run({ u"stats"_s, u"--database"_s, url });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.out, QByteArray("no jobs\n"));
    r = run({ u"stats"_s, u"--database"_s, url, u"--json"_s });
    CLI_CHECK(successProblem(r));
    QCOMPARE(r.json(), QJsonValue(QJsonArray()));

    qint64 id = 0;
    CLI_CALL(enqueueCli(url, { u"A"_s }, &id));
    CLI_CALL(enqueueCli(url, { u"A"_s }, &id));
    CLI_CALL(enqueueCli(url, { u"A"_s }, &id));
    CLI_CHECK(successProblem(run({ u"cancel"_s, u"--database"_s, url, u"3"_s })));
    CLI_CALL(enqueueCli(url, { u"B"_s }, &id));
    CLI_CALL(finishJob(url, u"B"_s, true));
    CLI_CALL(enqueueCli(url, { u"B"_s, u"--max-attempts"_s, u"1"_s }, &id));
    CLI_CALL(finishJob(url, u"B"_s, false));
    CLI_CALL(enqueueCli(url, { u"B"_s, u"--max-attempts"_s, u"5"_s }, &id));
    CLI_CALL(finishJob(url, u"B"_s, false)); // retry

    // type -> queued, locked, retry, success, failed, cancelled
    const QHash<QString, QList<qint64>> expected { { u"A"_s, { 2, 0, 0, 0, 0, 1 } },
                                                   { u"B"_s, { 0, 0, 1, 1, 1, 0 } } };
    const QStringList keys { u"queued"_s,  u"locked"_s, u"retry"_s,
                             u"success"_s, u"failed"_s, u"cancelled"_s };

    r = run({ u"stats"_s, u"--database"_s, url, u"--json"_s, u"--window"_s, u"600"_s });
    CLI_CHECK(successProblem(r));
    const QJsonArray array = r.json().toArray();
    QCOMPARE(array.size(), 2);
    QHash<QString, QList<qint64>> fromJson;
    for (const QJsonValue &v : array) {
        const QJsonObject o = v.toObject();
        QList<qint64> counts;
        for (const QString &key : keys)
            counts << o.value(key).toInteger(-1);
        fromJson.insert(o.value(u"type"_s).toString(), counts);
        QCOMPARE(o.value(u"window_seconds"_s).toInt(), 600);
        if (o.value(u"type"_s) == u"B"_s) {
            QCOMPARE(o.value(u"succeeded_in_window"_s).toInteger(), 1);
            QCOMPARE(o.value(u"failed_in_window"_s).toInteger(), 1);
            QCOMPARE(o.value(u"success_rate"_s).toDouble(), 0.5);
        }
    }
    QCOMPARE(fromJson, expected);

    r = run({ u"stats"_s, u"--database"_s, url });
    CLI_CHECK(successProblem(r));
    const QList<QByteArray> lines = r.out.split('\n');
    QVERIFY2(lines.value(0).simplified().startsWith(
                 "TYPE QUEUED RUNNING RETRY SUCCESS FAILED CANCELLED"),
             qPrintable(r.describe()));
    QHash<QString, QList<qint64>> fromTable;
    for (const QByteArray &line : lines.mid(1)) {
        const QList<QByteArray> cells = line.simplified().split(' ');
        if (cells.size() < 7 || line.startsWith('('))
            continue;
        QList<qint64> counts;
        for (int i = 1; i <= 6; ++i)
            counts << cells.at(i).toLongLong();
        fromTable.insert(QString::fromUtf8(cells.at(0)), counts);
    }
    QVERIFY2(fromTable == fromJson, qPrintable(r.describe()));
    QVERIFY2(r.out.contains("(rates and durations over the last 3600 s)"),
             qPrintable(r.describe()));
}

// --- refused input -----------------------------------------------------------------------

void TestCli::badInput_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QStringList>("args"); // %URL% is the seeded database, %DIR% the test directory
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QStringList>("needles");
    QTest::addColumn<QStringList>("forbidden");

    const QString db = u"--database"_s;
    const QString U = u"%URL%"_s;
    const QString unreachable = u"postgresql://oddjobs:s3cr3t-pw@127.0.0.1:1/jobs"_s;
    const QStringList secret { u"s3cr3t-pw"_s };
    struct Row
    {
        const char *name;
        QStringList args;
        int code;
        QStringList needles;
        QStringList forbidden = {};
        QByteArray input = {};
    };
    const QList<Row> rows {
        // usage
        { "unknown option",
          { u"list"_s, db, U, u"--frobnicate"_s },
          2,
          { u"'frobnicate'"_s, u"oddjobs list --help"_s } },
        { "unknown worker option",
          { u"--headless"_s, db, U, u"--frobnicate"_s },
          2,
          { u"'frobnicate'"_s } },
        { "option of another command",
          { u"list"_s, db, U, u"--priority"_s, u"1"_s },
          2,
          { u"'priority'"_s } },
        { "unknown subcommand",
          { u"frobnicate"_s, db, U },
          2,
          { u"unknown command 'frobnicate'"_s } },
        { "missing option value", { u"list"_s, db, U, u"--status"_s }, 2, { u"status"_s } },
        { "unexpected argument", { u"migrate"_s, db, U, u"now"_s }, 2, { u"'now'"_s } },
        { "unknown status",
          { u"list"_s, db, U, u"--status"_s, u"sleeping"_s },
          2,
          { u"unknown status 'sleeping'"_s, u"queued"_s } },
        { "line breaks in a value",
          { u"list"_s, db, U, u"--status"_s, u"queued\nfailed\r\nx"_s },
          2,
          { u"unknown status 'queued failed x'"_s } },
        { "limit zero", { u"list"_s, db, U, u"--limit"_s, u"0"_s }, 2, { u"--limit"_s, u"'0'"_s } },
        { "limit too big", { u"list"_s, db, U, u"--limit"_s, u"100001"_s }, 2, { u"--limit"_s } },
        { "limit not a number", { u"list"_s, db, U, u"--limit"_s, u"ten"_s }, 2, { u"--limit"_s } },
        { "window zero", { u"stats"_s, db, U, u"--window"_s, u"0"_s }, 2, { u"--window"_s } },
        // enqueue
        { "no job type", { u"enqueue"_s, db, U }, 2, { u"job type"_s } },
        { "empty job type", { u"enqueue"_s, db, U, u" "_s }, 2, { u"job type"_s } },
        { "unquoted JSON",
          { u"enqueue"_s, db, U, u"T"_s, u"{\"a\":"_s, u"1}"_s },
          2,
          { u"quote the JSON"_s } },
        { "malformed JSON",
          { u"enqueue"_s, db, U, u"T"_s, u"{\"a\": 1,\n \"b\": }"_s },
          2,
          { u"not valid JSON"_s, u"line 2, column"_s } },
        { "two JSON values",
          { u"enqueue"_s, db, U, u"T"_s, u"{} {}"_s },
          2,
          { u"not valid JSON"_s } },
        { "malformed JSON on stdin",
          { u"enqueue"_s, db, U, u"T"_s, u"-"_s },
          2,
          { u"line 1, column"_s },
          {},
          "[1, 2" },
        { "payload too large",
          { u"enqueue"_s, db, U, u"T"_s, u"-"_s },
          2,
          { u"limit"_s },
          {},
          "\"" + QByteArray(1100 * 1024, 'x') + "\"" },
        { "JSON nested 10000 levels deep",
          { u"enqueue"_s, db, U, u"T"_s, u"-"_s },
          2,
          { u"not valid JSON"_s, u"too deeply nested"_s },
          {},
          QByteArray(10000, '[') + QByteArray(10000, ']') },
        { "JSON nested deeper than the store keeps",
          { u"enqueue"_s, db, U, u"T"_s, u"-"_s },
          2,
          { u"nested more than 1000 levels deep"_s },
          {},
          QByteArray(1000, '[') + QByteArray(1000, ']') },
        { "bad run-at",
          { u"enqueue"_s, db, U, u"T"_s, u"--run-at"_s, u"next tuesday"_s },
          2,
          { u"--run-at"_s, u"'next tuesday'"_s } },
        { "impossible run-at",
          { u"enqueue"_s, db, U, u"T"_s, u"--run-at"_s, u"2026-02-30T10:00:00Z"_s },
          2,
          { u"--run-at"_s } },
        { "run-at and in",
          { u"enqueue"_s, db, U, u"T"_s, u"--run-at"_s, u"2030-01-01T00:00:00Z"_s, u"--in"_s,
            u"5"_s },
          2,
          { u"not both"_s } },
        { "negative in", { u"enqueue"_s, db, U, u"T"_s, u"--in=-5"_s }, 2, { u"--in"_s } },
        { "in not a number",
          { u"enqueue"_s, db, U, u"T"_s, u"--in"_s, u"soon"_s },
          2,
          { u"--in"_s } },
        { "priority too big",
          { u"enqueue"_s, db, U, u"T"_s, u"--priority"_s, u"99999999"_s },
          2,
          { u"--priority"_s, u"-1000000 to 1000000"_s } },
        { "priority not a number",
          { u"enqueue"_s, db, U, u"T"_s, u"--priority"_s, u"high"_s },
          2,
          { u"--priority"_s } },
        { "max-attempts zero",
          { u"enqueue"_s, db, U, u"T"_s, u"--max-attempts"_s, u"0"_s },
          2,
          { u"--max-attempts"_s } },
        { "timeout zero",
          { u"enqueue"_s, db, U, u"T"_s, u"--timeout"_s, u"0"_s },
          2,
          { u"--timeout"_s } },
        { "empty queue",
          { u"enqueue"_s, db, U, u"T"_s, u"--queue"_s, u" "_s },
          2,
          { u"--queue"_s } },
        // ids
        { "non-numeric id", { u"show"_s, db, U, u"abc"_s }, 2, { u"'abc' is not a job id"_s } },
        { "zero id", { u"delete"_s, db, U, u"0"_s }, 2, { u"'0' is not a job id"_s } },
        { "one bad id of several", { u"cancel"_s, db, U, u"1"_s, u"x1"_s }, 2, { u"'x1'"_s } },
        { "show: missing id", { u"show"_s, db, U }, 2, { u"needs a job id"_s } },
        { "retry: missing id", { u"retry"_s, db, U }, 2, { u"needs a job id"_s } },
        { "cancel: missing id", { u"cancel"_s, db, U }, 2, { u"needs a job id"_s } },
        { "delete: missing id", { u"delete"_s, db, U, u"--json"_s }, 2, { u"needs a job id"_s } },
        { "show: two ids", { u"show"_s, db, U, u"1"_s, u"2"_s }, 2, { u"one job id"_s } },
        { "show: nonexistent", { u"show"_s, db, U, u"99"_s }, 1, { u"job 99 does not exist"_s } },
        { "retry: nonexistent", { u"retry"_s, db, U, u"99"_s }, 1, { u"job 99 does not exist"_s } },
        { "cancel: nonexistent",
          { u"cancel"_s, db, U, u"99"_s },
          1,
          { u"job 99 does not exist"_s } },
        { "delete: nonexistent",
          { u"delete"_s, db, U, u"99"_s },
          1,
          { u"job 99 does not exist"_s } },
        { "delete: one nonexistent of several",
          { u"delete"_s, db, U, u"1"_s, u"2"_s, u"99"_s },
          1,
          { u"job 99"_s, u"nothing was changed"_s } },
        { "cancel: one nonexistent of several",
          { u"cancel"_s, db, U, u"--json"_s, u"1"_s, u"99"_s },
          1,
          { u"job 99"_s } },
        { "retry: a success job",
          { u"retry"_s, db, U, u"3"_s, u"4"_s, u"2"_s },
          1,
          { u"job 2 is success"_s, u"nothing was changed"_s } },
        { "retry --json: a success job",
          { u"retry"_s, db, U, u"--json"_s, u"2"_s },
          1,
          { u"job 2"_s } },
        { "cancel: a finished job",
          { u"cancel"_s, db, U, u"1"_s, u"2"_s },
          1,
          { u"job 2 is already success"_s, u"nothing was changed"_s } },
        { "cancel: a failed job",
          { u"cancel"_s, db, U, u"1"_s, u"3"_s },
          1,
          { u"job 3 is already failed"_s } },
        { "cancel: a cancelled job",
          { u"cancel"_s, db, U, u"4"_s, u"1"_s },
          1,
          { u"job 4 is already cancelled"_s } },
        // where
        { "bad URL", { u"list"_s, db, u"nosuch://x"_s }, 2, { u"nosuch://x"_s, u"sqlite:"_s } },
        { "bad URL for the worker",
          { u"--headless"_s, db, u"nosuch://x"_s },
          2,
          { u"nosuch://x"_s } },
        { "bad SQLite URL", { u"migrate"_s, db, u"sqlite:"_s }, 2, { u"sqlite:"_s } },
        { "unreachable database", { u"list"_s, db, unreachable }, 1, { u"127.0.0.1"_s }, secret },
        { "unreachable database: migrate",
          { u"migrate"_s, db, unreachable },
          1,
          { u"127.0.0.1"_s },
          secret },
        { "unreachable database: worker",
          { u"--headless"_s, db, unreachable },
          1,
          { u"127.0.0.1"_s },
          secret },
        { "invalid table name",
          { u"list"_s, db, U, u"--table"_s, u"jobs; drop table jobs"_s },
          2,
          { u"table name"_s } },
        { "invalid table name: migrate",
          { u"migrate"_s, db, U, u"--table"_s, u"1jobs"_s },
          2,
          { u"table name"_s } },
        { "invalid table name: worker",
          { u"--headless"_s, db, U, u"--table"_s, u"a.b.c"_s },
          2,
          { u"table name"_s } },
        { "table not migrated",
          { u"list"_s, db, U, u"--table"_s, u"other"_s },
          1,
          { u"oddjobs migrate"_s } },
        { "worker: table not migrated",
          { u"--headless"_s, db, U, u"--table"_s, u"other"_s, u"--no-migrate"_s },
          1,
          { u"oddjobs migrate"_s } },
        // config
        { "config file missing",
          { u"list"_s, db, U, u"--config"_s, u"%DIR%/nope.ini"_s },
          2,
          { u"does not exist"_s } },
        { "config: unknown key",
          { u"list"_s, db, U, u"--config"_s, u"%DIR%/unknown-key.ini"_s },
          2,
          { u"unknown setting 'frobnicate'"_s, u"unknown-key.ini"_s } },
        { "config: unknown section",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/unknown-section.ini"_s },
          2,
          { u"unknown section [workers]"_s } },
        { "config: bad value",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/bad-value.ini"_s },
          2,
          { u"'concurrency'"_s, u"'lots'"_s } },
        { "config: bad log format",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/bad-log-format.ini"_s },
          2,
          { u"'xml'"_s } },
        { "config: bad boolean",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/bad-boolean.ini"_s },
          2,
          { u"'delete-successful'"_s, u"true or false"_s, u"'maybe'"_s } },
        { "config: claim batch too big",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/bad-claim-batch.ini"_s },
          2,
          { u"'claim-batch'"_s, u"1 to 10000"_s } },
        { "config: bad URL",
          { u"list"_s, u"--config"_s, u"%DIR%/bad-url.ini"_s },
          2,
          { u"nosuch://x"_s } },
        { "config: handler without command",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/empty-handler.ini"_s },
          2,
          { u"oddjobs.echo"_s } },
        { "handler program missing",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/missing-program.ini"_s },
          2,
          { u"no-such-program"_s, u"does not exist"_s } },
        { "handler program not executable",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/not-executable.ini"_s },
          2,
          { u"not-executable.sh"_s, u"not an executable"_s } },
        { "handler program a directory",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/directory-program.ini"_s },
          2,
          { u"not an executable"_s } },
        { "handler program not in PATH",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/not-in-path.ini"_s },
          2,
          { u"oddjobs-no-such-program-in-path"_s, u"PATH"_s } },
        { "handler: unterminated quote",
          { u"--headless"_s, db, U, u"--config"_s, u"%DIR%/unterminated-quote.ini"_s },
          2,
          { u"quote"_s } },
        // worker settings
        { "concurrency zero",
          { u"--headless"_s, db, U, u"--concurrency"_s, u"0"_s },
          2,
          { u"--concurrency"_s } },
        { "concurrency too big",
          { u"--headless"_s, db, U, u"--concurrency"_s, u"5000"_s },
          2,
          { u"1 to 1024"_s } },
        { "poll interval zero",
          { u"--headless"_s, db, U, u"--poll-interval"_s, u"0"_s },
          2,
          { u"--poll-interval"_s } },
        { "lock timeout one",
          { u"--headless"_s, db, U, u"--lock-timeout"_s, u"1"_s },
          2,
          { u"--lock-timeout"_s } },
        { "shutdown timeout negative",
          { u"--headless"_s, db, U, u"--shutdown-timeout=-1"_s },
          2,
          { u"--shutdown-timeout"_s } },
        { "log level",
          { u"--headless"_s, db, U, u"--log-level"_s, u"loud"_s },
          2,
          { u"'loud'"_s } },
        { "log format",
          { u"--headless"_s, db, U, u"--log-format"_s, u"xml"_s },
          2,
          { u"'xml'"_s } },
        { "claim batch zero",
          { u"--headless"_s, db, U, u"--claim-batch"_s, u"0"_s },
          2,
          { u"--claim-batch"_s, u"1 to 10000"_s } },
        { "claim connections too many",
          { u"--headless"_s, db, U, u"--claim-connections"_s, u"65"_s },
          2,
          { u"--claim-connections"_s, u"1 to 64"_s } },
        { "prefetch negative",
          { u"--headless"_s, db, U, u"--prefetch=-1"_s },
          2,
          { u"--prefetch"_s } },
        { "default max attempts zero",
          { u"--headless"_s, db, U, u"--default-max-attempts"_s, u"0"_s },
          2,
          { u"--default-max-attempts"_s } },
        { "default timeout not a number",
          { u"--headless"_s, db, U, u"--default-timeout"_s, u"soon"_s },
          2,
          { u"--default-timeout"_s, u"'soon'"_s } },
        { "delete and keep successful",
          { u"--headless"_s, db, U, u"--delete-successful"_s, u"--keep-successful"_s },
          2,
          { u"--delete-successful"_s, u"--keep-successful"_s, u"not both"_s } },
        { "retention negative",
          { u"--headless"_s, db, U, u"--retention=-5"_s },
          2,
          { u"--retention"_s } },
        { "empty worker queue",
          { u"--headless"_s, db, U, u"--queue"_s, u""_s },
          2,
          { u"--queue"_s } },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const Row &row : rows) {
            QTest::addRow("%s/%s", qPrintable(backend), row.name)
                << backend << row.args << row.input << row.code << row.needles << row.forbidden;
        }
    }
}

void TestCli::badInput()
{
    QFETCH(QString, backend);
    QFETCH(QStringList, args);
    QFETCH(QByteArray, input);
    QFETCH(int, exitCode);
    QFETCH(QStringList, needles);
    QFETCH(QStringList, forbidden);

    // One seeded database per backend: a refused command changes nothing, so all rows share it.
    if (!m_seeded.contains(backend)) {
        ODDJOBS_FRESH_URL(backend, url);
        CLI_CALL(seed(url));
        m_seeded.insert(backend, url);
    }
    const QString url = m_seeded.value(backend);
    for (QString &arg : args) {
        arg.replace(u"%URL%"_s, url);
        arg.replace(u"%DIR%"_s, m_tmp->path());
    }
    if (const QString password = QUrl(url).password(); !password.isEmpty())
        forbidden << password;

    const QByteArray before = snapshot(url);
    QVERIFY2(before.startsWith("[{"), before.constData());
    const Run r = run(args, input, 15000);
    CLI_CHECK(errorProblem(r, exitCode, needles, forbidden));
    QCOMPARE(snapshot(url), before);
}

void TestCli::malformedJson_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column"); // of the offending character; Qt may point one past it
    const QList<std::tuple<const char *, QString, int, int>> cases {
        { "missing value", u"{\"a\": 1,\n \"b\": }"_s, 2, 7 },
        { "missing colon", u"{\"a\" 1}"_s, 1, 6 },
        { "double comma", u"[1,,2]"_s, 1, 4 },
        { "bad character", u"\n\n   {\"b\": @}"_s, 3, 10 },
        { "unterminated string", u"\"abc"_s, 1, 5 },
        { "trailing value", u"{\"a\": 1} 2"_s, 1, 10 },
        { "bare word", u"x"_s, 1, 1 },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const auto &[name, text, line, column] : cases)
            QTest::addRow("%s/%s", qPrintable(backend), name) << backend << text << line << column;
    }
}

void TestCli::malformedJson()
{
    QFETCH(QString, backend);
    QFETCH(QString, text);
    QFETCH(int, line);
    QFETCH(int, column);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    const Run r = run({ u"enqueue"_s, u"--database"_s, url, u"T"_s, text });
    CLI_CHECK(errorProblem(r, 2, { u"not valid JSON"_s }));
    const auto match
        = QRegularExpression(u"at line (\\d+), column (\\d+)"_s).match(QString::fromUtf8(r.err));
    QVERIFY2(match.hasMatch(), qPrintable(r.describe()));
    QCOMPARE(match.captured(1).toInt(), line);
    const int reported = match.captured(2).toInt();
    QVERIFY2(reported == column || reported == column + 1,
             qPrintable(u"column %1, expected %2"_s.arg(reported).arg(column) + r.describe()));
    QCOMPARE(snapshot(url), QByteArray("[]"));
}

// --- the headless worker -----------------------------------------------------------------

void TestCli::headlessRunsJobs()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    // The worker migrates on start; enqueue needs the table first.
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    for (int i = 1; i <= 3; ++i)
        CLI_CALL(enqueueCli(url, { u"oddjobs.echo"_s, u"{\"n\": %1}"_s.arg(i) }, &id));
    CLI_CALL(enqueueCli(
        url, { u"oddjobs.fail"_s, u"{\"message\": \"on purpose\"}"_s, u"--max-attempts"_s, u"1"_s },
        &id));
    CLI_CALL(enqueueCli(url, { u"NoHandler"_s }, &id));

    Worker *worker = startWorker(QStringList { u"--headless"_s, u"--database"_s, url } + FastPoll);
    for (qint64 job = 1; job <= 3; ++job)
        QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, job), u"success"_s, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, 4), u"failed"_s, 10000);
    // Enqueued while the worker runs: picked up within a few polls.
    CLI_CALL(enqueueCli(url, { u"oddjobs.echo"_s, u"\"late\""_s }, &id));
    QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, id), u"success"_s, 10000);
    CLI_CALL(stopWorker(worker));

    for (qint64 job = 1; job <= 3; ++job)
        QCOMPARE(jobJson(url, job).value(u"result"_s), QJsonValue(QJsonObject { { u"n"_s, job } }));
    QCOMPARE(jobJson(url, id).value(u"result"_s), QJsonValue(u"late"_s));
    QCOMPARE(jobJson(url, 4).value(u"last_error"_s).toObject().value(u"message"_s).toString(),
             u"on purpose"_s);
    QCOMPARE(statusOf(url, 5), u"queued"_s); // no handler: never claimed
    const QByteArray &out = worker->output();
    QVERIFY2(out.contains("job-success job=1"), qPrintable(worker->describe()));
    QVERIFY2(out.contains("job-permanently-failed job=4 type=oddjobs.fail attempt=1"),
             qPrintable(worker->describe()));
    QVERIFY2(out.contains("stopping"), qPrintable(worker->describe()));
}

// The runner settings beyond the basic ones, from the config file and from flags over it: the
// worker states them at start and acts on them.
void TestCli::headlessWorkerSettings()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 echo = 0;
    qint64 failing = 0;
    qint64 sleeping = 0;
    CLI_CALL(enqueueCli(url, { u"oddjobs.echo"_s, u"{\"n\": 1}"_s }, &echo));
    CLI_CALL(enqueueCli(url, { u"oddjobs.fail"_s, u"{\"message\": \"no\"}"_s }, &failing));
    CLI_CALL(enqueueCli(url, { u"oddjobs.sleep"_s, u"{\"seconds\": 60}"_s }, &sleeping));
    const QString config = m_tmp->filePath(u"settings-%1.ini"_s.arg(backend));
    QVERIFY(writeFile(config,
                      "default-max-attempts = 1\ndelete-successful = yes\nclaim-batch = 1\n"
                      "prefetch = 2\ndefault-timeout = 600\n"));
    Worker *worker
        = startWorker(QStringList { u"--headless"_s, u"--database"_s, url, u"--config"_s, config,
                                    u"--default-timeout"_s, u"1"_s, u"--claim-connections"_s,
                                    u"3"_s, u"--retention"_s, u"86400"_s }
                      + FastPoll);
    // Deleted on success; one attempt for jobs without their own max attempts; one second
    // for jobs without their own timeout (the flag over the file's 600).
    QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, echo), u"<gone>"_s, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, failing), u"failed"_s, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, sleeping), u"failed"_s, 15000);
    QCOMPARE(jobJson(url, failing).value(u"attempts"_s).toInt(), 1);
    const QJsonObject timedOut = jobJson(url, sleeping);
    QCOMPARE(timedOut.value(u"attempts"_s).toInt(), 1);
    QVERIFY2(timedOut.value(u"last_error"_s)
                 .toObject()
                 .value(u"message"_s)
                 .toString()
                 .contains(u"timed out after 1 s"_s),
             qPrintable(QString::fromUtf8(QJsonDocument(timedOut).toJson())));
    CLI_CALL(stopWorker(worker));

    const QByteArray &out = worker->output();
    QByteArray expected = "at most 1 job(s) per claim, prefetch 2";
    if (backend == u"postgresql"_s)
        expected += ", 3 claim connection(s)";
    QVERIFY2(out.contains(expected), qPrintable(worker->describe()));
    QVERIFY2(out.contains("without their own limits jobs get 1 attempt(s) of 1 s"),
             qPrintable(worker->describe()));
    QVERIFY2(out.contains("succeeded jobs deleted, finished jobs pruned after 86400 s"),
             qPrintable(worker->describe()));

    // The flag over the file's delete-successful.
    CLI_CALL(enqueueCli(url, { u"oddjobs.echo"_s, u"{\"n\": 2}"_s }, &echo));
    Worker *keeping = startWorker(QStringList { u"--headless"_s, u"--database"_s, url,
                                                u"--config"_s, config, u"--keep-successful"_s }
                                  + FastPoll);
    QTRY_COMPARE_WITH_TIMEOUT(statusOf(url, echo), u"success"_s, 10000);
    CLI_CALL(stopWorker(keeping));
    QVERIFY2(keeping->output().contains("succeeded jobs kept"), qPrintable(keeping->describe()));
}

void TestCli::jsonLogs()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    // A fresh database: the worker migrates it itself, and --demo enqueues its jobs.
    Worker *worker
        = startWorker(QStringList { u"--headless"_s, u"--database"_s, url, u"--log-format"_s,
                                    u"json"_s, u"--demo"_s, u"--shutdown-timeout"_s, u"1"_s }
                      + FastPoll);
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().count("\"event\":\"job-success\"") >= 3,
                              qPrintable(worker->describe()), 15000);
    CLI_CALL(stopWorker(worker));
    const QList<QByteArray> lines = worker->output().split('\n');
    QSet<QString> events;
    int parsed = 0;
    for (const QByteArray &line : lines) {
        if (line.isEmpty())
            continue;
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
        QVERIFY2(error.error == QJsonParseError::NoError && doc.isObject(),
                 qPrintable(u"not a JSON object: "_s + QString::fromUtf8(line)));
        const QJsonObject o = doc.object();
        QVERIFY2(o.value(u"event"_s).isString() && !o.value(u"event"_s).toString().isEmpty(),
                 line.constData());
        QVERIFY2(o.value(u"time"_s).isString(), line.constData());
        QVERIFY2(o.value(u"level"_s).isString(), line.constData());
        events << o.value(u"event"_s).toString();
        if (o.value(u"event"_s) == u"job-success"_s) {
            QVERIFY2(o.value(u"job_id"_s).toInteger() > 0, line.constData());
            QVERIFY2(o.value(u"job_type"_s).isString(), line.constData());
        }
        ++parsed;
    }
    QVERIFY2(parsed >= 5, qPrintable(worker->describe()));
    for (const QString &event : { u"job-start"_s, u"job-success"_s, u"state"_s })
        QVERIFY2(events.contains(event),
                 qPrintable(u"no %1 event"_s.arg(event) + worker->describe()));
}

void TestCli::sigtermLetsJobFinish()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    CLI_CALL(enqueueCli(url, { u"oddjobs.sleep"_s, u"{\"seconds\": 1}"_s }, &id));
    Worker *worker = startWorker(QStringList { u"--headless"_s, u"--database"_s, url } + FastPoll);
    // In flight once the worker says so (polling the table could miss a short job).
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains(jobStartLine(id)),
                              qPrintable(worker->describe()), 10000);
    QElapsedTimer timer;
    timer.start();
    CLI_CALL(stopWorker(worker, 10000));
    QVERIFY2(timer.elapsed() < 5000, qPrintable(u"stopping took %1 ms"_s.arg(timer.elapsed())));
    const QJsonObject job = jobJson(url, id);
    QCOMPARE(job.value(u"status"_s).toString(), u"success"_s);
    QCOMPARE(job.value(u"result"_s).toObject(), (QJsonObject { { u"slept"_s, 1 } }));
    QVERIFY2(worker->output().contains("stopping: running jobs get 30 s"),
             qPrintable(worker->describe()));
    QVERIFY2(!worker->output().contains("stopping at once"), qPrintable(worker->describe()));
}

void TestCli::sigtermHandsBackOverrunningJob()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    CLI_CALL(enqueueCli(url, { u"oddjobs.sleep"_s, u"{\"seconds\": 30}"_s }, &id));
    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--shutdown-timeout"_s, u"1"_s }
        + FastPoll);
    // In flight once the worker says so (polling the table could miss a short job).
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains(jobStartLine(id)),
                              qPrintable(worker->describe()), 10000);
    QCOMPARE(statusOf(url, id), u"locked"_s);
    QElapsedTimer timer;
    timer.start();
    CLI_CALL(stopWorker(worker, 10000));
    QVERIFY2(timer.elapsed() >= 900,
             qPrintable(u"stopped after %1 ms, before the 1 s grace"_s.arg(timer.elapsed())));
    QVERIFY2(timer.elapsed() < 6000, qPrintable(u"stopping took %1 ms"_s.arg(timer.elapsed())));
    const QJsonObject job = jobJson(url, id);
    QVERIFY2(job.value(u"status"_s) == u"queued"_s,
             qPrintable(u"handed back as "_s + QString::fromUtf8(QJsonDocument(job).toJson())));
    QVERIFY(job.value(u"locked_by"_s).isNull());
    QVERIFY(job.value(u"locked_at"_s).isNull());
    QCOMPARE(job.value(u"attempts"_s).toInt(-1), 0); // the interrupted attempt does not count
    QVERIFY(job.value(u"result"_s).isNull());
}

void TestCli::secondSigtermStopsAtOnce()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    qint64 id = 0;
    CLI_CALL(enqueueCli(url, { u"oddjobs.sleep"_s, u"{\"seconds\": 30}"_s }, &id));
    Worker *worker = startWorker(QStringList { u"--headless"_s, u"--database"_s, url } + FastPoll);
    // In flight once the worker says so (polling the table could miss a short job).
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains(jobStartLine(id)),
                              qPrintable(worker->describe()), 10000);
    QCOMPARE(statusOf(url, id), u"locked"_s);
    worker->process.terminate();
    QTRY_VERIFY2_WITH_TIMEOUT(worker->output().contains("stopping: running jobs get 30 s"),
                              qPrintable(worker->describe()), 5000);
    QVERIFY(worker->isRunning()); // the sleep has 29 s to go and the grace is 30 s
    QElapsedTimer timer;
    timer.start();
    CLI_CALL(stopWorker(worker, 5000));
    QVERIFY2(timer.elapsed() < 3000,
             qPrintable(u"stopping at once took %1 ms"_s.arg(timer.elapsed())));
    QVERIFY2(worker->output().contains("stopping at once"), qPrintable(worker->describe()));
    const QJsonObject job = jobJson(url, id);
    QCOMPARE(job.value(u"status"_s).toString(), u"queued"_s);
    QVERIFY(job.value(u"locked_by"_s).isNull());
}

void TestCli::pidFileGuard()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    const QString pidFile = m_tmp->filePath(u"guard-%1.pid"_s.arg(backend));
    const QStringList args
        = QStringList { u"--headless"_s, u"--database"_s, url, u"--pid-file"_s, pidFile }
        + FastPoll;
    Worker *first = startWorker(args);
    QTRY_VERIFY2_WITH_TIMEOUT(isReady(first), qPrintable(first->describe()), 10000);
    const QString pid = QString::number(first->process.processId());
    QCOMPARE(readFile(pidFile).trimmed(), pid.toUtf8());

    const Run second = run(args, {}, 10000);
    CLI_CHECK(errorProblem(second, 1, { u"pid "_s + pid, pidFile }));
    QVERIFY(first->isRunning());
    QCOMPARE(readFile(pidFile).trimmed(), pid.toUtf8());

    CLI_CALL(stopWorker(first));
    QVERIFY2(!QFile::exists(pidFile), "the pid file outlived the worker");

    // A pid file nobody can write is a configuration error.
    const Run unwritable = run({ u"--headless"_s, u"--database"_s, url, u"--pid-file"_s,
                                 m_tmp->filePath(u"no/such/dir/w.pid"_s) },
                               {}, 10000);
    CLI_CHECK(errorProblem(unwritable, 2, { u"pid file"_s }));
}

void TestCli::pidFileStale()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    const QString pidFile = m_tmp->filePath(u"stale-%1.pid"_s.arg(backend));

    // The pid of a process that has exited.
    QProcess gone;
    gone.start(u"/bin/sh"_s, { u"-c"_s, u"exit 0"_s });
    QVERIFY(gone.waitForStarted(5000));
    const qint64 deadPid = gone.processId();
    QVERIFY(gone.waitForFinished(5000));

    const QList<QPair<const char *, QByteArray>> stale {
        { "dead process", QByteArray::number(deadPid) + '\n' },
        // Alive but not an oddjobs process (this test): a pid reused after a crash.
        { "live foreign process", QByteArray::number(QCoreApplication::applicationPid()) },
        { "garbage", "not a pid\n" },
        { "empty", "" },
    };
    for (const auto &[what, contents] : stale) {
        QVERIFY(writeFile(pidFile, contents));
        Worker *worker = startWorker(
            QStringList { u"--headless"_s, u"--database"_s, url, u"--pid-file"_s, pidFile }
            + FastPoll);
        QTRY_VERIFY2_WITH_TIMEOUT(isReady(worker) || !worker->isRunning(),
                                  qPrintable(QString::fromLatin1(what) + worker->describe()),
                                  10000);
        QVERIFY2(
            worker->isRunning(),
            qPrintable(u"a stale pid file (%1) stopped the worker"_s.arg(QString::fromLatin1(what))
                       + worker->describe()));
        QCOMPARE(readFile(pidFile).trimmed(), QByteArray::number(worker->process.processId()));
        CLI_CALL(stopWorker(worker));
        QVERIFY(!QFile::exists(pidFile));
    }
}

// --- process handlers --------------------------------------------------------------------

void TestCli::processHandlerRoundTrip()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    const QString dir = handlerDir();
    // Keeps its input and answers with what it saw. Any file it writes lands in its own dir.
    QVERIFY(writeFile(dir + u"/env.sh"_s, R"(#!/bin/sh
dir=$(dirname "$0")
cat > "$dir/stdin-$ODDJOBS_JOB_ID.json"
printf '{"id": "%s", "type": "%s", "attempt": "%s", "queue": "%s", "argc": %s, "stdin": ' \
    "$ODDJOBS_JOB_ID" "$ODDJOBS_JOB_TYPE" "$ODDJOBS_ATTEMPT" "$ODDJOBS_QUEUE" "$#"
cat "$dir/stdin-$ODDJOBS_JOB_ID.json"
printf '}\n'
)",
                      true));
    const QString config = dir + u"/handlers.ini"_s;
    // proc.env by name, every other type without a handler through the catch-all.
    QVERIFY(writeFile(config,
                      "# process handlers\n[handlers]\nproc.env = \"" + dir.toUtf8()
                          + "/env.sh\"\n* = " + dir.toUtf8() + "/env.sh\n"));

    qint64 objectJob = 0, scalarJob = 0, bareJob = 0;
    CLI_CALL(enqueueCli(url,
                        { u"proc.env"_s,
                          u"{\"greeting\": \"héllo wörld\", \"list\": [1, 2.5, null, true], "
                          "\"nested\": {\"quote\": \"a\\\"b\", \"newline\": \"x\\ny\"}}"_s,
                          u"--queue"_s, u"q one"_s },
                        &objectJob));
    CLI_CALL(enqueueCli(url, { u"proc.env"_s, u"\"just text\""_s }, &scalarJob));
    CLI_CALL(enqueueCli(url, { u"proc.env"_s }, &bareJob));
    qint64 anyJob = 0;
    CLI_CALL(enqueueCli(url, { u"Any.Other-Type"_s, u"[1]"_s }, &anyJob));

    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--config"_s, config } + FastPoll);
    for (qint64 id : { objectJob, scalarJob, bareJob, anyJob })
        QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, id) == u"success"_s,
                                  qPrintable(statusOf(url, id) + worker->describe()), 10000);
    CLI_CALL(stopWorker(worker));

    for (qint64 id : { objectJob, scalarJob, bareJob, anyJob }) {
        const QJsonObject job = jobJson(url, id);
        const QJsonObject result = job.value(u"result"_s).toObject();
        const QJsonObject expected {
            { u"id"_s, QString::number(id) },
            { u"type"_s, id == anyJob ? u"Any.Other-Type"_s : u"proc.env"_s },
            { u"attempt"_s, u"1"_s },
            { u"queue"_s, id == objectJob ? u"q one"_s : u"default"_s },
            { u"argc"_s, 0 },
            { u"stdin"_s, job.value(u"payload"_s) },
        };
        QVERIFY2(result == expected,
                 qPrintable(u"job %1: result %2, expected %3"_s.arg(
                     QString::number(id), QString::fromUtf8(compactJson(result)),
                     QString::fromUtf8(compactJson(expected)))));
        // Standard input is exactly the stored payload as compact JSON.
        QCOMPARE(readFile(dir + u"/stdin-%1.json"_s.arg(id)), compactJson(job.value(u"payload"_s)));
        QVERIFY(job.value(u"last_error"_s).isNull());
    }
}

void TestCli::processHandlerFailures()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    const QString dir = handlerDir();
    QVERIFY(writeFile(dir + u"/exit3.sh"_s,
                      "#!/bin/sh\ncat > /dev/null\necho 'some early noise' >&2\n"
                      "echo \"could not reach the printer for job $ODDJOBS_JOB_ID\" >&2\nexit 3\n",
                      true));
    QVERIFY(writeFile(dir + u"/crash.sh"_s,
                      "#!/bin/sh\ncat > /dev/null\necho 'about to crash' >&2\nkill -KILL $$\n",
                      true));
    QVERIFY(writeFile(
        dir + u"/hang.sh"_s,
        "#!/bin/sh\necho started > \"$(dirname \"$0\")/hang-started\"\nexec sleep 30\n", true));
    const QString config = dir + u"/handlers.ini"_s;
    QVERIFY(writeFile(config,
                      "poll-interval = 5\n[handlers]\n"
                      "proc.exit = "
                          + dir.toUtf8()
                          + "/exit3.sh\n"
                            "proc.crash = "
                          + dir.toUtf8()
                          + "/crash.sh\n"
                            "proc.hang = "
                          + dir.toUtf8() + "/hang.sh\n"));

    qint64 exitOnce = 0, exitRetry = 0, crash = 0, hang = 0;
    CLI_CALL(enqueueCli(url, { u"proc.exit"_s, u"--max-attempts"_s, u"1"_s }, &exitOnce));
    CLI_CALL(enqueueCli(url, { u"proc.exit"_s, u"--max-attempts"_s, u"5"_s }, &exitRetry));
    CLI_CALL(enqueueCli(url, { u"proc.crash"_s, u"--max-attempts"_s, u"1"_s }, &crash));
    CLI_CALL(enqueueCli(
        url, { u"proc.hang"_s, u"--max-attempts"_s, u"1"_s, u"--timeout"_s, u"1"_s }, &hang));

    // The flag overrides the config's 5 s poll interval.
    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--config"_s, config } + FastPoll);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, exitOnce) == u"failed"_s,
                              qPrintable(worker->describe()), 10000);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, exitRetry) == u"retry"_s,
                              qPrintable(worker->describe()), 10000);
    // Read it now: its next attempt is due in 2 s.
    const QJsonObject retried = jobJson(url, exitRetry);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, crash) == u"failed"_s, qPrintable(worker->describe()),
                              10000);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, hang) == u"failed"_s, qPrintable(worker->describe()),
                              15000);
    CLI_CALL(stopWorker(worker));

    for (const QJsonObject &job : { jobJson(url, exitOnce), retried }) {
        const qint64 id = job.value(u"id"_s).toInteger();
        const QJsonObject error = job.value(u"last_error"_s).toObject();
        QCOMPARE(error.value(u"kind"_s).toString(), u"exit"_s);
        QCOMPARE(error.value(u"exit_code"_s).toInt(), 3);
        QCOMPARE(error.value(u"message"_s).toString(),
                 u"some early noise | could not reach the printer for job %1"_s.arg(id));
        QVERIFY(job.value(u"result"_s).isNull());
        QCOMPARE(job.value(u"attempts"_s).toInt(), 1);
    }
    const QJsonObject crashError = jobJson(url, crash).value(u"last_error"_s).toObject();
    QCOMPARE(crashError.value(u"kind"_s).toString(), u"crash"_s);
    QVERIFY2(crashError.value(u"message"_s).toString().contains(u"about to crash"_s),
             qPrintable(crashError.value(u"message"_s).toString()));

    const QJsonObject hangJob = jobJson(url, hang);
    const QJsonObject hangError = hangJob.value(u"last_error"_s).toObject();
    QCOMPARE(hangError.value(u"kind"_s).toString(), u"timeout"_s);
    QVERIFY2(hangError.value(u"message"_s).toString().contains(u"timed out"_s),
             qPrintable(hangError.value(u"message"_s).toString()));
    QVERIFY(QFile::exists(dir + u"/hang-started"_s));
    // Terminated at the deadline, not after the program's 30 s.
    const QDateTime started
        = QDateTime::fromString(hangJob.value(u"started_at"_s).toString(), Qt::ISODateWithMs);
    const QDateTime finished
        = QDateTime::fromString(hangJob.value(u"finished_at"_s).toString(), Qt::ISODateWithMs);
    QVERIFY2(started.msecsTo(finished) < 8000,
             qPrintable(u"the hanging program ran %1 ms"_s.arg(started.msecsTo(finished))));
}

void TestCli::processHandlerHugeOutput()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    const QString dir = handlerDir();
    const QByteArray flood = "#!/bin/sh\ncat > /dev/null\n"
                             "head -c 5242880 /dev/zero | tr '\\000' 'o'\n"
                             "yes 'a line of noise on standard error' | head -c 1048576 >&2\n";
    QVERIFY(
        writeFile(dir + u"/big-fail.sh"_s, flood + "echo 'the last words' >&2\nexit 1\n", true));
    QVERIFY(writeFile(dir + u"/big-ok.sh"_s, flood + "exit 0\n", true));
    const QString config = dir + u"/handlers.ini"_s;
    QVERIFY(writeFile(config,
                      "[handlers]\nproc.bigfail = " + dir.toUtf8()
                          + "/big-fail.sh\nproc.bigok = " + dir.toUtf8() + "/big-ok.sh\n"));
    qint64 bigFail = 0, bigOk = 0, after = 0;
    CLI_CALL(enqueueCli(url, { u"proc.bigfail"_s, u"--max-attempts"_s, u"1"_s }, &bigFail));
    CLI_CALL(enqueueCli(url, { u"proc.bigok"_s, u"--max-attempts"_s, u"1"_s }, &bigOk));

    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--config"_s, config } + FastPoll);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, bigFail) == u"failed"_s, qPrintable(worker->describe()),
                              20000);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, bigOk) == u"success"_s, qPrintable(worker->describe()),
                              20000);
    // The worker survived and still runs jobs.
    QVERIFY(worker->isRunning());
    CLI_CALL(enqueueCli(url, { u"oddjobs.echo"_s, u"\"still here\""_s }, &after));
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, after) == u"success"_s, qPrintable(worker->describe()),
                              10000);
    CLI_CALL(stopWorker(worker));

    const QJsonObject failed = jobJson(url, bigFail);
    const QString message = failed.value(u"last_error"_s).toObject().value(u"message"_s).toString();
    QVERIFY2(message.toUtf8().size() <= 4096,
             qPrintable(u"the error text is %1 bytes: %2..."_s.arg(message.toUtf8().size())
                            .arg(message.left(200))));
    QVERIFY2(message.size() > 100, qPrintable(message));
    QVERIFY2(message.endsWith(u"the last words"_s), qPrintable(message.right(200)));
    QVERIFY2(message.contains(u"a line of noise on standard error"_s),
             qPrintable(message.left(200)));
    QCOMPARE(failed.value(u"last_error"_s).toObject().value(u"kind"_s).toString(), u"exit"_s);
    QVERIFY(failed.value(u"result"_s).isNull());
    // 5 MB of stdout is no result, and no failure either.
    const QJsonObject ok = jobJson(url, bigOk);
    QVERIFY(ok.value(u"result"_s).isNull());
    QVERIFY(ok.value(u"last_error"_s).isNull());
}

void TestCli::processHandlerNoShell()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    CLI_CALL(migrateCli(url));
    const QString dir = handlerDir();
    const QString victim = dir + u"/victim"_s;
    QVERIFY(writeFile(victim, "still here\n"));
    QVERIFY(writeFile(dir + u"/argv.sh"_s, R"(#!/bin/sh
dir=$(dirname "$0")
printf '%s\000' "$@" > "$dir/argv-$ODDJOBS_JOB_ID"
cat > "$dir/stdin-$ODDJOBS_JOB_ID.json"
)",
                      true));
    // Quotes as in a shell, but no shell: every metacharacter arrives literally.
    const QString commandLine
        = uR"("%1/argv.sh" "two words" 'single quoted' "say \"hi\"" back\ slash )"
          uR"('$(touch %1/pwned-arg)' ';' 'rm -rf %1/victim' | && > %1/redirected )"
          uR"(`touch %1/pwned-tick` '')"_s.arg(dir);
    const QStringList expected { u"two words"_s,
                                 u"single quoted"_s,
                                 u"say \"hi\""_s,
                                 u"back slash"_s,
                                 u"$(touch "_s + dir + u"/pwned-arg)"_s,
                                 u";"_s,
                                 u"rm -rf "_s + dir + u"/victim"_s,
                                 u"|"_s,
                                 u"&&"_s,
                                 u">"_s,
                                 dir + u"/redirected"_s,
                                 u"`touch"_s,
                                 dir + u"/pwned-tick`"_s,
                                 QString() };
    const QString config = dir + u"/handlers.ini"_s;
    QVERIFY(writeFile(config, "[handlers]\nproc.argv = " + commandLine.toUtf8() + "\n"));

    qint64 id = 0;
    const QString payload
        = u"{\"cmd\": \"$(touch %1/pwned)\", \"more\": \"'; rm -rf %2; echo '\", "
          "\"tick\": \"`touch %1/pwned2`\", \"quote\": \"\\\"\"}"_s.arg(dir, victim);
    CLI_CALL(enqueueCli(url, { u"proc.argv"_s, payload }, &id));
    Worker *worker = startWorker(
        QStringList { u"--headless"_s, u"--database"_s, url, u"--config"_s, config } + FastPoll);
    QTRY_VERIFY2_WITH_TIMEOUT(statusOf(url, id) == u"success"_s, qPrintable(worker->describe()),
                              10000);
    CLI_CALL(stopWorker(worker));

    QByteArray argv = readFile(dir + u"/argv-%1"_s.arg(id));
    QVERIFY2(argv.endsWith('\0'), argv.constData());
    argv.chop(1);
    QStringList got;
    for (const QByteArray &arg : argv.split('\0'))
        got << QString::fromUtf8(arg);
    QCOMPARE(got, expected);
    QCOMPARE(readFile(dir + u"/stdin-%1.json"_s.arg(id)),
             compactJson(jobJson(url, id).value(u"payload"_s)));
    for (const QString &marker :
         { u"pwned"_s, u"pwned2"_s, u"pwned-arg"_s, u"pwned-tick"_s, u"redirected"_s })
        QVERIFY2(!QFile::exists(dir + u'/' + marker),
                 qPrintable(marker + u" was created: a shell ran"_s));
    QCOMPARE(readFile(victim), QByteArray("still here\n"));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
