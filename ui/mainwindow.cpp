#include "mainwindow.h"

#include "connectiondialog.h"
#include "jobdetailwidget.h"
#include "jobdialog.h"
#include "jobtablemodel.h"
#include "logpanel.h"
#include "statspanel.h"
#include "storeclient.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {
QString urlWithoutPassword(const ConnectionSettings &settings)
{
    ConnectionSettings copy = settings;
    copy.password.clear();
    return copy.displayString();
}
} // namespace

MainWindow::MainWindow(HandlerRegistry handlers, RunnerConfig workerTemplate, bool autoStartWorker,
                       QWidget *parent)
    : QMainWindow(parent)
    , m_handlers(std::move(handlers))
    , m_workerTemplate(std::move(workerTemplate))
    , m_autoStartWorker(autoStartWorker)
{
    setWindowTitle(tr("OddJobs"));
    setObjectName(u"MainWindow"_s);
    m_model = new JobTableModel(this);

    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    layout->setContentsMargins(6, 6, 6, 0);
    buildFilterBar(central, layout);
    m_view = new QTableView(central);
    m_view->setObjectName(u"JobsView"_s);
    m_view->setModel(m_model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(JobTableModel::IdColumn, Qt::DescendingOrder);
    m_view->setAlternatingRowColors(true);
    m_view->setWordWrap(false);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 8);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->horizontalHeader()->setHighlightSections(false);
    m_view->setAccessibleName(tr("Jobs"));
    m_view->setContextMenuPolicy(Qt::ActionsContextMenu);
    layout->addWidget(m_view, 1);
    setCentralWidget(central);
    // Rows that appear above the visible ones push the content down; keep what the user looks at.
    connect(m_model, &QAbstractItemModel::rowsInserted, this,
            [this](const QModelIndex &, int first, int last) {
                QScrollBar *bar = m_view->verticalScrollBar();
                const int top = m_view->rowAt(0);
                if (bar->value() > 0 && top >= 0 && first <= top)
                    bar->setValue(bar->value() + (last - first + 1));
            });
    // Only the indexed columns sort; put the indicator back for the others.
    connect(m_view->horizontalHeader(), &QHeaderView::sortIndicatorChanged, this,
            [this](int column, Qt::SortOrder) {
                if (!JobTableModel::sortKeyForColumn(column)) {
                    const PageRequest current = m_model->sortOrder();
                    for (int c = 0; c < JobTableModel::ColumnCount; ++c) {
                        if (JobTableModel::sortKeyForColumn(c) == current.sort) {
                            QSignalBlocker block(m_view->horizontalHeader());
                            m_view->horizontalHeader()->setSortIndicator(c, current.order);
                        }
                    }
                    statusBar()->showMessage(
                        tr("Sorting is offered for ID, type, status, priority and the times."),
                        4000);
                }
            });

    buildDocks();
    buildActions();

    m_dbLabel = new QLabel(tr("No database"), this);
    m_workerLabel = new QLabel(this);
    m_runningLabel = new QLabel(this);
    m_rateLabel = new QLabel(this);
    m_totalLabel = new QLabel(this);
    statusBar()->addWidget(m_dbLabel, 1);
    statusBar()->addPermanentWidget(m_totalLabel);
    statusBar()->addPermanentWidget(m_workerLabel);
    statusBar()->addPermanentWidget(m_runningLabel);
    statusBar()->addPermanentWidget(m_rateLabel);
    m_statusTimer = new QTimer(this);
    m_statusTimer->setInterval(1000);
    connect(m_statusTimer, &QTimer::timeout, this, &MainWindow::updateStatus);
    m_statusTimer->start();
    m_runnerRefresh = new QTimer(this);
    m_runnerRefresh->setSingleShot(true);
    m_runnerRefresh->setInterval(100);
    connect(m_runnerRefresh, &QTimer::timeout, m_model, &JobTableModel::refresh);

    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        updateActions();
        updateDetail();
    });
    connect(m_model, &QAbstractItemModel::dataChanged, this,
            [this](const QModelIndex &from, const QModelIndex &to) {
                const QModelIndex current = m_view->selectionModel()->currentIndex();
                if (current.isValid() && current.row() >= from.row() && current.row() <= to.row())
                    updateDetail();
                updateActions();
            });
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        updateDetail();
        updateActions();
    });
    connect(m_model, &JobTableModel::totalEstimateChanged, this, &MainWindow::updateStatus);
    connect(m_model, &JobTableModel::errorOccurred, this,
            [this](const QString &message) { statusBar()->showMessage(message, 8000); });
    connect(m_view, &QTableView::doubleClicked, this, &MainWindow::showEditDialog);

    restoreLayout();
    updateActions();
    updateStatus();
}

