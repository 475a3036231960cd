#include "jobdialog.h"

#include "jsonedit.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QCompleter>
#include <QDateTimeEdit>
#include <QDialogButtonBox>
#include <QEvent>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>
#include <algorithm>
#include <utility>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {

constexpr int DefaultMaxAttempts = 10; // the worker's default, as a starting value
constexpr int DefaultTimeoutSeconds = 600;
constexpr int QueueNameMaxLength = 200; // the store refuses longer names

enum RunChoice
{
    RunNow,
    RunIn,
    RunAt
};

// The delay units offered, in seconds; the largest delay stays within the store's 100 years.
constexpr int DelayFactors[] = { 1, 60, 3600, 86400 };
constexpr int DelayMaximum = 99999;
constexpr int DelayMaximumDays = 36500;

// A payload of the {"tag": type, "contents": value} shape, split into its type and contents
// (Undefined when there is no "contents" key). Anything else has to be edited as a whole:
// splitting it would lose keys.
std::optional<std::pair<QString, QJsonValue>> splitPayload(const QJsonValue &payload)
{
    if (!payload.isObject())
        return std::nullopt;
    const QJsonObject object = payload.toObject();
    const QJsonValue tag = object.value(u"tag"_s);
    if (!tag.isString())
        return std::nullopt;
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (it.key() != u"tag"_s && it.key() != u"contents"_s)
            return std::nullopt;
    }
    return std::pair { tag.toString(), object.value(u"contents"_s) };
}

QJsonObject joinPayload(const QString &type, const QJsonValue &contents)
{
    QJsonObject payload { { u"tag"_s, type } };
    if (!contents.isUndefined())
        payload.insert(u"contents"_s, contents);
    return payload;
}

// Sets a value the spin box's range may not include (a job stored by other means).
void setSpinValue(QSpinBox *spin, int value)
{
    if (value < spin->minimum())
        spin->setMinimum(value);
    if (value > spin->maximum())
        spin->setMaximum(value);
    spin->setValue(value);
}

QStringList sortedUnique(QStringList list, const QString &ensure = {})
{
    if (!ensure.isEmpty())
        list.append(ensure);
    list.removeAll(QString());
    list.sort(Qt::CaseInsensitive);
    list.removeDuplicates();
    return list;
}

} // namespace

JobDialog *JobDialog::forEnqueue(const QStringList &knownTypes, const QStringList &knownQueues,
                                 QWidget *parent)
{
    return new JobDialog(Mode::Enqueue, knownTypes, knownQueues, parent);
}

JobDialog *JobDialog::forEdit(const Job &job, const QStringList &knownTypes,
                              const QStringList &knownQueues, QWidget *parent)
{
    auto *dialog = new JobDialog(Mode::Edit, knownTypes, knownQueues, parent);
    dialog->loadJob(job);
    return dialog;
}

