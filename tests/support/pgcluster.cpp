#include "support/pgcluster.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QMutex>
#include <QProcess>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QUrl>
#include <QVersionNumber>
#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;

namespace OddJobs::Test {

namespace {

// Tears the cluster down once the process it belongs to is gone, however it went: a
// SIGKILLed or crashed test cannot run destructors, and pg_ctl daemonizes the postmaster
// into its own session, so nothing else would ever stop it. It leaves on its own when the
// cluster's directory disappears, which is what a normal teardown does.
// $1 pid to watch, $2 cluster directory, $3 extra socket directory or "", $4 pg_ctl,
// $5 PGDATA, the rest: the command prefix that runs pg_ctl as the server's user.
constexpr auto WatchdogScript = R"sh(
pid=$1 root=$2 extra=$3 ctl=$4 data=$5
shift 5
alive() {
    kill -0 "$pid" 2>/dev/null || return 1
    # A killed process nobody has reaped yet still answers kill -0.
    while read -r key value rest; do
        if [ "$key" = State: ]; then [ "$value" != Z ]; return; fi
    done < "/proc/$pid/status"
    return 0
} 2>/dev/null
while [ -d "$root" ]; do
    if ! alive; then
        "$@" "$ctl" stop -D "$data" -m immediate -w -t 20 >/dev/null 2>&1
        if [ -r "$data/postmaster.pid" ] && read -r pm < "$data/postmaster.pid"; then
            kill -KILL "$pm" 2>/dev/null
        fi
        rm -rf "$root" ${extra:+"$extra"}
        exit 0
    fi
    sleep 0.5
done
)sh";

const QLatin1String DbUser("oddjobs");

QString randomString(int length, QStringView alphabet)
{
    QString s;
    s.reserve(length);
    for (int i = 0; i < length; ++i)
        s.append(alphabet.at(QRandomGenerator::system()->bounded(int(alphabet.size()))));
    return s;
}

bool isExecutable(const QString &path)
{
    const QFileInfo info(path);
    return info.isFile() && info.isExecutable();
}

// The caller's PG* variables (PGHOST, PGDATA, PGOPTIONS, ...) must not reach the tools: the
// cluster is addressed explicitly, and a developer's environment must not change that.
QProcessEnvironment toolEnvironment()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    const QStringList keys = env.keys();
    for (const QString &key : keys) {
        if (key.startsWith("PG"_L1))
            env.remove(key);
    }
    env.insert(u"LC_ALL"_s, u"C"_s); // stable, English messages for error reports
    env.insert(u"PGCLIENTENCODING"_s, u"UTF8"_s);
    env.insert(u"PGCONNECT_TIMEOUT"_s, u"10"_s);
    return env;
}

QString findBinDir()
{
    const QString fromEnv = qEnvironmentVariable("ODDJOBS_PG_BINDIR");
    if (!fromEnv.isEmpty())
        return fromEnv; // taken as given: unavailableReason() tells when it is wrong

    // Debian/Ubuntu keep one directory per major version; the newest one wins.
    QString best;
    QVersionNumber bestVersion;
    const QDir debianRoot(u"/usr/lib/postgresql"_s);
    const QStringList versions = debianRoot.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &entry : versions) {
        const QString bin = debianRoot.filePath(entry) + "/bin"_L1;
        const QVersionNumber version = QVersionNumber::fromString(entry);
        if (!version.isNull() && isExecutable(bin + "/initdb"_L1)
            && (best.isEmpty() || version > bestVersion)) {
            best = bin;
            bestVersion = version;
        }
    }
    if (!best.isEmpty())
        return best;

    const QString pgConfig = QStandardPaths::findExecutable(u"pg_config"_s);
    if (!pgConfig.isEmpty()) {
        QProcess p;
        p.start(pgConfig, { u"--bindir"_s });
        if (p.waitForFinished(10000) && p.exitStatus() == QProcess::NormalExit
            && p.exitCode() == 0) {
            const QString bin = QString::fromLocal8Bit(p.readAllStandardOutput()).trimmed();
            if (isExecutable(bin + "/initdb"_L1))
                return bin;
        }
    }

    const QString initdb = QStandardPaths::findExecutable(u"initdb"_s);
    if (!initdb.isEmpty())
        return QFileInfo(initdb).absolutePath();
    return {};
}

