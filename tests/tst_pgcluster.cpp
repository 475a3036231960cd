// Tests of the test harness itself: the throwaway PostgreSQL cluster and the helpers every
// store test builds on. If these fail, nothing else about PostgreSQL can be trusted.

#include "support/pgcluster.h"
#include "support/testhelpers.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QUrl>
#include <arpa/inet.h>
#include <memory>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using OddJobs::Test::PgCluster;

namespace {

const char ChildKilledFlag[] = "--child-cluster";
const char ChildExitsFlag[] = "--child-shared-exit";

// Opens a QPSQL connection from the parts of `url` (host, port, user, password, database
// set explicitly, so the URL itself is what gets tested) and returns the first value `sql`
// yields. Errors go to *error.
QVariant queryUrl(const QUrl &url, const QString &sql, QString *error)
{
    static int counter = 0;
    const QString name = u"tst_pgcluster_%1"_s.arg(++counter);
    QVariant value;
    error->clear();
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, name);
        db.setHostName(url.host());
        db.setPort(url.port());
        db.setUserName(url.userName());
        db.setPassword(url.password());
        db.setDatabaseName(url.path().mid(1));
        db.setConnectOptions(u"connect_timeout=5"_s);
        if (!db.open()) {
            *error = db.lastError().text();
        } else {
            QSqlQuery query(db);
            if (!query.exec(sql))
                *error = query.lastError().text();
            else if (!query.next())
                *error = u"no rows"_s;
            else
                value = query.value(0);
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return value;
}

QVariant queryUrl(const QString &url, const QString &sql, QString *error)
{
    return queryUrl(QUrl(url), sql, error);
}

bool portAccepting(int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(quint16(port));
    const bool connected
        = ::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

// A field of /proc/<pid>/status ("Uid", "State"), empty when the process does not exist.
QString procStatus(qint64 pid, QLatin1String field)
{
    QFile file(u"/proc/%1/status"_s.arg(pid));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    const QStringList lines = QString::fromUtf8(file.readAll()).split(u'\n');
    for (const QString &line : lines) {
        if (line.startsWith(field + u':'))
            return line.mid(field.size() + 1).trimmed();
    }
    return {};
}

// Nobody may reap an orphaned postmaster in a container, so a zombie counts as gone.
bool processGone(qint64 pid)
{
    const QString state = procStatus(pid, "State"_L1);
    return state.isEmpty() || state.startsWith(u'Z');
}

// Child modes: the test starts its own binary with one of these to watch what happens to a
// cluster when its process dies. The file gets "root\ndataDir\nport\npid\n" once the
// cluster runs, or "ERROR\n<reason>".
void writeChildInfo(const QString &path, const PgCluster *cluster, bool started)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return;
    const QString text = started
        ? QStringList { cluster->directory(), cluster->dataDir(), QString::number(cluster->port()),
                        QString::number(cluster->serverPid()) }
              .join(u'\n')
        : "ERROR\n"_L1 + cluster->errorString();
    file.write(text.toUtf8() + '\n');
    file.commit();
}

int runChildKilled(int argc, char **argv, const QString &infoFile)
{
    QCoreApplication app(argc, argv);
    PgCluster cluster;
    const bool started = cluster.start();
    writeChildInfo(infoFile, &cluster, started);
    if (!started)
        return 1;
    for (;;) // until the parent kills us
        QThread::sleep(1);
}

int runChildExits(int argc, char **argv, const QString &infoFile)
{
    QCoreApplication app(argc, argv);
    const PgCluster *cluster = PgCluster::shared();
    writeChildInfo(infoFile, cluster, cluster->isRunning());
    return cluster->isRunning() ? 0 : 1;
}

struct ChildInfo
{
    QString root;
    QString dataDir;
    int port = 0;
    qint64 pid = 0;
    QString error;
};

ChildInfo readChildInfo(const QString &path)
{
    ChildInfo info;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        info.error = u"cannot read "_s + path;
        return info;
    }
    const QStringList lines = QString::fromUtf8(file.readAll()).split(u'\n');
    if (lines.value(0) == "ERROR"_L1 || lines.size() < 4) {
        info.error = lines.mid(1).join(u'\n');
        return info;
    }
    info.root = lines.at(0);
    info.dataDir = lines.at(1);
    info.port = lines.at(2).toInt();
    info.pid = lines.at(3).toLongLong();
    return info;
}

} // namespace

