#include "jobtablemodel.h"

#include "storeclient.h"
#include "uiformat.h"

#include <QColor>
#include <QFont>
#include <QGuiApplication>
#include <QJsonObject>
#include <QPalette>
#include <QSet>
#include <algorithm>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {
constexpr int ChangedBatch = 2000;
constexpr int DeletedCheckRows = 2000;
// A transaction may commit a little after the time it stamped on its rows; look back this far.
constexpr qint64 ChangedOverlapMs = 2000;

struct Loaded
{
    JobPage page;
    QDateTime now;
    qint64 total = -1;
};

struct Changed
{
    QList<Job> jobs;
    QDateTime now;
};

QString formatTime(const QDateTime &t)
{
    return t.isValid() ? t.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss"_s) : QString();
}

// The same duration text the log and statistics panels show.
QString formatDuration(qint64 ms)
{
    return ms < 0 ? QString() : Format::duration(ms / 1000.0);
}

QString errorMessage(const QJsonValue &error)
{
    if (error.isObject())
        return error.toObject().value(u"message"_s).toString();
    if (error.isString())
        return error.toString();
    return {};
}
} // namespace

JobTableModel::JobTableModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_page.sort = SortKey::Id;
    m_page.order = Qt::DescendingOrder;
    m_page.limit = 200;
    m_liveTimer.setInterval(1000);
    connect(&m_liveTimer, &QTimer::timeout, this, &JobTableModel::refresh);
}

JobTableModel::~JobTableModel() = default;

void JobTableModel::setClient(StoreClient *client)
{
    m_client = client;
    reload();
    if (m_client && m_liveTimer.interval() > 0)
        m_liveTimer.start();
    else
        m_liveTimer.stop();
}

void JobTableModel::setFilter(const JobFilter &filter)
{
    m_filter = filter;
    reload();
}

void JobTableModel::setPageSize(int rows)
{
    m_page.limit = std::clamp(rows, 1, 100000);
}

void JobTableModel::setLiveInterval(int ms)
{
    if (ms <= 0) {
        m_liveTimer.stop();
        m_liveTimer.setInterval(0);
        return;
    }
    m_liveTimer.setInterval(ms);
    if (m_client)
        m_liveTimer.start();
}

void JobTableModel::setLoading(bool loading)
{
    if (m_loading == loading)
        return;
    m_loading = loading;
    Q_EMIT loadingChanged(loading);
}

void JobTableModel::reload()
{
    const quint64 generation = ++m_generation;
    m_fetching = false;
    m_refreshing = false;
    if (!m_client) {
        beginResetModel();
        m_rows.clear();
        m_index.clear();
        m_hasMore = false;
        endResetModel();
        return;
    }
    m_fetching = true;
    setLoading(true);
    const JobFilter filter = m_filter;
    PageRequest first = m_page;
    first.after.reset();
    first.before.reset();
    m_client->call<Loaded>(
        [filter, first](JobStore &store) -> Result<Loaded> {
            Loaded loaded;
            // The clock first: anything that changes after it is caught by the next refresh.
            auto now = store.now();
            if (!now)
                return now.error();
            loaded.now = *now;
            auto page = store.list(filter, first);
            if (!page)
                return page.error();
            loaded.page = *page;
            auto total = store.estimateCount(filter);
            loaded.total = total ? *total : -1;
            return loaded;
        },
        this,
        [this, generation](const Result<Loaded> &result) {
            if (generation != m_generation)
                return; // a newer reload is under way
            m_fetching = false;
            setLoading(false);
            if (!result) {
                Q_EMIT errorOccurred(result.error().message);
                return;
            }
            beginResetModel();
            m_rows = result->page.jobs;
            m_hasMore = result->page.hasMore;
            m_page.after = result->page.last;
            rebuildIndex();
            endResetModel();
            m_changedCursor = result->now;
            if (m_total != result->total) {
                m_total = result->total;
                Q_EMIT totalEstimateChanged(m_total);
            }
        });
}

