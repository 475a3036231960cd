// A worker process for tst_faults:
//   oddjobs_test_faultworker --url URL --worker NAME --exec-log FILE [--concurrency N]
//       [--poll-interval MS] [--lock-timeout S] [--shutdown-timeout MS] [--stop-grace MS]
//       [--backoff SPEC] [--queue NAME]...
// Runs a Runner whose handlers misbehave on request. Every handler call appends
// "begin JOB ATTEMPT WORKER MICROS" and, when it returns (also by throwing),
// "end JOB ATTEMPT WORKER MICROS" to FILE (one write() each on an O_APPEND descriptor, so the
// lines of many processes never mix; the local clock, one host). The log does not depend on
// the database, so it is complete even while the database is down or refuses connections.
// Job types (arguments in the payload's "contents"):
//   fault.sleep  {"ms": n, "first_ms": n, "slow_worker": name, "slow_ms": n, "cleanup_ms": n}:
//                sleeps (waking early when asked to stop) slow_ms in the worker named
//                slow_worker, else first_ms on attempt 1, else ms; when stopped, spends
//                cleanup_ms finishing up (not interruptible) and fails.
//   fault.throw  {"fail_attempts": n}: throws std::runtime_error on attempts 1..n, then succeeds.
//   fault.ignore {"ms": n, "slow_worker": name, "slow_ms": n}: sleeps (slow_ms in the worker
//                named slow_worker, else ms) ignoring every request to stop, then succeeds.
// Standard output: "ready NAME" once running, "event <log event as text>" for every log event
// but polls, "dberror MESSAGE" for Runner::databaseError, "summary worker=NAME" when stopped.
// The first SIGTERM/SIGINT stops gracefully, the second at once; the exit code is 0.

#include "oddjobs/runner.h"
#include "support/workeroptions.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QMutex>
#include <QSocketNotifier>
#include <QTextStream>
#include <QThread>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {

int g_signalFds[2] = { -1, -1 };
int g_execLog = -1;

void onSignal(int number)
{
    const unsigned char byte = static_cast<unsigned char>(number);
    [[maybe_unused]] const auto written = ::write(g_signalFds[0], &byte, 1);
}

QMutex g_outMutex;

void say(const QString &line, FILE *stream = stdout)
{
    QMutexLocker lock(&g_outMutex);
    QTextStream out(stream);
    out << line << Qt::endl; // flushes: the test waits for these lines
}

qint64 microsNow()
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void appendExecLog(const char *what, const Job &job, const QString &worker)
{
    const QByteArray line = QByteArray(what) + ' ' + QByteArray::number(job.id) + ' '
        + QByteArray::number(job.attempts) + ' ' + worker.toUtf8() + ' '
        + QByteArray::number(microsNow()) + '\n';
    if (::write(g_execLog, line.constData(), size_t(line.size())) != line.size())
        say(u"cannot write the execution log"_s, stderr);
}

// Logs the begin of a handler call now and its end when the scope is left, however it is left.
class Execution
{
public:
    Execution(const Job &job, const QString &worker)
        : m_job(job)
        , m_worker(worker)
    {
        appendExecLog("begin", m_job, m_worker);
    }
    ~Execution() { appendExecLog("end", m_job, m_worker); }
    Execution(const Execution &) = delete;
    Execution &operator=(const Execution &) = delete;

private:
    const Job &m_job;
    const QString &m_worker;
};

