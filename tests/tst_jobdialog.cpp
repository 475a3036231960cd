// JobDialog: validation (OK disabled, the reason with the JSON error's line and column), the
// NewJob it builds, editing that round-trips a job exactly, typing into the real widgets, and
// the edit-conflict flow against a real SQLite store.

#include "jobdialog.h"
#include "jsonedit.h"
#include "oddjobs/jobstore.h"
#include "support/testhelpers.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTimeEdit>
#include <QDialogButtonBox>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>
#include <memory>

using namespace Qt::StringLiterals;
using namespace OddJobs;
using OddJobs::Ui::JobDialog;
using OddJobs::Ui::JsonEdit;

Q_DECLARE_METATYPE(std::optional<int>)
Q_DECLARE_METATYPE(std::optional<double>)

namespace {

// The dialog's widgets, found by object name.
struct Fields
{
    explicit Fields(JobDialog *d)
        : type(d->findChild<QComboBox *>(u"type"_s))
        , payload(d->findChild<JsonEdit *>(u"payload"_s))
        , raw(d->findChild<QCheckBox *>(u"rawPayload"_s))
        , runNow(d->findChild<QRadioButton *>(u"runNow"_s))
        , runIn(d->findChild<QRadioButton *>(u"runIn"_s))
        , runAt(d->findChild<QRadioButton *>(u"runAt"_s))
        , delay(d->findChild<QSpinBox *>(u"delay"_s))
        , delayUnit(d->findChild<QComboBox *>(u"delayUnit"_s))
        , runAtTime(d->findChild<QDateTimeEdit *>(u"runAtTime"_s))
        , queue(d->findChild<QComboBox *>(u"queue"_s))
        , priority(d->findChild<QSpinBox *>(u"priority"_s))
        , maxAttemptsDefault(d->findChild<QCheckBox *>(u"maxAttemptsDefault"_s))
        , maxAttempts(d->findChild<QSpinBox *>(u"maxAttempts"_s))
        , timeoutDefault(d->findChild<QCheckBox *>(u"timeoutDefault"_s))
        , timeout(d->findChild<QSpinBox *>(u"timeout"_s))
        , status(d->findChild<QLabel *>(u"status"_s))
        , ok(d->findChild<QPushButton *>(u"ok"_s))
    {
    }
    bool complete() const
    {
        return type && payload && raw && runNow && runIn && runAt && delay && delayUnit && runAtTime
            && queue && priority && maxAttemptsDefault && maxAttempts && timeoutDefault && timeout
            && status && ok;
    }

    QComboBox *type;
    JsonEdit *payload;
    QCheckBox *raw;
    QRadioButton *runNow, *runIn, *runAt;
    QSpinBox *delay;
    QComboBox *delayUnit;
    QDateTimeEdit *runAtTime;
    QComboBox *queue;
    QSpinBox *priority;
    QCheckBox *maxAttemptsDefault;
    QSpinBox *maxAttempts;
    QCheckBox *timeoutDefault;
    QSpinBox *timeout;
    QLabel *status;
    QPushButton *ok;
};

QString describe(const NewJob &job)
{
    return u"payload=%1 runAt=%2 delay=%3 queue=%4 priority=%5 maxAttempts=%6 timeout=%7"_s.arg(
        JsonEdit::toText(job.payload, false),
        job.runAt ? job.runAt->toString(Qt::ISODateWithMs) : u"-"_s,
        job.delaySeconds ? QString::number(*job.delaySeconds) : u"-"_s, job.queue,
        QString::number(job.priority), job.maxAttempts ? QString::number(*job.maxAttempts) : u"-"_s,
        job.timeoutSeconds ? QString::number(*job.timeoutSeconds) : u"-"_s);
}

// The editable fields of a stored job, as edit() takes them.
NewJob editableFields(const Job &job)
{
    NewJob fields;
    fields.payload = job.payload;
    fields.runAt = job.runAt;
    fields.queue = job.queue;
    fields.priority = job.priority;
    fields.maxAttempts = job.maxAttempts;
    fields.timeoutSeconds = job.timeoutSeconds;
    return fields;
}

std::unique_ptr<JobDialog> enqueueDialog()
{
    return std::unique_ptr<JobDialog>(
        JobDialog::forEnqueue({ u"Mail"_s, u"Report"_s }, { u"mail"_s, u"default"_s }, nullptr));
}

} // namespace

