#include "oddjobs/jobstore.h"

#include "oddjobs/logging.h"
#include "oddjobs/schema_p.h"
#include "oddjobs/sqlbackend_p.h"

#include <QAtomicInteger>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDriver>
#include <QSqlField>
#include <QSqlRecord>
#include <QThread>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <libpq-fe.h>
#include <utility>

using namespace Qt::StringLiterals;

namespace OddJobs {

using namespace Internal;

namespace {

// Column order of every job SELECT/RETURNING; rowToJob reads by these positions.
enum Column
{
    ColId,
    ColCreatedAt,
    ColUpdatedAt,
    ColRunAt,
    ColStatus,
    ColPayload,
    ColLastError,
    ColAttempts,
    ColLockedAt,
    ColLockedBy,
    ColQueue,
    ColPriority,
    ColMaxAttempts,
    ColTimeout,
    ColResult,
    ColStartedAt,
    ColFinishedAt,
    ColJobType,
};

// How a column is read: as it is, a timestamp as integer microseconds since the epoch, or
// JSON as text.
enum class ColumnKind
{
    Plain,
    Time,
    Json,
};

QString selectList(bool pg, const QString &alias,
                   std::initializer_list<std::pair<const char *, ColumnKind>> list)
{
    const QString a = alias.isEmpty() ? QString() : alias + u'.';
    QStringList out;
    for (const auto &[name, kind] : list) {
        const QString col = a + QLatin1String(name);
        switch (kind) {
        case ColumnKind::Plain:
            out << col;
            break;
        case ColumnKind::Time:
            out << (pg ? u"(EXTRACT(EPOCH FROM %1) * 1000000)::int8"_s.arg(col) : col);
            break;
        case ColumnKind::Json:
            // SQLite's conversion of stored text to UTF-16 turns U+FFFE and U+FFFF into
            // U+FFFD; its bytes, read as a BLOB, are the JSON exactly as written.
            out << (pg ? col + u"::text"_s : u"CAST(%1 AS BLOB)"_s.arg(col));
            break;
        }
    }
    return out.join(u", "_s);
}

QString columns(bool pg, const QString &alias = {})
{
    using enum ColumnKind;
    return selectList(pg, alias,
                      { { "id", Plain },
                        { "created_at", Time },
                        { "updated_at", Time },
                        { "run_at", Time },
                        { "status", Plain },
                        { "payload", Json },
                        { "last_error", Json },
                        { "attempts", Plain },
                        { "locked_at", Time },
                        { "locked_by", Plain },
                        { "queue", Plain },
                        { "priority", Plain },
                        { "max_attempts", Plain },
                        { "timeout_seconds", Plain },
                        { "result", Json },
                        { "started_at", Time },
                        { "finished_at", Time },
                        { "job_type", Plain } });
}

// What a claim returns: what the claim did not set itself. A claimed row is 'locked' by the
// claiming worker and started when it was locked; the type is not read. Each timestamp costs
// the server a numeric conversion per row: the full list cost a claim ~1 µs more per row (of
// ~10).
enum ClaimColumn
{
    ClaimId,
    ClaimCreatedAt,
    ClaimUpdatedAt,
    ClaimRunAt,
    ClaimLockedAt,
    ClaimPayload,
    ClaimLastError,
    ClaimAttempts,
    ClaimQueue,
    ClaimPriority,
    ClaimMaxAttempts,
    ClaimTimeout,
    ClaimResult,
    ClaimFinishedAt,
};

QString claimColumns(bool pg, const QString &alias = {})
{
    using enum ColumnKind;
    return selectList(pg, alias,
                      { { "id", Plain },
                        { "created_at", Time },
                        { "updated_at", Time },
                        { "run_at", Time },
                        { "locked_at", Time },
                        { "payload", Json },
                        { "last_error", Json },
                        { "attempts", Plain },
                        { "queue", Plain },
                        { "priority", Plain },
                        { "max_attempts", Plain },
                        { "timeout_seconds", Plain },
                        { "result", Json },
                        { "finished_at", Time } });
}

QDateTime fromMicros(qint64 micros)
{
    return QDateTime::fromMSecsSinceEpoch(micros / 1000, Qt::UTC);
}

QDateTime fromMicros(const QVariant &value)
{
    if (value.isNull())
        return {};
    return fromMicros(value.toLongLong());
}

qint64 toMicros(const QDateTime &time)
{
    return time.toMSecsSinceEpoch() * 1000;
}

std::optional<int> optionalInt(const QVariant &value)
{
    if (value.isNull())
        return std::nullopt;
    return value.toInt();
}

// No rows asked for, or no type with a handler: no statement needed.
bool claimsNothing(const ClaimRequest &request)
{
    return request.limit < 1 || (!request.anyType && request.types.isEmpty());
}

// A JSON column that may be NULL.
QJsonValue optionalJson(const QVariant &value)
{
    return value.isNull() ? QJsonValue() : parseJson(value.toString());
}

QVariant boundInt(const std::optional<int> &value)
{
    return value ? QVariant(*value) : nullOf<int>();
}

Job rowToJob(const QSqlQuery &q)
{
    Job job;
    job.id = q.value(ColId).toLongLong();
    job.createdAt = fromMicros(q.value(ColCreatedAt));
    job.updatedAt = fromMicros(q.value(ColUpdatedAt));
    job.revision = q.value(ColUpdatedAt).toLongLong();
    job.runAt = fromMicros(q.value(ColRunAt));
    job.status = statusFromString(q.value(ColStatus).toString()).value_or(JobStatus::Queued);
    job.payload = parseJson(q.value(ColPayload).toString());
    job.lastError = optionalJson(q.value(ColLastError));
    job.attempts = q.value(ColAttempts).toInt();
    job.lockedAt = fromMicros(q.value(ColLockedAt));
    job.lockedBy = q.value(ColLockedBy).toString();
    job.queue = q.value(ColQueue).toString();
    job.priority = q.value(ColPriority).toInt();
    job.maxAttempts = optionalInt(q.value(ColMaxAttempts));
    job.timeoutSeconds = optionalInt(q.value(ColTimeout));
    job.result = optionalJson(q.value(ColResult));
    job.startedAt = fromMicros(q.value(ColStartedAt));
    job.finishedAt = fromMicros(q.value(ColFinishedAt));
    return job;
}

Job claimedRowToJob(const QSqlQuery &q, const QString &worker)
{
    Job job;
    job.id = q.value(ClaimId).toLongLong();
    job.createdAt = fromMicros(q.value(ClaimCreatedAt));
    job.updatedAt = fromMicros(q.value(ClaimUpdatedAt));
    job.revision = q.value(ClaimUpdatedAt).toLongLong();
    job.lockedAt = job.startedAt = fromMicros(q.value(ClaimLockedAt));
    job.runAt = fromMicros(q.value(ClaimRunAt));
    job.status = JobStatus::Locked;
    job.payload = parseJson(q.value(ClaimPayload).toString());
    job.lastError = optionalJson(q.value(ClaimLastError));
    job.attempts = q.value(ClaimAttempts).toInt();
    job.lockedBy = worker;
    job.queue = q.value(ClaimQueue).toString();
    job.priority = q.value(ClaimPriority).toInt();
    job.maxAttempts = optionalInt(q.value(ClaimMaxAttempts));
    job.timeoutSeconds = optionalInt(q.value(ClaimTimeout));
    job.result = optionalJson(q.value(ClaimResult));
    job.finishedAt = fromMicros(q.value(ClaimFinishedAt));
    return job;
}

// A claim's rows read straight from QPSQL's libpq result (a PostgreSQL query that is not
// forward-only holds every row; Connection::run()). Through QSqlQuery::value() each of the
// fourteen columns became a QVariant, every number was converted from text by way of a QString,
// and every JSON document went from UTF-8 to UTF-16 and back before its parse: the claiming
// threads spent about half of the worker's CPU there. Read here, the worker spends a fifth less
// per job (drains of 200,000 alternating with the QSqlQuery reader: 10.2 -> 8.4 us at a hold of
// 3,000, 12.2 -> 9.4 at 500). std::nullopt when the driver hands out no libpq result or a value
// does not read as its column's type; the caller then reads the rows through QSqlQuery.
std::optional<QList<std::pair<ClaimKey, Job>>> claimedRowsFromLibpq(const QSqlQuery &q,
                                                                    const QString &worker)
{
    const PGresult *res = wholeLibpqResult(q);
    if (!res || PQnfields(res) != ClaimFinishedAt + 1)
        return std::nullopt;
    const int rows = PQntuples(res);
    QList<std::pair<ClaimKey, Job>> out;
    out.reserve(rows);
    bool ok = true;
    int row = 0;
    const auto bytes = [&](int col) {
        return QByteArrayView(PQgetvalue(res, row, col), PQgetlength(res, row, col));
    };
    const auto isNull = [&](int col) { return PQgetisnull(res, row, col) != 0; };
    const auto number = [&](int col) -> qint64 {
        const QByteArrayView v = bytes(col);
        qint64 value = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
        if (ec != std::errc() || end != v.data() + v.size())
            ok = false;
        return value;
    };
    const auto time = [&](int col) { return isNull(col) ? QDateTime() : fromMicros(number(col)); };
    const auto optionalNumber = [&](int col) -> std::optional<int> {
        return isNull(col) ? std::nullopt : std::optional<int>(int(number(col)));
    };
    const auto json = [&](int col) -> QJsonValue {
        return isNull(col) ? QJsonValue() : parseJsonUtf8(bytes(col));
    };
    // Most claimed jobs share one queue: one string for all of them.
    QString queue;
    QByteArray queueBytes;
    for (; row < rows && ok; ++row) {
        Job job;
        job.id = number(ClaimId);
        job.createdAt = time(ClaimCreatedAt);
        job.revision = number(ClaimUpdatedAt);
        job.updatedAt = fromMicros(job.revision);
        job.lockedAt = job.startedAt = time(ClaimLockedAt);
        const qint64 runAtMicros = number(ClaimRunAt);
        job.runAt = fromMicros(runAtMicros);
        job.status = JobStatus::Locked;
        job.payload = json(ClaimPayload);
        job.lastError = json(ClaimLastError);
        job.attempts = int(number(ClaimAttempts));
        job.lockedBy = worker;
        if (const QByteArrayView name = bytes(ClaimQueue); queue.isNull() || name != queueBytes) {
            queueBytes = name.toByteArray();
            queue = QString::fromUtf8(name);
        }
        job.queue = queue;
        job.priority = int(number(ClaimPriority));
        job.maxAttempts = optionalNumber(ClaimMaxAttempts);
        job.timeoutSeconds = optionalNumber(ClaimTimeout);
        job.result = json(ClaimResult);
        job.finishedAt = time(ClaimFinishedAt);
        const ClaimKey key { job.priority, runAtMicros, job.id };
        out.append({ key, std::move(job) });
    }
    if (!ok)
        return std::nullopt;
    return out;
}

// A timestamp parameter: microseconds since the epoch, turned into the column's type.
QString timeParam(bool pg)
{
    return pg ? u"(TIMESTAMPTZ 'epoch' + CAST(? AS bigint) * INTERVAL '1 microsecond')"_s
              : u"CAST(? AS INTEGER)"_s;
}

// `column` is one of a list bound as one parameter.
QString inList(bool pg, const QString &column, const QString &type = u"text"_s)
{
    return pg ? u"%1 = ANY(CAST(? AS %2[]))"_s.arg(column, type)
              : u"%1 IN (SELECT value FROM json_each(?))"_s.arg(column);
}

// "Still locked by this worker", for statements that also pick rows by id. The table's
// locking check makes locked_by non-null exactly while status is 'locked', so PostgreSQL is
// not told about the status: a status condition lets its planner walk the lock index, whose
// entries include every claim since the last vacuum (tens of milliseconds after a few
// thousand jobs), where the primary key finds the rows in microseconds.
QString heldBy(bool pg)
{
    return pg ? u"locked_by = ?"_s : u"status = 'locked' AND locked_by = ?"_s;
}

QVariant listParam(bool pg, const QStringList &items)
{
    if (pg)
        return pgArrayLiteral(items);
    return QString::fromUtf8(
        QJsonDocument(QJsonArray::fromStringList(items)).toJson(QJsonDocument::Compact));
}

QVariant listParam(bool pg, const QList<qint64> &items)
{
    if (pg)
        return pgArrayLiteral(items);
    QJsonArray array;
    for (qint64 id : items)
        array.append(id);
    return QString::fromUtf8(QJsonDocument(array).toJson(QJsonDocument::Compact));
}

QStringList statusNames(const QList<JobStatus> &statuses)
{
    QStringList names;
    for (JobStatus s : statuses)
        names << statusToString(s);
    return names;
}

QString timeColumn(TimeField field)
{
    switch (field) {
    case TimeField::CreatedAt:
        return u"created_at"_s;
    case TimeField::UpdatedAt:
        return u"updated_at"_s;
    case TimeField::RunAt:
        return u"run_at"_s;
    case TimeField::FinishedAt:
        return u"finished_at"_s;
    }
    return u"created_at"_s;
}

struct Where
{
    QStringList clauses;
    QVariantList binds;
    QString sql() const { return clauses.isEmpty() ? u"TRUE"_s : clauses.join(u" AND "_s); }
};

// The dashboard's indexes leave locked rows out (schema version 2), so a statement over a
// filter reads the other rows through them and the few locked rows (the workers' slots and
// prefetched jobs, and expired locks until rescued) through the lock index: one condition per
// part of the filter that can match, each with the status clause that lets the planner use
// those indexes, and `where.binds` once per part appended to `binds`. Empty when no part can
// match (a worker filter, as only locked rows have a locked_by, without the locked status).
QStringList partConditions(const JobFilter &f, const Where &where, QVariantList *binds)
{
    const bool locked = f.statuses.isEmpty() || f.statuses.contains(JobStatus::Locked);
    // Only locked rows have a locked_by (the locking CHECK, odd-jobs' too).
    const bool others = f.workers.isEmpty()
        && (f.statuses.isEmpty()
            || std::any_of(f.statuses.begin(), f.statuses.end(),
                           [](JobStatus s) { return s != JobStatus::Locked; }));
    QStringList conditions;
    for (const auto &[wanted, part] : { std::pair { others, u"status <> 'locked'"_s },
                                        std::pair { locked, u"status = 'locked'"_s } }) {
        if (!wanted)
            continue;
        conditions << u"%1 AND %2"_s.arg(where.sql(), part);
        *binds += where.binds;
    }
    return conditions;
}

// The ids of the rows a filter matches, each part read through its indexes (partConditions());
// empty when none can match.
QString matchingIds(const QString &table, const JobFilter &f, const Where &where,
                    QVariantList *binds)
{
    QStringList selects;
    for (const QString &condition : partConditions(f, where, binds))
        selects << u"SELECT id FROM %1 WHERE %2"_s.arg(table, condition);
    return selects.join(u" UNION ALL "_s);
}

bool isReasonableTime(const QDateTime &time)
{
    return time.isValid() && time.date().year() >= 1 && time.date().year() <= 9999;
}

Result<Where> buildWhere(bool pg, const JobFilter &f)
{
    // No job holds a NUL character, and SQL text cannot carry one: PostgreSQL refuses it and
    // SQLite's LIKE ends the pattern there, so "a<NUL>b" would search for "a".
    for (const auto &[values, what] :
         { std::pair { f.types, "type" }, std::pair { f.queues, "queue" },
           std::pair { f.workers, "worker" }, std::pair { QStringList { f.search }, "search" } }) {
        for (const QString &value : values) {
            if (value.contains(QChar(0)))
                return makeError(
                    ErrorCode::InvalidArgument,
                    u"the %1 filter contains a NUL character"_s.arg(QLatin1String(what)));
        }
    }
    Where w;
    if (f.ids) {
        w.clauses << inList(pg, u"id"_s, u"bigint"_s);
        w.binds << listParam(pg, *f.ids);
    }
    // One value is "column = ?": PostgreSQL then walks the (column, id) index in id order and
    // stops after a page. "= ANY(array)" cannot keep that order and sorts every match.
    auto addIn = [&](const QString &column, const QStringList &values) {
        if (values.isEmpty())
            return;
        if (values.size() == 1) {
            w.clauses << column + u" = ?"_s;
            w.binds << values.first();
        } else {
            w.clauses << inList(pg, column);
            w.binds << listParam(pg, values);
        }
    };
    addIn(u"status"_s, statusNames(f.statuses));
    addIn(u"job_type"_s, f.types);
    addIn(u"queue"_s, f.queues);
    addIn(u"locked_by"_s, f.workers);
    for (const auto &[bound, op] :
         { std::pair { &f.from, u">="_s }, std::pair { &f.to, u"<"_s } }) {
        if (bound->isNull())
            continue;
        if (!isReasonableTime(*bound))
            return makeError(
                ErrorCode::InvalidArgument,
                u"the time range bound is not a valid date between the years 1 and 9999"_s);
        w.clauses << u"%1 %2 %3"_s.arg(timeColumn(f.timeField), op, timeParam(pg));
        w.binds << toMicros(*bound);
    }
    const QString search = f.search.trimmed();
    if (!search.isEmpty()) {
        QString pattern = search;
        pattern.replace(u'\\', u"\\\\"_s).replace(u'%', u"\\%"_s).replace(u'_', u"\\_"_s);
        pattern = u'%' + pattern + u'%';
        // E'\\' is one backslash whatever standard_conforming_strings says; '\' is not.
        const QString like
            = pg ? u"payload::text ILIKE ? ESCAPE E'\\\\'"_s : u"payload LIKE ? ESCAPE '\\'"_s;
        bool isNumber = false;
        const qint64 id = search.toLongLong(&isNumber);
        if (isNumber) {
            w.clauses << u"(id = ? OR %1)"_s.arg(like);
            w.binds << id << pattern;
        } else {
            w.clauses << like;
            w.binds << pattern;
        }
    }
    return w;
}

QString sortColumn(SortKey key)
{
    switch (key) {
    case SortKey::Id:
        return u"id"_s;
    case SortKey::CreatedAt:
        return u"created_at"_s;
    case SortKey::UpdatedAt:
        return u"updated_at"_s;
    case SortKey::RunAt:
        return u"run_at"_s;
    case SortKey::Status:
        return u"status"_s;
    case SortKey::Type:
        return u"job_type"_s;
    case SortKey::Priority:
        return u"priority"_s;
    }
    return u"id"_s;
}

int sortColumnIndex(SortKey key)
{
    switch (key) {
    case SortKey::Id:
        return ColId;
    case SortKey::CreatedAt:
        return ColCreatedAt;
    case SortKey::UpdatedAt:
        return ColUpdatedAt;
    case SortKey::RunAt:
        return ColRunAt;
    case SortKey::Status:
        return ColStatus;
    case SortKey::Type:
        return ColJobType;
    case SortKey::Priority:
        return ColPriority;
    }
    return ColId;
}

bool isTimeSort(SortKey key)
{
    return key == SortKey::CreatedAt || key == SortKey::UpdatedAt || key == SortKey::RunAt;
}

Error readOnlyError()
{
    return makeError(ErrorCode::ReadOnly,
                     u"the store is open read-only (monitor mode): jobs cannot be changed"_s);
}

struct EncodedJob
{
    QString payload;
    QVariant runAtMicros;
    QVariant delaySeconds;
};

// Qt's JSON reader stops at 1024 levels, and the store reads a value wrapped in one more: a
// deeper value would be written but could never be read back.
constexpr int MaxJsonDepth = 1000;

// How deeply arrays and objects nest in `value`, counted level by level without recursion
// (a value nested 100 000 deep must not exhaust the stack) and only up to `limit` + 1.
int jsonDepth(const QJsonValue &value, int limit)
{
    int depth = 0;
    QList<QJsonValue> level;
    if (value.isArray() || value.isObject())
        level << value;
    while (!level.isEmpty() && depth <= limit) {
        ++depth;
        QList<QJsonValue> next;
        for (const QJsonValue &container : std::as_const(level)) {
            if (container.isArray()) {
                const QJsonArray array = container.toArray();
                for (const QJsonValue &child : array) {
                    if (child.isArray() || child.isObject())
                        next << child;
                }
            } else {
                const QJsonObject object = container.toObject();
                for (auto it = object.begin(); it != object.end(); ++it) {
                    if (it->isArray() || it->isObject())
                        next << *it;
                }
            }
        }
        level = std::move(next);
    }
    return depth;
}

enum class EscapeProblem
{
    None,
    Nul,
    LoneSurrogate,
};

// Looks at the \uXXXX escapes of compact JSON text from Qt, which writes control characters
// and lone UTF-16 surrogates (they have no UTF-8 form) that way. Escapes are walked from
// backslash to backslash, so "\\u0000" (a backslash, then "u0000") is no NUL.
EscapeProblem escapeProblem(const QByteArray &text)
{
    if (!text.contains("\\u"))
        return EscapeProblem::None;
    auto unitAt = [&](qsizetype at, bool *ok) { return text.mid(at, 4).toUInt(ok, 16); };
    for (qsizetype i = text.indexOf('\\'); i >= 0 && i + 1 < text.size();
         i = text.indexOf('\\', i)) {
        if (text.at(i + 1) != 'u') {
            i += 2;
            continue;
        }
        bool ok = false;
        const uint unit = unitAt(i + 2, &ok);
        i += 6;
        if (!ok)
            continue;
        if (unit == 0)
            return EscapeProblem::Nul;
        if (unit >= 0xdc00 && unit <= 0xdfff)
            return EscapeProblem::LoneSurrogate;
        if (unit >= 0xd800 && unit <= 0xdbff) {
            bool lowOk = false;
            const uint low = text.mid(i, 2) == "\\u" ? unitAt(i + 2, &lowOk) : 0;
            if (!lowOk || low < 0xdc00 || low > 0xdfff)
                return EscapeProblem::LoneSurrogate;
            i += 6;
        }
    }
    return EscapeProblem::None;
}

Result<QString> encodePayload(const QJsonValue &value, int maxBytes, const char *what)
{
    if (value.isUndefined())
        return makeError(ErrorCode::InvalidJson,
                         u"the %1 is not a JSON value"_s.arg(QLatin1String(what)));
    // Before serializing: Qt's writer recurses once per level.
    if (jsonDepth(value, MaxJsonDepth) > MaxJsonDepth)
        return makeError(ErrorCode::InvalidJson,
                         u"the %1 is nested more than %2 levels deep"_s.arg(QLatin1String(what))
                             .arg(MaxJsonDepth));
    const QByteArray text = jsonText(value);
    if (text.size() > maxBytes)
        return makeError(ErrorCode::PayloadTooLarge,
                         u"the %1 is %2 bytes of JSON, more than the limit of %3 bytes"_s
                             .arg(QLatin1String(what))
                             .arg(text.size())
                             .arg(maxBytes));
    switch (escapeProblem(text)) {
    case EscapeProblem::None:
        break;
    case EscapeProblem::Nul:
        // PostgreSQL's jsonb cannot hold NUL characters; refuse them on both backends alike.
        return makeError(
            ErrorCode::InvalidJson,
            u"the %1 contains a NUL character (\\u0000), which jsonb cannot store"_s.arg(
                QLatin1String(what)));
    case EscapeProblem::LoneSurrogate:
        // PostgreSQL refuses it as well; SQLite would store what no UTF-8 reader can use.
        return makeError(ErrorCode::InvalidJson,
                         u"the %1 contains text that is not valid Unicode (a lone UTF-16 "
                         "surrogate)"_s.arg(QLatin1String(what)));
    }
    return QString::fromUtf8(text);
}

Result<EncodedJob> encodeJob(const NewJob &job, int maxPayloadBytes)
{
    auto payload = encodePayload(job.payload, maxPayloadBytes, "payload");
    if (!payload)
        return payload.error();
    if (job.queue.trimmed().isEmpty())
        return makeError(ErrorCode::InvalidArgument, u"the queue name is empty"_s);
    if (job.queue.size() > 200)
        return makeError(ErrorCode::InvalidArgument,
                         u"the queue name is longer than 200 characters"_s);
    if (job.queue.contains(QChar(0)))
        return makeError(ErrorCode::InvalidArgument, u"the queue name contains a NUL character"_s);
    if (job.maxAttempts && *job.maxAttempts < 1)
        return makeError(ErrorCode::InvalidArgument,
                         u"max attempts must be at least 1 (got %1)"_s.arg(*job.maxAttempts));
    if (job.timeoutSeconds && *job.timeoutSeconds < 1)
        return makeError(
            ErrorCode::InvalidArgument,
            u"the timeout must be at least 1 second (got %1)"_s.arg(*job.timeoutSeconds));
    if (job.runAt && job.delaySeconds)
        return makeError(ErrorCode::InvalidArgument, u"give a run-at time or a delay, not both"_s);
    EncodedJob e;
    e.payload = *payload;
    e.runAtMicros = nullOf<qlonglong>();
    e.delaySeconds = nullOf<double>();
    if (job.runAt) {
        if (!isReasonableTime(*job.runAt))
            return makeError(ErrorCode::InvalidArgument,
                             u"the run-at time is not a valid date between the years 1 and 9999"_s);
        e.runAtMicros = toMicros(*job.runAt);
    }
    if (job.delaySeconds) {
        if (!std::isfinite(*job.delaySeconds) || std::abs(*job.delaySeconds) > 3153600000.0)
            return makeError(ErrorCode::InvalidArgument,
                             u"the delay is not a number of seconds "
                             "within 100 years"_s);
        e.delaySeconds = *job.delaySeconds;
    }
    return e;
}

// The new updated_at of a row being written. SQLite's clock has millisecond resolution, so
// it steps past the old value: updated_at is the revision edit() checks, and must change.
QString touched(bool pg)
{
    return pg ? u"now()"_s : u"max(%1, updated_at + 1)"_s.arg(sqlNow(Backend::Sqlite));
}

QString enqueueSql(bool pg, const TableName &table)
{
    const QString now = sqlNow(pg ? Backend::PostgreSql : Backend::Sqlite);
    const QString runAt = pg
        ? u"COALESCE(%1, now() + make_interval(secs => CAST(? AS float8)), now())"_s.arg(
            timeParam(true))
        : u"COALESCE(CAST(? AS INTEGER), %1 + CAST(CAST(? AS REAL) * 1000000 AS INTEGER), %1)"_s
              .arg(now);
    return u"INSERT INTO %1 (payload, run_at, queue, priority, max_attempts, timeout_seconds) "
           "VALUES (%2, %3, ?, ?, ?, ?) RETURNING %4"_s.arg(
               table.quoted(), pg ? u"CAST(? AS jsonb)"_s : u"json(?)"_s, runAt, columns(pg));
}

QVariantList enqueueBinds(const EncodedJob &e, const NewJob &job)
{
    return { e.payload,
             e.runAtMicros,
             e.delaySeconds,
             job.queue,
             job.priority,
             boundInt(job.maxAttempts),
             boundInt(job.timeoutSeconds) };
}

QAtomicInteger<quint64> connectionCounter;

} // namespace

class JobStore::Private
{
public:
    std::unique_ptr<Connection> conn;
    Qt::HANDLE thread = nullptr;
    // A claim read its rows through QSqlQuery (claimedRowsFromLibpq()): said once per store.
    bool claimFallbackLogged = false;

