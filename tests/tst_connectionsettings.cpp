// Connection URLs and table names: pure parsing, no database.

#include "oddjobs/connectionsettings.h"
#include "oddjobs/jobstore.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>
#include <QTest>

using namespace OddJobs;
using namespace Qt::StringLiterals;

using Options = QList<QPair<QString, QString>>;
Q_DECLARE_METATYPE(Options)

namespace OddJobs {
inline char *toString(ErrorCode code)
{
    return qstrdup(qPrintable(errorCodeName(code)));
}
inline char *toString(Backend backend)
{
    return qstrdup(backend == Backend::Sqlite ? "Sqlite" : "PostgreSql");
}
} // namespace OddJobs

namespace {

// Restores an environment variable when the test ends.
class EnvGuard
{
public:
    explicit EnvGuard(const char *name)
        : m_name(name)
        , m_had(qEnvironmentVariableIsSet(name))
        , m_value(qgetenv(name))
    {
    }
    ~EnvGuard()
    {
        if (m_had)
            qputenv(m_name, m_value);
        else
            qunsetenv(m_name);
    }
    EnvGuard(const EnvGuard &) = delete;
    EnvGuard &operator=(const EnvGuard &) = delete;

private:
    const char *m_name;
    bool m_had;
    QByteArray m_value;
};

} // namespace

class TestConnectionSettings : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void init();

    void sqliteUrls_data();
    void sqliteUrls();
    void postgresUrls_data();
    void postgresUrls();
    void invalidUrls_data();
    void invalidUrls();
    void displayStringHidesPassword_data();
    void displayStringHidesPassword();
    void invalidUrlHidesPassword_data();
    void invalidUrlHidesPassword();
    void resolve();

    void tableNames_data();
    void tableNames();
    void invalidTableNames_data();
    void invalidTableNames();
    void derivedNames();
    void notificationChannel();
};

void TestConnectionSettings::initTestCase()
{
    // resolve() must not look at (or create) anything in the real home directory.
    QStandardPaths::setTestModeEnabled(true);
}

void TestConnectionSettings::init()
{
    // Parsing and formatting are silent: a runtime warning is a bug.
    QTest::failOnWarning(QRegularExpression(u".*"_s));
}

// ---------------------------------------------------------------------------------------
// URLs

void TestConnectionSettings::sqliteUrls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("path"); // expected absolute path; empty for memory
    QTest::addColumn<bool>("memory");

    QTest::addRow("absolute") << u"sqlite:/abs/x.db"_s << u"/abs/x.db"_s << false;
    QTest::addRow("relative") << u"sqlite:rel.db"_s << QDir::current().absoluteFilePath(u"rel.db"_s)
                              << false;
    QTest::addRow("relative in dir")
        << u"sqlite:data/jobs.db"_s << QDir::current().absoluteFilePath(u"data/jobs.db"_s) << false;
    QTest::addRow("three slashes") << u"sqlite:///abs/x.db"_s << u"/abs/x.db"_s << false;
    QTest::addRow("memory") << u"sqlite::memory:"_s << QString() << true;
}

void TestConnectionSettings::sqliteUrls()
{
    QFETCH(QString, url);
    QFETCH(QString, path);
    QFETCH(bool, memory);

    const auto settings = ConnectionSettings::fromUrl(url);
    QVERIFY2(settings.ok(), qPrintable(settings.ok() ? QString() : settings.error().toString()));
    QCOMPARE(settings->backend, Backend::Sqlite);
    QCOMPARE(settings->sqliteMemory, memory);
    if (memory) {
        QVERIFY(settings->sqlitePath.isEmpty());
        QVERIFY(!settings->sqliteMemoryName.isEmpty());
    } else {
        // A relative path may be kept relative or made absolute; it names the same file.
        QCOMPARE(QFileInfo(settings->sqlitePath).absoluteFilePath(), path);
    }
    QVERIFY(settings->password.isEmpty());
    QVERIFY(settings->displayString().startsWith(u"sqlite:"_s));
}