class TestPgCluster : public QObject
{
    Q_OBJECT

public:
    enum class Colour
    {
        Red,
        Green
    };
    Q_ENUM(Colour)

signals:
    void probe(int number, const QString &text, const QVariant &value, Colour colour);

private slots:
    void initTestCase();
    void cleanupTestCase();

    void unavailableReasonNamesTheProblem();
    void urlHasTheDocumentedShape();
    void urlConnectsWithQpsql();
    void serverRunsAsUnprivilegedUser();
    void settingsAreApplied();
    void createDatabaseGivesDistinctDatabases();
    void execSqlReturnsRowsAndErrors();
    void wrongPasswordIsRejected();
    void restartKeepsUrlAndData_data();
    void restartKeepsUrlAndData();
    void stopThenStartAgain();
    void failedStartReportsServerLog();
    void destructorRemovesEverything();
    void exitingProcessRemovesSharedCluster();
    void killedProcessLeavesNothingBehind();

    void freshSqliteUrlsAreDistinct();
    void freshUrlPerBackend_data();
    void freshUrlPerBackend();
    void spyToStringShowsEveryEmission();

private:
    std::unique_ptr<PgCluster> m_scratch; // for stop/restart, so the shared one stays up
};

void TestPgCluster::initTestCase()
{
    ODDJOBS_REQUIRE_POSTGRES();
    QVERIFY2(QSqlDatabase::isDriverAvailable(u"QPSQL"_s),
             "the Qt PostgreSQL driver is missing (Debian: libqt6sql6-psql)");
    m_scratch = std::make_unique<PgCluster>();
    QString error;
    QVERIFY2(m_scratch->start(&error), qPrintable(error));
}

void TestPgCluster::cleanupTestCase()
{
    m_scratch.reset();
}

void TestPgCluster::unavailableReasonNamesTheProblem()
{
    QCOMPARE(PgCluster::unavailableReason(), QString());

    const QByteArray saved = qgetenv("ODDJOBS_PG_BINDIR");
    const bool wasSet = qEnvironmentVariableIsSet("ODDJOBS_PG_BINDIR");
    qputenv("ODDJOBS_PG_BINDIR", "/nonexistent/pg/bin");
    const QString reason = PgCluster::unavailableReason();
    PgCluster cluster;
    QString error;
    const bool started = cluster.start(&error);
    if (wasSet)
        qputenv("ODDJOBS_PG_BINDIR", saved);
    else
        qunsetenv("ODDJOBS_PG_BINDIR");

    QVERIFY2(reason.contains("/nonexistent/pg/bin"_L1), qPrintable(reason));
    QVERIFY(!started);
    QCOMPARE(error, reason);
    QCOMPARE(cluster.errorString(), reason);
    QVERIFY(!cluster.isRunning());
}

void TestPgCluster::urlHasTheDocumentedShape()
{
    const PgCluster *cluster = PgCluster::shared();
    QVERIFY(cluster->isRunning());
    QCOMPARE(cluster->user(), u"oddjobs"_s);
    QVERIFY2(QRegularExpression(u"^[A-Za-z0-9]{16,}$"_s).match(cluster->password()).hasMatch(),
             qPrintable(cluster->password()));
    QVERIFY(cluster->port() > 0 && cluster->port() < 65536);
    QCOMPARE(cluster->url(),
             u"postgresql://oddjobs:%1@127.0.0.1:%2/postgres"_s.arg(cluster->password())
                 .arg(cluster->port()));
    QCOMPARE(cluster->url(u"other"_s),
             u"postgresql://oddjobs:%1@127.0.0.1:%2/other"_s.arg(cluster->password())
                 .arg(cluster->port()));
    QVERIFY(QFileInfo(cluster->dataDir() + "/PG_VERSION"_L1).isFile());
    QVERIFY(cluster->dataDir().startsWith(cluster->directory()));
    QVERIFY(QFileInfo::exists(cluster->binDir() + "/postgres"_L1));

    // Every cluster gets its own password and port.
    QVERIFY(m_scratch->password() != cluster->password());
    QVERIFY(m_scratch->port() != cluster->port());
}