MainWindow::~MainWindow()
{
    if (m_runner) {
        m_runner->stopNow();
        m_runner->waitForStopped(m_workerTemplate.shutdownTimeoutMs + 5000);
        delete m_runner;
    }
    m_model->setClient(nullptr);
}

void MainWindow::buildFilterBar(QWidget *parent, QVBoxLayout *layout)
{
    auto *bar = new QHBoxLayout;
    m_search = new QLineEdit(parent);
    m_search->setPlaceholderText(tr("Search by id or payload text"));
    m_search->setClearButtonEnabled(true);
    m_search->setMinimumWidth(m_search->fontMetrics().horizontalAdvance(m_search->placeholderText())
                              + 30);
    m_search->setAccessibleName(tr("Search"));
    m_search->setObjectName(u"searchFilter"_s);
    bar->addWidget(m_search, 2);

    m_statusButton = new QPushButton(parent);
    m_statusButton->setText(tr("Status: all"));
    m_statusButton->setAccessibleName(tr("Status filter"));
    m_statusButton->setObjectName(u"statusFilter"_s);
    auto *statusMenu = new QMenu(m_statusButton);
    for (JobStatus s : allStatuses()) {
        QAction *a = statusMenu->addAction(JobTableModel::statusLabel(s));
        a->setCheckable(true);
        a->setData(int(s));
        m_statusActions << a;
        connect(a, &QAction::toggled, this, &MainWindow::applyFilter);
    }
    m_statusButton->setMenu(statusMenu);
    bar->addWidget(m_statusButton);

    auto combo = [parent](const QString &placeholder, const QString &accessible) {
        auto *c = new QComboBox(parent);
        c->setEditable(true);
        c->setInsertPolicy(QComboBox::NoInsert);
        c->lineEdit()->setPlaceholderText(placeholder);
        c->lineEdit()->setClearButtonEnabled(true);
        c->setMinimumContentsLength(std::max<int>(12, int(placeholder.size()) + 2));
        c->setAccessibleName(accessible);
        return c;
    };
    m_typeFilter = combo(tr("Any type"), tr("Type filter"));
    m_typeFilter->setObjectName(u"typeFilter"_s);
    m_queueFilter = combo(tr("Any queue"), tr("Queue filter"));
    m_queueFilter->setObjectName(u"queueFilter"_s);
    bar->addWidget(m_typeFilter, 1);
    bar->addWidget(m_queueFilter, 1);
    m_workerFilter = new QLineEdit(parent);
    m_workerFilter->setPlaceholderText(tr("Any worker"));
    m_workerFilter->setClearButtonEnabled(true);
    m_workerFilter->setAccessibleName(tr("Worker filter"));
    m_workerFilter->setMinimumWidth(
        m_workerFilter->fontMetrics().horizontalAdvance(m_workerFilter->placeholderText()) + 36);
    bar->addWidget(m_workerFilter, 1);
    m_timeFilter = new QComboBox(parent);
    m_timeFilter->setAccessibleName(tr("Time filter"));
    m_timeFilter->addItem(tr("Any time"), 0);
    m_timeFilter->addItem(tr("Created in the last 15 minutes"), 15 * 60);
    m_timeFilter->addItem(tr("Created in the last hour"), 3600);
    m_timeFilter->addItem(tr("Created in the last 24 hours"), 24 * 3600);
    m_timeFilter->addItem(tr("Created in the last 7 days"), 7 * 24 * 3600);
    bar->addWidget(m_timeFilter);
    auto *clear = new QToolButton(parent);
    clear->setText(tr("Clear"));
    clear->setToolTip(tr("Clear all filters"));
    bar->addWidget(clear);
    layout->addLayout(bar);

    m_filterDebounce = new QTimer(this);
    m_filterDebounce->setSingleShot(true);
    m_filterDebounce->setInterval(300);
    connect(m_filterDebounce, &QTimer::timeout, this, &MainWindow::applyFilter);
    for (QLineEdit *edit :
         { m_search, m_workerFilter, m_typeFilter->lineEdit(), m_queueFilter->lineEdit() })
        connect(edit, &QLineEdit::textChanged, m_filterDebounce, qOverload<>(&QTimer::start));
    connect(m_timeFilter, &QComboBox::currentIndexChanged, this, &MainWindow::applyFilter);
    connect(clear, &QToolButton::clicked, this, [this] {
        const QSignalBlocker b1(m_search), b2(m_workerFilter), b3(m_typeFilter), b4(m_queueFilter),
            b5(m_timeFilter);
        m_search->clear();
        m_workerFilter->clear();
        m_typeFilter->setCurrentText(QString());
        m_queueFilter->setCurrentText(QString());
        m_timeFilter->setCurrentIndex(0);
        for (QAction *a : std::as_const(m_statusActions)) {
            const QSignalBlocker block(a);
            a->setChecked(false);
        }
        applyFilter();
    });
}

