#include "oddjobs/runner.h"

#include "oddjobs/logging.h"
#include "oddjobs/sqlbackend_p.h"

#include <QAtomicInteger>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QMetaMethod>
#include <QMutex>
#include <QPointer>
#include <QRandomGenerator>
#include <QSet>
#include <QSqlDriver>
#include <QSysInfo>
#include <QThread>
#include <QThreadPool>
#include <QTimer>

#if defined(__SANITIZE_THREAD__)
#define OJ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OJ_TSAN 1
#endif
#endif
#ifdef OJ_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

using namespace Qt::StringLiterals;

namespace OddJobs {

// --- small value types -----------------------------------------------------------------------

ConcurrencyControl ConcurrencyControl::maxConcurrentJobs(int n)
{
    ConcurrencyControl c;
    c.m_kind = Kind::Max;
    c.m_max = std::max(1, n);
    return c;
}

ConcurrencyControl ConcurrencyControl::unlimited()
{
    ConcurrencyControl c;
    c.m_kind = Kind::Unlimited;
    c.m_max = UnlimitedThreadCeiling;
    return c;
}

ConcurrencyControl ConcurrencyControl::dynamic(std::function<bool()> shouldClaim)
{
    ConcurrencyControl c;
    c.m_kind = Kind::Dynamic;
    c.m_max = UnlimitedThreadCeiling;
    c.m_predicate = std::move(shouldClaim);
    return c;
}

double Backoff::delaySeconds(int attempts) const
{
    const int n = std::max(1, attempts);
    double delay = 0;
    switch (kind) {
    case Kind::OddJobs:
        delay = std::pow(2.0, std::min(n, 62));
        break;
    case Kind::ExponentialJitter: {
        const double full = baseSeconds * std::pow(2.0, std::min(n - 1, 62));
        delay = full / 2 + QRandomGenerator::global()->generateDouble() * full / 2;
        break;
    }
    case Kind::Polynomial:
        delay = std::pow(double(n), exponent) + baseSeconds;
        break;
    case Kind::Fixed:
        delay = baseSeconds;
        break;
    }
    if (capSeconds > 0)
        delay = std::min(delay, capSeconds);
    return std::max(0.0, std::min(delay, 3153600000.0));
}

std::optional<Backoff> Backoff::fromString(const QString &spec)
{
    const QStringList parts = spec.trimmed().split(u':');
    Backoff b;
    const QString name = parts.value(0).toLower();
    bool ok = true;
    auto number = [&](int i, double fallback) {
        if (parts.size() <= i)
            return fallback;
        bool good = false;
        const double v = parts.at(i).toDouble(&good);
        ok &= good && v >= 0 && std::isfinite(v);
        return v;
    };
    if (name == u"oddjobs" || name == u"default") {
        b.kind = Kind::OddJobs;
        b.capSeconds = number(1, 0);
    } else if (name == u"exponential") {
        b.kind = Kind::ExponentialJitter;
        b.baseSeconds = number(1, 1);
        b.capSeconds = number(2, 0);
    } else if (name == u"polynomial") {
        b.kind = Kind::Polynomial;
        b.exponent = number(1, 4);
        b.baseSeconds = number(2, 15);
        b.capSeconds = number(3, 0);
    } else if (name == u"fixed") {
        b.kind = Kind::Fixed;
        b.baseSeconds = number(1, 10);
    } else {
        return std::nullopt;
    }
    if (!ok)
        return std::nullopt;
    return b;
}

HandlerResult HandlerResult::success(const QJsonValue &result)
{
    HandlerResult r;
    r.result = result;
    return r;
}

HandlerResult HandlerResult::failure(const QString &message, const QJsonObject &details)
{
    HandlerResult r;
    r.ok = false;
    r.errorMessage = message;
    r.errorDetails = details;
    return r;
}

JobFailure::JobFailure(const QString &message, QJsonObject details)
    : std::runtime_error(message.toStdString())
    , m_message(message)
    , m_details(std::move(details))
{
}

void HandlerRegistry::add(const QString &type, JobHandler handler)
{
    m_handlers.insert(type, std::move(handler));
}

QStringList HandlerRegistry::types() const
{
    QStringList out;
    for (auto it = m_handlers.begin(); it != m_handlers.end(); ++it) {
        if (it.key() != u"*")
            out << it.key();
    }
    out.sort();
    return out;
}

JobHandler HandlerRegistry::find(const QString &type) const
{
    if (auto it = m_handlers.find(type); it != m_handlers.end())
        return it.value();
    return m_handlers.value(u"*"_s);
}

// --- job context -----------------------------------------------------------------------------

class JobContext::Control
{
public:
    enum Phase
    {
        Waiting, // handed to the pool, not taken up by a pool thread yet
        Started, // the handler runs (or ran)
        Skipped, // taken back by the runner before it started: never runs
    };

    Job job;
    qint64 timeoutMs = 0;
    // Whoever moves the phase away from Waiting owns the job's start: a pool thread (Started)
    // or the runner (Skipped), never both.
    std::atomic<int> phase { Waiting };
    // Set by the pool thread when it starts the handler, before the start is posted to the
    // runner, which reads them only after it has taken the start from the mailbox.
    QDeadlineTimer deadline;
    std::atomic<int> stopReason { int(StopReason::None) };
    // The standard types rather than QMutex/QWaitCondition: QWaitCondition unlocks and relocks
    // inside QtCore, which ThreadSanitizer cannot see unless Qt itself is instrumented (it then
    // reports a false "double lock" whenever a stop request meets a sleeping handler).
    mutable std::mutex mutex;
    std::condition_variable wakeUp;
    QJsonValue result;

    void requestStop(StopReason reason)
    {
        int expected = int(StopReason::None);
        stopReason.compare_exchange_strong(expected, int(reason));
        std::lock_guard lock(mutex);
        wakeUp.notify_all();
    }
};

JobContext::JobContext(std::shared_ptr<Control> control)
    : m_control(std::move(control))
{
}

const Job &JobContext::job() const
{
    return m_control->job;
}

QDeadlineTimer JobContext::deadline() const
{
    return m_control->deadline;
}

bool JobContext::isStopRequested() const
{
    return m_control->stopReason.load() != int(StopReason::None);
}

StopReason JobContext::stopReason() const
{
    return StopReason(m_control->stopReason.load());
}

bool JobContext::sleepFor(int ms) const
{
    const auto until
        = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, ms));
    std::unique_lock lock(m_control->mutex);
    m_control->wakeUp.wait_until(lock, until, [this] { return isStopRequested(); });
    return !isStopRequested();
}

void JobContext::setResult(const QJsonValue &result)
{
    std::lock_guard lock(m_control->mutex);
    m_control->result = result;
}

// --- the runner's thread ---------------------------------------------------------------------

// Handler tasks report back through this, so a handler that outlives its runner (one that
// ignores every request to stop) posts into nothing instead of a deleted object. Results go
// through the mutex-protected list, and the runner thread is only woken (a queued call by
// name carries no data of ours across threads).
struct Mailbox
{
    struct Finished
    {
        qint64 id = 0;
        HandlerResult result;
        qint64 durationMs = 0;
    };

    QMutex mutex;
    QObject *target = nullptr;
    QList<qint64> started;
    QList<Finished> finished;

    // Called with the mutex held. One wake-up per batch: if either list already holds
    // something, a drain is on its way.
    void post(bool wasEmpty)
    {
        if (wasEmpty && target)
            QMetaObject::invokeMethod(target, "drainMailbox", Qt::QueuedConnection);
    }
};

namespace {

// QtCore hands work between threads through its own futex-based mutexes: a task to a
// QThreadPool thread, and the end of a QThread to QThread::wait(). Unless Qt itself is built
// with ThreadSanitizer, TSan cannot see those hand-overs and reports the data handed over as
// raced; these calls tell it what Qt guarantees. No-ops in other builds.
inline void tsanHandOver([[maybe_unused]] const void *address)
{
#ifdef OJ_TSAN
    __tsan_release(const_cast<void *>(address));
#endif
}

inline void tsanTakeOver([[maybe_unused]] const void *address)
{
#ifdef OJ_TSAN
    __tsan_acquire(const_cast<void *>(address));
#endif
}

// The pool hand-over's address: a task cannot name one of its own before taking over.
const char poolHandOver = 0;

// Jobs handed to the pool and not taken up yet, in order. A pool thread takes them one after
// another until none is left, so a claimed batch wakes one thread per free slot, not one per
// job (short jobs empty the pool's queue faster than the runner fills it, and QThreadPool
// wakes an idle thread for every task it is given).
struct HandlerQueue
{
    struct Entry
    {
        JobHandler handler;
        std::shared_ptr<JobContext::Control> control;
    };

    std::mutex mutex;
    std::deque<Entry> entries;
    int takers = 0; // pool tasks taking entries
    int busy = 0; // of them, running a handler
};

// A pool task that runs queued handlers until the queue is empty. The standard mutex rather
// than QMutex: ThreadSanitizer sees what it hands over.
class HandlerTaker : public QRunnable
{
public:
    HandlerTaker(std::shared_ptr<HandlerQueue> queue, std::shared_ptr<Mailbox> mailbox)
        : m_queue(std::move(queue))
        , m_mailbox(std::move(mailbox))
    {
        setAutoDelete(true);
    }

    void run() override;

private:
    void runOne(const HandlerQueue::Entry &entry);

    std::shared_ptr<HandlerQueue> m_queue;
    std::shared_ptr<Mailbox> m_mailbox;
};

} // namespace

// What the runner thread has to say to the Runner's thread, in order. The first note of a
// burst posts one delivery; the delivery takes the burst in one go and runs its notes one at a
// time, so a slot that spins an event loop (and so a nested delivery) cannot reorder them.
class Outbox
{
public:
    explicit Outbox(Runner *owner)
        : m_owner(owner)
    {
    }

    // The Runner's signals the runner thread reports only while something is connected to
    // them: a signal nobody listens to costs no note (and no job copied) per job. Set by
    // Runner::connectNotify(), never cleared: a disconnected slot costs notes, never a signal.
    enum Signal
    {
        JobStarted,
        JobSucceeded,
        JobFailed,
        JobPermanentlyFailed,
        JobTimedOut,
        JobCancelled,
        LogEvent,
        SignalCount
    };
    std::array<std::atomic<bool>, SignalCount> listened {};

    void post(std::function<void(Runner &)> note)
    {
        std::lock_guard lock(m_mutex);
        const bool wake = m_notes.empty();
        m_notes.push_back(std::move(note));
        // A call by name carries no data of ours across threads (the notes go through the
        // mutex), and a delivery posted to a Runner being destroyed is dropped.
        if (wake)
            QMetaObject::invokeMethod(m_owner, "deliverNotes", Qt::QueuedConnection);
    }

    // The Runner's thread.
    void deliver()
    {
        for (;;) {
            if (m_taken.empty()) {
                std::lock_guard lock(m_mutex);
                if (m_notes.empty())
                    return;
                m_taken.swap(m_notes);
            }
            const std::function<void(Runner &)> note = std::move(m_taken.front());
            m_taken.pop_front();
            note(*m_owner);
        }
    }

private:
    Runner *m_owner;
    std::mutex m_mutex;
    std::deque<std::function<void(Runner &)>> m_notes;
    std::deque<std::function<void(Runner &)>> m_taken; // the Runner's thread's, being run
};