JobDialog::JobDialog(Mode mode, const QStringList &knownTypes, const QStringList &knownQueues,
                     QWidget *parent)
    : QDialog(parent)
    , m_mode(mode)
{
    setObjectName(u"JobDialog"_s);

    m_type = new QComboBox(this);
    m_type->setObjectName(u"type"_s);
    m_type->setEditable(true);
    m_type->setInsertPolicy(QComboBox::NoInsert);
    m_type->addItems(sortedUnique(knownTypes));
    m_type->setCurrentIndex(-1);
    m_type->setEditText(QString());
    // Job types are case-sensitive, and a type the user types must stay as typed: offer
    // matches in a popup instead of completing inline.
    m_type->completer()->setCaseSensitivity(Qt::CaseSensitive);
    m_type->completer()->setCompletionMode(QCompleter::PopupCompletion);
    m_type->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_typeLabel = new QLabel(this);
    m_typeLabel->setBuddy(m_type);

    m_payload = new JsonEdit(this);
    m_payload->setObjectName(u"payload"_s);
    m_payload->setAllowEmpty(true);
    m_payload->setMinimumSize(m_payload->fontMetrics().horizontalAdvance(u'x') * 60,
                              m_payload->fontMetrics().lineSpacing() * 10);
    m_payloadLabel = new QLabel(this);
    m_payloadLabel->setBuddy(m_payload);
    m_rawCheck = new QCheckBox(this);
    m_rawCheck->setObjectName(u"rawPayload"_s);

    m_runLabel = new QLabel(this);
    m_runNow = new QRadioButton(this);
    m_runNow->setObjectName(u"runNow"_s);
    m_runIn = new QRadioButton(this);
    m_runIn->setObjectName(u"runIn"_s);
    m_runAt = new QRadioButton(this);
    m_runAt->setObjectName(u"runAt"_s);
    m_runGroup = new QButtonGroup(this);
    m_runGroup->addButton(m_runNow, RunNow);
    m_runGroup->addButton(m_runIn, RunIn);
    m_runGroup->addButton(m_runAt, RunAt);
    m_runNow->setChecked(true);
    m_delay = new QSpinBox(this);
    m_delay->setObjectName(u"delay"_s);
    m_delay->setRange(1, DelayMaximum);
    m_delay->setValue(5);
    m_delayUnit = new QComboBox(this);
    m_delayUnit->setObjectName(u"delayUnit"_s);
    for (int i = 0; i < int(std::size(DelayFactors)); ++i)
        m_delayUnit->addItem(QString(), DelayFactors[i]);
    m_delayUnit->setCurrentIndex(1); // minutes
    m_runAtEdit = new QDateTimeEdit(this);
    m_runAtEdit->setObjectName(u"runAtTime"_s);
    m_runAtEdit->setCalendarPopup(true);
    // ISO order reads the same in every language and shows the seconds.
    m_runAtEdit->setDisplayFormat(u"yyyy-MM-dd HH:mm:ss"_s);
    {
        QDateTime start = QDateTime::currentDateTime().addSecs(3600);
        start.setTime(QTime(start.time().hour(), start.time().minute()));
        m_runAtEdit->setDateTime(start);
    }
    m_timeZone = new QLabel(this);
    auto *runGrid = new QGridLayout;
    runGrid->setContentsMargins(0, 0, 0, 0);
    runGrid->addWidget(m_runNow, 0, 0);
    runGrid->addWidget(m_runIn, 1, 0);
    {
        auto *row = new QHBoxLayout;
        row->addWidget(m_delay);
        row->addWidget(m_delayUnit);
        row->addStretch(1);
        runGrid->addLayout(row, 1, 1);
    }
    runGrid->addWidget(m_runAt, 2, 0);
    {
        auto *row = new QHBoxLayout;
        row->addWidget(m_runAtEdit);
        row->addWidget(m_timeZone);
        row->addStretch(1);
        runGrid->addLayout(row, 2, 1);
    }
    runGrid->setColumnStretch(1, 1);

    m_queue = new QComboBox(this);
    m_queue->setObjectName(u"queue"_s);
    m_queue->setEditable(true);
    m_queue->setInsertPolicy(QComboBox::NoInsert);
    m_queue->addItems(sortedUnique(knownQueues, u"default"_s));
    m_queue->setEditText(u"default"_s);
    m_queue->lineEdit()->setMaxLength(QueueNameMaxLength);
    m_queue->completer()->setCaseSensitivity(Qt::CaseSensitive);
    m_queue->completer()->setCompletionMode(QCompleter::PopupCompletion);
    m_queue->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_queueLabel = new QLabel(this);
    m_queueLabel->setBuddy(m_queue);

    m_priority = new QSpinBox(this);
    m_priority->setObjectName(u"priority"_s);
    m_priority->setRange(-1000000, 1000000);
    m_priority->setValue(0);
    m_priorityLabel = new QLabel(this);
    m_priorityLabel->setBuddy(m_priority);
    m_priorityHint = new QLabel(this);
    m_priorityHint->setEnabled(false); // greyed: a hint, not a field
    auto *priorityRow = new QHBoxLayout;
    priorityRow->addWidget(m_priority);
    priorityRow->addWidget(m_priorityHint);
    priorityRow->addStretch(1);

    // "Worker default" first: the label's mnemonic leads there, and the spin box after it
    // is only enabled once the default is turned off.
    m_maxAttemptsDefault = new QCheckBox(this);
    m_maxAttemptsDefault->setObjectName(u"maxAttemptsDefault"_s);
    m_maxAttemptsDefault->setChecked(true);
    m_maxAttempts = new QSpinBox(this);
    m_maxAttempts->setObjectName(u"maxAttempts"_s);
    m_maxAttempts->setRange(1, 1000000);
    m_maxAttempts->setValue(DefaultMaxAttempts);
    m_maxAttemptsLabel = new QLabel(this);
    m_maxAttemptsLabel->setBuddy(m_maxAttemptsDefault);
    auto *maxAttemptsRow = new QHBoxLayout;
    maxAttemptsRow->addWidget(m_maxAttemptsDefault);
    maxAttemptsRow->addWidget(m_maxAttempts);
    maxAttemptsRow->addStretch(1);

    m_timeoutDefault = new QCheckBox(this);
    m_timeoutDefault->setObjectName(u"timeoutDefault"_s);
    m_timeoutDefault->setChecked(true);
    m_timeout = new QSpinBox(this);
    m_timeout->setObjectName(u"timeout"_s);
    m_timeout->setRange(1, 365 * 86400);
    m_timeout->setValue(DefaultTimeoutSeconds);
    m_timeoutLabel = new QLabel(this);
    m_timeoutLabel->setBuddy(m_timeoutDefault);
    auto *timeoutRow = new QHBoxLayout;
    timeoutRow->addWidget(m_timeoutDefault);
    timeoutRow->addWidget(m_timeout);
    timeoutRow->addStretch(1);

    // Both default check boxes start the spin boxes' column at the same place.
    const int checkWidth
        = std::max(m_maxAttemptsDefault->sizeHint().width(), m_timeoutDefault->sizeHint().width());
    m_maxAttemptsDefault->setMinimumWidth(checkWidth);
    m_timeoutDefault->setMinimumWidth(checkWidth);
    const int spinWidth
        = std::max({ m_priority->sizeHint().width(), m_maxAttempts->sizeHint().width(),
                     m_timeout->sizeHint().width() });
    m_priority->setMinimumWidth(spinWidth);
    m_maxAttempts->setMinimumWidth(spinWidth);
    m_timeout->setMinimumWidth(spinWidth);

    m_statusIcon = new QLabel(this);
    m_status = new QLabel(this);
    m_status->setObjectName(u"status"_s);
    m_status->setWordWrap(true);
    m_status->setTextFormat(Qt::PlainText);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status->setMinimumHeight(m_status->fontMetrics().lineSpacing() * 2);
    m_status->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_status->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    auto *statusRow = new QHBoxLayout;
    statusRow->addWidget(m_statusIcon, 0, Qt::AlignTop);
    statusRow->addWidget(m_status, 1);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_ok = m_buttons->button(QDialogButtonBox::Ok);
    m_ok->setObjectName(u"ok"_s);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &JobDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &JobDialog::reject);

    auto *form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->addRow(m_typeLabel, m_type);
    form->addRow(m_payloadLabel, m_payload);
    form->addRow(QString(), m_rawCheck);
    form->addRow(m_runLabel, runGrid);
    form->addRow(m_queueLabel, m_queue);
    form->addRow(m_priorityLabel, priorityRow);
    form->addRow(m_maxAttemptsLabel, maxAttemptsRow);
    form->addRow(m_timeoutLabel, timeoutRow);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form, 1);
    layout->addLayout(statusRow);
    layout->addWidget(m_buttons);

    // The visual order, left to right and top to bottom.
    const QList<QWidget *> tabOrder { m_type,        m_payload,        m_rawCheck,
                                      m_runNow,      m_runIn,          m_delay,
                                      m_delayUnit,   m_runAt,          m_runAtEdit,
                                      m_queue,       m_priority,       m_maxAttemptsDefault,
                                      m_maxAttempts, m_timeoutDefault, m_timeout };
    for (qsizetype i = 1; i < tabOrder.size(); ++i)
        setTabOrder(tabOrder.at(i - 1), tabOrder.at(i));

    connect(m_type, &QComboBox::editTextChanged, this, &JobDialog::inputChanged);
    connect(m_payload, &QPlainTextEdit::textChanged, this, &JobDialog::inputChanged);
    connect(m_rawCheck, &QCheckBox::toggled, this, [this](bool raw) {
        if (!setRawPayload(raw))
            updateRawToggle();
    });
    connect(m_runGroup, &QButtonGroup::idToggled, this, [this](int, bool checked) {
        if (checked)
            inputChanged();
    });
    connect(m_delay, &QSpinBox::valueChanged, this, &JobDialog::inputChanged);
    connect(m_delayUnit, &QComboBox::currentIndexChanged, this, [this] {
        m_delay->setMaximum(m_delayUnit->currentData().toInt() == 86400 ? DelayMaximumDays
                                                                        : DelayMaximum);
        inputChanged();
    });
    connect(m_runAtEdit, &QDateTimeEdit::dateTimeChanged, this, &JobDialog::inputChanged);
    connect(m_queue, &QComboBox::editTextChanged, this, &JobDialog::inputChanged);
    connect(m_priority, &QSpinBox::valueChanged, this, &JobDialog::inputChanged);
    connect(m_maxAttemptsDefault, &QCheckBox::toggled, this, &JobDialog::inputChanged);
    connect(m_maxAttempts, &QSpinBox::valueChanged, this, &JobDialog::inputChanged);
    connect(m_timeoutDefault, &QCheckBox::toggled, this, &JobDialog::inputChanged);
    connect(m_timeout, &QSpinBox::valueChanged, this, &JobDialog::inputChanged);

    retranslate();
    updateState();
    m_type->setFocus();
}

