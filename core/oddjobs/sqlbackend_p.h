#pragma once

// Internal: one database connection with a statement cache, error mapping and the SQL
// fragments that differ between PostgreSQL and SQLite. Not installed, not public API.

#include "oddjobs/connectionsettings.h"
#include "oddjobs/job.h"
#include "oddjobs/jobstore.h"
#include "oddjobs/result.h"

#include <QElapsedTimer>
#include <QHash>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>
#include <memory>

struct pg_result;

namespace OddJobs::Internal {

template<typename T>
QVariant nullOf()
{
    return QVariant(QMetaType::fromType<T>());
}

// Maps a driver error to an Error. PostgreSQL: by SQLSTATE (a libpq error without one means
// the connection itself failed). SQLite: by its result code.
Error mapSqlError(Backend backend, const QSqlError &error, const QString &context);

// Serialize a JSON value of any kind (object, array or scalar) compactly.
QByteArray jsonText(const QJsonValue &value);
// Parse JSON text of any kind; Undefined on failure.
QJsonValue parseJson(const QString &text);
// The same from UTF-8 bytes, as libpq hands out text: an object or array is read without the
// round trip through UTF-16.
QJsonValue parseJsonUtf8(QByteArrayView utf8);

// The libpq result of a QPSQL query run by Connection::run(), holding every row (it is not
// forward-only there); nullptr for any other query or driver, or a result that returns no rows.
const pg_result *wholeLibpqResult(const QSqlQuery &query);

// {"a","b"} as a PostgreSQL array literal, elements quoted.
QString pgArrayLiteral(const QStringList &items);
QString pgArrayLiteral(const QList<qint64> &items);

// A QSqlDatabase opened for `settings` under a unique name in the calling thread, with the
// session set up (SQLite pragmas, PostgreSQL time zone and read-only mode).
Result<QSqlDatabase> openConnection(const ConnectionSettings &settings, const StoreOptions &options,
                                    const QString &connectionName);

class Connection
{
public:
    Connection(Backend backend, QSqlDatabase db);
    ~Connection();

    Backend backend() const { return m_backend; }
    bool isPostgres() const { return m_backend == Backend::PostgreSql; }
    QSqlDatabase &db() { return m_db; }

    // Runs a statement with positional (?) parameters. Statements are prepared once and
    // kept (up to a bound), so hot statements cost one round trip each.
    Result<QSqlQuery *> run(const QString &sql, const QVariantList &binds = {},
                            const QString &context = {});
    // A statement run once without parameters (DDL, BEGIN, ...).
    Result<void> exec(const QString &sql, const QString &context = {});
    void clearCache();
    // Finishes every cached statement (keeps them prepared).
    void clearCacheStatements();
    // PostgreSQL: drops the server's plans of this connection's prepared statements whenever
    // `ms` have passed since it last did, before the next statement runs, so every plan was
    // made at most that long ago, for the table as it was then. 0 (the default): never.
    void setReplanInterval(int ms);

    Error errorFrom(const QSqlError &error, const QString &context) const
    {
        return mapSqlError(m_backend, error, context);
    }

private:
    Backend m_backend;
    QSqlDatabase m_db;
    QHash<QString, std::shared_ptr<QSqlQuery>> m_cache;
    int m_replanIntervalMs = 0;
    QElapsedTimer m_sinceReplan;
};

// A transaction that rolls back unless committed. SQLite write transactions start with
// BEGIN IMMEDIATE so two writers never deadlock upgrading a read lock.
class Transaction
{
public:
    enum Kind
    {
        Read,
        Write
    };
    explicit Transaction(Connection &connection, Kind kind = Write);
    ~Transaction();
    Result<void> begin();
    Result<void> commit();
    void rollback();

private:
    Connection &m_connection;
    Kind m_kind;
    bool m_active = false;
};

} // namespace OddJobs::Internal
