#include "headless.h"

#include "common.h"
#include "demohandlers.h"
#include "oddjobs/runner.h"
#include "pidfile.h"
#include "signalwatcher.h"

#include <QCoreApplication>
#include <QLoggingCategory>

using namespace Qt::StringLiterals;
using namespace OddJobs;

int runHeadless(const AppOptions &options)
{
    auto target = resolveTarget(options);
    if (!target)
        return fail(target.error());

    // Handlers first: a missing program is a configuration error reported at start-up.
    auto handlers = buildHandlers(options);
    if (!handlers)
        return fail(handlers.error());

    PidFile pidFile;
    if (!options.pidFile.isEmpty()) {
        if (auto r = pidFile.acquire(options.pidFile); !r)
            return fail(r.error());
    }

    // The worker prints its structured events itself; the category output would repeat them.
    QLoggingCategory::setFilterRules(
        u"oddjobs.core.runner.debug=false\noddjobs.core.runner.info=false\n"
        "oddjobs.core.runner.warning=false\noddjobs.core.runner.critical=false"_s);
    {
        // Open once up front: a bad URL, an unreachable server or a refused schema is reported
        // at start-up with a clear message instead of as a retry loop.
        auto store = openStore(*target, options.migrate);
        if (!store)
            return fail(store.error());
        if (options.demo) {
            auto n = enqueueDemoJobs(**store);
            if (!n)
                return fail(n.error());
            // Through the log format: with --log-format json every line of output is JSON.
            LogEvent e;
            e.time = QDateTime::currentDateTimeUtc();
            e.message = u"enqueued %1 demo jobs"_s.arg(*n);
            out() << (options.jsonLogs ? e.toJsonLine() : e.toText()) << Qt::endl;
        }
    }

    RunnerConfig config = runnerConfig(options);
    config.connection = target->connection;
    config.store = target->store;
    Runner runner(config, *handlers);
    const LogLevel minLevel = options.logLevel;
    const bool json = options.jsonLogs;
    auto print = [json](const LogEvent &event) {
        out() << (json ? event.toJsonLine() : event.toText()) << Qt::endl;
    };
    QObject::connect(&runner, &Runner::logEvent, [minLevel, print](const LogEvent &event) {
        if (int(event.level) >= int(minLevel))
            print(event);
    });
    bool reachedRunning = false;
    QObject::connect(&runner, &Runner::started, [&] { reachedRunning = true; });
    QObject::connect(&runner, &Runner::stopped,
                     [&] { QCoreApplication::exit(reachedRunning ? 0 : 1); });
    SignalWatcher watcher;
    QObject::connect(&watcher, &SignalWatcher::terminationRequested, [&](int, int count) {
        LogEvent e;
        e.time = QDateTime::currentDateTimeUtc();
        e.worker = runner.workerName();
        if (count == 1) {
            e.message
                = u"stopping: running jobs get %1 s to finish (signal again to stop at once)"_s.arg(
                    options.shutdownTimeoutSeconds);
            print(e);
            runner.stop();
        } else {
            e.message = u"stopping at once: running jobs are handed back"_s;
            print(e);
            runner.stopNow();
        }
    });
    runner.start();
    return QCoreApplication::exec();
}