    bool pg() const { return conn->isPostgres(); }
};

JobStore::JobStore(ConnectionSettings settings, StoreOptions options)
    : m_settings(std::move(settings))
    , m_options(std::move(options))
    , d(std::make_unique<Private>())
{
}

JobStore::~JobStore()
{
    Q_ASSERT_X(d->thread == QThread::currentThreadId(), "JobStore",
               "a JobStore must be destroyed in the thread that opened it");
    d->conn.reset();
}

Result<std::unique_ptr<JobStore>> JobStore::open(const ConnectionSettings &settings,
                                                 const StoreOptions &options)
{
    if (settings.backend == Backend::Sqlite && !options.table.schema().isEmpty())
        return makeError(ErrorCode::InvalidTableName,
                         u"invalid table name '%1': SQLite tables have no schema part"_s.arg(
                             options.table.toString()));
    if (options.maxPayloadBytes < 2)
        return makeError(ErrorCode::InvalidArgument, u"the payload size limit is too small"_s);
    std::unique_ptr<JobStore> store(new JobStore(settings, options));
    store->m_connectionName = u"oddjobs-store-%1"_s.arg(connectionCounter.fetchAndAddRelaxed(1));
    store->d->thread = QThread::currentThreadId();
    auto db = openConnection(settings, options, store->m_connectionName);
    if (!db)
        return db.error();
    store->d->conn = std::make_unique<Connection>(settings.backend, *db);
    return store;
}

bool JobStore::isOpen() const
{
    return d->conn && d->conn->db().isOpen();
}

Result<void> JobStore::reconnect()
{
    d->conn.reset();
    auto db = openConnection(m_settings, m_options, m_connectionName);
    if (!db)
        return db.error();
    d->conn = std::make_unique<Connection>(m_settings.backend, *db);
    return {};
}

QSqlDatabase JobStore::database() const
{
    return d->conn->db();
}

// --- schema ----------------------------------------------------------------------------------

Result<SchemaStatus> JobStore::schemaStatus()
{
    return readSchemaStatus(*d->conn, m_options.table);
}

Result<int> JobStore::migrate()
{
    if (m_options.readOnly)
        return readOnlyError();
    return Internal::migrate(*d->conn, m_options.table);
}

Result<void> JobStore::checkSchema()
{
    return Internal::checkSchema(*d->conn, m_options.table, m_options.readOnly);
}

// --- enqueue ---------------------------------------------------------------------------------

Result<Job> JobStore::enqueue(const NewJob &job)
{
    if (m_options.readOnly)
        return readOnlyError();
    auto e = encodeJob(job, m_options.maxPayloadBytes);
    if (!e)
        return e.error();
    auto q = d->conn->run(enqueueSql(d->pg(), m_options.table), enqueueBinds(*e, job),
                          u"cannot enqueue the job"_s);
    if (!q)
        return q.error();
    if (!(*q)->next())
        return makeError(ErrorCode::Database, u"the insert returned no row"_s);
    Job created = rowToJob(**q);
    (*q)->finish();
    return created;
}

Result<Job> JobStore::enqueueOn(QSqlDatabase &db, const TableName &table, const NewJob &job,
                                int maxPayloadBytes)
{
    const QString driver = db.driverName();
    if (driver != u"QPSQL" && driver != u"QSQLITE")
        return makeError(ErrorCode::InvalidArgument,
                         u"enqueueOn needs a QPSQL or QSQLITE connection, not %1"_s.arg(driver));
    if (!db.isOpen())
        return makeError(ErrorCode::ConnectionFailed,
                         u"the connection given to enqueueOn is not open"_s);
    const bool pg = driver == u"QPSQL";
    auto e = encodeJob(job, maxPayloadBytes);
    if (!e)
        return e.error();
    QSqlQuery q(db);
    q.setForwardOnly(!pg); // see Connection::run(): a row read ahead of a failed commit
    if (!q.prepare(enqueueSql(pg, table)))
        return mapSqlError(pg ? Backend::PostgreSql : Backend::Sqlite, q.lastError(),
                           u"cannot enqueue the job"_s);
    const QVariantList binds = enqueueBinds(*e, job);
    for (qsizetype i = 0; i < binds.size(); ++i)
        q.bindValue(int(i), binds.at(i));
    if (!q.exec() || !q.next())
        return mapSqlError(pg ? Backend::PostgreSql : Backend::Sqlite, q.lastError(),
                           u"cannot enqueue the job"_s);
    return rowToJob(q);
}

Result<QList<qint64>> JobStore::enqueueMany(const QList<NewJob> &jobs)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (jobs.isEmpty())
        return QList<qint64> {};
    const bool pg = d->pg();
    QJsonArray rows; // SQLite
    // PostgreSQL: one array per column, unnested in one statement. Array literals cost the
    // server less than a JSON document of rows, and the payloads are parsed once, as jsonb.
    QString payloads = u"{"_s, runAts = u"{"_s, delays = u"{"_s, queues = u"{"_s,
            priorities = u"{"_s, maxAttempts = u"{"_s, timeouts = u"{"_s;
    const auto quoted = [](QString text) -> QString {
        text.replace(u'\\', u"\\\\"_s);
        text.replace(u'"', u"\\\""_s);
        return u'"' + text + u'"';
    };
    const auto number
        = [](const auto &value) -> QString { return value ? QString::number(*value) : u"NULL"_s; };
    // Columns every job leaves at its default are written as constants, not sent as arrays:
    // each array costs the server a parse of one element per job (the six besides the
    // payloads, ~10% of a bulk insert of a thousand jobs).
    const auto any = [&jobs](auto set) { return std::any_of(jobs.cbegin(), jobs.cend(), set); };
    const QString defaultQueue = NewJob().queue; // a plain word: spliced in as it is
    const bool anyTime = any([](const NewJob &j) { return j.runAt || j.delaySeconds; });
    const bool anyQueue = any([&](const NewJob &j) { return j.queue != defaultQueue; });
    const bool anyPriority = any([](const NewJob &j) { return j.priority != 0; });
    const bool anyMaxAttempts = any([](const NewJob &j) { return j.maxAttempts.has_value(); });
    const bool anyTimeout = any([](const NewJob &j) { return j.timeoutSeconds.has_value(); });
    for (qsizetype i = 0; i < jobs.size(); ++i) {
        auto e = encodeJob(jobs.at(i), m_options.maxPayloadBytes);
        if (!e) {
            Error error = e.error();
            error.message = u"job %1 of %2: "_s.arg(i + 1).arg(jobs.size()) + error.message;
            return error;
        }
        const NewJob &job = jobs.at(i);
        if (pg) {
            const QString sep = i ? u","_s : QString();
            payloads += sep + quoted(e->payload);
            if (anyTime) {
                runAts += sep
                    + (e->runAtMicros.isNull() ? u"NULL"_s
                                               : QString::number(e->runAtMicros.toLongLong()));
                delays += sep
                    + (job.delaySeconds ? QString::number(*job.delaySeconds, 'g', 17) : u"NULL"_s);
            }
            if (anyQueue)
                queues += sep + quoted(job.queue);
            if (anyPriority)
                priorities += sep + QString::number(job.priority);
            if (anyMaxAttempts)
                maxAttempts += sep + number(job.maxAttempts);
            if (anyTimeout)
                timeouts += sep + number(job.timeoutSeconds);
            continue;
        }
        QJsonObject row { { u"payload"_s, job.payload },
                          { u"queue"_s, job.queue },
                          { u"priority"_s, job.priority } };
        if (!e->runAtMicros.isNull())
            row.insert(u"run_at_us"_s, QString::number(e->runAtMicros.toLongLong()));
        if (job.delaySeconds)
            row.insert(u"delay"_s, *job.delaySeconds);
        if (job.maxAttempts)
            row.insert(u"max_attempts"_s, *job.maxAttempts);
        if (job.timeoutSeconds)
            row.insert(u"timeout_seconds"_s, *job.timeoutSeconds);
        rows.append(row);
    }
    QString sql;
    QVariantList binds;
    if (pg) {
        // Each payload travels as its JSON text, quoted as an array element, and is cast to
        // jsonb: a payload of JSON null stays JSON null, not SQL NULL.
        QStringList values { u"CAST(x.p AS jsonb)"_s }, arrays { u"CAST(? AS text[])"_s },
            names { u"p"_s };
        binds << QVariant(payloads + u'}');
        struct Sent
        {
            const QString *list;
            QString type;
            QString name;
        };
        const auto column = [&](bool sent, const QString &value, const QString &constant,
                                std::initializer_list<Sent> lists) {
            values << (sent ? value : constant);
            if (!sent)
                return;
            for (const Sent &s : lists) {
                arrays << u"CAST(? AS %1[])"_s.arg(s.type);
                names << s.name;
                binds << QVariant(*s.list + u'}');
            }
        };
        column(anyTime,
               u"COALESCE(TIMESTAMPTZ 'epoch' + x.r * INTERVAL '1 microsecond', now() + "
               "make_interval(secs => x.d), now())"_s,
               u"now()"_s, { { &runAts, u"bigint"_s, u"r"_s }, { &delays, u"float8"_s, u"d"_s } });
        column(anyQueue, u"x.q"_s, u"'%1'"_s.arg(defaultQueue), { { &queues, u"text"_s, u"q"_s } });
        column(anyPriority, u"x.pr"_s, u"0"_s, { { &priorities, u"integer"_s, u"pr"_s } });
        column(anyMaxAttempts, u"x.ma"_s, u"NULL"_s, { { &maxAttempts, u"integer"_s, u"ma"_s } });
        column(anyTimeout, u"x.ts"_s, u"NULL"_s, { { &timeouts, u"integer"_s, u"ts"_s } });
        sql = u"INSERT INTO %1 (payload, run_at, queue, priority, max_attempts, timeout_seconds) "
              "SELECT %2 FROM unnest(%3) AS x(%4) RETURNING id"_s.arg(
                  m_options.table.quoted(), values.join(u", "_s), arrays.join(u", "_s),
                  names.join(u", "_s));
    } else {
        const QString now = sqlNow(Backend::Sqlite);
        sql = u"INSERT INTO %1 (payload, run_at, queue, priority, max_attempts, timeout_seconds) "
              "SELECT json(value -> '$.payload'), COALESCE(CAST(value ->> '$.run_at_us' AS "
              "INTEGER), "
              "%2 + CAST(CAST(value ->> '$.delay' AS REAL) * 1000000 AS INTEGER), %2), "
              "value ->> '$.queue', value ->> '$.priority', value ->> '$.max_attempts', "
              "value ->> '$.timeout_seconds' FROM json_each(?) ORDER BY key RETURNING id"_s.arg(
                  m_options.table.quoted(), now);
        binds << QString::fromUtf8(QJsonDocument(rows).toJson(QJsonDocument::Compact));
    }
    // SQLite: one transaction, so readers see all the jobs or none.
    Transaction tx(*d->conn);
    if (!pg) {
        if (auto r = tx.begin(); !r)
            return r.error();
    }
    auto q = d->conn->run(sql, binds, u"cannot enqueue %1 jobs"_s.arg(jobs.size()));
    if (!q)
        return q.error();
    QList<qint64> ids;
    ids.reserve(jobs.size());
    while ((*q)->next())
        ids << (*q)->value(0).toLongLong();
    (*q)->finish();
    if (!pg) {
        if (auto r = tx.commit(); !r)
            return r.error();
    }
    // Identity values are handed out in insertion order, which is input order.
    std::sort(ids.begin(), ids.end());
    return ids;
}