// PostgreSQL: a connection of its own on a thread of its own, for work that need not wait for
// the runner thread's connection: outcome batches are written while the runner claims, and
// claims beyond the first run side by side (more server processes busy, commits grouped).
// One task at a time. The task and its result cross threads through the mutex; the wake-up of
// the runner thread is a call by name, after which it collects the result.
class StoreLane : public QObject
{
    Q_OBJECT
public:
    // Runs on the lane's thread with its store; an error with ErrorCode::ConnectionFailed
    // makes the lane reconnect before its next task.
    using Task = std::function<Result<void>(JobStore &)>;
    // Runs on the runner thread once the task ended: its result, or why it could not run
    // (`ran` false: the lane had no connection and could not open one).
    using Then = std::function<void(const Result<void> &result, bool ran)>;

    // Every connection the lane opens is set up for a worker (JobStore::tuneForRunner), as
    // a claiming connection or not.
    StoreLane(const QString &name, const RunnerConfig &config, const QString &worker, QObject *core,
              bool claiming)
        : m_settings(config.connection)
        , m_options(config.store)
        , m_worker(worker)
        , m_core(core)
        , m_claiming(claiming)
        , m_thread(new QThread)
    {
        m_thread->setObjectName(name);
        moveToThread(m_thread);
        m_thread->start();
    }

    // Runner thread.
    bool busy() const { return bool(m_then); }

    void submit(Task task, Then then)
    {
        m_then = std::move(then);
        {
            std::lock_guard lock(m_mutex);
            m_task = std::move(task);
            m_result.reset();
        }
        QMetaObject::invokeMethod(this, "run", Qt::QueuedConnection);
    }

    // Runner thread: the continuation of the task that ended, bound to its result (empty if
    // none ended). The caller runs it: a continuation may stop the lane.
    std::function<void()> takeDone()
    {
        std::optional<Result<void>> result;
        bool ran = false;
        {
            std::lock_guard lock(m_mutex);
            result = std::exchange(m_result, std::nullopt);
            ran = m_ran;
        }
        if (!result || !m_then)
            return {};
        return [then = std::exchange(m_then, {}), result = std::move(*result), ran] {
            then(result, ran);
        };
    }

    // Runner thread: closes the connection in the lane's thread (after a task in progress),
    // ends the thread and deletes the lane. A continuation not taken yet is dropped.
    void stop()
    {
        QMetaObject::invokeMethod(this, "close", Qt::BlockingQueuedConnection);
        m_thread->quit();
        m_thread->wait();
        tsanTakeOver(this);
        delete m_thread;
        delete this;
    }

public Q_SLOTS:
    void run()
    {
        Task task;
        {
            std::lock_guard lock(m_mutex);
            task = std::exchange(m_task, {});
        }
        if (!task)
            return;
        Result<void> result;
        const Result<void> connected = connection();
        if (!connected) {
            result = connected.error();
        } else {
            result = task(*m_store);
            m_broken = !result && result.error().code == ErrorCode::ConnectionFailed;
        }
        task = {}; // what it holds is released here, not in the runner thread
        {
            std::lock_guard lock(m_mutex);
            m_result = std::move(result);
            m_ran = connected.ok();
        }
        QMetaObject::invokeMethod(m_core, "collectLanes", Qt::QueuedConnection);
    }

    void close()
    {
        m_store.reset();
        tsanHandOver(this); // deleted by the runner thread once this thread has ended
    }

private:
    // The lane's connection, opened on first use and opened again after it broke.
    Result<void> connection()
    {
        if (!m_store) {
            auto store = JobStore::open(m_settings, m_options);
            if (!store)
                return store.error();
            m_store = std::move(*store);
        } else if (m_broken) {
            if (auto r = m_store->reconnect(); !r)
                return r.error();
        } else {
            return {};
        }
        m_broken = false;
        auto r = m_store->tuneForRunner(m_claiming, m_worker);
        m_broken = !r && r.error().code == ErrorCode::ConnectionFailed;
        return r;
    }

    ~StoreLane() override = default; // through stop()

    const ConnectionSettings m_settings;
    const StoreOptions m_options;
    const QString m_worker;
    QObject *const m_core;
    const bool m_claiming;
    QThread *const m_thread;
    std::unique_ptr<JobStore> m_store; // lane thread only
    bool m_broken = false; // lane thread only
    Then m_then; // runner thread only
    std::mutex m_mutex;
    Task m_task;
    std::optional<Result<void>> m_result;
    bool m_ran = false;
};

class RunnerCore : public QObject
{
    Q_OBJECT
public:
    RunnerCore(RunnerConfig config, HandlerRegistry handlers, QString worker,
               std::shared_ptr<Outbox> outbox)
        : m_config(std::move(config))
        , m_handlers(std::move(handlers))
        , m_worker(std::move(worker))
        , m_mailbox(std::make_shared<Mailbox>())
        , m_outbox(std::move(outbox))
    {
        m_mailbox->target = this;
        const bool pg = m_config.connection.backend == Backend::PostgreSql;
        if (m_config.pollIntervalMs < 0)
            m_config.pollIntervalMs = pg ? 5000 : 1000;
        if (m_config.heartbeatIntervalMs < 0)
            m_config.heartbeatIntervalMs = std::min(5000, m_config.lockTimeoutSeconds * 1000 / 4);
        m_config.heartbeatIntervalMs = std::max(100, m_config.heartbeatIntervalMs);
        m_config.maxClaimBatch = std::max(1, m_config.maxClaimBatch);
        m_pool->setMaxThreadCount(m_config.concurrency.kind() == ConcurrencyControl::Kind::Max
                                      ? m_config.concurrency.max()
                                      : ConcurrencyControl::UnlimitedThreadCeiling);
        m_pool->setExpiryTimeout(60000);
    }

    ~RunnerCore() override
    {
        {
            QMutexLocker lock(&m_mailbox->mutex);
            m_mailbox->target = nullptr;
        }
        // A handler that ignores every request to stop would block QThreadPool's destructor
        // for ever; such a pool is left behind (with its thread) instead.
        if (m_pool->activeThreadCount() == 0 || m_pool->waitForDone(100))
            delete m_pool;
        else
            qCWarning(lcRunner, "a job handler is still running after shutdown; leaving it behind");
    }

    std::atomic<int> runningCount { 0 };

public Q_SLOTS:
    void begin();
    void beginStop();
    void stopNow();
    void wake()
    {
        noteWork();
        scheduleClaim();
    }
    // Handlers that finished (see Mailbox).
    void drainMailbox();
    // A StoreLane finished its task.
    void collectLanes();

Q_SIGNALS:
    void finished();

private:
    // The Runner's signals, emitted in the Runner's thread in the order they happen here. They
    // travel through the outbox rather than as queued signals: one wake-up of that thread per
    // burst instead of one per signal (four per job).
    bool listened(Outbox::Signal signal) const
    {
        return m_outbox->listened[signal].load(std::memory_order_acquire);
    }
    void jobStarted(const Job &job)
    {
        if (listened(Outbox::JobStarted))
            post([job](Runner &r) { Q_EMIT r.jobStarted(job); });
    }
    void jobSucceeded(const Job &job, qint64 durationMs)
    {
        if (listened(Outbox::JobSucceeded))
            post([job, durationMs](Runner &r) { Q_EMIT r.jobSucceeded(job, durationMs); });
    }
    void jobFailed(const Job &job, const QJsonValue &error, qint64 durationMs)
    {
        if (listened(Outbox::JobFailed)) {
            post([job, error, durationMs](Runner &r) {
                Q_EMIT r.jobFailed(job, error, durationMs);
            });
        }
    }
    void jobPermanentlyFailed(const Job &job, const QJsonValue &error, qint64 durationMs)
    {
        if (listened(Outbox::JobPermanentlyFailed)) {
            post([job, error, durationMs](Runner &r) {
                Q_EMIT r.jobPermanentlyFailed(job, error, durationMs);
            });
        }
    }
    void jobTimedOut(const Job &job)
    {
        if (listened(Outbox::JobTimedOut))
            post([job](Runner &r) { Q_EMIT r.jobTimedOut(job); });
    }
    void jobCancelled(const Job &job)
    {
        if (listened(Outbox::JobCancelled))
            post([job](Runner &r) { Q_EMIT r.jobCancelled(job); });
    }
    void stateChanged(Runner::State state)
    {
        post([state](Runner &r) { r.coreStateChanged(state); });
    }
    void databaseError(const QString &message)
    {
        post([message](Runner &r) { Q_EMIT r.databaseError(message); });
    }
    void logEvent(const LogEvent &event)
    {
        post([event](Runner &r) { Q_EMIT r.logEvent(event); });
    }
    void post(std::function<void(Runner &)> note) { m_outbox->post(std::move(note)); }

    enum class Fate
    {
        Running,
        TimedOut,
        Cancelled,
        LockLost,
        HandedBack
    };

    // A job this runner holds: handed to the pool, and started once a pool thread takes it up
    // (the pool's thread count is the concurrency; jobs beyond it wait in the HandlerQueue, so
    // a thread that finishes one job takes the next without a round trip through this thread).
    struct Running
    {
        Job job;
        std::shared_ptr<JobContext::Control> control;
        bool started = false; // the start was taken from the mailbox
        QElapsedTimer clock; // since the start, as far as this thread knows
        Fate fate = Fate::Running;
        bool outcomeQueued = false; // a timeout's failure already went to m_pending
        QDeadlineTimer grace; // after a stop request: when to give up waiting for the handler
    };

    struct Pending
    {
        JobOutcome outcome;
        Job job;
        qint64 durationMs = 0;
    };

    void setState(Runner::State state)
    {
        if (m_state == state)
            return;
        m_state = state;
        log(LogLevel::Info, LogEventKind::StateChanged, runnerStateName(state));
        Q_EMIT stateChanged(state);
    }

    void log(LogLevel level, LogEventKind kind, const QString &message,
             const std::optional<Job> &job = std::nullopt,
             std::optional<qint64> durationMs = std::nullopt, const QJsonObject &details = {})
    {
        static constexpr QtMsgType types[] = { QtDebugMsg, QtInfoMsg, QtWarningMsg, QtCriticalMsg };
        const bool toSignal = listened(Outbox::LogEvent);
        const bool toCategory = lcRunner().isEnabled(types[int(level)]);
        if (!toSignal && !toCategory)
            return; // nobody would read it: two events a job, not built at all
        LogEvent e;
        e.time = QDateTime::currentDateTimeUtc();
        e.level = level;
        e.kind = kind;
        e.worker = m_worker;
        e.job = job;
        e.durationMs = durationMs;
        e.message = message;
        e.details = details;
        switch (level) {
        case LogLevel::Debug:
            qCDebug(lcRunner).noquote() << e.toText();
            break;
        case LogLevel::Info:
            qCInfo(lcRunner).noquote() << e.toText();
            break;
        case LogLevel::Warning:
            qCWarning(lcRunner).noquote() << e.toText();
            break;
        case LogLevel::Error:
            qCCritical(lcRunner).noquote() << e.toText();
            break;
        }
        if (toSignal)
            Q_EMIT logEvent(e);
    }

    int capacity() const
    {
        return m_config.concurrency.kind() == ConcurrencyControl::Kind::Max
            ? m_config.concurrency.max()
            : ConcurrencyControl::UnlimitedThreadCeiling;
    }

    bool acceptsWork() const { return m_state == Runner::State::Running && m_connected; }

    // Slots in use: the pool runs at most capacity() handlers, and held jobs beyond that wait
    // in the HandlerQueue. Counted when a job is handed over, so a dynamic concurrency predicate
    // sees a job it allowed at once, not only once a thread has taken it up.
    void countRunning() { runningCount = std::min(int(m_running.size()), capacity()); }

