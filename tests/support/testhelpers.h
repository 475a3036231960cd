#pragma once

#include <QByteArray>
#include <QProcessEnvironment>
#include <QSignalSpy>
#include <QString>
#include <QStringList>
#include <QTest>
#include <QVariant>

namespace OddJobs::Test {

// True when $CI says we run in continuous integration (GitHub and GitLab set CI=true).
// There a missing PostgreSQL is a failure, never a skip.
bool isCi();

// Empty when the shared PostgreSQL cluster runs, else why it cannot. The cluster is started
// on the first call and only tried once per process.
QString postgresUnavailableReason();

// sqlite:<a new file in a temporary directory that lives until the process exits>
QString freshSqliteUrl();
// A new, empty database in the shared cluster; empty (and *error set) on failure.
QString freshPostgresUrl(QString *error = nullptr);
// backend: "sqlite" or "postgresql".
QString freshUrl(const QString &backend, QString *error = nullptr);

// For data-driven tests over both backends: a QString column "backend" and the rows
// "sqlite" and "postgresql". Make the URL in the test body with ODDJOBS_FRESH_URL, so a
// missing PostgreSQL skips (or, in CI, fails) only the PostgreSQL row.
void addBackendColumns();
void addBackendRows();

// A value as plain text: strings unquoted, enums by key, lists as [a, b], maps as {k: v},
// date-times in ISO 8601 with milliseconds, invalid as <invalid>, other types through their
// QDebug operator.
QString variantToString(const QVariant &value);
// Every emission as "(arg, arg)", separated by spaces, so one QCOMPARE checks a whole
// signal sequence: QCOMPARE(spyToString(spy), u"(1, Done) (2, Failed)"_s).
QString spyToString(const QSignalSpy &spy);

// One run of the oddjobs executable to its end, for the tests that drive the real binary.
struct CliRun
{
    QStringList args;
    int exitCode = -1; // -1: crashed, -2: did not start, -3: timed out (and was killed)
    QByteArray out;
    QByteArray err;

    QString describe() const; // for failure messages
};

// Runs `binary args` in `workingDir` with `env` (`extraEnv` added over it), writes `input` to
// its standard input and closes it, and waits up to `timeoutMs` for it to end.
CliRun runCli(const QString &binary, const QStringList &args, const QProcessEnvironment &env,
              const QProcessEnvironment &extraEnv, const QString &workingDir,
              const QByteArray &input, int timeoutMs);

} // namespace OddJobs::Test

// Inside a test function: skip the test when PostgreSQL is unavailable, or fail it in CI.
#define ODDJOBS_REQUIRE_POSTGRES()                                                                 \
    do {                                                                                           \
        const QString oddjobsPgReason_ = ::OddJobs::Test::postgresUnavailableReason();             \
        if (!oddjobsPgReason_.isEmpty()) {                                                         \
            if (::OddJobs::Test::isCi())                                                           \
                QFAIL(qPrintable(QStringLiteral("PostgreSQL is required in CI: ")                  \
                                 + oddjobsPgReason_));                                             \
            QSKIP(qPrintable(QStringLiteral("PostgreSQL unavailable: ") + oddjobsPgReason_));      \
        }                                                                                          \
    } while (false)

// Declares `QString urlVar` holding a fresh database URL for `backend` ("sqlite" or
// "postgresql"), with ODDJOBS_REQUIRE_POSTGRES for the latter; fails the test when the
// database cannot be made.
#define ODDJOBS_FRESH_URL(backend, urlVar)                                                         \
    QString urlVar;                                                                                \
    do {                                                                                           \
        const QString oddjobsBackend_ = (backend);                                                 \
        if (oddjobsBackend_ == QLatin1String("postgresql"))                                        \
            ODDJOBS_REQUIRE_POSTGRES();                                                            \
        QString oddjobsUrlError_;                                                                  \
        urlVar = ::OddJobs::Test::freshUrl(oddjobsBackend_, &oddjobsUrlError_);                    \
        if (urlVar.isEmpty())                                                                      \
            QFAIL(qPrintable(oddjobsUrlError_));                                                   \
    } while (false)