void TestConnectionSettings::postgresUrls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("database");
    QTest::addColumn<Options>("options");

    QTest::addRow("full") << u"postgresql://alice:secret@db.example.com:5433/jobs"_s
                          << u"db.example.com"_s << 5433 << u"alice"_s << u"secret"_s << u"jobs"_s
                          << Options {};
    QTest::addRow("postgres scheme")
        << u"postgres://alice:secret@db.example.com:5433/jobs"_s << u"db.example.com"_s << 5433
        << u"alice"_s << u"secret"_s << u"jobs"_s << Options {};
    QTest::addRow("no user") << u"postgresql://localhost/jobs"_s << u"localhost"_s << -1
                             << QString() << QString() << u"jobs"_s << Options {};
    QTest::addRow("user without password")
        << u"postgresql://bob@localhost:5432/jobs"_s << u"localhost"_s << 5432 << u"bob"_s
        << QString() << u"jobs"_s << Options {};
    QTest::addRow("percent-encoded password") << u"postgresql://carol:p%40ss@h/db"_s << u"h"_s << -1
                                              << u"carol"_s << u"p@ss"_s << u"db"_s << Options {};
    QTest::addRow("encoded specials")
        << u"postgresql://us%3Aer:pa%2Fss%3Aw%23rd%25@h:1234/d%20b"_s << u"h"_s << 1234
        << u"us:er"_s << u"pa/ss:w#rd%"_s << u"d b"_s << Options {};
    QTest::addRow("ipv6") << u"postgresql://u:p@[::1]:5432/db"_s << u"::1"_s << 5432 << u"u"_s
                          << u"p"_s << u"db"_s << Options {};
    QTest::addRow("ipv6 no port") << u"postgresql://[::1]/db"_s << u"::1"_s << -1 << QString()
                                  << QString() << u"db"_s << Options {};
    QTest::addRow("ip address") << u"postgresql://127.0.0.1:6543/db"_s << u"127.0.0.1"_s << 6543
                                << QString() << QString() << u"db"_s << Options {};
    QTest::addRow("no database") << u"postgresql://u@h"_s << u"h"_s << -1 << u"u"_s << QString()
                                 << QString() << Options {};
    QTest::addRow("nothing but the scheme") << u"postgresql://"_s << QString() << -1 << QString()
                                            << QString() << QString() << Options {};
    QTest::addRow("sslmode") << u"postgresql://u@h/db?sslmode=require"_s << u"h"_s << -1 << u"u"_s
                             << QString() << u"db"_s << Options { { u"sslmode"_s, u"require"_s } };
    QTest::addRow("several options")
        << u"postgresql://u@h/db?application_name=x&connect_timeout=5"_s << u"h"_s << -1 << u"u"_s
        << QString() << u"db"_s
        << Options { { u"application_name"_s, u"x"_s }, { u"connect_timeout"_s, u"5"_s } };
    QTest::addRow("encoded option value")
        << u"postgresql://h/db?application_name=my%20app"_s << u"h"_s << -1 << QString()
        << QString() << u"db"_s << Options { { u"application_name"_s, u"my app"_s } };
}

void TestConnectionSettings::postgresUrls()
{
    QFETCH(QString, url);
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, user);
    QFETCH(QString, password);
    QFETCH(QString, database);
    QFETCH(Options, options);

    const auto settings = ConnectionSettings::fromUrl(url);
    QVERIFY2(settings.ok(), qPrintable(settings.ok() ? QString() : settings.error().toString()));
    QCOMPARE(settings->backend, Backend::PostgreSql);
    QCOMPARE(settings->host, host);
    QCOMPARE(settings->port, port);
    QCOMPARE(settings->user, user);
    QCOMPARE(settings->password, password);
    QCOMPARE(settings->database, database);
    QCOMPARE(settings->options, options);
    QVERIFY(!settings->sqliteMemory);

    // The driver options never carry the password.
    if (!password.isEmpty())
        QVERIFY2(!settings->driverOptions().contains(password),
                 qPrintable(settings->driverOptions()));
    for (const auto &[key, value] : options) {
        QVERIFY2(settings->driverOptions().contains(key + u'=' + value)
                     || settings->driverOptions().contains(key + u"='"_s + value + u'\''),
                 qPrintable(settings->driverOptions()));
    }
}