void MainWindow::buildDocks()
{
    auto dock = [this](const QString &title, const QString &name, QWidget *widget,
                       Qt::DockWidgetArea area) {
        auto *d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(widget);
        addDockWidget(area, d);
        return d;
    };
    m_detail = new JobDetailWidget(this);
    m_log = new LogPanel(this);
    m_stats = new StatsPanel(this);
    QDockWidget *detail
        = dock(tr("Job Detail"), u"DetailDock"_s, m_detail, Qt::RightDockWidgetArea);
    QDockWidget *log = dock(tr("Log"), u"LogDock"_s, m_log, Qt::BottomDockWidgetArea);
    QDockWidget *stats = dock(tr("Statistics"), u"StatsDock"_s, m_stats, Qt::BottomDockWidgetArea);
    tabifyDockWidget(log, stats);
    log->raise();
    resizeDocks({ detail }, { 380 }, Qt::Horizontal);
    resizeDocks({ log }, { 300 }, Qt::Vertical);
}

void MainWindow::buildActions()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    m_openAction = file->addAction(tr("&Open Database…"), QKeySequence::Open, this,
                                   &MainWindow::showOpenDialog);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu *jobs = menuBar()->addMenu(tr("&Jobs"));
    m_enqueueAction
        = jobs->addAction(tr("&Enqueue…"), QKeySequence::New, this, &MainWindow::showEnqueueDialog);
    m_editAction = jobs->addAction(tr("&Edit…"), QKeySequence(Qt::CTRL | Qt::Key_E), this,
                                   &MainWindow::showEditDialog);
    m_duplicateAction = jobs->addAction(tr("D&uplicate"), QKeySequence(Qt::CTRL | Qt::Key_D), this,
                                        &MainWindow::duplicateSelected);
    jobs->addSeparator();
    m_runNowAction = jobs->addAction(tr("&Run Now / Retry"), QKeySequence(Qt::CTRL | Qt::Key_R),
                                     this, &MainWindow::runNowSelected);
    m_cancelAction = jobs->addAction(tr("&Cancel"), QKeySequence(Qt::CTRL | Qt::Key_Period), this,
                                     &MainWindow::cancelSelected);
    m_deleteAction
        = jobs->addAction(tr("&Delete"), QKeySequence::Delete, this, &MainWindow::deleteSelected);
    jobs->addSeparator();
    m_actOnFilterAction = jobs->addAction(tr("Act on All &Matching the Filter"));
    m_actOnFilterAction->setCheckable(true);
    m_actOnFilterAction->setToolTip(
        tr("Run now, cancel and delete apply to every job matching the filter "
           "instead of the selection"));
    connect(m_actOnFilterAction, &QAction::toggled, this, &MainWindow::updateActions);
    m_refreshAction
        = jobs->addAction(tr("Re&fresh"), QKeySequence::Refresh, this, &MainWindow::refreshNow);

    QMenu *worker = menuBar()->addMenu(tr("&Worker"));
    m_startWorkerAction = worker->addAction(tr("&Start Worker"), this, &MainWindow::startWorker);
    m_stopWorkerAction = worker->addAction(tr("S&top Worker"), this, &MainWindow::stopWorker);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget *dock : findChildren<QDockWidget *>())
        view->addAction(dock->toggleViewAction());
    auto *find = new QAction(tr("Find"), this);
    find->setShortcut(QKeySequence::Find);
    connect(find, &QAction::triggered, m_search, [this] {
        m_search->setFocus();
        m_search->selectAll();
    });
    addAction(find);

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About OddJobs"), this, [this] {
        QMessageBox::about(
            this, tr("About OddJobs"),
            tr("<h3>OddJobs %1</h3><p>A background-job queue in PostgreSQL or SQLite, "
               "with a worker and this dashboard.</p><p>BSD-3-Clause license.</p>")
                .arg(QCoreApplication::applicationVersion()));
    });

    QToolBar *tools = addToolBar(tr("Main"));
    tools->setObjectName(u"MainToolBar"_s);
    tools->setToolButtonStyle(Qt::ToolButtonTextOnly);
    tools->addAction(m_startWorkerAction);
    tools->addAction(m_stopWorkerAction);
    m_concurrency = new QSpinBox(tools);
    m_concurrency->setRange(1, 1024);
    m_concurrency->setValue(m_workerTemplate.concurrency.kind() == ConcurrencyControl::Kind::Max
                                ? m_workerTemplate.concurrency.max()
                                : 10);
    m_concurrency->setPrefix(tr("Concurrency: "));
    m_concurrency->setToolTip(tr("Jobs the embedded worker runs at once (applies when it starts)"));
    m_concurrency->setAccessibleName(tr("Concurrency"));
    tools->addWidget(m_concurrency);
    tools->addSeparator();
    for (QAction *a : { m_enqueueAction, m_editAction, m_duplicateAction, m_runNowAction,
                        m_cancelAction, m_deleteAction })
        tools->addAction(a);
    tools->addSeparator();
    tools->addAction(m_actOnFilterAction);

    m_writeActions = { m_enqueueAction, m_editAction,   m_duplicateAction,  m_runNowAction,
                       m_cancelAction,  m_deleteAction, m_actOnFilterAction };
    for (QAction *a :
         { m_editAction, m_duplicateAction, m_runNowAction, m_cancelAction, m_deleteAction })
        m_view->addAction(a);
}