int argument(const Job &job, const QString &name, int fallback)
{
    return job.payload.toObject().value(u"contents"_s).toObject().value(name).toInt(fallback);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(u"oddjobs.*.debug=false\noddjobs.*.info=false"_s);

    QCommandLineParser parser;
    parser.addHelpOption();
    const Test::WorkerOptions common(u"1000"_s);
    common.addTo(parser);
    const QCommandLineOption logOption(u"exec-log"_s, u"Execution log file."_s, u"file"_s);
    const QCommandLineOption shutdownOption(u"shutdown-timeout"_s, u"Drain time in ms."_s, u"ms"_s,
                                            u"10000"_s);
    const QCommandLineOption graceOption(u"stop-grace"_s, u"Stop grace in ms."_s, u"ms"_s,
                                         u"10000"_s);
    const QCommandLineOption backoffOption(u"backoff"_s, u"Retry backoff."_s, u"spec"_s,
                                           u"oddjobs"_s);
    const QCommandLineOption queueOption(u"queue"_s, u"A queue to serve (default: all)."_s,
                                         u"name"_s);
    parser.addOptions({ logOption, shutdownOption, graceOption, backoffOption, queueOption });
    parser.process(app);
    const QString worker = common.workerName(parser);
    const auto settings = common.connection(parser);
    const auto backoff = Backoff::fromString(parser.value(backoffOption));
    if (!settings || worker.isEmpty() || !parser.isSet(logOption) || !backoff) {
        say(u"oddjobs_test_faultworker: --url, --worker and --exec-log are required, --backoff "
            "must be valid (%1)"_s.arg(settings ? QString() : settings.error().message),
            stderr);
        return 2;
    }
    g_execLog = ::open(QFile::encodeName(parser.value(logOption)).constData(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_execLog < 0) {
        say(u"oddjobs_test_faultworker: cannot open %1"_s.arg(parser.value(logOption)), stderr);
        return 2;
    }

    RunnerConfig config = common.config(parser, *settings);
    config.shutdownTimeoutMs = parser.value(shutdownOption).toInt();
    config.stopGraceMs = parser.value(graceOption).toInt();
    config.backoff = *backoff;
    config.queues = parser.values(queueOption);

    HandlerRegistry handlers;
    handlers.add(u"fault.sleep"_s, [worker](JobContext &ctx) {
        const Job &job = ctx.job();
        Execution execution(job, worker);
        const QJsonObject contents = job.payload.toObject().value(u"contents"_s).toObject();
        int ms = argument(job, u"ms"_s, 0);
        if (contents.value(u"slow_worker"_s).toString() == worker)
            ms = argument(job, u"slow_ms"_s, ms);
        else if (job.attempts == 1)
            ms = argument(job, u"first_ms"_s, ms);
        if (!ctx.sleepFor(ms)) {
            // Asked to stop: finishing the current step takes a moment.
            QThread::msleep(ulong(argument(job, u"cleanup_ms"_s, 0)));
            return HandlerResult::failure(u"stopped"_s);
        }
        return HandlerResult::success(QJsonObject { { u"worker"_s, worker } });
    });
    handlers.add(u"fault.throw"_s, [worker](JobContext &ctx) {
        const Job &job = ctx.job();
        Execution execution(job, worker);
        if (job.attempts <= argument(job, u"fail_attempts"_s, 0))
            throw std::runtime_error("thrown on attempt " + std::to_string(job.attempts));
        return HandlerResult::success(QJsonObject { { u"worker"_s, worker } });
    });
    handlers.add(u"fault.ignore"_s, [worker](JobContext &ctx) {
        const Job &job = ctx.job();
        Execution execution(job, worker);
        const QJsonObject contents = job.payload.toObject().value(u"contents"_s).toObject();
        int ms = argument(job, u"ms"_s, 0);
        if (contents.value(u"slow_worker"_s).toString() == worker)
            ms = argument(job, u"slow_ms"_s, ms);
        QThread::msleep(ulong(ms)); // deaf to stop requests
        return HandlerResult::success(QJsonObject { { u"worker"_s, worker } });
    });

    Runner runner(config, handlers);
    QObject::connect(&runner, &Runner::started, [&] { say(u"ready "_s + worker); });
    QObject::connect(&runner, &Runner::logEvent, [](const LogEvent &event) {
        if (event.kind != LogEventKind::Poll)
            say(u"event "_s + event.toText());
    });
    QObject::connect(&runner, &Runner::databaseError,
                     [](const QString &message) { say(u"dberror "_s + message); });
    QObject::connect(&runner, &Runner::stopped, [&] {
        say(u"summary worker=%1"_s.arg(worker));
        QCoreApplication::exit(0);
    });

    // SIGTERM/SIGINT through a socket pair into the event loop: the first stops gracefully,
    // the second at once.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_signalFds) != 0) {
        say(u"oddjobs_test_faultworker: socketpair failed"_s, stderr);
        return 1;
    }
    ::fcntl(g_signalFds[0], F_SETFL, O_NONBLOCK);
    QSocketNotifier notifier(g_signalFds[1], QSocketNotifier::Read);
    int signalCount = 0;
    QObject::connect(&notifier, &QSocketNotifier::activated, [&] {
        unsigned char byte = 0;
        if (::read(g_signalFds[1], &byte, 1) != 1)
            return;
        if (++signalCount == 1)
            runner.stop();
        else
            runner.stopNow();
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
