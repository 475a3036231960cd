// Schema versions and migrations (also of an existing odd-jobs table), table names, the
// notification trigger, and bad connection input.

#include "storetestutil.h"

#include <QCoreApplication>
#include <QFile>
#include <QSqlDriver>
#include <QTemporaryDir>
#include <QTest>

using namespace OddJobs;
using namespace StoreTest;
using namespace Qt::StringLiterals;

namespace {

const QString W1 = u"testhost:1:a"_s;

// The table that records schema versions (core/oddjobs/schema.cpp): one row per jobs table,
// keyed by the table's unquoted name, in the jobs table's schema.
const QString VersionTable = u"oddjobs_schema_versions"_s;

ClaimRequest claimAny(const QString &worker, int limit)
{
    ClaimRequest request;
    request.worker = worker;
    request.anyType = true;
    request.limit = limit;
    return request;
}

StoreOptions withTable(const TableName &table)
{
    StoreOptions options;
    options.table = table;
    return options;
}

// odd-jobs 0.1's table, exactly as its createJobTable makes it, with its per-row insert
// notification.
const QString OddJobsTable = uR"sql(
create table jobs ( id serial primary key, created_at timestamp with time zone default now() not null, updated_at timestamp with time zone default now() not null, run_at timestamp with time zone default now() not null, status text not null, payload jsonb not null, last_error jsonb null, attempts int not null default 0, locked_at timestamp with time zone null, locked_by text null, constraint incorrect_locking_info check ((status <> 'locked' and locked_at is null and locked_by is null) or (status = 'locked' and locked_at is not null and locked_by is not null)) );
create index idx_jobs_created_at on jobs(created_at);
create index idx_jobs_updated_at on jobs(updated_at);
create index idx_jobs_locked_at on jobs(locked_at);
create index idx_jobs_locked_by on jobs(locked_by);
create index idx_jobs_status on jobs(status);
create index idx_jobs_run_at on jobs(run_at);
create or replace function notify_job_monitor_for_jobs() returns trigger as $$
begin
  perform pg_notify('job_created_jobs', json_build_object('id', new.id, 'run_at', new.run_at, 'locked_at', new.locked_at)::text);
  return new;
end;
$$ language plpgsql;
create trigger trg_notify_job_monitor_for_jobs after insert on jobs for each row execute procedure notify_job_monitor_for_jobs();
)sql"_s;

// Rows in every odd-jobs status; id 6 is deleted again so the sequence is ahead of max(id).
const QString OddJobsRows = uR"sql(
insert into jobs (status, payload, attempts, run_at, locked_at, locked_by, last_error) values
 ('success', '{"tag":"SendMail","contents":1}', 1, now() - interval '1 hour', null, null, null),
 ('queued', '{"tag":"SendMail","contents":2}', 0, now() - interval '1 minute', null, null, null),
 ('failed', '{"tag":"Render","contents":3}', 25, now() - interval '1 hour', null, null, '"boom"'),
 ('retry', '{"tag":"Render","contents":4}', 3, now() + interval '1 hour', null, null, '{"error":"again"}'),
 ('locked', '{"tag":"SendMail","contents":5}', 1, now() - interval '2 hours', now() - interval '2 hours', 'oldhost:42', null),
 ('queued', '{"tag":"Gone","contents":6}', 0, now(), null, null, null);
delete from jobs where id = 6;
)sql"_s;

} // namespace

class TestSchema : public QObject
{
    Q_OBJECT

private slots:
    void init() { failOnQtMisuseWarnings(); }
    void migrateFresh_data() { backendData(); }
    void migrateFresh();
    void migrateFromVersion1_data() { backendData(); }
    void migrateFromVersion1();
    void migrateFromVersion2();
    void schemaTooNew_data() { backendData(); }
    void schemaTooNew();
    void customTableNames_data() { backendData(); }
    void customTableNames();
    void schemaQualifiedTable();
    void invalidTableNames_data();
    void invalidTableNames();
    void sqliteWalMode();
    void postgresIndexes();
    void migrateOddJobsTable();
    void oddJobsTableNotMigratedReadOnly();
    void notifications();
    void notificationsSchemaQualified();

    void badUrls_data();
    void badUrls();
    void unreachableServer();
    void wrongPassword();
    void unopenableSqlite();
    void connectionDropped();
    void payloadTooLarge_data() { backendData(); }
    void payloadTooLarge();
};

