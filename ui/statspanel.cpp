#include "statspanel.h"

#include "statsmodel.h"
#include "storeclient.h"
#include "throughputchart.h"
#include "uiformat.h"

#include <QAction>
#include <QComboBox>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QShowEvent>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

struct StatsPanel::Snapshot
{
    QList<TypeStatistics> statistics;
    QList<ThroughputBucket> buckets;
    int bucketSeconds = 60;
};

namespace {

constexpr int DefaultRefreshMs = 5000;

QPalette dimmed(QPalette palette)
{
    palette.setColor(QPalette::WindowText, palette.color(QPalette::PlaceholderText));
    return palette;
}

} // namespace

StatsPanel::StatsPanel(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(u"StatsPanel"_s);
    m_timer.setSingleShot(true);
    m_timer.setInterval(DefaultRefreshMs);
    connect(&m_timer, &QTimer::timeout, this, &StatsPanel::refresh);

    m_model = new StatsModel(this);
    m_sorted = new QSortFilterProxyModel(this);
    m_sorted->setSourceModel(m_model);
    m_sorted->setSortRole(StatsModel::SortRole);

    // --- top bar ---
    m_periodCombo = new QComboBox(this);
    m_periodCombo->setObjectName(u"periodCombo"_s);
    m_periodCombo->addItem(tr("Last 5 minutes"), int(Period::LastFiveMinutes));
    m_periodCombo->addItem(tr("Last hour"), int(Period::LastHour));
    m_periodCombo->addItem(tr("Last 24 hours"), int(Period::LastDay));
    m_periodCombo->setCurrentIndex(int(m_period));
    m_periodCombo->setToolTip(tr("The period the rates, durations and the chart cover"));
    m_periodCombo->setAccessibleName(tr("Statistics period"));
    m_periodCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);

    auto *allTypes = new QToolButton(this);
    allTypes->setObjectName(u"allTypesButton"_s);
    allTypes->setText(tr("Show All Types"));
    allTypes->setToolTip(tr("Chart every job type again (Esc)"));
    allTypes->setVisible(false);

    m_status = new QLabel(this);
    m_status->setObjectName(u"statusLabel"_s);

    auto *refreshAction = new QAction(tr("&Refresh"), this);
    refreshAction->setShortcut(QKeySequence::Refresh);
    refreshAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    refreshAction->setToolTip(tr("Load the statistics now"));
    connect(refreshAction, &QAction::triggered, this, &StatsPanel::refresh);
    addAction(refreshAction);
    m_refreshButton = new QToolButton(this);
    m_refreshButton->setObjectName(u"refreshButton"_s);
    m_refreshButton->setDefaultAction(refreshAction);
    m_refreshButton->setToolButtonStyle(Qt::ToolButtonTextOnly);

    auto *bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->setSpacing(6);
    bar->addWidget(m_periodCombo);
    bar->addWidget(allTypes);
    bar->addStretch(1);
    bar->addWidget(m_status);
    bar->addSpacing(6);
    bar->addWidget(m_refreshButton);

    // --- table and chart ---
    m_view = new QTableView(this);
    m_view->setObjectName(u"statsView"_s);
    m_view->setModel(m_sorted);
    m_view->setAccessibleName(tr("Statistics per job type"));
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setAlternatingRowColors(true);
    m_view->setShowGrid(false);
    m_view->setWordWrap(false);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(StatsModel::TypeColumn, Qt::AscendingOrder);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 8);
    QHeaderView *header = m_view->horizontalHeader();
    header->setHighlightSections(false);
    header->setStretchLastSection(false);
    header->setSectionResizeMode(QHeaderView::ResizeToContents);
    header->setSectionResizeMode(StatsModel::TypeColumn, QHeaderView::Stretch);
    header->setMinimumSectionSize(m_view->fontMetrics().horizontalAdvance(u"00000"_s) + 16);
    auto *clearSelection = new QAction(this);
    clearSelection->setShortcut(Qt::Key_Escape);
    clearSelection->setShortcutContext(Qt::WidgetShortcut);
    connect(clearSelection, &QAction::triggered, m_view, &QTableView::clearSelection);
    m_view->addAction(clearSelection);

    m_chart = new ThroughputChart(this);
    m_chart->setObjectName(u"throughputChart"_s);

    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->setChildrenCollapsible(false);
    splitter->addWidget(m_view);
    splitter->addWidget(m_chart);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 1);

    m_content = new QWidget(this);
    auto *contentLayout = new QVBoxLayout(m_content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->setSpacing(6);
    contentLayout->addLayout(bar);
    contentLayout->addWidget(splitter, 1);

    // --- "No database" ---
    m_placeholder = new QWidget(this);
    m_placeholder->setObjectName(u"noDatabase"_s);
    auto *placeholderTitle = new QLabel(tr("No database"), m_placeholder);
    placeholderTitle->setObjectName(u"noDatabaseLabel"_s);
    QFont big = placeholderTitle->font();
    big.setPointSizeF(big.pointSizeF() * 1.3);
    big.setBold(true);
    placeholderTitle->setFont(big);
    placeholderTitle->setAlignment(Qt::AlignCenter);
    placeholderTitle->setPalette(dimmed(placeholderTitle->palette()));
    auto *placeholderText = new QLabel(
        tr("Open a SQLite file or a PostgreSQL database to see statistics."), m_placeholder);
    placeholderText->setAlignment(Qt::AlignCenter);
    placeholderText->setWordWrap(true);
    placeholderText->setPalette(dimmed(placeholderText->palette()));
    auto *placeholderLayout = new QVBoxLayout(m_placeholder);
    placeholderLayout->addStretch(1);
    placeholderLayout->addWidget(placeholderTitle);
    placeholderLayout->addWidget(placeholderText);
    placeholderLayout->addStretch(1);

    m_stack = new QStackedWidget(this);
    m_stack->addWidget(m_placeholder);
    m_stack->addWidget(m_content);
    m_stack->setCurrentWidget(m_placeholder);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(m_stack);

    // --- behaviour ---
    connect(m_periodCombo, &QComboBox::currentIndexChanged, this,
            [this](int index) { setPeriod(Period(m_periodCombo->itemData(index).toInt())); });
    connect(allTypes, &QToolButton::clicked, m_view, &QTableView::clearSelection);
    connect(
        m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this, allTypes] {
            allTypes->setVisible(!selectedType().isEmpty());
            updateChartTitle();
            m_chart->setBuckets({}, bucketSeconds(m_period)); // the old type's bars would mislead
            refresh();
        });

    updateChartTitle();
    m_chart->setBuckets({}, bucketSeconds(m_period));
}