#define VERIFY_OK(expr)                                                                            \
    do {                                                                                           \
        const auto &ok_ = (expr);                                                                  \
        if (!ok_.ok())                                                                             \
            QFAIL(qPrintable(ok_.error().toString()));                                             \
    } while (false)

class TestJobDialog : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void defaults();
    void invalidJson_data();
    void invalidJson();
    void requiredFields_data();
    void requiredFields();
    void newJob_data();
    void newJob();
    void typing();
    void keyboard();
    void rawToggle();
    void editRoundTrip_data();
    void editRoundTrip();
    void editPrefill();
    void deferredAccept();
    void editConflictWithSqlite();
};

void TestJobDialog::defaults()
{
    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    QVERIFY(f.complete());
    QCOMPARE(dialog->mode(), JobDialog::Mode::Enqueue);
    QCOMPARE(dialog->jobId(), 0);
    QCOMPARE(f.type->currentText(), QString());
    QCOMPARE(f.type->count(), 2);
    QCOMPARE(f.queue->currentText(), u"default"_s);
    QVERIFY(f.runNow->isChecked());
    QVERIFY(!f.delay->isEnabled());
    QVERIFY(!f.runAtTime->isEnabled());
    QCOMPARE(f.priority->value(), 0);
    QVERIFY(f.priority->toolTip().contains(u"Smaller numbers run first"_s));
    QVERIFY(f.maxAttemptsDefault->isChecked());
    QVERIFY(!f.maxAttempts->isEnabled());
    QVERIFY(f.timeoutDefault->isChecked());
    QVERIFY(!f.timeout->isEnabled());
    QVERIFY(!dialog->isRawPayload());
    // The type is required; nothing else is missing.
    QVERIFY(!f.ok->isEnabled());
    QCOMPARE(dialog->statusText(), u"Enter a job type."_s);
    f.type->setEditText(u"Mail"_s);
    QVERIFY(f.ok->isEnabled());
    QCOMPARE(dialog->statusText(), QString());

    const NewJob job = dialog->newJob();
    QCOMPARE(job.payload, QJsonValue(QJsonObject { { u"tag"_s, u"Mail"_s } }));
    QVERIFY(!job.runAt);
    QVERIFY(!job.delaySeconds);
    QCOMPARE(job.queue, u"default"_s);
    QCOMPARE(job.priority, 0);
    QVERIFY(!job.maxAttempts);
    QVERIFY(!job.timeoutSeconds);
}

void TestJobDialog::invalidJson_data()
{
    QTest::addColumn<bool>("raw");
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");

    QTest::addRow("missing comma on line 2")
        << false << u"{\n  \"to\": \"a@b\"\n  \"cc\": []\n}"_s << 3 << 3;
    QTest::addRow("trailing garbage") << false << u"{\"to\": \"a@b\"}\n  ;"_s << 2 << 3;
    QTest::addRow("unterminated string") << false << u"[\n  \"abc,\n  1\n]"_s << 2 << 3;
    QTest::addRow("empty, allowEmpty off") << true << QString() << 1 << 1;
    QTest::addRow("raw, missing colon") << true << u"{\"tag\": \"Mail\", \"x\" 1}"_s << 1 << 21;
}

void TestJobDialog::invalidJson()
{
    QFETCH(bool, raw);
    QFETCH(QString, text);
    QFETCH(int, line);
    QFETCH(int, column);

    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    f.type->setEditText(u"Mail"_s);
    QVERIFY(dialog->setRawPayload(raw));
    QCOMPARE(f.raw->isChecked(), raw);
    QCOMPARE(f.payload->allowEmpty(), !raw);
    QVERIFY(f.ok->isEnabled());

    f.payload->setPlainText(text);
    QVERIFY(!f.ok->isEnabled());
    QVERIFY(!dialog->hasAcceptableInput());
    const QString where = u"Line %1, column %2: "_s.arg(line).arg(column);
    QVERIFY2(dialog->statusText().contains(where), qPrintable(dialog->statusText()));
    QCOMPARE(dialog->statusText(),
             (raw ? u"Payload: "_s : u"Contents: "_s) + f.payload->errorText());
    QCOMPARE(f.status->text(), dialog->statusText());
    // OK does nothing while the input is invalid, even when triggered directly.
    dialog->accept();
    QCOMPARE(dialog->result(), int(QDialog::Rejected));

    // Fixing the text clears the status and enables OK.
    f.payload->setPlainText(raw ? u"{\"tag\": \"Mail\"}"_s : u"{}"_s);
    QVERIFY(f.ok->isEnabled());
    QCOMPARE(dialog->statusText(), QString());
}