void TestConnectionSettings::invalidUrls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addRow("empty") << QString();
    QTest::addRow("unknown scheme") << u"nosuch://x"_s;
    QTest::addRow("http") << u"http://localhost/db"_s;
    QTest::addRow("no scheme") << u"localhost:5432/db"_s;
    QTest::addRow("port not a number") << u"postgresql://host:notaport/db"_s;
    QTest::addRow("port too large") << u"postgresql://host:99999/db"_s;
    QTest::addRow("sqlite without path") << u"sqlite:"_s;
    QTest::addRow("sqlite with only slashes") << u"sqlite://"_s;
    QTest::addRow("unknown option") << u"postgresql://h/db?foo=bar"_s;
    QTest::addRow("unknown option after a known one")
        << u"postgresql://h/db?sslmode=require&foo=bar"_s;
    QTest::addRow("unterminated ipv6") << u"postgresql://[::1/db"_s;
}

void TestConnectionSettings::invalidUrls()
{
    QFETCH(QString, url);
    const auto settings = ConnectionSettings::fromUrl(url);
    QVERIFY2(!settings.ok(), qPrintable(u"accepted: "_s + url));
    QCOMPARE(settings.error().code, ErrorCode::InvalidUrl);
    QVERIFY(!settings.error().message.isEmpty());
}

void TestConnectionSettings::displayStringHidesPassword_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("password");
    QTest::addRow("plain") << u"postgresql://alice:Sup3rSecretPw@db.example.com:5433/jobs"_s
                           << u"Sup3rSecretPw"_s;
    QTest::addRow("encoded") << u"postgresql://alice:p%40ssw0rd%21@db.example.com/jobs"_s
                             << u"p@ssw0rd!"_s;
    QTest::addRow("with options")
        << u"postgres://alice:hunter2hunter2@[::1]:5432/jobs?sslmode=require"_s
        << u"hunter2hunter2"_s;
}

void TestConnectionSettings::displayStringHidesPassword()
{
    QFETCH(QString, url);
    QFETCH(QString, password);
    const auto settings = ConnectionSettings::fromUrl(url);
    QVERIFY(settings.ok());
    QCOMPARE(settings->password, password);
    const QString shown = settings->displayString();
    QVERIFY2(!shown.contains(password), qPrintable(shown));
    QVERIFY2(!shown.contains(QString::fromUtf8(QUrl::toPercentEncoding(password))),
             qPrintable(shown));
    QVERIFY2(shown.contains(u"***"_s), qPrintable(shown));
    QVERIFY2(shown.contains(u"alice"_s), qPrintable(shown));
    QVERIFY2(shown.contains(u"jobs"_s), qPrintable(shown));
    QVERIFY2(!settings->driverOptions().contains(password), qPrintable(settings->driverOptions()));

    // Without a password nothing is masked.
    const auto noPassword
        = ConnectionSettings::fromUrl(u"postgresql://alice@db.example.com/jobs"_s);
    QVERIFY(noPassword.ok());
    QVERIFY(noPassword->displayString().contains(u"db.example.com"_s));
    QVERIFY(!noPassword->displayString().contains(u"***"_s));
}

void TestConnectionSettings::invalidUrlHidesPassword_data()
{
    // QUrl refuses these; its own message repeats the whole URL, and an invalid QUrl does
    // not give the password back to be masked.
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("password"); // as typed
    QTest::addColumn<QString>("reason"); // what the message must still say
    QTest::addRow("port not a number")
        << u"postgresql://user:S3cretPw@host:99x/db"_s << u"S3cretPw"_s << u"port"_s;
    QTest::addRow("space in the host")
        << u"postgresql://user:S3cretPw@my host/db"_s << u"S3cretPw"_s << u"hostname"_s;
    QTest::addRow("space in the password")
        << u"postgresql://user:S3cret Pw@host/db"_s << u"S3cret Pw"_s << u"password"_s;
    QTest::addRow("space in the path")
        << u"postgresql://user:S3cretPw@host/my db"_s << u"S3cretPw"_s << u"path"_s;
    QTest::addRow("unterminated ipv6")
        << u"postgresql://user:S3cretPw@[::1/db"_s << u"S3cretPw"_s << u"']'"_s;
    QTest::addRow("unencoded @ in the password")
        << u"postgresql://user:S3c@retPw@host/db"_s << u"S3c@retPw"_s << QString();
}

