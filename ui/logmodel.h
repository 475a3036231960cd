#pragma once

#include "oddjobs/logevent.h"
#include "oddjobs_ui_export.h"

#include <QAbstractTableModel>
#include <QColor>
#include <QIcon>
#include <QList>
#include <QTimer>

class QPalette;

namespace OddJobs::Ui {

// The log pane's rows: the newest runner events, bounded by a ring buffer so a worker that
// runs for weeks never grows the dashboard's memory. Events come in bursts (a batch of
// completions), so append() only queues them and one insert per flush interval reaches the
// view; when the buffer is full the oldest rows are removed first. Never a model reset.
class ODDJOBS_UI_EXPORT LogModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column
    {
        TimeColumn,
        LevelColumn,
        EventColumn,
        JobColumn,
        TypeColumn,
        MessageColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role
    {
        LevelRole = Qt::UserRole + 1, // int(LogLevel)
        KindRole, // int(LogEventKind)
        TimeRole, // QDateTime (UTC)
        JobIdRole, // qint64, invalid when the event has no job
        SortRole, // a value that sorts the column correctly (times, levels and ids as numbers)
    };
    Q_ENUM(Role)

    static constexpr int DefaultCapacity = 10000;
    static constexpr int DefaultFlushIntervalMs = 100;

    explicit LogModel(QObject *parent = nullptr);
    ~LogModel() override;

    int capacity() const { return m_capacity; }
    // Shrinking removes the oldest rows (one removal); at least 1.
    void setCapacity(int capacity);
    int flushInterval() const { return m_flushTimer.interval(); }
    void setFlushInterval(int ms);

    // Queues the event; it becomes a row at the next flush (at most flushInterval() later).
    void append(const LogEvent &event);
    // Inserts every queued event now, in one insertion (after one removal if the buffer
    // overflows).
    void flushPending();
    int pendingCount() const { return int(m_pending.size()); }
    // Removes every row and every queued event.
    void clear();

    // The event shown in `row` (0 = oldest).
    const LogEvent &event(int row) const;
    // Events discarded because the buffer was full, since construction or the last clear().
    qint64 discardedCount() const { return m_discarded; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    static QString levelLabel(LogLevel level);
    static QString kindLabel(LogEventKind kind);
    static QList<LogEventKind> allKinds();
    static QList<LogLevel> allLevels();
    // Readable on the palette's base colour, light or dark.
    static QColor levelColor(LogLevel level, const QPalette &palette);
    static QIcon levelIcon(LogLevel level, const QPalette &palette);
    // "took 1.25 s" style text for a duration in milliseconds.
    static QString durationText(qint64 ms);

private:
    LogEvent &slot(int row) { return m_ring[(m_head + row) % m_ring.size()]; }
    const LogEvent &slot(int row) const { return m_ring[(m_head + row) % m_ring.size()]; }
    void removeOldest(int count);
    void linearize();
    QString messageText(const LogEvent &event) const;

    // m_ring holds m_count events starting at m_head (the oldest), wrapping around; it grows
    // by appending until it first overflows and is then overwritten in place.
    QList<LogEvent> m_ring;
    int m_head = 0;
    int m_count = 0;
    int m_capacity = DefaultCapacity;
    QList<LogEvent> m_pending;
    qint64 m_discarded = 0;
    QTimer m_flushTimer;
    mutable QList<QIcon> m_iconCache; // by level and light/dark palette
};

} // namespace OddJobs::Ui
