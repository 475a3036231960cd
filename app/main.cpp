#include "commands.h"
#include "headless.h"
#include "options.h"

#include <QCoreApplication>
#include <QTextStream>

#include <csignal>

using namespace Qt::StringLiterals;

int main(int argc, char *argv[])
{
    // A handler program that exits without reading its input must not take us down.
    std::signal(SIGPIPE, SIG_IGN);
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"oddjobs"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(ODDJOBS_VERSION));

    const ParsedOptions parsed = parseOptions(QCoreApplication::arguments());
    if (parsed.exitCode >= 0) {
        QTextStream(parsed.exitCode == 0 ? stdout : stderr) << parsed.output << Qt::endl;
        return parsed.exitCode;
    }
    switch (parsed.options.command) {
    case AppOptions::Command::Headless:
        return runHeadless(parsed.options);
    case AppOptions::Command::Dashboard:
        QTextStream(stderr) << "oddjobs: this build has no dashboard yet; run a worker with "
                               "'oddjobs --headless' (see oddjobs --help)"
                            << Qt::endl;
        return 2;
    default:
        return runCommand(parsed.options);
    }
}