void TestSchema::migrateFresh()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    OJ_ASSIGN(store, openStore(url, {}, false));
    OJ_VERIFY_ERROR(store->checkSchema(), ErrorCode::SchemaMissing);
    OJ_ASSIGN(before, store->schemaStatus());
    QCOMPARE(before.tableExists, false);
    QCOMPARE(before.version, 0);

    OJ_ASSIGN(previous, store->migrate());
    QCOMPARE(previous, 0);
    OJ_ASSIGN(status, store->schemaStatus());
    QCOMPARE(status.tableExists, true);
    QCOMPARE(status.version, CurrentSchemaVersion);
    OJ_VERIFY_OK(store->checkSchema());

    // Migrating again changes nothing, also not the jobs.
    OJ_ASSIGN(job, store->enqueue(tagged(u"Keep"_s)));
    OJ_ASSIGN(again, store->migrate());
    QCOMPARE(again, CurrentSchemaVersion);
    OJ_FIND(kept, *store, job.id);
    OJ_CALL(verifySameJob(kept, job));
    const DirectSql direct(url);
    QCOMPARE(direct.value(u"select count(*) from %1"_s.arg(VersionTable)), u"1"_s);
    QCOMPARE(direct.value(u"select version from %1"_s.arg(VersionTable)),
             QString::number(CurrentSchemaVersion));

    // Another store sees the migrated schema.
    OJ_ASSIGN(second, openStore(url, {}, false));
    OJ_VERIFY_OK(second->checkSchema());
}

// The dashboard's indexes, as `CREATE INDEX` statements of the backend.
QStringList dashboardIndexDefinitions(const DirectSql &direct)
{
    QString output, error;
    const QString sql = direct.isPostgres()
        ? u"select indexdef from pg_indexes where tablename = 'jobs' and indexname in "
          "('jobs_status_idx', 'jobs_type_idx', 'jobs_created_idx', 'jobs_updated_idx') "
          "order by indexname"_s
        : u"select sql from sqlite_schema where type = 'index' and name in ('jobs_status_idx', "
          "'jobs_type_idx', 'jobs_created_idx', 'jobs_updated_idx') order by name"_s;
    if (!direct.exec(sql, &output, &error))
        return { u"ERROR: "_s + error };
    return output.split(u'\n', Qt::SkipEmptyParts);
}

// A table of this release, taken back to version 1's dashboard indexes (over every row) and
// migrated again: its rows stay as they were, the indexes leave locked rows out, and a store
// at version 1 is refused until then.
void TestSchema::migrateFromVersion1()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(ids, store->enqueueMany({ tagged(u"A"_s, 1), tagged(u"B"_s, 2), tagged(u"C"_s, 3) }));
    OJ_ASSIGN(claimed, store->claim(claimAny(W1, 1)));
    QCOMPARE(claimed.size(), 1);
    OJ_ASSIGN(before, store->list({}, PageRequest {}));
    QCOMPARE(before.jobs.size(), 3);

    const DirectSql direct(url);
    QString error;
    for (const auto &[name, columns] :
         { std::pair { u"jobs_status_idx"_s, u"status, id"_s },
           std::pair { u"jobs_type_idx"_s, u"job_type, id"_s },
           std::pair { u"jobs_created_idx"_s, u"created_at, id"_s },
           std::pair { u"jobs_updated_idx"_s, u"updated_at, id"_s } }) {
        QVERIFY2(direct.exec(u"drop index "_s + name, nullptr, &error), qPrintable(error));
        QVERIFY2(direct.exec(u"create index %1 on jobs (%2)"_s.arg(name, columns), nullptr, &error),
                 qPrintable(error));
    }
    QVERIFY2(direct.exec(u"update %1 set version = 1"_s.arg(VersionTable), nullptr, &error),
             qPrintable(error));
    for (const QString &definition : dashboardIndexDefinitions(direct))
        QVERIFY2(!definition.contains(u"locked"_s), qPrintable(definition));

    // A monitor reads the older table as it is, locked rows too, and changes nothing.
    {
        StoreOptions readOnly;
        readOnly.readOnly = true;
        OJ_ASSIGN(monitor, openStore(url, readOnly, false));
        OJ_VERIFY_OK(monitor->checkSchema());
        OJ_ASSIGN(seen, monitor->list({}, PageRequest {}));
        QCOMPARE(idsOf(seen.jobs), idsOf(before.jobs));
        OJ_ASSIGN(lockedSeen, monitor->count(statusFilter({ JobStatus::Locked })));
        QCOMPARE(lockedSeen, 1);
        QCOMPARE(direct.value(u"select version from %1"_s.arg(VersionTable)), u"1"_s);
        // Older than that it cannot read.
        QVERIFY2(direct.exec(u"update %1 set version = 0"_s.arg(VersionTable), nullptr, &error),
                 qPrintable(error));
        OJ_VERIFY_ERROR(monitor->checkSchema(), ErrorCode::SchemaMissing);
        QVERIFY2(direct.exec(u"update %1 set version = 1"_s.arg(VersionTable), nullptr, &error),
                 qPrintable(error));
    }
    OJ_ASSIGN(old, openStore(url, {}, false));
    const auto refused = old->checkSchema();
    QVERIFY(!refused.ok());
    QCOMPARE(refused.error().code, ErrorCode::SchemaMissing);
    QVERIFY2(refused.error().message.contains(
                 u"version 1 and needs migrating to %1"_s.arg(CurrentSchemaVersion)),
             qPrintable(refused.error().message));

    OJ_ASSIGN(previous, old->migrate());
    QCOMPARE(previous, 1);
    OJ_VERIFY_OK(old->checkSchema());
    QCOMPARE(direct.value(u"select version from %1"_s.arg(VersionTable)),
             QString::number(CurrentSchemaVersion));
    const QStringList definitions = dashboardIndexDefinitions(direct);
    QCOMPARE(definitions.size(), 4);
    for (const QString &definition : definitions) {
        QVERIFY2(definition.contains(u"WHERE"_s, Qt::CaseInsensitive)
                     && definition.contains(u"status <> 'locked'"_s),
                 qPrintable(definition));
    }
    OJ_ASSIGN(after, old->list({}, PageRequest {}));
    QCOMPARE(after.jobs.size(), before.jobs.size());
    for (int i = 0; i < after.jobs.size(); ++i)
        OJ_CALL(verifySameJob(after.jobs[i], before.jobs[i]));
    OJ_ASSIGN(rest, old->claim(claimAny(W1, 10)));
    QCOMPARE(rest.size(), 2);
    OJ_ASSIGN(locked, old->count(statusFilter({ JobStatus::Locked })));
    QCOMPARE(locked, 3);
}

