#include "options.h"

#include <QCommandLineParser>
#include <QCoreApplication>

#include <cmath>

using namespace Qt::StringLiterals;

namespace {
ParsedOptions usageError(const QString &message)
{
    ParsedOptions p;
    p.exitCode = 2;
    p.output = u"oddjobs: "_s + message + u" (see oddjobs --help)"_s;
    return p;
}
} // namespace

ParsedOptions parseOptions(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"OddJobs: a background-job queue in PostgreSQL or SQLite.\n\n"
        "Commands:\n"
        "  (none)       open the dashboard with an embedded worker\n"
        "  --headless   run a worker without a window, logging to standard output\n"
        "  migrate      create or upgrade the jobs table and exit"_s);
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help({ u"h"_s, u"help"_s }, u"Show this help."_s);
    const QCommandLineOption version({ u"v"_s, u"version"_s }, u"Show the version."_s);
    const QCommandLineOption headless(u"headless"_s, u"Run a worker without the dashboard."_s);
    const QCommandLineOption database(u"database"_s,
                                      u"Database URL: sqlite:/path/jobs.db, sqlite::memory: or "
                                      "postgresql://user@host:port/db (default: $ODDJOBS_DATABASE_URL, "
                                      "else a SQLite file in the app data folder)."_s,
                                      u"url"_s);
    const QCommandLineOption table(u"table"_s, u"Jobs table, optionally schema.table (default: jobs)."_s,
                                   u"name"_s);
    const QCommandLineOption concurrency(u"concurrency"_s, u"Jobs run at once (default: 10)."_s, u"n"_s);
    const QCommandLineOption queue(u"queue"_s, u"Only run jobs of this queue (repeatable)."_s, u"name"_s);
    const QCommandLineOption poll(u"poll-interval"_s,
                                  u"Seconds between polls (default: 5 for PostgreSQL, 1 for SQLite)."_s,
                                  u"seconds"_s);
    const QCommandLineOption lockTimeout(u"lock-timeout"_s,
                                         u"Seconds without a heartbeat after which a job counts as "
                                         "abandoned (default: 60)."_s,
                                         u"seconds"_s);
    const QCommandLineOption shutdownTimeout(u"shutdown-timeout"_s,
                                             u"Seconds running jobs get to finish on SIGINT/SIGTERM "
                                             "(default: 30)."_s,
                                             u"seconds"_s);
    const QCommandLineOption logLevel(u"log-level"_s, u"debug, info, warning or error (default: info)."_s,
                                      u"level"_s);
    const QCommandLineOption logFormat(u"log-format"_s, u"text or json (default: text)."_s, u"format"_s);
    const QCommandLineOption demo(u"demo"_s,
                                  u"Enqueue a few jobs of the built-in demo types before starting."_s);
    const QCommandLineOption noMigrate(u"no-migrate"_s,
                                       u"Do not create or upgrade the jobs table on start."_s);
    parser.addOptions({ help, version, headless, database, table, concurrency, queue, poll, lockTimeout,
                        shutdownTimeout, logLevel, logFormat, demo, noMigrate });
    parser.addPositionalArgument(u"command"_s, u"migrate"_s, u"[command]"_s);

    if (!parser.parse(arguments))
        return usageError(parser.errorText());
    ParsedOptions p;
    if (parser.isSet(help)) {
        p.exitCode = 0;
        p.output = parser.helpText();
        return p;
    }
    if (parser.isSet(version)) {
        p.exitCode = 0;
        p.output = u"oddjobs "_s + QCoreApplication::applicationVersion();
        return p;
    }
    AppOptions &o = p.options;
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1)
        return usageError(u"unexpected argument '%1'"_s.arg(positional.at(1)));
    if (!positional.isEmpty()) {
        if (positional.first() == u"migrate")
            o.command = AppOptions::Command::Migrate;
        else
            return usageError(u"unknown command '%1'"_s.arg(positional.first()));
        if (parser.isSet(headless))
            return usageError(u"--headless and a command do not go together"_s);
    } else if (parser.isSet(headless)) {
        o.command = AppOptions::Command::Headless;
    }

    o.databaseUrl = parser.value(database);
    if (parser.isSet(table))
        o.table = parser.value(table);
    auto integer = [&](const QCommandLineOption &option, int min, int max, int *out) -> QString {
        if (!parser.isSet(option))
            return {};
        bool ok = false;
        const int v = parser.value(option).toInt(&ok);
        if (!ok || v < min || v > max)
            return u"--%1 must be a whole number from %2 to %3, not '%4'"_s.arg(option.names().constLast())
                .arg(min)
                .arg(max)
                .arg(parser.value(option));
        *out = v;
        return {};
    };
    for (const QString &error : { integer(concurrency, 1, 1024, &o.concurrency),
                                  integer(lockTimeout, 2, 86400, &o.lockTimeoutSeconds),
                                  integer(shutdownTimeout, 0, 86400, &o.shutdownTimeoutSeconds) }) {
        if (!error.isEmpty())
            return usageError(error);
    }
    if (parser.isSet(poll)) {
        bool ok = false;
        const double seconds = parser.value(poll).toDouble(&ok);
        if (!ok || !std::isfinite(seconds) || seconds < 0.01 || seconds > 86400)
            return usageError(u"--poll-interval must be a number of seconds from 0.01 to 86400, not '%1'"_s.arg(
                parser.value(poll)));
        o.pollIntervalMs = int(std::lround(seconds * 1000));
    }
    o.queues = parser.values(queue);
    for (const QString &q : std::as_const(o.queues)) {
        if (q.trimmed().isEmpty())
            return usageError(u"--queue needs a name"_s);
    }
    if (parser.isSet(logLevel)) {
        const auto level = OddJobs::logLevelFromString(parser.value(logLevel));
        if (!level)
            return usageError(u"--log-level must be debug, info, warning or error, not '%1'"_s.arg(
                parser.value(logLevel)));
        o.logLevel = *level;
    }
    if (parser.isSet(logFormat)) {
        const QString format = parser.value(logFormat).toLower();
        if (format != u"text" && format != u"json")
            return usageError(u"--log-format must be text or json, not '%1'"_s.arg(parser.value(logFormat)));
        o.jsonLogs = format == u"json";
    }
    o.demo = parser.isSet(demo);
    o.migrate = !parser.isSet(noMigrate);
    if (o.demo && o.command == AppOptions::Command::Migrate)
        return usageError(u"--demo goes with --headless, not with migrate"_s);
    return p;
}
