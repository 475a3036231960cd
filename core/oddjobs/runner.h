#pragma once

#include "oddjobs/connectionsettings.h"
#include "oddjobs/core_export.h"
#include "oddjobs/job.h"
#include "oddjobs/jobstore.h"
#include "oddjobs/logevent.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <functional>
#include <memory>
#include <stdexcept>
#include <type_traits>

namespace OddJobs {

// How many jobs one runner executes at once (odd-jobs' ConcurrencyControl).
class OJ_CORE_EXPORT ConcurrencyControl
{
public:
    enum class Kind
    {
        Max,
        Unlimited,
        Dynamic
    };
    static ConcurrencyControl maxConcurrentJobs(int n);
    // No limit of our own: claims are still capped by the batch size and the thread pool's
    // ceiling (UnlimitedThreadCeiling threads), since no machine runs unlimited work.
    static ConcurrencyControl unlimited();
    // Asked (on the runner thread) before each further job is claimed; true means "take one".
    static ConcurrencyControl dynamic(std::function<bool()> shouldClaim);

    Kind kind() const { return m_kind; }
    int max() const { return m_max; }
    const std::function<bool()> &predicate() const { return m_predicate; }

    static constexpr int UnlimitedThreadCeiling = 1024;

private:
    Kind m_kind = Kind::Max;
    int m_max = 10;
    std::function<bool()> m_predicate;
};

// Delay before a failed job runs again, from the number of attempts made so far.
struct OJ_CORE_EXPORT Backoff
{
    enum class Kind
    {
        OddJobs, // 2^attempts seconds, as odd-jobs does
        ExponentialJitter, // base * 2^(attempts-1), half of it random
        Polynomial, // attempts^exponent + base
        Fixed, // base
    };
    Kind kind = Kind::OddJobs;
    double baseSeconds = 1.0;
    double exponent = 4.0;
    double capSeconds = 0; // 0: no cap

    double delaySeconds(int attempts) const;
    static std::optional<Backoff> fromString(const QString &spec); // "oddjobs", "fixed:5", ...
};

struct OJ_CORE_EXPORT RunnerConfig
{
    ConnectionSettings connection;
    StoreOptions store;
    ConcurrencyControl concurrency = ConcurrencyControl::maxConcurrentJobs(10);
    QStringList queues; // empty: every queue
    QString workerName; // empty: host:pid:suffix
    int pollIntervalMs = -1; // -1: 5000 for PostgreSQL, 1000 for SQLite
    int lockTimeoutSeconds = 60;
    int heartbeatIntervalMs = -1; // -1: a quarter of the lock timeout, at most 5 s
    int defaultMaxAttempts = 10;
    int defaultTimeoutSeconds = 600;
    Backoff backoff;
    int shutdownTimeoutMs = 30000;
    // After a timeout or cancellation the handler is asked to stop; a handler that ignores
    // that for this long gets its outcome written anyway (the slot stays busy).
    int stopGraceMs = 10000;
    bool deleteSuccessfulJobs = false;
    int retentionSeconds = 7 * 24 * 3600; // prune finished jobs older than this; 0 keeps them
    int maxClaimBatch = 500;
    // PostgreSQL: claims in flight at once, each on a connection of its own (the runner's, and
    // up to claimConnections - 1 more opened when first needed). More than one runs only when
    // one claim cannot take every free slot (free slots plus prefetch above maxClaimBatch):
    // then the claims' commits overlap instead of queueing. 1: one claim at a time.
    int claimConnections = 4;
    // Jobs claimed beyond the free slots and held (locked, heartbeated, not yet started) so a
    // slot that frees up is refilled without a round trip. More throughput for short jobs;
    // 0 leaves every unstarted job to whichever worker has a free slot first.
    int prefetch = 0;
    int completionFlushMs = 2; // outcomes are written together at most this much later
    bool migrate = false; // apply migrations on start (never for a monitored database)
};

// Why a handler is asked to stop.
enum class StopReason
{
    None,
    Cancelled,
    TimedOut,
    Shutdown
};

// What a handler gets: the job, a cancellation flag, the deadline, a place for its result.
// Owned by the runner; valid for the duration of the handler call.
class OJ_CORE_EXPORT JobContext
{
public:
    class Control;
    explicit JobContext(std::shared_ptr<Control> control);
    const Job &job() const;
    QString type() const { return job().type(); }
    int attempt() const { return job().attempts; }
    QDeadlineTimer deadline() const;
    // True once the job was cancelled, timed out, or the runner is stopping: return soon.
    bool isStopRequested() const;
    StopReason stopReason() const;
    // Sleeps up to `ms`, waking early when a stop is requested. Returns false if it was.
    bool sleepFor(int ms) const;
    void setResult(const QJsonValue &result);

private:
    std::shared_ptr<Control> m_control;
};

// A handler's verdict. Handlers may also fail by throwing (JobFailure or any std::exception).
struct OJ_CORE_EXPORT HandlerResult
{
    bool ok = true;
    QJsonValue result;
    QString errorMessage;
    QJsonObject errorDetails;