struct ServerAccount
{
    QString name;
    uid_t uid = 0;
    gid_t gid = 0;
};

// PostgreSQL refuses to run as root, so as root the server gets an unprivileged account.
std::optional<ServerAccount> serverAccount()
{
    QStringList candidates;
    const QString fromEnv = qEnvironmentVariable("ODDJOBS_PG_USER");
    if (!fromEnv.isEmpty())
        candidates << fromEnv;
    else
        candidates << u"postgres"_s << u"nobody"_s;
    for (const QString &name : std::as_const(candidates)) {
        const QByteArray local = name.toLocal8Bit();
        if (const passwd *pw = ::getpwnam(local.constData()); pw && pw->pw_uid != 0)
            return ServerAccount { name, pw->pw_uid, pw->pw_gid };
    }
    return std::nullopt;
}

QStringList runAsPrefix(const ServerAccount &account)
{
    const QString runuser = QStandardPaths::findExecutable(
        u"runuser"_s, { u"/usr/sbin"_s, u"/sbin"_s, u"/usr/bin"_s, u"/bin"_s });
    if (!runuser.isEmpty())
        return { runuser, u"-u"_s, account.name, u"--"_s };
    const QString setpriv = QStandardPaths::findExecutable(
        u"setpriv"_s, { u"/usr/bin"_s, u"/bin"_s, u"/usr/sbin"_s, u"/sbin"_s });
    if (!setpriv.isEmpty())
        return { setpriv, u"--reuid=%1"_s.arg(account.uid), u"--regid=%1"_s.arg(account.gid),
                 u"--clear-groups"_s, u"--"_s };
    return {};
}

bool chownTo(const QString &path, const QString &user)
{
    if (user.isEmpty())
        return true;
    const QByteArray local = user.toLocal8Bit();
    const passwd *pw = ::getpwnam(local.constData());
    if (!pw)
        return false;
    const QByteArray file = QFile::encodeName(path);
    return ::chown(file.constData(), pw->pw_uid, pw->pw_gid) == 0;
}

// Binding port 0 lets the kernel choose an unused port. Someone may take it before the
// server binds it; startServer() then tries another.
int pickFreePort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    int port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0
        && ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0)
        port = ntohs(address.sin_port);
    ::close(fd);
    return port;
}

QString modeName(PgCluster::Mode mode)
{
    switch (mode) {
    case PgCluster::Smart:
        return u"smart"_s;
    case PgCluster::Fast:
        return u"fast"_s;
    case PgCluster::Immediate:
        return u"immediate"_s;
    }
    return u"fast"_s;
}

QString confQuote(const QString &value)
{
    QString quoted = value;
    quoted.replace(u'\'', "''"_L1);
    return u'\'' + quoted + u'\'';
}

// The unix socket path is limited to sizeof(sockaddr_un::sun_path) - 1 = 107 bytes.
bool socketPathFits(const QString &dir)
{
    return QFile::encodeName(dir).size() + qsizetype(sizeof("/.s.PGSQL.65535")) < 100;
}

std::unique_ptr<PgCluster> &sharedSlot()
{
    static std::unique_ptr<PgCluster> slot;
    return slot;
}

QMutex &sharedMutex()
{
    static QMutex mutex;
    return mutex;
}

void destroyShared()
{
    const QMutexLocker lock(&sharedMutex());
    sharedSlot().reset();
}

} // namespace

QString PgCluster::RunResult::describe(const QString &what) const
{
    QString details = errors.trimmed();
    const QString out = output.trimmed();
    if (!out.isEmpty())
        details = details.isEmpty() ? out : details + u'\n' + out;
    if (details.isEmpty())
        return what + " failed"_L1;
    return what + " failed: "_L1 + details;
}