// --- reading ---------------------------------------------------------------------------------

Result<std::optional<Job>> JobStore::find(qint64 id)
{
    auto q = d->conn->run(
        u"SELECT %1 FROM %2 WHERE id = ?"_s.arg(columns(d->pg()), m_options.table.quoted()), { id },
        u"cannot read job %1"_s.arg(id));
    if (!q)
        return q.error();
    std::optional<Job> job;
    if ((*q)->next())
        job = rowToJob(**q);
    (*q)->finish();
    return job;
}

Result<JobPage> JobStore::list(const JobFilter &filter, const PageRequest &page)
{
    if (page.after && page.before)
        return makeError(ErrorCode::InvalidArgument,
                         u"a page is either after or before a cursor"_s);
    if (page.limit < 1 || page.limit > 100000)
        return makeError(ErrorCode::InvalidArgument, u"the page size must be 1 to 100000"_s);
    const bool pg = d->pg();
    auto where = buildWhere(pg, filter);
    if (!where)
        return where.error();
    const QString col = sortColumn(page.sort);
    const bool backwards = page.before.has_value();
    const bool ascending = (page.order == Qt::AscendingOrder) != backwards;
    if (const auto &cursor = page.after ? page.after : page.before) {
        const QString op = ascending ? u">"_s : u"<"_s;
        if (page.sort == SortKey::Id) {
            where->clauses << u"id %1 ?"_s.arg(op);
            where->binds << cursor->id;
        } else {
            const QString keyParam = isTimeSort(page.sort) ? timeParam(pg) : u"?"_s;
            where->clauses << u"(%1, id) %2 (%3, ?)"_s.arg(col, op, keyParam);
            where->binds << cursor->key << cursor->id;
        }
    }
    const QString dir = ascending ? u"ASC"_s : u"DESC"_s;
    const QString orderBy
        = page.sort == SortKey::Id ? u"id %1"_s.arg(dir) : u"%1 %2, id %2"_s.arg(col, dir);
    const QString limit = QString::number(page.limit + 1);
    const QString T = m_options.table.quoted();
    QVariantList binds;
    const QStringList conditions = partConditions(filter, *where, &binds);
    if (conditions.isEmpty())
        return JobPage {};
    QString sql;
    if (conditions.size() == 1) {
        sql = u"SELECT %1 FROM %2 WHERE %3 ORDER BY %4 LIMIT %5"_s.arg(
            columns(pg), T, conditions.first(), orderBy, limit);
    } else {
        // Each part takes its first page through its index; the page is the first of both.
        QStringList selects;
        for (const QString &condition : conditions) {
            selects << u"SELECT * FROM (SELECT * FROM %1 WHERE %2 ORDER BY %3 LIMIT %4) p%5"_s
                           .arg(T, condition, orderBy, limit)
                           .arg(selects.size());
        }
        sql = u"SELECT %1 FROM (%2) j ORDER BY %3 LIMIT %4"_s.arg(
            columns(pg, u"j"_s), selects.join(u" UNION ALL "_s), orderBy, limit);
    }
    auto q = d->conn->run(sql, binds, u"cannot list jobs"_s);
    if (!q)
        return q.error();
    JobPage result;
    QList<PageCursor> cursors;
    const int keyColumn = sortColumnIndex(page.sort);
    while ((*q)->next()) {
        if (result.jobs.size() == page.limit) {
            result.hasMore = true;
            break;
        }
        Job job = rowToJob(**q);
        QVariant key;
        if (page.sort == SortKey::Id)
            key = job.id;
        else if (isTimeSort(page.sort))
            key = (*q)->value(keyColumn).toLongLong(); // same type from both drivers
        else if (page.sort == SortKey::Priority)
            key = (*q)->value(keyColumn).toInt();
        else
            key = (*q)->value(keyColumn).toString();
        cursors.append(PageCursor { key, job.id });
        result.jobs.append(std::move(job));
    }
    (*q)->finish();
    if (backwards) {
        std::reverse(result.jobs.begin(), result.jobs.end());
        std::reverse(cursors.begin(), cursors.end());
    }
    if (!cursors.isEmpty()) {
        result.first = cursors.first();
        result.last = cursors.last();
    }
    return result;
}