void TestJobDialog::requiredFields_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("queue");
    QTest::addColumn<QString>("status");

    QTest::addRow("no type") << QString() << u"default"_s << u"Enter a job type."_s;
    QTest::addRow("blank type") << u"  "_s << u"default"_s << u"Enter a job type."_s;
    QTest::addRow("no queue") << u"Mail"_s << QString() << u"Enter a queue name."_s;
    QTest::addRow("blank queue") << u"Mail"_s << u" "_s << u"Enter a queue name."_s;
    QTest::addRow("both") << u"Mail"_s << u"mail"_s << QString();
}

void TestJobDialog::requiredFields()
{
    QFETCH(QString, type);
    QFETCH(QString, queue);
    QFETCH(QString, status);

    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    f.type->setEditText(type);
    f.queue->setEditText(queue);
    QCOMPARE(dialog->statusText(), status);
    QCOMPARE(f.ok->isEnabled(), status.isEmpty());
    QCOMPARE(dialog->hasAcceptableInput(), status.isEmpty());
}

void TestJobDialog::newJob_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("contents");
    QTest::addColumn<int>("run"); // 0 now, 1 in, 2 at
    QTest::addColumn<int>("delay");
    QTest::addColumn<int>("delayUnit"); // index: seconds, minutes, hours, days
    QTest::addColumn<QDateTime>("at"); // local time as shown
    QTest::addColumn<QString>("queue");
    QTest::addColumn<int>("priority");
    QTest::addColumn<std::optional<int>>("maxAttempts");
    QTest::addColumn<std::optional<int>>("timeout");
    QTest::addColumn<QJsonValue>("payload");
    QTest::addColumn<std::optional<double>>("delaySeconds");

    const QDateTime at(QDate(2031, 2, 3), QTime(4, 5, 6), Qt::LocalTime);
    const QJsonObject mail { { u"to"_s, u"a@b"_s } };
    QTest::addRow("now, defaults")
        << u"Mail"_s << u"{\"to\": \"a@b\"}"_s << 0 << 0 << 0 << QDateTime() << u"default"_s << 0
        << std::optional<int>() << std::optional<int>()
        << QJsonValue(QJsonObject { { u"tag"_s, u"Mail"_s }, { u"contents"_s, mail } })
        << std::optional<double>();
    QTest::addRow("in 90 seconds")
        << u"Report"_s << u"[1, 2]"_s << 1 << 90 << 0 << QDateTime() << u"reports"_s << -3
        << std::optional<int>(3) << std::optional<int>()
        << QJsonValue(
               QJsonObject { { u"tag"_s, u"Report"_s }, { u"contents"_s, QJsonArray { 1, 2 } } })
        << std::optional<double>(90);
    QTest::addRow("in 2 days") << u"Report"_s << u"\"x\""_s << 1 << 2 << 3 << QDateTime()
                               << u"default"_s << 5 << std::optional<int>()
                               << std::optional<int>(45)
                               << QJsonValue(QJsonObject { { u"tag"_s, u"Report"_s },
                                                           { u"contents"_s, u"x"_s } })
                               << std::optional<double>(2 * 86400);
    QTest::addRow("at a time") << u"New.Type"_s << QString() << 2 << 0 << 0 << at << u"mail"_s
                               << 1000000 << std::optional<int>(1000000) << std::optional<int>(1)
                               << QJsonValue(QJsonObject { { u"tag"_s, u"New.Type"_s } })
                               << std::optional<double>();
    QTest::addRow("explicit null contents")
        << u" Mail "_s << u"null"_s << 0 << 0 << 0 << QDateTime() << u" mail "_s << 0
        << std::optional<int>() << std::optional<int>()
        << QJsonValue(QJsonObject { { u"tag"_s, u"Mail"_s }, { u"contents"_s, QJsonValue() } })
        << std::optional<double>();
}

