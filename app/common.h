#pragma once

#include "oddjobs/jobstore.h"
#include "oddjobs/runner.h"
#include "options.h"

#include <QTextStream>
#include <memory>

QTextStream &out();
QTextStream &err();

// Bad input (URL, table name, options) is the user's to fix: exit code 2. Everything else
// (unreachable server, refused schema, a job in the wrong state) is a runtime failure: 1.
int exitCodeFor(const OddJobs::Error &error);
// Prints "oddjobs: <message>" to standard error and returns the exit code for it.
int fail(const OddJobs::Error &error);

struct Target
{
    OddJobs::ConnectionSettings connection;
    OddJobs::StoreOptions store;
};

OddJobs::Result<Target> resolveTarget(const AppOptions &options);
// Opens the store and checks its schema (or migrates, when asked).
OddJobs::Result<std::unique_ptr<OddJobs::JobStore>> openStore(const Target &target, bool migrate);

// The built-in demo types plus the config file's process handlers. A handler program that is
// missing or not executable is an error now, at start-up, not at the first job.
OddJobs::Result<OddJobs::HandlerRegistry> buildHandlers(const AppOptions &options);
// The worker settings the options give (the caller adds the connection and the table).
OddJobs::RunnerConfig runnerConfig(const AppOptions &options);
