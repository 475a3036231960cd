#include "storeclient.h"

#include <QMetaObject>

namespace OddJobs::Ui {

class StoreClient::Worker : public QObject
{
public:
    std::unique_ptr<JobStore> store;
};

StoreClient::StoreClient(ConnectionSettings settings, StoreOptions options, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    , m_options(std::move(options))
{
    m_thread.setObjectName(QStringLiteral("oddjobs-ui-store"));
    m_worker = new Worker;
    m_worker->moveToThread(&m_thread);
    m_thread.start();
}

StoreClient::~StoreClient()
{
    // The store must be closed in the thread that opened it.
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker] { w->store.reset(); }, Qt::BlockingQueuedConnection);
    m_thread.quit();
    m_thread.wait();
    delete m_worker;
}

void StoreClient::open(bool migrate)
{
    QMetaObject::invokeMethod(m_worker, [this, migrate] {
        m_worker->store.reset();
        auto store = JobStore::open(m_settings, m_options);
        Result<void> ready;
        if (store) {
            if (migrate && !m_options.readOnly) {
                if (auto m = (*store)->migrate(); !m)
                    ready = m.error();
            }
            if (ready)
                ready = (*store)->checkSchema();
        } else {
            ready = store.error();
        }
        const bool ok = ready.ok();
        const QString message = ok ? QString() : ready.error().message;
        if (ok)
            m_worker->store = std::move(*store);
        deliver([this, ok, message] { Q_EMIT opened(ok, message); });
    });
}

void StoreClient::post(std::function<void(JobStore *)> work)
{
    QMetaObject::invokeMethod(m_worker,
                              [w = m_worker, work = std::move(work)] { work(w->store.get()); });
}

void StoreClient::deliver(std::function<void()> callback)
{
    QMetaObject::invokeMethod(this, std::move(callback), Qt::QueuedConnection);
}

} // namespace OddJobs::Ui