void TestJobDialog::newJob()
{
    QFETCH(QString, type);
    QFETCH(QString, contents);
    QFETCH(int, run);
    QFETCH(int, delay);
    QFETCH(int, delayUnit);
    QFETCH(QDateTime, at);
    QFETCH(QString, queue);
    QFETCH(int, priority);
    QFETCH(std::optional<int>, maxAttempts);
    QFETCH(std::optional<int>, timeout);
    QFETCH(QJsonValue, payload);
    QFETCH(std::optional<double>, delaySeconds);

    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    f.type->setEditText(type);
    f.payload->setPlainText(contents);
    (run == 0 ? f.runNow : run == 1 ? f.runIn : f.runAt)->setChecked(true);
    QCOMPARE(f.delay->isEnabled(), run == 1);
    QCOMPARE(f.runAtTime->isEnabled(), run == 2);
    if (run == 1) {
        f.delayUnit->setCurrentIndex(delayUnit);
        f.delay->setValue(delay);
    } else if (run == 2) {
        f.runAtTime->setDateTime(at);
    }
    f.queue->setEditText(queue);
    f.priority->setValue(priority);
    f.maxAttemptsDefault->setChecked(!maxAttempts);
    QCOMPARE(f.maxAttempts->isEnabled(), maxAttempts.has_value());
    if (maxAttempts)
        f.maxAttempts->setValue(*maxAttempts);
    f.timeoutDefault->setChecked(!timeout);
    QCOMPARE(f.timeout->isEnabled(), timeout.has_value());
    if (timeout)
        f.timeout->setValue(*timeout);

    QVERIFY2(f.ok->isEnabled(), qPrintable(dialog->statusText()));
    const NewJob job = dialog->newJob();
    QCOMPARE(job.payload, payload);
    QCOMPARE(job.payload.toObject().value(u"tag"_s).toString(), type.trimmed());
    QCOMPARE(job.delaySeconds, delaySeconds);
    if (run == 2) {
        QVERIFY(job.runAt);
        QCOMPARE(*job.runAt, at);
        QCOMPARE(job.runAt->timeSpec(), Qt::UTC);
        QCOMPARE(job.runAt->toLocalTime().time(), QTime(4, 5, 6));
    } else {
        QVERIFY(!job.runAt);
    }
    QCOMPARE(job.queue, queue.trimmed());
    QCOMPARE(job.priority, priority);
    QCOMPARE(job.maxAttempts, maxAttempts);
    QCOMPARE(job.timeoutSeconds, timeout);
}

void TestJobDialog::typing()
{
    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    dialog->show();
    QVERIFY(QTest::qWaitForWindowExposed(dialog.get()));
    QVERIFY(!f.ok->isEnabled());

    QTest::keyClicks(f.type->lineEdit(), u"Resize"_s);
    QCOMPARE(f.type->currentText(), u"Resize"_s); // typed, not completed to a known type
    QVERIFY(f.ok->isEnabled());

    QTest::keyClicks(f.payload, u"{\"w\": 640"_s);
    QTest::keyClick(f.payload, Qt::Key_Return);
    QTest::keyClicks(f.payload, u"\"h\": 480}"_s);
    QVERIFY(!f.ok->isEnabled());
    QVERIFY2(dialog->statusText().startsWith(u"Contents: Line 2, column 1: "_s),
             qPrintable(dialog->statusText()));
    // Add the missing comma at the end of line 1.
    QTest::keyClick(f.payload, Qt::Key_Up);
    QTest::keyClick(f.payload, Qt::Key_End);
    QTest::keyClick(f.payload, Qt::Key_Comma);
    QVERIFY2(f.ok->isEnabled(), qPrintable(dialog->statusText()));

    f.queue->lineEdit()->selectAll();
    QTest::keyClicks(f.queue->lineEdit(), u"images"_s);
    f.priority->selectAll();
    QTest::keyClicks(f.priority, u"-7"_s);
    QTest::mouseClick(f.maxAttemptsDefault, Qt::LeftButton);
    QVERIFY(f.maxAttempts->isEnabled());
    f.maxAttempts->selectAll();
    QTest::keyClicks(f.maxAttempts, u"4"_s);
    QTest::mouseClick(f.runIn, Qt::LeftButton);
    QVERIFY(f.delay->isEnabled());
    f.delay->selectAll();
    QTest::keyClicks(f.delay, u"30"_s);

    const NewJob job = dialog->newJob();
    QCOMPARE(job.payload,
             QJsonValue(QJsonObject {
                 { u"tag"_s, u"Resize"_s },
                 { u"contents"_s, QJsonObject { { u"w"_s, 640 }, { u"h"_s, 480 } } } }));
    QCOMPARE(job.queue, u"images"_s);
    QCOMPARE(job.priority, -7);
    QCOMPARE(job.maxAttempts, std::optional<int>(4));
    QCOMPARE(job.timeoutSeconds, std::optional<int>());
    QCOMPARE(job.delaySeconds, std::optional<double>(30 * 60)); // minutes by default

    // Enter on the OK button accepts.
    QSignalSpy accepted(dialog.get(), &QDialog::accepted);
    QTest::mouseClick(f.ok, Qt::LeftButton);
    QCOMPARE(accepted.size(), 1);
    QCOMPARE(dialog->result(), int(QDialog::Accepted));
}