void TestPgCluster::urlConnectsWithQpsql()
{
    const PgCluster *cluster = PgCluster::shared();
    QString error;
    QCOMPARE(queryUrl(cluster->url(), u"SELECT current_user"_s, &error).toString(), u"oddjobs"_s);
    QCOMPARE(error, QString());
    // The URL reaches this very cluster, not some other server on the machine.
    const QString dataDir
        = queryUrl(cluster->url(), u"SELECT current_setting('data_directory')"_s, &error)
              .toString();
    QCOMPARE(error, QString());
    QCOMPARE(QFileInfo(dataDir).canonicalFilePath(),
             QFileInfo(cluster->dataDir()).canonicalFilePath());
}

void TestPgCluster::serverRunsAsUnprivilegedUser()
{
    const PgCluster *cluster = PgCluster::shared();
    const qint64 pid = cluster->serverPid();
    QVERIFY(pid > 0);
    const QString uids = procStatus(pid, "Uid"_L1); // real, effective, saved, fs
    QVERIFY2(!uids.isEmpty(), "postmaster not found in /proc");
    const uint effectiveUid = uids.split(u'\t', Qt::SkipEmptyParts).value(1).toUInt();
    if (::geteuid() == 0) {
        QVERIFY(!cluster->serverUser().isEmpty());
        const QByteArray name = cluster->serverUser().toLocal8Bit();
        const passwd *pw = ::getpwnam(name.constData());
        QVERIFY(pw);
        QVERIFY(pw->pw_uid != 0);
        QCOMPARE(effectiveUid, uint(pw->pw_uid));
        QCOMPARE(QFileInfo(cluster->dataDir()).ownerId(), uint(pw->pw_uid));
    } else {
        QCOMPARE(cluster->serverUser(), QString());
        QCOMPARE(effectiveUid, uint(::geteuid()));
    }
}

void TestPgCluster::settingsAreApplied()
{
    const PgCluster *shared = PgCluster::shared();
    QString output;
    QString error;
    QVERIFY2(shared->execSql(u"postgres"_s,
                             u"SELECT current_setting('fsync'), current_setting('max_connections'),"
                             " current_setting('listen_addresses'), current_setting('port')"_s,
                             &output, &error),
             qPrintable(error));
    QCOMPARE(output, u"off|100|127.0.0.1|%1"_s.arg(shared->port()));

    PgCluster::Options options;
    options.durable = true;
    options.maxConnections = 20;
    options.settings << u"work_mem = '8MB'"_s << u"search_path = 'a, \"b c\"'"_s;
    PgCluster durable(options);
    QVERIFY2(durable.start(&error), qPrintable(error));
    QVERIFY2(
        durable.execSql(u"postgres"_s,
                        u"SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
                        " current_setting('max_connections'), current_setting('work_mem');"
                        "SHOW search_path"_s,
                        &output, &error),
        qPrintable(error));
    QCOMPARE(output, u"on|on|20|8MB\na, \"b c\""_s);
}

