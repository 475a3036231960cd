#pragma once

#include "oddjobs/logevent.h"
#include "oddjobs_ui_export.h"

#include <QWidget>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QMenu;
class QPushButton;
class QTableView;
class QToolButton;

namespace OddJobs::Ui {

class LogFilterProxy;
class LogModel;

// The dashboard's log pane: the runner's structured events, newest at the bottom, filtered
// by level, event kind and text, with copy and export. Connect Runner::logEvent to addEvent().
class ODDJOBS_UI_EXPORT LogPanel : public QWidget
{
    Q_OBJECT
public:
    explicit LogPanel(QWidget *parent = nullptr);
    ~LogPanel() override;

    LogModel *model() const { return m_model; }
    LogFilterProxy *proxy() const { return m_proxy; }
    QTableView *view() const { return m_view; }

    // The selected rows (in view order) as LogEvent::toText() lines, newline-separated.
    QString selectedText() const;
    // Writes the rows the view shows (after filtering, oldest first): JSON lines when the
    // file name ends in .jsonl or .json, else text lines. On failure returns false and sets
    // *error to a message for the user.
    bool exportTo(const QString &path, QString *error = nullptr);
    // True while new rows scroll the view: the user is at the bottom.
    bool isFollowingTail() const { return m_followTail; }

public Q_SLOTS:
    void addEvent(const OddJobs::LogEvent &event);
    void copySelection();
    void exportWithDialog();
    void clear();

private:
    void buildKindMenu();
    void updateKindButton();
    void updateStatus();
    void updateActions();
    void setLevelIndex(int index);

    LogModel *m_model = nullptr;
    LogFilterProxy *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QComboBox *m_levelCombo = nullptr;
    QPushButton *m_kindButton = nullptr;
    QMenu *m_kindMenu = nullptr;
    QLineEdit *m_search = nullptr;
    QLabel *m_status = nullptr;
    QAction *m_copyAction = nullptr;
    QAction *m_exportAction = nullptr;
    QAction *m_clearAction = nullptr;
    QList<QAction *> m_kindActions;
    bool m_followTail = true;
};

} // namespace OddJobs::Ui
