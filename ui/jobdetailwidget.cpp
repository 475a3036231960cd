#include "jobdetailwidget.h"

#include "jobtablemodel.h"

#include <QApplication>
#include <QClipboard>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPlainTextEdit>
#include <QToolButton>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

namespace {
QString timeText(const QDateTime &t)
{
    return t.isValid() ? t.toLocalTime().toString(u"yyyy-MM-dd HH:mm:ss.zzz"_s)
                       : JobDetailWidget::tr("—");
}
} // namespace

QString JobDetailWidget::prettyJson(const QJsonValue &value)
{
    if (value.isNull() || value.isUndefined())
        return {};
    if (value.isObject())
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Indented))
            .trimmed();
    if (value.isArray())
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Indented))
            .trimmed();
    const QByteArray wrapped = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(wrapped.mid(1, wrapped.size() - 2));
}

JobDetailWidget::JobDetailWidget(QWidget *parent)
    : QWidget(parent)
{
    auto *outer = new QVBoxLayout(this);
    m_empty = new QLabel(tr("Select a job to see its details."), this);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setEnabled(false);
    outer->addWidget(m_empty);

    m_body = new QWidget(this);
    auto *layout = new QVBoxLayout(m_body);
    layout->setContentsMargins(0, 0, 0, 0);
    m_title = new QLabel(m_body);
    QFont titleFont = m_title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.2);
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_title);
    m_form = new QFormLayout;
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    auto label = [this] {
        auto *l = new QLabel(m_body);
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        l->setWordWrap(true);
        return l;
    };
    m_status = label();
    m_queue = label();
    m_attempts = label();
    m_times = label();
    m_worker = label();
    m_form->addRow(tr("Status:"), m_status);
    m_form->addRow(tr("Queue:", "job queue"), m_queue);
    m_form->addRow(tr("Attempts:"), m_attempts);
    m_form->addRow(tr("Times:"), m_times);
    m_form->addRow(tr("Worker:"), m_worker);
    layout->addLayout(m_form);
    m_payload = addJsonBox(tr("Payload"), tr("Copy the payload to the clipboard"), layout);
    m_error = addJsonBox(tr("Last error"), tr("Copy the last error to the clipboard"), layout);
    m_result = addJsonBox(tr("Result"), tr("Copy the result to the clipboard"), layout);
    outer->addWidget(m_body);
    setJob(std::nullopt);
}

QPlainTextEdit *JobDetailWidget::addJsonBox(const QString &title, const QString &copyTip,
                                            QLayout *layout)
{
    auto *header = new QHBoxLayout;
    auto *label = new QLabel(u"<b>%1</b>"_s.arg(title.toHtmlEscaped()), m_body);
    auto *copy = new QToolButton(m_body);
    copy->setText(tr("Copy"));
    copy->setToolTip(copyTip);
    copy->setAccessibleName(copyTip);
    copy->setAutoRaise(true);
    header->addWidget(label);
    header->addStretch();
    header->addWidget(copy);
    auto *box = new QPlainTextEdit(m_body);
    box->setReadOnly(true);
    box->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    box->setAccessibleName(title);
    box->setLineWrapMode(QPlainTextEdit::NoWrap);
    box->setMinimumHeight(60);
    connect(copy, &QToolButton::clicked, box,
            [box] { QApplication::clipboard()->setText(box->toPlainText()); });
    static_cast<QVBoxLayout *>(layout)->addLayout(header);
    static_cast<QVBoxLayout *>(layout)->addWidget(box, 1);
    return box;
}

void JobDetailWidget::setJob(const std::optional<Job> &job)
{
    m_job = job;
    m_body->setVisible(job.has_value());
    m_empty->setVisible(!job.has_value());
    if (!job)
        return;
    const Job &j = *job;
    m_title->setText(tr("Job %1 · %2").arg(j.id).arg(j.type()));
    m_status->setText(u"<span style=\"color:%1; font-weight:bold\">%2</span>"_s.arg(
        JobTableModel::statusColor(j.status).name(),
        JobTableModel::statusLabel(j.status).toHtmlEscaped()));
    m_queue->setText(tr("%1, priority %2").arg(j.queue).arg(j.priority));
    m_attempts->setText(j.maxAttempts ? tr("%1 of %2").arg(j.attempts).arg(*j.maxAttempts)
                                      : tr("%1 (of the worker's default)").arg(j.attempts));
    m_times->setText(tr("created %1\nrun at %2\nstarted %3\nfinished %4\nupdated %5")
                         .arg(timeText(j.createdAt), timeText(j.runAt), timeText(j.startedAt),
                              timeText(j.finishedAt), timeText(j.updatedAt)));
    m_worker->setText(j.lockedBy.isEmpty()
                          ? tr("—")
                          : tr("%1 (lock refreshed %2)").arg(j.lockedBy, timeText(j.lockedAt)));
    m_payload->setPlainText(prettyJson(j.payload));
    m_error->setPlainText(prettyJson(j.lastError));
    m_result->setPlainText(prettyJson(j.result));
}

} // namespace OddJobs::Ui