bool MainWindow::openDatabase(const QString &url, const QString &table, bool monitorOnly,
                              QString *error)
{
    auto settings = ConnectionSettings::resolve(url);
    if (!settings) {
        if (error)
            *error = settings.error().message;
        return false;
    }
    auto name = TableName::parse(table.isEmpty() ? u"jobs"_s : table);
    if (!name) {
        if (error)
            *error = name.error().message;
        return false;
    }
    stopWorker();
    if (m_runner) {
        m_runner->waitForStopped(m_workerTemplate.shutdownTimeoutMs + 5000);
        delete m_runner;
    }
    m_model->setClient(nullptr);
    m_stats->setClient(nullptr);
    delete m_statsClient;
    m_statsClient = nullptr;
    delete m_client;
    StoreOptions options;
    options.table = *name;
    options.readOnly = monitorOnly;
    m_client = new StoreClient(*settings, options, this);
    // Statistics scan the whole table; on a connection and thread of their own they never
    // hold up the jobs table's pages and filters.
    m_statsClient = new StoreClient(*settings, options, this);
    m_monitorOnly = monitorOnly;
    m_url = urlWithoutPassword(*settings);
    m_table = name->toString();
    m_dbLabel->setText(tr("Opening %1…").arg(settings->displayString()));
    connect(m_client, &StoreClient::opened, this,
            [this, client = m_client](bool ok, const QString &message) {
                if (client != m_client)
                    return;
                if (!ok) {
                    m_dbLabel->setText(tr("Not connected"));
                    Q_EMIT databaseOpened(false, message);
                    return;
                }
                const QString shown = m_client->settings().displayString();
                m_dbLabel->setText(
                    m_monitorOnly
                        ? tr("%1 · table %2 · monitor only (read-only)").arg(shown, m_table)
                        : tr("%1 · table %2").arg(shown, m_table));
                setWindowTitle(tr("OddJobs — %1").arg(shown));
                rememberRecent(m_url);
                m_model->setClient(m_client);
                m_statsClient->open(false);
                m_stats->setClient(m_statsClient);
                loadChoices();
                if (m_autoStartWorker && !m_monitorOnly)
                    startWorker();
                updateActions();
                Q_EMIT databaseOpened(true, {});
            });
    m_client->open(!monitorOnly);
    updateActions();
    return true;
}

void MainWindow::loadChoices()
{
    if (!m_client)
        return;
    struct Choices
    {
        QStringList types;
        QStringList queues;
    };
    m_client->call<Choices>(
        [](JobStore &store) -> Result<Choices> {
            auto types = store.jobTypes();
            if (!types)
                return types.error();
            auto queues = store.queues();
            if (!queues)
                return queues.error();
            return Choices { *types, *queues };
        },
        this,
        [this](const Result<Choices> &choices) {
            if (!choices)
                return;
            m_knownTypes = choices->types;
            for (const QString &type : m_handlers.types()) {
                if (!m_knownTypes.contains(type))
                    m_knownTypes << type;
            }
            m_knownTypes.sort();
            m_knownQueues = choices->queues;
            if (!m_knownQueues.contains(u"default"_s))
                m_knownQueues.prepend(u"default"_s);
            for (auto [combo, items] : { std::pair { m_typeFilter, m_knownTypes },
                                         std::pair { m_queueFilter, m_knownQueues } }) {
                const QSignalBlocker block(combo);
                const QString current = combo->currentText();
                combo->clear();
                combo->addItems(items);
                combo->setCurrentText(current);
            }
        });
}

