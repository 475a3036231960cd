#pragma once

#include "oddjobs/job.h"
#include "oddjobs_ui_export.h"

#include <QDateTime>
#include <QDialog>
#include <QJsonObject>
#include <optional>

class QAbstractButton;
class QButtonGroup;
class QCheckBox;
class QComboBox;
class QDateTimeEdit;
class QDialogButtonBox;
class QLabel;
class QPushButton;
class QRadioButton;
class QSpinBox;

namespace OddJobs::Ui {

class JsonEdit;

// The enqueue and edit dialogs: a job's type and payload contents (or its whole payload),
// when it runs, its queue, priority, attempts and timeout. It only collects and checks input;
// the caller talks to the store and reports refusals through showError().
class ODDJOBS_UI_EXPORT JobDialog : public QDialog
{
    Q_OBJECT
public:
    enum class Mode
    {
        Enqueue,
        Edit
    };

    static JobDialog *forEnqueue(const QStringList &knownTypes, const QStringList &knownQueues,
                                 QWidget *parent = nullptr);
    // Prefilled from the job; an unchanged dialog gives back the job's editable fields exactly.
    static JobDialog *forEdit(const Job &job, const QStringList &knownTypes,
                              const QStringList &knownQueues, QWidget *parent = nullptr);
    ~JobDialog() override;

    Mode mode() const { return m_mode; }
    // Edit mode: the job and the revision it was read at (for JobStore::edit). 0 otherwise.
    qint64 jobId() const { return m_jobId; }
    qint64 revision() const { return m_revision; }

    // The job as entered. Meaningful while hasAcceptableInput().
    NewJob newJob() const;
    bool hasAcceptableInput() const { return m_problem.isEmpty(); }
    // What the status line shows: the first problem with the input, or the last showError().
    QString statusText() const;

    // Whether the payload is edited as a whole rather than as type + contents. Edit mode
    // starts in it when the payload does not have the {"tag": ..., "contents": ...} shape.
    bool isRawPayload() const { return m_raw; }
    // Switches between the two; refused (false) when the current text cannot be converted
    // without loss.
    bool setRawPayload(bool raw);

    // Deferred accept: OK emits submitRequested() and waits with the inputs locked; the caller
    // then calls accept() on success or showError() on failure. Off by default (OK accepts).
    void setDeferredAccept(bool deferred) { m_deferredAccept = deferred; }
    bool isDeferredAccept() const { return m_deferredAccept; }
    bool isBusy() const { return m_busy; }

public Q_SLOTS:
    // Shows a message (e.g. the store's refusal) in the status line and keeps the dialog open;
    // ends a deferred submit. The message stays until the input changes.
    void showError(const QString &message);
    void accept() override;

Q_SIGNALS:
    void submitRequested();

protected:
    void changeEvent(QEvent *event) override;

private:
    JobDialog(Mode mode, const QStringList &knownTypes, const QStringList &knownQueues,
              QWidget *parent);
    void retranslate();
    void loadJob(const Job &job);
    void setBusy(bool busy);
    void inputChanged();
    void updateState();
    void updateRawToggle();
    std::optional<QJsonValue> currentPayload() const;
    QString typeText() const;
    QString queueText() const;

    Mode m_mode;
    qint64 m_jobId = 0;
    qint64 m_revision = 0;
    // Edit mode: what was loaded, so untouched fields give back exactly the stored values.
    QString m_originalType;
    QString m_originalQueue;
    std::optional<QDateTime> m_originalRunAt;

    bool m_raw = false;
    bool m_deferredAccept = false;
    bool m_busy = false;
    QString m_problem;
    QString m_externalError;

    QLabel *m_typeLabel = nullptr;
    QComboBox *m_type = nullptr;
    QLabel *m_payloadLabel = nullptr;
    JsonEdit *m_payload = nullptr;
    QCheckBox *m_rawCheck = nullptr;
    QLabel *m_runLabel = nullptr;
    QButtonGroup *m_runGroup = nullptr;
    QRadioButton *m_runNow = nullptr;
    QRadioButton *m_runIn = nullptr;
    QRadioButton *m_runAt = nullptr;
    QSpinBox *m_delay = nullptr;
    QComboBox *m_delayUnit = nullptr;
    QDateTimeEdit *m_runAtEdit = nullptr;
    QLabel *m_timeZone = nullptr;
    QLabel *m_queueLabel = nullptr;
    QComboBox *m_queue = nullptr;
    QLabel *m_priorityLabel = nullptr;
    QSpinBox *m_priority = nullptr;
    QLabel *m_priorityHint = nullptr;
    QLabel *m_maxAttemptsLabel = nullptr;
    QCheckBox *m_maxAttemptsDefault = nullptr;
    QSpinBox *m_maxAttempts = nullptr;
    QLabel *m_timeoutLabel = nullptr;
    QCheckBox *m_timeoutDefault = nullptr;
    QSpinBox *m_timeout = nullptr;
    QLabel *m_statusIcon = nullptr;
    QLabel *m_status = nullptr;
    QDialogButtonBox *m_buttons = nullptr;
    QPushButton *m_ok = nullptr;
};

} // namespace OddJobs::Ui
