#pragma once

#include "oddjobs/jobstore.h"
#include "oddjobs_ui_export.h"

#include <QObject>
#include <QPointer>
#include <QThread>
#include <functional>
#include <memory>

namespace OddJobs::Ui {

// The dashboard's only way to the database: a JobStore on a thread of its own, so no query
// ever runs on the GUI thread. Requests are functions run against the store there; results
// come back as values to a callback in the GUI thread, and are dropped if the callback's
// context object died in the meantime.
class ODDJOBS_UI_EXPORT StoreClient : public QObject
{
    Q_OBJECT
public:
    StoreClient(ConnectionSettings settings, StoreOptions options, QObject *parent = nullptr);
    ~StoreClient() override;

    const ConnectionSettings &settings() const { return m_settings; }
    const StoreOptions &options() const { return m_options; }
    bool isReadOnly() const { return m_options.readOnly; }

    // Opens the connection (and migrates, when asked) in the store thread; opened() follows.
    void open(bool migrate);

    template<typename T>
    void call(std::function<Result<T>(JobStore &)> work, QObject *context,
              std::function<void(const Result<T> &)> done)
    {
        QPointer<QObject> guard(context);
        post([this, work = std::move(work), guard, done = std::move(done)](JobStore *store) {
            auto result = store ? work(*store)
                                : Result<T>(makeError(ErrorCode::ConnectionFailed,
                                                      tr("Not connected to a database.")));
            deliver([guard, done, result] {
                if (guard)
                    done(result);
            });
        });
    }

Q_SIGNALS:
    void opened(bool ok, const QString &message);

private:
    void post(std::function<void(JobStore *)> work);
    void deliver(std::function<void()> callback);

    class Worker;
    ConnectionSettings m_settings;
    StoreOptions m_options;
    QThread m_thread;
    Worker *m_worker = nullptr;
};

} // namespace OddJobs::Ui
