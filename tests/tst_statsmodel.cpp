// Statistics: StatsModel's incremental merge (exact signal sequences under
// QAbstractItemModelTester), ThroughputChart's painting, StatsPanel against a real SQLite
// store through a StoreClient, and JobStore::throughput() on SQLite and PostgreSQL.

#include "modelrecorder.h"
#include "statsmodel.h"
#include "statspanel.h"
#include "storeclient.h"
#include "storetestutil.h"
#include "throughputchart.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QImage>
#include <QLabel>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSqlQuery>
#include <QTableView>
#include <QTest>
#include <set>

using namespace OddJobs;
using namespace OddJobs::Ui;
using namespace StoreTest;
using namespace Qt::StringLiterals;

namespace {

constexpr int Window = 3600;

// Statistics from a compact spec, one type per word:
//   "mail:q=1,s=4,sw=3,fw=1,p50=0.25 render"
// q queued, l locked (running), r retry, s success, f failed, c cancelled; sw/fw succeeded and
// failed in the window (rate and throughput follow from them); p50/p95 durations in seconds.
QList<TypeStatistics> parseStats(const QString &spec)
{
    QList<TypeStatistics> list;
    const QStringList words = spec.split(u' ', Qt::SkipEmptyParts);
    for (const QString &word : words) {
        TypeStatistics s;
        s.type = word.section(u':', 0, 0);
        const QStringList fields = word.section(u':', 1).split(u',', Qt::SkipEmptyParts);
        for (const QString &field : fields) {
            const QString key = field.section(u'=', 0, 0);
            const QString value = field.section(u'=', 1);
            if (key == u"q"_s)
                s.queued = value.toLongLong();
            else if (key == u"l"_s)
                s.locked = value.toLongLong();
            else if (key == u"r"_s)
                s.retry = value.toLongLong();
            else if (key == u"s"_s)
                s.success = value.toLongLong();
            else if (key == u"f"_s)
                s.failed = value.toLongLong();
            else if (key == u"c"_s)
                s.cancelled = value.toLongLong();
            else if (key == u"sw"_s)
                s.succeededInWindow = value.toLongLong();
            else if (key == u"fw"_s)
                s.failedInWindow = value.toLongLong();
            else if (key == u"p50"_s)
                s.durationP50Seconds = value.toDouble();
            else if (key == u"p95"_s)
                s.durationP95Seconds = value.toDouble();
            else
                qFatal("bad stats spec field %s", qPrintable(field));
        }
        s.finishedInWindow = s.succeededInWindow + s.failedInWindow;
        s.successRate = s.finishedInWindow ? double(s.succeededInWindow) / s.finishedInWindow : 0;
        s.throughputPerSecond = double(s.succeededInWindow) / Window;
        list << s;
    }
    return list;
}

QString typesOf(const StatsModel &model)
{
    QStringList types;
    for (int row = 0; row < model.rowCount(); ++row)
        types << model.typeAt(row);
    return types.join(u' ');
}

// A row's cells as shown, separated by " | ".
QString rowText(const QAbstractItemModel &model, int row)
{
    QStringList cells;
    for (int column = 0; column < model.columnCount(); ++column)
        cells << model.index(row, column).data().toString();
    return cells.join(u" | "_s);
}

// Distinct colours in an image: a blank render has one.
int colourCount(const QImage &image)
{
    std::set<QRgb> colours;
    for (int y = 0; y < image.height(); ++y) {
        const auto *line = reinterpret_cast<const QRgb *>(image.constScanLine(y));
        for (int x = 0; x < image.width(); ++x)
            colours.insert(line[x]);
    }
    return int(colours.size());
}

bool containsColour(const QImage &image, const QColor &colour, int fromY = 0)
{
    for (int y = fromY; y < image.height(); ++y) {
        for (int x = 0; x < image.width(); ++x) {
            if (image.pixelColor(x, y).rgb() == colour.rgb())
                return true;
        }
    }
    return false;
}

QList<ThroughputBucket> makeBuckets(int count, int bucketSeconds,
                                    const QList<QPair<qint64, qint64>> &values)
{
    const QDateTime start = QDateTime(QDate(2024, 5, 1), QTime(12, 0), Qt::UTC);
    QList<ThroughputBucket> buckets;
    for (int i = 0; i < count; ++i) {
        ThroughputBucket b;
        b.start = start.addSecs(qint64(i) * bucketSeconds);
        if (i < values.size()) {
            b.succeeded = values.at(i).first;
            b.failed = values.at(i).second;
        }
        buckets << b;
    }
    return buckets;
}

JobOutcome successOutcome(qint64 id)
{
    JobOutcome outcome;
    outcome.id = id;
    outcome.success = true;
    return outcome;
}

} // namespace

