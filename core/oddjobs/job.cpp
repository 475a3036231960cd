#include "oddjobs/job.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

using namespace Qt::StringLiterals;

namespace OddJobs {

QString statusToString(JobStatus status)
{
    switch (status) {
    case JobStatus::Queued:
        return u"queued"_s;
    case JobStatus::Locked:
        return u"locked"_s;
    case JobStatus::Retry:
        return u"retry"_s;
    case JobStatus::Success:
        return u"success"_s;
    case JobStatus::Failed:
        return u"failed"_s;
    case JobStatus::Cancelled:
        return u"cancelled"_s;
    }
    return {};
}

std::optional<JobStatus> statusFromString(QStringView text)
{
    for (JobStatus s : allStatuses()) {
        if (text == statusToString(s))
            return s;
    }
    return std::nullopt;
}

QList<JobStatus> allStatuses()
{
    return { JobStatus::Queued,  JobStatus::Locked, JobStatus::Retry,
             JobStatus::Success, JobStatus::Failed, JobStatus::Cancelled };
}

bool isFinished(JobStatus status)
{
    return status == JobStatus::Success || status == JobStatus::Failed
        || status == JobStatus::Cancelled;
}

QString jobTypeOf(const QJsonValue &payload)
{
    const QJsonValue tag = payload.toObject().value(u"tag"_s);
    if (tag.isString())
        return tag.toString();
    return UnknownJobType.toString();
}

QJsonObject Job::toJson() const
{
    auto time = [](const QDateTime &t) {
        return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue();
    };
    auto optional = [](const std::optional<int> &v) { return v ? QJsonValue(*v) : QJsonValue(); };
    return QJsonObject {
        { u"id"_s, id },
        { u"type"_s, type() },
        { u"status"_s, statusToString(status) },
        { u"queue"_s, queue },
        { u"priority"_s, priority },
        { u"attempts"_s, attempts },
        { u"max_attempts"_s, optional(maxAttempts) },
        { u"timeout_seconds"_s, optional(timeoutSeconds) },
        { u"run_at"_s, time(runAt) },
        { u"created_at"_s, time(createdAt) },
        { u"updated_at"_s, time(updatedAt) },
        { u"locked_at"_s, time(lockedAt) },
        { u"locked_by"_s, lockedBy.isEmpty() ? QJsonValue() : QJsonValue(lockedBy) },
        { u"started_at"_s, time(startedAt) },
        { u"finished_at"_s, time(finishedAt) },
        { u"payload"_s, payload },
        { u"last_error"_s, lastError },
        { u"result"_s, result },
    };
}

NewJob NewJob::tagged(const QString &type, const QJsonValue &contents)
{
    NewJob job;
    QJsonObject payload { { u"tag"_s, type } };
    if (!contents.isUndefined())
        payload.insert(u"contents"_s, contents);
    job.payload = payload;
    return job;
}

JobFilter JobFilter::byIds(const QList<qint64> &ids)
{
    JobFilter filter;
    filter.ids = ids;
    return filter;
}

bool JobFilter::matches(const Job &job) const
{
    if (ids && !ids->contains(job.id))
        return false;
    if (!statuses.isEmpty() && !statuses.contains(job.status))
        return false;
    if (!types.isEmpty() && !types.contains(job.type()))
        return false;
    if (!queues.isEmpty() && !queues.contains(job.queue))
        return false;
    if (!workers.isEmpty() && !workers.contains(job.lockedBy))
        return false;
    if (from.isValid() || to.isValid()) {
        QDateTime t;
        switch (timeField) {
        case TimeField::CreatedAt:
            t = job.createdAt;
            break;
        case TimeField::UpdatedAt:
            t = job.updatedAt;
            break;
        case TimeField::RunAt:
            t = job.runAt;
            break;
        case TimeField::FinishedAt:
            t = job.finishedAt;
            break;
        }
        if (!t.isValid() || (from.isValid() && t < from) || (to.isValid() && t >= to))
            return false;
    }
    const QString needle = search.trimmed();
    if (!needle.isEmpty()) {
        bool isNumber = false;
        const qint64 id = needle.toLongLong(&isNumber);
        if (isNumber && id == job.id)
            return true;
        // Wrapped in an array so scalars serialize too; the brackets are not the payload's.
        const QByteArray wrapped
            = QJsonDocument(QJsonArray { job.payload }).toJson(QJsonDocument::Compact);
        if (!QString::fromUtf8(wrapped.mid(1, wrapped.size() - 2))
                 .contains(needle, Qt::CaseInsensitive))
            return false;
    }
    return true;
}

bool JobFilter::isEmpty() const
{
    return !ids && statuses.isEmpty() && types.isEmpty() && queues.isEmpty() && workers.isEmpty()
        && !from.isValid() && !to.isValid() && search.isEmpty();
}

} // namespace OddJobs
