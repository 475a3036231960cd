// ConnectionSettings::fromUrl on arbitrary text: it never crashes, refuses with InvalidUrl,
// keeps libpq options free of separators, and never shows a password, neither in
// displayString() nor in an error message.
//
// Input without a NUL byte is the whole URL. Input with one is PASSWORD\0REST and becomes
// postgresql://u:<password>@REST, the password made distinctive (letters and digits between
// fixed ends) so its appearance anywhere is a leak.

#include "fuzzsupport.h"
#include "oddjobs/connectionsettings.h"

#include <QCoreApplication>

using namespace OddJobs;
using namespace Qt::StringLiterals;

namespace {

void checkSettings(const ConnectionSettings &s, const QString &url)
{
    const QString shown = s.displayString();
    const QString options = s.driverOptions();
    if (s.backend == Backend::Sqlite) {
        FUZZ_CHECK(s.sqliteMemory == s.sqlitePath.isEmpty(), url);
        FUZZ_CHECK(!s.sqlitePath.contains(QChar(0)), url);
        return;
    }
    for (const auto &[key, value] : s.options) {
        // One "key=value" per option, joined with ';': a ';' would smuggle in another option.
        FUZZ_CHECK(key != u"password", url);
        FUZZ_CHECK(!key.contains(u';') && !key.contains(u'='), url);
        FUZZ_CHECK(!value.contains(u';') && !value.contains(QChar(0)), url);
    }
    FUZZ_CHECK(s.port == -1 || (s.port >= 1 && s.port <= 65535), url);
    if (s.password.isEmpty())
        return;
    // What the string would be without this password; where the password is not part of that
    // anyway, it must not show.
    ConnectionSettings other = s;
    other.password = u"-"_s;
    const QString without = other.displayString() + other.driverOptions();
    if (!without.contains(s.password)) {
        FUZZ_CHECK(!shown.contains(s.password), url + u" -> "_s + shown);
        FUZZ_CHECK(!options.contains(s.password), url + u" -> "_s + options);
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = OddJobsFuzz::bytesOf(data, size);
    const qsizetype nul = bytes.indexOf('\0');
    QString url;
    QString password; // distinctive, empty in the plain mode
    if (nul < 0) {
        url = QString::fromUtf8(bytes);
    } else {
        QString middle;
        for (char c : bytes.left(nul)) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                middle += QLatin1Char(c);
        }
        password = u"Pw"_s + middle + u"9q"_s;
        url = u"postgresql://u:"_s + password + u'@' + QString::fromUtf8(bytes.mid(nul + 1));
    }

    const auto settings = ConnectionSettings::fromUrl(url);
    if (settings) {
        checkSettings(*settings, url);
        if (!password.isEmpty() && !url.mid(url.indexOf(u'@') + 1).contains(password))
            FUZZ_CHECK(!settings->displayString().contains(password),
                       url + u" -> "_s + settings->displayString());
        return 0;
    }
    const QString message = settings.error().message;
    FUZZ_CHECK(settings.error().code == ErrorCode::InvalidUrl, message);
    FUZZ_CHECK(!message.isEmpty(), url);
    // The redaction marker stands for the password once; more is a mangled message.
    if (!url.contains(u'*'))
        FUZZ_CHECK(message.count(u"***"_s) <= 1, url + u" -> "_s + message);
    if (!password.isEmpty() && !url.mid(url.indexOf(u'@') + 1).contains(password))
        FUZZ_CHECK(!message.contains(password), url + u" -> "_s + message);
    return 0;
}
