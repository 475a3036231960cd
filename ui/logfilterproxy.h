#pragma once

#include "oddjobs/logevent.h"
#include "oddjobs_ui_export.h"

#include <QList>
#include <QSortFilterProxyModel>

namespace OddJobs::Ui {

// What the log pane shows of a LogModel: events at or above a minimum level, of the chosen
// event kinds, and matching a search text (case-insensitive, in the message, the job type
// or the job id).
class ODDJOBS_UI_EXPORT LogFilterProxy : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit LogFilterProxy(QObject *parent = nullptr);

    LogLevel minimumLevel() const { return m_minimumLevel; }
    void setMinimumLevel(LogLevel level);

    // Every kind is shown by default.
    bool isKindShown(LogEventKind kind) const;
    void setKindShown(LogEventKind kind, bool shown);
    QList<LogEventKind> shownKinds() const;
    void setShownKinds(const QList<LogEventKind> &kinds);
    bool showsAllKinds() const;

    QString searchText() const { return m_searchText; }
    void setSearchText(const QString &text);

    // True when any of the three filters hides something.
    bool isFiltering() const;

Q_SIGNALS:
    void filterChanged();

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    static quint32 bit(LogEventKind kind) { return quint32(1) << int(kind); }
    static quint32 allKindsMask();
    void applyFilter();

    LogLevel m_minimumLevel = LogLevel::Debug;
    quint32 m_kindMask;
    QString m_searchText;
};

} // namespace OddJobs::Ui
