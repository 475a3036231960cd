#include "oddjobs/connectionsettings.h"

#include <QAtomicInteger>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QUrl>
#include <QUrlQuery>

using namespace Qt::StringLiterals;

namespace OddJobs {

namespace {

// libpq connection keywords a URL query string may carry. Anything else is a typo we report
// rather than pass on; the password has its own place in the URL and is never an option.
const QStringList &allowedPgOptions()
{
    static const QStringList keys {
        u"host"_s,
        u"hostaddr"_s,
        u"port"_s,
        u"dbname"_s,
        u"user"_s,
        u"connect_timeout"_s,
        u"client_encoding"_s,
        u"options"_s,
        u"application_name"_s,
        u"fallback_application_name"_s,
        u"keepalives"_s,
        u"keepalives_idle"_s,
        u"keepalives_interval"_s,
        u"keepalives_count"_s,
        u"tcp_user_timeout"_s,
        u"sslmode"_s,
        u"sslcert"_s,
        u"sslkey"_s,
        u"sslrootcert"_s,
        u"sslcrl"_s,
        u"sslcompression"_s,
        u"requiressl"_s,
        u"gssencmode"_s,
        u"krbsrvname"_s,
        u"target_session_attrs"_s,
        u"passfile"_s,
        u"service"_s,
        u"channel_binding"_s,
        u"sslsni"_s,
        u"ssl_min_protocol_version"_s,
        u"ssl_max_protocol_version"_s,
        u"load_balance_hosts"_s,
    };
    return keys;
}

Error urlError(const QString &what)
{
    return makeError(ErrorCode::InvalidUrl, what);
}

QString redactedForMessage(const QString &url)
{
    // Best effort for a URL we could not parse: drop anything between "//" and "@" after ':',
    // up to the last '@' (an unencoded '@' in a password makes the URL invalid).
    static const QRegularExpression userInfo(u"^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*):.*@"_s,
                                             QRegularExpression::DotMatchesEverythingOption);
    QString shown = url;
    shown.replace(userInfo, u"\\1:***@"_s);
    return shown;
}

Result<ConnectionSettings> parseSqlite(const QString &url)
{
    ConnectionSettings s;
    s.backend = Backend::Sqlite;
    QString rest = url.mid(QStringLiteral("sqlite:").size());
    if (rest == u":memory:") {
        static QAtomicInteger<quint64> counter;
        s.sqliteMemory = true;
        s.sqliteMemoryName = u"oddjobs-mem-%1-%2"_s.arg(QCoreApplication::applicationPid())
                                 .arg(counter.fetchAndAddRelaxed(1));
        return s;
    }
    if (rest.startsWith(u"//"))
        rest = rest.mid(2); // sqlite:///abs/path -> /abs/path
    if (rest.isEmpty())
        return urlError(u"the SQLite URL has no file path; write sqlite:/path/to/jobs.db or "
                        "sqlite::memory:"_s);
    if (rest.contains(QChar(0)))
        return urlError(u"the SQLite file path contains a NUL character"_s);
    s.sqlitePath = QDir::cleanPath(rest);
    return s;
}

Result<ConnectionSettings> parsePostgres(const QString &text)
{
    const QUrl url(text, QUrl::StrictMode);
    if (!url.isValid()) {
        // QUrl's message goes on with "; source was "<the URL>"; ..." and the parts it read,
        // password included, which an invalid URL does not reliably give back to be replaced:
        // keep only the reason.
        QString reason = url.errorString();
        if (const qsizetype details = reason.indexOf(u"; source was"_s); details >= 0)
            reason.truncate(details);
        return urlError(
            u"cannot parse the PostgreSQL URL %1: %2"_s.arg(redactedForMessage(text), reason));
    }
    ConnectionSettings s;
    s.backend = Backend::PostgreSql;
    s.host = url.host(QUrl::FullyDecoded);
    s.user = url.userName(QUrl::FullyDecoded);
    s.password = url.password(QUrl::FullyDecoded);
    // QUrl gives -1 both for "no port" and for a port it could not read.
    const QString authority = url.authority(QUrl::FullyEncoded);
    const qsizetype at = authority.lastIndexOf(u'@');
    const QString hostPort = authority.mid(at + 1);
    const qsizetype colon = hostPort.lastIndexOf(u':');
    if (colon >= 0 && !hostPort.endsWith(u']')) {
        bool ok = false;
        const int port = hostPort.mid(colon + 1).toInt(&ok);
        if (!ok || port <= 0 || port > 65535)
            return urlError(
                u"the port in %1 is not a number from 1 to 65535"_s.arg(redactedForMessage(text)));
        s.port = port;
    }
    QString path = url.path(QUrl::FullyDecoded);
    if (path.startsWith(u'/'))
        path = path.mid(1);
    if (path.contains(u'/'))
        return urlError(u"the database name in %1 contains '/'"_s.arg(redactedForMessage(text)));
    s.database = path;

    const QUrlQuery query(url);
    for (const auto &[key, value] : query.queryItems(QUrl::FullyDecoded)) {
        if (key == u"password")
            return urlError(u"put the password in the URL's user part (user:password@host), "
                            "not in ?password="_s);
        if (!allowedPgOptions().contains(key))
            return urlError(
                u"unknown connection option '%1' in the URL; known options are "
                "libpq's (sslmode, connect_timeout, application_name, host, ...)"_s.arg(key));
        if (value.contains(u';') || value.contains(QChar(0)))
            return urlError(u"the value of connection option '%1' contains ';'"_s.arg(key));
        if (key == u"host" && s.host.isEmpty())
            s.host = value;
        else if (key == u"port" && s.port < 0) {
            bool ok = false;
            s.port = value.toInt(&ok);
            if (!ok || s.port <= 0 || s.port > 65535)
                return urlError(u"the port option is not a number from 1 to 65535"_s);
        } else if (key == u"user" && s.user.isEmpty())
            s.user = value;
        else if (key == u"dbname" && s.database.isEmpty())
            s.database = value;
        else
            s.options.append({ key, value });
    }
    return s;
}

} // namespace

Result<ConnectionSettings> ConnectionSettings::fromUrl(const QString &url)
{
    const QString trimmed = url.trimmed();
    if (trimmed.isEmpty())
        return urlError(u"the database URL is empty"_s);
    if (trimmed.startsWith(u"sqlite:", Qt::CaseInsensitive))
        return parseSqlite(u"sqlite:"_s + trimmed.mid(7));
    if (trimmed.startsWith(u"postgresql://", Qt::CaseInsensitive)
        || trimmed.startsWith(u"postgres://", Qt::CaseInsensitive))
        return parsePostgres(trimmed);
    return urlError(u"unsupported database URL %1: use sqlite:/path/to/jobs.db, sqlite::memory: "
                    "or postgresql://user@host:port/database"_s.arg(redactedForMessage(trimmed)));
}

Result<ConnectionSettings> ConnectionSettings::resolve(const QString &url)
{
    if (!url.trimmed().isEmpty())
        return fromUrl(url);
    const QString env = qEnvironmentVariable("ODDJOBS_DATABASE_URL");
    if (!env.trimmed().isEmpty())
        return fromUrl(env);
    ConnectionSettings s;
    s.backend = Backend::Sqlite;
    s.sqlitePath = defaultSqlitePath();
    return s;
}

QString ConnectionSettings::defaultSqlitePath()
{
    QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    if (dir.isEmpty())
        dir = QDir::homePath() + u"/.local/share/oddjobs"_s;
    return dir + u"/jobs.db"_s;
}

QString ConnectionSettings::displayString() const
{
    if (backend == Backend::Sqlite)
        return sqliteMemory ? u"sqlite::memory:"_s : u"sqlite:"_s + sqlitePath;
    // Built by hand: QUrl refuses to render a fully decoded URL, and percent-encoding what
    // the user typed would only confuse them.
    QString shown = u"postgresql://"_s;
    if (!user.isEmpty()) {
        shown += user;
        if (!password.isEmpty())
            shown += u":***"_s;
        shown += u'@';
    }
    const bool socketDir = host.startsWith(u'/');
    if (!socketDir)
        shown += host.contains(u':') ? u'[' + host + u']' : host;
    if (port > 0)
        shown += u':' + QString::number(port);
    shown += u'/' + database;
    QStringList query;
    if (socketDir)
        query << u"host="_s + host;
    for (const auto &[key, value] : options)
        query << key + u'=' + value;
    if (!query.isEmpty())
        shown += u'?' + query.join(u'&');
    return shown;
}

QString ConnectionSettings::driverOptions() const
{
    QStringList parts;
    for (const auto &[key, value] : options)
        parts << key + u'=' + value;
    return parts.join(u';');
}

// ---------------------------------------------------------------------------------------------

namespace {
constexpr int MaxIdentifierBytes = 63;

QString hashSuffix(const QString &text)
{
    return QString::fromLatin1(
        QCryptographicHash::hash(text.toUtf8(), QCryptographicHash::Sha1).toHex().left(8));
}

QString shorten(const QString &text)
{
    if (text.toUtf8().size() <= MaxIdentifierBytes)
        return text;
    // Keep it readable and unique: a prefix and a hash of the whole.
    return text.left(MaxIdentifierBytes - 9) + u'_' + hashSuffix(text);
}
} // namespace

bool TableName::isValidIdentifier(const QString &identifier)
{
    static const QRegularExpression re(u"\\A[A-Za-z_][A-Za-z0-9_]*\\z"_s);
    return identifier.size() <= MaxIdentifierBytes && re.match(identifier).hasMatch();
}

Result<TableName> TableName::parse(const QString &text)
{
    const QStringList parts = text.split(u'.');
    auto invalid = [&](QString why) {
        // The name, and a part of it in `why`, are shown with printable ASCII only: no line
        // breaks or terminal controls from a config file end up in a log.
        // Character by character: a regular expression refuses a subject with a lone surrogate
        // (as text.left(80) can leave) and would then replace nothing.
        const auto printable = [](QString t) {
            for (QChar &c : t) {
                if (c.unicode() < 0x20 || c.unicode() > 0x7e)
                    c = u'?';
            }
            return t;
        };
        const QString shown = printable(text.left(80));
        why = printable(why);
        return makeError(
            ErrorCode::InvalidTableName,
            u"invalid table name '%1': %2. Use letters, digits and underscores "
            "(not first), at most 63 characters, optionally schema.table"_s.arg(shown, why));
    };
    if (text.isEmpty())
        return invalid(u"it is empty"_s);
    if (parts.size() > 2)
        return invalid(u"more than one '.'"_s);
    for (const QString &part : parts) {
        if (part.isEmpty())
            return invalid(u"an empty part"_s);
        if (part.size() > MaxIdentifierBytes)
            return invalid(u"a part is longer than 63 characters"_s);
        if (!isValidIdentifier(part))
            return invalid(u"'%1' is not a plain identifier"_s.arg(part.left(63)));
    }
    TableName name;
    if (parts.size() == 2) {
        name.m_schema = parts.at(0);
        name.m_name = parts.at(1);
    } else {
        name.m_name = parts.at(0);
    }
    return name;
}

QString TableName::toString() const
{
    return m_schema.isEmpty() ? m_name : m_schema + u'.' + m_name;
}

QString quoteIdentifier(const QString &identifier)
{
    QString quoted = identifier;
    quoted.replace(u'"', u"\"\""_s);
    return u'"' + quoted + u'"';
}

QString TableName::quoted() const
{
    return quotedSchemaPrefix() + quoteIdentifier(m_name);
}

QString TableName::quotedSchemaPrefix() const
{
    return m_schema.isEmpty() ? QString() : quoteIdentifier(m_schema) + u'.';
}

QString TableName::derivedName(const QString &suffix) const
{
    const QString full = m_name + u'_' + suffix;
    if (full.toUtf8().size() <= MaxIdentifierBytes)
        return full;
    return m_name.left(MaxIdentifierBytes - 10 - suffix.size()) + u'_' + hashSuffix(full) + u'_'
        + suffix;
}

QString TableName::notificationChannel() const
{
    const QString schema = m_schema.isEmpty() ? u"public"_s : m_schema;
    return shorten((u"oddjobs_"_s + schema + u'_' + m_name).toLower());
}

} // namespace OddJobs
