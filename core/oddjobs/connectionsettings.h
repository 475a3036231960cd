#pragma once

#include "oddjobs/core_export.h"
#include "oddjobs/result.h"

#include <QList>
#include <QPair>
#include <QString>

namespace OddJobs {

enum class Backend
{
    Sqlite,
    PostgreSql
};

// Where the jobs live, parsed from a connection URL:
//   sqlite:/path/to/jobs.db   sqlite:relative.db   sqlite:///abs.db   sqlite::memory:
//   postgresql://user:pass@host:port/db?sslmode=require   (postgres:// too)
// PostgreSQL parts the URL leaves out fall back to libpq's environment (PGHOST, PGUSER, ...)
// and ~/.pgpass, because they are simply not passed to libpq.
struct OJ_CORE_EXPORT ConnectionSettings
{
    Backend backend = Backend::Sqlite;

    // SQLite
    QString sqlitePath; // a file path, or empty with sqliteMemory
    bool sqliteMemory = false;
    QString sqliteMemoryName; // connections made from the same settings share the database

    // PostgreSQL
    QString host; // name, address, or a socket directory (from ?host=)
    int port = -1;
    QString user;
    QString password;
    QString database;
    QList<QPair<QString, QString>> options; // libpq keywords from the query string

    static Result<ConnectionSettings> fromUrl(const QString &url);
    // `url` if not empty, else $ODDJOBS_DATABASE_URL, else the default SQLite file.
    static Result<ConnectionSettings> resolve(const QString &url);
    static QString defaultSqlitePath();

    // The URL with the password replaced by "***": the only form that may be shown or logged.
    QString displayString() const;
    // The driver's connect options ("key=value;..."), without the password.
    QString driverOptions() const;
};

// Plain SQL identifiers, optionally schema-qualified, always quoted when used in SQL.
class OJ_CORE_EXPORT TableName
{
public:
    TableName() = default; // "jobs"
    static Result<TableName> parse(const QString &text);
    static bool isValidIdentifier(const QString &identifier);

    QString schema() const { return m_schema; } // empty: the search path / main
    QString name() const { return m_name; }
    QString toString() const; // schema.name or name, unquoted
    QString quoted() const; // "schema"."name"
    QString quotedSchemaPrefix() const; // "schema". or empty
    // A name derived from the table for its indexes, triggers and functions, at most 63
    // bytes (PostgreSQL's limit) and unique per table even when shortened.
    QString derivedName(const QString &suffix) const;
    // The LISTEN/NOTIFY channel: oddjobs_<schema>_<table>, lower case, at most 63 bytes.
    QString notificationChannel() const;

    bool operator==(const TableName &) const = default;

private:
    QString m_schema;
    QString m_name = QStringLiteral("jobs");
};

OJ_CORE_EXPORT QString quoteIdentifier(const QString &identifier);

} // namespace OddJobs
