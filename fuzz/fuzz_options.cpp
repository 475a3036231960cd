// parseOptions() - the executable's command line and INI config file - on arbitrary input.
// It never crashes and never exits by itself; an error is one line starting with "oddjobs: "
// and exit code 2; help and version exit 0; and whatever it accepts is within the documented
// ranges, whether it came from a flag or from the file.
//
// Input: ARGS[\n==\nINI]. ARGS are the arguments after the program name, separated by NUL
// bytes; with an INI part, it is written to a file and "--config FILE" is appended.

#include "fuzzsupport.h"
#include "options.h"

#include <QCoreApplication>
#include <QFile>
#include <QSet>
#include <QTemporaryDir>
#include <cmath>

using namespace Qt::StringLiterals;

namespace {

QString configPath;

QString describe(const QStringList &args)
{
    QStringList quoted;
    for (const QString &arg : args)
        quoted << u'[' + arg + u']';
    return quoted.join(u' ');
}

void checkAccepted(const AppOptions &o, const QString &context)
{
    using Command = AppOptions::Command;
    FUZZ_CHECK(o.concurrency >= 1 && o.concurrency <= 1024, context);
    FUZZ_CHECK(o.lockTimeoutSeconds >= 2 && o.lockTimeoutSeconds <= 86400, context);
    FUZZ_CHECK(o.shutdownTimeoutSeconds >= 0 && o.shutdownTimeoutSeconds <= 86400, context);
    FUZZ_CHECK(o.pollIntervalMs == -1 || (o.pollIntervalMs >= 10 && o.pollIntervalMs <= 86400000),
               context);
    FUZZ_CHECK(o.limit >= 1 && o.limit <= 100000, context);
    FUZZ_CHECK(o.windowSeconds >= 1 && o.windowSeconds <= 31536000, context);
    FUZZ_CHECK(o.priority >= -1000000 && o.priority <= 1000000, context);
    FUZZ_CHECK(!o.maxAttempts || *o.maxAttempts >= 1, context);
    FUZZ_CHECK(!o.timeoutSeconds || *o.timeoutSeconds >= 1, context);
    FUZZ_CHECK(
        !o.inSeconds
            || (std::isfinite(*o.inSeconds) && *o.inSeconds >= 0 && *o.inSeconds <= 3153600000.0),
        context);
    FUZZ_CHECK(!(o.runAt && o.inSeconds), context);
    for (const QString &q : o.queues)
        FUZZ_CHECK(!q.trimmed().isEmpty(), context);
    QSet<qint64> ids;
    for (qint64 id : o.ids) {
        FUZZ_CHECK(id >= 1, context);
        FUZZ_CHECK(!ids.contains(id), context);
        ids.insert(id);
    }
    for (const auto &[type, command] : o.handlers)
        FUZZ_CHECK(!type.isEmpty() && !command.isEmpty(), context);
    if (o.command == Command::Headless)
        FUZZ_CHECK(!o.monitorOnly, context);
    if (o.monitorOnly)
        FUZZ_CHECK(!o.demo, context);
    if (o.command == Command::Enqueue) {
        FUZZ_CHECK(!o.jobType.trimmed().isEmpty(), context);
        FUZZ_CHECK(!o.queue.isEmpty(), context);
    }
    if (o.command == Command::Show)
        FUZZ_CHECK(o.ids.size() == 1, context);
    if (o.command == Command::Retry || o.command == Command::Cancel || o.command == Command::Delete)
        FUZZ_CHECK(!o.ids.isEmpty(), context);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    // As main() does: the options are parsed before any application object exists.
    QCoreApplication::setApplicationName(u"oddjobs"_s);
    QCoreApplication::setApplicationVersion(u"0.0.0"_s);
    static QTemporaryDir dir;
    if (!dir.isValid())
        std::abort();
    configPath = dir.filePath(u"fuzz.ini"_s);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = OddJobsFuzz::bytesOf(data, size);
    const qsizetype split = bytes.indexOf("\n==\n");
    const QByteArray argBytes = split < 0 ? bytes : bytes.left(split);

    QStringList args { u"oddjobs"_s };
    if (!argBytes.isEmpty()) {
        for (const QByteArray &arg : argBytes.split('\0'))
            args << QString::fromUtf8(arg);
    }
    if (split >= 0) {
        QFile file(configPath);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            std::abort();
        file.write(bytes.mid(split + 4));
        file.close();
        args << u"--config"_s << configPath;
    }

    const ParsedOptions parsed = parseOptions(args);
    const QString context = describe(args) + u"\n  -> "_s + parsed.output.left(1000);
    switch (parsed.exitCode) {
    case -1:
        checkAccepted(parsed.options, context);
        break;
    case 0:
        FUZZ_CHECK(!parsed.output.isEmpty(), context);
        break;
    case 2:
        FUZZ_CHECK(parsed.output.startsWith(u"oddjobs: "_s), context);
        // The error is one line, whatever text of the user's it quotes.
        FUZZ_CHECK(!parsed.output.contains(u'\n') && !parsed.output.contains(u'\r'), context);
        break;
    default:
        FUZZ_CHECK(false, context);
    }
    return 0;
}