class TestStatsModel : public QObject
{
    Q_OBJECT

private slots:
    void init() { failOnQtMisuseWarnings(); }

    // StatsModel
    void merge_data();
    void merge();
    void updateOneCountTouchesOneCell();
    void clearResets();
    void displayTexts();

    // ThroughputChart
    void niceStep_data();
    void niceStep();
    void renders_data();
    void renders();
    void hoverAndToolTip();
    void accessibility();

    // StatsPanel
    void panelWithoutClient();
    void panelShowsStoreCounts();
    void panelDropsStaleResults();
    void panelStopsRefreshingWhenHidden();
    void panelSurvivesDeletedClient();

    // JobStore::throughput
    void throughputBuckets_data() { backendData(); }
    void throughputBuckets();
    void throughputInvalidArguments_data() { backendData(); }
    void throughputInvalidArguments();
};

void TestStatsModel::merge_data()
{
    QTest::addColumn<QString>("before");
    QTest::addColumn<QString>("after");
    QTest::addColumn<QString>("signalSequence");
    QTest::addColumn<QString>("types");

    QTest::addRow("insert into empty, sorted")
        << QString() << u"render mail:q=1 backup"_s << u"insert(0,2)"_s << u"backup mail render"_s;
    QTest::addRow("insert in the middle")
        << u"a c"_s << u"a b c"_s << u"insert(1,1)"_s << u"a b c"_s;
    QTest::addRow("insert at both ends")
        << u"b"_s << u"a b c"_s << u"insert(0,0) insert(2,2)"_s << u"a b c"_s;
    QTest::addRow("insert a run") << u"a e"_s << u"a b c d e"_s << u"insert(1,3)"_s
                                  << u"a b c d e"_s;
    QTest::addRow("nothing changed")
        << u"a:q=1 b:s=2"_s << u"b:s=2 a:q=1"_s << QString() << u"a b"_s;
    QTest::addRow("update one count")
        << u"a:q=1 b:q=1"_s << u"a:q=1 b:q=5"_s << u"changed(1,1:1,1)"_s << u"a b"_s;
    QTest::addRow("update adjacent counts")
        << u"a:q=1,l=1"_s << u"a:q=2,l=0"_s << u"changed(0,1:0,2)"_s << u"a"_s;
    QTest::addRow("update separate counts")
        << u"a:q=1,f=1"_s << u"a:q=2,f=3"_s << u"changed(0,1:0,1) changed(0,5:0,5)"_s << u"a"_s;
    QTest::addRow("window counts change rate and throughput")
        << u"a:sw=1"_s << u"a:sw=1,fw=1"_s << u"changed(0,7:0,8)"_s << u"a"_s;
    QTest::addRow("durations appear")
        << u"a"_s << u"a:p50=0.5,p95=2"_s << u"changed(0,9:0,10)"_s << u"a"_s;
    QTest::addRow("durations vanish")
        << u"a:p50=0.5,p95=2"_s << u"a:p50=0.5"_s << u"changed(0,10:0,10)"_s << u"a"_s;
    QTest::addRow("remove in the middle") << u"a b c"_s << u"a c"_s << u"remove(1,1)"_s << u"a c"_s;
    QTest::addRow("remove a run") << u"a b c d"_s << u"a d"_s << u"remove(1,2)"_s << u"a d"_s;
    QTest::addRow("remove at both ends")
        << u"a b c"_s << u"b"_s << u"remove(0,0) remove(1,1)"_s << u"b"_s;
    QTest::addRow("remove everything") << u"a b"_s << QString() << u"remove(0,1)"_s << QString();
    QTest::addRow("remove, update, insert")
        << u"a:q=1 b:q=1 d:q=1"_s << u"b:q=2 c d:q=1 e"_s
        << u"remove(0,0) changed(0,1:0,1) insert(1,1) insert(3,3)"_s << u"b c d e"_s;
    QTest::addRow("replace every type")
        << u"a b"_s << u"c d"_s << u"remove(0,1) insert(0,1)"_s << u"c d"_s;
    QTest::addRow("names sort case-insensitively")
        << QString() << u"b C a A (unknown)"_s << u"insert(0,4)"_s << u"(unknown) A a b C"_s;
}

