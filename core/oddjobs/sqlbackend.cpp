#include "oddjobs/logging.h"
#include "oddjobs/sqlbackend_p.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDriver>
#include <QSqlResult>
#include <QVersionNumber>
#include <algorithm>
#include <libpq-fe.h>

using namespace Qt::StringLiterals;

namespace OddJobs::Internal {

namespace {
constexpr int StatementCacheLimit = 256;

bool looksLikeAuthenticationFailure(const QString &text)
{
    // A failed connection attempt carries no SQLSTATE through the Qt driver (libpq reports it
    // as text only), so this is the one place we must look at the text. The server runs with
    // lc_messages in English by default; anything else is reported as ConnectionFailed.
    return text.contains(u"password authentication failed"_s)
        || text.contains(u"no password supplied"_s) || text.contains(u"authentication failed"_s)
        || text.contains(u"SASL authentication"_s);
}
} // namespace

Error mapSqlError(Backend backend, const QSqlError &error, const QString &context)
{
    const QString code = error.nativeErrorCode();
    QString text = error.databaseText().trimmed();
    if (text.isEmpty())
        text = error.driverText().trimmed();
    text.replace(u'\n', u' ');
    const QString message = context.isEmpty() ? text : context + u": "_s + text;

    if (backend == Backend::PostgreSql) {
        if (error.type() == QSqlError::ConnectionError) {
            if (looksLikeAuthenticationFailure(text))
                return makeError(ErrorCode::AuthenticationFailed, message, code);
            return makeError(ErrorCode::ConnectionFailed, message, code);
        }
        if (code.isEmpty()) // libpq's own errors: the connection is gone or unusable
            return makeError(ErrorCode::ConnectionFailed, message, code);
        if (code.startsWith(u"08") || code.startsWith(u"57P") || code == u"53300")
            return makeError(ErrorCode::ConnectionFailed, message, code);
        if (code == u"28P01" || code == u"28000")
            return makeError(ErrorCode::AuthenticationFailed, message, code);
        if (code == u"25006")
            return makeError(ErrorCode::ReadOnly, message + u" (the store is open read-only)"_s,
                             code);
        if (code == u"22P05" || code == u"2203D" || code == u"22032")
            return makeError(ErrorCode::InvalidJson, message, code);
        if (code.startsWith(u"22"))
            return makeError(ErrorCode::InvalidArgument, message, code);
        if (code == u"42P01")
            return makeError(ErrorCode::SchemaMissing, message, code);
        if (code == u"42703")
            return makeError(ErrorCode::SchemaInvalid, message, code);
        return makeError(ErrorCode::Database, message, code);
    }

    const int primary = code.toInt() & 0xff;
    // SQLite reports a missing table or column as a plain SQLITE_ERROR; only its text tells,
    // and it is the same in every build. PostgreSQL says 42P01 and 42703. (Checked first: Qt
    // reports every error of a running statement as a ConnectionError, and a statement
    // prepared before the table changed fails only when it runs.)
    if (primary == 1 && text.startsWith(u"no such table"_s))
        return makeError(ErrorCode::SchemaMissing, message, code);
    if (primary == 1
        && (text.startsWith(u"no such column"_s) || text.contains(u" has no column named "_s)))
        return makeError(ErrorCode::SchemaInvalid, message, code);
    if (error.type() == QSqlError::ConnectionError)
        return makeError(ErrorCode::ConnectionFailed, message, code);
    switch (primary) {
    case 8: // SQLITE_READONLY
        return makeError(ErrorCode::ReadOnly, message, code);
    case 14: // SQLITE_CANTOPEN
    case 26: // SQLITE_NOTADB
        return makeError(ErrorCode::ConnectionFailed, message, code);
    default:
        return makeError(ErrorCode::Database, message, code);
    }
}

QByteArray jsonText(const QJsonValue &value)
{
    if (value.isObject())
        return QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact);
    if (value.isArray())
        return QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact);
    const QByteArray wrapped = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return wrapped.mid(1, wrapped.size() - 2);
}