void TestJobDialog::keyboard()
{
    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    dialog->show();
    QVERIFY(QTest::qWaitForWindowExposed(dialog.get()));
    dialog->activateWindow();

    // Every label has a mnemonic and a buddy; mnemonics do not clash.
    QSet<QChar> mnemonics;
    const auto labels = dialog->findChildren<QLabel *>();
    for (QLabel *label : labels) {
        if (!label->buddy())
            continue;
        const qsizetype amp = label->text().indexOf(u'&');
        QVERIFY2(amp >= 0, qPrintable(label->text()));
        const QChar key = label->text().at(amp + 1).toLower();
        QVERIFY2(!mnemonics.contains(key), qPrintable(label->text()));
        mnemonics.insert(key);
    }
    const auto buttons = dialog->findChildren<QAbstractButton *>();
    for (QAbstractButton *button : buttons) {
        const qsizetype amp = button->text().indexOf(u'&');
        if (amp < 0)
            continue;
        const QChar key = button->text().at(amp + 1).toLower();
        QVERIFY2(!mnemonics.contains(key), qPrintable(button->text()));
        mnemonics.insert(key);
    }

    // Tab walks the form in visual order (disabled fields skipped) and leaves the JSON editor.
    f.type->setEditText(u"Mail"_s);
    f.type->setFocus();
    QTRY_VERIFY(f.type->hasFocus());
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
    QTRY_VERIFY(f.payload->hasFocus());
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Tab);
    QTRY_VERIFY(f.raw->hasFocus());
    QCOMPARE(f.payload->toPlainText(), QString());

    // Alt+Q jumps to the queue.
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Q, Qt::AltModifier);
    QTRY_VERIFY(f.queue->hasFocus());
}

void TestJobDialog::rawToggle()
{
    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    // Nothing to convert without a type.
    QVERIFY(!f.raw->isEnabled());
    QVERIFY(!dialog->setRawPayload(true));
    f.type->setEditText(u"Mail"_s);
    f.payload->setPlainText(u"{\"to\": \"a@b\"}"_s);
    QVERIFY(f.raw->isEnabled());

    f.raw->click();
    QVERIFY(dialog->isRawPayload());
    QVERIFY(!f.type->isEnabled()); // the type is the payload's tag now
    QCOMPARE(f.payload->value(),
             QJsonValue(QJsonObject { { u"tag"_s, u"Mail"_s },
                                      { u"contents"_s, QJsonObject { { u"to"_s, u"a@b"_s } } } }));
    // The type follows the tag.
    f.payload->setPlainText(u"{\"tag\": \"Other\", \"contents\": 1}"_s);
    QCOMPARE(f.type->currentText(), u"Other"_s);
    // An extra key cannot be split off: switching back is refused.
    f.payload->setPlainText(u"{\"tag\": \"Other\", \"contents\": 1, \"v\": 2}"_s);
    QVERIFY(f.ok->isEnabled());
    QVERIFY(!f.raw->isEnabled());
    QVERIFY(!dialog->setRawPayload(false));
    QVERIFY(dialog->isRawPayload());
    QCOMPARE(dialog->newJob().payload.toObject().value(u"v"_s), QJsonValue(2));
    // A payload without a tag is fine in raw mode (its type reads as "(unknown)").
    f.payload->setPlainText(u"[1]"_s);
    QVERIFY(f.ok->isEnabled());
    QCOMPARE(f.type->currentText(), u"(unknown)"_s);

    f.payload->setPlainText(u"{\"tag\": \"Other\", \"contents\": [true]}"_s);
    f.raw->click();
    QVERIFY(!dialog->isRawPayload());
    QVERIFY(f.type->isEnabled());
    QCOMPARE(f.type->currentText(), u"Other"_s);
    QCOMPARE(f.payload->value(), QJsonValue(QJsonArray { true }));
    QVERIFY(f.ok->isEnabled());
}