void TestStatsModel::merge()
{
    QFETCH(QString, before);
    QFETCH(QString, after);
    QFETCH(QString, signalSequence);
    QFETCH(QString, types);

    StatsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setStatistics(parseStats(before));
    ModelRecorder recorder(&model);
    model.setStatistics(parseStats(after));
    QCOMPARE(recorder.take(), signalSequence);
    QCOMPARE(typesOf(model), types);
    // The rows hold the new values, whatever the merge did.
    const QList<TypeStatistics> expected = parseStats(after);
    for (const TypeStatistics &s : expected) {
        const int row = model.rowOfType(s.type);
        QVERIFY2(row >= 0, qPrintable(s.type));
        QCOMPARE(model.statisticsAt(row).queued, s.queued);
        QCOMPARE(model.statisticsAt(row).failedInWindow, s.failedInWindow);
        QCOMPARE(model.statisticsAt(row).durationP95Seconds, s.durationP95Seconds);
    }
    QCOMPARE(model.rowOfType(u"no such type"_s), -1);
}

void TestStatsModel::updateOneCountTouchesOneCell()
{
    StatsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setStatistics(parseStats(u"backup:s=10 mail:q=3,s=7,sw=7 render:l=1"_s));
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy layout(&model, &QAbstractItemModel::layoutChanged);

    model.setStatistics(parseStats(u"backup:s=10 mail:q=4,s=7,sw=7 render:l=1"_s));
    QCOMPARE(changed.count(), 1);
    const auto topLeft = changed.first().at(0).value<QModelIndex>();
    const auto bottomRight = changed.first().at(1).value<QModelIndex>();
    QCOMPARE(topLeft, model.index(1, StatsModel::QueuedColumn));
    QCOMPARE(bottomRight, model.index(1, StatsModel::QueuedColumn));
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(removed.count(), 0);
    QCOMPARE(reset.count(), 0);
    QCOMPARE(layout.count(), 0);
    QCOMPARE(model.index(1, StatsModel::QueuedColumn).data().toString(), u"4"_s);
}

void TestStatsModel::clearResets()
{
    StatsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setStatistics(parseStats(u"a b c"_s));
    ModelRecorder recorder(&model);
    model.clear();
    QCOMPARE(recorder.take(), u"reset"_s);
    QCOMPARE(model.rowCount(), 0);
    model.setStatistics(parseStats(u"d"_s));
    QCOMPARE(recorder.take(), u"insert(0,0)"_s);
}

void TestStatsModel::displayTexts()
{
    StatsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    QLocale::setDefault(QLocale::c());
    model.setStatistics(parseStats(u"mail:q=1200,l=2,r=3,s=45,f=6,c=7,sw=3,fw=1,p50=0.25,p95=1.5 "
                                   "idle:q=5 fast:sw=36000,p50=0.0004,p95=75"_s));
    QCOMPARE(typesOf(model), u"fast idle mail"_s);
    QCOMPARE(rowText(model, 2),
             u"mail | 1200 | 2 | 3 | 45 | 6 | 7 | 75.0% | <0.01 | 250 ms | 1.5 s"_s);
    QCOMPARE(rowText(model, 1), u"idle | 5 | 0 | 0 | 0 | 0 | 0 | — | 0 | — | —"_s);
    QCOMPARE(rowText(model, 0),
             u"fast | 0 | 0 | 0 | 0 | 0 | 0 | 100% | 10.0 | 0.4 ms | 1 min 15 s"_s);
    QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
    QCOMPARE(model.index(2, StatsModel::QueuedColumn).data().toString(), u"1,200"_s);

    // Sorting uses numbers, not texts; missing durations sort first.
    QCOMPARE(model.index(2, StatsModel::QueuedColumn).data(StatsModel::SortRole).toLongLong(),
             qint64(1200));
    QCOMPARE(model.index(1, StatsModel::P50Column).data(StatsModel::SortRole).toDouble(), -1.0);
    QCOMPARE(model.index(2, StatsModel::TypeColumn).data(StatsModel::TypeRole).toString(),
             u"mail"_s);
    QCOMPARE(model.index(2, StatsModel::QueuedColumn).data(Qt::TextAlignmentRole).toInt(),
             int(Qt::AlignRight | Qt::AlignVCenter));
    // Failures stand out; zeros recede.
    const QColor failed
        = model.index(2, StatsModel::FailedColumn).data(Qt::ForegroundRole).value<QColor>();
    const QColor zero
        = model.index(1, StatsModel::FailedColumn).data(Qt::ForegroundRole).value<QColor>();
    QVERIFY(failed.isValid() && zero.isValid() && failed != zero);
    QCOMPARE(model.headerData(StatsModel::ThroughputColumn, Qt::Horizontal).toString(),
             u"Jobs/s"_s);
    QVERIFY(!model.headerData(StatsModel::P95Column, Qt::Horizontal, Qt::ToolTipRole)
                 .toString()
                 .isEmpty());
    QLocale::setDefault(QLocale::system());
}