PgCluster::PgCluster()
    : PgCluster(Options {})
{
}

PgCluster::PgCluster(const Options &options)
    : m_options(options)
{
}

PgCluster::~PgCluster()
{
    if (m_running && !stop(Immediate)) {
        // pg_ctl failed or hung: the server must not outlive its directory.
        if (const qint64 pid = serverPid(); pid > 1)
            ::kill(pid_t(pid), SIGKILL);
    }
    removeDirectories();
}

PgCluster *PgCluster::shared()
{
    const QMutexLocker lock(&sharedMutex());
    std::unique_ptr<PgCluster> &slot = sharedSlot();
    if (!slot) {
        slot = std::make_unique<PgCluster>();
        slot->start();
        // Runs while QCoreApplication is still half alive; the static unique_ptr covers
        // processes that never had one.
        qAddPostRoutine(destroyShared);
    }
    return slot.get();
}

QString PgCluster::unavailableReason()
{
    const QString bin = findBinDir();
    if (bin.isEmpty())
        return u"PostgreSQL server binaries not found: install PostgreSQL (initdb, pg_ctl) "
               "or set ODDJOBS_PG_BINDIR"_s;
    for (const auto tool : { "initdb"_L1, "pg_ctl"_L1, "postgres"_L1, "psql"_L1 }) {
        if (!isExecutable(bin + u'/' + tool))
            return u"PostgreSQL binary %1 not found in %2 (ODDJOBS_PG_BINDIR)"_s.arg(tool, bin);
    }
    if (::geteuid() == 0) {
        const std::optional<ServerAccount> account = serverAccount();
        if (!account)
            return u"running as root, and there is no unprivileged account (postgres, nobody "
                   "or $ODDJOBS_PG_USER) to run PostgreSQL as"_s;
        if (runAsPrefix(*account).isEmpty())
            return u"running as root, and neither runuser nor setpriv is available to run "
                   "PostgreSQL as %1"_s.arg(account->name);
    }
    return {};
}

bool PgCluster::fail(QString *error, const QString &message)
{
    m_error = message;
    if (error)
        *error = message;
    return false;
}

qint64 PgCluster::serverPid() const
{
    QFile file(m_dataDir + "/postmaster.pid"_L1);
    if (m_dataDir.isEmpty() || !file.open(QIODevice::ReadOnly))
        return 0;
    return file.readLine().trimmed().toLongLong();
}

QString PgCluster::logFile() const
{
    return m_root.isEmpty() ? QString() : m_root + "/log"_L1;
}

bool PgCluster::start(QString *error)
{
    if (m_running)
        return true;
    if (m_initialized)
        return startAgain(error);

    if (const QString reason = unavailableReason(); !reason.isEmpty())
        return fail(error, reason);
    m_binDir = findBinDir();
    if (::geteuid() == 0)
        m_runAs = serverAccount()->name;
    m_password
        = randomString(24, u"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");

    if (!createDirectories(error))
        return false;
    startWatchdog();

    const QString pwFile = m_root + "/pwfile"_L1;
    {
        QFile file(pwFile);
        if (!file.open(QIODevice::WriteOnly) || !file.setPermissions(QFile::ReadOwner)
            || file.write(m_password.toUtf8() + '\n') < 0)
            return fail(error, u"cannot write %1: %2"_s.arg(pwFile, file.errorString()));
    }
    chownTo(pwFile, m_runAs);
    const RunResult initdb = run(m_binDir + "/initdb"_L1,
                                 { u"-D"_s, m_dataDir, u"-U"_s, DbUser, "--pwfile="_L1 + pwFile,
                                   u"--auth-local=trust"_s, u"--auth-host=scram-sha-256"_s, u"-E"_s,
                                   u"UTF8"_s, u"--no-sync"_s, u"--locale=C"_s },
                                 true);
    QFile::remove(pwFile);
    if (!initdb.ok)
        return fail(error, initdb.describe(u"initdb"_s));

    // The settings go to a file of their own that postgresql.conf includes, so the port can
    // be rewritten on a retry and values need no shell quoting.
    QFile conf(m_dataDir + "/postgresql.conf"_L1);
    if (!conf.open(QIODevice::Append)
        || conf.write("\ninclude_if_exists = 'oddjobs_test.conf'\n") < 0)
        return fail(error, u"cannot edit %1: %2"_s.arg(conf.fileName(), conf.errorString()));
    conf.close();
    m_initialized = true;

    m_port = pickFreePort();
    if (m_port == 0)
        return fail(error, u"cannot find a free TCP port on 127.0.0.1"_s);
    // Another process may grab the port between pickFreePort() and the server binding it.
    for (int attempt = 1;; ++attempt) {
        const qint64 logStart = QFileInfo(logFile()).size();
        if (startServer(error))
            return true;
        QString log;
        QFile file(logFile());
        if (file.open(QIODevice::ReadOnly) && file.seek(logStart))
            log = QString::fromUtf8(file.readAll());
        const bool portTaken
            = log.contains("could not bind"_L1) || log.contains("Address already in use"_L1);
        if (!portTaken || attempt == 5)
            return false;
        m_port = pickFreePort();
    }
}

