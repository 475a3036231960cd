#pragma once

#include "options.h"

// `oddjobs` without a command: the dashboard with an embedded worker. Creates the
// QApplication itself. Returns the process exit code.
int runDashboard(int &argc, char **argv, const AppOptions &options);
