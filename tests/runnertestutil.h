#pragma once

// Shared by the runner tests (tst_runner, tst_runnerprocesses): result checking macros, the
// slow-machine factor, opening stores, and a base RunnerConfig for a test database.

#include "oddjobs/jobstore.h"
#include "oddjobs/runner.h"
#include "support/pgcluster.h"
#include "support/testhelpers.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <memory>

// QCOMPARE prints these by name (found by argument-dependent lookup).
namespace OddJobs {
inline char *toString(JobStatus status)
{
    return qstrdup(qPrintable(statusToString(status)));
}
inline char *toString(StopReason reason)
{
    switch (reason) {
    case StopReason::None:
        return qstrdup("None");
    case StopReason::Cancelled:
        return qstrdup("Cancelled");
    case StopReason::TimedOut:
        return qstrdup("TimedOut");
    case StopReason::Shutdown:
        return qstrdup("Shutdown");
    }
    return qstrdup("?");
}
} // namespace OddJobs

namespace RunnerTest {

using namespace OddJobs;
using namespace Qt::StringLiterals;

template<typename T>
QString errorText(const Result<T> &result)
{
    return result.ok() ? QString() : result.error().toString();
}

// Fails the current test (and returns from it) unless `expr` is an ok Result.
#define RT_VERIFY_OK(expr)                                                                         \
    do {                                                                                           \
        const auto &rtResult_ = (expr);                                                            \
        QVERIFY2(rtResult_.ok(), qPrintable(RunnerTest::errorText(rtResult_)));                    \
    } while (false)

// Declares `var` holding the value of the ok Result `expr`, or fails the test.
#define RT_ASSIGN(var, expr)                                                                       \
    auto var##Result_ = (expr);                                                                    \
    QVERIFY2(var##Result_.ok(), qPrintable(RunnerTest::errorText(var##Result_)));                  \
    auto var = std::move(var##Result_).value()

// Declares `const Job var`: the job `id` read through `store` (a JobStore), which must exist.
#define RT_FIND(var, store, id)                                                                    \
    RT_ASSIGN(var##Optional_, (store).find(id));                                                   \
    QVERIFY2(var##Optional_.has_value(), qPrintable(u"job %1 not found"_s.arg(id)));               \
    const OddJobs::Job var = *var##Optional_

// Calls a void helper that may fail the test, and returns when it did.
#define RT_CALL(expr)                                                                              \
    do {                                                                                           \
        expr;                                                                                      \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

// ODDJOBS_TEST_SLOW_FACTOR (default 1) stretches the latency bounds on loaded machines and
// under sanitizers. Only bounds the issue asks for use it; generous waits for asynchronous
// work use scaled() too so that a slow machine does not fail them.
inline double slowFactor()
{
    bool ok = false;
    const double factor = qEnvironmentVariable("ODDJOBS_TEST_SLOW_FACTOR").toDouble(&ok);
    return ok && factor >= 1 ? factor : 1.0;
}

inline int scaled(int ms)
{
    return int(std::lround(ms * slowFactor()));
}

inline Backend backendOf(const QString &backend)
{
    return backend == u"postgresql"_s ? Backend::PostgreSql : Backend::Sqlite;
}

inline QString jsonText(const QJsonValue &value)
{
    if (value.isUndefined())
        return u"undefined"_s;
    const QByteArray text = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(text.mid(1, text.size() - 2));
}

inline QString describe(const Job &job)
{
    auto time
        = [](const QDateTime &t) { return t.isValid() ? t.toString(Qt::ISODateWithMs) : u"-"_s; };
    return u"Job{id=%1 status=%2 type=%3 attempts=%4 locked_by=%5 run_at=%6 finished_at=%7 "
           "last_error=%8 result=%9}"_s.arg(QString::number(job.id), statusToString(job.status),
                                            job.type(), QString::number(job.attempts),
                                            job.lockedBy.isEmpty() ? u"-"_s : job.lockedBy,
                                            time(job.runAt), time(job.finishedAt),
                                            jsonText(job.lastError), jsonText(job.result));
}

// Opens a store on `url` and migrates it.
inline Result<std::unique_ptr<JobStore>> openStore(const QString &url)
{
    auto settings = ConnectionSettings::fromUrl(url);
    if (!settings)
        return settings.error();
    auto store = JobStore::open(settings.value());
    if (!store)
        return store.error();
    if (const auto migrated = store.value()->migrate(); !migrated)
        return migrated.error();
    return store;
}

// A runner configuration for tests: a short poll so retries and rescues come quickly
// (tests of the notification path set a long one), otherwise the defaults.
inline RunnerConfig testConfig(const QString &url)
{
    RunnerConfig config;
    config.connection = ConnectionSettings::fromUrl(url).value();
    config.pollIntervalMs = 100;
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(4);
    config.shutdownTimeoutMs = 5000;
    config.stopGraceMs = 2000;
    return config;
}

inline NewJob jobOf(const QString &type, const QJsonValue &contents = {})
{
    return NewJob::tagged(type, contents);
}

inline QJsonObject errorObject(const Job &job)
{
    return job.lastError.toObject();
}

} // namespace RunnerTest
