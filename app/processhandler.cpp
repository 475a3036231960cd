#include "processhandler.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>

using namespace Qt::StringLiterals;
using namespace OddJobs;

std::optional<QStringList> ProcessHandlerSpec::splitCommandLine(const QString &commandLine)
{
    QStringList words;
    QString word;
    bool inWord = false;
    for (qsizetype i = 0; i < commandLine.size(); ++i) {
        const QChar c = commandLine.at(i);
        if (c == u'\'') {
            const qsizetype end = commandLine.indexOf(u'\'', i + 1);
            if (end < 0)
                return std::nullopt;
            word += commandLine.mid(i + 1, end - i - 1);
            inWord = true;
            i = end;
        } else if (c == u'"') {
            inWord = true;
            for (++i;; ++i) {
                if (i >= commandLine.size())
                    return std::nullopt;
                const QChar q = commandLine.at(i);
                if (q == u'"')
                    break;
                if (q == u'\\' && i + 1 < commandLine.size()
                    && QStringView(u"\"\\$`").contains(commandLine.at(i + 1)))
                    word += commandLine.at(++i);
                else
                    word += q;
            }
        } else if (c == u'\\') {
            if (i + 1 >= commandLine.size())
                return std::nullopt;
            word += commandLine.at(++i);
            inWord = true;
        } else if (c.isSpace()) {
            if (inWord)
                words << word;
            word.clear();
            inWord = false;
        } else {
            word += c;
            inWord = true;
        }
    }
    if (inWord)
        words << word;
    return words;
}

Result<ProcessHandlerSpec> ProcessHandlerSpec::parse(const QString &type,
                                                     const QString &commandLine)
{
    ProcessHandlerSpec spec;
    spec.type = type;
    spec.commandLine = commandLine;
    const std::optional<QStringList> split = splitCommandLine(commandLine);
    if (!split)
        return makeError(
            ErrorCode::InvalidArgument,
            u"the command line for '%1' has an unterminated quote or a trailing backslash: %2"_s
                .arg(type, commandLine));
    QStringList parts = *split;
    if (parts.isEmpty())
        return makeError(ErrorCode::InvalidArgument,
                         u"the handler for '%1' has an empty command"_s.arg(type));
    const QString program = parts.takeFirst();
    QString resolved;
    if (program.contains(u'/')) {
        const QFileInfo info(program);
        if (!info.exists())
            return makeError(
                ErrorCode::InvalidArgument,
                u"the handler program %1 for '%2' does not exist"_s.arg(program, type));
        if (!info.isFile() || !info.isExecutable())
            return makeError(
                ErrorCode::InvalidArgument,
                u"the handler program %1 for '%2' is not an executable file"_s.arg(program, type));
        resolved = info.absoluteFilePath();
    } else {
        resolved = QStandardPaths::findExecutable(program);
        if (resolved.isEmpty())
            return makeError(
                ErrorCode::InvalidArgument,
                u"the handler program '%1' for '%2' is not in PATH"_s.arg(program, type));
    }
    spec.program = resolved;
    spec.arguments = parts;
    return spec;
}

namespace {
// The last `maxBytes` bytes, starting at a character boundary.
QByteArray utf8Tail(const QByteArray &bytes, qsizetype maxBytes)
{
    QByteArray tail = bytes.size() > maxBytes ? bytes.right(maxBytes) : bytes;
    qsizetype start = 0;
    while (start < tail.size() && start < 3 && (uchar(tail.at(start)) & 0xc0) == 0x80)
        ++start;
    return tail.mid(start);
}

QString tailText(const QByteArray &bytes, qsizetype maxBytes)
{
    QString text = QString::fromUtf8(utf8Tail(bytes, maxBytes)).trimmed();
    // The last lines say what went wrong; keep them readable in one log line, and within
    // the limit even though " | " is longer than the line break it replaces.
    text.replace(u'\n', u" | "_s);
    const QByteArray utf8 = text.toUtf8();
    if (utf8.size() > maxBytes)
        text = QString::fromUtf8(utf8Tail(utf8, maxBytes)).trimmed();
    return text;
}
} // namespace