StatsPanel::~StatsPanel() = default;

int StatsPanel::periodSeconds(Period period)
{
    return bucketSeconds(period) * bucketCount(period);
}

int StatsPanel::bucketSeconds(Period period)
{
    switch (period) {
    case Period::LastFiveMinutes:
        return 10;
    case Period::LastHour:
        return 120;
    case Period::LastDay:
        return 3600;
    }
    return 120;
}

int StatsPanel::bucketCount(Period period)
{
    switch (period) {
    case Period::LastFiveMinutes:
    case Period::LastHour:
        return 30;
    case Period::LastDay:
        return 24;
    }
    return 30;
}

void StatsPanel::setClient(StoreClient *client)
{
    if (client == m_client && (client || m_stack->currentWidget() == m_placeholder))
        return;
    if (m_client)
        disconnect(m_client, nullptr, this, nullptr);
    m_client = client;
    forgetResults();
    if (!m_client)
        return;
    // A client handed over before its connection opened: load once it is ready.
    connect(m_client, &StoreClient::opened, this, [this](bool ok) {
        if (ok)
            refresh();
    });
    if (m_shown)
        refresh();
}

void StatsPanel::setPeriod(Period period)
{
    const int index = m_periodCombo->findData(int(period));
    if (index >= 0 && index != m_periodCombo->currentIndex())
        m_periodCombo->setCurrentIndex(index); // comes back here through the signal
    if (period == m_period)
        return;
    m_period = period;
    updateChartTitle();
    m_chart->setBuckets({}, bucketSeconds(m_period));
    refresh();
}

void StatsPanel::setRefreshInterval(int ms)
{
    m_timer.setInterval(qMax(100, ms));
}

bool StatsPanel::isAutoRefreshActive() const
{
    return m_shown && m_client;
}

QString StatsPanel::selectedType() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(StatsModel::TypeRole).toString();
}