void TestStatsModel::niceStep_data()
{
    QTest::addColumn<qint64>("maxValue");
    QTest::addColumn<int>("maxTicks");
    QTest::addColumn<qint64>("step");

    QTest::addRow("nothing") << qint64(0) << 4 << qint64(1);
    QTest::addRow("one") << qint64(1) << 4 << qint64(1);
    QTest::addRow("three in six ticks") << qint64(3) << 6 << qint64(1);
    QTest::addRow("seven") << qint64(7) << 4 << qint64(2);
    QTest::addRow("ten") << qint64(10) << 4 << qint64(5);
    QTest::addRow("forty") << qint64(40) << 4 << qint64(10);
    QTest::addRow("ninety-nine") << qint64(99) << 5 << qint64(20);
    QTest::addRow("hundred") << qint64(100) << 4 << qint64(50);
    QTest::addRow("1234") << qint64(1234) << 4 << qint64(500);
    QTest::addRow("a trillion") << qint64(1000000000000) << 4 << qint64(500000000000);
    QTest::addRow("near the top of qint64")
        << qint64(4000000000000000000) << 4 << qint64(1000000000000000000);
}

void TestStatsModel::niceStep()
{
    QFETCH(qint64, maxValue);
    QFETCH(int, maxTicks);
    QFETCH(qint64, step);
    QCOMPARE(ThroughputChart::niceStep(maxValue, maxTicks), step);
    QVERIFY((maxValue + step - 1) / step <= maxTicks);
}

void TestStatsModel::renders_data()
{
    QTest::addColumn<QList<ThroughputBucket>>("buckets");
    QTest::addColumn<int>("bucketSeconds");
    QTest::addColumn<QSize>("size");
    QTest::addColumn<int>("bars"); // 1: succeeded bars visible, 0: none, -1: not checked

    QTest::addRow("no buckets") << QList<ThroughputBucket>() << 10 << QSize(400, 200) << 0;
    QTest::addRow("all zero") << makeBuckets(30, 10, {}) << 10 << QSize(400, 200) << 0;
    QTest::addRow("one bucket") << makeBuckets(1, 60, { { 3, 1 } }) << 60 << QSize(400, 200) << 1;
    QTest::addRow("large numbers") << makeBuckets(
        24, 3600, { { 1000000000000, 5 }, { 0, 999999999999 }, { 4000000000, 4000000000 } })
                                   << 3600 << QSize(500, 220) << 1;
    QTest::addRow("many buckets, small widget")
        << makeBuckets(1000, 1, { { 1, 0 }, { 5, 5 } }) << 1 << QSize(160, 90) << 1;
    QTest::addRow("tiny widget") << makeBuckets(30, 120, { { 1, 1 } }) << 120 << QSize(12, 8) << -1;
    QTest::addRow("days") << makeBuckets(30, 86400, { { 5, 0 } }) << 86400 << QSize(600, 240) << 1;
}

void TestStatsModel::renders()
{
    QFETCH(QList<ThroughputBucket>, buckets);
    QFETCH(int, bucketSeconds);
    QFETCH(QSize, size);
    QFETCH(int, bars);

    for (bool dark : { false, true }) {
        ThroughputChart chart;
        QPalette palette = chart.palette();
        if (dark) {
            palette.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
            palette.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
            palette.setColor(QPalette::WindowText, QColor(0xe0, 0xe0, 0xe0));
            palette.setColor(QPalette::Text, QColor(0xe0, 0xe0, 0xe0));
            chart.setPalette(palette);
        }
        chart.setTitle(u"Finished jobs"_s);
        chart.setBuckets(buckets, bucketSeconds);
        chart.resize(size);
        QImage image(size, QImage::Format_ARGB32);
        image.fill(palette.color(QPalette::Window));
        chart.render(&image);
        if (size.width() > 100)
            QVERIFY(colourCount(image) > 1); // axes, labels and legend at least
        // Below the legend (whose swatch has the same colour): the bars.
        const int belowLegend = QFontMetrics(chart.font()).height() + 12;
        if (bars >= 0)
            QCOMPARE(containsColour(image, ThroughputChart::succeededColor(palette), belowLegend),
                     bars == 1);
    }
    QVERIFY(ThroughputChart::succeededColor(QPalette())
            != ThroughputChart::failedColor(QPalette()));
}

