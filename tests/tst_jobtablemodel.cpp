// The live jobs table model against real stores: paging, live merges (insert, update,
// remove, move), filters, sorting, staleness, all under QAbstractItemModelTester.
#include "jobtablemodel.h"
#include "modelrecorder.h"
#include "oddjobs/jobstore.h"
#include "storeclient.h"
#include "support/testhelpers.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace Qt::StringLiterals;
using namespace OddJobs;
using namespace OddJobs::Ui;

class TestJobTableModel : public QObject
{
    Q_OBJECT

private:
    struct Fixture
    {
        std::unique_ptr<JobStore> store; // the test's own connection, for changes "by others"
        std::unique_ptr<StoreClient> client;
        std::unique_ptr<JobTableModel> model;
        std::unique_ptr<QAbstractItemModelTester> tester;
        std::unique_ptr<ModelRecorder> recorder;
    };

    static bool waitMerged(JobTableModel &model)
    {
        QSignalSpy merged(&model, &JobTableModel::rowsMerged);
        model.refresh();
        return merged.wait(10000);
    }

    static QList<qint64> ids(const JobTableModel &model)
    {
        QList<qint64> out;
        for (int row = 0; row < model.rowCount(); ++row)
            out << model.jobAt(row)->id;
        return out;
    }

