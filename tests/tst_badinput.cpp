// Bad input at the store: SQL metacharacters in table names, filters and search text; payloads
// with NULs, odd Unicode, sizes around the limit and deep nesting; timestamps at and beyond
// the ends of the range; damaged tables. Every case runs on SQLite and PostgreSQL and checks
// the error code and message, and that nothing was lost or changed. (The executable's own
// matrix is in tst_cli, schema versions in tst_schema.)

#include "storetestutil.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonObject>
#include <QTest>
#include <cmath>
#include <limits>

using namespace OddJobs;
using namespace StoreTest;
using namespace Qt::StringLiterals;

namespace {

const QString W1 = u"testhost:1:a"_s;

PageRequest allById()
{
    PageRequest page;
    page.sort = SortKey::Id;
    page.order = Qt::AscendingOrder;
    page.limit = 100000;
    return page;
}

// Every row and every field, in id order: equal snapshots mean nothing changed.
QString snapshot(JobStore &store)
{
    const auto page = store.list({}, allById());
    if (!page)
        return u"<cannot list: "_s + page.error().toString() + u'>';
    QJsonArray rows;
    for (const Job &job : page->jobs) {
        QJsonObject row = job.toJson();
        row.insert(u"revision"_s, QString::number(job.revision));
        rows.append(row);
    }
    return QString::fromUtf8(QJsonDocument(rows).toJson(QJsonDocument::Compact));
}

// The names of the tables in the database, sorted, one per line.
QString tableList(const DirectSql &direct)
{
    QString out;
    QString error;
    const QString sql = direct.isPostgres()
        ? u"select table_schema || '.' || table_name from information_schema.tables where "
          "table_schema not in ('pg_catalog', 'information_schema') order by 1"_s
        : u"select name from sqlite_schema where type = 'table' order by 1"_s;
    if (!direct.exec(sql, &out, &error))
        return u"ERROR: "_s + error;
    return out;
}

QList<qint64> idsMatching(JobStore &store, const JobFilter &filter, QString *error)
{
    const auto page = store.list(filter, allById());
    if (!page) {
        *error = page.error().toString();
        return {};
    }
    return idsOf(page->jobs);
}

// The ids of `jobs` that JobFilter::matches() accepts: what a live view would show.
QList<qint64> idsAccepted(const QList<Job> &jobs, const JobFilter &filter)
{
    QList<qint64> ids;
    for (const Job &job : jobs) {
        if (filter.matches(job))
            ids << job.id;
    }
    return ids;
}

// Arrays nested `depth` levels deep around a number: [[[...[1]...]]].
QJsonValue nestedArrays(int depth)
{
    QJsonValue value(1);
    for (int i = 0; i < depth; ++i)
        value = QJsonArray { value };
    return value;
}

// The error of a call expected to fail; a success shows as a Database error saying so.
template<typename T>
Error errorOf(const Result<T> &result)
{
    return result.ok() ? makeError(ErrorCode::Database, u"<the call succeeded>"_s) : result.error();
}

// The printable one-line shape every error message has.
QString messageProblem(const Error &error)
{
    if (error.message.isEmpty())
        return u"empty message"_s;
    if (error.message.contains(u'\n') || error.message.contains(QChar(0)))
        return u"message is not one line: "_s + error.message;
    return {};
}

// Values that are SQL, LIKE pattern, array literal, JSON or placeholder syntax somewhere.
const QStringList &metacharacters()
{
    static const QStringList values {
        u"'"_s,
        u"''"_s,
        u"\""_s,
        u"\\"_s,
        u"\\\\"_s,
        u"%"_s,
        u"_"_s,
        u"--"_s,
        u";"_s,
        u"' OR '1'='1"_s,
        u"a'); DROP TABLE jobs; --"_s,
        u"\"; DROP TABLE jobs; --"_s,
        u"{a,b}"_s,
        u"{"_s,
        u"}"_s,
        u","_s,
        u"\"a\",\"b\""_s,
        u"NULL"_s,
        u"$1"_s,
        u"?"_s,
        u":name"_s,
        u"E'\\\\x41'"_s,
        u"/* x */"_s,
        u" spaced "_s,
        u"tab\there"_s,
        u"line\nbreak"_s,
        u"ünïcödé ✓ 😀"_s,
        u"(unknown)"_s,
    };
    return values;
}

} // namespace

class TestBadInput : public QObject
{
    Q_OBJECT

private slots:
    void init() { failOnQtMisuseWarnings(); }

    // table names
    void tableNamesRefused_data();
    void tableNamesRefused();
    void tableNamesAccepted_data();
    void tableNamesAccepted();

    // filters and search
    void filterMetacharacters_data() { backendData(); }
    void filterMetacharacters();
    void searchMetacharacters_data() { backendData(); }
    void searchMetacharacters();
    void nulInFilters_data() { backendData(); }
    void nulInFilters();
    void postgresWithoutStandardStrings();

    // payloads
    void payloadRoundTrip_data();
    void payloadRoundTrip();
    void payloadNul_data() { backendData(); }
    void payloadNul();
    void payloadInvalidUnicode_data() { backendData(); }
    void payloadInvalidUnicode();
    void payloadSizeLimit_data() { backendData(); }
    void payloadSizeLimit();
    void payloadTenMegabytes_data() { backendData(); }
    void payloadTenMegabytes();
    void payloadDeepNesting_data() { backendData(); }
    void payloadDeepNesting();
    void storedTextUnreadable();
    void storedInvalidUtf8();

    // timestamps
    void timesInRange_data() { backendData(); }
    void timesInRange();
    void timesOutOfRange_data();
    void timesOutOfRange();
    void delaysOutOfRange_data();
    void delaysOutOfRange();
    void filterTimesOutOfRange_data() { backendData(); }
    void filterTimesOutOfRange();

    // damaged tables
    void foreignTableRefused_data() { backendData(); }
    void foreignTableRefused();
    void missingColumns_data() { backendData(); }
    void missingColumns();
    void droppedTable_data() { backendData(); }
    void droppedTable();
};

// ---------------------------------------------------------------------------------------
// table names

void TestBadInput::tableNamesRefused_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QString>("name");
    const QList<QPair<const char *, QString>> names {
        { "statement after the name", u"jobs; DROP TABLE x"_s },
        { "closing quote", u"jobs\"; DROP TABLE x; --"_s },
        { "doubled quote", u"\"a\"\"b\""_s },
        { "quoted name", u"\"jobs\""_s },
        { "quoted schema", u"public.\"jobs\""_s },
        { "single quote", u"jobs'"_s },
        { "comment", u"jobs--"_s },
        { "block comment", u"jobs/*x*/"_s },
        { "parenthesis", u"jobs()"_s },
        { "unicode letter", u"jöbs"_s },
        { "cjk", u"作业"_s },
        { "emoji", u"jobs😀"_s },
        { "64 characters", QString(64, u'j') },
        { "1000 characters", QString(1000, u'j') },
        { "64-character schema", QString(64, u's') + u".jobs"_s },
        { "three parts", u"a.b.c"_s },
        { "empty schema", u".jobs"_s },
        { "empty table", u"jobs."_s },
        { "leading space", u" jobs"_s },
        { "trailing space", u"jobs "_s },
        { "nul", u"jobs"_s + QChar(0) + u"x"_s },
        { "line break", u"jobs\nx"_s },
        { "leading digit", u"1jobs"_s },
        { "dash", u"my-jobs"_s },
        { "dollar", u"jobs$1"_s },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const auto &[what, name] : names)
            QTest::addRow("%s: %s", qPrintable(backend), what) << backend << name;
    }
}