void TestJobDialog::editRoundTrip_data()
{
    QTest::addColumn<QJsonValue>("payload");
    QTest::addColumn<bool>("raw");
    QTest::addColumn<QString>("type");
    QTest::addColumn<std::optional<int>>("maxAttempts");
    QTest::addColumn<std::optional<int>>("timeout");

    const auto obj = [](std::initializer_list<QPair<QString, QJsonValue>> members) {
        return QJsonValue(QJsonObject(members));
    };
    const QJsonObject contents { { u"to"_s, u"a@b"_s },
                                 { u"n"_s, QJsonArray { 1, 2.5, QJsonValue() } } };
    QTest::addRow("tag and contents")
        << obj({ { u"tag"_s, u"Mail"_s }, { u"contents"_s, contents } }) << false << u"Mail"_s
        << std::optional<int>(3) << std::optional<int>(60);
    QTest::addRow("tag only") << obj({ { u"tag"_s, u"Ping"_s } }) << false << u"Ping"_s
                              << std::optional<int>() << std::optional<int>();
    QTest::addRow("null contents")
        << obj({ { u"tag"_s, u"Ping"_s }, { u"contents"_s, QJsonValue() } }) << false << u"Ping"_s
        << std::optional<int>() << std::optional<int>(5);
    QTest::addRow("scalar contents")
        << obj({ { u"tag"_s, u"Count"_s }, { u"contents"_s, 9007199254740993LL } }) << false
        << u"Count"_s << std::optional<int>(2000000) << std::optional<int>();
    QTest::addRow("type with spaces")
        << obj({ { u"tag"_s, u" Odd "_s }, { u"contents"_s, 1 } }) << false << u" Odd "_s
        << std::optional<int>() << std::optional<int>();
    QTest::addRow("extra keys: raw")
        << obj({ { u"tag"_s, u"Mail"_s }, { u"contents"_s, 1 }, { u"v"_s, 2 } }) << true
        << u"Mail"_s << std::optional<int>(1) << std::optional<int>();
    QTest::addRow("tag and other keys: raw")
        << obj({ { u"tag"_s, u"Mail"_s }, { u"to"_s, u"x"_s } }) << true << u"Mail"_s
        << std::optional<int>() << std::optional<int>();
    QTest::addRow("tag not a string: raw")
        << obj({ { u"tag"_s, 5 }, { u"contents"_s, 1 } }) << true << u"(unknown)"_s
        << std::optional<int>() << std::optional<int>();
    QTest::addRow("array payload: raw")
        << QJsonValue(QJsonArray { 1, u"two"_s }) << true << u"(unknown)"_s << std::optional<int>()
        << std::optional<int>();
    QTest::addRow("string payload: raw") << QJsonValue(u"just text"_s) << true << u"(unknown)"_s
                                         << std::optional<int>() << std::optional<int>();
}

void TestJobDialog::editRoundTrip()
{
    QFETCH(QJsonValue, payload);
    QFETCH(bool, raw);
    QFETCH(QString, type);
    QFETCH(std::optional<int>, maxAttempts);
    QFETCH(std::optional<int>, timeout);

    Job job;
    job.id = 42;
    job.revision = 1700000000123456;
    job.payload = payload;
    job.status = JobStatus::Failed;
    job.runAt = QDateTime(QDate(2024, 3, 31), QTime(1, 30, 15, 789), Qt::UTC);
    job.queue = u"special queue"_s;
    job.priority = -2000000; // beyond the spin box's usual range
    job.maxAttempts = maxAttempts;
    job.timeoutSeconds = timeout;

    std::unique_ptr<JobDialog> dialog(
        JobDialog::forEdit(job, { u"Mail"_s }, { u"default"_s }, nullptr));
    Fields f(dialog.get());
    QCOMPARE(dialog->mode(), JobDialog::Mode::Edit);
    QCOMPARE(dialog->jobId(), 42);
    QCOMPARE(dialog->revision(), 1700000000123456);
    QVERIFY(dialog->windowTitle().contains(u"42"_s));
    QCOMPARE(dialog->isRawPayload(), raw);
    QCOMPARE(f.type->currentText(), type);
    QCOMPARE(f.type->isEnabled(), !raw);
    QVERIFY(f.runAt->isChecked());
    QCOMPARE(f.runAtTime->dateTime().toSecsSinceEpoch(), job.runAt.toSecsSinceEpoch());
    QCOMPARE(f.queue->currentText(), job.queue);
    QCOMPARE(f.priority->value(), job.priority);
    QCOMPARE(f.maxAttemptsDefault->isChecked(), !maxAttempts);
    QCOMPARE(f.timeoutDefault->isChecked(), !timeout);
    QVERIFY2(f.ok->isEnabled(), qPrintable(dialog->statusText()));

    const NewJob fields = dialog->newJob();
    const NewJob expected = editableFields(job);
    QCOMPARE(describe(fields), describe(expected));
    QCOMPARE(fields.payload, job.payload);
    QVERIFY(fields.runAt);
    QCOMPARE(*fields.runAt, job.runAt);
    QCOMPARE(fields.runAt->time().msec(), 789);
    QVERIFY(!fields.delaySeconds);
    QCOMPARE(fields.queue, job.queue);
    QCOMPARE(fields.priority, job.priority);
    QCOMPARE(fields.maxAttempts, job.maxAttempts);
    QCOMPARE(fields.timeoutSeconds, job.timeoutSeconds);
}

