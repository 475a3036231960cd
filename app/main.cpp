#include "commands.h"
#include "dashboard.h"
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
    QCoreApplication::setApplicationName(u"oddjobs"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(ODDJOBS_VERSION));

    // Parse before choosing the application class: the dashboard needs a QApplication, the
    // worker and the commands must run without a display.
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments << QString::fromLocal8Bit(argv[i]);
    const ParsedOptions parsed = parseOptions(arguments);
    if (parsed.exitCode >= 0) {
        QTextStream(parsed.exitCode == 0 ? stdout : stderr) << parsed.output << Qt::endl;
        return parsed.exitCode;
    }
    if (parsed.options.command == AppOptions::Command::Dashboard)
        return runDashboard(argc, argv, parsed.options);
    QCoreApplication app(argc, argv);
    if (parsed.options.command == AppOptions::Command::Headless)
        return runHeadless(parsed.options);
    return runCommand(parsed.options);
}