void JobTableModel::refresh()
{
    if (!m_client || m_refreshing || m_fetching || !m_changedCursor.isValid())
        return;
    m_refreshing = true;
    const quint64 generation = m_generation;
    JobFilter changed;
    changed.timeField = TimeField::UpdatedAt;
    changed.from = m_changedCursor.addMSecs(-ChangedOverlapMs);
    PageRequest page;
    page.sort = SortKey::UpdatedAt;
    page.order = Qt::AscendingOrder;
    page.limit = ChangedBatch;
    const JobFilter filter = m_filter;
    const bool countToo = (++m_refreshCount % 5) == 0;
    m_client->call<Changed>(
        [changed, page](JobStore &store) -> Result<Changed> {
            Changed result;
            auto now = store.now();
            if (!now)
                return now.error();
            result.now = *now;
            auto rows = store.list(changed, page);
            if (!rows)
                return rows.error();
            result.jobs = rows->jobs;
            return result;
        },
        this,
        [this, generation, countToo](const Result<Changed> &result) {
            if (generation != m_generation)
                return;
            m_refreshing = false;
            if (!result) {
                Q_EMIT errorOccurred(result.error().message);
                return;
            }
            merge(result->jobs);
            // A full batch may hide more: continue from its last row instead of the clock.
            m_changedCursor = result->jobs.size() == ChangedBatch
                ? result->jobs.constLast().updatedAt
                : result->now;
            if (countToo)
                checkDeleted();
        });
    if (countToo) {
        m_client->call<qint64>([filter](JobStore &store) { return store.estimateCount(filter); },
                               this,
                               [this, generation](const Result<qint64> &total) {
                                   if (generation != m_generation || !total || *total == m_total)
                                       return;
                                   m_total = *total;
                                   Q_EMIT totalEstimateChanged(m_total);
                               });
    }
}

// Deletions leave no row behind to notice; ask which of the loaded rows still exist.
void JobTableModel::checkDeleted()
{
    if (!m_client || m_rows.isEmpty())
        return;
    QList<qint64> ids;
    const int n = std::min<int>(int(m_rows.size()), DeletedCheckRows);
    ids.reserve(n);
    for (int i = 0; i < n; ++i)
        ids << m_rows.at(i).id;
    const quint64 generation = m_generation;
    m_client->call<JobPage>(
        [ids](JobStore &store) {
            PageRequest page;
            page.limit = int(ids.size());
            return store.list(JobFilter::byIds(ids), page);
        },
        this,
        [this, generation, ids](const Result<JobPage> &result) {
            if (generation != m_generation || !result)
                return;
            QSet<qint64> present;
            for (const Job &job : result->jobs)
                present.insert(job.id);
            QList<qint64> gone;
            for (qint64 id : ids) {
                if (!present.contains(id))
                    gone << id;
            }
            removeJobs(gone);
        });
}

void JobTableModel::applyJobs(const QList<Job> &jobs)
{
    merge(jobs);
}

void JobTableModel::removeJobs(const QList<qint64> &ids)
{
    for (qint64 id : ids) {
        const int row = m_index.value(id, -1);
        if (row < 0)
            continue;
        beginRemoveRows({}, row, row);
        m_rows.removeAt(row);
        m_index.remove(id);
        rebuildIndex(row);
        endRemoveRows();
    }
}

bool JobTableModel::lessThan(const Job &a, const Job &b) const
{
    int c = 0;
    switch (m_page.sort) {
    case SortKey::Id:
        break;
    case SortKey::CreatedAt:
        c = a.createdAt < b.createdAt ? -1 : (b.createdAt < a.createdAt ? 1 : 0);
        break;
    case SortKey::UpdatedAt:
        c = a.revision < b.revision ? -1 : (b.revision < a.revision ? 1 : 0);
        break;
    case SortKey::RunAt:
        c = a.runAt < b.runAt ? -1 : (b.runAt < a.runAt ? 1 : 0);
        break;
    case SortKey::Status:
        c = statusToString(a.status).compare(statusToString(b.status));
        break;
    case SortKey::Type:
        c = a.type().compare(b.type());
        break;
    case SortKey::Priority:
        c = a.priority < b.priority ? -1 : (b.priority < a.priority ? 1 : 0);
        break;
    }
    if (c == 0)
        c = a.id < b.id ? -1 : (b.id < a.id ? 1 : 0);
    return m_page.order == Qt::AscendingOrder ? c < 0 : c > 0;
}

int JobTableModel::insertPosition(const Job &job) const
{
    const auto it = std::lower_bound(m_rows.cbegin(), m_rows.cend(), job,
                                     [this](const Job &a, const Job &b) { return lessThan(a, b); });
    return int(it - m_rows.cbegin());
}

void JobTableModel::rebuildIndex(int fromRow)
{
    if (fromRow == 0)
        m_index.clear();
    for (int i = fromRow; i < m_rows.size(); ++i)
        m_index.insert(m_rows.at(i).id, i);
}