JobDialog::~JobDialog() = default;

void JobDialog::retranslate()
{
    setWindowTitle(m_mode == Mode::Enqueue
                       ? tr("Enqueue Job")
                       : tr("Edit Job %1", "window title; %1 is the job id").arg(m_jobId));
    m_typeLabel->setText(tr("&Type:", "job type"));
    m_type->lineEdit()->setPlaceholderText(tr("Required: the name a handler is registered for"));
    m_type->setToolTip(
        tr("The job type: workers run a job with the handler registered for its type."));
    m_payloadLabel->setText(m_raw ? tr("&Payload:", "the job's whole JSON payload")
                                  : tr("&Contents:", "the JSON contents of the job's payload"));
    m_payload->setPlaceholderText(
        m_raw ? tr("The whole payload as JSON")
              : tr("Optional JSON value, for example {\"to\": \"someone@example.com\"}"));
    m_payload->setToolTip(
        m_raw ? tr("The payload stored with the job, edited as a whole.")
              : tr("Stored as {\"tag\": type, \"contents\": this value}. Leave empty for "
                   "a payload without contents."));
    m_rawCheck->setText(tr("Edit the &whole payload (JSON with \"tag\" and any other keys)"));
    m_runLabel->setText(tr("Run:", "when the job runs"));
    m_runNow->setText(tr("&Now", "run the job now"));
    m_runIn->setText(tr("&In", "run the job in N minutes"));
    m_runAt->setText(tr("&At", "run the job at a date and time"));
    m_delay->setAccessibleName(tr("Delay"));
    m_delayUnit->setAccessibleName(tr("Delay unit"));
    m_delayUnit->setItemText(0, tr("seconds", "delay unit"));
    m_delayUnit->setItemText(1, tr("minutes", "delay unit"));
    m_delayUnit->setItemText(2, tr("hours", "delay unit"));
    m_delayUnit->setItemText(3, tr("days", "delay unit"));
    m_runAtEdit->setAccessibleName(tr("Date and time to run at"));
    m_timeZone->setText(tr("local time (%1)", "%1 is a time zone abbreviation")
                            .arg(QDateTime::currentDateTime().timeZoneAbbreviation()));
    m_queueLabel->setText(tr("&Queue:", "job queue name"));
    m_queue->setToolTip(tr("Workers take jobs only from the queues they serve."));
    m_priorityLabel->setText(tr("P&riority:", "job priority"));
    const QString priorityTip = tr("Smaller numbers run first; jobs of equal priority run in the "
                                   "order of their run-at time.");
    m_priority->setToolTip(priorityTip);
    m_priorityLabel->setToolTip(priorityTip);
    m_priorityHint->setText(tr("smaller runs first", "job priority"));
    m_maxAttemptsLabel->setText(tr("&Max attempts:"));
    m_maxAttemptsDefault->setText(tr("Worker default", "max attempts"));
    m_maxAttemptsDefault->setToolTip(tr("Use the maximum number of attempts the worker is "
                                        "configured with (10 unless configured otherwise)."));
    m_maxAttempts->setAccessibleName(tr("Max attempts"));
    m_timeoutLabel->setText(tr("Time&out:", "job timeout"));
    m_timeoutDefault->setText(tr("Worker default", "timeout"));
    m_timeoutDefault->setToolTip(tr("Use the timeout the worker is configured with (600 seconds "
                                    "unless configured otherwise)."));
    m_timeout->setAccessibleName(tr("Timeout in seconds"));
    m_timeout->setSuffix(tr(" s", "seconds, after a number"));
    m_ok->setText(m_mode == Mode::Enqueue ? tr("&Enqueue") : tr("&Save", "save the edited job"));
    if (!m_busy)
        updateState();
}