void TestStatsModel::hoverAndToolTip()
{
    ThroughputChart chart;
    chart.resize(400, 200);
    chart.setBuckets(makeBuckets(4, 60, { { 1, 0 }, { 2, 0 }, { 3, 0 }, { 5, 2 } }), 60);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));

    QCOMPARE(chart.bucketAt(QPoint(0, 0)), -1);
    QCOMPARE(chart.bucketAt(QPoint(200, 199)), -1); // the time labels, below the plot
    // Scan across the middle: every bucket is hit, left to right.
    QList<int> seen;
    for (int x = 0; x < chart.width(); ++x) {
        const int index = chart.bucketAt(QPoint(x, chart.height() / 2));
        if (index >= 0 && (seen.isEmpty() || seen.last() != index))
            seen << index;
    }
    QCOMPARE(seen, (QList<int> { 0, 1, 2, 3 }));

    int x = 0;
    while (chart.bucketAt(QPoint(x, chart.height() / 2)) != 3)
        ++x;
    QTest::mouseMove(&chart, QPoint(x + 2, chart.height() / 2));
    QTRY_COMPARE(chart.hoveredBucket(), 3);
    const QString tip = chart.bucketToolTip(3);
    const QString from
        = QDateTime(QDate(2024, 5, 1), QTime(12, 3), Qt::UTC).toLocalTime().toString(u"HH:mm"_s);
    const QString to
        = QDateTime(QDate(2024, 5, 1), QTime(12, 4), Qt::UTC).toLocalTime().toString(u"HH:mm"_s);
    QVERIFY2(tip.contains(from + u" – "_s + to), qPrintable(tip));
    QVERIFY2(tip.contains(u"Succeeded: 5"_s), qPrintable(tip));
    QVERIFY2(tip.contains(u"Failed: 2"_s), qPrintable(tip));
    QCOMPARE(chart.bucketToolTip(4), QString());

    // New data with fewer buckets drops a hover that no longer exists.
    chart.setBuckets(makeBuckets(2, 60, {}), 60);
    QCOMPARE(chart.hoveredBucket(), -1);
}

void TestStatsModel::accessibility()
{
    ThroughputChart chart;
    QVERIFY(!chart.accessibleName().isEmpty());
    chart.setTitle(u"Finished jobs, mail"_s);
    chart.setBuckets(makeBuckets(3, 10, { { 1200, 3 }, { 0, 4 } }), 10);
    const QString description = chart.accessibleDescription();
    QVERIFY2(description.contains(u"Finished jobs, mail"_s), qPrintable(description));
    QVERIFY2(description.contains(QLocale().toString(qint64(1200))), qPrintable(description));
    QVERIFY2(description.contains(u"7"_s), qPrintable(description));
    QVERIFY(chart.sizeHint().width() > chart.minimumSizeHint().width());
    QVERIFY(chart.sizeHint().height() > chart.minimumSizeHint().height());
}

void TestStatsModel::panelWithoutClient()
{
    StatsPanel panel;
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    auto *label = panel.findChild<QLabel *>(u"noDatabaseLabel"_s);
    QVERIFY(label);
    QVERIFY(label->isVisible());
    QCOMPARE(label->text(), u"No database"_s);
    QVERIFY(!panel.view()->isVisible());
    QVERIFY(!panel.isAutoRefreshActive());
    panel.refresh(); // harmless
    QCOMPARE(panel.model()->rowCount(), 0);
}