    static HandlerResult success(const QJsonValue &result = {});
    static HandlerResult failure(const QString &message, const QJsonObject &details = {});
};

class OJ_CORE_EXPORT JobFailure : public std::runtime_error
{
public:
    explicit JobFailure(const QString &message, QJsonObject details = {});
    QString message() const { return m_message; }
    QJsonObject details() const { return m_details; }

private:
    QString m_message;
    QJsonObject m_details;
};

using JobHandler = std::function<HandlerResult(JobContext &)>;

// Job type -> handler. "*" is the catch-all for types without their own handler.
class OJ_CORE_EXPORT HandlerRegistry
{
public:
    void add(const QString &type, JobHandler handler);
    // A handler that returns nothing succeeds unless it throws.
    template<typename F>
    requires std::is_void_v<std::invoke_result_t<F &, JobContext &>>
    void add(const QString &type, F handler)
    {
        add(type, JobHandler([h = std::move(handler)](JobContext &ctx) mutable {
                h(ctx);
                return HandlerResult::success();
            }));
    }
    bool contains(const QString &type) const { return m_handlers.contains(type); }
    bool hasCatchAll() const { return m_handlers.contains(QStringLiteral("*")); }
    QStringList types() const; // without "*"
    JobHandler find(const QString &type) const;
    bool isEmpty() const { return m_handlers.isEmpty(); }

private:
    QHash<QString, JobHandler> m_handlers;
};

class RunnerCore;
class Outbox;

// Runs jobs from the table: claims what it has handlers for on its own thread, executes them
// on its own thread pool, writes outcomes in batches, and reports through signals in the
// thread that owns the Runner. Several runners (in one or many processes) share a table
// safely.
class OJ_CORE_EXPORT Runner : public QObject
{
    Q_OBJECT
public:
    enum class State
    {
        Stopped,
        Starting,
        Running,
        Draining,
        Stopping
    };
    Q_ENUM(State)

    Runner(RunnerConfig config, HandlerRegistry handlers, QObject *parent = nullptr);
    ~Runner() override; // stops at once (jobs handed back) if still running

    void start();
    // Graceful: no new claims, running jobs get shutdownTimeoutMs to finish, the rest are
    // asked to stop and handed back. Emits stopped() when done.
    void stop();
    // At once: running jobs are asked to stop and handed back once their handlers return (a
    // handler still running a second later keeps its job locked until a rescue).
    void stopNow();
    bool waitForStopped(int timeoutMs);

    State state() const { return m_state; }
    QString workerName() const { return m_workerName; }
    const RunnerConfig &config() const { return m_config; }
    int runningCount() const;

    static QString defaultWorkerName();

public Q_SLOTS:
    // Look for work now (e.g. after enqueueing through another connection of this process).
    void wake();

Q_SIGNALS:
    // The job signals and logEvent report what happens after something is first connected to
    // them: a signal nobody listens to costs the runner nothing per job. Connect before
    // start() to hear of every job.
    void jobStarted(const OddJobs::Job &job);
    void jobSucceeded(const OddJobs::Job &job, qint64 durationMs);
    void jobFailed(const OddJobs::Job &job, const QJsonValue &error, qint64 durationMs);
    void jobPermanentlyFailed(const OddJobs::Job &job, const QJsonValue &error, qint64 durationMs);
    void jobTimedOut(const OddJobs::Job &job);
    void jobCancelled(const OddJobs::Job &job);
    void stateChanged(OddJobs::Runner::State state);
    void databaseError(const QString &message);
    void logEvent(const OddJobs::LogEvent &event);
    void started();
    void stopped();

protected:
    void connectNotify(const QMetaMethod &signal) override;

private Q_SLOTS:
    void deliverNotes(); // see Outbox in runner.cpp

private:
    friend class RunnerCore;
    void setState(State state);
    void coreStateChanged(State state);
    void reap();

    RunnerConfig m_config;
    HandlerRegistry m_handlers;
    QString m_workerName;
    State m_state = State::Stopped;
    QThread *m_thread = nullptr;
    RunnerCore *m_core = nullptr;
    std::shared_ptr<Outbox> m_outbox;
};

OJ_CORE_EXPORT QString runnerStateName(Runner::State state);

} // namespace OddJobs