void JobDialog::changeEvent(QEvent *event)
{
    QDialog::changeEvent(event);
    if (event->type() == QEvent::LanguageChange)
        retranslate();
}

void JobDialog::loadJob(const Job &job)
{
    m_jobId = job.id;
    m_revision = job.revision;

    if (const auto split = splitPayload(job.payload)) {
        m_raw = false;
        m_originalType = split->first;
        m_type->setEditText(split->first);
        m_payload->setAllowEmpty(true);
        m_payload->setValue(split->second);
    } else {
        m_raw = true;
        m_originalType = job.type();
        m_payload->setAllowEmpty(false);
        m_payload->setValue(job.payload);
    }

    if (job.runAt.isValid()) {
        m_originalRunAt = job.runAt;
        // Whole seconds, as shown; newJob() gives back the stored time while they match.
        const QDateTime local = job.runAt.toLocalTime();
        m_runAtEdit->setDateTime(local.addMSecs(-local.time().msec()));
        m_runAt->setChecked(true);
    }
    m_originalQueue = job.queue;
    m_queue->setEditText(job.queue);
    setSpinValue(m_priority, job.priority);
    m_maxAttemptsDefault->setChecked(!job.maxAttempts);
    if (job.maxAttempts)
        setSpinValue(m_maxAttempts, *job.maxAttempts);
    m_timeoutDefault->setChecked(!job.timeoutSeconds);
    if (job.timeoutSeconds)
        setSpinValue(m_timeout, *job.timeoutSeconds);

    m_externalError.clear();
    retranslate();
    m_payload->setFocus();
}

