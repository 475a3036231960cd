#include "pidfile.h"

#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryFile>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/types.h>

using namespace Qt::StringLiterals;
using namespace OddJobs;

namespace {
// Alive and an oddjobs process: then the file is in use. A live pid of another program means
// the pid was reused after a crash, and the file is stale.
bool isRunningWorker(qint64 pid)
{
    if (pid <= 0 || pid == QCoreApplication::applicationPid())
        return false;
    if (::kill(pid_t(pid), 0) != 0 && errno != EPERM)
        return false;
    QFile cmdline(u"/proc/%1/cmdline"_s.arg(pid));
    if (!cmdline.open(QIODevice::ReadOnly))
        return true; // cannot tell: be careful
    const QByteArray argv0 = cmdline.readAll().split('\0').value(0);
    return QFileInfo(QString::fromLocal8Bit(argv0)).fileName()
        == QFileInfo(QCoreApplication::applicationFilePath()).fileName();
}
} // namespace

PidFile::~PidFile()
{
    release();
}

Result<void> PidFile::acquire(const QString &path)
{
    const QFileInfo found(path);
    // A link is never one of ours (we write a regular file): it is replaced, not read, as is
    // anything that cannot be read without blocking.
    if (!found.isSymLink() && found.exists() && !found.isFile())
        return makeError(ErrorCode::InvalidArgument,
                         u"the pid file %1 exists and is not a regular file"_s.arg(path));
    QFile existing(path);
    if (!found.isSymLink() && existing.exists()) {
        if (!existing.open(QIODevice::ReadOnly))
            return makeError(ErrorCode::InvalidArgument,
                             u"the pid file %1 cannot be read"_s.arg(path));
        bool ok = false;
        const qint64 pid = QString::fromLatin1(existing.read(32)).trimmed().toLongLong(&ok);
        existing.close();
        if (ok && isRunningWorker(pid))
            return makeError(
                ErrorCode::InvalidState,
                u"another worker (pid %1) is running with the pid file %2; stop it first"_s.arg(pid)
                    .arg(path));
    }
    // Written next to it and renamed over it: rename() replaces a symbolic link at `path`
    // instead of following it, so a link planted in a shared directory cannot make the worker
    // overwrite the file it points to (QSaveFile would write through the link).
    QTemporaryFile file(found.absolutePath() + u"/."_s + found.fileName() + u".XXXXXX"_s);
    const auto cannotWrite = [&](const QString &why) {
        return makeError(ErrorCode::InvalidArgument,
                         u"cannot write the pid file %1: %2"_s.arg(path, why));
    };
    if (!file.open())
        return cannotWrite(file.errorString());
    file.write(QByteArray::number(QCoreApplication::applicationPid()) + '\n');
    if (!file.flush()
        || !file.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup
                                | QFile::ReadOther))
        return cannotWrite(file.errorString());
    if (::rename(QFile::encodeName(file.fileName()).constData(),
                 QFile::encodeName(path).constData())
        != 0)
        return cannotWrite(QString::fromLocal8Bit(std::strerror(errno)));
    file.setAutoRemove(false);
    m_path = path;
    return {};
}

void PidFile::release()
{
    if (m_path.isEmpty())
        return;
    QFile file(m_path);
    if (file.open(QIODevice::ReadOnly)) {
        const qint64 pid = QString::fromLatin1(file.read(32)).trimmed().toLongLong();
        file.close();
        if (pid == QCoreApplication::applicationPid())
            file.remove();
    }
    m_path.clear();
}