namespace {

// An object or array parsed as it is; Undefined (the caller then takes parseJson()'s general
// path) when the text is something else or does not parse.
QJsonValue parseContainer(const QByteArray &utf8)
{
    if (utf8.isEmpty() || (utf8.front() != '{' && utf8.front() != '['))
        return QJsonValue(QJsonValue::Undefined);
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(utf8, &error);
    if (error.error != QJsonParseError::NoError)
        return QJsonValue(QJsonValue::Undefined);
    return doc.isObject() ? QJsonValue(doc.object()) : QJsonValue(doc.array());
}

} // namespace

QJsonValue parseJson(const QString &text)
{
    if (text.isNull())
        return QJsonValue(QJsonValue::Null);
    // Qt's JSON reader drops a U+FEFF that starts a string or a key; written as an escape it
    // is kept. In JSON text it can only stand inside strings, so the escape is always valid.
    QString escaped = text;
    escaped.replace(QChar(0xfeff), u"\\ufeff"_s);
    const QByteArray utf8 = escaped.toUtf8();
    // Objects and arrays, nearly every payload, need no wrapping; scalars do, as Qt's reader
    // takes only an object or an array as a document.
    if (const QJsonValue container = parseContainer(utf8); !container.isUndefined())
        return container;
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson("[" + utf8 + "]", &error);
    if (error.error != QJsonParseError::NoError || !doc.isArray() || doc.array().size() != 1)
        return QJsonValue(QJsonValue::Undefined);
    return doc.array().at(0);
}

QJsonValue parseJsonUtf8(QByteArrayView utf8)
{
    // A U+FEFF (EF BB BF) needs parseJson()'s escape. The reader copies what it keeps, so the
    // caller's bytes are read in place.
    if (!utf8.contains(QByteArrayView("\xEF\xBB\xBF"))) {
        const QJsonValue container
            = parseContainer(QByteArray::fromRawData(utf8.data(), utf8.size()));
        if (!container.isUndefined())
            return container;
    }
    // Scalars, and text Qt's reader refuses as it is (bytes that are not UTF-8, from a
    // database that does not check them, read as U+FFFD through QString as everywhere else).
    return parseJson(QString::fromUtf8(utf8));
}

const pg_result *wholeLibpqResult(const QSqlQuery &query)
{
    const QSqlResult *result = query.result();
    // A forward-only query holds one row at a time (libpq's single-row mode).
    if (!result || query.isForwardOnly())
        return nullptr;
    const QVariant handle = result->handle();
    // Qt names the type after libpq's struct (pg_result*); its documentation, after the typedef.
    if (!handle.isValid()
        || (qstrcmp(handle.typeName(), "pg_result*") != 0
            && qstrcmp(handle.typeName(), "PGresult*") != 0))
        return nullptr;
    const PGresult *res = *static_cast<PGresult *const *>(handle.constData());
    return res && PQresultStatus(res) == PGRES_TUPLES_OK ? res : nullptr;
}

QString pgArrayLiteral(const QStringList &items)
{
    QString out = u"{"_s;
    for (qsizetype i = 0; i < items.size(); ++i) {
        if (i)
            out += u',';
        QString item = items.at(i);
        item.replace(u'\\', u"\\\\"_s);
        item.replace(u'"', u"\\\""_s);
        out += u'"' + item + u'"';
    }
    return out + u'}';
}

QString pgArrayLiteral(const QList<qint64> &items)
{
    QString out = u"{"_s;
    for (qsizetype i = 0; i < items.size(); ++i) {
        if (i)
            out += u',';
        out += QString::number(items.at(i));
    }
    return out + u'}';
}

