// The log pane: LogModel's bounded ring buffer and coalesced inserts, LogFilterProxy's
// filters, and LogPanel's copy, export and auto-scroll. Every model and proxy runs under
// QAbstractItemModelTester, attached before the first row arrives.

#include "logfilterproxy.h"
#include "logmodel.h"
#include "logpanel.h"
#include "modelrecorder.h"
#include "support/testhelpers.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

using namespace OddJobs;
using namespace OddJobs::Ui;
using namespace Qt::StringLiterals;

namespace {

const QDateTime BaseTime(QDate(2024, 5, 1), QTime(12, 0, 0), Qt::UTC);

// Event number `n`: its message is "event n", so a row's event is easy to identify.
LogEvent makeEvent(int n, LogLevel level = LogLevel::Info, LogEventKind kind = LogEventKind::Text,
                   qint64 jobId = 0, const QString &type = QString(),
                   const QString &message = QString())
{
    LogEvent event;
    event.time = BaseTime.addMSecs(qint64(n) * 10);
    event.level = level;
    event.kind = kind;
    event.worker = u"host:1:a"_s;
    event.message = message.isNull() ? u"event %1"_s.arg(n) : message;
    if (jobId > 0) {
        Job job;
        job.id = jobId;
        job.payload = QJsonObject { { u"tag"_s, type } };
        job.attempts = 1;
        job.queue = u"default"_s;
        event.job = job;
    }
    return event;
}

// The event numbers the model holds, oldest first: "3 4 5".
QString numbersOf(const LogModel &model)
{
    QStringList numbers;
    for (int row = 0; row < model.rowCount(); ++row)
        numbers << model.event(row).message.section(u' ', 1);
    return numbers.join(u' ');
}

// The messages a proxy shows, in order.
QString messagesOf(const QAbstractItemModel &model)
{
    QStringList messages;
    for (int row = 0; row < model.rowCount(); ++row)
        messages << model.index(row, LogModel::MessageColumn).data().toString();
    return messages.join(u", "_s);
}

QString readFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return u"<cannot read %1>"_s.arg(path);
    return QString::fromUtf8(file.readAll());
}

} // namespace

class TestLogModel : public QObject
{
    Q_OBJECT

private slots:
    // LogModel
    void emptyModel();
    void appendIsCoalesced();
    void flushPendingInsertsOnce();
    void overflow_data();
    void overflow();
    void ringWrapsAround();
    void shrinkCapacity();
    void clearRemovesRowsAndPending();
    void displayAndRoles();

    // LogFilterProxy
    void proxyFilters_data();
    void proxyFilters();
    void proxyFollowsSource();
    void proxyFilterChangeAndClear();

    // LogPanel
    void exportText();
    void exportJsonLines_data();
    void exportJsonLines();
    void exportShowsWhatIsFiltered();
    void exportReportsErrors();
    void copySelection();
    void panelControlsDriveProxy();
    void autoScrollOnlyAtBottom();
};

void TestLogModel::emptyModel()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.columnCount(), int(LogModel::ColumnCount));
    QCOMPARE(model.capacity(), LogModel::DefaultCapacity);
    QCOMPARE(model.flushInterval(), LogModel::DefaultFlushIntervalMs);
    QCOMPARE(model.headerData(LogModel::MessageColumn, Qt::Horizontal).toString(), u"Message"_s);
    model.flushPending(); // nothing pending: no signal
    model.clear();
}

void TestLogModel::appendIsCoalesced()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    for (int n = 0; n < 50; ++n)
        model.append(makeEvent(n));
    // Nothing reaches the view synchronously...
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.pendingCount(), 50);
    // ...and the burst arrives as one insertion when the flush timer fires.
    QTRY_COMPARE(model.rowCount(), 50);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.first().at(1).toInt(), 0);
    QCOMPARE(inserted.first().at(2).toInt(), 49);
    QCOMPARE(model.pendingCount(), 0);
    QCOMPARE(numbersOf(model).section(u' ', 0, 2), u"0 1 2"_s);

    // A second burst is another single insertion after the first.
    for (int n = 50; n < 60; ++n)
        model.append(makeEvent(n));
    QTRY_COMPARE(model.rowCount(), 60);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(inserted.last().at(1).toInt(), 50);
    QCOMPARE(inserted.last().at(2).toInt(), 59);
}