void TestStatsModel::panelShowsStoreCounts()
{
    const QString url = OddJobs::Test::freshSqliteUrl();
    QVERIFY(!url.isEmpty());
    OJ_ASSIGN(store, openStore(url));
    // Finished jobs first: makeJob needs each to be the only runnable job when claimed.
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Success, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Success, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Failed, nullptr));
    Job running;
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Locked, &running));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Retry, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Cancelled, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Queued, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Queued, nullptr));

    OJ_ASSIGN(settings, ConnectionSettings::fromUrl(url));
    StoreClient client(settings, {});
    QSignalSpy opened(&client, &StoreClient::opened);
    client.open(false);
    QTRY_COMPARE(opened.count(), 1);
    QVERIFY2(opened.first().at(0).toBool(), qPrintable(opened.first().at(1).toString()));

    StatsPanel panel;
    QAbstractItemModelTester tester(panel.model(),
                                    QAbstractItemModelTester::FailureReportingMode::Fatal);
    QAbstractItemModelTester viewTester(panel.view()->model(),
                                        QAbstractItemModelTester::FailureReportingMode::Fatal);
    QSignalSpy refreshed(&panel, &StatsPanel::refreshed);
    panel.setClient(&client);
    panel.refresh();
    QTRY_COMPARE(refreshed.count(), 1);
    QCOMPARE(refreshed.first().at(0).toBool(), true);
    QCOMPARE(typesOf(*panel.model()), u"mail render"_s);
    const TypeStatistics &mail = panel.model()->statisticsAt(0);
    QCOMPARE(mail.success, qint64(2));
    QCOMPARE(mail.failed, qint64(1));
    QCOMPARE(mail.succeededInWindow, qint64(2));
    QCOMPARE(mail.failedInWindow, qint64(1));
    const TypeStatistics &render = panel.model()->statisticsAt(1);
    QCOMPARE(render.locked, qint64(1));
    QCOMPARE(render.retry, qint64(1));
    QCOMPARE(render.cancelled, qint64(1));
    QCOMPARE(render.queued, qint64(2));
    QCOMPARE(panel.model()->index(0, StatsModel::SuccessRateColumn).data().toString(),
             QLocale().toString(66.7, 'f', 1) + u'%');

    // The chart covers every type: the finished jobs land in its buckets.
    const QList<ThroughputBucket> buckets = panel.chart()->buckets();
    QCOMPARE(buckets.size(), StatsPanel::bucketCount(panel.period()));
    qint64 succeeded = 0, failed = 0;
    for (const ThroughputBucket &b : buckets) {
        succeeded += b.succeeded;
        failed += b.failed;
    }
    QCOMPARE(succeeded, qint64(2));
    QCOMPARE(failed, qint64(1));

    // The running render job succeeds: the next refresh updates cells, nothing else.
    ModelRecorder recorder(panel.model());
    OJ_ASSIGN(written, store->complete(DefaultWorker, { successOutcome(running.id) }));
    QCOMPARE(written.size(), 1);
    panel.refresh();
    QTRY_COMPARE(refreshed.count(), 2);
    QCOMPARE(panel.model()->statisticsAt(1).success, qint64(1));
    QCOMPARE(panel.model()->statisticsAt(1).locked, qint64(0));
    const QString changes = recorder.take();
    QVERIFY2(!changes.isEmpty() && !changes.contains(u"insert"_s) && !changes.contains(u"remove"_s)
                 && !changes.contains(u"reset"_s),
             qPrintable(changes));
    QVERIFY2(changes.startsWith(u"changed(1,"_s), qPrintable(changes)); // only render's row

    // Selecting a type charts only that type.
    panel.selectType(u"render"_s);
    QCOMPARE(panel.selectedType(), u"render"_s);
    QVERIFY(panel.chart()->title().contains(u"render"_s));
    QTRY_COMPARE(refreshed.count(), 3);
    succeeded = failed = 0;
    for (const ThroughputBucket &b : panel.chart()->buckets()) {
        succeeded += b.succeeded;
        failed += b.failed;
    }
    QCOMPARE(succeeded, qint64(1));
    QCOMPARE(failed, qint64(0));
    panel.selectType(QString());
    QCOMPARE(panel.selectedType(), QString());
    QTRY_COMPARE(refreshed.count(), 4);

    // Another period: another bucket layout.
    panel.setPeriod(StatsPanel::Period::LastDay);
    QTRY_COMPARE(refreshed.count(), 5);
    QCOMPARE(panel.chart()->buckets().size(), 24);
    QCOMPARE(panel.chart()->bucketSeconds(), 3600);

    // Dropping the client empties the panel and shows "No database".
    panel.setClient(nullptr);
    QCOMPARE(panel.model()->rowCount(), 0);
}

void TestStatsModel::panelDropsStaleResults()
{
    const QString url = OddJobs::Test::freshSqliteUrl();
    OJ_ASSIGN(store, openStore(url));
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Queued, nullptr));
    OJ_ASSIGN(settings, ConnectionSettings::fromUrl(url));
    StoreClient client(settings, {});
    QSignalSpy opened(&client, &StoreClient::opened);
    client.open(false);
    QTRY_COMPARE(opened.count(), 1);

    StatsPanel panel;
    QAbstractItemModelTester tester(panel.model(),
                                    QAbstractItemModelTester::FailureReportingMode::Fatal);
    ModelRecorder recorder(panel.model());
    QSignalSpy refreshed(&panel, &StatsPanel::refreshed);
    panel.setClient(&client);

    // The store thread runs requests in order. Hold it so that request 1 reads the table
    // before a second type appears and request 2 after: their results differ.
    QSemaphore releaseFirst, secondStarted, releaseSecond;
    QObject context;
    const auto ignore = [](const Result<int> &) {};
    client.call<int>(
        [&](JobStore &) -> Result<int> {
            releaseFirst.acquire();
            return 0;
        },
        &context, ignore);
    panel.refresh(); // request 1: superseded before its answer comes
    client.call<int>(
        [&](JobStore &) -> Result<int> {
            secondStarted.release();
            releaseSecond.acquire();
            return 0;
        },
        &context, ignore);
    panel.refresh(); // request 2: the latest
    releaseFirst.release();
    QVERIFY(secondStarted.tryAcquire(1, 10000)); // request 1 has run
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Queued, nullptr));
    releaseSecond.release();

    QTRY_COMPARE(refreshed.count(), 1);
    QTest::qWait(200);
    QCOMPARE(refreshed.count(), 1);
    // Only request 2's rows were ever shown: both types in one insertion, and no earlier
    // insertion of "mail" alone.
    QCOMPARE(recorder.take(), u"insert(0,1)"_s);
    QCOMPARE(typesOf(*panel.model()), u"mail render"_s);
}

