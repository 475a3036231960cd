#include "oddjobs/logevent.h"

#include <QJsonDocument>

using namespace Qt::StringLiterals;

namespace OddJobs {

QString logLevelName(LogLevel level)
{
    switch (level) {
    case LogLevel::Debug:
        return u"debug"_s;
    case LogLevel::Info:
        return u"info"_s;
    case LogLevel::Warning:
        return u"warning"_s;
    case LogLevel::Error:
        return u"error"_s;
    }
    return u"info"_s;
}

std::optional<LogLevel> logLevelFromString(QStringView text)
{
    for (LogLevel level : { LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error }) {
        if (text.compare(logLevelName(level), Qt::CaseInsensitive) == 0)
            return level;
    }
    if (text.compare(u"warn", Qt::CaseInsensitive) == 0)
        return LogLevel::Warning;
    return std::nullopt;
}

QString logEventKindName(LogEventKind kind)
{
    switch (kind) {
    case LogEventKind::JobStart:
        return u"job-start"_s;
    case LogEventKind::JobSuccess:
        return u"job-success"_s;
    case LogEventKind::JobFailed:
        return u"job-failed"_s;
    case LogEventKind::JobPermanentlyFailed:
        return u"job-permanently-failed"_s;
    case LogEventKind::JobTimeout:
        return u"job-timeout"_s;
    case LogEventKind::JobCancelled:
        return u"job-cancelled"_s;
    case LogEventKind::JobLockLost:
        return u"job-lock-lost"_s;
    case LogEventKind::JobRescued:
        return u"job-rescued"_s;
    case LogEventKind::JobHandedBack:
        return u"job-handed-back"_s;
    case LogEventKind::Poll:
        return u"poll"_s;
    case LogEventKind::StateChanged:
        return u"state"_s;
    case LogEventKind::DatabaseError:
        return u"database-error"_s;
    case LogEventKind::Reconnected:
        return u"reconnected"_s;
    case LogEventKind::Text:
        return u"text"_s;
    }
    return u"text"_s;
}

QString LogEvent::toText() const
{
    QString line = time.toString(Qt::ISODateWithMs) + u' '
        + logLevelName(level).toUpper().leftJustified(7) + u' ' + logEventKindName(kind);
    if (job)
        line += u" job=%1 type=%2 attempt=%3"_s.arg(job->id).arg(job->type()).arg(job->attempts);
    if (durationMs)
        line += u" duration=%1ms"_s.arg(*durationMs);
    if (!message.isEmpty())
        line += u" " + message;
    return line;
}

QJsonObject LogEvent::toJson() const
{
    QJsonObject o { { u"time"_s, time.toString(Qt::ISODateWithMs) },
                    { u"level"_s, logLevelName(level) },
                    { u"event"_s, logEventKindName(kind) } };
    if (!worker.isEmpty())
        o.insert(u"worker"_s, worker);
    if (job) {
        o.insert(u"job_id"_s, job->id);
        o.insert(u"job_type"_s, job->type());
        o.insert(u"attempt"_s, job->attempts);
        o.insert(u"queue"_s, job->queue);
    }
    if (durationMs)
        o.insert(u"duration_ms"_s, *durationMs);
    if (!message.isEmpty())
        o.insert(u"message"_s, message);
    for (auto it = details.begin(); it != details.end(); ++it)
        o.insert(it.key(), it.value());
    return o;
}

QString LogEvent::toJsonLine() const
{
    return QString::fromUtf8(QJsonDocument(toJson()).toJson(QJsonDocument::Compact));
}

} // namespace OddJobs
