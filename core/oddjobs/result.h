#pragma once

#include "oddjobs/core_export.h"

#include <QString>
#include <utility>
#include <variant>

namespace OddJobs {

// What went wrong, coarse enough to branch on. Callers branch on the code, never on the
// message; the message is English, says what to fix, and never contains a password.
enum class ErrorCode
{
    InvalidArgument, // a value the caller passed is out of range or malformed
    InvalidUrl, // a connection URL that cannot be parsed
    InvalidTableName, // a table name that is not a plain SQL identifier
    InvalidJson, // text that should be JSON is not
    PayloadTooLarge, // a payload above the store's size limit
    ConnectionFailed, // the database cannot be reached or the connection dropped
    AuthenticationFailed, // the server refused the credentials
    SchemaMissing, // the jobs table or its version record does not exist yet
    SchemaTooNew, // the database was migrated by a newer release
    SchemaInvalid, // the table exists but lacks what this release needs
    NotFound, // no job with that id
    Conflict, // the job changed since it was read
    InvalidState, // the job's status does not allow the operation
    ReadOnly, // the store was opened read-only
    Database, // any other database error (the SQLSTATE is kept)
};

OJ_CORE_EXPORT QString errorCodeName(ErrorCode code);

struct OJ_CORE_EXPORT Error
{
    ErrorCode code = ErrorCode::Database;
    QString message;
    QString sqlState; // PostgreSQL SQLSTATE or SQLite extended code, where known

    QString toString() const;
};

// An expected-like value: either a T or an Error. Errors at API boundaries are values.
template<typename T>
class [[nodiscard]] Result
{
public:
    Result(T value)
        : m_data(std::in_place_index<0>, std::move(value))
    {
    }
    Result(Error error)
        : m_data(std::in_place_index<1>, std::move(error))
    {
    }

    bool ok() const { return m_data.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(m_data); }
    const T &value() const & { return std::get<0>(m_data); }
    T &&value() && { return std::get<0>(std::move(m_data)); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    const Error &error() const { return std::get<1>(m_data); }

private:
    std::variant<T, Error> m_data;
};

template<>
class [[nodiscard]] Result<void>
{
public:
    Result() = default;
    Result(Error error)
        : m_error(std::move(error))
        , m_ok(false)
    {
    }
    bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error &error() const { return m_error; }

private:
    Error m_error;
    bool m_ok = true;
};

inline Error makeError(ErrorCode code, QString message, QString sqlState = {})
{
    return Error { code, std::move(message), std::move(sqlState) };
}

} // namespace OddJobs