void TestBadInput::tableNamesRefused()
{
    QFETCH(QString, backend);
    QFETCH(QString, name);
    OJ_FRESH_STORE(store, url, backend);
    const DirectSql direct(url);
    OJ_VERIFY_OK(store->enqueue(tagged(u"Keep"_s)));
    QString error;
    QVERIFY2(direct.exec(u"create table x (id integer)"_s, nullptr, &error), qPrintable(error));
    const QString tablesBefore = tableList(direct);
    const QString before = snapshot(*store);

    // TableName::parse is the only way from text to a table: JobStore::open takes its result.
    const auto table = TableName::parse(name);
    QVERIFY2(!table.ok(), "the name was accepted");
    QCOMPARE(table.error().code, ErrorCode::InvalidTableName);
    QVERIFY2(table.error().message.startsWith(u"invalid table name '"_s),
             qPrintable(table.error().message));
    // One line of printable ASCII, at most the name's first 80 characters twice.
    for (QChar c : table.error().message)
        QVERIFY2(c.unicode() >= 0x20 && c.unicode() < 0x7f, qPrintable(table.error().message));
    QVERIFY2(table.error().message.size() < 400, qPrintable(table.error().message));

    QCOMPARE(tableList(direct), tablesBefore);
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::tableNamesAccepted_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QString>("name");
    const QList<QPair<const char *, QString>> names {
        { "reserved word", u"select"_s },
        { "reserved word in capitals", u"ORDER"_s },
        { "single underscore", u"_"_s },
        { "63 characters", QString(63, u'j') },
        { "63 characters, mixed case", u"J"_s + QString(62, u'b') },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const auto &[what, name] : names)
            QTest::addRow("%s: %s", qPrintable(backend), what) << backend << name;
    }
    QTest::addRow("postgresql: reserved schema and table") << u"postgresql"_s << u"user.table"_s;
    QTest::addRow("postgresql: 63-character schema and table")
        << u"postgresql"_s << QString(63, u's') + u'.' + QString(63, u't');
}

void TestBadInput::tableNamesAccepted()
{
    // Names that are legal but awkward in SQL work end to end and touch only their own table.
    QFETCH(QString, backend);
    QFETCH(QString, name);
    ODDJOBS_FRESH_URL(backend, url);
    OJ_ASSIGN(defaultStore, openStore(url));
    OJ_ASSIGN(kept, defaultStore->enqueue(tagged(u"Default"_s)));
    const QString defaultBefore = snapshot(*defaultStore);

    OJ_ASSIGN(table, TableName::parse(name));
    StoreOptions options;
    options.table = table;
    OJ_ASSIGN(store, openStore(url, options));
    OJ_VERIFY_OK(store->checkSchema());
    OJ_ASSIGN(again, store->migrate());
    QCOMPARE(again, CurrentSchemaVersion);

    OJ_ASSIGN(job, store->enqueue(tagged(u"Odd"_s, u"payload"_s)));
    OJ_ASSIGN(many, store->enqueueMany({ tagged(u"Odd"_s), tagged(u"Other"_s) }));
    QCOMPARE(many.size(), 2);
    OJ_ASSIGN(count, store->count());
    QCOMPARE(count, 3);
    JobFilter odd;
    odd.types = { u"Odd"_s };
    OJ_ASSIGN(estimate, store->estimateCount(odd));
    QCOMPARE(estimate, 2);
    OJ_ASSIGN(types, store->jobTypes());
    QCOMPARE(types, (QStringList { u"Odd"_s, u"Other"_s }));
    OJ_ASSIGN(stats, store->statistics());
    QCOMPARE(stats.size(), 2);

    ClaimRequest claim;
    claim.worker = W1;
    claim.types = { u"Odd"_s };
    claim.limit = 10;
    OJ_ASSIGN(claimed, store->claim(claim));
    QCOMPARE(claimed.size(), 2);
    QCOMPARE(claimed.first().id, job.id);
    JobOutcome done;
    done.id = job.id;
    done.success = true;
    JobOutcome failed;
    failed.id = claimed.last().id;
    failed.error = errorJson(u"boom"_s);
    OJ_ASSIGN(written, store->complete(W1, { done, failed }));
    QCOMPARE(written.size(), 2);
    OJ_ASSIGN(heartbeat, store->heartbeat(W1, { job.id }));
    QVERIFY(heartbeat.isEmpty());
    OJ_FIND(finished, *store, job.id);
    QCOMPARE(finished.status, JobStatus::Success);
    OJ_ASSIGN(edited, store->edit(many.last(), tagged(u"Other"_s, 2), [&] {
        const auto found = store->find(many.last());
        return found && *found ? (*found)->revision : 0;
    }()));
    QCOMPARE(edited.payload[u"contents"].toInt(), 2);
    OJ_ASSIGN(cancelled, store->cancel(JobFilter::byIds({ many.last() })));
    QCOMPARE(cancelled, 1);
    OJ_ASSIGN(ranAgain, store->runNow(JobFilter::byIds({ many.last() })));
    QCOMPARE(ranAgain, 1);
    OJ_ASSIGN(removed, store->remove(JobFilter::byIds({ many.last() })));
    QCOMPARE(removed, 1);

    const DirectSql direct(url);
    QCOMPARE(direct.value(u"select count(*) from %1"_s.arg(table.quoted())), u"2"_s);
    QCOMPARE(snapshot(*defaultStore), defaultBefore);
    OJ_FIND(stillThere, *defaultStore, kept.id);
    QCOMPARE(stillThere.status, JobStatus::Queued);
}

// ---------------------------------------------------------------------------------------
// filters and search

