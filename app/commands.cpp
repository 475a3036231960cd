#include "commands.h"

#include "common.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <algorithm>
#include <cstdio>

using namespace Qt::StringLiterals;
using namespace OddJobs;
using Command = AppOptions::Command;

namespace {

void printJson(const QJsonValue &value)
{
    const QByteArray text = value.isArray()
        ? QJsonDocument(value.toArray()).toJson(QJsonDocument::Indented)
        : QJsonDocument(value.toObject()).toJson(QJsonDocument::Indented);
    out() << QString::fromUtf8(text);
    out().flush();
}

QString shortTime(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(u"yyyy-MM-dd HH:mm:ss"_s) : u"-"_s;
}

QString oneLine(const QJsonValue &value, int width)
{
    QString text;
    if (value.isObject() && value.toObject().contains(u"message"_s))
        text = value.toObject().value(u"message"_s).toString();
    else if (!value.isNull() && !value.isUndefined())
        text = QString::fromUtf8(QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact))
                   .mid(1)
                   .chopped(1);
    text.replace(u'\n', u' ');
    return text.size() > width ? text.left(width - 1) + u"…"_s : text;
}

int migrate(JobStore &store, const Target &target)
{
    auto before = store.migrate();
    if (!before)
        return fail(before.error());
    out() << "table " << target.store.table.toString() << " in "
          << target.connection.displayString()
          << (*before == CurrentSchemaVersion
                  ? u" is up to date (schema version %1)"_s.arg(CurrentSchemaVersion)
                  : u" migrated from schema version %1 to %2"_s.arg(*before).arg(
                      CurrentSchemaVersion))
          << Qt::endl;
    return 0;
}

int enqueue(JobStore &store, const AppOptions &o)
{
    QByteArray text = o.payloadText.toUtf8();
    if (o.payloadText == u"-") {
        QFile in;
        if (!in.open(stdin, QIODevice::ReadOnly))
            return fail(makeError(ErrorCode::InvalidArgument, u"cannot read standard input"_s));
        text = in.readAll();
    }
    QJsonValue contents(QJsonValue::Undefined);
    if (!text.trimmed().isEmpty()) {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson("[" + text + "\n]", &error);
        if (error.error != QJsonParseError::NoError || doc.array().size() != 1) {
            // Report the position in the user's text, as line and column.
            const int offset = std::clamp(int(error.offset) - 1, 0, int(text.size()));
            const QByteArray before = text.left(offset);
            const int line = int(before.count('\n')) + 1;
            const int column = int(offset - (before.lastIndexOf('\n') + 1)) + 1;
            return fail(makeError(ErrorCode::InvalidJson,
                                  u"the payload is not valid JSON: %1 at line %2, column %3"_s
                                      .arg(error.error == QJsonParseError::NoError
                                               ? u"more than one value"_s
                                               : error.errorString())
                                      .arg(line)
                                      .arg(column)));
        }
        contents = doc.array().at(0);
    }
    NewJob job = NewJob::tagged(o.jobType, contents);
    job.queue = o.queue;
    job.priority = o.priority;
    job.maxAttempts = o.maxAttempts;
    job.timeoutSeconds = o.timeoutSeconds;
    if (o.runAt)
        job.runAt = QDateTime::fromString(*o.runAt, Qt::ISODateWithMs);
    if (o.inSeconds)
        job.delaySeconds = *o.inSeconds;
    auto created = store.enqueue(job);
    if (!created)
        return fail(created.error());
    if (o.json) {
        printJson(created->toJson());
    } else {
        out() << "enqueued job " << created->id << " (" << created->type() << ", queue "
              << created->queue << ", runs at " << shortTime(created->runAt) << " UTC)" << Qt::endl;
    }
    return 0;
}

JobFilter listFilter(const AppOptions &o)
{
    JobFilter f;
    for (const QString &s : o.statuses)
        f.statuses << *statusFromString(s);
    f.types = o.types;
    f.queues = o.listQueues;
    f.workers = o.workers;
    f.search = o.search;
    return f;
}