QString JobDialog::typeText() const
{
    const QString text = m_type->currentText();
    // An untouched field gives back the stored value exactly, odd spaces and all.
    if (m_mode == Mode::Edit && text == m_originalType)
        return text;
    return text.trimmed();
}

QString JobDialog::queueText() const
{
    const QString text = m_queue->currentText();
    if (m_mode == Mode::Edit && text == m_originalQueue)
        return text;
    return text.trimmed();
}

std::optional<QJsonValue> JobDialog::currentPayload() const
{
    if (!m_payload->isValid())
        return std::nullopt;
    if (m_raw)
        return m_payload->value();
    const QString type = typeText();
    if (type.isEmpty())
        return std::nullopt;
    return joinPayload(type, m_payload->value());
}

NewJob JobDialog::newJob() const
{
    NewJob job;
    job.payload = currentPayload().value_or(QJsonValue());
    switch (m_runGroup->checkedId()) {
    case RunIn:
        job.delaySeconds = double(m_delay->value()) * m_delayUnit->currentData().toInt();
        break;
    case RunAt: {
        const QDateTime shown = m_runAtEdit->dateTime();
        // The editor shows whole seconds: while it still shows the stored time, keep that
        // time's milliseconds.
        if (m_originalRunAt && shown.toSecsSinceEpoch() == m_originalRunAt->toSecsSinceEpoch())
            job.runAt = *m_originalRunAt;
        else
            job.runAt = shown.toUTC();
        break;
    }
    default:
        break;
    }
    job.queue = queueText();
    job.priority = m_priority->value();
    if (!m_maxAttemptsDefault->isChecked())
        job.maxAttempts = m_maxAttempts->value();
    if (!m_timeoutDefault->isChecked())
        job.timeoutSeconds = m_timeout->value();
    return job;
}

QString JobDialog::statusText() const
{
    return m_status->text();
}

bool JobDialog::setRawPayload(bool raw)
{
    if (raw == m_raw)
        return true;
    if (raw) {
        const auto payload = currentPayload();
        if (!payload)
            return false;
        m_raw = true;
        m_payload->setAllowEmpty(false);
        m_payload->setValue(*payload);
    } else {
        const auto split = m_payload->isValid() ? splitPayload(m_payload->value()) : std::nullopt;
        if (!split)
            return false;
        m_raw = false;
        m_type->setEditText(split->first);
        m_payload->setAllowEmpty(true);
        m_payload->setValue(split->second);
    }
    retranslate();
    return true;
}

void JobDialog::showError(const QString &message)
{
    setBusy(false);
    m_externalError = message;
    updateState();
}