    void tuneConnection()
    {
        if (auto r = m_store->tuneForRunner(true, m_worker); !r)
            log(LogLevel::Warning, LogEventKind::DatabaseError, r.error().message);
    }
    // The runner's own connection opened again, set up as at start: its last outcomes may be
    // written on it (the delete trigger must know the worker) and it claims.
    Result<void> reconnectStore()
    {
        auto r = m_store->reconnect();
        if (r)
            tuneConnection();
        return r;
    }
    QString settingsText() const;
    void prune();
    void continuePrune();
    static constexpr qint64 PruneIntervalMs = 600000;
    static constexpr qint64 PruneStepMs = 100;
    static constexpr int PrunePauseMs = 300;
    void openWriter();
    void openListener();
    void closeListener();
    void pingListener();
    void onNotification(const QString &name, QSqlDriver::NotificationSource,
                        const QVariant &payload);
    void scheduleClaim();
    void claimNow();
    // Hands claimed jobs to the pool, a batch in one hand-over.
    void dispatch(const QList<Job> &jobs);
    // Makes a job held (or defers it) and queues its handler for the next handOver().
    void admit(const Job &job);
    void handOver();
    // Takes a job that no pool thread has started back from the pool: it will never run.
    static bool trySkip(Running &r)
    {
        int waiting = JobContext::Control::Waiting;
        return r.control->phase.compare_exchange_strong(waiting, JobContext::Control::Skipped);
    }
    // Every held job that has not started is taken back and removed; returns them.
    QList<Job> takeBackUnstarted();
    void onHandlerFinished(qint64 id, const HandlerResult &result, qint64 durationMs);
    void queueOutcome(const Running &r, const JobOutcome &outcome, qint64 durationMs);
    // The failure a timed-out attempt is recorded with (retried with backoff if attempts remain).
    JobOutcome timeoutOutcome(const Running &r, const QString &note);
    void scheduleFlush();
    void flush();
    // The first `count` pending outcomes were written (or found taken over): report them.
    void recordWritten(qsizetype count, const QList<WrittenOutcome> &written);
    void onWritten(const Result<void> &result, bool ran, const QList<WrittenOutcome> &written);
    // Closes the claim lanes that are idle; a busy one closes when its claim comes back.
    void retireClaimLanes();
    // A lane or the writer could not connect: no claim lanes for LaneRestMs, and those open
    // close, so the connection slots they hold go to the runner's own connections.
    void restClaimLanes()
    {
        m_lanesResting.start();
        retireClaimLanes();
    }
    bool claimLanesResting() const
    {
        return m_lanesResting.isValid() && !m_lanesResting.hasExpired(LaneRestMs);
    }
    int idleClaimLanes() const;
    // Batched claims go to lanes while jobs are held (claimNow()): PostgreSQL, connected, the
    // writer open, more than one claiming connection allowed, and lanes not resting.
    bool batchesOnLanes() const
    {
        return m_writerConnected && m_connected && m_config.maxClaimBatch > 1
            && m_config.claimConnections > 1 && !claimLanesResting();
    }
    // A claim may go out beside this one (another lane's, or the runner's own after it).
    bool claimOnLane(ClaimRequest request, bool beside);
    // Claims in stretches of their own (claimOnLane()) pay for their lookup only where a claim
    // is large: a claim of a few rows costs little more than the lookup's round trip, and one
    // beside it from the same key steps over only a few rows (the chaos soak's workers, claims
    // of up to 8, drained at half their speed with a lookup per claim).
    static constexpr int StretchMinBatch = 100;
    bool stretchesPay() const
    {
        return batchesOnLanes() && m_config.maxClaimBatch >= StretchMinBatch;
    }
    // A second claim can go out on a lane while one is out (claimNow()): claims in stretches,
    // half a batch wanted beside a claim of at least one job, and a second lane to take it.
    bool claimsSideBySide() const
    {
        const int hold = capacity() + std::max(0, m_config.prefetch);
        return stretchesPay() && m_config.claimConnections > 2
            && hold >= (m_config.maxClaimBatch + 1) / 2 + 1;
    }
    // A claim sent to a lane, as onLaneClaimed() needs to know it.
    struct LaneClaim
    {
        int limit = 0;
        std::optional<ClaimKey> upTo; // the end of its stretch, where it has one
        bool open = false; // batched without a stretch: fewer rows runnable than it asks for
        quint64 generation = 0; // m_workGeneration when sent
        quint64 epoch = 0; // m_claimBoundEpoch when sent
    };
    void onLaneClaimed(const LaneClaim &claim, const Result<void> &result, bool ran,
                       const QList<Job> &jobs, const ClaimKey &last);
    void stopLanes();
    // New work may be runnable (a notification, a poll, a rescue, ...).
    void noteWork()
    {
        m_mayHaveWork = true;
        ++m_workGeneration;
        resetClaimBound(); // rows may have become runnable anywhere in claim order
    }
    void resetClaimBound()
    {
        m_claimedUpTo.reset();
        ++m_claimBoundEpoch;
    }
    void noteClaimed(quint64 epoch, qsizetype claimed, int limit, const ClaimKey &last);
    static constexpr qint64 ClaimBoundMaxAgeMs = 1000;
    void poll();
    // The rows this runner holds locked: claimed jobs waiting for an earlier attempt, and held
    // jobs that still own their row.
    QList<qint64> lockedIds() const;
    void heartbeat();
    void checkCancellations();
    void watchChanges();
    void checkDeadlines();
    void armDeadlineTimer();
    void requestStop(qint64 id, Fate fate, StopReason reason);
    void connectionLost(const Error &error);
    void reconnect();
    void handleStoreError(const Error &error, const QString &what);
    void maybeFinish();
    void handBackAll();
    void releaseHandedBack(const QSet<qint64> &returned);
    void releaseRows(const QList<Job> &jobs, const QString &which);
    void releaseDeferred();
    bool wantsMore() const;
    bool holdsLock(const Running &r) const
    {
        // A timed-out attempt whose failure is already written no longer owns the row.
        return r.fate == Fate::Running || (r.fate == Fate::TimedOut && !r.outcomeQueued);
    }
    void finish();
    QJsonObject errorJson(const QString &kind, const QString &message,
                          const QJsonObject &details = {});

    RunnerConfig m_config;
    HandlerRegistry m_handlers;
    QString m_worker;
    std::shared_ptr<Mailbox> m_mailbox;
    std::shared_ptr<Outbox> m_outbox;
    QThreadPool *m_pool = new QThreadPool; // see ~RunnerCore
    std::shared_ptr<HandlerQueue> m_handlerQueue = std::make_shared<HandlerQueue>();
    std::vector<HandlerQueue::Entry> m_toHandOver; // admitted, not handed to the pool yet
    std::unique_ptr<JobStore> m_store;
    StoreLane *m_writer = nullptr; // PostgreSQL: writes outcomes
    bool m_writerConnected = false; // a task of the writer's ran on a connection: lanes may open
    QList<StoreLane *> m_claimLanes; // PostgreSQL: claims beside the runner's own, opened on need
    int m_claimingLimit = 0; // jobs asked for by claims in flight on the lanes
    int m_openClaims = 0; // of those, claims without a stretch of their own (no upTo)
    int m_arriving = 0; // jobs a lane claimed, counted as held while the next claim is sent
    static constexpr qint64 LaneRestMs = 30000;
    QElapsedTimer m_lanesResting; // since a claim lane last could not connect
    bool m_laneWarned = false; // and that was logged
    quint64 m_workGeneration = 0; // counts noteWork()
    // PostgreSQL: where the next claim's scan starts (see noteClaimed()), and since when.
    std::optional<ClaimKey> m_claimedUpTo;
    QElapsedTimer m_claimedUpToSince;
    quint64 m_claimBoundEpoch = 0; // counts resetClaimBound(): claims sent before one are late
    qsizetype m_inFlight = 0; // the first m_inFlight of m_pending are being written
    QSet<qint64> m_inFlightIds;
    QSqlDatabase m_listenDb;
    QString m_listenName;
    QHash<qint64, Running> m_running;
    // Claimed again while the handler of an earlier attempt (one that ignored its stop request)
    // still runs: started when that handler returns, so one job never runs twice at once.
    QHash<qint64, Job> m_deferred;
    QList<Pending> m_pending;
    Runner::State m_state = Runner::State::Starting;
    bool m_connected = false;
    bool m_mayHaveWork = true;
    bool m_claimScheduled = false;
    bool m_fatal = false;
    int m_reconnectAttempt = 0;
    qint64 m_sqliteDataVersion = -1;
    // Children, so that moveToThread() takes them along to the runner thread.
    QTimer m_pollTimer { this };
    QTimer m_flushTimer { this };
    QTimer m_heartbeatTimer { this };
    QTimer m_deadlineTimer { this };
    QTimer m_reconnectTimer { this };
    QTimer m_changeWatchTimer { this }; // SQLite: notices commits of other connections
    QTimer m_drainTimer { this };
    QTimer m_pruneTimer { this }; // the next step of a prune that had more to do
    QElapsedTimer m_sinceRescue;
    QElapsedTimer m_sincePrune;
    QElapsedTimer m_sinceListenCheck;
    // A ping went out on our channel and the LISTEN connection has delivered nothing since.
    bool m_listenPingPending = false;
    QString m_lastConnectionError; // the reason for being disconnected that was logged last
    QList<Job> m_returnedHandedBack; // handed back, handler returned, row not released yet
};

namespace {
QAtomicInteger<quint64> listenCounter;
}

void RunnerCore::begin()
{
    for (QTimer *t : { &m_pollTimer, &m_flushTimer, &m_deadlineTimer, &m_reconnectTimer,
                       &m_drainTimer, &m_pruneTimer })
        t->setSingleShot(true);
    m_pruneTimer.setInterval(PrunePauseMs);
    m_flushTimer.setInterval(std::max(0, m_config.completionFlushMs));
    m_heartbeatTimer.setInterval(m_config.heartbeatIntervalMs);
    connect(&m_pollTimer, &QTimer::timeout, this, &RunnerCore::poll);
    connect(&m_flushTimer, &QTimer::timeout, this, &RunnerCore::flush);
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &RunnerCore::heartbeat);
    connect(&m_deadlineTimer, &QTimer::timeout, this, &RunnerCore::checkDeadlines);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &RunnerCore::reconnect);
    connect(&m_drainTimer, &QTimer::timeout, this, &RunnerCore::stopNow);
    connect(&m_pruneTimer, &QTimer::timeout, this, &RunnerCore::continuePrune);
    connect(&m_changeWatchTimer, &QTimer::timeout, this, &RunnerCore::watchChanges);

    setState(Runner::State::Starting);
    if (m_config.connection.backend == Backend::PostgreSql)
        m_writer = new StoreLane(u"oddjobs-writer"_s, m_config, m_worker, this, false);
    auto store = JobStore::open(m_config.connection, m_config.store);
    if (store && m_writer)
        openWriter();
    if (!store) {
        if (store.error().code == ErrorCode::ConnectionFailed) {
            // Not fatal: the database may come up later. Keep trying with backoff.
            connectionLost(store.error());
            setState(Runner::State::Running);
            return;
        }
        m_fatal = true;
        log(LogLevel::Error, LogEventKind::DatabaseError, store.error().message);
        Q_EMIT databaseError(store.error().message);
        finish();
        return;
    }
    m_store = std::move(*store);
    tuneConnection();
    Result<void> schema;
    if (m_config.migrate) {
        if (auto migrated = m_store->migrate(); !migrated)
            schema = migrated.error();
    }
    if (schema)
        schema = m_store->checkSchema();
    if (!schema) {
        m_fatal = schema.error().code != ErrorCode::ConnectionFailed;
        log(LogLevel::Error, LogEventKind::DatabaseError, schema.error().message);
        Q_EMIT databaseError(schema.error().message);
        if (m_fatal) {
            finish();
            return;
        }
        connectionLost(schema.error());
        setState(Runner::State::Running);
        return;
    }
    m_connected = true;
    openListener();
    m_sinceRescue.start();
    m_sincePrune.invalidate(); // the first maintenance pass prunes: workers may restart often
    m_sinceListenCheck.start();
    setState(Runner::State::Running);
    log(LogLevel::Info, LogEventKind::Text,
        u"worker %1 on %2 table %3, handlers: %4"_s.arg(
            m_worker, m_config.connection.displayString(), m_config.store.table.toString(),
            (m_handlers.types()
             + (m_handlers.hasCatchAll() ? QStringList { u"*"_s } : QStringList {}))
                .join(u", "_s)));
    log(LogLevel::Info, LogEventKind::Text, settingsText());
    collectLanes(); // the writer has most likely opened by now: claims may go to lanes at once
    poll();
}

