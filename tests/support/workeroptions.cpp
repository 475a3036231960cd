#include "support/workeroptions.h"

using namespace Qt::StringLiterals;

namespace OddJobs::Test {

WorkerOptions::WorkerOptions(const QString &defaultPollIntervalMs)
    : m_url(u"url"_s, u"Database URL."_s, u"url"_s)
    , m_worker(u"worker"_s, u"Worker name."_s, u"name"_s)
    , m_concurrency(u"concurrency"_s, u"Jobs at once."_s, u"n"_s, u"4"_s)
    , m_poll(u"poll-interval"_s, u"Poll interval in ms."_s, u"ms"_s, defaultPollIntervalMs)
    , m_lock(u"lock-timeout"_s, u"Lock timeout in s."_s, u"s"_s, u"60"_s)
{
}

void WorkerOptions::addTo(QCommandLineParser &parser) const
{
    parser.addOptions({ m_url, m_worker, m_concurrency, m_poll, m_lock });
}

QString WorkerOptions::workerName(const QCommandLineParser &parser) const
{
    return parser.value(m_worker);
}

Result<ConnectionSettings> WorkerOptions::connection(const QCommandLineParser &parser) const
{
    return ConnectionSettings::fromUrl(parser.value(m_url));
}

RunnerConfig WorkerOptions::config(const QCommandLineParser &parser,
                                   const ConnectionSettings &connection) const
{
    RunnerConfig config;
    config.connection = connection;
    config.workerName = workerName(parser);
    config.concurrency = ConcurrencyControl::maxConcurrentJobs(parser.value(m_concurrency).toInt());
    config.pollIntervalMs = parser.value(m_poll).toInt();
    config.lockTimeoutSeconds = parser.value(m_lock).toInt();
    return config;
}

} // namespace OddJobs::Test
