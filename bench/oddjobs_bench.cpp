// OddJobs benchmarks. One JSON object per line on stdout, in the shape of the peer harness
// (tool, test, variant, concurrency, ...), so both can be summarised side by side.
//
//   oddjobs_bench [--url postgresql://...] [--sqlite] [--only throughput,latency,...]
//                 [--n 20000] [--concurrency 1,10,32] [--batch 500] [--samples 200]
//                 [--depths 10000,1000000] [--smoke] [--delete-successful]
//                 [--claim-connections N] [--prefetch N] [--start-idle]
//                 [--finished 1000000]
//
// Without --url a throwaway PostgreSQL cluster is started with the server's default
// durability (fsync and synchronous_commit on), like the peers' server.
#include "oddjobs/jobstore.h"
#include "oddjobs/runner.h"
#include "support/pgcluster.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QProcess>
#include <QRandomGenerator>
#include <QSemaphore>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sys/resource.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {

QString g_runId;

void emitLine(QJsonObject line)
{
    line.insert(u"run_id"_s, g_runId);
    line.insert(u"ts"_s, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
    line.insert(u"tool"_s, u"oddjobs"_s);
    std::fputs(QJsonDocument(line).toJson(QJsonDocument::Compact).constData(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

double percentile(QList<double> values, double p)
{
    if (values.isEmpty())
        return 0;
    std::sort(values.begin(), values.end());
    const qsizetype rank = std::clamp<qsizetype>(
        qsizetype(std::ceil(p / 100.0 * double(values.size()))) - 1, 0, values.size() - 1);
    return values.at(rank);
}

double round3(double v)
{
    return std::round(v * 1000) / 1000;
}

qint64 nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void fail(const QString &what, const Error &error)
{
    std::fprintf(stderr, "oddjobs_bench: %s: %s\n", qPrintable(what), qPrintable(error.toString()));
    std::exit(1);
}

template<typename T>
T must(Result<T> r, const QString &what)
{
    if (!r)
        fail(what, r.error());
    return std::move(r).value();
}

struct Target
{
    ConnectionSettings settings;
    bool postgres = true;
};

// Server counters for a drain: committed transactions and WAL bytes.
struct PgCounters
{
    qint64 commits = 0;
    qint64 walBytes = 0;
};

std::optional<PgCounters> readCounters(JobStore &store)
{
    if (store.backend() != Backend::PostgreSql)
        return std::nullopt;
    QSqlQuery q(store.database());
    if (!q.exec(u"SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = "
                u"current_database()), "
                "pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"_s)
        || !q.next())
        return std::nullopt;
    return PgCounters { q.value(0).toLongLong(), q.value(1).toLongLong() };
}

void resetTable(JobStore &store)
{
    QSqlQuery q(store.database());
    const QString table = store.options().table.quoted();
    if (!q.exec(store.backend() == Backend::PostgreSql ? u"TRUNCATE %1"_s.arg(table)
                                                       : u"DELETE FROM %1"_s.arg(table)))
        fail(u"reset"_s, makeError(ErrorCode::Database, q.lastError().text()));
    // As the peer harness starts each drain: no dead rows and no checkpoint debt inherited
    // from the run before.
    if (store.backend() == Backend::PostgreSql) {
        q.exec(u"VACUUM ANALYZE %1"_s.arg(table));
        q.exec(u"CHECKPOINT"_s);
    }
}

void fill(JobStore &store, int n, const QString &type = u"bench.noop"_s)
{
    const int chunk = 5000;
    for (int done = 0; done < n; done += chunk) {
        QList<NewJob> jobs;
        for (int i = done; i < std::min(n, done + chunk); ++i)
            jobs << NewJob::tagged(type, i);
        must(store.enqueueMany(jobs), u"fill"_s);
    }
}

// CPU over a drain, as the peer harness counts it: the whole machine's busy share of all
// cores (/proc/stat), this process and every process named "postgres" (server and backends)
// in seconds of one core. Says who bounded a drain on a shared box.
struct CpuSnapshot
{
    qint64 busyTicks = 0;
    qint64 allTicks = 0;
    qint64 postgresTicks = 0;
    double selfSeconds = 0;
};

qint64 postgresTicks()
{
    qint64 ticks = 0;
    const QDir proc(u"/proc"_s);
    for (const QString &pid : proc.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        if (!pid.front().isDigit())
            continue;
        QFile file(u"/proc/%1/stat"_s.arg(pid));
        if (!file.open(QIODevice::ReadOnly))
            continue; // gone meanwhile
        const QByteArray stat = file.readAll();
        const qsizetype open = stat.indexOf('('), close = stat.lastIndexOf(')');
        if (open < 0 || close < open || stat.mid(open + 1, close - open - 1) != "postgres")
            continue;
        // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
        const QList<QByteArray> fields = stat.mid(close + 2).split(' ');
        if (fields.size() > 12)
            ticks += fields.at(11).toLongLong() + fields.at(12).toLongLong();
    }
    return ticks;
}

CpuSnapshot cpuSnapshot()
{
    CpuSnapshot s;
    QFile stat(u"/proc/stat"_s);
    if (stat.open(QIODevice::ReadOnly)) {
        // cpu user nice system idle iowait irq softirq steal
        const QList<QByteArray> f = stat.readLine().simplified().split(' ');
        if (f.size() > 8) {
            s.busyTicks = f.at(1).toLongLong() + f.at(2).toLongLong() + f.at(3).toLongLong()
                + f.at(6).toLongLong() + f.at(7).toLongLong();
            s.allTicks
                = s.busyTicks + f.at(4).toLongLong() + f.at(5).toLongLong() + f.at(8).toLongLong();
        }
    }
    s.postgresTicks = postgresTicks();
    rusage self {};
    if (getrusage(RUSAGE_SELF, &self) == 0)
        s.selfSeconds = double(self.ru_utime.tv_sec + self.ru_stime.tv_sec)
            + double(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
    return s;
}

// Shares of one core over `seconds`, and CPU microseconds per job.
QJsonObject cpuSince(const CpuSnapshot &a, const CpuSnapshot &b, double seconds, int jobs)
{
    const double hz = double(sysconf(_SC_CLK_TCK));
    const double selfS = b.selfSeconds - a.selfSeconds;
    const double pgS = double(b.postgresTicks - a.postgresTicks) / hz;
    const qint64 all = std::max<qint64>(1, b.allTicks - a.allTicks);
    QJsonObject cpu { { u"machine_busy_pct"_s,
                        std::round(1000.0 * double(b.busyTicks - a.busyTicks) / double(all)) / 10 },
                      { u"oddjobs_pct_of_core"_s, std::round(1000.0 * selfS / seconds) / 10 },
                      { u"postgres_pct_of_core"_s, std::round(1000.0 * pgS / seconds) / 10 } };
    if (jobs > 0) {
        cpu.insert(u"oddjobs_us_per_job"_s, round3(selfS * 1e6 / jobs));
        cpu.insert(u"postgres_us_per_job"_s, round3(pgS * 1e6 / jobs));
    }
    return cpu;
}

struct DrainResult
{
    double seconds = 0;
    int completed = 0;
    QJsonObject cpu;
    // Where the time went, on the drain's clock: the first and the last handler's start (the
    // rest, until every outcome was read back as written, is the tail).
    double firstJobMs = 0;
    double lastJobMs = 0;
};

// Removes succeeded jobs instead of keeping them as history (RunnerConfig::deleteSuccessfulJobs),
// as graphile-worker does: a DELETE touches no index, an UPDATE to 'success' adds entries to
// most of them.
bool g_deleteSuccessful = false;
// Finished jobs lying in the table during a drain (--finished N): the claim index and the
// primary key must keep a drain as fast as on an empty table.
qint64 g_finishedRows = 0;
// RunnerConfig::claimConnections for the drains (0: the default).
int g_claimConnections = 0;
// RunnerConfig::prefetch for batched drains (-1: the batch size).
int g_prefetch = -1;
// Throughput (--start-idle): the runner starts on an empty table and idles a while before the
// jobs arrive (enqueued while it drains; timed from the first enqueue), as a worker that waits
// for a burst does. Its statements' plans were then made for an empty table.
bool g_startIdle = false;

void addFinished(JobStore &store, qint64 rows)
{
    if (rows <= 0)
        return;
    QSqlQuery q(store.database());
    const QString table = store.options().table.quoted();
    const QString insert = store.backend() == Backend::PostgreSql
        ? u"INSERT INTO %1 (payload, status, attempts, finished_at) SELECT "
          u"jsonb_build_object('tag', 'bench.done', 'contents', g), 'success', 1, now() FROM "
          u"generate_series(1, %2) g"_s.arg(table)
              .arg(rows)
        : u"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %2) "
          u"INSERT INTO %1 (payload, status, attempts, finished_at) SELECT json_object('tag', "
          u"'bench.done', 'contents', x), 'success', 1, 0 FROM g"_s.arg(table)
              .arg(rows);
    if (!q.exec(insert))
        fail(u"finished rows"_s, makeError(ErrorCode::Database, q.lastError().text()));
    if (store.backend() == Backend::PostgreSql)
        q.exec(u"VACUUM ANALYZE %1"_s.arg(table));
}

// Timed as the peer harness times its drains: the handler counts the jobs it ran; once all n
// ran, the table is read every 5 ms until no job of the drain is left unfinished (every outcome
// written). No signal per job crosses to this thread.
DrainResult drain(const Target &target, JobStore &store, int n, int concurrency, int batch,
                  const std::function<void()> &arrive = {}, bool capped = true)
{
    RunnerConfig config;
    config.connection = target.settings;
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(concurrency);
    config.maxClaimBatch = batch;
    // Batched mode also keeps a claimed batch at hand, so freed slots refill without a trip.
    config.prefetch = batch > 1 ? (g_prefetch >= 0 ? g_prefetch : batch) : 0;
    config.pollIntervalMs = 1000;
    config.retentionSeconds = 0;
    config.deleteSuccessfulJobs = g_deleteSuccessful;
    if (g_claimConnections > 0)
        config.claimConnections = g_claimConnections;
    std::atomic<int> ran { 0 };
    std::atomic<qint64> first { 0 }, last { 0 }; // nowNs(), taken on the pool's threads
    QEventLoop loop;
    HandlerRegistry handlers;
    handlers.add(u"bench.noop"_s, [&ran, &loop, &first, &last, n](JobContext &) {
        const int k = ++ran;
        if (k == 1)
            first = nowNs();
        if (k == n) {
            last = nowNs();
            QMetaObject::invokeMethod(&loop, &QEventLoop::quit, Qt::QueuedConnection);
        }
        return HandlerResult::success();
    });
    Runner runner(config, handlers);
    qint64 startedNs = 0; // nowNs() when the drain's clock started
    QObject::connect(&runner, &Runner::databaseError, &loop, [](const QString &m) {
        std::fprintf(stderr, "database error: %s\n", qPrintable(m));
    });
    QTimer cap;
    cap.setSingleShot(true);
    QObject::connect(&cap, &QTimer::timeout, &loop, &QEventLoop::quit);
    // As the peer harness times a drain: from just before the worker's start call (or, started
    // idle, the first enqueue).
    CpuSnapshot cpuBefore;
    const auto startClock = [&] {
        cpuBefore = cpuSnapshot();
        startedNs = nowNs();
    };
    if (!arrive)
        startClock();
    runner.start();
    if (arrive) {
        QTimer idle;
        idle.setSingleShot(true);
        QObject::connect(&idle, &QTimer::timeout, &loop, &QEventLoop::quit);
        idle.start(2000);
        loop.exec();
        startClock();
        arrive();
    }
    if (capped)
        cap.start(120000);
    loop.exec();
    JobFilter unfinished;
    unfinished.types = { u"bench.noop"_s };
    unfinished.statuses = { JobStatus::Queued, JobStatus::Locked, JobStatus::Retry };
    qint64 left = n;
    for (;;) {
        auto count = store.count(unfinished);
        if (!count)
            fail(u"count"_s, count.error());
        left = *count;
        if (left == 0 || (capped && cap.remainingTime() <= 0))
            break;
        QThread::msleep(5);
    }
    const auto sinceStart
        = [startedNs](qint64 at) { return at == 0 ? 0.0 : (at - startedNs) / 1e6; };
    DrainResult r {
        (nowNs() - startedNs) / 1e9, int(n - left), {}, sinceStart(first), sinceStart(last)
    };
    r.cpu = cpuSince(cpuBefore, cpuSnapshot(), r.seconds, r.completed);
    runner.stopNow();
    runner.waitForStopped(30000);
    return r;
}

void benchThroughput(const Target &target, JobStore &store, int n, const QList<int> &concurrencies,
                     const QList<int> &batches)
{
    for (int batch : batches) {
        for (int c : concurrencies) {
            resetTable(store);
            addFinished(store, g_finishedRows);
            if (!g_startIdle) {
                fill(store, n);
                if (target.postgres)
                    QSqlQuery(store.database())
                        .exec(u"ANALYZE %1"_s.arg(store.options().table.quoted()));
            }
            const auto before = readCounters(store);
            const DrainResult r = g_startIdle
                ? drain(target, store, n, c, batch, [&store, n] { fill(store, n); })
                : drain(target, store, n, c, batch);
            const auto after = readCounters(store);
            QJsonObject line {
                { u"test"_s, u"throughput"_s },
                { u"variant"_s,
                  QString((batch == 1 ? u"batch1"_s : u"batch%1"_s.arg(batch))
                          + (g_prefetch >= 0 && batch > 1 ? u"-prefetch%1"_s.arg(g_prefetch)
                                                          : QString())
                          + (g_deleteSuccessful ? u"-delete"_s : QString())
                          + (g_startIdle ? u"-idle-start"_s : QString())) },
                { u"backend"_s, target.postgres ? u"postgresql"_s : u"sqlite"_s },
                { u"concurrency"_s, c },
                { u"n"_s, n },
                { u"finished_rows"_s, g_finishedRows },
                { u"prefetch"_s, batch > 1 ? (g_prefetch >= 0 ? g_prefetch : batch) : 0 },
                { u"claim_connections"_s,
                  g_claimConnections > 0 ? g_claimConnections : RunnerConfig().claimConnections },
                { u"completed"_s, r.completed },
                { u"seconds"_s, round3(r.seconds) },
                { u"first_job_ms"_s, round3(r.firstJobMs) },
                { u"last_job_ms"_s, round3(r.lastJobMs) },
                { u"jobs_per_s"_s, std::round(r.completed / r.seconds) },
                { u"capped"_s, r.completed < n },
                { u"cpu"_s, r.cpu }
            };
            if (before && after && r.completed > 0) {
                line.insert(u"commits_per_job"_s,
                            round3(double(after->commits - before->commits) / r.completed));
                line.insert(u"wal_bytes_per_job"_s,
                            std::round(double(after->walBytes - before->walBytes) / r.completed));
            }
            emitLine(line);
        }
    }
}

void benchLatency(const Target &target, JobStore &store, int samples,
                  const QList<int> &concurrencies)
{
    for (int c : concurrencies) {
        resetTable(store);
        RunnerConfig config;
        config.connection = target.settings;
        config.concurrency = ConcurrencyControl::maxConcurrentJobs(c);
        config.pollIntervalMs = 60000; // only notifications (or SQLite's change watch) wake it
        HandlerRegistry handlers;
        std::atomic<qint64> startedNs { 0 };
        QSemaphore started;
        handlers.add(u"bench.latency"_s, [&startedNs, &started](JobContext &) {
            startedNs = nowNs();
            started.release();
            return HandlerResult::success();
        });
        Runner runner(config, handlers);
        QEventLoop loop;
        QObject::connect(&runner, &Runner::started, &loop, &QEventLoop::quit);
        runner.start();
        loop.exec();
        QThread::msleep(700);
        QList<double> latencies;
        QList<double> enqueueCalls;
        const int warmup = 10;
        for (int i = 0; i < warmup + samples; ++i) {
            startedNs = 0;
            const qint64 t0 = nowNs();
            must(store.enqueue(NewJob::tagged(u"bench.latency"_s, i)), u"enqueue"_s);
            const qint64 t1 = nowNs();
            // Waits without polling: on two cores a thread that wakes every few microseconds
            // takes CPU from the worker and the server it is timing.
            const bool ran = started.tryAcquire(1, 5000);
            if (i >= warmup && ran) {
                latencies << (startedNs.load() - t0) / 1e6;
                enqueueCalls << (t1 - t0) / 1e6;
            }
            // Let the worker settle (write the outcome, go idle) before the next sample.
            QCoreApplication::processEvents();
            QThread::msleep(5 + QRandomGenerator::global()->bounded(20));
        }
        runner.stopNow();
        runner.waitForStopped(10000);
        emitLine(QJsonObject {
            { u"test"_s, u"latency"_s },
            { u"variant"_s, target.postgres ? u"listen_notify"_s : u"data_version_watch"_s },
            { u"backend"_s, target.postgres ? u"postgresql"_s : u"sqlite"_s },
            { u"concurrency"_s, c },
            { u"samples"_s, latencies.size() },
            { u"p50_ms"_s, round3(percentile(latencies, 50)) },
            { u"p95_ms"_s, round3(percentile(latencies, 95)) },
            { u"p99_ms"_s, round3(percentile(latencies, 99)) },
            { u"max_ms"_s, round3(percentile(latencies, 100)) },
            { u"enqueue_call_p50_ms"_s, round3(percentile(enqueueCalls, 50)) } });
    }
}

void benchEnqueue(const Target &target, JobStore &store, int n)
{
    resetTable(store);
    // As the peer harness times addJobs: the jobs are made before the clock starts, and the
    // calls (each encoding its jobs) are timed.
    QList<QList<NewJob>> chunks;
    for (int done = 0; done < n; done += 1000) {
        QList<NewJob> &jobs = chunks.emplaceBack();
        for (int i = done; i < std::min(n, done + 1000); ++i)
            jobs << NewJob::tagged(u"bench.noop"_s, i);
    }
    QElapsedTimer clock;
    clock.start();
    for (const QList<NewJob> &jobs : std::as_const(chunks))
        must(store.enqueueMany(jobs), u"enqueueMany"_s);
    const double bulk = clock.nsecsElapsed() / 1e9;
    emitLine(QJsonObject { { u"test"_s, u"enqueue_bulk"_s },
                           { u"api"_s, u"JobStore::enqueueMany, chunks of 1000"_s },
                           { u"backend"_s, target.postgres ? u"postgresql"_s : u"sqlite"_s },
                           { u"n"_s, n },
                           { u"jobs_per_s"_s, std::round(n / bulk) } });
    const int single = std::min(n, 2000);
    clock.restart();
    for (int i = 0; i < single; ++i)
        must(store.enqueue(NewJob::tagged(u"bench.noop"_s, i)), u"enqueue"_s);
    const double s = clock.nsecsElapsed() / 1e9;
    emitLine(QJsonObject { { u"test"_s, u"enqueue_single"_s },
                           { u"api"_s, u"JobStore::enqueue (sequential, one connection)"_s },
                           { u"backend"_s, target.postgres ? u"postgresql"_s : u"sqlite"_s },
                           { u"n"_s, single },
                           { u"jobs_per_s"_s, std::round(single / s) } });
}

// Cost of one claim of 50 + one completion of those 50, with `depth` runnable rows waiting.
// Each depth gets a table of its own, and the rounds alternate between the tables: a round's
// two commits wait for the disk, whose flush time drifts by a millisecond and more within a
// minute on this kind of machine, so depths measured one after the other compare the disk's
// moods as much as the index (10,000 rows measured at 2.4 ms, then at 3.9 ms, seconds apart).
void benchClaimDepth(const Target &target, const QList<qint64> &depths)
{
    struct Depth
    {
        qint64 depth;
        std::unique_ptr<JobStore> store;
        QList<double> costs;
    };
    std::vector<Depth> tables;
    ClaimRequest request;
    request.worker = u"bench:claim"_s;
    request.types = { u"bench.noop"_s };
    request.limit = 50;
    for (qsizetype i = 0; i < depths.size(); ++i) {
        StoreOptions options;
        options.table = must(TableName::parse(u"oddjobs_bench_depth_%1"_s.arg(i)), u"table"_s);
        auto store = must(JobStore::open(target.settings, options), u"open"_s);
        must(store->migrate(), u"migrate"_s);
        resetTable(*store);
        QSqlQuery q(store->database());
        const QString table = options.table.quoted();
        // Plain SQL fills millions of rows far faster than any API round trip would.
        const QString insert = target.postgres
            ? u"INSERT INTO %1 (payload) SELECT jsonb_build_object('tag', 'bench.noop', "
              u"'contents', g) FROM "
              "generate_series(1, %2) g"_s.arg(table)
                  .arg(depths.at(i))
            : u"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %2) "
              u"INSERT INTO %1 (payload) "
              "SELECT json_object('tag', 'bench.noop', 'contents', x) FROM g"_s.arg(table)
                  .arg(depths.at(i));
        if (!q.exec(insert))
            fail(u"fill"_s, makeError(ErrorCode::Database, q.lastError().text()));
        if (target.postgres)
            q.exec(u"VACUUM ANALYZE %1"_s.arg(table));
        // Claims as the runner's claiming connections make them.
        if (auto tuned = store->tuneForRunner(true, request.worker); !tuned)
            fail(u"tune"_s, tuned.error());
        tables.push_back(Depth { depths.at(i), std::move(store), {} });
    }
    if (tables.empty())
        return;
    {
        // The fills' checkpoint debt is paid before the clock starts, not inside one depth's
        // rounds.
        QSqlQuery q(tables.front().store->database());
        q.exec(target.postgres ? u"CHECKPOINT"_s : u"PRAGMA wal_checkpoint(TRUNCATE)"_s);
    }
    // Consume at most half of the shallowest queue, so every depth stays what it says.
    const qint64 shallowest
        = std::min_element(tables.cbegin(), tables.cend(), [](const Depth &a, const Depth &b) {
              return a.depth < b.depth;
          })->depth;
    const int rounds = int(std::min<qint64>(shallowest / 100, 200));
    for (int round = 0; round < rounds; ++round) {
        // Forwards, then backwards: no depth always follows the same one.
        for (size_t k = 0; k < tables.size(); ++k) {
            Depth &t = tables.at(round % 2 ? tables.size() - 1 - k : k);
            const qint64 t0 = nowNs();
            const QList<Job> jobs = must(t.store->claim(request), u"claim"_s);
            if (jobs.size() != request.limit)
                fail(u"claim"_s,
                     makeError(ErrorCode::Database,
                               u"claimed %1 jobs of %2 at depth %3"_s.arg(jobs.size())
                                   .arg(request.limit)
                                   .arg(t.depth)));
            QList<JobOutcome> outcomes;
            for (const Job &job : jobs)
                outcomes << JobOutcome { job.id, true, {}, {}, 0, false };
            must(t.store->complete(request.worker, outcomes), u"complete"_s);
            t.costs << (nowNs() - t0) / 1e6;
        }
    }
    for (Depth &t : tables) {
        emitLine(QJsonObject { { u"test"_s, u"claim_depth"_s },
                               { u"backend"_s, target.postgres ? u"postgresql"_s : u"sqlite"_s },
                               { u"depth"_s, t.depth },
                               { u"batch"_s, 50 },
                               { u"rounds"_s, rounds },
                               { u"interleaved"_s, int(tables.size()) },
                               { u"claim_complete_p50_ms"_s, round3(percentile(t.costs, 50)) },
                               { u"claim_complete_p95_ms"_s, round3(percentile(t.costs, 95)) } });
        // Millions of rows are not left behind in the database.
        resetTable(*t.store);
    }
}

qint64 rssKb(qint64 pid)
{
    QFile status(u"/proc/%1/status"_s.arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

// The real headless worker: RSS when idle and while draining n no-op (echo) jobs.
void benchRss(const Target &target, JobStore &store, int n)
{
    resetTable(store);
    QString url;
    if (target.postgres) {
        const ConnectionSettings &s = target.settings;
        url = u"postgresql://%1:%2@%3:%4/%5"_s.arg(s.user, s.password, s.host)
                  .arg(s.port)
                  .arg(s.database);
    } else {
        url = u"sqlite:"_s + target.settings.sqlitePath;
    }
    QProcess worker;
    worker.setProgram(QStringLiteral(ODDJOBS_BINARY));
    worker.setArguments({ u"--headless"_s, u"--database"_s, url, u"--log-level"_s, u"error"_s,
                          u"--concurrency"_s, u"10"_s });
    worker.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    worker.start();
    worker.waitForStarted();
    QThread::sleep(2);
    const qint64 idle = rssKb(worker.processId());
    fill(store, n, u"oddjobs.echo"_s);
    qint64 peak = 0;
    QElapsedTimer clock;
    clock.start();
    for (;;) {
        peak = std::max(peak, rssKb(worker.processId()));
        const qint64 left
            = must(store.count(JobFilter {
                       {}, { JobStatus::Queued, JobStatus::Locked }, {}, {}, {}, {}, {}, {}, {} }),
                   u"count"_s);
        if (left == 0 || clock.elapsed() > 120000)
            break;
        QThread::msleep(100);
    }
    worker.terminate();
    worker.waitForFinished(30000);
    emitLine(QJsonObject { { u"test"_s, u"rss"_s },
                           { u"backend"_s, target.postgres ? u"postgresql"_s : u"sqlite"_s },
                           { u"idle_kb"_s, idle },
                           { u"draining_peak_kb"_s, peak },
                           { u"n"_s, n } });
}

QList<int> intList(const QString &text)
{
    QList<int> out;
    for (const QString &part : text.split(u',', Qt::SkipEmptyParts))
        out << part.trimmed().toInt();
    return out;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    // Measurements go to stdout as JSON; the runner's per-job lines would only cost time.
    QLoggingCategory::setFilterRules(u"oddjobs.*.info=false"_s);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption url(
        u"url"_s, u"Benchmark against this database instead of a throwaway cluster."_s, u"url"_s);
    const QCommandLineOption sqlite(u"sqlite"_s, u"Benchmark an embedded SQLite file."_s);
    const QCommandLineOption only(u"only"_s, u"throughput,latency,enqueue,claim_depth,rss"_s,
                                  u"list"_s);
    const QCommandLineOption n(u"n"_s, u"Jobs per drain (20000)."_s, u"n"_s, u"20000"_s);
    const QCommandLineOption conc(u"concurrency"_s, u"Concurrencies (1,10,32)."_s, u"list"_s,
                                  u"1,10,32"_s);
    const QCommandLineOption batch(u"batch"_s, u"Claim batch sizes (500,1)."_s, u"list"_s,
                                   u"500,1"_s);
    const QCommandLineOption samples(u"samples"_s, u"Latency samples (200)."_s, u"n"_s, u"200"_s);
    const QCommandLineOption latConc(u"latency-concurrency"_s, u"Latency concurrencies (10,1)."_s,
                                     u"list"_s, u"10,1"_s);
    const QCommandLineOption depths(u"depths"_s,
                                    u"Queue depths for the claim cost (10000,1000000)."_s,
                                    u"list"_s, u"10000,1000000"_s);
    const QCommandLineOption smoke(u"smoke"_s, u"Tiny inputs, every benchmark once (for CI)."_s);
    const QCommandLineOption claimConnections(
        u"claim-connections"_s, u"Throughput: claims in flight at once (default: the runner's)."_s,
        u"n"_s, u"0"_s);
    const QCommandLineOption prefetch(
        u"prefetch"_s, u"Throughput: jobs held beyond free slots when batched (the batch size)."_s,
        u"n"_s, u"-1"_s);
    const QCommandLineOption deleteSuccessful(
        u"delete-successful"_s, u"Throughput: delete succeeded jobs instead of keeping them."_s);
    const QCommandLineOption startIdle(
        u"start-idle"_s,
        u"Throughput: the worker idles on an empty table before the jobs "
        u"arrive."_s);
    const QCommandLineOption finished(
        u"finished"_s, u"Throughput: this many finished jobs lie in the table (0)."_s, u"n"_s,
        u"0"_s);
    parser.addOptions({ url, sqlite, only, n, conc, batch, samples, latConc, depths, smoke,
                        deleteSuccessful, finished, claimConnections, startIdle, prefetch });
    parser.process(app);
    g_deleteSuccessful = parser.isSet(deleteSuccessful);
    g_startIdle = parser.isSet(startIdle);
    g_finishedRows = parser.value(finished).toLongLong();
    g_claimConnections = parser.value(claimConnections).toInt();
    g_prefetch = parser.value(prefetch).toInt();
    g_runId = qEnvironmentVariable("RUN_ID", QDateTime::currentDateTimeUtc().toString(Qt::ISODate));

    const bool isSmoke = parser.isSet(smoke);
    QStringList sections = parser.isSet(only)
        ? parser.value(only).split(u',')
        : QStringList { u"throughput"_s, u"latency"_s, u"enqueue"_s, u"claim_depth"_s, u"rss"_s };
    int jobs = parser.value(n).toInt();
    QList<int> concurrencies = intList(parser.value(conc));
    QList<int> batches = intList(parser.value(batch));
    int latencySamples = parser.value(samples).toInt();
    QList<int> latencyConcurrencies = intList(parser.value(latConc));
    QList<qint64> depthList;
    for (int d : intList(parser.value(depths))) {
        // Each round claims 50 from every depth, and the rounds take at most half of the
        // shallowest queue.
        if (d < 100) {
            std::fprintf(stderr, "oddjobs_bench: --depths: each depth must be at least 100\n");
            return 2;
        }
        depthList << d;
    }
    if (isSmoke) {
        jobs = 300;
        concurrencies = { 4 };
        batches = { 50 };
        latencySamples = 10;
        latencyConcurrencies = { 2 };
        depthList = { 1000 };
    }

    std::unique_ptr<Test::PgCluster> cluster;
    QTemporaryDir dir;
    Target target;
    if (parser.isSet(url)) {
        target.settings = must(ConnectionSettings::fromUrl(parser.value(url)), u"--url"_s);
    } else if (parser.isSet(sqlite)) {
        target.settings = must(
            ConnectionSettings::fromUrl(u"sqlite:"_s + dir.filePath(u"bench.db"_s)), u"sqlite"_s);
    } else {
        Test::PgCluster::Options options;
        options.durable = true; // the server defaults, like the peers' server
        options.maxConnections = 200;
        cluster = std::make_unique<Test::PgCluster>(options);
        QString error;
        if (!cluster->start(&error)) {
            std::fprintf(stderr, "oddjobs_bench: cannot start PostgreSQL: %s\n", qPrintable(error));
            return 1;
        }
        target.settings
            = must(ConnectionSettings::fromUrl(cluster->createDatabase()), u"cluster"_s);
    }
    target.postgres = target.settings.backend == Backend::PostgreSql;
    auto store = must(JobStore::open(target.settings), u"open"_s);
    must(store->migrate(), u"migrate"_s);

    if (sections.contains(u"enqueue"_s))
        benchEnqueue(target, *store, jobs);
    if (sections.contains(u"throughput"_s))
        benchThroughput(target, *store, jobs, concurrencies, batches);
    if (sections.contains(u"latency"_s))
        benchLatency(target, *store, latencySamples, latencyConcurrencies);
    if (sections.contains(u"claim_depth"_s))
        benchClaimDepth(target, depthList);
    if (sections.contains(u"rss"_s))
        benchRss(target, *store, isSmoke ? 200 : jobs);
    resetTable(*store);
    return 0;
}
