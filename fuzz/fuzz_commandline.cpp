// ProcessHandlerSpec::splitCommandLine, the shell-like splitting of a handler's command line
// (no shell ever runs it), on arbitrary text: it never crashes; it refuses only an unterminated
// quote or a trailing backslash; words quoted back in single quotes split into the same words.

#include "fuzzsupport.h"
#include "processhandler.h"

using namespace Qt::StringLiterals;

namespace {

// A word as a POSIX shell would need it to come back unchanged: in single quotes, with each
// single quote written as '\''.
QString shellQuote(const QString &word)
{
    QString quoted = word;
    quoted.replace(u'\'', u"'\\''"_s);
    return u'\'' + quoted + u'\'';
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString line = OddJobsFuzz::textOf(data, size);
    const auto words = ProcessHandlerSpec::splitCommandLine(line);
    if (!words) {
        // Refused: there must be an opening quote without its end, or a final backslash.
        FUZZ_CHECK(line.contains(u'\'') || line.contains(u'"') || line.endsWith(u'\\'), line);
        return 0;
    }
    if (!line.contains(u'\'') && !line.contains(u'"') && !line.contains(u'\\')) {
        // Nothing to unquote: the words are the blank-separated parts.
        QStringList plain;
        QString word;
        for (QChar c : line) {
            if (c.isSpace()) {
                if (!word.isEmpty())
                    plain << word;
                word.clear();
            } else {
                word += c;
            }
        }
        if (!word.isEmpty())
            plain << word;
        FUZZ_CHECK(*words == plain, line);
    }
    QStringList quoted;
    for (const QString &word : *words)
        quoted << shellQuote(word);
    const auto again = ProcessHandlerSpec::splitCommandLine(quoted.join(u' '));
    FUZZ_CHECK(again && *again == *words, line + u" -> "_s + quoted.join(u' '));
    return 0;
}