void TestLogModel::flushPendingInsertsOnce()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    ModelRecorder recorder(&model);
    model.append(makeEvent(1));
    model.append(makeEvent(2));
    model.append(makeEvent(3));
    model.flushPending();
    QCOMPARE(recorder.take(), u"insert(0,2)"_s);
    QCOMPARE(numbersOf(model), u"1 2 3"_s);
    // The timer was stopped by the explicit flush: nothing more arrives later.
    QTest::qWait(LogModel::DefaultFlushIntervalMs * 2);
    QCOMPARE(recorder.take(), QString());
}

void TestLogModel::overflow_data()
{
    QTest::addColumn<int>("capacity");
    QTest::addColumn<int>("initial");
    QTest::addColumn<int>("added");
    QTest::addColumn<QString>("signalSequence");
    QTest::addColumn<QString>("numbers");

    QTest::addRow("fits") << 5 << 2 << 2 << u"insert(2,3)"_s << u"0 1 2 3"_s;
    QTest::addRow("fills exactly") << 5 << 3 << 2 << u"insert(3,4)"_s << u"0 1 2 3 4"_s;
    QTest::addRow("overflows by two")
        << 5 << 3 << 4 << u"remove(0,1) insert(1,4)"_s << u"2 3 4 5 6"_s;
    QTest::addRow("full, one more")
        << 5 << 5 << 1 << u"remove(0,0) insert(4,4)"_s << u"1 2 3 4 5"_s;
    QTest::addRow("full, a whole buffer more")
        << 3 << 3 << 3 << u"remove(0,2) insert(0,2)"_s << u"3 4 5"_s;
    QTest::addRow("burst larger than the buffer")
        << 5 << 3 << 8 << u"remove(0,2) insert(0,4)"_s << u"6 7 8 9 10"_s;
    QTest::addRow("burst larger than an empty buffer")
        << 3 << 0 << 10 << u"insert(0,2)"_s << u"7 8 9"_s;
}

void TestLogModel::overflow()
{
    QFETCH(int, capacity);
    QFETCH(int, initial);
    QFETCH(int, added);
    QFETCH(QString, signalSequence);
    QFETCH(QString, numbers);

    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setCapacity(capacity);
    int n = 0;
    for (; n < initial; ++n)
        model.append(makeEvent(n));
    model.flushPending();

    ModelRecorder recorder(&model);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    for (int i = 0; i < added; ++i, ++n)
        model.append(makeEvent(n));
    model.flushPending();

    QCOMPARE(recorder.take(), signalSequence);
    // At most one removal and exactly one insertion per flush, never a reset.
    QVERIFY(removed.count() <= 1);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(numbersOf(model), numbers);
    QCOMPARE(model.rowCount(), qMin(capacity, initial + added));
    QCOMPARE(model.discardedCount(), qint64(qMax(0, initial + added - capacity)));
}

void TestLogModel::ringWrapsAround()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setCapacity(4);
    ModelRecorder recorder(&model);
    // One event per flush for three times around the ring, then bursts of three.
    int n = 0;
    for (; n < 12; ++n) {
        model.append(makeEvent(n));
        model.flushPending();
        QStringList expected;
        for (int k = qMax(0, n - 3); k <= n; ++k)
            expected << QString::number(k);
        QCOMPARE(numbersOf(model), expected.join(u' '));
    }
    QCOMPARE(recorder.take().count(u"remove(0,0)"_s), 8);
    for (int burst = 0; burst < 5; ++burst) {
        for (int i = 0; i < 3; ++i, ++n)
            model.append(makeEvent(n));
        model.flushPending();
        QCOMPARE(recorder.take(), u"remove(0,2) insert(1,3)"_s);
        QCOMPARE(numbersOf(model), u"%1 %2 %3 %4"_s.arg(n - 4).arg(n - 3).arg(n - 2).arg(n - 1));
    }
}