// A PostgreSQL table taken back to version 2's delete trigger, which notified every delete of a
// running job, also a worker's delete of the job it had just finished. Migrated, the trigger
// leaves out deletes by the job's own worker (named by JobStore::tuneForRunner), and still
// notifies deletes by anyone else.
void TestSchema::migrateFromVersion2()
{
    OJ_FRESH_STORE(store, url, u"postgresql"_s);
    const DirectSql direct(url);
    QString error;
    const QString trigger = u"select pg_get_triggerdef(oid) from pg_trigger where tgname = "
                            "'jobs_notify_delete'"_s;
    QVERIFY2(direct.exec(u"drop trigger jobs_notify_delete on jobs"_s, nullptr, &error),
             qPrintable(error));
    QVERIFY2(direct.exec(u"create trigger jobs_notify_delete after delete on jobs for each row "
                         "when (old.status = 'locked') execute function jobs_notify_cancel()"_s,
                         nullptr, &error),
             qPrintable(error));
    QVERIFY2(direct.exec(u"update %1 set version = 2"_s.arg(VersionTable), nullptr, &error),
             qPrintable(error));

    StoreOptions readOnly;
    readOnly.readOnly = true;
    OJ_ASSIGN(monitor, openStore(url, readOnly, false));
    OJ_VERIFY_OK(monitor->checkSchema());
    OJ_ASSIGN(old, openStore(url, {}, false));
    const auto refused = old->checkSchema();
    QVERIFY(!refused.ok());
    QVERIFY2(refused.error().message.contains(
                 u"version 2 and needs migrating to %1"_s.arg(CurrentSchemaVersion)),
             qPrintable(refused.error().message));
    QVERIFY2(!direct.value(trigger).contains(u"current_setting"_s),
             qPrintable(direct.value(trigger)));

    OJ_ASSIGN(previous, old->migrate());
    QCOMPARE(previous, 2);
    OJ_VERIFY_OK(old->checkSchema());
    QVERIFY2(direct.value(trigger).contains(u"current_setting('oddjobs.worker'"_s),
             qPrintable(direct.value(trigger)));

    // The worker's own delete of its job: nothing; the same delete by another session: one.
    Listener listener(url, TableName().notificationChannel());
    QVERIFY(listener.isSubscribed());
    OJ_ASSIGN(ids, old->enqueueMany({ tagged(u"A"_s, 1), tagged(u"B"_s, 2) }));
    OJ_ASSIGN(claimed, old->claim(claimAny(W1, 2)));
    QCOMPARE(claimed.size(), 2);
    Listener::settle();
    listener.reset(); // the enqueue's
    OJ_ASSIGN(worker, openStore(url));
    OJ_VERIFY_OK(worker->tuneForRunner(false, W1));
    JobOutcome done;
    done.id = claimed.first().id;
    done.success = true;
    done.deleteOnSuccess = true;
    OJ_ASSIGN(written, worker->complete(W1, { done }, 1));
    QCOMPARE(written.size(), 1);
    Listener::settle();
    QCOMPARE(listener.count(), 0);
    OJ_ASSIGN(removed, old->remove(JobFilter::byIds({ claimed.last().id })));
    QCOMPARE(removed, 1);
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);
    QVERIFY2(listener.payloads().first().contains(QString::number(claimed.last().id)),
             qPrintable(listener.payloads().first()));
}