Result<QSqlDatabase> openConnection(const ConnectionSettings &settings, const StoreOptions &options,
                                    const QString &connectionName)
{
    const bool pg = settings.backend == Backend::PostgreSql;
    const QString driver = pg ? u"QPSQL"_s : u"QSQLITE"_s;
    if (!QSqlDatabase::isDriverAvailable(driver)) {
        return makeError(ErrorCode::ConnectionFailed,
                         u"the Qt SQL driver %1 is not installed (Debian: %2)"_s.arg(
                             driver, pg ? u"libqt6sql6-psql"_s : u"libqt6sql6-sqlite"_s));
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(driver, connectionName);
    auto fail = [&](Error error) -> Result<QSqlDatabase> {
        db = QSqlDatabase();
        QSqlDatabase::removeDatabase(connectionName);
        if (!settings.password.isEmpty())
            error.message.replace(settings.password, u"***"_s);
        return error;
    };

    if (pg) {
        db.setHostName(settings.host);
        if (settings.port > 0)
            db.setPort(settings.port);
        db.setUserName(settings.user);
        db.setPassword(settings.password);
        db.setDatabaseName(settings.database);
        QStringList opts;
        bool hasTimeout = false;
        bool hasAppName = false;
        for (const auto &[key, value] : settings.options) {
            hasTimeout |= key == u"connect_timeout";
            hasAppName |= key == u"application_name";
            opts << key + u'=' + value;
        }
        if (!hasTimeout)
            opts << u"connect_timeout=%1"_s.arg(options.connectTimeoutSeconds);
        if (!hasAppName)
            opts << u"application_name=oddjobs"_s;
        db.setConnectOptions(opts.join(u';'));
        if (!db.open()) {
            return fail(mapSqlError(settings.backend, db.lastError(),
                                    u"cannot connect to %1"_s.arg(settings.displayString())));
        }
        QSqlQuery q(db);
        // Migrations' "already exists, skipping" notices are not worth a log line each.
        (void)q.exec(u"SET client_min_messages = warning"_s);
        if (options.readOnly
            && !q.exec(u"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"_s)) {
            return fail(mapSqlError(settings.backend, q.lastError(),
                                    u"cannot make the session read-only"_s));
        }
        return db;
    }

    QStringList opts { u"QSQLITE_BUSY_TIMEOUT=%1"_s.arg(options.sqliteBusyTimeoutMs) };
    if (settings.sqliteMemory) {
        db.setDatabaseName(u"file:%1?mode=memory&cache=shared"_s.arg(settings.sqliteMemoryName));
        opts << u"QSQLITE_OPEN_URI"_s;
    } else {
        const QFileInfo file(settings.sqlitePath);
        if (options.readOnly && !file.exists()) {
            return fail(makeError(ErrorCode::ConnectionFailed,
                                  u"cannot open %1 read-only: the file does not exist"_s.arg(
                                      settings.displayString())));
        }
        if (!file.dir().exists()) {
            // Only the default location is ours to create; a typo elsewhere is an error.
            if (settings.sqlitePath == ConnectionSettings::defaultSqlitePath())
                QDir().mkpath(file.absolutePath());
            else
                return fail(makeError(ErrorCode::ConnectionFailed,
                                      u"cannot open %1: the folder %2 does not exist"_s.arg(
                                          settings.displayString(), file.absolutePath())));
        }
        db.setDatabaseName(settings.sqlitePath);
    }
    if (options.readOnly)
        opts << u"QSQLITE_OPEN_READONLY"_s;
    db.setConnectOptions(opts.join(u';'));
    if (!db.open()) {
        return fail(mapSqlError(settings.backend, db.lastError(),
                                u"cannot open %1"_s.arg(settings.displayString())));
    }
    QSqlQuery q(db);
    if (!q.exec(u"SELECT sqlite_version()"_s) || !q.next()) {
        return fail(mapSqlError(settings.backend, q.lastError(),
                                u"cannot use %1"_s.arg(settings.displayString())));
    }
    const auto version = QVersionNumber::fromString(q.value(0).toString());
    if (version < QVersionNumber(3, 38)) {
        return fail(
            makeError(ErrorCode::ConnectionFailed,
                      u"SQLite %1 is too old: 3.38 or newer is needed"_s.arg(version.toString())));
    }
    QStringList pragmas { u"PRAGMA synchronous=FULL"_s, u"PRAGMA foreign_keys=ON"_s };
    if (!settings.sqliteMemory && !options.readOnly)
        pragmas.prepend(u"PRAGMA journal_mode=WAL"_s);
    for (const QString &pragma : pragmas) {
        if (!q.exec(pragma)) {
            return fail(
                mapSqlError(settings.backend, q.lastError(),
                            u"cannot open %1 (%2)"_s.arg(settings.displayString(), pragma)));
        }
    }
    // A file that is not a database only shows itself at the first real read.
    if (!q.exec(u"SELECT count(*) FROM sqlite_schema"_s)) {
        return fail(mapSqlError(settings.backend, q.lastError(),
                                u"cannot open %1"_s.arg(settings.displayString())));
    }
    return db;
}

Connection::Connection(Backend backend, QSqlDatabase db)
    : m_backend(backend)
    , m_db(std::move(db))
{
}

Connection::~Connection()
{
    m_cache.clear();
    const QString name = m_db.connectionName();
    m_db.close();
    m_db = QSqlDatabase();
    if (!name.isEmpty())
        QSqlDatabase::removeDatabase(name);
}

void Connection::clearCache()
{
    m_cache.clear();
}

void Connection::setReplanInterval(int ms)
{
    m_replanIntervalMs = isPostgres() ? std::max(0, ms) : 0;
    m_sinceReplan.start();
}

Result<QSqlQuery *> Connection::run(const QString &sql, const QVariantList &binds,
                                    const QString &context)
{
    if (m_replanIntervalMs > 0 && m_sinceReplan.hasExpired(m_replanIntervalMs)) {
        // Keeps the statements prepared; each is planned again when it next runs.
        if (auto r = exec(u"DISCARD PLANS"_s, u"cannot drop the connection's cached plans"_s); !r)
            return r.error();
        m_sinceReplan.start();
    }
    std::shared_ptr<QSqlQuery> query = m_cache.value(sql);
    if (!query) {
        if (m_cache.size() >= StatementCacheLimit)
            m_cache.clear();
        query = std::make_shared<QSqlQuery>(m_db);
        // Not on PostgreSQL: there the driver reads forward-only queries in libpq's single-row
        // mode, which hands out each row as it arrives, before the statement's implicit commit.
        // A commit that then fails (a deferred constraint, the server going away) only makes
        // next() return false early, like the end of the rows, and the caller acts on a claim
        // or completion that never happened. Read whole, a result arrives after the commit or
        // not at all (exec() fails). SQLite's driver would copy every row otherwise.
        query->setForwardOnly(!isPostgres());
        if (!query->prepare(sql)) {
            qCDebug(lcStore) << "prepare failed:" << sql;
            return errorFrom(query->lastError(), context);
        }
        m_cache.insert(sql, query);
    } else {
        query->finish();
    }
    for (qsizetype i = 0; i < binds.size(); ++i)
        query->bindValue(int(i), binds.at(i));
    if (!query->exec()) {
        Error error = errorFrom(query->lastError(), context);
        // A statement whose connection failed is useless after a reconnect.
        if (error.code == ErrorCode::ConnectionFailed)
            m_cache.clear();
        else
            query->finish();
        return error;
    }
    return query.get();
}

Result<void> Connection::exec(const QString &sql, const QString &context)
{
    QSqlQuery query(m_db);
    if (!query.exec(sql))
        return errorFrom(query.lastError(), context);
    return {};
}

Transaction::Transaction(Connection &connection, Kind kind)
    : m_connection(connection)
    , m_kind(kind)
{
}

Transaction::~Transaction()
{
    if (m_active)
        rollback();
}

Result<void> Transaction::begin()
{
    const bool immediate = m_kind == Write && !m_connection.isPostgres();
    auto r = m_connection.exec(immediate ? u"BEGIN IMMEDIATE"_s : u"BEGIN"_s,
                               u"cannot start a transaction"_s);
    if (!r)
        return r;
    m_active = true;
    return {};
}

Result<void> Transaction::commit()
{
    // SQLite refuses to commit while a statement is still stepping.
    m_connection.clearCacheStatements();
    auto r = m_connection.exec(u"COMMIT"_s, u"cannot commit"_s);
    if (!r) {
        rollback();
        return r;
    }
    m_active = false;
    return {};
}

void Transaction::rollback()
{
    m_connection.clearCacheStatements();
    (void)m_connection.exec(u"ROLLBACK"_s);
    m_active = false;
}

} // namespace OddJobs::Internal

namespace OddJobs::Internal {
void Connection::clearCacheStatements()
{
    for (const auto &query : std::as_const(m_cache))
        query->finish();
}
} // namespace OddJobs::Internal
