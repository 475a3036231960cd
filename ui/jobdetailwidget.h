#pragma once

#include "oddjobs/job.h"
#include "oddjobs_ui_export.h"

#include <QWidget>

class QLabel;
class QPlainTextEdit;
class QFormLayout;

namespace OddJobs::Ui {

// Everything about one job: its fields, the pretty-printed payload, last error and result,
// each with a copy button.
class ODDJOBS_UI_EXPORT JobDetailWidget : public QWidget
{
    Q_OBJECT
public:
    explicit JobDetailWidget(QWidget *parent = nullptr);
    void setJob(const std::optional<Job> &job);
    std::optional<Job> job() const { return m_job; }
    static QString prettyJson(const QJsonValue &value);

private:
    QPlainTextEdit *addJsonBox(const QString &title, const QString &copyTip, QLayout *layout);

    std::optional<Job> m_job;
    QLabel *m_title = nullptr;
    QFormLayout *m_form = nullptr;
    QLabel *m_status = nullptr;
    QLabel *m_queue = nullptr;
    QLabel *m_attempts = nullptr;
    QLabel *m_times = nullptr;
    QLabel *m_worker = nullptr;
    QPlainTextEdit *m_payload = nullptr;
    QPlainTextEdit *m_error = nullptr;
    QPlainTextEdit *m_result = nullptr;
    QWidget *m_body = nullptr;
    QLabel *m_empty = nullptr;
};

} // namespace OddJobs::Ui