void TestConnectionSettings::invalidUrlHidesPassword()
{
    QFETCH(QString, url);
    QFETCH(QString, password);
    QFETCH(QString, reason);
    const auto settings = ConnectionSettings::fromUrl(url);
    QVERIFY2(!settings.ok(), qPrintable(u"accepted: "_s + url));
    QCOMPARE(settings.error().code, ErrorCode::InvalidUrl);
    const QString message = settings.error().message;
    QVERIFY2(message.startsWith(u"cannot parse the PostgreSQL URL postgresql://user:***@"_s),
             qPrintable(message));
    // Neither the password nor any piece of it after the first '@' it may contain.
    for (const QString &part : password.split(u'@'))
        QVERIFY2(!message.contains(part), qPrintable(message));
    QVERIFY2(!message.contains(u"source was"_s), qPrintable(message));
    QCOMPARE(message.count(u"***"_s), 1);
    QVERIFY2(message.contains(reason, Qt::CaseInsensitive), qPrintable(message));
}

void TestConnectionSettings::resolve()
{
    EnvGuard guard("ODDJOBS_DATABASE_URL");

    // An explicit URL wins over the environment.
    qputenv("ODDJOBS_DATABASE_URL", "postgresql://envuser@envhost/envdb");
    {
        const auto explicitUrl = ConnectionSettings::resolve(u"sqlite:/tmp/explicit.db"_s);
        QVERIFY(explicitUrl.ok());
        QCOMPARE(explicitUrl->backend, Backend::Sqlite);
        QCOMPARE(explicitUrl->sqlitePath, u"/tmp/explicit.db"_s);
    }
    // No URL: the environment.
    {
        const auto fromEnv = ConnectionSettings::resolve(QString());
        QVERIFY(fromEnv.ok());
        QCOMPARE(fromEnv->backend, Backend::PostgreSql);
        QCOMPARE(fromEnv->host, u"envhost"_s);
        QCOMPARE(fromEnv->user, u"envuser"_s);
        QCOMPARE(fromEnv->database, u"envdb"_s);
    }
    // A bad URL in the environment is an error, not a silent fallback.
    qputenv("ODDJOBS_DATABASE_URL", "nosuch://x");
    {
        const auto bad = ConnectionSettings::resolve(QString());
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().code, ErrorCode::InvalidUrl);
    }
    // Neither: the default SQLite file.
    qunsetenv("ODDJOBS_DATABASE_URL");
    {
        const auto fallback = ConnectionSettings::resolve(QString());
        QVERIFY(fallback.ok());
        QCOMPARE(fallback->backend, Backend::Sqlite);
        QVERIFY(!fallback->sqliteMemory);
        QVERIFY2(fallback->sqlitePath.endsWith(u"jobs.db"_s), qPrintable(fallback->sqlitePath));
        QVERIFY2(QFileInfo(fallback->sqlitePath).isAbsolute(), qPrintable(fallback->sqlitePath));
        QCOMPARE(fallback->sqlitePath, ConnectionSettings::defaultSqlitePath());
    }
    // An empty variable counts as unset.
    qputenv("ODDJOBS_DATABASE_URL", "");
    {
        const auto empty = ConnectionSettings::resolve(QString());
        QVERIFY(empty.ok());
        QCOMPARE(empty->backend, Backend::Sqlite);
        QVERIFY(empty->sqlitePath.endsWith(u"jobs.db"_s));
    }
    QVERIFY(ConnectionSettings::defaultSqlitePath().endsWith(u"jobs.db"_s));
}

