#include "connectiondialog.h"

#include "oddjobs/connectionsettings.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace OddJobs::Ui {

ConnectionDialog::ConnectionDialog(const QStringList &recent, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Open Database"));
    auto *layout = new QVBoxLayout(this);
    auto *form = new QFormLayout;
    auto *urlRow = new QHBoxLayout;
    m_url = new QComboBox(this);
    m_url->setEditable(true);
    m_url->addItems(recent);
    m_url->setMinimumContentsLength(40);
    m_url->lineEdit()->setPlaceholderText(u"postgresql://user@host/db  ·  sqlite:/path/jobs.db"_s);
    m_url->setToolTip(
        tr("A PostgreSQL URL (postgresql://user:password@host:port/database) or a SQLite "
           "file (sqlite:/path/to/jobs.db). Parts of a PostgreSQL URL left out come from "
           "libpq's environment and ~/.pgpass."));
    auto *browse = new QPushButton(tr("&Browse…"), this);
    urlRow->addWidget(m_url, 1);
    urlRow->addWidget(browse);
    auto *urlLabel = new QLabel(tr("&Database:"), this);
    urlLabel->setBuddy(m_url);
    form->addRow(urlLabel, urlRow);
    m_table = new QLineEdit(u"jobs"_s, this);
    auto *tableLabel = new QLabel(tr("&Table:", "database table"), this);
    tableLabel->setBuddy(m_table);
    form->addRow(tableLabel, m_table);
    m_monitor = new QCheckBox(tr("&Monitor only: open read-only, no worker, no actions"), this);
    form->addRow(QString(), m_monitor);
    layout->addLayout(form);
    m_error = new QLabel(this);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(u"color: #c0392b"_s);
    m_error->setVisible(false);
    layout->addWidget(m_error);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Open | QDialogButtonBox::Cancel, this);
    layout->addWidget(m_buttons);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString file
            = QFileDialog::getSaveFileName(this, tr("SQLite Database"), QString(),
                                           tr("SQLite databases (*.db *.sqlite);;All files (*)"),
                                           nullptr, QFileDialog::DontConfirmOverwrite);
        if (!file.isEmpty())
            m_url->setCurrentText(u"sqlite:"_s + file);
    });
    connect(m_url, &QComboBox::currentTextChanged, this, &ConnectionDialog::validate);
    connect(m_table, &QLineEdit::textChanged, this, &ConnectionDialog::validate);
    validate();
}

QString ConnectionDialog::url() const
{
    return m_url->currentText().trimmed();
}

QString ConnectionDialog::table() const
{
    return m_table->text().trimmed();
}

bool ConnectionDialog::monitorOnly() const
{
    return m_monitor->isChecked();
}

void ConnectionDialog::setUrl(const QString &url)
{
    m_url->setCurrentText(url);
}

void ConnectionDialog::setTable(const QString &table)
{
    m_table->setText(table);
}

void ConnectionDialog::setMonitorOnly(bool on)
{
    m_monitor->setChecked(on);
}

void ConnectionDialog::showError(const QString &message)
{
    m_error->setText(message);
    m_error->setVisible(!message.isEmpty());
}

void ConnectionDialog::validate()
{
    QString problem;
    if (!url().isEmpty()) {
        auto parsed = ConnectionSettings::fromUrl(url());
        if (!parsed)
            problem = parsed.error().message;
    }
    if (problem.isEmpty()) {
        auto name = TableName::parse(table());
        if (!name)
            problem = name.error().message;
    }
    showError(problem);
    m_buttons->button(QDialogButtonBox::Open)->setEnabled(problem.isEmpty() && !url().isEmpty());
}

} // namespace OddJobs::Ui