void TestJobDialog::editPrefill()
{
    Job job;
    job.id = 7;
    job.revision = 99;
    job.payload = QJsonObject { { u"tag"_s, u"Mail"_s },
                                { u"contents"_s, QJsonObject { { u"to"_s, u"a@b"_s } } } };
    job.runAt = QDateTime(QDate(2030, 1, 2), QTime(3, 4, 5, 600), Qt::UTC);
    job.queue = u"mail"_s;
    std::unique_ptr<JobDialog> dialog(JobDialog::forEdit(job, {}, {}, nullptr));
    Fields f(dialog.get());
    // Pretty-printed contents.
    QCOMPARE(f.payload->toPlainText(), u"{\n    \"to\": \"a@b\"\n}"_s);
    QCOMPARE(f.ok->text(), u"&Save"_s);

    // A changed time is taken as shown (whole seconds, converted to UTC).
    f.runAtTime->setDateTime(f.runAtTime->dateTime().addSecs(60));
    QCOMPARE(*dialog->newJob().runAt, QDateTime(QDate(2030, 1, 2), QTime(3, 5, 5), Qt::UTC));
    // Other run choices replace the stored time.
    f.runNow->setChecked(true);
    QVERIFY(!dialog->newJob().runAt);
    QVERIFY(!dialog->newJob().delaySeconds);
    // Changed names are trimmed.
    f.queue->setEditText(u" other "_s);
    QCOMPARE(dialog->newJob().queue, u"other"_s);
}

void TestJobDialog::deferredAccept()
{
    auto dialog = enqueueDialog();
    Fields f(dialog.get());
    dialog->setDeferredAccept(true);
    dialog->show();
    QVERIFY(QTest::qWaitForWindowExposed(dialog.get()));
    f.type->setEditText(u"Mail"_s);

    QSignalSpy submitted(dialog.get(), &JobDialog::submitRequested);
    QSignalSpy accepted(dialog.get(), &QDialog::accepted);
    QTest::mouseClick(f.ok, Qt::LeftButton);
    QCOMPARE(submitted.size(), 1);
    QCOMPARE(accepted.size(), 0);
    QVERIFY(dialog->isVisible());
    QVERIFY(dialog->isBusy());
    QVERIFY(!f.ok->isEnabled());
    QVERIFY(!f.type->isEnabled());

    // The store refused: the dialog stays open with the message, ready to try again.
    dialog->showError(u"The database is locked."_s);
    QVERIFY(dialog->isVisible());
    QVERIFY(!dialog->isBusy());
    QCOMPARE(dialog->statusText(), u"The database is locked."_s);
    QVERIFY(f.ok->isEnabled());
    QVERIFY(f.type->isEnabled());
    // Editing clears the message; a validation problem would take its place.
    f.queue->setEditText(u"other"_s);
    QCOMPARE(dialog->statusText(), QString());

    QTest::mouseClick(f.ok, Qt::LeftButton);
    QCOMPARE(submitted.size(), 2);
    dialog->accept(); // the caller's success
    QCOMPARE(accepted.size(), 1);
    QVERIFY(!dialog->isVisible());
}