// ---------------------------------------------------------------------------------------
// table names

void TestConnectionSettings::tableNames_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("schema");
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("quoted");
    QTest::addColumn<QString>("prefix");

    QTest::addRow("plain") << u"jobs"_s << QString() << u"jobs"_s << u"\"jobs\""_s << QString();
    QTest::addRow("underscore") << u"my_jobs"_s << QString() << u"my_jobs"_s << u"\"my_jobs\""_s
                                << QString();
    QTest::addRow("leading underscore")
        << u"_jobs2"_s << QString() << u"_jobs2"_s << u"\"_jobs2\""_s << QString();
    QTest::addRow("mixed case") << u"MyJobs"_s << QString() << u"MyJobs"_s << u"\"MyJobs\""_s
                                << QString();
    QTest::addRow("schema") << u"s1.jobs"_s << u"s1"_s << u"jobs"_s << u"\"s1\".\"jobs\""_s
                            << u"\"s1\"."_s;
    QTest::addRow("63 chars") << QString(63, u'a') << QString() << QString(63, u'a')
                              << u'"' + QString(63, u'a') + u'"' << QString();
}

void TestConnectionSettings::tableNames()
{
    QFETCH(QString, text);
    QFETCH(QString, schema);
    QFETCH(QString, name);
    QFETCH(QString, quoted);
    QFETCH(QString, prefix);

    const auto table = TableName::parse(text);
    QVERIFY2(table.ok(), qPrintable(table.ok() ? QString() : table.error().toString()));
    QCOMPARE(table->schema(), schema);
    QCOMPARE(table->name(), name);
    QCOMPARE(table->toString(), text);
    QCOMPARE(table->quoted(), quoted);
    QCOMPARE(table->quotedSchemaPrefix(), prefix);
    QVERIFY(TableName::isValidIdentifier(name));
    // Parsing the string form again gives the same name.
    const auto again = TableName::parse(table->toString());
    QVERIFY(again.ok());
    QVERIFY(*again == *table);
}

void TestConnectionSettings::invalidTableNames_data()
{
    QTest::addColumn<QString>("text");
    QTest::addRow("empty") << QString();
    QTest::addRow("double quote") << u"jo\"bs"_s;
    QTest::addRow("single quote") << u"jo'bs"_s;
    QTest::addRow("semicolon") << u"jobs;drop table x"_s;
    QTest::addRow("space") << u"my jobs"_s;
    QTest::addRow("leading space") << u" jobs"_s;
    QTest::addRow("three parts") << u"a.b.c"_s;
    QTest::addRow("empty schema") << u".jobs"_s;
    QTest::addRow("empty table") << u"s1."_s;
    QTest::addRow("64 chars") << QString(64, u'a');
    QTest::addRow("64 chars in schema") << QString(64, u's') + u".jobs"_s;
    QTest::addRow("leading digit") << u"1jobs"_s;
    QTest::addRow("dash") << u"my-jobs"_s;
    QTest::addRow("parenthesis") << u"jobs()"_s;
    QTest::addRow("comment") << u"jobs--"_s;
    QTest::addRow("newline") << u"jobs\n"_s;
    QTest::addRow("nul") << u"jobs"_s + QChar(0);
    QTest::addRow("terminal escape") << u"jobs\x1b[2J"_s;
    QTest::addRow("line break in the schema") << u"evil\nline.jobs"_s;
    QTest::addRow("unicode letter") << u"jöbs"_s;
    QTest::addRow("quoted form") << u"\"jobs\""_s;
    QTest::addRow("doubled quote") << u"a\"\"b"_s;
}

void TestConnectionSettings::invalidTableNames()
{
    QFETCH(QString, text);
    const auto table = TableName::parse(text);
    QVERIFY2(!table.ok(), qPrintable(u"accepted: "_s + text));
    QCOMPARE(table.error().code, ErrorCode::InvalidTableName);
    const QString message = table.error().message;
    QVERIFY(!message.isEmpty());
    // One line of printable text whatever the name held (it may come from a config file).
    for (QChar c : message)
        QVERIFY2(c.unicode() >= 0x20 && c.unicode() < 0x7f, qPrintable(message));
    if (!text.contains(u'.'))
        QVERIFY(!TableName::isValidIdentifier(text));
}