void TestBadInput::filterMetacharacters()
{
    // One job per awkward value, with that value as its type, its queue and (once claimed)
    // its worker. Every filter finds exactly its own job, alone or in a list.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(u"create table x (id integer)"_s, nullptr, &error), qPrintable(error));
    const QString tablesBefore = tableList(direct);

    QMap<QString, qint64> idOf;
    for (const QString &value : metacharacters()) {
        NewJob job = tagged(value);
        job.queue = value;
        OJ_ASSIGN(created, store->enqueue(job));
        QCOMPARE(created.type(), value);
        QCOMPARE(created.queue, value);
        ClaimRequest claim;
        claim.worker = value;
        claim.types = { value };
        claim.queues = { value };
        OJ_ASSIGN(claimed, store->claim(claim));
        QVERIFY2(claimed.size() == 1 && claimed.first().id == created.id,
                 qPrintable(value + u": "_s + describe(claimed)));
        QCOMPARE(claimed.first().lockedBy, value);
        idOf.insert(value, created.id);
    }
    const qint64 total = metacharacters().size();

    for (const QString &value : metacharacters()) {
        const QList<qint64> expected { idOf.value(value) };
        for (const char *field : { "type", "queue", "worker" }) {
            for (bool inList : { false, true }) {
                JobFilter filter;
                // A second value makes the store use its list form (an array parameter).
                const QStringList values
                    = inList ? QStringList { value, u"no such value"_s } : QStringList { value };
                if (qstrcmp(field, "type") == 0)
                    filter.types = values;
                else if (qstrcmp(field, "queue") == 0)
                    filter.queues = values;
                else
                    filter.workers = values;
                const QString context
                    = u"%1 filter %2: "_s.arg(QLatin1String(field), values.join(u" | "_s));
                QString listError;
                const QList<qint64> ids = idsMatching(*store, filter, &listError);
                QVERIFY2(listError.isEmpty(), qPrintable(context + listError));
                QVERIFY2(ids == expected, qPrintable(context + idsText(ids)));
                OJ_ASSIGN(count, store->count(filter));
                QVERIFY2(count == 1, qPrintable(context + QString::number(count)));
                // PostgreSQL inlines the parameters for EXPLAIN here.
                OJ_ASSIGN(estimate, store->estimateCount(filter));
                QVERIFY2(estimate == 1, qPrintable(context + QString::number(estimate)));
            }
        }
    }

    // All values at once.
    JobFilter all;
    all.types = metacharacters();
    all.queues = metacharacters();
    all.workers = metacharacters();
    OJ_ASSIGN(countAll, store->count(all));
    QCOMPARE(countAll, total);
    // Actions with such filters change exactly their job.
    JobFilter one;
    one.types = { u"a'); DROP TABLE jobs; --"_s };
    OJ_ASSIGN(cancelled, store->cancel(one));
    QCOMPARE(cancelled, 1);
    OJ_ASSIGN(ranAgain, store->runNow(one));
    QCOMPARE(ranAgain, 1);
    OJ_ASSIGN(removed, store->remove(one));
    QCOMPARE(removed, 1);
    OJ_ASSIGN(countAfter, store->count());
    QCOMPARE(countAfter, total - 1);
    QCOMPARE(tableList(direct), tablesBefore);
    OJ_ASSIGN(types, store->jobTypes());
    QCOMPARE(types.size(), total - 1);
}