Result<qint64> JobStore::count(const JobFilter &filter)
{
    auto where = buildWhere(d->pg(), filter);
    if (!where)
        return where.error();
    QVariantList binds;
    QStringList counts;
    for (const QString &condition : partConditions(filter, *where, &binds))
        counts << u"(SELECT count(*) FROM %1 WHERE %2)"_s.arg(m_options.table.quoted(), condition);
    if (counts.isEmpty())
        return qint64(0);
    auto q = d->conn->run(u"SELECT "_s + counts.join(u" + "_s), binds, u"cannot count jobs"_s);
    if (!q)
        return q.error();
    const qint64 n = (*q)->next() ? (*q)->value(0).toLongLong() : 0;
    (*q)->finish();
    return n;
}

Result<qint64> JobStore::estimateCount(const JobFilter &filter)
{
    if (!d->pg())
        return count(filter);
    // Below this the exact count is cheap enough and beats a guess.
    constexpr qint64 ExactBelow = 100000;
    qint64 estimate = -1;
    if (filter.isEmpty()) {
        auto q
            = d->conn->run(u"SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(?)"_s,
                           { m_options.table.quoted() }, u"cannot estimate the job count"_s);
        if (!q)
            return q.error();
        if ((*q)->next())
            estimate = (*q)->value(0).toLongLong();
        (*q)->finish();
    } else {
        auto where = buildWhere(true, filter);
        if (!where)
            return where.error();
        // EXPLAIN cannot be prepared with parameters; inline them as the driver quotes them.
        QString sql = u"EXPLAIN (FORMAT JSON) SELECT 1 FROM %1 WHERE %2"_s.arg(
            m_options.table.quoted(), where->sql());
        QString expanded;
        qsizetype next = 0;
        bool inQuote = false;
        for (QChar ch : std::as_const(sql)) {
            if (ch == u'\'')
                inQuote = !inQuote;
            if (ch == u'?' && !inQuote && next < where->binds.size()) {
                QSqlField field(u"p"_s, where->binds.at(next).metaType());
                field.setValue(where->binds.at(next++));
                expanded += d->conn->db().driver()->formatValue(field);
            } else {
                expanded += ch;
            }
        }
        QSqlQuery q(d->conn->db());
        if (!q.exec(expanded))
            return d->conn->errorFrom(q.lastError(), u"cannot estimate the job count"_s);
        if (q.next()) {
            const QJsonDocument plan = QJsonDocument::fromJson(q.value(0).toString().toUtf8());
            estimate = qint64(plan.array()
                                  .at(0)
                                  .toObject()
                                  .value(u"Plan"_s)
                                  .toObject()
                                  .value(u"Plan Rows"_s)
                                  .toDouble(-1));
        }
    }
    if (estimate < ExactBelow)
        return count(filter);
    return estimate;
}

