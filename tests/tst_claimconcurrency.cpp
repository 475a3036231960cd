// Concurrent claims never hand out a job twice: threads with a store each, and separate
// processes, claiming from one table on both backends.

#include "storetestutil.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QHash>
#include <QProcess>
#include <QTest>
#include <QThread>
#include <atomic>
#include <latch>
#include <memory>
#include <vector>

using namespace OddJobs;
using namespace StoreTest;
using namespace Qt::StringLiterals;

namespace {

struct ClaimerRun
{
    QString worker;
    QList<qint64> ids;
    QString error;
    int claims = 0;
};

// One claimer thread: opens its own store in its own thread, waits for the others, then
// claims `batch` jobs at a time until a claim comes back empty.
void claimLoop(const QString &url, ClaimerRun *run, int batch, bool complete, std::latch *start,
               const std::atomic<bool> *stop)
{
    std::unique_ptr<JobStore> store;
    {
        const auto settings = ConnectionSettings::fromUrl(url);
        if (!settings) {
            run->error = settings.error().toString();
        } else {
            auto opened = JobStore::open(settings.value());
            if (opened)
                store = std::move(opened).value();
            else
                run->error = opened.error().toString();
        }
    }
    start->arrive_and_wait();
    if (!store)
        return;

    ClaimRequest request;
    request.worker = run->worker;
    request.anyType = true;
    request.limit = batch;
    while (!stop->load()) {
        const auto claimed = store->claim(request);
        ++run->claims;
        if (!claimed) {
            run->error = u"claim: "_s + claimed.error().toString();
            return;
        }
        if (claimed->isEmpty())
            return;
        QList<JobOutcome> outcomes;
        for (const Job &job : *claimed) {
            run->ids << job.id;
            if (job.lockedBy != run->worker || job.status != JobStatus::Locked) {
                run->error = u"claim returned "_s + describe(job);
                return;
            }
            JobOutcome outcome;
            outcome.id = job.id;
            outcome.success = true;
            outcomes << outcome;
        }
        if (complete) {
            const auto written = store->complete(run->worker, outcomes);
            if (!written) {
                run->error = u"complete: "_s + written.error().toString();
                return;
            }
            if (written->size() != outcomes.size()) {
                run->error = u"complete wrote %1 of %2 outcomes"_s.arg(written->size())
                                 .arg(outcomes.size());
                return;
            }
        }
    }
}

// Enqueues `total` jobs in chunks; returns their ids.
QList<qint64> enqueueJobs(JobStore &store, int total, QString *error)
{
    QList<qint64> all;
    const int chunk = 1000;
    for (int first = 0; first < total; first += chunk) {
        QList<NewJob> jobs;
        for (int i = first; i < qMin(total, first + chunk); ++i)
            jobs << tagged(u"Claim"_s, i);
        const auto ids = store.enqueueMany(jobs);
        if (!ids) {
            *error = ids.error().toString();
            return {};
        }
        all << ids.value();
    }
    return all;
}

// Every expected id claimed exactly once: a description of what is wrong, or empty.
QString checkExactlyOnce(const QList<qint64> &expected, const QList<QList<qint64>> &perClaimer)
{
    QHash<qint64, int> seen;
    for (const QList<qint64> &ids : perClaimer) {
        for (qint64 id : ids)
            ++seen[id];
    }
    QStringList problems;
    for (auto it = seen.cbegin(); it != seen.cend(); ++it) {
        if (it.value() > 1)
            problems << u"job %1 claimed %2 times"_s.arg(it.key()).arg(it.value());
        if (!expected.contains(it.key()))
            problems << u"unknown job %1 claimed"_s.arg(it.key());
    }
    for (qint64 id : expected) {
        if (!seen.contains(id))
            problems << u"job %1 never claimed"_s.arg(id);
    }
    if (problems.size() > 20)
        problems = problems.mid(0, 20) << u"..."_s;
    return problems.join(u"; "_s);
}

// All jobs of the table, through keyset paging.
QList<Job> listAll(JobStore &store, QString *error)
{
    QList<Job> jobs;
    PageRequest request;
    request.order = Qt::AscendingOrder;
    request.limit = 1000;
    for (;;) {
        const auto page = store.list({}, request);
        if (!page) {
            *error = page.error().toString();
            return {};
        }
        jobs << page->jobs;
        if (!page->hasMore || page->jobs.isEmpty())
            return jobs;
        request.after = page->last;
    }
}

} // namespace

class TestClaimConcurrency : public QObject
{
    Q_OBJECT

private slots:
    void init() { failOnQtMisuseWarnings(); }
    void twoThreads_data() { backendData(); }
    void twoThreads();
    void eightThreads_data() { backendData(); }
    void eightThreads();
    void twoProcesses_data() { backendData(); }
    void twoProcesses();

private:
    void runThreads(const QString &url, int claimers, int batch, bool complete,
                    std::vector<ClaimerRun> *runs);
};