void TestLogModel::shrinkCapacity()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setCapacity(10);
    for (int n = 0; n < 8; ++n)
        model.append(makeEvent(n));
    model.flushPending();
    ModelRecorder recorder(&model);

    model.setCapacity(5);
    QCOMPARE(recorder.take(), u"remove(0,2)"_s);
    QCOMPARE(numbersOf(model), u"3 4 5 6 7"_s);

    model.append(makeEvent(8));
    model.flushPending();
    QCOMPARE(recorder.take(), u"remove(0,0) insert(4,4)"_s);
    QCOMPARE(numbersOf(model), u"4 5 6 7 8"_s);

    // Growing keeps every row and makes room.
    model.setCapacity(7);
    QCOMPARE(recorder.take(), QString());
    model.append(makeEvent(9));
    model.append(makeEvent(10));
    model.flushPending();
    QCOMPARE(recorder.take(), u"insert(5,6)"_s);
    QCOMPARE(numbersOf(model), u"4 5 6 7 8 9 10"_s);

    model.setCapacity(0); // clamped to 1
    QCOMPARE(model.capacity(), 1);
    QCOMPARE(recorder.take(), u"remove(0,5)"_s);
    QCOMPARE(numbersOf(model), u"10"_s);
}

void TestLogModel::clearRemovesRowsAndPending()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setCapacity(3);
    for (int n = 0; n < 5; ++n)
        model.append(makeEvent(n));
    model.flushPending();
    model.append(makeEvent(5)); // pending when clear() comes
    ModelRecorder recorder(&model);

    model.clear();
    QCOMPARE(recorder.take(), u"remove(0,2)"_s);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.pendingCount(), 0);
    QCOMPARE(model.discardedCount(), qint64(0));
    QTest::qWait(LogModel::DefaultFlushIntervalMs * 2);
    QCOMPARE(recorder.take(), QString()); // the pending event is gone for good

    model.clear(); // empty: no signal
    QCOMPARE(recorder.take(), QString());

    // The buffer works as before after a clear.
    for (int n = 10; n < 14; ++n)
        model.append(makeEvent(n));
    model.flushPending();
    QCOMPARE(recorder.take(), u"insert(0,2)"_s);
    QCOMPARE(numbersOf(model), u"11 12 13"_s);
}

void TestLogModel::displayAndRoles()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    LogEvent done
        = makeEvent(1, LogLevel::Info, LogEventKind::JobSuccess, 42, u"send-email"_s, QString());
    done.message.clear();
    done.durationMs = 1500;
    model.append(done);
    model.append(makeEvent(2, LogLevel::Error, LogEventKind::DatabaseError, 0, QString(),
                           u"connection lost"_s));
    model.flushPending();

    auto cell = [&model](int row, int column, int role = Qt::DisplayRole) {
        return model.index(row, column).data(role);
    };
    QCOMPARE(cell(0, LogModel::TimeColumn).toString(),
             BaseTime.addMSecs(10).toLocalTime().toString(u"HH:mm:ss.zzz"_s));
    QCOMPARE(cell(0, LogModel::LevelColumn).toString(), u"Info"_s);
    QCOMPARE(cell(0, LogModel::EventColumn).toString(), u"Succeeded"_s);
    QCOMPARE(cell(0, LogModel::EventColumn, Qt::ToolTipRole).toString(), u"job-success"_s);
    QCOMPARE(cell(0, LogModel::JobColumn).toString(), u"42"_s);
    QCOMPARE(cell(0, LogModel::TypeColumn).toString(), u"send-email"_s);
    QCOMPARE(cell(0, LogModel::MessageColumn).toString(), u"took 1.5 s"_s);
    QVERIFY(!cell(0, LogModel::LevelColumn, Qt::DecorationRole).value<QIcon>().isNull());
    QCOMPARE(cell(0, LogModel::LevelColumn, LogModel::LevelRole).toInt(), int(LogLevel::Info));
    QCOMPARE(cell(0, LogModel::MessageColumn, LogModel::KindRole).toInt(),
             int(LogEventKind::JobSuccess));
    QCOMPARE(cell(0, LogModel::TimeColumn, LogModel::TimeRole).toDateTime(), BaseTime.addMSecs(10));
    QCOMPARE(cell(0, LogModel::TimeColumn, LogModel::JobIdRole).toLongLong(), qint64(42));
    QCOMPARE(cell(0, LogModel::TimeColumn, LogModel::SortRole).toLongLong(),
             BaseTime.addMSecs(10).toMSecsSinceEpoch());

    QCOMPARE(cell(1, LogModel::LevelColumn).toString(), u"Error"_s);
    QCOMPARE(cell(1, LogModel::EventColumn).toString(), u"Database error"_s);
    QCOMPARE(cell(1, LogModel::JobColumn).toString(), QString());
    QVERIFY(!cell(1, LogModel::JobColumn, LogModel::JobIdRole).isValid());
    QCOMPARE(cell(1, LogModel::MessageColumn).toString(), u"connection lost"_s);
    // Levels differ in colour (and icon shape), in light and dark palettes alike.
    // Errors stand out in colour; info rows keep the normal text colour (the icon is blue).
    QVERIFY(!cell(0, LogModel::LevelColumn, Qt::ForegroundRole).isValid());
    const QColor error = cell(1, LogModel::LevelColumn, Qt::ForegroundRole).value<QColor>();
    QVERIFY(error.isValid());
    QCOMPARE(cell(1, LogModel::MessageColumn, Qt::ForegroundRole).value<QColor>(), error);
    QVERIFY(LogModel::levelColor(LogLevel::Info, QPalette()) != error);
    QPalette dark;
    dark.setColor(QPalette::Base, QColor(0x20, 0x20, 0x20));
    QVERIFY(LogModel::levelColor(LogLevel::Error, dark).lightness() > error.lightness());
}