void JobDialog::accept()
{
    if (m_busy) {
        // The caller reports that the deferred submit succeeded.
        setBusy(false);
        QDialog::accept();
        return;
    }
    if (!hasAcceptableInput())
        return;
    if (!m_deferredAccept) {
        QDialog::accept();
        return;
    }
    m_externalError.clear();
    setBusy(true);
    Q_EMIT submitRequested();
}

void JobDialog::setBusy(bool busy)
{
    if (m_busy == busy)
        return;
    m_busy = busy;
    // Lock the inputs, not the dialog: Cancel stays available.
    const QList<QWidget *> inputs { m_type,        m_payload,        m_rawCheck,
                                    m_runNow,      m_runIn,          m_runAt,
                                    m_delay,       m_delayUnit,      m_runAtEdit,
                                    m_queue,       m_priority,       m_maxAttemptsDefault,
                                    m_maxAttempts, m_timeoutDefault, m_timeout };
    if (busy) {
        for (QWidget *w : inputs)
            w->setEnabled(false);
        m_ok->setEnabled(false);
        m_statusIcon->clear();
        m_status->setStyleSheet(QString());
        m_status->setText(m_mode == Mode::Enqueue ? tr("Enqueuing…") : tr("Saving…"));
    } else {
        for (QWidget *w : inputs)
            w->setEnabled(true);
        updateState();
    }
}

void JobDialog::inputChanged()
{
    if (m_busy)
        return;
    m_externalError.clear();
    updateState();
}

void JobDialog::updateState()
{
    if (m_busy)
        return;
    const int run = m_runGroup->checkedId();
    m_delay->setEnabled(run == RunIn);
    m_delayUnit->setEnabled(run == RunIn);
    m_runAtEdit->setEnabled(run == RunAt);
    m_timeZone->setEnabled(run == RunAt);
    m_maxAttempts->setEnabled(!m_maxAttemptsDefault->isChecked());
    m_timeout->setEnabled(!m_timeoutDefault->isChecked());

    // In raw mode the type is the payload's tag: shown, not edited.
    m_type->setEnabled(!m_raw);
    if (m_raw && m_payload->isValid()) {
        const QSignalBlocker blocker(m_type);
        m_type->setEditText(jobTypeOf(m_payload->value()));
    }

    if (!m_raw && typeText().isEmpty())
        m_problem = tr("Enter a job type.");
    else if (!m_payload->isValid())
        m_problem = (m_raw ? tr("Payload: %1", "%1 is a JSON error with its line and column")
                           : tr("Contents: %1", "%1 is a JSON error with its line and column"))
                        .arg(m_payload->errorText());
    else if (queueText().isEmpty())
        m_problem = tr("Enter a queue name.", "job queue");
    else
        m_problem.clear();

    QStyle::StandardPixmap icon = QStyle::SP_CustomBase;
    QString text;
    if (!m_problem.isEmpty()) {
        text = m_problem;
        icon = QStyle::SP_MessageBoxWarning;
    } else if (!m_externalError.isEmpty()) {
        text = m_externalError;
        icon = QStyle::SP_MessageBoxCritical;
    }
    m_status->setText(text);
    m_status->setStyleSheet(text.isEmpty() ? QString() : u"color: #c0392b"_s);
    if (icon == QStyle::SP_CustomBase) {
        m_statusIcon->clear();
    } else {
        const int size = style()->pixelMetric(QStyle::PM_SmallIconSize, nullptr, this);
        m_statusIcon->setPixmap(style()->standardIcon(icon, nullptr, this).pixmap(size, size));
    }
    m_ok->setEnabled(m_problem.isEmpty());
    updateRawToggle();
}

void JobDialog::updateRawToggle()
{
    const QSignalBlocker blocker(m_rawCheck);
    m_rawCheck->setChecked(m_raw);
    bool canSwitch = false;
    if (m_raw)
        canSwitch = m_payload->isValid() && splitPayload(m_payload->value()).has_value();
    else
        canSwitch = currentPayload().has_value();
    m_rawCheck->setEnabled(canSwitch);
    if (canSwitch)
        m_rawCheck->setToolTip(QString());
    else if (m_raw)
        m_rawCheck->setToolTip(tr("Only a valid payload with a string \"tag\" and no keys besides "
                                  "\"tag\" and \"contents\" can be split into type and contents."));
    else
        m_rawCheck->setToolTip(tr("Enter a type and valid contents first."));
}

} // namespace OddJobs::Ui