Result<QList<TypeStatistics>> JobStore::statistics(int windowSeconds)
{
    if (windowSeconds < 1)
        return makeError(ErrorCode::InvalidArgument,
                         u"the statistics window must be at least 1 second"_s);
    const bool pg = d->pg();
    QMap<QString, TypeStatistics> byType;
    auto q
        = d->conn->run(u"SELECT job_type, status, count(*) FROM %1 GROUP BY job_type, status"_s.arg(
                           m_options.table.quoted()),
                       {}, u"cannot compute statistics"_s);
    if (!q)
        return q.error();
    while ((*q)->next()) {
        const QString type = (*q)->value(0).toString();
        TypeStatistics &s = byType[type];
        s.type = type;
        const qint64 n = (*q)->value(2).toLongLong();
        switch (statusFromString((*q)->value(1).toString()).value_or(JobStatus::Queued)) {
        case JobStatus::Queued:
            s.queued += n;
            break;
        case JobStatus::Locked:
            s.locked += n;
            break;
        case JobStatus::Retry:
            s.retry += n;
            break;
        case JobStatus::Success:
            s.success += n;
            break;
        case JobStatus::Failed:
            s.failed += n;
            break;
        case JobStatus::Cancelled:
            s.cancelled += n;
            break;
        }
    }
    (*q)->finish();

    QString sql;
    if (pg) {
        sql = u"SELECT job_type, count(*) FILTER (WHERE status = 'success'), "
              "count(*) FILTER (WHERE status = 'failed'), "
              "percentile_disc(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - "
              "started_at)), "
              "percentile_disc(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - "
              "started_at)) "
              "FROM %1 WHERE status IN ('success', 'failed') AND started_at IS NOT NULL AND "
              "finished_at >= now() - make_interval(secs => CAST(? AS float8)) GROUP BY job_type"_s
                  .arg(m_options.table.quoted());
    } else {
        sql = u"WITH d AS (SELECT job_type, status, (finished_at - started_at) / 1000000.0 AS dur "
              "FROM %1 WHERE status IN ('success', 'failed') AND started_at IS NOT NULL AND "
              "finished_at >= %2 - CAST(? AS INTEGER) * 1000000), "
              "r AS (SELECT job_type, status, dur, row_number() OVER (PARTITION BY job_type ORDER "
              "BY dur) "
              "AS rn, count(*) OVER (PARTITION BY job_type) AS n FROM d) "
              "SELECT job_type, sum(status = 'success'), sum(status = 'failed'), "
              "max(CASE WHEN rn = (n * 50 + 99) / 100 THEN dur END), "
              "max(CASE WHEN rn = (n * 95 + 99) / 100 THEN dur END) FROM r GROUP BY job_type"_s.arg(
                  m_options.table.quoted(), sqlNow(Backend::Sqlite));
    }
    q = d->conn->run(sql, { windowSeconds }, u"cannot compute statistics"_s);
    if (!q)
        return q.error();
    while ((*q)->next()) {
        const QString type = (*q)->value(0).toString();
        TypeStatistics &s = byType[type];
        s.type = type;
        s.succeededInWindow = (*q)->value(1).toLongLong();
        s.failedInWindow = (*q)->value(2).toLongLong();
        s.finishedInWindow = s.succeededInWindow + s.failedInWindow;
        s.successRate
            = s.finishedInWindow > 0 ? double(s.succeededInWindow) / s.finishedInWindow : 0;
        s.throughputPerSecond = double(s.succeededInWindow) / windowSeconds;
        if (!(*q)->value(3).isNull())
            s.durationP50Seconds = (*q)->value(3).toDouble();
        if (!(*q)->value(4).isNull())
            s.durationP95Seconds = (*q)->value(4).toDouble();
    }
    (*q)->finish();
    return byType.values();
}

Result<QList<ThroughputBucket>> JobStore::throughput(int bucketSeconds, int buckets,
                                                     const QString &type)
{
    if (bucketSeconds < 1 || buckets < 1 || buckets > 10000)
        return makeError(ErrorCode::InvalidArgument,
                         u"a chart needs 1 to 10000 buckets of at least 1 second"_s);
    const bool pg = d->pg();
    auto now = this->now();
    if (!now)
        return now.error();
    const qint64 bucketUs = qint64(bucketSeconds) * 1000000;
    const qint64 nowUs = toMicros(*now);
    const qint64 lastBucket = nowUs / bucketUs;
    const qint64 firstBucket = lastBucket - buckets + 1;
    const QString typeClause = type.isEmpty() ? QString() : u" AND job_type = ?"_s;
    const QString bucketExpr = pg
        ? u"floor(EXTRACT(EPOCH FROM finished_at) * 1000000 / ?)::bigint"_s
        : u"(finished_at / ?)"_s;
    const QString sql
        = u"SELECT %1 AS bucket, sum(CASE WHEN status = 'success' THEN 1 ELSE 0 END), "
          "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) FROM %2 WHERE status IN ('success', "
          "'failed') AND finished_at >= %3%4 GROUP BY 1 ORDER BY 1"_s.arg(
              bucketExpr, m_options.table.quoted(), timeParam(pg), typeClause);
    QVariantList binds { bucketUs, firstBucket * bucketUs };
    if (!type.isEmpty())
        binds << type;
    auto q = d->conn->run(sql, binds, u"cannot compute throughput"_s);
    if (!q)
        return q.error();
    QList<ThroughputBucket> out(buckets);
    for (int i = 0; i < buckets; ++i)
        out[i].start = QDateTime::fromMSecsSinceEpoch((firstBucket + i) * bucketUs / 1000, Qt::UTC);
    while ((*q)->next()) {
        const qint64 index = (*q)->value(0).toLongLong() - firstBucket;
        if (index < 0 || index >= buckets)
            continue;
        out[index].succeeded = (*q)->value(1).toLongLong();
        out[index].failed = (*q)->value(2).toLongLong();
    }
    (*q)->finish();
    return out;
}

