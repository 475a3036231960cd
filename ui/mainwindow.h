#pragma once

#include "oddjobs/runner.h"
#include "oddjobs_ui_export.h"

#include <QMainWindow>
#include <QPointer>
#include <deque>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTableView;
class QTimer;
class QVBoxLayout;
class QPushButton;
class QToolButton;

namespace OddJobs::Ui {

class JobDetailWidget;
class JobTableModel;
class LogPanel;
class StatsPanel;
class StoreClient;

// The dashboard: the live jobs table in the middle, job detail, log and statistics in docks,
// actions on a selection or on everything matching the filter, and an embedded worker.
class ODDJOBS_UI_EXPORT MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    // `handlers` and `workerTemplate` (everything but the connection) define the embedded
    // worker; it is started on every database opened without monitor mode if `autoStartWorker`.
    MainWindow(HandlerRegistry handlers, RunnerConfig workerTemplate, bool autoStartWorker = true,
               QWidget *parent = nullptr);
    ~MainWindow() override;

    // Opens a database (asynchronously; databaseOpened() reports). Returns false with a message
    // for input that cannot even be parsed (bad URL or table name).
    bool openDatabase(const QString &url, const QString &table, bool monitorOnly,
                      QString *error = nullptr);
    bool isMonitorOnly() const { return m_monitorOnly; }
    JobTableModel *jobModel() const { return m_model; }
    QTableView *jobView() const { return m_view; }
    Runner *runner() const { return m_runner; }
    StoreClient *client() const { return m_client; }
    // Acting on everything that matches the filter instead of the selection.
    void setActOnFilter(bool on);

public Q_SLOTS:
    void startWorker();
    void stopWorker();
    void showEnqueueDialog();
    void showEditDialog();
    void runNowSelected();
    void cancelSelected();
    void deleteSelected();
    void duplicateSelected();
    void showOpenDialog();
    void refreshNow();

Q_SIGNALS:
    void databaseOpened(bool ok, const QString &message);
    // Emitted when an action finished (for scripts and tests): its name and how many jobs changed.
    void actionFinished(const QString &action, int changed, const QString &error);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    enum class Act
    {
        RunNow,
        Cancel,
        Delete
    };
    void buildActions();
    void buildFilterBar(QWidget *parent, QVBoxLayout *layout);
    void buildDocks();
    void applyFilter();
    void updateActions();
    void updateStatus();
    void updateDetail();
    QList<qint64> selectedIds() const;
    void act(Act act);
    void runAction(Act act, const JobFilter &filter);
    void loadChoices();
    void onRunnerJob();
    void rememberRecent(const QString &url);
    QStringList recentUrls() const;
    void restoreLayout();
    void saveLayout();

    HandlerRegistry m_handlers;
    RunnerConfig m_workerTemplate;
    bool m_autoStartWorker = true;
    bool m_monitorOnly = false;
    QString m_url;
    QString m_table;
    StoreClient *m_client = nullptr;
    StoreClient *m_statsClient = nullptr;
    QPointer<Runner> m_runner;
    JobTableModel *m_model = nullptr;
    QTableView *m_view = nullptr;
    JobDetailWidget *m_detail = nullptr;
    LogPanel *m_log = nullptr;
    StatsPanel *m_stats = nullptr;
    QStringList m_knownTypes;
    QStringList m_knownQueues;

    // filter bar
    QLineEdit *m_search = nullptr;
    QPushButton *m_statusButton = nullptr;
    QList<QAction *> m_statusActions;
    QComboBox *m_typeFilter = nullptr;
    QComboBox *m_queueFilter = nullptr;
    QLineEdit *m_workerFilter = nullptr;
    QComboBox *m_timeFilter = nullptr;
    QTimer *m_filterDebounce = nullptr;

    // actions
    QAction *m_openAction = nullptr;
    QAction *m_startWorkerAction = nullptr;
    QAction *m_stopWorkerAction = nullptr;
    QSpinBox *m_concurrency = nullptr;
    QAction *m_enqueueAction = nullptr;
    QAction *m_editAction = nullptr;
    QAction *m_runNowAction = nullptr;
    QAction *m_cancelAction = nullptr;
    QAction *m_deleteAction = nullptr;
    QAction *m_duplicateAction = nullptr;
    QAction *m_actOnFilterAction = nullptr;
    QAction *m_refreshAction = nullptr;
    QList<QAction *> m_writeActions;

    // status bar
    QLabel *m_dbLabel = nullptr;
    QLabel *m_workerLabel = nullptr;
    QLabel *m_runningLabel = nullptr;
    QLabel *m_rateLabel = nullptr;
    QLabel *m_totalLabel = nullptr;
    std::deque<qint64> m_finishTimes; // ms since epoch of recent finishes, for jobs/s
    QTimer *m_statusTimer = nullptr;
    QTimer *m_runnerRefresh = nullptr; // coalesces refreshes asked for by runner events
};

} // namespace OddJobs::Ui
