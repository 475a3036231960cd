#pragma once

#include "oddjobs/core_export.h"

#include <QLoggingCategory>

// Logging categories of the core library. English messages; never a password.
OJ_CORE_EXPORT Q_DECLARE_LOGGING_CATEGORY(lcStore)
OJ_CORE_EXPORT Q_DECLARE_LOGGING_CATEGORY(lcSchema)
OJ_CORE_EXPORT Q_DECLARE_LOGGING_CATEGORY(lcRunner)
