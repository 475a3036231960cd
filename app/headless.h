#pragma once

#include "options.h"

// `oddjobs --headless`: a worker until SIGINT/SIGTERM. Returns the process exit code.
int runHeadless(const AppOptions &options);