// The settings a worker runs with, as one line for its log: what an operator checks first.
QString RunnerCore::settingsText() const
{
    const ConcurrencyControl &c = m_config.concurrency;
    QString text = c.kind() == ConcurrencyControl::Kind::Max
        ? u"up to %1 jobs at once"_s.arg(c.max())
        : c.kind() == ConcurrencyControl::Kind::Unlimited
        ? u"no limit of jobs at once"_s
        : u"jobs at once as the concurrency control allows"_s;
    text
        += u", queues: "_s + (m_config.queues.isEmpty() ? u"all"_s : m_config.queues.join(u", "_s));
    text += u"; at most %1 job(s) per claim, prefetch %2"_s.arg(m_config.maxClaimBatch)
                .arg(std::max(0, m_config.prefetch));
    if (m_config.connection.backend == Backend::PostgreSql)
        text += u", %1 claim connection(s)"_s.arg(std::max(1, m_config.claimConnections));
    text += u"; without their own limits jobs get %1 attempt(s) of %2 s; lock timeout %3 s"_s
                .arg(m_config.defaultMaxAttempts)
                .arg(m_config.defaultTimeoutSeconds)
                .arg(m_config.lockTimeoutSeconds);
    text += m_config.deleteSuccessfulJobs ? u"; succeeded jobs deleted"_s
                                          : u"; succeeded jobs kept"_s;
    text += m_config.retentionSeconds > 0
        ? u", finished jobs pruned after %1 s"_s.arg(m_config.retentionSeconds)
        : u", finished jobs never pruned"_s;
    return text;
}

// Finished jobs past the retention go in batches, each its own transaction. A backlog of
// millions (a first start with a retention, a retention shortened) must not hold up claims:
// no batch starts after PruneStepMs of this thread's time, and the rest follows in steps
// PrunePauseMs apart, claims and outcomes going on in between, until none is left. A prune
// cut short by an outage goes on after the reconnect; one that fails otherwise is tried
// again at the next interval.
void RunnerCore::prune()
{
    constexpr int BatchSize = 1000;
    m_sincePrune.start();
    QElapsedTimer spent;
    spent.start();
    qint64 total = 0;
    bool more = true;
    while (more && spent.elapsed() < PruneStepMs) {
        auto pruned = m_store->prune(m_config.retentionSeconds, BatchSize, 1);
        if (!pruned) {
            // Cut short by an outage: the first pass after the reconnect goes on.
            if (pruned.error().code == ErrorCode::ConnectionFailed)
                m_sincePrune.invalidate();
            handleStoreError(pruned.error(), u"prune"_s);
            more = false;
            break;
        }
        total += *pruned;
        more = *pruned == BatchSize;
    }
    if (more) {
        m_pruneTimer.start();
        m_sincePrune.invalidate(); // a step the timer finds disconnected: the next pass goes on
    }
    if (total > 0) {
        log(LogLevel::Info, LogEventKind::Text,
            u"pruned %1 finished job(s) older than %2 s%3"_s.arg(total)
                .arg(m_config.retentionSeconds)
                .arg(more ? u"; more follow"_s : QString()));
    }
}

void RunnerCore::continuePrune()
{
    if (m_connected && m_state == Runner::State::Running && m_config.retentionSeconds > 0)
        prune();
}

// PostgreSQL: the writer's connection opens on its own thread once the runner's has, while
// the runner's checks the schema and opens the LISTEN connection (a connection costs the
// server a process: ~5 ms here, a tenth of a short drain), rather than after them. The
// runner's own connection comes first and the writer's before any claim lane's: where
// connection slots are scarce, the writer (which every job needs) must not find them taken
// by lanes (which only add speed), so no lane opens until a task of the writer's has run on
// a connection. Opened at start, so that a server restart before the first write shows as a
// failed write (and the runner reconnects its other connections) rather than passing
// unnoticed. The lane is made in begin() whether or not the server is up; a worker that
// starts before its server opens it once the runner's connection is back (reconnect()); an
// open that fails is tried again then, or by the first write.
void RunnerCore::openWriter()
{
    if (m_writerConnected || m_writer->busy())
        return;
    m_writer->submit([](JobStore &) -> Result<void> { return {}; },
                     [this](const Result<void> &, bool ran) {
                         m_writerConnected = m_writerConnected || ran;
                         if (m_state != Runner::State::Running)
                             return;
                         if (!m_pending.isEmpty())
                             scheduleFlush();
                         if (m_mayHaveWork && acceptsWork() && wantsMore())
                             scheduleClaim();
                     });
}

void RunnerCore::openListener()
{
    if (m_config.connection.backend == Backend::Sqlite) {
        // No notifications in SQLite: PRAGMA data_version changes when another connection
        // commits, which is cheap to watch and catches enqueues from any process.
        m_changeWatchTimer.start(100);
        return;
    }
    closeListener();
    m_listenName = u"oddjobs-listen-%1"_s.arg(listenCounter.fetchAndAddRelaxed(1));
    StoreOptions options = m_config.store;
    options.readOnly = false;
    auto db = Internal::openConnection(m_config.connection, options, m_listenName);
    if (!db) {
        log(LogLevel::Warning, LogEventKind::DatabaseError,
            u"cannot open the notification connection (polling only): "_s + db.error().message);
        return;
    }
    m_listenDb = *db;
    const QString channel = m_config.store.table.notificationChannel();
    if (!m_listenDb.driver()->subscribeToNotification(channel)) {
        log(LogLevel::Warning, LogEventKind::DatabaseError,
            u"cannot LISTEN on %1 (polling only): %2"_s.arg(channel,
                                                            m_listenDb.lastError().text()));
        closeListener();
        return;
    }
    connect(m_listenDb.driver(), &QSqlDriver::notification, this, &RunnerCore::onNotification,
            Qt::UniqueConnection);
    log(LogLevel::Debug, LogEventKind::Text, u"listening on channel %1"_s.arg(channel));
}

void RunnerCore::closeListener()
{
    m_listenPingPending = false;
    if (m_listenName.isEmpty())
        return;
    if (m_listenDb.isValid() && m_listenDb.driver())
        disconnect(m_listenDb.driver(), nullptr, this, nullptr);
    m_listenDb.close();
    m_listenDb = QSqlDatabase();
    QSqlDatabase::removeDatabase(m_listenName);
    m_listenName.clear();
}

void RunnerCore::onNotification(const QString &, QSqlDriver::NotificationSource,
                                const QVariant &payload)
{
    m_listenPingPending = false; // the LISTEN connection delivers
    const QJsonObject message = QJsonDocument::fromJson(payload.toString().toUtf8()).object();
    if (message.contains(u"ping"_s))
        return; // a runner checking its LISTEN connection (see poll())
    if (message.contains(u"cancel"_s)) {
        const qint64 id = message.value(u"cancel"_s).toInteger();
        if (m_running.contains(id) && message.value(u"worker"_s).toString() == m_worker)
            checkCancellations();
        return;
    }
    noteWork();
    scheduleClaim();
}

void RunnerCore::scheduleClaim()
{
    if (m_claimScheduled || !acceptsWork())
        return;
    m_claimScheduled = true;
    QMetaObject::invokeMethod(this, &RunnerCore::claimNow, Qt::QueuedConnection);
}

void RunnerCore::claimNow()
{
    m_claimScheduled = false;
    if (!acceptsWork() || !m_mayHaveWork)
        return;
    // SQLite writes pending outcomes first, on the same connection. PostgreSQL's wait for
    // their flush (at most completionFlushMs) on the writer's connection: written before the
    // claim, each would put a commit of its own ahead of the claim's.
    if (!m_writer && !m_pending.isEmpty()) {
        flush();
        if (!acceptsWork())
            return;
    }
    ClaimRequest request;
    request.worker = m_worker;
    request.types = m_handlers.types();
    request.anyType = m_handlers.hasCatchAll();
    request.queues = m_config.queues;
    if (m_config.concurrency.kind() == ConcurrencyControl::Kind::Dynamic) {
        // One job per "yes", as odd-jobs asks before each job.
        while (acceptsWork() && int(m_running.size()) < capacity()
               && m_config.concurrency.predicate()()) {
            request.limit = 1;
            auto jobs = m_store->claim(request);
            if (!jobs) {
                handleStoreError(jobs.error(), u"claim"_s);
                return;
            }
            if (jobs->isEmpty()) {
                m_mayHaveWork = false;
                return;
            }
            dispatch({ jobs->first() });
        }
        return;
    }
    // Free slots plus the prefetch: every held job counts, started, waiting in the pool or
    // being claimed on a lane.
    int wanted = capacity() + std::max(0, m_config.prefetch) - int(m_running.size())
        - m_claimingLimit - m_arriving;
    if (wanted <= 0)
        return; // a slot freeing up claims again
    // While claims are out, another goes for a whole batch, or for half of one where lanes
    // take it and each claim out has a stretch of claim order of its own (claimOnLane()). Side
    // by side from the same key, the later claim would step over every row the earlier one
    // locks (measured with batches of 500: the claims' server processes spent a third more
    // per job than one after another). The claim coming back asks for the rest.
    // An open claim out takes every row there is: nothing goes beside it.
    const int batch = m_config.maxClaimBatch;
    if (m_claimingLimit > 0
        && (m_openClaims > 0
            || (wanted < batch && (wanted < (batch + 1) / 2 || !claimsSideBySide()))))
        return;
    // What one claim cannot take is claimed on lanes at the same time, in claims of equal size.
    // Batched, the runner thread claims on its own connection only while it has nothing else
    // to do: an idle worker starts a new job sooner without a hand-over to another thread.
    // With jobs running or held, a claim there would keep it from handing out work and taking
    // in finished jobs for the claim's whole round trip (the server's share of a claim of 250
    // is ~3 ms), so lanes claim and it goes on meanwhile; with every lane busy, a lane's reply
    // asks for the rest. (One job per claim, the round trip is short and the runner's
    // connection is one more claim side by side.)
    const int lanes = idleClaimLanes();
    const bool lanesOnly
        = batchesOnLanes() && (!m_running.isEmpty() || m_arriving > 0 || m_claimingLimit > 0);
    if (lanesOnly && lanes == 0)
        return;
    const int claims = std::min((wanted + batch - 1) / batch, lanesOnly ? lanes : 1 + lanes);
    const int size = std::min(batch, (wanted + claims - 1) / claims);
    if (m_claimedUpTo && m_claimedUpToSince.hasExpired(ClaimBoundMaxAgeMs))
        resetClaimBound();
    if (lanesOnly) {
        const bool beside = claims > 1 || claimsSideBySide();
        for (int i = 0; i < claims && wanted > 0 && m_openClaims == 0; ++i) {
            request.limit = std::min(size, wanted);
            if (!claimOnLane(request, beside))
                return;
            wanted -= request.limit;
        }
        return;
    }
    for (int i = 1; i < claims && wanted > size; ++i) {
        request.limit = size;
        if (!claimOnLane(request, true))
            return;
        wanted -= size;
        if (m_openClaims > 0)
            return; // it takes every row there is
    }
    request.after = m_claimedUpTo; // after the stretches the lanes claim
    request.limit = std::min(size, wanted);
    const quint64 epoch = m_claimBoundEpoch;
    ClaimKey last;
    auto jobs = m_store->claim(request, &last);
    if (!jobs) {
        resetClaimBound();
        handleStoreError(jobs.error(), u"claim"_s);
        return;
    }
    noteClaimed(epoch, jobs->size(), request.limit, last);
    m_mayHaveWork = jobs->size() == request.limit;
    dispatch(*jobs);
    if (m_mayHaveWork && wantsMore())
        scheduleClaim();
}