void TestJobDialog::editConflictWithSqlite()
{
    auto settings = ConnectionSettings::fromUrl(OddJobs::Test::freshSqliteUrl());
    VERIFY_OK(settings);
    auto opened = JobStore::open(*settings);
    VERIFY_OK(opened);
    std::unique_ptr<JobStore> store = std::move(opened.value());
    VERIFY_OK(store->migrate());

    // Enqueue through the dialog.
    auto enqueue = enqueueDialog();
    {
        Fields f(enqueue.get());
        f.type->setEditText(u"Mail"_s);
        f.payload->setPlainText(u"{\"to\": \"a@example.com\"}"_s);
        f.queue->setEditText(u"mail"_s);
        f.priority->setValue(3);
        f.maxAttemptsDefault->setChecked(false);
        f.maxAttempts->setValue(5);
        f.runIn->setChecked(true);
        f.delayUnit->setCurrentIndex(2);
        f.delay->setValue(1); // an hour from now
        QVERIFY(f.ok->isEnabled());
    }
    auto created = store->enqueue(enqueue->newJob());
    VERIFY_OK(created);
    const Job job = *created;
    QCOMPARE(job.type(), u"Mail"_s);
    QCOMPARE(job.payload.toObject().value(u"contents"_s).toObject().value(u"to"_s).toString(),
             u"a@example.com"_s);
    QCOMPARE(job.queue, u"mail"_s);
    QCOMPARE(job.priority, 3);
    QCOMPARE(job.maxAttempts, std::optional<int>(5));
    QCOMPARE(job.timeoutSeconds, std::optional<int>());
    QVERIFY(job.runAt > job.createdAt.addSecs(3500));
    auto types = store->jobTypes();
    VERIFY_OK(types);
    auto queues = store->queues();
    VERIFY_OK(queues);

    // An unchanged edit dialog writes the job back as it was.
    {
        std::unique_ptr<JobDialog> same(JobDialog::forEdit(job, *types, *queues, nullptr));
        auto saved = store->edit(same->jobId(), same->newJob(), same->revision());
        VERIFY_OK(saved);
        QCOMPARE(saved->payload, job.payload);
        QCOMPARE(saved->runAt, job.runAt);
        QCOMPARE(saved->queue, job.queue);
        QCOMPARE(saved->priority, job.priority);
        QCOMPARE(saved->maxAttempts, job.maxAttempts);
        QCOMPARE(saved->timeoutSeconds, job.timeoutSeconds);
        QVERIFY(saved->revision != job.revision);
    }
    auto reread = store->find(job.id);
    VERIFY_OK(reread);
    QVERIFY(reread->has_value());
    const Job current = **reread;

    // The user opens the edit dialog; meanwhile someone else changes the job.
    std::unique_ptr<JobDialog> dialog(JobDialog::forEdit(current, *types, *queues, nullptr));
    Fields f(dialog.get());
    dialog->setDeferredAccept(true);
    dialog->show();
    QVERIFY(QTest::qWaitForWindowExposed(dialog.get()));
    QCOMPARE(dialog->revision(), current.revision);
    NewJob theirs = editableFields(current);
    theirs.priority = 1;
    VERIFY_OK(store->edit(current.id, theirs, current.revision));

    f.priority->setValue(9);
    QString refusal;
    connect(dialog.get(), &JobDialog::submitRequested, this, [&] {
        auto result = store->edit(dialog->jobId(), dialog->newJob(), dialog->revision());
        if (result) {
            dialog->accept();
            return;
        }
        QCOMPARE(result.error().code, ErrorCode::Conflict);
        refusal = u"Job %1 was changed by someone else. Reopen it to see the changes."_s.arg(
            current.id);
        dialog->showError(refusal);
    });
    QTest::mouseClick(f.ok, Qt::LeftButton);
    QVERIFY(!refusal.isEmpty());
    QVERIFY(dialog->isVisible());
    QCOMPARE(dialog->result(), int(QDialog::Rejected));
    QCOMPARE(dialog->statusText(), refusal);
    QVERIFY(f.ok->isEnabled());
    QCOMPARE(f.priority->value(), 9); // the user's input is kept

    // Nothing was written over the other change.
    auto after = store->find(current.id);
    VERIFY_OK(after);
    QCOMPARE((*after)->priority, 1);
}

QTEST_MAIN(TestJobDialog)
#include "tst_jobdialog.moc"