void TestPgCluster::createDatabaseGivesDistinctDatabases()
{
    PgCluster *cluster = PgCluster::shared();
    QString error;
    const QString first = cluster->createDatabase(&error);
    QVERIFY2(!first.isEmpty(), qPrintable(error));
    const QString second = cluster->createDatabase(&error);
    QVERIFY2(!second.isEmpty(), qPrintable(error));
    QVERIFY(first != second);

    const QRegularExpression shape(
        u"^postgresql://oddjobs:[A-Za-z0-9]+@127\\.0\\.0\\.1:\\d+/t_\\d+_[a-z0-9]{6}$"_s);
    QVERIFY2(shape.match(first).hasMatch(), qPrintable(first));
    QVERIFY2(shape.match(second).hasMatch(), qPrintable(second));

    QVERIFY2(cluster->execSql(first,
                              u"CREATE TABLE only_here (x int); INSERT INTO only_here VALUES (1)"_s,
                              nullptr, &error),
             qPrintable(error));
    QCOMPARE(queryUrl(first, u"SELECT count(*) FROM only_here"_s, &error).toInt(), 1);
    QCOMPARE(error, QString());
    QCOMPARE(queryUrl(second, u"SELECT to_regclass('only_here') IS NULL"_s, &error).toBool(), true);
    QCOMPARE(error, QString());
    QCOMPARE(queryUrl(second, u"SELECT current_database()"_s, &error).toString(),
             QUrl(second).path().mid(1));
}

void TestPgCluster::execSqlReturnsRowsAndErrors()
{
    const PgCluster *cluster = PgCluster::shared();
    QString output;
    QString error;
    QVERIFY2(cluster->execSql(u"postgres"_s, u"SELECT 1 + 1"_s, &output, &error),
             qPrintable(error));
    QCOMPARE(output, u"2"_s);

    QVERIFY2(cluster->execSql(cluster->url(),
                              u"CREATE TEMP TABLE t (a int, b text);"
                              "INSERT INTO t VALUES (1, 'x'), (2, 'ü');"
                              "SELECT a, b FROM t ORDER BY a"_s,
                              &output, &error),
             qPrintable(error));
    QCOMPARE(output, u"1|x\n2|ü"_s);

    QVERIFY(!cluster->execSql(u"postgres"_s, u"SELECT 1; SELECT * FROM no_such_table; SELECT 3"_s,
                              &output, &error));
    QVERIFY2(error.contains("no_such_table"_L1), qPrintable(error));
    QCOMPARE(output, u"1"_s); // ON_ERROR_STOP: nothing after the error ran

    QVERIFY(!cluster->execSql(u"no_such_database"_s, u"SELECT 1"_s, &output, &error));
    QVERIFY2(error.contains("no_such_database"_L1), qPrintable(error));
}

void TestPgCluster::wrongPasswordIsRejected()
{
    const PgCluster *cluster = PgCluster::shared();
    QUrl url(cluster->url());
    url.setPassword(cluster->password() + "x"_L1);
    QString error;
    QVERIFY(!queryUrl(url, u"SELECT 1"_s, &error).isValid());
    QVERIFY2(error.contains("password authentication failed"_L1), qPrintable(error));

    url.setPassword(QString());
    QVERIFY(!queryUrl(url, u"SELECT 1"_s, &error).isValid());
    QVERIFY(!error.isEmpty());

    QCOMPARE(queryUrl(cluster->url(), u"SELECT 1"_s, &error).toInt(), 1);
}

void TestPgCluster::restartKeepsUrlAndData_data()
{
    QTest::addColumn<int>("mode");
    QTest::newRow("fast") << int(PgCluster::Fast);
    QTest::newRow("immediate") << int(PgCluster::Immediate);
    QTest::newRow("smart") << int(PgCluster::Smart);
}

void TestPgCluster::restartKeepsUrlAndData()
{
    QFETCH(int, mode);
    QVERIFY(m_scratch->isRunning());
    QString error;
    const QString url = m_scratch->createDatabase(&error);
    QVERIFY2(!url.isEmpty(), qPrintable(error));
    // Async commit is on in test clusters; this one commit must survive an immediate stop.
    QVERIFY2(m_scratch->execSql(url,
                                u"SET synchronous_commit = on;"
                                "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"_s,
                                nullptr, &error),
             qPrintable(error));
    const qint64 pidBefore = m_scratch->serverPid();

    QVERIFY2(m_scratch->restart(PgCluster::Mode(mode), &error), qPrintable(error));
    QVERIFY(m_scratch->isRunning());
    QCOMPARE(m_scratch->url(QUrl(url).path().mid(1)), url);
    QVERIFY(m_scratch->serverPid() != pidBefore);
    QCOMPARE(queryUrl(url, u"SELECT x FROM kept"_s, &error).toInt(), 42);
    QCOMPARE(error, QString());
}

