#include "options.h"

#include "oddjobs/job.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QSettings>
#include <cmath>

using namespace Qt::StringLiterals;
using Command = AppOptions::Command;

namespace {

ParsedOptions usageError(const QString &message, Command command = Command::Dashboard)
{
    ParsedOptions p;
    p.exitCode = 2;
    const QString help = command == Command::Dashboard || command == Command::Headless
        ? u"oddjobs --help"_s
        : u"oddjobs "_s + commandName(command) + u" --help"_s;
    // One line, also when the message quotes an argument or a config value with line breaks.
    QString line = message;
    line.replace(u"\r\n"_s, u" "_s).replace(u'\n', u' ').replace(u'\r', u' ');
    p.output = u"oddjobs: "_s + line + u" (see "_s + help + u')';
    return p;
}

const QList<QPair<QString, Command>> &subcommands()
{
    static const QList<QPair<QString, Command>> list {
        { u"migrate"_s, Command::Migrate }, { u"enqueue"_s, Command::Enqueue },
        { u"list"_s, Command::List },       { u"show"_s, Command::Show },
        { u"retry"_s, Command::Retry },     { u"cancel"_s, Command::Cancel },
        { u"delete"_s, Command::Delete },   { u"stats"_s, Command::Stats },
    };
    return list;
}

QString describe(Command command)
{
    switch (command) {
    case Command::Migrate:
        return u"Create or upgrade the jobs table, then exit."_s;
    case Command::Enqueue:
        return u"Add a job of TYPE with the JSON payload contents (or - to read them from standard "
               "input). The stored payload is {\"tag\": TYPE, \"contents\": JSON}."_s;
    case Command::List:
        return u"List jobs, newest first, with filters."_s;
    case Command::Show:
        return u"Show one job in full."_s;
    case Command::Retry:
        return u"Run failed, cancelled, retrying or scheduled jobs now (attempts restart for "
               u"failed and "
               "cancelled ones)."_s;
    case Command::Cancel:
        return u"Cancel queued, retrying or running jobs."_s;
    case Command::Delete:
        return u"Delete jobs."_s;
    case Command::Stats:
        return u"Per job type: counts by status, success rate, throughput and durations."_s;
    case Command::Dashboard:
    case Command::Headless:
        break;
    }
    return {};
}

bool parseInt(const QString &text, int min, int max, int *out)
{
    bool ok = false;
    const int v = text.trimmed().toInt(&ok);
    if (!ok || v < min || v > max)
        return false;
    *out = v;
    return true;
}

QString rangeError(const QString &name, int min, int max, const QString &value)
{
    return u"%1 must be a whole number from %2 to %3, not '%4'"_s.arg(name).arg(min).arg(max).arg(
        value);
}

// Values that come from the config file or from flags go through the same checks.
QString applyWorkerSetting(AppOptions &o, const QString &key, const QString &value,
                           const QString &shownAs)
{
    // Whole numbers within a range.
    struct IntSetting
    {
        QStringView key;
        int min;
        int max;
        int AppOptions::*field;
    };
    static const IntSetting intSettings[] = {
        { u"concurrency", 1, 1024, &AppOptions::concurrency },
        { u"lock-timeout", 2, 86400, &AppOptions::lockTimeoutSeconds },
        { u"shutdown-timeout", 0, 86400, &AppOptions::shutdownTimeoutSeconds },
        { u"default-max-attempts", 1, 10000, &AppOptions::defaultMaxAttempts },
        { u"default-timeout", 1, 2592000, &AppOptions::defaultTimeoutSeconds },
        { u"retention", 0, 315360000, &AppOptions::retentionSeconds },
        { u"claim-batch", 1, 10000, &AppOptions::claimBatch },
        { u"prefetch", 0, 10000, &AppOptions::prefetch },
        { u"claim-connections", 1, 64, &AppOptions::claimConnections },
    };
    for (const IntSetting &setting : intSettings) {
        if (key != setting.key)
            continue;
        if (!parseInt(value, setting.min, setting.max, &(o.*setting.field)))
            return rangeError(shownAs, setting.min, setting.max, value);
        return {};
    }
    if (key == u"database") {
        o.databaseUrl = value;
    } else if (key == u"table") {
        o.table = value;
    } else if (key == u"delete-successful") {
        const QString v = value.trimmed().toLower();
        if (v == u"true" || v == u"yes" || v == u"on" || v == u"1")
            o.deleteSuccessful = true;
        else if (v == u"false" || v == u"no" || v == u"off" || v == u"0")
            o.deleteSuccessful = false;
        else
            return u"%1 must be true or false, not '%2'"_s.arg(shownAs, value);
    } else if (key == u"poll-interval") {
        bool ok = false;
        const double seconds = value.trimmed().toDouble(&ok);
        if (!ok || !std::isfinite(seconds) || seconds < 0.01 || seconds > 86400)
            return u"%1 must be a number of seconds from 0.01 to 86400, not '%2'"_s.arg(shownAs,
                                                                                        value);
        o.pollIntervalMs = int(std::lround(seconds * 1000));
    } else if (key == u"log-level") {
        const auto level = OddJobs::logLevelFromString(value.trimmed());
        if (!level)
            return u"%1 must be debug, info, warning or error, not '%2'"_s.arg(shownAs, value);
        o.logLevel = *level;
    } else if (key == u"log-format") {
        const QString format = value.trimmed().toLower();
        if (format != u"text" && format != u"json")
            return u"%1 must be text or json, not '%2'"_s.arg(shownAs, value);
        o.jsonLogs = format == u"json";
    } else if (key == u"pid-file") {
        o.pidFile = value;
    } else if (key == u"queues") {
        o.queues.clear();
        for (const QString &q : value.split(u',', Qt::SkipEmptyParts)) {
            if (!q.trimmed().isEmpty())
                o.queues << q.trimmed();
        }
    } else {
        return u"unknown setting '%1'"_s.arg(key);
    }
    return {};
}

// The lines of one section as written: QSettings would take the quotes out of a value,
// treat backslashes as escapes and split it at commas, and a handler's command line needs
// its quotes for the splitter. A line without '=' is a key with an empty value.
QList<QPair<QString, QString>> rawSection(const QString &path, const QString &section)
{
    QList<QPair<QString, QString>> entries;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        return entries;
    bool inside = false;
    while (!file.atEnd()) {
        QString line = QString::fromUtf8(file.readLine()).trimmed();
        if (line.startsWith(QChar(0xfeff)))
            line = line.mid(1).trimmed();
        if (line.isEmpty() || line.startsWith(u';') || line.startsWith(u'#'))
            continue;
        if (line.startsWith(u'[')) {
            inside = line == u'[' + section + u']';
            continue;
        }
        if (!inside)
            continue;
        const qsizetype equals = line.indexOf(u'=');
        if (equals < 0)
            entries.append({ line, QString() });
        else
            entries.append({ line.left(equals).trimmed(), line.mid(equals + 1).trimmed() });
    }
    return entries;
}

QString readConfig(AppOptions &o, const QString &path)
{
    const QFileInfo info(path);
    if (!info.exists())
        return u"the config file %1 does not exist"_s.arg(path);
    if (!info.isReadable() || !info.isFile())
        return u"the config file %1 cannot be read"_s.arg(path);
    QSettings settings(path, QSettings::IniFormat);
    if (settings.status() != QSettings::NoError)
        return u"the config file %1 is not valid INI"_s.arg(path);
    auto text = [&](const QString &key) {
        const QVariant v = settings.value(key);
        // QSettings splits unquoted values at commas; put them back together.
        if (v.metaType() == QMetaType::fromType<QStringList>())
            return v.toStringList().join(u", "_s);
        return v.toString();
    };
    const QStringList keys = settings.childKeys();
    for (const QString &key : keys) {
        const QString error = applyWorkerSetting(o, key, text(key), u"'%1' in %2"_s.arg(key, path));
        if (!error.isEmpty())
            return error.startsWith(u"unknown setting"_s) ? error + u" in "_s + path : error;
    }
    const QStringList groups = settings.childGroups();
    for (const QString &group : groups) {
        if (group != u"handlers")
            return u"unknown section [%1] in %2 (known: [handlers])"_s.arg(group, path);
    }
    const auto handlers = rawSection(path, u"handlers"_s);
    for (const auto &[type, command] : handlers) {
        if (type.isEmpty())
            return u"a handler in %1 has no job type before the '='"_s.arg(path);
        if (command.isEmpty())
            return u"the handler for '%1' in %2 has no command"_s.arg(type, path);
        o.handlers.append({ type, command });
    }
    return {};
}

} // namespace