void MainWindow::applyFilter()
{
    JobFilter filter;
    QStringList statusNames;
    for (QAction *a : std::as_const(m_statusActions)) {
        if (a->isChecked()) {
            filter.statuses << JobStatus(a->data().toInt());
            statusNames << a->text();
        }
    }
    m_statusButton->setText(statusNames.isEmpty()
                                ? tr("Status: all")
                                : tr("Status: %1").arg(statusNames.join(u", "_s)));
    if (!m_typeFilter->currentText().trimmed().isEmpty())
        filter.types << m_typeFilter->currentText().trimmed();
    if (!m_queueFilter->currentText().trimmed().isEmpty())
        filter.queues << m_queueFilter->currentText().trimmed();
    if (!m_workerFilter->text().trimmed().isEmpty())
        filter.workers << m_workerFilter->text().trimmed();
    filter.search = m_search->text().trimmed();
    const int seconds = m_timeFilter->currentData().toInt();
    if (seconds > 0) {
        filter.timeField = TimeField::CreatedAt;
        filter.from = QDateTime::currentDateTimeUtc().addSecs(-seconds);
    }
    m_model->setFilter(filter);
    updateActions();
}

QList<qint64> MainWindow::selectedIds() const
{
    QList<qint64> ids;
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        ids << index.data(JobTableModel::JobIdRole).toLongLong();
    return ids;
}

void MainWindow::updateActions()
{
    const bool connected = m_client != nullptr;
    const bool writable = connected && !m_monitorOnly;
    const bool onFilter = m_actOnFilterAction->isChecked();
    const QList<qint64> ids = selectedIds();
    for (QAction *a : std::as_const(m_writeActions))
        a->setVisible(!m_monitorOnly);
    m_enqueueAction->setEnabled(writable);
    m_actOnFilterAction->setEnabled(writable);
    const bool target = onFilter || !ids.isEmpty();
    m_runNowAction->setEnabled(writable && target);
    m_cancelAction->setEnabled(writable && target);
    m_deleteAction->setEnabled(writable && target);
    m_duplicateAction->setEnabled(writable && !ids.isEmpty());
    bool editable = false;
    if (ids.size() == 1) {
        const Job *job = m_model->jobAt(m_model->rowOfId(ids.first()));
        editable = job && job->status != JobStatus::Locked;
    }
    m_editAction->setEnabled(writable && editable);
    const bool running = m_runner && m_runner->state() != Runner::State::Stopped;
    m_startWorkerAction->setVisible(!m_monitorOnly);
    m_stopWorkerAction->setVisible(!m_monitorOnly);
    m_concurrency->setVisible(!m_monitorOnly);
    m_startWorkerAction->setEnabled(writable && !running);
    m_stopWorkerAction->setEnabled(running);
    m_runNowAction->setText(onFilter ? tr("&Run All Matching Now") : tr("&Run Now / Retry"));
    m_cancelAction->setText(onFilter ? tr("&Cancel All Matching") : tr("&Cancel"));
    m_deleteAction->setText(onFilter ? tr("&Delete All Matching") : tr("&Delete"));
}

void MainWindow::updateDetail()
{
    const QModelIndex current = m_view->selectionModel()->currentIndex();
    const QList<qint64> ids = selectedIds();
    if (ids.size() == 1) {
        if (const Job *job = m_model->jobAt(m_model->rowOfId(ids.first()))) {
            m_detail->setJob(*job);
            return;
        }
    }
    if (current.isValid() && ids.isEmpty()) {
        m_detail->setJob(std::nullopt);
        return;
    }
    if (ids.isEmpty())
        m_detail->setJob(std::nullopt);
}