void TestLogModel::proxyFilters_data()
{
    QTest::addColumn<int>("minimumLevel");
    QTest::addColumn<QList<int>>("hiddenKinds");
    QTest::addColumn<QString>("search");
    QTest::addColumn<QString>("expected");

    const QList<int> none;
    QTest::addRow("everything")
        << int(LogLevel::Debug) << none << QString()
        << u"polling, mail started, mail failed: SMTP timeout, render done, db down"_s;
    QTest::addRow("info and above")
        << int(LogLevel::Info) << none << QString()
        << u"mail started, mail failed: SMTP timeout, render done, db down"_s;
    QTest::addRow("warnings and errors")
        << int(LogLevel::Warning) << none << QString() << u"mail failed: SMTP timeout, db down"_s;
    QTest::addRow("errors only") << int(LogLevel::Error) << none << QString() << u"db down"_s;
    QTest::addRow("without starts and polls")
        << int(LogLevel::Debug)
        << QList<int> { int(LogEventKind::JobStart), int(LogEventKind::Poll) } << QString()
        << u"mail failed: SMTP timeout, render done, db down"_s;
    QTest::addRow("search message, any case")
        << int(LogLevel::Debug) << none << u"smtp"_s << u"mail failed: SMTP timeout"_s;
    QTest::addRow("search type") << int(LogLevel::Debug) << none << u"RENDER-pdf"_s
                                 << u"render done"_s;
    QTest::addRow("search job id")
        << int(LogLevel::Debug) << none << u"1007"_s << u"mail failed: SMTP timeout"_s;
    QTest::addRow("search trims") << int(LogLevel::Debug) << none << u"  db  "_s << u"db down"_s;
    QTest::addRow("search does not match the event label")
        << int(LogLevel::Debug) << none << u"Database error"_s << QString();
    QTest::addRow("all three") << int(LogLevel::Info) << QList<int> { int(LogEventKind::JobStart) }
                               << u"mail"_s << u"mail failed: SMTP timeout"_s;
}