void TestSchema::schemaTooNew()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(job, store->enqueue(tagged(u"Old"_s)));
    const DirectSql direct(url);
    QString error;
    QVERIFY2(
        direct.exec(u"update %1 set version = %2"_s.arg(VersionTable).arg(CurrentSchemaVersion + 1),
                    nullptr, &error),
        qPrintable(error));

    OJ_VERIFY_ERROR(store->checkSchema(), ErrorCode::SchemaTooNew);
    OJ_VERIFY_ERROR(store->migrate(), ErrorCode::SchemaTooNew);
    OJ_ASSIGN(status, store->schemaStatus());
    QCOMPARE(status.version, CurrentSchemaVersion + 1);

    // A store opened now refuses too, and nothing was changed.
    OJ_ASSIGN(fresh, openStore(url, {}, false));
    OJ_VERIFY_ERROR(fresh->checkSchema(), ErrorCode::SchemaTooNew);
    OJ_VERIFY_ERROR(fresh->migrate(), ErrorCode::SchemaTooNew);
    QCOMPARE(direct.value(u"select version from %1"_s.arg(VersionTable)),
             QString::number(CurrentSchemaVersion + 1));
    QCOMPARE(direct.value(u"select count(*) from jobs"_s), u"1"_s);
    QCOMPARE(direct.value(u"select status from jobs where id = %1"_s.arg(job.id)), u"queued"_s);
    const auto error2 = fresh->checkSchema();
    QVERIFY(!error2.ok());
    QVERIFY2(error2.error().message.contains(QString::number(CurrentSchemaVersion + 1)),
             qPrintable(error2.error().message));
}

void TestSchema::customTableNames()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    const DirectSql direct(url);

    OJ_ASSIGN(mine, TableName::parse(u"my_jobs"_s));
    OJ_ASSIGN(mixed, TableName::parse(u"MixedCase"_s));
    OJ_ASSIGN(defaultStore, openStore(url));
    OJ_ASSIGN(myStore, openStore(url, withTable(mine)));
    OJ_ASSIGN(mixedStore, openStore(url, withTable(mixed)));
    OJ_VERIFY_OK(defaultStore->checkSchema());
    OJ_VERIFY_OK(myStore->checkSchema());
    OJ_VERIFY_OK(mixedStore->checkSchema());

    OJ_VERIFY_OK(defaultStore->enqueue(tagged(u"D"_s)));
    OJ_VERIFY_OK(myStore->enqueueMany({ tagged(u"M"_s), tagged(u"M"_s) }));
    OJ_VERIFY_OK(mixedStore->enqueueMany({ tagged(u"X"_s), tagged(u"X"_s), tagged(u"X"_s) }));

    OJ_ASSIGN(defaultCount, defaultStore->count());
    QCOMPARE(defaultCount, 1);
    OJ_ASSIGN(myCount, myStore->count());
    QCOMPARE(myCount, 2);
    OJ_ASSIGN(mixedCount, mixedStore->count());
    QCOMPARE(mixedCount, 3);
    QCOMPARE(direct.value(u"select count(*) from jobs"_s), u"1"_s);
    QCOMPARE(direct.value(u"select count(*) from my_jobs"_s), u"2"_s);
    QCOMPARE(direct.value(u"select count(*) from \"MixedCase\""_s), u"3"_s);

    // Claims stay in their table.
    OJ_ASSIGN(claimed, myStore->claim(claimAny(W1, 10)));
    QCOMPARE(claimed.size(), 2);
    OJ_ASSIGN(queuedDefault, defaultStore->count(statusFilter({ JobStatus::Queued })));
    QCOMPARE(queuedDefault, 1);

    // One version row per table.
    QCOMPARE(direct.value(u"select count(*) from %1"_s.arg(VersionTable)), u"3"_s);
}

void TestSchema::schemaQualifiedTable()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(u"create schema s1"_s, nullptr, &error), qPrintable(error));

    OJ_ASSIGN(table, TableName::parse(u"s1.jobs"_s));
    OJ_ASSIGN(store, openStore(url, withTable(table)));
    OJ_ASSIGN(status, store->schemaStatus());
    QCOMPARE(status.tableExists, true);
    QCOMPARE(status.version, CurrentSchemaVersion);
    OJ_ASSIGN(job, store->enqueue(tagged(u"Qualified"_s)));
    QCOMPARE(direct.value(u"select count(*) from s1.jobs"_s), u"1"_s);
    QCOMPARE(direct.value(u"select to_regclass('public.jobs') is null"_s), u"t"_s);
    QCOMPARE(direct.value(u"select count(*) from s1.%1"_s.arg(VersionTable)), u"1"_s);

    // The unqualified default table is another table.
    OJ_ASSIGN(plain, openStore(url, {}, false));
    OJ_VERIFY_ERROR(plain->checkSchema(), ErrorCode::SchemaMissing);
    OJ_ASSIGN(claimed, store->claim(claimAny(W1, 5)));
    QCOMPARE(claimed.size(), 1);
    QCOMPARE(claimed.first().id, job.id);
}