void TestBadInput::searchMetacharacters()
{
    // The search is a case-insensitive substring of the payload's JSON text in which %, _ and
    // \ are plain characters: it finds what JobFilter::matches() finds, on both backends.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    const QStringList texts {
        u"100% done"_s,
        u"1000 done"_s,
        u"under_score"_s,
        u"underXscore"_s,
        u"back\\slash"_s,
        u"backXslash"_s,
        u"it's"_s,
        u"--comment"_s,
        u"semi;colon"_s,
        u"a%b_c\\d"_s,
        u"percent %% twice"_s,
        u"' OR '1'='1"_s,
        u"?"_s,
        u"$1"_s,
        u"ÜNÏCÖDÉ"_s,
        u"{braces}"_s,
    };
    QList<Job> jobs;
    for (const QString &text : texts) {
        OJ_ASSIGN(job, store->enqueue(tagged(u"T"_s, QJsonObject { { u"v"_s, text } })));
        jobs << job;
    }
    auto idOf = [&](const QString &text) { return jobs.at(texts.indexOf(text)).id; };
    const QString before = snapshot(*store);

    struct Case
    {
        QString search;
        QList<qint64> expected; // empty with `oracleOnly`: only compared with matches()
        bool oracleOnly = false;
    };
    const QList<Case> cases {
        { u"%"_s, { idOf(u"100% done"_s), idOf(u"a%b_c\\d"_s), idOf(u"percent %% twice"_s) } },
        { u"%%"_s, { idOf(u"percent %% twice"_s) } },
        { u"0%"_s, { idOf(u"100% done"_s) } },
        { u"_"_s, { idOf(u"under_score"_s), idOf(u"a%b_c\\d"_s) } },
        { u"r_s"_s, { idOf(u"under_score"_s) } },
        { u"%b_c"_s, { idOf(u"a%b_c\\d"_s) } },
        { u"k\\\\s"_s, { idOf(u"back\\slash"_s) } }, // the JSON text doubles the backslash
        { u"'"_s, { idOf(u"it's"_s), idOf(u"' OR '1'='1"_s) } },
        { u"' OR '1'='1"_s, { idOf(u"' OR '1'='1"_s) } },
        { u"'; DROP TABLE jobs; --"_s, {}, true },
        { u"--"_s, { idOf(u"--comment"_s) } },
        { u";"_s, { idOf(u"semi;colon"_s) } },
        { u"?"_s, { idOf(u"?"_s) } },
        { u"$1"_s, { idOf(u"$1"_s) } },
        { u"ÜNÏCÖDÉ"_s, { idOf(u"ÜNÏCÖDÉ"_s) } },
        { u"{braces}"_s, { idOf(u"{braces}"_s) } },
        { u"\\"_s, {}, true },
        { u"\\%"_s, {}, true },
        { u"\\_"_s, {}, true },
        { u"\""_s, {}, true },
        { u"\\'"_s, {}, true },
        { u"''"_s, {}, true },
        { u"*"_s, {}, true },
        { u"["_s, {}, true },
        { u"]"_s, {}, true },
        { u"e"_s, {}, true },
        { u" 1000 "_s, { idOf(u"1000 done"_s) } }, // trimmed; not an id here
    };
    for (const Case &c : cases) {
        JobFilter filter;
        filter.search = c.search;
        const QList<qint64> oracle = idsAccepted(jobs, filter);
        QString error;
        const QList<qint64> ids = idsMatching(*store, filter, &error);
        const QString context = u"search [%1]: "_s.arg(c.search);
        QVERIFY2(error.isEmpty(), qPrintable(context + error));
        QVERIFY2(ids == oracle,
                 qPrintable(context + u"the store finds "_s + idsText(ids)
                            + u", matches() accepts "_s + idsText(oracle)));
        if (!c.oracleOnly)
            QVERIFY2(ids == c.expected,
                     qPrintable(context + idsText(ids) + u", expected "_s + idsText(c.expected)));
        OJ_ASSIGN(count, store->count(filter));
        QCOMPARE(count, ids.size());
        OJ_ASSIGN(estimate, store->estimateCount(filter));
        QCOMPARE(estimate, ids.size());
    }
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::nulInFilters()
{
    // SQL text cannot carry a NUL: every filter holding one is refused the same way on both
    // backends, before anything runs.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_VERIFY_OK(store->enqueue(tagged(u"a"_s, u"ab"_s)));
    const QString before = snapshot(*store);
    const QString nul = u"a"_s + QChar(0) + u"b"_s;
    for (const char *field : { "type", "queue", "worker", "search" }) {
        JobFilter filter;
        if (qstrcmp(field, "type") == 0)
            filter.types = { nul };
        else if (qstrcmp(field, "queue") == 0)
            filter.queues = { u"default"_s, nul };
        else if (qstrcmp(field, "worker") == 0)
            filter.workers = { nul };
        else
            filter.search = nul;
        const QString expected
            = u"the %1 filter contains a NUL character"_s.arg(QLatin1String(field));
        const auto page = store->list(filter);
        QVERIFY2(!page.ok(), field);
        QCOMPARE(page.error().code, ErrorCode::InvalidArgument);
        QCOMPARE(page.error().message, expected);
        OJ_VERIFY_ERROR(store->count(filter), ErrorCode::InvalidArgument);
        OJ_VERIFY_ERROR(store->estimateCount(filter), ErrorCode::InvalidArgument);
        OJ_VERIFY_ERROR(store->cancel(filter), ErrorCode::InvalidArgument);
        OJ_VERIFY_ERROR(store->runNow(filter), ErrorCode::InvalidArgument);
        OJ_VERIFY_ERROR(store->remove(filter), ErrorCode::InvalidArgument);
    }
    // A queue name is refused alike when a job is written.
    NewJob job = tagged(u"a"_s);
    job.queue = nul;
    const auto enqueued = store->enqueue(job);
    QVERIFY(!enqueued.ok());
    QCOMPARE(enqueued.error().code, ErrorCode::InvalidArgument);
    QCOMPARE(enqueued.error().message, u"the queue name contains a NUL character"_s);
    OJ_VERIFY_ERROR(store->enqueueMany({ tagged(u"a"_s), job }), ErrorCode::InvalidArgument);
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::postgresWithoutStandardStrings()
{
    // A database still set to the old string syntax (standard_conforming_strings = off, where
    // a backslash escapes inside '...'): QPSQL notices it and escapes bound values for it; the
    // store's own SQL must not rely on the standard syntax either.
    ODDJOBS_FRESH_URL(u"postgresql"_s, url);
    const DirectSql direct(url);
    const QString database = ConnectionSettings::fromUrl(url)->database;
    QString error;
    for (const QString &setting :
         { u"standard_conforming_strings = off"_s, u"escape_string_warning = off"_s }) {
        QVERIFY2(direct.exec(u"alter database %1 set %2"_s.arg(database, setting), nullptr, &error),
                 qPrintable(error));
    }
    OJ_ASSIGN(store, openStore(url));
    {
        QSqlQuery query(store->database());
        QVERIFY(query.exec(u"show standard_conforming_strings"_s) && query.next());
        QCOMPARE(query.value(0).toString(), u"off"_s);
    }
    QList<Job> jobs;
    for (const QString &value : metacharacters()) {
        NewJob job = tagged(value, QJsonObject { { u"v"_s, value } });
        job.queue = value;
        OJ_ASSIGN(created, store->enqueue(job));
        QCOMPARE(created.type(), value);
        QCOMPARE(created.queue, value);
        jobs << created;
    }
    OJ_ASSIGN(many, store->enqueueMany({ tagged(u"\\'"_s), tagged(u"\\'"_s) }));
    QCOMPARE(many.size(), 2);
    for (const Job &job : std::as_const(jobs)) {
        JobFilter byType;
        byType.types = { job.type(), u"\\x"_s + job.type() };
        QString listError;
        QCOMPARE(idsMatching(*store, byType, &listError), QList<qint64> { job.id });
        QVERIFY2(listError.isEmpty(), qPrintable(listError));
        JobFilter byQueue;
        byQueue.queues = { job.queue };
        OJ_ASSIGN(estimate, store->estimateCount(byQueue));
        QCOMPARE(estimate, 1);
    }
    OJ_ASSIGN(all, store->list({}, allById()));
    for (const QString &search : { u"\\"_s, u"'"_s, u"%"_s, u"_"_s, u"\\'"_s }) {
        JobFilter filter;
        filter.search = search;
        QString listError;
        const QList<qint64> ids = idsMatching(*store, filter, &listError);
        QVERIFY2(listError.isEmpty(), qPrintable(u"search [%1]: "_s.arg(search) + listError));
        QCOMPARE(ids, idsAccepted(all.jobs, filter));
        OJ_ASSIGN(estimate, store->estimateCount(filter));
        QCOMPARE(estimate, ids.size());
    }
    OJ_ASSIGN(total, store->count());
    QCOMPARE(total, metacharacters().size() + 2);
}

// ---------------------------------------------------------------------------------------
// payloads

void TestBadInput::payloadRoundTrip_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QJsonValue>("payload");
    const QJsonObject keys {
        { u"'; DROP TABLE jobs; --"_s, 1 },
        { u"\"quoted\""_s, 2 },
        { u"back\\slash"_s, 3 },
        { u"%_"_s, 4 },
        { u""_s, 5 },
        { u"ünï 😀"_s, 6 },
        { u"tag"_s, u"Keys"_s },
    };
    QString controls;
    for (char16_t c = 1; c < 0x20; ++c)
        controls += QChar(c);
    // SQLite's UTF-16 conversion turns U+FFFE and U+FFFF into U+FFFD.
    const QString noncharacters
        = QString(QChar(0xfffe)) + QChar(0xffff) + QChar(0xfdd0) + QString::fromUcs4(U"\U0001FFFE");
    const QList<QPair<const char *, QJsonValue>> payloads {
        { "sql in values",
          QJsonObject { { u"tag"_s, u"x'); DROP TABLE jobs; --"_s },
                        { u"contents"_s, u"' OR 1=1; --"_s } } },
        { "metacharacters in keys", keys },
        { "control characters", QJsonObject { { u"tag"_s, u"C"_s }, { u"s"_s, controls } } },
        { "line and paragraph separators", QJsonValue(u"a\u2028b\u2029c"_s) },
        { "astral plane", QJsonValue(u"😀 𝄞 𠀀"_s) },
        { "right to left", QJsonValue(u"שלום \u202e abc"_s) },
        { "replacement character", QJsonValue(u"\ufffd"_s) },
        { "text that spells escapes",
          QJsonArray { u"\\u0000"_s, u"\\ud800"_s, u"\\\\u0000"_s, u"\\"_s } },
        { "surrogate pair", QJsonValue(QString(QChar(0xd83d)) + QChar(0xde00)) },
        { "noncharacters",
          QJsonObject { { QString(QChar(0xfffe)), QString(QChar(0xffff)) },
                        { u"v"_s, noncharacters } } },
        { "byte order mark", QJsonValue(u"\ufeffbom"_s) },
        { "largest integers",
          QJsonArray { std::numeric_limits<qint64>::max(), std::numeric_limits<qint64>::min(),
                       qint64(9007199254740993) } },
        { "extreme doubles",
          QJsonArray { std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
                       std::numeric_limits<double>::denorm_min(), 0.1, 1.0 / 3.0, 1e-300 } },
        { "empty containers", QJsonArray { QJsonObject {}, QJsonArray {}, u""_s } },
        { "scalar string", QJsonValue(u"just text"_s) },
        { "scalar number", QJsonValue(42.5) },
        { "scalar true", QJsonValue(true) },
        { "scalar null", QJsonValue(QJsonValue::Null) },
        { "nested 100 levels", nestedArrays(100) },
        { "nested 1000 levels", nestedArrays(1000) },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const auto &[what, payload] : payloads)
            QTest::addRow("%s: %s", qPrintable(backend), what) << backend << payload;
    }
}