void RunnerCore::dispatch(const QList<Job> &jobs)
{
    for (const Job &job : jobs)
        admit(job);
    handOver();
}

void RunnerCore::admit(const Job &job)
{
    if (m_running.contains(job.id)) {
        m_deferred.insert(job.id, job);
        log(LogLevel::Debug, LogEventKind::Text,
            u"claimed again while the previous attempt's handler still runs; waiting for it"_s,
            job);
        return;
    }
    if (m_inFlightIds.contains(job.id)) {
        // The previous attempt's outcome committed, but its reply is still on the way: started
        // once that is reported (onWritten), so the events keep their order.
        m_deferred.insert(job.id, job);
        return;
    }
    Running r;
    r.job = job;
    r.control = std::make_shared<JobContext::Control>();
    r.control->job = job;
    r.control->timeoutMs
        = qint64(job.timeoutSeconds.value_or(m_config.defaultTimeoutSeconds)) * 1000;
    const JobHandler handler = m_handlers.find(job.type());
    m_running.insert(job.id, r);
    countRunning();
    if (!m_heartbeatTimer.isActive())
        m_heartbeatTimer.start();

    m_toHandOver.push_back({ handler, r.control });
}

void RunnerCore::handOver()
{
    if (m_toHandOver.empty())
        return;
    int start = 0;
    {
        std::lock_guard lock(m_handlerQueue->mutex);
        HandlerQueue &q = *m_handlerQueue;
        for (auto &entry : m_toHandOver)
            q.entries.push_back(std::move(entry));
        // Takers between two handlers take entries too; one more per entry they cannot.
        const int max = m_pool->maxThreadCount();
        while (q.takers < max && qsizetype(q.takers - q.busy) < qsizetype(q.entries.size())) {
            ++q.takers;
            ++start;
        }
    }
    m_toHandOver.clear();
    for (int i = 0; i < start; ++i) {
        auto *taker = new HandlerTaker(m_handlerQueue, m_mailbox);
        tsanHandOver(&poolHandOver); // after the taker is written
        m_pool->start(taker);
    }
}

void HandlerTaker::run()
{
    tsanTakeOver(&poolHandOver);
    bool ran = false;
    for (;;) {
        HandlerQueue::Entry entry;
        {
            std::lock_guard lock(m_queue->mutex);
            if (ran)
                --m_queue->busy;
            if (m_queue->entries.empty()) {
                --m_queue->takers;
                return;
            }
            entry = std::move(m_queue->entries.front());
            m_queue->entries.pop_front();
            ++m_queue->busy;
        }
        ran = true;
        runOne(entry);
    }
}

void HandlerTaker::runOne(const HandlerQueue::Entry &entry)
{
    const auto &control = entry.control;
    int waiting = JobContext::Control::Waiting;
    if (!control->phase.compare_exchange_strong(waiting, JobContext::Control::Started))
        return; // taken back by the runner (cancelled, handed back) before a thread was free
    QElapsedTimer clock;
    clock.start();
    control->deadline = QDeadlineTimer(control->timeoutMs);
    {
        QMutexLocker lock(&m_mailbox->mutex);
        const bool wasEmpty = m_mailbox->started.isEmpty() && m_mailbox->finished.isEmpty();
        m_mailbox->started.append(control->job.id);
        m_mailbox->post(wasEmpty);
    }
    HandlerResult result;
    JobContext ctx(control);
    try {
        if (!entry.handler)
            result
                = HandlerResult::failure(u"no handler for job type %1"_s.arg(control->job.type()));
        else
            result = entry.handler(ctx);
    } catch (const JobFailure &failure) {
        result = HandlerResult::failure(failure.message(), failure.details());
        result.errorDetails.insert(u"kind"_s, u"exception"_s);
    } catch (const std::exception &e) {
        result = HandlerResult::failure(QString::fromUtf8(e.what()),
                                        QJsonObject { { u"kind"_s, u"exception"_s } });
    } catch (...) {
        result = HandlerResult::failure(u"the handler threw a non-standard exception"_s,
                                        QJsonObject { { u"kind"_s, u"exception"_s } });
    }
    if (result.ok && result.result.isNull()) {
        std::lock_guard lock(control->mutex);
        result.result = control->result;
    }
    const qint64 durationMs = clock.elapsed();
    QMutexLocker lock(&m_mailbox->mutex);
    const bool wasEmpty = m_mailbox->started.isEmpty() && m_mailbox->finished.isEmpty();
    m_mailbox->finished.append({ control->job.id, std::move(result), durationMs });
    m_mailbox->post(wasEmpty);
}

void RunnerCore::drainMailbox()
{
    QList<qint64> started;
    QList<Mailbox::Finished> finished;
    {
        QMutexLocker lock(&m_mailbox->mutex);
        started = std::exchange(m_mailbox->started, {});
        finished = std::exchange(m_mailbox->finished, {});
    }
    for (qint64 id : std::as_const(started)) {
        auto it = m_running.find(id);
        if (it == m_running.end() || it->started)
            continue;
        it->started = true;
        it->clock.start();
        log(LogLevel::Info, LogEventKind::JobStart, {}, it->job);
        Q_EMIT jobStarted(it->job);
    }
    if (!started.isEmpty())
        armDeadlineTimer();
    for (const Mailbox::Finished &f : std::as_const(finished)) {
        if (m_state == Runner::State::Stopped)
            break; // finished while handling the previous one
        onHandlerFinished(f.id, f.result, f.durationMs);
    }
}

QJsonObject RunnerCore::errorJson(const QString &kind, const QString &message,
                                  const QJsonObject &details)
{
    QJsonObject error = details;
    error.insert(u"message"_s, message);
    error.insert(u"kind"_s,
                 details.contains(u"kind"_s) ? details.value(u"kind"_s).toString() : kind);
    error.insert(u"worker"_s, m_worker);
    return error;
}

void RunnerCore::onHandlerFinished(qint64 id, const HandlerResult &result, qint64 durationMs)
{
    auto it = m_running.find(id);
    if (it == m_running.end())
        return;
    Running r = it.value();
    m_running.erase(it);
    countRunning();
    if (m_running.isEmpty())
        m_heartbeatTimer.stop();

    switch (r.fate) {
    case Fate::Running: {
        JobOutcome outcome;
        outcome.id = id;
        outcome.success = result.ok;
        if (result.ok) {
            outcome.result = result.result;
            outcome.deleteOnSuccess = m_config.deleteSuccessfulJobs;
        } else {
            outcome.error = errorJson(u"error"_s, result.errorMessage, result.errorDetails);
            outcome.retryDelaySeconds = m_config.backoff.delaySeconds(r.job.attempts);
        }
        queueOutcome(r, outcome, durationMs);
        break;
    }
    case Fate::TimedOut:
        if (!r.outcomeQueued) {
            queueOutcome(r, timeoutOutcome(r, {}), durationMs);
        }
        break;
    case Fate::Cancelled:
    case Fate::LockLost:
        break; // the row is someone else's now; the late outcome is discarded
    case Fate::HandedBack:
        // Still ours and locked: released in finish(), now that the handler has returned (a
        // write in flight can make finish() wait while handlers return).
        m_returnedHandedBack << r.job;
        break;
    }
    if (auto d = m_deferred.constFind(id);
        d != m_deferred.cend() && m_state == Runner::State::Running) {
        const Job next = *d;
        m_deferred.erase(d);
        dispatch({ next });
    }
    if (m_state == Runner::State::Draining || m_state == Runner::State::Stopping)
        maybeFinish();
    else if (m_pending.isEmpty() || (m_writer && wantsMore()))
        // The slot is free now. PostgreSQL claims while the outcomes are written (the claim
        // starts the write first); SQLite writes first, then claims.
        scheduleClaim();
}

bool RunnerCore::wantsMore() const
{
    // A slot is free, or the prefetched jobs waiting in the pool are down to half. Where
    // batches are claimed on lanes while the held jobs run, one claim at a time (claimNow()),
    // the runner asks as soon as there is room: each claim takes what ran during the one
    // before, and the held jobs do not run out while a claim is out.
    const int prefetch = std::max(0, m_config.prefetch);
    return int(m_running.size()) + m_arriving
        < capacity() + (batchesOnLanes() ? prefetch : (prefetch + 1) / 2);
}

JobOutcome RunnerCore::timeoutOutcome(const Running &r, const QString &note)
{
    JobOutcome outcome;
    outcome.id = r.job.id;
    outcome.error = errorJson(
        u"timeout"_s,
        u"timed out after %1 s"_s.arg(r.job.timeoutSeconds.value_or(m_config.defaultTimeoutSeconds))
            + note);
    outcome.retryDelaySeconds = m_config.backoff.delaySeconds(r.job.attempts);
    return outcome;
}

void RunnerCore::queueOutcome(const Running &r, const JobOutcome &outcome, qint64 durationMs)
{
    m_pending.append(Pending { outcome, r.job, durationMs });
    // Nothing else running could join this batch within the flush delay (on PostgreSQL: and
    // no claim is coming whose jobs could): write it now.
    if (m_running.isEmpty() && m_state == Runner::State::Running
        && !(m_writer && m_mayHaveWork && acceptsWork()))
        flush();
    else
        scheduleFlush();
}

void RunnerCore::scheduleFlush()
{
    if (!m_flushTimer.isActive())
        m_flushTimer.start();
}

void RunnerCore::flush()
{
    m_flushTimer.stop();
    // A write in flight flushes again when it returns, as does the writer's opening.
    if (m_pending.isEmpty() || !m_connected || !m_store || m_inFlight > 0)
        return;
    if (m_writer && m_writer->busy() && m_state == Runner::State::Running)
        return; // its connection is being opened: flushed once it is
    QList<JobOutcome> outcomes;
    outcomes.reserve(m_pending.size());
    for (const Pending &p : std::as_const(m_pending))
        outcomes << p.outcome;
    if (m_writer && m_state == Runner::State::Running) {
        m_inFlight = m_pending.size();
        for (const JobOutcome &o : std::as_const(outcomes))
            m_inFlightIds.insert(o.id);
        auto written = std::make_shared<QList<WrittenOutcome>>();
        m_writer->submit(
            [written, outcomes = std::move(outcomes), worker = m_worker,
             maxAttempts = m_config.defaultMaxAttempts](JobStore &store) -> Result<void> {
                auto w = store.complete(worker, outcomes, maxAttempts);
                if (!w)
                    return w.error();
                *written = std::move(*w);
                return {};
            },
            [this, written](const Result<void> &result, bool ran) {
                onWritten(result, ran, *written);
            });
        return;
    }
    // SQLite (one writer at a time anyway), and the last outcomes while stopping.
    auto written = m_store->complete(m_worker, outcomes, m_config.defaultMaxAttempts);
    if (!written) {
        handleStoreError(written.error(), u"write outcomes"_s);
        return; // kept in m_pending, written after the reconnect
    }
    recordWritten(m_pending.size(), *written);
}