void TestLogModel::proxyFilters()
{
    QFETCH(int, minimumLevel);
    QFETCH(QList<int>, hiddenKinds);
    QFETCH(QString, search);
    QFETCH(QString, expected);

    LogModel model;
    LogFilterProxy proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester modelTester(&model,
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester proxyTester(&proxy,
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.append(makeEvent(1, LogLevel::Debug, LogEventKind::Poll, 0, QString(), u"polling"_s));
    model.append(
        makeEvent(2, LogLevel::Info, LogEventKind::JobStart, 1006, u"mail"_s, u"mail started"_s));
    model.append(makeEvent(3, LogLevel::Warning, LogEventKind::JobFailed, 1007, u"mail"_s,
                           u"mail failed: SMTP timeout"_s));
    model.append(makeEvent(4, LogLevel::Info, LogEventKind::JobSuccess, 2001, u"render-pdf"_s,
                           u"render done"_s));
    model.append(
        makeEvent(5, LogLevel::Error, LogEventKind::DatabaseError, 0, QString(), u"db down"_s));
    model.flushPending();

    QSignalSpy changed(&proxy, &LogFilterProxy::filterChanged);
    proxy.setMinimumLevel(LogLevel(minimumLevel));
    for (int kind : std::as_const(hiddenKinds))
        proxy.setKindShown(LogEventKind(kind), false);
    proxy.setSearchText(search);
    QCOMPARE(messagesOf(proxy), expected);
    QCOMPARE(proxy.isFiltering(),
             minimumLevel != int(LogLevel::Debug) || !hiddenKinds.isEmpty()
                 || !search.trimmed().isEmpty());
    QCOMPARE(changed.count(),
             (minimumLevel != int(LogLevel::Debug) ? 1 : 0) + int(hiddenKinds.size())
                 + (search.trimmed().isEmpty() ? 0 : 1));

    // Back to no filter: everything again, in the original order.
    proxy.setMinimumLevel(LogLevel::Debug);
    proxy.setShownKinds(LogModel::allKinds());
    proxy.setSearchText(QString());
    QVERIFY(!proxy.isFiltering());
    QCOMPARE(proxy.rowCount(), 5);
    QCOMPARE(messagesOf(proxy),
             u"polling, mail started, mail failed: SMTP timeout, render done, db down"_s);
}

void TestLogModel::proxyFollowsSource()
{
    LogModel model;
    LogFilterProxy proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester modelTester(&model,
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester proxyTester(&proxy,
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setCapacity(4);
    proxy.setMinimumLevel(LogLevel::Warning);
    ModelRecorder recorder(&proxy);

    // Info, Warning, Info, Warning: only the warnings (source rows 1 and 3) come through.
    for (int n = 0; n < 4; ++n)
        model.append(makeEvent(n, n % 2 ? LogLevel::Warning : LogLevel::Info));
    model.flushPending();
    QCOMPARE(messagesOf(proxy), u"event 1, event 3"_s);
    QCOMPARE(recorder.take(), u"insert(0,1)"_s);

    // Two more: the buffer drops events 0 and 1; the proxy loses event 1 and gains event 5.
    model.append(makeEvent(4, LogLevel::Info));
    model.append(makeEvent(5, LogLevel::Error));
    model.flushPending();
    QCOMPARE(messagesOf(proxy), u"event 3, event 5"_s);
    QCOMPARE(recorder.take(), u"remove(0,0) insert(1,1)"_s);

    // Nothing shown drops out and nothing new matches: the proxy stays quiet.
    model.append(makeEvent(6, LogLevel::Info));
    model.flushPending();
    QCOMPARE(recorder.take(), QString());
    QCOMPARE(messagesOf(proxy), u"event 3, event 5"_s);
}

void TestLogModel::proxyFilterChangeAndClear()
{
    LogModel model;
    LogFilterProxy proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester modelTester(&model,
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester proxyTester(&proxy,
                                         QAbstractItemModelTester::FailureReportingMode::Fatal);
    for (int n = 0; n < 6; ++n)
        model.append(makeEvent(n, n < 3 ? LogLevel::Info : LogLevel::Error));
    model.flushPending();
    ModelRecorder recorder(&proxy);

    proxy.setMinimumLevel(LogLevel::Error);
    QCOMPARE(recorder.take(), u"remove(0,2)"_s); // rows go, no reset
    proxy.setMinimumLevel(LogLevel::Error); // unchanged: nothing
    QCOMPARE(recorder.take(), QString());
    proxy.setMinimumLevel(LogLevel::Info);
    QCOMPARE(recorder.take(), u"insert(0,2)"_s);
    QCOMPARE(proxy.rowCount(), 6);

    model.clear();
    QCOMPARE(recorder.take(), u"remove(0,5)"_s);
    QCOMPARE(proxy.rowCount(), 0);
}

void TestLogModel::exportText()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    LogPanel panel;
    const QList<LogEvent> events {
        makeEvent(1, LogLevel::Info, LogEventKind::JobStart, 7, u"mail"_s, QString()),
        makeEvent(2, LogLevel::Warning, LogEventKind::JobFailed, 7, u"mail"_s, u"SMTP timeout"_s),
        makeEvent(3, LogLevel::Error, LogEventKind::DatabaseError, 0, QString(),
                  u"connection lost"_s),
    };
    for (const LogEvent &event : events)
        panel.addEvent(event); // still pending: exportTo() flushes first

    const QString path = dir.filePath(u"log.txt"_s);
    QString error;
    QVERIFY2(panel.exportTo(path, &error), qPrintable(error));
    QString expected;
    for (const LogEvent &event : events)
        expected += event.toText() + u'\n';
    QCOMPARE(readFile(path), expected);
    QVERIFY(expected.contains(u"WARNING job-failed job=7 type=mail attempt=1 SMTP timeout"_s));
}

void TestLogModel::exportJsonLines_data()
{
    QTest::addColumn<QString>("fileName");
    QTest::addRow("jsonl") << u"log.jsonl"_s;
    QTest::addRow("json") << u"log.json"_s;
    QTest::addRow("upper case suffix") << u"LOG.JSONL"_s;
}

void TestLogModel::exportJsonLines()
{
    QFETCH(QString, fileName);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    LogPanel panel;
    LogEvent success
        = makeEvent(1, LogLevel::Info, LogEventKind::JobSuccess, 9, u"render"_s, QString());
    success.durationMs = 250;
    success.details = QJsonObject { { u"result_bytes"_s, 12 } };
    const QList<LogEvent> events {
        success, makeEvent(2, LogLevel::Info, LogEventKind::Text, 0, QString(), u"hello \"x\""_s)
    };
    for (const LogEvent &event : events)
        panel.addEvent(event);

    const QString path = dir.filePath(fileName);
    QString error;
    QVERIFY2(panel.exportTo(path, &error), qPrintable(error));
    const QStringList lines = readFile(path).split(u'\n');
    QCOMPARE(lines.size(), events.size() + 1); // a newline ends every line
    QCOMPARE(lines.last(), QString());
    for (qsizetype i = 0; i < events.size(); ++i) {
        QCOMPARE(lines.at(i), events.at(i).toJsonLine());
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(lines.at(i).toUtf8(), &parseError);
        QCOMPARE(parseError.error, QJsonParseError::NoError);
        QCOMPARE(doc.object(), events.at(i).toJson());
    }
    QCOMPARE(QJsonDocument::fromJson(lines.at(0).toUtf8()).object().value(u"duration_ms"_s).toInt(),
             250);
}

void TestLogModel::exportShowsWhatIsFiltered()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    LogPanel panel;
    const LogEvent warning
        = makeEvent(2, LogLevel::Warning, LogEventKind::JobFailed, 5, u"mail"_s, u"boom"_s);
    panel.addEvent(makeEvent(1, LogLevel::Info));
    panel.addEvent(warning);
    panel.addEvent(makeEvent(3, LogLevel::Debug, LogEventKind::Poll));
    panel.proxy()->setMinimumLevel(LogLevel::Warning);
    const QString path = dir.filePath(u"warnings.log"_s);
    QVERIFY(panel.exportTo(path));
    QCOMPARE(readFile(path), warning.toText() + u'\n');
}

void TestLogModel::exportReportsErrors()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    LogPanel panel;
    panel.addEvent(makeEvent(1));
    QString error;
    QVERIFY(!panel.exportTo(dir.filePath(u"no/such/dir/log.txt"_s), &error));
    QVERIFY2(error.contains(u"log.txt"_s), qPrintable(error));
    QVERIFY(
        !panel.exportTo(dir.filePath(u"no/such/dir/log.txt"_s))); // a null error pointer is fine
}

void TestLogModel::copySelection()
{
    LogPanel panel;
    QList<LogEvent> events;
    for (int n = 0; n < 4; ++n)
        events << makeEvent(n, LogLevel::Info, LogEventKind::JobStart, 100 + n, u"mail"_s,
                            QString());
    for (const LogEvent &event : std::as_const(events))
        panel.addEvent(event);
    panel.model()->flushPending();
    QCOMPARE(panel.view()->model()->rowCount(), 4);

    // Selected out of order: copied in view order.
    QItemSelectionModel *selection = panel.view()->selectionModel();
    const QAbstractItemModel *shown = panel.view()->model();
    selection->select(shown->index(2, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    selection->select(shown->index(0, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    QCOMPARE(panel.selectedText(), events.at(0).toText() + u'\n' + events.at(2).toText());

    QApplication::clipboard()->clear();
    panel.copySelection();
    QCOMPARE(QApplication::clipboard()->text(),
             events.at(0).toText() + u'\n' + events.at(2).toText());

    // Nothing selected: the clipboard is left alone.
    QApplication::clipboard()->setText(u"unchanged"_s);
    selection->clearSelection();
    panel.copySelection();
    QCOMPARE(QApplication::clipboard()->text(), u"unchanged"_s);
}

void TestLogModel::panelControlsDriveProxy()
{
    LogPanel panel;
    // Debug events (polls) are hidden by default.
    QCOMPARE(panel.proxy()->minimumLevel(), LogLevel::Info);
    auto *levels = panel.findChild<QComboBox *>(u"levelCombo"_s);
    QVERIFY(levels);
    levels->setCurrentIndex(levels->count() - 1);
    QCOMPARE(panel.proxy()->minimumLevel(), LogLevel::Error);
    levels->setCurrentIndex(0);
    QCOMPARE(panel.proxy()->minimumLevel(), LogLevel::Debug);

    auto *search = panel.findChild<QLineEdit *>(u"searchEdit"_s);
    QVERIFY(search);
    search->setText(u"mail"_s);
    QCOMPARE(panel.proxy()->searchText(), u"mail"_s);

    auto *kinds = panel.findChild<QPushButton *>(u"kindButton"_s);
    QVERIFY(kinds && kinds->menu());
    QAction *pollAction = nullptr;
    const QList<QAction *> actions = kinds->menu()->actions();
    for (QAction *action : actions) {
        if (action->isCheckable() && action->data().toInt() == int(LogEventKind::Poll))
            pollAction = action;
    }
    QVERIFY(pollAction);
    QVERIFY(pollAction->isChecked());
    pollAction->trigger();
    QVERIFY(!panel.proxy()->isKindShown(LogEventKind::Poll));
    QCOMPARE(kinds->text(), u"Events: 13 of 14"_s);
    // Changing the proxy directly updates the menu too.
    panel.proxy()->setShownKinds(LogModel::allKinds());
    QVERIFY(pollAction->isChecked());
    QCOMPARE(kinds->text(), u"All events"_s);

    // The status counts what is shown of what is held.
    search->clear();
    auto *status = panel.findChild<QLabel *>(u"statusLabel"_s);
    QVERIFY(status);
    QCOMPARE(status->text(), u"0 events"_s);
    panel.addEvent(makeEvent(1));
    panel.model()->flushPending();
    QCOMPARE(status->text(), u"1 event"_s);
    panel.addEvent(makeEvent(2));
    panel.addEvent(makeEvent(3, LogLevel::Error));
    panel.model()->flushPending();
    QCOMPARE(status->text(), u"3 events"_s);
    levels->setCurrentIndex(levels->count() - 1);
    QCOMPARE(status->text(), u"1 of 3 events"_s);
}

void TestLogModel::autoScrollOnlyAtBottom()
{
    LogPanel panel;
    panel.resize(700, 220);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QScrollBar *scroll = panel.view()->verticalScrollBar();
    int n = 0;
    for (; n < 200; ++n)
        panel.addEvent(makeEvent(n));
    QTRY_VERIFY(scroll->maximum() > 0);
    QTRY_COMPARE(scroll->value(), scroll->maximum());
    QVERIFY(panel.isFollowingTail());

    // The user scrolls up to read: new rows no longer move the view.
    scroll->setValue(0);
    QVERIFY(!panel.isFollowingTail());
    const int maximumBefore = scroll->maximum();
    for (; n < 260; ++n)
        panel.addEvent(makeEvent(n));
    QTRY_VERIFY(scroll->maximum() > maximumBefore);
    QCOMPARE(scroll->value(), 0);

    // Back at the bottom: following again.
    scroll->setValue(scroll->maximum());
    QVERIFY(panel.isFollowingTail());
    const int maximumAfter = scroll->maximum();
    for (; n < 300; ++n)
        panel.addEvent(makeEvent(n));
    QTRY_VERIFY(scroll->maximum() > maximumAfter);
    QTRY_COMPARE(scroll->value(), scroll->maximum());
}

QTEST_MAIN(TestLogModel)
#include "tst_logmodel.moc"