void TestBadInput::payloadRoundTrip()
{
    QFETCH(QString, backend);
    QFETCH(QJsonValue, payload);
    OJ_FRESH_STORE(store, url, backend);
    NewJob newJob;
    newJob.payload = payload;
    OJ_ASSIGN(job, store->enqueue(newJob));
    QVERIFY2(job.payload == payload, qPrintable(jsonText(job.payload).left(2000)));
    OJ_FIND(found, *store, job.id);
    QVERIFY2(found.payload == payload, qPrintable(jsonText(found.payload).left(2000)));
    QCOMPARE(found.type(), jobTypeOf(payload));
    OJ_ASSIGN(ids, store->enqueueMany({ newJob, newJob }));
    for (qint64 id : ids) {
        OJ_FIND(other, *store, id);
        QVERIFY2(other.payload == payload, qPrintable(jsonText(other.payload).left(2000)));
    }
    // Through a claim and a result as well.
    ClaimRequest claim;
    claim.worker = W1;
    claim.anyType = true;
    claim.limit = 1;
    OJ_ASSIGN(claimed, store->claim(claim));
    QCOMPARE(claimed.size(), 1);
    QVERIFY(claimed.first().payload == payload);
    JobOutcome outcome;
    outcome.id = claimed.first().id;
    outcome.success = true;
    outcome.result = payload.isNull() ? QJsonValue(u"null"_s) : payload;
    OJ_ASSIGN(written, store->complete(W1, { outcome }));
    QCOMPARE(written.size(), 1);
    OJ_FIND(completed, *store, outcome.id);
    QVERIFY2(completed.result == outcome.result, qPrintable(jsonText(completed.result).left(2000)));
    // Edited to the same payload, nothing else changes.
    OJ_FIND(third, *store, ids.last());
    NewJob fields = newJob;
    fields.runAt = third.runAt;
    OJ_ASSIGN(edited, store->edit(third.id, fields, third.revision));
    QVERIFY(edited.payload == payload);
}

void TestBadInput::payloadNul()
{
    // PostgreSQL's jsonb cannot hold a NUL character (\u0000); it is refused on both backends,
    // in a value and in a key, however deep.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(existing, store->enqueue(tagged(u"Keep"_s)));
    const QString before = snapshot(*store);
    const QString nul = u"a"_s + QChar(0) + u"b"_s;
    const QList<QJsonValue> payloads {
        QJsonValue(nul),
        QJsonObject { { u"tag"_s, nul } },
        QJsonObject { { nul, 1 } },
        QJsonArray { 1, QJsonArray { QJsonObject { { u"deep"_s, nul } } } },
        QJsonValue(QString(QChar(0))),
    };
    for (const QJsonValue &payload : payloads) {
        NewJob job;
        job.payload = payload;
        const auto enqueued = store->enqueue(job);
        QVERIFY2(!enqueued.ok(), qPrintable(jsonText(payload)));
        QCOMPARE(enqueued.error().code, ErrorCode::InvalidJson);
        QCOMPARE(enqueued.error().message,
                 u"the payload contains a NUL character (\\u0000), which jsonb cannot store"_s);
        OJ_VERIFY_ERROR(store->enqueueMany({ tagged(u"Fine"_s), job }), ErrorCode::InvalidJson);
        NewJob fields = job;
        fields.runAt = existing.runAt;
        OJ_VERIFY_ERROR(store->edit(existing.id, fields, existing.revision),
                        ErrorCode::InvalidJson);
    }
    QCOMPARE(snapshot(*store), before);

    // A result with a NUL does not lose the job's success: the reason is stored instead.
    OJ_ASSIGN(job, store->enqueue(tagged(u"R"_s)));
    ClaimRequest claim;
    claim.worker = W1;
    claim.types = { u"R"_s };
    OJ_ASSIGN(claimed, store->claim(claim));
    QCOMPARE(idsOf(claimed), QList<qint64> { job.id });
    JobOutcome outcome;
    outcome.id = job.id;
    outcome.success = true;
    outcome.result = QJsonObject { { u"out"_s, nul } };
    OJ_ASSIGN(written, store->complete(W1, { outcome }));
    QCOMPARE(written.size(), 1);
    OJ_FIND(done, *store, job.id);
    QCOMPARE(done.status, JobStatus::Success);
    QCOMPARE(done.result[u"unstored"].toString(),
             u"the result contains a NUL character (\\u0000), which jsonb cannot store"_s);
}

