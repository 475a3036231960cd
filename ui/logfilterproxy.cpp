#include "logfilterproxy.h"

#include "logmodel.h"

namespace OddJobs::Ui {

LogFilterProxy::LogFilterProxy(QObject *parent)
    : QSortFilterProxyModel(parent)
    , m_kindMask(allKindsMask())
{
    setSortRole(LogModel::SortRole);
}

quint32 LogFilterProxy::allKindsMask()
{
    quint32 mask = 0;
    const QList<LogEventKind> kinds = LogModel::allKinds();
    for (LogEventKind kind : kinds)
        mask |= bit(kind);
    return mask;
}

void LogFilterProxy::setMinimumLevel(LogLevel level)
{
    if (level == m_minimumLevel)
        return;
    m_minimumLevel = level;
    applyFilter();
}

bool LogFilterProxy::isKindShown(LogEventKind kind) const
{
    return (m_kindMask & bit(kind)) != 0;
}

void LogFilterProxy::setKindShown(LogEventKind kind, bool shown)
{
    const quint32 mask = shown ? (m_kindMask | bit(kind)) : (m_kindMask & ~bit(kind));
    if (mask == m_kindMask)
        return;
    m_kindMask = mask;
    applyFilter();
}

QList<LogEventKind> LogFilterProxy::shownKinds() const
{
    QList<LogEventKind> kinds;
    const QList<LogEventKind> all = LogModel::allKinds();
    for (LogEventKind kind : all) {
        if (isKindShown(kind))
            kinds << kind;
    }
    return kinds;
}

void LogFilterProxy::setShownKinds(const QList<LogEventKind> &kinds)
{
    quint32 mask = 0;
    for (LogEventKind kind : kinds)
        mask |= bit(kind);
    if (mask == m_kindMask)
        return;
    m_kindMask = mask;
    applyFilter();
}

bool LogFilterProxy::showsAllKinds() const
{
    return m_kindMask == allKindsMask();
}

void LogFilterProxy::setSearchText(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed == m_searchText)
        return;
    m_searchText = trimmed;
    applyFilter();
}

bool LogFilterProxy::isFiltering() const
{
    return m_minimumLevel != LogLevel::Debug || !showsAllKinds() || !m_searchText.isEmpty();
}

void LogFilterProxy::applyFilter()
{
    // Removes and inserts only the rows whose acceptance changed; no reset.
    invalidateFilter();
    Q_EMIT filterChanged();
}

bool LogFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QAbstractItemModel *model = sourceModel();
    if (!model)
        return false;
    const QModelIndex first = model->index(sourceRow, 0, sourceParent);
    if (model->data(first, LogModel::LevelRole).toInt() < int(m_minimumLevel))
        return false;
    const int kind = model->data(first, LogModel::KindRole).toInt();
    if (kind < 0 || kind > int(LogEventKind::Text) || !isKindShown(LogEventKind(kind)))
        return false;
    if (m_searchText.isEmpty())
        return true;
    for (int column :
         { int(LogModel::MessageColumn), int(LogModel::TypeColumn), int(LogModel::JobColumn) }) {
        const QString text = model->data(model->index(sourceRow, column, sourceParent)).toString();
        if (text.contains(m_searchText, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace OddJobs::Ui