void MainWindow::updateStatus()
{
    if (!m_runner) {
        m_workerLabel->setText(m_monitorOnly ? tr("No worker (monitor only)")
                                             : tr("Worker stopped"));
        m_runningLabel->clear();
        m_rateLabel->clear();
    } else {
        QString state;
        switch (m_runner->state()) {
        case Runner::State::Stopped:
            state = tr("Worker stopped");
            break;
        case Runner::State::Starting:
            state = tr("Worker starting");
            break;
        case Runner::State::Running:
            state = tr("Worker running");
            break;
        case Runner::State::Draining:
            state = tr("Worker draining");
            break;
        case Runner::State::Stopping:
            state = tr("Worker stopping");
            break;
        }
        m_workerLabel->setText(state);
        m_runningLabel->setText(tr("%n running", nullptr, m_runner->runningCount()));
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        while (!m_finishTimes.empty() && m_finishTimes.front() < now - 5000)
            m_finishTimes.pop_front();
        m_rateLabel->setText(
            tr("%1 jobs/s").arg(QLocale().toString(m_finishTimes.size() / 5.0, 'f', 1)));
    }
    const qint64 total = m_model->totalEstimate();
    m_totalLabel->setText(total >= 0 ? tr("Matching: %L1").arg(total) : QString());
}

void MainWindow::startWorker()
{
    if (!m_client || m_monitorOnly)
        return;
    if (m_runner && m_runner->state() != Runner::State::Stopped)
        return;
    if (m_runner) {
        m_runner->waitForStopped(1000);
        delete m_runner;
    }
    RunnerConfig config = m_workerTemplate;
    config.connection = m_client->settings();
    config.store = m_client->options();
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(m_concurrency->value());
    m_runner = new Runner(config, m_handlers, this);
    connect(m_runner, &Runner::logEvent, m_log, &LogPanel::addEvent);
    connect(m_runner, &Runner::jobStarted, this, &MainWindow::onRunnerJob);
    auto finished = [this] {
        m_finishTimes.push_back(QDateTime::currentMSecsSinceEpoch());
        onRunnerJob();
    };
    connect(m_runner, &Runner::jobSucceeded, this, finished);
    connect(m_runner, &Runner::jobFailed, this, finished);
    connect(m_runner, &Runner::jobPermanentlyFailed, this, finished);
    connect(m_runner, &Runner::stateChanged, this, [this] {
        updateActions();
        updateStatus();
    });
    connect(m_runner, &Runner::databaseError, this, [this](const QString &message) {
        statusBar()->showMessage(tr("Worker: %1").arg(message), 8000);
    });
    m_runner->start();
    updateActions();
}

void MainWindow::stopWorker()
{
    if (m_runner)
        m_runner->stop();
}

// The local worker changed a job: refresh soon rather than at the next tick. A burst of
// runner events (hundreds a second) makes one refresh, not one each.
void MainWindow::onRunnerJob()
{
    if (!m_runnerRefresh->isActive())
        m_runnerRefresh->start();
}

void MainWindow::refreshNow()
{
    m_model->refresh();
    loadChoices();
}

void MainWindow::setActOnFilter(bool on)
{
    m_actOnFilterAction->setChecked(on);
}