void RunnerCore::collectLanes()
{
    // Taken from every lane before any runs: one may finish the runner and stop the lanes.
    QList<std::function<void()>> done;
    if (m_writer) {
        if (auto f = m_writer->takeDone())
            done << std::move(f);
    }
    for (StoreLane *lane : std::as_const(m_claimLanes)) {
        if (auto f = lane->takeDone())
            done << std::move(f);
    }
    for (const auto &f : std::as_const(done)) {
        if (m_state == Runner::State::Stopped)
            break;
        f();
    }
}

void RunnerCore::onWritten(const Result<void> &result, bool ran,
                           const QList<WrittenOutcome> &written)
{
    const qsizetype count = std::exchange(m_inFlight, 0);
    m_inFlightIds.clear();
    m_writerConnected = m_writerConnected || ran;
    if (!ran && !m_claimLanes.isEmpty())
        restClaimLanes(); // they may hold the slots the writer needs (after a restart, say)
    if (!result)
        handleStoreError(result.error(), u"write outcomes"_s); // kept in m_pending
    else
        recordWritten(count, written);
    // Claimed again before this reply came (see admit()).
    if (m_state == Runner::State::Running) {
        QList<Job> ready;
        for (const Job &job : m_deferred.values()) {
            if (!m_running.contains(job.id)) {
                m_deferred.remove(job.id);
                ready << job;
            }
        }
        dispatch(ready);
    }
    if (m_state == Runner::State::Draining || m_state == Runner::State::Stopping) {
        maybeFinish();
        return;
    }
    if (result && !m_pending.isEmpty())
        scheduleFlush(); // finished while the last write was in flight
}

void RunnerCore::retireClaimLanes()
{
    for (auto it = m_claimLanes.begin(); it != m_claimLanes.end();) {
        if ((*it)->busy()) {
            ++it;
            continue;
        }
        (*it)->stop();
        it = m_claimLanes.erase(it);
    }
}

int RunnerCore::idleClaimLanes() const
{
    if (!m_writerConnected || !m_connected)
        return 0; // SQLite (no writer), or not now
    if (claimLanesResting())
        return 0;
    int idle = std::max(0, m_config.claimConnections - 1 - int(m_claimLanes.size()));
    for (const StoreLane *lane : m_claimLanes)
        idle += lane->busy() ? 0 : 1;
    return idle;
}

// Claims on a lane while the runner thread claims on its own connection (see claimNow()).
// Batched on lanes, each claim takes a stretch of claim order of its own: the key its last row
// can have is looked up first (an index walk on the runner's connection that locks nothing),
// and the next claim starts after it. The stretch is fixed before the claim runs, so the next
// lookup never counts rows a claim of this runner has taken meanwhile: claims run side by side
// without stepping over each other's rows, and none passes over rows the others leave. Where
// fewer rows are runnable, the claim takes what there is (an open claim) and no other goes
// until it is back.
bool RunnerCore::claimOnLane(ClaimRequest request, bool beside)
{
    request.after = m_claimedUpTo;
    LaneClaim claim;
    // Only where a claim can go out beside this one: one claim at a time needs no stretch,
    // and the lookup would be a round trip per claim for nothing (the defaults, ten slots, no
    // prefetch and claims of up to 500, lost a quarter of their throughput to it).
    if (stretchesPay() && beside) {
        auto end = m_store->claimRangeEnd(request);
        if (!end) {
            resetClaimBound();
            handleStoreError(end.error(), u"claim"_s);
            return false;
        }
        if (*end) {
            request.upTo = *end;
            if (!m_claimedUpTo)
                m_claimedUpToSince.start();
            m_claimedUpTo = *end;
        } else {
            claim.open = true;
            ++m_openClaims;
        }
    }
    claim.limit = request.limit;
    claim.upTo = request.upTo;
    claim.generation = m_workGeneration;
    claim.epoch = m_claimBoundEpoch;
    StoreLane *lane = nullptr;
    for (StoreLane *l : std::as_const(m_claimLanes)) {
        if (!l->busy()) {
            lane = l;
            break;
        }
    }
    if (!lane) {
        lane = new StoreLane(u"oddjobs-claim-%1"_s.arg(m_claimLanes.size() + 1), m_config, m_worker,
                             this, true);
        m_claimLanes << lane;
    }
    m_claimingLimit += claim.limit;
    struct Claimed
    {
        QList<Job> jobs;
        ClaimKey last;
    };
    auto claimed = std::make_shared<Claimed>();
    lane->submit(
        [claimed, request = std::move(request)](JobStore &store) -> Result<void> {
            auto jobs = store.claim(request, &claimed->last);
            if (!jobs)
                return jobs.error();
            claimed->jobs = std::move(*jobs);
            return {};
        },
        [this, claim, claimed](const Result<void> &result, bool ran) {
            onLaneClaimed(claim, result, ran, claimed->jobs, claimed->last);
        });
    return true;
}

// PostgreSQL: a claim walks the claim index from its start, and the entries of rows claimed
// since the last vacuum are still there, dead: draining a backlog, each claim would step over
// all the rows claimed before it. So the next claim starts after the last row claimed.
// Nothing runnable lies before it unless something changed since: any sign of new work
// (a notification, a poll, a rescue, a reconnect: noteWork()) and any claim that failed or
// came back short start again from the beginning. Rows that come before it without a
// notification (a run_at reached, a priority raised by an edit, a row another session held
// locked while a claim passed it) are passed over until the bound is ClaimBoundMaxAgeMs old;
// then a claim starts from the beginning again. `last` is the key of the claim's last row,
// and counts only if the claim took all it asked for and no reset came after it was sent.
void RunnerCore::noteClaimed(quint64 epoch, qsizetype claimed, int limit, const ClaimKey &last)
{
    const bool full = claimed > 0 && claimed == limit;
    if (!full || m_config.connection.backend != Backend::PostgreSql) {
        resetClaimBound();
        return;
    }
    if (epoch != m_claimBoundEpoch)
        return; // sent before a reset: the next claim starts from the beginning
    if (!m_claimedUpTo)
        m_claimedUpToSince.start();
    if (!m_claimedUpTo || *m_claimedUpTo < last)
        m_claimedUpTo = last;
}

void RunnerCore::onLaneClaimed(const LaneClaim &claim, const Result<void> &result, bool ran,
                               const QList<Job> &jobs, const ClaimKey &last)
{
    m_claimingLimit -= claim.limit;
    if (claim.open)
        --m_openClaims;
    if (claimLanesResting())
        retireClaimLanes(); // this one too, now that its claim is back
    if (!ran) {
        if (claim.upTo)
            resetClaimBound(); // its stretch lies behind the bound, unclaimed
        // No connection for the lane (the server's or the role's connection slots are taken,
        // say): that is no outage while the runner's own connection works. Claims go on there
        // alone for a while; a real outage shows there soon enough.
        if (!std::exchange(m_laneWarned, true)) {
            log(LogLevel::Warning, LogEventKind::DatabaseError,
                u"cannot open another claiming connection, claiming on one for a while: "_s
                    + result.error().message);
        }
        restClaimLanes();
        if (m_mayHaveWork && acceptsWork() && wantsMore())
            scheduleClaim();
        maybeFinish();
        return;
    }
    m_laneWarned = false;
    if (!result) {
        resetClaimBound();
        handleStoreError(result.error(), u"claim"_s);
        maybeFinish();
        return;
    }
    if (m_state != Runner::State::Running) {
        // Stopping meanwhile: these never start.
        releaseRows(jobs, u"claimed"_s);
        maybeFinish();
        return;
    }
    // The rows are ours even if the runner's connection broke meanwhile: they run, and their
    // locks are refreshed once it is back.
    if (!claim.upTo) {
        noteClaimed(claim.epoch, jobs.size(), claim.limit, last);
        if (jobs.size() < claim.limit && claim.generation == m_workGeneration)
            m_mayHaveWork = false; // unless something new came since the claim was sent
    } else if (jobs.size() == claim.limit && last < *claim.upTo) {
        // A stretch filled before its end: rows became runnable inside it after the lookup
        // (a run_at reached, a priority changed by plain SQL) and the rest of it lies behind
        // the bound. (A stretch coming back short says nothing of the rows after it: other
        // workers took some of its rows. The bound moved past it when it was sent.)
        resetClaimBound();
    }
    // Batched on lanes, the next claim goes out before these are handed over: the lane's
    // server process would otherwise idle while this thread admits a few hundred jobs. (An
    // empty reply has nothing to overlap with: its claim is scheduled below.)
    if (m_mayHaveWork && batchesOnLanes() && !jobs.isEmpty()) {
        m_arriving = int(jobs.size());
        if (wantsMore())
            claimNow();
        m_arriving = 0;
    }
    dispatch(jobs);
    if (m_mayHaveWork && acceptsWork() && wantsMore())
        scheduleClaim();
}

void RunnerCore::recordWritten(qsizetype count, const QList<WrittenOutcome> &written)
{
    QHash<qint64, WrittenOutcome> byId;
    byId.reserve(written.size());
    for (const WrittenOutcome &w : written)
        byId.insert(w.id, w);
    const QList<Pending> done = m_pending.first(count);
    m_pending.remove(0, count);
    for (const Pending &p : done) {
        Job job = p.job;
        auto w = byId.find(job.id);
        if (w == byId.end()) {
            log(LogLevel::Warning, LogEventKind::JobLockLost,
                u"outcome discarded: the job was changed by someone else while it ran"_s, job,
                p.durationMs);
            continue;
        }
        job.status = w->status;
        job.lockedBy.clear();
        job.lockedAt = QDateTime();
        if (w->status == JobStatus::Success) {
            job.result = p.outcome.result;
            log(LogLevel::Info, LogEventKind::JobSuccess, {}, job, p.durationMs);
            Q_EMIT jobSucceeded(job, p.durationMs);
        } else {
            job.lastError = p.outcome.error;
            const QString message = p.outcome.error.toObject().value(u"message"_s).toString();
            if (w->status == JobStatus::Retry) {
                log(LogLevel::Warning, LogEventKind::JobFailed,
                    u"%1 (retry in %2 s)"_s.arg(message).arg(p.outcome.retryDelaySeconds), job,
                    p.durationMs);
                Q_EMIT jobFailed(job, p.outcome.error, p.durationMs);
            } else {
                log(LogLevel::Error, LogEventKind::JobPermanentlyFailed, message, job,
                    p.durationMs);
                Q_EMIT jobPermanentlyFailed(job, p.outcome.error, p.durationMs);
            }
        }
    }
    // Freed slots: look for more work right away (one round trip for many jobs).
    if (acceptsWork() && m_mayHaveWork && wantsMore())
        scheduleClaim();
}

