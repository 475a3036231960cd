// A worker process for tst_runnerprocesses:
//   oddjobs_test_worker --url URL --worker NAME [--concurrency N] [--poll-interval MS]
//                       [--lock-timeout S]
// Runs a Runner with two job types: "exec" records its execution in the executions side table
// (support/executionlog.h) around a random 0-5 ms sleep; "hang" sleeps (cooperatively) for ten
// minutes. Prints "ready NAME" once running; on SIGTERM or SIGINT it stops gracefully and
// prints "summary worker=NAME executed=N errors=M" before exiting with 0.

#include "oddjobs/runner.h"
#include "support/executionlog.h"

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
    const QCommandLineOption urlOption(u"url"_s, u"Database URL."_s, u"url"_s);
    const QCommandLineOption workerOption(u"worker"_s, u"Worker name."_s, u"name"_s);
    const QCommandLineOption concurrencyOption(u"concurrency"_s, u"Jobs at once."_s, u"n"_s,
                                               u"4"_s);
    const QCommandLineOption pollOption(u"poll-interval"_s, u"Poll interval in ms."_s, u"ms"_s,
                                        u"500"_s);
    const QCommandLineOption lockOption(u"lock-timeout"_s, u"Lock timeout in s."_s, u"s"_s,
                                        u"60"_s);
    parser.addOptions({ urlOption, workerOption, concurrencyOption, pollOption, lockOption });
    parser.process(app);
    const QString worker = parser.value(workerOption);
    const auto settings = ConnectionSettings::fromUrl(parser.value(urlOption));
    if (!settings || worker.isEmpty()) {
        say(u"oddjobs_test_worker: --url and --worker are required (%1)"_s.arg(
                settings ? QString() : settings.error().message),
            stderr);
        return 2;
    }

    RunnerConfig config;
    config.connection = *settings;
    config.workerName = worker;
    config.concurrency
        = ConcurrencyControl::maxConcurrentJobs(parser.value(concurrencyOption).toInt());
    config.pollIntervalMs = parser.value(pollOption).toInt();
    config.lockTimeoutSeconds = parser.value(lockOption).toInt();
    config.shutdownTimeoutMs = 10000;

    std::atomic<qint64> executed { 0 };
    std::atomic<qint64> errors { 0 };
    HandlerRegistry handlers;
    const ConnectionSettings connection = *settings;
    handlers.add(u"exec"_s, [&executed, &errors, connection, worker](JobContext &ctx) {
        QString error;
        const bool ok = recordExecution(
            connection, ctx.job().id, worker,
            [] { QThread::usleep(QRandomGenerator::global()->bounded(5001)); }, &error);
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