void TestBadInput::payloadInvalidUnicode()
{
    // A QString cannot hold invalid UTF-8 (QString::fromUtf8 already made it U+FFFD), but it
    // can hold a lone UTF-16 surrogate, which has no UTF-8 form at all.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    const QString before = snapshot(*store);

    const QString fromBadUtf8 = QString::fromUtf8("ok \xff\xfe \xc3\x28 end");
    OJ_ASSIGN(replaced, store->enqueue(tagged(u"Utf8"_s, fromBadUtf8)));
    QCOMPARE(replaced.payload[u"contents"].toString(), fromBadUtf8);
    QVERIFY(fromBadUtf8.contains(QChar(QChar::ReplacementCharacter)));
    OJ_VERIFY_OK(store->remove(JobFilter::byIds({ replaced.id })));

    for (const QString &lone : QStringList { u"a"_s + QChar(0xd800) + u"b"_s,
                                             u"a"_s + QChar(0xdc00), QString(QChar(0xdbff)) }) {
        for (bool asKey : { false, true }) {
            NewJob job;
            job.payload = asKey ? QJsonValue(QJsonObject { { lone, 1 } }) : QJsonValue(lone);
            const auto enqueued = store->enqueue(job);
            QVERIFY2(!enqueued.ok(), "the payload was accepted");
            QCOMPARE(enqueued.error().code, ErrorCode::InvalidJson);
            QCOMPARE(enqueued.error().message,
                     u"the payload contains text that is not valid Unicode (a lone UTF-16 "
                     "surrogate)"_s);
        }
    }
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::payloadSizeLimit()
{
    // The limit is on the payload's compact JSON in UTF-8 bytes, exactly.
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    StoreOptions options;
    options.maxPayloadBytes = 4096;
    OJ_ASSIGN(store, openStore(url, options));
    // "é" is two bytes; a JSON string has two quotes.
    const auto payloadOf = [](int bytes) {
        return QJsonValue(QString((bytes - 2) / 2, QChar(0xe9)) + QString((bytes - 2) % 2, u'x'));
    };
    NewJob atLimit;
    atLimit.payload = payloadOf(4096);
    QCOMPARE(jsonText(atLimit.payload).toUtf8().size(), 4096);
    OJ_ASSIGN(fits, store->enqueue(atLimit));
    QCOMPARE(fits.payload, atLimit.payload);
    const QString before = snapshot(*store);

    NewJob over;
    over.payload = payloadOf(4097);
    const auto refused = store->enqueue(over);
    QVERIFY(!refused.ok());
    QCOMPARE(refused.error().code, ErrorCode::PayloadTooLarge);
    QCOMPARE(refused.error().message,
             u"the payload is 4097 bytes of JSON, more than the limit of 4096 bytes"_s);
    const auto many = store->enqueueMany({ atLimit, over });
    QVERIFY(!many.ok());
    QCOMPARE(many.error().code, ErrorCode::PayloadTooLarge);
    QCOMPARE(many.error().message,
             u"job 2 of 2: the payload is 4097 bytes of JSON, more than the limit of 4096 bytes"_s);
    NewJob fields = over;
    fields.runAt = fits.runAt;
    OJ_VERIFY_ERROR(store->edit(fits.id, fields, fits.revision), ErrorCode::PayloadTooLarge);
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::payloadTenMegabytes()
{
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    // 10 MB of JSON: an object with 100 000 keys, each with a 90-character string.
    QJsonObject big { { u"tag"_s, u"Big"_s } };
    for (int i = 0; i < 100000; ++i)
        big.insert(u"k%1"_s.arg(i, 6, 10, QChar(u'0')), QString(90, QChar(u'a' + i % 26)));
    NewJob job;
    job.payload = big;
    const qsizetype bytes = jsonText(job.payload).toUtf8().size();
    QVERIFY2(bytes > 10000000 && bytes < 10500000, qPrintable(QString::number(bytes)));

    {
        // Over the default limit (1 MiB): refused, nothing stored.
        OJ_ASSIGN(store, openStore(url));
        OJ_ASSIGN(existing, store->enqueue(tagged(u"Keep"_s)));
        const QString before = snapshot(*store);
        const auto refused = store->enqueue(job);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::PayloadTooLarge);
        QCOMPARE(
            refused.error().message,
            u"the payload is %1 bytes of JSON, more than the limit of 1048576 bytes"_s.arg(bytes));
        OJ_VERIFY_ERROR(store->enqueueMany({ tagged(u"Small"_s), job }),
                        ErrorCode::PayloadTooLarge);
        NewJob fields = job;
        fields.runAt = existing.runAt;
        OJ_VERIFY_ERROR(store->edit(existing.id, fields, existing.revision),
                        ErrorCode::PayloadTooLarge);
        // A result that big does not lose the job's success either.
        OJ_CALL(claimOnly(*store, existing.id, nullptr, W1));
        JobOutcome outcome;
        outcome.id = existing.id;
        outcome.success = true;
        outcome.result = big;
        OJ_ASSIGN(written, store->complete(W1, { outcome }));
        QCOMPARE(written.size(), 1);
        OJ_FIND(done, *store, existing.id);
        QCOMPARE(done.status, JobStatus::Success);
        QCOMPARE(
            done.result[u"unstored"].toString(),
            u"the result is %1 bytes of JSON, more than the limit of 1048576 bytes"_s.arg(bytes));
        OJ_ASSIGN(count, store->count());
        QCOMPARE(count, 1);
    }
    {
        // Under a raised limit: it round-trips, alone and in a batch.
        StoreOptions options;
        options.maxPayloadBytes = 16 * 1024 * 1024;
        OJ_ASSIGN(store, openStore(url, options));
        OJ_ASSIGN(stored, store->enqueue(job));
        QVERIFY(stored.payload == job.payload);
        OJ_FIND(found, *store, stored.id);
        QVERIFY(found.payload == job.payload);
        OJ_ASSIGN(ids, store->enqueueMany({ job, tagged(u"Small"_s) }));
        OJ_FIND(fromBatch, *store, ids.first());
        QVERIFY(fromBatch.payload == job.payload);
        JobFilter search;
        search.search = u"k099999"_s;
        OJ_ASSIGN(matching, store->count(search));
        QCOMPARE(matching, 2);
    }
}

void TestBadInput::payloadDeepNesting()
{
    // Deeper than the store can read back (Qt's JSON reader stops at 1024 levels) is refused
    // before anything is serialized; 1000 levels round-trip (payloadRoundTrip).
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(existing, store->enqueue(tagged(u"Keep"_s)));
    const QString before = snapshot(*store);
    for (int depth : { 1001, 1100, 1500, 10000 }) {
        NewJob job;
        job.payload = nestedArrays(depth);
        const auto enqueued = store->enqueue(job);
        QVERIFY2(!enqueued.ok(), qPrintable(QString::number(depth)));
        QCOMPARE(enqueued.error().code, ErrorCode::InvalidJson);
        QCOMPARE(enqueued.error().message, u"the payload is nested more than 1000 levels deep"_s);
        OJ_VERIFY_ERROR(store->enqueueMany({ tagged(u"Fine"_s), job }), ErrorCode::InvalidJson);
        NewJob fields = job;
        fields.runAt = existing.runAt;
        OJ_VERIFY_ERROR(store->edit(existing.id, fields, existing.revision),
                        ErrorCode::InvalidJson);
    }
    // Objects count as levels as well.
    QJsonValue objects(1);
    for (int i = 0; i < 1001; ++i)
        objects = QJsonObject { { u"k"_s, objects } };
    NewJob objectJob;
    objectJob.payload = objects;
    OJ_VERIFY_ERROR(store->enqueue(objectJob), ErrorCode::InvalidJson);
    QCOMPARE(snapshot(*store), before);

    // A result nested that deep does not lose the job's success.
    OJ_CALL(claimOnly(*store, existing.id, nullptr, W1));
    JobOutcome outcome;
    outcome.id = existing.id;
    outcome.success = true;
    outcome.result = nestedArrays(10000);
    OJ_ASSIGN(written, store->complete(W1, { outcome }));
    QCOMPARE(written.size(), 1);
    OJ_FIND(done, *store, existing.id);
    QCOMPARE(done.status, JobStatus::Success);
    QCOMPARE(done.result[u"unstored"].toString(),
             u"the result is nested more than 1000 levels deep"_s);
}

void TestBadInput::storedTextUnreadable()
{
    // A row written by someone else with JSON nested deeper than Qt reads: the row is still
    // listed, found and counted with every other field intact; no crash.
    OJ_FRESH_STORE(store, url, u"sqlite"_s);
    OJ_ASSIGN(job, store->enqueue(tagged(u"Deep"_s)));
    const DirectSql direct(url);
    const QString deep = QString(1500, u'[') + QString(1500, u']');
    QString error;
    QVERIFY2(
        direct.exec(
            u"update jobs set payload = '%1', result = '%1' where id = %2"_s.arg(deep).arg(job.id),
            nullptr, &error),
        qPrintable(error));
    OJ_FIND(found, *store, job.id);
    QCOMPARE(found.id, job.id);
    QCOMPARE(found.status, JobStatus::Queued);
    QCOMPARE(found.queue, u"default"_s);
    QVERIFY2(found.payload.isUndefined(), qPrintable(jsonText(found.payload)));
    QCOMPARE(found.type(), UnknownJobType.toString());
    OJ_ASSIGN(page, store->list({}));
    QCOMPARE(page.jobs.size(), 1);
    OJ_ASSIGN(count, store->count());
    QCOMPARE(count, 1);
}

void TestBadInput::storedInvalidUtf8()
{
    // SQLite's JSON check lets bytes that are not UTF-8 through when another program writes
    // them; they are read back as U+FFFD, never as a crash or an error.
    OJ_FRESH_STORE(store, url, u"sqlite"_s);
    OJ_ASSIGN(job, store->enqueue(tagged(u"Bytes"_s)));
    const DirectSql direct(url);
    QString error;
    // {"tag":"Bytes","contents":"<ff><fe>"}
    QVERIFY2(direct.exec(u"update jobs set payload = CAST(X'7B22746167223A224279746573222C22636F6E"
                         "74656E7473223A22FFFE227D' AS TEXT) where id = %1"_s.arg(job.id),
                         nullptr, &error),
             qPrintable(error));
    OJ_FIND(found, *store, job.id);
    QCOMPARE(found.type(), u"Bytes"_s);
    const QString contents = found.payload[u"contents"].toString();
    QVERIFY2(!contents.isEmpty()
                 && contents.count(QChar(QChar::ReplacementCharacter)) == contents.size(),
             qPrintable(jsonText(found.payload)));
    JobFilter filter;
    filter.types = { u"Bytes"_s };
    OJ_ASSIGN(count, store->count(filter));
    QCOMPARE(count, 1);
}

// ---------------------------------------------------------------------------------------
// timestamps

void TestBadInput::timesInRange()
{
    // The ends of the accepted range (years 1 to 9999) are stored to the millisecond and
    // sort and filter as times.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    const QList<QDateTime> times {
        QDateTime(QDate(1, 1, 1), QTime(0, 0), Qt::UTC),
        QDateTime(QDate(1, 1, 1), QTime(5, 0), Qt::OffsetFromUTC, 3 * 3600),
        QDateTime(QDate(1899, 12, 31), QTime(23, 59, 59, 999), Qt::UTC),
        QDateTime(QDate(1970, 1, 1), QTime(0, 0), Qt::UTC),
        QDateTime(QDate(2038, 1, 19), QTime(3, 14, 8), Qt::UTC),
        QDateTime(QDate(9999, 12, 31), QTime(23, 59, 59, 999), Qt::UTC),
    };
    QList<qint64> ids;
    for (const QDateTime &t : times) {
        NewJob job = tagged(u"T"_s);
        job.runAt = t;
        OJ_ASSIGN(created, store->enqueue(job));
        QVERIFY2(created.runAt == t,
                 qPrintable(timeText(created.runAt) + u" for "_s + t.toString(Qt::ISODateWithMs)));
        OJ_FIND(found, *store, created.id);
        QCOMPARE(found.runAt, t);
        ids << created.id;
    }
    // Sorted by run_at, and paged with a cursor at the extremes.
    PageRequest page;
    page.sort = SortKey::RunAt;
    page.order = Qt::AscendingOrder;
    page.limit = 2;
    QList<qint64> seen;
    for (;;) {
        OJ_ASSIGN(part, store->list({}, page));
        seen += idsOf(part.jobs);
        if (!part.hasMore)
            break;
        page.after = part.last;
    }
    QCOMPARE(seen, ids);
    // The year-1 jobs are due; the 9999 one is not.
    ClaimRequest claim;
    claim.worker = W1;
    claim.anyType = true;
    claim.limit = 100;
    OJ_ASSIGN(claimed, store->claim(claim));
    QCOMPARE(idsOf(claimed).first(), ids.first());
    QVERIFY(!idsOf(claimed).contains(ids.last()));
    JobFilter range;
    range.timeField = TimeField::RunAt;
    range.from = times.first();
    range.to = times.last();
    OJ_ASSIGN(inRange, store->count(range));
    QCOMPARE(inRange, times.size() - 1);
}