    static bool open(Fixture &f, const QString &url, int pageSize = 100)
    {
        auto settings = ConnectionSettings::fromUrl(url);
        if (!settings)
            return false;
        auto store = JobStore::open(*settings);
        if (!store || !(*store)->migrate())
            return false;
        f.store = std::move(*store);
        f.client = std::make_unique<StoreClient>(*settings, StoreOptions {});
        QSignalSpy opened(f.client.get(), &StoreClient::opened);
        f.client->open(false);
        if (!opened.wait(10000) || !opened.first().at(0).toBool())
            return false;
        f.model = std::make_unique<JobTableModel>();
        f.model->setLiveInterval(0);
        f.model->setPageSize(pageSize);
        // Attached before any data arrives, so every change is checked.
        f.tester = std::make_unique<QAbstractItemModelTester>(
            f.model.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        f.recorder = std::make_unique<ModelRecorder>(f.model.get());
        return true;
    }

    static bool load(Fixture &f)
    {
        QSignalSpy reset(f.model.get(), &QAbstractItemModel::modelReset);
        f.model->setClient(f.client.get());
        // setClient resets to empty at once when it has no client; with one it resets on load.
        return reset.wait(10000) || f.model->rowCount() > 0;
    }

private Q_SLOTS:
    void paging_data()
    {
        Test::addBackendColumns();
        Test::addBackendRows();
    }
    void paging()
    {
        QFETCH(QString, backend);
        ODDJOBS_FRESH_URL(backend, url);
        Fixture f;
        QVERIFY(open(f, url, 100));
        QList<NewJob> jobs;
        for (int i = 0; i < 250; ++i)
            jobs << NewJob::tagged(u"page.t"_s, i);
        QVERIFY(f.store->enqueueMany(jobs).ok());
        QVERIFY(load(f));
        // The model tester itself asks for more rows (fetchMore) whenever it checks the model,
        // so the pages arrive on their own; each one is one insert after the first reset.
        for (int i = 0; i < 10; ++i) {
            QTRY_VERIFY(!f.model->isLoading());
            if (!f.model->canFetchMore({}))
                break;
            f.model->fetchMore({});
        }
        QTRY_COMPARE(f.model->rowCount(), 250);
        QTRY_VERIFY(!f.model->canFetchMore({}));
        QCOMPARE(f.recorder->take(), u"reset insert(100,199) insert(200,249)"_s);
        const QList<qint64> loaded = ids(*f.model);
        QList<qint64> expected = loaded;
        std::sort(expected.begin(), expected.end(), std::greater<qint64>());
        QCOMPARE(loaded, expected); // newest first, no duplicates, no gaps
        QCOMPARE(QSet<qint64>(loaded.cbegin(), loaded.cend()).size(), 250);
        QTRY_COMPARE(f.model->totalEstimate(), 250);
    }

    void liveMerges_data()
    {
        Test::addBackendColumns();
        Test::addBackendRows();
    }
    void liveMerges()
    {
        QFETCH(QString, backend);
        ODDJOBS_FRESH_URL(backend, url);
        Fixture f;
        QVERIFY(open(f, url));
        QList<NewJob> jobs;
        for (int i = 0; i < 5; ++i)
            jobs << NewJob::tagged(u"live.t"_s, i);
        const QList<qint64> created = *f.store->enqueueMany(jobs);
        QVERIFY(load(f));
        QTRY_COMPARE(f.model->rowCount(), 5);
        f.recorder->take();

        // A job enqueued by someone else appears on top (id descending).
        const Job extra = *f.store->enqueue(NewJob::tagged(u"live.t"_s, 99));
        QVERIFY(waitMerged(*f.model));
        QCOMPARE(f.recorder->take(), u"insert(0,0)"_s);
        QCOMPARE(f.model->jobAt(0)->id, extra.id);

        // A change to a loaded row is one dataChanged across the row.
        QCOMPARE(*f.store->cancel(JobFilter::byIds({ created.at(2) })), 1);
        QVERIFY(waitMerged(*f.model));
        const int row = f.model->rowOfId(created.at(2));
        QCOMPARE(f.recorder->take(),
                 u"changed(%1,0:%1,%2)"_s.arg(row).arg(JobTableModel::ColumnCount - 1));
        QCOMPARE(f.model->jobAt(row)->status, JobStatus::Cancelled);
        QCOMPARE(f.model->index(row, JobTableModel::StatusColumn).data().toString(),
                 JobTableModel::statusLabel(JobStatus::Cancelled));

        // Merging the same snapshot again (the refresh looks back a little) changes nothing.
        f.model->applyJobs({ *f.model->jobAt(row) });
        QVERIFY(waitMerged(*f.model));
        QCOMPARE(f.recorder->take(), QString());

        // Deleted by someone else: noticed by the existence check (every fifth refresh).
        QCOMPARE(*f.store->remove(JobFilter::byIds({ created.at(0) })), 1);
        for (int i = 0; i < 5 && f.model->rowOfId(created.at(0)) >= 0; ++i)
            QVERIFY(waitMerged(*f.model));
        QTRY_COMPARE(f.model->rowOfId(created.at(0)), -1);
        QCOMPARE(f.model->rowCount(), 5);
        QVERIFY(f.recorder->take().contains(u"remove(5,5)"_s));
    }

    void filterRemovesAndAdds_data()
    {
        Test::addBackendColumns();
        Test::addBackendRows();
    }
    void filterRemovesAndAdds()
    {
        QFETCH(QString, backend);
        ODDJOBS_FRESH_URL(backend, url);
        Fixture f;
        QVERIFY(open(f, url));
        const QList<qint64> created
            = *f.store->enqueueMany({ NewJob::tagged(u"a"_s), NewJob::tagged(u"b"_s),
                                      NewJob::tagged(u"a"_s), NewJob::tagged(u"a"_s) });
        JobFilter queuedA;
        queuedA.statuses = { JobStatus::Queued };
        queuedA.types = { u"a"_s };
        f.model->setFilter(queuedA);
        QVERIFY(load(f));
        QTRY_COMPARE(f.model->rowCount(), 3);
        QCOMPARE(ids(*f.model), (QList<qint64> { created.at(3), created.at(2), created.at(0) }));
        f.recorder->take();

        // Leaves the filter (cancelled): removed. A new matching job: inserted. A new job of
        // another type: ignored.
        QCOMPARE(*f.store->cancel(JobFilter::byIds({ created.at(2) })), 1);
        const Job fresh = *f.store->enqueue(NewJob::tagged(u"a"_s));
        QVERIFY(f.store->enqueue(NewJob::tagged(u"b"_s)).ok());
        QVERIFY(waitMerged(*f.model));
        QCOMPARE(ids(*f.model), (QList<qint64> { fresh.id, created.at(3), created.at(0) }));
        QCOMPARE(f.recorder->take(), u"remove(1,1) insert(0,0)"_s);

        // Back in the filter (run now): inserted at its place.
        QCOMPARE(*f.store->runNow(JobFilter::byIds({ created.at(2) })), 1);
        QVERIFY(waitMerged(*f.model));
        QCOMPARE(ids(*f.model),
                 (QList<qint64> { fresh.id, created.at(3), created.at(2), created.at(0) }));
        QCOMPARE(f.recorder->take(), u"insert(2,2)"_s);
    }

    void sortingMovesRows_data()
    {
        Test::addBackendColumns();
        Test::addBackendRows();
    }
    void sortingMovesRows()
    {
        QFETCH(QString, backend);
        ODDJOBS_FRESH_URL(backend, url);
        Fixture f;
        QVERIFY(open(f, url));
        const QList<qint64> created = *f.store->enqueueMany(
            { NewJob::tagged(u"s"_s, 1), NewJob::tagged(u"s"_s, 2), NewJob::tagged(u"s"_s, 3) });
        QVERIFY(load(f));
        QTRY_COMPARE(f.model->rowCount(), 3);
        // Sort by status ascending: all queued, ties by id ascending.
        f.model->sort(JobTableModel::StatusColumn, Qt::AscendingOrder);
        QTRY_COMPARE(ids(*f.model), created);
        f.recorder->take();
        // The first job fails -> "failed" sorts before "queued": the row moves up... it is
        // already first; move the last one instead: cancel it -> "cancelled" < "queued".
        QCOMPARE(*f.store->cancel(JobFilter::byIds({ created.at(2) })), 1);
        QVERIFY(waitMerged(*f.model));
        QCOMPARE(ids(*f.model), (QList<qint64> { created.at(2), created.at(0), created.at(1) }));
        QCOMPARE(f.recorder->take(),
                 u"move(2,2->0) changed(0,0:0,%1)"_s.arg(JobTableModel::ColumnCount - 1));
        // Columns without an index do not sort (and do not reload).
        f.model->sort(JobTableModel::LastErrorColumn, Qt::AscendingOrder);
        QCOMPARE(f.recorder->take(), QString());
    }

    void staleResultsAreDropped()
    {
        const QString url = Test::freshSqliteUrl();
        Fixture f;
        QVERIFY(open(f, url));
        QVERIFY(f.store->enqueueMany({ NewJob::tagged(u"x"_s), NewJob::tagged(u"y"_s) }).ok());
        QVERIFY(load(f));
        QTRY_COMPARE(f.model->rowCount(), 2);
        JobFilter onlyX;
        onlyX.types = { u"x"_s };
        JobFilter onlyY;
        onlyY.types = { u"y"_s };
        // Two filters in a row: only the second one's rows may ever show.
        f.model->setFilter(onlyX);
        f.model->setFilter(onlyY);
        QTRY_VERIFY(!f.model->isLoading());
        QTest::qWait(200);
        QCOMPARE(f.model->rowCount(), 1);
        QCOMPARE(f.model->jobAt(0)->type(), u"y"_s);
    }

    void noClientIsEmpty()
    {
        JobTableModel model;
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setClient(nullptr);
        QCOMPARE(model.rowCount(), 0);
        QVERIFY(!model.canFetchMore({}));
        QCOMPARE(model.headerData(JobTableModel::StatusColumn, Qt::Horizontal).toString(),
                 u"Status"_s);
    }
};

QTEST_MAIN(TestJobTableModel)
#include "tst_jobtablemodel.moc"