namespace {
// The first column of every row, as text.
Result<QStringList> textColumn(Connection &conn, const QString &sql, const QString &context)
{
    auto q = conn.run(sql, {}, context);
    if (!q)
        return q.error();
    QStringList out;
    while ((*q)->next())
        out << (*q)->value(0).toString();
    (*q)->finish();
    return out;
}
} // namespace

Result<QStringList> JobStore::jobTypes()
{
    // Through the type index for all but the locked rows (SQLite would otherwise compute the
    // type of every row from its payload).
    return textColumn(*d->conn,
                      u"SELECT job_type FROM %1 WHERE status <> 'locked' UNION SELECT job_type "
                      "FROM %1 WHERE status = 'locked' ORDER BY 1"_s.arg(m_options.table.quoted()),
                      u"cannot list job types"_s);
}

Result<QStringList> JobStore::queues()
{
    return textColumn(*d->conn,
                      u"SELECT DISTINCT queue FROM %1 ORDER BY 1"_s.arg(m_options.table.quoted()),
                      u"cannot list queues"_s);
}

Result<QDateTime> JobStore::now()
{
    const QString sql = d->pg() ? u"SELECT (EXTRACT(EPOCH FROM now()) * 1000000)::int8"_s
                                : u"SELECT "_s + sqlNow(Backend::Sqlite);
    auto q = d->conn->run(sql, {}, u"cannot read the database clock"_s);
    if (!q)
        return q.error();
    QDateTime t;
    if ((*q)->next())
        t = fromMicros((*q)->value(0));
    (*q)->finish();
    return t;
}

// --- changing jobs ---------------------------------------------------------------------------

Result<Job> JobStore::edit(qint64 id, const NewJob &fields, qint64 expectedRevision)
{
    if (m_options.readOnly)
        return readOnlyError();
    auto e = encodeJob(fields, m_options.maxPayloadBytes);
    if (!e)
        return e.error();
    const bool pg = d->pg();
    const QString now = sqlNow(m_settings.backend);
    const QString runAt = pg
        ? u"COALESCE(%1, now() + make_interval(secs => CAST(? AS float8)), now())"_s.arg(
            timeParam(true))
        : u"COALESCE(CAST(? AS INTEGER), %1 + CAST(CAST(? AS REAL) * 1000000 AS INTEGER), %1)"_s
              .arg(now);
    const QString sql = u"UPDATE %1 SET payload = %2, run_at = %3, queue = ?, priority = ?, "
                        "max_attempts = ?, timeout_seconds = ?, updated_at = %4 WHERE id = ? AND "
                        "status <> 'locked' AND updated_at = %5 RETURNING %6"_s.arg(
                            m_options.table.quoted(), pg ? u"CAST(? AS jsonb)"_s : u"json(?)"_s,
                            runAt, touched(pg), timeParam(pg), columns(pg));
    QVariantList binds = enqueueBinds(*e, fields);
    binds << id << expectedRevision;
    auto q = d->conn->run(sql, binds, u"cannot edit job %1"_s.arg(id));
    if (!q)
        return q.error();
    if ((*q)->next()) {
        Job job = rowToJob(**q);
        (*q)->finish();
        return job;
    }
    (*q)->finish();
    auto current = find(id);
    if (!current)
        return current.error();
    if (!*current)
        return makeError(ErrorCode::NotFound, u"job %1 does not exist (any more)"_s.arg(id));
    if ((*current)->status == JobStatus::Locked)
        return makeError(
            ErrorCode::InvalidState,
            u"job %1 is running; cancel it or wait until it finishes to edit it"_s.arg(id));
    return makeError(
        ErrorCode::Conflict,
        u"job %1 was changed by someone else since it was read; reload it and edit again"_s.arg(
            id));
}

Result<int> JobStore::runNow(const JobFilter &filter)
{
    if (m_options.readOnly)
        return readOnlyError();
    const bool pg = d->pg();
    auto where = buildWhere(pg, filter);
    if (!where)
        return where.error();
    const QString now = sqlNow(m_settings.backend);
    const QString sql
        = u"UPDATE %1 SET status = 'queued', run_at = %2, updated_at = %4, "
          "attempts = CASE WHEN status IN ('failed', 'cancelled') THEN 0 ELSE attempts END "
          "WHERE (%3) AND status <> 'locked' AND (status IN ('failed', 'cancelled', 'retry') OR "
          "(status = 'queued' AND run_at > %2))"_s.arg(m_options.table.quoted(), now, where->sql(),
                                                       touched(pg));
    auto q = d->conn->run(sql, where->binds, u"cannot run jobs now"_s);
    if (!q)
        return q.error();
    const int n = (*q)->numRowsAffected();
    (*q)->finish();
    return n;
}

Result<int> JobStore::cancel(const JobFilter &filter)
{
    if (m_options.readOnly)
        return readOnlyError();
    const bool pg = d->pg();
    auto where = buildWhere(pg, filter);
    if (!where)
        return where.error();
    const QString T = m_options.table.quoted();
    QVariantList binds;
    const QString ids = matchingIds(T, filter, *where, &binds);
    if (ids.isEmpty())
        return 0;
    const QString now = sqlNow(m_settings.backend);
    const QString sql
        = u"UPDATE %1 SET status = 'cancelled', locked_at = NULL, locked_by = NULL, "
          "finished_at = %2, updated_at = %4 WHERE id IN (%3) AND status IN ('queued', 'retry', "
          "'locked')"_s.arg(T, now, ids, touched(pg));
    auto q = d->conn->run(sql, binds, u"cannot cancel jobs"_s);
    if (!q)
        return q.error();
    const int n = (*q)->numRowsAffected();
    (*q)->finish();
    return n;
}

Result<int> JobStore::remove(const JobFilter &filter)
{
    if (m_options.readOnly)
        return readOnlyError();
    auto where = buildWhere(d->pg(), filter);
    if (!where)
        return where.error();
    const QString T = m_options.table.quoted();
    QVariantList binds;
    const QString ids = matchingIds(T, filter, *where, &binds);
    if (ids.isEmpty())
        return 0;
    auto q = d->conn->run(u"DELETE FROM %1 WHERE id IN (%2)"_s.arg(T, ids), binds,
                          u"cannot delete jobs"_s);
    if (!q)
        return q.error();
    const int n = (*q)->numRowsAffected();
    (*q)->finish();
    return n;
}

Result<qint64> JobStore::prune(int retentionSeconds, int batchSize, int maxBatches)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (retentionSeconds <= 0)
        return qint64(0);
    if (batchSize < 1)
        return makeError(ErrorCode::InvalidArgument, u"the prune batch size must be at least 1"_s);
    const bool pg = d->pg();
    const QString cutoff = pg ? u"now() - make_interval(secs => CAST(? AS float8))"_s
                              : sqlNow(Backend::Sqlite) + u" - CAST(? AS INTEGER) * 1000000"_s;
    // PostgreSQL: the ids gathered into an array first, so the delete finds its rows through
    // the primary key; with `IN (subquery)` a worker's generic plan hashed the subquery and
    // read the whole table for every batch. The rows are locked as they are picked: workers
    // pruning at once take different rows, and a job made runnable again meanwhile (run
    // now) is skipped or seen as such, never deleted.
    const QString T = m_options.table.quoted();
    const QString pick = u"SELECT id FROM %1 WHERE status IN ('success', 'failed', 'cancelled') "
                         "AND COALESCE(finished_at, updated_at) < %2 LIMIT ?"_s.arg(T, cutoff);
    const QString sql = pg
        ? u"DELETE FROM %1 WHERE id = ANY(ARRAY(%2 FOR UPDATE SKIP LOCKED))"_s.arg(T, pick)
        : u"DELETE FROM %1 WHERE id IN (%2)"_s.arg(T, pick);
    qint64 total = 0;
    for (int batches = 1;; ++batches) {
        auto q = d->conn->run(sql, { retentionSeconds, batchSize }, u"cannot prune jobs"_s);
        if (!q)
            return q.error();
        const int n = (*q)->numRowsAffected();
        (*q)->finish();
        total += n;
        if (n < batchSize || batches == maxBatches)
            break;
    }
    return total;
}

// --- runner primitives -----------------------------------------------------------------------

