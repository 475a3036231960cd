#pragma once

#include "oddjobs/logevent.h"

#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>
#include <optional>

// Everything the command line and the config file say, validated. Parsing never exits the
// process itself, so every error is reported the same way (one line, exit code 2).
struct AppOptions
{
    enum class Command
    {
        Dashboard,
        Headless,
        Migrate,
        Enqueue,
        List,
        Show,
        Retry,
        Cancel,
        Delete,
        Stats
    };
    Command command = Command::Dashboard;

    // Where (flags override the config file, which overrides these defaults).
    QString databaseUrl; // empty: $ODDJOBS_DATABASE_URL, then the default SQLite file
    QString table = QStringLiteral("jobs");
    QString configFile;
    bool json = false; // machine output for subcommands

    // Worker
    int concurrency = 10;
    QStringList queues;
    int pollIntervalMs = -1; // backend default
    int lockTimeoutSeconds = 60;
    int shutdownTimeoutSeconds = 30;
    int defaultMaxAttempts = 10; // for jobs without their own max_attempts
    int defaultTimeoutSeconds = 600; // for jobs without their own timeout_seconds
    bool deleteSuccessful = false;
    int retentionSeconds = 7 * 24 * 3600; // finished jobs pruned after this; 0 keeps them
    int claimBatch = 500; // jobs one claim takes at most
    int prefetch = 0; // jobs claimed beyond the free slots, held ready
    int claimConnections = 4; // PostgreSQL: claims in flight at once
    OddJobs::LogLevel logLevel = OddJobs::LogLevel::Info;
    bool jsonLogs = false;
    bool demo = false;
    bool migrate = true; // the worker brings the schema up to date on start
    QString pidFile;
    QList<QPair<QString, QString>> handlers; // job type ("*" catch-all) -> command line

    // Dashboard
    bool monitorOnly = false;
    bool autoStartWorker = true;
    QString language; // empty: the system locale

    // enqueue
    QString jobType;
    QString payloadText; // JSON text, "-" for standard input, empty for none
    std::optional<QString> runAt; // ISO 8601
    std::optional<double> inSeconds;
    QString queue = QStringLiteral("default");
    int priority = 0;
    std::optional<int> maxAttempts;
    std::optional<int> timeoutSeconds;

    // list
    QStringList statuses;
    QStringList types;
    QStringList listQueues;
    QStringList workers;
    QString search;
    int limit = 50;

    // show / retry / cancel / delete
    QList<qint64> ids;

    // stats
    int windowSeconds = 3600;
};

struct ParsedOptions
{
    AppOptions options;
    int exitCode = -1; // >= 0: stop now with this code (help, version, or an error)
    QString output; // what to print (help text, or the error line)
};

ParsedOptions parseOptions(const QStringList &arguments);
QString commandName(AppOptions::Command command);