bool PgCluster::createDirectories(QString *error)
{
    QStringList bases;
    if (const QString configured = qEnvironmentVariable("ODDJOBS_TEST_TMPDIR");
        !configured.isEmpty())
        bases << configured;
    bases << QDir::tempPath() << u"/tmp"_s;
    bases.removeDuplicates();

    QStringList problems;
    for (const QString &base : std::as_const(bases)) {
        if (!QDir().mkpath(base)) {
            problems << u"cannot create %1"_s.arg(base);
            continue;
        }
        QTemporaryDir dir(QDir(base).absoluteFilePath(u"oddjobs-pg-XXXXXX"_s));
        if (!dir.isValid()) {
            problems << u"cannot create a directory in %1: %2"_s.arg(base, dir.errorString());
            continue;
        }
        if (!m_runAs.isEmpty()) {
            // The server's account must reach the directory through all its parents; a
            // home directory with mode 700 on the way is the usual obstacle.
            if (!chownTo(dir.path(), m_runAs)) {
                problems << u"cannot hand %1 to %2"_s.arg(dir.path(), m_runAs);
                continue;
            }
            const RunResult probe = run(
                u"/bin/sh"_s,
                { u"-c"_s, u"test -w \"$1\" && test -x \"$1\""_s, u"sh"_s, dir.path() }, true);
            if (!probe.ok) {
                problems << probe.describe(u"%1 using %2"_s.arg(m_runAs, base));
                continue; // QTemporaryDir removes it
            }
        }
        dir.setAutoRemove(false);
        m_root = dir.path();
        break;
    }
    if (m_root.isEmpty())
        return fail(error, u"no usable directory for the cluster: "_s + problems.join(u"; "_s));

    m_dataDir = m_root + "/data"_L1;
    m_socketDir = m_root + "/sock"_L1;
    if (!socketPathFits(m_socketDir)) {
        // Deep build trees exceed the unix socket path limit; the socket goes to /tmp then.
        QTemporaryDir shortDir(u"/tmp/ojpg-XXXXXX"_s);
        if (!shortDir.isValid())
            return fail(error, u"cannot create a socket directory in /tmp"_s);
        shortDir.setAutoRemove(false);
        m_extraDir = m_socketDir = shortDir.path();
    } else if (!QDir().mkdir(m_socketDir)) {
        return fail(error, u"cannot create %1"_s.arg(m_socketDir));
    }
    if (!chownTo(m_socketDir, m_runAs))
        return fail(error, u"cannot hand %1 to %2"_s.arg(m_socketDir, m_runAs));
    return true;
}