void TestSchema::invalidTableNames_data()
{
    QTest::addColumn<QString>("name");
    QTest::addRow("double quote") << u"jobs\"; drop table jobs; --"_s;
    QTest::addRow("single quote") << u"jo'bs"_s;
    QTest::addRow("semicolon") << u"jobs;"_s;
    QTest::addRow("space") << u"my jobs"_s;
    QTest::addRow("empty") << QString();
    QTest::addRow("three parts") << u"a.b.c"_s;
    QTest::addRow("64 chars") << QString(64, u'j');
    QTest::addRow("leading digit") << u"9jobs"_s;
}

void TestSchema::invalidTableNames()
{
    // JobStore::open takes a parsed TableName, so TableName::parse is the only way in.
    QFETCH(QString, name);
    const auto table = TableName::parse(name);
    QVERIFY2(!table.ok(), qPrintable(name));
    QCOMPARE(table.error().code, ErrorCode::InvalidTableName);
    QVERIFY(!table.error().message.isEmpty());
}

void TestSchema::sqliteWalMode()
{
    OJ_FRESH_STORE(store, url, u"sqlite"_s);
    const DirectSql direct(url);
    QCOMPARE(direct.value(u"pragma journal_mode"_s), u"wal"_s);
    // Times are integer microseconds since the epoch.
    OJ_ASSIGN(job, store->enqueue(tagged(u"T"_s)));
    QCOMPARE(direct.value(u"select typeof(created_at) from jobs where id = %1"_s.arg(job.id)),
             u"integer"_s);
    QCOMPARE(direct.value(u"select created_at / 1000 from jobs where id = %1"_s.arg(job.id)),
             QString::number(job.createdAt.toMSecsSinceEpoch()));
}

void TestSchema::postgresIndexes()
{
    OJ_FRESH_STORE(store, url, u"postgresql"_s);
    const DirectSql direct(url);
    auto indexCount = [&](const QString &condition) {
        return direct
            .value(u"select count(*) from pg_indexes where schemaname = 'public' and "
                   "tablename = 'jobs' and (%1)"_s.arg(condition))
            .toInt();
    };
    QVERIFY2(indexCount(u"indexdef ilike '% where %'"_s) >= 1, "no partial index for the claim");
    QVERIFY2(indexCount(u"indexdef ilike '%(status%'"_s) >= 1, "no index leading with status");
    QVERIFY2(indexCount(u"indexdef ilike '%created_at%'"_s) >= 1, "no index on created_at");
    QVERIFY2(indexCount(u"indexdef ilike '%updated_at%'"_s) >= 1, "no index on updated_at");
    QVERIFY2(indexCount(u"indexdef ilike '%''tag''%' or indexdef ilike '%type%'"_s) >= 1,
             "no index on the job type");
    // A claim adds entries to the primary key and the lock index only: the dashboard's
    // indexes leave locked rows out.
    QCOMPARE(indexCount(u"indexdef like '%WHERE (status <> ''locked''::text)'"_s), 4);
    QCOMPARE(indexCount(u"indexdef not like '% WHERE %'"_s), 1);
}

