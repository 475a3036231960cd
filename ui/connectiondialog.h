#pragma once

#include "oddjobs_ui_export.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QDialogButtonBox;

namespace OddJobs::Ui {

// Choose a database: a SQLite file or a PostgreSQL URL, recent ones offered (without their
// passwords), read-only monitoring on request.
class ODDJOBS_UI_EXPORT ConnectionDialog : public QDialog
{
    Q_OBJECT
public:
    explicit ConnectionDialog(const QStringList &recent, QWidget *parent = nullptr);
    QString url() const;
    QString table() const;
    bool monitorOnly() const;
    void setUrl(const QString &url);
    void setTable(const QString &table);
    void setMonitorOnly(bool on);
    void showError(const QString &message);

private:
    void validate();
    QComboBox *m_url = nullptr;
    QLineEdit *m_table = nullptr;
    QCheckBox *m_monitor = nullptr;
    QLabel *m_error = nullptr;
    QDialogButtonBox *m_buttons = nullptr;
};

} // namespace OddJobs::Ui