void TestPgCluster::stopThenStartAgain()
{
    QVERIFY(m_scratch->isRunning());
    const QString url = m_scratch->url();
    const int port = m_scratch->port();
    QVERIFY(m_scratch->stop());
    QVERIFY(!m_scratch->isRunning());
    QCOMPARE(m_scratch->serverPid(), 0);
    QVERIFY(m_scratch->stop()); // stopping a stopped cluster is fine
    QVERIFY(!portAccepting(port));
    QString error;
    QVERIFY(!queryUrl(url, u"SELECT 1"_s, &error).isValid());
    QVERIFY(!error.isEmpty());
    QVERIFY(!m_scratch->execSql(u"postgres"_s, u"SELECT 1"_s, nullptr, &error));
    QVERIFY(m_scratch->createDatabase(&error).isEmpty());
    QVERIFY(!error.isEmpty());

    QVERIFY2(m_scratch->startAgain(&error), qPrintable(error));
    QCOMPARE(m_scratch->port(), port);
    QCOMPARE(m_scratch->url(), url);
    QCOMPARE(queryUrl(url, u"SELECT 1"_s, &error).toInt(), 1);
    QCOMPARE(error, QString());
}

void TestPgCluster::failedStartReportsServerLog()
{
    PgCluster::Options options;
    options.settings << u"shared_buffers = 'nonsense'"_s;
    QString root;
    {
        PgCluster broken(options);
        QString error;
        QVERIFY(!broken.start(&error));
        QVERIFY(!broken.isRunning());
        // The reason is in the server log, so the log has to be in the error.
        QVERIFY2(error.contains("shared_buffers"_L1), qPrintable(error));
        QVERIFY2(error.contains("nonsense"_L1), qPrintable(error));
        QCOMPARE(broken.errorString(), error);
        root = broken.directory();
        QVERIFY(QFileInfo::exists(root));
    }
    QVERIFY(!QFileInfo::exists(root));
}

void TestPgCluster::destructorRemovesEverything()
{
    QString root;
    int port = 0;
    qint64 pid = 0;
    {
        PgCluster cluster;
        QString error;
        QVERIFY2(cluster.start(&error), qPrintable(error));
        root = cluster.directory();
        port = cluster.port();
        pid = cluster.serverPid();
        QVERIFY(pid > 0);
        QVERIFY(portAccepting(port));
    }
    QVERIFY(!QFileInfo::exists(root));
    QVERIFY(processGone(pid));
    QVERIFY(!portAccepting(port));
}

void TestPgCluster::exitingProcessRemovesSharedCluster()
{
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString infoFile = tmp.filePath(u"child.txt"_s);
    QProcess child;
    child.setProcessChannelMode(QProcess::MergedChannels);
    child.start(QCoreApplication::applicationFilePath(),
                { QString::fromLatin1(ChildExitsFlag), infoFile });
    QVERIFY2(child.waitForFinished(120000), qPrintable(child.errorString()));
    const ChildInfo info = readChildInfo(infoFile);
    QVERIFY2(info.error.isEmpty(),
             qPrintable(info.error + u'\n' + QString::fromUtf8(child.readAll())));
    QCOMPARE(child.exitStatus(), QProcess::NormalExit);
    QCOMPARE(child.exitCode(), 0);
    // Gone right away, not half a second later by the watchdog.
    QVERIFY(!QFileInfo::exists(info.root));
    QVERIFY(processGone(info.pid));
    QVERIFY(!portAccepting(info.port));
}

