#pragma once

#include "oddjobs/core_export.h"
#include "oddjobs/job.h"

#include <QDateTime>
#include <QJsonObject>
#include <QMetaType>
#include <QString>
#include <optional>

namespace OddJobs {

enum class LogLevel
{
    Debug,
    Info,
    Warning,
    Error
};

// odd-jobs' LogEvent set (start, success, failed, permanently failed, timeout, poll, text)
// and the events this runner adds.
enum class LogEventKind
{
    JobStart,
    JobSuccess,
    JobFailed,
    JobPermanentlyFailed,
    JobTimeout,
    JobCancelled,
    JobLockLost, // the row was rescued or changed by someone else while the handler ran
    JobRescued, // this worker moved a dead worker's job back to retry/failed
    JobHandedBack, // shutdown gave the job back to the queue
    Poll,
    StateChanged,
    DatabaseError,
    Reconnected,
    Text,
};

OJ_CORE_EXPORT QString logLevelName(LogLevel level);
OJ_CORE_EXPORT std::optional<LogLevel> logLevelFromString(QStringView text);
OJ_CORE_EXPORT QString logEventKindName(LogEventKind kind);

// One structured event of the runner. Rendered as text or as one JSON object per line.
struct OJ_CORE_EXPORT LogEvent
{
    QDateTime time; // UTC, local clock
    LogLevel level = LogLevel::Info;
    LogEventKind kind = LogEventKind::Text;
    QString worker;
    std::optional<Job> job;
    std::optional<qint64> durationMs;
    QString message;
    QJsonObject details;

    QString toText() const;
    QJsonObject toJson() const;
    QString toJsonLine() const;
};

} // namespace OddJobs

Q_DECLARE_METATYPE(OddJobs::LogEvent)
