#pragma once

#include "oddjobs/job.h"
#include "oddjobs_ui_export.h"
#include "storeclient.h"

#include <QAbstractTableModel>
#include <QDateTime>
#include <QHash>
#include <QPointer>
#include <QTimer>

namespace OddJobs::Ui {

// The live jobs table: keyset-paged from the store (fetchMore loads the next page), kept
// current by a cheap "changed since" query every second plus whatever the local runner
// reports, and merged row by row (insert / dataChanged / remove), never reset for routine
// updates, so selection and scroll position survive.
class ODDJOBS_UI_EXPORT JobTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column
    {
        IdColumn,
        TypeColumn,
        StatusColumn,
        QueueColumn,
        PriorityColumn,
        AttemptsColumn,
        RunAtColumn,
        CreatedColumn,
        UpdatedColumn,
        WorkerColumn,
        DurationColumn,
        LastErrorColumn,
        ColumnCount
    };
    Q_ENUM(Column)
    enum Role
    {
        JobIdRole = Qt::UserRole + 1,
        StatusRole,
        JobTypeRole
    };

    explicit JobTableModel(QObject *parent = nullptr);
    ~JobTableModel() override;

    void setClient(StoreClient *client); // null: empty table
    StoreClient *client() const { return m_client; }
    void setFilter(const JobFilter &filter);
    JobFilter filter() const { return m_filter; }
    PageRequest sortOrder() const { return m_page; }
    void setPageSize(int rows);
    void setLiveInterval(int ms); // 0: no polling (tests drive refresh() themselves)

    // Loads the first page for the current filter and sort (the one reset a view sees).
    void reload();
    // Asks the store for rows changed since the last look and merges them.
    void refresh();
    // Rows the local runner reported: merged at once, before the next refresh.
    void applyJobs(const QList<Job> &jobs);
    void removeJobs(const QList<qint64> &ids);

    bool isLoading() const { return m_loading; }
    qint64 totalEstimate() const { return m_total; }
    const Job *jobAt(int row) const;
    int rowOfId(qint64 id) const { return m_index.value(id, -1); }
    static QString statusLabel(JobStatus status);
    static QColor statusColor(JobStatus status);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;
    void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;
    bool canFetchMore(const QModelIndex &parent) const override;
    void fetchMore(const QModelIndex &parent) override;

    static std::optional<SortKey> sortKeyForColumn(int column);

Q_SIGNALS:
    void loadingChanged(bool loading);
    void totalEstimateChanged(qint64 total);
    void errorOccurred(const QString &message);
    // After each merge: how many rows were inserted above the first row (views keep their
    // scroll position with it).
    void rowsMerged();

private:
    bool lessThan(const Job &a, const Job &b) const;
    int insertPosition(const Job &job) const;
    void rebuildIndex(int fromRow = 0);
    void merge(const QList<Job> &jobs);
    void checkDeleted();
    void setLoading(bool loading);

    QPointer<StoreClient> m_client;
    QList<Job> m_rows;
    QHash<qint64, int> m_index;
    JobFilter m_filter;
    PageRequest m_page;
    bool m_hasMore = false;
    bool m_fetching = false;
    bool m_refreshing = false;
    bool m_loading = false;
    quint64 m_generation = 0; // results of older generations are stale and dropped
    QDateTime m_changedCursor; // newest updated_at seen (database clock)
    qint64 m_total = -1;
    QTimer m_liveTimer;
    int m_refreshCount = 0;
};

} // namespace OddJobs::Ui
