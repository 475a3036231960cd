// Enqueues a job into an in-memory SQLite table, runs it with a Runner and prints its status.
#include <QCoreApplication>
#include <QTimer>
#include <cstdio>
#include <oddjobs/jobstore.h>
#include <oddjobs/runner.h>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QString url
        = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QStringLiteral("sqlite::memory:");
    auto settings = OddJobs::ConnectionSettings::fromUrl(url);
    if (!settings) {
        std::fprintf(stderr, "%s\n", qPrintable(settings.error().message));
        return 1;
    }
    auto store = OddJobs::JobStore::open(*settings);
    if (!store || !(*store)->migrate()) {
        std::fprintf(stderr, "cannot open the store\n");
        return 1;
    }
    auto job = (*store)->enqueue(OddJobs::NewJob::tagged(QStringLiteral("consumer.hello")));
    if (!job)
        return 1;
    OddJobs::HandlerRegistry handlers;
    handlers.add(QStringLiteral("consumer.hello"), [](OddJobs::JobContext &) {
        return OddJobs::HandlerResult::success(QStringLiteral("hi"));
    });
    OddJobs::RunnerConfig config;
    config.connection = *settings;
    OddJobs::Runner runner(config, handlers);
    int code = 1;
    QObject::connect(&runner, &OddJobs::Runner::jobSucceeded, [&](const OddJobs::Job &done) {
        std::printf("job %lld %s\n", static_cast<long long>(done.id),
                    qPrintable(OddJobs::statusToString(done.status)));
        code = 0;
        runner.stop();
    });
    QObject::connect(&runner, &OddJobs::Runner::stopped, &app, &QCoreApplication::quit);
    QTimer::singleShot(20000, &app, [&] { runner.stopNow(); });
    runner.start();
    app.exec();
    return code;
}