void TestClaimConcurrency::runThreads(const QString &url, int claimers, int batch, bool complete,
                                      std::vector<ClaimerRun> *runs)
{
    runs->resize(claimers);
    std::latch start(claimers);
    std::atomic<bool> stop { false };
    std::vector<std::unique_ptr<QThread>> threads;
    for (int i = 0; i < claimers; ++i) {
        ClaimerRun *run = &(*runs)[i];
        run->worker = u"claimer:%1:t%2"_s.arg(QCoreApplication::applicationPid()).arg(i);
        threads.emplace_back(QThread::create(claimLoop, url, run, batch, complete, &start, &stop));
        threads.back()->start();
    }
    QDeadlineTimer deadline(std::chrono::minutes(3));
    bool finished = true;
    for (auto &thread : threads)
        finished = thread->wait(deadline) && finished;
    if (!finished) {
        // Stop the loops so the threads can be destroyed, then fail.
        stop = true;
        for (auto &thread : threads)
            thread->wait();
    }
    QVERIFY2(finished, "the claimers did not finish within three minutes");
    for (const ClaimerRun &run : *runs)
        QVERIFY2(run.error.isEmpty(), qPrintable(run.worker + u": "_s + run.error));
}

void TestClaimConcurrency::twoThreads()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    QString error;
    const QList<qint64> ids = enqueueJobs(*store, 600, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(ids.size(), 600);

    std::vector<ClaimerRun> runs;
    OJ_CALL(runThreads(url, 2, 7, true, &runs));
    const QString problems = checkExactlyOnce(ids, { runs[0].ids, runs[1].ids });
    QVERIFY2(problems.isEmpty(), qPrintable(problems));
    qInfo("claims per thread: %d and %d jobs", int(runs[0].ids.size()), int(runs[1].ids.size()));

    OJ_ASSIGN(succeeded, store->count(statusFilter({ JobStatus::Success })));
    QCOMPARE(succeeded, 600);
    const QList<Job> jobs = listAll(*store, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    for (const Job &job : jobs)
        QVERIFY2(job.attempts == 1 && job.status == JobStatus::Success, qPrintable(describe(job)));
}

void TestClaimConcurrency::eightThreads()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    QString error;
    const QList<qint64> ids = enqueueJobs(*store, 10000, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(ids.size(), 10000);

    std::vector<ClaimerRun> runs;
    OJ_CALL(runThreads(url, 8, 20, false, &runs));
    QList<QList<qint64>> perClaimer;
    QHash<qint64, QString> claimedBy;
    for (const ClaimerRun &run : runs) {
        perClaimer << run.ids;
        for (qint64 id : run.ids)
            claimedBy.insert(id, run.worker);
    }
    const QString problems = checkExactlyOnce(ids, perClaimer);
    QVERIFY2(problems.isEmpty(), qPrintable(problems));

    // The table agrees: every job locked once, by the claimer that reported it.
    const QList<Job> jobs = listAll(*store, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(jobs.size(), 10000);
    for (const Job &job : jobs) {
        QVERIFY2(job.status == JobStatus::Locked && job.attempts == 1
                     && job.lockedBy == claimedBy.value(job.id),
                 qPrintable(describe(job)));
    }
    OJ_ASSIGN(nothing, store->claim(ClaimRequest { u"late:1:x"_s, {}, true, {}, 10, {}, {} }));
    QVERIFY(nothing.isEmpty());
}

void TestClaimConcurrency::twoProcesses()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    QString error;
    const QList<qint64> ids = enqueueJobs(*store, 2000, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));

    // Both start claiming at the same moment, shortly after both have started.
    const qint64 startAt = QDateTime::currentMSecsSinceEpoch() + 1500;
    std::vector<std::unique_ptr<QProcess>> processes;
    for (int i = 0; i < 2; ++i) {
        auto process = std::make_unique<QProcess>();
        process->setProgram(QString::fromUtf8(ODDJOBS_TEST_CLAIMER));
        process->setArguments({ u"--url"_s, url, u"--worker"_s, u"proc:%1:p"_s.arg(i), u"--batch"_s,
                                u"5"_s, u"--complete"_s, u"--start-at"_s,
                                QString::number(startAt) });
        process->start();
        QVERIFY2(process->waitForStarted(30000), qPrintable(process->errorString()));
        processes.push_back(std::move(process));
    }

    QList<QList<qint64>> perProcess;
    for (auto &process : processes) {
        if (!process->waitForFinished(180000)) {
            process->kill();
            process->waitForFinished(5000);
            QFAIL("a claimer process did not finish within three minutes");
        }
        const QString errors = QString::fromUtf8(process->readAllStandardError());
        QVERIFY2(process->exitStatus() == QProcess::NormalExit && process->exitCode() == 0,
                 qPrintable(u"claimer exit %1: %2"_s.arg(process->exitCode()).arg(errors)));
        const QStringList lines
            = QString::fromUtf8(process->readAllStandardOutput()).split(u'\n', Qt::SkipEmptyParts);
        QVERIFY(!lines.isEmpty());
        QVERIFY2(lines.last().startsWith(u"done "_s), qPrintable(lines.last()));
        QList<qint64> claimed;
        for (const QString &line : lines.mid(0, lines.size() - 1)) {
            bool ok = false;
            claimed << line.toLongLong(&ok);
            QVERIFY2(ok, qPrintable(u"unexpected output: "_s + line));
        }
        QCOMPARE(lines.last().mid(5).toLongLong(), claimed.size());
        perProcess << claimed;
    }
    const QString problems = checkExactlyOnce(ids, perProcess);
    QVERIFY2(problems.isEmpty(), qPrintable(problems));
    qInfo("claims per process: %d and %d jobs", int(perProcess[0].size()),
          int(perProcess[1].size()));
    OJ_ASSIGN(succeeded, store->count(statusFilter({ JobStatus::Success })));
    QCOMPARE(succeeded, 2000);
}

QTEST_GUILESS_MAIN(TestClaimConcurrency)
#include "tst_claimconcurrency.moc"
