// A worker process for tst_runnerprocesses and the soak test (tests/soak):
//   oddjobs_test_worker --url URL --worker NAME [--concurrency N] [--poll-interval MS]
//                       [--lock-timeout S] [--prefetch N] [--claim-batch N] [--exec-us MIN-MAX]
//                       [--log-retry S]
// Runs a Runner with two job types: "exec" records its execution in the executions side table
// (support/executionlog.h) around a random sleep (0-5000 microseconds unless --exec-us says
// otherwise); "hang" sleeps (cooperatively) for ten minutes. With --log-retry the execution
// log's writes ride out a database that is away for up to S seconds, so a server restart does
// not turn into failed jobs. Prints "ready NAME" once running; on SIGTERM or SIGINT it stops
// gracefully and prints "summary worker=NAME executed=N errors=M" before exiting with 0.

#include "oddjobs/runner.h"
#include "support/executionlog.h"
#include "support/workeroptions.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QTextStream>
#include <QThread>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace OddJobs;
using OddJobs::Test::recordExecution;
using OddJobs::Test::recordExecutionRetrying;

namespace {

int g_signalFds[2] = { -1, -1 };

void onSignal(int number)
{
    const unsigned char byte = static_cast<unsigned char>(number);
    [[maybe_unused]] const auto written = ::write(g_signalFds[0], &byte, 1);
}

void say(const QString &line, FILE *stream = stdout)
{
    QTextStream out(stream);
    out << line << Qt::endl; // flushes: the test waits for these lines
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(u"oddjobs.*.debug=false\noddjobs.*.info=false"_s);

    QCommandLineParser parser;
    parser.addHelpOption();
    const Test::WorkerOptions common(u"500"_s);
    common.addTo(parser);
    const QCommandLineOption prefetchOption(u"prefetch"_s, u"Jobs claimed ahead."_s, u"n"_s,
                                            u"0"_s);
    const QCommandLineOption claimBatchOption(u"claim-batch"_s, u"Jobs one claim takes at most."_s,
                                              u"n"_s,
                                              QString::number(RunnerConfig().maxClaimBatch));
    const QCommandLineOption execOption(u"exec-us"_s, u"Sleep range of an exec job."_s,
                                        u"min-max"_s, u"0-5000"_s);
    const QCommandLineOption logRetryOption(
        u"log-retry"_s, u"Retry execution log writes for up to this long."_s, u"s"_s, u"0"_s);
    parser.addOptions({ prefetchOption, claimBatchOption, execOption, logRetryOption });
    parser.process(app);
    const QString worker = common.workerName(parser);
    const auto settings = common.connection(parser);
    if (!settings || worker.isEmpty()) {
        say(u"oddjobs_test_worker: --url and --worker are required (%1)"_s.arg(
                settings ? QString() : settings.error().message),
            stderr);
        return 2;
    }
    const QStringList execRange = parser.value(execOption).split(u'-');
    bool minOk = false;
    bool maxOk = false;
    const int execMinUs = execRange.value(0).toInt(&minOk);
    const int execMaxUs = execRange.value(1).toInt(&maxOk);
    if (execRange.size() != 2 || !minOk || !maxOk || execMinUs < 0 || execMaxUs < execMinUs) {
        say(u"oddjobs_test_worker: --exec-us wants MIN-MAX microseconds"_s, stderr);
        return 2;
    }
    const int logRetryMs = parser.value(logRetryOption).toInt() * 1000;

    RunnerConfig config = common.config(parser, *settings);
    config.prefetch = parser.value(prefetchOption).toInt();
    config.maxClaimBatch = parser.value(claimBatchOption).toInt();
    config.shutdownTimeoutMs = 10000;

    std::atomic<qint64> executed { 0 };
    std::atomic<qint64> errors { 0 };
    HandlerRegistry handlers;
    const ConnectionSettings connection = *settings;
    handlers.add(u"exec"_s, [&, connection, worker](JobContext &ctx) {
        QString error;
        const auto work = [&] {
            QThread::usleep(execMinUs
                            + QRandomGenerator::global()->bounded(execMaxUs - execMinUs + 1));
        };
        const bool ok = logRetryMs > 0
            ? recordExecutionRetrying(
                connection, ctx.job().id, worker, work, logRetryMs,
                [&ctx] { return ctx.isStopRequested(); }, &error)
            : recordExecution(connection, ctx.job().id, worker, work, &error);
        if (!ok) {
            ++errors;
            say(u"oddjobs_test_worker %1: %2"_s.arg(worker, error), stderr);
            return HandlerResult::failure(error);
        }
        ++executed;
        return HandlerResult::success();
    });
    handlers.add(u"hang"_s, [](JobContext &ctx) { ctx.sleepFor(600000); });

    Runner runner(config, handlers);
    QObject::connect(&runner, &Runner::started, [&] { say(u"ready "_s + worker); });
    QObject::connect(&runner, &Runner::databaseError, [&](const QString &message) {
        say(u"oddjobs_test_worker %1: %2"_s.arg(worker, message), stderr);
    });
    // Shown next to the warnings, so a soak's worker log tells when the database came back.
    QObject::connect(&runner, &Runner::logEvent, [&](const LogEvent &event) {
        if (event.kind == LogEventKind::Reconnected)
            say(u"oddjobs_test_worker %1: %2 %3"_s.arg(
                    worker, event.time.toString(Qt::ISODateWithMs), event.message),
                stderr);
    });
    QObject::connect(&runner, &Runner::stopped, [&] {
        say(u"summary worker=%1 executed=%2 errors=%3"_s.arg(worker)
                .arg(executed.load())
                .arg(errors.load()));
        QCoreApplication::exit(0);
    });

    // SIGTERM/SIGINT through a socket pair into the event loop: stop gracefully.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_signalFds) != 0) {
        say(u"oddjobs_test_worker: socketpair failed"_s, stderr);
        return 1;
    }
    ::fcntl(g_signalFds[0], F_SETFL, O_NONBLOCK);
    QSocketNotifier notifier(g_signalFds[1], QSocketNotifier::Read);
    QObject::connect(&notifier, &QSocketNotifier::activated, [&] {
        unsigned char byte = 0;
        if (::read(g_signalFds[1], &byte, 1) == 1)
            runner.stop();
    });
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);

    runner.start();
    const int code = QCoreApplication::exec();
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    return code;
}