void TestBadInput::timesOutOfRange_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QDateTime>("runAt");
    const QList<QPair<const char *, QDateTime>> times {
        { "year 10000", QDateTime(QDate(10000, 1, 1), QTime(0, 0), Qt::UTC) },
        { "year 275760", QDateTime(QDate(275760, 9, 13), QTime(0, 0), Qt::UTC) },
        { "year 0", QDateTime(QDate(0, 6, 1), QTime(0, 0), Qt::UTC) },
        { "4713 BC", QDateTime(QDate(-4713, 1, 1), QTime(0, 0), Qt::UTC) },
        { "invalid date", QDateTime(QDate(2026, 2, 30), QTime(10, 0), Qt::UTC) },
        { "null", QDateTime() },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const auto &[what, t] : times)
            QTest::addRow("%s: %s", qPrintable(backend), what) << backend << t;
    }
}

void TestBadInput::timesOutOfRange()
{
    QFETCH(QString, backend);
    QFETCH(QDateTime, runAt);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(existing, store->enqueue(tagged(u"Keep"_s)));
    const QString before = snapshot(*store);
    NewJob job = tagged(u"T"_s);
    job.runAt = runAt;
    const auto enqueued = store->enqueue(job);
    QVERIFY2(!enqueued.ok(), "the job was accepted");
    QCOMPARE(enqueued.error().code, ErrorCode::InvalidArgument);
    QCOMPARE(enqueued.error().message,
             u"the run-at time is not a valid date between the years 1 and 9999"_s);
    OJ_VERIFY_ERROR(store->enqueueMany({ tagged(u"Fine"_s), job }), ErrorCode::InvalidArgument);
    OJ_VERIFY_ERROR(store->edit(existing.id, job, existing.revision), ErrorCode::InvalidArgument);
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::delaysOutOfRange_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<double>("delay");
    QTest::addColumn<bool>("accepted");
    const double inf = std::numeric_limits<double>::infinity();
    const QList<std::tuple<const char *, double, bool>> delays {
        { "NaN", std::numeric_limits<double>::quiet_NaN(), false },
        { "negative NaN", -std::numeric_limits<double>::quiet_NaN(), false },
        { "infinity", inf, false },
        { "minus infinity", -inf, false },
        { "largest double", std::numeric_limits<double>::max(), false },
        { "1e300 s in the past", -1e300, false },
        { "just over 100 years", 3153600000.5, false },
        { "100 years", 3153600000.0, true },
        { "100 years ago", -3153600000.0, true },
        { "smallest denormal", std::numeric_limits<double>::denorm_min(), true },
        { "negative zero", -0.0, true },
    };
    for (const QString &backend : { u"sqlite"_s, u"postgresql"_s }) {
        for (const auto &[what, delay, accepted] : delays)
            QTest::addRow("%s: %s", qPrintable(backend), what) << backend << delay << accepted;
    }
}

void TestBadInput::delaysOutOfRange()
{
    QFETCH(QString, backend);
    QFETCH(double, delay);
    QFETCH(bool, accepted);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(existing, store->enqueue(tagged(u"Keep"_s)));
    const QString before = snapshot(*store);
    NewJob job = tagged(u"T"_s);
    job.delaySeconds = delay;
    if (accepted) {
        OJ_ASSIGN(now, store->now());
        OJ_ASSIGN(created, store->enqueue(job));
        const qint64 expectedMs = qint64(std::llround(delay * 1000));
        OJ_VERIFY_BETWEEN(created.runAt, now.addMSecs(expectedMs), now.addMSecs(expectedMs + 5000));
        OJ_ASSIGN(ids, store->enqueueMany({ job }));
        OJ_FIND(fromBatch, *store, ids.first());
        OJ_VERIFY_BETWEEN(fromBatch.runAt, now.addMSecs(expectedMs),
                          now.addMSecs(expectedMs + 5000));
        return;
    }
    const auto enqueued = store->enqueue(job);
    QVERIFY2(!enqueued.ok(), "the job was accepted");
    QCOMPARE(enqueued.error().code, ErrorCode::InvalidArgument);
    QCOMPARE(enqueued.error().message, u"the delay is not a number of seconds within 100 years"_s);
    OJ_VERIFY_ERROR(store->enqueueMany({ tagged(u"Fine"_s), job }), ErrorCode::InvalidArgument);
    OJ_VERIFY_ERROR(store->edit(existing.id, job, existing.revision), ErrorCode::InvalidArgument);
    QCOMPARE(snapshot(*store), before);
}

