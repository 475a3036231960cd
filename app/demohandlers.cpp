#include "demohandlers.h"

#include <QJsonObject>
#include <cmath>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {
// The odd-jobs convention puts arguments under "contents"; plain payloads work too.
QJsonValue argument(const Job &job, const QString &name)
{
    const QJsonObject payload = job.payload.toObject();
    const QJsonValue contents = payload.value(u"contents"_s);
    if (contents.isObject() && contents.toObject().contains(name))
        return contents.toObject().value(name);
    return payload.value(name);
}
} // namespace

void addDemoHandlers(HandlerRegistry &registry)
{
    registry.add(u"oddjobs.sleep"_s, [](JobContext &ctx) {
        const double seconds = argument(ctx.job(), u"seconds"_s).toDouble(1.0);
        if (!std::isfinite(seconds) || seconds < 0)
            return HandlerResult::failure(u"seconds must be a number >= 0"_s);
        if (!ctx.sleepFor(int(std::min(seconds, 86400.0) * 1000)))
            return HandlerResult::failure(u"stopped before the sleep was over"_s);
        return HandlerResult::success(QJsonObject { { u"slept"_s, seconds } });
    });
    registry.add(u"oddjobs.echo"_s, [](JobContext &ctx) {
        const QJsonObject payload = ctx.job().payload.toObject();
        return HandlerResult::success(payload.contains(u"contents"_s) ? payload.value(u"contents"_s)
                                                                      : ctx.job().payload);
    });
    registry.add(u"oddjobs.fail"_s, [](JobContext &ctx) {
        QString message = argument(ctx.job(), u"message"_s).toString();
        if (message.isEmpty())
            message = u"failed on purpose (oddjobs.fail)"_s;
        return HandlerResult::failure(message);
    });
}

Result<int> enqueueDemoJobs(JobStore &store)
{
    QList<NewJob> jobs;
    for (double seconds : { 0.5, 1.0, 2.0, 3.0 })
        jobs << NewJob::tagged(u"oddjobs.sleep"_s, QJsonObject { { u"seconds"_s, seconds } });
    for (int i = 1; i <= 4; ++i)
        jobs << NewJob::tagged(u"oddjobs.echo"_s,
                               QJsonObject { { u"hello"_s, u"world"_s }, { u"n"_s, i } });
    // Retries after 2 s and 4 s (2^attempts), then fails for good: all within a minute.
    NewJob failing = NewJob::tagged(u"oddjobs.fail"_s,
                                    QJsonObject { { u"message"_s, u"the demo failure"_s } });
    failing.maxAttempts = 3;
    jobs << failing;
    NewJob once = NewJob::tagged(u"oddjobs.fail"_s,
                                 QJsonObject { { u"message"_s, u"fails once, no retry"_s } });
    once.maxAttempts = 1;
    jobs << once;
    NewJob later = NewJob::tagged(u"oddjobs.echo"_s, QJsonObject { { u"scheduled"_s, true } });
    later.delaySeconds = 5;
    jobs << later;
    NewJob urgent = NewJob::tagged(u"oddjobs.echo"_s, QJsonObject { { u"urgent"_s, true } });
    urgent.priority = -10;
    jobs << urgent;
    auto ids = store.enqueueMany(jobs);
    if (!ids)
        return ids.error();
    return int(ids->size());
}
