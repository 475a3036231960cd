#include "commands.h"
#include "dashboard.h"
#include "headless.h"
#include "options.h"

#include <QCoreApplication>
#include <QTextStream>
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <string_view>

using namespace Qt::StringLiterals;

namespace {

// Overwrites the password of every PostgreSQL URL among the arguments with "***" in place,
// so ps and /proc/<pid>/cmdline (readable by every user) show the URL as displayString()
// does. It is only hidden once the options are parsed: a password is safer in ~/.pgpass,
// $PGPASSWORD or $ODDJOBS_DATABASE_URL, which other users cannot read.
void hidePasswords(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        char *arg = argv[i];
        char *scheme = std::strstr(arg, "://");
        if (!scheme)
            continue;
        const std::string_view before(arg, std::size_t(scheme - arg));
        auto endsWith = [&](std::string_view name) { // case-insensitively, as fromUrl() reads
            return before.size() >= name.size()
                && std::equal(name.rbegin(), name.rend(), before.rbegin(),
                              [](char a, char b) { return a == std::tolower(uchar(b)); });
        };
        if (!endsWith("postgresql") && !endsWith("postgres"))
            continue;
        // postgresql://user:PASSWORD@host: the user part has no ':', '/' or '@'; the password
        // ends at the last '@', as ConnectionSettings reads it.
        char *user = scheme + 3;
        char *colon = user + std::strcspn(user, ":/@");
        char *at = std::strrchr(arg, '@');
        if (*colon != ':' || !at || at < colon)
            continue;
        char *password = colon + 1;
        const std::size_t length = std::size_t(at - password);
        if (length == 0)
            continue;
        const std::size_t shown = std::min<std::size_t>(length, 3);
        std::memset(password, '*', shown);
        // Shorter by what was cut; the freed bytes at the end become NULs.
        const std::size_t rest = std::strlen(at) + 1;
        std::memmove(password + shown, at, rest);
        std::memset(password + shown + rest, 0, length - shown);
    }
}

} // namespace

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
    hidePasswords(argc, argv);
    if (parsed.options.command == AppOptions::Command::Dashboard)
        return runDashboard(argc, argv, parsed.options);
    QCoreApplication app(argc, argv);
    if (parsed.options.command == AppOptions::Command::Headless)
        return runHeadless(parsed.options);
    return runCommand(parsed.options);
}
