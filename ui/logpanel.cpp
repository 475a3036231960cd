#include "logpanel.h"

#include "logfilterproxy.h"
#include "logmodel.h"
#include "uiformat.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QMouseEvent>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollBar>
#include <QStandardPaths>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {

// Keeps a menu of checkable items open while the user toggles several of them.
class StayOpenMenuFilter : public QObject
{
public:
    using QObject::QObject;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::MouseButtonRelease) {
            auto *menu = qobject_cast<QMenu *>(watched);
            auto *mouse = static_cast<QMouseEvent *>(event);
            QAction *action = menu ? menu->actionAt(mouse->position().toPoint()) : nullptr;
            if (action && action->isCheckable() && action->isEnabled()) {
                action->trigger();
                return true;
            }
        }
        return QObject::eventFilter(watched, event);
    }
};

// The level combo's entries: the minimum level each one shows.
struct LevelChoice
{
    LogLevel minimum;
    struct
    {
        const char *source;
        const char *comment;
    } text;
};

const LevelChoice LevelChoices[] = {
    { LogLevel::Debug,
      QT_TRANSLATE_NOOP3("OddJobs::Ui::LogPanel", "All levels", "log level filter") },
    { LogLevel::Info,
      QT_TRANSLATE_NOOP3("OddJobs::Ui::LogPanel", "Info and above", "log level filter") },
    { LogLevel::Warning,
      QT_TRANSLATE_NOOP3("OddJobs::Ui::LogPanel", "Warnings and errors", "log level filter") },
    { LogLevel::Error,
      QT_TRANSLATE_NOOP3("OddJobs::Ui::LogPanel", "Errors only", "log level filter") },
};

bool wantsJson(const QString &path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    return suffix == u"jsonl"_s || suffix == u"json"_s;
}

} // namespace