Result<QList<Job>> JobStore::claim(const ClaimRequest &request, ClaimKey *last)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (request.worker.isEmpty())
        return makeError(ErrorCode::InvalidArgument, u"a claim needs a worker name"_s);
    if (claimsNothing(request))
        return QList<Job> {};
    const bool pg = d->pg();
    QStringList conditions;
    QVariantList binds;
    runnableConditions(request, true, conditions, binds);
    // The worker comes first (in SET) and the limit last (in the subquery).
    binds.prepend(request.worker);
    binds << request.limit;
    const QString T = m_options.table.quoted();
    QString sql;
    if (pg) {
        // The ids are gathered into an array first, so the update finds its rows through the
        // primary key; joining a CTE instead let the planner hash the whole table per claim.
        sql = u"UPDATE %1 AS t SET status = 'locked', locked_at = now(), locked_by = ?, "
              "started_at = now(), updated_at = now(), attempts = t.attempts + 1 WHERE t.id = "
              "ANY(ARRAY(SELECT id FROM %1 WHERE %2 ORDER BY priority, run_at, id LIMIT ? FOR "
              "UPDATE SKIP LOCKED)) RETURNING %3"_s.arg(T, conditions.join(u" AND "_s),
                                                        claimColumns(true, u"t"_s));
    } else {
        const QString now = sqlNow(Backend::Sqlite);
        sql = u"UPDATE %1 SET status = 'locked', locked_at = %4, locked_by = ?, started_at = %4, "
              "updated_at = %5, attempts = attempts + 1 WHERE id IN (SELECT id FROM %1 WHERE %2 "
              "ORDER BY priority, run_at, id LIMIT ?) RETURNING %3"_s.arg(
                  T, conditions.join(u" AND "_s), claimColumns(false), now, touched(false));
    }
    Transaction tx(*d->conn);
    if (!pg) {
        if (auto r = tx.begin(); !r)
            return r.error();
    }
    auto q = d->conn->run(sql, binds, u"cannot claim jobs"_s);
    if (!q)
        return q.error();
    // Sorted by the exact key: run_at as a QDateTime has lost its microseconds.
    QList<std::pair<ClaimKey, Job>> rows;
    if (auto direct = pg ? claimedRowsFromLibpq(**q, request.worker) : std::nullopt) {
        rows = std::move(*direct);
    } else {
        if (pg && !std::exchange(d->claimFallbackLogged, true))
            qCWarning(lcStore) << "claimed rows read through QSqlQuery: the driver handed out no "
                                  "libpq result that reads as the claim's columns";
        while ((*q)->next()) {
            Job job = claimedRowToJob(**q, request.worker);
            const ClaimKey key { job.priority, (*q)->value(ClaimRunAt).toLongLong(), job.id };
            rows.append({ key, std::move(job) });
        }
    }
    (*q)->finish();
    if (!pg) {
        if (auto r = tx.commit(); !r)
            return r.error();
    }
    std::sort(rows.begin(), rows.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    if (last && !rows.isEmpty())
        *last = rows.constLast().first;
    QList<Job> jobs;
    jobs.reserve(rows.size());
    for (auto &row : rows)
        jobs << std::move(row.second);
    return jobs;
}

void JobStore::runnableConditions(const ClaimRequest &request, bool withUpTo,
                                  QStringList &conditions, QVariantList &binds) const
{
    const bool pg = d->pg();
    conditions
        = { u"status IN ('queued', 'retry')"_s, u"run_at <= %1"_s.arg(sqlNow(m_settings.backend)) };
    binds.clear();
    if (!request.anyType) {
        conditions << inList(pg, u"job_type"_s);
        binds << listParam(pg, request.types);
    }
    if (!request.queues.isEmpty()) {
        conditions << inList(pg, u"queue"_s);
        binds << listParam(pg, request.queues);
    }
    // Bounds the claim index's scan starts and stops at.
    const QString key = u"(priority, run_at, id) %1 (CAST(? AS %2), %3, CAST(? AS %4))"_s;
    const auto bound = [&](const QString &op, const ClaimKey &k) {
        conditions << key.arg(op, pg ? u"integer"_s : u"INTEGER"_s, timeParam(pg),
                              pg ? u"bigint"_s : u"INTEGER"_s);
        binds << k.priority << k.runAtMicros << k.id;
    };
    if (request.after)
        bound(u">"_s, *request.after);
    if (withUpTo && request.upTo)
        bound(u"<="_s, *request.upTo);
}

Result<std::optional<ClaimKey>> JobStore::claimRangeEnd(const ClaimRequest &request)
{
    if (claimsNothing(request))
        return std::optional<ClaimKey> {};
    QStringList conditions;
    QVariantList binds;
    runnableConditions(request, false, conditions, binds);
    binds << request.limit - 1;
    auto q = d->conn->run(
        u"SELECT priority, %1, id FROM %2 WHERE %3 ORDER BY priority, run_at, id LIMIT 1 "
        "OFFSET ?"_s.arg(selectList(d->pg(), {}, { { "run_at", ColumnKind::Time } }),
                         m_options.table.quoted(), conditions.join(u" AND "_s)),
        binds, u"cannot look for jobs to claim"_s);
    if (!q)
        return q.error();
    std::optional<ClaimKey> end;
    if ((*q)->next()) {
        end = ClaimKey { (*q)->value(0).toInt(), (*q)->value(1).toLongLong(),
                         (*q)->value(2).toLongLong() };
    }
    (*q)->finish();
    return end;
}

Result<QList<WrittenOutcome>>
JobStore::complete(const QString &worker, const QList<JobOutcome> &outcomes, int defaultMaxAttempts)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (outcomes.isEmpty())
        return QList<WrittenOutcome> {};
    if (defaultMaxAttempts < 1)
        return makeError(ErrorCode::InvalidArgument,
                         u"the default max attempts must be at least 1"_s);
    const bool pg = d->pg();
    QList<std::tuple<qint64, bool, QJsonObject>> rows; // SQLite: id, delete, outcome
    QByteArray keyed = "{"; // PostgreSQL: {"7": {"ok": true, ...}, ...}
    QList<qint64> updateIds;
    QList<qint64> deleteIds;
    const auto hasResult
        = [](const JobOutcome &o) { return !o.result.isNull() && !o.result.isUndefined(); };
    // PostgreSQL: a flush of successes without results is written as lists of ids, with no
    // outcome document to build or to look each row up in.
    const bool plainSuccesses = pg
        && std::all_of(outcomes.begin(), outcomes.end(),
                       [&](const JobOutcome &o) { return o.success && !hasResult(o); });
    for (const JobOutcome &o : outcomes) {
        const bool remove = o.success && o.deleteOnSuccess;
        if (plainSuccesses) {
            (remove ? deleteIds : updateIds) << o.id;
            continue;
        }
        QJsonObject row { { u"ok"_s, o.success } };
        if (o.success && hasResult(o)) {
            auto text = encodePayload(o.result, m_options.maxPayloadBytes, "result");
            if (!text) {
                // A result we cannot store must not lose the job's success: keep the reason.
                row.insert(u"result"_s, QJsonObject { { u"unstored"_s, text.error().message } });
            } else {
                row.insert(u"result"_s, o.result);
            }
        }
        if (!o.success) {
            QJsonValue error = o.error;
            if (error.isNull() || error.isUndefined())
                error = QJsonObject { { u"message"_s, u"failed"_s } };
            if (const QByteArray text = jsonText(error); text.size() > 64 * 1024)
                error = QJsonObject { { u"message"_s, QString::fromUtf8(text.left(64 * 1024)) },
                                      { u"truncated"_s, true } };
            row.insert(u"error"_s, error);
            row.insert(u"delay"_s, std::max(0.0, o.retryDelaySeconds));
        }
        if (pg) {
            if (remove) {
                deleteIds << o.id;
                continue;
            }
            updateIds << o.id;
            if (keyed.size() > 1)
                keyed += ',';
            keyed += '"' + QByteArray::number(o.id)
                + "\":" + QJsonDocument(row).toJson(QJsonDocument::Compact);
        } else {
            rows.append({ o.id, remove, row });
        }
    }
    const QString T = m_options.table.quoted();
    QList<WrittenOutcome> written;
    if (pg) {
        keyed += '}';
        // Each row looks its outcome up by id in one jsonb parameter, and the rows are found
        // through the primary key: a join against a set of outcomes made the planner (which
        // expects a single row locked by this worker) compare every row with every outcome.
        // Nothing else is joined either: an UPDATE ... FROM keeps a copy of each joined row
        // for rechecks, and with the outcomes in a joined row a generic plan copied the whole
        // document once per updated row (a batch of n outcomes cost n² bytes copied; a drain
        // of 150,000 jobs fell to a sixth of the speed of one of 20,000 as batches grew).
        // A batch of successes without results (the common case) needs no outcome per row:
        // 5,000 rows took the server 46 ms instead of 55.
        const QString update = plainSuccesses
            ? u"UPDATE %1 AS t SET status = 'success', result = NULL, "_s
            : u"UPDATE %1 AS t SET (status, run_at, result, last_error) = (SELECT "_s
              "CASE WHEN x.ok THEN 'success' WHEN t.attempts < COALESCE(t.max_attempts, "
              "CAST(? AS integer)) THEN 'retry' ELSE 'failed' END, "
              "CASE WHEN NOT x.ok AND t.attempts < COALESCE(t.max_attempts, CAST(? AS integer)) "
              "THEN now() + make_interval(secs => x.delay) ELSE t.run_at END, "
              "CASE WHEN x.ok THEN x.result ELSE t.result END, "
              "CASE WHEN x.ok THEN t.last_error ELSE x.error END "
              "FROM jsonb_to_record(CAST(? AS jsonb) -> CAST(t.id AS text)) AS x(ok boolean, "
              "result jsonb, error jsonb, delay float8)), "_s;
        const QString sql = u"WITH upd AS ("_s + update.arg(T)
            + u"locked_at = NULL, locked_by = NULL, finished_at = now(), updated_at = now() "
              "WHERE t.id = ANY(CAST(? AS bigint[])) AND t.locked_by = ? "
              "RETURNING t.id, t.status, t.attempts, false AS deleted), "
              "del AS (DELETE FROM %1 AS t WHERE t.id = ANY(CAST(? AS bigint[])) AND "
              "t.locked_by = ? RETURNING t.id, 'success'::text, t.attempts, true AS deleted) "
              "SELECT * FROM upd UNION ALL SELECT * FROM del"_s.arg(T);
        QVariantList binds;
        if (!plainSuccesses)
            binds << defaultMaxAttempts << defaultMaxAttempts << QString::fromUtf8(keyed);
        binds << listParam(true, updateIds) << worker << listParam(true, deleteIds) << worker;
        auto q = d->conn->run(sql, binds, u"cannot record job outcomes"_s);
        if (!q)
            return q.error();
        while ((*q)->next()) {
            written << WrittenOutcome {
                (*q)->value(0).toLongLong(),
                statusFromString((*q)->value(1).toString()).value_or(JobStatus::Failed),
                (*q)->value(3).toBool(), (*q)->value(2).toInt()
            };
        }
        (*q)->finish();
        return written;
    }

    // SQLite runs in-process: one prepared statement per outcome costs microseconds, and
    // unlike a join against the outcomes its plan does not depend on statistics (without them
    // SQLite scanned the table once per outcome).
    const QString now = sqlNow(Backend::Sqlite);
    const QString update
        = u"UPDATE %1 SET "
          "status = CASE WHEN ? THEN 'success' WHEN attempts < COALESCE(max_attempts, ?) "
          "THEN 'retry' ELSE 'failed' END, "
          "run_at = CASE WHEN NOT ? AND attempts < COALESCE(max_attempts, ?) "
          "THEN %2 + CAST(? * 1000000 AS INTEGER) ELSE run_at END, "
          "result = CASE WHEN ? THEN ? ELSE result END, "
          "last_error = CASE WHEN ? THEN last_error ELSE ? END, "
          "locked_at = NULL, locked_by = NULL, finished_at = %2, "
          "updated_at = max(%2, updated_at + 1) "
          "WHERE id = ? AND status = 'locked' AND locked_by = ? "
          "RETURNING id, status, attempts"_s.arg(T, now);
    const QString remove = u"DELETE FROM %1 WHERE id = ? AND status = 'locked' AND locked_by = ? "
                           "RETURNING id, attempts"_s.arg(T);
    const auto textOrNull = [](const QJsonValue &value) -> QVariant {
        if (value.isNull() || value.isUndefined())
            return nullOf<QString>();
        return QString::fromUtf8(jsonText(value));
    };
    Transaction tx(*d->conn);
    if (auto r = tx.begin(); !r)
        return r.error();
    for (const auto &[id, del, row] : std::as_const(rows)) {
        if (del) {
            auto q = d->conn->run(remove, { id, worker }, u"cannot record job outcomes"_s);
            if (!q)
                return q.error();
            if ((*q)->next())
                written << WrittenOutcome { (*q)->value(0).toLongLong(), JobStatus::Success, true,
                                            (*q)->value(1).toInt() };
            (*q)->finish();
            continue;
        }
        const bool ok = row.value(u"ok"_s).toBool();
        auto q = d->conn->run(update,
                              { ok, defaultMaxAttempts, ok, defaultMaxAttempts,
                                row.value(u"delay"_s).toDouble(), ok,
                                textOrNull(row.value(u"result"_s)), ok,
                                textOrNull(row.value(u"error"_s)), id, worker },
                              u"cannot record job outcomes"_s);
        if (!q)
            return q.error();
        if ((*q)->next()) {
            written << WrittenOutcome {
                (*q)->value(0).toLongLong(),
                statusFromString((*q)->value(1).toString()).value_or(JobStatus::Failed), false,
                (*q)->value(2).toInt()
            };
        }
        (*q)->finish();
    }
    if (auto r = tx.commit(); !r)
        return r.error();
    return written;
}