void JobTableModel::merge(const QList<Job> &jobs)
{
    for (const Job &job : jobs) {
        const int row = m_index.value(job.id, -1);
        const bool wanted = m_filter.matches(job);
        if (row >= 0) {
            const Job &old = m_rows.at(row);
            if (job.revision != 0 && old.revision >= job.revision)
                continue; // the same or an older snapshot than what we show
            if (!wanted) {
                beginRemoveRows({}, row, row);
                m_rows.removeAt(row);
                m_index.remove(job.id);
                rebuildIndex(row);
                endRemoveRows();
                continue;
            }
            const bool inPlace = (row == 0 || !lessThan(job, m_rows.at(row - 1)))
                && (row == m_rows.size() - 1 || !lessThan(m_rows.at(row + 1), job));
            if (inPlace) {
                m_rows[row] = job;
                Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
                continue;
            }
            // The sort key changed: move the row (a move keeps it selected).
            Job moved = job;
            m_rows.removeAt(row);
            const int target = insertPosition(moved);
            m_rows.insert(row, old); // restore for the move signal's bookkeeping
            const int destination = target >= row ? target + 1 : target;
            if (target >= m_rows.size() - 1 && m_hasMore) {
                // It moves beyond what is loaded: it will come with a later page.
                beginRemoveRows({}, row, row);
                m_rows.removeAt(row);
                m_index.remove(job.id);
                rebuildIndex(row);
                endRemoveRows();
                continue;
            }
            if (beginMoveRows({}, row, row, {}, destination)) {
                m_rows.removeAt(row);
                m_rows.insert(target, moved);
                rebuildIndex(std::min(row, target));
                endMoveRows();
            } else {
                m_rows[row] = moved;
            }
            Q_EMIT dataChanged(index(m_index.value(job.id), 0),
                               index(m_index.value(job.id), ColumnCount - 1));
            continue;
        }
        if (!wanted)
            continue;
        const int position = insertPosition(job);
        if (position >= m_rows.size() && m_hasMore)
            continue; // beyond the loaded window; fetchMore brings it
        beginInsertRows({}, position, position);
        m_rows.insert(position, job);
        rebuildIndex(position);
        endInsertRows();
    }
    Q_EMIT rowsMerged();
}

const Job *JobTableModel::jobAt(int row) const
{
    if (row < 0 || row >= m_rows.size())
        return nullptr;
    return &m_rows.at(row);
}

QString JobTableModel::statusLabel(JobStatus status)
{
    switch (status) {
    case JobStatus::Queued:
        return tr("Queued", "job status");
    case JobStatus::Locked:
        return tr("Running", "job status (locked by a worker)");
    case JobStatus::Retry:
        return tr("Retry", "job status: waiting to be retried");
    case JobStatus::Success:
        return tr("Success", "job status");
    case JobStatus::Failed:
        return tr("Failed", "job status");
    case JobStatus::Cancelled:
        return tr("Cancelled", "job status");
    }
    return {};
}

QColor JobTableModel::statusColor(JobStatus status)
{
    switch (status) {
    case JobStatus::Queued:
        return QColor(0x4a, 0x78, 0xb5);
    case JobStatus::Locked:
        return QColor(0xd9, 0x8c, 0x1a);
    case JobStatus::Retry:
        return QColor(0xc0, 0x6a, 0x2b);
    case JobStatus::Success:
        return QColor(0x2e, 0x8b, 0x57);
    case JobStatus::Failed:
        return QColor(0xc0, 0x39, 0x2b);
    case JobStatus::Cancelled:
        return QColor(0x80, 0x80, 0x80);
    }
    return {};
}

int JobTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int JobTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant JobTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Job &job = m_rows.at(index.row());
    switch (role) {
    case JobIdRole:
        return job.id;
    case StatusRole:
        return int(job.status);
    case JobTypeRole:
        return job.type();
    case Qt::DisplayRole:
        switch (index.column()) {
        case IdColumn:
            return job.id;
        case TypeColumn:
            return job.type();
        case StatusColumn:
            return statusLabel(job.status);
        case QueueColumn:
            return job.queue;
        case PriorityColumn:
            return job.priority;
        case AttemptsColumn:
            return job.maxAttempts ? u"%1 / %2"_s.arg(job.attempts).arg(*job.maxAttempts)
                                   : QString::number(job.attempts);
        case RunAtColumn:
            return formatTime(job.runAt);
        case CreatedColumn:
            return formatTime(job.createdAt);
        case UpdatedColumn:
            return formatTime(job.updatedAt);
        case WorkerColumn:
            return job.lockedBy;
        case DurationColumn:
            if (!job.startedAt.isValid())
                return QString();
            if (job.status == JobStatus::Locked)
                return formatDuration(job.startedAt.msecsTo(QDateTime::currentDateTimeUtc()));
            return job.finishedAt.isValid() ? formatDuration(job.startedAt.msecsTo(job.finishedAt))
                                            : QString();
        case LastErrorColumn: {
            QString message = errorMessage(job.lastError);
            message.replace(u'\n', u' ');
            return message;
        }
        }
        break;
    case Qt::ToolTipRole:
        if (index.column() == LastErrorColumn)
            return errorMessage(job.lastError);
        if (index.column() == StatusColumn && job.status == JobStatus::Locked)
            return tr("Locked by %1 since %2").arg(job.lockedBy, formatTime(job.lockedAt));
        break;
    case Qt::ForegroundRole:
        if (index.column() == StatusColumn)
            return statusColor(job.status);
        break;
    case Qt::FontRole:
        if (index.column() == StatusColumn) {
            QFont font;
            font.setBold(true);
            return font;
        }
        break;
    case Qt::TextAlignmentRole:
        if (index.column() == IdColumn || index.column() == PriorityColumn
            || index.column() == AttemptsColumn || index.column() == DurationColumn)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        break;
    default:
        break;
    }
    return {};
}

QVariant JobTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case IdColumn:
        return tr("ID", "job id column");
    case TypeColumn:
        return tr("Type", "job type column");
    case StatusColumn:
        return tr("Status");
    case QueueColumn:
        return tr("Queue", "job queue column");
    case PriorityColumn:
        return tr("Priority");
    case AttemptsColumn:
        return tr("Attempts");
    case RunAtColumn:
        return tr("Run at");
    case CreatedColumn:
        return tr("Created");
    case UpdatedColumn:
        return tr("Updated");
    case WorkerColumn:
        return tr("Worker");
    case DurationColumn:
        return tr("Duration");
    case LastErrorColumn:
        return tr("Last error");
    }
    return {};
}

std::optional<SortKey> JobTableModel::sortKeyForColumn(int column)
{
    switch (column) {
    case IdColumn:
        return SortKey::Id;
    case TypeColumn:
        return SortKey::Type;
    case StatusColumn:
        return SortKey::Status;
    case PriorityColumn:
        return SortKey::Priority;
    case RunAtColumn:
        return SortKey::RunAt;
    case CreatedColumn:
        return SortKey::CreatedAt;
    case UpdatedColumn:
        return SortKey::UpdatedAt;
    default:
        return std::nullopt;
    }
}

void JobTableModel::sort(int column, Qt::SortOrder order)
{
    const auto key = sortKeyForColumn(column);
    if (!key)
        return; // only the indexed columns sort (a full scan of millions of rows would not)
    if (m_page.sort == *key && m_page.order == order)
        return;
    m_page.sort = *key;
    m_page.order = order;
    reload();
}

bool JobTableModel::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && m_hasMore && !m_fetching && m_client;
}

void JobTableModel::fetchMore(const QModelIndex &parent)
{
    if (!canFetchMore(parent))
        return;
    m_fetching = true;
    setLoading(true);
    const quint64 generation = m_generation;
    const JobFilter filter = m_filter;
    const PageRequest next = m_page; // m_page.after is the last loaded row's cursor
    m_client->call<JobPage>([filter, next](JobStore &store) { return store.list(filter, next); },
                            this,
                            [this, generation](const Result<JobPage> &result) {
                                if (generation != m_generation)
                                    return;
                                m_fetching = false;
                                setLoading(false);
                                if (!result) {
                                    Q_EMIT errorOccurred(result.error().message);
                                    return;
                                }
                                QList<Job> fresh;
                                QList<Job> known;
                                for (const Job &job : result->jobs)
                                    (m_index.contains(job.id) ? known : fresh).append(job);
                                if (!fresh.isEmpty()) {
                                    const int first = int(m_rows.size());
                                    beginInsertRows({}, first, first + int(fresh.size()) - 1);
                                    m_rows.append(fresh);
                                    rebuildIndex(first);
                                    endInsertRows();
                                }
                                m_hasMore = result->hasMore;
                                if (!result->jobs.isEmpty())
                                    m_page.after = result->last;
                                merge(known);
                            });
}

} // namespace OddJobs::Ui