void TestSchema::migrateOddJobsTable()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(OddJobsTable + OddJobsRows, nullptr, &error), qPrintable(error));

    OJ_ASSIGN(store, openStore(url, {}, false));
    OJ_ASSIGN(before, store->schemaStatus());
    QCOMPARE(before.tableExists, true);
    QCOMPARE(before.version, 0);
    OJ_VERIFY_ERROR(store->checkSchema(), ErrorCode::SchemaMissing);

    OJ_ASSIGN(previous, store->migrate());
    QCOMPARE(previous, 0);
    OJ_VERIFY_OK(store->checkSchema());
    OJ_ASSIGN(again, store->migrate());
    QCOMPARE(again, CurrentSchemaVersion);

    // Every row is still there, unchanged, and readable.
    struct Expected
    {
        qint64 id;
        JobStatus status;
        QString type;
        int contents;
        int attempts;
    };
    const QList<Expected> expected {
        { 1, JobStatus::Success, u"SendMail"_s, 1, 1 },
        { 2, JobStatus::Queued, u"SendMail"_s, 2, 0 },
        { 3, JobStatus::Failed, u"Render"_s, 3, 25 },
        { 4, JobStatus::Retry, u"Render"_s, 4, 3 },
        { 5, JobStatus::Locked, u"SendMail"_s, 5, 1 },
    };
    PageRequest ascending;
    ascending.order = Qt::AscendingOrder;
    OJ_ASSIGN(page, store->list({}, ascending));
    QCOMPARE(page.jobs.size(), expected.size());
    for (int i = 0; i < expected.size(); ++i) {
        const Job &job = page.jobs[i];
        const Expected &want = expected[i];
        const QByteArray context = describe(job).toUtf8();
        QVERIFY2(job.id == want.id, context.constData());
        QVERIFY2(job.status == want.status, context.constData());
        QVERIFY2(job.type() == want.type, context.constData());
        QVERIFY2(job.payload[u"contents"].toInt() == want.contents, context.constData());
        QVERIFY2(job.attempts == want.attempts, context.constData());
        // New columns have their defaults.
        QVERIFY2(job.queue == u"default"_s, context.constData());
        QVERIFY2(job.priority == 0, context.constData());
        QVERIFY2(!job.maxAttempts && !job.timeoutSeconds, context.constData());
        QVERIFY2(job.result.isNull(), context.constData());
        QVERIFY2(job.revision != 0, context.constData());
        OJ_FIND(found, *store, want.id);
        OJ_CALL(verifySameJob(found, job));
    }
    QCOMPARE(page.jobs[4].lockedBy, u"oldhost:42"_s);
    QVERIFY(page.jobs[4].lockedAt.isValid());
    QCOMPARE(page.jobs[2].lastError, QJsonValue(u"boom"_s));
    OJ_ASSIGN(types, store->jobTypes());
    QCOMPARE(sorted(types), (QStringList { u"Render"_s, u"SendMail"_s }));
    OJ_ASSIGN(stats, store->statistics());
    QCOMPARE(stats.size(), 2);

    // The queued row is claimable (the retry row is due in an hour).
    OJ_ASSIGN(claimed, store->claim(claimAny(W1, 10)));
    QCOMPARE(idsOf(claimed), QList<qint64> { 2 });
    QCOMPARE(claimed.first().attempts, 1);

    // New jobs get ids after the old ones (6 was used and deleted).
    OJ_ASSIGN(newJob, store->enqueue(tagged(u"New"_s)));
    QVERIFY2(newJob.id > 6, qPrintable(describe(newJob)));
    OJ_ASSIGN(moreIds, store->enqueueMany({ tagged(u"New"_s), tagged(u"New"_s) }));
    QVERIFY(moreIds[0] > newJob.id && moreIds[1] > newJob.id);

    // Transitions respect odd-jobs' locking constraint: rescue the stale lock, cancel a
    // running job, complete one.
    OJ_ASSIGN(rescued, store->rescueExpired(60));
    QCOMPARE(rescued.size(), 1);
    QCOMPARE(rescued.first().id, 5);
    QCOMPARE(rescued.first().status, JobStatus::Retry);
    OJ_ASSIGN(cancelled, store->cancel(JobFilter::byIds({ 2 })));
    QCOMPARE(cancelled, 1);
    OJ_ASSIGN(claimedNew, store->claim(claimAny(W1, 10)));
    QVERIFY(!claimedNew.isEmpty());
    QList<JobOutcome> outcomes;
    for (const Job &job : claimedNew) {
        JobOutcome outcome;
        outcome.id = job.id;
        outcome.success = true;
        outcomes << outcome;
    }
    OJ_ASSIGN(written, store->complete(W1, outcomes));
    QCOMPARE(written.size(), claimedNew.size());
    OJ_ASSIGN(ranAgain, store->runNow(JobFilter::byIds({ 3 })));
    QCOMPARE(ranAgain, 1);
    OJ_FIND(failedAgain, *store, 3);
    QCOMPARE(failedAgain.status, JobStatus::Queued);
    QCOMPARE(failedAgain.attempts, 0);

    // Edits and their conflict check work on old rows.
    OJ_FIND(retry, *store, 4);
    NewJob fields = tagged(u"Render"_s, 40);
    fields.runAt = retry.runAt;
    OJ_ASSIGN(edited, store->edit(4, fields, retry.revision));
    QCOMPARE(edited.payload[u"contents"].toInt(), 40);
    OJ_VERIFY_ERROR(store->edit(4, fields, retry.revision), ErrorCode::Conflict);
}

