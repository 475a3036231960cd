#pragma once

#include "oddjobs/job.h"
#include "oddjobs_ui_export.h"

#include <QAbstractTableModel>
#include <QList>

namespace OddJobs::Ui {

// Per-type statistics, one row per job type sorted by name. Each refresh is merged into the
// rows: changed cells get dataChanged, new types are inserted, vanished types removed, so a
// selection or a sorted view on top survives the refresh every few seconds.
class ODDJOBS_UI_EXPORT StatsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column
    {
        TypeColumn,
        QueuedColumn,
        RunningColumn,
        RetryColumn,
        SuccessColumn,
        FailedColumn,
        CancelledColumn,
        SuccessRateColumn,
        ThroughputColumn,
        P50Column,
        P95Column,
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role
    {
        SortRole = Qt::UserRole + 1, // numbers as numbers; missing durations sort first
        TypeRole, // the row's job type
    };
    Q_ENUM(Role)

    explicit StatsModel(QObject *parent = nullptr);
    ~StatsModel() override;

    // Merges `statistics` (any order, one entry per type) into the rows.
    void setStatistics(const QList<TypeStatistics> &statistics);
    // Removes every row (a model reset).
    void clear();

    const TypeStatistics &statisticsAt(int row) const { return m_rows.at(row); }
    QString typeAt(int row) const { return m_rows.at(row).type; }
    int rowOfType(const QString &type) const; // -1 when absent
    const QList<TypeStatistics> &statistics() const { return m_rows; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // The order of the rows: by name, case-insensitively, ties broken case-sensitively.
    static bool typeLess(const QString &a, const QString &b);

private:
    static QVariant cellValue(const TypeStatistics &s, int column);
    void updateRow(int row, const TypeStatistics &incoming);

    QList<TypeStatistics> m_rows;
};

} // namespace OddJobs::Ui
