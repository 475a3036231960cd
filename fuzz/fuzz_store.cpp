// A payload and a search text through a real store (SQLite in memory): what is enqueued is
// what is read back, field for field, or it is refused with InvalidJson; and the store's
// search (SQL LIKE with escapes) finds the job exactly when JobFilter::matches() - the test
// a live view applies to rows it holds - says it matches.
//
// Input: the first line is the search text, the rest the payload as JSON text; rest that is
// not one JSON value is used as a JSON string.

#include "fuzzsupport.h"
#include "oddjobs/jobstore.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>

using namespace OddJobs;
using namespace Qt::StringLiterals;

namespace {

JobStore *store = nullptr;

QString compact(const QJsonValue &value)
{
    const QByteArray wrapped = QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact);
    return QString::fromUtf8(wrapped.mid(1, wrapped.size() - 2));
}

bool isAscii(const QString &text)
{
    for (QChar c : text) {
        if (c.unicode() >= 0x80)
            return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static QCoreApplication app(*argc, *argv);
    const auto settings = ConnectionSettings::fromUrl(u"sqlite::memory:"_s);
    auto opened = JobStore::open(*settings);
    if (!opened || !(*opened)->migrate()) {
        std::fprintf(stderr, "cannot open an in-memory store\n");
        std::abort();
    }
    // Kept for the whole run (and reachable, so not a leak).
    store = opened->release();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes = OddJobsFuzz::bytesOf(data, size);
    const qsizetype newline = bytes.indexOf('\n');
    const QString search = QString::fromUtf8(newline < 0 ? bytes : bytes.left(newline));
    const QByteArray rest = newline < 0 ? QByteArray() : bytes.mid(newline + 1);

    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson("[" + rest + "]", &parseError);
    NewJob newJob;
    newJob.payload = parseError.error == QJsonParseError::NoError && doc.array().size() == 1
        ? doc.array().at(0)
        : QJsonValue(QString::fromUtf8(rest));
    const QString given = compact(newJob.payload);

    const auto enqueued = store->enqueue(newJob);
    if (!enqueued) {
        FUZZ_CHECK(enqueued.error().code == ErrorCode::InvalidJson,
                   enqueued.error().toString() + u"\n  payload: "_s + given.left(500));
        const auto count = store->count();
        FUZZ_CHECK(count && *count == 0, u"a refused payload left a row"_s);
        return 0;
    }
    const Job job = *enqueued;
    FUZZ_CHECK(job.payload == newJob.payload,
               u"enqueue returned "_s + compact(job.payload).left(500) + u"\n  for "_s
                   + given.left(500));
    const auto found = store->find(job.id);
    FUZZ_CHECK(found && found->has_value(), u"the job cannot be read back"_s);
    FUZZ_CHECK((*found)->payload == newJob.payload,
               u"read back "_s + compact((*found)->payload).left(500) + u"\n  for "_s
                   + given.left(500));

    JobFilter filter;
    filter.search = search;
    const auto count = store->count(filter);
    if (!count) {
        // The one refusal a search may get: a NUL character, which SQL text cannot carry.
        FUZZ_CHECK(count.error().code == ErrorCode::InvalidArgument && search.contains(QChar(0)),
                   count.error().toString() + u"\n  search: "_s + search);
    } else {
        FUZZ_CHECK(*count == 0 || *count == 1, search);
        // SQLite's LIKE folds only ASCII letters; QString folds all of Unicode.
        if (isAscii(search) && isAscii(given)) {
            const bool matches = filter.matches(job);
            FUZZ_CHECK(*count == (matches ? 1 : 0),
                       u"search '%1' on %2: the store counts %3, matches() says %4"_s.arg(
                           search, given.left(500), QString::number(*count),
                           matches ? u"yes"_s : u"no"_s));
        }
    }

    const auto removed = store->remove(JobFilter::byIds({ job.id }));
    FUZZ_CHECK(removed && *removed == 1, u"cannot delete the job again"_s);
    return 0;
}