void TestBadInput::filterTimesOutOfRange()
{
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_VERIFY_OK(store->enqueue(tagged(u"Keep"_s)));
    const QString before = snapshot(*store);
    for (const QDateTime &bound : { QDateTime(QDate(10000, 1, 1), QTime(0, 0), Qt::UTC),
                                    QDateTime(QDate(-1, 1, 1), QTime(0, 0), Qt::UTC),
                                    QDateTime(QDate(2026, 2, 30), QTime(0, 0), Qt::UTC) }) {
        for (bool asFrom : { true, false }) {
            JobFilter filter;
            filter.timeField = TimeField::RunAt;
            (asFrom ? filter.from : filter.to) = bound;
            const auto page = store->list(filter);
            QVERIFY(!page.ok());
            QCOMPARE(page.error().code, ErrorCode::InvalidArgument);
            QCOMPARE(page.error().message,
                     u"the time range bound is not a valid date between the years 1 and 9999"_s);
            OJ_VERIFY_ERROR(store->count(filter), ErrorCode::InvalidArgument);
            OJ_VERIFY_ERROR(store->cancel(filter), ErrorCode::InvalidArgument);
            OJ_VERIFY_ERROR(store->remove(filter), ErrorCode::InvalidArgument);
        }
    }
    QCOMPARE(snapshot(*store), before);
}

// ---------------------------------------------------------------------------------------
// damaged tables

void TestBadInput::foreignTableRefused()
{
    // A table of another program under the jobs table's name is never migrated or written.
    QFETCH(QString, backend);
    ODDJOBS_FRESH_URL(backend, url);
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(u"create table jobs (id integer primary key, name text, payload text)"_s,
                         nullptr, &error),
             qPrintable(error));
    QVERIFY2(direct.exec(u"insert into jobs (id, name, payload) values (1, 'mine', '{}')"_s,
                         nullptr, &error),
             qPrintable(error));
    const QString tablesBefore = tableList(direct);
    OJ_ASSIGN(store, openStore(url, {}, false));
    const auto migrated = store->migrate();
    QVERIFY(!migrated.ok());
    QCOMPARE(migrated.error().code, ErrorCode::SchemaInvalid);
    QCOMPARE(migrated.error().message,
             u"table jobs exists but lacks the column(s) created_at, updated_at, run_at, status, "
             "last_error, attempts, locked_at, locked_by, so it is not a jobs table this release "
             "can use; choose another table name with --table"_s);
    OJ_VERIFY_ERROR(store->checkSchema(), ErrorCode::SchemaMissing);
    QCOMPARE(direct.value(u"select name || ':' || payload from jobs"_s), u"mine:{}"_s);
    // The version table was not left behind either (the migration rolled back).
    QCOMPARE(tableList(direct), tablesBefore);
}

void TestBadInput::missingColumns()
{
    // A migrated table that lost columns afterwards: every entry point reports the schema
    // as invalid and changes nothing.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_ASSIGN(job, store->enqueue(tagged(u"Keep"_s, 1)));
    const DirectSql direct(url);
    QString error;
    for (const QString &column : { u"result"_s, u"timeout_seconds"_s }) {
        QVERIFY2(direct.exec(u"alter table jobs drop column %1"_s.arg(column), nullptr, &error),
                 qPrintable(error));
    }
    const QString rowBefore = direct.value(u"select payload || '|' || status from jobs"_s);

    OJ_ASSIGN(fresh, openStore(url, {}, false));
    for (JobStore *s : { store.get(), fresh.get() }) {
        const auto checked = s->checkSchema();
        QVERIFY(!checked.ok());
        QCOMPARE(checked.error().code, ErrorCode::SchemaInvalid);
        QCOMPARE(checked.error().message,
                 u"table jobs exists but lacks the column(s) timeout_seconds, result, so it is "
                 "not a jobs table this release can use; choose another table name with "
                 "--table"_s);
        const auto migrated = s->migrate();
        QVERIFY2(!migrated.ok(), "migrate() called a damaged table up to date");
        QCOMPARE(migrated.error().code, ErrorCode::SchemaInvalid);
        QCOMPARE(migrated.error().message, checked.error().message);

        // The calls themselves fail with the same code, whatever the backend says.
        ClaimRequest claim;
        claim.worker = W1;
        claim.anyType = true;
        const QList<std::pair<const char *, Error>> failures {
            { "enqueue", errorOf(s->enqueue(tagged(u"New"_s))) },
            { "enqueueMany", errorOf(s->enqueueMany({ tagged(u"New"_s) })) },
            { "find", errorOf(s->find(job.id)) },
            { "list", errorOf(s->list({})) },
            { "claim", errorOf(s->claim(claim)) },
        };
        for (const auto &[call, failure] : failures) {
            QVERIFY2(failure.code == ErrorCode::SchemaInvalid,
                     qPrintable(QLatin1String(call) + u": "_s + failure.toString()));
            const QString problem = messageProblem(failure);
            QVERIFY2(problem.isEmpty(), qPrintable(problem));
        }
    }
    QCOMPARE(direct.value(u"select count(*) from jobs"_s), u"1"_s);
    QCOMPARE(direct.value(u"select payload || '|' || status from jobs"_s), rowBefore);
}

void TestBadInput::droppedTable()
{
    // The version table says "migrated" but the jobs table is gone: the schema check says to
    // migrate, and migrate() creates it again instead of calling it up to date.
    QFETCH(QString, backend);
    OJ_FRESH_STORE(store, url, backend);
    OJ_VERIFY_OK(store->enqueue(tagged(u"Lost"_s)));
    const DirectSql direct(url);
    QString error;
    QVERIFY2(direct.exec(u"drop table jobs"_s, nullptr, &error), qPrintable(error));

    OJ_ASSIGN(fresh, openStore(url, {}, false));
    const auto checked = fresh->checkSchema();
    QVERIFY(!checked.ok());
    QCOMPARE(checked.error().code, ErrorCode::SchemaMissing);
    QCOMPARE(checked.error().message, u"table jobs does not exist yet: run 'oddjobs migrate'"_s);
    const auto listed = fresh->list({});
    QVERIFY(!listed.ok());
    QCOMPARE(listed.error().code, ErrorCode::SchemaMissing);

    OJ_ASSIGN(previous, fresh->migrate());
    QCOMPARE(previous, 0);
    OJ_VERIFY_OK(fresh->checkSchema());
    OJ_ASSIGN(job, fresh->enqueue(tagged(u"Again"_s)));
    OJ_ASSIGN(count, fresh->count());
    QCOMPARE(count, 1);
    QCOMPARE(direct.value(u"select count(*) from oddjobs_schema_versions"_s), u"1"_s);
}

QTEST_GUILESS_MAIN(TestBadInput)
#include "tst_badinput.moc"