void TestStatsModel::panelStopsRefreshingWhenHidden()
{
    const QString url = OddJobs::Test::freshSqliteUrl();
    OJ_ASSIGN(store, openStore(url));
    OJ_ASSIGN(settings, ConnectionSettings::fromUrl(url));
    StoreClient client(settings, {});
    QSignalSpy opened(&client, &StoreClient::opened);
    client.open(false);
    QTRY_COMPARE(opened.count(), 1);

    StatsPanel panel;
    panel.setRefreshInterval(100);
    QCOMPARE(panel.refreshInterval(), 100);
    QSignalSpy refreshed(&panel, &StatsPanel::refreshed);
    panel.setClient(&client);
    QVERIFY(!panel.isAutoRefreshActive()); // not shown yet
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QVERIFY(panel.isAutoRefreshActive());
    QTRY_VERIFY(refreshed.count() >= 3); // it keeps refreshing by itself while shown

    panel.hide();
    QVERIFY(!panel.isAutoRefreshActive());
    QTRY_VERIFY(!panel.isRefreshing()); // a request in flight when hidden still lands...
    const int count = int(refreshed.count()); // ...but arms no further refresh
    QTest::qWait(600);
    QCOMPARE(refreshed.count(), count);

    // Shown again: refreshes at once and keeps going.
    panel.show();
    QTRY_VERIFY(refreshed.count() >= count + 2);
}

void TestStatsModel::panelSurvivesDeletedClient()
{
    const QString url = OddJobs::Test::freshSqliteUrl();
    OJ_ASSIGN(store, openStore(url));
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Queued, nullptr));
    OJ_ASSIGN(settings, ConnectionSettings::fromUrl(url));
    auto *client = new StoreClient(settings, {});
    QSignalSpy opened(client, &StoreClient::opened);
    client->open(false);
    QTRY_COMPARE(opened.count(), 1);

    StatsPanel panel;
    QSignalSpy refreshed(&panel, &StatsPanel::refreshed);
    panel.setClient(client);
    panel.refresh();
    QTRY_COMPARE(refreshed.count(), 1);
    QCOMPARE(panel.model()->rowCount(), 1);
    panel.refresh();
    QVERIFY(panel.isRefreshing());
    delete client; // its answer never comes
    QVERIFY(!panel.client());
    panel.refresh();
    QVERIFY(!panel.isRefreshing());
    QCOMPARE(panel.model()->rowCount(), 0);
    auto *label = panel.findChild<QLabel *>(u"noDatabaseLabel"_s);
    QVERIFY(label);
    QVERIFY(label->isVisibleTo(&panel));
    QVERIFY(!panel.view()->isVisibleTo(&panel));
    QTest::qWait(100);
    QCOMPARE(refreshed.count(), 1);
}