Result<QList<qint64>> JobStore::heartbeat(const QString &worker, const QList<qint64> &ids)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (ids.isEmpty())
        return QList<qint64> {};
    const bool pg = d->pg();
    const QString now = sqlNow(m_settings.backend);
    const QString sql
        = u"UPDATE %1 SET locked_at = %2, updated_at = %4 WHERE %3 AND %5 RETURNING id"_s.arg(
            m_options.table.quoted(), now, inList(pg, u"id"_s, u"bigint"_s), touched(pg),
            heldBy(pg));
    auto q = d->conn->run(sql, { listParam(pg, ids), worker }, u"cannot refresh job locks"_s);
    if (!q)
        return q.error();
    QList<qint64> held;
    while ((*q)->next())
        held << (*q)->value(0).toLongLong();
    (*q)->finish();
    std::sort(held.begin(), held.end());
    return held;
}

Result<QList<qint64>> JobStore::stillHeld(const QString &worker, const QList<qint64> &ids)
{
    if (ids.isEmpty())
        return QList<qint64> {};
    const bool pg = d->pg();
    const QString sql = u"SELECT id FROM %1 WHERE %2 AND %3"_s.arg(
        m_options.table.quoted(), inList(pg, u"id"_s, u"bigint"_s), heldBy(pg));
    auto q = d->conn->run(sql, { listParam(pg, ids), worker }, u"cannot check job locks"_s);
    if (!q)
        return q.error();
    QList<qint64> held;
    while ((*q)->next())
        held << (*q)->value(0).toLongLong();
    (*q)->finish();
    std::sort(held.begin(), held.end());
    return held;
}

// A worker's statements are prepared once per connection and run with new values thousands of
// times a second. Planning a claim costs about as much as a quarter of its execution (one job
// per claim ran at ~2,800 jobs/s planned each time, ~3,700 with plans kept), so plans are kept:
// each statement runs with a generic plan. But a generic plan is made for the table as it was
// when it was made: made while the table was small, it reads the whole table (the claim's and
// the outcome write's outer scan, the heartbeat through an index whose first column is not the
// id), and left alone the server keeps such a plan until statistics change; a runner that
// started on an empty table once drained 300,000 jobs at 1,500 jobs/s instead of 33,000. So
// the plans are dropped at most every ReplanIntervalMs, before the next statement, and made
// again for the table as it is then (the planner scales stale statistics to the table's
// current size): a plan is never older than that, and a connection idle for longer plans
// afresh on its first statement. JIT is off: none of these statements runs long enough to gain
// from it, and with millions of jobs queued a claim's estimate once passed jit_above_cost and
// spent ~8 ms compiling itself. A claim must walk the claim index in its order and stop after
// LIMIT rows; with statistics that say the queue is short the planner may prefer a bitmap scan
// that sorts every runnable row, whose cost grows with the queue, so sorts are priced out on
// claiming connections (they still run where nothing else can). The worker's name in the
// session lets the delete trigger (schema version 3) tell the worker's own deletes of the jobs
// it finished from deletes of its running jobs by anyone else.
Result<void> JobStore::tuneForRunner(bool claiming, const QString &worker)
{
    if (!d->pg())
        return {};
    const QString sql = u"SELECT set_config('plan_cache_mode', 'force_generic_plan', false), "
                        "set_config('jit', 'off', false)"_s
        + (claiming ? u", set_config('enable_sort', 'off', false)"_s : QString());
    if (auto r = d->conn->exec(sql, u"cannot set up the connection for a worker"_s); !r)
        return r;
    // Bound, not spliced in: the name comes from the configuration. Prepared after the line
    // above, its plan is generic like every other statement of the connection.
    auto q = d->conn->run(u"SELECT set_config(?, ?, false)"_s, { WorkerSetting.toString(), worker },
                          u"cannot set up the connection for a worker"_s);
    if (!q)
        return q.error();
    (*q)->finish();
    d->conn->setReplanInterval(ReplanIntervalMs);
    return {};
}

Result<QList<WrittenOutcome>> JobStore::rescueExpired(int lockTimeoutSeconds,
                                                      int defaultMaxAttempts)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (lockTimeoutSeconds < 1)
        return makeError(ErrorCode::InvalidArgument,
                         u"the lock timeout must be at least 1 second"_s);
    const bool pg = d->pg();
    const QString T = m_options.table.quoted();
    QString sql;
    if (pg) {
        sql = u"UPDATE %1 AS t SET status = CASE WHEN t.attempts < COALESCE(t.max_attempts, CAST(? "
              u"AS "
              "integer)) THEN 'retry' ELSE 'failed' END, run_at = now(), locked_at = NULL, "
              "locked_by = NULL, finished_at = now(), updated_at = now(), last_error = "
              "jsonb_build_object('kind', 'lock_expired', 'message', 'lock expired: worker ' || "
              "t.locked_by || ' stopped refreshing its lock', 'worker', t.locked_by) WHERE t.id = "
              "ANY(ARRAY(SELECT id FROM %1 WHERE status = 'locked' AND locked_at < now() - "
              "make_interval(secs => CAST(? AS float8)) FOR UPDATE SKIP LOCKED)) "
              "RETURNING t.id, t.status, t.attempts"_s.arg(T);
    } else {
        const QString now = sqlNow(Backend::Sqlite);
        sql = u"UPDATE %1 SET status = CASE WHEN attempts < COALESCE(max_attempts, ?) THEN 'retry' "
              "ELSE 'failed' END, run_at = %2, locked_at = NULL, locked_by = NULL, finished_at = "
              "%2, "
              "updated_at = max(%2, updated_at + 1), last_error = json_object('kind', "
              "'lock_expired', 'message', "
              "'lock expired: worker ' || locked_by || ' stopped refreshing its lock', 'worker', "
              "locked_by) WHERE status = 'locked' AND locked_at < %2 - CAST(? AS INTEGER) * "
              "1000000 "
              "RETURNING id, status, attempts"_s.arg(T, now);
    }
    Transaction tx(*d->conn);
    if (!pg) {
        if (auto r = tx.begin(); !r)
            return r.error();
    }
    auto q = d->conn->run(sql, { defaultMaxAttempts, lockTimeoutSeconds },
                          u"cannot rescue expired jobs"_s);
    if (!q)
        return q.error();
    QList<WrittenOutcome> rescued;
    while ((*q)->next()) {
        rescued << WrittenOutcome {
            (*q)->value(0).toLongLong(),
            statusFromString((*q)->value(1).toString()).value_or(JobStatus::Failed), false,
            (*q)->value(2).toInt()
        };
    }
    (*q)->finish();
    if (!pg) {
        if (auto r = tx.commit(); !r)
            return r.error();
    }
    if (!rescued.isEmpty())
        qCWarning(lcStore, "rescued %lld jobs whose worker stopped refreshing its lock",
                  qint64(rescued.size()));
    return rescued;
}

Result<int> JobStore::release(const QString &worker, const QList<qint64> &ids)
{
    if (m_options.readOnly)
        return readOnlyError();
    if (ids.isEmpty())
        return 0;
    const bool pg = d->pg();
    const QString now = sqlNow(m_settings.backend);
    // Both spell "the larger of": SQLite's two-argument max(), PostgreSQL's GREATEST().
    const QString previousAttempt = pg ? u"GREATEST(attempts - 1, 0)"_s : u"max(attempts - 1, 0)"_s;
    const QString sql
        = u"UPDATE %1 SET status = 'queued', run_at = %2, updated_at = %4, attempts = %5, "
          "locked_at = NULL, locked_by = NULL WHERE %3 AND %6"_s.arg(
              m_options.table.quoted(), now, inList(pg, u"id"_s, u"bigint"_s), touched(pg),
              previousAttempt, heldBy(pg));
    auto q = d->conn->run(sql, { listParam(pg, ids), worker }, u"cannot hand jobs back"_s);
    if (!q)
        return q.error();
    const int n = (*q)->numRowsAffected();
    (*q)->finish();
    return n;
}

} // namespace OddJobs
