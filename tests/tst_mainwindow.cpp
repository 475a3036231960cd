// The dashboard on the offscreen platform with real databases: enqueue through the dialog
// and watch the row go queued -> success, cancel a running job, filter by type, monitor-only
// mode. The screenshots test renders the window with demo data into PNG files.
#include "jobdialog.h"
#include "jobtablemodel.h"
#include "mainwindow.h"
#include "oddjobs/jobstore.h"
#include "storeclient.h"
#include "support/testhelpers.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTest>
#include <atomic>

using namespace Qt::StringLiterals;
using namespace OddJobs;
using namespace OddJobs::Ui;

namespace {
HandlerRegistry testHandlers()
{
    HandlerRegistry handlers;
    handlers.add(u"test.quick"_s, [](JobContext &) {
        return HandlerResult::success(QJsonObject { { u"ok"_s, true } });
    });
    handlers.add(u"test.slow"_s, [](JobContext &ctx) {
        if (!ctx.sleepFor(20000))
            return HandlerResult::failure(u"stopped"_s);
        return HandlerResult::success();
    });
    handlers.add(u"test.fail"_s,
                 [](JobContext &) { return HandlerResult::failure(u"broken on purpose"_s); });
    return handlers;
}

RunnerConfig fastWorker()
{
    RunnerConfig config;
    config.pollIntervalMs = 200;
    config.shutdownTimeoutMs = 2000;
    config.backoff.kind = Backoff::Kind::Fixed;
    config.backoff.baseSeconds = 600;
    return config;
}

std::optional<Job> jobInModel(JobTableModel *model, qint64 id)
{
    const int row = model->rowOfId(id);
    if (row < 0)
        return std::nullopt;
    return *model->jobAt(row);
}
} // namespace

class TestMainWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        // Settings (recent databases, layout) go to a scratch place, not the user's.
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(u"oddjobs-tests"_s);
        QCoreApplication::setApplicationName(u"tst_mainwindow"_s);
    }

    void enqueueRunCancelFilter_data()
    {
        Test::addBackendColumns();
        Test::addBackendRows();
    }
    void enqueueRunCancelFilter()
    {
        QFETCH(QString, backend);
        ODDJOBS_FRESH_URL(backend, url);
        MainWindow window(testHandlers(), fastWorker());
        QSignalSpy opened(&window, &MainWindow::databaseOpened);
        QVERIFY(window.openDatabase(url, u"jobs"_s, false));
        QVERIFY(opened.wait(10000));
        QVERIFY2(opened.first().at(0).toBool(), qPrintable(opened.first().at(1).toString()));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_VERIFY(window.runner() && window.runner()->state() == Runner::State::Running);
        JobTableModel *model = window.jobModel();

        // Enqueue through the dialog, typing like a user.
        QSignalSpy finished(&window, &MainWindow::actionFinished);
        window.showEnqueueDialog();
        auto *dialog = window.findChild<JobDialog *>();
        QVERIFY(dialog);
        auto *type = dialog->findChild<QComboBox *>(u"type"_s);
        auto *payload = dialog->findChild<QPlainTextEdit *>(u"payload"_s);
        QVERIFY(type && payload);
        type->setCurrentText(QString());
        QTest::keyClicks(type->lineEdit(), u"test.quick"_s);
        payload->setPlainText(u"{\"hello\": \"dashboard\"}"_s);
        QTRY_VERIFY(dialog->hasAcceptableInput());
        auto *ok = dialog->findChild<QPushButton *>(u"ok"_s);
        QVERIFY(ok);
        QTRY_VERIFY(ok->isEnabled());
        QTest::mouseClick(ok, Qt::LeftButton);
        QTRY_COMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(0).toString(), u"enqueue"_s);
        QCOMPARE(finished.first().at(1).toInt(), 1);

        // The row appears and goes to success within a second or two of the change.
        QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 1, 5000);
        const qint64 quickId = model->jobAt(0)->id;
        QCOMPARE(model->jobAt(0)->type(), u"test.quick"_s);
        QTRY_COMPARE_WITH_TIMEOUT(jobInModel(model, quickId)->status, JobStatus::Success, 10000);
        QCOMPARE(jobInModel(model, quickId)->result.toObject().value(u"ok"_s).toBool(), true);

        // Cancel a running job from the table.
        auto store = JobStore::open(*ConnectionSettings::fromUrl(url));
        QVERIFY(store);
        const Job slow = *(*store)->enqueue(NewJob::tagged(u"test.slow"_s));
        QSignalSpy cancelled(window.runner(), &Runner::jobCancelled);
        QTRY_COMPARE_WITH_TIMEOUT(jobInModel(model, slow.id).value_or(Job {}).status,
                                  JobStatus::Locked, 10000);
        window.jobView()->selectionModel()->select(model->index(model->rowOfId(slow.id), 0),
                                                   QItemSelectionModel::ClearAndSelect
                                                       | QItemSelectionModel::Rows);
        finished.clear();
        window.cancelSelected();
        QTRY_COMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(0).toString(), u"cancel"_s);
        QCOMPARE(finished.first().at(1).toInt(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.size(), 1, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(jobInModel(model, slow.id)->status, JobStatus::Cancelled, 5000);
        QCOMPARE((*(*store)->find(slow.id))->status, JobStatus::Cancelled);

        // Filter by type: only that type's rows stay.
        QVERIFY((*store)->enqueue(NewJob::tagged(u"test.fail"_s)).ok());
        QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 3, 5000);
        auto *typeFilter = window.findChild<QComboBox *>(u"typeFilter"_s);
        QVERIFY(typeFilter);
        typeFilter->setCurrentText(u"test.fail"_s);
        QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 1, 5000);
        QCOMPARE(model->jobAt(0)->type(), u"test.fail"_s);
        QCOMPARE(model->filter().types, QStringList { u"test.fail"_s });
        typeFilter->setCurrentText(QString());
        QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 3, 5000);
        window.close();
    }

    void monitorOnly()
    {
        const QString url = Test::freshSqliteUrl();
        {
            auto store = JobStore::open(*ConnectionSettings::fromUrl(url));
            QVERIFY(store && (*store)->migrate());
            QVERIFY((*store)->enqueue(NewJob::tagged(u"watched"_s)).ok());
        }
        MainWindow window(testHandlers(), fastWorker());
        QSignalSpy opened(&window, &MainWindow::databaseOpened);
        QVERIFY(window.openDatabase(url, u"jobs"_s, true));
        QVERIFY(opened.wait(10000));
        QVERIFY(opened.first().at(0).toBool());
        window.show();
        QTRY_COMPARE(window.jobModel()->rowCount(), 1);
        QVERIFY(window.isMonitorOnly());
        QVERIFY(!window.runner()); // no worker in monitor mode
        for (QAction *action : window.findChildren<QAction *>()) {
            const QString text = action->text();
            if (text.contains(u"Enqueue"_s) || text.contains(u"Delete"_s)
                || text.contains(u"Start Worker"_s))
                QVERIFY2(!action->isVisible(), qPrintable(text));
        }
        // Even a direct attempt through the window's own connection is refused.
        Result<Job> attempt = makeError(ErrorCode::Database, u"not run"_s);
        bool done = false;
        window.client()->call<Job>(
            [](JobStore &store) { return store.enqueue(NewJob::tagged(u"sneaky"_s)); }, &window,
            [&](const Result<Job> &r) {
                attempt = r;
                done = true;
            });
        QTRY_VERIFY(done);
        QVERIFY(!attempt.ok());
        QCOMPARE(attempt.error().code, ErrorCode::ReadOnly);
    }

    void badInputIsReported()
    {
        MainWindow window(testHandlers(), fastWorker());
        QString error;
        QVERIFY(!window.openDatabase(u"nosuch://x"_s, u"jobs"_s, false, &error));
        QVERIFY2(error.contains(u"unsupported database URL"_s), qPrintable(error));
        QVERIFY(!window.openDatabase(Test::freshSqliteUrl(), u"bad;name"_s, false, &error));
        QVERIFY2(error.contains(u"invalid table name"_s), qPrintable(error));
        // Unreachable server: reported asynchronously, without the password.
        QSignalSpy opened(&window, &MainWindow::databaseOpened);
        QVERIFY(window.openDatabase(
            u"postgresql://someone:topsecret@127.0.0.1:1/db?connect_timeout=2"_s, u"jobs"_s, false,
            &error));
        QVERIFY(opened.wait(15000));
        QCOMPARE(opened.first().at(0).toBool(), false);
        const QString message = opened.first().at(1).toString();
        QVERIFY(!message.isEmpty());
        QVERIFY2(!message.contains(u"topsecret"_s), qPrintable(message));
        QVERIFY(!window.windowTitle().contains(u"topsecret"_s));
    }

    // Renders the dashboard with demo-like data (runs, failures, retries) into PNG files:
    // into $ODDJOBS_SCREENSHOT_DIR when set (docs/screenshots), else the build folder.
    void screenshots()
    {
        const QString url = Test::freshSqliteUrl();
        {
            auto store = JobStore::open(*ConnectionSettings::fromUrl(url));
            QVERIFY(store && (*store)->migrate());
            QList<NewJob> jobs;
            const QStringList types { u"mail.send"_s, u"report.render"_s, u"sync.crm"_s };
            for (int i = 0; i < 60; ++i) {
                NewJob job = NewJob::tagged(
                    i % 25 == 7 ? u"image.thumbnail"_s : types.at(i % types.size()),
                    QJsonObject { { u"customer"_s, 1000 + i }, { u"priority"_s, i % 3 } });
                job.queue = i % 5 == 0 ? u"reports"_s : u"default"_s;
                job.priority = i % 7 == 0 ? -5 : 0;
                if (i % 11 == 0)
                    job.delaySeconds = 3600;
                jobs << job;
            }
            QVERIFY((*store)->enqueueMany(jobs).ok());
        }
        HandlerRegistry handlers;
        std::atomic<int> n { 0 };
        auto work = [&n](JobContext &ctx) {
            const int i = n++;
            ctx.sleepFor(10 + (i * 37) % 90);
            if (i % 9 == 4)
                return HandlerResult::failure(
                    u"SMTP relay refused the message (550 mailbox unavailable)"_s);
            if (i % 13 == 6)
                return HandlerResult::failure(u"timeout talking to crm.example.org"_s);
            return HandlerResult::success(QJsonObject { { u"bytes"_s, 1024 * (i + 1) } });
        };
        for (const QString &type : { u"mail.send"_s, u"report.render"_s, u"sync.crm"_s })
            handlers.add(type, work);
        handlers.add(u"image.thumbnail"_s, [](JobContext &ctx) {
            ctx.sleepFor(30000);
            return HandlerResult::success();
        });
        RunnerConfig config = fastWorker();
        config.concurrency = ConcurrencyControl::maxConcurrentJobs(6);
        MainWindow window(handlers, config);
        QSignalSpy opened(&window, &MainWindow::databaseOpened);
        QVERIFY(window.openDatabase(url, u"jobs"_s, false));
        QVERIFY(opened.wait(10000));
        window.resize(1500, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_VERIFY_WITH_TIMEOUT(n.load() >= 40, 60000);
        QTest::qWait(1500); // a refresh or two
        window.jobView()->selectRow(std::min(3, window.jobModel()->rowCount() - 1));
        QTest::qWait(300);

        QString dir = qEnvironmentVariable("ODDJOBS_SCREENSHOT_DIR");
        if (dir.isEmpty())
            dir = QDir::current().absoluteFilePath(u"screenshots"_s);
        QVERIFY(QDir().mkpath(dir));
        QVERIFY(window.grab().save(dir + u"/dashboard.png"_s));
        for (QDockWidget *dock : window.findChildren<QDockWidget *>()) {
            if (dock->objectName() == u"StatsDock"_s) {
                dock->raise();
                window.resizeDocks({ dock }, { 420 }, Qt::Vertical);
                QTest::qWait(2500); // the statistics refresh
            }
        }
        QVERIFY(window.grab().save(dir + u"/dashboard-statistics.png"_s));
        window.showEnqueueDialog();
        auto *dialog = window.findChild<JobDialog *>();
        QVERIFY(dialog);
        dialog->findChild<QComboBox *>(u"type"_s)->setCurrentText(u"mail.send"_s);
        dialog->findChild<QPlainTextEdit *>(u"payload"_s)
            ->setPlainText(u"{\n  \"to\": \"ada@example.org\",\n  \"subject\": \"Hello\"\n"_s);
        QTest::qWait(400);
        QVERIFY(dialog->grab().save(dir + u"/enqueue-dialog.png"_s));
        dialog->reject();
        window.runner()->stopNow();
        window.close();
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