void MainWindow::showEnqueueDialog()
{
    if (!m_client || m_monitorOnly)
        return;
    JobDialog *dialog = JobDialog::forEnqueue(m_knownTypes, m_knownQueues, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    // The dialog stays open until the store has the job, so a refusal keeps the input.
    dialog->setDeferredAccept(true);
    connect(dialog, &JobDialog::submitRequested, this, [this, dialog] {
        const NewJob job = dialog->newJob();
        m_client->call<Job>([job](JobStore &store) { return store.enqueue(job); }, dialog,
                            [this, dialog](const Result<Job> &created) {
                                if (!created) {
                                    dialog->showError(created.error().message);
                                    Q_EMIT actionFinished(u"enqueue"_s, 0, created.error().message);
                                    return;
                                }
                                dialog->accept();
                                statusBar()->showMessage(tr("Enqueued job %1").arg(created->id),
                                                         4000);
                                m_model->refresh();
                                if (m_runner)
                                    m_runner->wake();
                                loadChoices();
                                Q_EMIT actionFinished(u"enqueue"_s, 1, {});
                            });
    });
    dialog->open();
}

void MainWindow::showEditDialog()
{
    const QList<qint64> ids = selectedIds();
    if (!m_client || m_monitorOnly || ids.size() != 1)
        return;
    const Job *job = m_model->jobAt(m_model->rowOfId(ids.first()));
    if (!job)
        return;
    if (job->status == JobStatus::Locked) {
        QMessageBox::information(
            this, tr("Edit Job"),
            tr("Job %1 is running. Cancel it or wait until it finishes to edit it.").arg(job->id));
        return;
    }
    JobDialog *dialog = JobDialog::forEdit(*job, m_knownTypes, m_knownQueues, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setDeferredAccept(true);
    connect(dialog, &JobDialog::submitRequested, this, [this, dialog] {
        const NewJob fields = dialog->newJob();
        const qint64 id = dialog->jobId();
        const qint64 revision = dialog->revision();
        m_client->call<Job>(
            [id, fields, revision](JobStore &store) { return store.edit(id, fields, revision); },
            dialog,
            [this, dialog](const Result<Job> &edited) {
                if (!edited) {
                    // A conflict or a refusal keeps the dialog and the user's input.
                    dialog->showError(edited.error().message);
                    Q_EMIT actionFinished(u"edit"_s, 0, edited.error().message);
                    return;
                }
                dialog->accept();
                m_model->applyJobs({ *edited });
                updateDetail();
                Q_EMIT actionFinished(u"edit"_s, 1, {});
            });
    });
    dialog->open();
}

void MainWindow::runNowSelected()
{
    act(Act::RunNow);
}

void MainWindow::cancelSelected()
{
    act(Act::Cancel);
}

void MainWindow::deleteSelected()
{
    act(Act::Delete);
}

void MainWindow::act(Act what)
{
    if (!m_client || m_monitorOnly)
        return;
    const QString name = what == Act::RunNow ? tr("Run now")
        : what == Act::Cancel                ? tr("Cancel jobs")
                                             : tr("Delete jobs");
    if (m_actOnFilterAction->isChecked()) {
        const JobFilter filter = m_model->filter();
        // Say how many before touching everything that matches.
        m_client->call<qint64>(
            [filter](JobStore &store) { return store.count(filter); }, this,
            [this, what, name, filter](const Result<qint64> &count) {
                if (!count) {
                    QMessageBox::warning(this, name, count.error().message);
                    return;
                }
                const QString question = what == Act::RunNow
                    ? tr("Run every job matching the filter now? (%L1 in all)").arg(*count)
                    : what == Act::Cancel
                    ? tr("Cancel every job matching the filter, running ones too? (%L1 in all)")
                          .arg(*count)
                    : tr("Delete every job matching the filter? (%L1 in all) This cannot be "
                         "undone.")
                          .arg(*count);
                if (QMessageBox::question(this, name, question) == QMessageBox::Yes)
                    runAction(what, filter);
            });
        return;
    }
    const QList<qint64> ids = selectedIds();
    if (ids.isEmpty())
        return;
    if (what == Act::Delete
        && QMessageBox::question(
               this, name,
               tr("Delete %n selected job(s)? This cannot be undone.", nullptr, int(ids.size())))
            != QMessageBox::Yes)
        return;
    runAction(what, JobFilter::byIds(ids));
}

void MainWindow::runAction(Act what, const JobFilter &filter)
{
    const QString key = what == Act::RunNow ? u"run-now"_s
        : what == Act::Cancel               ? u"cancel"_s
                                            : u"delete"_s;
    m_client->call<int>(
        [what, filter](JobStore &store) {
            return what == Act::RunNow ? store.runNow(filter)
                : what == Act::Cancel  ? store.cancel(filter)
                                       : store.remove(filter);
        },
        this,
        [this, what, key, filter](const Result<int> &changed) {
            if (!changed) {
                QMessageBox::warning(this, tr("OddJobs"), changed.error().message);
                Q_EMIT actionFinished(key, 0, changed.error().message);
                return;
            }
            const QString done = what == Act::RunNow
                ? tr("%n job(s) queued to run now", nullptr, *changed)
                : what == Act::Cancel ? tr("%n job(s) cancelled", nullptr, *changed)
                                      : tr("%n job(s) deleted", nullptr, *changed);
            statusBar()->showMessage(done, 5000);
            if (what == Act::Delete && filter.ids)
                m_model->removeJobs(*filter.ids);
            m_model->refresh();
            if (what == Act::RunNow && m_runner)
                m_runner->wake();
            Q_EMIT actionFinished(key, *changed, {});
        });
}

void MainWindow::duplicateSelected()
{
    if (!m_client || m_monitorOnly)
        return;
    QList<NewJob> copies;
    for (qint64 id : selectedIds()) {
        if (const Job *job = m_model->jobAt(m_model->rowOfId(id))) {
            NewJob copy;
            copy.payload = job->payload;
            copy.queue = job->queue;
            copy.priority = job->priority;
            copy.maxAttempts = job->maxAttempts;
            copy.timeoutSeconds = job->timeoutSeconds;
            copies << copy;
        }
    }
    if (copies.isEmpty())
        return;
    m_client->call<QList<qint64>>(
        [copies](JobStore &store) { return store.enqueueMany(copies); }, this,
        [this](const Result<QList<qint64>> &ids) {
            if (!ids) {
                QMessageBox::warning(this, tr("Duplicate"), ids.error().message);
                Q_EMIT actionFinished(u"duplicate"_s, 0, ids.error().message);
                return;
            }
            statusBar()->showMessage(tr("%n job(s) duplicated", nullptr, int(ids->size())), 4000);
            m_model->refresh();
            if (m_runner)
                m_runner->wake();
            Q_EMIT actionFinished(u"duplicate"_s, int(ids->size()), {});
        });
}

void MainWindow::showOpenDialog()
{
    auto *dialog = new ConnectionDialog(recentUrls(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose, false);
    dialog->setUrl(m_url);
    dialog->setTable(m_table.isEmpty() ? u"jobs"_s : m_table);
    dialog->setMonitorOnly(m_monitorOnly);
    connect(dialog, &QDialog::finished, this, [this, dialog](int result) {
        if (result != QDialog::Accepted) {
            dialog->deleteLater();
            return;
        }
        QString error;
        if (!openDatabase(dialog->url(), dialog->table(), dialog->monitorOnly(), &error)) {
            dialog->showError(error);
            dialog->open();
            return;
        }
        // Failures to connect come back asynchronously: show them in the dialog again.
        auto *once = new QObject(dialog);
        connect(this, &MainWindow::databaseOpened, once,
                [dialog, once](bool ok, const QString &message) {
                    delete once;
                    if (ok) {
                        dialog->deleteLater();
                        return;
                    }
                    dialog->showError(message);
                    dialog->open();
                });
    });
    dialog->open();
}

void MainWindow::rememberRecent(const QString &url)
{
    QSettings settings;
    QStringList recent = settings.value(u"recentDatabases"_s).toStringList();
    recent.removeAll(url);
    recent.prepend(url);
    while (recent.size() > 10)
        recent.removeLast();
    settings.setValue(u"recentDatabases"_s, recent);
    settings.setValue(u"lastDatabase"_s, url);
    settings.setValue(u"lastTable"_s, m_table);
}

QStringList MainWindow::recentUrls() const
{
    return QSettings().value(u"recentDatabases"_s).toStringList();
}

void MainWindow::restoreLayout()
{
    QSettings settings;
    if (!restoreGeometry(settings.value(u"window/geometry"_s).toByteArray()))
        resize(1280, 800);
    restoreState(settings.value(u"window/state"_s).toByteArray());
    m_view->horizontalHeader()->restoreState(settings.value(u"window/jobsHeader"_s).toByteArray());
    if (settings.value(u"window/jobsHeader"_s).isNull()) {
        const QList<QPair<int, int>> widths {
            { JobTableModel::IdColumn, 70 },       { JobTableModel::TypeColumn, 150 },
            { JobTableModel::StatusColumn, 90 },   { JobTableModel::QueueColumn, 80 },
            { JobTableModel::PriorityColumn, 60 }, { JobTableModel::AttemptsColumn, 70 },
            { JobTableModel::RunAtColumn, 140 },   { JobTableModel::CreatedColumn, 140 },
            { JobTableModel::UpdatedColumn, 140 }, { JobTableModel::WorkerColumn, 140 },
            { JobTableModel::DurationColumn, 80 }
        };
        for (const auto &[column, width] : widths)
            m_view->setColumnWidth(
                column,
                std::max(width,
                         m_view->horizontalHeader()->fontMetrics().horizontalAdvance(
                             m_model->headerData(column, Qt::Horizontal).toString())
                             + 28));
    }
}

void MainWindow::saveLayout()
{
    QSettings settings;
    settings.setValue(u"window/geometry"_s, saveGeometry());
    settings.setValue(u"window/state"_s, saveState());
    settings.setValue(u"window/jobsHeader"_s, m_view->horizontalHeader()->saveState());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveLayout();
    if (m_runner && m_runner->state() != Runner::State::Stopped) {
        // Hand running jobs back rather than keep the user waiting for them.
        m_runner->stopNow();
        m_runner->waitForStopped(5000);
    }
    event->accept();
}

} // namespace OddJobs::Ui
