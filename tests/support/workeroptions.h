#pragma once

// The command line that the test worker processes (oddjobs_test_worker and
// oddjobs_test_faultworker) share, so both read a worker's connection, name and pace alike:
//   --url URL --worker NAME [--concurrency N] [--poll-interval MS] [--lock-timeout S]
// Each adds options of its own next to these.

#include "oddjobs/connectionsettings.h"
#include "oddjobs/runner.h"

#include <QCommandLineOption>
#include <QCommandLineParser>
#include <QString>

namespace OddJobs::Test {

class WorkerOptions
{
public:
    // The poll interval's default differs between the workers.
    explicit WorkerOptions(const QString &defaultPollIntervalMs);

    void addTo(QCommandLineParser &parser) const;

    // After parser.process(): --worker (empty when missing) and --url's settings.
    QString workerName(const QCommandLineParser &parser) const;
    Result<ConnectionSettings> connection(const QCommandLineParser &parser) const;
    // A config with the connection, the worker's name, concurrency, poll interval and lock
    // timeout set; the rest is the worker's own.
    RunnerConfig config(const QCommandLineParser &parser,
                        const ConnectionSettings &connection) const;

private:
    QCommandLineOption m_url;
    QCommandLineOption m_worker;
    QCommandLineOption m_concurrency;
    QCommandLineOption m_poll;
    QCommandLineOption m_lock;
};

} // namespace OddJobs::Test
