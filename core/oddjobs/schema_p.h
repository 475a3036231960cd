#pragma once

// Internal: versioned migrations of the jobs table for both backends.

#include "oddjobs/jobstore.h"
#include "oddjobs/sqlbackend_p.h"

namespace OddJobs::Internal {

// The table that records, per jobs table, the schema version OddJobs brought it to.
QString versionTable(const TableName &table);

Result<SchemaStatus> readSchemaStatus(Connection &connection, const TableName &table);
Result<int> migrate(Connection &connection, const TableName &table);
// A read-only store also accepts a table as old as OldestReadableSchemaVersion.
Result<void> checkSchema(Connection &connection, const TableName &table, bool readOnly);

// The session setting in which a runner's connections name their worker (JobStore::
// tuneForRunner): the delete trigger of schema version 3 does not notify a worker of the
// deletes it makes itself.
inline constexpr QStringView WorkerSetting = u"oddjobs.worker";

// SQL for the current time in the backend's representation: timestamptz on PostgreSQL,
// integer microseconds since the epoch on SQLite (millisecond resolution).
QString sqlNow(Backend backend);

} // namespace OddJobs::Internal
