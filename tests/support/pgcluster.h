#pragma once

#include <QString>
#include <QStringList>
#include <memory>

namespace OddJobs::Test {

// A throwaway PostgreSQL cluster (initdb + pg_ctl) for tests and benchmarks. Every cluster
// lives in its own temporary directory, listens on 127.0.0.1 on a free port and on a unix
// socket, and has one superuser "oddjobs" with a random password. The directory is removed
// when the object dies and, through a detached watchdog, also when the process is killed.
class PgCluster
{
public:
    enum Mode
    {
        Smart,
        Fast,
        Immediate
    };

    struct Options
    {
        // Off by default: fsync, synchronous_commit and full_page_writes are turned off
        // because a test cluster never has to survive a power cut. Benchmarks want them on.
        bool durable = false;
        int maxConnections = 100;
        // Extra postgresql.conf lines, "name = value" (quote values the way
        // postgresql.conf wants them: "search_path = 'a, b'").
        QStringList settings;
    };

    PgCluster();
    explicit PgCluster(const Options &options);
    ~PgCluster(); // stops the server (immediate) and removes the directory
    PgCluster(const PgCluster &) = delete;
    PgCluster &operator=(const PgCluster &) = delete;

    // The process-wide cluster, started on the first call and torn down at exit. Never
    // null; when it could not start, isRunning() is false and errorString() says why.
    static PgCluster *shared();
    // Why PostgreSQL cannot be used on this machine (no binaries, no unprivileged user to
    // run it as root, ...), or empty.
    static QString unavailableReason();

    // initdb + start. Calling it on a stopped cluster starts it again.
    bool start(QString *error = nullptr);
    // Smart waits for clients to disconnect (up to 60 s): close connections first.
    bool stop(Mode mode = Fast);
    // Same directory, same port, same password.
    bool startAgain(QString *error = nullptr);
    bool restart(Mode mode = Fast, QString *error = nullptr);
    bool isRunning() const { return m_running; }
    QString errorString() const { return m_error; }

    // postgresql://oddjobs:<password>@127.0.0.1:<port>/<database>
    QString url(const QString &database = QStringLiteral("postgres")) const;
    QString host() const { return QStringLiteral("127.0.0.1"); }
    int port() const { return m_port; }
    QString user() const { return QStringLiteral("oddjobs"); }
    QString password() const { return m_password; }
    QString directory() const { return m_root; } // everything of the cluster lives below
    QString dataDir() const { return m_dataDir; } // PGDATA
    QString socketDir() const { return m_socketDir; }
    QString logFile() const;
    QString binDir() const { return m_binDir; }
    // The postmaster's pid from postmaster.pid, 0 when it is not running: for tests that
    // want to crash the server (kill -9) rather than stop it.
    qint64 serverPid() const;
    // The account the server runs as when we are root, else empty.
    QString serverUser() const { return m_runAs; }

    // A new, empty database named t_<counter>_<random>; returns its URL (empty on error).
    QString createDatabase(QString *error = nullptr);
    // Runs `sql` with psql -X -A -t -q -v ON_ERROR_STOP=1 as the superuser over the unix
    // socket, bypassing the library. `database` is a name or a URL from url() /
    // createDatabase(). `output` gets psql's stdout without the trailing newline: one line
    // per row, columns separated by '|'.
    bool execSql(const QString &database, const QString &sql, QString *output = nullptr,
                 QString *error = nullptr) const;

private:
    struct RunResult
    {
        bool ok = false;
        QString output;
        QString errors;
        QString describe(const QString &what) const;
    };

    bool fail(QString *error, const QString &message);
    bool createDirectories(QString *error);
    void startWatchdog();
    bool writeSettings(QString *error);
    bool startServer(QString *error);
    RunResult run(const QString &tool, const QStringList &arguments, bool asServerUser,
                  const QByteArray &input = {}, int timeoutMs = 120000) const;
    QString logTail(int maxLines = 30) const;
    void removeDirectories();

    Options m_options;
    QString m_binDir;
    QString m_runAs;
    QString m_root;
    QString m_dataDir;
    QString m_socketDir;
    QString m_extraDir; // a short socket directory under /tmp when m_root is too deep
    QString m_password;
    QString m_error;
    int m_port = 0;
    bool m_initialized = false;
    bool m_running = false;
};

// For tests that stop and restart the server: a cluster of their own in `cluster` (the shared
// one must not go down under other tests), durable (an immediate shutdown must not lose the
// claims committed just before it). Made and started on the first call; later calls only check
// that it still runs. False, with *error set, when it does not run.
bool ensureRestartCluster(std::unique_ptr<PgCluster> &cluster, QString *error);

} // namespace OddJobs::Test