void RunnerCore::poll()
{
    m_pollTimer.stop();
    if (m_state != Runner::State::Running)
        return;
    if (m_connected) {
        log(LogLevel::Debug, LogEventKind::Poll, {});
        // Rescue dead workers' jobs a few times per lock timeout, not on every poll.
        if (m_sinceRescue.elapsed() >= qMin<qint64>(m_config.lockTimeoutSeconds * 250, 15000)) {
            m_sinceRescue.restart();
            auto rescued
                = m_store->rescueExpired(m_config.lockTimeoutSeconds, m_config.defaultMaxAttempts);
            if (!rescued) {
                handleStoreError(rescued.error(), u"rescue expired locks"_s);
            } else {
                for (const WrittenOutcome &w : std::as_const(*rescued)) {
                    log(LogLevel::Warning, LogEventKind::JobRescued,
                        u"job %1 of a dead worker moved to %2"_s.arg(w.id).arg(
                            statusToString(w.status)));
                }
                if (!rescued->isEmpty())
                    noteWork();
            }
        }
        if (m_connected && m_config.retentionSeconds > 0
            && (!m_sincePrune.isValid() || m_sincePrune.elapsed() >= PruneIntervalMs))
            prune();
        // A LISTEN connection can die without a sound, and a query on one whose peer went
        // silent waits as long as TCP keeps it open (many minutes, the runner thread stuck).
        // So nothing waits on it: each check sends a notification on our channel over the
        // claiming connection, and the LISTEN connection must have delivered something by the
        // next check (at least a second later).
        if (m_connected && m_config.connection.backend == Backend::PostgreSql
            && m_sinceListenCheck.elapsed() >= std::clamp(m_config.pollIntervalMs, 1000, 30000)) {
            m_sinceListenCheck.restart();
            if (!m_listenDb.isValid() || !m_listenDb.isOpen() || m_listenPingPending) {
                log(LogLevel::Warning, LogEventKind::DatabaseError,
                    u"the notification connection is gone; opening it again"_s);
                openListener();
            }
            if (m_listenDb.isValid())
                pingListener();
        }
        noteWork();
        if (m_connected)
            claimNow();
    }
    if (m_state == Runner::State::Running)
        m_pollTimer.start(m_config.pollIntervalMs);
}

// Notifies our own channel over the claiming connection; onNotification() clears the flag.
void RunnerCore::pingListener()
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT pg_notify(?, ?)"_s);
    q.addBindValue(m_config.store.table.notificationChannel());
    q.addBindValue(QString::fromUtf8(
        QJsonDocument(QJsonObject { { u"ping"_s, m_worker } }).toJson(QJsonDocument::Compact)));
    if (!q.exec()) {
        handleStoreError(Internal::mapSqlError(Backend::PostgreSql, q.lastError(),
                                               u"cannot check the notification connection"_s),
                         u"notify"_s);
        return;
    }
    m_listenPingPending = true;
}

QList<qint64> RunnerCore::lockedIds() const
{
    QList<qint64> ids = m_deferred.keys();
    for (auto it = m_running.cbegin(); it != m_running.cend(); ++it) {
        if (holdsLock(*it) && !m_deferred.contains(it.key()))
            ids << it.key();
    }
    return ids;
}

void RunnerCore::heartbeat()
{
    if (!m_connected || !m_store)
        return;
    QList<qint64> ids = lockedIds();
    for (const Pending &p : std::as_const(m_pending)) {
        if (!ids.contains(p.job.id))
            ids << p.job.id;
    }
    if (ids.isEmpty())
        return;
    auto held = m_store->heartbeat(m_worker, ids);
    if (!held) {
        handleStoreError(held.error(), u"refresh locks"_s);
        return;
    }
    if (held->size() != ids.size())
        checkCancellations();
}

// SQLite: another connection committed (an enqueue, a cancel, ...): look for work and for
// cancelled jobs.
void RunnerCore::watchChanges()
{
    if (!m_connected || !m_store)
        return;
    QSqlQuery q(m_store->database());
    if (!q.exec(u"PRAGMA data_version"_s) || !q.next())
        return;
    const qint64 version = q.value(0).toLongLong();
    q.finish();
    if (version == m_sqliteDataVersion)
        return;
    m_sqliteDataVersion = version;
    noteWork();
    scheduleClaim();
    if (!m_running.isEmpty())
        checkCancellations();
}

// Finds running jobs this worker no longer holds: cancelled (stop the handler, discard the
// outcome) or taken over after a lost lock.
void RunnerCore::checkCancellations()
{
    if (!m_connected || !m_store)
        return;
    const QList<qint64> ids = lockedIds();
    if (ids.isEmpty())
        return;
    auto held = m_store->stillHeld(m_worker, ids);
    if (!held) {
        handleStoreError(held.error(), u"check job locks"_s);
        return;
    }
    for (qint64 id : std::as_const(ids)) {
        if (std::binary_search(held->cbegin(), held->cend(), id))
            continue;
        auto current = m_store->find(id);
        const bool cancelled = current && (!*current || (*current)->status == JobStatus::Cancelled);
        if (auto d = m_deferred.find(id); d != m_deferred.end()) {
            // Never started: nothing to stop, and the row is not ours any more.
            log(LogLevel::Info, cancelled ? LogEventKind::JobCancelled : LogEventKind::JobLockLost,
                u"changed by someone else before it started; not running it"_s, *d);
            m_deferred.erase(d);
            continue;
        }
        if (auto r = m_running.find(id);
            r != m_running.end() && r->fate == Fate::Running && !r->started && trySkip(*r)) {
            log(LogLevel::Info, cancelled ? LogEventKind::JobCancelled : LogEventKind::JobLockLost,
                u"changed by someone else before it started; not running it"_s, r->job);
            m_running.erase(r);
            countRunning();
            continue;
        }
        requestStop(id, cancelled ? Fate::Cancelled : Fate::LockLost,
                    cancelled ? StopReason::Cancelled : StopReason::Cancelled);
    }
}

void RunnerCore::requestStop(qint64 id, Fate fate, StopReason reason)
{
    auto it = m_running.find(id);
    if (it == m_running.end())
        return;
    if (it->fate != Fate::Running && !(it->fate == Fate::TimedOut && fate != Fate::TimedOut))
        return;
    it->fate = fate;
    it->control->requestStop(reason);
    it->grace = QDeadlineTimer(m_config.stopGraceMs);
    const Job job = it->job;
    // A start may still be in the mailbox: the handler runs, but this thread has no clock yet.
    const std::optional<qint64> elapsed
        = it->started ? std::optional<qint64>(it->clock.elapsed()) : std::nullopt;
    switch (fate) {
    case Fate::TimedOut:
        log(LogLevel::Warning, LogEventKind::JobTimeout,
            u"deadline of %1 s passed; asking the handler to stop"_s.arg(
                job.timeoutSeconds.value_or(m_config.defaultTimeoutSeconds)),
            job, elapsed);
        Q_EMIT jobTimedOut(job);
        break;
    case Fate::Cancelled:
        log(LogLevel::Info, LogEventKind::JobCancelled,
            u"cancelled while running; handler asked to stop"_s, job, elapsed);
        Q_EMIT jobCancelled(job);
        break;
    case Fate::LockLost:
        log(LogLevel::Warning, LogEventKind::JobLockLost,
            u"another worker took the job over (lock expired); handler asked to stop"_s, job);
        break;
    case Fate::HandedBack:
    case Fate::Running:
        break;
    }
    armDeadlineTimer();
}

void RunnerCore::armDeadlineTimer()
{
    qint64 next = -1;
    for (auto it = m_running.cbegin(); it != m_running.cend(); ++it) {
        qint64 remaining = -1;
        if (!it->started)
            continue; // no deadline before the handler starts
        if (it->fate == Fate::Running)
            remaining = it->control->deadline.remainingTime();
        else if (it->fate == Fate::TimedOut && !it->outcomeQueued)
            remaining = it->grace.remainingTime();
        if (remaining >= 0 && (next < 0 || remaining < next))
            next = remaining;
    }
    if (next >= 0)
        m_deadlineTimer.start(int(std::min<qint64>(next + 1, 24 * 3600 * 1000)));
    else
        m_deadlineTimer.stop();
}

void RunnerCore::checkDeadlines()
{
    QList<qint64> expired;
    for (auto it = m_running.begin(); it != m_running.end(); ++it) {
        if (!it->started)
            continue;
        if (it->fate == Fate::Running && it->control->deadline.hasExpired()) {
            expired << it.key();
        } else if (it->fate == Fate::TimedOut && !it->outcomeQueued && it->grace.hasExpired()) {
            // The handler ignores the request to stop. Record the timeout now so the job is not
            // stuck; its slot stays busy until the handler really returns.
            it->outcomeQueued = true;
            queueOutcome(it.value(),
                         timeoutOutcome(it.value(), u"; the handler ignored the request to stop"_s),
                         it->clock.elapsed());
        }
    }
    for (qint64 id : std::as_const(expired))
        requestStop(id, Fate::TimedOut, StopReason::TimedOut);
    armDeadlineTimer();
}

void RunnerCore::handleStoreError(const Error &error, const QString &what)
{
    if (error.code == ErrorCode::ConnectionFailed) {
        connectionLost(error);
        return;
    }
    log(LogLevel::Error, LogEventKind::DatabaseError,
        u"%1 failed: %2"_s.arg(what, error.toString()));
    Q_EMIT databaseError(error.message);
}

void RunnerCore::connectionLost(const Error &error)
{
    if (m_connected || m_reconnectAttempt == 0) {
        log(LogLevel::Error, LogEventKind::DatabaseError,
            u"database unavailable, jobs keep running and outcomes are kept: "_s + error.message);
        Q_EMIT databaseError(error.message);
        m_lastConnectionError = error.message;
    }
    m_connected = false;
    m_changeWatchTimer.stop();
    if (!m_reconnectTimer.isActive()) {
        const int delay = std::min(30000, 250 << std::min(m_reconnectAttempt, 7));
        ++m_reconnectAttempt;
        m_reconnectTimer.start(delay);
    }
}

void RunnerCore::reconnect()
{
    Result<void> r;
    if (!m_store) {
        auto store = JobStore::open(m_config.connection, m_config.store);
        if (store) {
            m_store = std::move(*store);
            if (m_config.migrate) {
                if (auto m = m_store->migrate(); !m)
                    r = m.error();
            }
            if (r)
                r = m_store->checkSchema();
        } else {
            r = store.error();
        }
        if (r)
            tuneConnection();
    } else {
        r = reconnectStore();
    }
    if (!r) {
        if (r.error().code != ErrorCode::ConnectionFailed
            && r.error().code != ErrorCode::AuthenticationFailed) {
            log(LogLevel::Error, LogEventKind::DatabaseError, r.error().message);
            Q_EMIT databaseError(r.error().message);
        } else if (r.error().message != m_lastConnectionError) {
            // Why the database is still out of reach (down, out of connection slots, refusing
            // the password, ...): once per reason, not once per attempt.
            log(LogLevel::Warning, LogEventKind::DatabaseError,
                u"still no database connection, retrying: "_s + r.error().message);
        }
        m_lastConnectionError = r.error().message;
        m_connected = false;
        const int delay = std::min(30000, 250 << std::min(m_reconnectAttempt, 7));
        ++m_reconnectAttempt;
        m_reconnectTimer.start(delay);
        return;
    }
    m_reconnectAttempt = 0;
    m_connected = true;
    log(LogLevel::Info, LogEventKind::Reconnected, u"database connection restored"_s);
    if (m_writer)
        openWriter(); // if it never connected: before any lane (outcomes flush after it)
    openListener();
    m_sinceListenCheck.restart();
    if (!m_sinceRescue.isValid())
        m_sinceRescue.start();
    flush();
    // The outage ate into the lock timeout of every job held here: refresh the locks now
    // rather than at the next heartbeat, so no rescue takes a job that is still running.
    heartbeat();
    if (m_state == Runner::State::Running) {
        noteWork();
        poll();
    } else {
        maybeFinish();
    }
}