JobHandler makeProcessHandler(const ProcessHandlerSpec &spec)
{
    return [spec](JobContext &ctx) -> HandlerResult {
        const Job &job = ctx.job();
        QProcess process;
        process.setProgram(spec.program);
        process.setArguments(spec.arguments);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(u"ODDJOBS_JOB_ID"_s, QString::number(job.id));
        env.insert(u"ODDJOBS_JOB_TYPE"_s, job.type());
        env.insert(u"ODDJOBS_ATTEMPT"_s, QString::number(job.attempts));
        env.insert(u"ODDJOBS_QUEUE"_s, job.queue);
        process.setProcessEnvironment(env);
        process.start(QIODevice::ReadWrite);
        if (!process.waitForStarted(30000)) {
            return HandlerResult::failure(
                u"cannot start %1: %2"_s.arg(spec.program, process.errorString()),
                QJsonObject { { u"kind"_s, u"start"_s } });
        }
        // Any JSON value, also a scalar: serialize it inside an array and take it out again.
        const QByteArray wrapped
            = QJsonDocument(QJsonArray { job.payload }).toJson(QJsonDocument::Compact);
        const QByteArray input = wrapped.mid(1, wrapped.size() - 2);
        process.write(input);
        process.closeWriteChannel();

        QByteArray stdoutBytes;
        QByteArray stderrTail;
        bool stdoutTruncated = false;
        auto drain = [&] {
            const QByteArray o = process.readAllStandardOutput();
            if (stdoutBytes.size() + o.size() > spec.maxStdoutBytes) {
                stdoutTruncated = true;
                stdoutBytes.append(
                    o.left(std::max<qsizetype>(0, spec.maxStdoutBytes - stdoutBytes.size())));
            } else {
                stdoutBytes.append(o);
            }
            stderrTail.append(process.readAllStandardError());
            if (stderrTail.size() > spec.stderrTailBytes)
                stderrTail = stderrTail.right(spec.stderrTailBytes);
        };
        QElapsedTimer sinceTerminate;
        while (!process.waitForFinished(50)) {
            drain();
            if (process.state() == QProcess::NotRunning)
                break;
            if (ctx.isStopRequested()) {
                if (!sinceTerminate.isValid()) {
                    process.terminate();
                    sinceTerminate.start();
                } else if (sinceTerminate.elapsed() > spec.killGraceMs) {
                    process.kill();
                }
            }
        }
        drain();

        if (sinceTerminate.isValid()) {
            const QString why
                = ctx.stopReason() == StopReason::TimedOut ? u"timeout"_s : u"stopped"_s;
            return HandlerResult::failure(
                u"%1 was stopped (%2)"_s.arg(QFileInfo(spec.program).fileName(), why),
                QJsonObject { { u"kind"_s, why } });
        }
        if (process.exitStatus() == QProcess::CrashExit) {
            QString message
                = u"%1 crashed (killed by a signal)"_s.arg(QFileInfo(spec.program).fileName());
            if (!stderrTail.isEmpty())
                message += u": "_s + tailText(stderrTail, spec.stderrTailBytes);
            return HandlerResult::failure(message, QJsonObject { { u"kind"_s, u"crash"_s } });
        }
        if (process.exitCode() != 0) {
            const QString message = stderrTail.trimmed().isEmpty()
                ? u"%1 exited with code %2"_s.arg(QFileInfo(spec.program).fileName())
                      .arg(process.exitCode())
                : tailText(stderrTail, spec.stderrTailBytes);
            return HandlerResult::failure(
                message,
                QJsonObject { { u"kind"_s, u"exit"_s }, { u"exit_code"_s, process.exitCode() } });
        }
        if (stdoutTruncated || stdoutBytes.trimmed().isEmpty())
            return HandlerResult::success();
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson("[" + stdoutBytes + "]", &error);
        if (error.error != QJsonParseError::NoError || doc.array().size() != 1)
            return HandlerResult::success(); // output that is not JSON is not a result
        return HandlerResult::success(doc.array().at(0));
    };
}