void PgCluster::startWatchdog()
{
    QStringList arguments { u"-c"_s,
                            QString::fromUtf8(WatchdogScript),
                            u"oddjobs-pg-watchdog"_s,
                            QString::number(QCoreApplication::applicationPid()),
                            m_root,
                            m_extraDir,
                            m_binDir + "/pg_ctl"_L1,
                            m_dataDir };
    if (!m_runAs.isEmpty())
        arguments << runAsPrefix(*serverAccount());
    QProcess watchdog;
    watchdog.setProgram(u"/bin/sh"_s);
    watchdog.setArguments(arguments);
    watchdog.setWorkingDirectory(u"/"_s);
    // It must not hold the test's stdout/stderr: ctest waits for those pipes to close.
    watchdog.setStandardInputFile(QProcess::nullDevice());
    watchdog.setStandardOutputFile(QProcess::nullDevice());
    watchdog.setStandardErrorFile(QProcess::nullDevice());
    if (!watchdog.startDetached())
        qWarning("PgCluster: could not start the watchdog; a crash will leave %s behind",
                 qPrintable(m_root));
}

bool PgCluster::writeSettings(QString *error)
{
    QStringList lines {
        u"port = %1"_s.arg(m_port),
        u"listen_addresses = '127.0.0.1'"_s,
        u"unix_socket_directories = "_s + confQuote(m_socketDir),
        u"max_connections = %1"_s.arg(m_options.maxConnections),
    };
    if (!m_options.durable)
        lines << u"fsync = off"_s << u"synchronous_commit = off"_s << u"full_page_writes = off"_s;
    lines << m_options.settings;

    QFile file(m_dataDir + "/oddjobs_test.conf"_L1);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || file.write((lines.join(u'\n') + u'\n').toUtf8()) < 0)
        return fail(error, u"cannot write %1: %2"_s.arg(file.fileName(), file.errorString()));
    file.close();
    chownTo(file.fileName(), m_runAs);
    return true;
}

bool PgCluster::startServer(QString *error)
{
    if (!writeSettings(error))
        return false;
    const RunResult result = run(
        m_binDir + "/pg_ctl"_L1,
        { u"start"_s, u"-w"_s, u"-t"_s, u"60"_s, u"-D"_s, m_dataDir, u"-l"_s, logFile() }, true);
    if (!result.ok) {
        return fail(error,
                    result.describe(u"pg_ctl start (port %1)"_s.arg(m_port)) + "\n--- tail of "_L1
                        + logFile() + " ---\n"_L1 + logTail());
    }
    m_running = true;
    return true;
}

bool PgCluster::startAgain(QString *error)
{
    if (m_running)
        return true;
    if (!m_initialized)
        return fail(error, u"the cluster was never initialized; call start()"_s);
    return startServer(error);
}

bool PgCluster::stop(Mode mode)
{
    if (!m_running)
        return true;
    const RunResult result
        = run(m_binDir + "/pg_ctl"_L1,
              { u"stop"_s, u"-w"_s, u"-t"_s, u"60"_s, u"-D"_s, m_dataDir, u"-m"_s, modeName(mode) },
              true);
    if (!result.ok && QFileInfo::exists(m_dataDir + "/postmaster.pid"_L1)) {
        fail(nullptr,
             result.describe(u"pg_ctl stop -m "_s + modeName(mode)) + "\n--- tail of "_L1
                 + logFile() + " ---\n"_L1 + logTail());
        return false;
    }
    m_running = false;
    return true;
}

bool PgCluster::restart(Mode mode, QString *error)
{
    if (!stop(mode)) {
        if (error)
            *error = m_error;
        return false;
    }
    return startAgain(error);
}

QString PgCluster::url(const QString &database) const
{
    return u"postgresql://%1:%2@%3:%4/%5"_s.arg(user(), m_password, host(), QString::number(m_port),
                                                database);
}

QString PgCluster::createDatabase(QString *error)
{
    static std::atomic<int> counter { 0 };
    if (!m_running) {
        if (error)
            *error = m_error.isEmpty() ? u"the PostgreSQL test cluster is not running"_s : m_error;
        return {};
    }
    const QString name
        = u"t_%1_%2"_s.arg(++counter).arg(randomString(6, u"abcdefghijklmnopqrstuvwxyz0123456789"));
    if (!execSql(u"postgres"_s, u"CREATE DATABASE \"%1\""_s.arg(name), nullptr, error))
        return {};
    return url(name);
}

