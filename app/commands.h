#pragma once

#include "options.h"

// The scripting subcommands: migrate, enqueue, list, show, retry, cancel, delete, stats.
// Returns the process exit code.
int runCommand(const AppOptions &options);