void StatsPanel::selectType(const QString &type)
{
    const int row = type.isEmpty() ? -1 : m_model->rowOfType(type);
    if (row < 0) {
        m_view->clearSelection();
        return;
    }
    const QModelIndex index = m_sorted->mapFromSource(m_model->index(row, 0));
    m_view->selectionModel()->select(
        index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_view->scrollTo(index);
}

void StatsPanel::refresh()
{
    m_timer.stop();
    if (!m_client) {
        if (m_stack->currentWidget() != m_placeholder)
            forgetResults(); // the client was deleted under us
        return;
    }
    const quint64 serial = ++m_serial;
    m_inFlight = true;
    const int window = periodSeconds(m_period);
    const int bucket = bucketSeconds(m_period);
    const int buckets = bucketCount(m_period);
    const QString type = selectedType();
    m_client->call<Snapshot>(
        [window, bucket, buckets, type](JobStore &store) -> Result<Snapshot> {
            Snapshot snapshot;
            snapshot.bucketSeconds = bucket;
            auto statistics = store.statistics(window);
            if (!statistics)
                return statistics.error();
            snapshot.statistics = std::move(statistics).value();
            auto throughput = store.throughput(bucket, buckets, type);
            if (!throughput)
                return throughput.error();
            snapshot.buckets = std::move(throughput).value();
            return snapshot;
        },
        this,
        [this, serial](const Result<Snapshot> &result) {
            if (result)
                apply(serial, *result);
            else
                fail(serial, result.error().message);
        });
}

void StatsPanel::apply(quint64 serial, const Snapshot &snapshot)
{
    if (serial != m_serial)
        return; // a newer request is on its way; its result wins
    m_inFlight = false;
    m_model->setStatistics(snapshot.statistics);
    if (serial != m_serial)
        return; // the update removed the selected type, and the new selection asked again
    m_chart->setBuckets(snapshot.buckets, snapshot.bucketSeconds);
    setStatus(tr("Updated %1").arg(QLocale().toString(QTime::currentTime(), QLocale::ShortFormat)),
              false);
    rearm();
    Q_EMIT refreshed(true);
}

void StatsPanel::fail(quint64 serial, const QString &message)
{
    if (serial != m_serial)
        return;
    m_inFlight = false;
    setStatus(tr("Cannot load statistics: %1").arg(message), true);
    rearm();
    Q_EMIT refreshed(false);
}

void StatsPanel::forgetResults()
{
    ++m_serial; // whatever an old client still delivers is stale
    m_inFlight = false;
    m_timer.stop();
    if (m_model->rowCount() > 0)
        m_model->clear();
    m_chart->setBuckets({}, bucketSeconds(m_period));
    setStatus(QString(), false);
    m_stack->setCurrentWidget(m_client ? m_content : m_placeholder);
}

void StatsPanel::rearm()
{
    if (m_shown && m_client)
        m_timer.start();
}

void StatsPanel::updateChartTitle()
{
    const QString type = selectedType();
    QString period;
    switch (m_period) {
    case Period::LastFiveMinutes:
        period = tr("last 5 minutes");
        break;
    case Period::LastHour:
        period = tr("last hour");
        break;
    case Period::LastDay:
        period = tr("last 24 hours");
        break;
    }
    m_chart->setTitle(
        type.isEmpty()
            ? tr("Finished jobs, all types · %1", "chart title").arg(period)
            : tr("Finished jobs, %1 · %2", "chart title: type, period").arg(type, period));
}

void StatsPanel::setStatus(const QString &text, bool error)
{
    QPalette palette = this->palette();
    if (error) {
        const bool dark = palette.color(QPalette::Base).lightness() < 128;
        palette.setColor(QPalette::WindowText,
                         dark ? QColor(0xef, 0x6c, 0x6c) : QColor(0xc6, 0x28, 0x28));
    } else {
        palette.setColor(QPalette::WindowText, palette.color(QPalette::PlaceholderText));
    }
    m_status->setPalette(palette);
    const QFontMetrics fm = m_status->fontMetrics();
    m_status->setText(fm.elidedText(text, Qt::ElideRight, fm.averageCharWidth() * 60));
    m_status->setToolTip(text);
}

void StatsPanel::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    m_shown = true;
    if (m_client)
        refresh();
}

void StatsPanel::hideEvent(QHideEvent *event)
{
    QWidget::hideEvent(event);
    m_shown = false;
    m_timer.stop();
}

} // namespace OddJobs::Ui
