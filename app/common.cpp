#include "common.h"

#include "demohandlers.h"
#include "processhandler.h"

#include <cstdio>

using namespace Qt::StringLiterals;
using namespace OddJobs;

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

int exitCodeFor(const Error &error)
{
    switch (error.code) {
    case ErrorCode::InvalidUrl:
    case ErrorCode::InvalidTableName:
    case ErrorCode::InvalidArgument:
    case ErrorCode::InvalidJson:
    case ErrorCode::PayloadTooLarge:
        return 2;
    default:
        return 1;
    }
}

int fail(const Error &error)
{
    QString message = error.message;
    message.replace(u'\n', u' ');
    err() << "oddjobs: " << message << Qt::endl;
    return exitCodeFor(error);
}

Result<Target> resolveTarget(const AppOptions &options)
{
    auto connection = ConnectionSettings::resolve(options.databaseUrl);
    if (!connection)
        return connection.error();
    auto table = TableName::parse(options.table);
    if (!table)
        return table.error();
    Target t;
    t.connection = *connection;
    t.store.table = *table;
    return t;
}

Result<std::unique_ptr<JobStore>> openStore(const Target &target, bool migrate)
{
    auto store = JobStore::open(target.connection, target.store);
    if (!store)
        return store.error();
    if (migrate) {
        if (auto m = (*store)->migrate(); !m)
            return m.error();
    } else if (auto check = (*store)->checkSchema(); !check) {
        return check.error();
    }
    return store;
}

Result<HandlerRegistry> buildHandlers(const AppOptions &options)
{
    HandlerRegistry handlers;
    addDemoHandlers(handlers);
    for (const auto &[type, commandLine] : options.handlers) {
        auto spec = ProcessHandlerSpec::parse(type, commandLine);
        if (!spec)
            return spec.error();
        handlers.add(type, makeProcessHandler(*spec));
    }
    return handlers;
}

RunnerConfig runnerConfig(const AppOptions &options)
{
    RunnerConfig config;
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(options.concurrency);
    config.queues = options.queues;
    config.pollIntervalMs = options.pollIntervalMs;
    config.lockTimeoutSeconds = options.lockTimeoutSeconds;
    config.shutdownTimeoutMs = options.shutdownTimeoutSeconds * 1000;
    config.defaultMaxAttempts = options.defaultMaxAttempts;
    config.defaultTimeoutSeconds = options.defaultTimeoutSeconds;
    config.deleteSuccessfulJobs = options.deleteSuccessful;
    config.retentionSeconds = options.retentionSeconds;
    config.maxClaimBatch = options.claimBatch;
    config.prefetch = options.prefetch;
    config.claimConnections = options.claimConnections;
    return config;
}
