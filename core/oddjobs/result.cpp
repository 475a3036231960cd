#include "oddjobs/result.h"

using namespace Qt::StringLiterals;

namespace OddJobs {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidArgument:
        return u"invalid-argument"_s;
    case ErrorCode::InvalidUrl:
        return u"invalid-url"_s;
    case ErrorCode::InvalidTableName:
        return u"invalid-table-name"_s;
    case ErrorCode::InvalidJson:
        return u"invalid-json"_s;
    case ErrorCode::PayloadTooLarge:
        return u"payload-too-large"_s;
    case ErrorCode::ConnectionFailed:
        return u"connection-failed"_s;
    case ErrorCode::AuthenticationFailed:
        return u"authentication-failed"_s;
    case ErrorCode::SchemaMissing:
        return u"schema-missing"_s;
    case ErrorCode::SchemaTooNew:
        return u"schema-too-new"_s;
    case ErrorCode::SchemaInvalid:
        return u"schema-invalid"_s;
    case ErrorCode::NotFound:
        return u"not-found"_s;
    case ErrorCode::Conflict:
        return u"conflict"_s;
    case ErrorCode::InvalidState:
        return u"invalid-state"_s;
    case ErrorCode::ReadOnly:
        return u"read-only"_s;
    case ErrorCode::Database:
        return u"database"_s;
    }
    return u"unknown"_s;
}

QString Error::toString() const
{
    if (sqlState.isEmpty())
        return message;
    return message + u" [SQLSTATE "_s + sqlState + u']';
}

} // namespace OddJobs
