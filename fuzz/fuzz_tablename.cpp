// TableName::parse and quoteIdentifier on arbitrary text. A name either parses into plain
// identifiers whose quoted form has no quote characters but its delimiters, and whose derived
// index/trigger/function names and notification channel fit PostgreSQL's 63 bytes; or it is
// refused with InvalidTableName and a one-line message. quoteIdentifier always reads back as
// what it quoted.

#include "fuzzsupport.h"
#include "oddjobs/connectionsettings.h"

#include <QSet>

using namespace OddJobs;
using namespace Qt::StringLiterals;

namespace {

// The unquoted text of one double-quoted SQL identifier, or a null string if it is not one.
QString unquote(const QString &quoted)
{
    if (quoted.size() < 2 || !quoted.startsWith(u'"') || !quoted.endsWith(u'"'))
        return {};
    QString out;
    for (qsizetype i = 1; i < quoted.size() - 1; ++i) {
        if (quoted.at(i) == u'"') {
            if (i + 1 >= quoted.size() - 1 || quoted.at(i + 1) != u'"')
                return {}; // a lone quote would end the identifier early
            ++i;
        }
        out += quoted.at(i);
    }
    return out.isNull() ? u""_s : out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString text = OddJobsFuzz::textOf(data, size);

    const QString quoted = quoteIdentifier(text);
    FUZZ_CHECK(unquote(quoted) == text, text + u" -> "_s + quoted);

    const auto parsed = TableName::parse(text);
    if (!parsed) {
        FUZZ_CHECK(parsed.error().code == ErrorCode::InvalidTableName, text);
        const QString message = parsed.error().message;
        FUZZ_CHECK(!message.isEmpty(), text);
        for (QChar c : message)
            FUZZ_CHECK(c.unicode() >= 0x20 && c.unicode() != 0x7f,
                       u"control character in: "_s + message);
        return 0;
    }
    const TableName &t = *parsed;
    FUZZ_CHECK(TableName::isValidIdentifier(t.name()), text);
    FUZZ_CHECK(t.schema().isEmpty() || TableName::isValidIdentifier(t.schema()), text);
    FUZZ_CHECK(t.toString() == text, text + u" -> "_s + t.toString());
    const QString expected = t.schema().isEmpty()
        ? QString(u'"' + t.name() + u'"')
        : QString(u'"' + t.schema() + u"\".\""_s + t.name() + u'"');
    FUZZ_CHECK(t.quoted() == expected, t.quoted());

    QSet<QString> derived;
    for (const QString &suffix :
         { u"notify"_s, u"touch"_s, u"locking_check"_s, u"status_check"_s, u"claim_idx"_s,
           u"locked_idx"_s, u"status_idx"_s, u"type_idx"_s, u"created_idx"_s, u"updated_idx"_s,
           u"finished_idx"_s, u"notify_insert"_s, u"notify_update"_s, u"notify_cancel"_s,
           u"notify_delete"_s }) {
        const QString name = t.derivedName(suffix);
        FUZZ_CHECK(name.toUtf8().size() <= 63, name);
        FUZZ_CHECK(TableName::isValidIdentifier(name), name);
        FUZZ_CHECK(name.endsWith(suffix), name);
        derived.insert(name);
    }
    FUZZ_CHECK(derived.size() == 15, text);
    const QString channel = t.notificationChannel();
    FUZZ_CHECK(channel.toUtf8().size() <= 63, channel);
    FUZZ_CHECK(channel == channel.toLower(), channel);
    FUZZ_CHECK(TableName::isValidIdentifier(channel), channel);
    return 0;
}