void TestConnectionSettings::derivedNames()
{
    const TableName jobs;
    QCOMPARE(jobs.name(), u"jobs"_s);
    QVERIFY(jobs.schema().isEmpty());
    QCOMPARE(jobs.quoted(), u"\"jobs\""_s);

    const QString a = jobs.derivedName(u"idx_claim"_s);
    QVERIFY(!a.isEmpty());
    QVERIFY(a.toUtf8().size() <= 63);
    QCOMPARE(jobs.derivedName(u"idx_claim"_s), a); // deterministic
    QVERIFY(jobs.derivedName(u"idx_status"_s) != a);
    QVERIFY2(TableName::isValidIdentifier(a), qPrintable(a));

    // Other tables, also in another schema, get other names.
    const auto other = TableName::parse(u"other_jobs"_s);
    QVERIFY(other.ok());
    QVERIFY(other->derivedName(u"idx_claim"_s) != a);
    const auto inSchema = TableName::parse(u"s1.jobs"_s);
    QVERIFY(inSchema.ok());
    QVERIFY(inSchema->derivedName(u"idx_claim"_s).toUtf8().size() <= 63);

    // Long names are shortened, yet stay distinct: 63-character names differing only at the
    // end, with a long suffix.
    const QString base = QString(62, u'x');
    const auto longA = TableName::parse(base + u"a"_s);
    const auto longB = TableName::parse(base + u"b"_s);
    QVERIFY(longA.ok() && longB.ok());
    const QString suffix = u"notify_runnable_trigger"_s;
    const QString derivedA = longA->derivedName(suffix);
    const QString derivedB = longB->derivedName(suffix);
    QVERIFY2(derivedA.toUtf8().size() <= 63, qPrintable(derivedA));
    QVERIFY2(derivedB.toUtf8().size() <= 63, qPrintable(derivedB));
    QVERIFY2(derivedA != derivedB, qPrintable(derivedA));
    QVERIFY2(TableName::isValidIdentifier(derivedA), qPrintable(derivedA));
    QVERIFY(longA->derivedName(u"other_suffix"_s) != derivedA);

    // (Derived objects live in the table's own schema, so names need only be unique there.)
    const auto longSchema = TableName::parse(QString(63, u's') + u"."_s + QString(63, u'a'));
    QVERIFY(longSchema.ok());
    QVERIFY(longSchema->derivedName(suffix).toUtf8().size() <= 63);
}

void TestConnectionSettings::notificationChannel()
{
    const auto s1 = TableName::parse(u"s1.jobs"_s);
    QVERIFY(s1.ok());
    QCOMPARE(s1->notificationChannel(), u"oddjobs_s1_jobs"_s);

    const auto mixed = TableName::parse(u"MySchema.MyJobs"_s);
    QVERIFY(mixed.ok());
    QCOMPARE(mixed->notificationChannel(), u"oddjobs_myschema_myjobs"_s);

    const QString plain = TableName().notificationChannel();
    QVERIFY2(plain.startsWith(u"oddjobs_"_s), qPrintable(plain));
    QVERIFY2(plain.endsWith(u"jobs"_s), qPrintable(plain));
    QCOMPARE(plain, plain.toLower());

    const auto longName = TableName::parse(QString(63, u'S') + u"."_s + QString(63, u'T'));
    QVERIFY(longName.ok());
    const QString channel = longName->notificationChannel();
    QVERIFY2(channel.toUtf8().size() <= 63, qPrintable(channel));
    QCOMPARE(channel, channel.toLower());
    QVERIFY(channel.startsWith(u"oddjobs_"_s));
}

QTEST_GUILESS_MAIN(TestConnectionSettings)
#include "tst_connectionsettings.moc"
