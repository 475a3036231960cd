// Dashboard benchmark: a PostgreSQL table of N jobs (default 1,000,000). Prints JSON lines:
//   - time from opening the database to the first rows in the jobs table, and RSS then;
//   - time to apply a filter (type; status) and see its first rows;
//   - the longest stall of the GUI thread while an embedded worker finishes ~1,000 jobs/s
//     and the table stays live (a 5 ms timer measures the gaps between its ticks).
//   dashboard_bench [--rows 1000000] [--url postgresql://...] [--seconds 10]
#include "jobtablemodel.h"
#include "mainwindow.h"
#include "oddjobs/jobstore.h"
#include "storeclient.h"
#include "support/pgcluster.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QSignalSpy>
#include <QSqlError>
#include <QSqlQuery>
#include <QTableView>
#include <QTimer>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {
void emitLine(QJsonObject line)
{
    line.insert(u"tool"_s, u"oddjobs"_s);
    line.insert(u"ts"_s, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    std::fputs(QJsonDocument(line).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

qint64 rssKb()
{
    QFile status(u"/proc/self/status"_s);
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

// Waits (processing events) until the model has rows after a reset; returns the ms taken.
qint64 waitForRows(Ui::JobTableModel *model, QElapsedTimer &clock, int timeoutMs = 120000)
{
    QSignalSpy reset(model, &QAbstractItemModel::modelReset);
    while (clock.elapsed() < timeoutMs) {
        if (reset.count() > 0 && model->rowCount() > 0)
            return clock.elapsed();
        reset.wait(50);
    }
    return -1;
}
} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QLoggingCategory::setFilterRules(u"oddjobs.*.info=false"_s);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption rows(u"rows"_s, u"Jobs in the table."_s, u"n"_s, u"1000000"_s);
    const QCommandLineOption url(u"url"_s, u"Use this database instead of a throwaway cluster."_s,
                                 u"url"_s);
    const QCommandLineOption seconds(u"seconds"_s, u"How long the live phase runs."_s, u"s"_s,
                                     u"10"_s);
    parser.addOptions({ rows, url, seconds });
    parser.process(app);
    const qint64 n = parser.value(rows).toLongLong();

    std::unique_ptr<Test::PgCluster> cluster;
    QString databaseUrl = parser.value(url);
    if (databaseUrl.isEmpty()) {
        Test::PgCluster::Options options;
        options.durable = true;
        cluster = std::make_unique<Test::PgCluster>(options);
        QString error;
        if (!cluster->start(&error)) {
            std::fprintf(stderr, "cannot start PostgreSQL: %s\n", qPrintable(error));
            return 1;
        }
        databaseUrl = cluster->createDatabase();
    }
    {
        auto store = JobStore::open(*ConnectionSettings::fromUrl(databaseUrl));
        if (!store || !(*store)->migrate()) {
            std::fprintf(stderr, "cannot open the database\n");
            return 1;
        }
        QSqlQuery q((*store)->database());
        QElapsedTimer fill;
        fill.start();
        // A realistic mix: mostly finished jobs of a few types, some queued, some failed.
        const QString sql
            = u"INSERT INTO jobs (payload, status, attempts, started_at, finished_at, last_error) "
              "SELECT jsonb_build_object('tag', "
              "(ARRAY['mail.send','report.render','sync.crm','image.thumb'])"
              "[1 + g %% 4], 'contents', jsonb_build_object('n', g)), "
              "CASE WHEN g %% 50 = 0 THEN 'failed' WHEN g %% 97 = 0 THEN 'queued' ELSE 'success' "
              "END, 1, "
              "now() - interval '1 hour', now() - interval '59 minutes', "
              "CASE WHEN g %% 50 = 0 THEN '{\"message\": \"boom\"}'::jsonb END "
              "FROM generate_series(1, %1) g"_s.arg(n);
        QString fixed = sql;
        fixed.replace(u"%%"_s, u"%"_s);
        if (!q.exec(fixed) || !q.exec(u"VACUUM ANALYZE jobs"_s)) {
            std::fprintf(stderr, "fill failed: %s\n", qPrintable(q.lastError().text()));
            return 1;
        }
        emitLine({ { u"test"_s, u"dashboard_fill"_s },
                   { u"rows"_s, n },
                   { u"seconds"_s, fill.elapsed() / 1000.0 } });
    }

    HandlerRegistry handlers;
    handlers.add(u"bench.live"_s, [](JobContext &) { return HandlerResult::success(); });
    RunnerConfig worker;
    worker.concurrency = ConcurrencyControl::maxConcurrentJobs(16);
    Ui::MainWindow window(handlers, worker, false);
    window.resize(1400, 900);
    window.show();
    const qint64 rssBefore = rssKb();
    QElapsedTimer clock;
    clock.start();
    window.openDatabase(databaseUrl, u"jobs"_s, false);
    const qint64 firstRows = waitForRows(window.jobModel(), clock);
    emitLine({ { u"test"_s, u"dashboard_open"_s },
               { u"rows"_s, n },
               { u"first_rows_ms"_s, firstRows },
               { u"loaded_rows"_s, window.jobModel()->rowCount() },
               { u"rss_kb"_s, rssKb() },
               { u"rss_before_kb"_s, rssBefore } });

    auto filterTime = [&](const JobFilter &filter, const QString &name) {
        QElapsedTimer t;
        t.start();
        window.jobModel()->setFilter(filter);
        const qint64 ms = waitForRows(window.jobModel(), t);
        emitLine({ { u"test"_s, u"dashboard_filter"_s },
                   { u"filter"_s, name },
                   { u"rows"_s, n },
                   { u"first_rows_ms"_s, ms } });
    };
    JobFilter byType;
    byType.types = { u"sync.crm"_s };
    filterTime(byType, u"type"_s);
    JobFilter byStatus;
    byStatus.statuses = { JobStatus::Failed };
    filterTime(byStatus, u"status"_s);
    JobFilter both = byType;
    both.statuses = { JobStatus::Failed };
    filterTime(both, u"type+status"_s);
    window.jobModel()->setFilter({});
    {
        QElapsedTimer t;
        t.start();
        waitForRows(window.jobModel(), t);
    }

    // Live phase: the embedded worker drains jobs enqueued at ~1,000/s while the table
    // refreshes; the GUI thread's longest gap between 5 ms ticks is its worst stall.
    window.startWorker();
    auto store = JobStore::open(*ConnectionSettings::fromUrl(databaseUrl));
    qint64 maxGap = 0;
    qint64 ticks = 0;
    QElapsedTimer tick;
    tick.start();
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    QList<QPair<qint64, qint64>> stalls; // (when, how long) of gaps over 30 ms
    QElapsedTimer sinceStart;
    sinceStart.start();
    QObject::connect(&probe, &QTimer::timeout, [&] {
        const qint64 gap = tick.restart();
        if (gap > 30)
            stalls.append({ sinceStart.elapsed(), gap });
        maxGap = std::max(maxGap, gap);
        ++ticks;
    });
    // The feeder has its own connection on its own thread, like another process would.
    std::atomic<int> enqueued { 0 };
    std::atomic<bool> feeding { true };
    std::thread feeder([&] {
        auto own = JobStore::open(*ConnectionSettings::fromUrl(databaseUrl));
        if (!own)
            return;
        while (feeding) {
            QList<NewJob> jobs;
            for (int i = 0; i < 100; ++i)
                jobs << NewJob::tagged(u"bench.live"_s, enqueued + i);
            if ((*own)->enqueueMany(jobs))
                enqueued += 100;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    const int liveSeconds = parser.value(seconds).toInt();
    probe.start(5);
    QEventLoop loop;
    QTimer::singleShot(liveSeconds * 1000, &loop, &QEventLoop::quit);
    loop.exec();
    feeding = false;
    feeder.join();
    probe.stop();
    const qint64 done = *(*store)->count(
        JobFilter { {}, { JobStatus::Success }, { u"bench.live"_s }, {}, {}, {}, {}, {}, {} });
    emitLine({ { u"test"_s, u"dashboard_live"_s },
               { u"rows"_s, n },
               { u"seconds"_s, liveSeconds },
               { u"enqueued"_s, enqueued.load() },
               { u"finished"_s, done },
               { u"gui_max_stall_ms"_s, maxGap },
               { u"ticks"_s, ticks },
               { u"rss_kb"_s, rssKb() } });
    if (qEnvironmentVariableIsSet("ODDJOBS_BENCH_VERBOSE")) {
        for (const auto &[when, gap] : std::as_const(stalls))
            std::fprintf(stderr, "stall of %lld ms at %lld ms\n", gap, when);
    }
    window.stopWorker();
    if (window.runner())
        window.runner()->waitForStopped(10000);
    return 0;
}
