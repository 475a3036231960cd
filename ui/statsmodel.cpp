#include "statsmodel.h"

#include "uiformat.h"

#include <QFont>
#include <QGuiApplication>
#include <QLocale>
#include <QPalette>
#include <algorithm>
#include <limits>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {

bool isCountColumn(int column)
{
    return column >= StatsModel::QueuedColumn && column <= StatsModel::CancelledColumn;
}

qint64 countOf(const TypeStatistics &s, int column)
{
    switch (column) {
    case StatsModel::QueuedColumn:
        return s.queued;
    case StatsModel::RunningColumn:
        return s.locked;
    case StatsModel::RetryColumn:
        return s.retry;
    case StatsModel::SuccessColumn:
        return s.success;
    case StatsModel::FailedColumn:
        return s.failed;
    case StatsModel::CancelledColumn:
        return s.cancelled;
    default:
        return 0;
    }
}

QString rateText(double perSecond)
{
    if (perSecond <= 0)
        return u"0"_s;
    if (perSecond < 0.01)
        return StatsModel::tr("<0.01", "jobs per second below the shown precision");
    const int decimals = perSecond >= 100 ? 0 : perSecond >= 10 ? 1 : 2;
    return QLocale().toString(perSecond, 'f', decimals);
}

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Base).lightness() < 128;
}

} // namespace

StatsModel::StatsModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

StatsModel::~StatsModel() = default;

bool StatsModel::typeLess(const QString &a, const QString &b)
{
    const int c = QString::compare(a, b, Qt::CaseInsensitive);
    return c != 0 ? c < 0 : a < b;
}

int StatsModel::rowOfType(const QString &type) const
{
    const auto it = std::lower_bound(
        m_rows.cbegin(), m_rows.cend(), type,
        [](const TypeStatistics &s, const QString &t) { return typeLess(s.type, t); });
    return it != m_rows.cend() && it->type == type ? int(it - m_rows.cbegin()) : -1;
}

void StatsModel::setStatistics(const QList<TypeStatistics> &statistics)
{
    QList<TypeStatistics> incoming = statistics;
    std::sort(
        incoming.begin(), incoming.end(),
        [](const TypeStatistics &a, const TypeStatistics &b) { return typeLess(a.type, b.type); });
    // One row per type even if a caller passes duplicates: the last one wins.
    incoming.erase(std::unique(incoming.begin(), incoming.end(),
                               [](const TypeStatistics &a, const TypeStatistics &b) {
                                   return a.type == b.type;
                               }),
                   incoming.end());

    // A sorted merge of two sorted lists: runs of vanished types become one removal, runs of
    // new types one insertion, and matching types an update of the changed cells.
    int row = 0;
    qsizetype next = 0;
    while (row < m_rows.size() || next < incoming.size()) {
        const bool haveOld = row < m_rows.size();
        const bool haveNew = next < incoming.size();
        if (haveOld && (!haveNew || typeLess(m_rows[row].type, incoming[next].type))) {
            int end = row + 1;
            while (end < m_rows.size()
                   && (!haveNew || typeLess(m_rows[end].type, incoming[next].type)))
                ++end;
            beginRemoveRows({}, row, end - 1);
            m_rows.remove(row, end - row);
            endRemoveRows();
        } else if (haveNew && (!haveOld || typeLess(incoming[next].type, m_rows[row].type))) {
            qsizetype end = next + 1;
            while (end < incoming.size()
                   && (!haveOld || typeLess(incoming[end].type, m_rows[row].type)))
                ++end;
            const int count = int(end - next);
            beginInsertRows({}, row, row + count - 1);
            for (qsizetype i = next; i < end; ++i)
                m_rows.insert(row + int(i - next), incoming[i]);
            endInsertRows();
            row += count;
            next = end;
        } else {
            updateRow(row, incoming[next]);
            ++row;
            ++next;
        }
    }
}

void StatsModel::updateRow(int row, const TypeStatistics &incoming)
{
    TypeStatistics &current = m_rows[row];
    QList<int> changed;
    for (int column = 0; column < ColumnCount; ++column) {
        if (cellValue(current, column) != cellValue(incoming, column))
            changed << column;
    }
    // Fields no column shows directly (they feed tooltips) change the cells that use them.
    if (current.finishedInWindow != incoming.finishedInWindow
        || current.succeededInWindow != incoming.succeededInWindow
        || current.failedInWindow != incoming.failedInWindow) {
        for (int column : { int(SuccessRateColumn), int(ThroughputColumn) }) {
            if (!changed.contains(column))
                changed << column;
        }
        std::sort(changed.begin(), changed.end());
    }
    current = incoming;
    // One dataChanged per run of adjacent changed cells: views repaint only those.
    for (qsizetype i = 0; i < changed.size();) {
        qsizetype j = i;
        while (j + 1 < changed.size() && changed[j + 1] == changed[j] + 1)
            ++j;
        Q_EMIT dataChanged(index(row, changed[i]), index(row, changed[j]));
        i = j + 1;
    }
}

void StatsModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int StatsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int StatsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant StatsModel::cellValue(const TypeStatistics &s, int column)
{
    switch (column) {
    case TypeColumn:
        return s.type;
    case SuccessRateColumn:
        return s.finishedInWindow > 0 ? QVariant(s.successRate) : QVariant();
    case ThroughputColumn:
        return s.throughputPerSecond;
    case P50Column:
        return s.durationP50Seconds ? QVariant(*s.durationP50Seconds) : QVariant();
    case P95Column:
        return s.durationP95Seconds ? QVariant(*s.durationP95Seconds) : QVariant();
    default:
        return isCountColumn(column) ? QVariant(countOf(s, column)) : QVariant();
    }
}

QVariant StatsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const TypeStatistics &s = m_rows.at(index.row());
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        switch (column) {
        case TypeColumn:
            return s.type;
        case SuccessRateColumn:
            if (s.finishedInWindow == 0)
                return tr("—", "no value");
            return tr("%1%", "success rate")
                .arg(QLocale().toString(s.successRate * 100, 'f', s.successRate < 1 ? 1 : 0));
        case ThroughputColumn:
            return rateText(s.throughputPerSecond);
        case P50Column:
            return s.durationP50Seconds ? Format::duration(*s.durationP50Seconds)
                                        : tr("—", "no value");
        case P95Column:
            return s.durationP95Seconds ? Format::duration(*s.durationP95Seconds)
                                        : tr("—", "no value");
        default:
            return Format::count(countOf(s, column));
        }
    case Qt::ToolTipRole:
        switch (column) {
        case TypeColumn:
            return tr("%1: %Ln job(s) in the table", "",
                      int(qMin<qint64>(s.total(), std::numeric_limits<int>::max())))
                .arg(s.type);
        case SuccessRateColumn:
        case ThroughputColumn:
            if (s.finishedInWindow == 0)
                return tr("No job of this type finished in the selected period.");
            return tr("In the selected period: %1 succeeded, %2 failed.")
                .arg(Format::count(s.succeededInWindow), Format::count(s.failedInWindow));
        default:
            break;
        }
        break;
    case Qt::TextAlignmentRole:
        return int((column == TypeColumn ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter);
    case Qt::ForegroundRole: {
        const QPalette palette = QGuiApplication::palette();
        if (column == FailedColumn && s.failed > 0)
            return isDark(palette) ? QColor(0xef, 0x6c, 0x6c) : QColor(0xc6, 0x28, 0x28);
        // Zeros and missing values recede, so the numbers that matter stand out.
        const QVariant value = cellValue(s, column);
        if (column != TypeColumn
            && (!value.isValid() || (isCountColumn(column) && value.toLongLong() == 0)))
            return palette.color(QPalette::PlaceholderText);
        break;
    }
    case Qt::FontRole:
        if (column == TypeColumn && s.type == UnknownJobType) {
            QFont font;
            font.setItalic(true);
            return font;
        }
        break;
    case SortRole: {
        const QVariant value = cellValue(s, column);
        if (column == TypeColumn)
            return s.type.toLower();
        return value.isValid() ? value : QVariant(-1.0);
    }
    case TypeRole:
        return s.type;
    default:
        break;
    }
    return {};
}

QVariant StatsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case TypeColumn:
            return tr("Type", "job type");
        case QueuedColumn:
            return tr("Queued", "job status");
        case RunningColumn:
            return tr("Running", "job status");
        case RetryColumn:
            return tr("Retry", "job status");
        case SuccessColumn:
            return tr("Success", "job status");
        case FailedColumn:
            return tr("Failed", "job status");
        case CancelledColumn:
            return tr("Cancelled", "job status");
        case SuccessRateColumn:
            return tr("Success rate");
        case ThroughputColumn:
            return tr("Jobs/s", "successful jobs per second");
        case P50Column:
            return tr("p50", "median duration");
        case P95Column:
            return tr("p95", "95th percentile duration");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case TypeColumn:
            return tr("The job type (the payload's tag)");
        case QueuedColumn:
            return tr("Jobs waiting to run (now or at a later time)");
        case RunningColumn:
            return tr("Jobs a worker is running now");
        case RetryColumn:
            return tr("Jobs that failed and wait for another attempt");
        case SuccessColumn:
            return tr("Jobs that succeeded (kept until pruned)");
        case FailedColumn:
            return tr("Jobs that failed with no attempts left");
        case CancelledColumn:
            return tr("Jobs that were cancelled");
        case SuccessRateColumn:
            return tr("Share of the jobs finished in the selected period that succeeded");
        case ThroughputColumn:
            return tr("Successful jobs per second over the selected period");
        case P50Column:
            return tr("Median run time of the attempts finished in the selected period");
        case P95Column:
            return tr("95% of the attempts finished in the selected period ran at most this long");
        }
    } else if (role == Qt::TextAlignmentRole) {
        return int((section == TypeColumn ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignVCenter);
    }
    return {};
}

} // namespace OddJobs::Ui