void RunnerCore::beginStop()
{
    if (m_state != Runner::State::Running && m_state != Runner::State::Starting)
        return;
    setState(Runner::State::Draining);
    m_pollTimer.stop();
    m_drainTimer.start(std::max(0, m_config.shutdownTimeoutMs));
    // Jobs that have not started go back now: another worker may run them while we drain.
    releaseDeferred();
    maybeFinish();
}

void RunnerCore::stopNow()
{
    if (m_state == Runner::State::Stopped)
        return;
    setState(Runner::State::Stopping);
    m_pollTimer.stop();
    m_drainTimer.stop();
    handBackAll();
    maybeFinish();
}

// Asks every running handler to stop. Their rows go back to the queue in finish(), and only
// once their handlers have returned: a row handed back earlier could be claimed by another
// worker while this handler still finishes its current step.
void RunnerCore::handBackAll()
{
    // Jobs no thread has taken up never run: they go back with the deferred ones, at once
    // (maybeFinish() releases them before anything waits).
    for (const Job &job : takeBackUnstarted())
        m_deferred.insert(job.id, job);
    for (auto it = m_running.begin(); it != m_running.end(); ++it) {
        if (it->fate == Fate::Running) {
            it->fate = Fate::HandedBack;
            it->control->requestStop(StopReason::Shutdown);
        } else if (it->fate == Fate::TimedOut && !it->outcomeQueued) {
            it->outcomeQueued = true;
            it->control->requestStop(StopReason::Shutdown);
            queueOutcome(it.value(), timeoutOutcome(it.value(), {}), it->clock.elapsed());
        }
    }
}

// Hands back the rows of handed-back jobs whose handlers have returned (`returned`); a handler
// still running keeps its row locked, and another worker rescues the job after the lock timeout.
void RunnerCore::releaseHandedBack(const QSet<qint64> &returned)
{
    QList<Job> jobs = std::exchange(m_returnedHandedBack, {});
    for (auto it = m_running.cbegin(); it != m_running.cend(); ++it) {
        if (it->fate != Fate::HandedBack)
            continue;
        if (returned.contains(it.key())) {
            jobs << it->job;
        } else {
            log(LogLevel::Warning, LogEventKind::Text,
                u"the handler is still running after the request to stop; the job stays locked "
                "and another worker rescues it after the lock timeout"_s,
                it->job);
        }
    }
    releaseRows(jobs, u"running"_s);
}

// Puts the rows of `jobs` back in the queue (attempt not counted), on the runner's connection,
// reconnecting once if it is down; each is logged, or one error says the rescue will do it.
void RunnerCore::releaseRows(const QList<Job> &jobs, const QString &which)
{
    if (jobs.isEmpty() || !m_store)
        return;
    if (!m_connected && reconnectStore())
        m_connected = true;
    QList<qint64> ids;
    for (const Job &job : jobs)
        ids << job.id;
    auto released = m_connected
        ? m_store->release(m_worker, ids)
        : Result<int>(makeError(ErrorCode::ConnectionFailed, u"not connected"_s));
    if (!released) {
        log(LogLevel::Error, LogEventKind::DatabaseError,
            u"could not hand back %1 %2 jobs (%3); another worker rescues them after the lock "
            "timeout"_s.arg(ids.size())
                .arg(which, released.error().message));
        return;
    }
    for (const Job &job : jobs)
        log(LogLevel::Info, LogEventKind::JobHandedBack, u"handed back to the queue"_s, job);
}

QList<Job> RunnerCore::takeBackUnstarted()
{
    QList<Job> taken;
    for (auto it = m_running.begin(); it != m_running.end();) {
        if (it->fate == Fate::Running && !it->started && trySkip(*it)) {
            taken << it->job;
            it = m_running.erase(it);
            countRunning();
        } else {
            ++it;
        }
    }
    return taken;
}

// Deferred and prefetched jobs never started: they go back to the queue on shutdown.
void RunnerCore::releaseDeferred()
{
    QList<Job> jobs = std::exchange(m_deferred, {}).values();
    jobs << takeBackUnstarted();
    releaseRows(jobs, u"claimed"_s);
}

void RunnerCore::maybeFinish()
{
    if (m_state != Runner::State::Draining && m_state != Runner::State::Stopping)
        return;
    if (m_inFlight > 0 || m_claimingLimit > 0)
        return; // onWritten() and onLaneClaimed() come back here
    flush();
    bool busy = false;
    for (auto it = m_running.cbegin(); it != m_running.cend(); ++it) {
        if (it->fate == Fate::Running || (it->fate == Fate::TimedOut && !it->outcomeQueued))
            busy = true;
    }
    if (m_state == Runner::State::Draining && busy)
        return;
    releaseDeferred();
    if (!m_pending.isEmpty() && m_connected)
        flush();
    if (!m_pending.isEmpty()) {
        log(LogLevel::Error, LogEventKind::DatabaseError,
            u"%1 outcomes could not be written; those jobs run again after the lock timeout"_s.arg(
                m_pending.size()));
    }
    finish();
}

void RunnerCore::stopLanes()
{
    for (StoreLane *lane : std::exchange(m_claimLanes, {}))
        lane->stop();
    if (m_writer)
        std::exchange(m_writer, nullptr)->stop();
    m_inFlight = 0;
    m_inFlightIds.clear();
    m_claimingLimit = 0;
    m_openClaims = 0;
}

void RunnerCore::finish()
{
    m_state = Runner::State::Stopping;
    for (QTimer *t : { &m_pollTimer, &m_flushTimer, &m_heartbeatTimer, &m_deadlineTimer,
                       &m_reconnectTimer, &m_changeWatchTimer, &m_drainTimer, &m_pruneTimer })
        t->stop();
    // Handlers still running were asked to stop; give them a moment, but a handler that
    // ignores every request cannot hold the process hostage.
    for (auto it = m_running.begin(); it != m_running.end(); ++it) {
        trySkip(*it);
        it->control->requestStop(StopReason::Shutdown);
    }
    m_pool->waitForDone(m_running.isEmpty() ? -1 : 1000);
    QSet<qint64> returned; // handlers that returned since the last drainMailbox()
    {
        QMutexLocker lock(&m_mailbox->mutex);
        m_mailbox->target = nullptr;
        for (const Mailbox::Finished &finished : std::as_const(m_mailbox->finished))
            returned.insert(finished.id);
    }
    releaseHandedBack(returned);
    stopLanes();
    closeListener();
    m_store.reset();
    setState(Runner::State::Stopped);
    tsanHandOver(this); // the Runner deletes us once this thread has ended
    Q_EMIT finished();
}

// --- the public object -----------------------------------------------------------------------

QString runnerStateName(Runner::State state)
{
    switch (state) {
    case Runner::State::Stopped:
        return u"stopped"_s;
    case Runner::State::Starting:
        return u"starting"_s;
    case Runner::State::Running:
        return u"running"_s;
    case Runner::State::Draining:
        return u"draining"_s;
    case Runner::State::Stopping:
        return u"stopping"_s;
    }
    return u"stopped"_s;
}

QString Runner::defaultWorkerName()
{
    const QString suffix = QString::number(QRandomGenerator::global()->generate() & 0xffff, 16)
                               .rightJustified(4, u'0');
    return u"%1:%2:%3"_s.arg(QSysInfo::machineHostName())
        .arg(QCoreApplication::applicationPid())
        .arg(suffix);
}

Runner::Runner(RunnerConfig config, HandlerRegistry handlers, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_handlers(std::move(handlers))
    , m_workerName(m_config.workerName.isEmpty() ? defaultWorkerName() : m_config.workerName)
    , m_outbox(std::make_shared<Outbox>(this))
{
    qRegisterMetaType<OddJobs::Job>();
    qRegisterMetaType<OddJobs::LogEvent>();
}

void Runner::connectNotify(const QMetaMethod &signal)
{
    static const std::pair<QMetaMethod, Outbox::Signal> known[] = {
        { QMetaMethod::fromSignal(&Runner::jobStarted), Outbox::JobStarted },
        { QMetaMethod::fromSignal(&Runner::jobSucceeded), Outbox::JobSucceeded },
        { QMetaMethod::fromSignal(&Runner::jobFailed), Outbox::JobFailed },
        { QMetaMethod::fromSignal(&Runner::jobPermanentlyFailed), Outbox::JobPermanentlyFailed },
        { QMetaMethod::fromSignal(&Runner::jobTimedOut), Outbox::JobTimedOut },
        { QMetaMethod::fromSignal(&Runner::jobCancelled), Outbox::JobCancelled },
        { QMetaMethod::fromSignal(&Runner::logEvent), Outbox::LogEvent },
    };
    for (const auto &[method, which] : known) {
        if (signal == method)
            m_outbox->listened[which].store(true, std::memory_order_release);
    }
}

Runner::~Runner()
{
    if (m_thread) {
        stopNow();
        waitForStopped(m_config.shutdownTimeoutMs + 5000);
    }
}

int Runner::runningCount() const
{
    return m_core ? m_core->runningCount.load() : 0;
}

void Runner::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
    if (state == State::Stopped)
        Q_EMIT stopped();
}

void Runner::start()
{
    if (m_thread)
        return;
    m_thread = new QThread;
    m_thread->setObjectName(u"oddjobs-runner"_s);
    m_core = new RunnerCore(m_config, m_handlers, m_workerName, m_outbox);
    m_core->moveToThread(m_thread);
    connect(m_thread, &QThread::started, m_core, &RunnerCore::begin);
    // The core finishes in its thread; the thread then ends and the objects go.
    // Direct: the Runner's thread may be blocked in waitForStopped() (the destructor is), and
    // QThread::quit() is thread-safe.
    connect(m_core, &RunnerCore::finished, m_thread, &QThread::quit, Qt::DirectConnection);
    connect(m_thread, &QThread::finished, this, &Runner::reap);
    setState(State::Starting);
    m_thread->start();
}

void Runner::deliverNotes()
{
    if (m_outbox)
        m_outbox->deliver();
}

void Runner::coreStateChanged(State s)
{
    if (s == State::Stopped)
        return; // reported once the thread has really ended
    setState(s);
    if (s == State::Running)
        Q_EMIT started();
}

void Runner::stop()
{
    if (m_core)
        QMetaObject::invokeMethod(m_core, &RunnerCore::beginStop, Qt::QueuedConnection);
}

void Runner::stopNow()
{
    if (m_core)
        QMetaObject::invokeMethod(m_core, &RunnerCore::stopNow, Qt::QueuedConnection);
}

void Runner::wake()
{
    if (m_core)
        QMetaObject::invokeMethod(m_core, &RunnerCore::wake, Qt::QueuedConnection);
}

bool Runner::waitForStopped(int timeoutMs)
{
    if (!m_thread)
        return true;
    if (!m_thread->wait(QDeadlineTimer(timeoutMs)))
        return false;
    // The thread's finished() is delivered to us through the event loop; do its work now.
    reap();
    return true;
}

// The runner thread has ended: its objects go, once, whichever of finished() and
// waitForStopped() comes first.
void Runner::reap()
{
    if (!m_thread)
        return;
    tsanTakeOver(m_core);
    delete m_core;
    m_core = nullptr;
    m_thread->deleteLater();
    m_thread = nullptr;
    setState(State::Stopped);
}

} // namespace OddJobs

#include "runner.moc"