int list(JobStore &store, const AppOptions &o)
{
    PageRequest page;
    page.sort = SortKey::Id;
    page.order = Qt::DescendingOrder;
    page.limit = o.limit;
    auto jobs = store.list(listFilter(o), page);
    if (!jobs)
        return fail(jobs.error());
    if (o.json) {
        QJsonArray array;
        for (const Job &job : std::as_const(jobs->jobs))
            array.append(job.toJson());
        printJson(array);
        return 0;
    }
    if (jobs->jobs.isEmpty()) {
        out() << "no jobs" << Qt::endl;
        return 0;
    }
    out() << QStringLiteral("%1  %2  %3  %4  %5  %6  %7  %8")
                 .arg(u"ID"_s, 8)
                 .arg(u"STATUS"_s, -9)
                 .arg(u"TYPE"_s, -22)
                 .arg(u"QUEUE"_s, -10)
                 .arg(u"TRIES"_s, -6)
                 .arg(u"RUN AT (UTC)"_s, -19)
                 .arg(u"UPDATED (UTC)"_s, -19)
                 .arg(u"LAST ERROR"_s)
          << '\n';
    for (const Job &job : std::as_const(jobs->jobs)) {
        const QString tries = job.maxAttempts ? u"%1/%2"_s.arg(job.attempts).arg(*job.maxAttempts)
                                              : QString::number(job.attempts);
        out() << QStringLiteral("%1  %2  %3  %4  %5  %6  %7  %8")
                     .arg(job.id, 8)
                     .arg(statusToString(job.status), -9)
                     .arg(job.type().left(22), -22)
                     .arg(job.queue.left(10), -10)
                     .arg(tries, -6)
                     .arg(shortTime(job.runAt), -19)
                     .arg(shortTime(job.updatedAt), -19)
                     .arg(oneLine(job.lastError, 60))
              << '\n';
    }
    if (jobs->hasMore)
        out() << "(more jobs match; use --limit or filters)\n";
    out().flush();
    return 0;
}

int show(JobStore &store, const AppOptions &o)
{
    const qint64 id = o.ids.first();
    auto job = store.find(id);
    if (!job)
        return fail(job.error());
    if (!*job)
        return fail(makeError(ErrorCode::NotFound, u"job %1 does not exist"_s.arg(id)));
    const Job &j = **job;
    if (o.json) {
        printJson(j.toJson());
        return 0;
    }
    auto pretty = [](const QJsonValue &v) {
        if (v.isNull() || v.isUndefined())
            return u"-"_s;
        if (v.isObject())
            return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Indented))
                .trimmed();
        if (v.isArray())
            return QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Indented))
                .trimmed();
        return oneLine(v, 1000);
    };
    out() << "job " << j.id << "\n"
          << "  type:        " << j.type() << "\n"
          << "  status:      " << statusToString(j.status) << "\n"
          << "  queue:       " << j.queue << "   priority: " << j.priority << "\n"
          << "  attempts:    " << j.attempts << " of "
          << (j.maxAttempts ? QString::number(*j.maxAttempts) : u"the worker's default"_s) << "\n"
          << "  timeout:     "
          << (j.timeoutSeconds ? QString::number(*j.timeoutSeconds) + u" s"_s
                               : u"the worker's default"_s)
          << "\n"
          << "  run at:      " << shortTime(j.runAt) << " UTC\n"
          << "  created:     " << shortTime(j.createdAt) << " UTC\n"
          << "  updated:     " << shortTime(j.updatedAt) << " UTC\n"
          << "  started:     " << shortTime(j.startedAt)
          << "   finished: " << shortTime(j.finishedAt) << "\n"
          << "  locked by:   " << (j.lockedBy.isEmpty() ? u"-"_s : j.lockedBy) << "\n"
          << "payload:\n"
          << pretty(j.payload) << "\n"
          << "last error:\n"
          << pretty(j.lastError) << "\n"
          << "result:\n"
          << pretty(j.result) << Qt::endl;
    return 0;
}

// retry / cancel / delete: every id must exist and allow the action, or nothing changes.
int act(JobStore &store, const AppOptions &o)
{
    for (qint64 id : o.ids) {
        auto job = store.find(id);
        if (!job)
            return fail(job.error());
        if (!*job)
            return fail(makeError(ErrorCode::NotFound,
                                  u"job %1 does not exist; nothing was changed"_s.arg(id)));
        const JobStatus s = (*job)->status;
        if (o.command == Command::Retry
            && !(s == JobStatus::Failed || s == JobStatus::Cancelled || s == JobStatus::Retry
                 || s == JobStatus::Queued)) {
            return fail(makeError(
                ErrorCode::InvalidState,
                u"job %1 is %2; only failed, cancelled, retrying or queued jobs can be run "
                "again; nothing was changed"_s.arg(id)
                    .arg(statusToString(s))));
        }
        if (o.command == Command::Cancel && isFinished(s)) {
            return fail(makeError(
                ErrorCode::InvalidState,
                u"job %1 is already %2; nothing was changed"_s.arg(id).arg(statusToString(s))));
        }
    }
    const JobFilter filter = JobFilter::byIds(o.ids);
    Result<int> changed = o.command == Command::Retry ? store.runNow(filter)
        : o.command == Command::Cancel                ? store.cancel(filter)
                                                      : store.remove(filter);
    if (!changed)
        return fail(changed.error());
    const QString verb = o.command == Command::Retry ? u"queued to run now"_s
        : o.command == Command::Cancel               ? u"cancelled"_s
                                                     : u"deleted"_s;
    if (o.json) {
        QJsonArray ids;
        for (qint64 id : o.ids)
            ids.append(id);
        printJson(QJsonObject { { u"changed"_s, *changed }, { u"ids"_s, ids } });
    } else {
        out() << *changed << (*changed == 1 ? " job " : " jobs ") << verb << Qt::endl;
    }
    return 0;
}