void TestSchema::oddJobsTableNotMigratedReadOnly()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(OddJobsTable + OddJobsRows, nullptr, &error), qPrintable(error));
    StoreOptions options;
    options.readOnly = true;
    OJ_ASSIGN(monitor, openStore(url, options, false));
    OJ_VERIFY_ERROR(monitor->migrate(), ErrorCode::ReadOnly);
    QCOMPARE(direct.value(u"select count(*) from information_schema.columns where table_name = "
                          "'jobs' and column_name = 'queue'"_s),
             u"0"_s);
    QCOMPARE(direct.value(u"select count(*) from jobs"_s), u"5"_s);
}

void TestSchema::notifications()
{
    OJ_FRESH_STORE(store, url, u"postgresql"_s);
    Listener listener(url, TableName().notificationChannel());
    QVERIFY(listener.isSubscribed());
    Listener::settle();
    QCOMPARE(listener.count(), 0);

    // One notification for a bulk insert of 1,000 jobs, with a short payload.
    QList<NewJob> jobs;
    for (int i = 0; i < 1000; ++i)
        jobs << tagged(u"Bulk"_s, QJsonObject { { u"text"_s, QString(100, u'x') }, { u"n"_s, i } });
    OJ_ASSIGN(ids, store->enqueueMany(jobs));
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);
    QVERIFY2(listener.payloads().first().toUtf8().size() < 200,
             qPrintable(listener.payloads().first()));

    // One for a single enqueue.
    listener.reset();
    OJ_VERIFY_OK(store->enqueue(tagged(u"One"_s)));
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);

    // None for a claim, a completion or a cancel.
    listener.reset();
    OJ_ASSIGN(claimed, store->claim(claimAny(W1, 10)));
    QCOMPARE(claimed.size(), 10);
    QList<JobOutcome> outcomes;
    for (const Job &job : claimed) {
        JobOutcome outcome;
        outcome.id = job.id;
        outcome.success = false;
        outcome.error = errorJson(u"no"_s);
        outcomes << outcome;
    }
    OJ_ASSIGN(failed, store->complete(W1, outcomes, 1));
    QCOMPARE(failed.size(), 10);
    OJ_VERIFY_OK(store->cancel(JobFilter::byIds({ ids[500] })));
    Listener::settle();
    QCOMPARE(listener.count(), 0);

    // One for runNow of one failed job, and one for runNow of many.
    OJ_ASSIGN(one, store->runNow(JobFilter::byIds({ claimed.first().id })));
    QCOMPARE(one, 1);
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);
    listener.reset();
    OJ_ASSIGN(many, store->runNow(statusFilter({ JobStatus::Failed })));
    QCOMPARE(many, 9);
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);

    // One when an edit moves a future job to now.
    NewJob later = tagged(u"Later"_s);
    later.delaySeconds = 3600;
    OJ_ASSIGN(future, store->enqueue(later));
    Listener::settle();
    listener.reset();
    NewJob fields = tagged(u"Later"_s);
    OJ_ASSIGN(edited, store->edit(future.id, fields, future.revision));
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);
    for (const QString &payload : listener.payloads())
        QVERIFY2(payload.toUtf8().size() < 200, qPrintable(payload));
}

void TestSchema::notificationsSchemaQualified()
{
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(u"create schema s1"_s, nullptr, &error), qPrintable(error));
    OJ_ASSIGN(table, TableName::parse(u"s1.jobs"_s));
    OJ_ASSIGN(store, openStore(url, withTable(table)));
    OJ_ASSIGN(plainStore, openStore(url));
    QCOMPARE(table.notificationChannel(), u"oddjobs_s1_jobs"_s);
    Listener listener(url, table.notificationChannel());
    QVERIFY(listener.isSubscribed());
    Listener plainListener(url, TableName().notificationChannel());
    QVERIFY(plainListener.isSubscribed());

    OJ_VERIFY_OK(store->enqueue(tagged(u"S"_s)));
    QTRY_VERIFY_WITH_TIMEOUT(listener.count() >= 1, 10000);
    Listener::settle();
    QCOMPARE(listener.count(), 1);
    QCOMPARE(plainListener.count(), 0);
}

// ---------------------------------------------------------------------------------------
// bad input

void TestSchema::badUrls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addRow("unknown scheme") << u"nosuch://x"_s;
    QTest::addRow("port not a number") << u"postgresql://host:notaport/db"_s;
    QTest::addRow("empty sqlite path") << u"sqlite:"_s;
    QTest::addRow("unknown option") << u"postgresql://localhost/db?foo=bar"_s;
}

void TestSchema::badUrls()
{
    QFETCH(QString, url);
    const auto store = openStore(url);
    QVERIFY(!store.ok());
    QCOMPARE(store.error().code, ErrorCode::InvalidUrl);
    QVERIFY(!store.error().message.isEmpty());
}