LogPanel::LogPanel(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(u"LogPanel"_s);
    m_model = new LogModel(this);
    m_proxy = new LogFilterProxy(this);
    m_proxy->setSourceModel(m_model);

    // --- filter bar ---
    m_levelCombo = new QComboBox(this);
    m_levelCombo->setObjectName(u"levelCombo"_s);
    for (const LevelChoice &choice : LevelChoices)
        m_levelCombo->addItem(tr(choice.text.source, choice.text.comment), int(choice.minimum));
    m_levelCombo->setToolTip(tr("Show events at or above this level"));
    m_levelCombo->setAccessibleName(tr("Minimum level"));
    m_levelCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);

    m_kindMenu = new QMenu(this);
    m_kindMenu->installEventFilter(new StayOpenMenuFilter(m_kindMenu));
    // A push button: it shows its menu arrow beside the text in every style.
    m_kindButton = new QPushButton(this);
    m_kindButton->setObjectName(u"kindButton"_s);
    m_kindButton->setMenu(m_kindMenu);
    m_kindButton->setToolTip(tr("Choose which kinds of events to show"));
    m_kindButton->setAccessibleName(tr("Event kinds"));
    buildKindMenu();

    m_search = new QLineEdit(this);
    m_search->setObjectName(u"searchEdit"_s);
    m_search->setPlaceholderText(tr("Search message, type or job id"));
    m_search->setClearButtonEnabled(true);
    m_search->setAccessibleName(tr("Search the log"));
    m_search->setMinimumWidth(m_search->fontMetrics().horizontalAdvance(m_search->placeholderText())
                              + 48);

    m_status = new QLabel(this);
    m_status->setObjectName(u"statusLabel"_s);
    m_status->setTextInteractionFlags(Qt::NoTextInteraction);
    QPalette statusPalette = m_status->palette();
    statusPalette.setColor(QPalette::WindowText, statusPalette.color(QPalette::PlaceholderText));
    m_status->setPalette(statusPalette);

    m_copyAction = new QAction(tr("&Copy"), this);
    m_copyAction->setShortcut(QKeySequence::Copy);
    m_copyAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_copyAction->setToolTip(tr("Copy the selected events as text"));
    m_exportAction = new QAction(tr("&Export…"), this);
    m_exportAction->setToolTip(tr("Save the shown events as text or JSON lines"));
    m_clearAction = new QAction(tr("C&lear", "empty the log pane"), this);
    m_clearAction->setToolTip(tr("Remove every event from the log pane"));
    connect(m_copyAction, &QAction::triggered, this, &LogPanel::copySelection);
    connect(m_exportAction, &QAction::triggered, this, &LogPanel::exportWithDialog);
    connect(m_clearAction, &QAction::triggered, this, &LogPanel::clear);

    auto toolButton = [this](QAction *action, const QString &name) {
        auto *button = new QToolButton(this);
        button->setObjectName(name);
        button->setDefaultAction(action);
        button->setToolButtonStyle(Qt::ToolButtonTextOnly);
        button->setAutoRaise(false);
        return button;
    };

    auto *bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->setSpacing(6);
    bar->addWidget(m_levelCombo);
    bar->addWidget(m_kindButton);
    bar->addWidget(m_search, 1);
    bar->addSpacing(6);
    bar->addWidget(m_status);
    bar->addSpacing(6);
    bar->addWidget(toolButton(m_copyAction, u"copyButton"_s));
    bar->addWidget(toolButton(m_exportAction, u"exportButton"_s));
    bar->addWidget(toolButton(m_clearAction, u"clearButton"_s));

    // --- the table ---
    m_view = new QTableView(this);
    m_view->setObjectName(u"logView"_s);
    m_view->setModel(m_proxy);
    m_view->setAccessibleName(tr("Log events"));
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setAlternatingRowColors(true);
    m_view->setShowGrid(false);
    m_view->setWordWrap(false);
    m_view->setTextElideMode(Qt::ElideRight);
    m_view->setSortingEnabled(false); // a log reads in time order
    m_view->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);
    m_view->setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
    m_view->setContextMenuPolicy(Qt::ActionsContextMenu);
    m_view->addAction(m_copyAction);
    auto *selectAll = new QAction(tr("Select &All"), m_view);
    selectAll->setShortcut(QKeySequence::SelectAll);
    selectAll->setShortcutContext(Qt::WidgetShortcut);
    connect(selectAll, &QAction::triggered, m_view, &QTableView::selectAll);
    m_view->addAction(selectAll);
    m_view->addAction(m_exportAction);

    QHeaderView *vertical = m_view->verticalHeader();
    vertical->hide();
    vertical->setSectionResizeMode(QHeaderView::Fixed);
    vertical->setDefaultSectionSize(m_view->fontMetrics().height() + 8);
    vertical->setMinimumSectionSize(m_view->fontMetrics().height() + 4);

    QHeaderView *header = m_view->horizontalHeader();
    header->setStretchLastSection(true);
    header->setHighlightSections(false);
    header->setSectionResizeMode(QHeaderView::Interactive);
    const QFontMetrics fm = m_view->fontMetrics();
    const int pad = 28; // icon-free cells: margins and a little air
    header->resizeSection(LogModel::TimeColumn, fm.horizontalAdvance(u"00:00:00.000"_s) + pad);
    int levelWidth = fm.horizontalAdvance(LogModel::levelLabel(LogLevel::Warning));
    for (LogLevel level : LogModel::allLevels())
        levelWidth = qMax(levelWidth, fm.horizontalAdvance(LogModel::levelLabel(level)));
    header->resizeSection(LogModel::LevelColumn, levelWidth + 16 + pad);
    int kindWidth = 0;
    for (LogEventKind kind : LogModel::allKinds())
        kindWidth = qMax(kindWidth, fm.horizontalAdvance(LogModel::kindLabel(kind)));
    header->resizeSection(LogModel::EventColumn, kindWidth + pad);
    header->resizeSection(LogModel::JobColumn, fm.horizontalAdvance(u"0000000"_s) + pad);
    header->resizeSection(LogModel::TypeColumn,
                          fm.horizontalAdvance(u"send-welcome-email"_s) + pad);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);
    layout->addLayout(bar);
    layout->addWidget(m_view, 1);

    // --- behaviour ---
    connect(m_levelCombo, &QComboBox::currentIndexChanged, this, &LogPanel::setLevelIndex);
    connect(m_search, &QLineEdit::textChanged, m_proxy, &LogFilterProxy::setSearchText);
    connect(m_proxy, &LogFilterProxy::filterChanged, this, [this] {
        updateKindButton();
        updateStatus();
    });

    // Follow new rows only while the user is at the bottom; once they scroll up to read,
    // the view stays where it is.
    QScrollBar *scroll = m_view->verticalScrollBar();
    connect(scroll, &QScrollBar::valueChanged, this,
            [this, scroll](int value) { m_followTail = value >= scroll->maximum(); });
    connect(scroll, &QScrollBar::rangeChanged, this, [this, scroll](int, int max) {
        if (m_followTail)
            scroll->setValue(max);
    });

    for (auto signal : { &QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved }) {
        connect(m_proxy, signal, this, [this] {
            updateStatus();
            updateActions();
        });
    }
    connect(m_proxy, &QAbstractItemModel::modelReset, this, [this] {
        updateStatus();
        updateActions();
    });
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &LogPanel::updateActions);

    m_levelCombo->setCurrentIndex(1); // Info and above: debug events (polls) are noise by default
    setLevelIndex(1);
    updateKindButton();
    updateStatus();
    updateActions();
}

LogPanel::~LogPanel() = default;