QString commandName(Command command)
{
    for (const auto &[name, c] : subcommands()) {
        if (c == command)
            return name;
    }
    return command == Command::Headless ? u"--headless"_s : QString();
}

ParsedOptions parseOptions(const QStringList &arguments)
{
    // A subcommand is the first argument; everything else is the worker or the dashboard.
    Command command = Command::Dashboard;
    QStringList args = arguments;
    if (args.size() > 1) {
        for (const auto &[name, c] : subcommands()) {
            if (args.at(1) == name) {
                command = c;
                args.removeAt(1);
                break;
            }
        }
    }
    const bool worker = command == Command::Dashboard;

    QCommandLineParser parser;
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    if (worker) {
        parser.setApplicationDescription(
            u"OddJobs: a background-job queue in PostgreSQL or SQLite.\n\n"
            "  oddjobs [options]              the dashboard with an embedded worker\n"
            "  oddjobs --headless [options]   a worker without a window, logging to standard "
            "output\n"
            "  oddjobs COMMAND --help         help on a command: migrate, enqueue, list, show, "
            "retry,\n"
            "                                 cancel, delete, stats"_s);
    } else {
        parser.setApplicationDescription(describe(command));
    }
    const QCommandLineOption help({ u"h"_s, u"help"_s }, u"Show this help."_s);
    const QCommandLineOption version({ u"v"_s, u"version"_s }, u"Show the version."_s);
    const QCommandLineOption database(
        u"database"_s,
        u"Database URL: sqlite:/path/jobs.db, sqlite::memory: or "
        "postgresql://user@host:port/db (default: $ODDJOBS_DATABASE_URL, "
        "else a SQLite file in the app data folder)."_s,
        u"url"_s);
    const QCommandLineOption table(
        u"table"_s, u"Jobs table, optionally schema.table (default: jobs)."_s, u"name"_s);
    const QCommandLineOption config(
        u"config"_s,
        u"INI file with database, table, worker settings and a [handlers] "
        "section (job type = command line). Flags override it."_s,
        u"file"_s);
    const QCommandLineOption json(u"json"_s, u"Machine-readable JSON output."_s);
    parser.addOptions({ help, database, table, config });

    const QCommandLineOption headless(u"headless"_s, u"Run a worker without the dashboard."_s);
    const QCommandLineOption concurrency(u"concurrency"_s, u"Jobs run at once (default: 10)."_s,
                                         u"n"_s);
    const QCommandLineOption workerQueue(u"queue"_s, u"Only run jobs of this queue (repeatable)."_s,
                                         u"name"_s);
    const QCommandLineOption poll(
        u"poll-interval"_s, u"Seconds between polls (default: 5 for PostgreSQL, 1 for SQLite)."_s,
        u"seconds"_s);
    const QCommandLineOption lockTimeout(
        u"lock-timeout"_s,
        u"Seconds without a heartbeat after which a running job counts "
        "as abandoned (default: 60)."_s,
        u"seconds"_s);
    const QCommandLineOption shutdownTimeout(
        u"shutdown-timeout"_s,
        u"Seconds running jobs get to finish on SIGINT/SIGTERM "
        "(default: 30)."_s,
        u"seconds"_s);
    const QCommandLineOption defaultMaxAttempts(
        u"default-max-attempts"_s,
        u"Attempts of a job without its own max attempts before it fails for good "
        "(default: 10)."_s,
        u"n"_s);
    const QCommandLineOption defaultTimeout(
        u"default-timeout"_s,
        u"Seconds one attempt of a job without its own timeout may take (default: 600)."_s,
        u"seconds"_s);
    const QCommandLineOption deleteSuccessful(
        u"delete-successful"_s, u"Delete jobs that succeed instead of keeping them as history."_s);
    const QCommandLineOption keepSuccessful(
        u"keep-successful"_s,
        u"Keep jobs that succeed as history (the default; overrides delete-successful in the "
        "config file)."_s);
    const QCommandLineOption retention(
        u"retention"_s,
        u"Seconds finished jobs are kept before they are pruned; 0 keeps them "
        "(default: 604800, a week)."_s,
        u"seconds"_s);
    const QCommandLineOption claimBatch(
        u"claim-batch"_s,
        u"Jobs one claim takes at most; 1 claims one job at a time (default: 500)."_s, u"n"_s);
    const QCommandLineOption prefetch(
        u"prefetch"_s,
        u"Jobs claimed beyond the free slots and held ready, so short jobs follow each other "
        "without a round trip; they stay locked to this worker (default: 0)."_s,
        u"n"_s);
    const QCommandLineOption claimConnections(
        u"claim-connections"_s,
        u"PostgreSQL: claims in flight at once, each on a connection of its own, when one "
        "claim cannot fill every free slot (default: 4)."_s,
        u"n"_s);
    const QCommandLineOption logLevel(
        u"log-level"_s, u"debug, info, warning or error (default: info)."_s, u"level"_s);
    const QCommandLineOption logFormat(u"log-format"_s, u"text or json (default: text)."_s,
                                       u"format"_s);
    const QCommandLineOption demo(u"demo"_s,
                                  u"Enqueue a few jobs of the built-in demo types first."_s);
    const QCommandLineOption noMigrate(u"no-migrate"_s,
                                       u"Do not create or upgrade the jobs table on start."_s);
    const QCommandLineOption pidFile(u"pid-file"_s,
                                     u"Write the process id here; refuse to start while it names a "
                                     "running worker."_s,
                                     u"path"_s);
    const QCommandLineOption monitor(
        u"monitor"_s, u"Dashboard: open the database read-only, without a worker or actions."_s);
    const QCommandLineOption noWorker(u"no-worker"_s,
                                      u"Dashboard: do not start the embedded worker."_s);
    const QCommandLineOption lang(
        u"lang"_s, u"Dashboard language, e.g. de or en (default: the system's)."_s, u"code"_s);
    // enqueue
    const QCommandLineOption runAt(
        u"run-at"_s, u"Earliest start, ISO 8601 (e.g. 2026-12-24T18:00:00Z)."_s, u"time"_s);
    const QCommandLineOption in(u"in"_s, u"Earliest start, in this many seconds."_s, u"seconds"_s);
    const QCommandLineOption queue(u"queue"_s, u"Queue (default: default)."_s, u"name"_s);
    const QCommandLineOption priority(u"priority"_s, u"Smaller runs first (default: 0)."_s, u"n"_s);
    const QCommandLineOption maxAttempts(u"max-attempts"_s, u"Attempts before it fails for good."_s,
                                         u"n"_s);
    const QCommandLineOption timeout(u"timeout"_s, u"Seconds one attempt may take."_s,
                                     u"seconds"_s);
    // list
    const QCommandLineOption status(
        u"status"_s,
        u"Only this status (repeatable): queued, locked, retry, success, "
        "failed, cancelled."_s,
        u"status"_s);
    const QCommandLineOption type(u"type"_s, u"Only this job type (repeatable)."_s, u"type"_s);
    const QCommandLineOption listQueue(u"queue"_s, u"Only this queue (repeatable)."_s, u"name"_s);
    const QCommandLineOption workerFilter(
        u"worker"_s, u"Only jobs locked by this worker (repeatable)."_s, u"name"_s);
    const QCommandLineOption search(u"search"_s, u"Job id, or text in the payload."_s, u"text"_s);
    const QCommandLineOption limit(u"limit"_s, u"At most this many jobs (default: 50)."_s, u"n"_s);
    // stats
    const QCommandLineOption window(
        u"window"_s, u"Seconds of history for rates and durations (default: 3600)."_s,
        u"seconds"_s);

    switch (command) {
    case Command::Dashboard:
    case Command::Headless:
        parser.addOptions({ version,
                            headless,
                            concurrency,
                            workerQueue,
                            poll,
                            lockTimeout,
                            shutdownTimeout,
                            defaultMaxAttempts,
                            defaultTimeout,
                            deleteSuccessful,
                            keepSuccessful,
                            retention,
                            claimBatch,
                            prefetch,
                            claimConnections,
                            logLevel,
                            logFormat,
                            demo,
                            noMigrate,
                            pidFile,
                            monitor,
                            noWorker,
                            lang });
        break;
    case Command::Migrate:
        break;
    case Command::Enqueue:
        parser.addOptions({ json, runAt, in, queue, priority, maxAttempts, timeout });
        parser.addPositionalArgument(u"type"_s, u"The job type, e.g. SendMail."_s);
        parser.addPositionalArgument(
            u"json"_s, u"The payload contents as JSON, or - for standard input."_s, u"[json|-]"_s);
        break;
    case Command::List:
        parser.addOptions({ json, status, type, listQueue, workerFilter, search, limit });
        break;
    case Command::Show:
        parser.addOptions({ json });
        parser.addPositionalArgument(u"id"_s, u"The job id."_s);
        break;
    case Command::Retry:
    case Command::Cancel:
    case Command::Delete:
        parser.addOptions({ json });
        parser.addPositionalArgument(u"ids"_s, u"Job ids."_s, u"id..."_s);
        break;
    case Command::Stats:
        parser.addOptions({ json, window });
        break;
    }

    if (!parser.parse(args))
        return usageError(parser.errorText(), command);
    ParsedOptions p;
    AppOptions &o = p.options;
    o.command = command;
    if (parser.isSet(help)) {
        p.exitCode = 0;
        // Parsed before any application object exists, so Qt does not know the program's name.
        p.output = parser.helpText().replace(u"<executable_name>"_s,
                                             QCoreApplication::applicationName());
        if (!worker)
            p.output.replace(QCoreApplication::applicationName() + u" [options]"_s,
                             QCoreApplication::applicationName() + u' ' + commandName(command)
                                 + u" [options]"_s);
        return p;
    }
    if (worker && parser.isSet(version)) {
        p.exitCode = 0;
        p.output = u"oddjobs "_s + QCoreApplication::applicationVersion();
        return p;
    }

    // Config file first, then the flags on top.
    if (parser.isSet(config)) {
        o.configFile = parser.value(config);
        const QString error = readConfig(o, o.configFile);
        if (!error.isEmpty())
            return usageError(error, command);
    }
    if (parser.isSet(database))
        o.databaseUrl = parser.value(database);
    if (parser.isSet(table))
        o.table = parser.value(table);
    if (!worker && command != Command::Migrate)
        o.json = parser.isSet(json);

    const QStringList positional = parser.positionalArguments();
    switch (command) {
    case Command::Dashboard:
    case Command::Headless: {
        if (!positional.isEmpty())
            return usageError(u"unknown command '%1'"_s.arg(positional.first()), command);
        if (parser.isSet(headless))
            o.command = Command::Headless;
        const QList<QPair<const QCommandLineOption *, QString>> settings {
            { &concurrency, u"concurrency"_s },
            { &poll, u"poll-interval"_s },
            { &lockTimeout, u"lock-timeout"_s },
            { &shutdownTimeout, u"shutdown-timeout"_s },
            { &logLevel, u"log-level"_s },
            { &logFormat, u"log-format"_s },
            { &pidFile, u"pid-file"_s },
            { &defaultMaxAttempts, u"default-max-attempts"_s },
            { &defaultTimeout, u"default-timeout"_s },
            { &retention, u"retention"_s },
            { &claimBatch, u"claim-batch"_s },
            { &prefetch, u"prefetch"_s },
            { &claimConnections, u"claim-connections"_s },
        };
        for (const auto &[option, key] : settings) {
            if (!parser.isSet(*option))
                continue;
            const QString error = applyWorkerSetting(o, key, parser.value(*option), u"--"_s + key);
            if (!error.isEmpty())
                return usageError(error, command);
        }
        if (parser.isSet(workerQueue)) {
            o.queues = parser.values(workerQueue);
            for (const QString &q : std::as_const(o.queues)) {
                if (q.trimmed().isEmpty())
                    return usageError(u"--queue needs a name"_s, command);
            }
        }
        if (parser.isSet(deleteSuccessful) && parser.isSet(keepSuccessful))
            return usageError(u"give --delete-successful or --keep-successful, not both"_s,
                              command);
        if (parser.isSet(deleteSuccessful))
            o.deleteSuccessful = true;
        if (parser.isSet(keepSuccessful))
            o.deleteSuccessful = false;
        o.demo = parser.isSet(demo);
        o.migrate = !parser.isSet(noMigrate);
        o.monitorOnly = parser.isSet(monitor);
        o.autoStartWorker = !parser.isSet(noWorker);
        o.language = parser.value(lang).trimmed();
        if (o.command == Command::Headless
            && (o.monitorOnly || parser.isSet(noWorker) || parser.isSet(lang)))
            return usageError(
                u"--monitor, --no-worker and --lang are dashboard options, not for --headless"_s,
                command);
        if (o.monitorOnly && o.demo)
            return usageError(u"--demo writes jobs; it does not go with --monitor"_s, command);
        break;
    }
    case Command::Migrate:
        if (!positional.isEmpty())
            return usageError(u"unexpected argument '%1'"_s.arg(positional.first()), command);
        break;
    case Command::Enqueue: {
        if (positional.isEmpty())
            return usageError(u"enqueue needs a job type"_s, command);
        if (positional.size() > 2)
            return usageError(
                u"unexpected argument '%1'; quote the JSON as one argument"_s.arg(positional.at(2)),
                command);
        o.jobType = positional.at(0);
        if (o.jobType.trimmed().isEmpty())
            return usageError(u"the job type is empty"_s, command);
        o.payloadText = positional.value(1);
        if (parser.isSet(runAt) && parser.isSet(in))
            return usageError(u"give --run-at or --in, not both"_s, command);
        if (parser.isSet(runAt)) {
            const QDateTime t
                = QDateTime::fromString(parser.value(runAt).trimmed(), Qt::ISODateWithMs);
            if (!t.isValid() || t.date().year() < 1 || t.date().year() > 9999)
                return usageError(
                    u"--run-at must be an ISO 8601 date and time such as 2026-12-24T18:00:00Z, "
                    "not '%1'"_s.arg(parser.value(runAt)),
                    command);
            o.runAt = parser.value(runAt).trimmed();
        }
        if (parser.isSet(in)) {
            bool ok = false;
            const double seconds = parser.value(in).toDouble(&ok);
            if (!ok || !std::isfinite(seconds) || seconds < 0 || seconds > 3153600000.0)
                return usageError(
                    u"--in must be a number of seconds from 0 to 3153600000, not '%1'"_s.arg(
                        parser.value(in)),
                    command);
            o.inSeconds = seconds;
        }
        if (parser.isSet(queue)) {
            o.queue = parser.value(queue).trimmed();
            if (o.queue.isEmpty())
                return usageError(u"--queue needs a name"_s, command);
        }
        if (parser.isSet(priority)
            && !parseInt(parser.value(priority), -1000000, 1000000, &o.priority))
            return usageError(
                rangeError(u"--priority"_s, -1000000, 1000000, parser.value(priority)), command);
        if (parser.isSet(maxAttempts)) {
            int n = 0;
            if (!parseInt(parser.value(maxAttempts), 1, 1000000, &n))
                return usageError(
                    rangeError(u"--max-attempts"_s, 1, 1000000, parser.value(maxAttempts)),
                    command);
            o.maxAttempts = n;
        }
        if (parser.isSet(timeout)) {
            int n = 0;
            if (!parseInt(parser.value(timeout), 1, 31536000, &n))
                return usageError(rangeError(u"--timeout"_s, 1, 31536000, parser.value(timeout)),
                                  command);
            o.timeoutSeconds = n;
        }
        break;
    }
    case Command::List: {
        if (!positional.isEmpty())
            return usageError(u"unexpected argument '%1'"_s.arg(positional.first()), command);
        for (const QString &s : parser.values(status)) {
            if (!OddJobs::statusFromString(s.trimmed()))
                return usageError(
                    u"unknown status '%1'; use queued, locked, retry, success, failed or "
                    "cancelled"_s.arg(s),
                    command);
            o.statuses << s.trimmed();
        }
        o.types = parser.values(type);
        o.listQueues = parser.values(listQueue);
        o.workers = parser.values(workerFilter);
        o.search = parser.value(search);
        if (parser.isSet(limit) && !parseInt(parser.value(limit), 1, 100000, &o.limit))
            return usageError(rangeError(u"--limit"_s, 1, 100000, parser.value(limit)), command);
        break;
    }
    case Command::Show:
    case Command::Retry:
    case Command::Cancel:
    case Command::Delete: {
        if (positional.isEmpty())
            return usageError(u"%1 needs a job id"_s.arg(commandName(command)), command);
        if (command == Command::Show && positional.size() > 1)
            return usageError(u"show takes one job id"_s, command);
        for (const QString &text : positional) {
            bool ok = false;
            const qint64 id = text.toLongLong(&ok);
            if (!ok || id < 1)
                return usageError(u"'%1' is not a job id (a whole number above 0)"_s.arg(text),
                                  command);
            if (!o.ids.contains(id))
                o.ids << id;
        }
        break;
    }
    case Command::Stats:
        if (!positional.isEmpty())
            return usageError(u"unexpected argument '%1'"_s.arg(positional.first()), command);
        if (parser.isSet(window) && !parseInt(parser.value(window), 1, 31536000, &o.windowSeconds))
            return usageError(rangeError(u"--window"_s, 1, 31536000, parser.value(window)),
                              command);
        break;
    }
    if (o.demo && o.command != Command::Headless && o.command != Command::Dashboard)
        return usageError(u"--demo goes with the worker"_s, command);
    return p;
}
