#include "oddjobs/logging.h"

Q_LOGGING_CATEGORY(lcStore, "oddjobs.core.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSchema, "oddjobs.core.schema", QtInfoMsg)
Q_LOGGING_CATEGORY(lcRunner, "oddjobs.core.runner", QtInfoMsg)
