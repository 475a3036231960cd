#pragma once

#include "oddjobs/result.h"
#include "oddjobs/runner.h"

#include <QString>
#include <QStringList>
#include <optional>

// A job type handled by an external program. The program is started directly (never through
// a shell), gets the payload JSON on standard input and ODDJOBS_JOB_ID, ODDJOBS_JOB_TYPE,
// ODDJOBS_ATTEMPT and ODDJOBS_QUEUE in its environment. Exit code 0 is success and standard
// output that parses as JSON becomes the result; otherwise the tail of standard error is the
// error text. When the job is cancelled or times out the program gets SIGTERM, then SIGKILL.
struct ProcessHandlerSpec
{
    QString type;
    QString commandLine;
    QString program; // resolved absolute path
    QStringList arguments;

    int maxStdoutBytes = 1024 * 1024;
    int stderrTailBytes = 4096;
    int killGraceMs = 5000;

    // Words as a POSIX shell splits them, but without a shell and without any expansion:
    // blanks separate words, '...' is literal, "..." is literal except for \" \\ \$ \`, and a
    // backslash outside quotes escapes the next character. nullopt for an unterminated quote.
    static std::optional<QStringList> splitCommandLine(const QString &commandLine);

    // Splits the command line (quotes as in a shell, but no shell) and finds the program.
    // A missing or non-executable program is an error here, at start-up, not at the first job.
    static OddJobs::Result<ProcessHandlerSpec> parse(const QString &type,
                                                     const QString &commandLine);
};

OddJobs::JobHandler makeProcessHandler(const ProcessHandlerSpec &spec);