void TestPgCluster::killedProcessLeavesNothingBehind()
{
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString infoFile = tmp.filePath(u"child.txt"_s);
    QProcess child;
    child.setProcessChannelMode(QProcess::MergedChannels);
    child.start(QCoreApplication::applicationFilePath(),
                { QString::fromLatin1(ChildKilledFlag), infoFile });
    QVERIFY2(child.waitForStarted(), qPrintable(child.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(infoFile) || child.state() == QProcess::NotRunning,
                             120000);
    const ChildInfo info = readChildInfo(infoFile);
    QVERIFY2(info.error.isEmpty(),
             qPrintable(info.error + u'\n' + QString::fromUtf8(child.readAll())));
    QVERIFY(QFileInfo::exists(info.dataDir));
    QVERIFY(info.pid > 0);
    QVERIFY(portAccepting(info.port));

    child.kill(); // SIGKILL: no destructor, no post routine, only the watchdog is left
    QVERIFY(child.waitForFinished(10000));
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);

    QTRY_VERIFY_WITH_TIMEOUT(!QFileInfo::exists(info.root), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(processGone(info.pid), 10000);
    QVERIFY(!portAccepting(info.port));
}

void TestPgCluster::freshSqliteUrlsAreDistinct()
{
    const QString first = OddJobs::Test::freshSqliteUrl();
    const QString second = OddJobs::Test::freshSqliteUrl();
    QVERIFY(first.startsWith("sqlite:/"_L1));
    QVERIFY(second.startsWith("sqlite:/"_L1));
    QVERIFY(first != second);
    const QString path = first.mid(7);
    QVERIFY(!QFileInfo::exists(path));
    QVERIFY(QFileInfo(path).dir().exists());
    const QString tmpRoot = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR");
    if (!tmpRoot.isEmpty())
        QVERIFY2(path.startsWith(QDir(tmpRoot).absolutePath()), qPrintable(path));
}

void TestPgCluster::freshUrlPerBackend_data()
{
    OddJobs::Test::addBackendColumns();
    OddJobs::Test::addBackendRows();
}

void TestPgCluster::freshUrlPerBackend()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    if (backend == "sqlite"_L1) {
        QVERIFY2(url.startsWith("sqlite:/"_L1), qPrintable(url));
    } else {
        QCOMPARE(backend, u"postgresql"_s);
        QString error;
        QCOMPARE(queryUrl(url, u"SELECT current_database()"_s, &error).toString(),
                 QUrl(url).path().mid(1));
        QCOMPARE(error, QString());
    }
    QString error;
    QVERIFY(OddJobs::Test::freshUrl(u"oracle"_s, &error).isEmpty());
    QVERIFY2(error.contains("oracle"_L1), qPrintable(error));
}

void TestPgCluster::spyToStringShowsEveryEmission()
{
    QSignalSpy spy(this, &TestPgCluster::probe);
    QCOMPARE(OddJobs::Test::spyToString(spy), QString());
    emit probe(1, u"one"_s, QVariant(), Colour::Red);
    emit probe(2, u"two words"_s, QVariant(QStringList { u"a"_s, u"b"_s }), Colour::Green);
    emit probe(3, QString(), QVariant(2.5), Colour::Red);
    QCOMPARE(OddJobs::Test::spyToString(spy),
             u"(1, one, <invalid>, Red) (2, two words, [a, b], Green) (3, , 2.5, Red)"_s);

    QCOMPARE(OddJobs::Test::variantToString(QVariantMap { { u"k"_s, 1 }, { u"a"_s, true } }),
             u"{a: true, k: 1}"_s);
    QCOMPARE(
        OddJobs::Test::variantToString(QDateTime(QDate(2024, 1, 2), QTime(3, 4, 5, 6), Qt::UTC)),
        u"2024-01-02T03:04:05.006Z"_s);
    QCOMPARE(OddJobs::Test::variantToString(QVariant::fromValue(QPoint(1, 2))), u"QPoint(1,2)"_s);
}

int main(int argc, char **argv)
{
    // The child modes run before QTest sees the arguments: it would reject them.
    if (argc == 3 && qstrcmp(argv[1], ChildKilledFlag) == 0)
        return runChildKilled(argc, argv, QString::fromLocal8Bit(argv[2]));
    if (argc == 3 && qstrcmp(argv[1], ChildExitsFlag) == 0)
        return runChildExits(argc, argv, QString::fromLocal8Bit(argv[2]));

    QCoreApplication app(argc, argv);
    TestPgCluster test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_pgcluster.moc"
