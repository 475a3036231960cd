#pragma once

#include "oddjobs/result.h"

#include <QString>

// A pid file that keeps a second worker with the same file from starting. It is only ever
// read and written, never used to signal anyone, so a stale or forged file cannot make us
// touch a foreign process; and it is replaced, never written through, so a symbolic link
// planted in its place cannot make us overwrite another file.
class PidFile
{
public:
    PidFile() = default;
    ~PidFile(); // removes the file if it still names this process
    PidFile(const PidFile &) = delete;
    PidFile &operator=(const PidFile &) = delete;

    OddJobs::Result<void> acquire(const QString &path);
    void release();

private:
    QString m_path;
};
