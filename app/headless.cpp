#include "headless.h"

#include "demohandlers.h"
#include "signalwatcher.h"

#include "oddjobs/jobstore.h"
#include "oddjobs/runner.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTextStream>

#include <cstdio>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {

QTextStream &out()
{
    static QTextStream stream(stdout);
    return stream;
}

QTextStream &err()
{
    static QTextStream stream(stderr);
    return stream;
}

// Bad input (URL, table name, options) is the user's to fix: exit code 2. Everything else
// (unreachable server, refused schema) is a runtime failure: exit code 1.
int exitCodeFor(const Error &error)
{
    switch (error.code) {
    case ErrorCode::InvalidUrl:
    case ErrorCode::InvalidTableName:
    case ErrorCode::InvalidArgument:
        return 2;
    default:
        return 1;
    }
}

int fail(const Error &error)
{
    err() << "oddjobs: " << error.message << Qt::endl;
    return exitCodeFor(error);
}

struct Resolved
{
    ConnectionSettings connection;
    StoreOptions store;
};

Result<Resolved> resolve(const AppOptions &options)
{
    auto connection = ConnectionSettings::resolve(options.databaseUrl);
    if (!connection)
        return connection.error();
    auto table = TableName::parse(options.table);
    if (!table)
        return table.error();
    Resolved r;
    r.connection = *connection;
    r.store.table = *table;
    return r;
}

} // namespace

int runMigrate(const AppOptions &options)
{
    auto resolved = resolve(options);
    if (!resolved)
        return fail(resolved.error());
    auto store = JobStore::open(resolved->connection, resolved->store);
    if (!store)
        return fail(store.error());
    auto before = (*store)->migrate();
    if (!before)
        return fail(before.error());
    if (*before == CurrentSchemaVersion)
        out() << "table " << resolved->store.table.toString() << " in " << resolved->connection.displayString()
              << " is up to date (schema version " << CurrentSchemaVersion << ")" << Qt::endl;
    else
        out() << "table " << resolved->store.table.toString() << " in " << resolved->connection.displayString()
              << " migrated from schema version " << *before << " to " << CurrentSchemaVersion << Qt::endl;
    return 0;
}

int runHeadless(const AppOptions &options)
{
    auto resolved = resolve(options);
    if (!resolved)
        return fail(resolved.error());

    // The worker prints its structured events itself; the category output would repeat them.
    QLoggingCategory::setFilterRules(u"oddjobs.core.runner.debug=false\noddjobs.core.runner.info=false\n"
                                     "oddjobs.core.runner.warning=false\noddjobs.core.runner.critical=false"_s);

    {
        // Open once up front: a bad URL, an unreachable server or a refused schema is reported
        // at start-up with a clear message instead of as a retry loop.
        auto store = JobStore::open(resolved->connection, resolved->store);
        if (!store)
            return fail(store.error());
        if (options.migrate) {
            if (auto m = (*store)->migrate(); !m)
                return fail(m.error());
        } else if (auto check = (*store)->checkSchema(); !check) {
            return fail(check.error());
        }
        if (options.demo) {
            auto n = enqueueDemoJobs(**store);
            if (!n)
                return fail(n.error());
            out() << "enqueued " << *n << " demo jobs" << Qt::endl;
        }
    }

    RunnerConfig config;
    config.connection = resolved->connection;
    config.store = resolved->store;
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(options.concurrency);
    config.queues = options.queues;
    config.pollIntervalMs = options.pollIntervalMs;
    config.lockTimeoutSeconds = options.lockTimeoutSeconds;
    config.shutdownTimeoutMs = options.shutdownTimeoutSeconds * 1000;
    HandlerRegistry handlers;
    addDemoHandlers(handlers);

    Runner runner(config, handlers);
    const LogLevel minLevel = options.logLevel;
    const bool json = options.jsonLogs;
    QObject::connect(&runner, &Runner::logEvent, [minLevel, json](const LogEvent &event) {
        if (int(event.level) < int(minLevel))
            return;
        out() << (json ? event.toJsonLine() : event.toText()) << Qt::endl;
    });
    bool reachedRunning = false;
    QObject::connect(&runner, &Runner::started, [&] { reachedRunning = true; });
    QObject::connect(&runner, &Runner::stopped, [&] {
        QCoreApplication::exit(reachedRunning ? 0 : 1);
    });
    SignalWatcher watcher;
    QObject::connect(&watcher, &SignalWatcher::terminationRequested, [&](int, int count) {
        if (count == 1) {
            LogEvent e;
            e.time = QDateTime::currentDateTimeUtc();
            e.kind = LogEventKind::Text;
            e.worker = runner.workerName();
            e.message = u"stopping: running jobs get %1 s to finish (signal again to stop at once)"_s.arg(
                options.shutdownTimeoutSeconds);
            out() << (json ? e.toJsonLine() : e.toText()) << Qt::endl;
            runner.stop();
        } else {
            runner.stopNow();
        }
    });
    runner.start();
    return QCoreApplication::exec();
}