int stats(JobStore &store, const AppOptions &o)
{
    auto all = store.statistics(o.windowSeconds);
    if (!all)
        return fail(all.error());
    auto duration
        = [](const std::optional<double> &s) { return s ? QString::number(*s, 'f', 3) : u"-"_s; };
    if (o.json) {
        QJsonArray array;
        for (const TypeStatistics &s : std::as_const(*all)) {
            auto optional
                = [](const std::optional<double> &v) { return v ? QJsonValue(*v) : QJsonValue(); };
            array.append(QJsonObject {
                { u"type"_s, s.type },
                { u"queued"_s, s.queued },
                { u"locked"_s, s.locked },
                { u"retry"_s, s.retry },
                { u"success"_s, s.success },
                { u"failed"_s, s.failed },
                { u"cancelled"_s, s.cancelled },
                { u"window_seconds"_s, o.windowSeconds },
                { u"succeeded_in_window"_s, s.succeededInWindow },
                { u"failed_in_window"_s, s.failedInWindow },
                { u"success_rate"_s, s.successRate },
                { u"throughput_per_second"_s, s.throughputPerSecond },
                { u"duration_p50_seconds"_s, optional(s.durationP50Seconds) },
                { u"duration_p95_seconds"_s, optional(s.durationP95Seconds) },
            });
        }
        printJson(array);
        return 0;
    }
    if (all->isEmpty()) {
        out() << "no jobs" << Qt::endl;
        return 0;
    }
    out() << QStringLiteral("%1 %2 %3 %4 %5 %6 %7  %8 %9 %10")
                 .arg(u"TYPE"_s, -22)
                 .arg(u"QUEUED"_s, 8)
                 .arg(u"RUNNING"_s, 8)
                 .arg(u"RETRY"_s, 8)
                 .arg(u"SUCCESS"_s, 9)
                 .arg(u"FAILED"_s, 8)
                 .arg(u"CANCELLED"_s, 9)
                 .arg(u"OK %"_s, 6)
                 .arg(u"JOBS/S"_s, 8)
                 .arg(u"P50/P95 S"_s)
          << '\n';
    for (const TypeStatistics &s : std::as_const(*all)) {
        out() << QStringLiteral("%1 %2 %3 %4 %5 %6 %7  %8 %9 %10")
                     .arg(s.type.left(22), -22)
                     .arg(s.queued, 8)
                     .arg(s.locked, 8)
                     .arg(s.retry, 8)
                     .arg(s.success, 9)
                     .arg(s.failed, 8)
                     .arg(s.cancelled, 9)
                     .arg(s.finishedInWindow ? QString::number(s.successRate * 100, 'f', 1)
                                             : u"-"_s,
                          6)
                     .arg(QString::number(s.throughputPerSecond, 'f', 2), 8)
                     .arg(duration(s.durationP50Seconds) + u'/' + duration(s.durationP95Seconds))
              << '\n';
    }
    out() << "(rates and durations over the last " << o.windowSeconds << " s)" << Qt::endl;
    return 0;
}

} // namespace

int runCommand(const AppOptions &o)
{
    // The command prints what happened itself; the library's info lines would repeat it.
    QLoggingCategory::setFilterRules(u"oddjobs.*.info=false"_s);
    auto target = resolveTarget(o);
    if (!target)
        return fail(target.error());
    if (o.command == Command::Migrate) {
        auto store = JobStore::open(target->connection, target->store);
        if (!store)
            return fail(store.error());
        return migrate(**store, *target);
    }
    auto store = openStore(*target, false);
    if (!store)
        return fail(store.error());
    switch (o.command) {
    case Command::Enqueue:
        return enqueue(**store, o);
    case Command::List:
        return list(**store, o);
    case Command::Show:
        return show(**store, o);
    case Command::Retry:
    case Command::Cancel:
    case Command::Delete:
        return act(**store, o);
    case Command::Stats:
        return stats(**store, o);
    case Command::Migrate:
    case Command::Dashboard:
    case Command::Headless:
        break;
    }
    return 2;
}