bool PgCluster::execSql(const QString &database, const QString &sql, QString *output,
                        QString *error) const
{
    QString name = database;
    if (database.startsWith("postgresql://"_L1) || database.startsWith("postgres://"_L1))
        name = QUrl(database).path().mid(1);
    if (!m_running) {
        if (error)
            *error = u"the PostgreSQL test cluster is not running"_s;
        return false;
    }
    const RunResult result = run(
        m_binDir + "/psql"_L1,
        { u"-X"_s, u"-A"_s, u"-t"_s, u"-q"_s, u"-v"_s, u"ON_ERROR_STOP=1"_s, u"-h"_s, m_socketDir,
          u"-p"_s, QString::number(m_port), u"-U"_s, DbUser, u"-d"_s, name, u"-f"_s, u"-"_s },
        false, sql.toUtf8());
    if (output) {
        QString text = result.output;
        if (text.endsWith(u'\n'))
            text.chop(1);
        *output = text;
    }
    if (!result.ok) {
        if (error)
            *error = result.describe(u"psql"_s);
        return false;
    }
    return true;
}

PgCluster::RunResult PgCluster::run(const QString &tool, const QStringList &arguments,
                                    bool asServerUser, const QByteArray &input, int timeoutMs) const
{
    QString program = tool;
    QStringList args = arguments;
    if (asServerUser && !m_runAs.isEmpty()) {
        QStringList prefix = runAsPrefix(*serverAccount());
        program = prefix.takeFirst();
        args = prefix << tool << arguments;
    }
    QProcess process;
    process.setProcessEnvironment(toolEnvironment());
    // The server account may be unable to enter the caller's working directory.
    process.setWorkingDirectory(QFileInfo::exists(m_root) ? m_root : u"/"_s);
    process.start(program, args);
    RunResult result;
    if (!process.waitForStarted(30000)) {
        result.errors = u"cannot run %1: %2"_s.arg(program, process.errorString());
        return result;
    }
    if (!input.isEmpty())
        process.write(input);
    process.closeWriteChannel();
    const bool finished = process.waitForFinished(timeoutMs);
    if (!finished) {
        process.kill();
        process.waitForFinished(5000);
    }
    result.output = QString::fromUtf8(process.readAllStandardOutput());
    result.errors = QString::fromUtf8(process.readAllStandardError());
    if (!finished)
        result.errors.prepend(u"timed out after %1 ms\n"_s.arg(timeoutMs));
    result.ok = finished && process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
    if (finished && !result.ok && result.errors.trimmed().isEmpty())
        result.errors = u"exit code %1"_s.arg(process.exitCode());
    return result;
}

QString PgCluster::logTail(int maxLines) const
{
    QFile file(logFile());
    if (!file.open(QIODevice::ReadOnly))
        return u"(no server log)"_s;
    const qint64 chunk = 8192;
    if (file.size() > chunk)
        file.seek(file.size() - chunk);
    QStringList lines = QString::fromUtf8(file.readAll()).split(u'\n');
    while (!lines.isEmpty() && lines.constLast().trimmed().isEmpty())
        lines.removeLast();
    if (lines.size() > maxLines)
        lines = lines.mid(lines.size() - maxLines);
    return lines.join(u'\n');
}

void PgCluster::removeDirectories()
{
    if (!m_root.isEmpty())
        QDir(m_root).removeRecursively();
    if (!m_extraDir.isEmpty())
        QDir(m_extraDir).removeRecursively();
}

bool ensureRestartCluster(std::unique_ptr<PgCluster> &cluster, QString *error)
{
    if (!cluster) {
        PgCluster::Options options;
        options.durable = true;
        cluster = std::make_unique<PgCluster>(options);
        if (!cluster->start(error))
            return false;
    }
    if (cluster->isRunning())
        return true;
    if (error)
        *error = cluster->errorString();
    return false;
}

} // namespace OddJobs::Test
