#pragma once

#include "oddjobs/logevent.h"

#include <QString>
#include <QStringList>

// Everything the command line says, validated. Parsing never exits the process itself, so it
// can be tested and so every error is reported the same way (one line, exit code 2).
struct AppOptions
{
    enum class Command { Dashboard, Headless, Migrate };
    Command command = Command::Dashboard;
    QString databaseUrl; // empty: $ODDJOBS_DATABASE_URL, then the default SQLite file
    QString table = QStringLiteral("jobs");
    int concurrency = 10;
    QStringList queues;
    int pollIntervalMs = -1; // backend default
    int lockTimeoutSeconds = 60;
    int shutdownTimeoutSeconds = 30;
    OddJobs::LogLevel logLevel = OddJobs::LogLevel::Info;
    bool jsonLogs = false;
    bool demo = false;
    bool migrate = true; // the worker brings the schema up to date on start
};

struct ParsedOptions
{
    AppOptions options;
    int exitCode = -1; // >= 0: stop now with this code (help, version, or an error)
    QString output; // what to print (help text, or the error line)
};

ParsedOptions parseOptions(const QStringList &arguments);