void TestSchema::unreachableServer()
{
    const QString password = u"Unl1kelyPassw0rdText"_s;
    const auto settings
        = ConnectionSettings::fromUrl(u"postgresql://someone:%1@127.0.0.1:1/db"_s.arg(password));
    QVERIFY(settings.ok());
    StoreOptions options;
    options.connectTimeoutSeconds = 3;
    const auto store = JobStore::open(settings.value(), options);
    QVERIFY(!store.ok());
    QCOMPARE(store.error().code, ErrorCode::ConnectionFailed);
    QVERIFY(!store.error().message.isEmpty());
    QVERIFY2(!store.error().toString().contains(password), qPrintable(store.error().toString()));
}

void TestSchema::wrongPassword()
{
    ODDJOBS_REQUIRE_POSTGRES();
    auto *cluster = OddJobs::Test::PgCluster::shared();
    const QString wrong = u"Wr0ngPasswordText"_s;
    const auto settings = ConnectionSettings::fromUrl(
        u"postgresql://%1:%2@127.0.0.1:%3/postgres"_s.arg(cluster->user(), wrong)
            .arg(cluster->port()));
    QVERIFY(settings.ok());
    const auto store = JobStore::open(settings.value());
    QVERIFY(!store.ok());
    QCOMPARE(store.error().code, ErrorCode::AuthenticationFailed);
    const QString text = store.error().toString();
    QVERIFY2(!text.contains(wrong), qPrintable(text));
    QVERIFY2(!text.contains(cluster->password()), qPrintable(text));

    // The right password works (so the failure above was the password).
    const auto right = ConnectionSettings::fromUrl(cluster->url());
    QVERIFY(right.ok());
    const auto good = JobStore::open(right.value());
    QVERIFY2(good.ok(), qPrintable(good.ok() ? QString() : good.error().toString()));
}

void TestSchema::unopenableSqlite()
{
    // A path below a regular file can never be opened or created.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString file = dir.filePath(u"plain-file"_s);
    {
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not a directory");
    }
    const auto settings = ConnectionSettings::fromUrl(u"sqlite:"_s + file + u"/jobs.db"_s);
    QVERIFY(settings.ok());
    const auto store = JobStore::open(settings.value());
    QVERIFY(!store.ok());
    QCOMPARE(store.error().code, ErrorCode::ConnectionFailed);
    QVERIFY(!store.error().message.isEmpty());
}

void TestSchema::connectionDropped()
{
    OJ_FRESH_STORE(store, url, u"postgresql"_s);
    OJ_VERIFY_OK(store->enqueue(tagged(u"Before"_s)));
    const DirectSql direct(url);
    const QString database = ConnectionSettings::fromUrl(url)->database;
    QString error;
    QVERIFY2(direct.exec(u"select pg_terminate_backend(pid) from pg_stat_activity where datname = "
                         "'%1' and pid <> pg_backend_pid()"_s.arg(database),
                         nullptr, &error),
             qPrintable(error));

    // The next call reports the dropped connection as such...
    const auto count = store->count();
    QVERIFY2(!count.ok(), "a query on a terminated connection succeeded");
    QCOMPARE(count.error().code, ErrorCode::ConnectionFailed);
    QVERIFY(!count.error().toString().contains(OddJobs::Test::PgCluster::shared()->password()));

    // ...and reconnect() brings the store back.
    OJ_VERIFY_OK(store->reconnect());
    QVERIFY(store->isOpen());
    OJ_ASSIGN(after, store->count());
    QCOMPARE(after, 1);
    OJ_VERIFY_OK(store->enqueue(tagged(u"After"_s)));
}

void TestSchema::payloadTooLarge()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    StoreOptions options;
    options.maxPayloadBytes = 4096;
    OJ_ASSIGN(store, openStore(url, options));
    OJ_VERIFY_OK(store->enqueue(tagged(u"Ok"_s)));
    OJ_VERIFY_ERROR(store->enqueue(tagged(u"Big"_s, QString(5000, u'y'))),
                    ErrorCode::PayloadTooLarge);
    OJ_VERIFY_ERROR(store->enqueue(tagged(
                        u"Big"_s, QJsonArray::fromStringList(QStringList(1000, u"abcdef"_s)))),
                    ErrorCode::PayloadTooLarge);
    NewJob undefinedJob;
    undefinedJob.payload = QJsonValue(QJsonValue::Undefined);
    const auto undefinedPayload = store->enqueue(undefinedJob);
    QVERIFY(!undefinedPayload.ok());
    OJ_ASSIGN(count, store->count());
    QCOMPARE(count, 1);
    const DirectSql direct(url);
    QCOMPARE(direct.value(u"select count(*) from jobs"_s), u"1"_s);
}

QTEST_GUILESS_MAIN(TestSchema)
#include "tst_schema.moc"