void LogPanel::buildKindMenu()
{
    QAction *all = m_kindMenu->addAction(tr("Show All Events"));
    connect(all, &QAction::triggered, this,
            [this] { m_proxy->setShownKinds(LogModel::allKinds()); });
    QAction *jobsOnly = m_kindMenu->addAction(tr("Show Job Events Only"));
    connect(jobsOnly, &QAction::triggered, this, [this] {
        QList<LogEventKind> kinds;
        for (LogEventKind kind : LogModel::allKinds()) {
            if (int(kind) <= int(LogEventKind::JobHandedBack))
                kinds << kind;
        }
        m_proxy->setShownKinds(kinds);
    });
    m_kindMenu->addSeparator();
    for (LogEventKind kind : LogModel::allKinds()) {
        QAction *action = m_kindMenu->addAction(LogModel::kindLabel(kind));
        action->setCheckable(true);
        action->setChecked(m_proxy->isKindShown(kind));
        action->setData(int(kind));
        connect(action, &QAction::toggled, this,
                [this, kind](bool on) { m_proxy->setKindShown(kind, on); });
        m_kindActions << action;
    }
}

void LogPanel::updateKindButton()
{
    const int shown = int(m_proxy->shownKinds().size());
    const int total = int(LogModel::allKinds().size());
    m_kindButton->setText(shown == total ? tr("All events")
                                         : tr("Events: %1 of %2").arg(shown).arg(total));
    for (QAction *action : std::as_const(m_kindActions)) {
        const QSignalBlocker blocker(action);
        action->setChecked(m_proxy->isKindShown(LogEventKind(action->data().toInt())));
    }
}

void LogPanel::updateStatus()
{
    const int total = m_model->rowCount();
    const int shown = m_proxy->rowCount();
    // Spelled out for one and many rather than "event(s)", which reads badly untranslated.
    const QString events = total == 1
        ? tr("1 event", "log pane status")
        : tr("%1 events", "log pane status").arg(Format::count(total));
    const QString text = shown == total
        ? events
        : tr("%1 of %2", "log pane status: shown of all events").arg(Format::count(shown), events);
    m_status->setText(text);
    if (m_model->discardedCount() > 0) {
        m_status->setToolTip(
            tr("%1 older events were discarded; the log pane keeps the newest %2.")
                .arg(Format::count(m_model->discardedCount()), Format::count(m_model->capacity())));
    } else {
        m_status->setToolTip(
            tr("The log pane keeps the newest %1 events.").arg(Format::count(m_model->capacity())));
    }
}

void LogPanel::updateActions()
{
    m_copyAction->setEnabled(m_view->selectionModel()->hasSelection());
    m_exportAction->setEnabled(m_proxy->rowCount() > 0);
    m_clearAction->setEnabled(m_model->rowCount() > 0 || m_model->pendingCount() > 0);
}

void LogPanel::setLevelIndex(int index)
{
    if (index < 0 || index >= m_levelCombo->count())
        return;
    m_proxy->setMinimumLevel(LogLevel(m_levelCombo->itemData(index).toInt()));
}

void LogPanel::addEvent(const LogEvent &event)
{
    m_model->append(event);
}

QString LogPanel::selectedText() const
{
    QModelIndexList rows = m_view->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(),
              [](const QModelIndex &a, const QModelIndex &b) { return a.row() < b.row(); });
    QStringList lines;
    lines.reserve(rows.size());
    for (const QModelIndex &index : std::as_const(rows))
        lines << m_model->event(m_proxy->mapToSource(index).row()).toText();
    return lines.join(u'\n');
}

void LogPanel::copySelection()
{
    const QString text = selectedText();
    if (!text.isEmpty())
        QApplication::clipboard()->setText(text);
}

bool LogPanel::exportTo(const QString &path, QString *error)
{
    m_model->flushPending();
    const bool json = wantsJson(path);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error)
            *error
                = tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString());
        return false;
    }
    const int rows = m_proxy->rowCount();
    for (int row = 0; row < rows; ++row) {
        const LogEvent &event = m_model->event(m_proxy->mapToSource(m_proxy->index(row, 0)).row());
        const QString line = (json ? event.toJsonLine() : event.toText()) + u'\n';
        file.write(line.toUtf8());
    }
    if (!file.commit()) {
        if (error)
            *error
                = tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString());
        return false;
    }
    return true;
}

void LogPanel::exportWithDialog()
{
    const QString textFilter = tr("Text files (*.log *.txt)");
    const QString jsonFilter = tr("JSON lines (*.jsonl *.json)");
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    const QString suggested = dir + u"/oddjobs-log-"_s
        + QDateTime::currentDateTime().toString(u"yyyyMMdd-HHmmss"_s) + u".log"_s;
    QString selectedFilter = textFilter;
    QString path = QFileDialog::getSaveFileName(this, tr("Export Log"), suggested,
                                                textFilter + u";;"_s + jsonFilter, &selectedFilter);
    if (path.isEmpty())
        return;
    if (QFileInfo(path).suffix().isEmpty())
        path += selectedFilter == jsonFilter ? u".jsonl"_s : u".log"_s;
    QString error;
    if (!exportTo(path, &error))
        QMessageBox::warning(this, tr("Export Log"), error);
}

void LogPanel::clear()
{
    m_model->clear();
    m_followTail = true;
    updateStatus();
    updateActions();
}

} // namespace OddJobs::Ui