void TestStatsModel::throughputBuckets()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    constexpr int Bucket = 3600;
    constexpr int Buckets = 6;

    OJ_ASSIGN(before, store->now());
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Success, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Success, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"mail"_s), JobStatus::Failed, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Success, nullptr));
    // Neither waiting, retrying, running nor cancelled jobs are finished.
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Retry, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Cancelled, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Locked, nullptr));
    OJ_CALL(makeJob(*store, tagged(u"render"_s), JobStatus::Queued, nullptr));

    OJ_ASSIGN(all, store->throughput(Bucket, Buckets));
    OJ_ASSIGN(after, store->now());
    QCOMPARE(all.size(), Buckets);
    for (int i = 0; i < Buckets; ++i) {
        QCOMPARE(all.at(i).start.timeSpec(), Qt::UTC);
        QCOMPARE(all.at(i).start.toSecsSinceEpoch() % Bucket, qint64(0));
        if (i > 0)
            QCOMPARE(all.at(i - 1).start.secsTo(all.at(i).start), qint64(Bucket));
    }
    QVERIFY2(all.last().start <= after && after < all.last().start.addSecs(Bucket),
             qPrintable(timeText(all.last().start) + u" vs now "_s + timeText(after)));

    // Jobs finished now land in the last bucket (or, if an hour began while the test ran,
    // in the last two).
    const bool sameBucket = before.toSecsSinceEpoch() / Bucket == after.toSecsSinceEpoch() / Bucket;
    auto recent = [&](const QList<ThroughputBucket> &buckets, bool failedCount) {
        qint64 sum = 0;
        for (qsizetype i = sameBucket ? buckets.size() - 1 : buckets.size() - 2; i < buckets.size();
             ++i)
            sum += failedCount ? buckets.at(i).failed : buckets.at(i).succeeded;
        return sum;
    };
    auto total = [](const QList<ThroughputBucket> &buckets, bool failedCount) {
        qint64 sum = 0;
        for (const ThroughputBucket &b : buckets)
            sum += failedCount ? b.failed : b.succeeded;
        return sum;
    };
    QCOMPARE(recent(all, false), qint64(3));
    QCOMPARE(recent(all, true), qint64(1));
    QCOMPARE(total(all, false), qint64(3));
    QCOMPARE(total(all, true), qint64(1));

    // The type filter.
    OJ_ASSIGN(mail, store->throughput(Bucket, Buckets, u"mail"_s));
    QCOMPARE(total(mail, false), qint64(2));
    QCOMPARE(total(mail, true), qint64(1));
    OJ_ASSIGN(render, store->throughput(Bucket, Buckets, u"render"_s));
    QCOMPARE(total(render, false), qint64(1));
    QCOMPARE(total(render, true), qint64(0));
    OJ_ASSIGN(none, store->throughput(Bucket, Buckets, u"no-such-type"_s));
    QCOMPARE(none.size(), Buckets);
    QCOMPARE(total(none, false) + total(none, true), qint64(0));

    // Moved two hours back, the jobs land two buckets earlier; seven hours back, they are
    // older than the six buckets and count nowhere.
    const QString table = store->options().table.quoted();
    const QString back2 = store->backend() == Backend::Sqlite
        ? u"UPDATE %1 SET finished_at = finished_at - 7200000000 WHERE job_type = 'mail'"_s.arg(
            table)
        : u"UPDATE %1 SET finished_at = finished_at - interval '2 hours' WHERE job_type = 'mail'"_s
              .arg(table);
    QSqlQuery query(store->database());
    QVERIFY2(query.exec(back2), qPrintable(query.lastError().text()));
    OJ_ASSIGN(shifted, store->throughput(Bucket, Buckets, u"mail"_s));
    QCOMPARE(total(shifted, false), qint64(2));
    QCOMPARE(recent(shifted, false), qint64(0));
    qint64 twoBack = 0;
    for (qsizetype i = sameBucket ? Buckets - 3 : Buckets - 4; i <= Buckets - 3; ++i)
        twoBack += shifted.at(i).succeeded + shifted.at(i).failed;
    QCOMPARE(twoBack, qint64(3));
    const QString back5 = store->backend() == Backend::Sqlite
        ? u"UPDATE %1 SET finished_at = finished_at - 18000000000 WHERE job_type = 'mail'"_s.arg(
            table)
        : u"UPDATE %1 SET finished_at = finished_at - interval '5 hours' WHERE job_type = 'mail'"_s
              .arg(table);
    QVERIFY2(query.exec(back5), qPrintable(query.lastError().text()));
    query.finish();
    OJ_ASSIGN(old, store->throughput(Bucket, Buckets, u"mail"_s));
    QCOMPARE(total(old, false) + total(old, true), qint64(0));
    // ...while a longer chart still sees them.
    OJ_ASSIGN(longer, store->throughput(Bucket, 12, u"mail"_s));
    QCOMPARE(total(longer, false), qint64(2));
    QCOMPARE(total(longer, true), qint64(1));
}

void TestStatsModel::throughputInvalidArguments()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    const QList<QPair<int, int>> bad {
        { 0, 10 }, { -60, 10 }, { 60, 0 }, { 60, -1 }, { 60, 10001 }
    };
    for (const auto &[bucketSeconds, buckets] : bad) {
        const auto result = store->throughput(bucketSeconds, buckets);
        QVERIFY2(!result.ok(),
                 qPrintable(u"throughput(%1, %2) succeeded"_s.arg(bucketSeconds).arg(buckets)));
        QCOMPARE(result.error().code, ErrorCode::InvalidArgument);
    }
    // The limits themselves are fine.
    OJ_ASSIGN(one, store->throughput(1, 1));
    QCOMPARE(one.size(), 1);
    OJ_ASSIGN(many, store->throughput(1, 10000));
    QCOMPARE(many.size(), 10000);
}

QTEST_MAIN(TestStatsModel)
#include "tst_statsmodel.moc"
