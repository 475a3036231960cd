#pragma once

#include "oddjobs_ui_export.h"

#include <QPointer>
#include <QTimer>
#include <QWidget>

class QComboBox;
class QLabel;
class QSortFilterProxyModel;
class QStackedWidget;
class QTableView;
class QToolButton;

namespace OddJobs::Ui {

class StatsModel;
class StoreClient;
class ThroughputChart;

// The dashboard's statistics: per-type counts, success rate, throughput and durations, and a
// chart of finished jobs over time for every type or the selected one. While visible it
// refreshes through the StoreClient every few seconds; the next refresh is armed only after
// the previous result arrived, and results of superseded requests are dropped.
class ODDJOBS_UI_EXPORT StatsPanel : public QWidget
{
    Q_OBJECT
public:
    // The period the statistics and the chart cover.
    enum class Period
    {
        LastFiveMinutes,
        LastHour,
        LastDay
    };
    Q_ENUM(Period)

    explicit StatsPanel(QWidget *parent = nullptr);
    ~StatsPanel() override;

    // Null shows "No database". The panel does not own the client.
    void setClient(StoreClient *client);
    StoreClient *client() const { return m_client; }

    Period period() const { return m_period; }
    void setPeriod(Period period);
    static int periodSeconds(Period period);
    static int bucketSeconds(Period period);
    static int bucketCount(Period period);

    int refreshInterval() const { return m_timer.interval(); }
    void setRefreshInterval(int ms);
    // True while the panel is shown with a client: it refreshes by itself.
    bool isAutoRefreshActive() const;
    // True while a request is on its way to the store.
    bool isRefreshing() const { return m_inFlight; }

    // The type the chart shows; empty for all types.
    QString selectedType() const;
    void selectType(const QString &type);

    StatsModel *model() const { return m_model; }
    ThroughputChart *chart() const { return m_chart; }
    QTableView *view() const { return m_view; }

public Q_SLOTS:
    // Asks for fresh statistics now; an older request still on its way is superseded.
    void refresh();

Q_SIGNALS:
    // The latest request's result was shown (ok) or its error reported.
    void refreshed(bool ok);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    struct Snapshot;
    void apply(quint64 serial, const Snapshot &snapshot);
    void fail(quint64 serial, const QString &message);
    void forgetResults();
    void rearm();
    void updateChartTitle();
    void setStatus(const QString &text, bool error);

    QPointer<StoreClient> m_client;
    Period m_period = Period::LastHour;
    StatsModel *m_model = nullptr;
    QSortFilterProxyModel *m_sorted = nullptr;
    QTableView *m_view = nullptr;
    ThroughputChart *m_chart = nullptr;
    QComboBox *m_periodCombo = nullptr;
    QLabel *m_status = nullptr;
    QToolButton *m_refreshButton = nullptr;
    QStackedWidget *m_stack = nullptr;
    QWidget *m_content = nullptr;
    QWidget *m_placeholder = nullptr;
    QTimer m_timer;
    quint64 m_serial = 0; // of the latest request; older results are stale
    bool m_inFlight = false;
    bool m_shown = false;
};

} // namespace OddJobs::Ui
